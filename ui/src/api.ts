// Calls to Bongsu's HTTP APIs (Prometheus API v1, Alertmanager API v2).
import { useEffect, useState } from 'preact/hooks';

export class ApiError extends Error {}

/** Answers index.html started fetching before the app loaded, by path;
 *  each is used once. */
function early(path: string): Promise<Response> | undefined {
  const map = (window as any).__bongsuEarly as Record<string, Promise<Response>> | undefined;
  const p = map?.[path];
  if (p) delete map![path];
  return p;
}

/** GET or POST `path`; unwraps Prometheus' `{status, data}` envelope. */
export async function api<T>(path: string, init?: RequestInit): Promise<T> {
  const res = await ((!init && early(path)) || fetch(path, init));
  const text = await res.text();
  let body: any;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    throw new ApiError(`${res.status} ${res.statusText}: ${text.slice(0, 200)}`);
  }
  if (!res.ok) {
    const msg = body?.error ?? body?.message ?? (typeof body === 'string' ? body : text);
    throw new ApiError(`${res.status}: ${msg}`);
  }
  if (body && typeof body === 'object' && 'status' in body && 'data' in body) {
    if (body.status !== 'success') throw new ApiError(body.error ?? 'request failed');
    return body.data as T;
  }
  return body as T;
}

export function form(params: Record<string, string>): RequestInit {
  return {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(params).toString(),
  };
}

export interface Loaded<T> {
  data?: T;
  error?: string;
  loading: boolean;
  reload: () => void;
}

/** Loads `path` on mount and whenever `deps` change. */
export function useApi<T>(path: string | null, deps: unknown[] = []): Loaded<T> {
  const [state, setState] = useState<{ data?: T; error?: string; loading: boolean }>({ loading: !!path });
  const [tick, setTick] = useState(0);
  useEffect(() => {
    if (!path) return;
    let live = true;
    setState((s) => ({ ...s, loading: true }));
    api<T>(path)
      .then((data) => live && setState({ data, loading: false }))
      .catch((e) => live && setState({ error: String(e.message ?? e), loading: false }));
    return () => {
      live = false;
    };
  }, [path, tick, ...deps]);
  return { ...state, reload: () => setTick((n) => n + 1) };
}

export type Labels = Record<string, string>;

export interface MatrixSeries {
  metric: Labels;
  values: [number, string][];
}

export interface VectorSample {
  metric: Labels;
  value: [number, string];
}

export type QueryResult =
  | { resultType: 'matrix'; result: MatrixSeries[] }
  | { resultType: 'vector'; result: VectorSample[] }
  | { resultType: 'scalar'; result: [number, string] }
  | { resultType: 'string'; result: [number, string] };

/** `{__name__="x", a="b"}` printed the way Prometheus' UI prints series. */
export function seriesName(m: Labels): string {
  const name = m.__name__ ?? '';
  const rest = Object.keys(m)
    .filter((k) => k !== '__name__')
    .sort()
    .map((k) => `${k}=${JSON.stringify(m[k])}`);
  return rest.length ? `${name}{${rest.join(', ')}}` : name || '{}';
}
