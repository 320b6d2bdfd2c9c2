// What the PromQL editor completes: function names, keywords, and the
// context of the cursor (metric name, label name, label value).

export const FUNCTIONS = [
  'abs', 'absent', 'absent_over_time', 'acos', 'acosh', 'asin', 'asinh', 'atan', 'atanh', 'avg_over_time',
  'ceil', 'changes', 'clamp', 'clamp_max', 'clamp_min', 'cos', 'cosh', 'count_over_time', 'day_of_month',
  'day_of_week', 'day_of_year', 'days_in_month', 'deg', 'delta', 'deriv', 'exp', 'floor', 'histogram_quantile',
  'holt_winters', 'double_exponential_smoothing', 'hour', 'idelta', 'increase', 'irate', 'label_join', 'label_replace',
  'last_over_time', 'ln', 'log10', 'log2', 'max_over_time', 'min_over_time', 'minute', 'month', 'pi',
  'predict_linear', 'present_over_time', 'quantile_over_time', 'rad', 'rate', 'resets', 'round', 'scalar', 'sgn',
  'sin', 'sinh', 'sort', 'sort_desc', 'sort_by_label', 'sort_by_label_desc', 'sqrt', 'stddev_over_time',
  'stdvar_over_time', 'sum_over_time', 'tan', 'tanh', 'time', 'timestamp', 'vector', 'year',
];

export const AGGREGATIONS = [
  'sum', 'min', 'max', 'avg', 'group', 'stddev', 'stdvar', 'count', 'count_values', 'bottomk', 'topk', 'quantile', 'limitk', 'limit_ratio',
];

export const KEYWORDS = ['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'offset', 'and', 'or', 'unless'];

export type Context =
  | { kind: 'name'; prefix: string }
  | { kind: 'labelName'; prefix: string; metric: string }
  | { kind: 'labelValue'; prefix: string; metric: string; label: string }
  | { kind: 'none' };

/** The completion context at `pos` in `text`. */
export function contextAt(text: string, pos: number): Context {
  const before = text.slice(0, pos);
  // Inside a string after `label=` / `label=~` / `label!=` within braces?
  const value = /([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)$/.exec(before);
  const open = before.lastIndexOf('{');
  const close = before.lastIndexOf('}');
  const inBraces = open > close;
  const metric = inBraces ? (/([a-zA-Z_:][a-zA-Z0-9_:]*)\s*$/.exec(before.slice(0, open))?.[1] ?? '') : '';
  if (value && inBraces) return { kind: 'labelValue', prefix: value[3], metric, label: value[1] };
  if (inBraces) {
    const m = /(?:^|[{,\s])([a-zA-Z_][a-zA-Z0-9_]*)?$/.exec(before.slice(open));
    if (m) return { kind: 'labelName', prefix: m[1] ?? '', metric };
    return { kind: 'none' };
  }
  // Inside by (...) / without (...) / on (...) / ignoring (...): label names.
  const grouping = /\b(by|without|on|ignoring|group_left|group_right)\s*\(([^()]*)$/.exec(before);
  if (grouping) {
    const m = /([a-zA-Z_][a-zA-Z0-9_]*)?$/.exec(grouping[2]);
    return { kind: 'labelName', prefix: m?.[1] ?? '', metric: '' };
  }
  const word = /([a-zA-Z_:][a-zA-Z0-9_:]*)$/.exec(before);
  if (word) return { kind: 'name', prefix: word[1] };
  return { kind: 'none' };
}
