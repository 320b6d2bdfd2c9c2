//! Persistent blocks: `<data>/<ULID>/{meta.json, index, chunks/000001…,
//! tombstones.json}`.
//!
//! `meta.json` carries Prometheus' fields. `index` is our format (all
//! integers varints unless noted):
//! `"BSIDX\x01\0\0"`, symbols (count, strings ascending), series (count,
//! each: label pairs as symbol ids, chunk metas (mint, maxt-mint, samples,
//! segment, offset, length)), postings (count, each: name, value, ids
//! delta-coded), then a little-endian CRC32 of everything before it.
//! A chunk in `chunks/NNNNNN` is [`crate::colenc`] bytes followed by their
//! CRC32.

use crate::colenc;
use crate::enc::{put_bytes, put_uvarint, put_varint, Cursor, Malformed};
use crate::postings::{PostingsReader, PostingsRef};
use crate::TsdbError;
use bongsu_model::{Label, Labels, Matcher, Sample};
use parking_lot::RwLock;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

const INDEX_MAGIC: &[u8; 8] = b"BSIDX\x01\0\0";
const CHUNK_SEGMENT_MAX: u64 = 512 << 20;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockStats {
    #[serde(rename = "numSamples")]
    pub num_samples: u64,
    #[serde(rename = "numSeries")]
    pub num_series: u64,
    #[serde(rename = "numChunks")]
    pub num_chunks: u64,
    #[serde(rename = "numTombstones", default, skip_serializing_if = "is_zero")]
    pub num_tombstones: u64,
}

fn is_zero(v: &u64) -> bool {
    *v == 0
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockCompaction {
    pub level: u32,
    pub sources: Vec<String>,
}

/// A block's `meta.json`. `max_time` is exclusive, as in Prometheus.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockMeta {
    pub ulid: String,
    #[serde(rename = "minTime")]
    pub min_time: i64,
    #[serde(rename = "maxTime")]
    pub max_time: i64,
    pub stats: BlockStats,
    pub compaction: BlockCompaction,
    pub version: u32,
}

/// A new ULID (48-bit milliseconds + 80 random bits, Crockford base32).
pub fn new_ulid() -> String {
    const ALPH: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    let ms = bongsu_model::now_ms().max(0) as u128 & ((1u128 << 48) - 1);
    let r: u128 = rand::random::<u128>() & ((1u128 << 80) - 1);
    let v = (ms << 80) | r;
    (0..26)
        .map(|i| ALPH[((v >> (125 - i * 5)) & 31) as usize] as char)
        .collect()
}

pub(crate) fn is_ulid(s: &str) -> bool {
    s.len() == 26 && s.bytes().all(|b| b.is_ascii_alphanumeric())
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct ChunkMeta {
    pub mint: i64,
    pub maxt: i64,
    pub n: u32,
    pub seg: u32,
    pub off: u64,
    pub len: u32,
}

/// Streams series (in label order) into a new block.
pub(crate) struct BlockWriter {
    parent: PathBuf,
    ulid: String,
    tmp: PathBuf,
    seg: u32,
    seg_w: Option<BufWriter<File>>,
    seg_off: u64,
    syms: HashMap<String, u32>,
    /// Per added series, flat (two allocations in all, not two per
    /// series): its label symbol ids (name, value, …) end at
    /// `series_syms_end[i]`, its chunks at `series_metas_end[i]`.
    series_syms: Vec<u32>,
    series_syms_end: Vec<usize>,
    series_metas: Vec<ChunkMeta>,
    series_metas_end: Vec<usize>,
    stats: BlockStats,
    mint: i64,
    maxt: i64,
    last_labels: Option<Labels>,
}

impl BlockWriter {
    pub fn new(parent: &Path) -> Result<Self, TsdbError> {
        let ulid = new_ulid();
        let tmp = parent.join(format!("{ulid}.tmp"));
        fs::create_dir_all(tmp.join("chunks"))?;
        Ok(BlockWriter {
            parent: parent.to_path_buf(),
            ulid,
            tmp,
            seg: 0,
            seg_w: None,
            seg_off: 0,
            syms: HashMap::new(),
            series_syms: Vec::new(),
            series_syms_end: Vec::new(),
            series_metas: Vec::new(),
            series_metas_end: Vec::new(),
            stats: BlockStats::default(),
            mint: i64::MAX,
            maxt: i64::MIN,
            last_labels: None,
        })
    }

    fn sym(&mut self, s: &str) -> u32 {
        if let Some(&id) = self.syms.get(s) {
            return id;
        }
        let id = self.syms.len() as u32;
        self.syms.insert(s.to_string(), id);
        id
    }

    fn write_chunk(&mut self, data: &[u8]) -> Result<(u32, u64), TsdbError> {
        let need = data.len() as u64 + 4;
        if self.seg_w.is_none() || (self.seg_off > 0 && self.seg_off + need > CHUNK_SEGMENT_MAX) {
            if let Some(mut w) = self.seg_w.take() {
                w.flush()?;
                w.get_ref().sync_all()?;
            }
            self.seg += 1;
            let f = File::create(self.tmp.join("chunks").join(format!("{:06}", self.seg)))?;
            self.seg_w = Some(BufWriter::with_capacity(1 << 20, f));
            self.seg_off = 0;
        }
        let off = self.seg_off;
        if let Some(w) = self.seg_w.as_mut() {
            w.write_all(data)?;
            w.write_all(&crc32fast::hash(data).to_le_bytes())?;
        }
        self.seg_off += need;
        Ok((self.seg, off))
    }

    /// Adds a series; calls must come in ascending label order. Samples must
    /// be ascending; empty series are skipped.
    pub fn add_series(&mut self, labels: &Labels, samples: &[Sample]) -> Result<(), TsdbError> {
        if samples.is_empty() {
            return Ok(());
        }
        if let Some(last) = &self.last_labels {
            if labels <= last {
                return Err(TsdbError::Invalid(format!(
                    "series {labels} added out of order or twice"
                )));
            }
        }
        self.last_labels = Some(labels.clone());
        for l in labels.iter() {
            let n = self.sym(&l.name);
            let v = self.sym(&l.value);
            self.series_syms.push(n);
            self.series_syms.push(v);
        }
        self.series_syms_end.push(self.series_syms.len());
        for part in samples.chunks(colenc::MAX_BLOCK_CHUNK_SAMPLES) {
            let data = colenc::encode(part);
            let (seg, off) = self.write_chunk(&data)?;
            let (mint, maxt) = (part[0].t, part[part.len() - 1].t);
            self.series_metas.push(ChunkMeta {
                mint,
                maxt,
                n: part.len() as u32,
                seg,
                off,
                len: data.len() as u32,
            });
            self.mint = self.mint.min(mint);
            self.maxt = self.maxt.max(maxt);
            self.stats.num_chunks += 1;
        }
        self.stats.num_samples += samples.len() as u64;
        self.stats.num_series += 1;
        self.series_metas_end.push(self.series_metas.len());
        Ok(())
    }

    /// Writes index and meta, renames into place. `range` overrides the
    /// block's time range (`max` exclusive); `None` uses the data's.
    pub fn finish(
        mut self,
        range: Option<(i64, i64)>,
        level: u32,
        sources: Vec<String>,
    ) -> Result<(BlockMeta, PathBuf), TsdbError> {
        if let Some(mut w) = self.seg_w.take() {
            w.flush()?;
            w.get_ref().sync_all()?;
        }
        // Sorted symbol table and remapping.
        let mut sorted: Vec<(String, u32)> = std::mem::take(&mut self.syms).into_iter().collect();
        sorted.sort_unstable();
        let mut remap = vec![0u32; sorted.len()];
        for (new, (_, old)) in sorted.iter().enumerate() {
            remap[*old as usize] = new as u32;
        }
        // The index is written as it is encoded, with a running checksum,
        // not built whole in memory first (~55 bytes a series).
        let mut out = IndexOut::create(&self.tmp.join("index"))?;
        out.buf.extend_from_slice(INDEX_MAGIC);
        put_uvarint(&mut out.buf, sorted.len() as u64);
        for (s, _) in &sorted {
            put_bytes(&mut out.buf, s.as_bytes());
            out.spill()?;
        }
        drop(sorted);
        let num_series = self.series_syms_end.len();
        put_uvarint(&mut out.buf, num_series as u64);
        let mut postings: BTreeMap<(u32, u32), Vec<u32>> = BTreeMap::new();
        let (mut syms_at, mut metas_at) = (0, 0);
        for i in 0..num_series {
            let labels = &self.series_syms[syms_at..self.series_syms_end[i]];
            let metas = &self.series_metas[metas_at..self.series_metas_end[i]];
            (syms_at, metas_at) = (self.series_syms_end[i], self.series_metas_end[i]);
            let buf = &mut out.buf;
            put_uvarint(buf, (labels.len() / 2) as u64);
            for p in labels.chunks_exact(2) {
                let (n, v) = (remap[p[0] as usize], remap[p[1] as usize]);
                put_uvarint(buf, n as u64);
                put_uvarint(buf, v as u64);
                postings.entry((n, v)).or_default().push(i as u32);
            }
            put_uvarint(buf, metas.len() as u64);
            for m in metas {
                put_varint(buf, m.mint);
                put_uvarint(buf, m.maxt.wrapping_sub(m.mint) as u64);
                put_uvarint(buf, m.n as u64);
                put_uvarint(buf, m.seg as u64);
                put_uvarint(buf, m.off);
                put_uvarint(buf, m.len as u64);
            }
            out.spill()?;
        }
        self.series_syms = Vec::new();
        self.series_metas = Vec::new();
        put_uvarint(&mut out.buf, postings.len() as u64);
        for ((n, v), ids) in &postings {
            let buf = &mut out.buf;
            put_uvarint(buf, *n as u64);
            put_uvarint(buf, *v as u64);
            put_uvarint(buf, ids.len() as u64);
            let mut last = 0u32;
            for &id in ids {
                put_uvarint(buf, (id - last) as u64);
                last = id;
            }
            out.spill()?;
        }
        drop(postings);
        out.finish()?;
        let (min_time, max_time) = match range {
            Some(r) => r,
            None if self.stats.num_samples == 0 => (0, 0),
            None => (self.mint, self.maxt.saturating_add(1)),
        };
        let sources = if sources.is_empty() {
            vec![self.ulid.clone()]
        } else {
            sources
        };
        let meta = BlockMeta {
            ulid: self.ulid.clone(),
            min_time,
            max_time,
            stats: self.stats.clone(),
            compaction: BlockCompaction {
                level: level.max(1),
                sources,
            },
            version: 1,
        };
        write_json_atomic(&self.tmp.join("meta.json"), &meta)?;
        crate::wal::fsync_dir(&self.tmp);
        crate::wal::fsync_dir(&self.tmp.join("chunks"));
        let dst = self.parent.join(&self.ulid);
        fs::rename(&self.tmp, &dst)?;
        crate::wal::fsync_dir(&self.parent);
        Ok((meta, dst))
    }
}

/// The index file as it is written: encoded bytes gather in `buf` and go
/// out in 64 KiB pieces through a running CRC32; `finish` appends it.
struct IndexOut {
    w: BufWriter<File>,
    crc: crc32fast::Hasher,
    buf: Vec<u8>,
}

impl IndexOut {
    fn create(path: &Path) -> Result<Self, TsdbError> {
        Ok(IndexOut {
            w: BufWriter::new(File::create(path)?),
            crc: crc32fast::Hasher::new(),
            buf: Vec::with_capacity(1 << 17),
        })
    }

    fn spill(&mut self) -> Result<(), TsdbError> {
        if self.buf.len() >= 1 << 16 {
            self.crc.update(&self.buf);
            self.w.write_all(&self.buf)?;
            self.buf.clear();
        }
        Ok(())
    }

    fn finish(mut self) -> Result<(), TsdbError> {
        self.crc.update(&self.buf);
        self.w.write_all(&self.buf)?;
        self.w.write_all(&self.crc.finalize().to_le_bytes())?;
        self.w.flush()?;
        self.w.get_ref().sync_all()?;
        Ok(())
    }
}

impl Drop for BlockWriter {
    fn drop(&mut self) {
        // An unfinished block leaves nothing behind.
        if self.tmp.exists() {
            let _ = fs::remove_dir_all(&self.tmp);
        }
    }
}

pub(crate) fn write_json_atomic<T: Serialize>(path: &Path, v: &T) -> Result<(), TsdbError> {
    let tmp = path.with_extension("json.tmp");
    let data = serde_json::to_vec_pretty(v).map_err(|e| TsdbError::Invalid(e.to_string()))?;
    let mut f = File::create(&tmp)?;
    f.write_all(&data)?;
    f.sync_all()?;
    fs::rename(&tmp, path)?;
    if let Some(parent) = path.parent() {
        crate::wal::fsync_dir(parent);
    }
    Ok(())
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct TombstonesFile {
    version: u32,
    /// (series index, mint, maxt) inclusive.
    intervals: Vec<(u32, i64, i64)>,
}

/// An opened, immutable block. The index stays in memory as its raw bytes
/// (about the file's size) plus offset tables; series entries and postings
/// are decoded on demand.
pub(crate) struct Block {
    pub dir: PathBuf,
    pub meta: BlockMeta,
    raw: Box<[u8]>,
    /// Offset of each symbol (its length varint) in `raw`.
    symbols: Vec<u32>,
    /// Offset of each series entry in `raw`.
    series: Vec<u32>,
    /// name symbol → (value symbol, offset of the ids list), by value.
    postings: HashMap<u32, Vec<(u32, u32)>>,
    files: Vec<File>,
    pub tombstones: RwLock<Vec<(u32, i64, i64)>>,
    pub size: u64,
}

fn malformed(dir: &Path, what: &str) -> TsdbError {
    TsdbError::Corrupt(format!("block {}: {what}", dir.display()))
}

impl Block {
    pub fn open(dir: &Path) -> Result<Block, TsdbError> {
        let meta: BlockMeta = serde_json::from_slice(&fs::read(dir.join("meta.json"))?)
            .map_err(|e| malformed(dir, &format!("meta.json: {e}")))?;
        let mut data = fs::read(dir.join("index"))?;
        if data.len() >= 4 && data[..4] == [0xBA, 0xAA, 0xD7, 0x00] {
            return Err(malformed(dir, "index is in Prometheus' format, which Bongsu does not read; move the block out of the data directory"));
        }
        if data.len() < 12 || &data[..8] != INDEX_MAGIC {
            return Err(malformed(dir, "index: bad magic"));
        }
        if data.len() > u32::MAX as usize {
            return Err(malformed(dir, "index larger than 4 GiB"));
        }
        let n = data.len();
        let crc = u32::from_le_bytes([data[n - 4], data[n - 3], data[n - 2], data[n - 1]]);
        if crc32fast::hash(&data[..n - 4]) != crc {
            return Err(malformed(dir, "index: checksum mismatch"));
        }
        data.truncate(n - 4);
        let raw = data.into_boxed_slice();
        let (symbols, series, postings) =
            scan_index(&raw).map_err(|_| malformed(dir, "index: malformed"))?;
        let mut files = Vec::new();
        let mut n = 1;
        loop {
            let p = dir.join("chunks").join(format!("{n:06}"));
            if !p.exists() {
                break;
            }
            files.push(File::open(p)?);
            n += 1;
        }
        let tombstones = match fs::read(dir.join("tombstones.json")) {
            Ok(d) => {
                let mut t = serde_json::from_slice::<TombstonesFile>(&d)
                    .map(|t| t.intervals)
                    .unwrap_or_default();
                t.sort_unstable();
                t
            }
            Err(_) => Vec::new(),
        };
        Ok(Block {
            dir: dir.to_path_buf(),
            meta,
            raw,
            symbols,
            series,
            postings,
            files,
            tombstones: RwLock::new(tombstones),
            size: crate::wal::dir_size(dir),
        })
    }

    pub fn num_series(&self) -> usize {
        self.series.len()
    }

    pub fn overlaps(&self, mint: i64, maxt: i64) -> bool {
        self.meta.min_time <= maxt && self.meta.max_time > mint
    }

    fn sym(&self, id: u32) -> &str {
        let Some(&off) = self.symbols.get(id as usize) else {
            return "";
        };
        let mut c = Cursor::new(&self.raw);
        c.pos = off as usize;
        c.str().unwrap_or("")
    }

    fn find_sym(&self, s: &str) -> Option<u32> {
        self.symbols
            .binary_search_by(|&off| {
                let mut c = Cursor::new(&self.raw);
                c.pos = off as usize;
                c.str().unwrap_or("").cmp(s)
            })
            .ok()
            .map(|i| i as u32)
    }

    /// Cursor at series `i`'s chunk metas, after its labels.
    fn series_entry(&self, i: usize, labels: Option<&mut Vec<Label>>) -> Cursor<'_> {
        let mut c = Cursor::new(&self.raw);
        c.pos = self.series.get(i).copied().unwrap_or(u32::MAX) as usize;
        let nl = c.uvarint().unwrap_or(0) as usize;
        match labels {
            Some(out) => {
                for _ in 0..nl {
                    let (n, v) = (
                        c.uvarint().unwrap_or(0) as u32,
                        c.uvarint().unwrap_or(0) as u32,
                    );
                    out.push(Label {
                        name: self.sym(n).into(),
                        value: self.sym(v).into(),
                    });
                }
            }
            None => {
                for _ in 0..nl * 2 {
                    let _ = c.uvarint();
                }
            }
        }
        c
    }

    pub fn labels(&self, i: usize) -> Labels {
        let mut v = Vec::new();
        self.series_entry(i, Some(&mut v));
        Labels::from_sorted(v)
    }

    fn chunks(&self, i: usize) -> Vec<ChunkMeta> {
        let mut c = self.series_entry(i, None);
        read_chunk_metas(&mut c).unwrap_or_default()
    }

    fn has_chunks_in(&self, i: usize, mint: i64, maxt: i64) -> bool {
        self.chunks(i)
            .iter()
            .any(|c| c.maxt >= mint && c.mint <= maxt)
    }

    /// Samples of series `i` in `[mint, maxt]`, tombstones applied.
    pub fn samples(&self, i: usize, mint: i64, maxt: i64) -> Result<Vec<Sample>, TsdbError> {
        self.samples_of(i, &self.chunks(i), mint, maxt, &mut Vec::new())
    }

    /// [`Block::samples`] from the series' chunk metas, reading through
    /// `buf` (reused across calls so a query does not allocate per chunk).
    fn samples_of(&self, i: usize, metas: &[ChunkMeta], mint: i64, maxt: i64, buf: &mut Vec<u8>) -> Result<Vec<Sample>, TsdbError> {
        let mut out: Vec<Sample> = Vec::new();
        for c in metas {
            if c.maxt < mint || c.mint > maxt {
                continue;
            }
            let f = self
                .files
                .get((c.seg as usize).wrapping_sub(1))
                .ok_or_else(|| malformed(&self.dir, "chunk segment missing"))?;
            buf.clear();
            buf.resize(c.len as usize + 4, 0);
            f.read_exact_at(buf, c.off)?;
            let (data, crc) = buf.split_at(c.len as usize);
            if crc32fast::hash(data).to_le_bytes() != crc {
                return Err(malformed(&self.dir, "chunk checksum mismatch"));
            }
            let s = colenc::decode(data, c.n as usize)
                .map_err(|_| malformed(&self.dir, "chunk undecodable"))?;
            if c.mint >= mint && c.maxt <= maxt {
                // The whole chunk is wanted: no filtering, and the first
                // such chunk is taken as it is.
                if out.is_empty() {
                    out = s;
                } else {
                    out.extend_from_slice(&s);
                }
            } else {
                out.extend(s.into_iter().filter(|s| s.t >= mint && s.t <= maxt));
            }
        }
        let ts = self.tombstones.read();
        if !ts.is_empty() {
            // sorted by series: binary search the series' intervals
            let start = ts.partition_point(|t| (t.0 as usize) < i);
            let iv: Vec<(i64, i64)> = ts[start..]
                .iter()
                .take_while(|t| t.0 as usize == i)
                .map(|t| (t.1, t.2))
                .collect();
            if !iv.is_empty() {
                out.retain(|s| !iv.iter().any(|&(a, b)| s.t >= a && s.t <= b));
            }
        }
        Ok(out)
    }

    pub fn select_ids(&self, ms: &[Matcher]) -> Vec<u64> {
        crate::postings::select(self, ms)
    }

    pub fn select(
        &self,
        ms: &[Matcher],
        mint: i64,
        maxt: i64,
        with_samples: bool,
    ) -> Result<Vec<(Labels, Vec<Sample>)>, TsdbError> {
        let mut out = Vec::new();
        let mut buf = Vec::new();
        for id in self.select_ids(ms) {
            let i = id as usize;
            let metas = self.chunks(i);
            if !metas.iter().any(|c| c.maxt >= mint && c.mint <= maxt) {
                continue;
            }
            if with_samples {
                let s = self.samples_of(i, &metas, mint, maxt, &mut buf)?;
                if !s.is_empty() {
                    out.push((self.labels(i), s));
                }
            } else {
                out.push((self.labels(i), Vec::new()));
            }
        }
        Ok(out)
    }

    /// Adds tombstones for matching series overlapping `[mint, maxt]`.
    pub fn delete(&self, ms: &[Matcher], mint: i64, maxt: i64) -> Result<(), TsdbError> {
        let ids: Vec<u32> = self
            .select_ids(ms)
            .into_iter()
            .filter(|&i| self.has_chunks_in(i as usize, mint, maxt))
            .map(|i| i as u32)
            .collect();
        if ids.is_empty() {
            return Ok(());
        }
        let mut ts = self.tombstones.write();
        ts.extend(ids.into_iter().map(|i| (i, mint, maxt)));
        ts.sort_unstable();
        ts.dedup();
        write_json_atomic(
            &self.dir.join("tombstones.json"),
            &TombstonesFile {
                version: 1,
                intervals: ts.clone(),
            },
        )
    }

    fn postings_at(&self, off: u32) -> Vec<u64> {
        let mut c = Cursor::new(&self.raw);
        c.pos = off as usize;
        let n = c.uvarint().unwrap_or(0) as usize;
        let mut v = Vec::with_capacity(n.min(self.series.len()));
        let mut last = 0u64;
        for _ in 0..n {
            let Ok(d) = c.uvarint() else { break };
            last += d;
            v.push(last);
        }
        v
    }
}

fn read_chunk_metas(c: &mut Cursor) -> Result<Vec<ChunkMeta>, Malformed> {
    let nc = c.count(6)?;
    let mut chunks = Vec::with_capacity(nc);
    for _ in 0..nc {
        let mint = c.varint()?;
        let maxt = mint.wrapping_add(c.uvarint()? as i64);
        let n = c.uvarint()?;
        if n == 0 || n > u16::MAX as u64 {
            return Err(Malformed);
        }
        let seg = c.uvarint()? as u32;
        let off = c.uvarint()?;
        let len = c.uvarint()?;
        if len > (64 << 20) {
            return Err(Malformed);
        }
        chunks.push(ChunkMeta {
            mint,
            maxt,
            n: n as u32,
            seg,
            off,
            len: len as u32,
        });
    }
    Ok(chunks)
}

type ScannedIndex = (Vec<u32>, Vec<u32>, HashMap<u32, Vec<(u32, u32)>>);

/// Validates the whole index once and records offsets.
fn scan_index(raw: &[u8]) -> Result<ScannedIndex, Malformed> {
    let mut c = Cursor::new(raw);
    c.pos = INDEX_MAGIC.len();
    let nsym = c.count(1)?;
    let mut symbols = Vec::with_capacity(nsym);
    let mut prev: Option<&str> = None;
    for _ in 0..nsym {
        symbols.push(c.pos as u32);
        let s = c.str()?;
        if prev.is_some_and(|p| p >= s) {
            return Err(Malformed);
        }
        prev = Some(s);
    }
    let nser = c.count(1)?;
    let mut series = Vec::with_capacity(nser);
    for _ in 0..nser {
        series.push(c.pos as u32);
        let nl = c.count(2)?;
        for _ in 0..nl * 2 {
            if c.uvarint()? >= nsym as u64 {
                return Err(Malformed);
            }
        }
        read_chunk_metas(&mut c)?;
    }
    let np = c.count(3)?;
    let mut postings: HashMap<u32, Vec<(u32, u32)>> = HashMap::new();
    for _ in 0..np {
        let n = c.uvarint()?;
        let v = c.uvarint()?;
        if n >= nsym as u64 || v >= nsym as u64 {
            return Err(Malformed);
        }
        let off = c.pos as u32;
        let cnt = c.count(1)?;
        let mut last = 0u64;
        for _ in 0..cnt {
            last += c.uvarint()?;
            if last >= nser as u64 {
                return Err(Malformed);
            }
        }
        postings.entry(n as u32).or_default().push((v as u32, off));
    }
    for vals in postings.values_mut() {
        vals.sort_unstable_by_key(|x| x.0);
        vals.shrink_to_fit();
    }
    Ok((symbols, series, postings))
}

impl PostingsReader for Block {
    fn all_postings(&self) -> roaring::RoaringBitmap {
        let mut b = roaring::RoaringBitmap::new();
        b.insert_range(0..u32::try_from(self.series.len()).unwrap_or(u32::MAX));
        b
    }

    fn for_each_postings(
        &self,
        name: &str,
        exact: Option<&[String]>,
        pred: &dyn Fn(&str) -> bool,
        f: &mut dyn FnMut(PostingsRef<'_>),
    ) {
        let Some(n) = self.find_sym(name) else { return };
        let Some(vals) = self.postings.get(&n) else {
            return;
        };
        match exact {
            Some(list) => {
                for v in list {
                    if !pred(v) {
                        continue;
                    }
                    let Some(vs) = self.find_sym(v) else { continue };
                    if let Ok(pos) = vals.binary_search_by_key(&vs, |x| x.0) {
                        f(PostingsRef::Wide(&self.postings_at(vals[pos].1)));
                    }
                }
            }
            None => {
                for &(v, off) in vals {
                    if pred(self.sym(v)) {
                        f(PostingsRef::Wide(&self.postings_at(off)));
                    }
                }
            }
        }
    }

    fn label_values(&self, name: &str) -> Vec<String> {
        let Some(n) = self.find_sym(name) else {
            return Vec::new();
        };
        self.postings
            .get(&n)
            .map(|vals| vals.iter().map(|(v, _)| self.sym(*v).to_string()).collect())
            .unwrap_or_default()
    }

    fn label_names(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .postings
            .keys()
            .map(|n| self.sym(*n).to_string())
            .collect();
        v.sort();
        v
    }
}
