//! Control-structure checks that Go's parser makes and gotmpl 0.6 skips.
//!
//! gotmpl accepts `{{end}}` without an opening action, an unclosed `{{if}}`,
//! `{{else}}` at the top level and `{{break}}` outside `{{range}}` (it stops
//! or recovers silently). Before gotmpl parses a text we scan its actions and
//! reject what Go rejects, with Go's messages.

/// A structural error: where (byte offset, line) and Go's message.
#[derive(Debug, Clone, PartialEq)]
pub struct StructError {
    pub offset: usize,
    pub line: usize,
    pub message: String,
}

#[derive(Clone, Copy, PartialEq)]
enum Open {
    If,
    Range,
    With,
    Define,
    Block,
}

/// Scans `src` (delimiters `{{` `}}`) and reports the first structural error.
/// On success, returns the byte offsets of trailing pipes (`{{ x | }}`),
/// which Go ignores and gotmpl rejects.
pub fn check_structure(src: &str) -> Result<Vec<usize>, StructError> {
    let mut trailing_pipes = Vec::new();
    let b = src.as_bytes();
    let mut stack: Vec<Open> = Vec::new();
    let mut i = 0usize;
    let mut line = 1usize;
    let err = |offset: usize, line: usize, message: String| {
        Err(StructError {
            offset,
            line,
            message,
        })
    };
    while i < b.len() {
        // Text up to the next action.
        let Some(rel) = src[i..].find("{{") else {
            break;
        };
        line += src[i..i + rel].matches('\n').count();
        let action_start = i + rel;
        i += rel + 2;
        let action_line = line;
        // Left trim marker `- ` (a dash and one space character).
        let mut after_marker = i;
        if src[i..].starts_with("- ")
            || src[i..].starts_with("-\t")
            || src[i..].starts_with("-\n")
            || src[i..].starts_with("-\r")
        {
            after_marker = i + 2;
            i += 1;
        }
        // Comment: `/*` right after the delimiter (and its trim marker).
        if src.get(after_marker..).is_some_and(|r| r.starts_with("/*")) {
            let Some(end) = src[after_marker + 2..].find("*/") else {
                return err(action_start, action_line, "unclosed comment".into());
            };
            let close = after_marker + 2 + end + 2;
            line += src[i..close].matches('\n').count();
            let rest = &src[close..];
            let skip = if rest.starts_with("}}") {
                2
            } else if rest.starts_with(" -}}") {
                4
            } else {
                return err(
                    action_start,
                    action_line,
                    "comment ends before closing delimiter".into(),
                );
            };
            i = close + skip;
            continue;
        }
        // Tokens of the action up to the closing delimiter.
        let mut words: Vec<&str> = Vec::new();
        let mut j = i;
        let mut closed = false;
        while j < b.len() {
            let c = b[j];
            if src[j..].starts_with("}}") {
                closed = true;
                j += 2;
                break;
            }
            if src[j..].starts_with(" -}}")
                || src[j..].starts_with("\t-}}")
                || src[j..].starts_with("\n-}}")
            {
                closed = true;
                j += 4;
                break;
            }
            match c {
                b'"' => {
                    let start = j;
                    j += 1;
                    loop {
                        match b.get(j) {
                            None | Some(b'\n') => {
                                return err(
                                    action_start,
                                    action_line,
                                    "unterminated quoted string".into(),
                                )
                            }
                            Some(b'\\') => j += 2,
                            Some(b'"') => {
                                j += 1;
                                break;
                            }
                            Some(_) => j += 1,
                        }
                    }
                    words.push(&src[start..j.min(src.len())]);
                }
                b'`' => {
                    let start = j;
                    let Some(end) = src[j + 1..].find('`') else {
                        return err(
                            action_start,
                            action_line,
                            "unterminated raw quoted string".into(),
                        );
                    };
                    line += src[j..j + 1 + end].matches('\n').count();
                    j += end + 2;
                    words.push(&src[start..j]);
                }
                b'\'' => {
                    let start = j;
                    j += 1;
                    loop {
                        match b.get(j) {
                            None | Some(b'\n') => {
                                return err(
                                    action_start,
                                    action_line,
                                    "unterminated character constant".into(),
                                )
                            }
                            Some(b'\\') => j += 2,
                            Some(b'\'') => {
                                j += 1;
                                break;
                            }
                            Some(_) => j += 1,
                        }
                    }
                    words.push(&src[start..j.min(src.len())]);
                }
                b' ' | b'\t' | b'\r' => j += 1,
                b'\n' => {
                    line += 1;
                    j += 1;
                }
                b'/' if src[j..].starts_with("/*") => {
                    // Go lexes a comment only right after the delimiter.
                    return err(
                        action_start,
                        action_line,
                        "unexpected \"/\" in command".into(),
                    );
                }
                _ => {
                    let start = j;
                    while j < b.len()
                        && !matches!(b[j], b' ' | b'\t' | b'\r' | b'\n' | b'"' | b'`' | b'\'')
                        && !src[j..].starts_with("}}")
                    {
                        j += src[j..].chars().next().map_or(1, char::len_utf8);
                    }
                    words.push(&src[start..j]);
                }
            }
        }
        if !closed {
            // gotmpl reports unclosed actions itself ("unclosed action").
            return Ok(trailing_pipes);
        }
        if words.len() > 1 && words.last() == Some(&"|") {
            let w = words[words.len() - 1];
            trailing_pipes.push(w.as_ptr() as usize - src.as_ptr() as usize);
        }
        i = j;
        let first = words.first().copied().unwrap_or("");
        match first {
            "if" | "range" | "with" => {
                if words.len() == 1 {
                    return err(
                        action_start,
                        action_line,
                        format!("missing value for {first}"),
                    );
                }
                stack.push(match first {
                    "if" => Open::If,
                    "range" => Open::Range,
                    _ => Open::With,
                });
            }
            "define" | "block" => stack.push(if first == "define" {
                Open::Define
            } else {
                Open::Block
            }),
            "template" => {
                let next = words.get(1).copied().unwrap_or("}}");
                if !(next.starts_with('"') || next.starts_with('`')) {
                    return err(
                        action_start,
                        action_line,
                        format!("unexpected {next:?} in template clause"),
                    );
                }
            }
            "else" => match stack.last() {
                Some(Open::If | Open::Range | Open::With) => {}
                _ => return err(action_start, action_line, "unexpected {{else}}".into()),
            },
            "end" if stack.pop().is_none() => {
                return err(action_start, action_line, "unexpected {{end}}".into());
            }
            "break" | "continue" => {
                if !stack.contains(&Open::Range) {
                    return err(
                        action_start,
                        action_line,
                        format!("{{{{{first}}}}} outside {{{{range}}}}"),
                    );
                }
                if let Some(extra) = words.get(1) {
                    return err(
                        action_start,
                        action_line,
                        format!("unexpected {extra:?} in {{{{{first}}}}}"),
                    );
                }
            }
            _ => {}
        }
    }
    if !stack.is_empty() {
        return err(src.len(), line, "unexpected EOF".into());
    }
    Ok(trailing_pipes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trailing_pipe() {
        assert_eq!(
            check_structure("{{ \"a\" | printf \"%s\" | }}").unwrap(),
            vec![21]
        );
    }

    fn msg(s: &str) -> String {
        check_structure(s)
            .err()
            .map(|e| e.message)
            .unwrap_or_default()
    }

    #[test]
    fn go_structure_errors() {
        assert_eq!(msg("{{ break }}"), "{{break}} outside {{range}}");
        assert_eq!(
            msg("{{ range . }}{{ continue 1 }}{{ end }}"),
            "unexpected \"1\" in {{continue}}"
        );
        assert_eq!(msg("{{ end }}"), "unexpected {{end}}");
        assert_eq!(msg("{{ if }}{{ end }}"), "missing value for if");
        assert_eq!(
            msg("{{ template }}"),
            "unexpected \"}}\" in template clause"
        );
        assert_eq!(msg("{{ \"x }}"), "unterminated quoted string");
        assert_eq!(msg("{{ else }}"), "unexpected {{else}}");
        assert_eq!(msg("{{ if true }}"), "unexpected EOF");
        assert_eq!(msg("{{/* x }}"), "unclosed comment");
        assert_eq!(msg("x{{- /* c */ -}}"), "");
        assert_eq!(msg("{{ /* c */ }}"), "unexpected \"/\" in command");
        assert_eq!(
            msg("{{- /* c */ -}}{{ if 1 }}{{ else if 2 }}{{ else }}{{ end }}"),
            ""
        );
        assert_eq!(
            msg("{{ range . }}{{ if . }}{{ break }}{{ end }}{{ end }}"),
            ""
        );
        assert_eq!(msg("{{ \"}}\" }}{{ `{{ end }}` }}"), "");
    }
}
