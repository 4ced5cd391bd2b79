//! The Robot ID transfer service: customs clearance of shipments across
//! borders (asking the registry, never robot by robot), departures and
//! arrivals, and the trust list of foreign registries whose credentials it
//! recognises offline.
#![forbid(unsafe_code)]
#![deny(rust_2018_idioms)]

pub mod api;
pub mod app;
pub mod config;
mod convert;
mod crossing;
pub mod customs;
mod lapse;
pub mod origin_proof;
pub mod peers;
pub mod registry;
pub mod store;
pub mod trust;

pub use app::App;
pub use config::TransferConfig;
pub use lapse::SERVICE_IDENTITY;
