//! Pieces of output every command uses: enum values and instants written
//! the same way in text and JSON.

use robotid_proto::common::v1 as common;

/// `ROBOT_STATUS_IN_MARKET` → `IN_MARKET`: the enum's own prefix dropped.
pub fn enum_name(full: &str, prefix: &str) -> String {
    full.strip_prefix(prefix).unwrap_or(full).to_owned()
}

pub fn status(value: i32) -> String {
    match common::RobotStatus::try_from(value) {
        Ok(status) => enum_name(status.as_str_name(), "ROBOT_STATUS_"),
        Err(_) => format!("UNKNOWN({value})"),
    }
}

pub fn jurisdiction(value: i32) -> String {
    match common::Jurisdiction::try_from(value) {
        Ok(jurisdiction) => enum_name(jurisdiction.as_str_name(), "JURISDICTION_"),
        Err(_) => format!("UNKNOWN({value})"),
    }
}

pub fn event_type(value: i32) -> String {
    match common::EventType::try_from(value) {
        Ok(kind) => enum_name(kind.as_str_name(), "EVENT_TYPE_"),
        Err(_) => format!("UNKNOWN({value})"),
    }
}

/// RFC 3339 in UTC, or JSON null / an empty string when absent.
pub fn time(timestamp: &Option<prost_types::Timestamp>) -> Option<String> {
    timestamp.as_ref().map(|t| crate::time::rfc3339(t.seconds))
}

pub fn time_text(timestamp: &Option<prost_types::Timestamp>) -> String {
    time(timestamp).unwrap_or_else(|| "-".into())
}

/// `organization_id` / `private_reference_hash` as the registry answered.
pub fn holder_json(holder: &Option<common::Holder>) -> serde_json::Value {
    use common::holder::Kind;
    match holder.as_ref().and_then(|h| h.kind.as_ref()) {
        Some(Kind::OrganizationId(id)) => serde_json::json!({ "organization_id": id }),
        Some(Kind::PrivateReferenceHash(hash)) => {
            serde_json::json!({ "private_reference_hash": hash })
        }
        // Input only; the registry never answers it.
        Some(Kind::PrivateReference(_)) | None => serde_json::Value::Null,
    }
}

pub fn holder_text(holder: &Option<common::Holder>) -> String {
    use common::holder::Kind;
    match holder.as_ref().and_then(|h| h.kind.as_ref()) {
        Some(Kind::OrganizationId(id)) => format!("organisation {id}"),
        Some(Kind::PrivateReferenceHash(hash)) => format!("private holder (keyed hash {hash})"),
        Some(Kind::PrivateReference(_)) | None => "-".into(),
    }
}

/// Aligned `label  value` lines.
pub fn lines(rows: &[(&str, String)]) -> String {
    let width = rows.iter().map(|(label, _)| label.len()).max().unwrap_or(0);
    rows.iter()
        .map(|(label, value)| format!("{label:<width$}  {value}\n"))
        .collect()
}

/// Prints a JSON value, one per line, for scripts.
pub fn print_json(value: &serde_json::Value) {
    println!("{value}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enum_values_lose_their_prefix() {
        assert_eq!(status(common::RobotStatus::InMarket as i32), "IN_MARKET");
        assert_eq!(
            jurisdiction(common::Jurisdiction::ExportCleared as i32),
            "EXPORT_CLEARED"
        );
        assert_eq!(event_type(common::EventType::Sold as i32), "SOLD");
        assert_eq!(status(99), "UNKNOWN(99)");
    }
}
