//! Compile-time checks of `#[task]` and `workflow!`: the errors, with their spans, for what must
//! not compile. (What must compile is `expansion.rs`, built with the other tests.)
//!
//! trybuild checks these in a project of its own with a target directory of its own, so every
//! dependency is compiled again for it; with only failing cases it runs `cargo check`, and the
//! dev-dependency on `cloacina` leaves out the bundled libpq and OpenSSL (see Cargo.toml).

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/fail/*.rs");
}
