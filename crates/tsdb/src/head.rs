//! The in-memory head: recent samples of every active series.
//!
//! Layout, chosen for memory per active series:
//! * [`Index`] (one `RwLock`): interned label strings (ref-counted symbols),
//!   a 32-bit label hash → id map with collision lists, and postings
//!   (name → value → [`Postings`]: short sorted lists or roaring bitmaps).
//! * Series live in [`STRIPES`] mutex-protected [`SeriesTable`]s indexed
//!   directly by id ([`MemSeries`]: its labels as varint symbol ids, sealed
//!   XOR chunks plus one open chunk), so appends to different series rarely
//!   contend and no per-series hash map is kept. Lock order: index, then
//!   stripe.
//!
//! Series ids are assigned sequentially from 1, never reused, and stay
//! below 2^32 ([`MAX_SERIES_ID`]); the public `SeriesRef` stays a `u64`.

use crate::chunkenc::{self, XorChunk, SAMPLES_PER_CHUNK};
use crate::postings::{Postings, PostingsReader, PostingsRef};
use crate::TsdbError;
use bongsu_model::storage::AppendError;
use bongsu_model::{Label, Labels, Sample, STALE_NAN_BITS};
use parking_lot::{Mutex, RwLock};
use roaring::RoaringBitmap;
use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;

pub(crate) const STRIPES: usize = 64;

/// One lock's share of the series.
pub(crate) type Stripe = Mutex<SeriesTable>;

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
    fn write_u32(&mut self, v: u32) {
        self.write_u64(u64::from(v));
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

    /// Each symbol id's rank in the byte order of the strings (0 for free
    /// ids): comparing ranks compares the strings.
    pub fn ranks(&self) -> Vec<u32> {
        let mut ids: Vec<u32> = (0..self.strs.len() as u32)
            .filter(|&i| self.strs[i as usize].is_some())
            .collect();
        ids.sort_unstable_by(|&a, &b| self.resolve(a).cmp(self.resolve(b)));
        let mut rank = vec![0u32; self.strs.len()];
        for (r, &id) in ids.iter().enumerate() {
            rank[id as usize] = r as u32;
        }
        rank
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

/// The highest series id the head assigns: ids are 32-bit inside the head
/// (postings are roaring bitmaps over them) and never reused.
pub(crate) const MAX_SERIES_ID: u64 = u32::MAX as u64;

/// Encodes symbol ids as LEB128 varints (most ids are below 2^14: two bytes
/// or less, against four).
fn encode_syms(syms: &[u32]) -> Box<[u8]> {
    let mut out = Vec::with_capacity(syms.len() * 2);
    for &s in syms {
        let mut x = s;
        while x >= 0x80 {
            out.push((x as u8) | 0x80);
            x >>= 7;
        }
        out.push(x as u8);
    }
    out.into_boxed_slice()
}

/// The (name, value) symbol id pairs of a series' encoded labels.
pub(crate) fn sym_pairs(b: &[u8]) -> SymPairs<'_> {
    SymPairs { b, pos: 0 }
}

pub(crate) struct SymPairs<'a> {
    b: &'a [u8],
    pos: usize,
}

impl SymPairs<'_> {
    #[inline]
    fn varint(&mut self) -> Option<u32> {
        let mut x = 0u32;
        let mut shift = 0;
        loop {
            let byte = *self.b.get(self.pos)?;
            self.pos += 1;
            x |= u32::from(byte & 0x7f) << shift;
            if byte < 0x80 {
                return Some(x);
            }
            shift += 7;
            if shift > 28 {
                return None;
            }
        }
    }
}

impl Iterator for SymPairs<'_> {
    type Item = (u32, u32);
    #[inline]
    fn next(&mut self) -> Option<(u32, u32)> {
        let n = self.varint()?;
        let v = self.varint()?;
        Some((n, v))
    }
}

/// The label index of the head: symbols, postings and the label hash map.
/// A series' own labels (symbol ids) live with its samples in the stripes;
/// lock order is index, then stripe, never the reverse.
#[derive(Default)]
pub(crate) struct Index {
    pub syms: Interner,
    /// Low 32 bits of the label hash → series id; ids sharing those bits
    /// beyond the first are in `collisions` (rare), keeping the common
    /// entry at 8 bytes.
    by_hash: HashMap<u32, u32, std::hash::BuildHasherDefault<IdHasher>>,
    collisions: HashMap<u32, Vec<u32>>,
    pub postings: HashMap<u32, HashMap<u32, Postings>>,
    /// Every series id.
    all: RoaringBitmap,
}

impl Index {
    pub fn num_series(&self) -> u64 {
        self.all.len()
    }

    /// Every series id, ascending.
    pub fn ids(&self) -> impl Iterator<Item = u64> + '_ {
        self.all.iter().map(u64::from)
    }

    pub fn labels_of(&self, syms: &[u8]) -> Labels {
        Labels::from_sorted(
            sym_pairs(syms)
                .map(|(n, v)| Label {
                    name: self.syms.resolve(n).into(),
                    value: self.syms.resolve(v).into(),
                })
                .collect(),
        )
    }

    fn equal(&self, syms: &[u8], l: &Labels) -> bool {
        let mut it = sym_pairs(syms);
        for lab in l.iter() {
            match it.next() {
                Some((n, v))
                    if self.syms.resolve(n) == lab.name && self.syms.resolve(v) == lab.value => {}
                _ => return false,
            }
        }
        it.next().is_none()
    }

    /// Interns `l` and indexes series `id`; returns its encoded symbols.
    fn insert(&mut self, id: u32, hash: u64, l: &Labels) -> Box<[u8]> {
        let mut syms = Vec::with_capacity(l.len() * 2);
        for lab in l.iter() {
            let n = self.syms.intern(&lab.name);
            let v = self.syms.intern(&lab.value);
            syms.push(n);
            syms.push(v);
            self.postings
                .entry(n)
                .or_default()
                .entry(v)
                .or_default()
                .add(id);
        }
        self.all.insert(id);
        let h = hash as u32;
        if let std::collections::hash_map::Entry::Vacant(e) = self.by_hash.entry(h) {
            e.insert(id);
        } else {
            self.collisions.entry(h).or_default().push(id);
        }
        encode_syms(&syms)
    }

    /// Removes series (id and encoded symbols); each touched postings list
    /// is rewritten once, so dropping many series from a large list stays
    /// linear.
    pub fn remove_many(&mut self, gone: &[(u32, Box<[u8]>)]) {
        self.remove_many_hashed(gone, None)
    }

    fn remove_many_hashed(&mut self, gone: &[(u32, Box<[u8]>)], hash: Option<u64>) {
        let mut sorted: Vec<u32> = gone.iter().map(|g| g.0).collect();
        sorted.sort_unstable();
        sorted.dedup();
        let set = RoaringBitmap::from_sorted_iter(sorted.iter().copied()).unwrap_or_default();
        let mut touched: std::collections::HashSet<(u32, u32)> = Default::default();
        let mut released: Vec<u32> = Vec::new();
        for (id, syms) in gone {
            if !self.all.remove(*id) {
                continue;
            }
            let h = hash.unwrap_or_else(|| self.labels_of(syms).stable_hash());
            for (n, v) in sym_pairs(syms) {
                touched.insert((n, v));
                released.push(n);
                released.push(v);
            }
            self.unhash(*id, h as u32);
        }
        for (n, v) in touched {
            if let Some(vals) = self.postings.get_mut(&n) {
                if let Some(list) = vals.get_mut(&v) {
                    list.remove_sorted(&sorted, &set);
                    if list.is_empty() {
                        vals.remove(&v);
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
        if self.by_hash.capacity() > 4 * self.by_hash.len() + 64 {
            self.by_hash.shrink_to_fit();
        }
    }

    fn unhash(&mut self, id: u32, h: u32) {
        if self.by_hash.get(&h) == Some(&id) {
            match self.collisions.get_mut(&h) {
                Some(v) => {
                    let next = v.remove(0);
                    if v.is_empty() {
                        self.collisions.remove(&h);
                    }
                    self.by_hash.insert(h, next);
                }
                None => {
                    self.by_hash.remove(&h);
                }
            }
        } else if let Some(v) = self.collisions.get_mut(&h) {
            v.retain(|&x| x != id);
            if v.is_empty() {
                self.collisions.remove(&h);
            }
        }
    }
}

impl PostingsReader for Index {
    fn all_postings(&self) -> RoaringBitmap {
        self.all.clone()
    }

    fn for_each_postings(
        &self,
        name: &str,
        exact: Option<&[String]>,
        pred: &dyn Fn(&str) -> bool,
        f: &mut dyn FnMut(PostingsRef<'_>),
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
                        f(p.as_ref());
                    }
                }
            }
            None => {
                for (v, p) in vals {
                    if pred(self.syms.resolve(*v)) {
                        f(p.as_ref());
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

/// [`MemSeries`] flag: the series record is in the WAL.
const LOGGED: u16 = 0x8000;

/// [`MemSeries`] flag: the last sample appended was a staleness marker.
const LAST_STALE: u16 = 0x4000;

/// [`MemSeries`] flags: the count of appenders holding samples.
const PENDING: u16 = 0x3fff;

/// Labels a head series may have (their encoding then fits 16 bits).
pub(crate) const MAX_LABELS: usize = 6500;

/// [`SeriesTable::marks`] is pruned from this size on.
const MIN_PRUNE: usize = 1024;

/// Series slots per page of a [`SeriesTable`].
const PAGE_SHIFT: u32 = 8;
const PAGE_LEN: usize = 1 << PAGE_SHIFT;

/// One stripe's series, indexed directly by id: stripe `s` holds the ids
/// `s, s + STRIPES, …`, in pages of [`PAGE_LEN`] slots. Ids are assigned
/// sequentially and never reused, so pages fill densely and a page whose
/// series are all gone is freed.
pub(crate) struct SeriesTable {
    stripe: u64,
    pages: Vec<Option<Box<[Option<MemSeries>]>>>,
    /// Series per page.
    live: Vec<u16>,
    len: usize,
    /// Encoded labels of the stripe's series back to back (exact sizes,
    /// no allocation per series); bytes of removed series are garbage
    /// until a compaction when they are half of it.
    label_bytes: Vec<u8>,
    garbage: usize,
    /// Isolation: series id → the last commit that appended to it and the
    /// time of its first sample there, while that commit may be invisible
    /// to some reader (its sequence number is at or above the low
    /// watermark). A reader that does not see the commit hides the
    /// series' samples from that time on. Pruned as the watermark passes,
    /// so it holds the series of commits in flight, not every series.
    marks: IdMap<(u64, i64)>,
    /// The highest sequence number in `marks`.
    marks_max: u64,
    /// `marks` is pruned when it reaches this size.
    prune_at: usize,
    /// Earlier marks of a series still needed by some reader, ascending
    /// (rare: a reader that outlives several commits).
    older: IdMap<Vec<(u64, i64)>>,
}

impl SeriesTable {
    fn new(stripe: usize) -> Self {
        SeriesTable {
            stripe: stripe as u64,
            pages: Vec::new(),
            live: Vec::new(),
            len: 0,
            label_bytes: Vec::new(),
            garbage: 0,
            marks: IdMap::default(),
            marks_max: 0,
            prune_at: MIN_PRUNE,
            older: IdMap::default(),
        }
    }

    #[inline]
    fn slot(id: u64) -> (usize, usize) {
        let local = (id / STRIPES as u64) as usize;
        (local >> PAGE_SHIFT, local & (PAGE_LEN - 1))
    }

    #[inline]
    fn id_of(stripe: u64, page: usize, i: usize) -> u64 {
        (((page << PAGE_SHIFT) | i) as u64) * STRIPES as u64 + stripe
    }

    #[inline]
    pub fn get(&self, id: u64) -> Option<&MemSeries> {
        let (p, i) = Self::slot(id);
        self.pages.get(p)?.as_ref()?[i].as_ref()
    }

    #[inline]
    pub fn get_mut(&mut self, id: u64) -> Option<&mut MemSeries> {
        let (p, i) = Self::slot(id);
        self.pages.get_mut(p)?.as_mut()?[i].as_mut()
    }

    /// Records that commit `seq` appended to series `id` at `t`, keeping
    /// marks that readers older than `low` may still need.
    fn mark(&mut self, id: u64, seq: u64, t: i64, low: u64) {
        if !self.marks.is_empty() {
            if self.marks_max < low {
                // Every reader sees every marked commit. The capacity
                // follows the last round's size, so a burst of overlapping
                // commits (a start with many targets) does not stay allocated.
                let n = self.marks.len();
                self.marks.clear();
                self.marks.shrink_to(n.max(MIN_PRUNE));
                self.older = IdMap::default();
                self.prune_at = MIN_PRUNE;
            } else if self.marks.len() >= self.prune_at {
                self.marks.retain(|_, m| m.0 >= low);
                self.marks.shrink_to(2 * self.marks.len());
                self.older.retain(|_, o| {
                    o.retain(|m| m.0 >= low);
                    !o.is_empty()
                });
                self.prune_at = (2 * self.marks.len()).max(MIN_PRUNE);
            }
        }
        match self.marks.entry(id) {
            std::collections::hash_map::Entry::Occupied(mut e) => {
                let (ms, mt) = *e.get();
                if ms == seq {
                    return;
                }
                if ms >= low {
                    self.older.entry(id).or_default().push((ms, mt));
                }
                if !self.older.is_empty() {
                    if let Some(o) = self.older.get_mut(&id) {
                        o.retain(|m| m.0 >= low);
                        if o.is_empty() {
                            self.older.remove(&id);
                        }
                    }
                }
                e.insert((seq, t));
            }
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert((seq, t));
            }
        }
        self.marks_max = self.marks_max.max(seq);
    }

    /// The part of series `id` a reader with snapshot `snap` may see ends
    /// before this time.
    fn visible_until(&self, id: u64, snap: Option<&Snapshot>) -> i64 {
        let Some(sn) = snap else { return i64::MAX };
        // No mark here is newer than what the reader sees (the common case
        // for a query while no commit is in flight): no lookups per series.
        if self.marks.is_empty() || (sn.in_flight.is_empty() && self.marks_max <= sn.max_seq) {
            return i64::MAX;
        }
        if self.older.is_empty() {
            return match self.marks.get(&id) {
                Some(&(seq, t)) if !sn.visible(seq) => t,
                _ => i64::MAX,
            };
        }
        if let Some(older) = self.older.get(&id) {
            if let Some(&(_, t)) = older.iter().find(|(seq, _)| !sn.visible(*seq)) {
                return t;
            }
        }
        match self.marks.get(&id) {
            Some(&(seq, t)) if !sn.visible(seq) => t,
            _ => i64::MAX,
        }
    }

    /// The encoded label symbols of `s` (a series of this table).
    #[inline]
    pub fn syms(&self, s: &MemSeries) -> &[u8] {
        let off = s.lab_off as usize;
        self.label_bytes
            .get(off..off + s.lab_len as usize)
            .unwrap_or_default()
    }

    /// Stores series `id` with its encoded label symbols.
    pub fn insert(&mut self, id: u64, mut s: MemSeries, syms: &[u8]) {
        debug_assert_eq!(id % STRIPES as u64, self.stripe);
        let spare = self.label_bytes.capacity() - self.label_bytes.len();
        if spare < syms.len() {
            // Grow by an eighth: the arena is the only copy, slack is waste.
            let more = (self.label_bytes.len() / 8).max(syms.len()).max(1024);
            self.label_bytes.reserve_exact(more);
        }
        s.lab_off = u32::try_from(self.label_bytes.len())
            .expect("a stripe's label bytes stay below 4 GiB (256 GiB of labels in all)");
        // At most MAX_LABELS labels of at most 10 varint bytes each.
        s.lab_len = u16::try_from(syms.len()).unwrap_or(u16::MAX);
        self.label_bytes.extend_from_slice(syms);
        let (p, i) = Self::slot(id);
        if self.pages.len() <= p {
            self.pages.resize_with(p + 1, || None);
            self.live.resize(p + 1, 0);
        }
        let page = self.pages[p].get_or_insert_with(|| (0..PAGE_LEN).map(|_| None).collect());
        match page[i].replace(s) {
            None => {
                self.live[p] += 1;
                self.len += 1;
            }
            Some(old) => self.garbage += old.lab_len as usize,
        }
    }

    /// Removes series `id`; returns it with its encoded label symbols.
    pub fn remove(&mut self, id: u64) -> Option<(MemSeries, Box<[u8]>)> {
        let (p, i) = Self::slot(id);
        let s = self.pages.get_mut(p)?.as_mut()?[i].take()?;
        let syms: Box<[u8]> = self.syms(&s).into();
        self.garbage += syms.len();
        if self.garbage > 4096 && 2 * self.garbage > self.label_bytes.len() {
            self.compact_labels();
        }
        if !self.marks.is_empty() {
            self.marks.remove(&id);
            self.older.remove(&id);
        }
        self.live[p] -= 1;
        self.len -= 1;
        if self.live[p] == 0 {
            self.pages[p] = None;
        }
        Some((s, syms))
    }

    /// Rewrites the label arena without the bytes of removed series.
    fn compact_labels(&mut self) {
        let live = self.label_bytes.len() - self.garbage;
        let mut out = Vec::with_capacity(live + live / 8);
        let old = std::mem::take(&mut self.label_bytes);
        for pg in self.pages.iter_mut().flatten() {
            for s in pg.iter_mut().flatten() {
                let off = s.lab_off as usize;
                let b = old.get(off..off + s.lab_len as usize).unwrap_or_default();
                s.lab_off = out.len() as u32;
                out.extend_from_slice(b);
            }
        }
        self.label_bytes = out;
        self.garbage = 0;
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn iter(&self) -> impl Iterator<Item = (u64, &MemSeries)> {
        let stripe = self.stripe;
        self.pages
            .iter()
            .enumerate()
            .filter_map(|(p, pg)| pg.as_ref().map(|pg| (p, pg)))
            .flat_map(move |(p, pg)| {
                pg.iter()
                    .enumerate()
                    .filter_map(move |(i, s)| s.as_ref().map(|s| (Self::id_of(stripe, p, i), s)))
            })
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = (u64, &mut MemSeries)> {
        let stripe = self.stripe;
        self.pages
            .iter_mut()
            .enumerate()
            .filter_map(|(p, pg)| pg.as_mut().map(|pg| (p, pg)))
            .flat_map(move |(p, pg)| {
                pg.iter_mut()
                    .enumerate()
                    .filter_map(move |(i, s)| s.as_mut().map(|s| (Self::id_of(stripe, p, i), s)))
            })
    }

    pub fn values(&self) -> impl Iterator<Item = &MemSeries> {
        self.iter().map(|(_, s)| s)
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
    /// Where the series' labels are in its stripe's
    /// [`SeriesTable::label_bytes`]: (name, value) symbol ids, sorted by
    /// name string, varint-encoded ([`SeriesTable::syms`]).
    lab_off: u32,
    lab_len: u16,
    /// Appenders holding uncommitted samples for this series (low 14 bits;
    /// no GC while > 0), [`LOGGED`] (its series record is in the WAL) and
    /// [`LAST_STALE`].
    flags: u16,
    /// A boxed slice (not a `Vec`: 8 bytes less per series); rebuilt when
    /// a chunk is sealed, every 120 samples.
    pub sealed: Box<[HeadChunk]>,
    pub open: Option<XorChunk>,
    /// Timestamp of the last sample appended. Its value is not kept here
    /// (8 bytes, and 256 records of 80 bytes fill a 20 KiB allocator class
    /// exactly, where 88 took 24 KiB): it is the open chunk's last value,
    /// or a staleness marker when [`LAST_STALE`] is set.
    pub last_t: i64,
    // Isolation marks (which commit appended from when) are kept by the
    // stripe only while some reader may not see that commit: see
    // [`SeriesTable::mark`].
}

impl MemSeries {
    /// Appenders holding uncommitted samples for this series.
    pub fn pending(&self) -> u16 {
        self.flags & PENDING
    }

    /// One more appender holds samples (saturating: 16383 appenders of one
    /// series at once are not a real load).
    pub fn add_pending(&mut self) {
        if self.pending() < PENDING {
            self.flags += 1;
        }
    }

    pub fn sub_pending(&mut self) {
        if self.pending() > 0 {
            self.flags -= 1;
        }
    }

    /// Its series record is in the WAL.
    pub fn logged(&self) -> bool {
        self.flags & LOGGED != 0
    }

    pub fn set_logged(&mut self) {
        self.flags |= LOGGED;
    }

    fn new() -> Self {
        MemSeries {
            lab_off: 0,
            lab_len: 0,
            flags: 0,
            sealed: Box::default(),
            open: None,
            last_t: i64::MIN,
        }
    }

    /// A series whose record is already in the WAL (replay).
    fn new_logged() -> Self {
        MemSeries {
            flags: LOGGED,
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
            return match self.last_value_bits() {
                Some(last) if last != v.to_bits() => Err(AppendError::DuplicateTimestamp),
                // Same value; or its chunk is gone (truncated, or deleted
                // by the admin API): the sample is dropped either way.
                _ => Ok(false),
            };
        }
        Ok(true)
    }

    /// Bits of the last sample's value, while its chunk is open (not after
    /// a deletion took the newest samples).
    fn last_value_bits(&self) -> Option<u64> {
        let c = self
            .open
            .as_ref()
            .filter(|c| c.num_samples() > 0 && c.last_t() == self.last_t)?;
        Some(if self.flags & LAST_STALE != 0 {
            STALE_NAN_BITS
        } else {
            c.last_value_bits()
        })
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
                    let mut sealed = std::mem::take(&mut self.sealed).into_vec();
                    sealed.push(HeadChunk {
                        min_t,
                        max_t: self.last_t,
                        n,
                        packed: false,
                        data: data.into_boxed_slice(),
                    });
                    self.sealed = sealed.into_boxed_slice();
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
        if v.to_bits() == STALE_NAN_BITS {
            self.flags |= LAST_STALE;
        } else {
            self.flags &= !LAST_STALE;
        }
        Ok(delta)
    }

    /// Samples in `[mint, maxt]`, appended to `out`.
    /// Appends the samples in `[mint, maxt]` to `out`.
    pub fn samples(&self, mint: i64, maxt: i64, out: &mut Vec<Sample>) {
        for c in &self.sealed {
            if c.max_t < mint || c.min_t > maxt {
                continue;
            }
            if let Ok(s) = crate::colenc::decode(&c.data, c.n as usize) {
                out.extend(s.into_iter().filter(|p| p.t >= mint && p.t <= maxt));
            }
        }
        if let Some(c) = &self.open {
            if c.num_samples() > 0 && self.open_min_t() <= maxt && self.last_t >= mint {
                let _ = chunkenc::decode_window_into(c.bytes(), mint, maxt, out);
            }
        }
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
        let last_t = self.last_t;
        self.sealed = Box::default();
        self.open = None;
        self.last_t = i64::MIN;
        for s in keep {
            let _ = self.append(s.t, s.v, chunk_range);
        }
        // The series keeps its append position: deleting samples does not
        // reopen old time for appends.
        self.last_t = last_t;
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

fn check_label_count(l: &Labels) -> Result<(), TsdbError> {
    if l.len() > MAX_LABELS {
        return Err(TsdbError::Invalid(format!(
            "a series with {} labels: the head takes at most {MAX_LABELS}",
            l.len()
        )));
    }
    Ok(())
}

/// Selects of at least this many series are split over the cores.
const PARALLEL_SELECT_MIN: usize = 8192;

/// Selects of at least this many series rank their symbols in a dense
/// array indexed by symbol id (one slot per interned symbol), smaller ones
/// in a hash map.
const DENSE_RANK_MIN: usize = 4096;

/// Where [`Head::label_order`] keeps each symbol's rank: `u32::MAX` until
/// the symbol is seen, then its rank among the selection's symbols.
enum RankMap {
    Dense(Vec<u32>),
    Sparse(HashMap<u32, u32, std::hash::BuildHasherDefault<IdHasher>>),
}

impl RankMap {
    /// Marks `x` seen; true the first time.
    #[inline]
    fn see(&mut self, x: u32) -> bool {
        match self {
            RankMap::Dense(v) => {
                // Sized to the interner under the index lock: every id fits.
                let r = &mut v[x as usize];
                let first = *r == u32::MAX;
                *r = 0;
                first
            }
            RankMap::Sparse(m) => m.insert(x, 0).is_none(),
        }
    }

    #[inline]
    fn set(&mut self, x: u32, r: u32) {
        match self {
            RankMap::Dense(v) => v[x as usize] = r,
            RankMap::Sparse(m) => {
                m.insert(x, r);
            }
        }
    }

    #[inline]
    fn get(&self, x: u32) -> u32 {
        match self {
            RankMap::Dense(v) => v[x as usize],
            RankMap::Sparse(m) => m[&x],
        }
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
            stripes: (0..STRIPES).map(|i| Mutex::new(SeriesTable::new(i))).collect(),
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

    /// The series with labels `l` (hash `hash`), if any.
    fn lookup(&self, ix: &Index, hash: u64, l: &Labels) -> Option<u64> {
        let h = hash as u32;
        let first = *ix.by_hash.get(&h)?;
        if self.has_labels(ix, first, l) {
            return Some(u64::from(first));
        }
        ix.collisions
            .get(&h)?
            .iter()
            .copied()
            .find(|&id| self.has_labels(ix, id, l))
            .map(u64::from)
    }

    fn has_labels(&self, ix: &Index, id: u32, l: &Labels) -> bool {
        let id = u64::from(id);
        let st = self.stripe(id).lock();
        st.get(id).is_some_and(|s| ix.equal(st.syms(s), l))
    }

    /// Labels of series `id` (the caller holds the index lock: lock order
    /// is index, then stripe).
    pub fn labels(&self, ix: &Index, id: u64) -> Option<Labels> {
        let st = self.stripe(id).lock();
        st.get(id).map(|s| ix.labels_of(st.syms(s)))
    }

    /// The next fresh id, or an error once all 32-bit ids are used: ids
    /// are never reused (scrape caches hold them), so the head refuses new
    /// series rather than wrap.
    fn next_fresh_id(&self) -> Result<u64, TsdbError> {
        let id = self.next_id.load(Ordering::Relaxed);
        if id > MAX_SERIES_ID {
            return Err(TsdbError::SeriesIdsExhausted);
        }
        self.next_id.store(id + 1, Ordering::Relaxed);
        Ok(id)
    }

    /// Indexes and stores a new series (the caller holds the index write lock).
    fn create(&self, ix: &mut Index, id: u64, hash: u64, l: &Labels, logged: bool) {
        debug_assert!(id <= MAX_SERIES_ID);
        let syms = ix.insert(id as u32, hash, l);
        let s = if logged {
            MemSeries::new_logged()
        } else {
            MemSeries::new()
        };
        self.stripe(id).lock().insert(id, s, &syms);
    }

    /// The series id for `l`, creating the series if needed; `true` when created.
    pub fn get_or_create(&self, l: &Labels) -> Result<(u64, bool), TsdbError> {
        check_label_count(l)?;
        let hash = l.stable_hash();
        if let Some(id) = self.lookup(&self.index.read(), hash, l) {
            return Ok((id, false));
        }
        let mut ix = self.index.write();
        if let Some(id) = self.lookup(&ix, hash, l) {
            return Ok((id, false));
        }
        let id = self.next_fresh_id()?;
        self.create(&mut ix, id, hash, l, false);
        Ok((id, true))
    }

    /// Replay: creates the series with a given id. Returns the id to use
    /// (an existing series' id when the labels are already known).
    pub fn create_with_id(&self, id: u64, l: &Labels) -> Result<u64, TsdbError> {
        check_label_count(l)?;
        let hash = l.stable_hash();
        let mut ix = self.index.write();
        if let Some(existing) = self.lookup(&ix, hash, l) {
            return Ok(existing);
        }
        if id == 0 || id > MAX_SERIES_ID || ix.all.contains(id as u32) {
            // Same id, different labels (a corrupt or foreign WAL), or an
            // id from a store with 64-bit ids: use a fresh id.
            let nid = self.next_fresh_id()?;
            self.create(&mut ix, nid, hash, l, true);
            return Ok(nid);
        }
        self.create(&mut ix, id, hash, l, true);
        self.next_id.fetch_max(id + 1, Ordering::Relaxed);
        Ok(id)
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
        let Some(s) = st.get_mut(id) else {
            return Err(AppendError::OutOfBounds);
        };
        let d = s.append(t, v, self.chunk_range)?;
        if seq != 0 {
            st.mark(id, seq, t, self.low_watermark.load(Ordering::Relaxed));
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
        self.index.read().num_series() as usize
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

    /// Matching series with samples in `[mint, maxt]`, sorted by labels
    /// (the engine sums in label order).
    pub fn select(
        &self,
        matchers: &[bongsu_model::Matcher],
        mint: i64,
        maxt: i64,
        with_samples: bool,
    ) -> Vec<(Labels, Vec<Sample>)> {
        let snap = self.snapshot();
        let ids = {
            let ix = self.index.read();
            let ids = crate::postings::select(&*ix, matchers);
            self.label_order(&ix, &ids, ids.len() >= DENSE_RANK_MIN)
        };
        // Many series: labels and samples split over the cores, each part a
        // run of the sorted ids, the parts joined in order.
        let threads = if ids.len() >= PARALLEL_SELECT_MIN {
            std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1).clamp(1, 4)
        } else {
            1
        };
        let out = if threads > 1 {
            let part = ids.len().div_ceil(threads);
            let snap = &snap;
            let parts: Vec<Vec<(Labels, Vec<Sample>)>> = std::thread::scope(|sc| {
                let handles: Vec<_> = ids
                    .chunks(part)
                    .map(|c| sc.spawn(move || self.select_part(c, mint, maxt, with_samples, snap)))
                    .collect();
                // A worker cannot panic short of a bug; its part is then empty.
                handles.into_iter().map(|h| h.join().unwrap_or_default()).collect()
            });
            let mut out = Vec::with_capacity(parts.iter().map(Vec::len).sum());
            for p in parts {
                out.extend(p);
            }
            out
        } else {
            self.select_part(&ids, mint, maxt, with_samples, &snap)
        };
        self.end_read(snap);
        out
    }

    /// `ids` in the order of their series' labels (ids of series gone are
    /// dropped), without building the labels: each series' symbol ids are
    /// replaced by their rank among the selection's symbols in string
    /// order, and the series compared by those ranks, name, value, name, …
    /// — the order of `Labels`. Ranks live in an array indexed by symbol id
    /// when `dense`, else in a hash map.
    fn label_order(&self, ix: &Index, ids: &[u64], dense: bool) -> Vec<u64> {
        let mut rank = if dense {
            RankMap::Dense(vec![u32::MAX; ix.syms.strs.len()])
        } else {
            RankMap::Sparse(HashMap::default())
        };
        let mut distinct: Vec<u32> = Vec::new();
        // Every series' symbols, one run per series: (id, start, end).
        let mut flat: Vec<u32> = Vec::with_capacity(ids.len() * 16);
        let mut runs: Vec<(u64, usize, usize)> = Vec::with_capacity(ids.len());
        for &id in ids {
            let st = self.stripe(id).lock();
            let Some(s) = st.get(id) else { continue };
            let start = flat.len();
            for (n, v) in sym_pairs(st.syms(s)) {
                for x in [n, v] {
                    if rank.see(x) {
                        distinct.push(x);
                    }
                    flat.push(x);
                }
            }
            runs.push((id, start, flat.len()));
        }
        distinct.sort_unstable_by(|&a, &b| ix.syms.resolve(a).cmp(ix.syms.resolve(b)));
        for (r, &x) in distinct.iter().enumerate() {
            rank.set(x, r as u32);
        }
        for x in &mut flat {
            *x = rank.get(*x);
        }
        runs.sort_unstable_by(|a, b| flat[a.1..a.2].cmp(&flat[b.1..b.2]));
        runs.into_iter().map(|r| r.0).collect()
    }

    /// The series `ids` with their samples in `[mint, maxt]`, in the order
    /// of `ids`.
    fn select_part(
        &self,
        ids: &[u64],
        mint: i64,
        maxt: i64,
        with_samples: bool,
        snap: &Snapshot,
    ) -> Vec<(Labels, Vec<Sample>)> {
        let ids: Vec<(u64, Labels)> = {
            let ix = self.index.read();
            ids.iter()
                .filter_map(|&id| self.labels(&ix, id).map(|l| (id, l)))
                .collect()
        };
        let mut out = Vec::with_capacity(ids.len());
        for (id, l) in ids {
            let st = self.stripe(id).lock();
            let Some(s) = st.get(id) else { continue };
            let maxt = maxt.min(st.visible_until(id, Some(snap)).saturating_sub(1));
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
        out
    }

    /// Ids of series matching, for deletion.
    pub fn select_ids(&self, matchers: &[bongsu_model::Matcher]) -> Vec<u64> {
        crate::postings::select(&*self.index.read(), matchers)
    }

    /// Physically deletes samples in `[mint, maxt]` of series `id`.
    pub fn delete_range(&self, id: u64, mint: i64, maxt: i64) {
        let mut st = self.stripe(id).lock();
        let Some(s) = st.get_mut(id) else { return };
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
                if s.sealed.iter().any(|c| c.max_t < before) {
                    let mut sealed = std::mem::take(&mut s.sealed).into_vec();
                    sealed.retain(|c| c.max_t >= before);
                    s.sealed = sealed.into_boxed_slice();
                }
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
                        if s.pending() == 0 {
                            empty.push(id);
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
                if st.get(id).is_some_and(|s| s.is_empty() && s.pending() == 0) {
                    if let Some((s, syms)) = st.remove(id) {
                        self.num_chunks
                            .fetch_sub(s.num_chunks() as i64, Ordering::Relaxed);
                        gone.push((id as u32, syms));
                    }
                }
            }
            removed = gone.len() as u64;
            ix.remove_many(&gone);
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
                .map(|(id, _)| id)
                .collect();
            for id in ids {
                let mut st = stripe.lock();
                let Some(s) = st.get_mut(id) else { continue };
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

    /// Every series id, in the order of the series' labels, without
    /// building every series' labels at once (owned labels of 1M series
    /// took ~1 GB during a head → block write, against ~360 MB of steady
    /// state): each series' encoded symbol ids (~25 bytes) are copied and
    /// compared through the rank of each symbol's string, which orders
    /// them exactly as `Labels`' own ordering would.
    pub fn sorted_ids(&self) -> Vec<u64> {
        let ix = self.index.read();
        let rank = ix.syms.ranks();
        let mut syms: Vec<u8> = Vec::new();
        // (id, length, offset into `syms`); head ids fit 32 bits.
        let mut entries: Vec<(u32, u32, usize)> = Vec::with_capacity(ix.num_series() as usize);
        for stripe in self.stripes.iter() {
            let st = stripe.lock();
            for (id, s) in st.iter() {
                let b = st.syms(s);
                entries.push((id as u32, b.len() as u32, syms.len()));
                syms.extend_from_slice(b);
            }
        }
        drop(ix);
        let key = |e: &(u32, u32, usize)| {
            sym_pairs(&syms[e.2..e.2 + e.1 as usize]).map(|(n, v)| (rank[n as usize], rank[v as usize]))
        };
        entries.sort_unstable_by(|a, b| key(a).cmp(key(b)));
        entries.into_iter().map(|e| e.0 as u64).collect()
    }

    /// The labels of series `id`, if it exists.
    pub fn series_labels(&self, id: u64) -> Option<Labels> {
        let ix = self.index.read();
        let st = self.stripe(id).lock();
        st.get(id).map(|s| ix.labels_of(st.syms(s)))
    }

    pub fn series_samples(&self, id: u64, mint: i64, maxt: i64) -> Vec<Sample> {
        let mut v = Vec::new();
        if let Some(s) = self.stripe(id).lock().get(id) {
            s.samples(mint, maxt, &mut v);
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bongsu_model::Matcher;

    impl Head {
        fn create_hashed(&self, id: u64, hash: u64, l: &Labels) {
            self.create(&mut self.index.write(), id, hash, l, false);
        }
        fn lookup_hashed(&self, hash: u64, l: &Labels) -> Option<u64> {
            self.lookup(&self.index.read(), hash, l)
        }
        fn remove_hashed(&self, id: u64, hash: u64) {
            let mut ix = self.index.write();
            if let Some((_, syms)) = self.stripe(id).lock().remove(id) {
                ix.remove_many_hashed(&[(id as u32, syms)], Some(hash));
            }
        }
    }

    #[test]
    fn hash_collisions_are_resolved_by_labels() {
        let h = Head::new(7_200_000);
        let (a, b, c) = (
            Labels::from_pairs([("a", "1")]),
            Labels::from_pairs([("a", "2")]),
            Labels::from_pairs([("a", "3")]),
        );
        h.create_hashed(1, 42, &a);
        h.create_hashed(2, 42, &b);
        // same low 32 bits, different high bits: still a collision
        h.create_hashed(3, 42 | (7 << 40), &c);
        assert_eq!(
            (
                h.lookup_hashed(42, &a),
                h.lookup_hashed(42, &b),
                h.lookup_hashed(42, &c)
            ),
            (Some(1), Some(2), Some(3))
        );
        h.remove_hashed(1, 42);
        assert_eq!(
            (
                h.lookup_hashed(42, &a),
                h.lookup_hashed(42, &b),
                h.lookup_hashed(42, &c)
            ),
            (None, Some(2), Some(3))
        );
        h.remove_hashed(3, 42);
        assert_eq!(h.lookup_hashed(42, &b), Some(2));
        h.remove_hashed(2, 42);
        let ix = h.index.read();
        assert!(
            ix.by_hash.is_empty()
                && ix.collisions.is_empty()
                && ix.syms.len() == 0
                && ix.postings.is_empty()
                && ix.num_series() == 0
        );
    }

    #[test]
    fn symbol_varints_round_trip() {
        let syms = [0u32, 1, 127, 128, 16_383, 16_384, 1 << 21, u32::MAX];
        let enc = encode_syms(&syms);
        assert_eq!(enc.len(), 1 + 1 + 1 + 2 + 2 + 3 + 4 + 5);
        let back: Vec<u32> = sym_pairs(&enc).flat_map(|(n, v)| [n, v]).collect();
        assert_eq!(back, syms);
    }

    #[test]
    fn pending_logged_and_last_stale_share_a_word() {
        let mut s = MemSeries::new_logged();
        assert!(s.logged() && s.pending() == 0);
        for _ in 0..40_000 {
            s.add_pending();
        }
        assert_eq!(s.pending(), PENDING, "saturates");
        assert!(s.logged());
        s.append(1000, f64::from_bits(STALE_NAN_BITS), 7_200_000).unwrap();
        assert!(s.logged() && s.pending() == PENDING && s.flags & LAST_STALE != 0);
        for _ in 0..40_000 {
            s.sub_pending();
        }
        assert_eq!(s.pending(), 0);
        let mut n = MemSeries::new();
        n.add_pending();
        n.set_logged();
        assert!(n.logged() && n.pending() == 1);
        let huge = Labels::from_pairs((0..MAX_LABELS + 1).map(|i| (format!("l{i}"), "v".to_string())));
        let h = Head::new(7_200_000);
        assert!(matches!(h.get_or_create(&huge), Err(TsdbError::Invalid(_))));
        assert_eq!(h.num_series(), 0);
    }

    #[test]
    fn series_ids_stop_at_32_bits() {
        let h = Head::new(7_200_000);
        h.next_id.store(MAX_SERIES_ID, Ordering::Relaxed);
        let a = Labels::from_pairs([("a", "1")]);
        let b = Labels::from_pairs([("a", "2")]);
        assert_eq!(h.get_or_create(&a).unwrap(), (MAX_SERIES_ID, true));
        assert!(matches!(
            h.get_or_create(&b),
            Err(TsdbError::SeriesIdsExhausted)
        ));
        // known series still resolve and take samples
        assert_eq!(h.get_or_create(&a).unwrap(), (MAX_SERIES_ID, false));
        h.apply(MAX_SERIES_ID, 1000, 1.0, 0).unwrap();
        let r = h.select(&[Matcher::equal("a", "1")], 0, i64::MAX, true);
        assert_eq!(r.len(), 1);
        // replay of a 64-bit id gets no fresh id either
        assert!(h.create_with_id(1 << 40, &b).is_err());
        assert_eq!(h.num_series(), 1);
    }

    #[test]
    fn replayed_ids_above_32_bits_are_renumbered() {
        let h = Head::new(7_200_000);
        let a = Labels::from_pairs([("a", "1")]);
        let b = Labels::from_pairs([("a", "2")]);
        assert_eq!(h.create_with_id(5, &a).unwrap(), 5);
        let nb = h.create_with_id(1 << 40, &b).unwrap();
        assert_eq!(nb, 6);
        assert_eq!(h.create_with_id(9, &a).unwrap(), 5, "known labels keep their id");
        assert_eq!(h.labels(&h.index.read(), nb), Some(b));
    }

    #[test]
    fn a_reader_keeps_older_commit_marks_out_of_line() {
        let h = Head::new(7_200_000);
        let a = Labels::from_pairs([("a", "1")]);
        let (ia, _) = h.get_or_create(&a).unwrap();
        h.apply(ia, 1000, 1.0, 0).unwrap();
        let s1 = h.begin_commit();
        let snap = h.snapshot(); // does not see s1
        h.apply(ia, 2000, 2.0, s1).unwrap();
        h.end_commit(s1);
        let s2 = h.begin_commit();
        h.apply(ia, 3000, 3.0, s2).unwrap();
        h.end_commit(s2);
        assert_eq!(h.stripe(ia).lock().visible_until(ia, Some(&snap)), 2000);
        h.end_read(snap);
        let r = h.select(&[Matcher::equal("a", "1")], 0, i64::MAX, true);
        assert_eq!(r[0].1.len(), 3);
        let s3 = h.begin_commit();
        h.apply(ia, 4000, 4.0, s3).unwrap();
        h.end_commit(s3);
        {
            let st = h.stripe(ia).lock();
            assert!(st.older.is_empty(), "no reader needs them now");
            assert_eq!(st.marks.len(), 1, "only the mark of the commit just ended");
        }
        // marks of many series are pruned as the watermark passes
        let ids: Vec<u64> = (0..5000)
            .map(|i| {
                let l = Labels::from_pairs([("b", i.to_string())]);
                h.get_or_create(&l).unwrap().0
            })
            .collect();
        for round in 0..4 {
            let seq = h.begin_commit();
            for &id in &ids {
                h.apply(id, 10_000 + round, 1.0, seq).unwrap();
            }
            h.end_commit(seq);
        }
        let held: usize = h.stripes.iter().map(|s| s.lock().marks.len()).sum();
        assert!(held <= ids.len() + STRIPES, "{held}");
    }

    #[test]
    fn series_table_pages_under_churn() {
        let mut t = SeriesTable::new(3);
        let mut live = std::collections::BTreeSet::new();
        let mut next = 3u64;
        for round in 0..20u64 {
            for _ in 0..1000 {
                t.insert(next, MemSeries::new(), &encode_syms(&[next as u32, 7]));
                live.insert(next);
                next += STRIPES as u64;
            }
            // drop the oldest ids, and every third of the rest of this round's
            let old: Vec<u64> = live.iter().copied().take(700).collect();
            for id in old {
                assert!(t.remove(id).is_some());
                live.remove(&id);
            }
            if round % 3 == 0 {
                let some: Vec<u64> = live.iter().copied().step_by(3).collect();
                for id in some {
                    t.remove(id);
                    live.remove(&id);
                }
            }
            assert!(t.remove(1 + STRIPES as u64 * 1_000_000).is_none());
            assert_eq!(t.len(), live.len());
            let ids: Vec<u64> = t.iter().map(|(id, _)| id).collect();
            assert_eq!(ids, live.iter().copied().collect::<Vec<_>>());
            assert!(live.iter().all(|&id| t.get(id).is_some()));
            // labels survive the arena's compactions
            assert!(live.iter().all(|&id| {
                let s = t.get(id).unwrap();
                sym_pairs(t.syms(s)).collect::<Vec<_>>() == vec![(id as u32, 7)]
            }));
        }
        // pages of gone series are freed: only pages that hold live ids remain
        let pages = t.pages.iter().filter(|p| p.is_some()).count();
        let needed: std::collections::BTreeSet<usize> =
            live.iter().map(|&id| SeriesTable::slot(id).0).collect();
        assert_eq!(pages, needed.len());
        for id in live.clone() {
            t.remove(id);
        }
        assert!(t.pages.iter().all(|p| p.is_none()) && t.len() == 0);
        assert!(t.label_bytes.len() <= 4096 + 64, "compacted: {}", t.label_bytes.len());
    }

    #[test]
    fn sorted_ids_follow_label_order() {
        use rand::{Rng, SeedableRng};
        let h = Head::new(7_200_000);
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let vals = ["", "a", "ab", "b", "b\u{0}", "z", "é", "10", "9"];
        let names = ["__name__", "a", "instance", "job", "zz"];
        let mut want = Vec::new();
        for _ in 0..2000 {
            let n = rng.gen_range(1..=names.len());
            let mut pairs: Vec<(String, String)> = Vec::new();
            for k in &names[..n] {
                if rng.gen_bool(0.8) {
                    pairs.push((k.to_string(), vals[rng.gen_range(1..vals.len())].to_string()));
                }
            }
            if pairs.is_empty() {
                continue;
            }
            let l = Labels::from_pairs(pairs);
            let (id, created) = h.get_or_create(&l).unwrap();
            if created {
                want.push((l, id));
            }
        }
        want.sort();
        let labels_of = |ids: Vec<u64>| ids.into_iter().map(|id| h.series_labels(id).unwrap()).collect::<Vec<_>>();
        let want_labels: Vec<Labels> = want.iter().map(|(l, _)| l.clone()).collect();
        assert_eq!(labels_of(h.sorted_ids()), want_labels);
        // A select's order: every other series, given in reverse id order,
        // ranked through the array and through the map.
        let some: Vec<(Labels, u64)> = want.iter().step_by(2).cloned().collect();
        let mut ids: Vec<u64> = some.iter().map(|(_, id)| *id).collect();
        ids.sort_unstable_by(|a, b| b.cmp(a));
        let some_labels: Vec<Labels> = some.into_iter().map(|(l, _)| l).collect();
        for dense in [true, false] {
            let got = labels_of(h.label_order(&h.index.read(), &ids, dense));
            assert_eq!(got, some_labels, "dense: {dense}");
        }
    }

    #[test]
    fn duplicate_check_knows_staleness_markers_and_the_record_stays_80_bytes() {
        // 256 records fill mimalloc's 20 KiB class exactly (88 took 24 KiB).
        assert_eq!(std::mem::size_of::<Option<MemSeries>>(), 80);
        let stale = f64::from_bits(STALE_NAN_BITS);
        let mut s = MemSeries::new();
        s.append(1000, 5.0, 7_200_000).unwrap();
        s.append(2000, stale, 7_200_000).unwrap();
        assert_eq!(s.check(2000, stale), Ok(false));
        assert_eq!(s.check(2000, 5.0), Err(AppendError::DuplicateTimestamp));
        s.append(3000, 6.0, 7_200_000).unwrap();
        assert_eq!(s.check(3000, 6.0), Ok(false));
        assert_eq!(s.check(3000, stale), Err(AppendError::DuplicateTimestamp));
        assert_eq!(s.check(3000, 5.0), Err(AppendError::DuplicateTimestamp));
        // a new chunk whose first sample is a marker
        for t in 4..=200 {
            s.append(t * 1000, t as f64, 7_200_000).unwrap();
        }
        s.append(201_000, stale, 7_200_000).unwrap();
        assert_eq!(s.check(201_000, stale), Ok(false));
        assert_eq!(s.check(201_000, 200.0), Err(AppendError::DuplicateTimestamp));
        // after a deletion took the newest samples, the position stays
        s.rebuild(&[Sample { t: 1000, v: 5.0 }], 7_200_000);
        assert_eq!(s.check(200_000, 1.0), Err(AppendError::OutOfOrder));
        assert_eq!(s.check(201_000, 1.0), Ok(false));
        assert_eq!(s.check(202_000, 1.0), Ok(true));
    }

    #[test]
    fn append_and_select() {
        let h = Head::new(7_200_000);
        let a = Labels::from_pairs([("__name__", "up"), ("job", "a")]);
        let b = Labels::from_pairs([("__name__", "up"), ("job", "b")]);
        let (ia, _) = h.get_or_create(&a).unwrap();
        let (ib, _) = h.get_or_create(&b).unwrap();
        assert_eq!(h.get_or_create(&a).unwrap().0, ia);
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
/// Memory of a head with `BONGSU_MEM_SERIES` (default 1M) series shaped
/// like the benchmark's (units of 100 node_exporter-like series sharing
/// node/region/az/env, 20 targets whose first scrapes interleave):
/// `cargo test --release -p bongsu-tsdb head_memory -- --ignored --nocapture`.
#[cfg(test)]
#[test]
#[ignore]
fn head_memory_breakdown() {
    fn rss() -> usize {
        let s = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
        let pages: usize = s.split(' ').nth(1).and_then(|x| x.parse().ok()).unwrap_or(0);
        pages * 4096
    }
    let n: usize = std::env::var("BONGSU_MEM_SERIES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let targets = 20;
    let per_target = n / targets;
    let unit = |t: usize, u: usize, k: usize| -> Labels {
        let g = t * 1000 + u;
        let regions = ["eu-west-1", "eu-central-1", "us-east-1", "ap-northeast-2"];
        let region = regions[g % 4];
        let az = format!("{region}{}", ["a", "b", "c"][(g / 4) % 3]);
        let mut l: Vec<(String, String)> = vec![
            ("instance".into(), format!("127.0.0.1:{}", 19300 + t)),
            ("job".into(), "bench".into()),
            ("node".into(), format!("host-{t:03}-{u:05}")),
            ("region".into(), region.into()),
            ("az".into(), az),
            ("env".into(), ["prod", "prod", "prod", "staging"][(g / 7) % 4].into()),
        ];
        let (name, extra): (&str, Vec<(&str, String)>) = match k {
            0..=31 => (
                "node_cpu_seconds_total",
                vec![("cpu", (k / 8).to_string()), ("mode", format!("m{}", k % 8))],
            ),
            32..=60 => ("node_misc", vec![("device", format!("d{}", k % 3)), ("kind", k.to_string())]),
            _ => (
                "http_request_duration_seconds_bucket",
                vec![("handler", format!("/h{}", k % 3)), ("le", (k % 13).to_string())],
            ),
        };
        l.push(("__name__".into(), name.into()));
        for (a, b) in extra {
            l.push((a.into(), b));
        }
        l.sort();
        Labels::from_pairs(l.iter().map(|(a, b)| (a.as_str(), b.as_str())))
    };
    let r0 = rss();
    let h = Head::new(7_200_000);
    // interleave targets in batches of 500 series, as concurrent first scrapes do
    for batch in 0..per_target.div_ceil(500) {
        for t in 0..targets {
            for i in batch * 500..((batch + 1) * 500).min(per_target) {
                let (id, _) = h.get_or_create(&unit(t, i / 100, i % 100)).unwrap();
                h.apply(id, 1000, 1.0, 0).unwrap();
            }
        }
    }
    let r1 = rss();
    let ix = h.index.read();
    let mut list_bytes = 0usize;
    let mut bitmap_bytes = 0usize;
    let (mut lists, mut bitmaps) = (0, 0);
    for vals in ix.postings.values() {
        for p in vals.values() {
            match p {
                Postings::List(v) => {
                    lists += 1;
                    list_bytes += v.capacity() * 4 + 24;
                }
                Postings::Bitmap(b) => {
                    bitmaps += 1;
                    bitmap_bytes += b.serialized_size() + 24;
                }
            }
        }
    }
    let mut label_bytes = 0usize;
    let mut open_bytes = 0usize;
    let mut pages = 0usize;
    for st in h.stripes.iter() {
        let st = st.lock();
        pages += st.pages.iter().filter(|p| p.is_some()).count();
        for (_, s) in st.iter() {
            label_bytes += st.syms(s).len();
            open_bytes += s.open.as_ref().map_or(0, |c| c.bytes().len());
        }
    }
    let per = |b: usize| b as f64 / n as f64;
    eprintln!(
        "series {n}: rss {:.0} B/series; pages {:.0} (MemSeries {} B); labels {:.1} (len); open chunk len {:.1}; by_hash {:.1} (cap {}); postings: {lists} lists {:.1}, {bitmaps} bitmaps {:.1}; syms {}",
        per(r1 - r0),
        per(pages * PAGE_LEN * std::mem::size_of::<Option<MemSeries>>()),
        std::mem::size_of::<MemSeries>(),
        per(label_bytes),
        per(open_bytes),
        per(ix.by_hash.capacity() * 9),
        ix.by_hash.capacity(),
        per(list_bytes),
        per(bitmap_bytes),
        ix.syms.bytes(),
    );
}

#[cfg(test)]
#[test]
fn print_sizes() {
    eprintln!(
        "MemSeries {} XorChunk {} Postings {}",
        std::mem::size_of::<MemSeries>(),
        std::mem::size_of::<XorChunk>(),
        std::mem::size_of::<Postings>()
    );
}
