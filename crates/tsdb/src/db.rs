//! [`Db`]: head + WAL + blocks behind the storage seams.

use crate::block::{Block, BlockMeta, BlockWriter};
use crate::head::Head;
use crate::postings::PostingsReader;
use crate::wal::{self, Record, Wal};
use crate::{HeadStats, Options, Stats, TsdbError, TsdbStatus, DEFAULT_RETENTION_MS};
use bongsu_model::storage::{
    AppendError, Appendable, Appender, Queryable, SelectHints, Series, SeriesRef, StorageError,
};
use bongsu_model::{Labels, Matcher, Sample};
use parking_lot::{Mutex, RwLock};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs::{self, File};
use std::io::Write;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

#[derive(Default)]
struct Counters {
    samples_appended: AtomicU64,
    out_of_order: AtomicU64,
    duplicate: AtomicU64,
    out_of_bounds: AtomicU64,
    series_created: AtomicU64,
    series_removed: AtomicU64,
    head_truncations: AtomicU64,
    wal_corruptions: AtomicU64,
    wal_truncations: AtomicU64,
    checkpoints: AtomicU64,
    compactions: AtomicU64,
    compactions_failed: AtomicU64,
    time_retentions: AtomicU64,
    size_retentions: AtomicU64,
    tombstone_cleanups: AtomicU64,
    active_appenders: AtomicU64,
    head_chunk_bytes: AtomicU64,
}

pub(crate) struct Inner {
    opts: Options,
    dir: PathBuf,
    head: Head,
    wal: Wal,
    /// Commits hold it shared across "WAL write + head apply"; WAL rotation
    /// for a checkpoint and head bound changes take it exclusively.
    gate: RwLock<()>,
    blocks: RwLock<Vec<Arc<Block>>>,
    maint: Mutex<()>,
    c: Counters,
    closed: AtomicBool,
    _lock: File,
}

/// The time-series store. `Send + Sync`; share it as `Arc<Db>`.
pub struct Db {
    inner: Arc<Inner>,
}

fn lock_dir(dir: &Path) -> Result<File, TsdbError> {
    let f = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir.join("lock"))?;
    if !try_flock(&f) {
        return Err(TsdbError::Locked(dir.to_path_buf()));
    }
    Ok(f)
}

/// An exclusive advisory lock held for the life of `f` (released by the
/// kernel when the process dies, unlike a pid file). `File::try_lock` needs
/// Rust 1.89, above our MSRV, hence the one `unsafe` call of the crate.
#[allow(unsafe_code)]
fn try_flock(f: &File) -> bool {
    // SAFETY: flock(2) on a file descriptor owned by `f`, which outlives the call.
    unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) == 0 }
}

fn remove_block_dir(dir: &Path) {
    let del = dir.with_extension("tmp-for-deletion");
    if fs::rename(dir, &del).is_ok() {
        let _ = fs::remove_dir_all(&del);
    } else {
        let _ = fs::remove_dir_all(dir);
    }
}

impl Db {
    /// Opens (or creates) the store: loads blocks, replays the WAL.
    pub fn open(opts: Options) -> Result<Arc<Db>, TsdbError> {
        if opts.block_duration_ms <= 0 {
            return Err(TsdbError::Invalid(format!(
                "block duration must be positive, got {}ms",
                opts.block_duration_ms
            )));
        }
        let dir = opts.path.clone();
        fs::create_dir_all(&dir)?;
        let lock = lock_dir(&dir)?;
        let blocks = load_blocks(&dir)?;
        let head = Head::new(opts.block_duration_ms);
        let blocks_max = blocks
            .iter()
            .map(|b| b.meta.max_time)
            .max()
            .unwrap_or(i64::MIN);
        head.min_valid_t.store(blocks_max, Ordering::Relaxed);
        let c = Counters::default();
        let wal_dir = dir.join("wal");
        let (corrupt, next) = replay_wal(&head, &wal_dir, blocks_max)?;
        c.wal_corruptions.store(corrupt, Ordering::Relaxed);
        let wal = Wal::open(&wal_dir, next, wal::DEFAULT_SEGMENT_SIZE)?;
        let inner = Arc::new(Inner {
            opts: opts.clone(),
            dir,
            head,
            wal,
            gate: RwLock::new(()),
            blocks: RwLock::new(blocks),
            maint: Mutex::new(()),
            c,
            closed: AtomicBool::new(false),
            _lock: lock,
        });
        if let Some(d) = opts.wal_fsync_interval {
            if !d.is_zero() {
                let weak = Arc::downgrade(&inner);
                let step = d.min(Duration::from_millis(200));
                let _ = std::thread::Builder::new()
                    .name("tsdb-wal-fsync".into())
                    .spawn(move || {
                        let mut waited = Duration::ZERO;
                        loop {
                            std::thread::sleep(step);
                            waited += step;
                            let Some(i) = weak.upgrade() else { break };
                            if i.closed.load(Ordering::Relaxed) {
                                break;
                            }
                            if waited >= d {
                                waited = Duration::ZERO;
                                let _ = i.wal.sync();
                            }
                        }
                    });
            }
        }
        Ok(Arc::new(Db { inner }))
    }

    /// Flushes the WAL to disk. Later commits fail.
    pub fn close(&self) -> Result<(), TsdbError> {
        let _g = self.inner.gate.write();
        self.inner.closed.store(true, Ordering::SeqCst);
        self.inner.wal.sync_now()?;
        Ok(())
    }

    /// Head cut, WAL truncation, compaction, retention. Call about once a minute.
    pub fn maintenance(&self) -> Result<(), TsdbError> {
        let i = &*self.inner;
        let _m = i.maint.lock();
        i.head.pack_chunks();
        let bd = i.opts.block_duration_ms;
        let _measure = MeasureOnDrop(&i.head, &i.c.head_chunk_bytes);
        let mut cut = false;
        loop {
            let (hmin, hmax) = (
                i.head.min_t.load(Ordering::Relaxed),
                i.head.max_t.load(Ordering::Relaxed),
            );
            if hmin == i64::MAX || hmax == i64::MIN || hmax.saturating_sub(hmin) <= bd / 2 * 3 {
                break;
            }
            let mint = hmin.div_euclid(bd).saturating_mul(bd);
            let maxt = mint.saturating_add(bd);
            if maxt <= hmin {
                break; // timestamps at the end of the i64 range: nothing sensible to cut
            }
            self.cut_block(mint, maxt)?;
            cut = true;
        }
        // One checkpoint after all cuts: replay skips samples below the
        // newest block anyway, so a crash before it loses nothing.
        if cut {
            self.checkpoint()?;
        }
        if let Err(e) = self.compact() {
            i.c.compactions_failed.fetch_add(1, Ordering::Relaxed);
            return Err(e);
        }
        self.apply_retention();
        Ok(())
    }

    fn cut_block(&self, mint: i64, maxt: i64) -> Result<(), TsdbError> {
        let i = &*self.inner;
        {
            let _g = i.gate.write();
            i.head.min_valid_t.fetch_max(maxt, Ordering::Relaxed);
        }
        let mut w = BlockWriter::new(&i.dir)?;
        add_head_series(&i.head, &mut w, mint, maxt.saturating_sub(1))?;
        let (meta, path) = w.finish(Some((mint, maxt)), 1, Vec::new())?;
        if meta.stats.num_series > 0 {
            let b = Arc::new(Block::open(&path)?);
            let mut bl = i.blocks.write();
            bl.push(b);
            bl.sort_by_key(|b| b.meta.min_time);
        } else {
            remove_block_dir(&path);
        }
        let removed = i.head.truncate(maxt);
        i.c.series_removed.fetch_add(removed, Ordering::Relaxed);
        i.c.head_truncations.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    fn checkpoint(&self) -> Result<(), TsdbError> {
        let i = &*self.inner;
        let upto = {
            let _g = i.gate.write();
            i.wal.rotate()?
        };
        let head = &i.head;
        i.wal.checkpoint(upto, &mut |w: &mut dyn Write| {
            let ids: Vec<u64> = head.index.read().ids().collect();
            let mut buf = Vec::with_capacity(1 << 16);
            for batch in ids.chunks(1000) {
                buf.clear();
                {
                    let ix = head.index.read();
                    let ls: Vec<(u64, Labels)> = batch
                        .iter()
                        .filter_map(|&id| head.labels(&ix, id).map(|l| (id, l)))
                        .collect();
                    wal::encode_series(&mut buf, ls.iter().map(|(id, l)| (*id, l)));
                }
                for &id in batch {
                    let st = head.stripe(id).lock();
                    let Some(s) = st.get(id) else { continue };
                    for c in &s.sealed {
                        wal::encode_chunk(&mut buf, id, c.n as usize, &c.data);
                    }
                    if let Some(c) = &s.open {
                        if c.num_samples() > 0 {
                            let mut data = Vec::with_capacity(c.bytes().len() + 1);
                            data.push(1u8);
                            data.extend_from_slice(c.bytes());
                            wal::encode_chunk(&mut buf, id, c.num_samples(), &data);
                        }
                    }
                }
                w.write_all(&buf)?;
            }
            Ok(())
        })?;
        i.c.checkpoints.fetch_add(1, Ordering::Relaxed);
        i.c.wal_truncations.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    fn compaction_ranges(&self) -> Vec<i64> {
        let bd = self.inner.opts.block_duration_ms;
        let ret = self.retention_ms();
        let mut v = Vec::new();
        let mut r = bd.saturating_mul(3);
        for _ in 0..3 {
            if ret > 0 && r > (ret / 10).max(bd.saturating_mul(3)) {
                break;
            }
            v.push(r);
            r = r.saturating_mul(3);
        }
        v
    }

    fn retention_ms(&self) -> i64 {
        self.inner
            .opts
            .retention_time_ms
            .unwrap_or(DEFAULT_RETENTION_MS)
    }

    fn compact(&self) -> Result<(), TsdbError> {
        let i = &*self.inner;
        for _ in 0..16 {
            let blocks = i.blocks.read().clone();
            let head_min = i.head.min_t.load(Ordering::Relaxed);
            let mut plan: Option<Vec<Arc<Block>>> = None;
            'ranges: for r in self.compaction_ranges() {
                let mut windows: BTreeMap<i64, Vec<Arc<Block>>> = BTreeMap::new();
                for b in &blocks {
                    let w = b.meta.min_time.div_euclid(r);
                    if b.meta.max_time <= w.saturating_add(1).saturating_mul(r) {
                        windows.entry(w).or_default().push(b.clone());
                    }
                }
                for (w, group) in windows {
                    let end = w.saturating_add(1).saturating_mul(r);
                    if group.len() >= 2
                        && end <= head_min
                        && group
                            .iter()
                            .any(|b| b.meta.max_time.saturating_sub(b.meta.min_time) < r)
                    {
                        plan = Some(group);
                        break 'ranges;
                    }
                }
            }
            let Some(group) = plan else { return Ok(()) };
            self.merge_blocks(&group)?;
            i.c.compactions.fetch_add(1, Ordering::Relaxed);
        }
        Ok(())
    }

    /// Writes one block holding all samples of `group` and replaces them.
    fn merge_blocks(&self, group: &[Arc<Block>]) -> Result<(), TsdbError> {
        let i = &*self.inner;
        let mut w = BlockWriter::new(&i.dir)?;
        let mut cursors: Vec<(usize, Option<Labels>)> = group
            .iter()
            .map(|b| (0usize, (b.num_series() > 0).then(|| b.labels(0))))
            .collect();
        while let Some(min) = cursors.iter().filter_map(|c| c.1.clone()).min() {
            let mut samples: Vec<Sample> = Vec::new();
            let mut parts = 0;
            for (bi, cur) in cursors.iter_mut().enumerate() {
                if cur.1.as_ref() == Some(&min) {
                    samples.extend(group[bi].samples(cur.0, i64::MIN, i64::MAX)?);
                    parts += 1;
                    cur.0 += 1;
                    cur.1 = (cur.0 < group[bi].num_series()).then(|| group[bi].labels(cur.0));
                }
            }
            if parts > 1 {
                sort_dedup(&mut samples);
            }
            w.add_series(&min, &samples)?;
        }
        let mint = group.iter().map(|b| b.meta.min_time).min().unwrap_or(0);
        let maxt = group.iter().map(|b| b.meta.max_time).max().unwrap_or(0);
        let level = group
            .iter()
            .map(|b| b.meta.compaction.level)
            .max()
            .unwrap_or(1)
            + 1;
        let mut sources: Vec<String> = group
            .iter()
            .flat_map(|b| b.meta.compaction.sources.iter().cloned())
            .collect();
        sources.sort();
        sources.dedup();
        let (_meta, path) = w.finish(Some((mint, maxt)), level, sources)?;
        self.replace_blocks(group, Some(&path))
    }

    fn replace_blocks(&self, old: &[Arc<Block>], new: Option<&Path>) -> Result<(), TsdbError> {
        let i = &*self.inner;
        let nb = match new {
            Some(p) => Some(Arc::new(Block::open(p)?)),
            None => None,
        };
        let mut bl = i.blocks.write();
        let gone: HashSet<&str> = old.iter().map(|b| b.meta.ulid.as_str()).collect();
        bl.retain(|b| !gone.contains(b.meta.ulid.as_str()));
        if let Some(nb) = nb {
            bl.push(nb);
        }
        bl.sort_by_key(|b| b.meta.min_time);
        drop(bl);
        for b in old {
            remove_block_dir(&b.dir);
        }
        Ok(())
    }

    fn apply_retention(&self) {
        let i = &*self.inner;
        let blocks = i.blocks.read().clone();
        if blocks.is_empty() {
            return;
        }
        let mut drop_ids: Vec<Arc<Block>> = Vec::new();
        let ret = self.retention_ms();
        let newest = blocks
            .iter()
            .map(|b| b.meta.max_time)
            .max()
            .unwrap_or(i64::MIN);
        if ret > 0 {
            for b in &blocks {
                if newest.saturating_sub(b.meta.max_time) >= ret {
                    drop_ids.push(b.clone());
                    i.c.time_retentions.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        if let Some(limit) = i.opts.retention_size_bytes.filter(|l| *l > 0) {
            let mut total: u64 =
                i.wal.bytes.load(Ordering::Relaxed) + blocks.iter().map(|b| b.size).sum::<u64>();
            for b in &drop_ids {
                total = total.saturating_sub(b.size);
            }
            for b in &blocks {
                if total <= limit {
                    break;
                }
                if drop_ids.iter().any(|d| d.meta.ulid == b.meta.ulid) {
                    continue;
                }
                total = total.saturating_sub(b.size);
                drop_ids.push(b.clone());
                i.c.size_retentions.fetch_add(1, Ordering::Relaxed);
            }
        }
        if !drop_ids.is_empty() {
            let _ = self.replace_blocks(&drop_ids, None);
        }
    }

    pub fn stats(&self) -> Stats {
        let i = &*self.inner;
        let blocks = i.blocks.read();
        let head_min = i.head.min_t.load(Ordering::Relaxed);
        let lowest = blocks
            .iter()
            .map(|b| b.meta.min_time)
            .min()
            .unwrap_or(i64::MAX)
            .min(head_min);
        let (head_series, syms) = {
            let ix = i.head.index.read();
            (ix.num_series(), ix.syms.bytes() as u64)
        };
        Stats {
            head_series,
            head_chunks: i.head.num_chunks.load(Ordering::Relaxed).max(0) as u64,
            head_min_time: head_min,
            head_max_time: i.head.max_t.load(Ordering::Relaxed),
            samples_appended_total: i.c.samples_appended.load(Ordering::Relaxed),
            out_of_order_samples_total: i.c.out_of_order.load(Ordering::Relaxed),
            duplicate_samples_total: i.c.duplicate.load(Ordering::Relaxed),
            out_of_bounds_samples_total: i.c.out_of_bounds.load(Ordering::Relaxed),
            series_created_total: i.c.series_created.load(Ordering::Relaxed),
            series_removed_total: i.c.series_removed.load(Ordering::Relaxed),
            head_truncations_total: i.c.head_truncations.load(Ordering::Relaxed),
            wal_bytes: i.wal.bytes.load(Ordering::Relaxed),
            wal_corruptions_total: i.c.wal_corruptions.load(Ordering::Relaxed),
            wal_truncations_total: i.c.wal_truncations.load(Ordering::Relaxed),
            checkpoint_creations_total: i.c.checkpoints.load(Ordering::Relaxed),
            blocks_loaded: blocks.len() as u64,
            block_bytes: blocks.iter().map(|b| b.size).sum(),
            compactions_total: i.c.compactions.load(Ordering::Relaxed),
            compactions_failed_total: i.c.compactions_failed.load(Ordering::Relaxed),
            time_retentions_total: i.c.time_retentions.load(Ordering::Relaxed),
            size_retentions_total: i.c.size_retentions.load(Ordering::Relaxed),
            retention_limit_bytes: i.opts.retention_size_bytes.unwrap_or(0),
            lowest_timestamp: lowest,
            symbol_table_size_bytes: syms,
            tombstone_cleanups_total: i.c.tombstone_cleanups.load(Ordering::Relaxed),
            head_active_appenders: i.c.active_appenders.load(Ordering::Relaxed),
            head_chunk_bytes: i.c.head_chunk_bytes.load(Ordering::Relaxed),
        }
    }

    /// `/api/v1/status/tsdb` over the head.
    pub fn status(&self, limit: usize) -> TsdbStatus {
        let i = &*self.inner;
        let ix = i.head.index.read();
        let mut by_metric = Vec::new();
        let mut value_counts = Vec::new();
        let mut mem = Vec::new();
        // (count, name, value) symbols; only the top `limit` get formatted.
        let mut pairs: Vec<(u64, u32, u32)> = Vec::new();
        let mut num_pairs = 0u64;
        let name_sym = ix.syms.get(bongsu_model::METRIC_NAME);
        for (n, vals) in &ix.postings {
            let name = ix.syms.resolve(*n);
            value_counts.push((name.to_string(), vals.len() as u64));
            let mut size = 0u64;
            for (v, ids) in vals {
                size += ix.syms.resolve(*v).len() as u64;
                num_pairs += 1;
                pairs.push((ids.len(), *n, *v));
                if Some(*n) == name_sym {
                    by_metric.push((ix.syms.resolve(*v).to_string(), ids.len()));
                }
            }
            mem.push((name.to_string(), size));
        }
        let pair_name =
            |p: &(u64, u32, u32)| format!("{}={}", ix.syms.resolve(p.1), ix.syms.resolve(p.2));
        if pairs.len() > limit {
            pairs.select_nth_unstable_by(limit, |a, b| b.0.cmp(&a.0));
            // keep ties at the cut deterministic: include all with the cut's count, sort by name below
            let cut = pairs[limit].0;
            pairs.retain(|p| p.0 >= cut);
        }
        let pairs: Vec<(String, u64)> = pairs.iter().map(|p| (pair_name(p), p.0)).collect();
        let num_series = ix.num_series();
        drop(ix);
        let top = |mut v: Vec<(String, u64)>| {
            v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            v.truncate(limit);
            v
        };
        TsdbStatus {
            head_stats: HeadStats {
                num_series,
                num_label_pairs: num_pairs,
                chunk_count: i.head.num_chunks.load(Ordering::Relaxed).max(0) as u64,
                min_time: i.head.min_t.load(Ordering::Relaxed),
                max_time: i.head.max_t.load(Ordering::Relaxed),
            },
            series_count_by_metric_name: top(by_metric),
            label_value_count_by_label_name: top(value_counts),
            memory_in_bytes_by_label_name: top(mem),
            series_count_by_label_value_pair: top(pairs),
        }
    }

    /// Writes a snapshot under `dir`: hard links (or copies) of every block,
    /// plus the head as a new block when `with_head`.
    pub fn snapshot(&self, dir: &Path, with_head: bool) -> Result<(), TsdbError> {
        let i = &*self.inner;
        // Blocks must not be compacted away while they are linked.
        let _m = i.maint.lock();
        fs::create_dir_all(dir)?;
        let blocks = i.blocks.read().clone();
        for b in &blocks {
            let dst = dir.join(&b.meta.ulid);
            fs::create_dir_all(dst.join("chunks"))?;
            for name in ["meta.json", "index", "tombstones.json"] {
                let src = b.dir.join(name);
                if src.exists() {
                    link_or_copy(&src, &dst.join(name))?;
                }
            }
            for e in fs::read_dir(b.dir.join("chunks"))? {
                let e = e?;
                link_or_copy(&e.path(), &dst.join("chunks").join(e.file_name()))?;
            }
        }
        if with_head {
            let mut w = BlockWriter::new(dir)?;
            add_head_series(&i.head, &mut w, i64::MIN, i64::MAX)?;
            let (meta, path) = w.finish(None, 1, Vec::new())?;
            if meta.stats.num_series == 0 {
                let _ = fs::remove_dir_all(path);
            }
        }
        Ok(())
    }

    /// Deletes samples of matching series in `[mint, maxt]`: the head drops
    /// them at once (logged in the WAL), blocks get tombstones.
    pub fn delete_series(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
    ) -> Result<(), TsdbError> {
        let i = &*self.inner;
        // Not while a cut or compaction copies the data being deleted.
        let _m = i.maint.lock();
        let ids = i.head.select_ids(matchers);
        if !ids.is_empty() {
            let _g = i.gate.read();
            let ts: Vec<(u64, i64, i64)> = ids.iter().map(|&id| (id, mint, maxt)).collect();
            let mut buf = Vec::new();
            for part in ts.chunks(10_000) {
                wal::encode_tombstones(&mut buf, part);
            }
            i.wal.write(&buf)?;
            for id in ids {
                i.head.delete_range(id, mint, maxt);
            }
        }
        let blocks = i.blocks.read().clone();
        for b in blocks.iter().filter(|b| b.overlaps(mint, maxt)) {
            b.delete(matchers, mint, maxt)?;
        }
        Ok(())
    }

    /// Rewrites blocks that have tombstones without the deleted samples.
    pub fn clean_tombstones(&self) -> Result<(), TsdbError> {
        let i = &*self.inner;
        let _m = i.maint.lock();
        let blocks = i.blocks.read().clone();
        for b in blocks {
            if b.tombstones.read().is_empty() {
                continue;
            }
            let mut w = BlockWriter::new(&i.dir)?;
            for s in 0..b.num_series() {
                let samples = b.samples(s, i64::MIN, i64::MAX)?;
                w.add_series(&b.labels(s), &samples)?;
            }
            let (meta, path) = w.finish(
                Some((b.meta.min_time, b.meta.max_time)),
                b.meta.compaction.level,
                b.meta.compaction.sources.clone(),
            )?;
            if meta.stats.num_series == 0 {
                remove_block_dir(&path);
                self.replace_blocks(&[b], None)?;
            } else {
                self.replace_blocks(&[b], Some(&path))?;
            }
            i.c.tombstone_cleanups.fetch_add(1, Ordering::Relaxed);
        }
        Ok(())
    }

    fn select_all(
        &self,
        hints: SelectHints,
        matchers: &[Matcher],
        with_samples: bool,
    ) -> Result<Vec<(Labels, Vec<Sample>)>, TsdbError> {
        let i = &*self.inner;
        let (mint, maxt) = (hints.mint, hints.maxt);
        let blocks = i.blocks.read().clone();
        // Every source's series, sorted by labels (a stable sort keeps the
        // blocks' samples before the head's for the same series), then the
        // same series from several sources merged.
        let mut all: Vec<(Labels, Vec<Sample>)> = Vec::new();
        let mut sources = 0;
        for b in blocks.iter().filter(|b| b.overlaps(mint, maxt)) {
            let part = b.select(matchers, mint, maxt, with_samples)?;
            if !part.is_empty() {
                sources += 1;
                all.extend(part);
            }
        }
        let part = i.head.select(matchers, mint, maxt, with_samples);
        if sources == 0 {
            // The head's series come sorted by labels.
            return Ok(part);
        }
        if !part.is_empty() {
            sources += 1;
            all.extend(part);
        }
        if !all.windows(2).all(|w| w[0].0 < w[1].0) {
            if sources < 2 {
                // One source has no duplicates: no order of ties to keep.
                all.sort_unstable_by(|a, b| a.0.cmp(&b.0));
            } else {
                all.sort_by(|a, b| a.0.cmp(&b.0));
            }
        }
        if sources < 2 {
            return Ok(all);
        }
        // Runs of the same series, each concatenated into one allocation of
        // the run's total length (not grown block by block).
        let mut merged: Vec<(Labels, Vec<Sample>)> = Vec::with_capacity(all.len());
        let mut multi = false;
        let mut it = all.into_iter().peekable();
        while let Some((l, first)) = it.next() {
            if it.peek().is_none_or(|(nl, _)| *nl != l) {
                merged.push((l, first));
                continue;
            }
            multi = true;
            let mut parts = vec![first];
            while let Some((_, s)) = it.next_if(|(nl, _)| *nl == l) {
                parts.push(s);
            }
            let mut s = Vec::with_capacity(parts.iter().map(Vec::len).sum());
            for p in parts {
                s.extend_from_slice(&p);
            }
            merged.push((l, s));
        }
        if multi && with_samples {
            for (_, s) in merged.iter_mut() {
                if !s.windows(2).all(|w| w[0].t < w[1].t) {
                    sort_dedup(s);
                }
            }
        }
        Ok(merged)
    }
}

/// Records the head's chunk bytes when maintenance ends (also on error).
struct MeasureOnDrop<'a>(&'a Head, &'a AtomicU64);

impl Drop for MeasureOnDrop<'_> {
    fn drop(&mut self) {
        self.1.store(self.0.chunk_bytes(), Ordering::Relaxed);
    }
}

impl Db {
    fn head_overlaps(&self, hints: SelectHints) -> bool {
        let h = &self.inner.head;
        let (min, max) = (
            h.min_t.load(Ordering::Relaxed),
            h.max_t.load(Ordering::Relaxed),
        );
        min != i64::MAX && min <= hints.maxt && max >= hints.mint
    }
}

fn sort_dedup(s: &mut Vec<Sample>) {
    s.sort_by_key(|x| x.t);
    s.dedup_by_key(|x| x.t);
}

fn link_or_copy(src: &Path, dst: &Path) -> Result<(), TsdbError> {
    if fs::hard_link(src, dst).is_err() {
        fs::copy(src, dst)?;
    }
    Ok(())
}

fn load_blocks(dir: &Path) -> Result<Vec<Arc<Block>>, TsdbError> {
    let mut blocks = Vec::new();
    for e in fs::read_dir(dir)? {
        let e = e?;
        let name = e.file_name();
        let Some(name) = name.to_str() else { continue };
        if !e.file_type()?.is_dir() {
            continue;
        }
        if name.ends_with(".tmp") || name.ends_with(".tmp-for-deletion") {
            let _ = fs::remove_dir_all(e.path());
            continue;
        }
        if crate::block::is_ulid(name) && e.path().join("meta.json").exists() {
            blocks.push(Arc::new(Block::open(&e.path())?));
        }
    }
    // A compaction (or tombstone cleanup) that crashed before deleting its
    // inputs leaves them beside the output: drop a block whose sources are
    // all in a higher-level block's sources.
    let covered: Vec<bool> = blocks
        .iter()
        .map(|x| {
            blocks.iter().any(|y| {
                y.meta.ulid != x.meta.ulid
                    && y.meta.compaction.level > x.meta.compaction.level
                    && x.meta
                        .compaction
                        .sources
                        .iter()
                        .all(|s| y.meta.compaction.sources.contains(s))
            })
        })
        .collect();
    let mut kept = Vec::with_capacity(blocks.len());
    for (b, c) in blocks.into_iter().zip(covered) {
        if c {
            remove_block_dir(&b.dir);
        } else {
            kept.push(b);
        }
    }
    let mut blocks = kept;
    blocks.sort_by_key(|b| b.meta.min_time);
    Ok(blocks)
}

fn replay_wal(head: &Head, wal_dir: &Path, min_valid: i64) -> Result<(u64, u64), TsdbError> {
    let mut alias: HashMap<u64, u64> = HashMap::new();
    let (corrupt, next) = wal::replay(wal_dir, &mut |rec| match rec {
        Record::Series(list) => {
            for (id, l) in list {
                // Ids exhausted: the series and its samples are skipped.
                let Ok(got) = head.create_with_id(id, &l) else {
                    continue;
                };
                if got != id {
                    alias.insert(id, got);
                } else {
                    alias.remove(&id);
                }
            }
        }
        Record::Samples(list) => {
            for (id, t, v) in list {
                if t < min_valid {
                    continue;
                }
                let id = alias.get(&id).copied().unwrap_or(id);
                let _ = head.apply(id, t, v, 0);
            }
        }
        Record::Tombstones(list) => {
            for (id, a, b) in list {
                let id = alias.get(&id).copied().unwrap_or(id);
                head.delete_range(id, a, b);
            }
        }
        Record::Chunk(id, n, data) => {
            let id = alias.get(&id).copied().unwrap_or(id);
            if let Ok(samples) = crate::colenc::decode(&data, n) {
                for s in samples {
                    if s.t >= min_valid {
                        let _ = head.apply(id, s.t, s.v, 0);
                    }
                }
            }
        }
    })?;
    // Series that only had samples below the persisted range are gone.
    head.truncate(min_valid);
    Ok((corrupt, next))
}

/// Writes one block under `dir/<ULID>/` from the given series (any order;
/// samples are sorted and duplicate timestamps dropped). The block spans
/// `[first sample, last sample + 1)`. Used by `tsdb create-blocks-from`.
/// Adds the head's samples in `[mint, maxt]` to `w`, series in label order,
/// building one series' labels at a time.
fn add_head_series(head: &Head, w: &mut BlockWriter, mint: i64, maxt: i64) -> Result<(), TsdbError> {
    for id in head.sorted_ids() {
        let s = head.series_samples(id, mint, maxt);
        if s.is_empty() {
            continue;
        }
        if let Some(labels) = head.series_labels(id) {
            w.add_series(&labels, &s)?;
        }
    }
    Ok(())
}

pub fn write_block(dir: &Path, series: Vec<(Labels, Vec<Sample>)>) -> Result<BlockMeta, TsdbError> {
    fs::create_dir_all(dir)?;
    let mut map: BTreeMap<Labels, Vec<Sample>> = BTreeMap::new();
    for (l, s) in series {
        map.entry(l).or_default().extend(s);
    }
    let mut w = BlockWriter::new(dir)?;
    for (l, mut s) in map {
        if !s.windows(2).all(|w| w[0].t < w[1].t) {
            sort_dedup(&mut s);
        }
        w.add_series(&l, &s)?;
    }
    let (meta, _) = w.finish(None, 1, Vec::new())?;
    Ok(meta)
}

struct DbAppender {
    db: Arc<Inner>,
    samples: Vec<(u64, i64, f64)>,
    pending: crate::head::IdMap<(i64, u64)>,
    /// Pending series whose record is not in the WAL yet.
    unlogged: Vec<u64>,
    done: bool,
}

impl DbAppender {
    fn release(&mut self) {
        for (&id, _) in self.pending.iter() {
            if let Some(s) = self.db.head.stripe(id).lock().get_mut(id) {
                s.sub_pending();
            }
        }
        self.pending.clear();
        self.samples.clear();
        self.unlogged.clear();
        if !self.done {
            self.db.c.active_appenders.fetch_sub(1, Ordering::Relaxed);
        }
        self.done = true;
    }
}

impl Drop for DbAppender {
    fn drop(&mut self) {
        if !self.done {
            self.release();
        }
    }
}

impl Appender for DbAppender {
    fn append(&mut self, labels: &Labels, t: i64, v: f64) -> Result<(), AppendError> {
        self.append_ref(0, Some(labels), t, v).map(|_| ())
    }

    /// A known `r` skips hashing and the index entirely; an unknown one
    /// (garbage-collected series) falls back to `labels`.
    fn append_ref(
        &mut self,
        r: SeriesRef,
        labels: Option<&Labels>,
        t: i64,
        v: f64,
    ) -> Result<SeriesRef, AppendError> {
        let db = &*self.db;
        if t < db.head.appendable_min_valid_t() {
            db.c.out_of_bounds.fetch_add(1, Ordering::Relaxed);
            return Err(AppendError::OutOfBounds);
        }
        let mut known = r;
        for _ in 0..4 {
            let id = if known != 0 {
                known
            } else {
                let Some(labels) = labels else {
                    return Err(AppendError::UnknownRef);
                };
                // All 32-bit series ids used (TsdbError::SeriesIdsExhausted),
                // or more than MAX_LABELS labels: the sample is refused like
                // one outside the head's range.
                let Ok((id, created)) = db.head.get_or_create(labels) else {
                    db.c.out_of_bounds.fetch_add(1, Ordering::Relaxed);
                    return Err(AppendError::OutOfBounds);
                };
                if created {
                    db.c.series_created.fetch_add(1, Ordering::Relaxed);
                }
                id
            };
            let mut st = db.head.stripe(id).lock();
            let Some(s) = st.get_mut(id) else {
                known = 0;
                continue;
            };
            let res = match self.pending.get(&id) {
                Some(&(lt, lv)) => {
                    if t < lt {
                        Err(AppendError::OutOfOrder)
                    } else if t == lt {
                        if v.to_bits() == lv {
                            Ok(false)
                        } else {
                            Err(AppendError::DuplicateTimestamp)
                        }
                    } else {
                        Ok(true)
                    }
                }
                None => s.check(t, v),
            };
            match res {
                Err(e) => {
                    drop(st);
                    match e {
                        AppendError::OutOfOrder => {
                            db.c.out_of_order.fetch_add(1, Ordering::Relaxed);
                        }
                        AppendError::DuplicateTimestamp => {
                            db.c.duplicate.fetch_add(1, Ordering::Relaxed);
                        }
                        AppendError::OutOfBounds => {
                            db.c.out_of_bounds.fetch_add(1, Ordering::Relaxed);
                        }
                        AppendError::UnknownRef => {}
                    }
                    return Err(e);
                }
                Ok(false) => return Ok(id),
                Ok(true) => {
                    if !self.pending.contains_key(&id) {
                        s.add_pending();
                        if !s.logged() {
                            self.unlogged.push(id);
                        }
                    }
                    drop(st);
                    self.pending.insert(id, (t, v.to_bits()));
                    self.samples.push((id, t, v));
                    return Ok(id);
                }
            }
        }
        Err(AppendError::OutOfBounds)
    }

    fn commit(mut self: Box<Self>) -> Result<(), StorageError> {
        if self.samples.is_empty() {
            self.release();
            return Ok(());
        }
        let db = self.db.clone();
        let _g = db.gate.read();
        if db.closed.load(Ordering::SeqCst) {
            self.release();
            return Err(TsdbError::Closed.into());
        }
        let mut buf = Vec::with_capacity(self.samples.len() * 14 + 64);
        let unlogged = std::mem::take(&mut self.unlogged);
        if !unlogged.is_empty() {
            // Straight from the interned symbols: no label sets are built
            // (a first scrape of a large target creates many series at once).
            let ix = db.head.index.read();
            let known: Vec<(u64, Vec<(&str, &str)>)> = unlogged
                .iter()
                .filter_map(|&id| {
                    let st = db.head.stripe(id).lock();
                    let s = st.get(id)?;
                    let pairs = crate::head::sym_pairs(st.syms(s))
                        .map(|(n, v)| (ix.syms.resolve(n), ix.syms.resolve(v)))
                        .collect();
                    Some((id, pairs))
                })
                .collect();
            wal::encode_series_pairs(
                &mut buf,
                known.into_iter().map(|(id, pairs)| (id, pairs.into_iter())),
            );
        }
        wal::encode_samples(&mut buf, &self.samples);
        if let Err(e) = db.wal.write(&buf) {
            self.release();
            return Err(StorageError::Io(e));
        }
        for id in unlogged {
            if let Some(s) = db.head.stripe(id).lock().get_mut(id) {
                s.set_logged();
            }
        }
        if db.opts.wal_fsync_interval == Some(Duration::ZERO) {
            if let Err(e) = db.wal.sync_now() {
                self.release();
                return Err(StorageError::Io(e));
            }
        }
        let min_valid = db.head.min_valid_t.load(Ordering::Relaxed);
        let mut applied = 0u64;
        let seq = db.head.begin_commit();
        for &(id, t, v) in &self.samples {
            if t < min_valid {
                db.c.out_of_bounds.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            match db.head.apply(id, t, v, seq) {
                Ok(()) => applied += 1,
                Err(AppendError::OutOfOrder) => {
                    db.c.out_of_order.fetch_add(1, Ordering::Relaxed);
                }
                Err(AppendError::DuplicateTimestamp) => {
                    db.c.duplicate.fetch_add(1, Ordering::Relaxed);
                }
                Err(AppendError::OutOfBounds | AppendError::UnknownRef) => {
                    db.c.out_of_bounds.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        db.head.end_commit(seq);
        db.c.samples_appended.fetch_add(applied, Ordering::Relaxed);
        self.release();
        Ok(())
    }

    fn rollback(mut self: Box<Self>) {
        self.release();
    }
}

impl Appendable for Db {
    fn appender(&self) -> Box<dyn Appender> {
        self.inner
            .c
            .active_appenders
            .fetch_add(1, Ordering::Relaxed);
        Box::new(DbAppender {
            db: self.inner.clone(),
            samples: Vec::new(),
            pending: Default::default(),
            unlogged: Vec::new(),
            done: false,
        })
    }
}

// Start timestamps are not stored (nothing ingests them yet): every series is
// returned without an ST column.
impl Queryable for Db {
    fn select(
        &self,
        hints: SelectHints,
        matchers: &[Matcher],
    ) -> Result<Vec<Series>, StorageError> {
        Ok(self
            .select_all(hints, matchers, true)?
            .into_iter()
            .map(|(labels, samples)| Series::new(labels, samples))
            .collect())
    }

    fn series(
        &self,
        hints: SelectHints,
        matchers: &[Matcher],
    ) -> Result<Vec<Labels>, StorageError> {
        Ok(self
            .select_all(hints, matchers, false)?
            .into_iter()
            .map(|x| x.0)
            .collect())
    }

    fn label_names(
        &self,
        hints: SelectHints,
        matchers: &[Matcher],
    ) -> Result<Vec<String>, StorageError> {
        let mut set: std::collections::BTreeSet<String> = Default::default();
        if matchers.is_empty() {
            let i = &*self.inner;
            if self.head_overlaps(hints) {
                set.extend(i.head.index.read().label_names());
            }
            for b in i
                .blocks
                .read()
                .iter()
                .filter(|b| b.overlaps(hints.mint, hints.maxt))
            {
                set.extend(b.label_names());
            }
        } else {
            for (l, _) in self.select_all(hints, matchers, false)? {
                for lab in l.iter() {
                    if !set.contains(lab.name.as_str()) {
                        set.insert(lab.name.to_string());
                    }
                }
            }
        }
        Ok(set.into_iter().collect())
    }

    fn label_values(
        &self,
        name: &str,
        hints: SelectHints,
        matchers: &[Matcher],
    ) -> Result<Vec<String>, StorageError> {
        let mut set: std::collections::BTreeSet<String> = Default::default();
        if matchers.is_empty() {
            let i = &*self.inner;
            if self.head_overlaps(hints) {
                set.extend(i.head.index.read().label_values(name));
            }
            for b in i
                .blocks
                .read()
                .iter()
                .filter(|b| b.overlaps(hints.mint, hints.maxt))
            {
                set.extend(b.label_values(name));
            }
        } else {
            for (l, _) in self.select_all(hints, matchers, false)? {
                if let Some(v) = l.get(name) {
                    if !set.contains(v) {
                        set.insert(v.to_string());
                    }
                }
            }
        }
        Ok(set.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn db_is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<super::Db>();
        check::<std::sync::Arc<super::Db>>();
    }
}
