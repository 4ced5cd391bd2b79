//! Signed Robot ID credentials, made and checked without a network.
//!
//! Every registry deployment holds one Ed25519 signing key. What it vouches
//! for (an issued identity code; later, an export clearance) travels as a
//! COSE_Sign1 (RFC 9052) with a CBOR payload: [`sign_payload`] and
//! [`verify_payload`] are the envelope, [`IdCredential`] the claims of an
//! issued robot. Verification needs the public key only.
//!
//! Keys are files in the formats `openssl` uses; see [`key`]. The
//! entries of a registry's transparency log, which a foreign registry
//! checks before it imports a robot, are in [`leaf`].
#![forbid(unsafe_code)]
#![deny(rust_2018_idioms)]

pub mod clearance;
mod cose;
pub mod deployment;
mod id;
pub mod key;
pub mod leaf;

pub use cose::{CredentialError, Verified, sign_payload, verify_payload};
pub use id::{
    ID_CREDENTIAL_TYPE, IdCredential, sign_id_credential, verify_id_credential,
    verify_id_credential_with,
};
pub use key::{KeyError, KeyId, SigningKey, VerifyingKey};
