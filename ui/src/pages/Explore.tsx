// Query explorer: PromQL editor, graph (range query) or table (instant
// query), time range, step, stacking; the URL holds the whole state so a
// link reproduces the view.
import { useEffect, useState } from 'preact/hooks';
import { api, form, MatrixSeries, QueryResult, seriesName } from '../api';
import { Chart } from '../components/Chart';
import { Editor } from '../components/Editor';
import { t } from '../i18n';
import { autoStep, formatDuration, parseDuration } from '../time';

const RANGES = ['5m', '15m', '1h', '3h', '6h', '12h', '1d', '2d', '7d'];

interface ViewState {
  expr: string;
  tab: 'graph' | 'table';
  range: string;
  end: string; // '' = now, else ISO time
  step: string; // '' = auto
  stacked: boolean;
}

function readUrl(): ViewState {
  const p = new URLSearchParams(location.search);
  return {
    expr: p.get('expr') ?? '',
    tab: p.get('tab') === 'table' ? 'table' : 'graph',
    range: p.get('range') ?? '1h',
    end: p.get('end') ?? '',
    step: p.get('step') ?? '',
    stacked: p.get('stacked') === '1',
  };
}

function writeUrl(v: ViewState) {
  const p = new URLSearchParams();
  if (v.expr) p.set('expr', v.expr);
  p.set('tab', v.tab);
  p.set('range', v.range);
  if (v.end) p.set('end', v.end);
  if (v.step) p.set('step', v.step);
  if (v.stacked) p.set('stacked', '1');
  history.replaceState(null, '', `${location.pathname}?${p}`);
}

interface Outcome {
  result?: QueryResult;
  /** The evaluated range (seconds), for the chart's x axis. */
  start?: number;
  end?: number;
  error?: string;
  warnings?: string[];
  took?: number;
}

async function run(v: ViewState): Promise<Outcome> {
  const started = performance.now();
  const end = v.end ? Date.parse(v.end) / 1000 : Date.now() / 1000;
  const range = parseDuration(v.range) ?? 3600;
  try {
    let result: QueryResult;
    if (v.tab === 'graph') {
      const step = (v.step && parseDuration(v.step)) || autoStep(range);
      result = await api<QueryResult>('/api/v1/query_range', form({ query: v.expr, start: String(end - range), end: String(end), step: String(step) }));
    } else {
      result = await api<QueryResult>('/api/v1/query', form({ query: v.expr, time: String(end) }));
    }
    return { result, took: performance.now() - started, start: end - range, end };
  } catch (e: any) {
    return { error: String(e.message ?? e) };
  }
}

export function Explore() {
  const [view, setView] = useState<ViewState>(readUrl);
  const [outcome, setOutcome] = useState<Outcome>({});
  const [busy, setBusy] = useState(false);
  const [copied, setCopied] = useState(false);

  const execute = async (v: ViewState = view) => {
    writeUrl(v);
    if (!v.expr.trim()) return;
    setBusy(true);
    setOutcome(await run(v));
    setBusy(false);
  };
  useEffect(() => {
    if (view.expr) execute();
  }, []);
  const update = (patch: Partial<ViewState>, rerun = true) => {
    const next = { ...view, ...patch };
    setView(next);
    if (rerun) execute(next);
    else writeUrl(next);
  };

  return (
    <section class="page explore">
      <div class="query-row">
        <Editor value={view.expr} onChange={(expr) => update({ expr }, false)} onRun={() => execute()} placeholder={t('explore.placeholder')} />
        <button class="primary" data-testid="run" onClick={() => execute()} disabled={busy}>
          {t('explore.run')}
        </button>
      </div>
      <div class="toolbar">
        <div role="tablist">
          {(['graph', 'table'] as const).map((tab) => (
            <button role="tab" aria-selected={view.tab === tab} class={view.tab === tab ? 'tab active' : 'tab'} onClick={() => update({ tab })}>
              {t(tab === 'graph' ? 'explore.graph' : 'explore.table')}
            </button>
          ))}
        </div>
        {view.tab === 'graph' && (
          <>
            <label>
              {t('explore.range')}{' '}
              <select value={view.range} onChange={(e) => update({ range: e.currentTarget.value })}>
                {RANGES.map((r) => (
                  <option value={r}>{r}</option>
                ))}
              </select>
            </label>
            <label>
              {t('explore.step')}{' '}
              <input
                size={6}
                placeholder={`${t('explore.auto')} (${formatDuration(autoStep(parseDuration(view.range) ?? 3600))})`}
                value={view.step}
                onChange={(e) => update({ step: e.currentTarget.value })}
              />
            </label>
            <label>
              <input type="checkbox" checked={view.stacked} onChange={(e) => update({ stacked: e.currentTarget.checked })} /> {t('explore.stacked')}
            </label>
          </>
        )}
        <label>
          {t('explore.end')}{' '}
          <input
            type="datetime-local"
            value={view.end ? view.end.slice(0, 16) : ''}
            onChange={(e) => update({ end: e.currentTarget.value ? new Date(e.currentTarget.value).toISOString() : '' })}
          />
        </label>
        <button
          onClick={() => {
            navigator.clipboard?.writeText(location.href);
            setCopied(true);
            setTimeout(() => setCopied(false), 1500);
          }}
        >
          {copied ? t('explore.copied') : t('explore.copyLink')}
        </button>
      </div>
      {busy && <p class="muted">{t('common.loading')}</p>}
      {outcome.error && (
        <p class="error" role="alert" data-testid="query-error">
          {outcome.error}
        </p>
      )}
      {outcome.result && <Result outcome={outcome} view={view} />}
    </section>
  );
}

function Result(props: { outcome: Outcome; view: ViewState }) {
  const r = props.outcome.result!;
  const count = r.resultType === 'matrix' || r.resultType === 'vector' ? r.result.length : 1;
  const stats = (
    <p class="muted" data-testid="result-stats">
      {count} {t('explore.series')} · {t('explore.took')} {Math.round(props.outcome.took ?? 0)} ms
    </p>
  );
  if (r.resultType === 'matrix' && props.view.tab === 'graph') {
    if (r.result.length === 0) return <p class="muted">{t('explore.noData')}</p>;
    return (
      <>
        {stats}
        <Chart series={r.result as MatrixSeries[]} stacked={props.view.stacked} start={props.outcome.start ?? 0} end={props.outcome.end ?? 0} />
      </>
    );
  }
  const rows: [string, string][] =
    r.resultType === 'vector'
      ? r.result.map((s) => [seriesName(s.metric), s.value[1]])
      : r.resultType === 'matrix'
        ? r.result.map((s) => [seriesName(s.metric), s.values.map((v) => `${v[1]} @${v[0]}`).join('\n')])
        : [[r.resultType, r.result[1]]];
  if (rows.length === 0) return <p class="muted">{t('explore.noData')}</p>;
  return (
    <>
      {stats}
      <table class="data" data-testid="result-table">
        <tbody>
          {rows.map(([k, v]) => (
            <tr>
              <td class="mono">{k}</td>
              <td class="mono num">{v}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}
