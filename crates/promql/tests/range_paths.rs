//! The two evaluation paths must agree to the bit (range and instant queries): the series-at-a-time
//! evaluation (`engine/range.rs`) against the step-at-a-time evaluator
//! (`series_at_a_time: false`), on hand-picked and seeded random
//! expressions, with and without delayed name removal and with and without
//! `use-start-timestamps`, over data with counter resets, NaN, stale
//! markers, gaps, series that end early, metrics that differ only in their
//! name (the collision cases) and counters with start timestamps (deltas,
//! start-timestamp resets, overlapping start times, some samples without).
use bongsu_model::{Labels, STALE_NAN};
use bongsu_promql::engine::{Engine, EngineOptions, QueryResult, Value};
use bongsu_promql::memstore::MemStore;

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[self.below(xs.len())]
    }
}

fn store() -> MemStore {
    let s = MemStore::new();
    let mut r = Rng(7);
    let mut st_rng = Rng(11);
    let l = |pairs: &[(&str, &str)]| {
        Labels::from_pairs(pairs.iter().map(|(a, b)| (a.to_string(), b.to_string())))
    };
    for job in ["api", "db"] {
        for inst in ["a", "b", "c"] {
            for mode in ["user", "idle"] {
                // counters with resets, one ending early, one with a stale marker
                let mut v = 0.0;
                for i in 0..120 {
                    let t = i * 15_000 + (r.below(900) as i64);
                    if inst == "c" && mode == "idle" && i > 70 {
                        break;
                    }
                    v += r.below(50) as f64;
                    if i == 60 && inst == "b" {
                        v = 3.0;
                    }
                    let val = if inst == "a" && mode == "user" && i == 90 {
                        STALE_NAN
                    } else {
                        v
                    };
                    s.add(
                        l(&[
                            ("__name__", "req_total"),
                            ("job", job),
                            ("inst", inst),
                            ("mode", mode),
                        ]),
                        t,
                        val,
                    );
                    s.add(
                        l(&[
                            ("__name__", "err_total"),
                            ("job", job),
                            ("inst", inst),
                            ("mode", mode),
                        ]),
                        t + 3,
                        v / 7.0,
                    );
                }
            }
            // gauges with NaN and negative values, a gap in the middle
            for i in 0..120 {
                if (40..55).contains(&i) && inst == "b" {
                    continue;
                }
                let t = i * 15_000 + 7 + (r.below(500) as i64);
                let v = match r.below(20) {
                    0 => f64::NAN,
                    1 => -3.5,
                    _ => (r.below(1000) as f64) / 10.0,
                };
                s.add(
                    l(&[("__name__", "temp"), ("job", job), ("inst", inst)]),
                    t,
                    v,
                );
                s.add(
                    l(&[("__name__", "limit"), ("job", job), ("inst", inst)]),
                    t + 11,
                    50.0,
                );
            }
            // counters with start timestamps (`st_total`, one per kind)
            if inst == "a" {
                // Its own generator: the other series stay as they were.
                let r = &mut st_rng;
                let mut v = 0.0;
                let mut start = -3_000i64;
                let mut prev_t = -15_000i64;
                for i in 0..120i64 {
                    let t = i * 15_000 + 5 + (r.below(700) as i64);
                    let (val, st) = match job {
                        // deltas: each sample counts since the previous one
                        "api" => (r.below(30) as f64, prev_t),
                        // cumulative, restarted (by start time) every 25
                        // samples, the value not always dropping
                        _ => {
                            if i % 25 == 0 && i > 0 {
                                start = prev_t + 1 + r.below(9_000) as i64;
                                v = if i % 50 == 0 { v + 1.0 } else { 2.0 };
                            }
                            v += r.below(40) as f64;
                            (v, start)
                        }
                    };
                    let kinds = [("plain", st), ("overlap", if i % 17 == 5 { t - 40_000 } else { st }), ("some", if i % 3 == 0 { 0 } else { st })];
                    for (kind, st) in kinds {
                        let val = if kind == "some" && i == 77 { STALE_NAN } else { val };
                        s.add_with_st(l(&[("__name__", "st_total"), ("job", job), ("kind", kind)]), st, t, val);
                    }
                    prev_t = t;
                }
            }
            // classic histogram buckets
            let mut counts = [0.0f64; 4];
            for i in 0..120 {
                let t = i * 15_000 + 1 + (r.below(300) as i64);
                for (k, le) in ["0.1", "1", "10", "+Inf"].iter().enumerate() {
                    counts[k] += (r.below(5) * (k + 1)) as f64;
                    let c: f64 = counts[..=k].iter().sum();
                    s.add(
                        l(&[
                            ("__name__", "lat_bucket"),
                            ("job", job),
                            ("inst", inst),
                            ("le", le),
                        ]),
                        t,
                        c,
                    );
                }
            }
        }
    }
    s
}

const HAND: &[&str] = &[
    "req_total",
    "req_total offset 1m",
    "req_total @ 600",
    "rate(req_total[1m])",
    "rate(req_total[1m] offset 2m)",
    "rate(req_total[2m] @ 900)",
    "increase(req_total[5m])",
    "irate(req_total[1m])",
    "delta(temp[2m])",
    "idelta(temp[2m])",
    "deriv(temp[3m])",
    "predict_linear(temp[3m], 60)",
    "resets(req_total[5m])",
    "changes(temp[5m])",
    "avg_over_time(temp[2m])",
    "sum_over_time(temp[2m])",
    "min_over_time(temp[2m])",
    "max_over_time(temp[2m])",
    "count_over_time(temp[2m])",
    "stddev_over_time(temp[2m])",
    "stdvar_over_time(temp[2m])",
    "last_over_time(temp[2m])",
    "first_over_time(temp[2m])",
    "present_over_time(temp[2m])",
    "quantile_over_time(0.9, temp[3m])",
    "quantile_over_time(1.5, temp[3m])",
    "mad_over_time(temp[3m])",
    "ts_of_max_over_time(temp[3m])",
    "sum(rate(req_total[1m]))",
    "sum by (job) (rate(req_total[1m]))",
    "sum without (mode) (rate(req_total[1m]))",
    "avg by (inst) (temp)",
    "min by (job) (temp)",
    "max(temp)",
    "count by (job) (temp > 20)",
    "group by (inst) (req_total)",
    "stddev by (job) (temp)",
    "stdvar(temp)",
    "quantile by (job) (0.5, temp)",
    "quantile(2, temp)",
    "sum by (__name__) (req_total)",
    "sum by (__name__) (req_total) * 2",
    "histogram_quantile(0.99, sum by (job, le) (rate(lat_bucket[2m])))",
    "histogram_quantile(0.5, rate(lat_bucket[2m]))",
    "topk(2, rate(req_total[1m]))",
    "topk(2, limit)",
    "bottomk(1, limit)",
    "topk by (job) (4, limit > 0)",
    "bottomk(3, limit * 0 + 1)",
    "topk(2, round(temp / 30))",
    "bottomk by (job) (2, round(temp / 30))",
    "topk(3, round(rate(req_total[1m])))",
    "topk(2, temp > bool 50)",
    "bottomk(2, temp > bool 50)",
    "topk by (job) (2, 2 * (temp > bool 30))",
    "bottomk by (job) (1, temp)",
    "temp > 20",
    "temp > bool 20",
    "20 < temp",
    "2 * temp",
    "-temp",
    "-rate(req_total[1m])",
    "temp / limit",
    "temp > limit",
    "temp > bool limit",
    "temp / on (job, inst) limit",
    "temp / ignoring (job) limit",
    "1 - temp / limit",
    "avg by (job) (1 - temp / limit)",
    "temp and limit",
    "temp unless on (inst) (temp > 50)",
    "temp or limit",
    "rate(req_total[1m]) / rate(err_total[1m])",
    "rate(req_total[1m]) / ignoring (mode) group_left rate(err_total[1m])",
    "{__name__=~\"req_total|err_total\"}",
    "rate({__name__=~\"req_total|err_total\"}[1m])",
    "sum(rate({__name__=~\"req_total|err_total\"}[1m]))",
    "-{__name__=~\"req_total|err_total\"}",
    "{__name__=~\"req_total|err_total\"} * 2",
    "{__name__=~\"req_total|err_total\"} > 10",
    "last_over_time({__name__=~\"req_total|err_total\"}[1m])",
    "temp > scalar(max(limit))",
    "time() - temp",
    "max_over_time(sum by (job) (rate(req_total[1m]))[2m:20s])",
    "rate(req_total[5m:30s])",
    "last_over_time(temp[3m:] offset 1m)",
    "avg_over_time((temp > 20)[2m:15s] @ 1200)",
    "quantile_over_time(0.9, (sum by (inst) (temp))[5m:1m])",
    "max_over_time(rate({__name__=~\"req_total|err_total\"}[1m])[2m:20s])",
    "min_over_time(max_over_time(temp[1m:10s])[3m:30s])",
    "abs(-temp)",
    "label_replace(rate(req_total[1m]), \"x\", \"$1\", \"inst\", \"(.*)\")",
    "absent(nope)",
    "timestamp(temp)",
    "sum(req_total) + sum(err_total)",
    "count_values(\"v\", round(temp))",
    "rate(st_total[1m])",
    "increase(st_total[5m])",
    "irate(st_total[1m])",
    "resets(st_total[5m])",
    "rate(st_total[30s])",
    "increase(st_total[2m] offset 1m)",
    "rate(st_total[2m] @ 900)",
    "sum by (kind) (increase(st_total[2m]))",
    "rate(st_total[5m:1m])",
    "resets(st_total[3m] anchored)",
    "increase(st_total[3m] anchored)",
    "rate({__name__=~\"st_total|req_total\"}[2m])",
    "start_timestamp(st_total)",
    "start_timestamp(st_total offset 1m) - timestamp(st_total offset 1m)",
    "start_timestamp(-st_total)",
];

fn random_expr(r: &mut Rng, depth: u32) -> String {
    let leaf = |r: &mut Rng| -> String {
        let sel = r.pick(&[
            "req_total",
            "err_total",
            "temp",
            "limit",
            "{__name__=~\"req_total|err_total\"}",
            "temp{inst!=\"a\"}",
            "st_total",
        ]);
        let off = r.pick(&["", "", " offset 30s", " @ 900"]);
        match r.below(4) {
            0 => format!("{sel}{off}"),
            _ => {
                let f = r.pick(&[
                    "rate",
                    "increase",
                    "delta",
                    "irate",
                    "avg_over_time",
                    "max_over_time",
                    "min_over_time",
                    "sum_over_time",
                    "count_over_time",
                    "last_over_time",
                    "changes",
                    "resets",
                    "stddev_over_time",
                ]);
                let w = r.pick(&["30s", "1m", "2m", "5m"]);
                format!("{f}({sel}[{w}]{off})")
            }
        }
    };
    if depth == 0 {
        return leaf(r);
    }
    match r.below(6) {
        0 | 1 => leaf(r),
        2 => {
            let op = r.pick(&["sum", "avg", "min", "max", "count", "group", "stddev", "topk", "bottomk", "quantile"]);
            let g = r.pick(&[
                "",
                " by (job)",
                " by (inst, job)",
                " without (mode)",
                " by (__name__)",
            ]);
            let p = match op {
                "topk" | "bottomk" => r.pick(&["1, ", "2, ", "0, ", "scalar(count(temp)), "]),
                "quantile" => r.pick(&["0.5, ", "0.9, "]),
                _ => "",
            };
            format!("{op}{g} ({p}{})", random_expr(r, depth - 1))
        }
        3 => {
            let op = r.pick(&["+", "-", "*", "/", ">", "<", "> bool", "==", "%"]);
            let n = r.pick(&["0", "1", "2.5", "-1", "100"]);
            if r.below(2) == 0 {
                format!("({}) {op} {n}", random_expr(r, depth - 1))
            } else {
                format!("{n} {op} ({})", random_expr(r, depth - 1))
            }
        }
        4 => {
            let op = r.pick(&["+", "/", ">", "> bool", "and", "unless", "or"]);
            let m = r.pick(&["", " on (job, inst)", " ignoring (mode)", " on (inst)"]);
            format!(
                "({}) {op}{m} ({})",
                random_expr(r, depth - 1),
                random_expr(r, depth - 1)
            )
        }
        5 if r.below(2) == 0 => {
            let f = r.pick(&["max_over_time", "avg_over_time", "rate", "last_over_time", "count_over_time", "quantile_over_time"]);
            let p = if f == "quantile_over_time" { "0.5, " } else { "" };
            let w = r.pick(&["1m", "2m", "90s"]);
            let st = r.pick(&["", "20s", "45s", "1m"]);
            let off = r.pick(&["", "", " offset 1m", " @ 900"]);
            format!("{f}({p}({})[{w}:{st}]{off})", random_expr(r, depth - 1))
        }
        _ => format!("-({})", random_expr(r, depth - 1)),
    }
}

fn render(r: &Result<QueryResult, bongsu_promql::engine::QueryError>) -> String {
    match r {
        Err(e) => format!("error: {e}"),
        Ok(q) => {
            let mut s = String::new();
            if let Value::Matrix(m) = &q.value {
                for ser in m {
                    s.push_str(&format!("{}:", ser.labels));
                    for p in &ser.samples {
                        s.push_str(&format!(" {}={:x}", p.t, p.v.to_bits()));
                    }
                    s.push('\n');
                }
            } else {
                s.push_str(&format!("{:?}", q.value));
            }
            let mut w = q.warnings.clone();
            w.sort();
            let mut i = q.infos.clone();
            i.sort();
            s.push_str(&format!("warnings {w:?} infos {i:?}"));
            s
        }
    }
}

fn engines(delayed: bool, st: bool) -> (Engine, Engine) {
    let features: Vec<String> = ["promql-experimental-functions".to_string()]
        .into_iter()
        .chain(delayed.then(|| "promql-delayed-name-removal".to_string()))
        .chain(st.then(|| "use-start-timestamps".to_string()))
        .collect();
    let mk = |fast: bool| {
        // parallel_min_series 2: the threaded window computation runs too.
        Engine::new(EngineOptions {
            features: features.clone(),
            series_at_a_time: fast,
            parallel_min_series: 2,
            ..Default::default()
        })
    };
    (mk(true), mk(false))
}

#[test]
fn series_at_a_time_agrees_with_step_at_a_time() {
    let st = store();
    let mut exprs: Vec<String> = HAND.iter().map(|s| s.to_string()).collect();
    let mut r = Rng(42);
    let n: usize = std::env::var("RANGE_PATHS_COUNT")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(400);
    for _ in 0..n {
        exprs.push(random_expr(&mut r, 3));
    }
    let windows = [
        (0i64, 1_800_000i64, 60_000i64),
        (95_000, 1_234_000, 17_000),
        (600_000, 600_000, 1_000),
    ];
    let mut failures = Vec::new();
    let mut compared = 0;
    let mut both_failed = 0;
    type R = Result<QueryResult, bongsu_promql::engine::QueryError>;
    let mut compare = |what: String, ra: R, rb: R| {
        compared += 1;
        // Both failing is agreement: the two paths find errors in a
        // different order (series at a time checks a whole child before
        // its parent, as Prometheus' rangeEval does), so with several
        // errors in one query the first one reported differs.
        if ra.is_err() && rb.is_err() {
            both_failed += 1;
            return;
        }
        let (a, b) = (render(&ra), render(&rb));
        if a != b {
            failures.push(format!(
                "{what}\n  series-at-a-time: {}\n  step-at-a-time:   {}",
                &a[..a.len().min(600)],
                &b[..b.len().min(600)]
            ));
        }
    };
    for (delayed, use_st) in [(false, false), (true, false), (false, true), (true, true)] {
        let (fast, slow) = engines(delayed, use_st);
        for e in &exprs {
            for t in [0i64, 600_000, 1_234_567, 1_800_000] {
                compare(format!("{e} instant at {t} delayed={delayed} st={use_st}"), fast.instant_query(&st, e, t), slow.instant_query(&st, e, t));
            }
            for &(start, end, step) in &windows {
                compare(
                    format!("{e} [{start}, {end}, {step}] delayed={delayed} st={use_st}"),
                    fast.range_query(&st, e, start, end, step),
                    slow.range_query(&st, e, start, end, step),
                );
            }
        }
    }
    eprintln!(
        "range paths: {compared} comparisons ({both_failed} both errors), {} differ",
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "{} differences:\n{}",
        failures.len(),
        failures
            .iter()
            .take(10)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(compared > 1000);

    // The start-timestamp data is exercised: the feature changes answers
    // and the overlapping kind warns.
    let (on, _) = engines(false, true);
    let (off, _) = engines(false, false);
    for q in ["resets(st_total[10m])", "rate(st_total[2m])", "irate(st_total[1m])"] {
        let (a, b) = (render(&on.range_query(&st, q, 0, 1_800_000, 60_000)), render(&off.range_query(&st, q, 0, 1_800_000, 60_000)));
        assert_ne!(a, b, "{q}: use-start-timestamps changes nothing");
    }
    let r = on.range_query(&st, "rate(st_total[2m])", 0, 1_800_000, 60_000);
    assert!(render(&r).contains("overlaps with previous sample timestamp for metric \\\"st_total\\\""), "{}", render(&r));
    let r = off.range_query(&st, "rate(st_total[2m])", 0, 1_800_000, 60_000);
    assert!(!render(&r).contains("overlaps"));
}
