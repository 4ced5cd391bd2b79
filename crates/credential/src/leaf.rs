//! The log's leaves: what each entry of the registry's transparency log
//! holds, byte for byte, so that anyone can parse and check them.
//!
//! An entry is a CBOR map (RFC 8949) with small unsigned integer keys, in
//! core deterministic encoding (§4.2.1: definite lengths, shortest integer
//! forms, keys in ascending order). Key `0` says what the leaf is.
//!
//! **Event leaf** (`0: 1`), one per event the registry appends, ISSUED and
//! IMPORTED included:
//!
//! | key | value |
//! |---|---|
//! | 0 | `1` |
//! | 1 | robot id, the 29-character code (text) |
//! | 2 | sequence in the robot's history, 1 for the first (uint) |
//! | 3 | event type, e.g. `"ISSUED"`, `"SOLD"` (text, as `EventType` without its prefix) |
//! | 4 | occur time, microseconds since the Unix epoch (int) |
//! | 5 | record time, microseconds since the Unix epoch (int) |
//! | 6 | actor, e.g. `"robotid://seller/S001"` (text) |
//! | 7 | the event's chain hash, `Event.hash` (32 bytes) |
//! | 8 | details commitment (32 bytes), below |
//!
//! The details commitment is SHA-256 over `"robotid-event-details/v1\0"`,
//! a 16-byte random salt kept with the event, and the CBOR map of the
//! event's public details: `1` country, `2` recall, `3` note, `4`
//! component, `5` firmware version, `6` reference (text, each only when
//! set). The holder is never in a leaf, not even its keyed hash: the chain
//! hash commits to it, and the salt keeps the commitment from being
//! guessed from a short list of notes. The registry can open a commitment
//! by revealing the salt and the details.
//!
//! **Access-log anchor** (`0: 2`), entered when the access log's heads
//! moved, at most once per integration interval:
//!
//! | key | value |
//! |---|---|
//! | 0 | `2` |
//! | 1 | the heads: an array of `[shard, sequence, hash]` (uint, uint, 32 bytes), by shard, every shard with an entry |
//! | 2 | when, microseconds since the Unix epoch (int) |

use ciborium::Value;
use robotid_domain::history::{Digest, Event, EventDetails};
use sha2::{Digest as _, Sha256};

/// The salt of a details commitment.
pub type Salt = [u8; 16];

const EVENT: u64 = 1;
const ACCESS_ANCHOR: u64 = 2;

/// The head of one access-log shard: `(shard, sequence, hash)`.
pub type AccessHead = (u32, u64, Digest);

/// A fresh random salt.
pub fn new_salt() -> Salt {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).expect("the system's random source answers");
    salt
}

/// The entry of an event's leaf.
pub fn event_entry(event: &Event, salt: &Salt) -> Vec<u8> {
    encode(map(vec![
        (0, Value::from(EVENT)),
        (1, Value::from(event.robot_id.as_str())),
        (2, Value::from(event.sequence)),
        (3, Value::from(event.kind.as_str())),
        (4, Value::from(event.occurred_at.as_micros())),
        (5, Value::from(event.recorded_at.as_micros())),
        (6, Value::from(event.actor.as_str())),
        (7, Value::Bytes(event.hash.0.to_vec())),
        (
            8,
            Value::Bytes(details_commitment(&event.details, salt).to_vec()),
        ),
    ]))
}

/// The commitment to an event's public details (see the module docs).
pub fn details_commitment(details: &EventDetails, salt: &Salt) -> [u8; 32] {
    let fields = [
        &details.country,
        &details.recall,
        &details.note,
        &details.component,
        &details.firmware_version,
        &details.reference,
    ];
    let present = (1u64..)
        .zip(fields)
        .filter_map(|(key, field)| field.as_deref().map(|text| (key, Value::from(text))))
        .collect();
    let mut hash = Sha256::new();
    hash.update(b"robotid-event-details/v1\0");
    hash.update(salt);
    hash.update(encode(map(present)));
    hash.finalize().into()
}

/// The entry of an access-log anchor: the heads of every shard with an
/// entry, by shard.
pub fn access_anchor_entry(heads: &[AccessHead], at_micros: i64) -> Vec<u8> {
    encode(map(vec![
        (0, Value::from(ACCESS_ANCHOR)),
        (1, heads_value(heads)),
        (2, Value::from(at_micros)),
    ]))
}

/// What an anchor commits to, without its time: equal when the heads did
/// not move.
pub fn heads_digest(heads: &[AccessHead]) -> [u8; 32] {
    Sha256::digest(encode(heads_value(heads))).into()
}

/// What an event leaf says about its event (the fields an auditor
/// matches with the registry's answers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventLeaf {
    pub robot_id: String,
    pub sequence: u64,
    pub event_type: String,
    /// When it happened, microseconds since the Unix epoch.
    pub occurred_at_micros: i64,
    /// When the registry recorded it, microseconds since the Unix epoch.
    pub recorded_at_micros: i64,
    pub actor: String,
    pub chain_hash: Digest,
    /// [`details_commitment`] of its public details.
    pub details_commitment: [u8; 32],
}

/// Parses an event leaf; `None` for other leaves and malformed entries.
pub fn parse_event(entry: &[u8]) -> Option<EventLeaf> {
    let fields = map_fields(entry)?;
    let field = |key: u64| field(&fields, key);
    if field(0)?.as_integer()? != EVENT.into() {
        return None;
    }
    Some(EventLeaf {
        robot_id: field(1)?.as_text()?.to_owned(),
        sequence: u64::try_from(field(2)?.as_integer()?).ok()?,
        event_type: field(3)?.as_text()?.to_owned(),
        occurred_at_micros: i64::try_from(field(4)?.as_integer()?).ok()?,
        recorded_at_micros: i64::try_from(field(5)?.as_integer()?).ok()?,
        actor: field(6)?.as_text()?.to_owned(),
        chain_hash: Digest::from_slice(field(7)?.as_bytes()?)?,
        details_commitment: field(8)?.as_bytes()?.as_slice().try_into().ok()?,
    })
}

/// The sequence an event leaf holds; `None` for other leaves.
pub fn event_sequence(entry: &[u8]) -> Option<u64> {
    parse_event(entry).map(|leaf| leaf.sequence)
}

fn map_fields(entry: &[u8]) -> Option<Vec<(Value, Value)>> {
    match ciborium::from_reader::<Value, _>(entry).ok()? {
        Value::Map(fields) => Some(fields),
        _ => None,
    }
}

fn field(fields: &[(Value, Value)], key: u64) -> Option<&Value> {
    fields
        .iter()
        .find(|(k, _)| k.as_integer() == Some(key.into()))
        .map(|(_, v)| v)
}

/// The heads an anchor entry holds; `None` when `entry` is not an anchor.
pub fn parse_access_anchor(entry: &[u8]) -> Option<Vec<AccessHead>> {
    let fields = map_fields(entry)?;
    let field = |key: u64| field(&fields, key);
    if field(0)?.as_integer()? != ACCESS_ANCHOR.into() {
        return None;
    }
    field(1)?
        .as_array()?
        .iter()
        .map(|head| {
            let [shard, sequence, hash] = head.as_array()?.as_slice() else {
                return None;
            };
            Some((
                u32::try_from(shard.as_integer()?).ok()?,
                u64::try_from(sequence.as_integer()?).ok()?,
                Digest::from_slice(hash.as_bytes()?)?,
            ))
        })
        .collect()
}

fn heads_value(heads: &[AccessHead]) -> Value {
    Value::Array(
        heads
            .iter()
            .map(|(shard, sequence, hash)| {
                Value::Array(vec![
                    Value::from(u64::from(*shard)),
                    Value::from(*sequence),
                    Value::Bytes(hash.0.to_vec()),
                ])
            })
            .collect(),
    )
}

fn map(fields: Vec<(u64, Value)>) -> Value {
    Value::Map(
        fields
            .into_iter()
            .map(|(key, value)| (Value::from(key), value))
            .collect(),
    )
}

fn encode(value: Value) -> Vec<u8> {
    let mut bytes = Vec::new();
    ciborium::into_writer(&value, &mut bytes).expect("writing CBOR to memory cannot fail");
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;
    use robotid_domain::code::RobotId;
    use robotid_domain::lifecycle::{EventKind, Status};
    use robotid_domain::time::Timestamp;

    fn event() -> Event {
        Event {
            robot_id: RobotId::parse("CN0001HX00010000000000000001P").unwrap(),
            sequence: 2,
            kind: EventKind::Sold,
            details: EventDetails {
                note: Some("first owner".into()),
                ..EventDetails::default()
            },
            occurred_at: Timestamp::from_micros(1_700_000_000_000_000),
            recorded_at: Timestamp::from_micros(1_700_000_000_000_001),
            actor: "robotid://seller/S001".into(),
            status_after: Status::InService,
            version: Event::VERSION,
            previous_hash: Digest::GENESIS,
            hash: Digest([7; 32]),
            log_index: None,
        }
    }

    #[test]
    fn an_event_leaf_is_a_deterministic_map_with_integer_keys() {
        let salt = [1u8; 16];
        let entry = event_entry(&event(), &salt);
        assert_eq!(entry, event_entry(&event(), &salt));
        // A map of nine pairs, then key 0 → 1, key 1 → a 29-byte text.
        assert_eq!(&entry[..5], &[0xa9, 0x00, 0x01, 0x01, 0x78]);
        assert_eq!(entry[5], 29);
        let Value::Map(fields) = ciborium::from_reader::<Value, _>(&entry[..]).unwrap() else {
            panic!("not a map");
        };
        let keys: Vec<_> = fields
            .iter()
            .map(|(k, _)| k.as_integer().unwrap())
            .collect();
        assert_eq!(keys, (0u64..=8).map(Into::into).collect::<Vec<_>>());
        assert_eq!(fields[3].1.as_text(), Some("SOLD"));
        assert_eq!(
            fields[7].1.as_bytes().map(Vec::as_slice),
            Some(&[7u8; 32][..])
        );
    }

    #[test]
    fn the_details_commitment_depends_on_salt_and_details_but_not_the_holder() {
        let salt = [1u8; 16];
        let mut details = event().details;
        let base = details_commitment(&details, &salt);
        assert_ne!(base, details_commitment(&details, &[2u8; 16]));
        details.holder = Some(robotid_domain::holder::Holder::Organization("S001".into()));
        assert_eq!(base, details_commitment(&details, &salt));
        details.note = Some("second owner".into());
        assert_ne!(base, details_commitment(&details, &salt));
    }

    #[test]
    fn an_anchor_parses_back_and_its_digest_ignores_the_time() {
        let heads = vec![(0, 3, Digest([1; 32])), (5, 1, Digest([2; 32]))];
        let entry = access_anchor_entry(&heads, 42);
        assert_eq!(parse_access_anchor(&entry), Some(heads.clone()));
        assert_ne!(entry, access_anchor_entry(&heads, 43));
        assert_eq!(heads_digest(&heads), heads_digest(&heads.clone()));
        assert_eq!(parse_access_anchor(&event_entry(&event(), &[0; 16])), None);
        assert_eq!(event_sequence(&event_entry(&event(), &[0; 16])), Some(2));
        assert_eq!(event_sequence(&entry), None);
        let parsed = parse_event(&event_entry(&event(), &[0; 16])).unwrap();
        assert_eq!(parsed.robot_id, event().robot_id.as_str());
        assert_eq!(parsed.event_type, "SOLD");
        assert_eq!(parsed.chain_hash, event().hash);
    }
}
