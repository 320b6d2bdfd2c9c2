//! `print`, `println`, `printf` and the ordered comparisons as Go has them.
//!
//! gotmpl's `printf` is Go's for strings and integers, but prints floats for
//! `%v` the Rust way (`1234567` where Go prints `1.234567e+06`), infinities as
//! `inf` and cannot order NaN. We hand it Go's rendering of those arguments as
//! `%s` strings and run its `printf` for everything else.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, OnceLock};

use gotmpl::{TemplateError, Value, ValueFunc};

use crate::govalue::{fmt_float, go_print, Flavor};
use crate::shim::exec_err;

/// gotmpl's own `printf`, reached through a one-action template per arity.
fn gotmpl_printf(args: &[Value]) -> Result<String, TemplateError> {
    static CACHE: OnceLock<Mutex<BTreeMap<usize, Arc<gotmpl::Template>>>> = OnceLock::new();
    let n = args.len();
    let t = {
        let mut cache = CACHE
            .get_or_init(|| Mutex::new(BTreeMap::new()))
            .lock()
            .map_err(|_| exec_err("printf cache poisoned"))?;
        match cache.get(&n) {
            Some(t) => t.clone(),
            None => {
                let mut src = String::from("{{printf");
                for i in 0..n {
                    src.push_str(&format!(" (index . {i})"));
                }
                src.push_str("}}");
                let t = Arc::new(gotmpl::Template::new("printf").parse(&src)?);
                cache.insert(n, t.clone());
                t
            }
        }
    };
    t.execute_to_string(&Value::List(args.to_vec().into()))
}

/// Go's rendering of a float for a float verb, when it differs from Rust's.
fn special_float(f: f64, plus: bool) -> Option<String> {
    if f.is_nan() {
        Some(if plus { "+NaN".into() } else { "NaN".into() })
    } else if f.is_infinite() {
        Some(if f > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        })
    } else {
        None
    }
}

/// Rewrites `%v`/`%s` of composite values and floats and float verbs of
/// non-finite floats into `%s` of Go's rendering.
fn adapt(flavor: Flavor, format: &str, args: &[Value]) -> (String, Vec<Value>) {
    let mut out = String::with_capacity(format.len());
    let mut new_args: Vec<Value> = args.to_vec();
    let mut arg = 0usize;
    let mut it = format.char_indices().peekable();
    while let Some((start, c)) = it.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut minus = false;
        let mut plus = false;
        let mut width = String::new();
        let mut bail = false;
        // flags
        while let Some(&(_, f)) = it.peek() {
            if "+-# 0".contains(f) {
                minus |= f == '-';
                plus |= f == '+';
                it.next();
            } else {
                break;
            }
        }
        // width
        while let Some(&(_, d)) = it.peek() {
            if d.is_ascii_digit() {
                width.push(d);
                it.next();
            } else if d == '*' || d == '[' {
                bail = true;
                break;
            } else {
                break;
            }
        }
        // precision
        if let Some(&(_, '.')) = it.peek() {
            it.next();
            while let Some(&(_, d)) = it.peek() {
                if d.is_ascii_digit() {
                    it.next();
                } else {
                    if d == '*' || d == '[' {
                        bail = true;
                    }
                    break;
                }
            }
        }
        if bail {
            // Argument indexes and '*' widths: leave the rest to gotmpl.
            out.push_str(&format[start..]);
            return (out, new_args);
        }
        let Some((vi, verb)) = it.next() else {
            out.push_str(&format[start..]);
            break;
        };
        let spec = &format[start..vi + verb.len_utf8()];
        if verb == '%' {
            out.push_str(spec);
            continue;
        }
        let replacement = match args.get(arg) {
            Some(Value::Float(f)) if "eEfFgG".contains(verb) => special_float(*f, plus),
            Some(Value::Float(f)) if verb == 'v' => {
                Some(special_float(*f, plus).unwrap_or_else(|| {
                    let s = fmt_float(*f);
                    if plus && *f >= 0.0 {
                        format!("+{s}")
                    } else {
                        s
                    }
                }))
            }
            Some(v @ (Value::List(_) | Value::Map(_))) if verb == 'v' || verb == 's' => {
                Some(go_print(v, flavor))
            }
            _ => None,
        };
        match replacement {
            Some(s) => {
                new_args[arg] = Value::String(Arc::from(s));
                out.push('%');
                if minus {
                    out.push('-');
                }
                out.push_str(&width);
                out.push('s');
            }
            None => out.push_str(spec),
        }
        arg += 1;
    }
    (out, new_args)
}

/// `printf` with Go's float and composite formatting.
pub fn printf(flavor: Flavor) -> ValueFunc {
    Arc::new(move |args: &[Value]| {
        let Some(Value::String(format)) = args.first() else {
            return gotmpl_printf(args).map(|s| Value::String(Arc::from(s)));
        };
        let (f, rest) = adapt(flavor, format, &args[1..]);
        let mut all = Vec::with_capacity(rest.len() + 1);
        all.push(Value::String(Arc::from(f)));
        all.extend(rest);
        gotmpl_printf(&all).map(|s| Value::String(Arc::from(s)))
    })
}

/// `print` (`fmt.Sprint`: a space between operands when neither is a string)
/// and `println` (`fmt.Sprintln`: spaces always, then a newline).
pub fn print(flavor: Flavor, ln: bool) -> ValueFunc {
    Arc::new(move |args: &[Value]| {
        let mut out = String::new();
        for (i, a) in args.iter().enumerate() {
            if i > 0 {
                let is_str = |v: &Value| matches!(v, Value::String(_) | Value::Safe { .. });
                if ln || (!is_str(&args[i - 1]) && !is_str(a)) {
                    out.push(' ');
                }
            }
            match a {
                Value::Safe { s, .. } => out.push_str(s),
                other => out.push_str(&go_print(other, flavor)),
            }
        }
        if ln {
            out.push('\n');
        }
        Ok(Value::String(Arc::from(out)))
    })
}

enum Basic<'a> {
    Int(i128),
    Float(f64),
    Str(&'a str),
    Bool(bool),
    Other,
}

fn basic(v: &Value) -> Basic<'_> {
    match v {
        Value::Int(i) => Basic::Int(*i as i128),
        Value::Uint(u) => Basic::Int(*u as i128),
        Value::Float(f) => Basic::Float(*f),
        Value::String(s) => Basic::Str(s),
        Value::Safe { s, .. } => Basic::Str(s),
        Value::Bool(b) => Basic::Bool(*b),
        _ => Basic::Other,
    }
}

fn lt(a: &Value, b: &Value) -> Result<bool, String> {
    match (basic(a), basic(b)) {
        (Basic::Int(x), Basic::Int(y)) => Ok(x < y),
        (Basic::Float(x), Basic::Float(y)) => Ok(x < y),
        (Basic::Str(x), Basic::Str(y)) => Ok(x < y),
        (Basic::Bool(_), _) | (_, Basic::Bool(_)) | (Basic::Other, _) | (_, Basic::Other) => {
            Err("invalid type for comparison".into())
        }
        _ => Err("incompatible types for comparison".into()),
    }
}

fn eq(a: &Value, b: &Value) -> Result<bool, String> {
    match (basic(a), basic(b)) {
        (Basic::Int(x), Basic::Int(y)) => Ok(x == y),
        (Basic::Float(x), Basic::Float(y)) => Ok(x == y),
        (Basic::Str(x), Basic::Str(y)) => Ok(x == y),
        (Basic::Bool(x), Basic::Bool(y)) => Ok(x == y),
        (Basic::Other, _) | (_, Basic::Other) => Err("invalid type for comparison".into()),
        _ => Err("incompatible types for comparison".into()),
    }
}

/// `lt`, `le`, `gt`, `ge` as Go defines them (`le` = `lt || eq`, `gt` =
/// `!le`, `ge` = `!lt`), so NaN orders as in Go.
pub fn compare(name: &'static str) -> ValueFunc {
    Arc::new(move |args: &[Value]| {
        let [a, b] = args else {
            return Err(exec_err(format!(
                "wrong number of args for {name}: want 2 got {}",
                args.len()
            )));
        };
        let r = match name {
            "lt" => lt(a, b),
            "ge" => lt(a, b).map(|x| !x),
            "le" => lt(a, b).and_then(|x| Ok(x || eq(a, b)?)),
            _ => lt(a, b).and_then(|x| Ok(!(x || eq(a, b)?))),
        };
        r.map(Value::Bool)
            .map_err(|e| exec_err(format!("error calling {name}: {e}")))
    })
}

/// Registers the replacements in a function map.
pub fn install(funcs: &mut gotmpl::FuncMap, flavor: Flavor) {
    funcs.insert("printf".into(), printf(flavor));
    funcs.insert("print".into(), print(flavor, false));
    funcs.insert("println".into(), print(flavor, true));
    for c in ["lt", "le", "gt", "ge"] {
        funcs.insert(c.into(), compare(c));
    }
}
