//! trybuild cases of the macros: `ui-tests/compile-fail` (every bad input gives one message
//! spanned on the user's token) and `ui-tests/pass` (hygiene). Regenerate the `.stderr` files
//! with `TRYBUILD=overwrite cargo test -p taskgroup-ui-tests --test ui`, never by hand.

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("compile-fail/*.rs");
    cases.pass("pass/*.rs");
}
