//! The access log: who read a robot's full record or changed the registry,
//! when, and with what outcome. Append-only and hash-chained like a robot's
//! history, so an edited or deleted entry shows.
//!
//! Entries go to one of [`SHARDS`] chains, chosen by the robot (or the
//! caller when there is none), so that concurrent calls on different robots
//! do not queue behind one chain head.

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
    pub robot_id: Option<String>,
    /// `OK`, or the status code and reason of a refusal.
    pub outcome: String,
}

impl AccessDraft {
    /// The chain this entry belongs to.
    pub fn shard(&self) -> u32 {
        let key = self.robot_id.as_deref().unwrap_or(&self.caller);
        // FNV-1a: stable across processes and versions, unlike std's hasher.
        let hash = key.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
        (hash % u64::from(SHARDS)) as u32
    }

    pub fn seal(
        self,
        shard: u32,
        sequence: u64,
        previous_hash: Digest,
        at: Timestamp,
    ) -> AccessEntry {
        let mut entry = AccessEntry {
            shard,
            sequence,
            at,
            caller: self.caller,
            action: self.action,
            robot_id: self.robot_id,
            outcome: self.outcome,
            previous_hash,
            hash: Digest::GENESIS,
        };
        entry.hash = entry.content_hash();
        entry
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
    pub robot_id: Option<String>,
    pub outcome: String,
    pub previous_hash: Digest,
    pub hash: Digest,
}

impl AccessEntry {
    pub fn content_hash(&self) -> Digest {
        let mut encoding = Canonical::new(1);
        encoding.int(i64::from(self.shard));
        encoding.int(self.sequence as i64);
        encoding.int(self.at.as_micros());
        encoding.text(&self.caller);
        encoding.text(&self.action);
        encoding.optional(self.robot_id.as_deref());
        encoding.text(&self.outcome);
        encoding.digest(self.previous_hash);
        encoding.finish()
    }
}

/// The first problem in one shard's chain, given its entries in order and
/// the head its head row records; `None` when intact.
pub fn verify_shard<'a>(
    entries: impl IntoIterator<Item = &'a AccessEntry>,
    head: (u64, Digest),
) -> Option<(u64, String)> {
    let mut previous = Digest::GENESIS;
    let mut expected = 1;
    for entry in entries {
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
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: u64) -> Vec<AccessEntry> {
        let mut previous = Digest::GENESIS;
        (1..=n)
            .map(|sequence| {
                let entry = AccessDraft {
                    caller: "robotid://regulator/miit".into(),
                    action: "GetRobot(FULL)".into(),
                    robot_id: Some("CN0001HX00010000000000000001P".into()),
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
        assert_eq!(verify_shard(&entries, head), None);
        let mut edited = entries.clone();
        edited[1].caller = "robotid://seller/nobody".into();
        assert_eq!(verify_shard(&edited, head).unwrap().0, 2);
        assert!(verify_shard(&entries[..3], head).is_some());
    }

    #[test]
    fn shards_are_stable_and_spread() {
        let draft = |robot: &str| AccessDraft {
            caller: "c".into(),
            action: "a".into(),
            robot_id: Some(robot.into()),
            outcome: "OK".into(),
        };
        assert_eq!(draft("A").shard(), draft("A").shard());
        let shards: std::collections::HashSet<u32> =
            (0..200).map(|i| draft(&format!("R{i}")).shard()).collect();
        assert_eq!(shards.len(), SHARDS as usize);
    }
}
