//! Serving a service: one listener, the service's gRPC routes plus health
//! and reflection, and a graceful stop.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use tonic::service::Routes;
use tonic::transport::Server;
use tonic::transport::server::TcpIncoming;
use tonic_health::ServingStatus;
use tonic_health::pb::health_server::HealthServer;
use tonic_health::server::{HealthReporter, HealthService};
use tower::ServiceBuilder;

use crate::access::{AccessLayer, RateLimit};
use crate::admission::{Admission, AdmissionLayer};
use crate::message_size::MessageSizeLayer;
use crate::rpc_telemetry::RpcTelemetryLayer;
use crate::tls::TlsMaterial;

/// The `grpc.health.v1` service every port serves.
const HEALTH_SERVICE: &str = "grpc.health.v1.Health";
/// Server reflection, in both versions, on every port.
const REFLECTION_V1: &str = "grpc.reflection.v1.ServerReflection";
const REFLECTION_V1ALPHA: &str = "grpc.reflection.v1alpha.ServerReflection";

/// How a server protects itself and its callers.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Mutual TLS; `None` serves plaintext, where every caller is anonymous.
    pub tls: Option<TlsMaterial>,
    /// Longest a call may run (a shorter client deadline wins).
    pub request_timeout: Duration,
    /// Calls worked on at once and how long one waits for a slot; past
    /// that it is refused with RESOURCE_EXHAUSTED and a RetryInfo rather
    /// than queued.
    pub admission: Admission,
    /// Calls per second per identity (per address for anonymous callers);
    /// more answer RESOURCE_EXHAUSTED with the time to wait.
    pub rate_limit: RateLimit,
    /// After the stop signal, how long in-flight calls may take to finish
    /// before the server returns anyway.
    pub drain_timeout: Duration,
    /// A plaintext port serving only `grpc.health.v1`, for probes that do not
    /// speak TLS (Kubernetes' native gRPC probes).
    pub health_listen: Option<SocketAddr>,
}

impl Default for ServeOptions {
    fn default() -> Self {
        Self {
            tls: None,
            request_timeout: Duration::from_secs(30),
            admission: Admission::default(),
            rate_limit: RateLimit::default(),
            drain_timeout: Duration::from_secs(20),
            health_listen: None,
        }
    }
}

/// A bound, not yet serving, gRPC server.
///
/// Binding first and serving later lets tests bind port 0, read the address,
/// and connect before the first request.
pub struct GrpcServer {
    incoming: TcpIncoming,
    local_addr: SocketAddr,
    health: Health,
    options: ServeOptions,
}

/// The `grpc.health.v1` status of one process: the overall status (the
/// empty service name) and one per gRPC service it serves.
#[derive(Clone)]
pub struct Health {
    reporter: HealthReporter,
}

impl Health {
    /// Marks the process and the named services as serving or not.
    pub async fn set(&self, services: &[&str], serving: bool) {
        let status = if serving {
            ServingStatus::Serving
        } else {
            ServingStatus::NotServing
        };
        self.reporter.set_service_status("", status).await;
        for service in services {
            self.reporter.set_service_status(*service, status).await;
        }
    }

    /// Marks one named service as serving or not and leaves the overall
    /// status alone: for a detail such as a dependency's state, which
    /// operators and alerts watch but which must not take the process out
    /// of its load balancer.
    pub async fn set_service(&self, service: &str, serving: bool) {
        let status = if serving {
            ServingStatus::Serving
        } else {
            ServingStatus::NotServing
        };
        self.reporter.set_service_status(service, status).await;
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot listen on {addr}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot build the reflection service")]
    Reflection(#[source] tonic_reflection::server::Error),
    #[error("the gRPC server failed")]
    Transport(#[source] tonic::transport::Error),
    #[error("the TLS certificate or key is not usable")]
    Tls(#[source] tonic::transport::Error),
}

impl GrpcServer {
    pub async fn bind_with(addr: SocketAddr, options: ServeOptions) -> Result<Self, ServeError> {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| ServeError::Bind { addr, source })?;
        let local_addr = listener
            .local_addr()
            .map_err(|source| ServeError::Bind { addr, source })?;
        // Small unary calls dominate: send them without Nagle's delay.
        let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
        Ok(Self {
            incoming,
            local_addr,
            health: Health {
                reporter: HealthReporter::new(),
            },
            options,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    pub fn health(&self) -> Health {
        self.health.clone()
    }

    /// Serves `routes` (with health and reflection added) until `shutdown`
    /// resolves; then reports NOT_SERVING, so that load balancers stop
    /// sending, and lets in-flight calls finish before returning.
    ///
    /// `services` are the gRPC service names to report health for; they
    /// are marked serving here, after the caller finished its start-up
    /// (migrations, dependencies).
    pub async fn serve(
        self,
        routes: Routes,
        services: &[&str],
        shutdown: impl Future<Output = ()> + Send,
    ) -> Result<(), ServeError> {
        // Both reflection versions: grpcurl asks v1, many clients (Python's
        // grpcio-reflection among them) still ask v1alpha. Each lists the
        // services of this port only, and resolves the google.rpc error
        // details (ErrorInfo, BadRequest, RetryInfo, …) every refusal
        // carries, so that a generic client can print them.
        let reflection = || {
            let mut builder = tonic_reflection::server::Builder::configure()
                .register_encoded_file_descriptor_set(robotid_proto::FILE_DESCRIPTOR_SET)
                .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
                .register_encoded_file_descriptor_set(tonic_types::pb::FILE_DESCRIPTOR_SET)
                .with_service_name(HEALTH_SERVICE)
                .with_service_name(REFLECTION_V1)
                .with_service_name(REFLECTION_V1ALPHA);
            for service in services {
                builder = builder.with_service_name(*service);
            }
            builder
        };
        let reflection_v1 = reflection().build_v1().map_err(ServeError::Reflection)?;
        let reflection_v1alpha = reflection()
            .build_v1alpha()
            .map_err(ServeError::Reflection)?;
        let health_service = HealthServer::new(HealthService::from_health_reporter(
            self.health.reporter.clone(),
        ));
        let routes = routes
            .add_service(health_service)
            .add_service(reflection_v1)
            .add_service(reflection_v1alpha);

        self.health.set(services, true).await;
        let health = self.health.clone();
        let services: Vec<String> = services.iter().map(|s| (*s).to_owned()).collect();
        let (stopped, stopped_rx) = tokio::sync::oneshot::channel::<()>();
        let stopping = async move {
            shutdown.await;
            let names: Vec<&str> = services.iter().map(String::as_str).collect();
            health.set(&names, false).await;
            tracing::info!("not serving; draining in-flight calls");
            let _ = stopped.send(());
        };
        let drain_timeout = self.options.drain_timeout;
        let deadline = async move {
            if stopped_rx.await.is_ok() {
                tokio::time::sleep(drain_timeout).await;
            } else {
                std::future::pending::<()>().await;
            }
        };

        let options = self.options;
        let probe_port = match options.health_listen {
            Some(addr) => Some(self.health.serve_plaintext(addr).await?),
            None => None,
        };
        // Outermost first. Identity, the RPC table and the per-identity rate
        // run before anything else and cost little, so refused calls never
        // take a slot; admitted calls then compete for the slots the
        // database can serve, and past the limit wait briefly, then are
        // refused, instead of queueing in front of the connection pool.
        let layers = ServiceBuilder::new()
            // Outside everything, so that refused and shed calls are traced
            // and counted too.
            .layer(RpcTelemetryLayer::new())
            // Sees every answer of the routes: a request over the decoding
            // limit becomes RESOURCE_EXHAUSTED.
            .layer(MessageSizeLayer)
            .layer(AccessLayer::new(options.rate_limit))
            .layer(AdmissionLayer::new(&options.admission))
            .into_inner();
        let mut builder = Server::builder().timeout(options.request_timeout);
        if let Some(tls) = &options.tls {
            builder = builder
                .tls_config(tls.server_config())
                .map_err(ServeError::Tls)?;
        }
        tracing::info!(addr = %self.local_addr, tls = options.tls.is_some(), "serving gRPC");
        let serving = builder
            .layer(layers)
            .add_routes(routes)
            .serve_with_incoming_shutdown(self.incoming, stopping);
        let served = tokio::select! {
            served = serving => served.map_err(ServeError::Transport),
            () = deadline => {
                tracing::warn!(?drain_timeout, "calls still in flight at the drain deadline; stopping anyway");
                Ok(())
            }
        };
        // The probe port answers NOT_SERVING through the drain, then stops.
        if let Some((stop, task)) = probe_port {
            let _ = stop.send(());
            let _ = task.await;
        }
        served
    }
}

type ProbePort = (
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<Result<(), tonic::transport::Error>>,
);

impl Health {
    /// Serves this health status alone, in plaintext, on `addr` until the
    /// returned sender fires.
    async fn serve_plaintext(&self, addr: SocketAddr) -> Result<ProbePort, ServeError> {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| ServeError::Bind { addr, source })?;
        tracing::info!(%addr, "serving plaintext gRPC health for probes");
        let service = HealthServer::new(HealthService::from_health_reporter(self.reporter.clone()));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(
            Server::builder()
                .add_service(service)
                .serve_with_incoming_shutdown(TcpIncoming::from(listener), async {
                    let _ = stopped.await;
                }),
        );
        Ok((stop, task))
    }
}
