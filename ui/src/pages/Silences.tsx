// Silences: list, create (from an alert's labels or by hand) with a live
// preview of the alerts the matchers catch, edit, and expire. An edit
// posts the silence with its id, as Alertmanager's UI does: the server
// updates it in place when only the end or the comment changed, and
// otherwise expires it and creates a new one.
import { useEffect, useState } from 'preact/hooks';
import { api, useApi } from '../api';
import { t } from '../i18n';
import { navigate } from '../router';
import { formatDuration, parseDuration } from '../time';
import { AmAlert } from './Alerts';

interface Matcher {
  name: string;
  value: string;
  isRegex: boolean;
  isEqual: boolean;
}

interface Silence {
  id: string;
  status: { state: string };
  matchers: Matcher[];
  startsAt: string;
  endsAt: string;
  createdBy: string;
  comment: string;
}

function op(m: Matcher): string {
  return m.isRegex ? (m.isEqual ? '=~' : '!~') : m.isEqual ? '=' : '!=';
}

export function matcherText(m: Matcher): string {
  return `${m.name}${op(m)}${JSON.stringify(m.value)}`;
}

/** Parses `a="b", c=~"d.*"` into matchers; null when malformed. */
export function parseMatchers(text: string): Matcher[] | null {
  const out: Matcher[] = [];
  const re = /\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"\s*(,|$)/y;
  let pos = 0;
  const s = text.trim();
  while (pos < s.length) {
    re.lastIndex = pos;
    const m = re.exec(s);
    if (!m) return null;
    out.push({ name: m[1], value: JSON.parse(`"${m[3]}"`), isRegex: m[2].includes('~'), isEqual: !m[2].startsWith('!') });
    pos = re.lastIndex;
  }
  return out.length ? out : null;
}

function NewSilence(props: { initial: Matcher[]; edit?: Silence; onDone: () => void }) {
  const ed = props.edit;
  const [matchers, setMatchers] = useState((ed?.matchers ?? props.initial).map(matcherText).join(', '));
  const left = ed && ed.status.state !== 'expired' ? Math.max(60, (Date.parse(ed.endsAt) - Date.now()) / 1000) : 0;
  const [duration, setDuration] = useState(left ? formatDuration(Math.round(left / 60) * 60) : '2h');
  const [createdBy, setCreatedBy] = useState(ed?.createdBy ?? localStorage.getItem('bongsu.user') ?? '');
  const [comment, setComment] = useState(ed?.comment ?? '');
  const [error, setError] = useState('');
  const [preview, setPreview] = useState<AmAlert[] | null>(null);
  const parsed = parseMatchers(matchers);

  useEffect(() => {
    if (!parsed) {
      setPreview(null);
      return;
    }
    const q = parsed.map((m) => `filter=${encodeURIComponent(matcherText(m))}`).join('&');
    api<AmAlert[]>(`/api/v2/alerts?${q}&silenced=true&inhibited=true&active=true`)
      .then(setPreview)
      .catch(() => setPreview(null));
  }, [matchers]);

  const submit = async (e: Event) => {
    e.preventDefault();
    const secs = parseDuration(duration);
    if (!parsed) return setError(`${t('silences.matchers')}: a="b", c=~"d.*"`);
    if (!secs) return setError(`${t('silences.duration')}: 1h, 30m, 2d`);
    localStorage.setItem('bongsu.user', createdBy);
    const now = new Date();
    // Editing keeps the start of a silence that has not expired (so a
    // change of end or comment is an in-place update).
    const startsAt = ed && ed.status.state !== 'expired' ? ed.startsAt : now.toISOString();
    const from = Math.max(now.getTime(), Date.parse(startsAt));
    try {
      await api('/api/v2/silences', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({
          ...(ed && ed.status.state !== 'expired' ? { id: ed.id } : {}),
          matchers: parsed,
          startsAt,
          endsAt: new Date(from + secs * 1000).toISOString(),
          createdBy: createdBy || 'bongsu-ui',
          comment: comment || t('silences.created'),
        }),
      });
      props.onDone();
    } catch (err: any) {
      setError(String(err.message ?? err));
    }
  };

  return (
    <form class="card" onSubmit={submit} data-testid="silence-form">
      <h3>{ed ? `${t('silences.edit')} ${ed.id}` : t('silences.new')}</h3>
      <label>
        {t('silences.matchers')}
        <input class="mono wide" data-testid="silence-matchers" value={matchers} onInput={(e) => setMatchers(e.currentTarget.value)} />
      </label>
      <label>
        {t('silences.duration')}
        <input size={8} value={duration} onInput={(e) => setDuration(e.currentTarget.value)} />
      </label>
      <label>
        {t('silences.createdBy')}
        <input value={createdBy} onInput={(e) => setCreatedBy(e.currentTarget.value)} />
      </label>
      <label>
        {t('silences.comment')}
        <input class="wide" value={comment} onInput={(e) => setComment(e.currentTarget.value)} />
      </label>
      {error && <p class="error" role="alert">{error}</p>}
      <div class="buttons">
        <button type="submit" class="primary" data-testid="silence-create">
          {ed ? t('silences.save') : t('silences.create')}
        </button>
        <button type="button" onClick={props.onDone}>
          {t('silences.cancel')}
        </button>
      </div>
      <h4>
        {t('silences.preview')}: <span data-testid="silence-preview-count">{preview ? preview.length : '—'}</span>
      </h4>
      <ul class="preview">
        {(preview ?? []).slice(0, 20).map((a) => (
          <li class="mono">{Object.entries(a.labels).map(([k, v]) => `${k}="${v}"`).join(', ')}</li>
        ))}
      </ul>
    </form>
  );
}

export function Silences() {
  const params = new URLSearchParams(location.search);
  const prefill = params.get('new');
  let initial: Matcher[] | null = null;
  try {
    initial = prefill ? (JSON.parse(prefill) as Matcher[]) : null;
  } catch {
    initial = [];
  }
  const res = useApi<Silence[]>('/api/v2/silences');
  const editId = params.get('edit');
  const editing = editId ? res.data?.find((s) => s.id === editId) : undefined;
  const done = () => {
    navigate('/silences');
    res.reload();
  };
  const expire = async (id: string) => {
    await api(`/api/v2/silence/${encodeURIComponent(id)}`, { method: 'DELETE' }).catch(() => undefined);
    res.reload();
  };
  const list = (res.data ?? []).slice().sort((a, b) => (a.status.state === b.status.state ? b.endsAt.localeCompare(a.endsAt) : a.status.state === 'active' ? -1 : 1));
  return (
    <section class="page">
      {editing ? (
        <NewSilence initial={[]} edit={editing} onDone={done} key={editing.id} />
      ) : initial ? (
        <NewSilence initial={initial} onDone={done} />
      ) : (
        <div class="toolbar">
          <button class="primary" data-testid="new-silence" onClick={() => navigate('/silences?new=[]')}>
            {t('silences.new')}
          </button>
        </div>
      )}
      {res.error && <p class="error" role="alert">{res.error}</p>}
      {res.data && list.length === 0 && <p class="muted">{t('silences.none')}</p>}
      <table class="data">
        <tbody>
          {list.map((s) => (
            <tr data-testid="silence" data-state={s.status.state}>
              <td>
                <span class={`badge state-${s.status.state}`}>{s.status.state}</span>
              </td>
              <td class="mono">{s.matchers.map(matcherText).join(', ')}</td>
              <td>
                {t('silences.ends')}: {new Date(s.endsAt).toLocaleString()} ({formatDuration((Date.parse(s.endsAt) - Date.now()) / 1000)})
              </td>
              <td>
                {s.createdBy}: {s.comment}
              </td>
              <td>
                <button class="small" data-testid="silence-edit" onClick={() => navigate(`/silences?edit=${encodeURIComponent(s.id)}`)}>
                  {s.status.state === 'expired' ? t('silences.recreate') : t('silences.edit')}
                </button>{' '}
                {s.status.state !== 'expired' && (
                  <button class="small" onClick={() => expire(s.id)}>
                    {t('silences.expire')}
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
