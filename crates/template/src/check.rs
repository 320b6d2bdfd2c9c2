//! Parse-time checks Go's `text/template/parse` makes and gotmpl leaves to
//! execution: every `$variable` is declared in scope and every function is
//! defined. Errors read like Go's: `undefined variable "$label"`,
//! `function "foo" not defined`.

use gotmpl::parse::{BranchNode, Expr, ListNode, Node, PipeNode};

/// Go's predefined functions.
pub const GO_BUILTINS: &[&str] = &[
    "and", "call", "html", "index", "slice", "js", "len", "not", "or", "print", "printf",
    "println", "urlquery", "eq", "ge", "gt", "le", "lt", "ne",
];

/// A check failure: the 1-based line and Go's message.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckError {
    pub line: usize,
    pub message: String,
}

/// Checks one tree (a template body or a `define`), which starts with only `$`
/// in scope.
pub fn check_tree(list: &ListNode, has_func: &dyn Fn(&str) -> bool) -> Result<(), CheckError> {
    let mut c = Checker {
        vars: vec!["$".to_string()],
        has_func,
    };
    c.list(list)
}

struct Checker<'a> {
    vars: Vec<String>,
    has_func: &'a dyn Fn(&str) -> bool,
}

impl Checker<'_> {
    fn list(&mut self, l: &ListNode) -> Result<(), CheckError> {
        for n in &l.nodes {
            self.node(n)?;
        }
        Ok(())
    }

    fn node(&mut self, n: &Node) -> Result<(), CheckError> {
        match n {
            Node::List(l) => self.list(l),
            Node::Action(a) => self.pipe(&a.pipe),
            Node::If(b) | Node::Range(b) | Node::With(b) => self.branch(b),
            Node::Template(t) => match &t.pipe {
                Some(p) => self.pipe(p),
                None => Ok(()),
            },
            // `define` bodies are checked as their own trees.
            _ => Ok(()),
        }
    }

    fn branch(&mut self, b: &BranchNode) -> Result<(), CheckError> {
        // Go pops the control structure's variables at its `end`; variables
        // declared in the body stay visible in the `else` part.
        let saved = self.vars.len();
        let r = (|| {
            self.pipe(&b.pipe)?;
            self.list(&b.body)?;
            if let Some(e) = &b.else_body {
                self.list(e)?;
            }
            Ok(())
        })();
        self.vars.truncate(saved);
        r
    }

    fn pipe(&mut self, p: &PipeNode) -> Result<(), CheckError> {
        // Go's parser adds the pipeline's variables (declared or assigned)
        // before parsing its commands; assigning an undeclared variable
        // fails only at execution.
        self.vars.extend(p.decl.iter().map(|d| d.to_string()));
        for c in &p.commands {
            for a in &c.args {
                self.expr(a)?;
            }
            // `true.x`: gotmpl reads a term and a field; Go refuses.
            for w in c.args.windows(2) {
                let term = match &w[0] {
                    Expr::Bool(pos, b) => {
                        Some((pos.offset + if *b { 4 } else { 5 }, b.to_string()))
                    }
                    Expr::Nil(pos) => Some((pos.offset + 3, "nil".to_string())),
                    _ => None,
                };
                if let (Some((end, t)), Expr::Field(fpos, _)) = (term, &w[1]) {
                    if fpos.offset == end {
                        return Err(CheckError {
                            line: fpos.line,
                            message: format!("unexpected . after term {t:?}"),
                        });
                    }
                }
            }
        }
        // Only the first command of a pipeline may start with a constant.
        for (i, c) in p.commands.iter().enumerate().skip(1) {
            if matches!(
                c.args.first(),
                Some(
                    Expr::Bool(..)
                        | Expr::Dot(_)
                        | Expr::Nil(_)
                        | Expr::Number(..)
                        | Expr::String(..)
                )
            ) {
                return Err(CheckError {
                    line: c.pos.line,
                    message: format!("non executable command in pipeline stage {}", i + 1),
                });
            }
        }
        Ok(())
    }

    fn var(&self, name: &str, line: usize) -> Result<(), CheckError> {
        if self.vars.iter().any(|v| v == name) {
            Ok(())
        } else {
            Err(CheckError {
                line,
                message: format!("undefined variable {name:?}"),
            })
        }
    }

    fn expr(&mut self, e: &Expr) -> Result<(), CheckError> {
        match e {
            Expr::Variable(pos, name, _) => self.var(name.as_str(), pos.line),
            Expr::Identifier(pos, name) => {
                if (self.has_func)(name.as_str()) {
                    Ok(())
                } else {
                    Err(CheckError {
                        line: pos.line,
                        message: format!("function {:?} not defined", name.as_str()),
                    })
                }
            }
            Expr::Pipe(_, p) => self.pipe(p),
            Expr::Chain(pos, inner, _) => {
                let term = match &**inner {
                    Expr::Bool(_, b) => Some(b.to_string()),
                    Expr::Nil(_) => Some("nil".to_string()),
                    Expr::Dot(_) => Some(".".to_string()),
                    Expr::String(_, s) => Some(format!("{s:?}")),
                    Expr::Number(_, n) => Some(match n {
                        gotmpl::parse::Number::Int(i) => i.to_string(),
                        gotmpl::parse::Number::Uint(u) => u.to_string(),
                        gotmpl::parse::Number::Float(f) => f.to_string(),
                    }),
                    _ => None,
                };
                if let Some(t) = term {
                    return Err(CheckError {
                        line: pos.line,
                        message: format!("unexpected . after term {t:?}"),
                    });
                }
                self.expr(inner)
            }
            _ => Ok(()),
        }
    }
}
