//! A gRPC server reflection client (v1), as grpcurl uses it: the services
//! a port lists, and the files a symbol needs, every import resolved.

use std::collections::{BTreeSet, VecDeque};

use prost::Message;
use prost_types::FileDescriptorProto;
use tonic::transport::Channel;
use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
use tonic_reflection::pb::v1::{ServerReflectionRequest, ServerReflectionResponse};

/// One question, one answer, on a stream of its own.
async fn ask(channel: &Channel, request: MessageRequest) -> ServerReflectionResponse {
    let mut client = ServerReflectionClient::new(channel.clone());
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(request),
    };
    let mut answers = client
        .server_reflection_info(tokio_stream::once(request))
        .await
        .expect("reflection answers")
        .into_inner();
    answers
        .message()
        .await
        .expect("a reflection answer")
        .expect("one message")
}

/// The service names the server lists, sorted.
pub async fn list_services(channel: &Channel) -> Vec<String> {
    match ask(channel, MessageRequest::ListServices(String::new()))
        .await
        .message_response
    {
        Some(MessageResponse::ListServicesResponse(list)) => {
            let mut names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
            names.sort();
            names
        }
        other => panic!("not a service list: {other:?}"),
    }
}

fn files_of(
    answer: ServerReflectionResponse,
    asked: &str,
) -> Result<Vec<FileDescriptorProto>, String> {
    match answer.message_response {
        Some(MessageResponse::FileDescriptorResponse(files)) => files
            .file_descriptor_proto
            .iter()
            .map(|bytes| FileDescriptorProto::decode(bytes.as_slice()).map_err(|e| e.to_string()))
            .collect(),
        Some(MessageResponse::ErrorResponse(error)) => Err(format!(
            "{asked}: {} {}",
            error.error_code, error.error_message
        )),
        other => Err(format!("{asked}: unexpected answer {other:?}")),
    }
}

/// The file that defines `symbol` (e.g. `google.rpc.ErrorInfo`) and every
/// file it imports, transitively, as a client that decodes the message
/// needs them; an error naming what does not resolve.
pub async fn resolve_symbol(
    channel: &Channel,
    symbol: &str,
) -> Result<Vec<FileDescriptorProto>, String> {
    let mut files = files_of(
        ask(
            channel,
            MessageRequest::FileContainingSymbol(symbol.to_owned()),
        )
        .await,
        symbol,
    )?;
    let mut known: BTreeSet<String> = files.iter().filter_map(|f| f.name.clone()).collect();
    let mut wanted: VecDeque<String> = files.iter().flat_map(|f| f.dependency.clone()).collect();
    while let Some(name) = wanted.pop_front() {
        if known.contains(&name) {
            continue;
        }
        let more = files_of(
            ask(channel, MessageRequest::FileByFilename(name.clone())).await,
            &name,
        )?;
        for file in more {
            if let Some(file_name) = file.name.clone()
                && known.insert(file_name)
            {
                wanted.extend(file.dependency.clone());
                files.push(file);
            }
        }
        if !known.contains(&name) {
            return Err(format!("{name} is imported but not served"));
        }
    }
    Ok(files)
}
