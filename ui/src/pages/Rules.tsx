// Rule groups with each rule's state, health and last evaluation.
import { useApi } from '../api';
import { t } from '../i18n';
import { ago } from '../time';

interface Rule {
  name: string;
  query: string;
  type: 'alerting' | 'recording';
  health: string;
  lastError?: string;
  state?: string;
  lastEvaluation: string;
  evaluationTime: number;
  alerts?: unknown[];
}

interface Group {
  name: string;
  file: string;
  interval: number;
  rules: Rule[];
  lastEvaluation: string;
}

export function Rules() {
  const res = useApi<{ groups: Group[] }>('/api/v1/rules');
  if (res.error) return <p class="error" role="alert">{res.error}</p>;
  if (!res.data) return <p class="muted">{t('common.loading')}</p>;
  if (res.data.groups.length === 0) return <p class="muted">{t('rules.none')}</p>;
  return (
    <section class="page">
      {res.data.groups.map((g) => (
        <details open class="pool">
          <summary>
            <strong>{g.name}</strong> <span class="muted">{g.file} · {g.interval}s</span>
          </summary>
          <table class="data">
            <thead>
              <tr>
                <th>{t('common.name')}</th>
                <th>PromQL</th>
                <th>{t('rules.health')}</th>
                <th>{t('rules.lastEval')}</th>
              </tr>
            </thead>
            <tbody>
              {g.rules.map((r) => (
                <tr data-testid="rule">
                  <td>
                    {r.name}
                    {r.state && <span class={`badge state-${r.state}`}>{r.state}</span>}
                  </td>
                  <td class="mono">{r.query}</td>
                  <td>
                    <span class={r.health === 'ok' ? 'badge ok' : 'badge bad'}>{r.health}</span>
                    {r.lastError && <div class="error">{r.lastError}</div>}
                  </td>
                  <td>
                    {ago(r.lastEvaluation)} · {(r.evaluationTime * 1000).toFixed(1)} ms
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </details>
      ))}
    </section>
  );
}
