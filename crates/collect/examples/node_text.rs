//! Prints what `/collect/node` serves: `cargo run -p bongsu-collect --example node_text`.
fn main() {
    print!("{}", bongsu_collect::gather_node_text());
}
