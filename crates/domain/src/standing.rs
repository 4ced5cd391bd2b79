//! A robot's standing: all that its history decides about it now — the
//! lifecycle state, the recalls open on it (by name), who reported it
//! stolen, and who holds it. Each event's hash commits to the standing after
//! it (encoding v2, see `history`), and verifying a history replays it from
//! the first event, so a robot row edited in the database no longer agrees
//! with its chain.

use crate::history::{Canonical, EventDetails};
use crate::holder::Holder;
use crate::lifecycle::{EventKind, Refusal, RobotState, Status};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Standing {
    /// Status, holds and jurisdiction, as the lifecycle rules see them.
    pub state: RobotState,
    /// `recalls/{id}` of every open recall, oldest first; as many as
    /// `state.holds.recalls`.
    pub open_recalls: Vec<String>,
    /// While the robot is reported stolen: who reported it
    /// (`robotid://ROLE/ORG`), the only one besides the regulator who may
    /// report it recovered.
    pub stolen_by: Option<String>,
    /// The holder of record, from the newest sale or transfer.
    pub holder: Option<Holder>,
}

impl Standing {
    /// A robot just issued here.
    pub fn issued() -> Self {
        Self::unencumbered(RobotState::issued())
    }

    /// A foreign robot registered on import, in the status it had abroad.
    /// Its holds and holder stay behind in the registry it came from.
    pub fn imported(status: Status) -> Self {
        Self::unencumbered(RobotState::imported(status))
    }

    fn unencumbered(state: RobotState) -> Self {
        Self {
            state,
            open_recalls: Vec::new(),
            stolen_by: None,
            holder: None,
        }
    }

    /// The standing a history starts from, given its first event; `None`
    /// when that event cannot start a history.
    pub fn first(kind: EventKind, status_after: Status) -> Option<Self> {
        match kind {
            EventKind::Issued if status_after == Status::Registered => Some(Self::issued()),
            EventKind::Imported => Some(Self::imported(status_after)),
            _ => None,
        }
    }

    /// The standing after an event by `actor` with `details`, or why the
    /// rules refuse it. Recording and replaying a history both go through
    /// here, so that they cannot disagree.
    pub fn after(
        &self,
        kind: EventKind,
        details: &EventDetails,
        actor: &str,
    ) -> Result<Standing, Refusal> {
        let state = self.state.apply(kind)?;
        let mut next = Standing {
            state,
            ..self.clone()
        };
        match kind {
            EventKind::Sold | EventKind::OwnershipTransferred => {
                next.holder = details.holder.clone();
            }
            EventKind::RecallIssued => {
                let name = details
                    .recall
                    .as_ref()
                    .ok_or(Refusal::RecallUnnamed { event: kind })?;
                if self.open_recalls.contains(name) {
                    return Err(Refusal::RecallAlreadyOpen);
                }
                next.open_recalls.push(name.clone());
            }
            EventKind::RecallRemedied => {
                let name = details
                    .recall
                    .as_ref()
                    .ok_or(Refusal::RecallUnnamed { event: kind })?;
                let open = self
                    .open_recalls
                    .iter()
                    .position(|open| open == name)
                    .ok_or(Refusal::RecallNotOpen)?;
                next.open_recalls.remove(open);
            }
            EventKind::ReportedStolen => next.stolen_by = Some(actor.to_owned()),
            EventKind::Recovered => next.stolen_by = None,
            _ => {}
        }
        Ok(next)
    }

    /// What differs between this standing (the robot's record) and
    /// `history` (what its events lead to), for people; `None` when alike.
    pub fn difference(&self, history: &Standing) -> Option<String> {
        let differs = |what: &str, record: String, history: String| {
            Some(format!(
                "the robot's record says {what} {record}, its history {history}"
            ))
        };
        let state = (&self.state, &history.state);
        if state.0.status != state.1.status {
            return differs(
                "status",
                state.0.status.to_string(),
                state.1.status.to_string(),
            );
        }
        if state.0.jurisdiction != state.1.jurisdiction {
            return differs(
                "jurisdiction",
                state.0.jurisdiction.as_str().into(),
                state.1.jurisdiction.as_str().into(),
            );
        }
        if state.0.holds.recalls != state.1.holds.recalls
            || self.open_recalls != history.open_recalls
        {
            return differs(
                "open recalls",
                format!("{} {:?}", state.0.holds.recalls, self.open_recalls),
                format!("{} {:?}", state.1.holds.recalls, history.open_recalls),
            );
        }
        if state.0.holds.stolen != state.1.holds.stolen || self.stolen_by != history.stolen_by {
            let flag = |stolen: bool, by: &Option<String>| match (stolen, by) {
                (false, None) => "not stolen".to_owned(),
                (true, Some(by)) => format!("stolen (reported by {by})"),
                (stolen, by) => format!("stolen={stolen} reported by {by:?}"),
            };
            return differs(
                "theft report",
                flag(state.0.holds.stolen, &self.stolen_by),
                flag(state.1.holds.stolen, &history.stolen_by),
            );
        }
        if self.holder != history.holder {
            // Which holder, not who: the record is not the place to read it.
            let kind = |holder: &Option<Holder>| match holder {
                None => "no holder",
                Some(Holder::Organization(_)) => "an organisation holder",
                Some(Holder::Private(_)) => "a private holder",
            };
            let same_kind = kind(&self.holder) == kind(&history.holder);
            return Some(if same_kind {
                format!(
                    "the robot's record names another holder than its history ({})",
                    kind(&history.holder)
                )
            } else {
                format!(
                    "the robot's record says {}, its history {}",
                    kind(&self.holder),
                    kind(&history.holder)
                )
            });
        }
        None
    }

    /// Appends the canonical encoding: every field in a fixed order, so
    /// that two different standings never encode alike.
    pub(crate) fn encode(&self, encoding: &mut Canonical) {
        encoding.text(self.state.status.as_str());
        encoding.text(self.state.jurisdiction.as_str());
        encoding.int(i64::from(self.state.holds.recalls));
        encoding.int(self.open_recalls.len() as i64);
        for name in &self.open_recalls {
            encoding.text(name);
        }
        encoding.byte(u8::from(self.state.holds.stolen));
        encoding.optional(self.stolen_by.as_deref());
        encode_holder(encoding, self.holder.as_ref());
    }
}

/// A holder as the canonical encodings have it: absent, an organisation, or
/// a private holder's keyed hash.
pub(crate) fn encode_holder(encoding: &mut Canonical, holder: Option<&Holder>) {
    match holder {
        None => encoding.byte(0),
        Some(Holder::Organization(id)) => {
            encoding.byte(1);
            encoding.text(id);
        }
        Some(Holder::Private(digest)) => {
            encoding.byte(2);
            encoding.text(digest);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named(recall: &str) -> EventDetails {
        EventDetails {
            recall: Some(recall.into()),
            ..EventDetails::default()
        }
    }

    #[test]
    fn several_recalls_stay_open_until_each_is_remedied() {
        let actor = "robotid://regulator/miit";
        let standing = Standing::issued()
            .after(EventKind::RecallIssued, &named("recalls/1"), actor)
            .unwrap()
            .after(EventKind::RecallIssued, &named("recalls/2"), actor)
            .unwrap();
        assert_eq!(standing.state.holds.recalls, 2);
        assert_eq!(
            standing
                .after(EventKind::RecallRemedied, &named("recalls/9"), actor)
                .unwrap_err()
                .reason(),
            "RECALL_NOT_OPEN"
        );
        assert_eq!(
            standing
                .after(EventKind::RecallIssued, &named("recalls/1"), actor)
                .unwrap_err()
                .reason(),
            "RECALL_ALREADY_OPEN"
        );
        let one_left = standing
            .after(EventKind::RecallRemedied, &named("recalls/1"), actor)
            .unwrap();
        assert!(one_left.state.holds.recalled());
        assert_eq!(one_left.open_recalls, ["recalls/2"]);
        let none_left = one_left
            .after(EventKind::RecallRemedied, &named("recalls/2"), actor)
            .unwrap();
        assert!(!none_left.state.holds.recalled());
        assert!(none_left.open_recalls.is_empty());
    }

    #[test]
    fn a_theft_report_remembers_who_made_it() {
        let stolen = Standing::issued()
            .after(
                EventKind::ReportedStolen,
                &EventDetails::default(),
                "robotid://police/CN-POL",
            )
            .unwrap();
        assert_eq!(stolen.stolen_by.as_deref(), Some("robotid://police/CN-POL"));
        let recovered = stolen
            .after(
                EventKind::Recovered,
                &EventDetails::default(),
                "robotid://regulator/miit",
            )
            .unwrap();
        assert_eq!(recovered, Standing::issued());
        assert!(
            stolen
                .difference(&recovered)
                .unwrap()
                .contains("theft report")
        );
    }
}
