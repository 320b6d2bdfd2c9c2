// Dashboard panels: queries (instant or range, with the panel's intervals)
// and the visualisations — timeseries/graph, stat, gauge, bar gauge,
// table, text, heatmap of classic histogram buckets.
import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import { api, form, Labels, MatrixSeries, seriesName, VectorSample } from '../api';
import { Chart, color as paletteColor } from '../components/Chart';
import { builtins, intervals, interpolate, legend, Scope } from './interp';
import type { FieldDefaults, Mapping, Panel, Threshold } from './model';
import { formatValue } from './units';

/** One series of a panel's data. */
export interface Frame {
  refId: string;
  labels: Labels;
  name: string;
  times: number[];
  values: (number | null)[];
}

export interface PanelData {
  frames: Frame[];
  error?: string;
  start: number;
  end: number;
}

/** Runs the panel's queries over [start, end]. */
export async function queryPanel(p: Panel, scope: Scope, start: number, end: number, widthPx: number, scrape: number): Promise<PanelData> {
  const range = end - start;
  const frames: Frame[] = [];
  const errors: string[] = [];
  await Promise.all(
    p.targets
      .filter((t) => !t.hide && t.expr.trim() !== '')
      .map(async (t) => {
        const iv = intervals(range, p.maxDataPoints || Math.max(100, Math.round(widthPx)), t.interval || p.interval, scrape);
        const expr = interpolate(t.expr, { ...scope, builtins: { ...scope.builtins, ...builtins(range, iv) } });
        const instant = t.instant || (p.type === 'table' && t.format === 'table' && t.instant !== false && !p.targets.some((x) => !x.instant && x.format !== 'table'));
        try {
          if (instant) {
            const r = await api<{ resultType: string; result: any }>('/api/v1/query', form({ query: expr, time: String(end) }));
            const samples: VectorSample[] = r.resultType === 'vector' ? r.result : r.resultType === 'scalar' ? [{ metric: {}, value: r.result }] : [];
            for (const s of samples) {
              frames.push({ refId: t.refId, labels: s.metric, name: legend(t.legendFormat, s.metric, seriesName(s.metric)), times: [s.value[0]], values: [num(s.value[1])] });
            }
          } else {
            const step = iv.step;
            const s0 = Math.floor(start / step) * step;
            const e0 = Math.ceil(end / step) * step;
            const r = await api<{ resultType: string; result: any }>('/api/v1/query_range', form({ query: expr, start: String(s0), end: String(e0), step: String(step) }));
            const series: MatrixSeries[] = r.resultType === 'matrix' ? r.result : [];
            for (const s of series) {
              frames.push({
                refId: t.refId,
                labels: s.metric,
                name: legend(t.legendFormat, s.metric, seriesName(s.metric)),
                times: s.values.map((v) => v[0]),
                values: s.values.map((v) => num(v[1])),
              });
            }
          }
        } catch (e: any) {
          errors.push(`${t.refId}: ${e.message ?? e}`);
        }
      }),
  );
  frames.sort((a, b) => a.refId.localeCompare(b.refId));
  return { frames, error: errors.length ? errors.join('\n') : undefined, start, end };
}

function num(s: string): number | null {
  const f = Number(s);
  return Number.isNaN(f) ? null : f;
}

// ---- reductions, thresholds, mappings ----------------------------------

export function reduce(values: (number | null)[], calc: string): number | null {
  const nn = values.filter((v): v is number => v != null && Number.isFinite(v));
  switch (calc) {
    case 'last':
      return values.length ? values[values.length - 1] : null;
    case 'first':
      return values.length ? values[0] : null;
    case 'firstNotNull':
      return nn.length ? nn[0] : null;
    case 'mean':
    case 'avg':
      return nn.length ? nn.reduce((a, b) => a + b, 0) / nn.length : null;
    case 'max':
      return nn.length ? Math.max(...nn) : null;
    case 'min':
      return nn.length ? Math.min(...nn) : null;
    case 'sum':
    case 'total':
      return nn.reduce((a, b) => a + b, 0);
    case 'count':
      return values.length;
    case 'range':
      return nn.length ? Math.max(...nn) - Math.min(...nn) : null;
    case 'delta': {
      let d = 0;
      for (let i = 1; i < nn.length; i++) d += nn[i] >= nn[i - 1] ? nn[i] - nn[i - 1] : nn[i];
      return d;
    }
    case 'diff':
      return nn.length ? nn[nn.length - 1] - nn[0] : null;
    case 'lastNotNull':
    default:
      return nn.length ? nn[nn.length - 1] : null;
  }
}

const NAMED: Record<string, string> = {
  green: '#56a64b', 'semi-dark-green': '#37872d', 'dark-green': '#19730e', 'light-green': '#96d98d',
  red: '#e02f44', 'semi-dark-red': '#c4162a', 'dark-red': '#ad0317', 'light-red': '#ff7383',
  orange: '#ff780a', 'semi-dark-orange': '#fa6400', 'dark-orange': '#e55400', 'light-orange': '#ffb357',
  yellow: '#f2cc0c', 'semi-dark-yellow': '#e0b400', 'dark-yellow': '#cc9d00', 'light-yellow': '#ffee52',
  blue: '#3274d9', 'semi-dark-blue': '#1f60c4', 'dark-blue': '#1250b0', 'light-blue': '#8ab8ff',
  purple: '#a352cc', 'semi-dark-purple': '#8f3bb8', 'dark-purple': '#7c2ea3', 'light-purple': '#ca95e5',
  text: 'var(--fg)', transparent: 'transparent',
};

export function cssColor(c: string | undefined): string {
  if (!c) return 'var(--fg)';
  return NAMED[c] ?? c;
}

export function thresholdColor(v: number | null, d: FieldDefaults): string | undefined {
  const steps: Threshold[] = d.thresholds?.steps ?? [];
  if (v == null || steps.length === 0) return undefined;
  let x = v;
  if (d.thresholds?.mode === 'percentage') {
    const lo = d.min ?? 0;
    const hi = d.max ?? 100;
    x = hi === lo ? 0 : ((v - lo) / (hi - lo)) * 100;
  }
  let c = steps[0].color;
  for (const s of steps) if (s.value == null || x >= s.value) c = s.color;
  return cssColor(c);
}

/** A value mapping's text and colour for `v`, when one applies. */
export function mapValue(v: number | null, mappings: Mapping[] | undefined): { text?: string; color?: string } | undefined {
  for (const m of mappings ?? []) {
    if (m.type === 'value' && v != null) {
      const hit = m.options?.[String(v)];
      if (hit) return { text: hit.text, color: hit.color };
    } else if (m.type === 'range' && v != null) {
      const { from, to, result } = m.options ?? {};
      if ((from == null || v >= from) && (to == null || v <= to)) return { text: result?.text, color: result?.color };
    } else if (m.type === 'special') {
      const match = m.options?.match;
      if ((match === 'null' && v == null) || (match === 'nan' && v != null && Number.isNaN(v)) || (match === 'null+nan' && (v == null || Number.isNaN(v)))) {
        return { text: m.options?.result?.text, color: m.options?.result?.color };
      }
    }
  }
  return undefined;
}

interface Display {
  text: string;
  color?: string;
  value: number | null;
  name: string;
}

function display(f: Frame, p: Panel, calc: string): Display {
  const d = p.fieldConfig.defaults;
  const v = reduce(f.values, calc);
  const mapped = mapValue(v, d.mappings);
  return {
    value: v,
    name: d.displayName ? interpolateDisplayName(d.displayName, f) : f.name,
    text: mapped?.text ?? formatValue(v, d.unit, d.decimals),
    color: mapped?.color ? cssColor(mapped.color) : thresholdColor(v, d),
  };
}

function interpolateDisplayName(fmt: string, f: Frame): string {
  return fmt.replace(/\$\{__field\.labels\.([a-zA-Z0-9_]+)\}/g, (_, l) => f.labels[l] ?? '').replace(/\$\{__series\.name\}/g, f.name);
}

function calcOf(p: Panel): string {
  return p.options?.reduceOptions?.calcs?.[0] ?? 'lastNotNull';
}

// ---- visualisations -----------------------------------------------------

function TimeSeries(props: { p: Panel; data: PanelData; height: number }) {
  const { p, data } = props;
  const d = p.fieldConfig.defaults;
  const series: MatrixSeries[] = data.frames.map((f) => ({ metric: { __name__: f.name }, values: f.times.map((t, i) => [t, f.values[i] == null ? 'NaN' : String(f.values[i])]) }));
  const stacked = p.stack || ['normal', 'percent'].includes(d.custom?.stacking?.mode);
  const hideLegend = p.options?.legend?.showLegend === false || p.options?.legend?.displayMode === 'hidden' || series.length > 8;
  const legendRows = hideLegend ? 0 : Math.min(3, Math.ceil(series.length / 3));
  return (
    <Chart
      series={series}
      stacked={stacked}
      start={data.start}
      end={data.end}
      height={Math.max(60, props.height - legendRows * 22)}
      legend={(m) => m.metric.__name__}
      unit={d.unit || 'short'}
      decimals={d.decimals}
      min={d.min}
      max={d.max}
      hideLegend={hideLegend}
    />
  );
}

function Sparkline(props: { values: (number | null)[]; color: string }) {
  const vs = props.values.filter((v): v is number => v != null);
  if (vs.length < 2) return null;
  const lo = Math.min(...vs);
  const hi = Math.max(...vs);
  const pts = props.values
    .map((v, i) => (v == null ? null : `${(i / (props.values.length - 1)) * 100},${hi === lo ? 50 : 100 - ((v - lo) / (hi - lo)) * 100}`))
    .filter(Boolean)
    .join(' ');
  return (
    <svg class="sparkline" viewBox="0 0 100 100" preserveAspectRatio="none" aria-hidden="true">
      <polyline points={pts} fill="none" stroke={props.color} stroke-width="2" vector-effect="non-scaling-stroke" />
    </svg>
  );
}

function Stat(props: { p: Panel; data: PanelData }) {
  const { p, data } = props;
  const items = data.frames.map((f) => ({ f, d: display(f, p, calcOf(p)) }));
  const bg = p.options?.colorMode === 'background' || p.options?.colorMode === 'background_solid';
  const showName = items.length > 1 && p.options?.textMode !== 'value';
  return (
    <div class="stat-grid">
      {items.map(({ f, d }) => (
        <div class="stat" style={bg ? { background: d.color, color: '#fff' } : undefined}>
          {showName && <div class="stat-name">{d.name}</div>}
          <div class="stat-value" style={!bg && p.options?.colorMode !== 'none' ? { color: d.color } : undefined}>
            {d.text}
          </div>
          {p.options?.graphMode === 'area' && <Sparkline values={f.values} color={bg ? '#fff' : d.color ?? 'var(--accent)'} />}
        </div>
      ))}
    </div>
  );
}

function Gauge(props: { p: Panel; data: PanelData }) {
  const { p, data } = props;
  const dflt = p.fieldConfig.defaults;
  const lo = dflt.min ?? 0;
  const hi = dflt.max ?? (dflt.unit === 'percent' ? 100 : dflt.unit === 'percentunit' ? 1 : 100);
  return (
    <div class="stat-grid">
      {data.frames.map((f) => {
        const d = display(f, p, calcOf(p));
        const frac = d.value == null ? 0 : Math.max(0, Math.min(1, (d.value - lo) / (hi - lo || 1)));
        const arc = (a: number) => {
          const ang = Math.PI * (1.25 - 1.5 * a);
          return `${50 + 40 * Math.cos(ang)} ${55 - 40 * Math.sin(ang)}`;
        };
        return (
          <div class="gauge">
            <svg viewBox="0 0 100 80" role="img" aria-label={`${d.name} ${d.text}`}>
              <path d={`M ${arc(0)} A 40 40 0 1 1 ${arc(1)}`} fill="none" stroke="var(--bg-alt)" stroke-width="10" />
              {frac > 0 && <path d={`M ${arc(0)} A 40 40 0 ${frac > 2 / 3 ? 1 : 0} 1 ${arc(frac)}`} fill="none" stroke={d.color ?? 'var(--accent)'} stroke-width="10" />}
              <text x="50" y="60" text-anchor="middle" class="gauge-text" fill={d.color ?? 'var(--fg)'}>
                {d.text}
              </text>
            </svg>
            {data.frames.length > 1 && <div class="stat-name">{d.name}</div>}
          </div>
        );
      })}
    </div>
  );
}

function BarGauge(props: { p: Panel; data: PanelData }) {
  const { p, data } = props;
  const dflt = p.fieldConfig.defaults;
  const lo = dflt.min ?? 0;
  const vals = data.frames.map((f) => display(f, p, calcOf(p)));
  const hi = dflt.max ?? Math.max(...vals.map((v) => v.value ?? 0), 1);
  return (
    <div class="bargauge">
      {vals.map((d) => (
        <div class="bar-row">
          <span class="bar-name">{d.name}</span>
          <span class="bar-track">
            <span class="bar-fill" style={{ width: `${Math.max(0, Math.min(100, (((d.value ?? lo) - lo) / (hi - lo || 1)) * 100))}%`, background: d.color ?? 'var(--accent)' }} />
          </span>
          <span class="bar-value" style={{ color: d.color }}>
            {d.text}
          </span>
        </div>
      ))}
    </div>
  );
}

/** Rows joined on their label sets; one value column per query. */
function Table(props: { p: Panel; data: PanelData }) {
  const { p, data } = props;
  const d = p.fieldConfig.defaults;
  const refIds = [...new Set(data.frames.map((f) => f.refId))];
  const labelNames = [...new Set(data.frames.flatMap((f) => Object.keys(f.labels).filter((k) => k !== '__name__')))].sort();
  const rows = new Map<string, { labels: Labels; vals: Record<string, number | null> }>();
  for (const f of data.frames) {
    const key = labelNames.map((l) => f.labels[l] ?? '').join('\u0000');
    const row = rows.get(key) ?? { labels: f.labels, vals: {} };
    row.vals[f.refId] = reduce(f.values, 'lastNotNull');
    rows.set(key, row);
  }
  const [sort, setSort] = useState<{ col: string; desc: boolean } | null>(null);
  let list = [...rows.values()];
  if (sort) {
    list = list.sort((a, b) => {
      const av = sort.col.startsWith('#') ? a.vals[sort.col.slice(1)] ?? -Infinity : a.labels[sort.col] ?? '';
      const bv = sort.col.startsWith('#') ? b.vals[sort.col.slice(1)] ?? -Infinity : b.labels[sort.col] ?? '';
      return (av < bv ? -1 : av > bv ? 1 : 0) * (sort.desc ? -1 : 1);
    });
  }
  const header = (col: string, text: string) => (
    <th>
      <button class="link" onClick={() => setSort({ col, desc: sort?.col === col ? !sort.desc : false })}>
        {text}
        {sort?.col === col ? (sort.desc ? ' ↓' : ' ↑') : ''}
      </button>
    </th>
  );
  return (
    <div class="table-wrap">
      <table class="data">
        <thead>
          <tr>
            {labelNames.map((l) => header(l, l))}
            {refIds.map((r) => header(`#${r}`, refIds.length > 1 ? `Value #${r}` : 'Value'))}
          </tr>
        </thead>
        <tbody>
          {list.map((row) => (
            <tr>
              {labelNames.map((l) => (
                <td class="mono">{row.labels[l] ?? ''}</td>
              ))}
              {refIds.map((r) => {
                const v = row.vals[r] ?? null;
                const m = mapValue(v, d.mappings);
                return (
                  <td class="num" style={{ color: m?.color ? cssColor(m.color) : thresholdColor(v, d) }}>
                    {m?.text ?? formatValue(v, d.unit, d.decimals)}
                  </td>
                );
              })}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** A small Markdown subset: headings, emphasis, code, links, lists, paragraphs. */
export function markdown(src: string): string {
  const inline = (s: string) =>
    escapeHtml(s)
      .replace(/`([^`]+)`/g, '<code>$1</code>')
      .replace(/\*\*([^*]+)\*\*/g, '<strong>$1</strong>')
      .replace(/\*([^*]+)\*/g, '<em>$1</em>')
      .replace(/\[([^\]]+)\]\((https?:\/\/[^)\s]+|\/[^)\s]*)\)/g, '<a href="$2">$1</a>');
  const out: string[] = [];
  let list = false;
  for (const line of src.split('\n')) {
    const h = /^(#{1,6})\s+(.*)$/.exec(line);
    const li = /^\s*[-*]\s+(.*)$/.exec(line);
    if (li) {
      if (!list) out.push('<ul>');
      list = true;
      out.push(`<li>${inline(li[1])}</li>`);
      continue;
    }
    if (list) {
      out.push('</ul>');
      list = false;
    }
    if (h) out.push(`<h${h[1].length}>${inline(h[2])}</h${h[1].length}>`);
    else if (line.trim()) out.push(`<p>${inline(line)}</p>`);
  }
  if (list) out.push('</ul>');
  return out.join('');
}

/** Dashboard-provided HTML without scripts, frames or event handlers. */
export function sanitize(html: string): string {
  const doc = new DOMParser().parseFromString(html, 'text/html');
  doc.querySelectorAll('script,iframe,object,embed,style,link,meta').forEach((n) => n.remove());
  doc.querySelectorAll('*').forEach((el) => {
    for (const a of [...el.attributes]) {
      if (a.name.startsWith('on') || /^\s*javascript:/i.test(a.value)) el.removeAttribute(a.name);
    }
  });
  return doc.body.innerHTML;
}

function Text(props: { p: Panel; scope: Scope }) {
  const src = interpolate(props.p.content ?? '', props.scope);
  const html = props.p.mode === 'html' ? sanitize(src) : markdown(src);
  return <div class="text-panel" dangerouslySetInnerHTML={{ __html: html }} />;
}

/** Classic histogram buckets (`le`) as a time × bucket heat grid. */
function Heatmap(props: { p: Panel; data: PanelData; height: number }) {
  const canvas = useRef<HTMLCanvasElement>(null);
  const buckets = props.data.frames
    .filter((f) => f.labels.le !== undefined)
    .sort((a, b) => (a.labels.le === '+Inf' ? Infinity : Number(a.labels.le)) - (b.labels.le === '+Inf' ? Infinity : Number(b.labels.le)));
  useEffect(() => {
    const c = canvas.current;
    if (!c || buckets.length === 0) return;
    const w = (c.width = c.clientWidth || 400);
    const h = (c.height = Math.max(40, props.height - 20));
    const ctx = c.getContext('2d')!;
    ctx.clearRect(0, 0, w, h);
    const n = buckets[0].times.length;
    // Cumulative buckets → per-bucket counts.
    const cells = buckets.map((b, i) => b.values.map((v, j) => Math.max(0, (v ?? 0) - (i > 0 ? buckets[i - 1].values[j] ?? 0 : 0))));
    const max = Math.max(1e-12, ...cells.flat());
    const cw = w / Math.max(1, n);
    const ch = h / buckets.length;
    cells.forEach((row, i) =>
      row.forEach((v, j) => {
        if (v <= 0) return;
        ctx.fillStyle = `rgba(255, 120, 10, ${0.15 + 0.85 * (v / max)})`;
        ctx.fillRect(j * cw, h - (i + 1) * ch, Math.ceil(cw), Math.ceil(ch));
      }),
    );
  }, [props.data, props.height]);
  if (buckets.length === 0) return <p class="muted">No histogram buckets (series with an "le" label).</p>;
  return (
    <div class="heatmap">
      <canvas ref={canvas} style={{ width: '100%', height: `${Math.max(40, props.height - 20)}px` }} />
      <div class="muted small">
        le: {buckets[0].labels.le} … {buckets[buckets.length - 1].labels.le}
      </div>
    </div>
  );
}

export const SUPPORTED = new Set(['timeseries', 'graph', 'stat', 'singlestat', 'gauge', 'bargauge', 'table', 'text', 'heatmap', 'row']);

/** One panel: title, then its visualisation or its error. */
export function PanelView(props: { p: Panel; scope: Scope; start: number; end: number; tick: number; scrape: number }) {
  const { p } = props;
  const box = useRef<HTMLDivElement>(null);
  const [data, setData] = useState<PanelData | null>(null);
  const needsData = p.type !== 'text' && p.type !== 'row';
  const scopeKey = JSON.stringify([props.scope.vars.map((v) => v.current), props.scope.scoped]);
  // A layout effect: the queries leave in the same task the panels are
  // laid out in, not a frame later.
  useLayoutEffect(() => {
    if (!needsData || !SUPPORTED.has(p.type)) return;
    let live = true;
    const width = box.current?.clientWidth ?? 600;
    queryPanel(p, props.scope, props.start, props.end, width, props.scrape).then((d) => live && setData(d));
    return () => {
      live = false;
    };
  }, [scopeKey, props.start, props.end, props.tick]);
  const height = p.gridPos.h * 30 + (p.gridPos.h - 1) * 4 - 30;
  let body;
  if (!SUPPORTED.has(p.type)) {
    body = <p class="muted" data-panel-unsupported={p.type}>Panel type "{p.type}" is not supported yet.</p>;
  } else if (!needsData) {
    body = <Text p={p} scope={props.scope} />;
  } else if (!data) {
    body = <p class="muted">…</p>;
  } else if (data.error) {
    body = (
      <p class="error" data-panel-error="true" role="alert">
        {data.error}
      </p>
    );
  } else if (data.frames.length === 0) {
    body = <p class="muted no-data">No data</p>;
  } else if (p.type === 'timeseries' || p.type === 'graph') {
    body = <TimeSeries p={p} data={data} height={height} />;
  } else if (p.type === 'stat' || p.type === 'singlestat') {
    body = <Stat p={p} data={data} />;
  } else if (p.type === 'gauge') {
    body = <Gauge p={p} data={data} />;
  } else if (p.type === 'bargauge') {
    body = <BarGauge p={p} data={data} />;
  } else if (p.type === 'table') {
    body = <Table p={p} data={data} />;
  } else {
    body = <Heatmap p={p} data={data} height={height} />;
  }
  const title = interpolate(p.title, props.scope);
  return (
    <div class="panel" ref={box} data-testid="panel" data-panel-type={p.type} data-loaded={data || !needsData ? 'true' : 'false'} title={p.description}>
      <div class="panel-title">{title}</div>
      <div class="panel-body">{body}</div>
    </div>
  );
}

export { paletteColor };
