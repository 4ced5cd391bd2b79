//! The signed envelope every Robot ID credential shares: a tagged
//! COSE_Sign1 (RFC 9052) whose protected header names the algorithm
//! (EdDSA), the signing key's id and the payload's content type, and whose
//! unprotected header is empty.

use coset::{
    CoseSign1, CoseSign1Builder, HeaderBuilder, RegisteredLabel, RegisteredLabelWithPrivate,
    TaggedCborSerializable, iana,
};

use crate::key::{KeyId, SigningKey, VerifyingKey};

/// Why a credential does not verify. The messages are for the person
/// holding the credential; none of them depends on secret material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CredentialError {
    #[error("not a COSE_Sign1 credential: {0}")]
    Malformed(String),
    #[error("the credential is not in the canonical encoding it was signed in")]
    NotCanonical,
    #[error("signed with algorithm {0}, expected EdDSA")]
    Algorithm(String),
    #[error("a credential of type {found:?}, expected {expected:?}")]
    ContentType {
        expected: &'static str,
        found: String,
    },
    #[error("the credential names no 8-byte key id")]
    MissingKeyId,
    #[error("signed by key {0}, which is not trusted here")]
    UnknownKey(KeyId),
    #[error("the signature does not verify")]
    BadSignature,
    #[error("the signed claims are not valid: {0}")]
    Claims(String),
}

/// What a verified credential carried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub kid: KeyId,
    pub payload: Vec<u8>,
}

/// Signs `payload` as a tagged COSE_Sign1 of `content_type`. Ed25519 is
/// deterministic: the same key and payload give the same bytes.
pub fn sign_payload(key: &SigningKey, content_type: &str, payload: Vec<u8>) -> Vec<u8> {
    // EdDSA (-8) rather than the newer fully specified Ed25519 (-19): -8 is
    // what deployed COSE verifiers (pycose, COSE-JAVA, go-cose) understand.
    let protected = HeaderBuilder::new()
        .algorithm(iana::Algorithm::EdDSA)
        .key_id(key.kid().as_bytes().to_vec())
        .content_type(content_type.to_owned())
        .build();
    CoseSign1Builder::new()
        .protected(protected)
        .payload(payload)
        .create_signature(&[], |tbs| key.sign(tbs).to_vec())
        .build()
        .to_tagged_vec()
        .expect("a COSE_Sign1 of byte strings always encodes")
}

/// Verifies a credential of `content_type` with the key `lookup` finds for
/// its key id, and returns its payload. Refuses anything but the exact
/// bytes such a credential is signed in: an empty unprotected header, the
/// canonical encoding, EdDSA, and a strict (non-malleable) signature check.
pub fn verify_payload(
    bytes: &[u8],
    content_type: &'static str,
    lookup: impl FnOnce(&KeyId) -> Option<VerifyingKey>,
) -> Result<Verified, CredentialError> {
    let sign1 = CoseSign1::from_tagged_slice(bytes)
        .map_err(|e| CredentialError::Malformed(e.to_string()))?;
    // Re-encoding must give back the input: no second encoding of a
    // credential is accepted, so a changed byte anywhere is refused, also
    // outside the signed parts.
    if sign1.clone().to_tagged_vec().ok().as_deref() != Some(bytes) {
        return Err(CredentialError::NotCanonical);
    }
    if !sign1.unprotected.is_empty() {
        return Err(CredentialError::Malformed(
            "unexpected unprotected header parameters".into(),
        ));
    }
    let header = &sign1.protected.header;
    match &header.alg {
        Some(RegisteredLabelWithPrivate::Assigned(iana::Algorithm::EdDSA)) => {}
        Some(other) => return Err(CredentialError::Algorithm(format!("{other:?}"))),
        None => return Err(CredentialError::Algorithm("none".into())),
    }
    match &header.content_type {
        Some(RegisteredLabel::Text(found)) if found == content_type => {}
        other => {
            return Err(CredentialError::ContentType {
                expected: content_type,
                found: match other {
                    Some(RegisteredLabel::Text(text)) => text.clone(),
                    Some(RegisteredLabel::Assigned(format)) => format!("{format:?}"),
                    None => "none".into(),
                },
            });
        }
    }
    let kid = KeyId::from_slice(&header.key_id).ok_or(CredentialError::MissingKeyId)?;
    let key = lookup(&kid).ok_or(CredentialError::UnknownKey(kid))?;
    if key.kid() != kid {
        return Err(CredentialError::UnknownKey(kid));
    }
    sign1.verify_signature(&[], |signature, tbs| {
        if key.verify(tbs, signature) {
            Ok(())
        } else {
            Err(CredentialError::BadSignature)
        }
    })?;
    let payload = sign1
        .payload
        .ok_or_else(|| CredentialError::Malformed("detached payload".into()))?;
    Ok(Verified { kid, payload })
}

/// A CBOR value from exactly `bytes`, nothing after it.
pub(crate) fn decode_cbor(bytes: &[u8]) -> Result<ciborium::Value, CredentialError> {
    let mut rest = bytes;
    let value: ciborium::Value =
        ciborium::de::from_reader(&mut rest).map_err(|e| CredentialError::Claims(e.to_string()))?;
    if !rest.is_empty() {
        return Err(CredentialError::Claims("data after the claims".into()));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TYPE: &str = "application/robotid-test+cbor";

    #[test]
    fn a_payload_round_trips_under_its_key_and_type_only() {
        let key = SigningKey::from_seed(&[1; 32]);
        let signed = sign_payload(&key, TYPE, b"hello".to_vec());
        let verified = verify_payload(&signed, TYPE, |_| Some(key.verifying_key())).unwrap();
        assert_eq!(verified.payload, b"hello");
        assert_eq!(verified.kid, key.kid());
        // Deterministic, so a replayed issuance can answer the same bytes.
        assert_eq!(signed, sign_payload(&key, TYPE, b"hello".to_vec()));

        assert!(matches!(
            verify_payload(&signed, "application/other", |_| Some(key.verifying_key())),
            Err(CredentialError::ContentType { .. })
        ));
        assert_eq!(
            verify_payload(&signed, TYPE, |_| None),
            Err(CredentialError::UnknownKey(key.kid()))
        );
        let other = SigningKey::from_seed(&[2; 32]).verifying_key();
        assert_eq!(
            verify_payload(&signed, TYPE, |_| Some(other)),
            Err(CredentialError::UnknownKey(key.kid()))
        );
    }

    #[test]
    fn trailing_and_unprotected_extras_are_refused() {
        let key = SigningKey::from_seed(&[1; 32]);
        let mut signed = sign_payload(&key, TYPE, b"hello".to_vec());
        signed.push(0);
        assert!(verify_payload(&signed, TYPE, |_| Some(key.verifying_key())).is_err());

        let mut sign1 =
            CoseSign1::from_tagged_slice(&sign_payload(&key, TYPE, b"x".to_vec())).unwrap();
        sign1.unprotected.key_id = key.kid().as_bytes().to_vec();
        let with_unprotected = sign1.to_tagged_vec().unwrap();
        assert!(matches!(
            verify_payload(&with_unprotected, TYPE, |_| Some(key.verifying_key())),
            Err(CredentialError::Malformed(_))
        ));
    }
}
