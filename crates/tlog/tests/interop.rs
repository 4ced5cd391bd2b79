//! Clients in another language, written from the C2SP specs and not from
//! this crate (`tests/interop/tlog_audit.py`, `tlog_proof_verify.py`),
//! check what this crate makes: a log laid out as tlog-tiles URLs and served
//! over HTTP, and proof bundles. A tampered log or bundle must fail.
//!
//! The server here is a stand-in for the registry's public listener: it
//! serves files from a directory with the spec's content types and caching
//! headers, and takes only the paths `parse_tile_path` accepts.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use ed25519_dalek::SigningKey;
use robotid_test_support::python::{python_with, workspace_root};
use robotid_tlog::hash::hash_to_base64;
use robotid_tlog::tree::{append, inclusion_proof};
use robotid_tlog::{
    AddCheckpoint, Checkpoint, Cosigner, Hash, NoteSigner, Policy, ProofBundle, SignedCheckpoint,
    TileSet, Witness, encode_entry_bundle, leaf_hash, origin_from_prefix, parse_tile_path,
};

const NOW: u64 = 1_750_000_000;

fn python() -> Option<PathBuf> {
    python_with(&[("cryptography", "cryptography")])
}

fn run(python: &Path, script: &str, args: &[&str]) -> (bool, String) {
    let Output {
        status,
        stdout,
        stderr,
    } = Command::new(python)
        .arg(workspace_root().join("tests/interop").join(script))
        .args(args)
        .output()
        .expect("python3 runs");
    let stdout = String::from_utf8_lossy(&stdout).into_owned();
    let stderr = String::from_utf8_lossy(&stderr);
    assert!(stderr.is_empty(), "{script} wrote to stderr:\n{stderr}");
    (status.success(), stdout)
}

fn key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

/// Entries of varied lengths, every 97th empty, as bundles must carry them.
fn entry(index: usize) -> Vec<u8> {
    if index.is_multiple_of(97) {
        return Vec::new();
    }
    format!("robot event {index}{}", "·".repeat(index % 7)).into_bytes()
}

/// A log written out as its tlog-tiles resources, grown in batches with a
/// checkpoint after each, every partial tile of every checkpoint kept.
struct PublishedLog {
    dir: tempfile::TempDir,
    signer: NoteSigner,
    tiles: TileSet,
    checkpoints: Vec<SignedCheckpoint>,
}

impl PublishedLog {
    fn grow(dir: tempfile::TempDir, origin: &str, batches: &[usize]) -> Self {
        let mut log = Self {
            dir,
            signer: NoteSigner::new(origin, key(1)).unwrap(),
            tiles: TileSet::new(),
            checkpoints: Vec::new(),
        };
        let mut size = 0;
        for &batch in batches {
            let leaves: Vec<Hash> = (size..size + batch).map(|i| leaf_hash(&entry(i))).collect();
            let appended = append(&log.tiles, size as u64, &leaves).unwrap();
            for (tile, data) in &appended.tiles {
                log.write(&tile.path(), data);
                if let Some(path) = tile.entry_bundle_path() {
                    let first = tile.index() as usize * 256;
                    let entries: Vec<Vec<u8>> = (first..first + usize::from(tile.width()))
                        .map(entry)
                        .collect();
                    log.write(&path, &encode_entry_bundle(&entries).unwrap());
                }
                log.tiles.insert(*tile, data.clone());
            }
            size += batch;
            let checkpoint = Checkpoint::new(origin, size as u64, appended.tree_hash).unwrap();
            let signed = SignedCheckpoint::sign(checkpoint, &log.signer);
            log.write("checkpoint", &signed.to_bytes());
            log.checkpoints.push(signed);
        }
        log
    }

    fn path(&self, resource: &str) -> PathBuf {
        self.dir.path().join(resource)
    }

    fn write(&self, resource: &str, data: &[u8]) {
        let path = self.path(resource);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, data).unwrap();
    }

    fn save(&self, name: &str, signed: &SignedCheckpoint) -> String {
        let path = self.dir.path().join(name);
        std::fs::write(&path, signed.to_bytes()).unwrap();
        path.to_str().unwrap().to_owned()
    }
}

/// Serves `root` under `/log/` on a loopback port until dropped.
struct Server {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    fn start(root: PathBuf) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        let thread = std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stopping.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(stream) = stream {
                    // One request a connection: the auditor opens one each.
                    let _ = answer(stream, &root);
                }
            }
        });
        Self {
            addr,
            stop,
            thread: Some(thread),
        }
    }

    fn prefix(&self) -> String {
        format!("http://{}/log/", self.addr)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the accept loop so that it sees the flag.
        let _ = TcpStream::connect(self.addr);
        if let Some(thread) = self.thread.take() {
            thread.join().unwrap();
        }
    }
}

fn answer(mut stream: TcpStream, root: &Path) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut head = Vec::new();
    let mut buf = [0; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 16 * 1024 {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        head.extend_from_slice(&buf[..n]);
    }
    let head = String::from_utf8_lossy(&head);
    let mut words = head.split_whitespace();
    let (method, target) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
    let resource = target.strip_prefix("/log/").unwrap_or("");
    // The checkpoint changes: cache it a second at most. Tiles and bundles
    // never change once served.
    let kind = match resource {
        "checkpoint" => Some(("text/plain; charset=utf-8", "max-age=1")),
        _ if parse_tile_path(resource).is_ok() => Some((
            "application/octet-stream",
            "public, max-age=31536000, immutable",
        )),
        _ => None,
    };
    let response = match (method, kind) {
        ("GET", Some((content_type, cache))) => match std::fs::read(root.join(resource)) {
            Ok(body) => Some((200, content_type, cache, body)),
            Err(_) => None,
        },
        _ => None,
    };
    let (status, content_type, cache, body) = response.unwrap_or((
        404,
        "text/plain; charset=utf-8",
        "no-store",
        b"not found\n".to_vec(),
    ));
    write!(
        stream,
        "HTTP/1.1 {status} {}\r\nContent-Type: {content_type}\r\nCache-Control: {cache}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        if status == 200 { "OK" } else { "Not Found" },
        body.len()
    )?;
    stream.write_all(&body)?;
    stream.flush()
}

/// A server and the log it serves, whose origin is the server's prefix.
fn served_log(batches: &[usize]) -> (Server, PublishedLog) {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path().to_owned());
    let log = PublishedLog::grow(dir, &origin_from_prefix(&server.prefix()), batches);
    (server, log)
}

#[test]
fn the_python_auditor_audits_the_served_log_and_its_growth() {
    let Some(python) = python() else { return };
    // 1026 leaves: full and partial tiles at levels 0 and 1, and the
    // partial tiles of the earlier checkpoints beside them.
    let (server, log) = served_log(&[1, 255, 300, 70, 400]);
    let vkey = log.signer.verifier_key().to_string();
    let latest = log.checkpoints.last().unwrap().checkpoint();
    let since = log.save("since", &log.checkpoints[2]);
    let saved = log.dir.path().join("saved").to_str().unwrap().to_owned();

    let (ok, stdout) = run(
        &python,
        "tlog_audit.py",
        &[&server.prefix(), &vkey, "--since", &since, "--save", &saved],
    );
    assert!(ok, "{stdout}");
    assert_eq!(
        stdout.trim(),
        format!(
            "ok {} 1026 {}",
            latest.origin(),
            hash_to_base64(latest.root())
        )
    );
    assert_eq!(
        std::fs::read(&saved).unwrap(),
        log.checkpoints.last().unwrap().to_bytes()
    );
    // The saved checkpoint is the next audit's starting point.
    let (ok, stdout) = run(
        &python,
        "tlog_audit.py",
        &[&server.prefix(), &vkey, "--since", &saved],
    );
    assert!(ok, "{stdout}");
}

#[test]
fn the_python_auditor_catches_a_tampered_log() {
    let Some(python) = python() else { return };
    let (server, log) = served_log(&[600]);
    let vkey = log.signer.verifier_key().to_string();
    let prefix = server.prefix();

    // Another history of the same size, signed with the log's real key.
    let latest = log.checkpoints.last().unwrap().checkpoint();
    let forked = SignedCheckpoint::sign(
        Checkpoint::new(latest.origin(), 300, leaf_hash(b"another history")).unwrap(),
        &log.signer,
    );
    let since = log.save("forked", &forked);
    let (ok, stdout) = run(
        &python,
        "tlog_audit.py",
        &[&prefix, &vkey, "--since", &since],
    );
    assert!(!ok);
    assert!(stdout.contains("does not extend"), "{stdout}");

    // A verifier key of the same name that did not sign.
    let impostor = NoteSigner::new(latest.origin(), key(2)).unwrap();
    let (ok, stdout) = run(
        &python,
        "tlog_audit.py",
        &[&prefix, &impostor.verifier_key().to_string()],
    );
    assert!(!ok);
    assert!(stdout.contains("no signature by"), "{stdout}");

    // One byte of one entry changed in its bundle.
    let bundle = log.path("tile/entries/001");
    let mut bytes = std::fs::read(&bundle).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x20;
    std::fs::write(&bundle, &bytes).unwrap();
    let (ok, stdout) = run(&python, "tlog_audit.py", &[&prefix, &vkey]);
    assert!(!ok);
    assert!(
        stdout.contains("entry 511 does not hash to its level-0 tile"),
        "{stdout}"
    );
    bytes[last] ^= 0x20;
    std::fs::write(&bundle, &bytes).unwrap();
    assert!(run(&python, "tlog_audit.py", &[&prefix, &vkey]).0);

    // A leaf hash changed in a level-0 tile, and the entry beside it: the
    // entries still hash to the tile, but the tree no longer has the root.
    let tile = log.path("tile/0/002.p/88");
    let mut hashes = std::fs::read(&tile).unwrap();
    hashes[..32].copy_from_slice(&leaf_hash(b"forged"));
    std::fs::write(&tile, &hashes).unwrap();
    let entries: Vec<Vec<u8>> = (512..600)
        .map(|i| {
            if i == 512 {
                b"forged".to_vec()
            } else {
                entry(i)
            }
        })
        .collect();
    log.write(
        "tile/entries/002.p/88",
        &encode_entry_bundle(&entries).unwrap(),
    );
    let (ok, stdout) = run(&python, "tlog_audit.py", &[&prefix, &vkey]);
    assert!(!ok);
    assert!(
        stdout.contains("do not give the checkpoint's root"),
        "{stdout}"
    );
}

#[test]
fn the_python_verifier_checks_proof_bundles_against_a_policy() {
    let Some(python) = python() else { return };
    let origin = "registry.example/cn/log";
    let log = PublishedLog::grow(tempfile::tempdir().unwrap(), origin, &[300]);
    let signed = log.checkpoints.last().unwrap().clone();

    // Two of three witnesses cosign, through the witness decision.
    let witnesses: Vec<Cosigner> = (0..3)
        .map(|i| Cosigner::new(&format!("w{i}.witness.example"), key(10 + i)).unwrap())
        .collect();
    let mut cosigned = signed.clone();
    for seed in [10, 11] {
        let mut witness = Witness::new(
            Cosigner::new(&format!("w{}.witness.example", seed - 10), key(seed)).unwrap(),
        );
        witness.trust_log(origin, vec![log.signer.verifier_key().clone()]);
        let answer = witness
            .decide(&AddCheckpoint::new(0, vec![], signed.clone()), None, NOW)
            .unwrap();
        for line in answer.cosignatures {
            cosigned.add_signature(line);
        }
    }
    let policy_text = |quorum: &str| {
        format!(
            "# Robot ID import policy\nlog {}\nwitness A {}\nwitness B {}\nwitness C {}\n{quorum}\n",
            log.signer.verifier_key(),
            witnesses[0].verifier_key(),
            witnesses[1].verifier_key(),
            witnesses[2].verifier_key(),
        )
    };
    let two_of_three = policy_text("group G 2 A B C\nquorum G");
    let all_three = policy_text("group G all A B C\nquorum G");
    log.write("two.policy", two_of_three.as_bytes());
    log.write("all.policy", all_three.as_bytes());

    let index = 123;
    let proof = inclusion_proof(&log.tiles, index as u64, 300).unwrap();
    let bundle =
        ProofBundle::new(index as u64, proof.clone(), cosigned.clone()).with_extra(entry(index));
    log.write("entry.tlog-proof", &bundle.to_bytes());
    let policy = Policy::parse(two_of_three.as_bytes()).unwrap();
    assert!(bundle.verify(&leaf_hash(&entry(index)), &policy).is_ok());

    let file = |name: &str| log.path(name).to_str().unwrap().to_owned();
    let (ok, stdout) = run(
        &python,
        "tlog_proof_verify.py",
        &[&file("entry.tlog-proof"), &file("two.policy")],
    );
    assert!(ok, "{stdout}");
    assert_eq!(stdout.trim(), "ok index 123 size 300 cosigned by A B");

    // The quorum of all three is not met.
    let (ok, stdout) = run(
        &python,
        "tlog_proof_verify.py",
        &[&file("entry.tlog-proof"), &file("all.policy")],
    );
    assert!(!ok);
    assert!(stdout.contains("quorum 'G' is not met"), "{stdout}");

    // Another entry carried at that index.
    let swapped =
        ProofBundle::new(index as u64, proof.clone(), cosigned.clone()).with_extra(entry(124));
    log.write("swapped.tlog-proof", &swapped.to_bytes());
    let (ok, stdout) = run(
        &python,
        "tlog_proof_verify.py",
        &[&file("swapped.tlog-proof"), &file("two.policy")],
    );
    assert!(!ok);
    assert!(
        stdout.contains("does not lead to the checkpoint's root"),
        "{stdout}"
    );

    // Without extra, the entry comes from a file.
    let bare = ProofBundle::new(index as u64, proof, cosigned);
    log.write("bare.tlog-proof", &bare.to_bytes());
    log.write("entry", &entry(index));
    let (ok, stdout) = run(
        &python,
        "tlog_proof_verify.py",
        &[
            &file("bare.tlog-proof"),
            &file("two.policy"),
            "--entry",
            &file("entry"),
        ],
    );
    assert!(ok, "{stdout}");
}
