//! The Rust tasks of the hybrid example, exported to Python.
//!
//! `python_tasks!` makes this crate, built by maturin, the Python module `hybrid_rust_tasks`:
//! `from hybrid_rust_tasks import count_words, top_words` gives tasks that `cloacina.workflow`
//! takes next to Python tasks. The Rust host program (`../host`) compiles the same `words.rs`
//! into itself, since `workflow!` lists tasks defined in its own crate.

pub mod words;

pub use words::{count_words, top_words};

cloacina::python_tasks!(hybrid_rust_tasks, [words::count_words, words::top_words]);
