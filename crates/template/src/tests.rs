//! Unit tests with Prometheus' and Alertmanager's own expected strings
//! (facts from prometheus `template/template_test.go` v3.14 and
//! alertmanager `template/template_test.go` v0.34).

use std::collections::BTreeMap;
use std::sync::Arc;

use gotmpl::Value;

use super::*;

fn fl(v: &[f64]) -> Value {
    Value::List(v.iter().map(|f| Value::Float(*f)).collect())
}
fn st(v: &[&str]) -> Value {
    Value::List(v.iter().map(|s| Value::String(Arc::from(*s))).collect())
}
fn ints(v: &[i64]) -> Value {
    Value::List(v.iter().map(|i| Value::Int(*i)).collect())
}
fn uints(v: &[u64]) -> Value {
    Value::List(v.iter().map(|i| Value::Uint(*i)).collect())
}

fn sample(labels: &[(&str, &str)], v: f64) -> QueryResultSample {
    QueryResultSample {
        labels: labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        value: v,
    }
}

/// Runs one scenario the way Prometheus' testTemplateExpansion does.
fn prom(
    text: &str,
    input: Value,
    result: Vec<QueryResultSample>,
    html: bool,
) -> Result<String, String> {
    let q = move |_: &str| Ok(result.clone());
    let e = Expander {
        name: "test",
        data: input,
        timestamp_ms: 1353755652000,
        external_url: "http://testhost:9090/path/prefix",
        query: Some(&q),
    };
    if html {
        e.expand_html(text)
    } else {
        e.expand(text)
    }
    .map_err(|e| e.to_string())
}

fn ok(text: &str, input: Value, want: &str) {
    assert_eq!(
        prom(text, input, vec![], false).as_deref(),
        Ok(want),
        "{text}"
    );
}

#[test]
fn prometheus_expansion() {
    ok("plain text", Value::Nil, "plain text");
    ok("{{ 1 }}", Value::Nil, "1");
    ok("{{ \"<b>\" }}", Value::Nil, "<b>");
    assert_eq!(
        prom("{{ \"<b>\" }}", Value::Nil, vec![], true).unwrap(),
        "&lt;b&gt;"
    );
    assert_eq!(
        prom("{{ \"<b>\" | safeHtml }}", Value::Nil, vec![], true).unwrap(),
        "<b>"
    );
    ok(
        "{{define \"x\"}}{{.arg0}} {{.arg1}}{{end}}{{template \"x\" (args 1 \"2\")}}",
        Value::Nil,
        "1 2",
    );
    let one = vec![sample(&[], 1.5)];
    assert_eq!(
        prom(
            "{{ query \"1.5\" | first | value }}",
            Value::Nil,
            one,
            false
        )
        .unwrap(),
        "1.5"
    );
    let a11 = || vec![sample(&[("__name__", "metric"), ("instance", "a")], 11.0)];
    assert_eq!(
        prom(
            "{{ query \"metric{instance='a'}\" | first | value }}",
            Value::Nil,
            a11(),
            false
        )
        .unwrap(),
        "11"
    );
    assert_eq!(
        prom(
            "{{ query \"metric{instance='a'}\" | first | label \"instance\" }}",
            Value::Nil,
            a11(),
            false
        )
        .unwrap(),
        "a"
    );
    let v = vec![sample(&[("__name__", "metric"), ("__value__", "a")], 11.0)];
    assert_eq!(
        prom(
            "{{ query \"metric{__value__='a'}\" | first | strvalue }}",
            Value::Nil,
            v,
            false
        )
        .unwrap(),
        "a"
    );
    assert_eq!(
        prom(
            "{{ query \"metric{instance='a'}\" | first | label \"foo\" }}",
            Value::Nil,
            a11(),
            false
        )
        .unwrap(),
        ""
    );
    assert_eq!(
        prom(
            "{{ $x := query \"metric\" | first }}{{ $x.Labels.foo }}",
            Value::Nil,
            a11(),
            false
        )
        .unwrap(),
        ""
    );
    assert_eq!(
        prom(
            "{{ $x := query \"metric\" | first }}{{ $x.Labels.foo }}",
            Value::Nil,
            a11(),
            true
        )
        .unwrap(),
        ""
    );
    let two = vec![
        sample(&[("__name__", "metric"), ("instance", "b")], 21.0),
        sample(&[("__name__", "metric"), ("instance", "a")], 11.0),
    ];
    assert_eq!(
        prom("{{ range query \"metric\" | sortByLabel \"instance\" }}{{.Labels.instance}}:{{.Value}}: {{end}}", Value::Nil, two, false).unwrap(),
        "a:11: b:21: "
    );
    for (i, o) in [
        ("foo.example.com", "foo.example.com"),
        ("foo.example.com:12345", "foo.example.com"),
        ("192.0.2.1", "192.0.2.1"),
        ("192.0.2.1:12345", "192.0.2.1"),
        ("2001:0DB8::1", "2001:0DB8::1"),
        ("[2001:0DB8::1]:12345", "2001:0DB8::1"),
        ("[2001:0DB8::1]::12345", "[2001:0DB8::1]::12345"),
    ] {
        ok(&format!("{{{{ \"{i}\" | stripPort }}}}"), Value::Nil, o);
    }
    for (i, o) in [
        ("foo.example.com", "foo"),
        ("foo.example.com:12345", "foo:12345"),
        ("192.0.2.1", "192.0.2.1"),
        ("192.0.2.1:12345", "192.0.2.1:12345"),
        ("2001:0DB8::1", "2001:0DB8::1"),
        ("[2001:0DB8::1]:12345", "[2001:0DB8::1]:12345"),
        ("[2001:0DB8::1]::12345", "[2001:0DB8::1]::12345"),
    ] {
        ok(&format!("{{{{ \"{i}\" | stripDomain }}}}"), Value::Nil, o);
    }
    ok("{{ .Foo }}", Value::Nil, "<no value>");
    assert_eq!(
        prom("{{", Value::Nil, vec![], false).unwrap_err(),
        "error parsing template test: template: test:1: unclosed action"
    );
    assert_eq!(
        prom("{{ query \"missing\" | first }}", Value::Nil, vec![], false).unwrap_err(),
        "error executing template test: template: test:1:21: executing \"test\" at <first>: error calling first: first() called on vector with no elements"
    );
    let e = prom(
        "{{ (query \"missing\").banana }}",
        Value::Nil,
        vec![],
        false,
    )
    .unwrap_err();
    assert!(
        e.ends_with("can't evaluate field banana in type []interface {}"),
        "{e}"
    );
    ok(
        "{{ reReplaceAll \"(a)b\" \"x$1\" \"ab\" }}",
        Value::Nil,
        "xa",
    );
}

#[test]
fn prometheus_humanize() {
    let r = "{{ range . }}{{ humanize . }}:{{ end }}";
    ok(r, fl(&[0.0, 1.0, 1234567.0, 0.12]), "0:1:1.235M:120m:");
    ok(
        r,
        st(&["0.0", "1.0", "1234567.0", ".12"]),
        "0:1:1.235M:120m:",
    );
    ok(
        r,
        ints(&[0, -1, 1, 1234567, i64::MAX]),
        "0:-1:1:1.235M:9.223E:",
    );
    ok(r, uints(&[0, 1, 1234567, u64::MAX]), "0:1:1.235M:18.45E:");
    assert_eq!(
        prom("{{ humanize \"one\" }}", Value::Nil, vec![], false).unwrap_err(),
        "error executing template test: template: test:1:3: executing \"test\" at <humanize \"one\">: error calling humanize: strconv.ParseFloat: parsing \"one\": invalid syntax"
    );
    assert_eq!(
        prom("{{ humanize1024 \"one\" }}", Value::Nil, vec![], false).unwrap_err(),
        "error executing template test: template: test:1:3: executing \"test\" at <humanize1024 \"one\">: error calling humanize1024: strconv.ParseFloat: parsing \"one\": invalid syntax"
    );
    assert_eq!(
        prom("{{ humanizeDuration \"one\" }}", Value::Nil, vec![], false).unwrap_err(),
        "error executing template test: template: test:1:3: executing \"test\" at <humanizeDuration \"one\">: error calling humanizeDuration: strconv.ParseFloat: parsing \"one\": invalid syntax"
    );

    let r = "{{ range . }}{{ humanize1024 . }}:{{ end }}";
    ok(r, fl(&[0.0, 1.0, 1048576.0, 0.12]), "0:1:1Mi:0.12:");
    ok(r, st(&["0.0", "1.0", "1048576.0", ".12"]), "0:1:1Mi:0.12:");
    ok(
        r,
        ints(&[0, -1, 1, 1234567, i64::MAX]),
        "0:-1:1:1.177Mi:8Ei:",
    );
    ok(r, uints(&[0, 1, 1234567, u64::MAX]), "0:1:1.177Mi:16Ei:");

    let r = "{{ range . }}{{ humanizeDuration . }}:{{ end }}";
    ok(
        r,
        fl(&[
            0.0,
            1.0,
            60.0,
            3600.0,
            86400.0,
            86400.0 + 3600.0,
            -(86400.0 * 2.0 + 3600.0 * 3.0 + 60.0 * 4.0 + 5.0),
            899.99,
        ]),
        "0s:1s:1m 0s:1h 0m 0s:1d 0h 0m 0s:1d 1h 0m 0s:-2d 3h 4m 5s:14m 59s:",
    );
    ok(
        r,
        st(&["0", "1", "60", "3600", "86400"]),
        "0s:1s:1m 0s:1h 0m 0s:1d 0h 0m 0s:",
    );
    ok(
        r,
        fl(&[0.1, 0.0001, 0.12345, 60.1, 60.5, 1.2345, 12.345]),
        "100ms:100us:123.5ms:1m 0s:1m 0s:1.234s:12.35s:",
    );
    ok(
        r,
        st(&[".1", ".0001", ".12345", "60.1", "60.5", "1.2345", "12.345"]),
        "100ms:100us:123.5ms:1m 0s:1m 0s:1.234s:12.35s:",
    );
    ok(r, ints(&[0, -1, 1, 1234567]), "0s:-1s:1s:14d 6h 56m 7s:");
    ok(r, uints(&[0, 1, 1234567]), "0s:1s:14d 6h 56m 7s:");
    let r = "{{ range . }}{{ humanize . }}:{{ humanize1024 . }}:{{ humanizeDuration . }}:{{humanizeTimestamp .}}:{{ end }}";
    ok(
        r,
        fl(&[f64::INFINITY, f64::NEG_INFINITY, f64::NAN]),
        "+Inf:+Inf:+Inf:+Inf:-Inf:-Inf:-Inf:-Inf:NaN:NaN:NaN:NaN:",
    );
    ok(
        r,
        st(&["+Inf", "-Inf", "NaN"]),
        "+Inf:+Inf:+Inf:+Inf:-Inf:-Inf:-Inf:-Inf:NaN:NaN:NaN:NaN:",
    );

    ok(
        "{{ -0.22222 | humanizePercentage }}:{{ 0.0 | humanizePercentage }}:{{ 0.1234567 | humanizePercentage }}:{{ 1.23456 | humanizePercentage }}",
        Value::Nil,
        "-22.22%:0%:12.35%:123.5%",
    );
    ok(
        "{{ range . }}{{ humanizePercentage . }}:{{ end }}",
        ints(&[0, -1, 1, 1234567, i64::MAX]),
        "0%:-100%:100%:1.235e+08%:9.223e+20%:",
    );
    ok(
        "{{ range . }}{{ humanizePercentage . }}:{{ end }}",
        uints(&[0, 1, 1234567, u64::MAX]),
        "0%:100%:1.235e+08%:1.845e+21%:",
    );
    assert_eq!(
        prom("{{ \"one\" | humanizePercentage }}", Value::Nil, vec![], false).unwrap_err(),
        "error executing template test: template: test:1:11: executing \"test\" at <humanizePercentage>: error calling humanizePercentage: strconv.ParseFloat: parsing \"one\": invalid syntax"
    );

    let r = "{{ range . }}{{ humanizeTimestamp . }}:{{ end }}";
    ok(
        r,
        ints(&[0, -1, 1, 1234567, 9223372036]),
        "1970-01-01 00:00:00 +0000 UTC:1969-12-31 23:59:59 +0000 UTC:1970-01-01 00:00:01 +0000 UTC:1970-01-15 06:56:07 +0000 UTC:2262-04-11 23:47:16 +0000 UTC:",
    );
    assert_eq!(
        prom(r, ints(&[i64::MIN, i64::MAX]), vec![], false).unwrap_err(),
        "error executing template test: template: test:1:16: executing \"test\" at <humanizeTimestamp .>: error calling humanizeTimestamp: -9.223372036854776e+18 cannot be represented as a nanoseconds timestamp since it overflows int64"
    );
    assert_eq!(
        prom(r, uints(&[u64::MAX]), vec![], false).unwrap_err(),
        "error executing template test: template: test:1:16: executing \"test\" at <humanizeTimestamp .>: error calling humanizeTimestamp: 1.8446744073709552e+19 cannot be represented as a nanoseconds timestamp since it overflows int64"
    );
    ok(
        "{{ 1435065584.128 | humanizeTimestamp }}",
        Value::Nil,
        "2015-06-23 13:19:44.128 +0000 UTC",
    );
    ok(
        "{{ \"1435065584.128\" | humanizeTimestamp }}",
        Value::Nil,
        "2015-06-23 13:19:44.128 +0000 UTC",
    );
}

#[test]
fn prometheus_time_and_strings() {
    ok(
        "{{ (1435065584.128 | toTime).Format \"2006\" }}",
        Value::Nil,
        "2015",
    );
    ok(
        "{{ (\"1435065584.128\" | toTime).Format \"2006\" }}",
        Value::Nil,
        "2015",
    );
    ok("{{ (1800 | toDuration).String }}", Value::Nil, "30m0s");
    ok("{{ (\"1800\" | toDuration).String }}", Value::Nil, "30m0s");
    ok("{{ now }}", Value::Nil, "1.353755652e+09");
    ok(
        "{{ (now | toTime).Format \"Mon Jan 2 15:04:05 2006\" }}",
        Value::Nil,
        "Sat Nov 24 11:14:12 2012",
    );
    ok(
        "{{ (\"-30m\" | parseDuration | toDuration | (now | toTime).Add).UnixMilli }}",
        Value::Nil,
        "1353753852000",
    );
    ok("{{ \"aa bb CC\" | title }}", Value::Nil, "Aa Bb CC");
    ok("{{ \"aa bb CC\" | toUpper }}", Value::Nil, "AA BB CC");
    ok("{{ \"aA bB CC\" | toLower }}", Value::Nil, "aa bb cc");
    ok(
        "{{ match \"a+\" \"aa\" }} {{ match \"a+\" \"b\" }}",
        Value::Nil,
        "true false",
    );
    ok(
        "{{ graphLink \"up\" }}",
        Value::Nil,
        "/graph?g0.expr=up&g0.tab=0",
    );
    ok(
        "{{ tableLink \"up\" }}",
        Value::Nil,
        "/graph?g0.expr=up&g0.tab=1",
    );
    assert_eq!(
        prom(
            "{{ define \"a\" }}x{{ end }}{{ $name := \"a\"}}{{ tmpl $name . }}",
            Value::Nil,
            vec![],
            true
        )
        .unwrap(),
        "x"
    );
    ok("{{ pathPrefix }}", Value::Nil, "/path/prefix");
    ok(
        "{{ externalURL }}",
        Value::Nil,
        "http://testhost:9090/path/prefix",
    );
    ok(
        "{{ printf \"%0.2f\" (parseDuration \"1h2m10ms\") }}",
        Value::Nil,
        "3720.01",
    );
    ok(
        "{{ printf \"%0.2f\" (parseDuration \"-1h2m10ms\") }}",
        Value::Nil,
        "-3720.01",
    );
    ok("{{ urlQueryEscape \"a b&c\" }}", Value::Nil, "a+b%26c");
}

fn labels(kv: &[(&str, &str)]) -> BTreeMap<String, String> {
    kv.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn rule_templates() {
    let l = labels(&[("instance", "node1:9100"), ("job", "node")]);
    let ext = labels(&[("cluster", "eu1")]);
    let d = RuleTemplateData {
        labels: &l,
        external_labels: &ext,
        external_url: "http://prom.example:9090/p",
        value: 1234567.0,
    };
    let out = expand_rule_template(
        "__alert_X",
        "{{ $labels.instance }} of {{ $labels.job }} ({{ $externalLabels.cluster }}) = {{ $value | humanize }} [{{ $value }}] {{ $labels.missing }}| {{ $externalURL }} {{ pathPrefix }}",
        &d,
        None,
    )
    .unwrap();
    assert_eq!(
        out,
        "node1:9100 of node (eu1) = 1.235M [1.234567e+06] | http://prom.example:9090/p /p"
    );
    let q = |q: &str| -> Result<Vec<QueryResultSample>, String> {
        assert_eq!(q, "up{job=\"node\"}");
        Ok(vec![
            sample(&[("instance", "a")], 1.0),
            sample(&[("instance", "b")], 0.0),
        ])
    };
    let out = expand_rule_template(
        "__alert_X",
        "{{ range query (printf \"up{job=%q}\" $labels.job) }}{{ .Labels.instance }}={{ .Value }} {{ end }}",
        &d,
        Some(&q),
    )
    .unwrap();
    assert_eq!(out, "a=1 b=0 ");
    let e = expand_rule_template("__alert_X", "{{ $label.foo }}", &d, None).unwrap_err();
    assert_eq!(
        e.to_string(),
        "error parsing template __alert_X: template: __alert_X:1: undefined variable \"$label\""
    );
    assert_eq!(expansion_failure_text(&e), "<error expanding template: error parsing template __alert_X: template: __alert_X:1: undefined variable \"$label\">");
}

#[test]
fn check_rule_templates() {
    assert_eq!(
        check_rule_template("__alert_InstanceDown", "Instance {{ $label.foo }} down")
            .unwrap_err()
            .to_string(),
        "template: __alert_InstanceDown:1: undefined variable \"$label\""
    );
    assert!(check_rule_template(
        "__alert_X",
        "{{ $labels.instance }} {{ $value | humanizePercentage }}"
    )
    .is_ok());
    assert_eq!(
        check_rule_template("__alert_X", "{{ nope 1 }}")
            .unwrap_err()
            .to_string(),
        "template: __alert_X:1: function \"nope\" not defined"
    );
    assert!(check_rule_template(
        "__alert_X",
        "{{ if $x := 1 }}{{ $x }}{{ else }}{{ $x }}{{ end }}"
    )
    .is_ok());
    assert!(
        check_rule_template("__alert_X", "{{ if true }}{{ $x := 1 }}{{ end }}{{ $x }}").is_err()
    );
    assert!(check_rule_template(
        "__alert_X",
        "{{ range $i, $v := $labels }}{{ $i }}{{ $v }}{{ end }}"
    )
    .is_ok());
    assert!(check_rule_template("__alert_X", "{{ define \"a\" }}{{ $labels }}{{ end }}").is_err());
    // `tmpl` is an HTML-mode (console template) function in Prometheus.
    assert_eq!(
        check_rule_template("__alert_X", "{{ tmpl \"a\" . }}")
            .unwrap_err()
            .to_string(),
        "template: __alert_X:1: function \"tmpl\" not defined"
    );
}

fn am_data() -> NotificationData {
    use std::time::{Duration, UNIX_EPOCH};
    let t0 = UNIX_EPOCH + Duration::from_secs(1_704_096_930);
    NotificationData {
        receiver: "team-x".into(),
        status: "firing".into(),
        alerts: vec![
            AlertData {
                status: "firing".into(),
                labels: labels(&[
                    ("alertname", "HighLatency"),
                    ("severity", "critical"),
                    ("job", "api"),
                ]),
                annotations: labels(&[("summary", "p99 > 1s")]),
                starts_at: t0,
                generator_url: "http://prom/graph".into(),
                fingerprint: "abc".into(),
                ..Default::default()
            },
            AlertData {
                status: "resolved".into(),
                labels: labels(&[("alertname", "HighLatency"), ("job", "web")]),
                starts_at: t0,
                ends_at: t0 + Duration::from_secs(60),
                ..Default::default()
            },
        ],
        group_labels: labels(&[
            ("alertname", "HighLatency"),
            ("key1", "v1"),
            ("key2", "v2"),
            ("key3", "v3"),
            ("key4", "v4"),
        ]),
        common_labels: labels(&[("job", "foo"), ("severity", "critical")]),
        external_url: "http://am:9093".into(),
        ..Default::default()
    }
}

fn am(text: &str) -> String {
    let t = Templates::load(&[], std::path::Path::new(".")).unwrap();
    t.execute_text(text, &am_data())
        .unwrap_or_else(|e| format!("ERR {e}"))
}

#[test]
fn alertmanager_functions() {
    assert_eq!(am("abc"), "abc");
    assert_eq!(am("{{ \"abc\" | toUpper }}"), "ABC");
    assert_eq!(am("{{ \"ABC\" | toLower }}"), "abc");
    assert_eq!(am("{{ \"abc\" | title }}"), "Abc");
    assert_eq!(am("{{ \"aa bb CC\" | title }}"), "Aa Bb Cc");
    assert_eq!(am("{{ \" a b c \" | trimSpace }}"), "a b c");
    assert_eq!(am("{{ if match \"^a\" \"abc\"}}abc{{ end }}"), "abc");
    assert_eq!(am("{{ if match \"abcd\" \"abc\" }}abc{{ end }}"), "");
    assert_eq!(
        am("{{ stringSlice \"a\" \"b\" \"c\" | join \",\" }}"),
        "a,b,c"
    );
    assert_eq!(am("{{ \"<b>\" }}"), "<b>");
    assert_eq!(
        am("{{ reReplaceAll \"ab\" \"AB\" \"abcdabcda\"}}"),
        "ABcdABcda"
    );
    assert_eq!(
        am("{{ \"search?q=test%20foo\" | urlUnescape }}"),
        "search?q=test foo"
    );
    assert_eq!(
        am("{{ with .GroupLabels }}{{ with .Remove (stringSlice \"key1\" \"key3\") }}{{ .SortedPairs.Values }}{{ end }}{{ end }}"),
        "[HighLatency v2 v4]"
    );
    assert_eq!(am("{{ \"test\" | toJson }}"), "\"test\"");
    assert_eq!(am("{{ 42 | toJson }}"), "42");
    assert_eq!(am("{{ true | toJson }}"), "true");
    assert_eq!(
        am("{{ .CommonLabels | toJson }}"),
        r#"{"job":"foo","severity":"critical"}"#
    );
    assert_eq!(
        am("{{ (index .Alerts 1) | toJson }}"),
        r#"{"status":"resolved","labels":{"alertname":"HighLatency","job":"web"},"annotations":{},"startsAt":"2024-01-01T08:15:30Z","endsAt":"2024-01-01T08:16:30Z","generatorURL":"","fingerprint":""}"#
    );
    assert_eq!(am("{{ \"test\" | base64encode }}"), "dGVzdA==");
    assert_eq!(am("{{ \"flush>>\" | base64encode }}"), "Zmx1c2g-Pg==");
    assert_eq!(am("{{ \"dGVzdA==\" | base64decode }}"), "test");
    assert!(am("{{ \"not-valid-base64!\" | base64decode }}").starts_with("ERR"));
    // Go prints an empty dict as "map[]"; an empty map is a KV here and
    // prints as KV.String() does: "" (see the crate docs).
    assert_eq!(am("{{- $test := dict -}}{{ $test }}"), "");
    assert_eq!(
        am("{{- $test := dict \"a\" 1 \"b\" 2 \"c\" 3 -}}{{ $test }}"),
        "map[a:1 b:2 c:3]"
    );
    assert!(am("{{ dict \"a\" }}").starts_with("ERR"));
    assert!(am("{{ dict 1 \"value\" }}").starts_with("ERR"));
    assert_eq!(am("{{- $test := list -}}{{ $test }}"), "[]");
    assert_eq!(
        am("{{- $test := list \"a\" \"b\" \"c\" -}}{{ $test }}"),
        "[a b c]"
    );
    assert_eq!(
        am("{{- $test := list \"a\" \"b\" -}}{{ $test = append $test \"c\" \"d\" -}}{{ $test }}"),
        "[a b c d]"
    );
    assert_eq!(
        am("{{- $newList := list -}}{{ range .Alerts }}{{ $m := dict \"status\" .Status \"job\" .Labels.job }}{{ $newList = append $newList $m }}{{ end }}{{ toJson $newList }}"),
        r#"[{"job":"api","status":"firing"},{"job":"web","status":"resolved"}]"#
    );
    assert_eq!(
        am("{{ (index .Alerts 0).StartsAt | date \"2006-01-02\" }}"),
        "2024-01-01"
    );
    assert_eq!(
        am("{{ (index .Alerts 0).StartsAt | tz \"Europe/Paris\" }}"),
        "2024-01-01 09:15:30 +0100 CET"
    );
    // Alertmanager: `{{ . | tz "Invalid/Timezone" }}` on a time fails at 1:7.
    let t = Templates::load(&[], std::path::Path::new(".")).unwrap();
    assert_eq!(
        t.execute_text("{{ with (index .Alerts 0).StartsAt }}{{ . | tz \"Invalid/Timezone\" }}{{ end }}", &am_data())
            .unwrap_err()
            .to_string(),
        "template: :1:44: executing \"\" at <tz \"Invalid/Timezone\">: error calling tz: unknown time zone Invalid/Timezone"
    );
    assert_eq!(
        am("{{ toDate \"2006-01-02\" \"2024-03-15\" | date \"02 Jan 2006\" }}"),
        "15 Mar 2024"
    );
    assert_eq!(
        am("{{ toDate \"2006-01-02\" \"not-a-date\" | date \"2006\" }}"),
        "0001"
    );
    assert_eq!(
        am("{{ mustToDate \"2006-01-02\" \"2024-03-15\" | date \"02 Jan 2006\" }}"),
        "15 Mar 2024"
    );
    assert!(am("{{ mustToDate \"2006-01-02\" \"not-a-date\" }}").ends_with(
        "error calling mustToDate: parsing time \"not-a-date\" as \"2006-01-02\": cannot parse \"not-a-date\" as \"2006\""
    ));
    assert_eq!(am("{{ humanizeDuration 1234567 }}"), "14d 6h 56m 7s");
    let since = am("{{ (index .Alerts 0).StartsAt | since | humanizeDuration }}");
    assert!(since.ends_with('s') && since.contains('d'), "{since}");
}

#[test]
fn alertmanager_data_model() {
    assert_eq!(
        am("{{ len .Alerts.Firing }} {{ len .Alerts.Resolved }}"),
        "1 1"
    );
    assert_eq!(
        am("{{ range .Alerts.Firing }}{{ .Labels.job }}{{ end }}"),
        "api"
    );
    assert_eq!(
        am("{{ .GroupLabels.Names }}"),
        "[alertname key1 key2 key3 key4]"
    );
    assert_eq!(
        am("{{ .GroupLabels.Values.Join \":\" }}"),
        "HighLatency:v1:v2:v3:v4"
    );
    assert_eq!(am("{{ .CommonLabels }}"), "job=foo, severity=critical");
    assert_eq!(
        am("{{ .GroupLabels.SortedPairs }}"),
        "alertname=HighLatency, key1=v1, key2=v2, key3=v3, key4=v4"
    );
    assert_eq!(
        am("{{ range .CommonLabels.SortedPairs }}{{ .Name }}={{ .Value }};{{ end }}"),
        "job=foo;severity=critical;"
    );
    assert_eq!(
        am("{{ .CommonLabels.nothere }}|{{ index .CommonLabels \"nothere\" }}|"),
        "||"
    );
    assert_eq!(
        am("{{ (index .Alerts 0).StartsAt }}"),
        "2024-01-01 08:15:30 +0000 UTC"
    );
    assert_eq!(
        am("{{ (index .Alerts 0).StartsAt.Format \"Jan 02, 2006 15:04:05 MST\" }}"),
        "Jan 01, 2024 08:15:30 UTC"
    );
    assert_eq!(
        am("{{ (index .Alerts 0).EndsAt.IsZero }} {{ (index .Alerts 1).EndsAt.IsZero }}"),
        "true false"
    );
    assert_eq!(
        am("{{ ((index .Alerts 1).EndsAt.Sub (index .Alerts 1).StartsAt) }}"),
        "1m0s"
    );
    assert_eq!(am("{{ (index .Alerts 0).StartsAt.Unix }}"), "1704096930");
    assert_eq!(
        am("{{ .Nope }}"),
        "ERR template: :1:3: executing \"\" at <.Nope>: can't evaluate field Nope in type template.Data"
    );
    // amtool: template: :1:12: executing "" at <{{template "nope" .}}>: template "nope" not defined
    assert_eq!(
        am("{{ template \"nope\" . }}"),
        "ERR template: :1:12: executing \"\" at <{{template \"nope\" .}}>: template \"nope\" not defined"
    );
    assert_eq!(
        am("{{ template \"__subject\" . }}"),
        "[FIRING:1] HighLatency v1 v2 v3 v4 "
    );
}

#[test]
fn route_labels() {
    let t = Templates::load(&[], std::path::Path::new(".")).unwrap();
    let mut d = am_data();
    d.route_labels = labels(&[
        ("rl1", "rl1"),
        ("rl2", "{{ .GroupLabels.key1 }}"),
        ("rl3", "{{ routeLabels \"rl2\" }} recursive"),
    ]);
    assert_eq!(
        t.execute_text("Simple: {{ routeLabels \"rl1\" }} - Templated: {{ routeLabels \"rl2\" }} - Recursive: {{ routeLabels \"rl3\" }}", &d).unwrap(),
        "Simple: rl1 - Templated: v1 - Recursive: v1 recursive"
    );
    assert_eq!(
        t.execute_text("[{{ routeLabels \"nope\" }}]", &d).unwrap(),
        "[]"
    );
    d.route_labels = labels(&[
        ("rl1", "{{ routeLabels \"rl2\" }}"),
        ("rl2", "{{ routeLabels \"rl1\" }}"),
    ]);
    let e = t
        .execute_text("{{ routeLabels \"rl1\" }}", &d)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("route label cycle detected: rl1 -> rl2 -> rl1"),
        "{e}"
    );
}

#[test]
fn alertmanager_html() {
    let t = Templates::load(&[], std::path::Path::new(".")).unwrap();
    let d = am_data();
    assert_eq!(t.execute_html("{{ \"<b>\" }}", &d).unwrap(), "&lt;b&gt;");
    assert_eq!(
        t.execute_html("{{ \"<b>\" | safeHtml }}", &d).unwrap(),
        "<b>"
    );
    assert_eq!(
        t.execute_html("<a href=\"/search?{{ \"q=test%20foo\" }}\"></a>", &d)
            .unwrap(),
        "<a href=\"/search?q%3dtest%2520foo\"></a>"
    );
    assert_eq!(
        t.execute_html(
            "<a href=\"/search?{{ \"q=test%20foo\" | safeUrl }}\"></a>",
            &d
        )
        .unwrap(),
        "<a href=\"/search?q=test%20foo\"></a>"
    );
    let html = t
        .execute_html("{{ template \"email.default.html\" . }}", &d)
        .unwrap();
    assert!(html.contains("HighLatency"), "{html}");
}

#[test]
fn user_templates_override() {
    let dir = std::env::temp_dir().join(format!("bongsu-template-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("a.tmpl"),
        "{{ define \"slack.default.title\" }}custom {{ .Status }}{{ end }}",
    )
    .unwrap();
    let t = Templates::load(&["*.tmpl".to_string(), "nomatch/*.tmpl".to_string()], &dir).unwrap();
    assert_eq!(
        t.execute_text("{{ template \"slack.default.title\" . }}", &am_data())
            .unwrap(),
        "custom firing"
    );
    std::fs::write(dir.join("b.tmpl"), "{{ define \"x\" }}{{ $nope }}{{ end }}").unwrap();
    let e = Templates::load(&["b.tmpl".to_string()], &dir)
        .unwrap_err()
        .to_string();
    assert_eq!(e, "template: b.tmpl:1: undefined variable \"$nope\"");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn templates_are_shareable_across_tasks() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Templates>();
    assert_send_sync::<TemplateError>();
}

#[test]
fn odd_inputs_give_errors_not_panics() {
    let l = labels(&[("t", "2024-01-01 00:00:00 +1\u{e4}2 X"), ("d", "5m\u{e4}")]);
    let ext = BTreeMap::new();
    let d = RuleTemplateData {
        labels: &l,
        external_labels: &ext,
        external_url: "not a url",
        value: f64::NAN,
    };
    for text in [
        r#"{{ $labels.t.Format "2006" }}"#,
        r#"{{ $labels.d.Seconds }}"#,
        r#"{{ $value | toTime }}"#,
        r#"{{ humanizeTimestamp 1e300 }}"#,
        r#"{{ reReplaceAll "(" "" "x" }}"#,
        r#"{{ match "[" "x" }}"#,
        r#"{{ printf "%[3]d %*d" 1 }}"#,
        r#"{{ index $labels "x" "y" }}"#,
        r#"{{ first 1 }}"#,
        r#"{{ label "a" 1 }}"#,
        r#"{{ sortByLabel "a" 1 }}"#,
        r#"{{ parseDuration "1x" }}"#,
        r#"{{ template "nope" }}"#,
        r#"{{ range 3 }}{{ . }}{{ end }}"#,
        r#"{{ $value.Foo }}"#,
        r#"{{ slice "abc" 5 }}"#,
    ] {
        let _ = expand_rule_template("__alert_X", text, &d, None);
    }
    let t = Templates::load(&[], std::path::Path::new(".")).unwrap();
    for text in [
        "{{ toDate \"Jan\" \"J\u{e4}n\" }}",
        "{{ mustToDate \"PM 3\" \"\u{e4}\u{e4} 3\" }}",
        "{{ base64decode \"\u{e4}\" }}",
        "{{ urlUnescape \"%\u{e4}\" }}",
        r#"{{ (index .Alerts 0).StartsAt.Add "nope" }}"#,
        r#"{{ .Alerts.Firing.Firing }}"#,
        r#"{{ .CommonLabels.Remove 1 }}"#,
        r#"{{ join 1 2 }}"#,
    ] {
        let _ = t.execute_text(text, &am_data());
        let _ = t.execute_html(text, &am_data());
    }
}

#[test]
fn regexes_follow_go_re2() {
    // Go's \d is ASCII; \Q…\E quotes.
    ok(
        r#"{{ reReplaceAll "\\d+" "N" "a١٢b12" }}"#,
        Value::Nil,
        "a١٢bN",
    );
    ok(
        r#"{{ match "\\Qa.b\\E" "a.b" }} {{ match "\\Qa.b\\E" "axb" }}"#,
        Value::Nil,
        "true false",
    );
    assert_eq!(
        am(r#"{{ reReplaceAll "(\\w+)@(\\w+)" "${2}:$1" "me@host" }}"#),
        "host:me"
    );
    let e = prom(r#"{{ match "(" "x" }}"#, Value::Nil, vec![], false).unwrap_err();
    assert!(
        e.contains("error calling match: regexp: Compile(`(`): error parsing regexp:"),
        "{e}"
    );
}

#[test]
fn html_missing_value_is_empty() {
    // Prometheus: "Missing value is \"\" for nil options in ExpandHTML."
    assert_eq!(prom("{{ .Foo }}", Value::Nil, vec![], true).unwrap(), "");
}
