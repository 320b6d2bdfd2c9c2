// Grafana's value units: the ids dashboards use (`bytes`, `percent`,
// `bps`, `s`, …) formatted the way Grafana scales and suffixes them.

function fixed(v: number, decimals?: number): string {
  if (!Number.isFinite(v)) return String(v);
  let d = decimals;
  if (d == null) {
    const a = Math.abs(v);
    d = a === 0 ? 0 : a >= 100 ? 0 : a >= 10 ? 1 : a >= 1 ? 2 : Math.min(6, 1 - Math.floor(Math.log10(a)) + 1);
    return String(Number(v.toFixed(d)));
  }
  return v.toFixed(Math.max(0, Math.min(20, d)));
}

function scaled(v: number, base: number, suffixes: string[], decimals?: number, offset = 0): string {
  if (!Number.isFinite(v)) return String(v);
  let i = offset;
  let x = v;
  while (Math.abs(x) >= base && i < suffixes.length - 1) {
    x /= base;
    i++;
  }
  return `${fixed(x, decimals)}${suffixes[i]}`;
}

const SI = ['', ' k', ' M', ' G', ' T', ' P', ' E'];

function siUnit(unit: string) {
  return SI.map((p) => `${p || ' '}${unit}`.replace(/^ /, ' '));
}

function duration(secs: number, decimals?: number): string {
  const a = Math.abs(secs);
  if (a === 0) return '0 s';
  if (a < 1e-6) return `${fixed(secs * 1e9, decimals)} ns`;
  if (a < 1e-3) return `${fixed(secs * 1e6, decimals)} µs`;
  if (a < 1) return `${fixed(secs * 1e3, decimals)} ms`;
  if (a < 60) return `${fixed(secs, decimals)} s`;
  if (a < 3600) return `${fixed(secs / 60, decimals)} min`;
  if (a < 86400) return `${fixed(secs / 3600, decimals)} hour`;
  if (a < 604800) return `${fixed(secs / 86400, decimals)} day`;
  return `${fixed(secs / 604800, decimals)} week`;
}

function dtdurations(secs: number): string {
  let rest = Math.floor(Math.abs(secs));
  const parts: string[] = [];
  for (const [name, mult] of [['year', 31536000], ['day', 86400], ['hour', 3600], ['minute', 60], ['second', 1]] as const) {
    if (rest >= mult) {
      const n = Math.floor(rest / mult);
      parts.push(`${n} ${name}${n === 1 ? '' : 's'}`);
      rest %= mult;
    }
    if (parts.length === 2) break;
  }
  return (secs < 0 ? '-' : '') + (parts.join(', ') || '0 seconds');
}

/** `value` formatted in `unit` with `decimals` (auto when undefined). */
export function formatValue(value: number | null | undefined, unit = 'short', decimals?: number): string {
  if (value == null || Number.isNaN(value)) return '—';
  const v = value;
  switch (unit) {
    case 'none':
      return fixed(v, decimals);
    case '':
    case 'short':
      return scaled(v, 1000, ['', ' K', ' Mil', ' Bil', ' Tri', ' Quadr'], decimals);
    case 'percent':
      return `${fixed(v, decimals)}%`;
    case 'percentunit':
      return `${fixed(v * 100, decimals)}%`;
    case 'bytes':
      return scaled(v, 1024, [' B', ' KiB', ' MiB', ' GiB', ' TiB', ' PiB'], decimals);
    case 'decbytes':
      return scaled(v, 1000, [' B', ' kB', ' MB', ' GB', ' TB', ' PB'], decimals);
    case 'kbytes':
      return scaled(v, 1024, [' B', ' KiB', ' MiB', ' GiB', ' TiB', ' PiB'], decimals, 1);
    case 'bits':
      return scaled(v, 1024, [' b', ' Kib', ' Mib', ' Gib', ' Tib'], decimals);
    case 'decbits':
      return scaled(v, 1000, [' b', ' kb', ' Mb', ' Gb', ' Tb'], decimals);
    case 'bps':
      return scaled(v, 1000, [' bps', ' kbps', ' Mbps', ' Gbps', ' Tbps'], decimals);
    case 'binbps':
      return scaled(v, 1024, [' b/s', ' Kib/s', ' Mib/s', ' Gib/s', ' Tib/s'], decimals);
    case 'Bps':
      return scaled(v, 1000, [' B/s', ' kB/s', ' MB/s', ' GB/s', ' TB/s'], decimals);
    case 'binBps':
      return scaled(v, 1024, [' B/s', ' KiB/s', ' MiB/s', ' GiB/s', ' TiB/s'], decimals);
    case 'pps':
      return scaled(v, 1000, siUnit('p/s'), decimals);
    case 'iops':
      return scaled(v, 1000, siUnit('io/s'), decimals);
    case 'ops':
      return scaled(v, 1000, siUnit('ops/s'), decimals);
    case 'reqps':
      return scaled(v, 1000, siUnit('req/s'), decimals);
    case 'rps':
      return scaled(v, 1000, siUnit('reads/s'), decimals);
    case 'wps':
      return scaled(v, 1000, siUnit('writes/s'), decimals);
    case 'eps':
      return scaled(v, 1000, siUnit('evt/s'), decimals);
    case 'hertz':
      return scaled(v, 1000, [' Hz', ' kHz', ' MHz', ' GHz', ' THz'], decimals);
    case 'rotrpm':
      return `${fixed(v, decimals)} rpm`;
    case 'celsius':
      return `${fixed(v, decimals)}°C`;
    case 'fahrenheit':
      return `${fixed(v, decimals)}°F`;
    case 'volt':
      return `${fixed(v, decimals)} V`;
    case 'watt':
      return scaled(v, 1000, [' W', ' kW', ' MW', ' GW'], decimals);
    case 'ns':
      return duration(v / 1e9, decimals);
    case 'µs':
    case 'us':
      return duration(v / 1e6, decimals);
    case 'ms':
      return duration(v / 1e3, decimals);
    case 's':
      return duration(v, decimals);
    case 'm':
      return duration(v * 60, decimals);
    case 'h':
      return duration(v * 3600, decimals);
    case 'd':
      return duration(v * 86400, decimals);
    case 'dtdurations':
      return dtdurations(v);
    case 'dtdurationms':
      return dtdurations(v / 1000);
    case 'dateTimeAsIso':
    case 'dateTimeAsSystem':
      return new Date(v * (v < 1e11 ? 1000 : 1)).toISOString().replace('T', ' ').slice(0, 19);
    case 'bool':
      return v === 0 ? 'False' : 'True';
    case 'bool_yes_no':
      return v === 0 ? 'No' : 'Yes';
    case 'bool_on_off':
      return v === 0 ? 'Off' : 'On';
    case 'currencyUSD':
      return `$${fixed(v, decimals ?? 2)}`;
    default:
      if (unit.startsWith('suffix:')) return `${fixed(v, decimals)}${unit.slice(7)}`;
      if (unit.startsWith('prefix:')) return `${unit.slice(7)}${fixed(v, decimals)}`;
      return `${fixed(v, decimals)} ${unit}`;
  }
}

/** Units this formatter knows (others print as "value unit"). */
export const KNOWN_UNITS = new Set([
  'none', '', 'short', 'percent', 'percentunit', 'bytes', 'decbytes', 'kbytes', 'bits', 'decbits', 'bps', 'binbps', 'Bps', 'binBps',
  'pps', 'iops', 'ops', 'reqps', 'rps', 'wps', 'eps', 'hertz', 'rotrpm', 'celsius', 'fahrenheit', 'volt', 'watt', 'ns', 'µs', 'us', 'ms',
  's', 'm', 'h', 'd', 'dtdurations', 'dtdurationms', 'dateTimeAsIso', 'dateTimeAsSystem', 'bool', 'bool_yes_no', 'bool_on_off', 'currencyUSD',
]);
