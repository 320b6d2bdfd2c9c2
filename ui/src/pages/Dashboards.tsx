// Dashboards: the list (built-in and provisioned), and one dashboard
// rendered from its Grafana JSON model — variables (chained, multi-value,
// All), time picker, auto-refresh, kiosk mode, dashboard links, collapsible
// rows, repeated panels and rows.
import { useEffect, useMemo, useState } from 'preact/hooks';
import { api, useApi } from '../api';
import { exportDashboard, ImportForm, Versions } from './DashboardAdmin';
import { normalize, Dashboard, Panel, Variable } from '../dash/model';
import { parseTime, values, Scope } from '../dash/interp';
import { pickCurrent, resolveOptions, ALL } from '../dash/vars';
import { PanelView } from '../dash/panels';
import { t } from '../i18n';
import { navigate } from '../router';
import { parseDuration } from '../time';

interface ListItem {
  uid: string;
  title: string;
  tags: string[];
  source: string;
  file: string;
  version?: number;
  error?: string;
}

export function DashboardList() {
  const res = useApi<ListItem[]>('/api/bongsu/v1/dashboards');
  const [importing, setImporting] = useState(new URLSearchParams(location.search).has('import'));
  const [error, setError] = useState('');
  if (res.error) return <p class="error" role="alert">{res.error}</p>;
  if (!res.data) return <p class="muted">{t('common.loading')}</p>;
  const remove = async (d: ListItem) => {
    if (!confirm(`${t('dash.delete')}: ${d.title}?`)) return;
    try {
      await api(`/api/bongsu/v1/dashboards/${encodeURIComponent(d.uid)}`, { method: 'DELETE' });
      res.reload();
    } catch (e: any) {
      setError(String(e.message ?? e));
    }
  };
  return (
    <section class="page">
      <div class="toolbar">
        <button data-testid="import" aria-expanded={importing} onClick={() => setImporting(!importing)}>
          {t('dash.import')}
        </button>
      </div>
      {importing && <ImportForm onDone={() => setImporting(false)} />}
      {error && <p class="error">{error}</p>}
      <table class="data" data-testid="dashboard-list">
        <tbody>
          {res.data.map((d) => (
            <tr data-testid="dashboard-item">
              <td>
                {d.error ? (
                  <span>{d.title}</span>
                ) : (
                  <a href={`/d/${encodeURIComponent(d.uid)}`} onClick={(e) => (e.preventDefault(), navigate(`/d/${encodeURIComponent(d.uid)}`))}>
                    {d.title}
                  </a>
                )}
              </td>
              <td>
                {d.tags.map((tag) => (
                  <span class="label">{tag}</span>
                ))}
              </td>
              <td class="muted">
                {d.source === 'builtin' ? t('dash.builtin') : d.source === 'imported' ? `${t('dash.imported')} · v${d.version}` : d.file}
              </td>
              <td class="error">{d.error}</td>
              <td>
                {d.source === 'imported' && (
                  <button class="small" data-testid="delete-dashboard" onClick={() => remove(d)}>
                    {t('dash.delete')}
                  </button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

const RANGES = ['now-5m', 'now-15m', 'now-30m', 'now-1h', 'now-3h', 'now-6h', 'now-12h', 'now-24h', 'now-2d', 'now-7d', 'now-30d'];
const REFRESH = ['', '5s', '10s', '30s', '1m', '5m', '15m'];

/** A section of the grid: the panels before the first row, or one row and
 *  the panels under it. */
interface Section {
  row?: Panel;
  panels: Panel[];
}

function sections(panels: Panel[]): Section[] {
  const sorted = [...panels].sort((a, b) => a.gridPos.y - b.gridPos.y || a.gridPos.x - b.gridPos.x);
  const out: Section[] = [{ panels: [] }];
  for (const p of sorted) {
    if (p.type === 'row') out.push({ row: p, panels: p.collapsed ? (p.panels ?? []) : [] });
    else out[out.length - 1].panels.push(p);
  }
  return out.filter((s) => s.row || s.panels.length);
}

/** Panels with `repeat` cloned once per value of their variable. */
function repeatPanels(panels: Panel[], vars: Variable[], scoped?: Record<string, string>): Panel[] {
  const out: Panel[] = [];
  for (const p of panels) {
    const v = p.repeat ? vars.find((x) => x.name === p.repeat) : undefined;
    if (!v) {
      out.push(scoped ? { ...p, scopedVars: { ...scoped, ...(p.scopedVars ?? {}) } } : p);
      continue;
    }
    const vals = values(v);
    if (vals.length === 0) continue;
    const perRow = p.repeatDirection === 'v' ? 1 : Math.min(vals.length, p.maxPerRow ?? 4);
    const w = p.repeatDirection === 'v' ? p.gridPos.w : Math.max(Math.floor(24 / perRow), p.gridPos.w > 24 / perRow ? Math.floor(24 / perRow) : p.gridPos.w);
    vals.forEach((val, i) => {
      const col = p.repeatDirection === 'v' ? 0 : i % perRow;
      const line = p.repeatDirection === 'v' ? i : Math.floor(i / perRow);
      out.push({
        ...p,
        id: p.id * 1000 + i,
        gridPos: { x: p.repeatDirection === 'v' ? p.gridPos.x : col * w, y: p.gridPos.y + line * p.gridPos.h, w, h: p.gridPos.h },
        scopedVars: { ...(scoped ?? {}), [v.name]: val },
      });
    });
  }
  return out;
}

function Grid(props: { panels: Panel[]; vars: Variable[]; start: number; end: number; tick: number; scrape: number }) {
  const minY = Math.min(...props.panels.map((p) => p.gridPos.y));
  return (
    <div class="dash-grid">
      {props.panels.map((p) => {
        const scope: Scope = { vars: props.vars, scoped: p.scopedVars, builtins: {} };
        return (
          <div
            class="grid-item"
            key={`${p.id}-${JSON.stringify(p.scopedVars ?? {})}`}
            style={{ gridColumn: `${p.gridPos.x + 1} / span ${Math.min(24, p.gridPos.w)}`, gridRow: `${p.gridPos.y - minY + 1} / span ${p.gridPos.h}` }}
          >
            <PanelView p={p} scope={scope} start={props.start} end={props.end} tick={props.tick} scrape={props.scrape} />
          </div>
        );
      })}
    </div>
  );
}

function RowSection(props: { s: Section; vars: Variable[]; start: number; end: number; tick: number; scrape: number }) {
  const { s } = props;
  const [open, setOpen] = useState(!s.row?.collapsed);
  const rowVar = s.row?.repeat ? props.vars.find((v) => v.name === s.row!.repeat) : undefined;
  const instances: (Record<string, string> | undefined)[] = rowVar ? values(rowVar).map((val) => ({ [rowVar.name]: val })) : [undefined];
  return (
    <>
      {instances.map((scoped) => {
        const scope: Scope = { vars: props.vars, scoped, builtins: {} };
        const panels = repeatPanels(s.panels, props.vars, scoped);
        return (
          <div class="dash-section">
            {s.row && (
              <button class="row-header" aria-expanded={open} data-testid="row" onClick={() => setOpen(!open)}>
                {open ? '▾' : '▸'} {s.row.title ? interpolateTitle(s.row.title, scope) : ''} {!open && <span class="muted">({panels.length})</span>}
              </button>
            )}
            {open && panels.length > 0 && <Grid panels={panels} vars={props.vars} start={props.start} end={props.end} tick={props.tick} scrape={props.scrape} />}
          </div>
        );
      })}
    </>
  );
}

function interpolateTitle(title: string, scope: Scope): string {
  return title.replace(/\$\{?([a-zA-Z0-9_]+)\}?/g, (w, n) => scope.scoped?.[n] ?? (scope.vars.find((v) => v.name === n) ? values(scope.vars.find((v) => v.name === n)!).join(', ') : w));
}

function VariablePicker(props: { v: Variable; onChange: (vals: string[]) => void }) {
  const { v } = props;
  const current = Array.isArray(v.current.value) ? v.current.value : [v.current.value];
  const opts = v.includeAll ? [ALL, ...v.options] : v.options;
  if (v.type === 'textbox') {
    return (
      <label class="var">
        {v.label ?? v.name}
        <input data-testid={`var-${v.name}`} value={current[0] ?? ''} onChange={(e) => props.onChange([e.currentTarget.value])} />
      </label>
    );
  }
  if (v.multi) {
    return (
      <details class="var multi" data-testid={`var-${v.name}`}>
        <summary>
          {v.label ?? v.name}: <strong>{(Array.isArray(v.current.text) ? v.current.text : [v.current.text]).join(' + ') || '—'}</strong>
        </summary>
        <div class="var-options">
          {opts.map((o) => (
            <label>
              <input
                type="checkbox"
                checked={current.includes(o.value)}
                onChange={(e) => {
                  let next = e.currentTarget.checked ? [...current.filter((x) => x !== '$__all'), o.value] : current.filter((x) => x !== o.value);
                  if (o.value === '$__all' && e.currentTarget.checked) next = ['$__all'];
                  props.onChange(next.length ? next : v.includeAll ? ['$__all'] : []);
                }}
              />{' '}
              {o.text}
            </label>
          ))}
        </div>
      </details>
    );
  }
  return (
    <label class="var">
      {v.label ?? v.name}
      <select data-testid={`var-${v.name}`} value={current[0]} onChange={(e) => props.onChange([e.currentTarget.value])}>
        {opts.map((o) => (
          <option value={o.value}>{o.text}</option>
        ))}
      </select>
    </label>
  );
}

function urlVars(): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  new URLSearchParams(location.search).forEach((val, key) => {
    if (key.startsWith('var-')) (out[key.slice(4)] ??= []).push(val);
  });
  return out;
}

function setUrl(params: Record<string, string | string[] | undefined>) {
  const p = new URLSearchParams(location.search);
  for (const [k, v] of Object.entries(params)) {
    p.delete(k);
    if (v === undefined || v === '') continue;
    (Array.isArray(v) ? v : [v]).forEach((x) => p.append(k, x));
  }
  history.replaceState(null, '', `${location.pathname}?${p}`);
}

export function DashboardView(props: { uid: string }) {
  const res = useApi<{ dashboard: any; meta: { source: string; version?: number } }>(`/api/bongsu/v1/dashboards/${encodeURIComponent(props.uid)}`);
  const [showVersions, setShowVersions] = useState(false);
  const dash: Dashboard | null = useMemo(() => (res.data ? normalize(res.data.dashboard) : null), [res.data]);
  const q = new URLSearchParams(location.search);
  const [from, setFrom] = useState(q.get('from') ?? '');
  const [to, setTo] = useState(q.get('to') ?? '');
  const [refresh, setRefresh] = useState(q.get('refresh') ?? '');
  const [kiosk, setKiosk] = useState(q.has('kiosk'));
  const [vars, setVars] = useState<Variable[] | null>(null);
  const [varError, setVarError] = useState('');
  const [tick, setTick] = useState(0);
  // The scrape interval ($__rate_interval needs it): panels wait for it.
  const [scrape, setScrape] = useState<number | null>(null);

  useEffect(() => {
    api<{ yaml: string }>('/api/v1/status/config')
      .then((c) => {
        const m = /scrape_interval:\s*(\S+)/.exec(c.yaml);
        setScrape((m && parseDuration(m[1])) || 15);
      })
      .catch(() => setScrape(15));
  }, []);

  const fromS = from || dash?.time.from || 'now-6h';
  const toS = to || dash?.time.to || 'now';
  // The evaluated range moves only on a refresh tick or a time change, not
  // on every render.
  const [start, end] = useMemo(() => {
    const now = Date.now() / 1000;
    return [parseTime(fromS, now) ?? now - 21600, parseTime(toS, now) ?? now];
  }, [fromS, toS, tick]);

  /** Re-resolves variables from index `from` on (chained variables). */
  const resolve = async (list: Variable[], fromIdx: number, overrides: Record<string, string[]>) => {
    const next = list.map((v) => ({ ...v }));
    setVarError('');
    for (let i = fromIdx; i < next.length; i++) {
      const v = next[i];
      if (v.type === 'adhoc') continue;
      const scope: Scope = { vars: next.slice(0, i), builtins: {} };
      try {
        v.options = await resolveOptions(v, scope, start, end);
      } catch (e: any) {
        v.options = [];
        setVarError(`$${v.name}: ${e.message ?? e}`);
      }
      v.current = pickCurrent(v, v.options, overrides[v.name]);
    }
    setVars(next);
    setUrl(Object.fromEntries(next.filter((v) => v.type !== 'constant' && v.type !== 'datasource').map((v) => [`var-${v.name}`, Array.isArray(v.current.value) ? v.current.value : [v.current.value]])));
  };

  useEffect(() => {
    if (dash) resolve(dash.variables, 0, urlVars());
  }, [dash]);

  useEffect(() => {
    const secs = refresh ? parseDuration(refresh) : null;
    if (!secs) return;
    const id = setInterval(() => setTick((n) => n + 1), Math.max(5, secs) * 1000);
    return () => clearInterval(id);
  }, [refresh]);

  useEffect(() => {
    document.body.classList.toggle('kiosk', kiosk);
    return () => document.body.classList.remove('kiosk');
  }, [kiosk]);

  if (res.error) return <p class="error" role="alert">{res.error}</p>;
  if (!dash || !vars || scrape === null) return <p class="muted">{t('common.loading')}</p>;

  const changeVar = (i: number, vals: string[]) => {
    const list = vars.map((v) => ({ ...v }));
    const v = list[i];
    const textOf = (val: string) => (val === '$__all' ? 'All' : v.options.find((o) => o.value === val)?.text ?? val);
    v.current = v.multi ? { text: vals.map(textOf), value: vals } : { text: textOf(vals[0]), value: vals[0] };
    resolve(list, i + 1, urlVars());
  };

  return (
    <section class="page dashboard" data-testid="dashboard" data-uid={dash.uid}>
      <div class="dash-head">
        <h2>{dash.title}</h2>
        {dash.links
          .filter((l) => l.url)
          .map((l) => (
            <a class="dash-link" href={l.url}>
              {l.title || l.url}
            </a>
          ))}
        <div class="toolbar dash-tools">
          <label>
            {t('dash.from')}{' '}
            <select
              data-testid="time-from"
              value={fromS}
              onChange={(e) => {
                setFrom(e.currentTarget.value);
                setTo('now');
                setUrl({ from: e.currentTarget.value, to: 'now' });
              }}
            >
              {[...new Set([fromS, ...RANGES])].map((r) => (
                <option value={r}>{r}</option>
              ))}
            </select>
          </label>
          <label>
            {t('dash.refresh')}{' '}
            <select
              value={refresh}
              onChange={(e) => {
                setRefresh(e.currentTarget.value);
                setUrl({ refresh: e.currentTarget.value });
              }}
            >
              {REFRESH.map((r) => (
                <option value={r}>{r || t('dash.off')}</option>
              ))}
            </select>
          </label>
          <button onClick={() => setTick((n) => n + 1)} aria-label="refresh">
            ↻
          </button>
          <button
            data-testid="kiosk"
            onClick={() => {
              setKiosk(!kiosk);
              setUrl({ kiosk: kiosk ? undefined : '1' });
            }}
          >
            {kiosk ? t('dash.exitKiosk') : t('dash.kiosk')}
          </button>
          <button data-testid="export" onClick={() => exportDashboard(res.data!.dashboard)}>
            {t('dash.export')}
          </button>
          {res.data!.meta.source === 'imported' && (
            <button data-testid="versions-toggle" aria-expanded={showVersions} onClick={() => setShowVersions(!showVersions)}>
              {t('dash.versions')} (v{res.data!.meta.version})
            </button>
          )}
        </div>
      </div>
      {showVersions && <Versions uid={dash.uid} onRestored={res.reload} />}
      <div class="vars">
        {vars.map((v, i) => (v.hide === 2 || v.type === 'constant' || v.type === 'datasource' || v.type === 'adhoc' ? null : <VariablePicker v={v} onChange={(vals) => changeVar(i, vals)} />))}
        {varError && <span class="error">{varError}</span>}
      </div>
      {sections(dash.panels).map((s) => (
        <RowSection s={s} vars={vars} start={start} end={end} tick={tick} scrape={scrape} key={`${s.row?.id ?? 'top'}`} />
      ))}
    </section>
  );
}
