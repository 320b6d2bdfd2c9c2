// Incidents and runbook executions: the list, one incident's timeline,
// its executions' steps with their output, and approve / reject / cancel
// and acknowledge. Changing things needs the responder's credentials: the
// browser's basic auth (--web.config.file) or the bearer token of
// `responder.api_token_file`, entered once here and kept in this browser.
import { useEffect, useState } from 'preact/hooks';
import { api, useApi } from '../api';
import { t } from '../i18n';
import { navigate } from '../router';
import { ago } from '../time';

interface Step {
  phase: string;
  name: string;
  kind: string;
  started: number;
  finished: number;
  ok: boolean;
  summary: string;
  output?: string;
  skipped?: string;
}

interface Execution {
  id: string;
  runbook: string;
  target: string;
  state: string;
  created: number;
  finished?: number;
  steps: Step[];
  approval?: { approved: boolean; by: string; at: number };
  verification?: { expr: string; ok?: boolean } | null;
  error?: string;
}

export interface Incident {
  id: string;
  state: string;
  opened: number;
  acknowledged?: number | null;
  resolved?: number | null;
  detail: any;
  timeline?: { ts: number; kind: string; detail: string }[];
  executions?: Execution[];
}

const iso = (ms?: number | null) => (ms ? new Date(ms).toISOString() : '');

/** An incident's name: its alert group's labels. */
function title(inc: Incident): string {
  const g = inc.detail?.group_labels ?? {};
  const parts = Object.keys(g)
    .sort()
    .map((k) => `${k}="${g[k]}"`);
  return parts.length ? parts.join(', ') : inc.id;
}

export function authHeaders(): Record<string, string> {
  const token = localStorage.getItem('bongsu.responderToken');
  return token ? { Authorization: `Bearer ${token}` } : {};
}

/** Acknowledges incident `id` with the responder token or basic auth. */
export function ackIncident(id: string): Promise<unknown> {
  return api(`/api/bongsu/v1/incidents/${encodeURIComponent(id)}/ack`, { method: 'POST', headers: authHeaders() });
}

export function TokenBox() {
  const [token, setToken] = useState(localStorage.getItem('bongsu.responderToken') ?? '');
  return (
    <label class="var">
      {t('inc.token')}
      <input
        type="password"
        data-testid="responder-token"
        value={token}
        placeholder={t('inc.tokenHint')}
        onChange={(e) => {
          const v = e.currentTarget.value.trim();
          setToken(v);
          if (v) localStorage.setItem('bongsu.responderToken', v);
          else localStorage.removeItem('bongsu.responderToken');
        }}
      />
    </label>
  );
}

function ExecutionView(props: { x: Execution; onChange: () => void }) {
  const { x } = props;
  const [error, setError] = useState('');
  const act = async (action: 'approve' | 'reject' | 'cancel') => {
    setError('');
    try {
      await api(`/api/bongsu/v1/respond/executions/${encodeURIComponent(x.id)}/${action}`, { method: 'POST', headers: authHeaders() });
      props.onChange();
    } catch (e: any) {
      setError(String(e.message ?? e));
    }
  };
  const running = !x.finished;
  return (
    <div class="card execution" data-testid="execution" data-state={x.state}>
      <div class="alert-head">
        <strong>{x.runbook}</strong> <span class="mono">{x.target}</span>
        <span class={`badge state-${x.state}`}>{x.state}</span>
        <span class="muted">
          {t('alerts.since')} {ago(iso(x.created))}
        </span>
        {x.state === 'awaiting_approval' && (
          <>
            <button class="primary small" data-testid="approve" onClick={() => act('approve')}>
              {t('inc.approve')}
            </button>
            <button class="small" data-testid="reject" onClick={() => act('reject')}>
              {t('inc.reject')}
            </button>
          </>
        )}
        {running && x.state !== 'awaiting_approval' && (
          <button class="small" onClick={() => act('cancel')}>
            {t('inc.cancel')}
          </button>
        )}
      </div>
      {x.approval && (
        <div class="muted">
          {x.approval.approved ? t('inc.approvedBy') : t('inc.rejectedBy')} {x.approval.by} · {iso(x.approval.at)}
        </div>
      )}
      {x.error && <div class="error">{x.error}</div>}
      {error && (
        <div class="error" role="alert">
          {error}
        </div>
      )}
      <ol class="steps">
        {x.steps.map((s) => (
          <li data-testid="step" data-ok={String(s.ok)}>
            <span class={s.ok ? 'badge ok' : s.skipped ? 'badge' : 'badge bad'}>{s.skipped ? 'skipped' : s.ok ? 'ok' : 'failed'}</span>
            <strong>{s.phase === 'rollback' ? `↩ ${s.name}` : s.name}</strong> <span class="muted">{s.kind}</span> {s.summary}
            {s.output && <pre class="config">{s.output}</pre>}
          </li>
        ))}
      </ol>
    </div>
  );
}

function IncidentView(props: { id: string }) {
  const res = useApi<Incident>(`/api/bongsu/v1/incidents/${encodeURIComponent(props.id)}`);
  const [error, setError] = useState('');
  // The timeline follows a live incident: re-read every 5 s until it resolves.
  const live = !!res.data && !res.data.resolved;
  useEffect(() => {
    if (!live) return;
    const id = setInterval(res.reload, 5000);
    return () => clearInterval(id);
  }, [live]);
  if (res.error) return <p class="error" role="alert">{res.error}</p>;
  if (!res.data) return <p class="muted">{t('common.loading')}</p>;
  const inc = res.data;
  const ack = async () => {
    setError('');
    try {
      await ackIncident(inc.id);
      res.reload();
    } catch (e: any) {
      setError(String(e.message ?? e));
    }
  };
  return (
    <section class="page" data-testid="incident">
      <div class="toolbar">
        <button onClick={() => navigate('/incidents')}>← {t('inc.all')}</button>
        <TokenBox />
        <button onClick={res.reload}>↻</button>
      </div>
      <h2>
        {title(inc)} <span class={`badge state-${inc.state}`}>{inc.state}</span>
      </h2>
      <p class="muted">
        {t('inc.opened')} {iso(inc.opened)}
        {inc.acknowledged ? ` · ${t('inc.acked')} ${iso(inc.acknowledged)}` : ''}
        {inc.resolved ? ` · ${t('inc.resolved')} ${iso(inc.resolved)}` : ''}
      </p>
      {!inc.acknowledged && !inc.resolved && (
        <button class="primary" data-testid="ack" onClick={ack}>
          {t('inc.ack')}
        </button>
      )}
      {error && <p class="error" role="alert">{error}</p>}
      <h3>{t('inc.executions')}</h3>
      {(inc.executions ?? []).map((x) => (
        <ExecutionView x={x} onChange={res.reload} />
      ))}
      <h3>{t('inc.timeline')}</h3>
      <table class="data" data-testid="timeline">
        <tbody>
          {(inc.timeline ?? []).map((e) => (
            <tr>
              <td class="mono">{iso(e.ts)}</td>
              <td>
                <span class="label">{e.kind}</span>
              </td>
              <td>{e.detail}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

export function Incidents() {
  const id = new URLSearchParams(location.search).get('id');
  const list = useApi<Incident[]>(id ? null : '/api/bongsu/v1/incidents');
  if (id) return <IncidentView id={id} />;
  if (list.error) return <p class="error" role="alert">{list.error}</p>;
  if (!list.data) return <p class="muted">{t('common.loading')}</p>;
  return (
    <section class="page">
      <div class="toolbar">
        <TokenBox />
        <button onClick={list.reload}>↻</button>
      </div>
      {list.data.length === 0 && <p class="muted">{t('inc.none')}</p>}
      <table class="data">
        <tbody>
          {list.data.map((inc) => (
            <tr data-testid="incident-row" data-state={inc.state}>
              <td>
                <a href={`/incidents?id=${encodeURIComponent(inc.id)}`} onClick={(e) => (e.preventDefault(), navigate(`/incidents?id=${encodeURIComponent(inc.id)}`))}>
                  {title(inc)}
                </a>
              </td>
              <td>
                <span class={`badge state-${inc.state}`}>{inc.state}</span>
              </td>
              <td class="muted">
                {t('inc.opened')} {ago(iso(inc.opened))} {t('targets.ago')}
              </td>
              <td class="muted">{inc.acknowledged ? t('inc.acked') : ''}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
