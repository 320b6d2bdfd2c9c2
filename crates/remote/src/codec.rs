//! Remote write bodies: a protobuf `WriteRequest` compressed with snappy's
//! block format (not the framed stream format), as remote write 1.0 says.

use crate::prompb::WriteRequest;
use prost::Message;

/// The largest body Bongsu accepts, compressed or decompressed: 32 MiB,
/// Prometheus' `decodeReadLimit` for remote request bodies.
pub const MAX_DECODED_BYTES: usize = 32 << 20;

/// Why a body could not be decoded. Each message names the problem, for the
/// 400 answer.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DecodeError {
    #[error("request body too large: {size} bytes compressed exceeds the limit of {limit} bytes")]
    BodyTooLarge { size: usize, limit: usize },
    #[error("snappy: decoded length {size} exceeds limit {limit}")]
    DecodedTooLarge { size: usize, limit: usize },
    #[error("snappy: {0} (the body must be snappy block format, not framed)")]
    Snappy(String),
    #[error("protobuf: {0} (the body must be a prometheus.WriteRequest)")]
    Protobuf(String),
}

/// Encodes and snappy-compresses a request.
pub fn encode(req: &WriteRequest) -> Vec<u8> {
    let raw = req.encode_to_vec();
    compress(&raw)
}

/// Snappy block-format compression.
pub fn compress(raw: &[u8]) -> Vec<u8> {
    // Compression of a Vec<u8> into a sized buffer cannot fail except for
    // inputs over 4 GiB, which a batch never reaches; fall back to an empty
    // body (refused by any receiver) rather than panic.
    snap::raw::Encoder::new().compress_vec(raw).unwrap_or_default()
}

/// Decompresses a snappy block, refusing before allocation a decoded length
/// over `limit` (the length is the block's leading varint).
pub fn decompress(body: &[u8], limit: usize) -> Result<Vec<u8>, DecodeError> {
    if body.len() > limit {
        return Err(DecodeError::BodyTooLarge { size: body.len(), limit });
    }
    let size = snap::raw::decompress_len(body).map_err(|e| DecodeError::Snappy(e.to_string()))?;
    if size > limit {
        return Err(DecodeError::DecodedTooLarge { size, limit });
    }
    snap::raw::Decoder::new().decompress_vec(body).map_err(|e| DecodeError::Snappy(e.to_string()))
}

/// Decompresses and decodes a remote write body, with the decoded size
/// capped at `limit`.
pub fn decode(body: &[u8], limit: usize) -> Result<WriteRequest, DecodeError> {
    let raw = decompress(body, limit)?;
    WriteRequest::decode(raw.as_slice()).map_err(|e| DecodeError::Protobuf(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prompb::{Label, Sample, TimeSeries};

    fn req() -> WriteRequest {
        WriteRequest {
            timeseries: vec![TimeSeries {
                labels: vec![Label::new("__name__", "up"), Label::new("job", "node")],
                samples: vec![
                    Sample { value: 1.0, timestamp: 1_700_000_000_000 },
                    Sample { value: f64::from_bits(bongsu_model::STALE_NAN_BITS), timestamp: 1_700_000_015_000 },
                ],
                ..Default::default()
            }],
            metadata: vec![],
        }
    }

    #[test]
    fn round_trip_keeps_stale_markers_bit_exact() {
        let body = encode(&req());
        let back = decode(&body, MAX_DECODED_BYTES).expect("decode");
        assert_eq!(back.timeseries[0].labels, req().timeseries[0].labels);
        let s = &back.timeseries[0].samples;
        assert_eq!(s[0].value, 1.0);
        assert_eq!(s[1].value.to_bits(), bongsu_model::STALE_NAN_BITS);
    }

    #[test]
    fn known_bytes_match_the_protobuf_wire_format() {
        // Hand-checked against the proto: field 1 (timeseries, LEN), inside:
        // field 1 label {1: "__name__", 2: "up"}, field 2 sample {1: double 1.0, 2: varint ts}.
        let r = WriteRequest {
            timeseries: vec![TimeSeries {
                labels: vec![Label::new("__name__", "up")],
                samples: vec![Sample { value: 1.0, timestamp: 1 }],
                ..Default::default()
            }],
            metadata: vec![],
        };
        let raw = r.encode_to_vec();
        let want: Vec<u8> = vec![
            0x0a, 0x1d, // timeseries, 29 bytes
            0x0a, 0x0e, 0x0a, 0x08, b'_', b'_', b'n', b'a', b'm', b'e', b'_', b'_', 0x12, 0x02, b'u', b'p', // label
            0x12, 0x0b, 0x09, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f, 0x10, 0x01, // sample
        ];
        assert_eq!(raw, want);
    }

    /// A body the real Prometheus 2.42 sent (captured by
    /// `tests/remote_write.rs` with `BONGSU_CAPTURE_REMOTE_WRITE`): the first
    /// scrape of a target serving `demo_seq 1`.
    #[test]
    fn decodes_what_prometheus_sends_and_re_encodes_it_byte_for_byte() {
        let body = include_bytes!("../testdata/prometheus-2.42-write.snappy");
        let req = decode(body, MAX_DECODED_BYTES).expect("decode");
        let names: Vec<&str> = req
            .timeseries
            .iter()
            .filter_map(|t| t.labels.iter().find(|l| l.name == "__name__").map(|l| l.value.as_str()))
            .collect();
        for want in ["demo_seq", "up", "scrape_duration_seconds", "scrape_samples_scraped"] {
            assert!(names.contains(&want), "{want} in {names:?}");
        }
        for ts in &req.timeseries {
            assert!(ts.labels.windows(2).all(|w| w[0].name < w[1].name), "sorted labels");
            assert_eq!(ts.samples.len(), 1);
            assert!(ts.labels.iter().any(|l| l.name == "job" && l.value == "demo"));
        }
        let seq = req.timeseries.iter().find(|t| t.labels[0].value == "demo_seq").expect("demo_seq");
        assert_eq!(seq.samples[0].value, 1.0);
        assert!(seq.samples[0].timestamp > 1_600_000_000_000);
        // prost writes the same bytes gogo-protobuf wrote.
        let raw = decompress(body, MAX_DECODED_BYTES).expect("raw");
        assert_eq!(req.encode_to_vec(), raw);
    }

    #[test]
    fn refuses_before_allocating_oversized_bodies() {
        let big = vec![0u8; 4096];
        let body = compress(&big);
        assert_eq!(decode(&body, 1024), Err(DecodeError::DecodedTooLarge { size: 4096, limit: 1024 }));
        // A forged header claiming 4 GiB is refused from the header alone.
        let forged = [0xff, 0xff, 0xff, 0xff, 0x0f, 0x00];
        assert!(matches!(decode(&forged, MAX_DECODED_BYTES), Err(DecodeError::DecodedTooLarge { .. })));
        assert!(matches!(decode(&[0; 100], 10), Err(DecodeError::BodyTooLarge { .. })));
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(matches!(decode(b"hello world", MAX_DECODED_BYTES), Err(DecodeError::Snappy(_) | DecodeError::Protobuf(_))));
        let not_proto = compress(b"\xff\xff\xff\xff\xff");
        assert!(matches!(decode(&not_proto, MAX_DECODED_BYTES), Err(DecodeError::Protobuf(_))));
        for n in 0..64u8 {
            let junk: Vec<u8> = (0..n).map(|i| i.wrapping_mul(37).wrapping_add(n)).collect();
            let _ = decode(&junk, MAX_DECODED_BYTES);
            let _ = decode(&compress(&junk), MAX_DECODED_BYTES);
        }
    }
}
