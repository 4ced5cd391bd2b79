//! The README's regulator's path, run as written in a fresh `robotid dev`:
//! a manufacturer admitted, its certificate issued from the development
//! CA, its model declared and approved, robots issued under the new code,
//! the access log read and verified, a trust-list key revoked, and a
//! recall. And `trust add`, which the path does not show.

mod support;
use support::{Dev, json, readme_block, robotid, run_script};

const MARKER: &str = "<!-- regulator: crates/cli/tests/regulator.rs runs this block -->";

#[test]
fn the_readme_regulator_path_admits_a_manufacturer_that_then_issues() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let dev = Dev::start(dir);

    let path = run_script(dir, &readme_block(MARKER));
    assert!(
        path.status.success(),
        "the README's regulator path failed:\n{}\n{}",
        String::from_utf8_lossy(&path.stdout),
        String::from_utf8_lossy(&path.stderr)
    );

    // The development CA's key stays in the data directory, owner-only,
    // under a README that says it is for development only.
    let pki = dir.join("robotid-dev/pki");
    assert!(
        std::fs::read_to_string(pki.join("README"))
            .unwrap()
            .starts_with("DEVELOPMENT ONLY")
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(pki.join("ca.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    // The new manufacturer's model is approved and its robot in the market.
    let model = json(
        dir,
        &[
            "model",
            "get",
            "--as",
            "regulator",
            "--manufacturer",
            "0002",
            "--model",
            "AD0001",
        ],
    );
    assert_eq!(model["approval_state"], "APPROVED", "{model}");
    let log = json(dir, &["access-log", "list", "--as", "regulator"]);
    let entries = log["entries"].as_array().unwrap();
    let released = entries
        .iter()
        .find(|e| e["action"] == "RecordEvent(RELEASED_TO_MARKET)")
        .expect("the release is in the access log");
    assert_eq!(released["caller"], "robotid://manufacturer/0002");
    let robot = released["robot_id"].as_str().unwrap();
    assert!(robot.starts_with("CN0002AD0001"), "{robot}");
    let card = json(dir, &["resolve", robot, "--full", "--as", "regulator"]);
    assert_eq!(card["status"], "IN_MARKET", "{card}");
    // The model's recall holds it, and its public card says why.
    let recalls = json(dir, &["recall", "list", "--as", "regulator"]);
    let recall = &recalls["recalls"][0];
    assert_eq!(recall["model_code"], "AD0001", "{recalls}");
    let public = json(dir, &["resolve", robot]);
    assert_eq!(public["recalled"], true, "{public}");
    assert!(
        public.to_string().contains("Hip actuator may overheat"),
        "{public}"
    );
    // Its certificate is the manufacturer's own, not the demo's: it may
    // not act for manufacturer 0001.
    let other = robotid(
        dir,
        &[
            "issue",
            "--as",
            "manufacturer-0002",
            "--manufacturer",
            "0001",
            "--model",
            "HX0001",
        ],
    );
    assert!(!other.status.success());
    assert!(
        String::from_utf8_lossy(&other.stderr).contains("PERMISSION_DENIED"),
        "{}",
        String::from_utf8_lossy(&other.stderr)
    );
    let verified = json(dir, &["access-log", "verify", "--as", "regulator"]);
    assert_eq!(verified["intact"], true);

    // The revoked key is marked so on the trust list.
    let trusted = json(dir, &["trust", "list", "--as", "regulator"]);
    let keys = trusted["trusted_registries"].as_array().unwrap();
    assert!(
        keys.iter()
            .any(|k| k["country_code"] == "DE" && k["revoked"] == true),
        "{trusted}"
    );
    dev.stop();
}

#[test]
fn trust_add_puts_a_foreign_key_on_the_list() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let dev = Dev::start(dir);
    let keygen = robotid(
        dir,
        &["credential", "keygen", "--out", "fr-signing-key.pem"],
    );
    assert!(
        keygen.status.success(),
        "{}",
        String::from_utf8_lossy(&keygen.stderr)
    );
    // keygen writes the public key beside the private one.
    let public = dir.join("fr-signing-key.pem.pub");
    let added = json(
        dir,
        &[
            "trust",
            "add",
            "--as",
            "regulator",
            "--country",
            "FR",
            "--public-key",
            public.to_str().unwrap(),
            "--days",
            "30",
        ],
    );
    let name = added["name"].as_str().unwrap().to_owned();
    assert!(name.starts_with("trustedRegistries/FR-"), "{added}");
    assert_eq!(added["revoked"], false);
    let listed = json(dir, &["trust", "list", "--as", "regulator"]);
    assert!(
        listed["trusted_registries"]
            .as_array()
            .unwrap()
            .iter()
            .any(|k| k["name"] == name.as_str()),
        "{listed}"
    );
    // Only the regulator keeps the list.
    let refused = robotid(
        dir,
        &[
            "trust",
            "add",
            "--as",
            "customs",
            "--country",
            "FR",
            "--public-key",
            public.to_str().unwrap(),
        ],
    );
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("PERMISSION_DENIED"));
    dev.stop();
}
