//! The head chunk codec: an XOR-family float chunk modelled on the ideas of
//! Prometheus 3's XOR2 (joint timestamp/value control bits, an explicit code
//! for the stale-NaN marker), written for millisecond timestamps.
//!
//! Layout: `u16` sample count (big endian), then a bit stream:
//! * sample 0: 64-bit timestamp, 64-bit value bits;
//! * every later sample (dod = delta-of-delta of the timestamp, with the
//!   delta before sample 1 taken as 0):
//!   - `0`              dod = 0, value unchanged
//!   - `10` X           dod = 0, value changed (X = XOR value)
//!   - `110` d8 F       dod in 8 signed bits
//!   - `1110` d14 F     dod in 14 signed bits
//!   - `11110` d20 F    dod in 20 signed bits
//!   - `111110` d64 F   dod in 64 bits
//!   - `111111` D       value is the stale NaN; D = `0` (dod 0) | `10` d14 |
//!     `110` d20 | `111` d64
//!
//!   F is `0` for "value unchanged" or `1` V. V (a changed value) is `0` X
//!   or `1` D, whichever is shorter. X is Gorilla's XOR encoding against the
//!   previous value: `0` + meaningful bits inside the previous
//!   leading/trailing window, or `1` + 5 bits leading zeros + 6 bits length
//!   (0 means 64) + bits. D is a decimal delta, for values such as counters
//!   in 0.01 steps where XOR is poor: 3 bits e, then the signed difference
//!   of `round(v·10^e)` and `round(prev·10^e)` in a bin: `0` 7 bits | `10`
//!   14 | `110` 24 | `111` 40; the value is that integer / 10^e, used only
//!   when this reproduces the value bit for bit.
//!   A stale marker does not become the XOR reference value, so the value
//!   after a staleness marker compresses against the last real value.

use bongsu_model::{Sample, STALE_NAN_BITS};

/// Bytes allocated for a new chunk (its first sample takes 18). Most chunks
/// need 40–80 bytes after ten samples; starting at 64 skips the 32- and
/// 48-byte size classes, whose pages the series would leave behind in
/// lockstep (measured at 1M series: up to ~60 MB of such pages stayed
/// resident, pinned by the few chunks still in them).
const FIRST_CAP: usize = 64;

/// The block size the allocator (mimalloc v3) gives a request of `n` bytes:
/// 16-byte steps up to 128, then four size classes per doubling. Growing to
/// these sizes uses the whole block.
pub(crate) fn size_class(n: usize) -> usize {
    if n <= 128 {
        return n.next_multiple_of(16);
    }
    let log2 = usize::BITS - 1 - (n - 1).leading_zeros();
    n.next_multiple_of(1 << (log2 - 2))
}

/// Maximum samples in one head chunk (time boundaries may cut earlier).
pub const SAMPLES_PER_CHUNK: usize = 120;

pub(crate) struct BitReader<'a> {
    buf: &'a [u8],
    pos: usize, // bit position
}

impl<'a> BitReader<'a> {
    fn new(buf: &'a [u8]) -> Self {
        BitReader { buf, pos: 0 }
    }

    #[inline]
    fn read_bit(&mut self) -> Option<bool> {
        let byte = *self.buf.get(self.pos / 8)?;
        let bit = (byte >> (7 - (self.pos % 8))) & 1 == 1;
        self.pos += 1;
        Some(bit)
    }

    #[inline]
    fn read_bits(&mut self, n: u32) -> Option<u64> {
        if self.pos + n as usize > self.buf.len() * 8 {
            return None;
        }
        // Fast path: the bits lie in the 8 bytes from the current one.
        let (byte, off) = (self.pos / 8, (self.pos % 8) as u32);
        if n > 0 && off + n <= 64 {
            if let Some(b) = self.buf.get(byte..byte + 8) {
                let w = u64::from_be_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]);
                self.pos += n as usize;
                return Some((w << off) >> (64 - n));
            }
        }
        let mut v = 0u64;
        let mut n = n;
        while n > 0 {
            let byte = self.buf[self.pos / 8];
            let avail = 8 - (self.pos % 8) as u32;
            let take = avail.min(n);
            let shift = avail - take;
            let bits = (byte >> shift) as u64 & ((1u64 << take) - 1);
            v = if take == 64 { bits } else { (v << take) | bits };
            self.pos += take as usize;
            n -= take;
        }
        Some(v)
    }

    /// Counts leading `1` bits, up to `max`, consuming them and the
    /// terminating `0` (if fewer than `max`).
    #[inline]
    fn read_unary(&mut self, max: u32) -> Option<u32> {
        // Fast path: count the leading ones of the next bits at once.
        let (byte, off) = (self.pos / 8, (self.pos % 8) as u32);
        if let Some(b) = self.buf.get(byte..byte + 2) {
            let w = u16::from_be_bytes([b[0], b[1]]) << off;
            let ones = w.leading_ones().min(16 - off);
            if ones < max && ones < 16 - off {
                self.pos += ones as usize + 1;
                return Some(ones);
            }
            if ones >= max {
                self.pos += max as usize;
                return Some(max);
            }
        }
        let mut n = 0;
        while n < max {
            if !self.read_bit()? {
                return Some(n);
            }
            n += 1;
        }
        Some(n)
    }
}

#[inline]
fn fits(v: i64, bits: u32) -> bool {
    let lim = 1i64 << (bits - 1);
    v >= -lim && v < lim
}

#[inline]
fn sign_extend(v: u64, bits: u32) -> i64 {
    if bits == 64 {
        return v as i64;
    }
    let shift = 64 - bits;
    ((v << shift) as i64) >> shift
}

/// An appendable XOR chunk. The bytes are always a complete, decodable chunk.
#[derive(Debug, Clone)]
pub struct XorChunk {
    /// Bytes `..len` are the chunk, the rest is zeroed room to grow: a
    /// boxed slice and a `u16` length instead of a `Vec` (8 bytes less per
    /// series), grown in ~1.4× steps that match the allocator's size
    /// classes (64, 96, 160, 224, 320, …) instead of doubling.
    buf: Box<[u8]>,
    len: u16,
    /// Free bits in the last byte (0..=7; 0 means the last byte is full).
    free: u8,
    count: u16,
    t: i64,
    delta: i64,
    /// Bits of the XOR reference value (last non-stale value).
    v: u64,
    leading: u8,
    trailing: u8,
}

impl Default for XorChunk {
    fn default() -> Self {
        Self::new()
    }
}

impl XorChunk {
    pub fn new() -> Self {
        XorChunk {
            buf: vec![0; FIRST_CAP].into_boxed_slice(),
            len: 2,
            free: 0,
            count: 0,
            t: 0,
            delta: 0,
            v: 0,
            leading: 0xff,
            trailing: 0,
        }
    }

    pub fn num_samples(&self) -> usize {
        self.count as usize
    }

    /// Bits of the last value appended that was not a staleness marker (of
    /// the first sample if all were markers); meaningless while empty.
    pub fn last_value_bits(&self) -> u64 {
        self.v
    }

    /// Timestamp of the last sample; meaningless while empty.
    pub fn last_t(&self) -> i64 {
        self.t
    }

    /// Timestamp of the first sample (stored raw after the count).
    pub fn first_t(&self) -> Option<i64> {
        if self.count == 0 || self.len < 10 {
            return None;
        }
        let mut a = [0u8; 8];
        a.copy_from_slice(&self.buf[2..10]);
        Some(i64::from_be_bytes(a))
    }

    /// Appends a zero byte.
    #[inline]
    fn push_byte(&mut self) {
        if self.len as usize == self.buf.len() {
            self.grow();
        }
        self.len += 1;
    }

    #[cold]
    fn grow(&mut self) {
        let cap = self.buf.len();
        let new_cap = size_class(cap + cap * 2 / 5 + 1).max(FIRST_CAP);
        let mut v = std::mem::take(&mut self.buf).into_vec();
        v.reserve_exact(new_cap - cap);
        v.resize(new_cap, 0);
        self.buf = v.into_boxed_slice();
    }

    #[inline]
    fn write_bit(&mut self, bit: bool) {
        if self.free == 0 {
            self.push_byte();
            self.free = 8;
        }
        self.free -= 1;
        if bit {
            let last = self.len as usize - 1;
            self.buf[last] |= 1 << self.free;
        }
    }

    /// Writes the low `n` bits of `v`, most significant first.
    #[inline]
    fn write_bits(&mut self, v: u64, n: u32) {
        let mut n = n;
        while n > 0 {
            if self.free == 0 {
                self.push_byte();
                self.free = 8;
            }
            let take = (self.free as u32).min(n);
            let shift = n - take;
            let bits = ((v >> shift) & ((1u64 << take) - 1)) as u8;
            self.free -= take as u8;
            let last = self.len as usize - 1;
            self.buf[last] |= bits << self.free;
            n -= take;
        }
    }

    pub fn bytes(&self) -> &[u8] {
        &self.buf[..self.len as usize]
    }

    /// Full; the caller must cut a new chunk. (One sample takes at most
    /// 19 bytes, so the byte length stays below `u16::MAX`.)
    pub fn is_full(&self) -> bool {
        self.count == u16::MAX || self.len > u16::MAX - 64
    }

    pub fn into_bytes(self) -> Box<[u8]> {
        let mut v = self.buf.into_vec();
        v.truncate(self.len as usize);
        v.into_boxed_slice()
    }

    pub fn append(&mut self, t: i64, v: f64) {
        let bits = v.to_bits();
        if self.count == 0 {
            self.write_bits(t as u64, 64);
            self.write_bits(bits, 64);
            self.t = t;
            self.v = bits;
        } else {
            let delta = t.wrapping_sub(self.t);
            let dod = delta.wrapping_sub(self.delta);
            if bits == STALE_NAN_BITS {
                self.write_bits(0b111111, 6);
                if dod == 0 {
                    self.write_bit(false);
                } else if fits(dod, 14) {
                    self.write_bits(0b10, 2);
                    self.write_bits(dod as u64, 14);
                } else if fits(dod, 20) {
                    self.write_bits(0b110, 3);
                    self.write_bits(dod as u64, 20);
                } else {
                    self.write_bits(0b111, 3);
                    self.write_bits(dod as u64, 64);
                }
            } else if dod == 0 {
                if bits == self.v {
                    self.write_bit(false);
                } else {
                    self.write_bits(0b10, 2);
                    self.write_changed(bits);
                }
            } else {
                if fits(dod, 8) {
                    self.write_bits(0b110, 3);
                    self.write_bits(dod as u64, 8);
                } else if fits(dod, 14) {
                    self.write_bits(0b1110, 4);
                    self.write_bits(dod as u64, 14);
                } else if fits(dod, 20) {
                    self.write_bits(0b11110, 5);
                    self.write_bits(dod as u64, 20);
                } else {
                    self.write_bits(0b111110, 6);
                    self.write_bits(dod as u64, 64);
                }
                if bits == self.v {
                    self.write_bit(false);
                } else {
                    self.write_bit(true);
                    self.write_changed(bits);
                }
            }
            self.delta = delta;
            self.t = t;
        }
        self.count += 1;
        self.buf[0..2].copy_from_slice(&self.count.to_be_bytes());
    }

    fn xor_cost(&self, bits: u64) -> u32 {
        let x = bits ^ self.v;
        let lead = x.leading_zeros().min(31);
        let trail = x.trailing_zeros();
        if self.leading != 0xff && lead >= self.leading as u32 && trail >= self.trailing as u32 {
            1 + 64 - self.leading as u32 - self.trailing as u32
        } else {
            1 + 11 + 64 - lead - trail.min(64 - lead)
        }
    }

    /// Writes a changed value as X or D, whichever is shorter.
    fn write_changed(&mut self, bits: u64) {
        if let Some((e, delta, cost)) = decimal_delta(f64::from_bits(self.v), f64::from_bits(bits))
        {
            if cost < self.xor_cost(bits) {
                self.write_bit(true);
                self.write_bits(e as u64, 3);
                if fits(delta, 7) {
                    self.write_bit(false);
                    self.write_bits(delta as u64, 7);
                } else if fits(delta, 14) {
                    self.write_bits(0b10, 2);
                    self.write_bits(delta as u64, 14);
                } else if fits(delta, 24) {
                    self.write_bits(0b110, 3);
                    self.write_bits(delta as u64, 24);
                } else {
                    self.write_bits(0b111, 3);
                    self.write_bits(delta as u64, 40);
                }
                self.v = bits;
                return;
            }
        }
        self.write_bit(false);
        self.write_xor(bits);
    }

    fn write_xor(&mut self, bits: u64) {
        let x = bits ^ self.v;
        let mut lead = x.leading_zeros() as u8;
        let trail = x.trailing_zeros() as u8;
        if lead > 31 {
            lead = 31;
        }
        if self.leading != 0xff && lead >= self.leading && trail >= self.trailing {
            self.write_bit(false);
            let sig = 64 - self.leading as u32 - self.trailing as u32;
            self.write_bits(x >> self.trailing, sig);
        } else {
            self.write_bit(true);
            let sig = 64 - lead as u32 - trail as u32;
            self.write_bits(lead as u64, 5);
            self.write_bits((sig & 63) as u64, 6);
            self.write_bits(x >> trail, sig);
            self.leading = lead;
            self.trailing = trail;
        }
        self.v = bits;
    }
}

const POW10: [f64; 8] = [1.0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7];

/// `round(x·10^e)` as the decoder computes it; `None` outside ±2^53.
#[inline]
fn scaled(x: f64, e: usize) -> Option<i64> {
    let y = x * POW10[e];
    // |y| ≥ 9e15 (or NaN/∞) is refused; below 2^53 the truncation and its
    // fraction are exact, so this is `y.round()` (half away from zero)
    // without the libm call.
    if y.is_nan() || y.abs() >= 9.0e15 {
        return None;
    }
    let i = y as i64;
    let frac = y - i as f64;
    Some(if frac >= 0.5 {
        i + 1
    } else if frac <= -0.5 {
        i - 1
    } else {
        i
    })
}

/// The D encoding of `cur` after `prev`: (e, delta, cost in bits after the
/// selector bit), for the smallest e that reproduces `cur` exactly.
fn decimal_delta(prev: f64, cur: f64) -> Option<(u8, i64, u32)> {
    if !cur.is_finite() || !prev.is_finite() {
        return None;
    }
    for (e, p) in POW10.iter().enumerate() {
        let m = scaled(cur, e)?;
        if (m as f64 / p).to_bits() != cur.to_bits() {
            continue;
        }
        let mp = scaled(prev, e)?;
        let delta = m.checked_sub(mp)?;
        let bin = if fits(delta, 7) {
            8
        } else if fits(delta, 14) {
            16
        } else if fits(delta, 24) {
            27
        } else if fits(delta, 40) {
            43
        } else {
            return None;
        };
        return Some((e as u8, delta, 3 + bin));
    }
    None
}

/// Error for undecodable chunk bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CorruptChunk;

/// The value state of the decoder.
struct ValState {
    /// The current value's bits; stale while `lazy`.
    v: u64,
    leading: u32,
    trailing: u32,
    have_window: bool,
    /// The integer mantissa of the value at `dec.0` decimal places while
    /// the last value change was a decimal delta at that exponent: the
    /// encoder chose `m` as `scaled(cur, e)` with `m / 10^e == cur`, so
    /// `scaled(v, e)` is `m` and the next delta needs no float rounding
    /// (which would sit on the loop-carried chain of every sample).
    dec: (usize, i64),
    /// `v` is `dec.1 / 10^dec.0`, not computed yet: samples before the
    /// window only carry the mantissa.
    lazy: bool,
}

impl ValState {
    #[inline]
    fn bits(&mut self) -> u64 {
        if self.lazy {
            self.v = (self.dec.1 as f64 / POW10[self.dec.0]).to_bits();
            self.lazy = false;
        }
        self.v
    }

    fn read_xor(&mut self, r: &mut BitReader) -> Result<(), CorruptChunk> {
        let v = self.bits();
        self.dec.0 = usize::MAX;
        let new_window = r.read_bit().ok_or(CorruptChunk)?;
        if new_window {
            self.leading = r.read_bits(5).ok_or(CorruptChunk)? as u32;
            let mut sig = r.read_bits(6).ok_or(CorruptChunk)? as u32;
            if sig == 0 {
                sig = 64;
            }
            if self.leading + sig > 64 {
                return Err(CorruptChunk);
            }
            self.trailing = 64 - self.leading - sig;
            self.have_window = true;
        } else if !self.have_window {
            return Err(CorruptChunk);
        }
        let sig = 64 - self.leading - self.trailing;
        let bits = r.read_bits(sig).ok_or(CorruptChunk)?;
        let x = if self.trailing >= 64 { 0 } else { bits << self.trailing };
        self.v = v ^ x;
        Ok(())
    }

    /// A changed value: a decimal delta or an XOR.
    #[inline]
    fn read_changed(&mut self, r: &mut BitReader) -> Result<(), CorruptChunk> {
        if !r.read_bit().ok_or(CorruptChunk)? {
            return self.read_xor(r);
        }
        let e = r.read_bits(3).ok_or(CorruptChunk)? as usize;
        let delta = match r.read_unary(3).ok_or(CorruptChunk)? {
            0 => sign_extend(r.read_bits(7).ok_or(CorruptChunk)?, 7),
            1 => sign_extend(r.read_bits(14).ok_or(CorruptChunk)?, 14),
            2 => sign_extend(r.read_bits(24).ok_or(CorruptChunk)?, 24),
            _ => sign_extend(r.read_bits(40).ok_or(CorruptChunk)?, 40),
        };
        let mp = if self.dec.0 == e {
            self.dec.1
        } else {
            scaled(f64::from_bits(self.bits()), e).ok_or(CorruptChunk)?
        };
        let m = mp.checked_add(delta).ok_or(CorruptChunk)?;
        if m.unsigned_abs() < 9_000_000_000_000_000 {
            self.dec = (e, m);
            self.lazy = true;
        } else {
            // Beyond what `scaled` accepts: the next delta fails as before.
            self.v = (m as f64 / POW10[e]).to_bits();
            self.dec = (usize::MAX, 0);
            self.lazy = false;
        }
        Ok(())
    }
}

/// Decodes a chunk into `out` (appending). Never panics on bad input.
pub fn decode_into(data: &[u8], out: &mut Vec<Sample>) -> Result<(), CorruptChunk> {
    decode_window_into(data, i64::MIN, i64::MAX, out)
}

/// Decodes the samples of a chunk in `[mint, maxt]` into `out`
/// (appending): samples before `mint` are read but not produced (a decimal
/// value is not even converted), decoding stops after `maxt`. Never panics
/// on bad input.
pub fn decode_window_into(data: &[u8], mint: i64, maxt: i64, out: &mut Vec<Sample>) -> Result<(), CorruptChunk> {
    if data.len() < 2 {
        return Err(CorruptChunk);
    }
    let count = u16::from_be_bytes([data[0], data[1]]) as usize;
    // Every sample needs at least one bit.
    if count > (data.len() - 2) * 8 {
        return Err(CorruptChunk);
    }
    let mut r = BitReader::new(&data[2..]);
    let mut t: i64 = 0;
    let mut delta: i64 = 0;
    let mut st = ValState { v: 0, leading: 0, trailing: 0, have_window: false, dec: (usize::MAX, 0), lazy: false };
    for i in 0..count {
        if i == 0 {
            t = r.read_bits(64).ok_or(CorruptChunk)? as i64;
            st.v = r.read_bits(64).ok_or(CorruptChunk)?;
            if t > maxt {
                return Ok(());
            }
            if t >= mint {
                out.push(Sample { t, v: f64::from_bits(st.v) });
            }
            continue;
        }
        let ctl = r.read_unary(6).ok_or(CorruptChunk)?;
        let (dod, value_mode) = match ctl {
            0 => (0i64, 0u8), // same value
            1 => (0, 1),      // xor follows
            2 => (sign_extend(r.read_bits(8).ok_or(CorruptChunk)?, 8), 2),
            3 => (sign_extend(r.read_bits(14).ok_or(CorruptChunk)?, 14), 2),
            4 => (sign_extend(r.read_bits(20).ok_or(CorruptChunk)?, 20), 2),
            5 => (sign_extend(r.read_bits(64).ok_or(CorruptChunk)?, 64), 2),
            _ => {
                let d = match r.read_unary(3).ok_or(CorruptChunk)? {
                    0 => 0,
                    1 => sign_extend(r.read_bits(14).ok_or(CorruptChunk)?, 14),
                    2 => sign_extend(r.read_bits(20).ok_or(CorruptChunk)?, 20),
                    _ => sign_extend(r.read_bits(64).ok_or(CorruptChunk)?, 64),
                };
                (d, 3)
            }
        };
        delta = delta.wrapping_add(dod);
        t = t.wrapping_add(delta);
        if t > maxt {
            return Ok(());
        }
        let stale = match value_mode {
            0 => false,
            1 => {
                st.read_changed(&mut r)?;
                false
            }
            2 => {
                if r.read_bit().ok_or(CorruptChunk)? {
                    st.read_changed(&mut r)?;
                }
                false
            }
            _ => true,
        };
        if t >= mint {
            let v = if stale { STALE_NAN_BITS } else { st.bits() };
            out.push(Sample { t, v: f64::from_bits(v) });
        }
    }
    Ok(())
}

pub fn decode(data: &[u8]) -> Result<Vec<Sample>, CorruptChunk> {
    let mut v = Vec::new();
    decode_into(data, &mut v)?;
    Ok(v)
}

/// Encodes samples into one chunk (at most `u16::MAX` samples).
pub fn encode(samples: &[Sample]) -> Box<[u8]> {
    let mut c = XorChunk::new();
    for s in samples.iter().take(u16::MAX as usize) {
        c.append(s.t, s.v);
    }
    c.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use bongsu_model::STALE_NAN;
    use rand::{Rng, SeedableRng};

    #[test]
    fn open_chunk_grows_in_small_steps_and_stays_decodable() {
        let mut c = XorChunk::new();
        let mut want = Vec::new();
        let mut v = 1000.0;
        for i in 0..SAMPLES_PER_CHUNK as i64 {
            v += (i % 7) as f64 * 0.37;
            c.append(i * 15_000 + (i % 3), v);
            want.push(Sample { t: i * 15_000 + (i % 3), v });
            let (len, cap) = (c.bytes().len(), c.buf.len());
            assert!(len <= cap && cap == size_class(cap), "{len} {cap}");
            assert!(cap == FIRST_CAP || cap <= size_class(len * 7 / 5 + 1), "{len} {cap}");
            assert!(c.buf[len..].iter().all(|&b| b == 0), "room is zeroed");
            let mut got = Vec::new();
            decode_into(c.bytes(), &mut got).unwrap();
            assert!(same(&got, &want));
        }
        let n = c.bytes().len();
        let sealed = c.into_bytes();
        assert_eq!(sealed.len(), n);
    }

    #[test]
    fn size_classes_are_mimallocs() {
        let classes: Vec<usize> = [1, 16, 17, 64, 65, 90, 128, 129, 134, 160, 161, 250, 257, 450, 1000]
            .iter()
            .map(|&n| size_class(n))
            .collect();
        assert_eq!(classes, [16, 16, 32, 64, 80, 96, 128, 160, 160, 160, 192, 256, 320, 512, 1024]);
    }

    fn same(a: &[Sample], b: &[Sample]) -> bool {
        a.len() == b.len()
            && a.iter()
                .zip(b)
                .all(|(x, y)| x.t == y.t && x.v.to_bits() == y.v.to_bits())
    }

    #[test]
    fn decimal_runs_round_trip() {
        // Long runs of decimal deltas at one exponent (the decoder carries
        // the mantissa), exponent changes, XOR values and staleness markers
        // in between, large magnitudes near the decimal limit.
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for base in [0.0, 1234.56, -98.7, 8.99e14, 4.5e15] {
            let mut s = Vec::new();
            let mut v: f64 = base;
            for i in 0..2000i64 {
                let r = next();
                v = match r % 23 {
                    0 => v + 0.1 + 0.2,
                    1 => f64::from_bits(STALE_NAN_BITS),
                    2 => (v * 1000.0 + (r % 5000) as f64).round() / 1000.0,
                    3 if !v.is_nan() => v,
                    _ if v.is_nan() => base,
                    _ => ((v * 100.0).round() + (r % 300) as f64) / 100.0,
                };
                s.push(Sample { t: i * 15_000, v });
            }
            for part in s.chunks(120) {
                let enc = encode(part);
                assert!(same(&decode(&enc).unwrap(), part), "base {base}");
                // Windows: the samples in [mint, maxt] and nothing else.
                let (lo, hi) = (part[0].t, part[part.len() - 1].t);
                for (mint, maxt) in [(lo, hi), (lo + 1, hi), (lo + 600_000, hi), (lo + 7_000, lo + 900_000), (hi, hi), (hi + 1, i64::MAX), (i64::MIN, lo - 1), (lo + 20_000, lo + 20_000)] {
                    let mut got = Vec::new();
                    decode_window_into(&enc, mint, maxt, &mut got).unwrap();
                    let want: Vec<Sample> = part.iter().copied().filter(|p| p.t >= mint && p.t <= maxt).collect();
                    assert!(same(&got, &want), "base {base} window {mint}..{maxt}");
                }
            }
        }
    }

    #[test]
    fn round_trip_special_values() {
        let vals = [
            1.0,
            1.0,
            f64::NAN,
            STALE_NAN,
            2.5,
            f64::INFINITY,
            f64::NEG_INFINITY,
            -0.0,
            0.0,
            STALE_NAN,
            STALE_NAN,
            3.0,
        ];
        let s: Vec<Sample> = vals
            .iter()
            .enumerate()
            .map(|(i, &v)| Sample::new(1000 + i as i64 * 15000, v))
            .collect();
        let enc = encode(&s);
        assert!(same(&decode(&enc).unwrap(), &s));
    }

    #[test]
    fn scaled_rounds_like_f64_round() {
        let mut x: u64 = 0x1234_5678_9abc_def0;
        let mut cases = vec![0.5, -0.5, 1.5, -1.5, 2.5, -2.5, 0.49999999999999994, -0.49999999999999994, 8.9e15, -8.9e15, 9.0e15, f64::NAN, f64::INFINITY, 4503599627370495.5, -4503599627370495.5];
        for _ in 0..100_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            cases.push(f64::from_bits(x));
            cases.push((x % 2_000_000) as f64 / 1000.0 - 1000.0);
        }
        for c in cases {
            for (e, p) in POW10.iter().enumerate() {
                let m = (c * p).round();
                let want = if m.is_finite() && m.abs() < 9.0e15 { Some(m as i64) } else { None };
                assert_eq!(scaled(c, e), want, "{c} e={e}");
            }
        }
    }

    #[test]
    fn decimal_deltas_round_trip() {
        let mut s = Vec::new();
        let mut v = 1234.56;
        for i in 0..120i64 {
            v = match i % 7 {
                0 => 0.1 + 0.2, // not a short decimal: XOR path
                1 => -5.5,
                2 => 1e-7 * i as f64,
                3 => (v * 100.0 + 37.0).round() / 100.0,
                4 => 4096.0 * 1e6,
                5 => f64::MAX,
                _ => (i as f64) * 0.25,
            };
            s.push(Sample::new(i * 15_000, v));
        }
        let enc = encode(&s);
        assert!(same(&decode(&enc).unwrap(), &s));
        // a CPU counter in 0.01 steps needs far less than XOR's ~6 bytes/sample
        let mut c = 1_000_000i64;
        let counter: Vec<Sample> = (0..120)
            .map(|i| {
                c += 950 + (i * 7919 % 100);
                Sample::new(i * 10_000, c as f64 / 100.0)
            })
            .collect();
        let enc = encode(&counter);
        assert!(same(&decode(&enc).unwrap(), &counter));
        assert!(enc.len() < 120 * 3, "{} bytes", enc.len());
    }

    #[test]
    fn fuzzish_round_trip() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let specials = [
            f64::NAN,
            STALE_NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            -0.0,
            0.0,
            f64::MIN_POSITIVE,
            f64::MAX,
        ];
        for case in 0..400 {
            let n = rng.gen_range(1..300);
            let mut t: i64 = rng.gen_range(i64::MIN / 4..i64::MAX / 4);
            let mut v = 0.0f64;
            let mut s = Vec::new();
            for _ in 0..n {
                t = t.wrapping_add(match rng.gen_range(0..5) {
                    0 => 15000,
                    1 => rng.gen_range(1..100),
                    2 => rng.gen_range(14000..16000),
                    3 => rng.gen_range(1..1 << 40),
                    _ => 1,
                });
                v = match rng.gen_range(0..6) {
                    0 => v,
                    1 => specials[rng.gen_range(0..specials.len())],
                    2 => f64::from_bits(rng.gen()),
                    3 => v + rng.gen_range(0..100) as f64 * 0.01,
                    4 => (rng.gen_range(0..1000) * 4096) as f64,
                    _ => rng.gen_range(-1e6..1e6),
                };
                s.push(Sample::new(t, v));
            }
            let enc = encode(&s);
            let dec = decode(&enc).unwrap();
            assert!(same(&dec, &s), "case {case}");
            // Truncated or garbled input must not panic.
            for cut in [0, 1, 2, enc.len() / 2, enc.len().saturating_sub(1)] {
                let _ = decode(&enc[..cut]);
            }
            let mut bad = enc.to_vec();
            if bad.len() > 3 {
                let i = rng.gen_range(2..bad.len());
                bad[i] ^= 0x5a;
                let _ = decode(&bad);
            }
        }
    }
}
