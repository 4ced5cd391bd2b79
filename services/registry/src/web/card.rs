//! What the HTML card shows, read from the public `Robot` message in one
//! place: a field the public tier gains is one line here (and one in the
//! page), while the JSON shows it with no change at all.

use robotid_proto::common::v1::{Jurisdiction, RobotStatus};
use robotid_proto::registry::v1 as pb;

/// One open recall as the card lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenRecall {
    /// `recalls/{id}`.
    pub name: String,
    /// Empty while the public message carries no reason.
    pub reason: String,
}

/// The public tier of one robot, as the page needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardView {
    pub robot_id: String,
    pub display_id: String,
    pub country_code: String,
    pub manufacturer_code: String,
    pub manufacturer_name: String,
    pub model_code: String,
    pub model_name: String,
    /// Seconds since the epoch.
    pub produced_at: Option<i64>,
    /// Empty when the public tier does not carry it.
    pub factory: String,
    pub status: RobotStatus,
    pub stolen: bool,
    pub recalls: Vec<OpenRecall>,
    pub jurisdiction: Jurisdiction,
    /// For an imported robot, the country that issued it.
    pub origin_country: String,
}

impl CardView {
    pub fn from_public(robot: &pb::Robot) -> Self {
        let production = robot.production.clone().unwrap_or_default();
        let recalls = robot
            .open_recalls
            .iter()
            .map(|recall| OpenRecall {
                name: recall.name.clone(),
                reason: recall.reason.clone(),
            })
            .collect();
        Self {
            robot_id: robot.robot_id.clone(),
            display_id: robot.display_id.clone(),
            country_code: robot.country_code.clone(),
            manufacturer_code: robot.manufacturer_code.clone(),
            manufacturer_name: robot.manufacturer_name.clone(),
            model_code: robot.model_code.clone(),
            model_name: robot.model_name.clone(),
            produced_at: production.production_time.map(|time| time.seconds),
            factory: production.factory,
            status: robot.status(),
            stolen: robot.stolen,
            recalls,
            jurisdiction: robot.jurisdiction(),
            origin_country: robot.origin_country.clone(),
        }
    }
}
