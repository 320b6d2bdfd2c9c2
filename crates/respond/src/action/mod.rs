//! Remediation actions for Bongsu's respond stage: running one command
//! ([`exec`]) and making one HTTP call ([`http`]), plus the HMAC signing
//! scheme shared with the inbound webhook endpoint.

pub mod exec;
pub mod http;

/// Renders captured bytes for humans: lossy UTF-8 of what was kept, plus a
/// marker saying how many bytes were dropped (if any). Shared by both modules
/// so command output and HTTP response bodies are truncated the same way.
fn bounded_text(kept: &[u8], dropped: u64) -> String {
    let mut text = String::from_utf8_lossy(kept).into_owned();
    if dropped > 0 {
        text.push_str(&format!("\n…[truncated {dropped} bytes]"));
    }
    text
}

/// Accumulates at most `limit` bytes; everything past the limit is only
/// counted, so memory stays bounded however much the other side sends.
#[derive(Debug, Default)]
pub(super) struct BoundedBuf {
    limit: usize,
    kept: Vec<u8>,
    dropped: u64,
}

impl BoundedBuf {
    pub(super) fn new(limit: usize) -> Self {
        BoundedBuf {
            limit,
            kept: Vec::new(),
            dropped: 0,
        }
    }

    pub(super) fn push(&mut self, chunk: &[u8]) {
        let room = self.limit.saturating_sub(self.kept.len());
        let take = room.min(chunk.len());
        self.kept.extend_from_slice(&chunk[..take]);
        self.dropped += (chunk.len() - take) as u64;
    }

    pub(super) fn to_text(&self) -> String {
        bounded_text(&self.kept, self.dropped)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_buf_keeps_limit_and_counts_rest() {
        let mut b = BoundedBuf::new(5);
        b.push(b"abc");
        b.push(b"defgh");
        b.push(b"ij");
        assert_eq!(b.kept, b"abcde");
        assert_eq!(b.dropped, 5);
        assert_eq!(b.to_text(), "abcde\n…[truncated 5 bytes]");
        let mut b = BoundedBuf::new(10);
        b.push(b"short");
        assert_eq!(b.to_text(), "short");
    }
}
