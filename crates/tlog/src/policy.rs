//! c2sp.org/tlog-policy: which logs and witnesses a verifier trusts, and
//! which witnesses must have cosigned a checkpoint (the quorum).
//!
//! ```text
//! log <vkey> [<url>]
//! witness <name> <vkey> [<url>]
//! group <name> all|any|<k> <name>...
//! quorum <name>|none
//! ```
//!
//! Items are separated by spaces and tabs; blank lines and `#` comments are
//! ignored. A group or the quorum names only witnesses and groups defined on
//! lines before it, each member at most once; `none` is the quorum that asks
//! for no cosignature. Log keys are signed-note Ed25519 keys (type `0x01`),
//! named by the log's origin; witness keys are cosignature keys (`0x04`).
//! Names are compared as bytes; this implementation takes them as UTF-8
//! and refuses a policy whose names or URLs are not.

use crate::checkpoint::SignedCheckpoint;
use crate::note::{NoteError, SignatureType, VerifierKey};

const NONE: &str = "none";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("policy line {line}: {reason}")]
    Syntax { line: usize, reason: String },
    #[error("the policy has no quorum line")]
    NoQuorum,
    #[error("the policy lists no log of origin {0:?}")]
    UnknownLog(String),
    #[error("the checkpoint: {0}")]
    Note(#[from] NoteError),
    #[error("the log's own signature is missing")]
    NotSignedByLog,
    #[error("the quorum is not met; cosigned by {cosigned:?}")]
    QuorumNotMet { cosigned: Vec<String> },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyLog {
    pub key: VerifierKey,
    pub url: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyWitness {
    pub name: String,
    pub key: VerifierKey,
    pub url: Option<String>,
}

/// Satisfied when at least `threshold` of its members are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyGroup {
    pub name: String,
    pub threshold: usize,
    pub members: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    logs: Vec<PolicyLog>,
    witnesses: Vec<PolicyWitness>,
    groups: Vec<PolicyGroup>,
    /// A witness's or a group's name, or `none`.
    quorum: String,
}

/// What a checkpoint that meets a policy was signed by.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyVerdict {
    pub log: VerifierKey,
    /// The policy's names of the witnesses whose cosignature verified.
    pub cosigned_by: Vec<String>,
}

impl Policy {
    pub fn parse(text: &[u8]) -> Result<Self, PolicyError> {
        let mut builder = Builder::default();
        for (number, line) in (1..).zip(text.split(|&b| b == b'\n')) {
            let error = |reason: &str| PolicyError::Syntax {
                line: number,
                reason: reason.to_owned(),
            };
            if let Some(&bad) = line
                .iter()
                .find(|&&b| (b < 0x20 && b != b'\t') || b == 0x7f)
            {
                return Err(error(&format!("control character {bad:#04x}")));
            }
            let items: Vec<&[u8]> = line
                .split(|&b| b == b' ' || b == b'\t')
                .filter(|item| !item.is_empty())
                .collect();
            if items.first().is_none_or(|first| first.starts_with(b"#")) {
                continue;
            }
            let items: Vec<&str> = items
                .into_iter()
                .map(std::str::from_utf8)
                .collect::<Result<_, _>>()
                .map_err(|_| error("not UTF-8"))?;
            builder.line(&items).map_err(error)?;
        }
        builder.finish()
    }

    pub fn logs(&self) -> &[PolicyLog] {
        &self.logs
    }

    pub fn witnesses(&self) -> &[PolicyWitness] {
        &self.witnesses
    }

    pub fn groups(&self) -> &[PolicyGroup] {
        &self.groups
    }

    /// The quorum's name (`none` when no cosignature is required).
    pub fn quorum(&self) -> &str {
        &self.quorum
    }

    /// Checks that `signed` is signed by one of the policy's logs (the one
    /// named by its origin) and cosigned as the quorum demands.
    pub fn evaluate(&self, signed: &SignedCheckpoint) -> Result<PolicyVerdict, PolicyError> {
        let origin = signed.checkpoint().origin();
        let log_keys: Vec<&VerifierKey> = self
            .logs
            .iter()
            .map(|log| &log.key)
            .filter(|key| key.name() == origin)
            .collect();
        if log_keys.is_empty() {
            return Err(PolicyError::UnknownLog(origin.to_owned()));
        }
        let trusted: Vec<VerifierKey> = log_keys
            .iter()
            .copied()
            .chain(self.witnesses.iter().map(|witness| &witness.key))
            .cloned()
            .collect();
        let verified = signed.note().verify(&trusted)?;
        let log = log_keys
            .into_iter()
            .find(|key| verified.signed_by(key))
            .ok_or(PolicyError::NotSignedByLog)?;
        let cosigned_by: Vec<String> = self
            .witnesses
            .iter()
            .filter(|witness| verified.signed_by(&witness.key))
            .map(|witness| witness.name.clone())
            .collect();
        if !self.satisfied(&self.quorum, &cosigned_by) {
            return Err(PolicyError::QuorumNotMet {
                cosigned: cosigned_by,
            });
        }
        Ok(PolicyVerdict {
            log: log.clone(),
            cosigned_by,
        })
    }

    fn satisfied(&self, name: &str, cosigned_by: &[String]) -> bool {
        if name == NONE {
            return true;
        }
        if let Some(group) = self.groups.iter().find(|group| group.name == name) {
            let met = group
                .members
                .iter()
                .filter(|member| self.satisfied(member, cosigned_by))
                .count();
            return met >= group.threshold;
        }
        cosigned_by.iter().any(|witness| witness == name)
    }
}

#[derive(Default)]
struct Builder {
    logs: Vec<PolicyLog>,
    witnesses: Vec<PolicyWitness>,
    groups: Vec<PolicyGroup>,
    quorum: Option<String>,
}

impl Builder {
    fn line(&mut self, items: &[&str]) -> Result<(), &'static str> {
        match items {
            ["log", key, url @ ..] if url.len() <= 1 => {
                let key = parse_key(key, SignatureType::Ed25519)?;
                if self
                    .logs
                    .iter()
                    .any(|log| log.key.public_key() == key.public_key())
                {
                    return Err("a log listed twice");
                }
                self.logs.push(PolicyLog {
                    key,
                    url: url.first().map(|url| (*url).to_owned()),
                });
            }
            ["witness", name, key, url @ ..] if url.len() <= 1 => {
                self.new_name(name)?;
                let key = parse_key(key, SignatureType::Cosignature)?;
                if self
                    .witnesses
                    .iter()
                    .any(|witness| witness.key.public_key() == key.public_key())
                {
                    return Err("a witness listed twice");
                }
                self.witnesses.push(PolicyWitness {
                    name: (*name).to_owned(),
                    key,
                    url: url.first().map(|url| (*url).to_owned()),
                });
            }
            ["group", name, threshold, members @ ..] if !members.is_empty() => {
                self.new_name(name)?;
                let mut seen: Vec<&str> = Vec::new();
                for member in members {
                    if !self.defined(member) {
                        return Err("a group member must be defined on a line before");
                    }
                    if seen.contains(member) {
                        return Err("a group lists a member twice");
                    }
                    seen.push(member);
                }
                let threshold = match *threshold {
                    "all" => members.len(),
                    "any" => 1,
                    k => crate::text::parse_decimal(k)
                        .and_then(|k| usize::try_from(k).ok())
                        .filter(|k| (1..=members.len()).contains(k))
                        .ok_or("a threshold is all, any or 1 to the member count")?,
                };
                self.groups.push(PolicyGroup {
                    name: (*name).to_owned(),
                    threshold,
                    members: members.iter().map(|m| (*m).to_owned()).collect(),
                });
            }
            ["quorum", name] => {
                if self.quorum.is_some() {
                    return Err("a second quorum line");
                }
                if *name != NONE && !self.defined(name) {
                    return Err("the quorum must be defined on a line before");
                }
                self.quorum = Some((*name).to_owned());
            }
            [keyword, ..] if ["log", "witness", "group", "quorum"].contains(keyword) => {
                return Err("wrong number of items");
            }
            _ => return Err("unknown line"),
        }
        Ok(())
    }

    fn defined(&self, name: &str) -> bool {
        self.witnesses.iter().any(|witness| witness.name == name)
            || self.groups.iter().any(|group| group.name == name)
    }

    fn new_name(&self, name: &str) -> Result<(), &'static str> {
        if name == NONE {
            return Err("`none` is predefined");
        }
        if self.defined(name) {
            return Err("a name defined twice");
        }
        Ok(())
    }

    fn finish(self) -> Result<Policy, PolicyError> {
        Ok(Policy {
            logs: self.logs,
            witnesses: self.witnesses,
            groups: self.groups,
            quorum: self.quorum.ok_or(PolicyError::NoQuorum)?,
        })
    }
}

fn parse_key(text: &str, expected: SignatureType) -> Result<VerifierKey, &'static str> {
    let key = VerifierKey::parse(text).map_err(|_| "not a verifier key")?;
    if key.signature_type() != expected {
        return Err(match expected {
            SignatureType::Ed25519 => "a log key is an Ed25519 (0x01) key",
            SignatureType::Cosignature => "a witness key is a cosignature (0x04) key",
        });
    }
    Ok(key)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::checkpoint::Checkpoint;
    use crate::cosignature::Cosigner;
    use crate::hash::leaf_hash;
    use crate::note::NoteSigner;
    use crate::note::tests::test_key;

    pub(crate) const ORIGIN: &str = "registry.example/cn/log";
    pub(crate) const NOW: u64 = 1_700_000_000;

    pub(crate) fn log_signer() -> NoteSigner {
        NoteSigner::new(ORIGIN, test_key(1)).unwrap()
    }

    /// Six witnesses, X1..X3 and Y1..Y3, seeded 11.. and 21...
    pub(crate) fn witnesses() -> Vec<(String, Cosigner)> {
        ["X1", "X2", "X3", "Y1", "Y2", "Y3"]
            .iter()
            .zip([11, 12, 13, 21, 22, 23])
            .map(|(name, seed)| {
                let cosigner = Cosigner::new(
                    &format!("{}.witness.example", name.to_lowercase()),
                    test_key(seed),
                )
                .unwrap();
                ((*name).to_owned(), cosigner)
            })
            .collect()
    }

    /// The spec's example policy, with keys.
    pub(crate) fn spec_example_policy() -> String {
        let witnesses = witnesses();
        let key = |name: &str| {
            witnesses
                .iter()
                .find(|(n, _)| n == name)
                .unwrap()
                .1
                .verifier_key()
                .to_string()
        };
        format!(
            "log {log}\n\
             \n\
             witness X1 {x1}\n\
             witness X2 {x2}\n\
             witness X3 {x3}\n\
             group X-witnesses 2 X1 X2 X3\n\
             \n\
             witness Y1 {y1}\n\
             witness Y2 {y2}\n\
             witness Y3 {y3}\n\
             group Y-witnesses any Y1 Y2 Y3\n\
             \n\
             group X-and-Y all X-witnesses Y-witnesses\n\
             quorum X-and-Y\n",
            log = log_signer().verifier_key(),
            x1 = key("X1"),
            x2 = key("X2"),
            x3 = key("X3"),
            y1 = key("Y1"),
            y2 = key("Y2"),
            y3 = key("Y3"),
        )
    }

    fn cosigned_by(names: &[&str]) -> SignedCheckpoint {
        let checkpoint = Checkpoint::new(ORIGIN, 10, leaf_hash(b"root")).unwrap();
        let mut signed = SignedCheckpoint::sign(checkpoint.clone(), &log_signer());
        for (name, cosigner) in witnesses() {
            if names.contains(&name.as_str()) {
                signed.add_signature(cosigner.cosign(&checkpoint, NOW));
            }
        }
        signed
    }

    #[test]
    fn the_spec_example_policy_needs_two_x_and_one_y() {
        let policy = Policy::parse(spec_example_policy().as_bytes()).unwrap();
        assert_eq!(policy.logs().len(), 1);
        assert_eq!(policy.witnesses().len(), 6);
        assert_eq!(policy.groups()[0].threshold, 2);
        assert_eq!(policy.groups()[1].threshold, 1);
        assert_eq!(policy.groups()[2].threshold, 2);
        assert_eq!(policy.quorum(), "X-and-Y");

        let verdict = policy.evaluate(&cosigned_by(&["X1", "X3", "Y2"])).unwrap();
        assert_eq!(verdict.log, *log_signer().verifier_key());
        assert_eq!(verdict.cosigned_by, ["X1", "X3", "Y2"]);
        for short in [&["X1", "Y1", "Y2", "Y3"][..], &["X1", "X2", "X3"], &[]] {
            assert!(
                matches!(
                    policy.evaluate(&cosigned_by(short)),
                    Err(PolicyError::QuorumNotMet { .. })
                ),
                "{short:?}"
            );
        }
    }

    #[test]
    fn the_log_must_sign_and_be_listed() {
        let policy =
            Policy::parse(format!("log {}\nquorum none\n", log_signer().verifier_key()).as_bytes())
                .unwrap();
        assert!(policy.evaluate(&cosigned_by(&[])).is_ok());
        let stranger = NoteSigner::new("elsewhere.example/log", test_key(3)).unwrap();
        let foreign = SignedCheckpoint::sign(
            Checkpoint::new("elsewhere.example/log", 1, leaf_hash(b"r")).unwrap(),
            &stranger,
        );
        assert_eq!(
            policy.evaluate(&foreign),
            Err(PolicyError::UnknownLog("elsewhere.example/log".into()))
        );
        // A checkpoint of the right origin signed by a key not listed.
        let impostor = NoteSigner::new(ORIGIN, test_key(4)).unwrap();
        let forged = SignedCheckpoint::sign(
            Checkpoint::new(ORIGIN, 1, leaf_hash(b"r")).unwrap(),
            &impostor,
        );
        assert!(matches!(
            policy.evaluate(&forged),
            Err(PolicyError::Note(NoteError::Unverified))
        ));
    }

    #[test]
    fn comments_blank_lines_tabs_and_urls_are_allowed() {
        let log = log_signer().verifier_key().to_string();
        let witness = witnesses()[0].1.verifier_key().to_string();
        let text = format!(
            "# a comment\n   # another\n\t\nlog\t{log}  https://registry.example/cn/log/ \nwitness W {witness} https://w.example/\nquorum W"
        );
        let policy = Policy::parse(text.as_bytes()).unwrap();
        assert_eq!(
            policy.logs()[0].url.as_deref(),
            Some("https://registry.example/cn/log/")
        );
        assert_eq!(
            policy.witnesses()[0].url.as_deref(),
            Some("https://w.example/")
        );
        assert_eq!(policy.quorum(), "W");
    }

    #[test]
    fn malformed_policies_are_refused() {
        let log = log_signer().verifier_key().to_string();
        let ws = witnesses();
        let w1 = ws[0].1.verifier_key().to_string();
        let w2 = ws[1].1.verifier_key().to_string();
        for bad in [
            String::new(),
            format!("log {log}\n"),
            "quorum W\n".to_owned(),
            format!("witness W {w1}\nquorum W\nquorum W\n"),
            format!("quorum W\nwitness W {w1}\n"),
            format!("log {log}\nlog {log}\nquorum none\n"),
            format!("witness W {w1}\nwitness V {w1}\nquorum W\n"),
            format!("witness W {w1}\nwitness W {w2}\nquorum W\n"),
            format!("witness none {w1}\nquorum none\n"),
            format!("witness W {log}\nquorum W\n"),
            format!("log {w1}\nquorum none\n"),
            format!("witness W {w1}\ngroup G 2 W\nquorum G\n"),
            format!("witness W {w1}\ngroup G 0 W\nquorum G\n"),
            format!("witness W {w1}\ngroup G 01 W\nquorum G\n"),
            format!("witness W {w1}\ngroup G any\nquorum G\n"),
            format!("witness W {w1}\ngroup G any W W\nquorum G\n"),
            format!("witness W {w1}\ngroup G any W none\nquorum G\n"),
            format!("witness W {w1}\ngroup G any V\nquorum G\n"),
            format!("witness W {w1}\ngroup G any G\nquorum G\n"),
            format!("witness W {w1} url extra\nquorum W\n"),
            format!("witness W {w1}\nquorum W\r\n"),
            format!("witnesses W {w1}\nquorum W\n"),
        ] {
            assert!(Policy::parse(bad.as_bytes()).is_err(), "{bad:?} parsed");
        }
    }

    #[test]
    fn names_are_compared_as_bytes_with_no_unicode_folding() {
        let w1 = witnesses()[0].1.verifier_key().to_string();
        let policy = Policy::parse(format!("witness K {w1}\nquorum K\n").as_bytes()).unwrap();
        assert!(Policy::parse(format!("witness K {w1}\nquorum \u{212a}\n").as_bytes()).is_err());
        assert_eq!(policy.quorum(), "K");
    }
}
