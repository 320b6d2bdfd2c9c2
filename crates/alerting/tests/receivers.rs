//! The integrations against real servers on 127.0.0.1: an HTTP server
//! (axum) that records what each integration sends — method, path, headers,
//! JSON — and answers as the service would; for email a real SMTP server
//! (`aiosmtpd` from PyPI, started by the test, see `smtp_sink.py`).
//!
//! The expected payloads are Alertmanager 0.34's (`notify/<kind>/<kind>.go`):
//! fixed fields as its structs encode them, templated fields rendered from a
//! fixed notification. Where a field uses one of Alertmanager's default
//! templates, the expectation renders that template name with the same
//! data (the templates themselves are proven against Alertmanager in
//! `bongsu-template`).

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::IntoResponse;
use bongsu_alerting::alert::Alert;
use bongsu_alerting::config::Receiver;
use bongsu_alerting::notify::{build_integrations, Integration, Notification, NotifyContext, NotifyError};
use bongsu_alerting::Config;
use bongsu_model::Labels;
use serde_json::{json, Value};

// ---------------------------------------------------------------------------
// the HTTP server

#[derive(Debug, Clone)]
struct Captured {
    method: Method,
    /// Path and query.
    uri: String,
    headers: HeaderMap,
    body: Bytes,
}

impl Captured {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("body is not JSON ({e}): {:?}", self.body))
    }
    fn header(&self, h: &str) -> &str {
        self.headers.get(h).and_then(|v| v.to_str().ok()).unwrap_or("")
    }
}

/// status, content type, body
type Answer = (u16, &'static str, String);

#[derive(Clone, Default)]
struct Shared {
    seen: Arc<Mutex<Vec<Captured>>>,
    answers: Arc<Mutex<VecDeque<Answer>>>,
    default: Arc<Mutex<Option<Answer>>>,
}

struct Server {
    url: String,
    shared: Shared,
}

impl Server {
    /// Answers `default` unless answers were queued with [`Server::answer`].
    async fn start(default: Answer) -> Server {
        let shared = Shared::default();
        *shared.default.lock().unwrap() = Some(default);
        let app = axum::Router::new().fallback(record).with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr: SocketAddr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Server { url: format!("http://{addr}"), shared }
    }
    fn answer(&self, a: Answer) {
        self.shared.answers.lock().unwrap().push_back(a);
    }
    fn take(&self) -> Vec<Captured> {
        std::mem::take(&mut *self.shared.seen.lock().unwrap())
    }
    fn one(&self) -> Captured {
        let mut all = self.take();
        assert_eq!(all.len(), 1, "expected one request, got {all:#?}");
        all.remove(0)
    }
}

async fn record(State(s): State<Shared>, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> impl IntoResponse {
    s.seen.lock().unwrap().push(Captured { method, uri: uri.to_string(), headers, body });
    let a = s.answers.lock().unwrap().pop_front();
    let (status, ctype, body) = a.or_else(|| s.default.lock().unwrap().clone()).unwrap();
    (StatusCode::from_u16(status).unwrap(), [("content-type", ctype)], body)
}

fn ok_json() -> Answer {
    (200, "application/json", r#"{"ok":true}"#.into())
}

// ---------------------------------------------------------------------------
// the notification

const START_MS: i64 = 1_767_225_600_000; // 2026-01-01T00:00:00Z
const GROUP_KEY: &str = "{}:{alertname=\"DiskFull\"}";
/// sha256 of GROUP_KEY (`printf '%s' … | sha256sum`).
const GROUP_KEY_HASH: &str = "17c4e445d234645c9e547ff6d32a864af0ebdadcd1902771c24c8d366637ff41";

fn notification(receiver: &str, resolved: bool) -> Notification {
    let now = START_MS + 120_000;
    let alert = Alert {
        labels: Labels::from_pairs([("alertname", "DiskFull"), ("instance", "db1"), ("severity", "critical")]),
        annotations: Labels::from_pairs([("summary", "Disk is full")]),
        starts_at: START_MS,
        ends_at: if resolved { START_MS + 60_000 } else { 0 },
        generator_url: "http://prom.example/graph".into(),
        updated_at: START_MS,
        timeout: false,
    };
    Notification {
        receiver: receiver.into(),
        group_key: GROUP_KEY.into(),
        group_labels: Labels::from_pairs([("alertname", "DiskFull")]),
        alerts: vec![alert],
        now,
        external_url: "http://am.example".into(),
        route_labels: Default::default(),
    }
}

fn context() -> NotifyContext {
    NotifyContext { templates: Arc::new(bongsu_template::Templates::load(&[], Path::new(".")).unwrap()) }
}

/// Renders a template as the integration would for `n` (default-template fields).
fn render(cx: &NotifyContext, n: &Notification, text: &str) -> String {
    cx.templates.execute_text(text, &n.template_data()).unwrap()
}

fn receiver(yaml_receiver: &str) -> Receiver {
    receiver_with_global("", yaml_receiver)
}

fn receiver_with_global(global: &str, yaml_receiver: &str) -> Receiver {
    let text = format!("{global}route:\n  receiver: r\nreceivers:\n  - name: r\n{yaml_receiver}");
    let cfg = Config::parse(&text, "alertmanager.yml").unwrap_or_else(|e| panic!("{e}\n{text}"));
    cfg.receivers.into_iter().find(|r| r.name.value == "r").unwrap()
}

fn one_integration(r: &Receiver) -> Arc<dyn Integration> {
    let mut v = build_integrations(r).unwrap();
    assert_eq!(v.len(), 1);
    v.remove(0)
}

async fn notify(i: &dyn Integration, n: &Notification) -> Result<(), NotifyError> {
    i.notify(n, &context()).await
}

// ---------------------------------------------------------------------------
// Slack

#[tokio::test]
async fn slack_webhook_payload() {
    let s = Server::start((200, "text/html", "ok".into())).await;
    let r = receiver(&format!(
        "    slack_configs:
      - api_url: {}/services/T0/B0/X
        channel: '#ops'
        title: '[{{{{ .Status | toUpper }}}}] {{{{ .CommonLabels.alertname }}}}'
        text: '{{{{ range .Alerts }}}}{{{{ .Annotations.summary }}}}{{{{ end }}}}'
        fields: [{{title: sev, value: '{{{{ .CommonLabels.severity }}}}'}}]
        actions: [{{type: button, text: Runbook, url: 'http://runbook/{{{{ .CommonLabels.alertname }}}}'}}]
",
        s.url
    ));
    let i = one_integration(&r);
    assert_eq!(i.name(), "slack");
    let n = notification("r", false);
    notify(&*i, &n).await.unwrap();
    let req = s.one();
    assert_eq!(req.method, Method::POST);
    assert_eq!(req.uri, "/services/T0/B0/X");
    assert_eq!(req.header("content-type"), "application/json");
    let cx = context();
    let d = |name: &str| render(&cx, &n, &format!("{{{{ template \"{name}\" . }}}}"));
    let mut att = json!({
        "title": "[FIRING] DiskFull",
        "title_link": d("slack.default.titlelink"),
        "text": "Disk is full",
        "fallback": d("slack.default.fallback"),
        "callback_id": d("slack.default.callbackid"),
        "fields": [{"title": "sev", "value": "critical", "short": false}],
        "actions": [{"type": "button", "text": "Runbook", "url": "http://runbook/DiskFull"}],
        "footer": d("slack.default.footer"),
        "color": "danger",
        "mrkdwn_in": ["fallback", "pretext", "text"],
    });
    let pretext = d("slack.default.pretext");
    if !pretext.is_empty() {
        att["pretext"] = json!(pretext);
    }
    let mut want = json!({"channel": "#ops", "username": d("slack.default.username"), "attachments": [att]});
    for (k, t) in [("icon_emoji", "slack.default.iconemoji"), ("icon_url", "slack.default.iconurl")] {
        let v = d(t);
        if !v.is_empty() {
            want[k] = json!(v);
        }
    }
    assert_eq!(req.json(), want);
    assert_eq!(want["username"], "Alertmanager");
    assert!(want["attachments"][0]["fallback"].as_str().unwrap().starts_with("[FIRING:1] DiskFull"));
}

#[tokio::test]
async fn slack_app_token_and_ok_false() {
    let s = Server::start(ok_json()).await;
    let r = receiver_with_global(
        &format!("global:\n  slack_app_token: xoxb-123\n  slack_app_url: {}/api/chat.postMessage\n", s.url),
        "    slack_configs:\n      - channel: '#ops'\n        title: t\n",
    );
    let i = one_integration(&r);
    let n = notification("r", false);
    notify(&*i, &n).await.unwrap();
    let req = s.one();
    assert_eq!(req.uri, "/api/chat.postMessage");
    assert_eq!(req.header("authorization"), "Bearer xoxb-123");
    assert_eq!(req.json()["channel"], "#ops");
    assert_eq!(req.json()["attachments"][0]["title"], "t");

    // Slack's 200 with ok:false is an error, and not one that a retry fixes.
    s.answer((200, "application/json; charset=utf-8", r#"{"ok":false,"error":"channel_not_found"}"#.into()));
    let e = notify(&*i, &n).await.unwrap_err();
    assert!(!e.retry, "{e:?}");
    assert!(e.message.contains("channel_not_found"), "{e}");
    // A long title is cut to 1024 characters, the last being `…`.
    let r = receiver_with_global(
        &format!("global:\n  slack_app_token: xoxb-123\n  slack_app_url: {}/api/chat.postMessage\n", s.url),
        "    slack_configs:\n      - title: '{{ .CommonAnnotations.summary }}'\n",
    );
    let i = one_integration(&r);
    let mut n = notification("r", false);
    n.alerts[0].annotations = Labels::from_pairs([("summary", "y".repeat(1100).as_str())]);
    s.take();
    notify(&*i, &n).await.unwrap();
    let title = s.one().json()["attachments"][0]["title"].as_str().unwrap().to_string();
    assert_eq!(title.chars().count(), 1024);
    assert!(title.ends_with("y…"));
}

// ---------------------------------------------------------------------------
// PagerDuty

#[tokio::test]
async fn pagerduty_events_v2_trigger_and_resolve() {
    let s = Server::start((202, "application/json", r#"{"status":"success"}"#.into())).await;
    let r = receiver(&format!(
        "    pagerduty_configs:
      - routing_key: rk-123
        url: {}/v2/enqueue
        description: '{{{{ .CommonLabels.alertname }}}} on {{{{ .CommonLabels.instance }}}}'
        severity: '{{{{ .CommonLabels.severity }}}}'
        details: {{team: ops}}
        links: [{{href: 'http://runbook/{{{{ .CommonLabels.alertname }}}}', text: runbook}}, {{href: '', text: dropped}}]
",
        s.url
    ));
    let i = one_integration(&r);
    assert_eq!(i.name(), "pagerduty");
    assert!(i.send_resolved());
    let cx = context();
    let n = notification("r", false);
    notify(&*i, &n).await.unwrap();
    let req = s.one();
    assert_eq!((req.method.as_str(), req.uri.as_str()), ("POST", "/v2/enqueue"));
    assert_eq!(req.header("content-type"), "application/json");
    let firing: Value = serde_json::from_str(&render(&cx, &n, "{{ .Alerts.Firing | toJson }}")).unwrap();
    assert_eq!(firing[0]["labels"]["alertname"], "DiskFull");
    let want = json!({
        "routing_key": "rk-123",
        "dedup_key": GROUP_KEY_HASH,
        "event_action": "trigger",
        "client": "Alertmanager",
        "client_url": render(&cx, &n, "{{ template \"pagerduty.default.clientURL\" . }}"),
        "links": [{"href": "http://runbook/DiskFull", "text": "runbook"}],
        "payload": {
            "summary": "DiskFull on db1",
            "source": "Alertmanager",
            "severity": "critical",
            "custom_details": {
                "team": "ops",
                "firing": firing,
                "resolved": serde_json::from_str::<Value>(&render(&cx, &n, "{{ .Alerts.Resolved | toJson }}")).unwrap(),
                "num_firing": 1,
                "num_resolved": 0,
            },
        },
    });
    assert_eq!(req.json(), want);

    let n = notification("r", true);
    notify(&*i, &n).await.unwrap();
    let got = s.one().json();
    assert_eq!(got["event_action"], "resolve");
    assert_eq!(got["dedup_key"], GROUP_KEY_HASH);
    assert_eq!(got["payload"]["custom_details"]["num_resolved"], 1);
}

// ---------------------------------------------------------------------------
// OpsGenie

#[tokio::test]
async fn opsgenie_create_and_close() {
    let s = Server::start((202, "application/json", r#"{"result":"Request will be processed"}"#.into())).await;
    let r = receiver(&format!(
        "    opsgenie_configs:
      - api_key: genie-1
        api_url: {}/
        message: '{{{{ .CommonLabels.alertname }}}}'
        description: 'desc {{{{ .CommonLabels.instance }}}}'
        source: bongsu-test
        tags: 'a,b'
        priority: P1
        responders: [{{name: 'ops,dba', type: teams}}, {{username: jo, type: user}}]
        details: {{runbook: 'http://rb'}}
",
        s.url
    ));
    let i = one_integration(&r);
    notify(&*i, &notification("r", false)).await.unwrap();
    let req = s.one();
    assert_eq!((req.method.as_str(), req.uri.as_str()), ("POST", "/v2/alerts"));
    assert_eq!(req.header("authorization"), "GenieKey genie-1");
    assert_eq!(req.header("content-type"), "application/json");
    assert_eq!(
        req.json(),
        json!({
            "alias": GROUP_KEY_HASH,
            "message": "DiskFull",
            "description": "desc db1",
            "details": {"alertname": "DiskFull", "instance": "db1", "severity": "critical", "runbook": "http://rb"},
            "source": "bongsu-test",
            "responders": [{"name": "ops", "type": "team"}, {"name": "dba", "type": "team"}, {"username": "jo", "type": "user"}],
            "tags": ["a", "b"],
            "priority": "P1",
        })
    );
    notify(&*i, &notification("r", true)).await.unwrap();
    let req = s.one();
    assert_eq!(req.method, Method::POST);
    assert_eq!(req.uri, format!("/v2/alerts/{GROUP_KEY_HASH}/close?identifierType=alias"));
    assert_eq!(req.json(), json!({"source": "bongsu-test"}));
}

// ---------------------------------------------------------------------------
// Microsoft Teams

#[tokio::test]
async fn msteams_message_card() {
    let s = Server::start((200, "text/plain", "1".into())).await;
    let r = receiver(&format!(
        "    msteams_configs:\n      - webhook_url: {}/webhookb2/x\n        title: '{{{{ .CommonLabels.alertname }}}}'\n        summary: s\n        text: t\n",
        s.url
    ));
    let i = one_integration(&r);
    notify(&*i, &notification("r", false)).await.unwrap();
    let req = s.one();
    assert_eq!((req.method.as_str(), req.uri.as_str()), ("POST", "/webhookb2/x"));
    assert_eq!(
        req.json(),
        json!({"@context": "http://schema.org/extensions", "type": "MessageCard", "title": "DiskFull", "summary": "s", "text": "t", "themeColor": "8C1A1A"})
    );
    notify(&*i, &notification("r", true)).await.unwrap();
    assert_eq!(s.one().json()["themeColor"], "2DC72D");
}

#[tokio::test]
async fn msteamsv2_adaptive_card() {
    let s = Server::start((202, "text/plain", "".into())).await;
    let r = receiver(&format!(
        "    msteamsv2_configs:\n      - webhook_url: {}/workflows/x\n        title: '{{{{ .CommonLabels.alertname }}}}'\n        text: '{{{{ .CommonAnnotations.summary }}}}'\n",
        s.url
    ));
    let i = one_integration(&r);
    notify(&*i, &notification("r", false)).await.unwrap();
    let req = s.one();
    assert_eq!(req.uri, "/workflows/x");
    assert_eq!(
        req.json(),
        json!({
            "type": "message",
            "attachments": [{
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": null,
                "content": {
                    "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                    "type": "AdaptiveCard",
                    "version": "1.2",
                    "body": [
                        {"type": "TextBlock", "text": "DiskFull", "weight": "Bolder", "size": "Medium", "wrap": true, "style": "heading", "color": "Attention"},
                        {"type": "TextBlock", "text": "Disk is full", "wrap": true},
                    ],
                    "msteams": {"width": "full"},
                },
            }],
        })
    );
    notify(&*i, &notification("r", true)).await.unwrap();
    assert_eq!(s.one().json()["attachments"][0]["content"]["body"][0]["color"], "Good");
}

// ---------------------------------------------------------------------------
// Telegram

#[tokio::test]
async fn telegram_send_message() {
    let s = Server::start((200, "application/json", r#"{"ok":true,"result":{"message_id":1,"chat":{"id":-100123}}}"#.into())).await;
    let r = receiver(&format!(
        "    telegram_configs:\n      - api_url: {}\n        bot_token: tok-1\n        chat_id: -100123\n        message_thread_id: 7\n        message: '<b>{{{{ .CommonLabels.alertname }}}}</b> {{{{ .CommonAnnotations.summary }}}} & more'\n",
        s.url
    ));
    let i = one_integration(&r);
    let mut n = notification("r", false);
    n.alerts[0].annotations = Labels::from_pairs([("summary", "a<b")]);
    notify(&*i, &n).await.unwrap();
    let req = s.one();
    assert_eq!((req.method.as_str(), req.uri.as_str()), ("POST", "/bottok-1/sendMessage"));
    assert_eq!(req.header("content-type"), "application/json");
    // parse_mode HTML: the data is HTML-escaped, the template's own text is not.
    assert_eq!(
        req.json(),
        json!({"chat_id": "-100123", "text": "<b>DiskFull</b> a&lt;b & more", "parse_mode": "HTML", "disable_web_page_preview": "true", "message_thread_id": "7"})
    );
    // Telegram's error answer: 400 is final, 429 and 5xx are retried.
    s.answer((400, "application/json", r#"{"ok":false,"error_code":400,"description":"Bad Request: chat not found"}"#.into()));
    let e = notify(&*i, &n).await.unwrap_err();
    assert!(!e.retry && e.message.contains("chat not found"), "{e:?}");
    s.answer((429, "application/json", r#"{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 5"}"#.into()));
    assert!(notify(&*i, &n).await.unwrap_err().retry);
}

#[tokio::test]
async fn telegram_truncates_plain_messages() {
    let s = Server::start((200, "application/json", r#"{"ok":true,"result":{"message_id":1,"chat":{"id":1}}}"#.into())).await;
    let r = receiver(&format!(
        "    telegram_configs:\n      - api_url: {}\n        bot_token: t\n        chat_id: 1\n        parse_mode: ''\n        message: '{{{{ .CommonAnnotations.summary }}}}'\n",
        s.url
    ));
    let i = one_integration(&r);
    let mut n = notification("r", false);
    n.alerts[0].annotations = Labels::from_pairs([("summary", "z".repeat(5000).as_str())]);
    notify(&*i, &n).await.unwrap();
    let body = s.one().json();
    let text = body["text"].as_str().unwrap();
    assert_eq!(text.chars().count(), 4096);
    assert!(text.ends_with('…'));
    assert!(body.get("parse_mode").is_none());
}

// ---------------------------------------------------------------------------
// Discord

#[tokio::test]
async fn discord_embed() {
    let s = Server::start((204, "text/plain", "".into())).await;
    let r = receiver(&format!(
        "    discord_configs:\n      - webhook_url: {}/api/webhooks/1/x\n        title: '{{{{ .CommonLabels.alertname }}}}'\n        message: '{{{{ .CommonAnnotations.summary }}}}'\n        username: bongsu\n",
        s.url
    ));
    let i = one_integration(&r);
    notify(&*i, &notification("r", false)).await.unwrap();
    let req = s.one();
    assert_eq!((req.method.as_str(), req.uri.as_str()), ("POST", "/api/webhooks/1/x"));
    assert_eq!(
        req.json(),
        json!({"content": "", "username": "bongsu", "embeds": [{"title": "DiskFull", "description": "Disk is full", "color": 0x992D22}]})
    );
    notify(&*i, &notification("r", true)).await.unwrap();
    assert_eq!(s.one().json()["embeds"][0]["color"], 0x2ECC71);
}

// ---------------------------------------------------------------------------
// Webex

#[tokio::test]
async fn webex_message() {
    let s = Server::start((200, "application/json", "{}".into())).await;
    let r = receiver(&format!(
        "    webex_configs:\n      - api_url: {}/v1/messages\n        room_id: room-1\n        message: '**{{{{ .CommonLabels.alertname }}}}**'\n        http_config:\n          authorization:\n            credentials: wx-1\n",
        s.url
    ));
    let i = one_integration(&r);
    notify(&*i, &notification("r", false)).await.unwrap();
    let req = s.one();
    assert_eq!((req.method.as_str(), req.uri.as_str()), ("POST", "/v1/messages"));
    assert_eq!(req.header("authorization"), "Bearer wx-1");
    assert_eq!(req.json(), json!({"markdown": "**DiskFull**", "roomId": "room-1"}));
}

// ---------------------------------------------------------------------------
// Pushover

#[tokio::test]
async fn pushover_query_parameters() {
    let s = Server::start((200, "application/json", r#"{"status":1}"#.into())).await;
    let r = receiver(
        "    pushover_configs:\n      - user_key: u-1\n        token: t-1\n        title: '{{ .CommonLabels.alertname }}'\n        message: '{{ .CommonAnnotations.summary }}'\n        url: http://x/y\n        ttl: 1h\n",
    );
    let p = bongsu_alerting::notify::pushover::Pushover::new(&r.pushover_configs[0])
        .unwrap()
        .with_api_url(&format!("{}/1/messages.json", s.url));
    notify(&p, &notification("r", false)).await.unwrap();
    let req = s.one();
    assert_eq!(req.method, Method::POST);
    assert_eq!(req.header("content-type"), "text/plain");
    let (path, query) = req.uri.split_once('?').unwrap();
    assert_eq!(path, "/1/messages.json");
    let got: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes()).into_owned().collect();
    let want: Vec<(String, String)> = [
        ("device", ""),
        ("expire", "3600"),
        ("message", "Disk is full"),
        ("priority", "2"),
        ("retry", "60"),
        ("sound", ""),
        ("title", "DiskFull"),
        ("token", "t-1"),
        ("ttl", "3600"),
        ("url", "http://x/y"),
        ("url_title", ""),
        ("user", "u-1"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    assert_eq!(got, want);
}

// ---------------------------------------------------------------------------
// retry semantics

#[tokio::test]
async fn server_errors_are_retried_client_errors_are_not() {
    let s = Server::start((200, "text/plain", "".into())).await;
    let r = receiver(&format!("    discord_configs:\n      - webhook_url: {}/d\n", s.url));
    let i = one_integration(&r);
    let n = notification("r", false);
    s.answer((500, "text/plain", "boom".into()));
    let e = notify(&*i, &n).await.unwrap_err();
    assert!(e.retry, "500 must be retried: {e:?}");
    assert!(e.message.contains("500") && e.message.contains("boom"), "{e}");
    s.answer((429, "text/plain", "slow down".into()));
    assert!(notify(&*i, &n).await.unwrap_err().retry, "429 must be retried");
    s.answer((400, "text/plain", "bad".into()));
    let e = notify(&*i, &n).await.unwrap_err();
    assert!(!e.retry, "400 must not be retried: {e:?}");
    notify(&*i, &n).await.unwrap();
    assert_eq!(s.take().len(), 4);

    // A server that is not there: retried.
    let r = receiver("    msteams_configs:\n      - webhook_url: http://127.0.0.1:9/x\n");
    assert!(notify(&*one_integration(&r), &n).await.unwrap_err().retry);
}

#[test]
fn sns_with_profile_or_role_is_refused_at_load() {
    // Bongsu signs with static or environment credentials only.
    for extra in ["profile: p", "role_arn: arn:aws:iam::1:role/x"] {
        let r = receiver(&format!("    sns_configs:\n      - topic_arn: arn:aws:sns:us-east-1:1:t\n        sigv4: {{region: us-east-1, {extra}}}\n"));
        let Err(e) = build_integrations(&r) else { panic!("{extra} must be refused") };
        assert!(e.contains("not supported yet"), "{e}");
    }
}

// ---------------------------------------------------------------------------
// email, against aiosmtpd

/// Whether `aiosmtpd` can be imported; when not, the email tests say so
/// loudly and pass, except under `CI=true`, where they fail.
fn aiosmtpd_available() -> bool {
    let ok = std::process::Command::new("python3")
        .args(["-c", "import aiosmtpd"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !ok {
        eprintln!(
            "\n!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n\
             !! aiosmtpd NOT FOUND: the email integration was NOT tested\n\
             !! install it with `pip install aiosmtpd` (scripts/test.sh does)\n\
             !!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n"
        );
        if std::env::var("CI").map(|v| v == "true").unwrap_or(false) {
            panic!("aiosmtpd missing in CI");
        }
    }
    ok
}

/// An aiosmtpd server (tests/smtp_sink.py) writing what it receives to a file.
struct SmtpSink {
    child: std::process::Child,
    port: u16,
    out: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl SmtpSink {
    fn start(extra: &[&str]) -> SmtpSink {
        use std::io::BufRead;
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("mail.jsonl");
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/smtp_sink.py");
        let mut child = std::process::Command::new("python3")
            .arg(script)
            .arg(port.to_string())
            .arg(&out)
            .args(extra)
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("python3");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        assert_eq!(line.trim(), "READY", "smtp_sink.py did not start");
        SmtpSink { child, port, out, _dir: dir }
    }
    fn messages(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.out)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn email_plain_smtp_message_as_alertmanager_writes_it() {
    if !aiosmtpd_available() {
        return;
    }
    let sink = SmtpSink::start(&[]);
    let r = receiver(&format!(
        "    email_configs:
      - to: 'oncall@example.org, Ops Team <ops@example.org>'
        from: 'Bongsu <alerts@example.org>'
        smarthost: 127.0.0.1:{}
        hello: bongsu.test
        require_tls: false
        text: 'Summary: {{{{ .CommonAnnotations.summary }}}} = {{{{ .Status }}}}'
        headers:
          x-team: '{{{{ .CommonLabels.severity }}}}-team'
",
        sink.port
    ));
    let i = one_integration(&r);
    assert_eq!(i.name(), "email");
    let n = notification("r", false);
    notify(&*i, &n).await.unwrap();
    let msgs = sink.messages();
    assert_eq!(msgs.len(), 1);
    let m = &msgs[0];
    assert_eq!(m["mail_from"], "alerts@example.org");
    assert_eq!(m["rcpt_tos"], json!(["oncall@example.org", "ops@example.org"]));
    assert_eq!(m["helo"], "bongsu.test");
    assert_eq!(m["encrypted"], false);
    assert_eq!(m["login"], Value::Null);
    let cx = context();
    let h = &m["headers"];
    assert_eq!(h["Subject"], render(&cx, &n, "{{ template \"email.default.subject\" . }}"));
    assert_eq!(h["Subject"], "[FIRING:1] DiskFull (db1 critical)");
    assert_eq!(h["To"], "oncall@example.org, Ops Team <ops@example.org>");
    assert_eq!(h["From"], "Bongsu <alerts@example.org>");
    assert_eq!(h["X-Team"], "critical-team");
    assert_eq!(h["MIME-Version"], "1.0");
    assert!(h["Message-Id"].as_str().unwrap().starts_with('<'), "{h}");
    assert!(h["Date"].as_str().unwrap().contains(", "), "{h}");
    assert_eq!(m["content_type"], "multipart/alternative");
    let parts = m["parts"].as_array().unwrap();
    assert_eq!(parts.len(), 2, "{m}");
    assert_eq!(parts[0]["content_type"], "text/plain");
    assert_eq!(parts[0]["charset"], "utf-8");
    assert_eq!(parts[0]["transfer_encoding"], "quoted-printable");
    assert_eq!(parts[0]["body"], "Summary: Disk is full = firing");
    assert_eq!(parts[1]["content_type"], "text/html");
    // Quoted-printable in text mode carries line ends as CRLF (as Go's writer does).
    let html = cx.templates.execute_html("{{ template \"email.default.html\" . }}", &n.template_data()).unwrap();
    assert_eq!(parts[1]["body"].as_str().unwrap().replace("\r\n", "\n"), html);
    assert!(parts[1]["body"].as_str().unwrap().contains("DiskFull"));
}

#[tokio::test]
async fn email_starttls_and_auth() {
    if !aiosmtpd_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let sh = |args: &[&str]| {
        let o = std::process::Command::new("openssl").args(args).current_dir(d).output().expect("openssl");
        assert!(o.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&o.stderr));
    };
    sh(&["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=bongsu test CA"]);
    sh(&["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "leaf.key", "-out", "leaf.csr", "-subj", "/CN=localhost"]);
    std::fs::write(d.join("ext"), "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n").unwrap();
    sh(&["x509", "-req", "-in", "leaf.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", "leaf.pem", "-days", "2", "-extfile", "ext"]);
    std::fs::write(d.join("password"), "s3cret\n").unwrap();
    let (cert, key) = (d.join("leaf.pem"), d.join("leaf.key"));
    let (cert, key) = (cert.to_str().unwrap(), key.to_str().unwrap());

    for exclude in ["LOGIN", "PLAIN"] {
        // PLAIN, then LOGIN (the server offers only the other one).
        let sink = SmtpSink::start(&["--auth", "alice:s3cret", "--tls", cert, key, "--exclude", exclude]);
        let r = receiver(&format!(
            "    email_configs:
      - to: oncall@example.org
        from: alerts@example.org
        smarthost: 127.0.0.1:{}
        auth_username: alice
        auth_password_file: {}
        tls_config:
          ca_file: {}
",
            sink.port,
            d.join("password").display(),
            d.join("ca.pem").display()
        ));
        let i = one_integration(&r);
        notify(&*i, &notification("r", false)).await.unwrap_or_else(|e| panic!("without {exclude}: {e:?}"));
        let msgs = sink.messages();
        assert_eq!(msgs.len(), 1);
        assert_eq!(msgs[0]["encrypted"], true, "STARTTLS must have been used");
        assert_eq!(msgs[0]["login"], "alice");
        assert_eq!(msgs[0]["rcpt_tos"], json!(["oncall@example.org"]));
    }

    // A wrong password: the server refuses (535), a final error.
    let sink = SmtpSink::start(&["--auth", "alice:other", "--tls", cert, key]);
    let r = receiver(&format!(
        "    email_configs:\n      - to: o@example.org\n        from: a@example.org\n        smarthost: 127.0.0.1:{}\n        auth_username: alice\n        auth_password: s3cret\n        tls_config:\n          ca_file: {}\n",
        sink.port,
        d.join("ca.pem").display()
    ));
    let e = notify(&*one_integration(&r), &notification("r", false)).await.unwrap_err();
    assert!(!e.retry && e.message.contains("auth"), "{e:?}");
    assert!(sink.messages().is_empty());

    // An untrusted certificate: no delivery.
    let sink = SmtpSink::start(&["--tls", cert, key]);
    let r = receiver(&format!(
        "    email_configs:\n      - to: o@example.org\n        from: a@example.org\n        smarthost: 127.0.0.1:{}\n",
        sink.port
    ));
    assert!(notify(&*one_integration(&r), &notification("r", false)).await.is_err());
    assert!(sink.messages().is_empty());
}

#[tokio::test]
async fn email_require_tls_without_starttls_is_an_error() {
    if !aiosmtpd_available() {
        return;
    }
    let sink = SmtpSink::start(&[]);
    let r = receiver(&format!(
        "    email_configs:\n      - to: o@example.org\n        from: a@example.org\n        smarthost: 127.0.0.1:{}\n        headers: {{Subject: 'Füllstand {{{{ .CommonLabels.alertname }}}}'}}\n",
        sink.port
    ));
    let i = one_integration(&r);
    let e = notify(&*i, &notification("r", false)).await.unwrap_err();
    assert!(e.retry && e.message.contains("STARTTLS"), "{e:?}");
    assert!(sink.messages().is_empty());

    // The same without require_tls delivers, the UTF-8 subject Q-encoded.
    let r = receiver(&format!(
        "    email_configs:\n      - to: o@example.org\n        from: a@example.org\n        smarthost: 127.0.0.1:{}\n        require_tls: false\n        headers: {{Subject: 'Füllstand {{{{ .CommonLabels.alertname }}}}'}}\n",
        sink.port
    ));
    notify(&*one_integration(&r), &notification("r", false)).await.unwrap();
    let m = &sink.messages()[0];
    assert_eq!(m["headers"]["Subject"], "Füllstand DiskFull");
    assert!(m["raw"].as_str().unwrap().contains("Subject: =?utf-8?q?F=C3=BCllstand_DiskFull?="), "{}", m["raw"]);
}

// ---------------------------------------------------------------------------
// Jira

#[tokio::test]
async fn jira_create_then_update_and_resolve() {
    let s = Server::start((200, "application/json", "{}".into())).await;
    let r = receiver(&format!(
        "    jira_configs:
      - api_url: {}/rest/api/2
        project: OPS
        issue_type: Bug
        summary: '{{{{ .CommonLabels.alertname }}}} on {{{{ .CommonLabels.instance }}}}'
        description: '{{{{ .CommonAnnotations.summary }}}}'
        priority: '{{{{ if eq .CommonLabels.severity \"critical\" }}}}High{{{{ end }}}}'
        labels: ['{{{{ .CommonLabels.severity }}}}', alertmanager]
        resolve_transition: Done
        reopen_transition: Reopen
        fields:
          customfield_10001: '{{{{ .CommonLabels.instance }}}}'
          components: [{{name: storage}}]
",
        s.url
    ));
    let i = one_integration(&r);
    assert_eq!(i.name(), "jira");
    let label = format!("ALERT{{{GROUP_KEY_HASH}}}");

    // No issue yet: search, then create.
    s.answer((200, "application/json", r#"{"issues":[]}"#.into()));
    s.answer((201, "application/json", r#"{"id":"10000","key":"OPS-1"}"#.into()));
    notify(&*i, &notification("r", false)).await.unwrap();
    let reqs = s.take();
    assert_eq!(reqs.len(), 2, "{reqs:#?}");
    assert_eq!((reqs[0].method.as_str(), reqs[0].uri.as_str()), ("POST", "/rest/api/2/search"));
    assert_eq!(reqs[0].header("content-type"), "application/json");
    assert_eq!(reqs[0].header("accept-language"), "en");
    assert_eq!(
        reqs[0].json(),
        json!({
            "fields": ["status"],
            "jql": format!("statusCategory != Done and project=\"OPS\" and labels=\"{label}\" order by status ASC,resolutiondate DESC"),
            "maxResults": 2,
        })
    );
    assert_eq!((reqs[1].method.as_str(), reqs[1].uri.as_str()), ("POST", "/rest/api/2/issue"));
    let mut labels = vec!["critical".to_string(), "alertmanager".into(), label.clone()];
    labels.sort();
    let fields = json!({
        "summary": "DiskFull on db1",
        "description": "Disk is full",
        "issuetype": {"name": "Bug"},
        "labels": labels,
        "priority": {"name": "High"},
        "project": {"key": "OPS"},
        "customfield_10001": "db1",
        "components": [{"name": "storage"}],
    });
    assert_eq!(reqs[1].json(), json!({ "fields": fields }));

    // Resolved, the open issue found: update it, then move it through `Done`.
    s.answer((200, "application/json", r#"{"issues":[{"key":"OPS-1","fields":{"status":{"name":"Open","statusCategory":{"key":"new"}}}}]}"#.into()));
    s.answer((204, "application/json", "".into()));
    s.answer((200, "application/json", r#"{"transitions":[{"id":"21","name":"Reopen"},{"id":"31","name":"Done"}]}"#.into()));
    s.answer((204, "application/json", "".into()));
    notify(&*i, &notification("r", true)).await.unwrap();
    let reqs = s.take();
    let calls: Vec<(String, String)> = reqs.iter().map(|r| (r.method.to_string(), r.uri.clone())).collect();
    assert_eq!(
        calls,
        [
            ("POST".to_string(), "/rest/api/2/search".to_string()),
            ("PUT".into(), "/rest/api/2/issue/OPS-1".into()),
            ("GET".into(), "/rest/api/2/issue/OPS-1/transitions".into()),
            ("POST".into(), "/rest/api/2/issue/OPS-1/transitions".into()),
        ]
    );
    assert_eq!(reqs[1].json()["fields"]["summary"], "DiskFull on db1");
    assert_eq!(reqs[3].json(), json!({"transition": {"id": "31"}}));

    // Resolved with no open issue: only the search.
    s.answer((200, "application/json", r#"{"issues":[]}"#.into()));
    notify(&*i, &notification("r", true)).await.unwrap();
    assert_eq!(s.take().len(), 1);

    // A 400 from Jira is final, a 503 is retried.
    s.answer((400, "application/json", r#"{"errorMessages":["bad jql"]}"#.into()));
    assert!(!notify(&*i, &notification("r", false)).await.unwrap_err().retry);
    s.answer((503, "text/plain", "down".into()));
    assert!(notify(&*i, &notification("r", false)).await.unwrap_err().retry);
}

#[tokio::test]
async fn jira_cloud_search_path_and_adf_description() {
    let s = Server::start((200, "application/json", r#"{"issues":[]}"#.into())).await;
    let r = receiver(&format!(
        "    jira_configs:\n      - api_url: {}/rest/api/3\n        api_type: cloud\n        project: OPS\n        issue_type: Task\n        description: '{{\"type\":\"doc\",\"version\":1,\"content\":[]}}'\n",
        s.url
    ));
    let i = one_integration(&r);
    notify(&*i, &notification("r", false)).await.unwrap();
    let reqs = s.take();
    assert_eq!(reqs[0].uri, "/rest/api/3/search/jql");
    assert_eq!(reqs[1].uri, "/rest/api/3/issue");
    assert_eq!(reqs[1].json()["fields"]["description"], json!({"type": "doc", "version": 1, "content": []}));
}

// ---------------------------------------------------------------------------
// goldens from a real Alertmanager

/// `tests/golden/am-0.25/`: what Debian's Alertmanager 0.25 sent for the
/// same receivers (alertmanager.yml there) and the same alert, firing and
/// resolved, captured by `generate.py`. Bongsu must send the same method,
/// path, content type, authorization and JSON body.
#[tokio::test]
async fn payloads_match_real_alertmanager_goldens() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/am-0.25");
    let s = Server::start((200, "application/json", "{}".into())).await;
    s.shared.answers.lock().unwrap().clear();
    let yml = std::fs::read_to_string(dir.join("alertmanager.yml")).unwrap().replace("BASE", &s.url);
    let cfg = Config::parse(&yml, "alertmanager.yml").unwrap();
    let integrations = build_integrations(&cfg.receivers[0]).unwrap();
    let mut checked = 0;
    for (state, resolved) in [("firing", false), ("resolved", true)] {
        let n = notification("r", resolved);
        for i in &integrations {
            // Answers as each service gives them.
            match i.name() {
                "telegram" => s.answer((200, "application/json", r#"{"ok":true,"result":{"message_id":1,"chat":{"id":-100123}}}"#.into())),
                "slack" => s.answer((200, "text/plain", "ok".into())),
                "wechat" => {
                    if !resolved {
                        s.answer((200, "application/json", r#"{"access_token":"wx-token"}"#.into()));
                    }
                    s.answer((200, "application/json", r#"{"errcode":0,"errmsg":"ok"}"#.into()));
                }
                _ => s.answer((200, "application/json", "{}".into())),
            }
            notify(&**i, &n).await.unwrap_or_else(|e| panic!("{}: {e}", i.name()));
            for got in s.take() {
                let mut kind = got.uri.trim_start_matches('/').split('/').next().unwrap().to_string();
                if kind == "wechat" {
                    kind = if got.uri.contains("/gettoken") { "wechat-gettoken".into() } else { "wechat-send".into() };
                }
                let golden_path = dir.join(format!("{kind}-{state}.json"));
                let golden: Value = serde_json::from_str(&std::fs::read_to_string(&golden_path).unwrap()).unwrap();
                let ctx = format!("{} ({state})", i.name());
                assert_eq!(got.method.as_str(), golden["method"], "{ctx}");
                assert_eq!(got.uri, golden["path"], "{ctx}");
                for h in ["content-type", "authorization"] {
                    assert_eq!(got.header(h), golden["headers"][h].as_str().unwrap_or(""), "{ctx}: {h}");
                }
                if golden["body"].is_null() {
                    assert!(got.body.is_empty(), "{ctx}: body");
                } else {
                    assert_eq!(got.json(), golden["body"], "{ctx}: body");
                }
                checked += 1;
            }
        }
    }
    // 8 integrations firing (WeChat fetching its token first) and resolved.
    assert_eq!(checked, 9 + 8);
}

/// The email Alertmanager 0.25 sent for `golden/am-0.25/email.yml`, as
/// aiosmtpd received it, against Bongsu's for the same configuration:
/// envelope, HELO, every header (Date, Message-Id and the boundary vary by
/// nature: their form is compared), and each MIME part decoded.
#[tokio::test]
async fn email_matches_real_alertmanager_golden() {
    if !aiosmtpd_available() {
        return;
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/am-0.25");
    let golden: Value = serde_json::from_str(&std::fs::read_to_string(dir.join("email-firing.json")).unwrap()).unwrap();
    let sink = SmtpSink::start(&[]);
    let yml = std::fs::read_to_string(dir.join("email.yml")).unwrap().replace("SMTP_PORT", &sink.port.to_string());
    let cfg = Config::parse(&yml, "email.yml").unwrap();
    let i = one_integration(&cfg.receivers[0]);
    notify(&*i, &notification("r", false)).await.unwrap();
    let mut got = sink.messages().remove(0);
    // The one difference between the versions' email.tmpl: 0.34 links
    // https://schema.org, 0.25 linked http://schema.org.
    let mut golden = golden;
    let html = golden["parts"][1]["body"].as_str().unwrap().replace("\"http://schema.org/EmailMessage\"", "\"https://schema.org/EmailMessage\"");
    golden["parts"][1]["body"] = json!(html);
    for k in ["mail_from", "rcpt_tos", "helo", "login", "encrypted", "content_type", "parts"] {
        assert_eq!(got[k], golden[k], "{k}");
    }
    let (gh, wh) = (got["headers"].as_object_mut().unwrap(), golden["headers"].as_object().unwrap());
    let mut names: Vec<&String> = gh.keys().collect();
    names.sort();
    let mut want_names: Vec<&String> = wh.keys().collect();
    want_names.sort();
    assert_eq!(names, want_names);
    // Digit runs as `9`, letters of a date as `a`: the form, not the value.
    let digits = |v: &str| -> String {
        let mut out = String::new();
        for c in v.chars() {
            if !(c.is_ascii_digit() && out.ends_with('9')) {
                out.push(if c.is_ascii_digit() { '9' } else { c });
            }
        }
        out
    };
    let form = |h: &str, v: &Value| -> String {
        let v = v.as_str().unwrap();
        match h {
            "Date" => digits(v).chars().map(|c| if c.is_ascii_alphabetic() { 'a' } else { c }).collect(),
            "Message-Id" => digits(v),
            "Content-Type" => {
                let b = v.find("boundary=").unwrap() + 9;
                format!("{}<{} hex digits>", &v[..b], v.len() - b)
            }
            _ => v.to_string(),
        }
    };
    for (h, v) in wh {
        assert_eq!(form(h, &gh[h]), form(h, v), "header {h}");
    }
}

#[tokio::test]
async fn pagerduty_v1_service_key() {
    let s = Server::start((200, "application/json", r#"{"status":"success"}"#.into())).await;
    let r = receiver("    pagerduty_configs:\n      - service_key: sk-1\n        description: '{{ .CommonLabels.alertname }}'\n        details: {team: ops, firing: f, resolved: r, num_firing: nf, num_resolved: nr}\n");
    let p = bongsu_alerting::notify::pagerduty::PagerDuty::new(&r.pagerduty_configs[0])
        .unwrap()
        .with_v1_url(&format!("{}/generic/2010-04-15/create_event.json", s.url));
    let cx = context();
    let n = notification("r", false);
    notify(&p, &n).await.unwrap();
    let req = s.one();
    assert_eq!(req.uri, "/generic/2010-04-15/create_event.json");
    assert_eq!(
        req.json(),
        json!({
            "service_key": "sk-1",
            "incident_key": GROUP_KEY_HASH,
            "event_type": "trigger",
            "description": "DiskFull",
            "event_action": "",
            "payload": null,
            "client": "Alertmanager",
            "client_url": render(&cx, &n, "{{ template \"pagerduty.default.clientURL\" . }}"),
            "details": {"team": "ops", "firing": "f", "resolved": "r", "num_firing": "nf", "num_resolved": "nr"},
        })
    );
    notify(&p, &notification("r", true)).await.unwrap();
    let got = s.one().json();
    assert_eq!(got["event_type"], "resolve");
    assert!(got.get("client").is_none());
    // v1 retries 403 (its rate limit).
    s.answer((403, "text/plain", "throttled".into()));
    assert!(notify(&p, &n).await.unwrap_err().retry);
}

#[tokio::test]
async fn slack_api_url_file_and_secrets_read_at_send_time() {
    let s = Server::start((200, "text/plain", "ok".into())).await;
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("url");
    std::fs::write(&f, format!("{}/from-file\n", s.url)).unwrap();
    let r = receiver(&format!("    slack_configs:\n      - api_url_file: {}\n", f.display()));
    let i = one_integration(&r);
    notify(&*i, &notification("r", false)).await.unwrap();
    assert_eq!(s.one().uri, "/from-file");
    std::fs::remove_file(&f).unwrap();
    let e = notify(&*i, &notification("r", false)).await.unwrap_err();
    assert!(!e.retry && e.message.contains("api_url_file"), "{e:?}");
}

// ---------------------------------------------------------------------------
// Mattermost, incident.io

#[tokio::test]
async fn mattermost_message() {
    let s = Server::start((200, "text/plain", "ok".into())).await;
    let r = receiver(&format!(
        "    mattermost_configs:\n      - webhook_url: {}/hooks/x\n        channel: ops\n        title: '{{{{ .CommonLabels.alertname }}}}'\n        text: '{{{{ .CommonAnnotations.summary }}}}'\n        fields: [{{title: sev, value: '{{{{ .CommonLabels.severity }}}}', short: true}}]\n        priority: {{priority: URGENT, requested_ack: true, persistent_notifications: true}}\n",
        s.url
    ));
    let i = one_integration(&r);
    assert_eq!(i.name(), "mattermost");
    let n = notification("r", false);
    notify(&*i, &n).await.unwrap();
    let req = s.one();
    assert_eq!((req.method.as_str(), req.uri.as_str()), ("POST", "/hooks/x"));
    let cx = context();
    let d = |name: &str| render(&cx, &n, &format!("{{{{ template \"{name}\" . }}}}"));
    let mut att = json!({"text": "Disk is full", "title": "DiskFull", "fields": [{"title": "sev", "value": "critical", "short": true}]});
    for (k, t) in [("fallback", "mattermost.default.fallback"), ("color", "mattermost.default.color"), ("title_link", "mattermost.default.titlelink")] {
        let v = d(t);
        if !v.is_empty() {
            att[k] = json!(v);
        }
    }
    let mut want = json!({"channel": "ops", "attachments": [att], "priority": {"priority": "urgent", "requested_ack": true, "persistent_notifications": true}});
    let user = d("mattermost.default.username");
    if !user.is_empty() {
        want["username"] = json!(user);
    }
    assert_eq!(req.json(), want);
}

#[tokio::test]
async fn incidentio_message() {
    let s = Server::start((202, "application/json", r#"{"status":"ok"}"#.into())).await;
    let r = receiver(&format!(
        "    incidentio_configs:\n      - url: {}/v2/alert_events/http/src-1\n        alert_source_token: inc-1\n",
        s.url
    ));
    let i = one_integration(&r);
    let n = notification("r", false);
    notify(&*i, &n).await.unwrap();
    let req = s.one();
    assert_eq!((req.method.as_str(), req.uri.as_str()), ("POST", "/v2/alert_events/http/src-1"));
    assert_eq!(req.header("authorization"), "Bearer inc-1");
    let got = req.json();
    let mut want = bongsu_alerting::notify::webhook::message(&n, 0);
    want["version"] = json!("1");
    want["notification_reason"] = json!("");
    want["routeLabels"] = json!({});
    assert_eq!(got, want);
    assert_eq!(got["groupKey"], GROUP_KEY);
    assert_eq!(got["alerts"][0]["labels"]["alertname"], "DiskFull");
    // incident.io's error body is reported; 4xx final.
    s.answer((422, "application/json", r#"{"message":"invalid","errors":["title missing"]}"#.into()));
    let e = notify(&*i, &n).await.unwrap_err();
    assert!(!e.retry && e.message.contains("invalid: title missing"), "{e:?}");
}

#[tokio::test]
async fn rocketchat_message() {
    let s = Server::start((200, "application/json", r#"{"success":true}"#.into())).await;
    let r = receiver(&format!(
        "    rocketchat_configs:\n      - api_url: {}/\n        token_id: uid-1\n        token: tok-1\n        channel: '#ops'\n        title: '{{{{ .CommonLabels.alertname }}}}'\n        text: '{{{{ .CommonAnnotations.summary }}}}'\n        fields: [{{title: sev, value: '{{{{ .CommonLabels.severity }}}}'}}]\n        actions: [{{text: Runbook, url: 'http://rb'}}]\n",
        s.url
    ));
    let i = one_integration(&r);
    let n = notification("r", false);
    notify(&*i, &n).await.unwrap();
    let req = s.one();
    assert_eq!((req.method.as_str(), req.uri.as_str()), ("POST", "/api/v1/chat.postMessage"));
    assert_eq!(req.header("x-auth-token"), "tok-1");
    assert_eq!(req.header("x-user-id"), "uid-1");
    let cx = context();
    let d = |name: &str| render(&cx, &n, &format!("{{{{ template \"{name}\" . }}}}"));
    let mut att = json!({
        "title": "DiskFull",
        "text": "Disk is full",
        "color": "red",
        "fields": [{"short": false, "title": "sev", "value": "critical"}],
        "actions": [{"type": "button", "text": "Runbook", "url": "http://rb", "is_webview": false, "msg_in_chat_window": false}],
    });
    let link = d("rocketchat.default.titlelink");
    if !link.is_empty() {
        att["title_link"] = json!(link);
    }
    let mut want = json!({"channel": "#ops", "attachments": [att]});
    for (k, t) in [("emoji", "rocketchat.default.emoji"), ("avatar", "rocketchat.default.iconurl")] {
        let v = d(t);
        if !v.is_empty() {
            want[k] = json!(v);
        }
    }
    assert_eq!(req.json(), want);
    s.answer((200, "application/json", r#"{"success":false,"error":"error-not-allowed"}"#.into()));
    let e = notify(&*i, &n).await.unwrap_err();
    assert!(!e.retry && e.message.contains("error-not-allowed"), "{e:?}");
}

#[tokio::test]
async fn email_threading_headers() {
    if !aiosmtpd_available() {
        return;
    }
    let sink = SmtpSink::start(&[]);
    let r = receiver(&format!(
        "    email_configs:\n      - to: o@example.org\n        from: a@example.org\n        smarthost: 127.0.0.1:{}\n        require_tls: false\n        threading: {{enabled: true, thread_by_date: daily}}\n",
        sink.port
    ));
    notify(&*one_integration(&r), &notification("r", false)).await.unwrap();
    let m = &sink.messages()[0];
    let refs = m["headers"]["References"].as_str().unwrap();
    let today = jiff::Zoned::now().strftime("%Y-%m-%d").to_string();
    assert_eq!(refs, format!("<alert-{}-{today}@alertmanager>", &GROUP_KEY_HASH[..16]));
    assert_eq!(m["headers"]["In-Reply-To"], refs);
}

#[tokio::test]
async fn wechat_token_is_cached_and_dropped_on_42001() {
    let s = Server::start((200, "application/json", r#"{"errcode":0,"errmsg":"ok"}"#.into())).await;
    let r = receiver(&format!(
        "    wechat_configs:\n      - api_url: {}/cgi-bin/\n        api_secret: sec\n        corp_id: corp\n        message: hi\n",
        s.url
    ));
    let i = one_integration(&r);
    let n = notification("r", false);
    s.answer((200, "application/json", r#"{"access_token":"t1"}"#.into()));
    notify(&*i, &n).await.unwrap();
    notify(&*i, &n).await.unwrap();
    let uris: Vec<String> = s.take().into_iter().map(|r| r.uri).collect();
    assert_eq!(uris, ["/cgi-bin/gettoken?corpid=corp&corpsecret=sec", "/cgi-bin/message/send?access_token=t1", "/cgi-bin/message/send?access_token=t1"]);
    // An expired token: retried, and fetched again next time.
    s.answer((200, "application/json", r#"{"errcode":42001,"errmsg":"access_token expired"}"#.into()));
    assert!(notify(&*i, &n).await.unwrap_err().retry);
    s.answer((200, "application/json", r#"{"access_token":"t2"}"#.into()));
    notify(&*i, &n).await.unwrap();
    let uris: Vec<String> = s.take().into_iter().map(|r| r.uri).collect();
    assert_eq!(uris[1..], ["/cgi-bin/gettoken?corpid=corp&corpsecret=sec".to_string(), "/cgi-bin/message/send?access_token=t2".into()]);
    // Any other errcode is final.
    s.answer((200, "application/json", r#"{"errcode":40003,"errmsg":"invalid userid"}"#.into()));
    let e = notify(&*i, &n).await.unwrap_err();
    assert!(!e.retry && e.message.contains("invalid userid"), "{e:?}");
}

// ---------------------------------------------------------------------------
// SNS

#[tokio::test]
async fn sns_publish_signed_with_sigv4() {
    let s = Server::start((200, "text/xml", "<PublishResponse><PublishResult><MessageId>m-1</MessageId></PublishResult></PublishResponse>".into())).await;
    let r = receiver(&format!(
        "    sns_configs:
      - api_url: {}/
        topic_arn: arn:aws:sns:eu-west-1:123456789012:alerts.fifo
        subject: '{{{{ .CommonLabels.alertname }}}}'
        message: '{{{{ .CommonAnnotations.summary }}}} & more'
        attributes: {{severity: '{{{{ .CommonLabels.severity }}}}'}}
        sigv4: {{region: eu-west-1, access_key: AKIDEXAMPLE, secret_key: wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY}}
",
        s.url
    ));
    let i = one_integration(&r);
    assert_eq!(i.name(), "sns");
    notify(&*i, &notification("r", false)).await.unwrap();
    let req = s.one();
    assert_eq!((req.method.as_str(), req.uri.as_str()), ("POST", "/"));
    assert_eq!(req.header("content-type"), "application/x-www-form-urlencoded; charset=utf-8");
    let body = String::from_utf8(req.body.to_vec()).unwrap();
    let form: std::collections::BTreeMap<String, String> = url::form_urlencoded::parse(body.as_bytes()).into_owned().collect();
    let want: std::collections::BTreeMap<String, String> = [
        ("Action", "Publish"),
        ("Version", "2010-03-31"),
        ("TopicArn", "arn:aws:sns:eu-west-1:123456789012:alerts.fifo"),
        ("MessageGroupId", GROUP_KEY_HASH),
        ("MessageDeduplicationId", GROUP_KEY_HASH),
        ("Message", "Disk is full & more"),
        ("Subject", "DiskFull"),
        ("MessageAttributes.entry.1.Name", "severity"),
        ("MessageAttributes.entry.1.Value.DataType", "String"),
        ("MessageAttributes.entry.1.Value.StringValue", "critical"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    assert_eq!(form, want);
    let auth = req.header("authorization").to_string();
    let date = req.header("x-amz-date").to_string();
    assert!(auth.starts_with(&format!("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/{}/eu-west-1/sns/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=", &date[..8])), "{auth}");

    // The signature as botocore (the AWS SDK for Python) computes it for the
    // same request, when botocore is installed.
    let host = req.header("host").to_string();
    let check = serde_json::json!({"url": format!("http://{host}/"), "host": host, "content_type": req.header("content-type"), "date": date, "body": body});
    let script = r#"
import json, sys, datetime
import botocore.auth as ba
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
r = json.load(sys.stdin)
ba.get_current_datetime = lambda *a, **k: datetime.datetime.strptime(r["date"], "%Y%m%dT%H%M%SZ")
req = AWSRequest(method="POST", url=r["url"], data=r["body"].encode(), headers={"Content-Type": r["content_type"], "Host": r["host"]})
ba.SigV4Auth(Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"), "sns", "eu-west-1").add_auth(req)
print(req.headers["Authorization"])
"#;
    let has_botocore = std::process::Command::new("python3").args(["-c", "import botocore"]).output().map(|o| o.status.success()).unwrap_or(false);
    if !has_botocore {
        eprintln!("!! botocore not installed: the SigV4 signature was not cross-checked");
        return;
    }
    use std::io::Write;
    let mut child = std::process::Command::new("python3")
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(check.to_string().as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8(out.stdout).unwrap().trim(), auth);
}

// ---------------------------------------------------------------------------
// Webhook with a templated payload (SMS gateways, ITSM tools)

#[tokio::test]
async fn webhook_templated_payload_for_sms_and_itsm() {
    let s = Server::start((200, "application/json", "{}".into())).await;
    let r = receiver(&format!(
        "    webhook_configs:\n      - url: {}/sms\n        http_config:\n          authorization: {{credentials: gw-token}}\n        payload:\n          to: 'tel:+821012345678'\n          priority: '{{{{ if eq .Status \"firing\" }}}}1{{{{ else }}}}0{{{{ end }}}}'\n          text: '[{{{{ .Status | toUpper }}}}] {{{{ .CommonLabels.alertname }}}}: {{{{ .CommonAnnotations.summary }}}}'\n          count: '{{{{ len .Alerts }}}}'\n",
        s.url
    ));
    // Like Alertmanager, a rendered string that reads as a YAML number,
    // boolean, list or map becomes that value (`priority` → 1).
    let i = one_integration(&r);
    notify(&*i, &notification("r", false)).await.unwrap();
    let req = s.one();
    assert_eq!((req.method.as_str(), req.uri.as_str()), ("POST", "/sms"));
    assert_eq!(req.header("authorization"), "Bearer gw-token");
    assert_eq!(req.json(), json!({"to": "tel:+821012345678", "priority": 1, "text": "[FIRING] DiskFull: Disk is full", "count": 1}));
    // A broken template fails the notification, final (not retried).
    let r = receiver(&format!("    webhook_configs:\n      - url: {}/sms\n        payload: {{text: '{{{{ .Nope.Missing }}}}'}}\n", s.url));
    let e = notify(&*one_integration(&r), &notification("r", false)).await.unwrap_err();
    assert!(!e.retry, "{e:?}");
}
