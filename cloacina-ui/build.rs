//! Rebuilds the crate when the page's files change: they are built into it (see `src/assets.rs`),
//! and a file added to `assets/` is not otherwise noticed.

fn main() {
    println!("cargo:rerun-if-changed=assets");
}
