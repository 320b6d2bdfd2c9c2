//! Evaluator tests over hand-built ASTs (independent of the parser).
use super::*;
use crate::ast::*;
use crate::memstore::MemStore;
use bongsu_model::Matcher;

fn sel(name: &str) -> VectorSelector {
    VectorSelector {
        name: Some(name.into()),
        matchers: vec![Matcher::equal("__name__", name)],
        offset: None,
        at: None,
        anchored: false,
        smoothed: false,
        span: Span::default(),
    }
}

fn store() -> MemStore {
    let s = MemStore::new();
    for i in 0..=10 {
        s.add(Labels::from_pairs([("__name__", "req_total"), ("job", "a")]), i * 60_000, (i * 10) as f64);
        s.add(Labels::from_pairs([("__name__", "req_total"), ("job", "b")]), i * 60_000, (i * 20) as f64);
    }
    s
}

fn engine() -> Engine {
    Engine::new(EngineOptions { features: vec!["promql-delayed-name-removal".into()], ..Default::default() })
}

#[test]
fn vector_selector_and_lookback() {
    let s = store();
    let e = Expr::VectorSelector(sel("req_total"));
    let r = engine().instant_query_expr(&s, &e, 600_000).unwrap();
    match r.value {
        Value::Vector(v) => {
            assert_eq!(v.len(), 2);
            assert_eq!(v[0].v, 100.0);
        }
        other => panic!("{other:?}"),
    }
    // 5m after the last sample nothing is left (left-open lookback).
    let r = engine().instant_query_expr(&s, &e, 900_000).unwrap();
    assert_eq!(r.value, Value::Vector(vec![]));
}

#[test]
fn rate_and_sum() {
    let s = store();
    let rate = Expr::Call(Call {
        func: "rate".into(),
        args: vec![Expr::MatrixSelector(MatrixSelector { selector: sel("req_total"), range: DurationExpr::Millis(300_000), span: Span::default() })],
        span: Span::default(),
    });
    let sum = Expr::Aggregate(Aggregate {
        op: AggregateOp::Sum,
        expr: Box::new(rate),
        param: None,
        grouping: vec![],
        without: false,
        has_grouping_clause: false,
        span: Span::default(),
    });
    let r = engine().instant_query_expr(&s, &sum, 600_000).unwrap();
    match r.value {
        Value::Vector(v) => {
            assert_eq!(v.len(), 1);
            assert!((v[0].v - 0.5).abs() < 1e-9, "{}", v[0].v);
            assert!(v[0].labels.is_empty());
        }
        other => panic!("{other:?}"),
    }
    let r = engine().range_query_expr(&s, &sum, 300_000, 600_000, 60_000).unwrap();
    match r.value {
        Value::Matrix(m) => assert_eq!(m[0].samples.len(), 6),
        other => panic!("{other:?}"),
    }
}

#[test]
fn binary_one_to_one_drops_name() {
    let s = store();
    let b = Expr::Binary(Binary {
        op: BinaryOp::Mul,
        lhs: Box::new(Expr::VectorSelector(sel("req_total"))),
        rhs: Box::new(Expr::VectorSelector(sel("req_total"))),
        return_bool: false,
        matching: Some(VectorMatching { card: Cardinality::OneToOne, labels: vec![], on: false, include: vec![], fill: FillModifier::default() }),
        span: Span::default(),
    });
    let r = engine().instant_query_expr(&s, &b, 60_000).unwrap();
    match r.value {
        Value::Vector(v) => {
            assert_eq!(v.len(), 2);
            assert!(v.iter().all(|x| x.labels.get("__name__").is_none()));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn parsed_queries_end_to_end() {
    let s = store();
    let e = engine();
    let r = e.instant_query(&s, r#"sum by (job) (rate(req_total[5m])) * on(job) group_left() max by (job) (req_total)"#, 600_000).unwrap();
    match r.value {
        Value::Vector(v) => assert_eq!(v.len(), 2),
        other => panic!("{other:?}"),
    }
    let r = e.instant_query(&s, "max_over_time(rate(req_total[2m])[5m:1m])", 600_000).unwrap();
    match r.value {
        Value::Vector(v) => assert_eq!(v.len(), 2),
        other => panic!("{other:?}"),
    }
    let err = e.instant_query(&s, "req_total + on() req_total", 600_000).unwrap_err();
    assert!(err.to_string().starts_with("found duplicate series for the match group {} on the right hand-side"), "{err}");
    let r = e.instant_query(&s, "rate(req_total[5m] @ 300)", 600_000).unwrap();
    assert!(matches!(r.value, Value::Vector(ref v) if v.len() == 2));
}

#[test]
fn limits_and_timeouts() {
    let s = store();
    let e = Engine::new(EngineOptions { max_samples: 3, ..Default::default() });
    let err = e.instant_query(&s, "req_total[10m]", 600_000).unwrap_err();
    assert_eq!(err.error_type(), "execution");
    assert!(err.to_string().contains("too many samples"), "{err}");
    let e = Engine::new(EngineOptions { timeout: Duration::from_millis(0), ..Default::default() });
    let err = e.range_query(&s, "sum_over_time(req_total[1m:1s])", 0, 6_000_000, 1_000).unwrap_err();
    assert_eq!(err.error_type(), "timeout");
}

#[test]
#[ignore]
fn perf_smoke() {
    let s = MemStore::new();
    for i in 0..200 {
        let l = Labels::from_pairs([("__name__", "m_total".to_string()), ("job", format!("j{}", i % 10)), ("i", i.to_string())]);
        let samples = (0..5760).map(|k| Sample { t: k * 15_000, v: (k * i) as f64 }).collect();
        s.set_series(l, samples);
    }
    let e = Engine::new(EngineOptions::default());
    let t0 = Instant::now();
    let r = e.range_query(&s, "sum by (job) (rate(m_total[5m]))", 0, 86_400_000, 60_000).unwrap();
    eprintln!("range rate: {:?}", t0.elapsed());
    assert!(matches!(r.value, Value::Matrix(ref m) if m.len() == 10));
    let t0 = Instant::now();
    let _ = e.range_query(&s, "max_over_time(sum by (job) (rate(m_total[5m]))[1h:1m])", 0, 86_400_000, 300_000).unwrap();
    eprintln!("range subquery: {:?}", t0.elapsed());
}

#[test]
fn extreme_times_do_not_panic() {
    let s = store();
    let e = Engine::new(EngineOptions { timeout: Duration::from_millis(200), ..Default::default() });
    for q in [
        "req_total @ 9e15",
        "req_total offset 1000000y",
        "rate(req_total[1000000y])",
        "req_total @ -9e15 offset -1000000y",
        "max_over_time(req_total[1000000y:1000000y])",
        "count_over_time(nonexistent[1000000y:1ms])",
        "topk(1e300, req_total)",
        "quantile(NaN, req_total)",
        "round(req_total, 0)",
        "day_of_week(vector(1e300))",
    ] {
        let _ = e.instant_query(&s, q, 600_000);
        let _ = e.range_query(&s, q, -1_000_000, 1_000_000, 500_000);
    }
    let err = e.instant_query(&s, "count_over_time(nonexistent[1d:1ms])", 600_000).unwrap_err();
    assert_eq!(err.error_type(), "timeout", "{err}");
}

// ---------------------------------------------------------------- start timestamps
// (these parse their queries: the cases are about data, not syntax)

/// A delta counter (each sample's start time is the previous sample's time)
/// and a gauge-like series without start timestamps.
fn st_store() -> MemStore {
    let s = MemStore::new();
    let d = Labels::from_pairs([("__name__", "d_total")]);
    let n = Labels::from_pairs([("__name__", "n_total")]);
    for i in 1..=10 {
        s.add_with_st(d.clone(), (i - 1) * 60_000, i * 60_000, 60.0);
        s.add(n.clone(), i * 60_000, (i * 60) as f64);
    }
    s
}

fn st_engine(on: bool) -> Engine {
    let mut features = vec!["promql-delayed-name-removal".to_string()];
    if on {
        features.push("use-start-timestamps".into());
    }
    Engine::new(EngineOptions { features, ..Default::default() })
}

fn values(r: &QueryResult) -> Vec<(String, f64)> {
    match &r.value {
        Value::Vector(v) => v.iter().map(|s| (s.labels.to_string(), s.v)).collect(),
        other => panic!("{other:?}"),
    }
}

#[test]
fn start_timestamps_only_with_the_feature() {
    let s = st_store();
    // Off (the default): the delta series is a flat counter.
    let r = st_engine(false).instant_query(&s, "increase(d_total[5m])", 600_000).unwrap();
    assert_eq!(values(&r), vec![("{}".to_string(), 0.0)]);
    assert!(values(&st_engine(false).instant_query(&s, "start_timestamp(d_total)", 600_000).unwrap()).is_empty());
    // On: every sample is a reset, 60 per minute.
    let r = st_engine(true).instant_query(&s, "increase(d_total[5m])", 600_000).unwrap();
    assert_eq!(values(&r), vec![("{}".to_string(), 300.0)]);
    let r = st_engine(true).instant_query(&s, "irate(d_total[5m])", 600_000).unwrap();
    assert_eq!(values(&r), vec![("{}".to_string(), 1.0)]);
    let r = st_engine(true).instant_query(&s, "resets(d_total[5m])", 600_000).unwrap();
    assert_eq!(values(&r), vec![("{}".to_string(), 4.0)]);
    // A series without start timestamps is unchanged.
    for q in ["increase(n_total[5m])", "resets(n_total[5m])", "irate(n_total[5m])"] {
        assert_eq!(
            values(&st_engine(true).instant_query(&s, q, 600_000).unwrap()),
            values(&st_engine(false).instant_query(&s, q, 600_000).unwrap()),
            "{q}"
        );
    }
    // delta() does not read them (Prometheus collects them for rate, increase, irate, resets).
    let r = st_engine(true).instant_query(&s, "delta(d_total[5m])", 600_000).unwrap();
    assert_eq!(values(&r), vec![("{}".to_string(), 0.0)]);
}

#[test]
fn start_timestamp_function() {
    let s = st_store();
    let e = st_engine(true);
    // The selected sample's (at 9m30s: the one at 9m) start time in seconds; 0 when unknown.
    let r = e.instant_query(&s, "start_timestamp(d_total)", 570_000).unwrap();
    assert_eq!(values(&r), vec![("{}".to_string(), 480.0)]);
    let r = e.instant_query(&s, "start_timestamp(n_total)", 570_000).unwrap();
    assert_eq!(values(&r), vec![("{}".to_string(), 0.0)]);
    let r = e.instant_query(&s, "start_timestamp(d_total @ 300 offset 1m)", 0).unwrap();
    assert_eq!(values(&r), vec![("{}".to_string(), 180.0)]);
    // Lost through an expression; nothing after the lookback.
    assert!(values(&e.instant_query(&s, "start_timestamp(d_total * 1)", 570_000).unwrap()).is_empty());
    assert!(values(&e.instant_query(&s, "start_timestamp(d_total)", 2_000_000).unwrap()).is_empty());
    // A range query over the selector, both evaluators.
    for fast in [true, false] {
        let e = Engine::new(EngineOptions { features: vec!["use-start-timestamps".into()], series_at_a_time: fast, ..Default::default() });
        let r = e.range_query(&s, "start_timestamp(d_total)", 60_000, 180_000, 30_000).unwrap();
        match r.value {
            Value::Matrix(m) => {
                let v: Vec<f64> = m[0].samples.iter().map(|p| p.v).collect();
                assert_eq!(v, vec![0.0, 0.0, 60.0, 60.0, 120.0]);
            }
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn start_timestamp_reset_rules() {
    use super::funcs::st_reset;
    // (prev st, prev t, cur st, cur t)
    assert!(!st_reset(0, 100, 0, 200), "unknown");
    assert!(!st_reset(0, 100, 200, 200), "st = t: OTel unknown start");
    assert!(!st_reset(0, 100, 300, 200), "st > t: invalid");
    assert!(!st_reset(0, 100, 50, 200), "cumulative: started before the previous sample");
    assert!(st_reset(0, 100, 150, 200), "restarted after the previous sample");
    assert!(st_reset(40, 100, 100, 200), "delta: starts at the previous sample");
    assert!(!st_reset(0, 100, 100, 200), "cumulative of unknown start (previous st unknown)");
    assert!(!st_reset(100, 100, 100, 200), "cumulative of unknown start (previous st = its t)");
    assert!(!st_reset(160, 100, 100, 200), "previous st invalid");
}

#[test]
fn label_names_that_are_not_utf8_are_refused() {
    // Prometheus' UTF-8 validation: "\xff" is one byte that is not UTF-8.
    let s = store();
    let e = engine();
    let err = |q: &str| e.instant_query(&s, q, 600_000).err().map(|e| e.to_string()).unwrap_or_default();
    assert_eq!(
        err(r#"label_replace(req_total, "\xff", "", "job", "(.*)")"#),
        "invalid destination label name in label_replace(): \u{fffd}"
    );
    assert_eq!(err(r#"label_join(req_total, "\xff", "-", "job")"#), "invalid destination label name in label_join(): \u{fffd}");
    assert_eq!(err(r#"label_join(req_total, "x", "-", ("a\xff"))"#), "invalid source label name in label_join(): a\u{fffd}");
    assert_eq!(err(r#"count_values("\xff", req_total)"#), r#"invalid label name "\xff""#);
    // The same character written as UTF-8 bytes or as a code point is a label name.
    for q in [r#"label_replace(req_total, "\xc3\xbf", "x", "job", "(.*)")"#, r#"label_replace(req_total, "\u00ff", "x", "job", "(.*)")"#] {
        let r = e.instant_query(&s, q, 600_000).unwrap();
        let Value::Vector(v) = r.value else { panic!() };
        assert_eq!(v[0].labels.get("ÿ"), Some("x"), "{q}");
    }
    // Label values may be any bytes in Prometheus; here they carry U+FFFD.
    let r = e.instant_query(&s, r#"label_replace(req_total, "x", "\xff", "job", "(.*)")"#, 600_000).unwrap();
    let Value::Vector(v) = r.value else { panic!() };
    assert_eq!(v[0].labels.get("x"), Some("\u{fffd}"));
}
