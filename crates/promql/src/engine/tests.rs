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
