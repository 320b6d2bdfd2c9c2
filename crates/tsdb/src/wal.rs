//! Write-ahead log: `wal/00000000, 00000001, …` segment files of framed
//! records, plus `wal/checkpoint.NNNNNNNN/` holding the head's state as of
//! segment NNNNNNNN (written when the head is cut into a block).
//!
//! Every file starts with the 8 bytes `BSWAL\x01\0\0`; a file with other
//! leading bytes (say, a Prometheus WAL) stops the open instead of being
//! "repaired".
//! Frame: `u32 len (LE) | u32 crc32(payload) (LE) | payload`; records never
//! span segments. Payload: a type byte and its body:
//! * 1 series: count, then (uvarint id, label count, (name, value)…)
//! * 2 samples (read only): varint base t, then until the end (uvarint id, varint t-base, u64 LE value bits)
//! * 5 samples: varint base t, then until the end (varint id - previous id,
//!   varint t-base, u8 n, the first n big-endian bytes of the value bits:
//!   trailing zero bytes are dropped, which shortens integers and round values)
//! * 3 tombstones: until the end (uvarint id, varint mint, varint maxt)
//! * 4 chunk (checkpoints): uvarint id, uvarint sample count, bytes of a
//!   [`crate::colenc`] chunk
//!
//! Replay streams record by record. A torn or corrupt record truncates its
//! segment at that record (counted), and replay goes on with the next segment.

use crate::enc::{put_bytes, put_uvarint, put_varint, Cursor, Malformed};
use bongsu_model::{Label, LabelStr, Labels};
use parking_lot::Mutex;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

pub const DEFAULT_SEGMENT_SIZE: u64 = 128 << 20;

/// First bytes of every segment and checkpoint file.
const SEGMENT_MAGIC: &[u8; 8] = b"BSWAL\x01\0\0";

const REC_SERIES: u8 = 1;
const REC_SAMPLES: u8 = 2;
const REC_TOMBSTONES: u8 = 3;
const REC_CHUNK: u8 = 4;
const REC_SAMPLES_V2: u8 = 5;

pub(crate) enum Record {
    Series(Vec<(u64, Labels)>),
    Samples(Vec<(u64, i64, f64)>),
    Tombstones(Vec<(u64, i64, i64)>),
    Chunk(u64, usize, Vec<u8>),
}

/// Appends one framed record to `out`.
fn frame(out: &mut Vec<u8>, payload: &[u8]) {
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
    out.extend_from_slice(payload);
}

pub(crate) fn encode_series<'a>(
    out: &mut Vec<u8>,
    series: impl ExactSizeIterator<Item = (u64, &'a Labels)>,
) {
    let mut p = vec![REC_SERIES];
    put_uvarint(&mut p, series.len() as u64);
    for (id, l) in series {
        put_uvarint(&mut p, id);
        put_uvarint(&mut p, l.len() as u64);
        for lab in l.iter() {
            put_bytes(&mut p, lab.name.as_bytes());
            put_bytes(&mut p, lab.value.as_bytes());
        }
    }
    frame(out, &p);
}

/// Like [`encode_series`], from label pairs (no label sets needed).
pub(crate) fn encode_series_pairs<'a, P>(
    out: &mut Vec<u8>,
    series: impl ExactSizeIterator<Item = (u64, P)>,
) where
    P: ExactSizeIterator<Item = (&'a str, &'a str)>,
{
    let mut p = vec![REC_SERIES];
    put_uvarint(&mut p, series.len() as u64);
    for (id, pairs) in series {
        put_uvarint(&mut p, id);
        put_uvarint(&mut p, pairs.len() as u64);
        for (n, v) in pairs {
            put_bytes(&mut p, n.as_bytes());
            put_bytes(&mut p, v.as_bytes());
        }
    }
    frame(out, &p);
}

pub(crate) fn encode_samples(out: &mut Vec<u8>, samples: &[(u64, i64, f64)]) {
    if samples.is_empty() {
        return;
    }
    let base = samples[0].1;
    let mut p = Vec::with_capacity(1 + samples.len() * 11);
    p.push(REC_SAMPLES_V2);
    put_varint(&mut p, base);
    let mut prev = 0u64;
    for &(id, t, v) in samples {
        put_varint(&mut p, id.wrapping_sub(prev) as i64);
        prev = id;
        put_varint(&mut p, t.wrapping_sub(base));
        let bits = v.to_bits();
        let n = 8 - (bits.trailing_zeros() / 8) as usize;
        p.push(n as u8);
        p.extend_from_slice(&bits.to_be_bytes()[..n]);
    }
    frame(out, &p);
}

pub(crate) fn encode_tombstones(out: &mut Vec<u8>, ts: &[(u64, i64, i64)]) {
    let mut p = vec![REC_TOMBSTONES];
    for &(id, a, b) in ts {
        put_uvarint(&mut p, id);
        put_varint(&mut p, a);
        put_varint(&mut p, b);
    }
    frame(out, &p);
}

pub(crate) fn encode_chunk(out: &mut Vec<u8>, id: u64, n: usize, data: &[u8]) {
    let mut p = vec![REC_CHUNK];
    put_uvarint(&mut p, id);
    put_uvarint(&mut p, n as u64);
    put_bytes(&mut p, data);
    frame(out, &p);
}

fn decode(p: &[u8]) -> Result<Record, Malformed> {
    let mut c = Cursor::new(p);
    match c.u8()? {
        REC_SERIES => {
            let n = c.count(2)?;
            let mut v = Vec::with_capacity(n);
            for _ in 0..n {
                let id = c.uvarint()?;
                let nl = c.count(2)?;
                let mut ls = Vec::with_capacity(nl);
                for _ in 0..nl {
                    let name = LabelStr::from(c.str()?);
                    let value = LabelStr::from(c.str()?);
                    ls.push(Label { name, value });
                }
                ls.sort();
                ls.dedup_by(|a, b| a.name == b.name);
                v.push((id, Labels::from_sorted(ls)));
            }
            Ok(Record::Series(v))
        }
        REC_SAMPLES => {
            let base = c.varint()?;
            let mut v = Vec::with_capacity(c.remaining() / 10);
            while !c.is_empty() {
                let id = c.uvarint()?;
                let t = base.wrapping_add(c.varint()?);
                let val = f64::from_bits(c.u64_le()?);
                v.push((id, t, val));
            }
            Ok(Record::Samples(v))
        }
        REC_SAMPLES_V2 => {
            let base = c.varint()?;
            let mut v = Vec::with_capacity(c.remaining() / 4);
            let mut prev = 0u64;
            while !c.is_empty() {
                let id = prev.wrapping_add(c.varint()? as u64);
                prev = id;
                let t = base.wrapping_add(c.varint()?);
                let n = c.u8()? as usize;
                if n > 8 {
                    return Err(Malformed);
                }
                let mut b = [0u8; 8];
                b[..n].copy_from_slice(c.take(n)?);
                v.push((id, t, f64::from_bits(u64::from_be_bytes(b))));
            }
            Ok(Record::Samples(v))
        }
        REC_TOMBSTONES => {
            let mut v = Vec::new();
            while !c.is_empty() {
                v.push((c.uvarint()?, c.varint()?, c.varint()?));
            }
            Ok(Record::Tombstones(v))
        }
        REC_CHUNK => {
            let id = c.uvarint()?;
            let n = c.uvarint()?;
            if n > u16::MAX as u64 {
                return Err(Malformed);
            }
            let d = c.bytes()?.to_vec();
            Ok(Record::Chunk(id, n as usize, d))
        }
        _ => Err(Malformed),
    }
}

fn seg_name(n: u64) -> String {
    format!("{n:08}")
}

/// Segment numbers present in `dir`, ascending.
fn segments(dir: &Path) -> io::Result<Vec<u64>> {
    let mut v = Vec::new();
    for e in fs::read_dir(dir)? {
        let e = e?;
        let name = e.file_name();
        let Some(s) = name.to_str() else { continue };
        if s.len() == 8 && s.bytes().all(|b| b.is_ascii_digit()) {
            if let Ok(n) = s.parse() {
                v.push(n);
            }
        }
    }
    v.sort_unstable();
    Ok(v)
}

/// Latest complete checkpoint (its number), removing temporary ones.
fn checkpoints(dir: &Path) -> io::Result<Vec<u64>> {
    let mut v = Vec::new();
    for e in fs::read_dir(dir)? {
        let e = e?;
        let name = e.file_name();
        let Some(s) = name.to_str() else { continue };
        if let Some(rest) = s.strip_prefix("checkpoint.") {
            if rest.ends_with(".tmp") {
                let _ = fs::remove_dir_all(e.path());
            } else if let Ok(n) = rest.parse::<u64>() {
                v.push(n);
            }
        }
    }
    v.sort_unstable();
    Ok(v)
}

pub(crate) fn dir_size(dir: &Path) -> u64 {
    let mut total = 0;
    if let Ok(rd) = fs::read_dir(dir) {
        for e in rd.flatten() {
            if let Ok(md) = e.metadata() {
                if md.is_dir() {
                    total += dir_size(&e.path());
                } else {
                    total += md.len();
                }
            }
        }
    }
    total
}

pub(crate) fn fsync_dir(dir: &Path) {
    if let Ok(f) = File::open(dir) {
        let _ = f.sync_all();
    }
}

/// Replays one file; returns false when it had to be truncated.
fn replay_file(path: &Path, f: &mut dyn FnMut(Record), corrupt: &mut u64) -> io::Result<()> {
    let file = File::open(path)?;
    let len = file.metadata()?.len();
    let mut r = BufReader::with_capacity(1 << 16, file);
    if len < SEGMENT_MAGIC.len() as u64 {
        // Torn while being created: nothing in it was ever acknowledged.
        if len > 0 {
            *corrupt += 1;
        }
        let fw = OpenOptions::new().write(true).open(path)?;
        fw.set_len(0)?;
        return Ok(());
    }
    let mut magic = [0u8; 8];
    r.read_exact(&mut magic)?;
    if &magic != SEGMENT_MAGIC {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "{} is not a Bongsu WAL file (a Prometheus data directory?); refusing to touch it",
                path.display()
            ),
        ));
    }
    let mut off: u64 = SEGMENT_MAGIC.len() as u64;
    let mut payload = Vec::new();
    loop {
        let mut hdr = [0u8; 8];
        let mut got = 0;
        while got < 8 {
            match r.read(&mut hdr[got..]) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        if got == 0 {
            return Ok(());
        }
        let plen = u32::from_le_bytes([hdr[0], hdr[1], hdr[2], hdr[3]]) as u64;
        let crc = u32::from_le_bytes([hdr[4], hdr[5], hdr[6], hdr[7]]);
        let ok = got == 8 && plen > 0 && off + 8 + plen <= len && {
            payload.resize(plen as usize, 0);
            r.read_exact(&mut payload).is_ok() && crc32fast::hash(&payload) == crc
        };
        if !ok {
            *corrupt += 1;
            drop(r);
            let fw = OpenOptions::new().write(true).open(path)?;
            fw.set_len(off)?;
            fw.sync_all()?;
            return Ok(());
        }
        match decode(&payload) {
            Ok(rec) => f(rec),
            Err(_) => *corrupt += 1,
        }
        off += 8 + plen;
        if payload.capacity() > (8 << 20) {
            payload = Vec::new();
        }
    }
}

/// Replays checkpoint then segments. Returns the number of corruptions and
/// the next free segment number.
pub(crate) fn replay(dir: &Path, f: &mut dyn FnMut(Record)) -> io::Result<(u64, u64)> {
    fs::create_dir_all(dir)?;
    let mut corrupt = 0;
    let cps = checkpoints(dir)?;
    let mut from = 0u64;
    if let Some(&cp) = cps.last() {
        let cpdir = dir.join(format!("checkpoint.{}", seg_name(cp)));
        for n in segments(&cpdir)? {
            replay_file(&cpdir.join(seg_name(n)), f, &mut corrupt)?;
        }
        from = cp + 1;
        for &old in &cps[..cps.len() - 1] {
            let _ = fs::remove_dir_all(dir.join(format!("checkpoint.{}", seg_name(old))));
        }
    }
    let segs = segments(dir)?;
    let mut next = from;
    for n in segs {
        if n < from {
            let _ = fs::remove_file(dir.join(seg_name(n)));
            continue;
        }
        replay_file(&dir.join(seg_name(n)), f, &mut corrupt)?;
        next = n + 1;
    }
    Ok((corrupt, next))
}

struct SegWriter {
    file: File,
    seg: u64,
    size: u64,
}

pub(crate) struct Wal {
    dir: PathBuf,
    segment_size: u64,
    w: Mutex<SegWriter>,
    dirty: AtomicBool,
    pub bytes: AtomicU64,
}

fn create_segment(dir: &Path, n: u64) -> io::Result<File> {
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join(seg_name(n)))?;
    if f.metadata()?.len() == 0 {
        f.write_all(SEGMENT_MAGIC)?;
    }
    fsync_dir(dir);
    Ok(f)
}

impl Wal {
    /// Opens a writer on a new segment `next` (after replay).
    pub fn open(dir: &Path, next: u64, segment_size: u64) -> io::Result<Wal> {
        fs::create_dir_all(dir)?;
        let file = create_segment(dir, next)?;
        Ok(Wal {
            dir: dir.to_path_buf(),
            segment_size,
            w: Mutex::new(SegWriter {
                file,
                seg: next,
                size: SEGMENT_MAGIC.len() as u64,
            }),
            dirty: AtomicBool::new(false),
            bytes: AtomicU64::new(dir_size(dir)),
        })
    }

    /// Writes framed records with one write(2) (or a few on short writes).
    pub fn write(&self, buf: &[u8]) -> io::Result<()> {
        if buf.is_empty() {
            return Ok(());
        }
        let mut w = self.w.lock();
        if w.size > SEGMENT_MAGIC.len() as u64 && w.size + buf.len() as u64 > self.segment_size {
            self.rotate_locked(&mut w)?;
        }
        let res = w.file.write_all(buf);
        if res.is_err() {
            // Leave no torn record behind in the segment we keep writing to.
            let keep = w.size;
            let _ = w.file.set_len(keep);
            return res;
        }
        w.size += buf.len() as u64;
        self.bytes.fetch_add(buf.len() as u64, Ordering::Relaxed);
        self.dirty.store(true, Ordering::Release);
        Ok(())
    }

    fn rotate_locked(&self, w: &mut SegWriter) -> io::Result<u64> {
        w.file.sync_data()?;
        let n = w.seg + 1;
        w.file = create_segment(&self.dir, n)?;
        w.seg = n;
        w.size = SEGMENT_MAGIC.len() as u64;
        Ok(n)
    }

    /// Starts a new segment; returns its number (all earlier data is in
    /// lower-numbered segments).
    pub fn rotate(&self) -> io::Result<u64> {
        let mut w = self.w.lock();
        self.rotate_locked(&mut w)
    }

    /// fsyncs unconditionally (for fsync-per-commit: another thread's
    /// in-flight fsync may not cover this caller's write).
    pub fn sync_now(&self) -> io::Result<()> {
        self.dirty.store(false, Ordering::Release);
        let f = self.w.lock().file.try_clone()?;
        f.sync_data()
    }

    pub fn sync(&self) -> io::Result<()> {
        if self.dirty.swap(false, Ordering::AcqRel) {
            // fsync a duplicate descriptor outside the lock, so commits keep
            // writing while the disk flushes.
            let f = self.w.lock().file.try_clone()?;
            if let Err(e) = f.sync_data() {
                self.dirty.store(true, Ordering::Release);
                return Err(e);
            }
        }
        Ok(())
    }

    /// Writes `checkpoint.(upto-1)` from `write_state` and drops the segments
    /// and checkpoints it replaces.
    pub fn checkpoint(
        &self,
        upto: u64,
        write_state: &mut dyn FnMut(&mut dyn Write) -> io::Result<()>,
    ) -> io::Result<()> {
        if upto == 0 {
            return Ok(());
        }
        let cp = upto - 1;
        let name = format!("checkpoint.{}", seg_name(cp));
        let tmp = self.dir.join(format!("{name}.tmp"));
        let _ = fs::remove_dir_all(&tmp);
        fs::create_dir_all(&tmp)?;
        {
            let f = File::create(tmp.join(seg_name(0)))?;
            let mut bw = BufWriter::with_capacity(1 << 20, f);
            bw.write_all(SEGMENT_MAGIC)?;
            write_state(&mut bw)?;
            bw.flush()?;
            bw.get_ref().sync_all()?;
        }
        fsync_dir(&tmp);
        let dst = self.dir.join(&name);
        let _ = fs::remove_dir_all(&dst);
        fs::rename(&tmp, &dst)?;
        fsync_dir(&self.dir);
        for n in segments(&self.dir)? {
            if n < upto {
                let _ = fs::remove_file(self.dir.join(seg_name(n)));
            }
        }
        for c in checkpoints(&self.dir)? {
            if c < cp {
                let _ = fs::remove_dir_all(self.dir.join(format!("checkpoint.{}", seg_name(c))));
            }
        }
        self.bytes.store(dir_size(&self.dir), Ordering::Relaxed);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_round_trip_bit_exact() {
        let vals = [
            0.0,
            -0.0,
            1.0,
            0.1,
            f64::NAN,
            bongsu_model::STALE_NAN,
            f64::INFINITY,
            123456789.0,
            f64::MIN_POSITIVE,
        ];
        let samples: Vec<(u64, i64, f64)> = vals
            .iter()
            .enumerate()
            .map(|(i, &v)| ((i as u64 * 7) % 5 + 1, 1000 - i as i64, v))
            .collect();
        let mut buf = Vec::new();
        encode_samples(&mut buf, &samples);
        let Ok(Record::Samples(got)) = decode(&buf[8..]) else {
            panic!("decode")
        };
        assert_eq!(got.len(), samples.len());
        for (a, b) in got.iter().zip(&samples) {
            assert_eq!((a.0, a.1, a.2.to_bits()), (b.0, b.1, b.2.to_bits()));
        }
    }

    #[test]
    fn series_from_pairs_encode_like_labels() {
        let l = Labels::from_pairs([("__name__", "up"), ("job", "j")]);
        let mut a = Vec::new();
        encode_series(&mut a, [(3u64, &l)].into_iter());
        let mut b = Vec::new();
        let pairs = [("__name__", "up"), ("job", "j")];
        encode_series_pairs(&mut b, [(3u64, pairs.iter().copied())].into_iter());
        assert_eq!(a, b);
    }

    #[test]
    fn garbage_records_never_panic() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(11);
        let l = Labels::from_pairs([("a", "b"), ("c", "d")]);
        let mut good = Vec::new();
        encode_series(&mut good, [(7u64, &l)].into_iter());
        encode_samples(&mut good, &[(7, 10, 1.5), (7, 20, 2.5)]);
        encode_tombstones(&mut good, &[(7, 0, 5)]);
        encode_chunk(&mut good, 7, 3, &[1, 0, 3, 9, 9]);
        for _ in 0..3000 {
            let mut p = good[8..].to_vec();
            let n = rng.gen_range(1..4);
            for _ in 0..n {
                let i = rng.gen_range(0..p.len());
                p[i] = rng.gen();
            }
            p.truncate(rng.gen_range(0..=p.len()));
            let _ = decode(&p);
            let garbage: Vec<u8> = (0..rng.gen_range(0..64)).map(|_| rng.gen()).collect();
            let _ = decode(&garbage);
        }
    }

    #[test]
    fn torn_tail_is_truncated_and_counted() {
        let d = tempfile::tempdir().unwrap();
        let wal = Wal::open(d.path(), 0, DEFAULT_SEGMENT_SIZE).unwrap();
        let l = Labels::from_pairs([("a", "b")]);
        let mut buf = Vec::new();
        encode_series(&mut buf, [(1u64, &l)].into_iter());
        encode_samples(&mut buf, &[(1, 10, 1.5), (1, 20, 2.5)]);
        wal.write(&buf).unwrap();
        let mut buf2 = Vec::new();
        encode_samples(&mut buf2, &[(1, 30, 3.5)]);
        wal.write(&buf2[..buf2.len() - 3]).unwrap();
        drop(wal);
        let mut n = 0;
        let (corrupt, next) = replay(d.path(), &mut |r| {
            if let Record::Samples(s) = r {
                n += s.len()
            }
        })
        .unwrap();
        assert_eq!((n, corrupt, next), (2, 1, 1));
        let len = fs::metadata(d.path().join(seg_name(0))).unwrap().len();
        assert_eq!(len, buf.len() as u64 + 8);
        let (corrupt, _) = replay(d.path(), &mut |_| {}).unwrap();
        assert_eq!(corrupt, 0);
    }
}
