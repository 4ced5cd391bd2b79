//! The Robot ID domain, free of wire types and I/O: the identity code, the
//! lifecycle rules, holders, and the per-robot hash chain.
#![forbid(unsafe_code)]
#![deny(rust_2018_idioms)]

pub mod access;
pub mod catalog;
pub mod code;
pub mod history;
pub mod holder;
pub mod lifecycle;
pub mod robot;
pub mod standing;
pub mod text;
pub mod time;
pub mod transfer;
