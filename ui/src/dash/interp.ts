// Time ranges (`now-6h`), Grafana's interval arithmetic ($__interval,
// $__rate_interval, step alignment) and variable interpolation with the
// Prometheus datasource's escaping rules.
import { formatDuration, parseDuration } from '../time';
import type { Variable } from './model';

/** `now`, `now-6h`, `now-1d/d`, ISO or epoch-ms text → seconds. */
export function parseTime(s: string, now = Date.now() / 1000): number | null {
  s = s.trim();
  if (/^\d{10,13}$/.test(s)) return Number(s) / (s.length > 10 ? 1000 : 1);
  const m = /^now(?:([+-])(\d+)([smhdwMy]))?(?:\/([smhdwMy]))?$/.exec(s);
  if (m) {
    const unit: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400, w: 604800, M: 2592000, y: 31536000 };
    let t = now;
    if (m[1]) t += (m[1] === '-' ? -1 : 1) * Number(m[2]) * unit[m[3]];
    if (m[4]) {
      const u = unit[m[4]];
      const tz = new Date(t * 1000).getTimezoneOffset() * 60;
      t = Math.floor((t - tz) / u) * u + tz;
    }
    return t;
  }
  const iso = Date.parse(s);
  return Number.isFinite(iso) ? iso / 1000 : null;
}

/** Grafana's rounding of a computed interval to a "nice" one (seconds). */
export function roundInterval(secs: number): number {
  const table: [number, number][] = [
    [0.015, 0.01], [0.035, 0.02], [0.075, 0.05], [0.15, 0.1], [0.35, 0.2], [0.75, 0.5], [1.5, 1], [3.5, 2], [7.5, 5],
    [12.5, 10], [17.5, 15], [25, 20], [45, 30], [90, 60], [210, 120], [450, 300], [750, 600], [1050, 900], [1500, 1200],
    [2700, 1800], [5400, 3600], [9000, 7200], [16200, 10800], [32400, 21600], [86400, 43200], [604800, 86400],
    [1814400, 604800], [3628800, 2592000],
  ];
  for (const [limit, val] of table) if (secs < limit) return val;
  return 31536000;
}

export interface Intervals {
  /** $__interval in seconds. */
  interval: number;
  /** $__rate_interval in seconds. */
  rateInterval: number;
  /** The range query step, seconds. */
  step: number;
}

/** The intervals of one query: `maxDataPoints` (panel width in pixels by
 *  default), the panel's or query's minimum interval, and the scrape
 *  interval (Grafana's datasource "scrape interval", 15 s by default). */
export function intervals(range: number, maxDataPoints: number, minInterval: string | undefined, scrape: number): Intervals {
  const min = (minInterval && parseDuration(minInterval.replace(/^>=/, ''))) || scrape;
  const interval = Math.max(roundInterval(range / Math.max(1, maxDataPoints)), min);
  return { interval, rateInterval: Math.max(interval + scrape, 4 * scrape), step: Math.max(interval, Math.ceil(range / 11000)) };
}

// Escaping as Grafana's Prometheus datasource does it (values land inside
// PromQL double-quoted strings; multi-value and All become regexes).
function regularEscape(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/'/g, "\\\\'");
}

function regexEscape(v: string): string {
  return v.replace(/\\/g, '\\\\\\\\').replace(/[$^*{}[\]'+?.()|]/g, '\\\\$&');
}

/** The current value(s) of a variable, `$__all` expanded. */
export function values(v: Variable): string[] {
  const cur = Array.isArray(v.current.value) ? v.current.value : [v.current.value];
  if (cur.includes('$__all')) return v.options.filter((o) => o.value !== '$__all').map((o) => o.value);
  return cur.map(String);
}

function isAll(v: Variable): boolean {
  const cur = Array.isArray(v.current.value) ? v.current.value : [v.current.value];
  return cur.includes('$__all');
}

/** A variable's value as it is substituted into a PromQL query. */
export function promValue(v: Variable, format?: string): string {
  if (isAll(v) && v.allValue != null && v.allValue !== '' && !format) return v.allValue;
  const vals = values(v);
  switch (format) {
    case 'raw':
      return vals.join(',');
    case 'csv':
      return vals.join(',');
    case 'pipe':
      return vals.join('|');
    case 'regex':
      return vals.length === 1 ? regexEscape(vals[0]) : `(${vals.map(regexEscape).join('|')})`;
    case 'json':
      return JSON.stringify(vals);
    case 'text':
      return Array.isArray(v.current.text) ? v.current.text.join(' + ') : String(v.current.text);
    default:
      break;
  }
  if (!v.multi && !v.includeAll) return regularEscape(vals[0] ?? '');
  const escaped = vals.map(regexEscape);
  return escaped.length === 1 ? escaped[0] : `(${escaped.join('|')})`;
}

export interface Scope {
  vars: Variable[];
  /** Values that override a variable (a repeated panel's own value). */
  scoped?: Record<string, string>;
  builtins: Record<string, string>;
}

/** Replaces `$var`, `${var}`, `${var:format}`, `[[var]]` and the
 *  `$__…` built-ins. Unknown names are left as they are. */
export function interpolate(text: string, scope: Scope): string {
  return text.replace(/\$\{([a-zA-Z0-9_.]+)(?::([a-z]+))?\}|\[\[([a-zA-Z0-9_]+)(?::([a-z]+))?\]\]|\$([a-zA-Z0-9_]+)/g, (whole, n1, f1, n2, f2, n3) => {
    const name: string = n1 ?? n2 ?? n3;
    const format: string | undefined = f1 ?? f2;
    if (name in scope.builtins) return scope.builtins[name];
    if (scope.scoped && name in scope.scoped) {
      const value = scope.scoped[name];
      const v = scope.vars.find((x) => x.name === name);
      return v ? promValue({ ...v, multi: false, includeAll: false, current: { text: value, value } }, format) : value;
    }
    const v = scope.vars.find((x) => x.name === name);
    return v ? promValue(v, format) : whole;
  });
}

/** The built-in macros of one query. */
export function builtins(range: number, iv: Intervals): Record<string, string> {
  return {
    __interval: formatDuration(iv.interval),
    __interval_ms: String(Math.round(iv.interval * 1000)),
    __rate_interval: formatDuration(iv.rateInterval),
    __range: formatDuration(range),
    __range_s: String(Math.round(range)),
    __range_ms: String(Math.round(range * 1000)),
  };
}

/** `{{label}}` placeholders of a legend format. */
export function legend(format: string | undefined, labels: Record<string, string>, fallback: string): string {
  if (!format || format === '__auto') return fallback;
  return format.replace(/\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}/g, (_, l) => labels[l] ?? '');
}
