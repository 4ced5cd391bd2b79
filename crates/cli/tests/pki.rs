//! `robotid pki` as a person runs it: the real binary, real files.

use std::path::Path;
use std::process::{Command, Output};

use x509_parser::extensions::GeneralName;
use x509_parser::pem::parse_x509_pem;

fn robotid(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_robotid"))
        .args(args)
        .output()
        .expect("robotid runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The certificate's DER from its PEM file.
fn der(path: &Path) -> Vec<u8> {
    let pem = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    parse_x509_pem(&pem).expect("PEM").1.contents
}

/// Issuer name, authority key id, and the `robotid://` SAN URIs.
struct Facts {
    issuer: String,
    subject: String,
    authority_key: Option<Vec<u8>>,
    subject_key: Option<Vec<u8>>,
    uris: Vec<String>,
    is_ca: bool,
}

fn facts(der: &[u8]) -> Facts {
    let (_, cert) = x509_parser::parse_x509_certificate(der).expect("a certificate");
    let uris = cert
        .subject_alternative_name()
        .unwrap()
        .map(|san| {
            san.value
                .general_names
                .iter()
                .filter_map(|name| match name {
                    GeneralName::URI(uri) => Some(uri.to_string()),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default();
    let mut authority_key = None;
    let mut subject_key = None;
    for extension in cert.extensions() {
        match extension.parsed_extension() {
            x509_parser::extensions::ParsedExtension::AuthorityKeyIdentifier(aki) => {
                authority_key = aki.key_identifier.as_ref().map(|id| id.0.to_vec());
            }
            x509_parser::extensions::ParsedExtension::SubjectKeyIdentifier(ski) => {
                subject_key = Some(ski.0.to_vec());
            }
            _ => {}
        }
    }
    Facts {
        issuer: cert.issuer().to_string(),
        subject: cert.subject().to_string(),
        authority_key,
        subject_key,
        uris,
        is_ca: cert.is_ca(),
    }
}

#[test]
fn makes_a_ca_and_a_certificate_per_role_and_service_then_reuses_them() {
    let dir = tempfile::tempdir().unwrap();
    let pki = dir.path().join("pki");
    let pki_arg = pki.to_str().unwrap();
    let made = robotid(&["pki", "--dir", pki_arg, "--country", "DE"]);
    assert!(made.status.success(), "{}", text(&made.stderr));
    assert!(text(&made.stdout).contains("made the development PKI"));

    let ca = facts(&der(&pki.join("ca.crt")));
    assert!(ca.is_ca);
    let expected = [
        ("regulator", "robotid://regulator/miit"),
        ("manufacturer", "robotid://manufacturer/0001"),
        ("seller", "robotid://seller/S0001"),
        ("service-provider", "robotid://service-provider/SP0001"),
        ("operator", "robotid://operator/OP0001"),
        ("recycler", "robotid://recycler/RC0001"),
        ("customs", "robotid://customs/DE-SHA"),
        ("police", "robotid://police/DE-POL"),
        ("issuance", "robotid://service/issuance"),
        ("registry", "robotid://service/registry"),
        ("transfer", "robotid://service/transfer"),
    ];
    for (name, uri) in expected {
        let cert = facts(&der(&pki.join(format!("{name}.crt"))));
        assert_eq!(cert.uris, [uri], "{name}");
        assert!(!cert.is_ca, "{name}");
        // Issued by the CA: its name, and its key's identifier.
        assert_eq!(cert.issuer, ca.subject, "{name}");
        if let (Some(authority), Some(ca_key)) = (&cert.authority_key, &ca.subject_key) {
            assert_eq!(authority, ca_key, "{name}");
        }
        let key = std::fs::read_to_string(pki.join(format!("{name}.key"))).unwrap();
        assert!(key.contains("PRIVATE KEY"), "{name}");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(pki.join(format!("{name}.key")))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o077, 0, "{name}.key is private");
        }
    }

    // A second run reuses the PKI, and says so.
    let ca_before = std::fs::read(pki.join("ca.crt")).unwrap();
    let again = robotid(&["pki", "--dir", pki_arg, "--json"]);
    assert!(again.status.success(), "{}", text(&again.stderr));
    let answer: serde_json::Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!(answer["created"], false);
    assert_eq!(answer["holders"].as_array().unwrap().len(), expected.len());
    assert_eq!(std::fs::read(pki.join("ca.crt")).unwrap(), ca_before);
    let text_again = robotid(&["pki", "--dir", pki_arg]);
    assert!(text(&text_again.stdout).contains("reusing the development PKI"));

    // The default is the data directory's pki/.
    let data = dir.path().join("data");
    let by_default = robotid(&["pki", "--data-dir", data.to_str().unwrap()]);
    assert!(by_default.status.success(), "{}", text(&by_default.stderr));
    assert!(data.join("pki/ca.crt").exists());

    let bad = robotid(&["pki", "--dir", pki_arg, "--country", "Germany"]);
    assert!(!bad.status.success());
    assert!(
        text(&bad.stderr).contains("--country"),
        "{}",
        text(&bad.stderr)
    );
}
