//! The RFC 6962 proof vectors of transparency-dev/merkle (see
//! `../shared/vectors/merkle/SOURCE.md`): every case is fed to the
//! verifier as the bytes it holds, and must be accepted or refused as its
//! `wantErr` says.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use robotid_tlog::{verify_consistency, verify_inclusion};
use serde_json::Value;

/// `../shared/vectors/merkle` from the repository root.
fn vectors_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/vectors/merkle")
}

fn cases(kind: &str) -> Option<Vec<(PathBuf, Value)>> {
    let dir = vectors_dir().join(kind);
    if !dir.is_dir() {
        eprintln!(
            "note: RFC 6962 {kind} vector tests skipped: {} is absent",
            dir.display()
        );
        return None;
    }
    let mut files = Vec::new();
    let mut pending = vec![dir];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|ext| ext == "json") {
                files.push(path);
            }
        }
    }
    files.sort();
    Some(
        files
            .into_iter()
            .map(|path| {
                let case = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
                (path, case)
            })
            .collect(),
    )
}

fn bytes(case: &Value, field: &str) -> Vec<u8> {
    match &case[field] {
        Value::Null => Vec::new(),
        Value::String(text) => STANDARD.decode(text).unwrap(),
        other => panic!("{field} is {other}"),
    }
}

fn proof(case: &Value) -> Vec<Vec<u8>> {
    match &case["proof"] {
        Value::Null => Vec::new(),
        Value::Array(items) => items
            .iter()
            .map(|item| STANDARD.decode(item.as_str().unwrap()).unwrap())
            .collect(),
        other => panic!("proof is {other}"),
    }
}

fn number(case: &Value, field: &str) -> u64 {
    case[field].as_u64().unwrap()
}

/// Runs every case, and says how many of each outcome it saw.
fn check(kind: &str, verify: impl Fn(&Value) -> bool) {
    let Some(cases) = cases(kind) else { return };
    assert!(!cases.is_empty(), "no {kind} vectors");
    let (mut accepted, mut refused) = (0, 0);
    let mut wrong = Vec::new();
    for (path, case) in &cases {
        let want_error = case["wantErr"].as_bool().unwrap();
        let ok = verify(case);
        if ok == want_error {
            wrong.push(format!(
                "{} ({}): wantErr {want_error}",
                path.display(),
                case["desc"]
            ));
        }
        if ok {
            accepted += 1;
        } else {
            refused += 1;
        }
    }
    assert!(
        wrong.is_empty(),
        "{kind} vectors judged wrongly:\n{}",
        wrong.join("\n")
    );
    assert!(accepted > 0 && refused > 0);
    println!(
        "{kind}: {} vectors, {accepted} accepted, {refused} refused, as wantErr says",
        cases.len()
    );
}

#[test]
fn inclusion_proofs_are_judged_as_the_vectors_say() {
    check("inclusion", |case| {
        verify_inclusion(
            number(case, "leafIdx"),
            number(case, "treeSize"),
            &bytes(case, "leafHash"),
            &proof(case),
            &bytes(case, "root"),
        )
        .is_ok()
    });
}

#[test]
fn consistency_proofs_are_judged_as_the_vectors_say() {
    check("consistency", |case| {
        verify_consistency(
            number(case, "size1"),
            number(case, "size2"),
            &proof(case),
            &bytes(case, "root1"),
            &bytes(case, "root2"),
        )
        .is_ok()
    });
}
