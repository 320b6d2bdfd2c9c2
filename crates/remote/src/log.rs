//! The sender's append log: every committed sample (scrapes, rules, the
//! receiver) is written here before the commit is acknowledged, and each
//! remote queue reads it from its own durable position. This is Bongsu's
//! answer to Prometheus tailing its TSDB WAL, with one difference: the
//! position survives a restart, so an outage of the receiver and a restart
//! of Bongsu during it lose nothing that was acknowledged.
//!
//! Layout: numbered segment files (`00000001`, …) under one directory.
//! A record is `[len u32 LE][crc32 u32 LE][payload]`; the payload's first
//! byte is its kind: a series (`id`, labels) or a batch of samples
//! (`id`, `t`, `v`). Series ids are local to a segment: a series' record is
//! written in every segment before its first sample there, so a reader can
//! start at any segment and forget the previous segment's ids. A new process
//! always starts a new segment (after cutting a torn tail off the last one).
//!
//! Durability is the TSDB's contract: `write(2)` before the commit returns
//! (a process crash loses nothing acknowledged), `fsync` every second and at
//! every segment switch (a machine crash loses at most the last second).

use bongsu_model::{Label, Labels};
use parking_lot::{Mutex, RwLock};
use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;

/// Default segment size. Small enough that a segment every remote has sent
/// is deleted soon; large enough that re-writing series records at the
/// start of each segment is a small cost.
pub const DEFAULT_SEGMENT_BYTES: u64 = 32 << 20;

const KIND_SERIES: u8 = 1;
const KIND_SAMPLES: u8 = 2;
const HEADER: usize = 8;
/// A record larger than this is corrupt (a commit of 4M samples would be ~64 MiB).
const MAX_RECORD: usize = 256 << 20;

/// A place in the log: the next record to read is at `offset` in `segment`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Pos {
    pub segment: u64,
    pub offset: u64,
}

impl std::fmt::Display for Pos {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.segment, self.offset)
    }
}

fn seg_name(n: u64) -> String {
    format!("{n:08}")
}

/// Segment numbers present in `dir`, ascending.
pub fn list_segments(dir: &Path) -> io::Result<Vec<u64>> {
    let mut v = Vec::new();
    for e in std::fs::read_dir(dir)? {
        let e = e?;
        if let Some(n) = e.file_name().to_str().filter(|s| s.len() == 8).and_then(|s| s.parse::<u64>().ok()) {
            v.push(n);
        }
    }
    v.sort_unstable();
    Ok(v)
}

// ---- varints --------------------------------------------------------------------

fn put_uvarint(buf: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        buf.push((v as u8) | 0x80);
        v >>= 7;
    }
    buf.push(v as u8);
}

fn put_varint(buf: &mut Vec<u8>, v: i64) {
    put_uvarint(buf, ((v << 1) ^ (v >> 63)) as u64);
}

struct Dec<'a> {
    b: &'a [u8],
    i: usize,
}

impl Dec<'_> {
    fn uvarint(&mut self) -> Option<u64> {
        let mut v = 0u64;
        let mut shift = 0;
        loop {
            let c = *self.b.get(self.i)?;
            self.i += 1;
            if shift >= 64 {
                return None;
            }
            v |= ((c & 0x7f) as u64) << shift;
            if c < 0x80 {
                return Some(v);
            }
            shift += 7;
        }
    }
    fn varint(&mut self) -> Option<i64> {
        let u = self.uvarint()?;
        Some(((u >> 1) as i64) ^ -((u & 1) as i64))
    }
    fn f64(&mut self) -> Option<f64> {
        let s = self.b.get(self.i..self.i + 8)?;
        self.i += 8;
        let mut a = [0u8; 8];
        a.copy_from_slice(s);
        Some(f64::from_bits(u64::from_le_bytes(a)))
    }
    fn str(&mut self) -> Option<String> {
        let n = self.uvarint()? as usize;
        let s = self.b.get(self.i..self.i.checked_add(n)?)?;
        self.i += n;
        String::from_utf8(s.to_vec()).ok()
    }
}

fn frame(buf: &mut [u8], start: usize) {
    let len = (buf.len() - start - HEADER) as u32;
    let crc = crc32fast::hash(&buf[start + HEADER..]);
    buf[start..start + 4].copy_from_slice(&len.to_le_bytes());
    buf[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
}

fn encode_series(buf: &mut Vec<u8>, id: u64, labels: &Labels) {
    let start = buf.len();
    buf.extend_from_slice(&[0; HEADER]);
    buf.push(KIND_SERIES);
    put_uvarint(buf, id);
    put_uvarint(buf, labels.len() as u64);
    for l in labels.iter() {
        put_uvarint(buf, l.name.len() as u64);
        buf.extend_from_slice(l.name.as_bytes());
        put_uvarint(buf, l.value.len() as u64);
        buf.extend_from_slice(l.value.as_bytes());
    }
    frame(buf, start);
}

fn encode_samples(buf: &mut Vec<u8>, samples: &[(u64, i64, f64)]) {
    let start = buf.len();
    buf.extend_from_slice(&[0; HEADER]);
    buf.push(KIND_SAMPLES);
    put_uvarint(buf, samples.len() as u64);
    let base = samples.first().map(|s| s.1).unwrap_or(0);
    put_varint(buf, base);
    for &(id, t, v) in samples {
        put_uvarint(buf, id);
        put_varint(buf, t.wrapping_sub(base));
        buf.extend_from_slice(&v.to_bits().to_le_bytes());
    }
    frame(buf, start);
}

/// One decoded record.
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    Series { id: u64, labels: Labels },
    Samples(Vec<(u64, i64, f64)>),
    /// Not on disk: the reader moved to the next segment, where series ids
    /// start over.
    NewSegment,
}

fn decode_payload(p: &[u8]) -> Option<Record> {
    let mut d = Dec { b: p, i: 1 };
    match *p.first()? {
        KIND_SERIES => {
            let id = d.uvarint()?;
            let n = d.uvarint()? as usize;
            let mut v = Vec::with_capacity(n.min(256));
            for _ in 0..n {
                let name = d.str()?;
                let value = d.str()?;
                v.push(Label { name: name.into(), value: value.into() });
            }
            v.sort();
            v.dedup_by(|a, b| a.name == b.name);
            Some(Record::Series { id, labels: Labels::from_sorted(v) })
        }
        KIND_SAMPLES => {
            let n = d.uvarint()? as usize;
            let base = d.varint()?;
            // Each sample takes at least 10 bytes: cap the allocation by the payload.
            let mut v = Vec::with_capacity(n.min(p.len() / 10 + 1));
            for _ in 0..n {
                let id = d.uvarint()?;
                let t = base.wrapping_add(d.varint()?);
                let val = d.f64()?;
                v.push((id, t, val));
            }
            Some(Record::Samples(v))
        }
        _ => None,
    }
}

/// Splits whole, valid records off the front of `b`. Returns the records
/// with the offset (within `b`) just past each, and whether a corrupt record
/// stopped the scan (a short tail is not corrupt: it may still be written).
fn scan(b: &[u8]) -> (Vec<(Record, usize)>, bool) {
    let mut out = Vec::new();
    let mut i = 0;
    while b.len() - i >= HEADER {
        let len = u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]) as usize;
        let crc = u32::from_le_bytes([b[i + 4], b[i + 5], b[i + 6], b[i + 7]]);
        if len == 0 || len > MAX_RECORD {
            return (out, true);
        }
        if b.len() - i - HEADER < len {
            break;
        }
        let p = &b[i + HEADER..i + HEADER + len];
        if crc32fast::hash(p) != crc {
            return (out, true);
        }
        let Some(r) = decode_payload(p) else { return (out, true) };
        i += HEADER + len;
        out.push((r, i));
    }
    (out, false)
}

// ---- the series table --------------------------------------------------------------

struct Entry {
    labels: Labels,
    /// The segment whose series record for this id was last written (0: none).
    segment: AtomicU64,
    /// Newest committed timestamp (for the agent's out-of-order check).
    last_t: AtomicI64,
    /// Set by a GC pass that found the series idle, cleared by any append;
    /// a series still marked at the next pass is forgotten.
    idle: AtomicBool,
}

#[derive(Default)]
struct SeriesTable {
    by_hash: HashMap<u64, u64>,
    /// Label sets whose hash collides with another's.
    collisions: HashMap<Labels, u64>,
    entries: HashMap<u64, Arc<Entry>>,
    next_id: u64,
}

impl SeriesTable {
    fn find(&self, hash: u64, labels: &Labels) -> Option<u64> {
        match self.by_hash.get(&hash) {
            Some(&id) if self.entries.get(&id).is_some_and(|e| &e.labels == labels) => Some(id),
            Some(_) => self.collisions.get(labels).copied(),
            None => None,
        }
    }
}

// ---- the log -------------------------------------------------------------------------

struct Writer {
    file: File,
    segment: u64,
    offset: u64,
    dirty: bool,
}

/// Log statistics for `/metrics`.
#[derive(Debug, Default)]
pub struct LogStats {
    pub samples_in: AtomicU64,
    pub bytes_written: AtomicU64,
    pub highest_timestamp_ms: AtomicI64,
    pub segments_deleted: AtomicU64,
    pub series: AtomicU64,
    pub write_errors: AtomicU64,
}

/// The append log. Cheap to share (`Arc`).
pub struct Log {
    dir: PathBuf,
    segment_bytes: u64,
    series: RwLock<SeriesTable>,
    writer: Mutex<Writer>,
    end: tokio::sync::watch::Sender<Pos>,
    pub stats: LogStats,
}

impl Log {
    /// Opens (creating) the log in `dir`: cuts a torn tail off the last
    /// segment and starts a new one.
    pub fn open(dir: &Path, segment_bytes: u64) -> io::Result<Arc<Log>> {
        std::fs::create_dir_all(dir)?;
        let segs = list_segments(dir)?;
        if let Some(&last) = segs.last() {
            repair(&dir.join(seg_name(last)))?;
        }
        let segment = segs.last().map_or(1, |l| l + 1);
        let file = create_segment(dir, segment)?;
        let (end, _) = tokio::sync::watch::channel(Pos { segment, offset: 0 });
        let log = Arc::new(Log {
            dir: dir.to_path_buf(),
            segment_bytes: segment_bytes.max(256),
            series: RwLock::new(SeriesTable { next_id: 1, ..Default::default() }),
            writer: Mutex::new(Writer { file, segment, offset: 0, dirty: false }),
            end,
            stats: LogStats::default(),
        });
        // fsync once a second while there is something to sync; the thread
        // ends with the log.
        let weak = Arc::downgrade(&log);
        std::thread::Builder::new().name("remote-log-sync".into()).spawn(move || loop {
            std::thread::sleep(std::time::Duration::from_secs(1));
            let Some(log) = weak.upgrade() else { return };
            if let Err(e) = log.sync() {
                tracing::error!(err = %e, "remote write log: fsync failed");
            }
        })?;
        Ok(log)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The end of what is committed: readers read up to here.
    pub fn end(&self) -> Pos {
        *self.end.borrow()
    }

    /// Watches the committed end (changes at every commit).
    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<Pos> {
        self.end.subscribe()
    }

    /// Flushes written data to disk.
    pub fn sync(&self) -> io::Result<()> {
        let mut w = self.writer.lock();
        if w.dirty {
            w.file.sync_data()?;
            w.dirty = false;
        }
        Ok(())
    }

    /// The id of a series, created if new.
    pub fn series_id(&self, labels: &Labels) -> u64 {
        let hash = labels.stable_hash();
        if let Some(id) = self.series.read().find(hash, labels) {
            return id;
        }
        let mut t = self.series.write();
        if let Some(id) = t.find(hash, labels) {
            return id;
        }
        let id = t.next_id;
        t.next_id += 1;
        let e = Arc::new(Entry {
            labels: labels.clone(),
            segment: AtomicU64::new(0),
            last_t: AtomicI64::new(i64::MIN),
            idle: AtomicBool::new(false),
        });
        t.entries.insert(id, e);
        match t.by_hash.entry(hash) {
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(id);
            }
            std::collections::hash_map::Entry::Occupied(_) => {
                t.collisions.insert(labels.clone(), id);
            }
        }
        self.stats.series.store(t.entries.len() as u64, Ordering::Relaxed);
        id
    }

    /// Whether `id` is a live series; marks it in use.
    pub fn touch(&self, id: u64) -> bool {
        match self.series.read().entries.get(&id) {
            Some(e) => {
                e.idle.store(false, Ordering::Relaxed);
                true
            }
            None => false,
        }
    }

    /// The newest committed timestamp of a series (`i64::MIN` if none).
    pub fn last_timestamp(&self, id: u64) -> Option<i64> {
        self.series.read().entries.get(&id).map(|e| e.last_t.load(Ordering::Relaxed))
    }

    /// Writes a commit: the series records this segment lacks, then the
    /// samples, in one `write(2)`. Samples of series forgotten meanwhile are
    /// dropped (a series idle for two truncations; counted).
    pub fn commit(&self, samples: &[(u64, i64, f64)]) -> io::Result<()> {
        if samples.is_empty() {
            return Ok(());
        }
        let entries: Vec<Option<Arc<Entry>>> = {
            let t = self.series.read();
            samples.iter().map(|s| t.entries.get(&s.0).cloned()).collect()
        };
        let mut w = self.writer.lock();
        if w.offset >= self.segment_bytes {
            self.cut(&mut w)?;
        }
        let mut buf = Vec::with_capacity(samples.len() * 14 + 16);
        let mut kept = Vec::with_capacity(samples.len());
        for (s, e) in samples.iter().zip(&entries) {
            let Some(e) = e else { continue };
            if e.segment.load(Ordering::Relaxed) != w.segment {
                e.segment.store(w.segment, Ordering::Relaxed);
                encode_series(&mut buf, s.0, &e.labels);
            }
            e.idle.store(false, Ordering::Relaxed);
            e.last_t.fetch_max(s.1, Ordering::Relaxed);
            kept.push(*s);
        }
        if kept.len() < samples.len() {
            tracing::warn!(dropped = samples.len() - kept.len(), "remote write log: samples of forgotten series dropped");
        }
        if kept.is_empty() {
            return Ok(());
        }
        encode_samples(&mut buf, &kept);
        if let Err(e) = w.file.write_all(&buf) {
            self.stats.write_errors.fetch_add(1, Ordering::Relaxed);
            // Whatever part was written is a torn record: start over in a
            // new segment so readers never see it as the middle of one.
            let _ = self.cut(&mut w);
            return Err(e);
        }
        w.offset += buf.len() as u64;
        w.dirty = true;
        self.stats.samples_in.fetch_add(kept.len() as u64, Ordering::Relaxed);
        self.stats.bytes_written.fetch_add(buf.len() as u64, Ordering::Relaxed);
        if let Some(max) = kept.iter().map(|s| s.1).max() {
            self.stats.highest_timestamp_ms.fetch_max(max, Ordering::Relaxed);
        }
        let pos = Pos { segment: w.segment, offset: w.offset };
        self.end.send_replace(pos);
        Ok(())
    }

    fn cut(&self, w: &mut Writer) -> io::Result<()> {
        w.file.sync_data()?;
        let next = w.segment + 1;
        w.file = create_segment(&self.dir, next)?;
        w.segment = next;
        w.offset = 0;
        w.dirty = false;
        self.end.send_replace(Pos { segment: next, offset: 0 });
        Ok(())
    }

    /// Starts a new segment now (tests; and a truncation of everything).
    pub fn cut_segment(&self) -> io::Result<()> {
        let mut w = self.writer.lock();
        self.cut(&mut w)
    }

    /// Deletes the segments before `segment` (never the one being written)
    /// and forgets series idle since the previous call.
    pub fn truncate_before(&self, segment: u64) -> io::Result<usize> {
        let current = self.writer.lock().segment;
        let limit = segment.min(current);
        let mut n = 0;
        for s in list_segments(&self.dir)? {
            if s >= limit {
                break;
            }
            std::fs::remove_file(self.dir.join(seg_name(s)))?;
            n += 1;
        }
        if n > 0 {
            self.stats.segments_deleted.fetch_add(n as u64, Ordering::Relaxed);
            self.gc();
        }
        Ok(n)
    }

    /// Forgets series that were idle (no sample, no lookup) since the last
    /// pass; marks the others idle for the next.
    fn gc(&self) {
        let mut t = self.series.write();
        let gone: Vec<u64> = t.entries.iter().filter(|(_, e)| e.idle.swap(true, Ordering::Relaxed)).map(|(&id, _)| id).collect();
        for id in gone {
            if let Some(e) = t.entries.remove(&id) {
                let h = e.labels.stable_hash();
                if t.by_hash.get(&h) == Some(&id) {
                    t.by_hash.remove(&h);
                    if let Some(other) = t.collisions.iter().find(|(l, _)| l.stable_hash() == h).map(|(l, &i)| (l.clone(), i)) {
                        t.collisions.remove(&other.0);
                        t.by_hash.insert(h, other.1);
                    }
                } else {
                    t.collisions.remove(&e.labels);
                }
            }
        }
        self.stats.series.store(t.entries.len() as u64, Ordering::Relaxed);
    }

    /// Bytes on disk.
    pub fn size_bytes(&self) -> u64 {
        list_segments(&self.dir)
            .map(|v| v.iter().filter_map(|s| std::fs::metadata(self.dir.join(seg_name(*s))).ok()).map(|m| m.len()).sum())
            .unwrap_or(0)
    }

    /// First segment on disk.
    pub fn first_segment(&self) -> u64 {
        list_segments(&self.dir).ok().and_then(|v| v.first().copied()).unwrap_or_else(|| self.end().segment)
    }
}

fn create_segment(dir: &Path, n: u64) -> io::Result<File> {
    let f = OpenOptions::new().create(true).append(true).open(dir.join(seg_name(n)))?;
    // The new name must survive a machine crash before records in it count.
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(f)
}

/// Cuts a segment at its last whole, valid record.
fn repair(path: &Path) -> io::Result<()> {
    let data = std::fs::read(path)?;
    let (recs, _) = scan(&data);
    let good = recs.last().map_or(0, |r| r.1);
    if good < data.len() {
        tracing::warn!(file = %path.display(), kept = good, cut = data.len() - good, "remote write log: torn tail cut");
        let f = OpenOptions::new().write(true).open(path)?;
        f.set_len(good as u64)?;
        f.sync_all()?;
    }
    Ok(())
}

// ---- reading ---------------------------------------------------------------------------

/// Reads the log from a position, one segment after the other.
pub struct LogReader {
    dir: PathBuf,
    pos: Pos,
    /// Samples before this position were sent already: only their series
    /// records are wanted (the reader started mid-segment).
    skip_before: Pos,
    file: Option<File>,
    /// Bytes read from the file past `pos` that did not yet form a whole record.
    pending: Vec<u8>,
}

impl LogReader {
    /// A reader that resumes at `pos`. When that segment is gone (deleted,
    /// or a wiped directory) it starts at the first one that exists after it.
    pub fn new(dir: &Path, pos: Pos) -> LogReader {
        let segs = list_segments(dir).unwrap_or_default();
        let start = if segs.contains(&pos.segment) {
            Pos { segment: pos.segment, offset: 0 }
        } else {
            let s = segs.iter().copied().find(|&s| s > pos.segment).or(segs.last().copied()).unwrap_or(pos.segment);
            tracing::warn!(wanted = %pos, start = s, "remote write log: the position's segment is gone; resuming at the next one");
            Pos { segment: s, offset: 0 }
        };
        let skip_before = if start.segment == pos.segment { pos } else { start };
        LogReader { dir: dir.to_path_buf(), pos: start, skip_before, file: None, pending: Vec::new() }
    }

    /// Where the next read starts.
    pub fn pos(&self) -> Pos {
        self.pos
    }

    /// Reads whole records up to `end` (the log's committed end), about
    /// `max_bytes` at most, each with the position just past it. Sample
    /// records before the resume position are left out; a
    /// [`Record::NewSegment`] marks where series ids start over. Blocking.
    pub fn read(&mut self, end: Pos, max_bytes: usize) -> io::Result<Vec<(Record, Pos)>> {
        let mut out = Vec::new();
        let mut budget = max_bytes.max(1);
        while self.pos < end && budget > 0 {
            if self.file.is_none() {
                match File::open(self.dir.join(seg_name(self.pos.segment))) {
                    Ok(mut f) => {
                        f.seek(SeekFrom::Start(self.pos.offset))?;
                        self.file = Some(f);
                    }
                    Err(e) if e.kind() == io::ErrorKind::NotFound && self.pos.segment < end.segment => {
                        self.next_segment(&mut out);
                        continue;
                    }
                    Err(e) => return Err(e),
                }
            }
            let tail = self.pos.segment == end.segment;
            let chunk_max = budget.max(1 << 16);
            let want = if tail {
                (end.offset.saturating_sub(self.pos.offset) as usize).saturating_sub(self.pending.len()).min(chunk_max)
            } else {
                chunk_max
            };
            let old = self.pending.len();
            self.pending.resize(old + want, 0);
            let n = match self.file.as_mut() {
                Some(f) => read_full(f, &mut self.pending[old..])?,
                None => 0,
            };
            self.pending.truncate(old + n);
            let (recs, corrupt) = scan(&self.pending);
            let used = recs.last().map_or(0, |r| r.1);
            let base = self.pos.offset;
            for (r, off) in recs {
                let p = Pos { segment: self.pos.segment, offset: base + off as u64 };
                if matches!(r, Record::Series { .. }) || p > self.skip_before {
                    out.push((r, p));
                }
            }
            self.pending.drain(..used);
            self.pos.offset = base + used as u64;
            budget = budget.saturating_sub(used);
            if corrupt {
                tracing::error!(segment = self.pos.segment, offset = self.pos.offset, "remote write log: corrupt record; skipping to the next segment");
                if tail {
                    // The writer never leaves a bad record before the committed end.
                    return Err(io::Error::new(io::ErrorKind::InvalidData, "corrupt record in the remote write log"));
                }
                self.next_segment(&mut out);
                continue;
            }
            if n == 0 {
                if tail {
                    break;
                }
                if !self.pending.is_empty() {
                    tracing::warn!(segment = self.pos.segment, bytes = self.pending.len(), "remote write log: partial record at the end of a segment dropped");
                }
                self.next_segment(&mut out);
            }
        }
        Ok(out)
    }

    fn next_segment(&mut self, out: &mut Vec<(Record, Pos)>) {
        self.pos = Pos { segment: self.pos.segment + 1, offset: 0 };
        self.file = None;
        self.pending.clear();
        out.push((Record::NewSegment, self.pos));
    }
}

fn read_full(f: &mut File, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn l(name: &str) -> Labels {
        Labels::from_pairs([("__name__", name), ("job", "t")])
    }

    fn read_all(dir: &Path, from: Pos, end: Pos) -> (Vec<(Labels, i64, f64)>, Pos) {
        let mut r = LogReader::new(dir, from);
        let mut ids: HashMap<u64, Labels> = HashMap::new();
        let mut out = Vec::new();
        loop {
            let b = r.read(end, 100).expect("read");
            if b.is_empty() {
                break;
            }
            for (rec, _) in b {
                match rec {
                    Record::Series { id, labels } => {
                        ids.insert(id, labels);
                    }
                    Record::NewSegment => ids.clear(),
                    Record::Samples(s) => out.extend(s.into_iter().map(|(id, t, v)| (ids[&id].clone(), t, v))),
                }
            }
        }
        (out, r.pos())
    }

    #[test]
    fn writes_reads_across_segments_and_restarts() {
        let dir = tempfile::tempdir().expect("tmp");
        let log = Log::open(dir.path(), 4096).expect("open");
        let a = log.series_id(&l("a"));
        let b = log.series_id(&l("b"));
        assert_eq!(log.series_id(&l("a")), a);
        for i in 0..200 {
            log.commit(&[(a, i * 1000, i as f64), (b, i * 1000, f64::from_bits(bongsu_model::STALE_NAN_BITS))]).expect("commit");
        }
        assert!(list_segments(dir.path()).expect("ls").len() > 1, "segments cut");
        let (all, _) = read_all(dir.path(), Pos { segment: 1, offset: 0 }, log.end());
        assert_eq!(all.len(), 400);
        assert_eq!(all[398], (l("a"), 199_000, 199.0));
        assert_eq!(all[399].2.to_bits(), bongsu_model::STALE_NAN_BITS);
        // Resume mid-way: only later samples, labels still known.
        let (_, mid) = read_all(dir.path(), Pos { segment: 1, offset: 0 }, Pos { segment: 2, offset: 500 });
        let (rest, _) = read_all(dir.path(), mid, log.end());
        assert!(!rest.is_empty() && rest.len() < 400);
        assert_eq!(rest.last().map(|x| x.1), Some(199_000));
        let end = log.end();
        drop(log);
        // A torn tail is cut on reopen; a new segment starts.
        let last = list_segments(dir.path()).expect("ls").last().copied().unwrap_or(0);
        let mut f = OpenOptions::new().append(true).open(dir.path().join(seg_name(last))).expect("open");
        f.write_all(&[1, 2, 3]).expect("write");
        drop(f);
        let log = Log::open(dir.path(), 4096).expect("reopen");
        assert_eq!(log.end(), Pos { segment: end.segment + 1, offset: 0 });
        let c = log.series_id(&l("c"));
        log.commit(&[(c, 300_000, 3.0)]).expect("commit");
        let (rest2, _) = read_all(dir.path(), end, log.end());
        assert_eq!(rest2, vec![(l("c"), 300_000, 3.0)]);
        // Truncation keeps the segment being written.
        log.truncate_before(u64::MAX).expect("truncate");
        assert_eq!(list_segments(dir.path()).expect("ls"), vec![log.end().segment]);
    }

    #[test]
    fn idle_series_are_forgotten_after_two_truncations() {
        let dir = tempfile::tempdir().expect("tmp");
        let log = Log::open(dir.path(), 4096).expect("open");
        let a = log.series_id(&l("a"));
        log.commit(&[(a, 1, 1.0)]).expect("commit");
        log.cut_segment().expect("cut");
        log.truncate_before(u64::MAX).expect("t1");
        assert!(log.touch(a) || log.last_timestamp(a).is_some());
        log.cut_segment().expect("cut");
        log.truncate_before(u64::MAX).expect("t2");
        log.cut_segment().expect("cut");
        log.truncate_before(u64::MAX).expect("t3");
        log.cut_segment().expect("cut");
        log.truncate_before(u64::MAX).expect("t4");
        assert!(!log.touch(a), "idle series forgotten");
        assert_ne!(log.series_id(&l("a")), a, "a new id after forgetting");
    }

    #[test]
    fn garbage_never_panics_the_scanner() {
        for n in 0..200u32 {
            let junk: Vec<u8> = (0..n).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8).collect();
            let _ = scan(&junk);
        }
        let mut buf = Vec::new();
        encode_samples(&mut buf, &[(1, 5, 1.0)]);
        buf[HEADER + 1] = 0xff; // count: a huge varint
        let crc = crc32fast::hash(&buf[HEADER..]);
        buf[4..8].copy_from_slice(&crc.to_le_bytes());
        let (recs, corrupt) = scan(&buf);
        assert!(recs.is_empty() && corrupt);
    }
}
