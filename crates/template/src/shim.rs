//! The shim between Go's reflection-based template data and gotmpl's maps.
//!
//! gotmpl evaluates `.A.B` as map lookups and has no method calls, so after
//! parsing we rewrite the tree (never the source text):
//!
//! * every field chain — `.Alerts.Firing`, `$labels.instance`,
//!   `(query "up").Labels`, `.StartsAt.Format "2006"` — becomes a call to
//!   [`SEL`] with the receiver, the dotted path and any arguments; [`select`]
//!   then resolves each step the way Go's `evalField` does: a method of the
//!   receiver's Go type first (`Alerts.Firing`, `KV.SortedPairs`,
//!   `Time.Format`, …), then a struct field (missing → error), then a map key
//!   (missing → the zero value, as under `missingkey=zero`);
//! * every printing action gets a final [`PRINT`] command, so values print as
//!   `fmt.Sprint` prints them (Go floats, `KV.String()`, struct braces).

use std::collections::BTreeMap;
use std::sync::Arc;

use gotmpl::parse::{BranchNode, CommandNode, Expr, ListNode, Node, PipeNode, SmolStr};
use gotmpl::{TemplateError, Value};

use crate::gotime::{duration_string, parse_go_duration, GoTime};
use crate::govalue::{
    go_print, is_pairs, is_string_map, make_struct, sorted_pairs, struct_type, Flavor,
};

/// Function the rewritten field chains call.
pub const SEL: &str = "__bongsu_sel";
/// Function appended to printing actions.
pub const PRINT: &str = "__bongsu_print";

/// Rewrites a parsed tree for gotmpl (see the module docs).
pub fn rewrite_list(list: &ListNode) -> ListNode {
    ListNode {
        pos: list.pos,
        nodes: list.nodes.iter().map(rewrite_node).collect(),
    }
}

fn rewrite_node(node: &Node) -> Node {
    match node {
        Node::List(l) => Node::List(rewrite_list(l)),
        Node::Action(a) => {
            let mut a = a.clone();
            // html/template only allows its predefined escapers (`html`,
            // `urlquery`) last in a pipeline; they print strings anyway.
            let ends_in_escaper = matches!(
                a.pipe.commands.last().and_then(|c| c.args.first()),
                Some(Expr::Identifier(_, id)) if id.as_str() == "html" || id.as_str() == "urlquery"
            );
            let print = a.pipe.decl.is_empty() && !ends_in_escaper;
            a.pipe = rewrite_pipe(&a.pipe);
            if print {
                a.pipe.commands.push(CommandNode {
                    pos: a.pipe.pos,
                    args: vec![Expr::Identifier(a.pipe.pos, SmolStr::new(PRINT))],
                });
            }
            Node::Action(a)
        }
        Node::If(b) => Node::If(rewrite_branch(b)),
        Node::Range(b) => Node::Range(rewrite_branch(b)),
        Node::With(b) => Node::With(rewrite_branch(b)),
        Node::Template(t) => {
            let mut t = t.clone();
            t.pipe = t.pipe.as_ref().map(rewrite_pipe);
            Node::Template(t)
        }
        Node::Define(d) => {
            let mut d = d.clone();
            d.body = rewrite_list(&d.body);
            Node::Define(d)
        }
        other => other.clone(),
    }
}

fn rewrite_branch(b: &BranchNode) -> BranchNode {
    BranchNode {
        pos: b.pos,
        pipe: rewrite_pipe(&b.pipe),
        body: rewrite_list(&b.body),
        else_body: b.else_body.as_ref().map(rewrite_list),
    }
}

fn rewrite_pipe(p: &PipeNode) -> PipeNode {
    PipeNode {
        pos: p.pos,
        decl: p.decl.clone(),
        commands: p.commands.iter().map(rewrite_command).collect(),
        is_assign: p.is_assign,
    }
}

/// Splits a field-chain expression into its receiver and dotted path.
fn split_chain(e: &Expr) -> Option<(Expr, String)> {
    match e {
        Expr::Field(pos, fields) if !fields.is_empty() => Some((Expr::Dot(*pos), join(fields))),
        Expr::Variable(pos, name, fields) if !fields.is_empty() => {
            Some((Expr::Variable(*pos, name.clone(), Vec::new()), join(fields)))
        }
        Expr::Chain(_, inner, fields) if !fields.is_empty() => {
            Some((rewrite_arg(inner), join(fields)))
        }
        _ => None,
    }
}

fn join(fields: &[SmolStr]) -> String {
    fields
        .iter()
        .map(SmolStr::as_str)
        .collect::<Vec<_>>()
        .join(".")
}

fn rewrite_command(c: &CommandNode) -> CommandNode {
    let mut args = Vec::with_capacity(c.args.len() + 2);
    let mut it = c.args.iter();
    if let Some(first) = it.next() {
        match split_chain(first) {
            // `.StartsAt.Format "x"`: the remaining arguments go to the method.
            Some((recv, path)) => {
                args.push(Expr::Identifier(first.pos(), SmolStr::new(SEL)));
                args.push(recv);
                args.push(Expr::String(first.pos(), Arc::from(path.as_str())));
            }
            None => args.push(rewrite_arg(first)),
        }
    }
    args.extend(it.map(rewrite_arg));
    CommandNode { pos: c.pos, args }
}

/// An argument position: a field chain is evaluated without arguments.
fn rewrite_arg(e: &Expr) -> Expr {
    if let Some((recv, path)) = split_chain(e) {
        let pos = e.pos();
        return Expr::Pipe(
            pos,
            PipeNode {
                pos,
                decl: Vec::new(),
                commands: vec![CommandNode {
                    pos,
                    args: vec![
                        Expr::Identifier(pos, SmolStr::new(SEL)),
                        recv,
                        Expr::String(pos, Arc::from(path.as_str())),
                    ],
                }],
                is_assign: false,
            },
        );
    }
    match e {
        Expr::Pipe(pos, p) => Expr::Pipe(*pos, rewrite_pipe(p)),
        other => other.clone(),
    }
}

pub(crate) fn exec_err(msg: impl Into<String>) -> TemplateError {
    TemplateError::Exec(msg.into())
}

/// The `__bongsu_print` function.
pub fn print(flavor: Flavor, args: &[Value]) -> Result<Value, TemplateError> {
    match args.last() {
        None | Some(Value::Nil) => Ok(Value::Nil),
        // Printed alike by gotmpl and Go; html/template's JS escaper needs
        // numbers and booleans to stay typed (`var n = {{ len .Alerts }}`).
        Some(
            v @ (Value::String(_)
            | Value::Safe { .. }
            | Value::Int(_)
            | Value::Uint(_)
            | Value::Bool(_)),
        ) => Ok(v.clone()),
        Some(v) => Ok(Value::String(Arc::from(go_print(v, flavor)))),
    }
}

/// The `__bongsu_sel` function: `recv "A.B.C" args...`.
pub fn select(flavor: Flavor, args: &[Value]) -> Result<Value, TemplateError> {
    let (Some(recv), Some(Value::String(path))) = (args.first(), args.get(1)) else {
        return Err(exec_err("internal: bad field selection"));
    };
    let margs = &args[2..];
    let names: Vec<&str> = path.split('.').collect();
    let mut cur = recv.clone();
    for (i, name) in names.iter().enumerate() {
        let a = if i + 1 == names.len() { margs } else { &[] };
        cur = step(flavor, &cur, name, a)?;
    }
    Ok(cur)
}

fn type_name(v: &Value, flavor: Flavor) -> String {
    if let Some(t) = struct_type(v) {
        return t.to_string();
    }
    match v {
        Value::Map(_) if is_string_map(v) => {
            if flavor == Flavor::Alertmanager {
                "template.KV".into()
            } else {
                "map[string]string".into()
            }
        }
        Value::Map(_) => "map[string]interface {}".into(),
        Value::List(_) => "[]interface {}".into(),
        Value::String(_) => "string".into(),
        Value::Int(_) => "int".into(),
        Value::Uint(_) => "uint64".into(),
        Value::Float(_) => "float64".into(),
        Value::Bool(_) => "bool".into(),
        _ => v.type_name().into(),
    }
}

fn no_args(name: &str, args: &[Value]) -> Result<(), TemplateError> {
    if args.is_empty() {
        Ok(())
    } else {
        Err(exec_err(format!(
            "{name} has arguments but cannot be invoked as function"
        )))
    }
}

fn want_args(name: &str, args: &[Value], n: usize) -> Result<(), TemplateError> {
    if args.len() == n {
        Ok(())
    } else {
        Err(exec_err(format!(
            "wrong number of args for {name}: want {n} got {}",
            args.len()
        )))
    }
}

fn strings_of(v: &Value) -> Vec<String> {
    match v {
        Value::List(l) => l
            .iter()
            .map(|e| go_print(e, Flavor::Alertmanager))
            .collect(),
        Value::Nil => Vec::new(),
        other => vec![go_print(other, Flavor::Alertmanager)],
    }
}

fn str_list(items: impl IntoIterator<Item = String>) -> Value {
    Value::List(
        items
            .into_iter()
            .map(|s| Value::String(Arc::from(s)))
            .collect(),
    )
}

fn pairs_of(m: &BTreeMap<Arc<str>, Value>) -> Value {
    Value::List(
        sorted_pairs(m)
            .into_iter()
            .map(|(k, v)| {
                make_struct(
                    "template.Pair",
                    vec![("Name", Value::String(k)), ("Value", v)],
                )
            })
            .collect(),
    )
}

fn pair_field(p: &Value, f: &str) -> String {
    match p {
        Value::Map(m) => m.get(f).and_then(Value::as_str).unwrap_or("").to_string(),
        _ => String::new(),
    }
}

fn step(flavor: Flavor, recv: &Value, name: &str, args: &[Value]) -> Result<Value, TemplateError> {
    let am = flavor == Flavor::Alertmanager;
    match recv {
        Value::Map(m) => {
            if let Some(ty) = struct_type(recv) {
                return match m.get(name) {
                    Some(v) => no_args(name, args).map(|()| v.clone()),
                    None => Err(exec_err(format!(
                        "can't evaluate field {name} in type {ty}"
                    ))),
                };
            }
            let kv = is_string_map(recv);
            if am && kv {
                // Alertmanager's KV methods take precedence over keys, as in Go.
                match name {
                    "SortedPairs" => return no_args(name, args).map(|()| pairs_of(m)),
                    "Names" => {
                        no_args(name, args)?;
                        return Ok(str_list(
                            sorted_pairs(m).into_iter().map(|(k, _)| k.to_string()),
                        ));
                    }
                    "Values" => {
                        no_args(name, args)?;
                        return Ok(str_list(
                            sorted_pairs(m)
                                .into_iter()
                                .map(|(_, v)| v.as_str().unwrap_or("").to_string()),
                        ));
                    }
                    "String" => {
                        no_args(name, args)?;
                        return Ok(Value::String(Arc::from(go_print(recv, flavor))));
                    }
                    "Remove" => {
                        want_args(name, args, 1)?;
                        let drop = strings_of(&args[0]);
                        let out: BTreeMap<Arc<str>, Value> = m
                            .iter()
                            .filter(|(k, _)| !drop.iter().any(|d| d.as_str() == &***k))
                            .map(|(k, v)| (k.clone(), v.clone()))
                            .collect();
                        return Ok(Value::Map(Arc::new(out)));
                    }
                    _ => {}
                }
            }
            no_args(name, args)?;
            Ok(match m.get(name) {
                Some(v) => v.clone(),
                // missingkey=zero: the element type's zero value.
                None if kv => Value::String(Arc::from("")),
                None => Value::Nil,
            })
        }
        Value::List(l) if am => {
            let alerts = l.iter().all(|a| struct_type(a) == Some("template.Alert"));
            let strings = l.iter().all(|a| matches!(a, Value::String(_)));
            match name {
                "Firing" | "Resolved" if alerts => {
                    no_args(name, args)?;
                    let want = if name == "Firing" {
                        "firing"
                    } else {
                        "resolved"
                    };
                    Ok(Value::List(
                        l.iter()
                            .filter(|a| match a {
                                Value::Map(m) => {
                                    m.get("Status").and_then(Value::as_str) == Some(want)
                                }
                                _ => false,
                            })
                            .cloned()
                            .collect(),
                    ))
                }
                "Names" | "Values" if l.is_empty() || is_pairs(recv) => {
                    no_args(name, args)?;
                    let f = if name == "Names" { "Name" } else { "Value" };
                    Ok(str_list(l.iter().map(|p| pair_field(p, f))))
                }
                "String" if is_pairs(recv) => {
                    no_args(name, args)?;
                    Ok(Value::String(Arc::from(go_print(recv, flavor))))
                }
                "Join" if strings => {
                    want_args(name, args, 1)?;
                    let sep = go_print(&args[0], flavor);
                    Ok(Value::String(Arc::from(
                        l.iter()
                            .map(|s| s.as_str().unwrap_or(""))
                            .collect::<Vec<_>>()
                            .join(&sep),
                    )))
                }
                _ => Err(exec_err(format!(
                    "can't evaluate field {name} in type {}",
                    type_name(recv, flavor)
                ))),
            }
        }
        Value::String(s) => {
            if let Some(t) = GoTime::parse_go_string(s) {
                return time_method(&t, name, args);
            }
            if let Some(d) = parse_go_duration(s) {
                if s.bytes().any(|b| b.is_ascii_alphabetic()) {
                    return duration_method(d, name, args);
                }
            }
            Err(exec_err(format!(
                "can't evaluate field {name} in type string"
            )))
        }
        Value::Nil => Ok(Value::Nil),
        other => Err(exec_err(format!(
            "can't evaluate field {name} in type {}",
            type_name(other, flavor)
        ))),
    }
}

/// A duration argument: a `Duration.String()` string or nanoseconds.
pub fn duration_arg(v: &Value) -> Result<i128, TemplateError> {
    match v {
        Value::Int(i) => Ok(*i as i128),
        Value::Uint(u) => Ok(*u as i128),
        Value::Float(f) => Ok(*f as i128),
        Value::String(s) => {
            parse_go_duration(s).ok_or_else(|| exec_err(format!("invalid duration {s:?}")))
        }
        other => Err(exec_err(format!(
            "can't use {} as type time.Duration",
            go_print(other, Flavor::Alertmanager)
        ))),
    }
}

/// A time argument: a `Time.String()` string.
pub fn time_arg(v: &Value) -> Result<GoTime, TemplateError> {
    match v {
        Value::String(s) => GoTime::parse_go_string(s)
            .ok_or_else(|| exec_err(format!("can't use {s:?} as type time.Time"))),
        other => Err(exec_err(format!(
            "can't use {} as type time.Time",
            go_print(other, Flavor::Alertmanager)
        ))),
    }
}

fn s(v: impl Into<String>) -> Value {
    Value::String(Arc::from(v.into()))
}

fn time_method(t: &GoTime, name: &str, args: &[Value]) -> Result<Value, TemplateError> {
    let n0 = |v: Value| no_args(name, args).map(|()| v);
    match name {
        "Format" => {
            want_args(name, args, 1)?;
            Ok(s(t.format(&go_print(&args[0], Flavor::Alertmanager))))
        }
        "String" => n0(s(t.go_string())),
        "Unix" => n0(Value::Int(t.secs)),
        "UnixMilli" => n0(Value::Int((t.unix_nanos() / 1_000_000) as i64)),
        "UnixMicro" => n0(Value::Int((t.unix_nanos() / 1_000) as i64)),
        "UnixNano" => n0(Value::Int(t.unix_nanos() as i64)),
        "UTC" => n0(s(t.to_utc().go_string())),
        "Local" => n0(s(t.in_zone("Local").map_err(exec_err)?.go_string())),
        "IsZero" => n0(Value::Bool(t.is_zero())),
        "Add" => {
            want_args(name, args, 1)?;
            Ok(s(t.add_nanos(duration_arg(&args[0])?).go_string()))
        }
        "Sub" => {
            want_args(name, args, 1)?;
            let o = time_arg(&args[0])?;
            Ok(s(duration_string(t.unix_nanos() - o.unix_nanos())))
        }
        "Before" | "After" | "Equal" => {
            want_args(name, args, 1)?;
            let o = time_arg(&args[0])?.unix_nanos();
            let me = t.unix_nanos();
            Ok(Value::Bool(match name {
                "Before" => me < o,
                "After" => me > o,
                _ => me == o,
            }))
        }
        "Year" => n0(Value::Int(t.format("2006").parse().unwrap_or(0))),
        "Month" => n0(s(t.format("January"))),
        "Day" => n0(Value::Int(t.format("2").parse().unwrap_or(0))),
        "Hour" => n0(Value::Int(t.format("15").parse().unwrap_or(0))),
        "Minute" => n0(Value::Int(t.format("4").parse().unwrap_or(0))),
        "Second" => n0(Value::Int(t.format("5").parse().unwrap_or(0))),
        "Nanosecond" => n0(Value::Int(t.nanos as i64)),
        "YearDay" => n0(Value::Int(t.format("002").parse().unwrap_or(0))),
        "Weekday" => n0(s(t.format("Monday"))),
        _ => Err(exec_err(format!(
            "can't evaluate field {name} in type time.Time"
        ))),
    }
}

fn duration_method(d: i128, name: &str, args: &[Value]) -> Result<Value, TemplateError> {
    let n0 = |v: Value| no_args(name, args).map(|()| v);
    match name {
        "String" => n0(s(duration_string(d))),
        "Seconds" => n0(Value::Float(d as f64 / 1e9)),
        "Minutes" => n0(Value::Float(d as f64 / 6e10)),
        "Hours" => n0(Value::Float(d as f64 / 3.6e12)),
        "Milliseconds" => n0(Value::Int((d / 1_000_000) as i64)),
        "Microseconds" => n0(Value::Int((d / 1_000) as i64)),
        "Nanoseconds" => n0(Value::Int(d as i64)),
        "Abs" => n0(s(duration_string(d.abs()))),
        "Round" | "Truncate" => {
            want_args(name, args, 1)?;
            let m = duration_arg(&args[0])?;
            if m <= 0 {
                return Ok(s(duration_string(d)));
            }
            let r = d % m;
            let t = d - r;
            let v = if name == "Round" && r.abs() * 2 >= m {
                if d < 0 {
                    t - m
                } else {
                    t + m
                }
            } else {
                t
            };
            Ok(s(duration_string(v)))
        }
        _ => Err(exec_err(format!(
            "can't evaluate field {name} in type time.Duration"
        ))),
    }
}
