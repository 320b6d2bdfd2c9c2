//! Parser acceptance tests:
//! 1. every `eval` expression of the upstream PromQL conformance scripts
//!    parses (upstream parses all of them with the feature flags on);
//! 2. printing then re-parsing gives the same AST (the test runner's
//!    `@`-invariance check re-parses printed expressions);
//! 3. error messages and positions for bad input, taken from Prometheus'
//!    `promql/parser/parse_test.go` (v3.14.0).

use bongsu_promql::ast::*;
use bongsu_promql::parser::parse;
use std::path::PathBuf;

fn conformance_dir() -> Option<PathBuf> {
    let dir = match std::env::var_os("BONGSU_CONFORMANCE_DIR") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance"),
    };
    let testdata = dir.join("promql/testdata");
    if testdata.is_dir() {
        return Some(testdata);
    }
    eprintln!(
        "\n!!!!!!!! PromQL conformance corpus not found at {} — set BONGSU_CONFORMANCE_DIR. \
         Corpus tests SKIPPED. !!!!!!!!\n",
        testdata.display()
    );
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("conformance corpus missing in CI");
    }
    None
}

/// (file, line, expression) for every eval command.
fn corpus() -> Vec<(String, usize, String)> {
    let Some(dir) = conformance_dir() else { return Vec::new() };
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

/// Clears spans (and makes NaN comparable) so that ASTs from different
/// texts can be compared.
fn strip(e: &mut Expr) {
    fn dur(d: &mut DurationExpr) {
        if let DurationExpr::Expr(e) = d {
            strip(e);
        }
    }
    fn vs(v: &mut VectorSelector) {
        v.span = Span::default();
        // The printer sorts matchers, as Prometheus does.
        v.matchers.sort_by_key(|m| m.to_string());
        if let Some(o) = v.offset.as_mut() {
            dur(o);
        }
    }
    match e {
        Expr::Number(_, s) | Expr::String(_, s) => *s = Span::default(),
        Expr::VectorSelector(v) => vs(v),
        Expr::MatrixSelector(m) => {
            m.span = Span::default();
            vs(&mut m.selector);
            dur(&mut m.range);
        }
        Expr::Subquery(sq) => {
            sq.span = Span::default();
            strip(&mut sq.expr);
            dur(&mut sq.range);
            if let Some(s) = sq.step.as_mut() {
                dur(s);
            }
            if let Some(o) = sq.offset.as_mut() {
                dur(o);
            }
        }
        Expr::Call(c) => {
            c.span = Span::default();
            c.args.iter_mut().for_each(strip);
        }
        Expr::Aggregate(a) => {
            a.span = Span::default();
            // `by ()` prints as nothing, as in Prometheus.
            a.has_grouping_clause = a.without || !a.grouping.is_empty();
            strip(&mut a.expr);
            if let Some(p) = a.param.as_mut() {
                strip(p);
            }
        }
        Expr::Binary(b) => {
            b.span = Span::default();
            strip(&mut b.lhs);
            strip(&mut b.rhs);
        }
        Expr::Neg(inner, s) | Expr::Paren(inner, s) => {
            *s = Span::default();
            strip(inner);
        }
    }
}

fn normalized(e: &Expr) -> String {
    let mut e = e.clone();
    strip(&mut e);
    format!("{e:?}")
}

#[test]
fn corpus_parses() {
    let corpus = corpus();
    if corpus.is_empty() {
        return;
    }
    let mut failures = Vec::new();
    for (file, line, expr) in &corpus {
        if let Err(e) = parse(expr) {
            failures.push(format!("{file}:{line}: {expr}\n    {e}"));
        }
    }
    let ok = corpus.len() - failures.len();
    println!("conformance corpus parse rate: {ok}/{} expressions", corpus.len());
    assert!(failures.is_empty(), "{} expressions failed to parse:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn corpus_round_trips() {
    let corpus = corpus();
    let mut failures = Vec::new();
    let mut checked = 0;
    for (file, line, expr) in &corpus {
        let Ok(ast) = parse(expr) else { continue };
        checked += 1;
        let printed = ast.to_string();
        match parse(&printed) {
            Ok(again) => {
                if normalized(&ast) != normalized(&again) {
                    failures.push(format!("{file}:{line}: {expr}\n    printed: {printed}\n    AST differs"));
                } else if again.to_string() != printed {
                    failures.push(format!("{file}:{line}: {expr}\n    printed: {printed}\n    reprinted: {again}"));
                }
            }
            Err(e) => failures.push(format!("{file}:{line}: {expr}\n    printed: {printed}\n    {e}")),
        }
    }
    println!("round-trip: {}/{checked} expressions", checked - failures.len());
    assert!(failures.is_empty(), "{} round-trip failures:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn extra_round_trips() {
    for q in [
        r#"sum by (job) (rate(http_requests_total{job="api"}[5m] offset 1m))"#,
        "foo @ 100.000",
        "-2 ^ 2",
        "1 - -1",
        "2 ^ -1 ^ 2",
        r#"{"my.metric", "a.b"="x"}"#,
        r#"{__name__=~"a|b"}"#,
        "sum(foo) by (\"a.b\")",
        "foo[5m+1m:step()] offset (1h * 2)",
        "foo offset -min_of(step(), 1s) + 8000",
        "a </ b >/ c",
        "sum + sum(sum)",
        "fill + fill(1) fill",
        "count_values(\"x\", foo) without ()",
        "foo[5m] anchored @ end() offset 1m",
        "0x1f + 1_000 + .5e3 + Inf - nan",
        "rate(foo[1m])[5m:] @ 10",
        "label_join(up, \"a\", \",\", \"b\", \"c\")",
    ] {
        let ast = parse(q).unwrap_or_else(|e| panic!("{q}: {e}"));
        let printed = ast.to_string();
        let again = parse(&printed).unwrap_or_else(|e| panic!("{q} printed as {printed}: {e}"));
        assert_eq!(normalized(&ast), normalized(&again), "{q} printed as {printed}");
    }
}

/// (input, error start byte, message) from Prometheus' parse_test.go.
const UPSTREAM_ERRORS: &[(&str, usize, &str)] = &[
    ("", 0, "no expression found in input"),
    ("# just a comment\n\n", 0, "no expression found in input"),
    ("1+", 2, "unexpected end of input"),
    (".", 0, "unexpected character: '.'"),
    ("2.5.", 0, "bad number or duration syntax: \"2.5.\""),
    ("100..4", 0, "bad number or duration syntax: \"100..\""),
    ("0deadbeef", 0, "bad number or duration syntax: \"0de\""),
    ("1 /", 3, "unexpected end of input"),
    ("*1", 0, "unexpected <op:*>"),
    ("(1))", 4, "unexpected right parenthesis ')'"),
    ("((1)", 4, "unclosed left parenthesis"),
    ("(", 1, "unclosed left parenthesis"),
    ("1 and 1", 0, "set operator \"and\" not allowed in binary scalar expression"),
    ("1 == 1", 2, "comparisons between scalars must use BOOL modifier"),
    ("1 or 1", 0, "set operator \"or\" not allowed in binary scalar expression"),
    ("1 unless 1", 0, "set operator \"unless\" not allowed in binary scalar expression"),
    ("1 !~ 1", 2, "unexpected character after '!': '~'"),
    ("1 =~ 1", 2, "unexpected character after '=': '~'"),
    ("-\"string\"", 0, "unary expression only allowed on expressions of type scalar or instant vector, got \"string\""),
    ("-test[5m]", 0, "unary expression only allowed on expressions of type scalar or instant vector, got \"range vector\""),
    ("*test", 0, "unexpected <op:*>"),
    ("@@", 0, "unexpected <op:@>"),
    ("1 offset 1d", 0, "offset modifier must be preceded by an instant vector selector or range vector selector or a subquery"),
    ("foo offset 1s offset 2s", 0, "offset may not be set multiple times"),
    ("a - on(b) ignoring(c) d", 10, "unexpected <ignoring>"),
    ("foo and 1", 0, "set operator \"and\" not allowed in binary scalar expression"),
    ("1 and foo", 0, "set operator \"and\" not allowed in binary scalar expression"),
    ("foo or 1", 0, "set operator \"or\" not allowed in binary scalar expression"),
    ("1 or foo", 0, "set operator \"or\" not allowed in binary scalar expression"),
    ("foo unless 1", 0, "set operator \"unless\" not allowed in binary scalar expression"),
    ("1 unless foo", 0, "set operator \"unless\" not allowed in binary scalar expression"),
    ("1 or on(bar) foo", 0, "vector matching only allowed between instant vectors"),
    ("foo == on(bar) 10", 0, "vector matching only allowed between instant vectors"),
    ("foo + group_left(baz) bar", 6, "unexpected <group_left>"),
    ("foo and on(bar) group_left(baz) bar", 0, "no grouping allowed for \"and\" operation"),
    ("foo and on(bar) group_right(baz) bar", 0, "no grouping allowed for \"and\" operation"),
    ("foo or on(bar) group_left(baz) bar", 0, "no grouping allowed for \"or\" operation"),
    ("foo or on(bar) group_right(baz) bar", 0, "no grouping allowed for \"or\" operation"),
    ("foo unless on(bar) group_left(baz) bar", 0, "no grouping allowed for \"unless\" operation"),
    ("foo unless on(bar) group_right(baz) bar", 0, "no grouping allowed for \"unless\" operation"),
    ("http_requests{group=\"production\"} + on(instance) group_left(job,instance) cpu_count{type=\"smp\"}", 34, "label \"instance\" must not occur in ON and GROUP clause at once"),
    ("foo + bool bar", 4, "bool modifier can only be used on comparison operators"),
    ("foo + bool 10", 4, "bool modifier can only be used on comparison operators"),
    ("foo and bool 10", 4, "bool modifier can only be used on comparison operators"),
    ("foo @ +Inf", 0, "timestamp out of bounds for @ modifier: +Inf"),
    ("foo @ -Inf", 0, "timestamp out of bounds for @ modifier: -Inf"),
    ("foo @ NaN", 0, "timestamp out of bounds for @ modifier: NaN"),
    ("{", 1, "unexpected end of input inside braces"),
    ("}", 0, "unexpected character: '}'"),
    ("some{", 5, "unexpected end of input inside braces"),
    ("some}", 4, "unexpected character: '}'"),
    ("some_metric{a=b}", 14, "unexpected identifier \"b\" in label matching, expected string"),
    ("some_metric{a:b=\"b\"}", 13, "unexpected character inside braces: ':'"),
    ("foo{a*\"b\"}", 5, "unexpected character inside braces: '*'"),
    ("foo{gibberish}", 13, "unexpected \"}\" in label matching, expected label matching operator"),
    ("foo{1}", 4, "unexpected character inside braces: '1'"),
    ("{}", 0, "vector selector must contain at least one non-empty matcher"),
    ("{x=\"\"}", 0, "vector selector must contain at least one non-empty matcher"),
    ("{x=~\".*\"}", 0, "vector selector must contain at least one non-empty matcher"),
    ("{x!~\".+\"}", 0, "vector selector must contain at least one non-empty matcher"),
    ("{x!=\"a\"}", 0, "vector selector must contain at least one non-empty matcher"),
    ("foo{__name__=\"bar\"}", 0, "metric name must not be set twice: \"foo\" or \"bar\""),
    ("foo{__name__= =}", 14, "unexpected \"=\" in label matching, expected string"),
    ("foo{,}", 4, "unexpected \",\" in label matching, expected identifier or \"}\""),
    ("foo{__name__ == \"bar\"}", 14, "unexpected \"=\" in label matching, expected string"),
    ("foo{__name__=\"bar\" lol}", 19, "unexpected identifier \"lol\" in label matching, expected \",\" or \"}\""),
    ("foo{\"a\"=}", 8, "unexpected \"}\" in label matching, expected string"),
    ("foo[5mm]", 4, "bad number or duration syntax: \"5mm\""),
    ("foo[5m1]", 4, "bad number or duration syntax: \"5m1\""),
    ("foo[5m:1m1]", 7, "bad number or duration syntax: \"1m1\""),
    ("foo[5y1hs]", 4, "unknown unit \"hs\" in duration \"5y1hs\""),
    ("foo[5m1h]", 4, "not a valid duration string: \"5m1h\""),
    ("foo[5m1m]", 4, "not a valid duration string: \"5m1m\""),
    ("foo[0m]", 4, "duration must be greater than 0"),
    ("foo[]", 4, "unexpected \"]\" in subquery or range selector, expected number, duration, step(), or range()"),
    ("foo[-1]", 4, "duration must be greater than 0"),
    ("some_metric[5m] OFFSET 1mm", 23, "bad number or duration syntax: \"1mm\""),
    ("some_metric[5m] OFFSET", 22, "unexpected end of input in offset, expected number, duration, step(), or range()"),
    ("some_metric OFFSET 1m[5m]", 21, "no offset modifiers allowed before range"),
    ("some_metric[5m] @", 17, "unexpected end of input in @, expected timestamp"),
    ("some_metric @ 1234 [5m]", 19, "no @ modifiers allowed before range"),
    ("(foo + bar)[5m]", 11, "ranges only allowed for vector selectors"),
    ("sum by (\"foo)(some_metric{})", 8, "unterminated quoted string"),
    ("sum without(==)(some_metric)", 12, "unexpected <op:==> in grouping opts, expected label"),
    ("sum without(,)(some_metric)", 12, "unexpected \",\" in grouping opts, expected label"),
    ("sum without(foo,,)(some_metric)", 16, "unexpected \",\" in grouping opts, expected label"),
    ("sum some_metric by (test)", 4, "unexpected identifier \"some_metric\""),
    ("sum (some_metric) by test", 21, "unexpected identifier \"test\" in grouping opts, expected \"(\""),
    ("sum () by (test)", 0, "no arguments for aggregate expression provided"),
    ("MIN keep_common (some_metric)", 4, "unexpected identifier \"keep_common\""),
    ("MIN (some_metric) keep_common", 18, "unexpected identifier \"keep_common\""),
    ("sum (some_metric) without (test) by (test)", 33, "unexpected <by>"),
    ("sum without (test) (some_metric) by (test)", 33, "unexpected <by>"),
    ("topk(some_metric)", 0, "wrong number of arguments for aggregate expression provided, expected 2, got 1"),
    ("topk(some_metric,)", 16, "trailing commas not allowed in function call args"),
    ("topk(some_metric, other_metric)", 5, "expected type scalar in aggregation parameter, got instant vector"),
    ("count_values(5, other_metric)", 13, "expected type string in aggregation parameter, got scalar"),
    ("rate(some_metric[5m]) @ 1234", 0, "@ modifier must be preceded by an instant vector selector or range vector selector or a subquery"),
    ("floor()", 0, "expected 1 argument(s) in call to \"floor\", got 0"),
    ("floor(some_metric, other_metric)", 0, "expected 1 argument(s) in call to \"floor\", got 2"),
    ("floor(some_metric, 1)", 0, "expected 1 argument(s) in call to \"floor\", got 2"),
    ("floor(1)", 6, "expected type instant vector in call to function \"floor\", got scalar"),
    ("hour(some_metric, some_metric, some_metric)", 0, "expected at most 1 argument(s) in call to \"hour\", got 3"),
    ("time(some_metric)", 0, "expected 0 argument(s) in call to \"time\", got 1"),
    ("non_existent_function_far_bar()", 0, "unknown function with name \"non_existent_function_far_bar\""),
    ("rate(some_metric)", 5, "expected type range vector in call to function \"rate\", got instant vector"),
    ("-=", 1, "unexpected \"=\""),
    ("++-++-+-+-<", 10, "unexpected <op:<>"),
    ("e-+=/(0)", 3, "unexpected \"=\""),
    ("a>b()", 2, "unknown function with name \"b\""),
    ("rate(avg)", 5, "expected type range vector in call to function \"rate\", got instant vector"),
    ("`\\``", 3, "unterminated raw string"),
    ("\"\\", 0, "escape sequence not terminated"),
    ("\"\\c\"", 0, "unknown escape sequence U+0063 'c'"),
    ("\"\\x.\"", 0, "illegal character U+002E '.' in escape sequence"),
    ("foo{bar=\"baz\"}[", 15, "unexpected end of input in duration expression"),
    ("test[5d] OFFSET 10s [10m:5s]", 0, "subquery is only allowed on instant vector, got matrix instead"),
    ("(foo + bar{nm=\"val\"})[5m:][10m:5s]", 0, "subquery is only allowed on instant vector, got matrix instead"),
    ("rate(food[1m])[1h] offset 1h", 14, "ranges only allowed for vector selectors"),
    ("rate(food[1m])[1h] @ 100", 14, "ranges only allowed for vector selectors"),
    ("info(rate(http_request_counter_total{}[5m]), target_info{foo=\"bar\"})", 45, "expected label selectors only, got vector selector instead"),
    ("info(http_request_counter_total{namespace=\"zzz\"}, {foo=\"bar\"} == 1)", 50, "expected label selectors only"),
    ("foo[step]", 8, "unexpected \"]\" in subquery or range selector, expected number, duration, step(), or range()"),
    ("foo[step()/0d]", 10, "division by zero"),
    ("foo[5s/0d]", 6, "division by zero"),
    ("foo offset (4d/0)", 14, "division by zero"),
    ("foo[5s%0d]", 6, "modulo by zero"),
    ("foo offset 9.5e10", 11, "duration out of range"),
    ("foo[9.5e10]", 4, "duration out of range"),
    ("sum(", 4, "unclosed left parenthesis"),
    ("sum(rate(", 9, "unclosed left parenthesis"),
    ("foo[5s x 5s]", 7, "unexpected character: 'x', expected ':'"),
    ("foo[5s s 5s]", 7, "unexpected character: 's', expected ':'"),
];

#[test]
fn upstream_error_messages() {
    let mut msg_ok = 0;
    let mut pos_ok = 0;
    let mut report = Vec::new();
    for (input, start, msg) in UPSTREAM_ERRORS {
        match parse(input) {
            Ok(e) => report.push(format!("{input:?}: parsed as {e}, want error {msg:?}")),
            Err(e) => {
                if e.message == *msg {
                    msg_ok += 1;
                } else {
                    report.push(format!("{input:?}: got {:?}, want {msg:?}", e.message));
                }
                if e.start == *start {
                    pos_ok += 1;
                } else if e.message == *msg {
                    report.push(format!("{input:?}: {msg:?} at {}, want {start}", e.start));
                }
            }
        }
    }
    let n = UPSTREAM_ERRORS.len();
    println!("upstream error table: {msg_ok}/{n} messages, {pos_ok}/{n} positions\n{}", report.join("\n"));
    // Messages that cannot match: Go regexp error texts, invalid UTF-8.
    assert!(msg_ok * 100 >= n * 90, "only {msg_ok}/{n} messages match:\n{}", report.join("\n"));
    assert!(pos_ok * 100 >= n * 85, "only {pos_ok}/{n} positions match:\n{}", report.join("\n"));
}

#[test]
fn error_positions() {
    let cases: &[(&str, &str)] = &[
        ("", "1:1: parse error: no expression found in input"),
        ("1+", "1:3: parse error: unexpected end of input"),
        ("foo{", "1:5: parse error: unexpected end of input inside braces"),
        ("rate(foo)", "1:6: parse error: expected type range vector in call to function \"rate\", got instant vector"),
        ("foo(bar)", "1:1: parse error: unknown function with name \"foo\""),
        ("{}", "1:1: parse error: vector selector must contain at least one non-empty matcher"),
        ("1 == 1", "1:3: parse error: comparisons between scalars must use BOOL modifier"),
        ("1 and 1", "1:1: parse error: set operator \"and\" not allowed in binary scalar expression"),
        ("foo[5m] + bar", "1:1: parse error: binary expression must contain only scalar and instant vector types"),
        ("count_values(1, foo)", "1:14: parse error: expected type string in aggregation parameter, got scalar"),
        ("sum(foo,\n  bar)", "1:1: parse error: wrong number of arguments for aggregate expression provided, expected 1, got 2"),
        ("foo +\n  bar baz", "2:7: parse error: unexpected identifier \"baz\""),
        ("round(foo, 1, 2)", "1:1: parse error: expected at most 2 argument(s) in call to \"round\", got 3"),
        ("label_join(foo)", "1:1: parse error: expected at least 3 argument(s) in call to \"label_join\", got 1"),
    ];
    for (input, want) in cases {
        match parse(input) {
            Ok(e) => panic!("{input:?}: parsed as {e}"),
            Err(e) => assert_eq!(e.to_string(), *want, "{input:?}"),
        }
    }
}
