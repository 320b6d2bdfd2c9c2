// Build, flags, configuration (secrets already hidden by the API) and TSDB
// cardinality: the metrics and label names with the most series.
import { useApi } from '../api';
import { t } from '../i18n';

interface Tsdb {
  headStats: { numSeries: number; numLabelPairs: number; chunkCount: number; minTime: number; maxTime: number };
  seriesCountByMetricName: { name: string; value: number }[];
  labelValueCountByLabelName: { name: string; value: number }[];
}

function KeyValues(props: { data?: Record<string, string | number> }) {
  if (!props.data) return <p class="muted">{t('common.loading')}</p>;
  return (
    <table class="data">
      <tbody>
        {Object.entries(props.data).map(([k, v]) => (
          <tr>
            <td class="mono">{k}</td>
            <td class="mono">{String(v)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function Top(props: { title: string; rows?: { name: string; value: number }[] }) {
  return (
    <>
      <h3>{props.title}</h3>
      <table class="data" data-testid="cardinality">
        <thead>
          <tr>
            <th>{t('common.name')}</th>
            <th>{t('common.count')}</th>
          </tr>
        </thead>
        <tbody>
          {(props.rows ?? []).map((r) => (
            <tr>
              <td class="mono">{r.name}</td>
              <td class="num">{r.value}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}

export function Status() {
  const build = useApi<Record<string, string>>('/api/v1/status/buildinfo');
  const flags = useApi<Record<string, string>>('/api/v1/status/flags');
  const config = useApi<{ yaml: string }>('/api/v1/status/config');
  const tsdb = useApi<Tsdb>('/api/v1/status/tsdb');
  return (
    <section class="page status">
      <h2>{t('status.build')}</h2>
      <KeyValues data={build.data} />
      <h2>{t('status.tsdb')}</h2>
      {tsdb.data && (
        <p>
          {t('status.headSeries')}: <strong data-testid="head-series">{tsdb.data.headStats.numSeries}</strong>
        </p>
      )}
      <Top title={t('status.topMetrics')} rows={tsdb.data?.seriesCountByMetricName} />
      <Top title={t('status.topLabels')} rows={tsdb.data?.labelValueCountByLabelName} />
      <h2>{t('status.flags')}</h2>
      <KeyValues data={flags.data} />
      <h2>{t('status.config')}</h2>
      <pre class="config">{config.data?.yaml ?? config.error}</pre>
    </section>
  );
}
