//! Seeding the registry's PostgreSQL tables directly, with rows exactly as
//! the registry writes them: codes issued by the domain's codec (check
//! character, skipped transpositions), each robot with its ISSUED event
//! sealed into the real hash chain (and, for robots put on the market, its
//! RELEASED_TO_MARKET event after it), streamed with `COPY` in ascending key
//! order. Registering millions of robots through `RegisterRobots` would take
//! longer than the benchmark itself.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use anyhow::Context;
use robotid_domain::code::{
    CountryCode, ManufacturerCode, ModelCode, RobotId, prefix_catches_every_adjacent_transposition,
};
use robotid_domain::history::{Event, EventDetails, EventDraft};
use robotid_domain::holder::Holder;
use robotid_domain::lifecycle::EventKind;
use robotid_domain::robot::{Production, Registration, Robot};
use robotid_domain::time::Timestamp;
use sqlx::PgPool;
use tokio::sync::mpsc;

/// Who the registry records as the actor of an ISSUED event: the issuance
/// service, whose `RegisterRobots` call delivered it.
pub const ISSUANCE_ACTOR: &str = "robotid://service/issuance";

const COPY_ROBOTS: &str = "COPY robots (manufacturer_code, model_code, robot_id, \
     manufacturer_name, model_name, produced_at, factory, status, recalled, stolen, jurisdiction, \
     holder_kind, holder, open_recalls, stolen_by, origin_country, issued_at, event_count, \
     head_hash, registered_at, updated_at) FROM STDIN";
const COPY_EVENTS: &str = "COPY events (robot_id, sequence, kind, holder_kind, holder, country, \
     recall, note, component, firmware_version, reference, occurred_at, recorded_at, actor, \
     status_after, version, previous_hash, hash) FROM STDIN";

/// Bytes of COPY data per message to the server.
const CHUNK: usize = 1 << 20;

/// One product model's production line: robots in sequence order, so that
/// keys ascend as issuance hands them out.
#[derive(Debug, Clone)]
pub struct Line {
    pub country: CountryCode,
    pub manufacturer: ManufacturerCode,
    pub model: ModelCode,
    pub manufacturer_name: String,
    pub model_name: String,
    pub factory: String,
    next_sequence: u64,
}

/// How far along its life a seeded robot is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Issued, in the factory: one ISSUED event.
    Registered,
    /// Released by its manufacturer: ISSUED, then RELEASED_TO_MARKET, as
    /// export clearance requires.
    InMarket,
}

/// What a seeding did.
#[derive(Debug)]
pub struct Seeded {
    pub robots: u64,
    /// Every `keep_every`-th robot's code, in order.
    pub kept: Vec<RobotId>,
    pub elapsed: Duration,
}

impl Line {
    /// A line of `manufacturer`/`model` robots, whose codes must catch every
    /// adjacent transposition as issuance requires of admitted codes.
    pub fn new(country: &str, manufacturer: &str, model: &str) -> anyhow::Result<Self> {
        let country = CountryCode::parse(country)?;
        let manufacturer = ManufacturerCode::parse(manufacturer)?;
        let model = ModelCode::parse(model)?;
        anyhow::ensure!(
            prefix_catches_every_adjacent_transposition(&country, &manufacturer, Some(&model)),
            "{country}{manufacturer}{model} hides an adjacent transposition: issuance would refuse it"
        );
        Ok(Self {
            manufacturer_name: format!("Bench Robotics {manufacturer}"),
            model_name: format!("Bench Model {model}"),
            factory: "Wuhan Plant 2".into(),
            country,
            manufacturer,
            model,
            next_sequence: 1,
        })
    }

    /// The next robot off the line, as the registry stores it after its
    /// registration (and release), with its events.
    fn next_robot(&mut self, stage: Stage, now: Timestamp) -> anyhow::Result<(Robot, Vec<Event>)> {
        let (robot_id, next) = RobotId::issue_from(
            &self.country,
            &self.manufacturer,
            &self.model,
            self.next_sequence,
        );
        self.next_sequence = next;
        let registration = Registration {
            robot_id,
            manufacturer_name: self.manufacturer_name.clone(),
            model_name: self.model_name.clone(),
            production: Production {
                produced_at: Some(Timestamp::from_micros(now.as_micros() - 86_400_000_000)),
                factory: Some(self.factory.clone()),
            },
            import: None,
            credential: None,
        };
        let (robot, issued) = Robot::register(registration, now, ISSUANCE_ACTOR.into(), now);
        match stage {
            Stage::Registered => Ok((robot, vec![issued])),
            Stage::InMarket => {
                let draft = EventDraft {
                    kind: EventKind::ReleasedToMarket,
                    details: EventDetails::default(),
                    occurred_at: now,
                    actor: format!("robotid://manufacturer/{}", self.manufacturer),
                };
                let (released, event) = robot.record(draft, now)?;
                Ok((released, vec![issued, event]))
            }
        }
    }
}

/// Appends `count` robots of `line` to the registry database behind `pool`
/// (migrated by the registry), keeping every `keep_every`-th code.
pub async fn seed(
    pool: &PgPool,
    line: &mut Line,
    count: u64,
    stage: Stage,
    keep_every: u64,
) -> anyhow::Result<Seeded> {
    let started = Instant::now();
    let (robots_tx, robots_rx) = mpsc::channel::<Vec<u8>>(4);
    let (events_tx, events_rx) = mpsc::channel::<Vec<u8>>(4);
    let mut generator_line = line.clone();
    let keep_every = keep_every.max(1);
    // Rows are made on a blocking thread and streamed as they are made:
    // two COPYs, one per table, on two connections, run meanwhile.
    let generate = tokio::task::spawn_blocking(move || -> anyhow::Result<(Line, Vec<RobotId>)> {
        let now = Timestamp::now();
        let mut kept = Vec::with_capacity((count / keep_every + 1) as usize);
        let mut robots = String::with_capacity(CHUNK + 4_096);
        let mut events = String::with_capacity(CHUNK + 4_096);
        for index in 0..count {
            let (robot, history) = generator_line.next_robot(stage, now)?;
            robot_row(&mut robots, &robot);
            for event in &history {
                event_row(&mut events, event);
            }
            if index.is_multiple_of(keep_every) {
                kept.push(robot.robot_id);
            }
            if robots.len() >= CHUNK {
                send(&robots_tx, &mut robots)?;
            }
            if events.len() >= CHUNK {
                send(&events_tx, &mut events)?;
            }
        }
        send(&robots_tx, &mut robots)?;
        send(&events_tx, &mut events)?;
        Ok((generator_line, kept))
    });
    let (robots_copied, events_copied, generated) = tokio::try_join!(
        copy(pool, COPY_ROBOTS, robots_rx),
        copy(pool, COPY_EVENTS, events_rx),
        async { generate.await.context("the row generator panicked")? },
    )?;
    let (advanced, kept) = generated;
    anyhow::ensure!(
        robots_copied == count,
        "COPY wrote {robots_copied} robots of {count}"
    );
    let per_robot = match stage {
        Stage::Registered => 1,
        Stage::InMarket => 2,
    };
    anyhow::ensure!(
        events_copied == count * per_robot,
        "COPY wrote {events_copied} events for {count} robots"
    );
    *line = advanced;
    Ok(Seeded {
        robots: count,
        kept,
        elapsed: started.elapsed(),
    })
}

/// The next `count` robots off the line with their events, as the
/// registry would store them, for inserts that are not COPY.
pub fn registrations(
    line: &mut Line,
    count: usize,
    stage: Stage,
) -> anyhow::Result<Vec<(Robot, Vec<Event>)>> {
    let now = Timestamp::now();
    (0..count).map(|_| line.next_robot(stage, now)).collect()
}

/// Sets hint bits and the visibility map and refreshes the planner's
/// statistics, so that the first reads after seeding do not write.
pub async fn settle(pool: &PgPool) -> anyhow::Result<()> {
    sqlx::raw_sql("VACUUM (ANALYZE) robots, events")
        .execute(pool)
        .await
        .context("VACUUM ANALYZE of the registry tables")?;
    Ok(())
}

fn send(to: &mpsc::Sender<Vec<u8>>, buffer: &mut String) -> anyhow::Result<()> {
    if buffer.is_empty() {
        return Ok(());
    }
    let chunk = std::mem::replace(buffer, String::with_capacity(CHUNK + 4_096));
    to.blocking_send(chunk.into_bytes())
        .map_err(|_| anyhow::anyhow!("the COPY stopped early"))
}

async fn copy(
    pool: &PgPool,
    statement: &'static str,
    mut chunks: mpsc::Receiver<Vec<u8>>,
) -> anyhow::Result<u64> {
    let mut connection = pool.acquire().await?;
    let mut copy = connection
        .copy_in_raw(statement)
        .await
        .with_context(|| format!("starting {statement}"))?;
    while let Some(chunk) = chunks.recv().await {
        if let Err(error) = copy.send(chunk).await {
            return Err(anyhow::Error::new(error).context(statement));
        }
    }
    copy.finish()
        .await
        .with_context(|| format!("finishing {statement}"))
}

/// One `robots` row in COPY text format, columns as in [`COPY_ROBOTS`] and
/// values as the registry's store binds them.
fn robot_row(out: &mut String, robot: &Robot) {
    let standing = &robot.standing;
    let (holder_kind, holder) = holder_columns(standing.holder.as_ref());
    let id = &robot.robot_id;
    text(out, id.manufacturer().as_str());
    text(out, id.model().as_str());
    text(out, id.as_str());
    text(out, &robot.manufacturer_name);
    text(out, &robot.model_name);
    optional_int(out, robot.production.produced_at.map(Timestamp::as_micros));
    optional_text(out, robot.production.factory.as_deref());
    text(out, standing.state.status.as_str());
    int(out, i64::from(standing.state.holds.recalls));
    int(out, i64::from(standing.state.holds.stolen));
    text(out, standing.state.jurisdiction.as_str());
    optional_text(out, holder_kind);
    optional_text(out, holder);
    text(out, &standing.open_recalls.join(","));
    optional_text(out, standing.stolen_by.as_deref());
    optional_text(out, robot.origin_country.as_deref());
    int(out, robot.issued_at.as_micros());
    int(out, robot.event_count as i64);
    bytea(out, &robot.head_hash.0);
    int(out, robot.registered_at.as_micros());
    int(out, robot.updated_at.as_micros());
    end_row(out);
}

/// One `events` row, columns as in [`COPY_EVENTS`].
fn event_row(out: &mut String, event: &Event) {
    let details = &event.details;
    let (holder_kind, holder) = holder_columns(details.holder.as_ref());
    text(out, event.robot_id.as_str());
    int(out, event.sequence as i64);
    text(out, event.kind.as_str());
    optional_text(out, holder_kind);
    optional_text(out, holder);
    optional_text(out, details.country.as_deref());
    optional_text(out, details.recall.as_deref());
    optional_text(out, details.note.as_deref());
    optional_text(out, details.component.as_deref());
    optional_text(out, details.firmware_version.as_deref());
    optional_text(out, details.reference.as_deref());
    int(out, event.occurred_at.as_micros());
    int(out, event.recorded_at.as_micros());
    text(out, &event.actor);
    text(out, event.status_after.as_str());
    int(out, i64::from(event.version));
    bytea(out, &event.previous_hash.0);
    bytea(out, &event.hash.0);
    end_row(out);
}

/// The store's encoding of a holder in two columns.
fn holder_columns(holder: Option<&Holder>) -> (Option<&'static str>, Option<&str>) {
    match holder {
        None => (None, None),
        Some(Holder::Organization(id)) => (Some("organization"), Some(id)),
        Some(Holder::Private(digest)) => (Some("private"), Some(digest)),
    }
}

// COPY text format: tab between columns, `\N` for NULL, backslash escapes.

fn separator(out: &mut String) {
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\t');
    }
}

fn end_row(out: &mut String) {
    out.push('\n');
}

fn text(out: &mut String, value: &str) {
    separator(out);
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
}

fn optional_text(out: &mut String, value: Option<&str>) {
    match value {
        Some(value) => text(out, value),
        None => {
            separator(out);
            out.push_str("\\N");
        }
    }
}

fn int(out: &mut String, value: i64) {
    separator(out);
    write!(out, "{value}").expect("writing to a String");
}

fn optional_int(out: &mut String, value: Option<i64>) {
    match value {
        Some(value) => int(out, value),
        None => {
            separator(out);
            out.push_str("\\N");
        }
    }
}

/// `\x…` hex, its backslash doubled for COPY.
fn bytea(out: &mut String, bytes: &[u8]) {
    separator(out);
    out.push_str("\\\\x");
    for byte in bytes {
        write!(out, "{byte:02x}").expect("writing to a String");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_issues_ascending_valid_codes() {
        let mut line = Line::new("CN", "0001", "BR0001").unwrap();
        let now = Timestamp::now();
        let mut previous: Option<RobotId> = None;
        for _ in 0..2_000 {
            let (robot, events) = line.next_robot(Stage::Registered, now).unwrap();
            assert!(robot.robot_id.has_valid_check_character());
            assert!(robot.robot_id.catches_every_adjacent_transposition());
            assert_eq!(events.len(), 1);
            assert_eq!(events[0].hash, robot.head_hash);
            if let Some(previous) = previous {
                assert!(previous < robot.robot_id);
            }
            previous = Some(robot.robot_id);
        }
    }

    #[test]
    fn rows_escape_text_and_mark_nulls() {
        let mut out = String::new();
        text(&mut out, "a\tb\\c\nd");
        optional_text(&mut out, None);
        int(&mut out, -5);
        bytea(&mut out, &[0, 255]);
        end_row(&mut out);
        assert_eq!(out, "a\\tb\\\\c\\nd\t\\N\t-5\t\\\\x00ff\n");
    }

    #[test]
    fn refuses_a_model_code_issuance_would_refuse() {
        let (country, manufacturer) = (
            CountryCode::parse("CN").unwrap(),
            ManufacturerCode::parse("0001").unwrap(),
        );
        let hiding = (0..36 * 36)
            .map(|n| {
                let digits = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
                format!("BR00{}{}", digits[n / 36] as char, digits[n % 36] as char)
            })
            .find(|model| {
                let model = ModelCode::parse(model).unwrap();
                !prefix_catches_every_adjacent_transposition(&country, &manufacturer, Some(&model))
            })
            .expect("some model code hides a transposition");
        assert!(Line::new("CN", "0001", &hiding).is_err(), "{hiding}");
    }
}
