//! Randomized model test: appends, deletes, maintenance (cuts, compaction),
//! tombstone cleaning and restarts (drop without close) against a plain map.
//! Checks that nothing acknowledged is lost and nothing deleted returns.

use bongsu_model::storage::{Appendable, Queryable, SelectHints};
use bongsu_model::{Labels, Matcher, Sample, STALE_NAN};
use bongsu_tsdb::{Db, Options};
use rand::{Rng, SeedableRng};
use std::collections::BTreeMap;
use std::sync::Arc;

const H: i64 = 3_600_000;

type Model = BTreeMap<Labels, BTreeMap<i64, u64>>;

fn open(p: &std::path::Path) -> Arc<Db> {
    Db::open(Options {
        path: p.to_path_buf(),
        wal_fsync_interval: None,
        retention_time_ms: Some(0),
        ..Default::default()
    })
    .unwrap()
}

fn check(db: &Db, model: &Model, ctx: &str) {
    let got = db
        .select(
            SelectHints {
                mint: i64::MIN,
                maxt: i64::MAX,
            },
            &[Matcher::equal("job", "j")],
        )
        .unwrap();
    let got: BTreeMap<Labels, Vec<Sample>> =
        got.into_iter().map(|s| (s.labels, s.samples)).collect();
    let want: BTreeMap<Labels, Vec<Sample>> = model
        .iter()
        .filter(|(_, m)| !m.is_empty())
        .map(|(l, m)| {
            (
                l.clone(),
                m.iter()
                    .map(|(&t, &v)| Sample::new(t, f64::from_bits(v)))
                    .collect(),
            )
        })
        .collect();
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>(),
        "{ctx}: series differ"
    );
    for (l, w) in &want {
        let g = &got[l];
        assert_eq!(g.len(), w.len(), "{ctx}: {l} sample count");
        for (a, b) in g.iter().zip(w) {
            assert!(
                a.t == b.t && a.v.to_bits() == b.v.to_bits(),
                "{ctx}: {l} {a:?} != {b:?}"
            );
        }
    }
}

#[test]
fn random_operations_match_a_model() {
    for seed in 0..3u64 {
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let d = tempfile::tempdir().unwrap();
        let mut db = open(d.path());
        let mut model: Model = BTreeMap::new();
        let series: Vec<Labels> = (0..6)
            .map(|i| {
                Labels::from_pairs([
                    ("__name__", format!("m{}", i % 2)),
                    ("i", i.to_string()),
                    ("job", "j".to_string()),
                ])
            })
            .collect();
        let mut now: i64 = 1_000_000;
        let mut totals = (0u64, 0u64, 0u64);
        let add = |db: &Db, t: &mut (u64, u64, u64)| {
            let st = db.stats();
            t.0 += st.compactions_total;
            t.1 += st.head_truncations_total;
            t.2 += st.tombstone_cleanups_total;
        };
        for op in 0..160 {
            let ctx = format!("seed {seed} op {op}");
            match rng.gen_range(0..20) {
                0..=13 => {
                    let jump = if rng.gen_bool(0.1) { 3 * H } else { 900_000 };
                    now += rng.gen_range(1..jump);
                    let mut app = db.appender();
                    let mut added: Vec<(Labels, i64)> = Vec::new();
                    for l in &series {
                        if rng.gen_bool(0.2) {
                            continue;
                        }
                        let t = if rng.gen_bool(0.05) {
                            now - rng.gen_range(0..600_000)
                        } else {
                            now
                        };
                        let v = match rng.gen_range(0..10) {
                            0 => STALE_NAN,
                            1 => f64::NAN,
                            2 => -0.0,
                            _ => (rng.gen_range(0..10_000) as f64) / 100.0,
                        };
                        if app.append(l, t, v).is_ok()
                            && model
                                .entry(l.clone())
                                .or_default()
                                .insert(t, v.to_bits())
                                .is_none()
                        {
                            added.push((l.clone(), t));
                        }
                    }
                    if rng.gen_bool(0.05) {
                        app.rollback();
                        for (l, t) in added {
                            if let Some(m) = model.get_mut(&l) {
                                m.remove(&t);
                            }
                        }
                    } else {
                        app.commit().unwrap();
                    }
                }
                14 | 15 => {
                    db.maintenance().unwrap();
                }
                16 => {
                    let l = &series[rng.gen_range(0..series.len())];
                    let a = now - rng.gen_range(0..6 * H);
                    let b = a + rng.gen_range(0..2 * H);
                    let ms = [Matcher::equal("i", l.get("i").unwrap_or_default())];
                    db.delete_series(&ms, a, b).unwrap();
                    if let Some(m) = model.get_mut(l) {
                        m.retain(|&t, _| t < a || t > b);
                    }
                }
                17 => {
                    db.clean_tombstones().unwrap();
                }
                _ => {
                    add(&db, &mut totals);
                    drop(db);
                    db = open(d.path());
                }
            }
            check(&db, &model, &ctx);
        }
        add(&db, &mut totals);
        drop(db);
        let db = open(d.path());
        check(&db, &model, &format!("seed {seed} final reopen"));
        eprintln!(
            "seed {seed}: blocks {} (compactions, truncations, tombstone cleanups) {totals:?}",
            db.stats().blocks_loaded
        );
    }
}
