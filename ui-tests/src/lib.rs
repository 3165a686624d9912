//! Checks of `taskgroup` that need heavy dev-dependencies, kept out of the facade so that its
//! examples build fast: the macros' trybuild cases (`compile-fail/`, `pass/`, run by
//! `tests/ui.rs`) and the property tests of the `ErrorGroup` split algebra (`tests/prop.rs`).
//! This crate has no code of its own and is not published.
