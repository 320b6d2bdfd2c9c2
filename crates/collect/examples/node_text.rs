//! Prints what `/collect/node` serves: `cargo run -p bongsu-collect --example node_text`,
//! or `/collect/containers` with the argument `containers`.
fn main() {
    if std::env::args().nth(1).as_deref() == Some("containers") {
        print!("{}", bongsu_collect::gather_container_text());
    } else {
        print!("{}", bongsu_collect::gather_node_text());
    }
}
