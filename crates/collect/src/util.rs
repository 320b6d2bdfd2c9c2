//! Small file readers shared by the collectors.

use crate::{CollectError, Result};

/// The whole file, or a [`CollectError::Read`] naming it.
pub(crate) fn read(path: &str) -> Result<String> {
    read_string(path).map_err(|source| CollectError::Read {
        path: path.to_string(),
        source,
    })
}

/// `std::fs::read_to_string` through [`read_into`].
pub(crate) fn read_string(path: impl AsRef<std::path::Path>) -> std::io::Result<String> {
    let mut buf = Vec::new();
    read_into(path, &mut buf)?;
    String::from_utf8(buf).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
}

/// Reads the whole file at `path` into `buf` (cleared first). Unlike
/// `std::fs::read_to_string` it makes no size probe (a `statx`, then a
/// 32-byte read and a read per doubling, since procfs and sysfs files say
/// they are empty): one `open`, a read per 4 KiB or more of content, the
/// read that sees the end, and `close`. `buf` keeps its capacity across calls.
pub(crate) fn read_into(path: impl AsRef<std::path::Path>, buf: &mut Vec<u8>) -> std::io::Result<()> {
    read_until(path, buf, false)
}

/// [`read_into`]; with `short_is_eof` a read that does not fill the buffer
/// ends it, which holds for procfs and sysfs files made by `seq_file`
/// (`stat`, `status`, `schedstat`, ...): they fill a read until the end.
fn read_until(path: impl AsRef<std::path::Path>, buf: &mut Vec<u8>, short_is_eof: bool) -> std::io::Result<()> {
    use std::io::Read;
    let mut f = std::fs::File::open(path)?;
    fill(buf, short_is_eof, |b, _| f.read(b))
}

/// Fills `buf` (cleared first) with what `read(into, offset)` returns until
/// it returns 0 or, with `short_is_eof`, less than it was offered.
fn fill(buf: &mut Vec<u8>, short_is_eof: bool, mut read: impl FnMut(&mut [u8], u64) -> std::io::Result<usize>) -> std::io::Result<()> {
    buf.clear();
    loop {
        if buf.capacity() - buf.len() < 1024 {
            buf.reserve(buf.capacity().max(4096));
        }
        let start = buf.len();
        buf.resize(buf.capacity(), 0);
        match read(&mut buf[start..], start as u64) {
            Ok(0) => {
                buf.truncate(start);
                return Ok(());
            }
            Ok(n) => {
                let full = start + n == buf.len();
                buf.truncate(start + n);
                if short_is_eof && !full {
                    return Ok(());
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => buf.truncate(start),
            Err(e) => {
                buf.truncate(start);
                return Err(e);
            }
        }
    }
}

/// A reusable buffer for reading many small files (see [`read_into`]).
#[derive(Debug, Default)]
pub(crate) struct FileReader {
    buf: Vec<u8>,
}

impl FileReader {
    /// The text of a `seq_file` (most of procfs and sysfs; see
    /// `read_until`); bytes that are not UTF-8 (a process may name itself
    /// anything) become U+FFFD.
    pub(crate) fn text(&mut self, path: &str) -> std::io::Result<&str> {
        read_until(path, &mut self.buf, true)?;
        Ok(self.as_text())
    }

    /// The text of an open `seq_file` read again from its start: procfs
    /// makes it afresh, so a file kept open reads like a new one (without
    /// the path lookup), and fails with ESRCH once its process is gone.
    pub(crate) fn text_at(&mut self, file: &std::fs::File) -> std::io::Result<&str> {
        use std::os::unix::fs::FileExt;
        fill(&mut self.buf, true, |b, offset| file.read_at(b, offset))?;
        Ok(self.as_text())
    }

    /// The buffer as text, bytes that are not UTF-8 replaced.
    fn as_text(&mut self) -> &str {
        if std::str::from_utf8(&self.buf).is_err() {
            self.buf = String::from_utf8_lossy(&self.buf).into_owned().into_bytes();
        }
        std::str::from_utf8(&self.buf).unwrap_or_default()
    }

    /// The file's bytes.
    pub(crate) fn bytes(&mut self, path: &str) -> std::io::Result<&[u8]> {
        read_into(path, &mut self.buf)?;
        Ok(&self.buf)
    }
}

/// The file's content without surrounding whitespace, when readable.
pub(crate) fn read_trimmed(path: &str) -> Option<String> {
    read_string(path)
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
