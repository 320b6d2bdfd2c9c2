//! The block chunk codec: one chunk holds up to [`MAX_BLOCK_CHUNK_SAMPLES`]
//! samples of one series, stored as two `pco` columns (timestamps, values),
//! or as an XOR chunk when that is smaller (tiny series).
//!
//! Encoding byte 1: XOR chunk ([`crate::chunkenc`]).
//! Encoding byte 2: columns:
//! * timestamps: `0` regular (varint t0, uvarint step) | `1` pco `i64` |
//!   `2` grid (varint t0, varint step, pco `i64` offsets from `t0 + i*step`);
//! * value exceptions (non-finite values and `-0.0`), stored as
//!   (index delta, bits) and replaced by the previous value in the column;
//! * values: `0` constant (u64 bits) | `1` decimal (exponent e, pco `i64`
//!   mantissas, value = m / 10^e exactly) | `2` pco `f64`.
//!
//! Decoded sizes always come from our index (`n`), never from pco's header.

use crate::enc::{put_uvarint, put_varint, Cursor, Malformed};
use bongsu_model::Sample;
use pco::standalone::{simple_compress, simple_decompress_into};
use pco::ChunkConfig;

/// Samples per block chunk; a series with more samples gets several chunks.
pub const MAX_BLOCK_CHUNK_SAMPLES: usize = 4096;

const POW10: [f64; 10] = [1.0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9];

fn is_exception(v: f64) -> bool {
    !v.is_finite() || (v == 0.0 && v.is_sign_negative())
}

fn decimal_exponent(vals: &[f64]) -> Option<(u8, Vec<i64>)> {
    'outer: for (e, &p) in POW10.iter().enumerate() {
        let mut out = Vec::with_capacity(vals.len());
        for &v in vals {
            let m = (v * p).round();
            if m.abs() >= 9.0e15 || (m / p).to_bits() != v.to_bits() {
                continue 'outer;
            }
            out.push(m as i64);
        }
        return Some((e as u8, out));
    }
    None
}

fn pco_cfg() -> ChunkConfig {
    ChunkConfig::default()
}

/// Encodes samples (ascending, at most [`MAX_BLOCK_CHUNK_SAMPLES`]).
pub fn encode(samples: &[Sample]) -> Vec<u8> {
    let xor = {
        let mut b = vec![1u8];
        b.extend_from_slice(&crate::chunkenc::encode(samples));
        b
    };
    if samples.len() < 8 {
        return xor;
    }
    match encode_columns(samples) {
        Some(c) if c.len() < xor.len() => c,
        _ => xor,
    }
}

fn encode_columns(samples: &[Sample]) -> Option<Vec<u8>> {
    let n = samples.len();
    let mut b = vec![2u8];
    // timestamps
    let t0 = samples[0].t;
    let step = if n >= 2 {
        samples[1].t.wrapping_sub(t0)
    } else {
        0
    };
    let regular = step >= 0
        && samples
            .windows(2)
            .all(|w| w[1].t.wrapping_sub(w[0].t) == step);
    if regular {
        b.push(0);
        put_varint(&mut b, t0);
        put_uvarint(&mut b, step as u64);
    } else {
        let ts: Vec<i64> = samples.iter().map(|s| s.t).collect();
        let plain = simple_compress(&ts, &pco_cfg()).ok()?;
        // Scrape jitter: offsets from a regular grid (median step) are
        // cheaper than deltas, which carry two jitters each.
        let mut deltas: Vec<i64> = ts.windows(2).map(|w| w[1].wrapping_sub(w[0])).collect();
        deltas.sort_unstable();
        let step = deltas[deltas.len() / 2];
        let resid: Vec<i64> = ts
            .iter()
            .enumerate()
            .map(|(i, &t)| t.wrapping_sub(t0.wrapping_add(step.wrapping_mul(i as i64))))
            .collect();
        let grid = simple_compress(&resid, &pco_cfg()).ok()?;
        if grid.len() + 10 < plain.len() {
            b.push(2);
            put_varint(&mut b, t0);
            put_varint(&mut b, step);
            put_uvarint(&mut b, grid.len() as u64);
            b.extend_from_slice(&grid);
        } else {
            b.push(1);
            put_uvarint(&mut b, plain.len() as u64);
            b.extend_from_slice(&plain);
        }
    }
    // exceptions
    let mut vals = Vec::with_capacity(n);
    let mut exc = Vec::new();
    // Exceptions take the previous real value (the first real one when leading).
    let mut prev = samples
        .iter()
        .map(|s| s.v)
        .find(|v| !is_exception(*v))
        .unwrap_or(0.0);
    for (i, s) in samples.iter().enumerate() {
        if is_exception(s.v) {
            exc.push((i, s.v.to_bits()));
            vals.push(prev);
        } else {
            vals.push(s.v);
            prev = s.v;
        }
    }
    put_uvarint(&mut b, exc.len() as u64);
    let mut last = 0usize;
    for (i, bits) in &exc {
        put_uvarint(&mut b, (*i - last) as u64);
        b.extend_from_slice(&bits.to_le_bytes());
        last = *i;
    }
    // values
    if vals.iter().all(|v| v.to_bits() == vals[0].to_bits()) {
        b.push(0);
        b.extend_from_slice(&vals[0].to_bits().to_le_bytes());
    } else if let Some((e, ms)) = decimal_exponent(&vals) {
        b.push(1);
        b.push(e);
        let c = simple_compress(&ms, &pco_cfg()).ok()?;
        put_uvarint(&mut b, c.len() as u64);
        b.extend_from_slice(&c);
    } else {
        b.push(2);
        let c = simple_compress(&vals, &pco_cfg()).ok()?;
        put_uvarint(&mut b, c.len() as u64);
        b.extend_from_slice(&c);
    }
    Some(b)
}

/// Decodes a chunk that our index says holds `n` samples.
pub fn decode(data: &[u8], n: usize) -> Result<Vec<Sample>, Malformed> {
    if n > MAX_BLOCK_CHUNK_SAMPLES.max(u16::MAX as usize) {
        return Err(Malformed);
    }
    let mut c = Cursor::new(data);
    match c.u8()? {
        1 => {
            let s = crate::chunkenc::decode(&data[1..]).map_err(|_| Malformed)?;
            if s.len() != n {
                return Err(Malformed);
            }
            Ok(s)
        }
        2 => decode_columns(&mut c, n),
        _ => Err(Malformed),
    }
}

fn pco_i64(c: &mut Cursor, n: usize) -> Result<Vec<i64>, Malformed> {
    let bytes = c.bytes()?;
    let mut out = vec![0i64; n];
    let p = simple_decompress_into(bytes, &mut out).map_err(|_| Malformed)?;
    if p.n_processed != n || !p.finished {
        return Err(Malformed);
    }
    Ok(out)
}

fn decode_columns(c: &mut Cursor, n: usize) -> Result<Vec<Sample>, Malformed> {
    if n == 0 {
        return Err(Malformed);
    }
    let ts = match c.u8()? {
        0 => {
            let t0 = c.varint()?;
            let step = c.uvarint()? as i64;
            (0..n as i64)
                .map(|i| t0.wrapping_add(step.wrapping_mul(i)))
                .collect()
        }
        1 => pco_i64(c, n)?,
        2 => {
            let t0 = c.varint()?;
            let step = c.varint()?;
            let r = pco_i64(c, n)?;
            r.into_iter()
                .enumerate()
                .map(|(i, d)| t0.wrapping_add(step.wrapping_mul(i as i64)).wrapping_add(d))
                .collect()
        }
        _ => return Err(Malformed),
    };
    let nexc = c.count(9)?;
    let mut exc = Vec::with_capacity(nexc);
    let mut last = 0usize;
    for _ in 0..nexc {
        last = last.checked_add(c.uvarint()? as usize).ok_or(Malformed)?;
        if last >= n {
            return Err(Malformed);
        }
        exc.push((last, c.u64_le()?));
    }
    let vals: Vec<f64> = match c.u8()? {
        0 => vec![f64::from_bits(c.u64_le()?); n],
        1 => {
            let e = c.u8()? as usize;
            let p = *POW10.get(e).ok_or(Malformed)?;
            pco_i64(c, n)?.into_iter().map(|m| m as f64 / p).collect()
        }
        2 => {
            let bytes = c.bytes()?;
            let mut out = vec![0f64; n];
            let p = simple_decompress_into(bytes, &mut out).map_err(|_| Malformed)?;
            if p.n_processed != n || !p.finished {
                return Err(Malformed);
            }
            out
        }
        _ => return Err(Malformed),
    };
    let mut out: Vec<Sample> = ts
        .into_iter()
        .zip(vals)
        .map(|(t, v)| Sample { t, v })
        .collect();
    for (i, bits) in exc {
        out[i].v = f64::from_bits(bits);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bongsu_model::STALE_NAN;
    use rand::{Rng, SeedableRng};

    fn same(a: &[Sample], b: &[Sample]) -> bool {
        a.len() == b.len()
            && a.iter()
                .zip(b)
                .all(|(x, y)| x.t == y.t && x.v.to_bits() == y.v.to_bits())
    }

    #[test]
    fn round_trips_mixed() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        let specials = [f64::NAN, STALE_NAN, f64::INFINITY, f64::NEG_INFINITY, -0.0];
        for case in 0..60 {
            let n = rng.gen_range(1..2000);
            let mut t = 1_700_000_000_000i64;
            let mut v = 100.0;
            let mut s = Vec::new();
            for _ in 0..n {
                t += if case % 2 == 0 {
                    10_000
                } else {
                    rng.gen_range(9_990..10_010)
                };
                v = match rng.gen_range(0..10) {
                    0 => specials[rng.gen_range(0..specials.len())],
                    1 => f64::from_bits(rng.gen::<u64>() >> 2),
                    _ if case % 3 == 0 => v,
                    _ => {
                        ((if v.is_finite() { v } else { 0.0 }) * 100.0
                            + rng.gen_range(0..500) as f64)
                            .round()
                            / 100.0
                    }
                };
                s.push(Sample::new(t, v));
            }
            let enc = encode(&s);
            assert!(same(&decode(&enc, n).unwrap(), &s), "case {case}");
            assert!(decode(&enc, n + 1).is_err() || n + 1 > MAX_BLOCK_CHUNK_SAMPLES);
            let _ = decode(&enc[..enc.len() / 2], n);
            for _ in 0..20 {
                let mut bad = enc.clone();
                let i = rng.gen_range(0..bad.len());
                bad[i] = rng.gen();
                let _ = decode(&bad, n);
            }
        }
    }
}
