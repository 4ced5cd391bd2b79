//! Too large is RESOURCE_EXHAUSTED: gRPC's code for a message over the
//! size limit (as grpc-go and grpc-java answer it), with an `ErrorInfo`
//! that names the limit. tonic answers OUT_OF_RANGE for a request over its
//! decoding limit; this layer turns that answer into the right one, so
//! that a client can tell "this will never fit" (not retried, reason
//! `MESSAGE_TOO_LARGE`) from a bad argument.
//!
//! Responses have no encoding limit here (tonic's default), so only
//! requests are refused for their size: the largest answer of the API (an
//! `IssueRobotIds` of 10,000 robots, about 2.2 MB) is bounded by its
//! request's limits and fits the clients' 4 MiB decoding limit.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use tonic::Code;
use tonic::body::Body;
use tonic_types::{ErrorDetails, StatusExt};

/// `ErrorInfo.reason` of a request over the size limit.
pub const MESSAGE_TOO_LARGE: &str = "MESSAGE_TOO_LARGE";

/// How tonic's decoder words a request over the limit: `Error, decoded
/// message length too large: found N bytes, the limit is: M bytes`.
const DECODED_TOO_LARGE: &str = "Error, decoded message length too large";

#[derive(Clone, Copy, Default)]
pub struct MessageSizeLayer;

impl<S> tower::Layer<S> for MessageSizeLayer {
    type Service = MessageSize<S>;

    fn layer(&self, inner: S) -> Self::Service {
        MessageSize { inner }
    }
}

#[derive(Clone)]
pub struct MessageSize<S> {
    inner: S,
}

type BoxFuture<T, E> = Pin<Box<dyn Future<Output = Result<T, E>> + Send>>;

impl<S, B> tower::Service<http::Request<B>> for MessageSize<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<Body>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let domain = crate::access::error_domain(request.uri().path());
        let answer = self.inner.call(request);
        Box::pin(async move {
            let response = answer.await?;
            // A refused request is a trailers-only response: the status is
            // in the headers.
            match tonic::Status::from_header_map(response.headers()) {
                Some(status)
                    if status.code() == Code::OutOfRange
                        && status.message().starts_with(DECODED_TOO_LARGE) =>
                {
                    Ok(too_large(status.message(), &domain).into_http())
                }
                _ => Ok(response),
            }
        })
    }
}

/// The refusal, with the sizes tonic found in its metadata.
fn too_large(decoder_message: &str, domain: &str) -> tonic::Status {
    let numbers: Vec<&str> = decoder_message
        .split(|c: char| !c.is_ascii_digit())
        .filter(|part| !part.is_empty())
        .collect();
    let (found, limit) = match numbers.as_slice() {
        [found, limit, ..] => ((*found).to_owned(), (*limit).to_owned()),
        _ => (String::new(), String::new()),
    };
    let details = ErrorDetails::with_error_info(
        MESSAGE_TOO_LARGE,
        domain,
        [
            ("size_bytes".to_owned(), found.clone()),
            ("limit_bytes".to_owned(), limit.clone()),
        ],
    );
    tonic::Status::with_error_details(
        Code::ResourceExhausted,
        format!("the request is {found} bytes; this service takes at most {limit} bytes a message"),
        details,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sizes_tonic_found_are_named() {
        let status = too_large(
            "Error, decoded message length too large: found 5000000 bytes, the limit is: 4194304 bytes",
            "registry.robotid",
        );
        assert_eq!(status.code(), Code::ResourceExhausted);
        let info = status.get_details_error_info().unwrap();
        assert_eq!(info.reason, MESSAGE_TOO_LARGE);
        assert_eq!(info.metadata["size_bytes"], "5000000");
        assert_eq!(info.metadata["limit_bytes"], "4194304");
    }
}
