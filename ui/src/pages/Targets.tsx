// Scrape targets grouped by scrape pool, with health, last scrape, its
// duration and the last error.
import { useState } from 'preact/hooks';
import { Labels, useApi } from '../api';
import { t } from '../i18n';
import { ago } from '../time';

interface Target {
  scrapePool: string;
  scrapeUrl: string;
  labels: Labels;
  health: 'up' | 'down' | 'unknown';
  lastError: string;
  lastScrape: string;
  lastScrapeDuration: number;
}

export function Targets() {
  const res = useApi<{ activeTargets: Target[] }>('/api/v1/targets?state=active');
  const [onlyBad, setOnlyBad] = useState(false);
  if (res.error) return <p class="error" role="alert">{res.error}</p>;
  if (!res.data) return <p class="muted">{t('common.loading')}</p>;
  const pools = new Map<string, Target[]>();
  for (const tg of res.data.activeTargets) {
    if (onlyBad && tg.health === 'up') continue;
    pools.set(tg.scrapePool, [...(pools.get(tg.scrapePool) ?? []), tg]);
  }
  return (
    <section class="page">
      <div class="toolbar">
        <label>
          <input type="checkbox" checked={onlyBad} onChange={(e) => setOnlyBad(e.currentTarget.checked)} /> {t('targets.onlyUnhealthy')}
        </label>
        <button onClick={res.reload}>↻</button>
      </div>
      {[...pools.entries()].map(([pool, targets]) => {
        const up = targets.filter((x) => x.health === 'up').length;
        return (
          <details open class="pool" data-testid="pool">
            <summary>
              <strong>{pool}</strong> <span class={up === targets.length ? 'badge ok' : 'badge bad'}>{up}/{targets.length} {t('targets.up')}</span>
            </summary>
            <table class="data">
              <thead>
                <tr>
                  <th>{t('targets.endpoint')}</th>
                  <th>{t('targets.state')}</th>
                  <th>{t('targets.labels')}</th>
                  <th>{t('targets.lastScrape')}</th>
                  <th>{t('targets.duration')}</th>
                  <th>{t('targets.error')}</th>
                </tr>
              </thead>
              <tbody>
                {targets.map((tg) => (
                  <tr data-testid="target" data-health={tg.health}>
                    <td class="mono">
                      <a href={tg.scrapeUrl}>{tg.scrapeUrl}</a>
                    </td>
                    <td>
                      <span class={tg.health === 'up' ? 'badge ok' : tg.health === 'down' ? 'badge bad' : 'badge'}>{t(`targets.${tg.health}`)}</span>
                    </td>
                    <td>
                      {Object.entries(tg.labels).map(([k, v]) => (
                        <span class="label">
                          {k}="{v}"
                        </span>
                      ))}
                    </td>
                    <td>
                      {ago(tg.lastScrape)} {t('targets.ago')}
                    </td>
                    <td>{(tg.lastScrapeDuration * 1000).toFixed(1)} ms</td>
                    <td class="error">{tg.lastError}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </details>
        );
      })}
    </section>
  );
}
