//! The plumbing every Robot ID service shares, so that each gets start-up,
//! health, reflection, shutdown, error details, pagination, its database and
//! caller identity the same way.
#![forbid(unsafe_code)]
#![deny(rust_2018_idioms)]

pub mod access;
pub mod admission;
pub mod authz;
pub mod client;
pub mod config;
pub mod db;
pub mod error;
pub mod http;
pub mod idempotency;
pub mod identity;
pub mod message_size;
pub mod pagination;
pub mod process;
pub mod rpc_telemetry;
pub mod secret;
pub mod server;
pub mod shutdown;
pub mod signing;
pub mod telemetry;
pub mod tls;
pub mod web_client;
pub mod wire;
