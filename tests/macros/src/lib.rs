//! Nothing: this crate holds the tests of `cloacina-macros` (in `tests/`), which use the macros
//! through `cloacina`, as a user does.
