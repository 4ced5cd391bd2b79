//! Random, truncated and corrupted bytes sent as the request message of
//! every RPC of every service, as each of several identities (so that the
//! bytes get past the authorization table to the decoder and the
//! handler): every call must be answered, and every service must still be
//! SERVING at the end.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use bytes::{Buf, BufMut};
use prost::Message;
use prost_types::field_descriptor_proto::Type;
use prost_types::{DescriptorProto, FileDescriptorSet};
use robotid_topology::{Service, Topology};
use tokio::task::JoinSet;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::transport::Channel;
use tonic::{Code, Status};
use tonic_health::pb::health_check_response::ServingStatus;

use crate::report::Report;
use crate::tally::{Tally, code_name};

pub struct Settings {
    /// Payloads of each kind (random, truncated, corrupted) per method.
    pub per_kind: usize,
    pub seed: u64,
}

/// Identities the payloads are sent as: between them, every RPC has one
/// that may call it.
const IDENTITIES: [&str; 4] = ["regulator", "manufacturer", "issuance", "customs"];
/// Longest a garbage call may go unanswered.
const ANSWER_WITHIN: Duration = Duration::from_secs(5);

/// A unary RPC and the message type it takes.
#[derive(Debug, Clone)]
struct Method {
    service: Service,
    path: String,
    input: String,
}

pub async fn exercise(
    topology: &mut Topology,
    settings: &Settings,
    report: &mut Report,
) -> anyhow::Result<()> {
    let descriptors = FileDescriptorSet::decode(robotid_proto::FILE_DESCRIPTOR_SET)?;
    let messages = message_index(&descriptors);
    let methods = unary_methods(&descriptors);
    report.line(format!(
        "{} RPCs over {} services; {} payloads of each kind per RPC (seed {}), as {:?}",
        methods.len(),
        Service::ALL.len(),
        settings.per_kind,
        settings.seed,
        IDENTITIES
    ));
    anyhow::ensure!(
        Service::ALL
            .iter()
            .all(|s| methods.iter().any(|m| m.service == *s)),
        "the descriptor set lacks a service"
    );

    let mut totals = Tally::default();
    let mut failures = Vec::new();
    let mut merge = |(tally, bad): (Tally, Vec<String>)| {
        totals.merge(&tally);
        failures.extend(bad);
    };
    let mut set = JoinSet::new();
    for (n, method) in methods.iter().enumerate() {
        let payloads = payloads(
            &synthesize(&messages, &method.input, 0),
            settings.per_kind,
            settings.seed.wrapping_add(n as u64),
        );
        for identity in IDENTITIES {
            let channel = topology.channel(method.service, Some(identity)).await?;
            let method = method.clone();
            let payloads = payloads.clone();
            set.spawn(async move { send_all(channel, method, payloads).await });
            // A dozen streams of garbage at a time.
            if set.len() >= 12
                && let Some(done) = set.join_next().await
            {
                merge(done?);
            }
        }
    }
    while let Some(done) = set.join_next().await {
        merge(done?);
    }
    report.line(format!(
        "{} calls; answers: {}",
        totals.total(),
        totals.summary()
    ));
    report.line(
        "INTERNAL answers are all requests that do not parse (tonic's \"failed to decode \
         Protobuf message\", gRPC's specified code for them); any other would be a violation",
    );
    report.check(
        failures.is_empty(),
        format!(
            "{} calls not answered with a status of their own (first: {:?})",
            failures.len(),
            failures.iter().take(5).collect::<Vec<_>>()
        ),
    );
    for service in Service::ALL {
        let exited = topology.exited(service)?;
        report.check(exited.is_none(), format!("{service} exited ({exited:?})"));
        let health = topology.health(service, Duration::from_secs(5)).await;
        report.check(
            matches!(health, Ok(ServingStatus::Serving)),
            format!("{service} is not SERVING after the garbage: {health:?}"),
        );
    }
    Ok(())
}

/// Sends every payload to `method`; the tally of answers and the calls
/// that were not answered properly.
async fn send_all(
    channel: Channel,
    method: Method,
    payloads: Vec<Vec<u8>>,
) -> (Tally, Vec<String>) {
    let mut tally = Tally::default();
    let mut bad = Vec::new();
    let mut grpc = tonic::client::Grpc::new(channel);
    let path: http::uri::PathAndQuery = method.path.parse().expect("a method path");
    for payload in payloads {
        let started = Instant::now();
        let answer = tokio::time::timeout(ANSWER_WITHIN, async {
            grpc.ready()
                .await
                .map_err(|e| Status::unavailable(format!("not ready: {e}")))?;
            let mut request = tonic::Request::new(payload.clone());
            request.set_timeout(ANSWER_WITHIN);
            grpc.unary(request, path.clone(), RawCodec).await
        })
        .await;
        let took = started.elapsed();
        let status = match answer {
            Err(_) => {
                bad.push(format!(
                    "{}: no answer within {ANSWER_WITHIN:?}",
                    method.path
                ));
                tally.record(Code::DeadlineExceeded, took);
                continue;
            }
            Ok(Ok(_)) => {
                tally.record(Code::Ok, took);
                continue;
            }
            Ok(Err(status)) => status,
        };
        tally.record(status.code(), took);
        if let Some(problem) = improper(&status) {
            bad.push(format!(
                "{} with {} bytes: {problem}: {} {:?}",
                method.path,
                payload.len(),
                code_name(status.code()),
                status.message()
            ));
        }
    }
    (tally, bad)
}

/// Why an answer to garbage is not a proper one: the connection failed
/// (a crash, or a reset), or the handler failed unexpectedly. INTERNAL for
/// a request that does not parse is what gRPC specifies for servers
/// ("Error parsing request proto", grpc/doc/statuscodes.md), and tonic
/// answers it; any other INTERNAL is a handler's failure.
fn improper(status: &Status) -> Option<&'static str> {
    match status.code() {
        Code::Unavailable | Code::Unknown | Code::Cancelled | Code::DeadlineExceeded => {
            Some("the call failed instead of being answered")
        }
        Code::Internal if !status.message().contains("decode") => {
            Some("an internal error, not a parse error")
        }
        Code::ResourceExhausted => Some("rate limited: the payload was not examined"),
        _ => None,
    }
}

/// Passes bytes through unchanged, both ways.
#[derive(Debug, Clone, Copy, Default)]
struct RawCodec;

impl Codec for RawCodec {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = RawCodec;
    type Decoder = RawCodec;

    fn encoder(&mut self) -> Self::Encoder {
        RawCodec
    }

    fn decoder(&mut self) -> Self::Decoder {
        RawCodec
    }
}

impl Encoder for RawCodec {
    type Item = Vec<u8>;
    type Error = Status;

    fn encode(&mut self, item: Vec<u8>, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put_slice(&item);
        Ok(())
    }
}

impl Decoder for RawCodec {
    type Item = Vec<u8>;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Vec<u8>>, Status> {
        let mut bytes = vec![0; src.remaining()];
        src.copy_to_slice(&mut bytes);
        Ok(Some(bytes))
    }
}

/// Every unary method of the three services.
fn unary_methods(descriptors: &FileDescriptorSet) -> Vec<Method> {
    let mut methods = Vec::new();
    for file in &descriptors.file {
        for service in &file.service {
            let full = format!("{}.{}", file.package(), service.name());
            let Some(which) = Service::ALL.into_iter().find(|s| s.grpc_name() == full) else {
                continue;
            };
            for method in &service.method {
                if method.client_streaming() || method.server_streaming() {
                    continue;
                }
                methods.push(Method {
                    service: which,
                    path: format!("/{full}/{}", method.name()),
                    input: method.input_type().trim_start_matches('.').to_owned(),
                });
            }
        }
    }
    methods
}

/// Message types by full name (`robotid.registry.v1.GetRobotRequest`),
/// nested ones included.
fn message_index(descriptors: &FileDescriptorSet) -> HashMap<String, DescriptorProto> {
    fn add(index: &mut HashMap<String, DescriptorProto>, prefix: &str, message: &DescriptorProto) {
        let name = format!("{prefix}.{}", message.name());
        for nested in &message.nested_type {
            add(index, &name, nested);
        }
        index.insert(name, message.clone());
    }
    let mut index = HashMap::new();
    for file in &descriptors.file {
        for message in &file.message_type {
            add(&mut index, file.package(), message);
        }
    }
    index
}

/// A well-formed encoding of `type_name` with every field set to a small
/// value (nested messages to a depth of 3): truncating and corrupting it
/// gives bytes that get further into the decoder than random ones.
fn synthesize(
    messages: &HashMap<String, DescriptorProto>,
    type_name: &str,
    depth: usize,
) -> Vec<u8> {
    use prost::encoding::{WireType, encode_key, encode_varint};
    let mut out = Vec::new();
    let Some(message) = messages.get(type_name) else {
        return out;
    };
    for field in &message.field {
        let tag = field.number() as u32;
        match field.r#type() {
            Type::String | Type::Bytes => {
                encode_key(tag, WireType::LengthDelimited, &mut out);
                let value = b"CN0001HX00010000000000000001P";
                encode_varint(value.len() as u64, &mut out);
                out.extend_from_slice(value);
            }
            Type::Message if depth < 3 => {
                let inner = synthesize(
                    messages,
                    field.type_name().trim_start_matches('.'),
                    depth + 1,
                );
                encode_key(tag, WireType::LengthDelimited, &mut out);
                encode_varint(inner.len() as u64, &mut out);
                out.extend_from_slice(&inner);
            }
            Type::Message | Type::Group => {}
            Type::Double | Type::Fixed64 | Type::Sfixed64 => {
                encode_key(tag, WireType::SixtyFourBit, &mut out);
                out.extend_from_slice(&1u64.to_le_bytes());
            }
            Type::Float | Type::Fixed32 | Type::Sfixed32 => {
                encode_key(tag, WireType::ThirtyTwoBit, &mut out);
                out.extend_from_slice(&1u32.to_le_bytes());
            }
            _ => {
                encode_key(tag, WireType::Varint, &mut out);
                encode_varint(1, &mut out);
            }
        }
    }
    out
}

/// `per_kind` random byte strings, `per_kind` truncations of `valid` and
/// `per_kind` copies of it with a byte changed, and a few hostile shapes.
fn payloads(valid: &[u8], per_kind: usize, seed: u64) -> Vec<Vec<u8>> {
    let mut random = XorShift::new(seed);
    let mut out = vec![
        Vec::new(),
        vec![0xff; 64],
        // Field 1, length-delimited, claiming 2^32 bytes.
        vec![0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f],
        // A varint longer than ten bytes.
        vec![
            0x08, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01,
        ],
        // Start-group markers nested deeper than any decoder recurses.
        [0x0b].repeat(200),
        // Field number 0.
        vec![0x02, 0x00],
    ];
    for _ in 0..per_kind {
        let len = random.below(512);
        out.push((0..len).map(|_| random.next() as u8).collect());
        if !valid.is_empty() {
            out.push(valid[..random.below(valid.len())].to_vec());
            let mut corrupted = valid.to_vec();
            let at = random.below(corrupted.len());
            corrupted[at] = random.next() as u8;
            out.push(corrupted);
        }
    }
    out.push(valid.to_vec());
    out
}

/// A small deterministic generator (xorshift64*): the same seed sends the
/// same bytes, so a failure can be repeated.
struct XorShift(u64);

impl XorShift {
    fn new(seed: u64) -> Self {
        Self(seed | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform enough in `0..n` (`n` > 0).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_service_has_methods_and_their_requests_synthesize_and_decode() {
        let descriptors = FileDescriptorSet::decode(robotid_proto::FILE_DESCRIPTOR_SET).unwrap();
        let messages = message_index(&descriptors);
        let methods = unary_methods(&descriptors);
        for service in Service::ALL {
            assert!(methods.iter().any(|m| m.service == service), "{service}");
        }
        let get = methods
            .iter()
            .find(|m| m.path == "/robotid.registry.v1.RegistryService/GetRobot")
            .unwrap();
        let bytes = synthesize(&messages, &get.input, 0);
        let decoded =
            robotid_proto::registry::v1::GetRobotRequest::decode(bytes.as_slice()).unwrap();
        assert_eq!(decoded.robot_id, "CN0001HX00010000000000000001P");
    }

    #[test]
    fn payloads_are_repeatable_from_their_seed() {
        assert_eq!(payloads(b"abc", 4, 7), payloads(b"abc", 4, 7));
        assert_ne!(payloads(b"abc", 4, 7), payloads(b"abc", 4, 8));
    }
}
