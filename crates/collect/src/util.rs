//! Small file readers shared by the collectors.

use crate::{CollectError, Result};

/// The whole file, or a [`CollectError::Read`] naming it.
pub(crate) fn read(path: &str) -> Result<String> {
    std::fs::read_to_string(path).map_err(|source| CollectError::Read {
        path: path.to_string(),
        source,
    })
}

/// The file's content without surrounding whitespace, when readable.
pub(crate) fn read_trimmed(path: &str) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()
        .map(|s| s.trim().to_string())
}

/// The file's content as one unsigned integer, when readable and numeric.
pub(crate) fn read_u64(path: &str) -> Option<u64> {
    parse_trimmed(&read_trimmed(path)?)
}

/// One number that fills `text` but for surrounding whitespace (a sysfs
/// value file).
pub(crate) fn parse_trimmed<T: std::str::FromStr>(text: &str) -> Option<T> {
    text.trim().parse().ok()
}

/// A parse error for `path`.
pub(crate) fn parse_error(path: &str, what: impl Into<String>) -> CollectError {
    CollectError::Parse {
        path: path.to_string(),
        what: what.into(),
    }
}

/// Names of the entries of directory `dir` (empty when unreadable), sorted
/// like Go's `filepath.Glob`.
pub(crate) fn dir_names(dir: &str) -> Vec<String> {
    let mut names: Vec<String> = match std::fs::read_dir(dir) {
        Ok(rd) => rd
            .filter_map(|e| e.ok())
            .filter_map(|e| e.file_name().into_string().ok())
            .collect(),
        Err(_) => Vec::new(),
    };
    names.sort();
    names
}

/// Whether `s` is `prefix` followed by one or more ASCII digits.
pub(crate) fn is_prefix_digits(s: &str, prefix: &str) -> bool {
    s.strip_prefix(prefix)
        .is_some_and(|rest| !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_digit()))
}

/// Deterministic mangled variants of `text` (truncations, replaced and
/// deleted characters, odd bytes) for "parsers never panic" tests.
#[cfg(test)]
pub(crate) fn mangled(text: &str) -> Vec<String> {
    const ODD: [char; 14] = [' ', '\n', ':', '-', '(', ')', '\\', '0', '9', 'x', '\0', 'é', '"', '\t'];
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    for cut in (0..chars.len()).step_by(chars.len() / 50 + 1) {
        out.push(chars[..cut].iter().collect());
    }
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for _ in 0..400 {
        let mut v = chars.clone();
        for _ in 0..(next() % 8 + 1) {
            if v.is_empty() {
                break;
            }
            let at = (next() % v.len() as u64) as usize;
            match next() % 3 {
                0 => v[at] = ODD[(next() % ODD.len() as u64) as usize],
                1 => {
                    v.remove(at);
                }
                _ => v.insert(at, ODD[(next() % ODD.len() as u64) as usize]),
            }
        }
        out.push(v.into_iter().collect());
    }
    out
}
