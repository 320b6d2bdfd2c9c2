//! Prints an AST in Prometheus' canonical form (`Display for Expr`, the
//! equivalent of Prometheus' `Expr.String()`), and [`prettify`], the
//! multi-line form of Prometheus' `Prettify` used by `format_query`.
//!
//! Printing then parsing gives back the same AST. Two known differences
//! from Prometheus' text: a duration literal in expression position or
//! inside a duration expression prints as its number of seconds (`5m` →
//! `300`), because the AST keeps only the value; and a metric name given as
//! a quoted string that is a valid plain name prints as a plain name.

use crate::ast::*;
use bongsu_model::{MatchOp, Matcher};
use std::fmt::{self, Display, Formatter, Write};

/// Prometheus' `model.Duration.String()` for milliseconds: years and weeks
/// only when exact (`90d`, not `12w6d`), `0s` for zero, `-` for negatives.
pub fn format_duration(ms: i64) -> String {
    if ms == 0 {
        return "0s".into();
    }
    let mut out = String::new();
    let mut rest = ms;
    if rest < 0 {
        out.push('-');
        rest = rest.checked_neg().unwrap_or(i64::MAX);
    }
    let units: [(&str, i64, bool); 7] = [
        ("y", 365 * 24 * 3_600_000, true),
        ("w", 7 * 24 * 3_600_000, true),
        ("d", 24 * 3_600_000, false),
        ("h", 3_600_000, false),
        ("m", 60_000, false),
        ("s", 1_000, false),
        ("ms", 1, false),
    ];
    for (name, mult, exact) in units {
        if exact && rest % mult != 0 {
            continue;
        }
        let n = rest / mult;
        if n > 0 {
            let _ = write!(out, "{n}{name}");
            rest -= n * mult;
        }
    }
    out
}

/// Number literal as Prometheus prints it (`strconv.FormatFloat(v, 'f', -1, 64)`).
pub fn format_number(v: f64) -> String {
    bongsu_model::fmt_float(v)
}

fn is_legacy_label_name(s: &str) -> bool {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) if c == '_' || c.is_ascii_alphabetic() => {}
        _ => return false,
    }
    chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
}

/// Can this metric name be printed bare before the braces and read back?
fn is_printable_metric_name(s: &str) -> bool {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) if c == '_' || c == ':' || c.is_ascii_alphabetic() => {}
        _ => return false,
    }
    if !chars.all(|c| c == '_' || c == ':' || c.is_ascii_alphanumeric()) {
        return false;
    }
    // Keywords that the grammar does not accept as metric names, and the
    // number words.
    !matches!(
        s.to_ascii_lowercase().as_str(),
        "bool" | "on" | "ignoring" | "group_left" | "group_right" | "atan2" | "inf" | "nan"
    )
}

fn write_label(out: &mut String, l: &str) {
    if is_legacy_label_name(l) && !matches!(l.to_ascii_lowercase().as_str(), "inf" | "nan") {
        out.push_str(l);
    } else {
        out.push_str(&bongsu_model::labels::quote_go(l));
    }
}

fn write_labels(out: &mut String, ls: &[String]) {
    for (i, l) in ls.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        write_label(out, l);
    }
}

fn matcher_string(m: &Matcher) -> String {
    let mut s = String::new();
    write_label(&mut s, &m.name);
    s.push_str(m.op.as_str());
    s.push_str(&bongsu_model::labels::quote_go(&m.value));
    s
}

impl Display for DurationExpr {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            DurationExpr::Millis(ms) => f.write_str(&format_duration(*ms)),
            DurationExpr::Expr(e) => write!(f, "{e}"),
        }
    }
}

impl Display for AtModifier {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            AtModifier::Timestamp(ms) => write!(f, "@ {:.3}", *ms as f64 / 1000.0),
            AtModifier::Start => f.write_str("@ start()"),
            AtModifier::End => f.write_str("@ end()"),
        }
    }
}

fn offset_str(o: &Option<DurationExpr>) -> String {
    match o {
        None => String::new(),
        Some(DurationExpr::Millis(0)) => String::new(),
        Some(d @ DurationExpr::Millis(_)) => format!(" offset {d}"),
        // A bare binary expression after `offset` would bind only its first
        // operand when read back: keep it in parentheses.
        Some(DurationExpr::Expr(e)) if matches!(**e, Expr::Binary(_)) => format!(" offset ({e})"),
        Some(d) => format!(" offset {d}"),
    }
}

fn at_str(a: &Option<AtModifier>) -> String {
    match a {
        None => String::new(),
        Some(a) => format!(" {a}"),
    }
}

impl VectorSelector {
    /// The selector without modifiers: `name{matchers}`.
    fn write_base(&self, out: &mut String) {
        let bare_name = self.name.as_deref().filter(|n| is_printable_metric_name(n));
        let mut inside: Vec<String> = Vec::new();
        let mut quoted_name = None;
        let mut skipped_name = false;
        for m in &self.matchers {
            if !skipped_name
                && m.name == bongsu_model::METRIC_NAME
                && m.op == MatchOp::Equal
                && self.name.as_deref() == Some(m.value.as_str())
                && !m.value.is_empty()
            {
                skipped_name = true;
                if bare_name.is_none() {
                    quoted_name = Some(bongsu_model::labels::quote_go(&m.value));
                }
                continue;
            }
            inside.push(matcher_string(m));
        }
        inside.sort();
        if let Some(n) = bare_name {
            out.push_str(n);
        }
        if let Some(q) = quoted_name {
            inside.insert(0, q);
        }
        if !inside.is_empty() {
            out.push('{');
            out.push_str(&inside.join(","));
            out.push('}');
        }
    }
}

impl Display for VectorSelector {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let mut s = String::new();
        self.write_base(&mut s);
        s.push_str(&at_str(&self.at));
        if self.anchored {
            s.push_str(" anchored");
        } else if self.smoothed {
            s.push_str(" smoothed");
        }
        s.push_str(&offset_str(&self.offset));
        f.write_str(&s)
    }
}

impl Display for MatrixSelector {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let vs = &self.selector;
        let mut s = String::new();
        vs.write_base(&mut s);
        let _ = write!(s, "[{}]", self.range);
        if vs.anchored {
            s.push_str(" anchored");
        } else if vs.smoothed {
            s.push_str(" smoothed");
        }
        s.push_str(&at_str(&vs.at));
        s.push_str(&offset_str(&vs.offset));
        f.write_str(&s)
    }
}

impl Subquery {
    fn suffix(&self) -> String {
        let step = self.step.as_ref().map(|s| s.to_string()).unwrap_or_default();
        format!("[{}:{}]{}{}", self.range, step, at_str(&self.at), offset_str(&self.offset))
    }
}

impl Display for Subquery {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.expr, self.suffix())
    }
}

impl Aggregate {
    fn op_string(&self) -> String {
        let mut s = self.op.as_str().to_string();
        if self.without {
            s.push_str(" without (");
            write_labels(&mut s, &self.grouping);
            s.push_str(") ");
        } else if !self.grouping.is_empty() {
            s.push_str(" by (");
            write_labels(&mut s, &self.grouping);
            s.push_str(") ");
        }
        s
    }
}

impl Display for Aggregate {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(&self.op_string())?;
        f.write_str("(")?;
        if let Some(p) = &self.param {
            write!(f, "{p}, ")?;
        }
        write!(f, "{})", self.expr)
    }
}

impl Binary {
    /// `op[ bool][ on (…)][ group_left (…)][ fill (…)]`.
    fn op_string(&self) -> String {
        let mut s = self.op.as_str().to_string();
        if self.return_bool {
            s.push_str(" bool");
        }
        if let Some(m) = &self.matching {
            let grouped = matches!(m.card, Cardinality::ManyToOne | Cardinality::OneToMany);
            if !m.labels.is_empty() || m.on || grouped {
                s.push_str(if m.on { " on (" } else { " ignoring (" });
                write_labels(&mut s, &m.labels);
                s.push(')');
            }
            if grouped {
                s.push_str(if m.card == Cardinality::ManyToOne { " group_left (" } else { " group_right (" });
                write_labels(&mut s, &m.include);
                s.push(')');
            }
            match (m.fill.lhs, m.fill.rhs) {
                (Some(l), Some(r)) if l == r || (l.is_nan() && r.is_nan()) => {
                    let _ = write!(s, " fill ({})", bongsu_model::fmt_exposition_float(l));
                }
                (l, r) => {
                    if let Some(l) = l {
                        let _ = write!(s, " fill_left ({})", bongsu_model::fmt_exposition_float(l));
                    }
                    if let Some(r) = r {
                        let _ = write!(s, " fill_right ({})", bongsu_model::fmt_exposition_float(r));
                    }
                }
            }
        }
        s
    }
}

impl Display for Binary {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.lhs, self.op_string(), self.rhs)
    }
}

impl Display for Call {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{}(", self.func)?;
        for (i, a) in self.args.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{a}")?;
        }
        f.write_str(")")
    }
}

impl Display for Expr {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Number(v, _) => f.write_str(&format_number(*v)),
            Expr::String(s, _) => f.write_str(&bongsu_model::labels::quote_go_bytes(s.as_bytes())),
            Expr::VectorSelector(v) => v.fmt(f),
            Expr::MatrixSelector(m) => m.fmt(f),
            Expr::Subquery(s) => s.fmt(f),
            Expr::Call(c) => c.fmt(f),
            Expr::Aggregate(a) => a.fmt(f),
            Expr::Binary(b) => b.fmt(f),
            Expr::Neg(e, _) => write!(f, "-{e}"),
            Expr::Paren(e, _) => write!(f, "({e})"),
        }
    }
}

// ---- Prettify ----------------------------------------------------------

/// Maximum characters per line before `prettify` splits an expression
/// (Prometheus' `maxCharactersPerLine`).
const MAX_CHARS_PER_LINE: usize = 100;
const INDENT: &str = "  ";

/// Multi-line formatting as Prometheus' `parser.Prettify` (the
/// `/api/v1/format_query` output): expressions longer than 100 characters
/// are split, children indented by two spaces.
pub fn prettify(expr: &Expr) -> String {
    prettify_with_width(expr, MAX_CHARS_PER_LINE)
}

/// [`prettify`] with another line width.
pub fn prettify_with_width(expr: &Expr, width: usize) -> String {
    pretty(expr, 0, width)
}

fn indent(level: usize) -> String {
    INDENT.repeat(level)
}

fn pretty(e: &Expr, level: usize, width: usize) -> String {
    let single = e.to_string();
    let split = single.len() > width;
    match e {
        Expr::Aggregate(a) if split => {
            let mut s = format!("{}{}(\n", indent(level), a.op_string());
            if let Some(p) = &a.param {
                s.push_str(&pretty(p, level + 1, width));
                s.push_str(",\n");
            }
            s.push_str(&pretty(&a.expr, level + 1, width));
            let _ = write!(s, "\n{})", indent(level));
            s
        }
        Expr::Binary(b) if split => format!(
            "{}\n{}{}\n{}",
            pretty(&b.lhs, level + 1, width),
            indent(level),
            b.op_string(),
            pretty(&b.rhs, level + 1, width)
        ),
        Expr::Call(c) if split => {
            let args: Vec<String> = c.args.iter().map(|a| pretty(a, level + 1, width)).collect();
            format!("{}{}(\n{}\n{})", indent(level), c.func, args.join(",\n"), indent(level))
        }
        Expr::Paren(inner, _) if split => {
            format!("{}(\n{}\n{})", indent(level), pretty(inner, level + 1, width), indent(level))
        }
        // As upstream: an unsplit subquery is not indented.
        Expr::Subquery(_) if !split => single,
        Expr::Subquery(sq) => format!("{}{}", pretty(&sq.expr, level, width), sq.suffix()),
        Expr::Neg(inner, _) => format!("{}-{}", indent(level), pretty(inner, level, width).trim()),
        _ => format!("{}{single}", indent(level)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parser::parse;

    fn canon(s: &str) -> String {
        parse(s).unwrap_or_else(|e| panic!("{s}: {e}")).to_string()
    }

    #[test]
    fn canonical_forms() {
        let cases = [
            (
                r#"sum by(job)(rate(http_requests_total{job="api"}[5m] offset 1m))"#,
                r#"sum by (job) (rate(http_requests_total{job="api"}[5m] offset 1m))"#,
            ),
            ("foo @ 100", "foo @ 100.000"),
            ("foo[5m] @ start() offset -1h", "foo[5m] @ start() offset -1h"),
            ("foo offset 90d", "foo offset 90d"),
            ("sum(foo) without (a)", "sum without (a) (foo)"),
            ("topk(3, foo)", "topk(3, foo)"),
            ("a + on(b) group_left(c) d", "a + on (b) group_left (c) d"),
            ("a + ignoring(b) d", "a + ignoring (b) d"),
            ("a and b", "a and b"),
            ("a > bool 1", "a > bool 1"),
            ("a + fill(0) b", "a + fill (0) b"),
            ("a + fill_left(1) fill_right(2) b", "a + fill_left (1) fill_right (2) b"),
            ("1e3", "1000"),
            ("-2^2", "-2 ^ 2"),
            ("rate(foo[5m:])", "rate(foo[5m:])"),
            ("foo[1h:5m] offset 1m", "foo[1h:5m] offset 1m"),
            (r#"{"my.metric", "a.b"="x"}"#, r#"{"my.metric","a.b"="x"}"#),
            (r#"foo{b="2",a=~"1"}"#, r#"foo{a=~"1",b="2"}"#),
            ("foo[step()+1]", "foo[step() + 1]"),
            ("foo anchored", "foo anchored"),
            ("foo[5m] smoothed", "foo[5m] smoothed"),
            (r#"label_replace(up, "a", "$1", "b", "(.*)")"#, r#"label_replace(up, "a", "$1", "b", "(.*)")"#),
            ("'single'", r#""single""#),
            // Go strings are bytes: one that is not UTF-8 prints as it was.
            (r#"label_replace(up, "\xff", "", "b", "\xc3\xbf\xc3")"#, r#"label_replace(up, "\xff", "", "b", "ÿ\xc3")"#),
        ];
        for (input, want) in cases {
            assert_eq!(canon(input), want, "{input}");
        }
    }

    #[test]
    fn durations_and_floats() {
        assert_eq!(format_duration(90 * 86_400_000), "90d");
        assert_eq!(format_duration(14 * 86_400_000), "2w");
        assert_eq!(format_duration(1_500), "1s500ms");
        assert_eq!(format_duration(-60_000), "-1m");
        assert_eq!(bongsu_model::fmt_exposition_float(1.5), "1.5");
        assert_eq!(bongsu_model::fmt_exposition_float(f64::NAN), "NaN");
        assert_eq!(bongsu_model::fmt_exposition_float(1e21), "1e+21");
        assert_eq!(bongsu_model::fmt_exposition_float(1e6), "1e+06");
        assert_eq!(bongsu_model::fmt_exposition_float(123456.0), "123456");
        assert_eq!(bongsu_model::fmt_exposition_float(0.00001), "1e-05");
    }

    #[test]
    fn prettify_splits_long_expressions() {
        let q = "sum by (job) (rate(http_requests_total{job=\"api-server-with-a-long-name\",instance=\"localhost:9090\"}[5m])) / sum by (job) (rate(http_requests_total[5m]))";
        let e = parse(q).unwrap();
        let p = prettify(&e);
        assert!(p.lines().count() > 1, "{p}");
        let short = parse("sum(rate(foo[5m]))").unwrap();
        assert_eq!(prettify(&short), "sum(rate(foo[5m]))");
    }
}
