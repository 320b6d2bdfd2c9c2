//! Shared by the PromQL parser and oracle tests: the upstream corpus of
//! `eval` expressions and a span-free AST normal form for comparing parses.

use bongsu_promql::ast::*;
use std::path::PathBuf;

/// `promql/testdata` under BONGSU_CONFORMANCE_DIR (default
/// `../shared/conformance`). Absent: a loud note (`what_runs` says what the
/// caller still does), and a failure under CI=true.
fn conformance_dir(what_runs: &str) -> Option<PathBuf> {
    let dir = match std::env::var_os("BONGSU_CONFORMANCE_DIR") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance"),
    };
    let testdata = dir.join("promql/testdata");
    if testdata.is_dir() {
        return Some(testdata);
    }
    eprintln!(
        "\n!!!!!!!! PromQL conformance corpus not found at {} — set BONGSU_CONFORMANCE_DIR. {what_runs} !!!!!!!!\n",
        testdata.display()
    );
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("conformance corpus missing in CI ({})", testdata.display());
    }
    None
}

/// (file, line, expression) for every eval command.
pub fn corpus(what_runs: &str) -> Vec<(String, usize, String)> {
    let Some(dir) = conformance_dir(what_runs) else { return Vec::new() };
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("read testdata dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "test"))
        .collect();
    files.sort();
    let mut out = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).expect("read test file");
        let name = f.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        for (i, line) in text.split('\n').enumerate() {
            let line = line.trim();
            let Some(first) = line.split_whitespace().next() else { continue };
            if !first.starts_with("eval") {
                continue;
            }
            let words: Vec<&str> = line.splitn(2, char::is_whitespace).collect();
            let rest = words.get(1).copied().unwrap_or("").trim_start();
            // `instant at <t> <expr>` or `range from <a> to <b> step <s> <expr>`.
            let skip = if rest.starts_with("instant") { 3 } else { 7 };
            let mut r = rest;
            for _ in 0..skip {
                r = r.trim_start();
                r = r.find(char::is_whitespace).map(|i| &r[i..]).unwrap_or("");
            }
            out.push((name.clone(), i + 1, r.trim().to_string()));
        }
    }
    out
}


/// Clears spans (and presentational fields) so that ASTs from different
/// texts can be compared. `drop_name`: `foo` and `{__name__="foo"}` compare
/// equal (the name is also a `__name__` matcher).
fn strip(e: &mut Expr, drop_name: bool) {
    fn dur(d: &mut DurationExpr, drop_name: bool) {
        if let DurationExpr::Expr(e) = d {
            strip(e, drop_name);
        }
    }
    fn vs(v: &mut VectorSelector, drop_name: bool) {
        v.span = Span::default();
        if drop_name {
            v.name = None;
        }
        // The printer sorts matchers, as Prometheus does.
        v.matchers.sort_by_key(|m| m.to_string());
        if let Some(o) = v.offset.as_mut() {
            dur(o, drop_name);
        }
    }
    match e {
        Expr::Number(_, s) | Expr::String(_, s) => *s = Span::default(),
        Expr::VectorSelector(v) => vs(v, drop_name),
        Expr::MatrixSelector(m) => {
            m.span = Span::default();
            vs(&mut m.selector, drop_name);
            dur(&mut m.range, drop_name);
        }
        Expr::Subquery(sq) => {
            sq.span = Span::default();
            strip(&mut sq.expr, drop_name);
            dur(&mut sq.range, drop_name);
            if let Some(s) = sq.step.as_mut() {
                dur(s, drop_name);
            }
            if let Some(o) = sq.offset.as_mut() {
                dur(o, drop_name);
            }
        }
        Expr::Call(c) => {
            c.span = Span::default();
            c.args.iter_mut().for_each(|a| strip(a, drop_name));
        }
        Expr::Aggregate(a) => {
            a.span = Span::default();
            // `by ()` prints as nothing, as in Prometheus.
            a.has_grouping_clause = a.without || !a.grouping.is_empty();
            strip(&mut a.expr, drop_name);
            if let Some(p) = a.param.as_mut() {
                strip(p, drop_name);
            }
        }
        Expr::Binary(b) => {
            b.span = Span::default();
            strip(&mut b.lhs, drop_name);
            strip(&mut b.rhs, drop_name);
        }
        Expr::Neg(inner, s) | Expr::Paren(inner, s) => {
            *s = Span::default();
            strip(inner, drop_name);
        }
    }
}

/// The AST without spans, printed with `Debug`, for equality checks.
pub fn normalized(e: &Expr, drop_name: bool) -> String {
    let mut e = e.clone();
    strip(&mut e, drop_name);
    format!("{e:?}")
}
