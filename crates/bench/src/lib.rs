//! Benchmarks of the Robot ID services: the three services run as separate
//! processes on PostgreSQL over mutual TLS, measured next to the floors of
//! the same machine in the same run. See BENCHMARKS.md at the repository
//! root; the binary is `robotid-bench`.
#![forbid(unsafe_code)]
#![deny(rust_2018_idioms)]

pub mod floor;
pub mod holds;
pub mod http;
pub mod load;
pub mod log;
pub mod report;
pub mod run;
pub mod seed;
pub mod serve;
pub mod workload;

/// The manufacturer the PKI's `manufacturer` identity acts for.
pub const MANUFACTURER: &str = "0001";
