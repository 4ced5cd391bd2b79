//! The ProtoJSON encoding of a message, exactly as `protojson` writes it
//! (lowerCamelCase names, enums by name, Timestamps in RFC 3339, 64-bit
//! integers as strings, default values left out), from the contracts'
//! descriptor set: the wire bytes are decoded into a `DynamicMessage` and
//! serialised, so a field added to a message shows up here with no code.

use std::sync::LazyLock;

use prost::Message;
use prost_reflect::{DescriptorPool, DynamicMessage, MessageDescriptor, SerializeOptions};

static POOL: LazyLock<DescriptorPool> = LazyLock::new(|| {
    DescriptorPool::decode(robotid_proto::FILE_DESCRIPTOR_SET)
        .expect("the contracts' descriptor set, built with them, decodes")
});

#[derive(Debug, thiserror::Error)]
pub enum ProtoJsonError {
    #[error("no message {0} in the contracts")]
    UnknownMessage(String),
    #[error("the message does not decode against its descriptor")]
    Decode(#[from] prost::DecodeError),
    #[error("the message does not serialise to JSON")]
    Json(#[from] serde_json::Error),
}

fn descriptor(full_name: &str) -> Result<MessageDescriptor, ProtoJsonError> {
    POOL.get_message_by_name(full_name)
        .ok_or_else(|| ProtoJsonError::UnknownMessage(full_name.to_owned()))
}

/// `message` (a generated type named `full_name` in the contracts) as
/// ProtoJSON.
pub fn to_json(message: &impl Message, full_name: &str) -> Result<Vec<u8>, ProtoJsonError> {
    let dynamic =
        DynamicMessage::decode(descriptor(full_name)?, message.encode_to_vec().as_slice())?;
    // protojson's defaults: JSON names, no default values.
    let options = SerializeOptions::new()
        .use_proto_field_name(false)
        .skip_default_fields(true);
    let mut out = Vec::with_capacity(512);
    let mut serializer = serde_json::Serializer::new(&mut out);
    dynamic.serialize_with_options(&mut serializer, &options)?;
    Ok(out)
}

/// The generated message `T` named `full_name`, from its ProtoJSON: the
/// way back, for tests and clients that compare.
pub fn from_json<T: Message + Default>(json: &[u8], full_name: &str) -> Result<T, ProtoJsonError> {
    let mut deserializer = serde_json::Deserializer::from_slice(json);
    let dynamic = DynamicMessage::deserialize(descriptor(full_name)?, &mut deserializer)?;
    deserializer.end()?;
    Ok(T::decode(dynamic.encode_to_vec().as_slice())?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use robotid_proto::registry::v1 as pb;

    #[test]
    fn a_robot_is_written_as_protojson_writes_it() {
        let robot = pb::Robot {
            robot_id: "CN0001HX00010000000000000001P".into(),
            display_id: "CN-0001-HX0001-0000000000000001P".into(),
            status: robotid_proto::common::v1::RobotStatus::InMarket.into(),
            production: Some(robotid_proto::common::v1::Production {
                production_time: Some(prost_types::Timestamp {
                    seconds: 1_764_000_000,
                    nanos: 0,
                }),
                factory: String::new(),
            }),
            event_count: 3,
            ..pb::Robot::default()
        };
        let json = to_json(&robot, "robotid.registry.v1.Robot").unwrap();
        let value: serde_json::Value = serde_json::from_slice(&json).unwrap();
        assert_eq!(
            value,
            serde_json::json!({
                "robotId": "CN0001HX00010000000000000001P",
                "displayId": "CN-0001-HX0001-0000000000000001P",
                "status": "ROBOT_STATUS_IN_MARKET",
                "production": {"productionTime": "2025-11-24T16:00:00Z"},
                "eventCount": "3",
            })
        );
        let back: pb::Robot = from_json(&json, "robotid.registry.v1.Robot").unwrap();
        assert_eq!(back, robot);
    }
}
