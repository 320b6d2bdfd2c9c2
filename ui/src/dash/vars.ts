// Template variables: the options of each kind (Grafana's Prometheus
// helpers label_values/label_names/metrics/query_result, custom lists,
// intervals, constants, text boxes), regex extraction and sorting, and the
// choice of the current value. Resolved in dashboard order, so a variable
// may use the ones before it (chained variables).
import { api, form, Labels, VectorSample } from '../api';
import { formatDuration, parseDuration } from '../time';
import { interpolate, roundInterval, Scope } from './interp';
import type { Variable } from './model';

type Option = { text: string; value: string };

const ALL: Option = { text: 'All', value: '$__all' };

/** The raw values of a Grafana Prometheus variable query. */
export async function queryValues(query: string, start: number, end: number): Promise<string[]> {
  const q = query.trim();
  const range = `start=${Math.floor(start)}&end=${Math.ceil(end)}`;
  let m = /^label_values\(\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\)$/.exec(q);
  if (m) return api<string[]>(`/api/v1/label/${encodeURIComponent(m[1])}/values?${range}`);
  m = /^label_values\(\s*(.+?)\s*,\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\)$/s.exec(q);
  if (m) return api<string[]>(`/api/v1/label/${encodeURIComponent(m[2])}/values?match[]=${encodeURIComponent(m[1])}&${range}`);
  m = /^label_names\(\s*(.*?)\s*\)$/s.exec(q);
  if (m) return api<string[]>(`/api/v1/labels?${m[1] ? `match[]=${encodeURIComponent(m[1])}&` : ''}${range}`);
  m = /^metrics\(\s*(.*?)\s*\)$/s.exec(q);
  if (m) {
    const names = await api<string[]>(`/api/v1/label/__name__/values?${range}`);
    const re = new RegExp(m[1] || '.*');
    return names.filter((n) => re.test(n));
  }
  m = /^query_result\(\s*(.+)\s*\)$/s.exec(q);
  const expr = m ? m[1] : q;
  const res = await api<{ resultType: string; result: any }>('/api/v1/query', form({ query: expr, time: String(end) }));
  if (res.resultType === 'vector') {
    return (res.result as VectorSample[]).map((s) => `${seriesText(s.metric)} ${s.value[1]} ${Math.round(s.value[0] * 1000)}`);
  }
  if (res.resultType === 'scalar' || res.resultType === 'string') return [`${res.result[1]}`];
  return [];
}

function seriesText(m: Labels): string {
  const name = m.__name__ ?? '';
  const rest = Object.keys(m)
    .filter((k) => k !== '__name__')
    .map((k) => `${k}="${m[k]}"`);
  return `${name}{${rest.join(',')}}`;
}

/** Grafana's `/regex/flags` filter: keeps matching values; a capture
 *  group (or named groups `text`/`value`) extracts. */
export function applyRegex(values: string[], regex: string | undefined): Option[] {
  if (!regex) return values.map((v) => ({ text: v, value: v }));
  const m = /^\/(.*)\/([gimsuy]*)$/s.exec(regex);
  const re = new RegExp(m ? m[1] : regex, m ? m[2].replace('g', '') : '');
  const out: Option[] = [];
  for (const v of values) {
    const r = re.exec(v);
    if (!r) continue;
    const g = r.groups;
    if (g && (g.text !== undefined || g.value !== undefined)) out.push({ text: g.text ?? g.value, value: g.value ?? g.text });
    else if (r.length > 1 && r[1] !== undefined) out.push({ text: r[1], value: r[1] });
    else out.push({ text: v, value: v });
  }
  return out;
}

export function sortOptions(opts: Option[], sort: number | undefined): Option[] {
  const uniq = [...new Map(opts.map((o) => [o.value, o])).values()];
  const num = (s: string) => {
    const m = /-?\d+(\.\d+)?/.exec(s);
    return m ? Number(m[0]) : Number.NaN;
  };
  const natural = new Intl.Collator(undefined, { numeric: true, sensitivity: 'base' });
  switch (sort) {
    case 1: return uniq.sort((a, b) => (a.text < b.text ? -1 : a.text > b.text ? 1 : 0));
    case 2: return uniq.sort((a, b) => (a.text < b.text ? 1 : a.text > b.text ? -1 : 0));
    case 3: return uniq.sort((a, b) => num(a.text) - num(b.text));
    case 4: return uniq.sort((a, b) => num(b.text) - num(a.text));
    case 5: return uniq.sort((a, b) => a.text.toLowerCase().localeCompare(b.text.toLowerCase()));
    case 6: return uniq.sort((a, b) => b.text.toLowerCase().localeCompare(a.text.toLowerCase()));
    case 7: return uniq.sort((a, b) => natural.compare(a.text, b.text));
    case 8: return uniq.sort((a, b) => natural.compare(b.text, a.text));
    default: return uniq;
  }
}

/** `a, b, c` or `text : value` pairs; `\,` is a literal comma. */
export function customOptions(query: string): Option[] {
  return query
    .split(/(?<!\\),/)
    .map((s) => s.replace(/\\,/g, ',').trim())
    .filter((s) => s !== '')
    .map((s) => {
      const kv = /^(.*?)\s+:\s+(.*)$/.exec(s);
      return kv ? { text: kv[1], value: kv[2] } : { text: s, value: s };
    });
}

/** The options of variable `v`, with the variables before it in scope. */
export async function resolveOptions(v: Variable, scope: Scope, start: number, end: number): Promise<Option[]> {
  switch (v.type) {
    case 'query': {
      const raw = await queryValues(interpolate(v.query, scope), start, end);
      return sortOptions(applyRegex(raw, v.regex && interpolate(v.regex, scope)), v.sort);
    }
    case 'custom':
      return customOptions(v.query);
    case 'interval': {
      const opts = customOptions(v.query);
      if (v.auto) {
        const count = v.auto_count || 30;
        const min = parseDuration(v.auto_min || '10s') ?? 10;
        const auto = Math.max(roundInterval((end - start) / count), min);
        return [{ text: 'auto', value: formatDuration(auto) }, ...opts];
      }
      return opts;
    }
    case 'constant':
      return [{ text: v.query, value: v.query }];
    case 'textbox': {
      const cur = Array.isArray(v.current.value) ? v.current.value[0] : v.current.value;
      const val = cur || v.query;
      return [{ text: val, value: val }];
    }
    case 'datasource':
      return [{ text: 'Bongsu', value: 'bongsu' }];
    default:
      return [];
  }
}

/** Picks the current value after the options changed: a value from the
 *  URL, else the saved current value when still offered, else All (for a
 *  variable that includes it and had it), else the first option. */
export function pickCurrent(v: Variable, opts: Option[], fromUrl: string[] | undefined): Variable['current'] {
  const offered = v.includeAll ? [ALL, ...opts] : opts;
  const want = fromUrl ?? (Array.isArray(v.current.value) ? v.current.value : [v.current.value]).filter((x) => x !== '' && x != null);
  const textOf = (val: string) => offered.find((o) => o.value === val)?.text ?? val;
  const valid = want.filter((w) => w === '$__all' ? v.includeAll : offered.some((o) => o.value === w) || v.type === 'textbox');
  if (valid.length) {
    const vals = v.multi ? valid : [valid[0]];
    return v.multi ? { text: vals.map(textOf), value: vals } : { text: textOf(vals[0]), value: vals[0] };
  }
  if (v.includeAll && (want.includes('$__all') || opts.length === 0)) return v.multi ? { text: ['All'], value: ['$__all'] } : { text: 'All', value: '$__all' };
  const first = offered[0];
  if (!first) return { text: '', value: '' };
  return v.multi ? { text: [first.text], value: [first.value] } : { text: first.text, value: first.value };
}

export { ALL };
