//! The Robot ID registry service: a thin gRPC layer over the domain and the
//! registry's store.
#![forbid(unsafe_code)]
#![deny(rust_2018_idioms)]

pub mod access_log;
pub mod api;
pub mod app;
pub mod config;
mod convert;
pub mod event_writer;
pub mod holds;
pub mod log;
pub mod store;
pub mod web;
pub mod witness;

pub use app::App;
pub use config::RegistryConfig;
