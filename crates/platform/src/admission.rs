//! Shed, don't queue: a limit on the calls a service works on at once,
//! sized to what its database can serve, and a short deadline for a call
//! waiting for a slot. Past either a call is refused at once with
//! RESOURCE_EXHAUSTED and a `RetryInfo`, so that the calls that are
//! admitted are answered quickly instead of waiting their turn behind
//! hundreds of others for one of a few database connections.
//!
//! Slots are taken in arrival order (tokio's semaphore is fair). Methods
//! that do their own queueing in front of the database (the registry's
//! group commit of `RecordEvent`) get a limit of their own; health and
//! reflection, which touch no database, are never limited.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::sync::Semaphore;
use tonic::body::Body;
use tonic_types::{ErrorDetails, StatusExt};

/// `ErrorInfo.reason` of a call refused here.
pub const OVERLOADED: &str = "OVERLOADED";

/// How many calls may work and wait at once.
#[derive(Debug, Clone)]
pub struct Admission {
    /// Calls worked on at once, over every method without a limit of its
    /// own.
    pub concurrent_calls: usize,
    /// Methods (full paths, `/pkg.Service/Method`) with a limit of their
    /// own, for work that queues in front of the database by itself.
    pub method_limits: Vec<(String, usize)>,
    /// Longest a call waits for a slot before it is refused.
    pub queue_timeout: Duration,
    /// Calls waiting for a slot at once, over all methods; one more is
    /// refused without waiting.
    pub max_queued: usize,
}

impl Admission {
    /// What a database of `connections` connections serves: two calls per
    /// connection (one on it while the other does its CPU work or waits
    /// on the network; more only wait longer, as the fault suite's
    /// overload scenario measured), waiting at most 100 ms for a slot.
    pub fn for_database(connections: u32) -> Self {
        Self {
            concurrent_calls: (connections as usize).max(1) * 2,
            method_limits: Vec::new(),
            queue_timeout: Duration::from_millis(100),
            max_queued: 1_024,
        }
    }
}

impl Default for Admission {
    fn default() -> Self {
        Self::for_database(8)
    }
}

struct Limits {
    shared: Arc<Semaphore>,
    by_method: HashMap<String, Arc<Semaphore>>,
    queue_timeout: Duration,
    max_queued: usize,
    queued: AtomicUsize,
}

#[derive(Clone)]
pub struct AdmissionLayer {
    limits: Arc<Limits>,
}

impl AdmissionLayer {
    pub fn new(admission: &Admission) -> Self {
        Self {
            limits: Arc::new(Limits {
                shared: Arc::new(Semaphore::new(admission.concurrent_calls.max(1))),
                by_method: admission
                    .method_limits
                    .iter()
                    .map(|(path, limit)| (path.clone(), Arc::new(Semaphore::new((*limit).max(1)))))
                    .collect(),
                queue_timeout: admission.queue_timeout,
                max_queued: admission.max_queued,
                queued: AtomicUsize::new(0),
            }),
        }
    }
}

impl<S> tower::Layer<S> for AdmissionLayer {
    type Service = Admitted<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Admitted {
            inner,
            limits: Arc::clone(&self.limits),
        }
    }
}

#[derive(Clone)]
pub struct Admitted<S> {
    inner: S,
    limits: Arc<Limits>,
}

type BoxFuture<T, E> = Pin<Box<dyn Future<Output = Result<T, E>> + Send>>;

/// Counts a call waiting for a slot for as long as it waits.
struct Queued<'a>(&'a AtomicUsize);

impl Drop for Queued<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl<S> tower::Service<http::Request<Body>> for Admitted<S>
where
    S: tower::Service<http::Request<Body>, Response = http::Response<Body>>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let path = request.uri().path();
        if !path.starts_with("/robotid.") {
            // Health and reflection: no database behind them, and probes
            // must be answered under any load.
            return Box::pin(inner.call(request));
        }
        let semaphore = Arc::clone(
            self.limits
                .by_method
                .get(path)
                .unwrap_or(&self.limits.shared),
        );
        let domain = crate::access::error_domain(path);
        let limits = Arc::clone(&self.limits);
        Box::pin(async move {
            let permit = match Arc::clone(&semaphore).try_acquire_owned() {
                Ok(permit) => Some(permit),
                Err(_) if limits.queued.fetch_add(1, Ordering::Relaxed) >= limits.max_queued => {
                    limits.queued.fetch_sub(1, Ordering::Relaxed);
                    None
                }
                Err(_) => {
                    let _queued = Queued(&limits.queued);
                    tokio::time::timeout(limits.queue_timeout, semaphore.acquire_owned())
                        .await
                        .ok()
                        .and_then(Result::ok)
                }
            };
            let Some(_permit) = permit else {
                return Ok(overloaded(limits.queue_timeout, &domain).into_http());
            };
            inner.call(request).await
        })
    }
}

/// The refusal of a call that found no slot in time: come back after
/// about as long as it waited, when the calls working now are done.
fn overloaded(queue_timeout: Duration, domain: &str) -> tonic::Status {
    let retry_after = queue_timeout.max(Duration::from_millis(10));
    let mut details = ErrorDetails::with_error_info(
        OVERLOADED,
        domain,
        [(
            "retry_after_ms".to_owned(),
            retry_after.as_millis().to_string(),
        )],
    );
    details.set_retry_info(Some(retry_after));
    tonic::Status::with_error_details(
        tonic::Code::ResourceExhausted,
        format!(
            "the service is at capacity; retry in {} ms",
            retry_after.as_millis()
        ),
        details,
    )
}
