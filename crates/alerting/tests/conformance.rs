//! Alertmanager's configuration fixtures (`alertmanager/` in the shared
//! conformance data: `config-testdata/*.yml`, `examples/*.yml`): every file
//! loads, or fails with the error its README states.
//!
//! The data directory is `BONGSU_CONFORMANCE_DIR`, default
//! `<workspace>/../shared/conformance`. When it is absent the test says so
//! loudly and passes, except under `CI=true`, where it fails.

use std::path::{Path, PathBuf};

use bongsu_alerting::Config;
use bongsu_model::Labels;

fn conformance_dir() -> PathBuf {
    match std::env::var("BONGSU_CONFORMANCE_DIR") {
        Ok(d) if !d.is_empty() => PathBuf::from(d),
        _ => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance"),
    }
}

fn fixtures_dir() -> Option<PathBuf> {
    let dir = conformance_dir().join("alertmanager");
    if dir.join("config-testdata").is_dir() {
        return Some(dir);
    }
    let msg = format!(
        "\n!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n\
         !! Alertmanager conformance fixtures NOT FOUND at {}\n\
         !! set BONGSU_CONFORMANCE_DIR to the shared conformance directory\n\
         !!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n",
        dir.display()
    );
    eprintln!("{msg}");
    if std::env::var("CI").map(|v| v == "true").unwrap_or(false) {
        panic!("conformance data missing in CI");
    }
    None
}

/// What the README says Alertmanager does with each file.
enum Outcome {
    Loads,
    /// Fails; the message contains this text.
    Fails(&'static str),
}
use Outcome::*;

const TABLE: &[(&str, Outcome)] = &[
    ("config-testdata/conf.good.yml", Loads),
    ("config-testdata/conf.empty-fields.yml", Loads),
    ("config-testdata/conf.group-by-all.yml", Loads),
    ("config-testdata/conf.http-config.good.yml", Loads),
    ("config-testdata/conf.smtp-no-username-or-password.yml", Loads),
    ("config-testdata/conf.smtp-password-global-and-local.yml", Loads),
    ("config-testdata/conf.sns-topic-arn.yml", Loads),
    ("config-testdata/conf.slack-default-app-token.yml", Loads),
    ("config-testdata/conf.slack-default-api-url-file.yml", Loads),
    ("config-testdata/conf.opsgenie-default-apikey.yml", Loads),
    ("config-testdata/conf.opsgenie-default-apikey-file.yml", Loads),
    ("config-testdata/conf.victorops-default-apikey.yml", Loads),
    ("config-testdata/conf.victorops-default-apikey-file.yml", Loads),
    ("config-testdata/conf.telegram-default-bot-token.yml", Loads),
    ("config-testdata/conf.telegram-default-bot-token-file.yml", Loads),
    ("config-testdata/conf.rocketchat-default-token.yml", Loads),
    ("config-testdata/conf.rocketchat-default-token-file.yml", Loads),
    ("config-testdata/conf.wechat-default-api-secret-file.yml", Loads),
    ("config-testdata/conf.mattermost-default-webhook-url.yml", Loads),
    ("config-testdata/conf.mattermost-default-webhook-url-file.yml", Loads),
    ("config-testdata/conf.nil-match_re-route.yml", Fails("invalid_label")),
    ("config-testdata/conf.nil-source_match_re-inhibition.yml", Fails("invalid_source_label")),
    ("config-testdata/conf.nil-target_match_re-inhibition.yml", Fails("invalid_target_label")),
    ("config-testdata/conf.smtp-both-password-and-file.yml", Fails("at most one of smtp_auth_password & smtp_auth_password_file must be configured")),
    ("config-testdata/conf.victorops-both-file-and-apikey.yml", Fails("at most one of victorops_api_key & victorops_api_key_file must be configured")),
    ("config-testdata/conf.victorops-no-apikey.yml", Fails("no global VictorOps API Key set")),
    ("config-testdata/conf.telegram-both-bot-token-and-file.yml", Fails("at most one of telegram_bot_token & telegram_bot_token_file must be configured")),
    ("config-testdata/conf.telegram-valid-receiver-both-bot-token-and-file.yml", Fails("at most one of telegram_bot_token & telegram_bot_token_file must be configured")),
    ("config-testdata/conf.telegram-no-bot-token.yml", Fails("missing bot_token or bot_token_file on telegram_config")),
    ("config-testdata/conf.opsgenie-both-file-and-apikey.yml", Fails("at most one of opsgenie_api_key & opsgenie_api_key_file must be configured")),
    ("config-testdata/conf.opsgenie-no-apikey.yml", Fails("no global OpsGenie API Key set either inline or in a file")),
    // Alertmanager: "yaml: unmarshal errors:\n  line 16: field teams not found
    // in type opsgenie.plain". Ours names the same line and field.
    ("config-testdata/conf.opsgenie-default-apikey-old-team.yml", Fails(":16:")),
    ("config-testdata/conf.slack-both-file-and-url.yml", Fails("at most one of slack_api_url & slack_api_url_file must be configured")),
    ("config-testdata/conf.slack-both-file-and-token.yml", Fails("at most one of slack_app_token & slack_app_token_file must be configured")),
    ("config-testdata/conf.slack-both-url-and-token.yml", Fails("at most one of slack_app_token/slack_app_token_file & slack_api_url/slack_api_url_file must be configured")),
    ("config-testdata/conf.slack-update-message-and-webhook.yml", Fails("update_message can only be used with bot tokens. api_url must be set to https://slack.com/api/chat.postMessage")),
    ("config-testdata/conf.slack-no-api-url-or-token.yml", Fails("no Slack API URL nor App token set either inline or in a file")),
    ("config-testdata/conf.sns-invalid.yml", Fails("must provide either a Target ARN, Topic ARN, or Phone Number for SNS config")),
    ("config-testdata/conf.rocketchat-both-token-and-tokenfile.yml", Fails("at most one of rocketchat_token & rocketchat_token_file must be configured")),
    ("config-testdata/conf.rocketchat-both-tokenid-and-tokenidfile.yml", Fails("at most one of rocketchat_token_id & rocketchat_token_id_file must be configured")),
    ("config-testdata/conf.rocketchat-no-token.yml", Fails("no global Rocketchat Token set either inline or in a file")),
    ("config-testdata/conf.wechat-no-api-secret.yml", Fails("no global Wechat Api Secret set either inline or in a file")),
    ("config-testdata/conf.wechat-both-file-and-secret.yml", Fails("at most one of wechat_api_secret & wechat_api_secret_file must be configured")),
    ("config-testdata/conf.mattermost-both-webhook-url-and-file.yml", Fails("at most one of mattermost_webhook_url & mattermost_webhook_url_file must be configured")),
    ("config-testdata/conf.mattermost-valid-receiver-both-webhook-url-and-file.yml", Fails("at most one of mattermost_webhook_url & mattermost_webhook_url_file must be configured")),
    ("config-testdata/conf.mattermost-no-webhook-url.yml", Fails("missing webhook_url or webhook_url_file on mattermost_config")),
    ("examples/simple.yml", Loads),
    ("examples/route_labels.yml", Loads),
];

#[test]
fn fixtures_load_or_fail_as_alertmanager_does() {
    let Some(dir) = fixtures_dir() else { return };
    // Every fixture file is in the table (a new fixture must be classified).
    let mut on_disk = Vec::new();
    for sub in ["config-testdata", "examples"] {
        for e in std::fs::read_dir(dir.join(sub)).expect("read fixtures") {
            let p = e.expect("entry").path();
            if p.extension().is_some_and(|x| x == "yml") {
                on_disk.push(format!(
                    "{sub}/{}",
                    p.file_name().unwrap_or_default().to_string_lossy()
                ));
            }
        }
    }
    on_disk.sort();
    let mut listed: Vec<String> = TABLE.iter().map(|(f, _)| f.to_string()).collect();
    listed.sort();
    assert_eq!(on_disk, listed, "fixture files and the table differ");

    let mut failures = Vec::new();
    for (file, want) in TABLE {
        let path = dir.join(file);
        let got = Config::load(&path);
        match (want, got) {
            (Loads, Ok(_)) => {}
            (Loads, Err(e)) => failures.push(format!("{file}: should load, got: {e}")),
            (Fails(m), Ok(_)) => failures.push(format!("{file}: should fail with {m:?}, loaded")),
            (Fails(m), Err(e)) => {
                let text = e.to_string();
                if !text.contains(m) {
                    failures.push(format!("{file}: error {text:?} lacks {m:?}"));
                } else if !text.starts_with(&path.display().to_string()) || text.contains('\n') {
                    failures.push(format!(
                        "{file}: error {text:?} is not one line with the file name"
                    ));
                }
            }
        }
    }
    let n = TABLE.len();
    eprintln!(
        "alertmanager fixtures: {}/{n} as the README states",
        n - failures.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Details the README states for some valid files.
#[test]
fn fixture_details() {
    let Some(dir) = fixtures_dir() else { return };
    let load = |f: &str| Config::load(dir.join(f)).unwrap_or_else(|e| panic!("{e}"));

    let c = load("config-testdata/conf.empty-fields.yml");
    assert_eq!(c.global.smtp_hello, "");
    assert_eq!(c.global.smtp_auth_username, "");
    let re = &c.route.routes[0].match_re.0["service"];
    assert_eq!(re.anchored(), "^(?:^(foo1|foo2|baz)$)$");

    let c = load("config-testdata/conf.group-by-all.yml");
    assert!(c.route.group_by_all);

    let c = load("config-testdata/conf.smtp-password-global-and-local.yml");
    let e = &c.receivers[0].email_configs;
    assert_eq!(e[0].auth_password_file, "/tmp/globaluserpassword");
    assert_eq!(e[0].auth_username, "globaluser");
    assert_eq!(e[1].auth_password_file, "/tmp/localuser1password");
    assert_eq!(e[2].auth_password.expose(), "mysecret");
    assert_eq!(e[2].auth_password_file, "");
    assert_eq!(e[3].auth_secret.expose(), "myprecious");
    assert_eq!(e[3].auth_password_file, "/tmp/globaluserpassword");
    assert_eq!(e[4].auth_secret_file, "/tmp/localuser4secret");

    let c = load("config-testdata/conf.http-config.good.yml");
    assert!(!c.global.http_config.follow_redirects);
    // a receiver's own http_config replaces the global one entirely
    let h = c.receivers[0].slack_configs[0]
        .http_config
        .as_ref()
        .expect("filled");
    assert!(h.follow_redirects);
    assert_eq!(h.proxy_url.as_deref(), Some("foo"));

    let c = load("config-testdata/conf.good.yml");
    // slack inherits the global webhook URL; secrets never print
    let s = &c
        .receivers
        .iter()
        .find(|r| r.name.value == "slack-receiver")
        .expect("slack")
        .slack_configs[0];
    assert_eq!(
        s.api_url.as_ref().map(|u| u.expose()),
        Some("http://mysecret.example.com/")
    );
    assert!(!format!("{c:?}").contains("mysecret"));
    // the route tree of the reference config
    let tree = c.route_tree();
    let a = Labels::from_pairs([("service", "foo1"), ("severity", "critical")]);
    let r = tree.match_routes(&a);
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].opts.receiver, "team-X-pager");
    let a = Labels::from_pairs([
        ("service", "database"),
        ("owner2", "team-X"),
        ("owner", "team-Y"),
    ]);
    let r: Vec<&str> = tree
        .match_routes(&a)
        .iter()
        .map(|r| r.opts.receiver.as_str())
        .collect();
    assert_eq!(r, ["team-X-pager", "team-Y-pager"]);

    let c = load("config-testdata/conf.slack-default-app-token.yml");
    for r in &c.receivers {
        for s in &r.slack_configs {
            let auth = s
                .http_config
                .as_ref()
                .and_then(|h| h.authorization.as_ref());
            if s.app_token.is_empty() && s.app_token_file.is_empty() {
                continue;
            }
            assert_eq!(auth.and_then(|a| a.kind.as_deref()), Some("Bearer"));
            // the app URL (global default or the receiver's own) is the API URL
            assert_eq!(
                s.api_url.as_ref().map(|u| u.expose()),
                s.app_url.as_ref().map(|u| u.as_str())
            );
        }
    }

    let tokens: Vec<_> = c.receivers[0]
        .slack_configs
        .iter()
        .map(|s| {
            s.http_config
                .as_ref()
                .and_then(|h| h.authorization.as_ref())
                .and_then(|a| a.credentials.as_ref())
                .map(|c| c.expose().to_string())
        })
        .collect();
    assert_eq!(
        tokens,
        [
            Some("xoxb-1234-abcdefgh".to_string()),
            Some("xoxb-1234-xxxxxx".to_string()),
            Some("xoxb-1234-abcdefgh".to_string()),
            Some("xoxb-my-bot-token".to_string()),
            None
        ]
    );
    assert_eq!(
        c.receivers[0].slack_configs[2]
            .api_url
            .as_ref()
            .map(|u| u.expose()),
        Some("http://api.fakeslack.example/")
    );

    let c = load("examples/simple.yml");
    let tree = c.route_tree();
    let a = Labels::from_pairs([("service", "files"), ("severity", "critical")]);
    assert_eq!(tree.match_routes(&a)[0].opts.receiver, "team-Y-pager");
    let rules = c.inhibit_rules();
    let crit = Labels::from_pairs([
        ("alertname", "X"),
        ("cluster", "c"),
        ("service", "s"),
        ("severity", "critical"),
    ]);
    let warn = Labels::from_pairs([
        ("alertname", "X"),
        ("cluster", "c"),
        ("service", "s"),
        ("severity", "warning"),
    ]);
    assert!(rules[0].inhibits(&warn, [&crit]).is_some());
}

/// Every loadable fixture renders as YAML with no secret in it, and the
/// rendering loads again (except where Alertmanager's own rendering does
/// not either: Slack app tokens turn into an authorization header plus the
/// app URL as `api_url`, which the Slack checks refuse together).
#[test]
fn fixtures_render_without_secrets() {
    let Some(dir) = fixtures_dir() else { return };
    let secrets = [
        "mysecret",
        "multiline",
        "xoxb-",
        "asd132",
        "hooks.slack.com",
        "mysecret.example.com",
        "<team-X-key>",
    ];
    for (file, want) in TABLE {
        if !matches!(want, Loads) {
            continue;
        }
        let cfg = Config::load(dir.join(file)).unwrap_or_else(|e| panic!("{e}"));
        let yaml = cfg.to_yaml();
        for s in secrets {
            assert!(!yaml.contains(s), "{file}: {s} in\n{yaml}");
        }
        if file.contains("slack-default-app-token") {
            continue;
        }
        Config::parse(&yaml, file).unwrap_or_else(|e| panic!("{file}: {e}\n{yaml}"));
    }
}
