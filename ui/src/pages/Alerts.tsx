// Alerts as the built-in Alertmanager groups them (route tree and
// group_by), each with a one-click "Silence" that opens the silence form
// prefilled with the alert's labels, and a one-click "Acknowledge" for a
// group the responder has an open incident for (a group routed to a
// `runbook_configs` receiver).
import { useState } from 'preact/hooks';
import { Labels, useApi } from '../api';
import { ackIncident, Incident, TokenBox } from './Incidents';
import { t } from '../i18n';
import { navigate } from '../router';
import { ago } from '../time';

export interface AmAlert {
  labels: Labels;
  annotations: Labels;
  startsAt: string;
  fingerprint: string;
  status: { state: string; silencedBy: string[]; inhibitedBy: string[] };
}

interface AlertGroup {
  labels: Labels;
  receiver: { name: string };
  alerts: AmAlert[];
}

export function silenceLink(labels: Labels): string {
  const matchers = Object.entries(labels).map(([name, value]) => ({ name, value, isRegex: false, isEqual: true }));
  return `/silences?new=${encodeURIComponent(JSON.stringify(matchers))}`;
}

export function AlertRow(props: { alert: AmAlert }) {
  const a = props.alert;
  const state = a.status.silencedBy.length ? 'silenced' : a.status.inhibitedBy.length ? 'inhibited' : 'active';
  return (
    <li class="alert" data-testid="alert" data-state={state}>
      <div class="alert-head">
        <strong>{a.labels.alertname}</strong>
        <span class={`badge state-${state}`}>{t(`alerts.${state}` as 'alerts.active')}</span>
        <span class="muted">
          {t('alerts.since')} {ago(a.startsAt)}
        </span>
        <button class="small" data-testid="silence-alert" onClick={() => navigate(silenceLink(a.labels))}>
          {t('alerts.silence')}
        </button>
      </div>
      <div>
        {Object.entries(a.labels)
          .filter(([k]) => k !== 'alertname')
          .map(([k, v]) => (
            <span class="label">
              {k}="{v}"
            </span>
          ))}
      </div>
      {a.annotations.summary && <div class="muted">{a.annotations.summary}</div>}
    </li>
  );
}

/** The key that ties an alert group to its incident: receiver and group labels. */
function groupKey(receiver: string, labels: Labels): string {
  return JSON.stringify([receiver, Object.keys(labels).sort().map((k) => [k, labels[k]])]);
}

function AckButton(props: { inc: Incident; onDone: () => void }) {
  const [error, setError] = useState('');
  const { inc } = props;
  const link = `/incidents?id=${encodeURIComponent(inc.id)}`;
  if (inc.acknowledged)
    return (
      <a class="badge" data-testid="group-acked" href={link} onClick={(e) => (e.preventDefault(), navigate(link))}>
        {t('inc.acked')}
      </a>
    );
  const ack = async () => {
    setError('');
    try {
      await ackIncident(inc.id);
      props.onDone();
    } catch (e: any) {
      setError(String(e.message ?? e));
    }
  };
  return (
    <>
      <button class="small" data-testid="ack-group" onClick={(e) => (e.preventDefault(), ack())}>
        {t('inc.ack')}
      </button>
      {error && <span class="error" role="alert"> {error}</span>}
    </>
  );
}

export function Alerts() {
  const res = useApi<AlertGroup[]>('/api/v2/alerts/groups');
  const incs = useApi<Incident[]>('/api/bongsu/v1/incidents?open=true');
  if (res.error) return <p class="error" role="alert">{res.error}</p>;
  if (!res.data) return <p class="muted">{t('common.loading')}</p>;
  const groups = res.data.filter((g) => g.alerts.length > 0);
  if (groups.length === 0) return <p class="muted" data-testid="no-alerts">{t('alerts.none')}</p>;
  const byGroup = new Map((incs.data ?? []).map((i) => [groupKey(i.detail?.receiver ?? '', i.detail?.group_labels ?? {}), i]));
  const reload = () => {
    res.reload();
    incs.reload();
  };
  return (
    <section class="page">
      <div class="toolbar">
        <button onClick={reload}>↻</button>
        {byGroup.size > 0 && <TokenBox />}
      </div>
      {groups.map((g) => {
        const inc = byGroup.get(groupKey(g.receiver.name, g.labels));
        return (
        <details open class="pool" data-testid="alert-group">
          <summary>
            {Object.keys(g.labels).length === 0 ? <em>{'{}'}</em> : Object.entries(g.labels).map(([k, v]) => <span class="label">{k}="{v}"</span>)}
            <span class="muted">
              {' '}
              {t('alerts.receiver')}: {g.receiver.name} · {g.alerts.length}
            </span>{' '}
            {inc && <AckButton inc={inc} onDone={reload} />}
          </summary>
          <ul class="alerts">
            {g.alerts.map((a) => (
              <AlertRow alert={a} />
            ))}
          </ul>
        </details>
        );
      })}
    </section>
  );
}
