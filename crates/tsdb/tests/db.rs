use bongsu_model::storage::{AppendError, Appendable, Queryable, SelectHints};
use bongsu_model::{Labels, MatchOp, Matcher, Sample, STALE_NAN};
use bongsu_tsdb::{write_block, Db, Options};
use std::io::Write;
use std::path::Path;
use std::sync::Arc;

const H: i64 = 3_600_000;

fn opts(p: &Path) -> Options {
    Options {
        path: p.to_path_buf(),
        wal_fsync_interval: None,
        ..Default::default()
    }
}

fn lbl(name: &str, inst: &str) -> Labels {
    Labels::from_pairs([("__name__", name), ("instance", inst), ("job", "node")])
}

fn all() -> SelectHints {
    SelectHints {
        mint: i64::MIN,
        maxt: i64::MAX,
    }
}

fn eq(n: &str, v: &str) -> Matcher {
    Matcher::equal(n, v)
}

fn same(a: &[Sample], b: &[Sample]) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(x, y)| x.t == y.t && x.v.to_bits() == y.v.to_bits())
}

/// Appends `n` samples every `step` ms from `start` to two series per name.
fn fill(db: &Db, start: i64, n: i64, step: i64) {
    for i in 0..n {
        let mut app = db.appender();
        let t = start + i * step;
        for inst in ["a", "b"] {
            app.append(&lbl("up", inst), t, 1.0).unwrap();
            app.append(&lbl("cpu", inst), t, i as f64 * 0.25).unwrap();
        }
        app.commit().unwrap();
    }
}

#[test]
fn append_select_round_trip() {
    let d = tempfile::tempdir().unwrap();
    let db = Db::open(opts(d.path())).unwrap();
    let mut app = db.appender();
    let vals = [1.0, f64::NAN, STALE_NAN, f64::INFINITY, -0.0, 2.0];
    for (i, v) in vals.iter().enumerate() {
        app.append(&lbl("m", "x"), 1000 * i as i64, *v).unwrap();
    }
    app.append(&lbl("m", "y"), 0, 5.0).unwrap();
    app.commit().unwrap();
    let r = db.select(all(), &[eq("__name__", "m")]).unwrap();
    assert_eq!(r.len(), 2);
    assert_eq!(r[0].labels, lbl("m", "x"));
    let want: Vec<Sample> = vals
        .iter()
        .enumerate()
        .map(|(i, v)| Sample::new(1000 * i as i64, *v))
        .collect();
    assert!(same(&r[0].samples, &want));
    let r = db
        .select(
            SelectHints {
                mint: 1000,
                maxt: 2000,
            },
            &[eq("instance", "x")],
        )
        .unwrap();
    assert_eq!(r[0].samples.len(), 2);
    let re = Matcher::new(MatchOp::Regex, "instance", "x|z").unwrap();
    assert_eq!(db.select(all(), &[re]).unwrap().len(), 1);
    let ne = Matcher::new(MatchOp::NotEqual, "instance", "x").unwrap();
    assert_eq!(
        db.select(all(), &[eq("__name__", "m"), ne]).unwrap()[0].labels,
        lbl("m", "y")
    );
    assert_eq!(
        db.label_names(all(), &[]).unwrap(),
        vec!["__name__", "instance", "job"]
    );
    assert_eq!(
        db.label_values("instance", all(), &[]).unwrap(),
        vec!["x", "y"]
    );
    assert_eq!(
        db.label_values("instance", all(), &[eq("instance", "y")])
            .unwrap(),
        vec!["y"]
    );
    // rollback leaves nothing
    let mut app = db.appender();
    app.append(&lbl("m", "x"), 10_000, 1.0).unwrap();
    app.rollback();
    assert_eq!(
        db.select(all(), &[eq("instance", "x")]).unwrap()[0]
            .samples
            .len(),
        6
    );
    let st = db.stats();
    assert_eq!(st.head_series, 2);
    assert_eq!(st.samples_appended_total, 7);
    assert_eq!(st.series_created_total, 2);
    assert_eq!(st.head_active_appenders, 0);
}

#[test]
fn out_of_order_and_duplicates_are_counted() {
    let d = tempfile::tempdir().unwrap();
    let db = Db::open(opts(d.path())).unwrap();
    let l = lbl("m", "x");
    let mut app = db.appender();
    app.append(&l, 10_000, 1.0).unwrap();
    app.append(&l, 20_000, 2.0).unwrap();
    assert_eq!(app.append(&l, 15_000, 1.0), Err(AppendError::OutOfOrder));
    assert_eq!(
        app.append(&l, 20_000, 3.0),
        Err(AppendError::DuplicateTimestamp)
    );
    assert_eq!(app.append(&l, 20_000, 2.0), Ok(()));
    app.commit().unwrap();
    let mut app = db.appender();
    assert_eq!(app.append(&l, 5_000, 1.0), Err(AppendError::OutOfOrder));
    assert_eq!(
        app.append(&l, 20_000, 2.5),
        Err(AppendError::DuplicateTimestamp)
    );
    assert_eq!(app.append(&l, 20_000, 2.0), Ok(()));
    // far older than head max - block/2: out of bounds
    app.append(&l, 10 * H, 1.0).unwrap();
    app.commit().unwrap();
    let mut app = db.appender();
    assert_eq!(
        app.append(&lbl("m", "new"), 10 * H - 2 * H, 1.0),
        Err(AppendError::OutOfBounds)
    );
    app.commit().unwrap();
    let st = db.stats();
    assert_eq!(st.out_of_order_samples_total, 2);
    assert_eq!(st.duplicate_samples_total, 2);
    assert_eq!(st.out_of_bounds_samples_total, 1);
    assert_eq!(st.samples_appended_total, 3);
}

#[test]
fn wal_replay_after_drop_without_close() {
    let d = tempfile::tempdir().unwrap();
    {
        let db = Db::open(opts(d.path())).unwrap();
        fill(&db, 0, 500, 10_000);
        db.delete_series(&[eq("instance", "b"), eq("__name__", "up")], 0, 100_000)
            .unwrap();
        // no close: simulates kill -9 (data is in the OS page cache)
    }
    let db = Db::open(opts(d.path())).unwrap();
    let r = db.select(all(), &[eq("job", "node")]).unwrap();
    assert_eq!(r.len(), 4);
    for s in &r {
        let n = if s.labels == lbl("up", "b") { 489 } else { 500 };
        assert_eq!(s.samples.len(), n, "{}", s.labels);
    }
    let cpu = db
        .select(all(), &[eq("__name__", "cpu"), eq("instance", "a")])
        .unwrap();
    assert_eq!(cpu[0].samples[499], Sample::new(499 * 10_000, 499.0 * 0.25));
    assert_eq!(db.stats().wal_corruptions_total, 0);
    // appends continue after replay, and a second replay sees them
    fill(&db, 500 * 10_000, 10, 10_000);
    drop(db);
    let db = Db::open(opts(d.path())).unwrap();
    assert_eq!(
        db.select(all(), &[eq("__name__", "cpu"), eq("instance", "a")])
            .unwrap()[0]
            .samples
            .len(),
        510
    );
}

#[test]
fn torn_wal_tail_is_truncated() {
    let d = tempfile::tempdir().unwrap();
    {
        let db = Db::open(opts(d.path())).unwrap();
        fill(&db, 0, 100, 10_000);
    }
    // append a torn record to the newest segment
    let wal = d.path().join("wal");
    let mut segs: Vec<_> = std::fs::read_dir(&wal)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    segs.sort();
    let last = segs.last().unwrap();
    let mut f = std::fs::OpenOptions::new().append(true).open(last).unwrap();
    f.write_all(&[200, 0, 0, 0, 1, 2, 3, 4, 2, 9, 9]).unwrap();
    drop(f);
    let db = Db::open(opts(d.path())).unwrap();
    assert_eq!(db.stats().wal_corruptions_total, 1);
    assert_eq!(
        db.select(all(), &[eq("__name__", "up")]).unwrap()[0]
            .samples
            .len(),
        100
    );
    fill(&db, 100 * 10_000, 5, 10_000);
    drop(db);
    let db = Db::open(opts(d.path())).unwrap();
    assert_eq!(db.stats().wal_corruptions_total, 0);
    assert_eq!(
        db.select(all(), &[eq("__name__", "up")]).unwrap()[0]
            .samples
            .len(),
        105
    );
}

#[test]
fn head_is_cut_into_blocks_and_survives_restart() {
    let d = tempfile::tempdir().unwrap();
    let n = 5 * H / 15_000; // 5 h at 15 s
    {
        let db = Db::open(opts(d.path())).unwrap();
        fill(&db, 0, n, 15_000);
        db.maintenance().unwrap();
        let st = db.stats();
        assert!(st.blocks_loaded >= 1, "{st:?}");
        assert!(st.head_min_time >= 2 * H, "{st:?}");
        assert_eq!(st.checkpoint_creations_total, st.head_truncations_total);
        let r = db.select(all(), &[eq("__name__", "cpu")]).unwrap();
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].samples.len() as i64, n);
        assert!(r[0].samples.windows(2).all(|w| w[1].t - w[0].t == 15_000));
        // a sample inside the persisted range is out of bounds now
        let mut app = db.appender();
        assert_eq!(
            app.append(&lbl("cpu", "a"), H, 1.0),
            Err(AppendError::OutOfBounds)
        );
        app.rollback();
    }
    let db = Db::open(opts(d.path())).unwrap();
    let r = db.select(all(), &[eq("__name__", "cpu")]).unwrap();
    assert_eq!(r[1].samples.len() as i64, n);
    assert_eq!(r[1].samples[(n - 1) as usize].v, (n - 1) as f64 * 0.25);
    let snap = tempfile::tempdir().unwrap();
    db.snapshot(snap.path(), true).unwrap();
    let dirs = std::fs::read_dir(snap.path()).unwrap().count();
    assert_eq!(dirs as u64, db.stats().blocks_loaded + 1);
    // a snapshot directory opens as a store with the same data
    let s = Db::open(opts(snap.path())).unwrap();
    assert_eq!(
        s.select(all(), &[eq("__name__", "cpu")]).unwrap()[1]
            .samples
            .len() as i64,
        n
    );
}

#[test]
fn compaction_and_retention() {
    let d = tempfile::tempdir().unwrap();
    let mut o = opts(d.path());
    o.retention_time_ms = Some(10 * H);
    let db = Db::open(o.clone()).unwrap();
    // 14 h at 60 s: cuts 2 h blocks, compacts aligned 6 h windows
    fill(&db, 0, 14 * H / 60_000, 60_000);
    db.maintenance().unwrap();
    let st = db.stats();
    assert!(st.compactions_total >= 1, "{st:?}");
    let r = db
        .select(all(), &[eq("__name__", "up"), eq("instance", "a")])
        .unwrap();
    // retention: newest block ends at 12 h, so blocks ending <= 2 h are gone
    let first = r[0].samples[0].t;
    assert!(first >= 0, "{first}");
    assert_eq!(*r[0].samples.last().map(|s| &s.t).unwrap(), 14 * H - 60_000);
    assert!(r[0].samples.windows(2).all(|w| w[1].t - w[0].t == 60_000));
    drop(db);
    let mut o2 = o.clone();
    o2.retention_time_ms = Some(3 * H);
    let db = Db::open(o2).unwrap();
    db.maintenance().unwrap();
    let st = db.stats();
    assert!(st.time_retentions_total >= 1, "{st:?}");
    let r = db
        .select(all(), &[eq("__name__", "up"), eq("instance", "a")])
        .unwrap();
    assert!(r[0].samples[0].t >= 6 * H, "{}", r[0].samples[0].t);
    // size retention drops the oldest blocks
    drop(db);
    let mut o3 = o.clone();
    o3.retention_size_bytes = Some(1);
    let db = Db::open(o3).unwrap();
    db.maintenance().unwrap();
    assert_eq!(db.stats().blocks_loaded, 0);
    assert!(db.stats().size_retentions_total >= 1);
}

#[test]
fn delete_series_and_clean_tombstones() {
    let d = tempfile::tempdir().unwrap();
    let db = Db::open(opts(d.path())).unwrap();
    fill(&db, 0, 5 * H / 30_000, 30_000);
    db.maintenance().unwrap();
    assert!(db.stats().blocks_loaded >= 1);
    let ms = [eq("__name__", "cpu"), eq("instance", "a")];
    db.delete_series(&ms, H, 4 * H).unwrap();
    let check = |db: &Db| {
        let r = db.select(all(), &ms).unwrap();
        assert!(r[0].samples.iter().all(|s| s.t < H || s.t > 4 * H));
        assert_eq!(
            r[0].samples.len() as i64,
            5 * H / 30_000 - (3 * H / 30_000 + 1)
        );
        let other = db
            .select(all(), &[eq("__name__", "cpu"), eq("instance", "b")])
            .unwrap();
        assert_eq!(other[0].samples.len() as i64, 5 * H / 30_000);
    };
    check(&db);
    drop(db);
    let db = Db::open(opts(d.path())).unwrap();
    check(&db);
    db.clean_tombstones().unwrap();
    check(&db);
    assert!(db.stats().tombstone_cleanups_total >= 1);
}

#[test]
fn write_block_is_readable() {
    let d = tempfile::tempdir().unwrap();
    let series: Vec<(Labels, Vec<Sample>)> = (0..20)
        .map(|i| {
            let l = lbl("imported", &format!("i{i}"));
            let s = (0..300)
                .map(|j| Sample::new(j * 10_000, (i * 1000 + j) as f64))
                .collect();
            (l, s)
        })
        .collect();
    let meta = write_block(d.path(), series).unwrap();
    assert_eq!(meta.stats.num_series, 20);
    assert_eq!(meta.stats.num_samples, 6000);
    assert_eq!((meta.min_time, meta.max_time), (0, 299 * 10_000 + 1));
    let json = std::fs::read_to_string(d.path().join(&meta.ulid).join("meta.json")).unwrap();
    assert!(json.contains("\"minTime\"") && json.contains("\"numSamples\""));
    let db = Db::open(opts(d.path())).unwrap();
    let r = db.select(all(), &[eq("instance", "i7")]).unwrap();
    assert_eq!(r[0].samples.len(), 300);
    assert_eq!(r[0].samples[5].v, 7005.0);
    let st = db.status(5);
    assert_eq!(st.head_stats.num_series, 0);
}

#[test]
fn concurrent_appends_and_queries() {
    let d = tempfile::tempdir().unwrap();
    let db = Db::open(opts(d.path())).unwrap();
    let mut hs = Vec::new();
    for th in 0..4 {
        let db: Arc<Db> = db.clone();
        hs.push(std::thread::spawn(move || {
            for i in 0..200i64 {
                let mut app = db.appender();
                for s in 0..50 {
                    app.append(&lbl("c", &format!("t{th}s{s}")), i * 1000, i as f64)
                        .unwrap();
                }
                app.commit().unwrap();
                if i % 50 == 0 {
                    let _ = db.select(all(), &[eq("__name__", "c")]).unwrap();
                }
            }
        }));
    }
    for h in hs {
        h.join().unwrap();
    }
    let r = db.select(all(), &[eq("__name__", "c")]).unwrap();
    assert_eq!(r.len(), 200);
    assert!(r.iter().all(|s| s.samples.len() == 200));
    let st = db.status(3);
    assert_eq!(st.series_count_by_metric_name, vec![("c".to_string(), 200)]);
    assert_eq!(st.head_stats.num_series, 200);
    assert_eq!(st.series_count_by_label_value_pair.len(), 3);
    db.close().unwrap();
}

#[test]
fn second_open_is_refused_while_locked() {
    let d = tempfile::tempdir().unwrap();
    let _db = Db::open(opts(d.path())).unwrap();
    assert!(Db::open(opts(d.path())).is_err());
}

#[test]
fn leftovers_of_a_crashed_compaction_are_dropped() {
    let d = tempfile::tempdir().unwrap();
    let mk = |from: i64, to: i64| -> Vec<(Labels, Vec<Sample>)> {
        vec![(
            lbl("x", "a"),
            (from..to)
                .map(|i| Sample::new(i * 60_000, i as f64))
                .collect(),
        )]
    };
    let a = write_block(d.path(), mk(0, 100)).unwrap();
    let b = write_block(d.path(), mk(100, 200)).unwrap();
    let c = write_block(d.path(), mk(0, 200)).unwrap();
    let meta_path = d.path().join(&c.ulid).join("meta.json");
    let json = std::fs::read_to_string(&meta_path).unwrap();
    let json = json.replace("\"level\": 1", "\"level\": 2").replace(
        &format!("\"{}\"", c.ulid),
        &format!("\"{}\", \"{}\"", a.ulid, b.ulid),
    );
    // keep the block's own ulid field intact
    let json = json.replacen(
        &format!("\"ulid\": \"{}\", \"{}\"", a.ulid, b.ulid),
        &format!("\"ulid\": \"{}\"", c.ulid),
        1,
    );
    std::fs::write(&meta_path, json).unwrap();
    let db = Db::open(opts(d.path())).unwrap();
    assert_eq!(db.stats().blocks_loaded, 1, "{:?}", db.stats());
    assert!(!d.path().join(&a.ulid).exists() && !d.path().join(&b.ulid).exists());
    assert_eq!(
        db.select(all(), &[eq("__name__", "x")]).unwrap()[0]
            .samples
            .len(),
        200
    );
}

#[test]
fn appends_race_with_maintenance() {
    let d = tempfile::tempdir().unwrap();
    let db = Db::open(opts(d.path())).unwrap();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let db = db.clone();
        std::thread::spawn(move || {
            // 8 h at 60 s for 20 series, committed in scrape-sized batches
            for i in 0..(8 * H / 60_000) {
                let mut app = db.appender();
                for s in 0..20 {
                    app.append(&lbl("r", &format!("s{s}")), i * 60_000, i as f64)
                        .unwrap();
                }
                app.commit().unwrap();
            }
        })
    };
    let maint = {
        let db = db.clone();
        let stop = stop.clone();
        std::thread::spawn(move || {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                db.maintenance().unwrap();
                let _ = db.select(all(), &[eq("__name__", "r")]).unwrap();
            }
        })
    };
    writer.join().unwrap();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    maint.join().unwrap();
    db.maintenance().unwrap();
    let check = |db: &Db| {
        let r = db.select(all(), &[eq("__name__", "r")]).unwrap();
        assert_eq!(r.len(), 20);
        for s in &r {
            assert_eq!(s.samples.len() as i64, 8 * H / 60_000, "{}", s.labels);
            assert!(s
                .samples
                .iter()
                .enumerate()
                .all(|(i, x)| x.t == i as i64 * 60_000 && x.v == i as f64));
        }
    };
    check(&db);
    assert!(db.stats().blocks_loaded >= 1);
    drop(db);
    let db = Db::open(opts(d.path())).unwrap();
    check(&db);
}

#[test]
fn corrupt_blocks_give_errors_not_panics() {
    let d = tempfile::tempdir().unwrap();
    let series = vec![(
        lbl("x", "a"),
        (0..500)
            .map(|i| Sample::new(i * 1000, i as f64 * 0.5))
            .collect::<Vec<_>>(),
    )];
    let meta = write_block(d.path(), series.clone()).unwrap();
    let bdir = d.path().join(&meta.ulid);
    // flip a byte in the chunk data: the query fails with an error
    let seg = bdir.join("chunks").join("000001");
    let mut data = std::fs::read(&seg).unwrap();
    data[3] ^= 0xff;
    std::fs::write(&seg, &data).unwrap();
    {
        let db = Db::open(opts(d.path())).unwrap();
        assert!(db.select(all(), &[eq("__name__", "x")]).is_err());
    }
    // flip a byte in the index: open fails with a message naming the block
    let idx = bdir.join("index");
    let mut data = std::fs::read(&idx).unwrap();
    let mid = data.len() / 2;
    data[mid] ^= 0x55;
    std::fs::write(&idx, &data).unwrap();
    let err = Db::open(opts(d.path())).err().unwrap().to_string();
    assert!(err.contains(&meta.ulid) && err.contains("index"), "{err}");
}

#[test]
fn sealed_head_chunks_are_packed_by_maintenance() {
    let d = tempfile::tempdir().unwrap();
    let db = Db::open(opts(d.path())).unwrap();
    // 1 h at 10 s: below the cut threshold, so everything stays in the head
    for i in 0..360i64 {
        let mut app = db.appender();
        app.append(
            &lbl("cpu", "a"),
            i * 10_000,
            1000.0 + (i * 37 % 100) as f64 * 0.01 + i as f64 * 1.5,
        )
        .unwrap();
        app.commit().unwrap();
    }
    let before = db.select(all(), &[eq("__name__", "cpu")]).unwrap();
    db.maintenance().unwrap();
    let st = db.stats();
    assert_eq!(st.blocks_loaded, 0);
    assert!(
        st.head_chunk_bytes > 0 && st.head_chunk_bytes < 360 * 3,
        "{st:?}"
    );
    assert_eq!(db.select(all(), &[eq("__name__", "cpu")]).unwrap(), before);
    drop(db);
    let db = Db::open(opts(d.path())).unwrap();
    assert_eq!(db.select(all(), &[eq("__name__", "cpu")]).unwrap(), before);
}

#[test]
fn label_apis_respect_the_time_range() {
    let d = tempfile::tempdir().unwrap();
    let db = Db::open(opts(d.path())).unwrap();
    let mut app = db.appender();
    app.append(&lbl("m", "x"), 10 * H, 1.0).unwrap();
    app.commit().unwrap();
    let before = SelectHints { mint: 0, maxt: H };
    assert!(db.label_values("instance", before, &[]).unwrap().is_empty());
    assert!(db.label_names(before, &[]).unwrap().is_empty());
    assert!(db
        .label_values("instance", before, &[eq("__name__", "m")])
        .unwrap()
        .is_empty());
    assert_eq!(
        db.label_values("instance", all(), &[eq("__name__", "m")])
            .unwrap(),
        vec!["x"]
    );
    assert_eq!(
        db.series(all(), &[eq("__name__", "m")]).unwrap(),
        vec![lbl("m", "x")]
    );
}

#[test]
fn extreme_timestamps_do_not_panic() {
    let d = tempfile::tempdir().unwrap();
    let db = Db::open(opts(d.path())).unwrap();
    let mut app = db.appender();
    app.append(&lbl("e", "min"), i64::MIN + 1, 1.0).unwrap();
    app.append(&lbl("e", "min"), i64::MIN + 2, f64::NAN)
        .unwrap();
    app.commit().unwrap();
    let mut app = db.appender();
    app.append(&lbl("e", "max"), i64::MAX - 1, 2.0).unwrap();
    app.append(&lbl("e", "max"), i64::MAX, 3.0).unwrap();
    app.commit().unwrap();
    db.maintenance().unwrap();
    db.maintenance().unwrap();
    let r = db.select(all(), &[eq("__name__", "e")]).unwrap();
    assert!(!r.is_empty());
    drop(db);
    let db = Db::open(opts(d.path())).unwrap();
    db.maintenance().unwrap();
    let _ = db.select(all(), &[eq("__name__", "e")]).unwrap();
    let _ = write_block(
        d.path(),
        vec![(
            lbl("w", "x"),
            vec![Sample::new(i64::MIN, 1.0), Sample::new(i64::MAX, 2.0)],
        )],
    )
    .unwrap();
}

#[test]
fn fsync_per_commit_mode_works() {
    let d = tempfile::tempdir().unwrap();
    let mut o = opts(d.path());
    o.wal_fsync_interval = Some(std::time::Duration::ZERO);
    {
        let db = Db::open(o.clone()).unwrap();
        fill(&db, 0, 3, 10_000);
    }
    let mut o2 = opts(d.path());
    o2.wal_fsync_interval = Some(std::time::Duration::from_millis(20));
    let db = Db::open(o2).unwrap();
    assert_eq!(
        db.select(all(), &[eq("__name__", "up")]).unwrap()[0]
            .samples
            .len(),
        3
    );
    fill(&db, 30_000, 3, 10_000);
    std::thread::sleep(std::time::Duration::from_millis(60));
    db.close().unwrap();
}

#[test]
fn readers_never_see_half_a_commit() {
    let d = tempfile::tempdir().unwrap();
    let db = Db::open(opts(d.path())).unwrap();
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let db = db.clone();
        let done = done.clone();
        std::thread::spawn(move || {
            for i in 0..500i64 {
                let mut app = db.appender();
                for s in 0..40 {
                    app.append(&lbl("iso", &format!("s{s}")), i * 1000, i as f64)
                        .unwrap();
                }
                app.commit().unwrap();
            }
            done.store(true, std::sync::atomic::Ordering::SeqCst);
        })
    };
    let mut checks = 0;
    while !done.load(std::sync::atomic::Ordering::SeqCst) {
        let r = db.select(all(), &[eq("__name__", "iso")]).unwrap();
        if r.is_empty() {
            continue;
        }
        assert_eq!(r.len(), 40);
        let last: Vec<i64> = r.iter().map(|s| s.samples.last().unwrap().t).collect();
        assert!(
            last.iter().all(|&t| t == last[0]),
            "partial commit visible: {last:?}"
        );
        checks += 1;
    }
    writer.join().unwrap();
    assert!(checks > 0);
}

#[test]
fn a_foreign_wal_is_left_alone() {
    let d = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(d.path().join("wal")).unwrap();
    let foreign = vec![
        1u8, 0, 20, 0xde, 0xad, 0xbe, 0xef, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9,
        9, 9,
    ];
    std::fs::write(d.path().join("wal").join("00000000"), &foreign).unwrap();
    let err = Db::open(opts(d.path())).err().unwrap().to_string();
    assert!(err.contains("not a Bongsu WAL"), "{err}");
    assert_eq!(
        std::fs::read(d.path().join("wal").join("00000000")).unwrap(),
        foreign
    );
}

/// Selects of many series run on several threads (head parts sorted, then
/// merged): the result is every matching series once, sorted by labels,
/// with its own samples — inserted in an order unlike label order.
#[test]
fn large_select_is_sorted_and_complete() {
    let d = tempfile::tempdir().unwrap();
    let db = Db::open(opts(d.path())).unwrap();
    let n = 20_000u64;
    for round in 0..3i64 {
        let mut app = db.appender();
        for i in 0..n {
            // a permutation of 0..n, so ids and label order disagree
            let k = (i * 7_919) % n;
            let l = Labels::from_pairs([("__name__", "m"), ("k", &format!("{k:05}")), ("parity", if k & 1 == 0 { "even" } else { "odd" })]);
            app.append(&l, round * 1000, (k as i64 * 10 + round) as f64).unwrap();
        }
        app.commit().unwrap();
    }
    let r = db.select(all(), &[eq("__name__", "m")]).unwrap();
    assert_eq!(r.len(), n as usize);
    for (i, s) in r.iter().enumerate() {
        assert_eq!(s.labels.get("k"), Some(format!("{i:05}").as_str()));
        let want: Vec<Sample> = (0..3).map(|round| Sample::new(round * 1000, (i as i64 * 10 + round) as f64)).collect();
        assert!(same(&s.samples, &want), "series {i}");
    }
    let r = db.select(all(), &[eq("__name__", "m"), eq("parity", "odd")]).unwrap();
    assert_eq!(r.len(), n as usize / 2);
    assert!(r.windows(2).all(|w| w[0].labels < w[1].labels));
}
