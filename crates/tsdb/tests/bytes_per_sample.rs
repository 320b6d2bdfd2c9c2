//! Measures block bytes per sample on realistic node-exporter-like series
//! (2 h at 10 s = 720 samples each). Run with `--nocapture` to see figures.

use bongsu_model::{Labels, Sample};
use bongsu_tsdb::{colenc, write_block};
use rand::{Rng, SeedableRng};

const N: usize = 720;
const STEP: i64 = 10_000;
const T0: i64 = 1_764_000_000_000;

fn times(rng: &mut impl Rng, jitter: bool) -> Vec<i64> {
    (0..N as i64)
        .map(|i| T0 + i * STEP + if jitter { rng.gen_range(-3..=3) } else { 0 })
        .collect()
}

fn kinds(rng: &mut impl Rng, jitter: bool) -> Vec<(&'static str, Vec<Sample>)> {
    let mut out = Vec::new();
    // CPU seconds counter in 0.01 steps (one mode of one core)
    let ts = times(rng, jitter);
    let busy: f64 = rng.gen_range(0.0..1.0);
    let mut c: i64 = rng.gen_range(0..100_000_000);
    out.push((
        "cpu_seconds",
        ts.iter()
            .map(|&t| {
                c += (busy * 1000.0 * rng.gen_range(0.8..1.2)) as i64;
                Sample::new(t, c as f64 / 100.0)
            })
            .collect(),
    ));
    // byte counter
    let ts = times(rng, jitter);
    let rate: u64 = rng.gen_range(100..100_000);
    let mut b: u64 = rng.gen_range(0..1 << 40);
    out.push((
        "bytes_total",
        ts.iter()
            .map(|&t| {
                b += rate * 10 + rng.gen_range(0..rate);
                Sample::new(t, b as f64)
            })
            .collect(),
    ));
    // memory gauge in 4 KiB pages
    let ts = times(rng, jitter);
    let mut pages: i64 = rng.gen_range(10_000..4_000_000);
    out.push((
        "memory_bytes",
        ts.iter()
            .map(|&t| {
                if rng.gen_bool(0.3) {
                    pages += rng.gen_range(-50..=50);
                }
                Sample::new(t, (pages * 4096) as f64)
            })
            .collect(),
    ));
    // load average with two decimals
    let ts = times(rng, jitter);
    let mut l: i64 = rng.gen_range(0..400);
    out.push((
        "load1",
        ts.iter()
            .map(|&t| {
                l = (l + rng.gen_range(-5..=5)).max(0);
                Sample::new(t, l as f64 / 100.0)
            })
            .collect(),
    ));
    // up
    let ts = times(rng, jitter);
    out.push(("up", ts.iter().map(|&t| Sample::new(t, 1.0)).collect()));
    out
}

#[test]
fn block_bytes_per_sample() {
    for jitter in [false, true] {
        let mut rng = rand::rngs::StdRng::seed_from_u64(42);
        let mut per_kind: std::collections::BTreeMap<&str, (usize, usize, usize)> =
            Default::default();
        let mut per_kind120: std::collections::BTreeMap<&str, usize> = Default::default();
        let mut series = Vec::new();
        for i in 0..100 {
            for (k, s) in kinds(&mut rng, jitter) {
                let enc = colenc::encode(&s);
                let xor = bongsu_tsdb::chunkenc::encode(&s);
                let c120: usize = s.chunks(120).map(|c| colenc::encode(c).len()).sum();
                let e3 = per_kind120.entry(k).or_default();
                *e3 += c120;
                let e = per_kind.entry(k).or_default();
                e.0 += enc.len();
                e.1 += xor.len();
                e.2 += s.len();
                assert_eq!(colenc::decode(&enc, s.len()).unwrap().len(), s.len());
                let l = Labels::from_pairs([
                    ("__name__", k.to_string()),
                    ("instance", format!("host{i}:9100")),
                    ("job", "node".into()),
                ]);
                series.push((l, s));
            }
        }
        let mut total = (0, 0, 0);
        for (k, (enc, xor, n)) in &per_kind {
            println!(
                "jitter={jitter} {k:>14}: block {:.3} B/sample, head XOR {:.3} B/sample, packed 120-sample head chunks {:.3}",
                *enc as f64 / *n as f64,
                *xor as f64 / *n as f64,
                per_kind120[k] as f64 / *n as f64
            );
            total.0 += enc;
            total.1 += xor;
            total.2 += n;
        }
        let bps = total.0 as f64 / total.2 as f64;
        println!(
            "jitter={jitter} all: block chunks {bps:.3} B/sample, head XOR {:.3} B/sample",
            total.1 as f64 / total.2 as f64
        );
        let d = tempfile::tempdir().unwrap();
        let n_series = series.len();
        let meta = write_block(d.path(), series).unwrap();
        let dir = d.path().join(&meta.ulid);
        let chunks: u64 = std::fs::read_dir(dir.join("chunks"))
            .unwrap()
            .map(|e| e.unwrap().metadata().unwrap().len())
            .sum();
        let index = std::fs::metadata(dir.join("index")).unwrap().len();
        println!(
            "jitter={jitter} block on disk: {:.3} B/sample incl. index; index {:.1} B/series",
            (chunks + index) as f64 / meta.stats.num_samples as f64,
            index as f64 / n_series as f64
        );
        if !jitter {
            assert!(bps < 1.0, "block bytes/sample regressed: {bps}");
        }
    }
}

/// Counts live heap bytes (requested sizes, without malloc's own overhead).
struct Counting;
static LIVE: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

unsafe impl std::alloc::GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: std::alloc::Layout) -> *mut u8 {
        LIVE.fetch_add(l.size(), std::sync::atomic::Ordering::Relaxed);
        unsafe { std::alloc::System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: std::alloc::Layout) {
        LIVE.fetch_sub(l.size(), std::sync::atomic::Ordering::Relaxed);
        unsafe { std::alloc::System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: std::alloc::Layout, n: usize) -> *mut u8 {
        LIVE.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
        LIVE.fetch_sub(l.size(), std::sync::atomic::Ordering::Relaxed);
        unsafe { std::alloc::System.realloc(p, l, n) }
    }
}

#[global_allocator]
static A: Counting = Counting;

fn heap_bytes() -> u64 {
    LIVE.load(std::sync::atomic::Ordering::Relaxed) as u64
}

/// Head memory per active series (run alone: `cargo test -p bongsu-tsdb
/// --test bytes_per_sample -- --ignored --nocapture head_memory`).
#[test]
#[ignore]
fn head_memory_per_series() {
    use bongsu_model::storage::Appendable;
    let d = tempfile::tempdir().unwrap();
    let db = bongsu_tsdb::Db::open(bongsu_tsdb::Options {
        path: d.path().to_path_buf(),
        wal_fsync_interval: None,
        ..Default::default()
    })
    .unwrap();
    let n = 300_000;
    let labels: Vec<Labels> = (0..n)
        .map(|i| {
            Labels::from_pairs([
                ("__name__", format!("metric_{}", i % 500)),
                ("instance", format!("host{}:9100", i / 2000)),
                ("job", "node".to_string()),
                ("cpu", format!("{}", i % 64)),
                (
                    "mode",
                    ["idle", "user", "system", "iowait"][i % 4].to_string(),
                ),
                ("env", "prod".to_string()),
            ])
        })
        .collect();
    let mut marks = vec![heap_bytes()];
    for (k, range) in [(0, 0..100_000usize), (1, 100_000..n)] {
        for round in 0..3i64 {
            for part in labels[range.clone()].chunks(10_000) {
                let mut app = db.appender();
                for l in part {
                    app.append(l, T0 + round * STEP, 1.0 + round as f64)
                        .unwrap();
                }
                app.commit().unwrap();
            }
        }
        let _ = k;
        marks.push(heap_bytes());
    }
    println!(
        "head: {} series, {:.0} B/series live heap at 100k, {:.0} at {} (6 labels, 3 samples each)",
        n,
        (marks[1] - marks[0]) as f64 / 100_000.0,
        (marks[2] - marks[0]) as f64 / n as f64,
        n
    );
}

/// Append and select throughput (ignored; run with --ignored --nocapture).
#[test]
#[ignore]
fn append_throughput() {
    use bongsu_model::storage::{Appendable, Queryable, SelectHints};
    let d = tempfile::tempdir().unwrap();
    let db = bongsu_tsdb::Db::open(bongsu_tsdb::Options {
        path: d.path().to_path_buf(),
        wal_fsync_interval: None,
        ..Default::default()
    })
    .unwrap();
    let labels: Vec<Labels> = (0..50_000)
        .map(|i| {
            Labels::from_pairs([
                ("__name__", format!("m{}", i % 100)),
                ("instance", format!("h{}", i / 100)),
                ("job", "node".into()),
            ])
        })
        .collect();
    let start = std::time::Instant::now();
    let rounds = 20;
    for r in 0..rounds {
        for part in labels.chunks(1000) {
            let mut app = db.appender();
            for l in part {
                app.append(l, T0 + r * STEP, r as f64).unwrap();
            }
            app.commit().unwrap();
        }
    }
    let el = start.elapsed();
    println!(
        "append: {:.0} samples/s",
        (labels.len() as f64 * rounds as f64) / el.as_secs_f64()
    );
    println!(
        "wal: {:.1} bytes/sample",
        db.stats().wal_bytes as f64 / (labels.len() as f64 * rounds as f64)
    );
    let start = std::time::Instant::now();
    let r = db
        .select(
            SelectHints {
                mint: i64::MIN,
                maxt: i64::MAX,
            },
            &[bongsu_model::Matcher::equal("job", "node")],
        )
        .unwrap();
    println!("select all: {} series in {:?}", r.len(), start.elapsed());
    let start = std::time::Instant::now();
    drop(db);
    let db = bongsu_tsdb::Db::open(bongsu_tsdb::Options {
        path: d.path().to_path_buf(),
        wal_fsync_interval: None,
        ..Default::default()
    })
    .unwrap();
    println!(
        "replay: {:?} ({} series)",
        start.elapsed(),
        db.stats().head_series
    );
}
