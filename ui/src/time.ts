// Durations the way Prometheus writes them (`1h30m`), and relative times.

const UNITS: [string, number][] = [
  ['y', 365 * 24 * 3600],
  ['w', 7 * 24 * 3600],
  ['d', 24 * 3600],
  ['h', 3600],
  ['m', 60],
  ['s', 1],
];

/** Parses `1h`, `90s`, `1h30m`; null when invalid. */
export function parseDuration(s: string): number | null {
  const re = /^(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?$/;
  const m = re.exec(s.trim());
  if (!m || s.trim() === '') return null;
  let secs = 0;
  UNITS.forEach(([, mult], i) => {
    if (m[i + 1]) secs += Number(m[i + 1]) * mult;
  });
  if (m[7]) secs += Number(m[7]) / 1000;
  return secs;
}

export function formatDuration(secs: number): string {
  if (secs <= 0) return '0s';
  if (secs < 1) return `${Math.round(secs * 1000)}ms`;
  let rest = Math.round(secs);
  let out = '';
  for (const [u, mult] of UNITS) {
    if (rest >= mult) {
      out += `${Math.floor(rest / mult)}${u}`;
      rest %= mult;
    }
  }
  return out;
}

/** "12s", "3m" … for a past ISO time. */
export function ago(iso: string, now = Date.now()): string {
  const t = Date.parse(iso);
  if (!Number.isFinite(t) || t <= 0) return '—';
  return formatDuration(Math.max(0, (now - t) / 1000));
}

/** A step giving about 250 points over `range` seconds, at least 1 s. */
export function autoStep(range: number): number {
  return Math.max(1, Math.round(range / 250));
}
