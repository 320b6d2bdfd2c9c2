//! The in-memory head: recent samples of every active series.
//!
//! Layout, chosen for memory per active series:
//! * [`Index`] (one `RwLock`): interned label strings (ref-counted symbols),
//!   each series' labels as a boxed slice of symbol id pairs, a hash → id
//!   map with collision lists, and postings (name → value → sorted ids).
//! * Series data lives in [`STRIPES`] mutex-protected maps keyed by id
//!   ([`MemSeries`]: sealed XOR chunks plus one open chunk), so appends to
//!   different series rarely contend.

use crate::chunkenc::{self, XorChunk, SAMPLES_PER_CHUNK};
use crate::postings::PostingsReader;
use bongsu_model::storage::AppendError;
use bongsu_model::{Label, Labels, Sample};
use parking_lot::{Mutex, RwLock};
use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;

pub(crate) const STRIPES: usize = 64;

/// One lock's share of the series (boxed: the map's slack then costs 16 bytes per slot, not 128).
pub(crate) type Stripe = Mutex<IdMap<Box<MemSeries>>>;

/// Hashes a `u64` key (a series id, or a key that is already a hash) with
/// one folded multiply instead of SipHash: these maps are probed for every
/// appended sample.
#[derive(Default, Clone, Copy)]
pub(crate) struct IdHasher(u64);

impl std::hash::Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.write_u64(self.0 ^ u64::from(*b));
        }
    }
    fn write_u64(&mut self, v: u64) {
        // Ids of one stripe share their low bits: mix high into low.
        let x = u128::from(v ^ self.0) * 0x9E37_79B9_7F4A_7C15u128;
        self.0 = (x as u64) ^ ((x >> 64) as u64);
    }
}

/// A map keyed by series id.
pub(crate) type IdMap<V> = HashMap<u64, V, std::hash::BuildHasherDefault<IdHasher>>;

#[derive(Default)]
pub(crate) struct Interner {
    map: HashMap<Arc<str>, u32>,
    strs: Vec<Option<Arc<str>>>,
    refs: Vec<u32>,
    free: Vec<u32>,
    bytes: usize,
}

impl Interner {
    pub fn intern(&mut self, s: &str) -> u32 {
        if let Some(&id) = self.map.get(s) {
            self.refs[id as usize] += 1;
            return id;
        }
        let a: Arc<str> = Arc::from(s);
        self.bytes += s.len();
        let id = if let Some(id) = self.free.pop() {
            self.strs[id as usize] = Some(a.clone());
            self.refs[id as usize] = 1;
            id
        } else {
            self.strs.push(Some(a.clone()));
            self.refs.push(1);
            (self.strs.len() - 1) as u32
        };
        self.map.insert(a, id);
        id
    }

    pub fn get(&self, s: &str) -> Option<u32> {
        self.map.get(s).copied()
    }

    pub fn resolve(&self, id: u32) -> &str {
        self.strs
            .get(id as usize)
            .and_then(|s| s.as_deref())
            .unwrap_or("")
    }

    fn release(&mut self, id: u32) {
        let i = id as usize;
        if i >= self.refs.len() || self.refs[i] == 0 {
            return;
        }
        self.refs[i] -= 1;
        if self.refs[i] == 0 {
            if let Some(s) = self.strs[i].take() {
                self.bytes -= s.len();
                self.map.remove(&s);
            }
            self.free.push(id);
        }
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Bytes of the interned strings.
    pub fn bytes(&self) -> usize {
        self.bytes
    }
}

pub(crate) struct SeriesEntry {
    /// (name, value) symbol ids, sorted by name string.
    pub labels: Box<[u32]>,
}

#[derive(Default)]
pub(crate) struct Index {
    pub syms: Interner,
    pub series: IdMap<SeriesEntry>,
    /// Label hash → series id; ids sharing a hash beyond the first are in
    /// `collisions` (rare), keeping the common entry at 16 bytes.
    by_hash: IdMap<u64>,
    collisions: HashMap<u64, Vec<u64>>,
    pub postings: HashMap<u32, HashMap<u32, Vec<u64>>>,
}

impl Index {
    pub fn labels_of(&self, e: &SeriesEntry) -> Labels {
        Labels::from_sorted(
            e.labels
                .chunks_exact(2)
                .map(|p| Label {
                    name: self.syms.resolve(p[0]).to_string(),
                    value: self.syms.resolve(p[1]).to_string(),
                })
                .collect(),
        )
    }

    pub fn labels(&self, id: u64) -> Option<Labels> {
        self.series.get(&id).map(|e| self.labels_of(e))
    }

    fn equal(&self, e: &SeriesEntry, l: &Labels) -> bool {
        e.labels.len() == l.len() * 2
            && e.labels.chunks_exact(2).zip(l.iter()).all(|(p, l)| {
                self.syms.resolve(p[0]) == l.name && self.syms.resolve(p[1]) == l.value
            })
    }

    fn lookup(&self, hash: u64, l: &Labels) -> Option<u64> {
        let first = *self.by_hash.get(&hash)?;
        if self.series.get(&first).is_some_and(|e| self.equal(e, l)) {
            return Some(first);
        }
        self.collisions
            .get(&hash)?
            .iter()
            .copied()
            .find(|id| self.series.get(id).is_some_and(|e| self.equal(e, l)))
    }

    fn insert(&mut self, id: u64, hash: u64, l: &Labels) {
        let mut syms = Vec::with_capacity(l.len() * 2);
        for lab in l.iter() {
            let n = self.syms.intern(&lab.name);
            let v = self.syms.intern(&lab.value);
            syms.push(n);
            syms.push(v);
            let p = self.postings.entry(n).or_default().entry(v).or_default();
            match p.last() {
                Some(&last) if last > id => {
                    let pos = p.partition_point(|&x| x < id);
                    p.insert(pos, id);
                }
                _ => p.push(id),
            }
        }
        self.series.insert(
            id,
            SeriesEntry {
                labels: syms.into_boxed_slice(),
            },
        );
        if let std::collections::hash_map::Entry::Vacant(e) = self.by_hash.entry(hash) {
            e.insert(id);
        } else {
            self.collisions.entry(hash).or_default().push(id);
        }
    }

    #[cfg(test)]
    fn remove(&mut self, id: u64, hash: u64) {
        self.remove_many_hashed(&[id], Some(hash));
    }

    /// Removes series; each touched postings list is rewritten once, so
    /// dropping many series from a large list stays linear.
    pub fn remove_many(&mut self, ids: &[u64]) {
        self.remove_many_hashed(ids, None)
    }

    fn remove_many_hashed(&mut self, ids: &[u64], hash: Option<u64>) {
        let mut sorted = ids.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        let mut touched: std::collections::HashSet<(u32, u32)> = Default::default();
        let mut released: Vec<u32> = Vec::new();
        for &id in &sorted {
            let Some(l) = self.labels(id) else { continue };
            let Some(e) = self.series.remove(&id) else {
                continue;
            };
            for p in e.labels.chunks_exact(2) {
                touched.insert((p[0], p[1]));
                released.push(p[0]);
                released.push(p[1]);
            }
            self.unhash(id, hash.unwrap_or_else(|| l.stable_hash()));
        }
        for (n, v) in touched {
            if let Some(vals) = self.postings.get_mut(&n) {
                if let Some(list) = vals.get_mut(&v) {
                    list.retain(|x| sorted.binary_search(x).is_err());
                    if list.is_empty() {
                        vals.remove(&v);
                    } else if list.capacity() > 2 * list.len() + 4 {
                        list.shrink_to_fit();
                    }
                }
                if vals.is_empty() {
                    self.postings.remove(&n);
                }
            }
        }
        for s in released {
            self.syms.release(s);
        }
    }

    fn unhash(&mut self, id: u64, hash: u64) {
        if self.by_hash.get(&hash) == Some(&id) {
            match self.collisions.get_mut(&hash) {
                Some(v) => {
                    let next = v.remove(0);
                    if v.is_empty() {
                        self.collisions.remove(&hash);
                    }
                    self.by_hash.insert(hash, next);
                }
                None => {
                    self.by_hash.remove(&hash);
                }
            }
        } else if let Some(v) = self.collisions.get_mut(&hash) {
            v.retain(|&x| x != id);
            if v.is_empty() {
                self.collisions.remove(&hash);
            }
        }
    }
}

impl PostingsReader for Index {
    fn all_postings(&self) -> Vec<u64> {
        let mut v: Vec<u64> = self.series.keys().copied().collect();
        v.sort_unstable();
        v
    }

    fn for_each_postings(
        &self,
        name: &str,
        exact: Option<&[String]>,
        pred: &dyn Fn(&str) -> bool,
        f: &mut dyn FnMut(&[u64]),
    ) {
        let Some(n) = self.syms.get(name) else { return };
        let Some(vals) = self.postings.get(&n) else {
            return;
        };
        match exact {
            Some(list) => {
                for v in list {
                    if !pred(v) {
                        continue;
                    }
                    if let Some(p) = self.syms.get(v).and_then(|id| vals.get(&id)) {
                        f(p);
                    }
                }
            }
            None => {
                for (v, p) in vals {
                    if pred(self.syms.resolve(*v)) {
                        f(p);
                    }
                }
            }
        }
    }

    fn label_values(&self, name: &str) -> Vec<String> {
        let Some(n) = self.syms.get(name) else {
            return Vec::new();
        };
        let mut v: Vec<String> = self
            .postings
            .get(&n)
            .map(|vals| {
                vals.keys()
                    .map(|v| self.syms.resolve(*v).to_string())
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    }

    fn label_names(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .postings
            .keys()
            .map(|n| self.syms.resolve(*n).to_string())
            .collect();
        v.sort();
        v
    }
}

/// A full head chunk in [`crate::colenc`] format: sealed as XOR, repacked
/// into `pco` columns by [`Head::pack_chunks`] when that is smaller.
pub(crate) struct HeadChunk {
    pub min_t: i64,
    pub max_t: i64,
    pub n: u16,
    pub packed: bool,
    pub data: Box<[u8]>,
}

pub(crate) struct MemSeries {
    pub sealed: Vec<HeadChunk>,
    pub open: Option<XorChunk>,
    pub last_t: i64,
    pub last_v: u64,
    /// Appenders holding uncommitted samples for this series (no GC while > 0).
    pub pending: u32,
    /// Its series record is in the WAL.
    pub logged: bool,
    /// Isolation: the last commit that appended to this series and the time
    /// of its first sample here. A query that must not see that commit
    /// hides samples at or after `mark_t`.
    mark_seq: u64,
    mark_t: i64,
    /// Earlier marks still needed by some reader (seq ≥ the low watermark),
    /// ascending; `None` almost always. Boxed so the common case costs 8 bytes.
    #[allow(clippy::box_collection)]
    older_marks: Option<Box<Vec<(u64, i64)>>>,
}

impl MemSeries {
    fn new() -> Self {
        MemSeries {
            sealed: Vec::new(),
            open: None,
            last_t: i64::MIN,
            last_v: 0,
            pending: 0,
            logged: false,
            mark_seq: 0,
            mark_t: i64::MAX,
            older_marks: None,
        }
    }

    /// A series whose record is already in the WAL (replay).
    fn logged() -> Self {
        MemSeries {
            logged: true,
            ..MemSeries::new()
        }
    }

    /// First timestamp of the open chunk (`i64::MAX` without one).
    pub fn open_min_t(&self) -> i64 {
        self.open
            .as_ref()
            .and_then(|c| c.first_t())
            .unwrap_or(i64::MAX)
    }

    pub fn is_empty(&self) -> bool {
        self.sealed.is_empty() && self.open.as_ref().is_none_or(|c| c.num_samples() == 0)
    }

    pub fn min_time(&self) -> Option<i64> {
        self.sealed.first().map(|c| c.min_t).or(if self.is_empty() {
            None
        } else {
            Some(self.open_min_t())
        })
    }

    pub fn num_chunks(&self) -> usize {
        self.sealed.len() + usize::from(self.open.is_some())
    }

    /// Checks whether a sample would be accepted.
    pub fn check(&self, t: i64, v: f64) -> Result<bool, AppendError> {
        if self.last_t == i64::MIN && self.is_empty() {
            return Ok(true);
        }
        if t < self.last_t {
            return Err(AppendError::OutOfOrder);
        }
        if t == self.last_t {
            return if v.to_bits() == self.last_v {
                Ok(false)
            } else {
                Err(AppendError::DuplicateTimestamp)
            };
        }
        Ok(true)
    }

    /// Appends; returns the change in the number of chunks.
    pub fn append(&mut self, t: i64, v: f64, chunk_range: i64) -> Result<i64, AppendError> {
        if !self.check(t, v)? {
            return Ok(0);
        }
        let mut delta = 0;
        let need_cut = match &self.open {
            None => true,
            // Chunks never span a block boundary, so truncation drops whole chunks.
            Some(c) => {
                c.num_samples() >= SAMPLES_PER_CHUNK
                    || t >= self
                        .open_min_t()
                        .div_euclid(chunk_range)
                        .saturating_add(1)
                        .saturating_mul(chunk_range)
                    || c.is_full()
            }
        };
        if need_cut {
            if let Some(c) = self.open.take() {
                if c.num_samples() > 0 {
                    let min_t = c.first_t().unwrap_or(self.last_t);
                    let n = c.num_samples() as u16;
                    let xor = c.into_bytes();
                    let mut data = Vec::with_capacity(xor.len() + 1);
                    data.push(1u8);
                    data.extend_from_slice(&xor);
                    self.sealed.push(HeadChunk {
                        min_t,
                        max_t: self.last_t,
                        n,
                        packed: false,
                        data: data.into_boxed_slice(),
                    });
                } else {
                    delta -= 1;
                }
            }
            self.open = Some(XorChunk::new());
            delta += 1;
        }
        if let Some(c) = self.open.as_mut() {
            c.append(t, v);
        }
        self.last_t = t;
        self.last_v = v.to_bits();
        Ok(delta)
    }

    /// Samples in `[mint, maxt]`, appended to `out`.
    pub fn samples(&self, mint: i64, maxt: i64, out: &mut Vec<Sample>) {
        let start = out.len();
        for c in &self.sealed {
            if c.max_t < mint || c.min_t > maxt {
                continue;
            }
            if let Ok(s) = crate::colenc::decode(&c.data, c.n as usize) {
                out.extend(s);
            }
        }
        if let Some(c) = &self.open {
            if c.num_samples() > 0 && self.open_min_t() <= maxt && self.last_t >= mint {
                let _ = chunkenc::decode_into(c.bytes(), out);
            }
        }
        // keep only [mint, maxt]
        let mut w = start;
        for r in start..out.len() {
            if out[r].t >= mint && out[r].t <= maxt {
                out[w] = out[r];
                w += 1;
            }
        }
        out.truncate(w);
    }

    /// The part of the series a reader with snapshot `snap` may see ends before this time.
    fn visible_until(&self, snap: Option<&Snapshot>) -> i64 {
        let Some(sn) = snap else { return i64::MAX };
        if let Some(older) = &self.older_marks {
            if let Some(&(_, t)) = older.iter().find(|(seq, _)| !sn.visible(*seq)) {
                return t;
            }
        }
        if !sn.visible(self.mark_seq) {
            return self.mark_t;
        }
        i64::MAX
    }

    /// Records that commit `seq` appended at `t`, keeping marks that
    /// readers older than `low` may still need.
    fn mark(&mut self, seq: u64, t: i64, low: u64) {
        if self.mark_seq == seq {
            return;
        }
        if self.mark_seq >= low && self.mark_seq != 0 {
            self.older_marks
                .get_or_insert_with(Default::default)
                .push((self.mark_seq, self.mark_t));
        }
        if let Some(o) = &mut self.older_marks {
            o.retain(|(s, _)| *s >= low);
            if o.is_empty() {
                self.older_marks = None;
            }
        }
        self.mark_seq = seq;
        self.mark_t = t;
    }

    pub fn has_samples_in(&self, mint: i64, maxt: i64) -> bool {
        self.sealed
            .iter()
            .any(|c| c.max_t >= mint && c.min_t <= maxt)
            || (self.open.as_ref().is_some_and(|c| c.num_samples() > 0)
                && self.open_min_t() <= maxt
                && self.last_t >= mint)
    }

    /// Rebuilds the chunks from `keep` (ascending); returns the chunk count delta.
    fn rebuild(&mut self, keep: &[Sample], chunk_range: i64) -> i64 {
        let before = self.num_chunks() as i64;
        let (last_t, last_v) = (self.last_t, self.last_v);
        self.sealed.clear();
        self.open = None;
        self.last_t = i64::MIN;
        for s in keep {
            let _ = self.append(s.t, s.v, chunk_range);
        }
        // The series keeps its append position: deleting samples does not
        // reopen old time for appends.
        self.last_t = last_t;
        self.last_v = last_v;
        self.num_chunks() as i64 - before
    }
}

/// Which commits a reader sees: those started before it, minus the ones
/// still being applied then.
pub(crate) struct Snapshot {
    id: u64,
    max_seq: u64,
    in_flight: Vec<u64>,
}

/// Commits being applied and readers holding snapshots; their minimum
/// invisible sequence number is the low watermark below which series may
/// forget commit marks.
#[derive(Default)]
struct IsolationState {
    in_flight: Vec<u64>,
    readers: Vec<(u64, u64)>,
    next_reader: u64,
}

impl Snapshot {
    fn visible(&self, seq: u64) -> bool {
        seq <= self.max_seq && !self.in_flight.contains(&seq)
    }
}

pub(crate) struct Head {
    pub index: RwLock<Index>,
    pub stripes: Box<[Stripe]>,
    pub next_id: AtomicU64,
    pub min_t: AtomicI64,
    pub max_t: AtomicI64,
    /// Samples older than this are out of bounds (persisted blocks cover them).
    pub min_valid_t: AtomicI64,
    pub num_chunks: AtomicI64,
    pub chunk_range: i64,
    /// Commit sequence numbers for isolation (0 = replayed data, always visible).
    next_seq: AtomicU64,
    iso: Mutex<IsolationState>,
    low_watermark: AtomicU64,
}

impl Head {
    pub fn new(chunk_range: i64) -> Self {
        Head {
            index: RwLock::new(Index::default()),
            stripes: (0..STRIPES).map(|_| Mutex::new(IdMap::default())).collect(),
            next_id: AtomicU64::new(1),
            min_t: AtomicI64::new(i64::MAX),
            max_t: AtomicI64::new(i64::MIN),
            min_valid_t: AtomicI64::new(i64::MIN),
            num_chunks: AtomicI64::new(0),
            chunk_range: chunk_range.max(1),
            next_seq: AtomicU64::new(1),
            iso: Mutex::new(IsolationState::default()),
            low_watermark: AtomicU64::new(1),
        }
    }

    #[inline]
    pub fn stripe(&self, id: u64) -> &Stripe {
        &self.stripes[(id % STRIPES as u64) as usize]
    }

    /// The series id for `l`, creating the series if needed; `true` when created.
    pub fn get_or_create(&self, l: &Labels) -> (u64, bool) {
        let hash = l.stable_hash();
        if let Some(id) = self.index.read().lookup(hash, l) {
            return (id, false);
        }
        let mut ix = self.index.write();
        if let Some(id) = ix.lookup(hash, l) {
            return (id, false);
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        ix.insert(id, hash, l);
        self.stripe(id)
            .lock()
            .insert(id, Box::new(MemSeries::new()));
        (id, true)
    }

    /// Replay: creates the series with a given id. Returns the id to use
    /// (an existing series' id when the labels are already known).
    pub fn create_with_id(&self, id: u64, l: &Labels) -> u64 {
        let hash = l.stable_hash();
        let mut ix = self.index.write();
        if let Some(existing) = ix.lookup(hash, l) {
            return existing;
        }
        if ix.series.contains_key(&id) {
            // Same id, different labels: a corrupt or foreign WAL. Use a fresh id.
            let nid = self.next_id.fetch_add(1, Ordering::Relaxed);
            ix.insert(nid, hash, l);
            self.stripe(nid)
                .lock()
                .insert(nid, Box::new(MemSeries::logged()));
            return nid;
        }
        ix.insert(id, hash, l);
        self.stripe(id)
            .lock()
            .insert(id, Box::new(MemSeries::logged()));
        self.next_id.fetch_max(id + 1, Ordering::Relaxed);
        id
    }

    fn update_low_watermark(&self, g: &IsolationState) {
        let next = self.next_seq.load(Ordering::Relaxed);
        let low = g
            .in_flight
            .iter()
            .copied()
            .chain(g.readers.iter().map(|r| r.1))
            .min()
            .unwrap_or(next)
            .min(next);
        self.low_watermark.fetch_max(low, Ordering::Relaxed);
    }

    /// Starts applying a commit: readers that start now do not see it.
    pub fn begin_commit(&self) -> u64 {
        let mut g = self.iso.lock();
        let seq = self.next_seq.fetch_add(1, Ordering::Relaxed);
        g.in_flight.push(seq);
        seq
    }

    pub fn end_commit(&self, seq: u64) {
        let mut g = self.iso.lock();
        g.in_flight.retain(|&s| s != seq);
        self.update_low_watermark(&g);
    }

    /// Registers a reader; pair with [`Head::end_read`].
    pub fn snapshot(&self) -> Snapshot {
        let mut g = self.iso.lock();
        let max_seq = self.next_seq.load(Ordering::Relaxed).saturating_sub(1);
        let in_flight = g.in_flight.clone();
        let need = in_flight
            .iter()
            .copied()
            .min()
            .unwrap_or(max_seq + 1)
            .min(max_seq + 1);
        g.next_reader += 1;
        let id = g.next_reader;
        g.readers.push((id, need));
        Snapshot {
            id,
            max_seq,
            in_flight,
        }
    }

    pub fn end_read(&self, snap: Snapshot) {
        let mut g = self.iso.lock();
        g.readers.retain(|r| r.0 != snap.id);
        self.update_low_watermark(&g);
    }

    /// Appends one committed sample (head bounds already checked by the
    /// caller) as part of commit `seq` (0 for replay).
    pub fn apply(&self, id: u64, t: i64, v: f64, seq: u64) -> Result<(), AppendError> {
        let mut st = self.stripe(id).lock();
        let Some(s) = st.get_mut(&id) else {
            return Err(AppendError::OutOfBounds);
        };
        let d = s.append(t, v, self.chunk_range)?;
        if seq != 0 {
            s.mark(seq, t, self.low_watermark.load(Ordering::Relaxed));
        }
        drop(st);
        if d != 0 {
            self.num_chunks.fetch_add(d, Ordering::Relaxed);
        }
        self.min_t.fetch_min(t, Ordering::Relaxed);
        self.max_t.fetch_max(t, Ordering::Relaxed);
        Ok(())
    }

    #[cfg(test)]
    pub fn num_series(&self) -> usize {
        self.index.read().series.len()
    }

    /// The lowest time an append may have.
    pub fn appendable_min_valid_t(&self) -> i64 {
        let mv = self.min_valid_t.load(Ordering::Relaxed);
        let max = self.max_t.load(Ordering::Relaxed);
        if max == i64::MIN {
            return mv;
        }
        mv.max(max.saturating_sub(self.chunk_range / 2))
    }

    /// Matching series with samples in `[mint, maxt]`.
    pub fn select(
        &self,
        matchers: &[bongsu_model::Matcher],
        mint: i64,
        maxt: i64,
        with_samples: bool,
    ) -> Vec<(Labels, Vec<Sample>)> {
        let snap = self.snapshot();
        let ids: Vec<(u64, Labels)> = {
            let ix = self.index.read();
            let ids = crate::postings::select(&*ix, matchers);
            ids.into_iter()
                .filter_map(|id| ix.labels(id).map(|l| (id, l)))
                .collect()
        };
        let mut out = Vec::with_capacity(ids.len());
        for (id, l) in ids {
            let st = self.stripe(id).lock();
            let Some(s) = st.get(&id) else { continue };
            let maxt = maxt.min(s.visible_until(Some(&snap)).saturating_sub(1));
            if with_samples {
                let mut v = Vec::new();
                s.samples(mint, maxt, &mut v);
                drop(st);
                if !v.is_empty() {
                    out.push((l, v));
                }
            } else if s.has_samples_in(mint, maxt) {
                out.push((l, Vec::new()));
            }
        }
        self.end_read(snap);
        out
    }

    /// Ids of series matching, for deletion.
    pub fn select_ids(&self, matchers: &[bongsu_model::Matcher]) -> Vec<u64> {
        crate::postings::select(&*self.index.read(), matchers)
    }

    /// Physically deletes samples in `[mint, maxt]` of series `id`.
    pub fn delete_range(&self, id: u64, mint: i64, maxt: i64) {
        let mut st = self.stripe(id).lock();
        let Some(s) = st.get_mut(&id) else { return };
        let mut all = Vec::new();
        s.samples(i64::MIN, i64::MAX, &mut all);
        if !all.iter().any(|x| x.t >= mint && x.t <= maxt) {
            return;
        }
        all.retain(|x| x.t < mint || x.t > maxt);
        let d = s.rebuild(&all, self.chunk_range);
        drop(st);
        self.num_chunks.fetch_add(d, Ordering::Relaxed);
    }

    /// Drops samples older than `before`, removes series left empty (and not
    /// pending), recomputes the head's time range. Returns removed series count.
    pub fn truncate(&self, before: i64) -> u64 {
        let mut empty: Vec<u64> = Vec::new();
        let mut min_t = i64::MAX;
        for stripe in self.stripes.iter() {
            let mut st = stripe.lock();
            for (id, s) in st.iter_mut() {
                let before_chunks = s.num_chunks() as i64;
                s.sealed.retain(|c| c.max_t >= before);
                let partial_sealed = s.sealed.first().is_some_and(|c| c.min_t < before);
                let open_nonempty = s.open.as_ref().is_some_and(|c| c.num_samples() > 0);
                if open_nonempty && s.last_t < before && s.sealed.is_empty() {
                    s.open = None;
                }
                let partial_open = open_nonempty
                    && s.open.is_some()
                    && s.open_min_t() < before
                    && s.last_t >= before;
                let mut d = s.num_chunks() as i64 - before_chunks;
                if partial_sealed || partial_open {
                    let mut keep = Vec::new();
                    s.samples(before, i64::MAX, &mut keep);
                    let n0 = s.num_chunks() as i64;
                    s.rebuild(&keep, self.chunk_range);
                    d += s.num_chunks() as i64 - n0;
                }
                if d != 0 {
                    self.num_chunks.fetch_add(d, Ordering::Relaxed);
                }
                match s.min_time() {
                    Some(t) => min_t = min_t.min(t),
                    None => {
                        if s.pending == 0 {
                            empty.push(*id);
                        }
                    }
                }
            }
        }
        let mut removed = 0;
        if !empty.is_empty() {
            let mut ix = self.index.write();
            let mut gone = Vec::with_capacity(empty.len());
            for id in empty {
                let mut st = self.stripe(id).lock();
                if st.get(&id).is_some_and(|s| s.is_empty() && s.pending == 0) {
                    if let Some(s) = st.remove(&id) {
                        self.num_chunks
                            .fetch_sub(s.num_chunks() as i64, Ordering::Relaxed);
                    }
                    gone.push(id);
                }
            }
            removed = gone.len() as u64;
            ix.remove_many(&gone);
            ix.series.shrink_to_fit();
        }
        self.min_t.store(min_t, Ordering::Relaxed);
        if min_t == i64::MAX {
            // empty head keeps its max as the append reference
        }
        removed
    }

    /// Repacks sealed XOR chunks into `pco` columns where smaller. Locks one
    /// series at a time. Returns bytes saved.
    pub fn pack_chunks(&self) -> u64 {
        let mut saved = 0u64;
        for stripe in self.stripes.iter() {
            let ids: Vec<u64> = stripe
                .lock()
                .iter()
                .filter(|(_, s)| s.sealed.iter().any(|c| !c.packed))
                .map(|(id, _)| *id)
                .collect();
            for id in ids {
                let mut st = stripe.lock();
                let Some(s) = st.get_mut(&id) else { continue };
                for c in s.sealed.iter_mut().filter(|c| !c.packed) {
                    c.packed = true;
                    let Ok(samples) = crate::colenc::decode(&c.data, c.n as usize) else {
                        continue;
                    };
                    let enc = crate::colenc::encode(&samples);
                    if enc.len() < c.data.len() {
                        saved += (c.data.len() - enc.len()) as u64;
                        c.data = enc.into_boxed_slice();
                    }
                }
            }
        }
        saved
    }

    /// Bytes held by head chunks (sealed and open).
    pub fn chunk_bytes(&self) -> u64 {
        let mut total = 0u64;
        for stripe in self.stripes.iter() {
            let st = stripe.lock();
            for s in st.values() {
                total += s.sealed.iter().map(|c| c.data.len() as u64).sum::<u64>();
                total += s.open.as_ref().map_or(0, |c| c.bytes().len() as u64);
            }
        }
        total
    }

    /// All series with their labels, sorted by labels.
    pub fn sorted_series(&self) -> Vec<(Labels, u64)> {
        let ix = self.index.read();
        let mut v: Vec<(Labels, u64)> = ix
            .series
            .iter()
            .map(|(id, e)| (ix.labels_of(e), *id))
            .collect();
        drop(ix);
        v.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        v
    }

    pub fn series_samples(&self, id: u64, mint: i64, maxt: i64) -> Vec<Sample> {
        let mut v = Vec::new();
        if let Some(s) = self.stripe(id).lock().get(&id) {
            s.samples(mint, maxt, &mut v);
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bongsu_model::Matcher;

    #[test]
    fn hash_collisions_are_resolved_by_labels() {
        let mut ix = Index::default();
        let (a, b, c) = (
            Labels::from_pairs([("a", "1")]),
            Labels::from_pairs([("a", "2")]),
            Labels::from_pairs([("a", "3")]),
        );
        ix.insert(1, 42, &a);
        ix.insert(2, 42, &b);
        ix.insert(3, 42, &c);
        assert_eq!(
            (ix.lookup(42, &a), ix.lookup(42, &b), ix.lookup(42, &c)),
            (Some(1), Some(2), Some(3))
        );
        ix.remove(1, 42);
        assert_eq!(
            (ix.lookup(42, &a), ix.lookup(42, &b), ix.lookup(42, &c)),
            (None, Some(2), Some(3))
        );
        ix.remove(3, 42);
        assert_eq!(ix.lookup(42, &b), Some(2));
        ix.remove(2, 42);
        assert!(
            ix.by_hash.is_empty()
                && ix.collisions.is_empty()
                && ix.syms.len() == 0
                && ix.postings.is_empty()
        );
    }

    #[test]
    fn append_and_select() {
        let h = Head::new(7_200_000);
        let a = Labels::from_pairs([("__name__", "up"), ("job", "a")]);
        let b = Labels::from_pairs([("__name__", "up"), ("job", "b")]);
        let (ia, _) = h.get_or_create(&a);
        let (ib, _) = h.get_or_create(&b);
        assert_eq!(h.get_or_create(&a).0, ia);
        for i in 0..300 {
            h.apply(ia, i * 1000, i as f64, 0).unwrap();
            h.apply(ib, i * 1000, 1.0, 0).unwrap();
        }
        assert_eq!(h.apply(ia, 5, 1.0, 0), Err(AppendError::OutOfOrder));
        assert_eq!(
            h.apply(ia, 299_000, 1.0, 0),
            Err(AppendError::DuplicateTimestamp)
        );
        assert_eq!(h.apply(ia, 299_000, 299.0, 0), Ok(()));
        // isolation: a commit in flight is invisible to readers, then visible
        let seq = h.begin_commit();
        h.apply(ia, 300_000, 1.0, seq).unwrap();
        h.apply(ib, 300_000, 1.0, seq).unwrap();
        let r = h.select(&[Matcher::equal("__name__", "up")], 300_000, 300_000, true);
        assert!(r.is_empty(), "{r:?}");
        h.end_commit(seq);
        let r = h.select(&[Matcher::equal("__name__", "up")], 300_000, 300_000, true);
        assert_eq!(r.len(), 2);
        let r = h.select(&[Matcher::equal("job", "a")], 10_000, 20_000, true);
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].1.len(), 11);
        let r = h.select(&[Matcher::equal("job", "")], 0, i64::MAX, true);
        assert!(r.is_empty());
        let r = h.select(&[Matcher::equal("x", "")], 0, i64::MAX, true);
        assert_eq!(r.len(), 2);
        assert_eq!(h.truncate(100_000), 0);
        assert_eq!(h.series_samples(ia, 0, i64::MAX).len(), 201);
        assert_eq!(h.truncate(1_000_000), 2);
        assert_eq!(h.num_series(), 0);
        assert_eq!(h.num_chunks.load(Ordering::Relaxed), 0);
    }
}
#[cfg(test)]
#[test]
fn print_sizes() {
    eprintln!(
        "MemSeries {} XorChunk {} SeriesEntry {}",
        std::mem::size_of::<MemSeries>(),
        std::mem::size_of::<XorChunk>(),
        std::mem::size_of::<SeriesEntry>()
    );
}
