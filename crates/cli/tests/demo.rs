//! The README's demo, run as written: the real `robotid dev` (temporary
//! data directory, ports the OS chooses) and the README's shell block,
//! word for word, so that the README cannot drift from what works. The
//! robot must end up imported in the peer country.

mod support;
use support::{Dev, json, readme_block, robotid, run_script};

#[test]
fn the_readme_demo_takes_a_robot_from_issuance_to_import_abroad() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let dev = Dev::start(dir);
    assert!(dev.banner.contains("made now"), "{}", dev.banner);

    // The README's block, in a shell that stops at the first failure.
    let demo = run_script(
        dir,
        &readme_block("<!-- demo: crates/cli/tests/demo.rs runs this block -->"),
    );
    assert!(
        demo.status.success(),
        "the README demo failed:\n{}\n{}",
        String::from_utf8_lossy(&demo.stdout),
        String::from_utf8_lossy(&demo.stderr)
    );

    // Germany holds an arrived import: its robot is there now.
    let de = ["--data-dir", "robotid-dev/de"];
    let transfers = json(
        dir,
        &[&de[..], &["clearance", "list", "--as", "regulator"]].concat(),
    );
    let import = transfers["transfers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["direction"] == "IMPORT")
        .expect("an import in Germany");
    assert_eq!(import["state"], "ARRIVED", "{import}");
    let robot = import["decisions"][0]["robot_id"].as_str().unwrap();
    let there = json(
        dir,
        &[&de[..], &["resolve", robot, "--full", "--as", "regulator"]].concat(),
    );
    assert_eq!(there["origin_country"], "CN");
    assert_eq!(there["jurisdiction"], "DOMESTIC");
    assert_eq!(there["status"], "IN_SERVICE", "sold before it left");
    assert_eq!(
        there["factory"], "Wuhan line 3",
        "imported with its production data: {there}"
    );
    assert!(there["production_time"].is_string(), "{there}");
    assert_eq!(import["requested_by"], "robotid://customs/DE-SHA");
    let history = json(
        dir,
        &[&de[..], &["history", robot, "--as", "regulator"]].concat(),
    );
    let kinds: Vec<&str> = history["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["IMPORTED"]);

    // China: the robot is abroad, its history whole.
    let home = json(dir, &["resolve", robot, "--full", "--as", "regulator"]);
    assert_eq!(home["jurisdiction"], "ABROAD");
    let history = json(dir, &["history", robot, "--as", "regulator"]);
    let kinds: Vec<&str> = history["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "ISSUED",
            "RELEASED_TO_MARKET",
            "SOLD",
            "EXPORT_CLEARED",
            "EXPORTED"
        ]
    );
    let verified = json(dir, &["verify-history", robot, "--as", "regulator"]);
    assert_eq!(verified["intact"], true);

    // The two registries exchange holds: a theft reported to Germany's
    // police reaches China's card of the robot abroad.
    let reported = robotid(
        dir,
        &[
            &de[..],
            &["record", robot, "reported-stolen", "--as", "police"],
        ]
        .concat(),
    );
    assert!(reported.status.success(), "{reported:?}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while json(dir, &["resolve", robot])["stolen"] != true {
        assert!(
            std::time::Instant::now() < deadline,
            "Germany's theft report did not reach China"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }

    // A refusal names its code and reason on stderr, and exits non-zero:
    // a robot abroad cannot be sold here, not even by the regulator (who
    // may record a sale whoever holds the robot; a seller is not its
    // holder, and would be refused for that first).
    let sale = [
        "record",
        robot,
        "sold",
        "--as",
        "regulator",
        "--holder-org",
        "DE-HRB-1",
    ];
    let refused = robotid(dir, &sale);
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("FAILED_PRECONDITION ("), "{stderr}");
    let refused = robotid(dir, &[&sale[..], &["--json"]].concat());
    let error: serde_json::Value = serde_json::from_slice(&refused.stderr).expect("JSON error");
    assert_eq!(error["error"]["code"], "FAILED_PRECONDITION");
    assert!(error["error"]["reason"].is_string(), "{error}");
    // A mistyped code is refused before any lookup.
    let mistyped = robotid(dir, &["resolve", "CN-0001-HX0001-XXXX"]);
    assert!(!mistyped.status.success());
    assert!(
        String::from_utf8_lossy(&mistyped.stderr).contains("INVALID_ARGUMENT"),
        "{}",
        String::from_utf8_lossy(&mistyped.stderr)
    );
    dev.stop();

    // A second start reuses everything: the PKI, the keys, the robot.
    let again = Dev::start(dir);
    assert!(again.banner.contains("reused"), "{}", again.banner);
    let still = json(
        dir,
        &[&de[..], &["resolve", robot, "--full", "--as", "regulator"]].concat(),
    );
    assert_eq!(still["origin_country"], "CN");
    again.stop();
}
