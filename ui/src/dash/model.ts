// Grafana's dashboard JSON model, normalised: schema versions with
// `panels[]` (collapsed rows carry their panels) and the legacy `rows[]`
// layout (schemaVersion ≤ 16, 12-column spans), `singlestat` → stat,
// datasource references dropped (Bongsu is the only datasource).

export interface Target {
  refId: string;
  expr: string;
  legendFormat?: string;
  instant: boolean;
  format: 'time_series' | 'table' | 'heatmap';
  interval?: string;
  hide?: boolean;
}

export interface Threshold {
  color: string;
  value: number | null;
}

export interface Mapping {
  type: 'value' | 'range' | 'special';
  options: any;
}

export interface FieldDefaults {
  unit?: string;
  decimals?: number;
  min?: number;
  max?: number;
  thresholds?: { mode?: string; steps: Threshold[] };
  mappings?: Mapping[];
  displayName?: string;
  custom?: any;
}

export interface Panel {
  id: number;
  type: string;
  title: string;
  description?: string;
  gridPos: { x: number; y: number; w: number; h: number };
  targets: Target[];
  fieldConfig: { defaults: FieldDefaults; overrides: any[] };
  options: any;
  /** Panel-level minimum interval (`interval`), e.g. "1m". */
  interval?: string;
  maxDataPoints?: number;
  repeat?: string;
  repeatDirection?: 'h' | 'v';
  maxPerRow?: number;
  /** Rows: whether collapsed, and the panels they hold when collapsed. */
  collapsed?: boolean;
  panels?: Panel[];
  /** text panel */
  content?: string;
  mode?: string;
  /** legacy graph: stacking and percent. */
  stack?: boolean;
  /** Set on repeated clones: the variable values this clone is for. */
  scopedVars?: Record<string, string>;
  links?: { title: string; url: string }[];
}

export interface Variable {
  name: string;
  label?: string;
  type: 'query' | 'custom' | 'constant' | 'interval' | 'textbox' | 'datasource' | 'adhoc' | string;
  query: string;
  regex?: string;
  sort?: number;
  multi: boolean;
  includeAll: boolean;
  allValue?: string | null;
  hide: number;
  current: { text: string | string[]; value: string | string[] };
  options: { text: string; value: string }[];
  auto?: boolean;
  auto_count?: number;
  auto_min?: string;
}

export interface Dashboard {
  uid: string;
  title: string;
  tags: string[];
  time: { from: string; to: string };
  refresh: string;
  variables: Variable[];
  panels: Panel[];
  links: { title: string; url: string; type: string; tags?: string[] }[];
  schemaVersion: number;
}

const LEGACY_UNITS: Record<string, string> = { percent: 'percent', bytes: 'bytes', none: 'none', short: 'short', ms: 'ms', s: 's' };

function str(v: any, dflt = ''): string {
  return typeof v === 'string' ? v : v == null ? dflt : String(v);
}

function targetOf(t: any, i: number): Target {
  return {
    refId: str(t.refId, String.fromCharCode(65 + i)),
    expr: str(t.expr ?? t.query),
    legendFormat: t.legendFormat,
    instant: t.instant === true && t.range !== true,
    format: t.format === 'table' ? 'table' : t.format === 'heatmap' ? 'heatmap' : 'time_series',
    interval: t.interval || undefined,
    hide: t.hide === true,
  };
}

function panelOf(p: any): Panel {
  let type = str(p.type, 'timeseries');
  const defaults: FieldDefaults = { ...(p.fieldConfig?.defaults ?? {}) };
  const options = { ...(p.options ?? {}) };
  if (type === 'singlestat') {
    // Legacy single stat: format, thresholds "70,90" with colors, valueName.
    type = 'stat';
    if (p.format && !defaults.unit) defaults.unit = LEGACY_UNITS[p.format] ?? p.format;
    if (p.decimals != null) defaults.decimals = p.decimals;
    const colors: string[] = p.colors ?? ['green', 'orange', 'red'];
    const levels = str(p.thresholds).split(',').map((x) => parseFloat(x)).filter((x) => Number.isFinite(x));
    if (levels.length) defaults.thresholds = { mode: 'absolute', steps: [{ color: colors[0], value: null }, ...levels.map((v, i) => ({ color: colors[i + 1] ?? colors[colors.length - 1], value: v }))] };
    const calc = { current: 'lastNotNull', avg: 'mean', max: 'max', min: 'min', total: 'sum' }[str(p.valueName, 'current')] ?? 'lastNotNull';
    options.reduceOptions = { calcs: [calc] };
    options.colorMode = p.colorBackground ? 'background' : p.colorValue ? 'value' : 'none';
    options.graphMode = p.sparkline?.show ? 'area' : 'none';
    if (Array.isArray(p.valueMaps) && p.valueMaps.length) {
      defaults.mappings = [{ type: 'value', options: Object.fromEntries(p.valueMaps.map((m: any) => [m.value, { text: m.text }])) }];
    }
  }
  if (type === 'graph') {
    const y = p.yaxes?.[0];
    if (y?.format && !defaults.unit) defaults.unit = y.format;
    if (y?.min != null && y.min !== '') defaults.min = Number(y.min);
    if (y?.max != null && y.max !== '') defaults.max = Number(y.max);
  }
  if (defaults.unit && LEGACY_UNITS[defaults.unit] === undefined && defaults.unit === 'percent') defaults.unit = 'percent';
  return {
    id: Number(p.id ?? 0),
    type,
    title: str(p.title),
    description: p.description,
    gridPos: { x: p.gridPos?.x ?? 0, y: p.gridPos?.y ?? 0, w: p.gridPos?.w ?? 12, h: p.gridPos?.h ?? 8 },
    targets: (p.targets ?? []).map(targetOf),
    fieldConfig: { defaults, overrides: p.fieldConfig?.overrides ?? [] },
    options,
    interval: p.interval || undefined,
    maxDataPoints: p.maxDataPoints,
    repeat: p.repeat || undefined,
    repeatDirection: p.repeatDirection === 'v' ? 'v' : 'h',
    maxPerRow: p.maxPerRow,
    collapsed: p.collapsed === true,
    panels: Array.isArray(p.panels) ? p.panels.map(panelOf) : undefined,
    content: p.content ?? p.options?.content,
    mode: p.mode ?? p.options?.mode,
    stack: p.stack === true,
    links: p.links,
  };
}

/** Legacy `rows[]` (12-column spans, pixel heights) → `panels[]` on
 *  Grafana's 24-column grid with 30 px cells, one row panel per row. */
function fromRows(rows: any[]): Panel[] {
  const out: Panel[] = [];
  let y = 0;
  let id = 10000;
  for (const row of rows) {
    const h = Math.max(3, Math.round((parseInt(str(row.height, '250'), 10) || 250) / 30));
    if (row.showTitle || rows.length > 1) {
      out.push({ ...panelOf({ type: 'row', title: row.title ?? '', id: id++ }), gridPos: { x: 0, y, w: 24, h: 1 }, collapsed: row.collapse === true });
      y += 1;
    }
    let x = 0;
    for (const p of row.panels ?? []) {
      const w = Math.min(24, Math.max(1, Math.round((p.span ?? 12) * 2)));
      if (x + w > 24) {
        x = 0;
        y += h;
      }
      out.push({ ...panelOf(p), gridPos: { x, y, w, h } });
      x += w;
    }
    y += h;
  }
  return out;
}

function variableOf(v: any): Variable {
  const q = typeof v.query === 'string' ? v.query : str(v.query?.query ?? v.definition);
  const cur = v.current ?? {};
  return {
    name: str(v.name),
    label: v.label || undefined,
    type: str(v.type, 'query'),
    query: q,
    regex: v.regex || undefined,
    sort: v.sort,
    multi: v.multi === true,
    includeAll: v.includeAll === true,
    allValue: v.allValue ?? null,
    hide: Number(v.hide ?? 0),
    current: { text: cur.text ?? '', value: cur.value ?? '' },
    options: Array.isArray(v.options) ? v.options.map((o: any) => ({ text: str(o.text), value: str(o.value) })) : [],
    auto: v.auto === true,
    auto_count: v.auto_count,
    auto_min: v.auto_min,
  };
}

export function normalize(raw: any): Dashboard {
  const panels: Panel[] = Array.isArray(raw.panels) ? raw.panels.map(panelOf) : Array.isArray(raw.rows) ? fromRows(raw.rows) : [];
  return {
    uid: str(raw.uid),
    title: str(raw.title, 'Dashboard'),
    tags: Array.isArray(raw.tags) ? raw.tags.map(String) : [],
    time: { from: str(raw.time?.from, 'now-6h'), to: str(raw.time?.to, 'now') },
    refresh: str(raw.refresh, ''),
    variables: (raw.templating?.list ?? []).map(variableOf),
    panels,
    links: (raw.links ?? []).map((l: any) => ({ title: str(l.title), url: str(l.url), type: str(l.type, 'link'), tags: l.tags })),
    schemaVersion: Number(raw.schemaVersion ?? 0),
  };
}

/** Panels in layout order with the rows' collapsed children kept inside
 *  their row, plus the rows' extent: what the grid lays out. */
export function layout(panels: Panel[]): Panel[] {
  return [...panels].sort((a, b) => a.gridPos.y - b.gridPos.y || a.gridPos.x - b.gridPos.x);
}
