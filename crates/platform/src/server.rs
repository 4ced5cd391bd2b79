//! Serving a service: one listener, the service's gRPC routes plus health
//! and reflection, and a graceful stop.

use std::future::Future;
use std::net::SocketAddr;

use tonic::service::Routes;
use tonic::transport::Server;
use tonic::transport::server::TcpIncoming;
use tonic_health::ServingStatus;
use tonic_health::pb::health_server::HealthServer;
use tonic_health::server::{HealthReporter, HealthService};

/// A bound, not yet serving, gRPC server.
///
/// Binding first and serving later lets tests bind port 0, read the address,
/// and connect before the first request.
pub struct GrpcServer {
    incoming: TcpIncoming,
    local_addr: SocketAddr,
    health: Health,
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
}

impl GrpcServer {
    pub async fn bind(addr: SocketAddr) -> Result<Self, ServeError> {
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
        let reflection = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(robotid_proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            .build_v1()
            .map_err(ServeError::Reflection)?;
        let health_service = HealthServer::new(HealthService::from_health_reporter(
            self.health.reporter.clone(),
        ));
        let routes = routes.add_service(health_service).add_service(reflection);

        self.health.set(services, true).await;
        let health = self.health.clone();
        let services: Vec<String> = services.iter().map(|s| (*s).to_owned()).collect();
        let stopping = async move {
            shutdown.await;
            let names: Vec<&str> = services.iter().map(String::as_str).collect();
            health.set(&names, false).await;
            tracing::info!("not serving; draining in-flight calls");
        };

        tracing::info!(addr = %self.local_addr, "serving gRPC");
        Server::builder()
            .add_routes(routes)
            .serve_with_incoming_shutdown(self.incoming, stopping)
            .await
            .map_err(ServeError::Transport)
    }
}
