//! The credentials a real issuance service hands out verify offline with
//! its public key alone, here and in an independent COSE implementation
//! (Python's pycose), and nowhere once changed or under another key.

mod support;

use std::path::Path;

use robotid_credential::{CredentialError, SigningKey, verify_id_credential};
use robotid_test_support::TestDb;
use robotid_test_support::python::python_with;
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_verify_offline_with_the_public_key_only() {
    let registry = spawn_registry(TestDb::sqlite()).await;
    let home = IssuanceHome::new(TestDb::sqlite());
    let mut issuance = home.start(registry.addr, |_| {}).await;
    let model = issuance.approved_model().await;
    let issued = issuance
        .issue(&model, 3, &unique("credential"))
        .await
        .unwrap();
    let public = issuance.public_key;
    issuance.stop().await;
    registry.stop().await;

    for robot in &issued.robots {
        // Nothing but the bytes and the public key: the service is gone.
        let claims = verify_id_credential(&robot.credential, &public).unwrap();
        assert_eq!(claims.robot_id.as_str(), robot.robot_id);
        assert!(
            robot.credential.len() < 200,
            "{} bytes",
            robot.credential.len()
        );
    }
    let credential = &issued.robots[0].credential;
    for position in 0..credential.len() {
        let mut changed = credential.clone();
        changed[position] ^= 0x01;
        assert!(
            verify_id_credential(&changed, &public).is_err(),
            "byte {position}"
        );
    }
    let stranger = SigningKey::generate().unwrap().verifying_key();
    assert_eq!(
        verify_id_credential(credential, &stranger),
        Err(CredentialError::UnknownKey(public.kid()))
    );
    // One robot's credential is no other's.
    assert_ne!(issued.robots[0].credential, issued.robots[1].credential);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pycose_verifies_a_credential_made_here() {
    let Some(python) = python_with(&[("pycose", "pycose"), ("cbor2", "cbor2")]) else {
        return;
    };
    let registry = spawn_registry(TestDb::sqlite()).await;
    let home = IssuanceHome::new(TestDb::sqlite());
    let mut issuance = home.start(registry.addr, |_| {}).await;
    let model = issuance.approved_model().await;
    let issued = issuance.issue(&model, 1, &unique("pycose")).await.unwrap();
    let public = issuance.public_key;
    issuance.stop().await;
    registry.stop().await;

    let robot = &issued.robots[0];
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("public-key.hex");
    std::fs::write(&key_file, hex::encode(public.to_bytes())).unwrap();
    let credential_file = dir.path().join("credential.hex");
    std::fs::write(&credential_file, hex::encode(&robot.credential)).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/verify_credential.py");
    let run = |key: String, credential: String| {
        let output = std::process::Command::new(&python)
            .arg(&script)
            .arg(key)
            .arg(credential)
            .output()
            .expect("python3 runs");
        (
            output.status.success(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };

    let (ok, stdout, stderr) = run(
        key_file.display().to_string(),
        credential_file.display().to_string(),
    );
    assert!(ok, "pycose refused a credential made here: {stderr}");
    let claims: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(claims["robot_id"], robot.robot_id.as_str());
    assert_eq!(claims["manufacturer"], MANUFACTURER);
    assert_eq!(claims["model"], MODEL);
    assert_eq!(claims["issuer_country"], "CN");
    assert_eq!(claims["issued_at"], issued.issue_time.unwrap().seconds);
    assert_eq!(claims["kid"], public.kid().to_string());
    assert_eq!(claims["header_kid"], public.kid().to_string());

    // pycose refuses what ours refuses: a changed signature, another key.
    let mut changed = robot.credential.clone();
    *changed.last_mut().unwrap() ^= 0x80;
    let (ok, _, stderr) = run(hex::encode(public.to_bytes()), hex::encode(&changed));
    assert!(!ok && stderr.contains("does not verify"), "{stderr}");
    let stranger = SigningKey::generate().unwrap().verifying_key();
    let (ok, _, stderr) = run(
        hex::encode(stranger.to_bytes()),
        hex::encode(&robot.credential),
    );
    assert!(!ok && stderr.contains("does not verify"), "{stderr}");
}
