//! The access log: who read a robot's full record or changed the registry,
//! when, and with what outcome. Append-only and hash-chained like a robot's
//! history, so an edited or deleted entry shows.
//!
//! Entries go to one of [`SHARDS`] chains, chosen by the robot (or the
//! caller when there is none), so that concurrent calls on different robots
//! do not queue behind one chain head.
//!
//! A call about several robots (a batch of registrations, a recall, a
//! shipment's border events) is one entry, not one per robot: the entry
//! commits to the set of its robots (their count and a digest of their
//! sorted codes), which are kept beside it as an index, one small row per
//! robot, so that a query by robot finds the entry and an edit of the index
//! shows. A 10,000-robot batch thus costs one chained entry and 10,000 index
//! rows of a code and a position, instead of 10,000 chained entries with a
//! caller, an action, an outcome and two hashes each.

use std::collections::HashMap;

use sha2::{Digest as _, Sha256};

use crate::history::{Canonical, Digest};
use crate::time::Timestamp;

pub const SHARDS: u32 = 16;

/// An access before it is chained.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessDraft {
    /// `robotid://ROLE/ORG`.
    pub caller: String,
    /// The RPC, e.g. `GetRobot(FULL)`.
    pub action: String,
    /// The robots the call is about: none, one, or a batch.
    pub robots: Vec<String>,
    /// `OK`, or the status code and reason of a refusal.
    pub outcome: String,
}

/// The robots of an entry about more than one: what its hash commits to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Batch {
    pub count: u64,
    /// SHA-256 over the sorted, distinct codes, each length-prefixed.
    pub digest: Digest,
}

impl Batch {
    /// The batch of `robots` (sorted and deduplicated in place).
    pub fn of(robots: &mut Vec<String>) -> Batch {
        robots.sort();
        robots.dedup();
        let mut hash = Sha256::new();
        for robot in robots.iter() {
            hash.update((robot.len() as u64).to_be_bytes());
            hash.update(robot.as_bytes());
        }
        Batch {
            count: robots.len() as u64,
            digest: Digest(hash.finalize().into()),
        }
    }
}

impl AccessDraft {
    /// The chain this entry belongs to.
    pub fn shard(&self) -> u32 {
        let key = self.robots.first().unwrap_or(&self.caller);
        // FNV-1a: stable across processes and versions, unlike std's hasher.
        let hash = key.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
        (hash % u64::from(SHARDS)) as u32
    }

    /// Chains the entry; for a batch, also its robots, sorted and distinct,
    /// for the index beside it.
    pub fn seal(
        self,
        shard: u32,
        sequence: u64,
        previous_hash: Digest,
        at: Timestamp,
    ) -> (AccessEntry, Vec<String>) {
        let mut robots = self.robots;
        let (robot_id, batch) = match robots.len() {
            0 => (None, None),
            1 => (robots.pop(), None),
            _ => (None, Some(Batch::of(&mut robots))),
        };
        let mut entry = AccessEntry {
            shard,
            sequence,
            at,
            caller: self.caller,
            action: self.action,
            robot_id,
            batch,
            outcome: self.outcome,
            previous_hash,
            hash: Digest::GENESIS,
        };
        entry.hash = entry.content_hash();
        (entry, robots)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessEntry {
    pub shard: u32,
    /// 1 for the first entry of its shard.
    pub sequence: u64,
    pub at: Timestamp,
    pub caller: String,
    pub action: String,
    /// The one robot the call was about.
    pub robot_id: Option<String>,
    /// The robots of a call about several.
    pub batch: Option<Batch>,
    pub outcome: String,
    pub previous_hash: Digest,
    pub hash: Digest,
}

impl AccessEntry {
    /// Version 1 for an entry about at most one robot (as every entry was
    /// before batches were indexed, so old chains still verify); version 2
    /// appends a batch's count and digest.
    pub fn content_hash(&self) -> Digest {
        let mut encoding = Canonical::new(if self.batch.is_some() { 2 } else { 1 });
        encoding.int(i64::from(self.shard));
        encoding.int(self.sequence as i64);
        encoding.int(self.at.as_micros());
        encoding.text(&self.caller);
        encoding.text(&self.action);
        encoding.optional(self.robot_id.as_deref());
        encoding.text(&self.outcome);
        if let Some(batch) = &self.batch {
            encoding.int(batch.count as i64);
            encoding.digest(batch.digest);
        }
        encoding.digest(self.previous_hash);
        encoding.finish()
    }
}

/// The first problem in one shard's chain, given its entries in order, the
/// head its head row records and the index rows of its batches (robots by
/// entry sequence); `None` when intact.
pub fn verify_shard<'a>(
    entries: impl IntoIterator<Item = &'a AccessEntry>,
    head: (u64, Digest),
    mut indexed: HashMap<u64, Vec<String>>,
) -> Option<(u64, String)> {
    let mut previous = Digest::GENESIS;
    let mut expected = 1;
    for entry in entries {
        let robots = indexed
            .remove(&entry.sequence)
            .map(|mut robots| Batch::of(&mut robots));
        if robots != entry.batch {
            return Some((
                entry.sequence,
                format!(
                    "the robots indexed for entry {} were changed",
                    entry.sequence
                ),
            ));
        }
        if entry.sequence != expected {
            return Some((expected, format!("entry {expected} is missing")));
        }
        if entry.previous_hash != previous {
            return Some((
                entry.sequence,
                format!("entry {} does not link to the one before", entry.sequence),
            ));
        }
        if entry.content_hash() != entry.hash {
            return Some((
                entry.sequence,
                format!("entry {} was changed after it was written", entry.sequence),
            ));
        }
        previous = entry.hash;
        expected += 1;
    }
    if (expected - 1, previous) != head {
        return Some((expected, "the newest entries were removed".into()));
    }
    if let Some(sequence) = indexed.keys().min() {
        return Some((
            *sequence,
            format!("robots are indexed for entry {sequence}, which has none"),
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: u64) -> Vec<AccessEntry> {
        let mut previous = Digest::GENESIS;
        (1..=n)
            .map(|sequence| {
                let (entry, _) = AccessDraft {
                    caller: "robotid://regulator/miit".into(),
                    action: "GetRobot(FULL)".into(),
                    robots: vec!["CN0001HX00010000000000000001P".into()],
                    outcome: "OK".into(),
                }
                .seal(
                    3,
                    sequence,
                    previous,
                    Timestamp::from_micros(sequence as i64),
                );
                previous = entry.hash;
                entry
            })
            .collect()
    }

    #[test]
    fn an_edited_or_removed_entry_is_found() {
        let entries = chain(4);
        let head = (4, entries[3].hash);
        let none = HashMap::new;
        assert_eq!(verify_shard(&entries, head, none()), None);
        let mut edited = entries.clone();
        edited[1].caller = "robotid://seller/nobody".into();
        assert_eq!(verify_shard(&edited, head, none()).unwrap().0, 2);
        assert!(verify_shard(&entries[..3], head, none()).is_some());
        let stray = HashMap::from([(2, vec!["CN0001HX00010000000000000002N".into()])]);
        assert_eq!(verify_shard(&entries, head, stray).unwrap().0, 2);
    }

    #[test]
    fn a_batch_entry_commits_to_its_robots() {
        let robots: Vec<String> = ["B", "A", "C", "A"].map(String::from).into();
        let (entry, indexed) = AccessDraft {
            caller: "robotid://service/issuance".into(),
            action: "RegisterRobots(4)".into(),
            robots,
            outcome: "OK".into(),
        }
        .seal(0, 1, Digest::GENESIS, Timestamp::from_micros(7));
        assert_eq!(indexed, ["A", "B", "C"]);
        assert_eq!(entry.batch.unwrap().count, 3);
        assert_eq!(entry.robot_id, None);
        let head = (1, entry.hash);
        let index =
            |robots: &[&str]| HashMap::from([(1, robots.iter().map(|r| r.to_string()).collect())]);
        let entries = [entry];
        assert_eq!(verify_shard(&entries, head, index(&["C", "A", "B"])), None);
        let removed = verify_shard(&entries, head, index(&["A", "B"])).unwrap();
        assert!(removed.1.contains("indexed"), "{removed:?}");
        assert!(verify_shard(&entries, head, HashMap::new()).is_some());
    }

    #[test]
    fn shards_are_stable_and_spread() {
        let draft = |robot: &str| AccessDraft {
            caller: "c".into(),
            action: "a".into(),
            robots: vec![robot.into()],
            outcome: "OK".into(),
        };
        assert_eq!(draft("A").shard(), draft("A").shard());
        let shards: std::collections::HashSet<u32> =
            (0..200).map(|i| draft(&format!("R{i}")).shard()).collect();
        assert_eq!(shards.len(), SHARDS as usize);
    }
}
