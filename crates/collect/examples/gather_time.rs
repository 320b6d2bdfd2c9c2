//! Median wall time of one full gather over 20 runs:
//! `cargo run --release -p bongsu-collect --example gather_time`.
fn main() {
    let _ = bongsu_collect::gather_node_text(); // warm the page cache
    let mut times: Vec<f64> = (0..20)
        .map(|_| {
            let start = std::time::Instant::now();
            let text = bongsu_collect::gather_node_text();
            std::hint::black_box(text);
            start.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    times.sort_by(f64::total_cmp);
    println!(
        "gather_node_text: median {:.2} ms, min {:.2} ms, max {:.2} ms over 20 runs",
        (times[9] + times[10]) / 2.0,
        times[0],
        times[19]
    );
}
