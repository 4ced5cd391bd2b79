//! `robotid credential` as a person runs it: the real binary, real files.

use std::path::Path;
use std::process::{Command, Output};

use robotid_credential::{SigningKey, sign_id_credential};
use robotid_domain::code::RobotId;
use robotid_domain::time::Timestamp;

fn robotid(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_robotid"))
        .args(args)
        .output()
        .expect("robotid runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn path(path: &Path) -> &str {
    path.to_str().unwrap()
}

fn robot() -> RobotId {
    RobotId::issue(
        &"CN".parse().unwrap(),
        &"0001".parse().unwrap(),
        &"HX0001".parse().unwrap(),
        7,
    )
}

#[test]
fn keygen_then_verify_a_credential_offline() {
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("signing-key.pem");
    let made = robotid(&["credential", "keygen", "--out", path(&key_file)]);
    assert!(made.status.success(), "{}", text(&made.stderr));
    let key = SigningKey::load(&key_file).unwrap();
    assert!(text(&made.stdout).contains(&key.kid().to_string()));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key_file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    // Never overwrites a key.
    let again = robotid(&["credential", "keygen", "--out", path(&key_file)]);
    assert!(!again.status.success());

    let public_file = dir.path().join("signing-key.pem.pub");
    let credential = sign_id_credential(&key, &robot(), Timestamp::from_parts(1_764_172_800, 0));
    let credential_hex = hex::encode(&credential);
    let verified = robotid(&[
        "credential",
        "verify",
        "--public-key",
        path(&public_file),
        "--credential-hex",
        &credential_hex,
    ]);
    assert!(verified.status.success(), "{}", text(&verified.stderr));
    let out = text(&verified.stdout);
    assert!(out.contains(&robot().display()), "{out}");
    assert!(out.contains("2025-11-26T16:00:00Z"), "{out}");

    // Raw bytes in a file, JSON out; the public key as hex works too.
    let credential_file = dir.path().join("credential.cose");
    std::fs::write(&credential_file, &credential).unwrap();
    let hex_key = dir.path().join("public.hex");
    std::fs::write(&hex_key, hex::encode(key.verifying_key().to_bytes())).unwrap();
    let json = robotid(&[
        "credential",
        "verify",
        "--public-key",
        path(&hex_key),
        "--credential-file",
        path(&credential_file),
        "--json",
    ]);
    assert!(json.status.success(), "{}", text(&json.stderr));
    let claims: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(claims["valid"], true);
    assert_eq!(claims["robot_id"], robot().as_str());
    assert_eq!(claims["issued_at_unix"], 1_764_172_800);
    assert_eq!(claims["kid"], key.kid().to_string());
}

#[test]
fn a_changed_credential_or_another_key_fails_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let key = SigningKey::generate().unwrap();
    let public_file = dir.path().join("public.pem");
    std::fs::write(&public_file, key.verifying_key().to_pem()).unwrap();
    let mut credential = sign_id_credential(&key, &robot(), Timestamp::now());
    let last = credential.len() - 1;
    credential[last] ^= 0x01;
    let refused = robotid(&[
        "credential",
        "verify",
        "--public-key",
        path(&public_file),
        "--credential-hex",
        &hex::encode(&credential),
        "--json",
    ]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        text(&refused.stderr).contains("does not verify"),
        "{}",
        text(&refused.stderr)
    );
    let answer: serde_json::Value = serde_json::from_slice(&refused.stdout).unwrap();
    assert_eq!(answer["valid"], false);

    let stranger = dir.path().join("stranger.pem");
    std::fs::write(
        &stranger,
        SigningKey::generate().unwrap().verifying_key().to_pem(),
    )
    .unwrap();
    let genuine = sign_id_credential(&key, &robot(), Timestamp::now());
    let other_key = robotid(&[
        "credential",
        "verify",
        "--public-key",
        path(&stranger),
        "--credential-hex",
        &hex::encode(&genuine),
    ]);
    assert_eq!(other_key.status.code(), Some(1));
    assert!(text(&other_key.stderr).contains("not trusted"));

    // One credential source, exactly.
    let neither = robotid(&["credential", "verify", "--public-key", path(&public_file)]);
    assert_eq!(neither.status.code(), Some(2));
    let missing_key = robotid(&[
        "credential",
        "verify",
        "--public-key",
        path(&dir.path().join("absent.pem")),
        "--credential-hex",
        "00",
    ]);
    assert_eq!(missing_key.status.code(), Some(1));
    assert!(text(&missing_key.stderr).contains("absent.pem"));
}
