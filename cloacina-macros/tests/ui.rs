//! Compile-time checks of `#[task]` and `workflow!`: what must compile, and the errors (with
//! their spans) for what must not.

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.pass("tests/ui/pass/*.rs");
    cases.compile_fail("tests/ui/fail/*.rs");
}
