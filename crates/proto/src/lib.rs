//! The wire contracts of Robot ID, generated from `proto/`.
//!
//! Wire types stay at the edges: services convert them to domain types in
//! their handlers.
#![forbid(unsafe_code)]
#![deny(rust_2018_idioms)]
#![allow(clippy::large_enum_variant, clippy::doc_lazy_continuation)]

/// Encoded `FileDescriptorSet` of every contract, for server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/robotid_descriptor.bin"));

pub mod common {
    pub mod v1 {
        tonic::include_proto!("robotid.common.v1");
    }
}

pub mod registry {
    pub mod v1 {
        tonic::include_proto!("robotid.registry.v1");
    }
}

pub mod issuance {
    pub mod v1 {
        tonic::include_proto!("robotid.issuance.v1");
    }
}

pub mod transfer {
    pub mod v1 {
        tonic::include_proto!("robotid.transfer.v1");
    }
}
