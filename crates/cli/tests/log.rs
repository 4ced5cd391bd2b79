//! The transparency log of `robotid dev`, audited twice: by `robotid log`
//! and by a client in another language written from the specs alone
//! (`tests/interop/tlog_audit.py`, Python), each from the checkpoint key
//! `robotid dev` writes to `DATA_DIR/log.vkey`; and a later checkpoint
//! checked to extend an earlier one, by both; and a robot's proof bundle,
//! cosigned by the peer registry's witness, verified offline against
//! `DATA_DIR/proof.policy` by `robotid proof verify` and by
//! `tests/interop/tlog_proof_verify.py`.

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use robotid_test_support::python::{python_with, workspace_root};
use support::{Dev, json, line, robotid};

/// The newest checkpoint, once it covers at least `size` leaves.
fn checkpoint_covering(dir: &Path, size: u64) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let checkpoint = json(dir, &["log", "checkpoint"]);
        if checkpoint["tree_size"].as_u64().unwrap() >= size {
            return checkpoint;
        }
        assert!(
            Instant::now() < deadline,
            "no checkpoint of {size} leaves: {checkpoint}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The Python auditor on the log at `prefix`: its one line of output.
fn python_audit(python: &Path, prefix: &str, vkey: &Path, extra: &[&str]) -> String {
    let output = std::process::Command::new(python)
        .arg(workspace_root().join("tests/interop/tlog_audit.py"))
        .arg(prefix)
        .arg(vkey)
        .args(extra)
        .output()
        .expect("python3 runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "the Python audit failed: {stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

#[test]
fn the_dev_log_and_its_proofs_are_checked_by_the_cli_and_by_independent_python_clients() {
    let Some(python) = python_with(&[("cryptography", "cryptography")]) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let dev = Dev::start(dir);
    let data = dir.join("robotid-dev");
    let vkey = data.join("log.vkey");
    let web = std::fs::read_to_string(data.join("endpoints.json")).unwrap();
    let web: serde_json::Value = serde_json::from_str(&web).unwrap();
    let prefix = format!("{}/log/", web["web"].as_str().unwrap());
    assert!(
        std::fs::read_to_string(&vkey)
            .unwrap()
            .starts_with(web["web"].as_str().unwrap().trim_start_matches("http://")),
        "the key is named for the log's origin"
    );
    assert!(
        std::fs::read_to_string(data.join("log-key.pem"))
            .unwrap()
            .starts_with("-----BEGIN PRIVATE KEY-----")
    );

    let robot = line(
        dir,
        &[
            "issue",
            "--as",
            "manufacturer",
            "--model",
            "HX0001",
            "--quiet",
        ],
    );
    line(
        dir,
        &[
            "record",
            &robot,
            "released-to-market",
            "--as",
            "manufacturer",
        ],
    );
    let first = checkpoint_covering(dir, 2);
    let saved = dir.join("first.checkpoint");
    let python_saved = dir.join("python.checkpoint");
    line(dir, &["log", "verify", "--save", saved.to_str().unwrap()]);
    let audited = python_audit(
        &python,
        &prefix,
        &vkey,
        &["--save", python_saved.to_str().unwrap()],
    );
    assert!(audited.starts_with("ok "), "{audited}");

    // More events; the log extends what both saw.
    line(
        dir,
        &[
            "record",
            &robot,
            "sold",
            "--as",
            "seller",
            "--holder-org",
            "ACME",
        ],
    );
    let later = checkpoint_covering(dir, first["tree_size"].as_u64().unwrap() + 1);
    let verified = json(dir, &["log", "verify", "--since", saved.to_str().unwrap()]);
    assert_eq!(verified["extends"], first["tree_size"], "{verified}");
    assert!(verified["tree_size"].as_u64() >= later["tree_size"].as_u64());
    let audited = python_audit(
        &python,
        &prefix,
        &vkey,
        &["--since", python_saved.to_str().unwrap()],
    );
    assert!(audited.starts_with("ok "), "{audited}");

    // The robot's newest event, SOLD, is in the tree under a verified
    // checkpoint.
    let proof = json(dir, &["log", "proof", &robot, "--as", "regulator"]);
    assert_eq!(proof["sequence"], 3, "{proof}");
    assert!(
        proof["tree_size"].as_u64() > proof["log_index"].as_u64(),
        "{proof}"
    );

    // Its proof bundle, once Germany's witness cosigned the checkpoint it
    // sits under, verifies offline with nothing but the policy — with
    // `robotid proof verify` and with the Python verifier written from the
    // specs.
    let policy = data.join("proof.policy");
    let bundle_file = dir.join("robot.tlog-proof");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let bundle = json(
            dir,
            &[
                "proof",
                "get",
                &robot,
                "--out",
                bundle_file.to_str().unwrap(),
            ],
        );
        if !bundle["cosigned_by"].as_array().unwrap().is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "never cosigned: {bundle}");
        std::thread::sleep(Duration::from_millis(100));
    }
    let verified = json(
        dir,
        &[
            "proof",
            "verify",
            bundle_file.to_str().unwrap(),
            "--policy",
            policy.to_str().unwrap(),
        ],
    );
    assert_eq!(verified["verified"], true, "{verified}");
    assert_eq!(verified["robot_id"], robot.as_str(), "{verified}");
    assert_eq!(verified["event_type"], "SOLD", "{verified}");
    let output = std::process::Command::new(&python)
        .arg(workspace_root().join("tests/interop/tlog_proof_verify.py"))
        .arg(&bundle_file)
        .arg(&policy)
        .output()
        .expect("python3 runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.starts_with("ok "), "{stdout}");
    // One byte of the entry changed: refused by both.
    let text = std::fs::read_to_string(&bundle_file).unwrap();
    let extra = text.lines().nth(1).unwrap();
    let flipped = extra.replacen(
        &extra[10..11],
        if &extra[10..11] == "A" { "B" } else { "A" },
        1,
    );
    let tampered = dir.join("tampered.tlog-proof");
    std::fs::write(&tampered, text.replacen(extra, &flipped, 1)).unwrap();
    let refused = robotid(
        dir,
        &[
            "proof",
            "verify",
            tampered.to_str().unwrap(),
            "--policy",
            policy.to_str().unwrap(),
        ],
    );
    assert!(!refused.status.success());
    let output = std::process::Command::new(&python)
        .arg(workspace_root().join("tests/interop/tlog_proof_verify.py"))
        .arg(&tampered)
        .arg(&policy)
        .output()
        .expect("python3 runs");
    assert!(!output.status.success());

    // A saved checkpoint of another log is refused, by both.
    let forged = dir.join("forged.checkpoint");
    let text = std::fs::read_to_string(&saved).unwrap();
    std::fs::write(&forged, text.replacen("\n", "x\n", 1)).unwrap();
    let refused = robotid(dir, &["log", "verify", "--since", forged.to_str().unwrap()]);
    assert!(!refused.status.success());
    dev.stop();
}
