//! A set of named templates parsed with gotmpl, checked like Go's parser,
//! rewritten by the shim, and executed in text or HTML mode.

use std::collections::BTreeMap;
use std::sync::Arc;

use gotmpl::parse::{CommandNode, Expr, ListNode, PipeNode};
use gotmpl::{FuncMap, SafeKind, Value, ValueFunc};

use crate::check::{check_tree, GO_BUILTINS};
use crate::govalue::Flavor;
use crate::shim::{exec_err, print, rewrite_list, select, PRINT, SEL};

/// A parse-time failure in Go's wording: `template: NAME:LINE: message`.
#[derive(Debug, Clone)]
pub struct ParseFailure(pub String);

/// Named templates after `define` merging, already rewritten by the shim.
#[derive(Clone)]
pub struct Set {
    pub funcs: FuncMap,
    pub trees: BTreeMap<String, Arc<ListNode>>,
    /// Function call sites, to give execution errors Go's position.
    sites: Arc<Vec<Site>>,
    /// A gotmpl template holding every tree as of [`Set::freeze`] (cheap to
    /// clone: its trees are shared), and the trees parsed since.
    base: Option<Arc<gotmpl::Template>>,
    added: Vec<String>,
}

/// A function call in the source: where Go's `executing … at <…>` points.
#[derive(Clone, Debug)]
struct Site {
    tree: String,
    parse_name: String,
    func: String,
    line: usize,
    col: usize,
    node: String,
}

/// Wraps a function so its errors read `error calling NAME: …` like Go's.
pub fn wrap(
    name: &'static str,
    f: impl Fn(&[Value]) -> Result<Value, String> + Send + Sync + 'static,
) -> ValueFunc {
    Arc::new(move |args: &[Value]| {
        f(args).map_err(|e| exec_err(format!("error calling {name}: {e}")))
    })
}

impl Set {
    pub fn new(flavor: Flavor, mut funcs: FuncMap) -> Set {
        funcs.insert(SEL.into(), Arc::new(move |a: &[Value]| select(flavor, a)));
        funcs.insert(PRINT.into(), Arc::new(move |a: &[Value]| print(flavor, a)));
        crate::gofmt::install(&mut funcs, flavor);
        Set {
            funcs,
            trees: BTreeMap::new(),
            sites: Arc::new(Vec::new()),
            base: None,
            added: Vec::new(),
        }
    }

    pub fn has_func(&self, name: &str) -> bool {
        GO_BUILTINS.contains(&name) || self.funcs.contains_key(name)
    }

    /// Parses `src` like Go's `t.New(name).Parse(src)`: its `define`s join the
    /// set (a non-empty body replaces an earlier one, an empty one does not),
    /// and its top level becomes template `name` when non-empty.
    pub fn parse(&mut self, name: &str, src: &str) -> Result<(), ParseFailure> {
        // Go reports the first error in the text: our structural scan and
        // gotmpl's parser each find some; keep the earlier one.
        let structure = crate::structure::check_structure(src);
        let normalized;
        let src = match &structure {
            Ok(trailing_pipes) if !trailing_pipes.is_empty() => {
                // Same length, so positions stay right.
                let mut b = src.as_bytes().to_vec();
                for p in trailing_pipes {
                    b[*p] = b' ';
                }
                normalized = String::from_utf8_lossy(&b).into_owned();
                normalized.as_str()
            }
            _ => src,
        };
        let parsed_template = gotmpl::Template::new(name).parse(src);
        let t = match (structure, parsed_template) {
            (Ok(_), Ok(t)) => t,
            (Ok(_), Err(e)) => return Err(ParseFailure(go_parse_message_in(name, &e, src))),
            (Err(se), Ok(_)) => {
                return Err(ParseFailure(format!(
                    "template: {name}:{}: {}",
                    se.line, se.message
                )))
            }
            (Err(se), Err(e)) => {
                let gotmpl_first = match &e {
                    gotmpl::TemplateError::Parse { line, col, .. }
                    | gotmpl::TemplateError::Lex { line, col, .. } => {
                        let se_col = src[..se.offset.min(src.len())]
                            .rsplit('\n')
                            .next()
                            .map_or(0, |l| l.chars().count())
                            + 1;
                        (*line, *col) < (se.line, se_col)
                    }
                    _ => false,
                };
                return Err(ParseFailure(if gotmpl_first {
                    go_parse_message_in(name, &e, src)
                } else {
                    format!("template: {name}:{}: {}", se.line, se.message)
                }));
            }
        };
        let mut parsed: Vec<(String, ListNode)> = Vec::new();
        for n in t.templates() {
            if let Some(tree) = t.lookup(n) {
                check_tree(tree, &|f| self.has_func(f)).map_err(|e| {
                    ParseFailure(format!("template: {name}:{}: {}", e.line, e.message))
                })?;
                parsed.push((n.to_string(), tree.clone()));
            }
        }
        for (n, tree) in parsed {
            if tree.is_empty_tree() && self.trees.contains_key(&n) {
                continue;
            }
            let sites = Arc::make_mut(&mut self.sites);
            sites.retain(|s| s.tree != n);
            collect_sites(&tree, &n, name, src, sites);
            if self.base.is_some() {
                self.added.push(n.clone());
            }
            self.trees.insert(n, Arc::new(rewrite_list(&tree)));
        }
        Ok(())
    }

    /// Prepares the current trees for repeated execution.
    pub fn freeze(&mut self) {
        let mut t = gotmpl::Template::new("").funcs(self.funcs.clone());
        for (n, tree) in &self.trees {
            t = t.add_parse_tree(n, (**tree).clone());
        }
        self.base = Some(Arc::new(t));
        self.added.clear();
    }

    fn text_template(&self, extra: &FuncMap) -> gotmpl::Template {
        let (mut t, names): (gotmpl::Template, Vec<&String>) = match &self.base {
            Some(b) => ((**b).clone(), self.added.iter().collect()),
            None => (
                gotmpl::Template::new("").funcs(self.funcs.clone()),
                self.trees.keys().collect(),
            ),
        };
        for n in names {
            if let Some(tree) = self.trees.get(n) {
                t = t.add_parse_tree(n, (**tree).clone());
            }
        }
        if !extra.is_empty() {
            t = t.funcs(extra.clone());
        }
        t
    }

    /// Executes template `entry` in text mode.
    pub fn execute_text(
        &self,
        entry: &str,
        data: &Value,
        extra: &FuncMap,
    ) -> Result<String, String> {
        if !self.trees.contains_key(entry) {
            return Ok(String::new());
        }
        self.text_template(extra)
            .execute_template_to_string(entry, data)
            .map_err(|e| self.exec_message(entry, &e))
    }

    /// Executes template `entry` with `html/template`'s contextual escaping.
    pub fn execute_html(
        &self,
        entry: &str,
        data: &Value,
        extra: &FuncMap,
    ) -> Result<String, String> {
        if !self.trees.contains_key(entry) {
            return Ok(String::new());
        }
        let mut funcs = self.funcs.clone();
        funcs.extend(extra.iter().map(|(k, v)| (k.clone(), v.clone())));
        // gotmpl's escaper starts from the root tree: make the root a call of
        // the entry template so escaping follows it from the text context.
        let root = format!("{{{{template {entry:?} .}}}}");
        let mut t = gotmpl::html::Template::new("__bongsu_root")
            .funcs(funcs)
            .parse(&root)
            .map_err(|e| go_exec_message(entry, &e))?;
        for (n, tree) in &self.trees {
            t = t
                .add_parse_tree(n, (**tree).clone())
                .map_err(|e| go_exec_message(entry, &e))?;
        }
        t.execute_to_string(data)
            .map_err(|e| self.exec_message(entry, &e))
    }
}

/// gotmpl's parse messages in Go's words where they differ.
fn go_parse_wording(message: &str) -> String {
    const KEYWORDS: &[&str] = &[
        "block", "break", "continue", "define", "else", "end", "if", "range", "nil", "template",
        "with",
    ];
    if message.starts_with("multiple definition of template") {
        // Go reports this one from AddParseTree, with its own prefix.
        return format!("template: {message}");
    }
    if message == "empty command" {
        return "missing value for command".into();
    }
    if message == "unexpected character: '-'" {
        // Go lexes a '-' as the start of a number.
        return "illegal number syntax: \"-\"".into();
    }
    if message.starts_with("cannot assign") && message.contains("variables outside a range") {
        return "too many declarations in command".into();
    }
    if let Some(rest) = message.strip_prefix("expected closing delimiter, got ") {
        // `Else ("else")` → Go: `unexpected <else> in operand`.
        if let Some(v) = rest
            .split_once("(\"")
            .and_then(|(_, v)| v.strip_suffix("\")"))
        {
            return if KEYWORDS.contains(&v) {
                format!("unexpected <{v}> in operand")
            } else {
                format!("unexpected {v:?} in operand")
            };
        }
    }
    message.to_string()
}

/// [`go_parse_message`], naming the token Go names for an empty command.
fn go_parse_message_in(name: &str, e: &gotmpl::TemplateError, src: &str) -> String {
    if let gotmpl::TemplateError::Parse {
        line, col, message, ..
    } = e
    {
        if message == "empty command" {
            let at: String = src
                .lines()
                .nth(line.saturating_sub(1))
                .map(|l| l.chars().skip(col.saturating_sub(1)).collect())
                .unwrap_or_default();
            let at = at.trim_start();
            let what = if at.starts_with("}}") || at.starts_with("-}}") || at.is_empty() {
                "missing value for command".to_string()
            } else if at.starts_with(":=") {
                "unexpected \":=\" in command".to_string()
            } else if let Some(c) = at.chars().next().filter(|c| ")|=,".contains(*c)) {
                format!("unexpected {:?} in command", c.to_string())
            } else {
                "missing value for command".to_string()
            };
            return format!("template: {name}:{line}: {what}");
        }
    }
    go_parse_message(name, e)
}

/// Go's parse error text: `template: NAME:LINE: message` (Go gives no column).
pub fn go_parse_message(name: &str, e: &gotmpl::TemplateError) -> String {
    match e {
        gotmpl::TemplateError::Parse { line, message, .. }
        | gotmpl::TemplateError::Lex { line, message, .. } => {
            // Go reports this one from AddParseTree, with its own prefix.
            let message = go_parse_wording(message);
            format!("template: {name}:{line}: {message}")
        }
        other => format!("template: {name}: {other}"),
    }
}

impl Set {
    /// An execution error as Go words it. gotmpl does not say which action
    /// failed; for a function's error (`error calling F: …`) we point at the
    /// first call of F, preferring the entry template, which is exact whenever
    /// F is called once.
    fn exec_message(&self, entry: &str, e: &gotmpl::TemplateError) -> String {
        if let gotmpl::TemplateError::UndefinedTemplate(name) = e {
            let key = format!("\u{0}template:{name}");
            let site = self
                .sites
                .iter()
                .find(|s| s.func == key && s.tree == entry)
                .or_else(|| self.sites.iter().find(|s| s.func == key));
            if let Some(s) = site {
                return format!(
                    "template: {}:{}:{}: executing {:?} at <{}>: template {name:?} not defined",
                    s.parse_name, s.line, s.col, s.tree, s.node
                );
            }
        }
        if let gotmpl::TemplateError::Exec(m) = e {
            if let Some(rest) = m.strip_prefix("can't evaluate field ") {
                let key = format!("\u{0}field:{}", rest.split(' ').next().unwrap_or(""));
                let site = self
                    .sites
                    .iter()
                    .find(|s| s.func == key && s.tree == entry)
                    .or_else(|| self.sites.iter().find(|s| s.func == key));
                if let Some(s) = site {
                    return format!(
                        "template: {}:{}:{}: executing {:?} at <{}>: {m}",
                        s.parse_name, s.line, s.col, s.tree, s.node
                    );
                }
            }
            if let Some(rest) = m.strip_prefix("error calling ") {
                if let Some((func, _)) = rest.split_once(':') {
                    let site = self
                        .sites
                        .iter()
                        .find(|s| s.func == func && s.tree == entry)
                        .or_else(|| self.sites.iter().find(|s| s.func == func));
                    if let Some(s) = site {
                        return format!(
                            "template: {}:{}:{}: executing {:?} at <{}>: {m}",
                            s.parse_name, s.line, s.col, s.tree, s.node
                        );
                    }
                }
            }
        }
        go_exec_message(entry, e)
    }
}

enum Visit<'a> {
    Command(&'a CommandNode),
    Field(&'a Expr),
    Template(&'a gotmpl::parse::TemplateNode),
}

fn collect_sites(list: &ListNode, tree: &str, parse_name: &str, src: &str, out: &mut Vec<Site>) {
    use gotmpl::parse::Node;
    fn pipe<'a>(p: &'a PipeNode, cx: &mut dyn FnMut(Visit<'a>)) {
        for c in &p.commands {
            cx(Visit::Command(c));
            for a in &c.args {
                expr(a, cx);
            }
        }
    }
    fn expr<'a>(e: &'a Expr, cx: &mut dyn FnMut(Visit<'a>)) {
        match e {
            Expr::Field(_, f) | Expr::Variable(_, _, f) if !f.is_empty() => cx(Visit::Field(e)),
            Expr::Pipe(_, p) => pipe(p, cx),
            Expr::Chain(_, inner, _) => {
                cx(Visit::Field(e));
                expr(inner, cx)
            }
            _ => {}
        }
    }
    fn walk<'a>(l: &'a ListNode, cx: &mut dyn FnMut(Visit<'a>)) {
        for n in &l.nodes {
            match n {
                Node::List(l) => walk(l, cx),
                Node::Action(a) => pipe(&a.pipe, cx),
                Node::If(b) | Node::Range(b) | Node::With(b) => {
                    pipe(&b.pipe, cx);
                    walk(&b.body, cx);
                    if let Some(e) = &b.else_body {
                        walk(e, cx);
                    }
                }
                Node::Template(t) => {
                    cx(Visit::Template(t));
                    if let Some(p) = &t.pipe {
                        pipe(p, cx);
                    }
                }
                _ => {}
            }
        }
    }
    let position = |offset: usize| {
        let off = offset.min(src.len());
        let line_start = src[..off].rfind('\n').map_or(0, |i| i + 1);
        off - line_start
    };
    walk(list, &mut |v: Visit<'_>| match v {
        Visit::Command(c) => {
            if let Some(Expr::Identifier(_, f)) = c.args.first() {
                out.push(Site {
                    tree: tree.to_string(),
                    parse_name: parse_name.to_string(),
                    func: f.to_string(),
                    line: c.pos.line,
                    col: position(c.pos.offset),
                    node: command_string(c),
                });
            }
        }
        Visit::Field(e) => {
            let fields = match e {
                Expr::Field(_, f) | Expr::Variable(_, _, f) | Expr::Chain(_, _, f) => f,
                _ => return,
            };
            // Go's parser re-creates a chained field at the position of the
            // chain's first field token after the operand.
            let offset = match e {
                Expr::Field(p, f) if f.len() > 1 => p.offset + 1 + f[0].len(),
                Expr::Variable(p, name, _) => p.offset + name.len(),
                other => other.pos().offset,
            };
            for f in fields {
                out.push(Site {
                    tree: tree.to_string(),
                    parse_name: parse_name.to_string(),
                    func: format!("\u{0}field:{f}"),
                    line: e.pos().line,
                    col: position(offset),
                    node: expr_string(e),
                });
            }
        }
        Visit::Template(t) => {
            // Go points at the template's name.
            let off = t.pos.offset.min(src.len());
            let name_off = src[off..].find(['"', '`']).map_or(off, |i| off + i);
            let pipe = t
                .pipe
                .as_ref()
                .map(|p| format!(" {}", pipe_string(p)))
                .unwrap_or_default();
            out.push(Site {
                tree: tree.to_string(),
                parse_name: parse_name.to_string(),
                func: format!("\u{0}template:{}", t.name),
                line: t.pos.line,
                col: position(name_off),
                node: format!("{{{{template {:?}{pipe}}}}}", t.name.as_str()),
            });
        }
    });
}

/// Go's `CommandNode.String()`.
fn command_string(c: &CommandNode) -> String {
    c.args.iter().map(expr_string).collect::<Vec<_>>().join(" ")
}

fn pipe_string(p: &PipeNode) -> String {
    let mut s = String::new();
    if !p.decl.is_empty() {
        s.push_str(
            &p.decl
                .iter()
                .map(|d| d.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        );
        s.push_str(if p.is_assign { " = " } else { " := " });
    }
    s.push_str(
        &p.commands
            .iter()
            .map(command_string)
            .collect::<Vec<_>>()
            .join(" | "),
    );
    s
}

fn expr_string(e: &Expr) -> String {
    use gotmpl::parse::Number;
    let fields =
        |f: &[gotmpl::parse::SmolStr]| f.iter().map(|x| format!(".{x}")).collect::<String>();
    match e {
        Expr::Dot(_) => ".".into(),
        Expr::Field(_, f) => fields(f),
        Expr::Variable(_, n, f) => format!("{n}{}", fields(f)),
        Expr::Identifier(_, n) => n.to_string(),
        Expr::String(_, s) => format!("{s:?}"),
        Expr::Number(_, Number::Int(i)) => i.to_string(),
        Expr::Number(_, Number::Uint(u)) => u.to_string(),
        Expr::Number(_, Number::Float(f)) => crate::govalue::fmt_float(*f),
        Expr::Bool(_, b) => b.to_string(),
        Expr::Nil(_) => "nil".into(),
        Expr::Pipe(_, p) => format!("({})", pipe_string(p)),
        Expr::Chain(_, inner, f) => format!("{}{}", expr_string(inner), fields(f)),
    }
}

/// An execution error in the shape of Go's `template: NAME: executing …`
/// (gotmpl does not report the position of the failing action).
pub fn go_exec_message(name: &str, e: &gotmpl::TemplateError) -> String {
    let inner = match e {
        gotmpl::TemplateError::Exec(m) => m.clone(),
        gotmpl::TemplateError::UndefinedTemplate(t) => {
            format!("template {t:?} not defined")
        }
        other => other.to_string(),
    };
    format!("template: {name}: executing {name:?}: {inner}")
}

/// A string argument (Go would reject non-strings; trusted HTML counts).
pub fn arg_str(args: &[Value], i: usize) -> Result<&str, String> {
    match args.get(i) {
        Some(Value::String(s)) => Ok(s),
        Some(Value::Safe { s, .. }) => Ok(s),
        Some(other) => Err(format!(
            "wrong type for value; expected string; got {}",
            go_type(other)
        )),
        None => Err(format!(
            "wrong number of args: want at least {} got {}",
            i + 1,
            args.len()
        )),
    }
}

/// Checks the argument count.
pub fn want(args: &[Value], n: usize) -> Result<(), String> {
    if args.len() == n {
        Ok(())
    } else {
        Err(format!("wrong number of args: want {n} got {}", args.len()))
    }
}

/// A Go-ish type name for messages.
pub fn go_type(v: &Value) -> &'static str {
    match v {
        Value::Nil => "<nil>",
        Value::Bool(_) => "bool",
        Value::Int(_) => "int",
        Value::Uint(_) => "uint64",
        Value::Float(_) => "float64",
        Value::String(_) => "string",
        Value::List(_) => "[]interface {}",
        Value::Map(_) => "map[string]interface {}",
        _ => "interface {}",
    }
}

/// A string value.
pub fn vs(s: impl AsRef<str>) -> Value {
    Value::String(Arc::from(s.as_ref()))
}

/// Trusted content for `html/template`.
pub fn safe(kind: SafeKind, s: &str) -> Value {
    Value::Safe {
        kind,
        s: Arc::from(s),
    }
}

/// Go's `index` with `missingkey`-independent zero values: a missing key of a
/// `map[string]string` is `""`.
pub fn index_func() -> ValueFunc {
    Arc::new(|args: &[Value]| {
        let Some(mut cur) = args.first().cloned() else {
            return Err(exec_err(
                "wrong number of args for index: want at least 1 got 0",
            ));
        };
        for k in &args[1..] {
            cur = match (&cur, k) {
                (Value::Map(m), Value::String(key)) => match m.get(&**key) {
                    Some(v) => v.clone(),
                    None if crate::govalue::is_string_map(&cur) => vs(""),
                    None => Value::Nil,
                },
                (Value::Nil, _) => {
                    return Err(exec_err("error calling index: index of untyped nil"));
                }
                _ => cur
                    .index(k)
                    .map_err(|e| exec_err(format!("error calling index: {e}")))?,
            };
        }
        Ok(cur)
    })
}

/// Compiles a Go regexp (RE2 syntax) through the workspace's RE2-compat
/// translation (`\d \w \s` ASCII as in Go, `\Q…\E`).
pub fn go_regex(pattern: &str) -> Result<regex::Regex, String> {
    bongsu_model::matcher::compile_go_regex(pattern).map_err(|e| {
        format!(
            "regexp: Compile({}): error parsing regexp: {}",
            go_backquote(pattern),
            e.message
        )
    })
}

/// Go's `%#q`-ish quoting used in regexp errors: backquotes when possible.
fn go_backquote(s: &str) -> String {
    if s.contains('`') {
        format!("{s:?}")
    } else {
        format!("`{s}`")
    }
}

/// Go's `regexp.ReplaceAllString` (`$1`, `${name}` expand as in Rust's regex).
pub fn re_replace_all(pattern: &str, repl: &str, text: &str) -> Result<String, String> {
    Ok(go_regex(pattern)?.replace_all(text, repl).into_owned())
}

/// `golang.org/x/text/cases.Title`: upper-cases the first letter of each
/// word; `lower_rest` also lower-cases the other letters (Alertmanager), while
/// Prometheus keeps them (`cases.NoLower`).
pub fn title(s: &str, lower_rest: bool) -> String {
    let mut out = String::with_capacity(s.len());
    let mut in_word = false;
    for c in s.chars() {
        let word_char = c.is_alphanumeric() || c == '\'' || c == '’';
        if word_char && !in_word && c.is_alphabetic() {
            out.extend(c.to_uppercase());
            in_word = true;
            continue;
        }
        if word_char {
            if lower_rest && in_word {
                out.extend(c.to_lowercase());
            } else {
                out.push(c);
            }
            in_word = in_word || c.is_alphanumeric();
        } else {
            out.push(c);
            in_word = false;
        }
    }
    out
}

/// Go's `url.QueryEscape`.
pub fn query_escape(s: &str) -> String {
    gotmpl::url_encode(s)
}

/// Go's `url.QueryUnescape`.
pub fn query_unescape(s: &str) -> Result<String, String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let hex = s
                    .get(i + 1..i + 3)
                    .filter(|h| h.bytes().all(|c| c.is_ascii_hexdigit()));
                let Some(hex) = hex else {
                    let end = (i + 3).min(s.len());
                    return Err(format!("invalid URL escape {:?}", &s[i..end]));
                };
                out.push(u8::from_str_radix(hex, 16).map_err(|e| e.to_string())?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}
