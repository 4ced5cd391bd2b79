//! The Robot ID issuance service: a thin gRPC layer over the catalog, the
//! serial allocation and the credential signer, with an outbox relay that
//! delivers every issued robot to the registry.
#![forbid(unsafe_code)]
#![deny(rust_2018_idioms)]

pub mod api;
pub mod app;
pub mod config;
mod convert;
pub mod issuer;
pub mod relay;
pub mod store;

pub use app::App;
pub use config::IssuanceConfig;
