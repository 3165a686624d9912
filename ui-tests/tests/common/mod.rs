//! The Python-named error types the property tests build trees of.
#![allow(dead_code)]

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{0}")]
pub struct ValueError(pub String);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{0}")]
pub struct TypeError(pub String);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{0}")]
pub struct RuntimeError(pub String);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{0:?}")]
pub struct KeyError(pub String);
