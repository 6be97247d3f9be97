//! Procedural macros for Cloacina (`#[task]`, `workflow!`); they arrive with the Rust authoring work.
