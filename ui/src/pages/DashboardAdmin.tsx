// Dashboard import, export and version history (with a diff between any
// two versions and restore). The server keeps every imported version;
// built-in and provisioned dashboards are exported only (their history is
// their file's).
import { useState } from 'preact/hooks';
import { api, useApi } from '../api';
import { t } from '../i18n';
import { navigate } from '../router';

const BASE = '/api/bongsu/v1/dashboards';

/** Downloads the model as `<uid>.json`, the file Grafana imports too. */
export function exportDashboard(model: any) {
  const blob = new Blob([JSON.stringify(model, null, 2) + '\n'], { type: 'application/json' });
  const a = document.createElement('a');
  a.href = URL.createObjectURL(blob);
  a.download = `${model.uid || 'dashboard'}.json`;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 1000);
}

/** Paste or pick a Grafana dashboard (JSON or YAML) and save it. */
export function ImportForm(props: { onDone: () => void }) {
  const [text, setText] = useState('');
  const [yaml, setYaml] = useState(false);
  const [overwrite, setOverwrite] = useState(false);
  const [message, setMessage] = useState('');
  const [error, setError] = useState('');
  const submit = async (e: Event) => {
    e.preventDefault();
    setError('');
    const q = new URLSearchParams({ overwrite: String(overwrite), message });
    try {
      const r = await api<{ uid: string; version: number }>(`${BASE}?${q}`, {
        method: 'POST',
        headers: { 'Content-Type': yaml ? 'application/yaml' : 'application/json' },
        body: text,
      });
      props.onDone();
      navigate(`/d/${encodeURIComponent(r.uid)}`);
    } catch (err: any) {
      setError(String(err.message ?? err));
    }
  };
  return (
    <form class="card import" data-testid="import-form" onSubmit={submit}>
      <h3>{t('dash.import')}</h3>
      <label>
        {t('dash.importFile')}{' '}
        <input
          type="file"
          accept=".json,.yaml,.yml,application/json"
          data-testid="import-file"
          onChange={async (e) => {
            const f = e.currentTarget.files?.[0];
            if (!f) return;
            setYaml(/\.ya?ml$/i.test(f.name));
            setText(await f.text());
          }}
        />
      </label>
      <textarea
        rows={10}
        data-testid="import-text"
        aria-label={t('dash.importPaste')}
        placeholder={t('dash.importPaste')}
        value={text}
        onInput={(e) => {
          const v = e.currentTarget.value;
          setText(v);
          setYaml(!/^\s*[{[]/.test(v));
        }}
      />
      <div class="toolbar">
        <label>
          <input type="checkbox" data-testid="import-overwrite" checked={overwrite} onChange={(e) => setOverwrite(e.currentTarget.checked)} /> {t('dash.overwrite')}
        </label>
        <input placeholder={t('dash.message')} aria-label={t('dash.message')} value={message} onInput={(e) => setMessage(e.currentTarget.value)} />
        <button type="submit" data-testid="import-submit" disabled={!text.trim()}>
          {t('dash.importSave')}
        </button>
      </div>
      {error && (
        <p class="error" role="alert" data-testid="import-error">
          {error}
        </p>
      )}
    </form>
  );
}

interface Version {
  version: number;
  created: number;
  message: string;
}

/** The version list of an imported dashboard: pick two to diff, restore one. */
export function Versions(props: { uid: string; onRestored: () => void }) {
  const base = `${BASE}/${encodeURIComponent(props.uid)}`;
  const res = useApi<Version[]>(`${base}/versions`);
  const [pick, setPick] = useState<[number, number] | null>(null);
  const [diff, setDiff] = useState<string | null>(null);
  const [error, setError] = useState('');
  if (res.error) return <p class="error">{res.error}</p>;
  if (!res.data) return <p class="muted">{t('common.loading')}</p>;
  const vs = res.data;
  const [from, to] = pick ?? [vs[1]?.version ?? vs[0].version, vs[0].version];
  const show = async () => {
    setError('');
    try {
      setDiff((await api<{ diff: string }>(`${base}/diff?from=${from}&to=${to}`)).diff);
    } catch (e: any) {
      setError(String(e.message ?? e));
    }
  };
  const restore = async (v: number) => {
    try {
      await api(`${base}/restore`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ version: v }) });
      res.reload();
      props.onRestored();
    } catch (e: any) {
      setError(String(e.message ?? e));
    }
  };
  return (
    <div class="card versions" data-testid="versions">
      <table class="data">
        <thead>
          <tr>
            <th>{t('dash.version')}</th>
            <th>{t('dash.diffFrom')}</th>
            <th>{t('dash.diffTo')}</th>
            <th>{t('dash.saved')}</th>
            <th>{t('dash.message')}</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {vs.map((v, i) => (
            <tr data-testid="version">
              <td>{v.version}</td>
              <td>
                <input type="radio" name="from" aria-label={`${t('dash.diffFrom')} ${v.version}`} checked={from === v.version} onChange={() => setPick([v.version, to])} />
              </td>
              <td>
                <input type="radio" name="to" aria-label={`${t('dash.diffTo')} ${v.version}`} checked={to === v.version} onChange={() => setPick([from, v.version])} />
              </td>
              <td class="muted">{new Date(v.created).toLocaleString()}</td>
              <td>{v.message}</td>
              <td>
                {i > 0 && (
                  <button class="small" data-testid="restore" onClick={() => restore(v.version)}>
                    {t('dash.restore')}
                  </button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <div class="toolbar">
        <button data-testid="show-diff" disabled={from === to} onClick={show}>
          {t('dash.showDiff')}
        </button>
      </div>
      {error && <p class="error">{error}</p>}
      {diff !== null && (
        <pre class="diff" data-testid="diff">
          {diff.split('\n').map((l) => (
            <div class={l.startsWith('+') && !l.startsWith('+++') ? 'add' : l.startsWith('-') && !l.startsWith('---') ? 'del' : l.startsWith('@@') ? 'hunk' : ''}>{l || ' '}</div>
          ))}
        </pre>
      )}
    </div>
  );
}
