//! The lifecycle of a robot: its status, the holds beside it, its
//! jurisdiction, and which event each combination accepts.
//!
//! The rules (README, *Rules*), plus the choices it leaves open (each marked
//! "choice" below). A refusal carries a machine-readable reason that the API
//! returns as `FAILED_PRECONDITION`.

use std::fmt;

/// Where a robot stands in its life; one at a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    Registered,
    InMarket,
    InService,
    Decommissioned,
    Recycled,
}

impl Status {
    pub const ALL: [Status; 5] = [
        Status::Registered,
        Status::InMarket,
        Status::InService,
        Status::Decommissioned,
        Status::Recycled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Registered => "REGISTERED",
            Status::InMarket => "IN_MARKET",
            Status::InService => "IN_SERVICE",
            Status::Decommissioned => "DECOMMISSIONED",
            Status::Recycled => "RECYCLED",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|status| status.as_str() == name)
    }
}

/// Which registry's jurisdiction a robot is under.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Jurisdiction {
    Domestic,
    /// Cleared by customs for export; not yet departed.
    ExportCleared,
    Abroad,
}

impl Jurisdiction {
    pub const ALL: [Jurisdiction; 3] = [
        Jurisdiction::Domestic,
        Jurisdiction::ExportCleared,
        Jurisdiction::Abroad,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Jurisdiction::Domestic => "DOMESTIC",
            Jurisdiction::ExportCleared => "EXPORT_CLEARED",
            Jurisdiction::Abroad => "ABROAD",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|j| j.as_str() == name)
    }
}

/// Holds stand beside the status and block some events until lifted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Holds {
    /// How many recalls are open: the hold lifts when the last one is
    /// remedied.
    pub recalls: u32,
    pub stolen: bool,
}

impl Holds {
    /// At least one recall is open.
    pub fn recalled(&self) -> bool {
        self.recalls > 0
    }
}

/// What can happen to a robot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventKind {
    Issued,
    ReleasedToMarket,
    Sold,
    OwnershipTransferred,
    Deployed,
    MaintenancePerformed,
    ComponentReplaced,
    FirmwareUpdated,
    IncidentReported,
    RecallIssued,
    RecallRemedied,
    ReportedStolen,
    Recovered,
    ExportCleared,
    Exported,
    Imported,
    Decommissioned,
    Recycled,
    /// An export clearance expired or was withdrawn before departure: the
    /// robot is back home (recorded by the transfer service only).
    ExportClearanceCancelled,
}

impl EventKind {
    pub const ALL: [EventKind; 19] = [
        EventKind::Issued,
        EventKind::ReleasedToMarket,
        EventKind::Sold,
        EventKind::OwnershipTransferred,
        EventKind::Deployed,
        EventKind::MaintenancePerformed,
        EventKind::ComponentReplaced,
        EventKind::FirmwareUpdated,
        EventKind::IncidentReported,
        EventKind::RecallIssued,
        EventKind::RecallRemedied,
        EventKind::ReportedStolen,
        EventKind::Recovered,
        EventKind::ExportCleared,
        EventKind::Exported,
        EventKind::Imported,
        EventKind::Decommissioned,
        EventKind::Recycled,
        EventKind::ExportClearanceCancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Issued => "ISSUED",
            EventKind::ReleasedToMarket => "RELEASED_TO_MARKET",
            EventKind::Sold => "SOLD",
            EventKind::OwnershipTransferred => "OWNERSHIP_TRANSFERRED",
            EventKind::Deployed => "DEPLOYED",
            EventKind::MaintenancePerformed => "MAINTENANCE_PERFORMED",
            EventKind::ComponentReplaced => "COMPONENT_REPLACED",
            EventKind::FirmwareUpdated => "FIRMWARE_UPDATED",
            EventKind::IncidentReported => "INCIDENT_REPORTED",
            EventKind::RecallIssued => "RECALL_ISSUED",
            EventKind::RecallRemedied => "RECALL_REMEDIED",
            EventKind::ReportedStolen => "REPORTED_STOLEN",
            EventKind::Recovered => "RECOVERED",
            EventKind::ExportCleared => "EXPORT_CLEARED",
            EventKind::Exported => "EXPORTED",
            EventKind::Imported => "IMPORTED",
            EventKind::Decommissioned => "DECOMMISSIONED",
            EventKind::Recycled => "RECYCLED",
            EventKind::ExportClearanceCancelled => "EXPORT_CLEARANCE_CANCELLED",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == name)
    }

    /// Events that put or keep a robot in someone's hands or move it across
    /// a border: an open recall stops them. Releasing and deploying are
    /// choices beyond those rules (a recalled unit should not newly reach
    /// users).
    fn blocked_by_recall(self) -> bool {
        matches!(
            self,
            EventKind::ReleasedToMarket
                | EventKind::Sold
                | EventKind::OwnershipTransferred
                | EventKind::Deployed
                | EventKind::ExportCleared
                | EventKind::Exported
        )
    }

    /// A stolen robot additionally cannot be decommissioned (choice: only
    /// whoever has it can, and the thief must not launder it that way).
    fn blocked_by_theft(self) -> bool {
        self.blocked_by_recall() || self == EventKind::Decommissioned
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why an event was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("{event} is recorded only when a robot is registered")]
    RegistrationOnly { event: EventKind },
    #[error("the robot was recycled and takes no further event")]
    Recycled,
    #[error("the robot is decommissioned and can only be recycled")]
    Decommissioned,
    #[error(
        "the robot is abroad: only its import, a recall or a theft report (and their lifting) \
         can be recorded here"
    )]
    Abroad,
    #[error("{event} needs a robot that is abroad")]
    NotAbroad { event: EventKind },
    #[error("the robot is cleared for export: {event} waits until it departs or returns")]
    ExportPending { event: EventKind },
    #[error("the robot has not been cleared for export")]
    NotExportCleared,
    #[error("the robot has an open recall: {event} waits until it is remedied")]
    RecallOpen { event: EventKind },
    #[error("the robot is reported stolen: {event} waits until it is recovered")]
    Stolen { event: EventKind },
    #[error("{event} is not allowed for a robot that is {status}")]
    StatusNotAllowed { event: EventKind, status: Status },
    #[error("the robot has no open recall to remedy")]
    NoOpenRecall,
    #[error("the recall named is not open on this robot")]
    RecallNotOpen,
    #[error("the recall is already open on this robot")]
    RecallAlreadyOpen,
    #[error("{event} must name its recall")]
    RecallUnnamed { event: EventKind },
    #[error("the robot is already reported stolen")]
    AlreadyStolen,
    #[error("the robot is not reported stolen")]
    NotStolen,
}

impl Refusal {
    /// The machine-readable reason (AIP-193 `ErrorInfo.reason`).
    pub fn reason(&self) -> &'static str {
        match self {
            Refusal::RegistrationOnly { .. } => "REGISTRATION_EVENT_ONLY",
            Refusal::Recycled => "ROBOT_RECYCLED",
            Refusal::Decommissioned => "ROBOT_DECOMMISSIONED",
            Refusal::Abroad => "ROBOT_ABROAD",
            Refusal::NotAbroad { .. } => "ROBOT_NOT_ABROAD",
            Refusal::ExportPending { .. } => "EXPORT_PENDING",
            Refusal::NotExportCleared => "NOT_EXPORT_CLEARED",
            Refusal::RecallOpen { .. } => "RECALL_OPEN",
            Refusal::Stolen { .. } => "ROBOT_STOLEN",
            Refusal::StatusNotAllowed { .. } => "STATUS_NOT_ALLOWED",
            Refusal::NoOpenRecall => "NO_OPEN_RECALL",
            Refusal::RecallNotOpen => "RECALL_NOT_OPEN",
            Refusal::RecallAlreadyOpen => "RECALL_ALREADY_OPEN",
            Refusal::RecallUnnamed { .. } => "RECALL_UNNAMED",
            Refusal::AlreadyStolen => "ALREADY_REPORTED_STOLEN",
            Refusal::NotStolen => "NOT_REPORTED_STOLEN",
        }
    }
}

/// Everything the rules look at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RobotState {
    pub status: Status,
    pub holds: Holds,
    pub jurisdiction: Jurisdiction,
}

impl RobotState {
    /// A robot just issued here: in the factory, at home, unencumbered.
    pub fn issued() -> Self {
        Self {
            status: Status::Registered,
            holds: Holds::default(),
            jurisdiction: Jurisdiction::Domestic,
        }
    }

    /// A foreign robot registered on import, in the status it had abroad.
    pub fn imported(status: Status) -> Self {
        Self {
            status,
            holds: Holds::default(),
            jurisdiction: Jurisdiction::Domestic,
        }
    }

    /// The state after `event`, or why the event is refused. Checked in
    /// order of finality: the end of life, then where the robot is, then its
    /// holds, then its status.
    pub fn apply(self, event: EventKind) -> Result<RobotState, Refusal> {
        use EventKind as E;

        if matches!(event, E::Issued) {
            return Err(Refusal::RegistrationOnly { event });
        }
        match self.status {
            Status::Recycled => return Err(Refusal::Recycled),
            Status::Decommissioned if event != E::Recycled => return Err(Refusal::Decommissioned),
            _ => {}
        }

        match (self.jurisdiction, event) {
            // Holds cross borders: a recall or a theft report made at home
            // reaches the registry where the robot is, and one made there
            // is shown at home (README, *Across the border*).
            (
                Jurisdiction::Abroad,
                E::Imported
                | E::RecallIssued
                | E::RecallRemedied
                | E::ReportedStolen
                | E::Recovered,
            ) => {}
            (Jurisdiction::Abroad, _) => return Err(Refusal::Abroad),
            (_, E::Imported) => return Err(Refusal::NotAbroad { event }),
            // Choice: a robot on its way out changes hands or ends its life
            // only after it departed (or the clearance lapsed by import).
            (
                Jurisdiction::ExportCleared,
                E::Sold | E::Deployed | E::ExportCleared | E::Decommissioned | E::Recycled,
            ) => return Err(Refusal::ExportPending { event }),
            (Jurisdiction::Domestic, E::Exported | E::ExportClearanceCancelled) => {
                return Err(Refusal::NotExportCleared);
            }
            _ => {}
        }

        if self.holds.recalled() && event.blocked_by_recall() {
            return Err(Refusal::RecallOpen { event });
        }
        if self.holds.stolen && event.blocked_by_theft() {
            return Err(Refusal::Stolen { event });
        }

        let mut next = self;
        let status_is = |allowed: &[Status]| {
            if allowed.contains(&self.status) {
                Ok(())
            } else {
                Err(Refusal::StatusNotAllowed {
                    event,
                    status: self.status,
                })
            }
        };
        match event {
            E::ReleasedToMarket => {
                status_is(&[Status::Registered])?;
                next.status = Status::InMarket;
            }
            E::Sold => {
                status_is(&[Status::InMarket])?;
                next.status = Status::InService;
            }
            E::Deployed => {
                status_is(&[Status::InMarket, Status::InService])?;
                next.status = Status::InService;
            }
            E::OwnershipTransferred => status_is(&[Status::InMarket, Status::InService])?,
            E::ExportCleared => {
                status_is(&[Status::InMarket, Status::InService])?;
                next.jurisdiction = Jurisdiction::ExportCleared;
            }
            E::Exported => next.jurisdiction = Jurisdiction::Abroad,
            // Choice: neither a recall nor a theft report stops it; a
            // robot that may not leave is better off back home.
            E::ExportClearanceCancelled => next.jurisdiction = Jurisdiction::Domestic,
            E::Imported => next.jurisdiction = Jurisdiction::Domestic,
            // Which recalls are open, by name, is the standing's to keep
            // (see `standing`); the lifecycle counts them.
            E::RecallIssued => next.holds.recalls = self.holds.recalls.saturating_add(1),
            E::RecallRemedied => {
                if !self.holds.recalled() {
                    return Err(Refusal::NoOpenRecall);
                }
                next.holds.recalls = self.holds.recalls - 1;
            }
            E::ReportedStolen => {
                if self.holds.stolen {
                    return Err(Refusal::AlreadyStolen);
                }
                next.holds.stolen = true;
            }
            E::Recovered => {
                if !self.holds.stolen {
                    return Err(Refusal::NotStolen);
                }
                next.holds.stolen = false;
            }
            E::MaintenancePerformed
            | E::ComponentReplaced
            | E::FirmwareUpdated
            | E::IncidentReported => {}
            E::Decommissioned => next.status = Status::Decommissioned,
            E::Recycled => {
                status_is(&[Status::Decommissioned])?;
                next.status = Status::Recycled;
            }
            E::Issued => unreachable!("refused above"),
        }
        Ok(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The rules, written out once by hand, independently of `apply`.
    ///
    /// Columns: event; the statuses it is accepted in (R registered,
    /// M in market, S in service, D decommissioned, Y recycled); whether an
    /// open recall blocks it; whether a theft report blocks it; the
    /// jurisdictions it is accepted in (D domestic, C export cleared,
    /// A abroad); a hold it needs (`recalled`: at least one open recall,
    /// `stolen`, `!stolen`); and its effect (`status=X`, `jurisdiction=X`,
    /// `recalls+1`, `recalls-1`, `stolen=0/1`).
    const TABLE: &str = "
        ISSUED                 .....  -   -   ...  -         -
        RELEASED_TO_MARKET     R....  yes yes DC.  -         status=M
        SOLD                   .M...  yes yes D..  -         status=S
        OWNERSHIP_TRANSFERRED  .MS..  yes yes DC.  -         -
        DEPLOYED               .MS..  yes yes D..  -         status=S
        MAINTENANCE_PERFORMED  RMS..  no  no  DC.  -         -
        COMPONENT_REPLACED     RMS..  no  no  DC.  -         -
        FIRMWARE_UPDATED       RMS..  no  no  DC.  -         -
        INCIDENT_REPORTED      RMS..  no  no  DC.  -         -
        RECALL_ISSUED          RMS..  no  no  DCA  -         recalls+1
        RECALL_REMEDIED        RMS..  no  no  DCA  recalled  recalls-1
        REPORTED_STOLEN        RMS..  no  no  DCA  !stolen   stolen=1
        RECOVERED              RMS..  no  no  DCA  stolen    stolen=0
        EXPORT_CLEARED         .MS..  yes yes D..  -         jurisdiction=C
        EXPORTED               RMS..  yes yes .C.  -         jurisdiction=A
        IMPORTED               RMS..  no  no  ..A  -         jurisdiction=D
        DECOMMISSIONED         RMS..  no  yes D..  -         status=D
        RECYCLED               ...D.  no  no  D..  -         status=Y
        EXPORT_CLEARANCE_CANCELLED RMS..  no  no  .C.  -     jurisdiction=D
    ";

    fn status_letter(status: Status) -> char {
        match status {
            Status::Registered => 'R',
            Status::InMarket => 'M',
            Status::InService => 'S',
            Status::Decommissioned => 'D',
            Status::Recycled => 'Y',
        }
    }

    fn jurisdiction_letter(jurisdiction: Jurisdiction) -> char {
        match jurisdiction {
            Jurisdiction::Domestic => 'D',
            Jurisdiction::ExportCleared => 'C',
            Jurisdiction::Abroad => 'A',
        }
    }

    fn expected(row: &[&str], state: RobotState) -> Option<RobotState> {
        let [
            _,
            statuses,
            recall_blocks,
            theft_blocks,
            jurisdictions,
            needs,
            effect,
        ] = row
        else {
            panic!("malformed row {row:?}");
        };
        let accepted = statuses.contains(status_letter(state.status))
            && jurisdictions.contains(jurisdiction_letter(state.jurisdiction))
            && !(state.holds.recalls > 0 && *recall_blocks == "yes")
            && !(state.holds.stolen && *theft_blocks == "yes")
            && match *needs {
                "recalled" => state.holds.recalls > 0,
                "stolen" => state.holds.stolen,
                "!stolen" => !state.holds.stolen,
                _ => true,
            };
        if !accepted {
            return None;
        }
        let mut next = state;
        match effect.split_once('=') {
            Some(("status", letter)) => {
                next.status = *Status::ALL
                    .iter()
                    .find(|s| status_letter(**s).to_string() == letter)
                    .unwrap()
            }
            Some(("jurisdiction", letter)) => {
                next.jurisdiction = *Jurisdiction::ALL
                    .iter()
                    .find(|j| jurisdiction_letter(**j).to_string() == letter)
                    .unwrap()
            }
            Some(("stolen", value)) => next.holds.stolen = value == "1",
            None if *effect == "recalls+1" => next.holds.recalls += 1,
            None if *effect == "recalls-1" => next.holds.recalls -= 1,
            None if *effect == "-" => {}
            _ => panic!("unknown effect {effect:?}"),
        }
        Some(next)
    }

    #[test]
    fn every_status_holds_jurisdiction_and_event_matches_the_written_table() {
        let rows: Vec<Vec<&str>> = TABLE
            .lines()
            .map(|line| line.split_whitespace().collect::<Vec<_>>())
            .filter(|row| !row.is_empty())
            .collect();
        assert_eq!(rows.len(), EventKind::ALL.len(), "one row per event");

        let mut checked = 0;
        for row in &rows {
            let event = EventKind::parse(row[0]).expect("known event");
            for status in Status::ALL {
                for jurisdiction in Jurisdiction::ALL {
                    // No recall, one, and several at once.
                    for (recalls, stolen) in (0..=2).flat_map(|r| [(r, false), (r, true)]) {
                        let state = RobotState {
                            status,
                            holds: Holds { recalls, stolen },
                            jurisdiction,
                        };
                        let actual = state.apply(event).ok();
                        assert_eq!(
                            actual,
                            expected(row, state),
                            "{event} on {state:?}: apply said {:?}",
                            state.apply(event)
                        );
                        checked += 1;
                    }
                }
            }
        }
        assert_eq!(checked, 19 * 5 * 3 * 6);
    }

    #[test]
    fn the_design_rules_give_their_reasons() {
        let in_market = RobotState {
            status: Status::InMarket,
            ..RobotState::issued()
        };
        let recalled = RobotState {
            holds: Holds {
                recalls: 1,
                stolen: false,
            },
            ..in_market
        };
        let stolen = RobotState {
            holds: Holds {
                recalls: 0,
                stolen: true,
            },
            ..in_market
        };
        let recycled = RobotState {
            status: Status::Recycled,
            ..in_market
        };
        let decommissioned = RobotState {
            status: Status::Decommissioned,
            ..in_market
        };
        let reason = |state: RobotState, event| state.apply(event).unwrap_err().reason();

        for event in [
            EventKind::Sold,
            EventKind::OwnershipTransferred,
            EventKind::ExportCleared,
        ] {
            assert_eq!(reason(recalled, event), "RECALL_OPEN");
            assert_eq!(reason(stolen, event), "ROBOT_STOLEN");
        }
        for event in EventKind::ALL
            .into_iter()
            .filter(|e| *e != EventKind::Issued)
        {
            assert_eq!(reason(recycled, event), "ROBOT_RECYCLED");
        }
        assert_eq!(
            reason(decommissioned, EventKind::Sold),
            "ROBOT_DECOMMISSIONED"
        );
        assert_eq!(
            decommissioned.apply(EventKind::Recycled).unwrap().status,
            Status::Recycled
        );
        assert_eq!(
            reason(in_market, EventKind::Issued),
            "REGISTRATION_EVENT_ONLY"
        );
        assert_eq!(
            reason(RobotState::issued(), EventKind::Sold),
            "STATUS_NOT_ALLOWED"
        );
    }

    #[test]
    fn a_cancelled_export_clearance_brings_the_robot_home_even_when_held() {
        let cleared = RobotState {
            status: Status::InService,
            ..RobotState::issued()
        }
        .apply(EventKind::ExportCleared)
        .unwrap();
        assert_eq!(cleared.jurisdiction, Jurisdiction::ExportCleared);
        let stolen = cleared.apply(EventKind::ReportedStolen).unwrap();
        assert_eq!(
            stolen.apply(EventKind::Exported).unwrap_err().reason(),
            "ROBOT_STOLEN",
            "a robot stolen after its clearance does not leave"
        );
        let home = stolen.apply(EventKind::ExportClearanceCancelled).unwrap();
        assert_eq!(home.jurisdiction, Jurisdiction::Domestic);
        assert!(home.holds.stolen, "the theft report stays");
        assert_eq!(
            home.apply(EventKind::ExportClearanceCancelled)
                .unwrap_err()
                .reason(),
            "NOT_EXPORT_CLEARED",
            "cancelled once"
        );
        let abroad = cleared.apply(EventKind::Exported).unwrap();
        assert_eq!(
            abroad
                .apply(EventKind::ExportClearanceCancelled)
                .unwrap_err()
                .reason(),
            "ROBOT_ABROAD",
            "a departed robot's clearance is spent, not cancelled"
        );
    }

    #[test]
    fn a_whole_life_from_factory_to_recycling() {
        let life = [
            EventKind::ReleasedToMarket,
            EventKind::Sold,
            EventKind::MaintenancePerformed,
            EventKind::RecallIssued,
            EventKind::RecallRemedied,
            EventKind::OwnershipTransferred,
            EventKind::ExportCleared,
            EventKind::Exported,
            EventKind::Imported,
            EventKind::Decommissioned,
            EventKind::Recycled,
        ];
        let end = life
            .into_iter()
            .try_fold(RobotState::issued(), |state, event| state.apply(event))
            .unwrap();
        assert_eq!(end.status, Status::Recycled);
        assert_eq!(end.jurisdiction, Jurisdiction::Domestic);
    }
}
