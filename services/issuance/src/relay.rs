//! Delivery of issued robots to the registry: the outbox relay.
//!
//! Every issued robot gets an outbox row in the transaction that issues it.
//! The relay sends the oldest rows in batches as one `RegisterRobots` each
//! and deletes them once the registry acknowledged them. A batch that fails
//! is sent again, after an exponential backoff with jitter, so nothing
//! acknowledged to a manufacturer is lost while the registry is down. The
//! registry counts a robot it already holds with the same data instead of
//! refusing it, and answers a repeated request id from its own records, so
//! a batch sent twice (a crash between the registry's answer and the
//! deletion) registers every robot once.
//!
//! Several replicas relay one outbox: each round claims its rows first (a
//! lease, see `IssuanceStore::claim_deliveries`), so that every batch is
//! sent by one relay, not by each of them. A relay that dies mid-delivery
//! leaves its claim to lapse after `call_timeout` and a margin; another
//! relay then sends those rows.

use std::sync::Arc;
use std::time::{Duration, Instant};

use robotid_domain::time::Timestamp;
use robotid_platform::client::RpcChannel;
use robotid_platform::rpc_telemetry::{self, PropagateTraceContext, TracedChannel};
use robotid_platform::server::Health;
use robotid_platform::wire::timestamp_to_wire;
use robotid_proto::common::v1 as common;
use robotid_proto::registry::v1 as registry;
use robotid_proto::registry::v1::registry_service_client::RegistryServiceClient;
use sha2::{Digest, Sha256};
use tokio::sync::{Notify, watch};
use tracing::Instrument;

use crate::store::{Delivery, IssuanceStore};

/// The `grpc.health.v1` service name that reports whether deliveries to
/// the registry keep up: NOT_SERVING while the relay is stuck.
pub const DELIVERY_HEALTH_SERVICE: &str = "robotid.issuance.v1.RegistryDelivery";

/// How the relay paces itself.
#[derive(Debug, Clone)]
pub struct RelaySettings {
    /// Robots per `RegisterRobots`.
    pub batch_size: usize,
    /// `RegisterRobots` calls in flight at once, each with its own robots.
    pub parallel_deliveries: usize,
    /// Look at the outbox at least this often, also without a wake-up (rows
    /// left by another replica or an earlier run).
    pub poll_interval: Duration,
    /// First and longest wait after a failed delivery.
    pub min_backoff: Duration,
    pub max_backoff: Duration,
    /// A delivery that takes longer has failed.
    pub call_timeout: Duration,
    /// The relay is stuck when robots wait longer than this and nothing was
    /// delivered for as long.
    pub stall_after: Duration,
}

impl Default for RelaySettings {
    fn default() -> Self {
        Self {
            batch_size: 1_000,
            parallel_deliveries: 4,
            poll_interval: Duration::from_secs(1),
            min_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(30),
            call_timeout: Duration::from_secs(30),
            stall_after: Duration::from_secs(30),
        }
    }
}

/// How far delivery is behind, for logs, health and metrics.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RelayStatus {
    /// Issued robots the registry has not acknowledged.
    pub pending: u64,
    /// When the oldest of them was issued.
    pub oldest_pending: Option<Timestamp>,
    /// Robots delivered since this process started.
    pub delivered: u64,
    /// Failed deliveries since the last success.
    pub consecutive_failures: u32,
    pub last_error: Option<String>,
    /// Robots wait and nothing moves: see [`RelaySettings::stall_after`].
    pub stalled: bool,
    /// When the backlog above was read: it counts every robot issued
    /// before then.
    pub as_of: Timestamp,
}

impl RelayStatus {
    /// How long the oldest undelivered robot has waited.
    pub fn oldest_pending_age(&self) -> Option<Duration> {
        let oldest = self.oldest_pending?;
        let waited = Timestamp::now().as_micros() - oldest.as_micros();
        Some(Duration::from_micros(waited.max(0) as u64))
    }
}

/// The relay and what it shares with the status monitor.
pub struct Relay {
    store: IssuanceStore,
    /// Names this relay's claims on outbox rows: random, one per process.
    owner: String,
    registry: RegistryServiceClient<TracedChannel>,
    wake: Arc<Notify>,
    status: watch::Sender<RelayStatus>,
    health: Health,
    settings: RelaySettings,
    /// When the relay last delivered (or started).
    progress: std::sync::Mutex<Instant>,
    /// One refresh at a time, so that health is never set from a stale
    /// reading.
    refreshing: tokio::sync::Mutex<()>,
}

#[derive(Debug, thiserror::Error)]
enum DeliveryError {
    #[error("cannot read or update the outbox: {0}")]
    Store(#[from] robotid_platform::error::ApiError),
    #[error("the registry refused the batch: {0}")]
    Registry(#[from] tonic::Status),
    #[error("the registry did not answer within {0:?}")]
    Timeout(Duration),
}

impl Relay {
    pub fn new(
        store: IssuanceStore,
        registry: RpcChannel,
        health: Health,
        settings: RelaySettings,
    ) -> Self {
        let status = watch::Sender::new(RelayStatus::default());
        observe(status.subscribe());
        Self {
            store,
            owner: format!("relay-{:016x}", random_u64()),
            registry: RegistryServiceClient::with_interceptor(registry, PropagateTraceContext),
            wake: Arc::new(Notify::new()),
            status,
            health,
            settings,
            progress: std::sync::Mutex::new(Instant::now()),
            refreshing: tokio::sync::Mutex::new(()),
        }
    }

    /// Notified after every issuance.
    pub fn waker(&self) -> Arc<Notify> {
        Arc::clone(&self.wake)
    }

    pub fn status(&self) -> watch::Receiver<RelayStatus> {
        self.status.subscribe()
    }

    /// Delivers until `stop` turns true (or its sender goes away). A batch
    /// in flight is finished, and its rows marked, before returning.
    pub async fn run(self: Arc<Self>, mut stop: watch::Receiver<bool>) {
        *self.progress.lock().expect("progress lock") = Instant::now();
        // The detail exists from the start; `refresh` reports changes.
        self.health.set_service(DELIVERY_HEALTH_SERVICE, true).await;
        self.refresh().await;
        let monitor = tokio::spawn(Arc::clone(&self).monitor(stop.clone()));
        let mut failures = 0_u32;
        let mut next_attempt = tokio::time::Instant::now();
        loop {
            tokio::select! {
                biased;
                changed = stop.changed() => if changed.is_err() || *stop.borrow() { break },
                () = self.wake.notified() => {
                    // New robots; but a registry that is failing gets its
                    // backoff, whatever is issued meanwhile.
                    if failures == 0 {
                        next_attempt = tokio::time::Instant::now();
                    }
                }
                () = tokio::time::sleep_until(next_attempt) => {}
            }
            if tokio::time::Instant::now() < next_attempt {
                continue;
            }
            // Full rounds follow each other at once; a short or empty one
            // means the outbox is drained for now.
            loop {
                match self.deliver_round().await {
                    Ok(delivered) => {
                        failures = 0;
                        if delivered < self.round_size() || *stop.borrow() {
                            next_attempt =
                                tokio::time::Instant::now() + self.settings.poll_interval;
                            break;
                        }
                    }
                    Err(error) => {
                        failures = failures.saturating_add(1);
                        let wait = backoff(&self.settings, failures, jitter());
                        tracing::warn!(%error, failures, retry_in = ?wait, "delivery to the registry failed");
                        self.status.send_modify(|status| {
                            status.consecutive_failures = failures;
                            status.last_error = Some(error.to_string());
                        });
                        next_attempt = tokio::time::Instant::now() + wait;
                        break;
                    }
                }
            }
            self.refresh().await;
        }
        monitor.abort();
        let pending = self.status.borrow().pending;
        tracing::info!(pending, "outbox relay stopped");
    }

    /// Keeps the status (and health) current while the relay waits, also
    /// during a delivery that hangs.
    async fn monitor(self: Arc<Self>, mut stop: watch::Receiver<bool>) {
        let mut tick = tokio::time::interval(self.settings.poll_interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                changed = stop.changed() => if changed.is_err() || *stop.borrow() { return },
                _ = tick.tick() => self.refresh().await,
            }
        }
    }

    /// Robots one round reads from the outbox.
    fn round_size(&self) -> usize {
        self.settings.batch_size * self.settings.parallel_deliveries.max(1)
    }

    /// Sends the oldest undelivered robots as up to `parallel_deliveries`
    /// batches at once, then forgets each batch the registry acknowledged;
    /// returns how many were delivered, or the first failure once every
    /// batch of the round has finished (what succeeded stays delivered).
    async fn deliver_round(self: &Arc<Self>) -> Result<usize, DeliveryError> {
        // The claim outlives every delivery of the round (each ends within
        // `call_timeout`), with a margin for marking them delivered.
        let lease = self.settings.call_timeout + LEASE_MARGIN;
        let until = Timestamp::from_micros(
            Timestamp::now().as_micros() + i64::try_from(lease.as_micros()).unwrap_or(i64::MAX),
        );
        let pending = self
            .store
            .claim_deliveries(&self.owner, self.round_size(), until)
            .await?;
        let mut deliveries = tokio::task::JoinSet::new();
        for batch in pending.chunks(self.settings.batch_size) {
            let relay = Arc::clone(self);
            let batch = batch.to_vec();
            deliveries.spawn(async move { relay.deliver_batch(&batch).await });
        }
        let mut outcome = Ok(0);
        while let Some(joined) = deliveries.join_next().await {
            let delivered = match joined {
                Ok(delivered) => delivered,
                Err(error) if error.is_panic() => std::panic::resume_unwind(error.into_panic()),
                // Cancelled with the runtime: its robots stay in the outbox.
                Err(_) => Ok(0),
            };
            outcome = match (outcome, delivered) {
                (Ok(total), Ok(delivered)) => Ok(total + delivered),
                (Err(error), _) | (Ok(_), Err(error)) => Err(error),
            };
        }
        outcome
    }

    /// Sends one batch, then forgets it; returns how many were delivered.
    /// A batch that fails is released for any relay's next attempt.
    async fn deliver_batch(&self, batch: &[Delivery]) -> Result<usize, DeliveryError> {
        if batch.is_empty() {
            return Ok(0);
        }
        let sent = self.send_batch(batch).await;
        if sent.is_err() {
            let ids: Vec<i64> = batch.iter().map(|d| d.outbox_id).collect();
            if let Err(error) = self.store.release_deliveries(&self.owner, &ids).await {
                tracing::warn!(%error, "cannot release the claim on a failed batch; it lapses");
            }
        }
        sent
    }

    async fn send_batch(&self, batch: &[Delivery]) -> Result<usize, DeliveryError> {
        let request = registry::RegisterRobotsRequest {
            request_id: batch_request_id(batch),
            robots: batch.iter().map(registration).collect(),
            on_behalf_of: String::new(),
        };
        // The delivery joins the trace of the call that issued its robots
        // (and links the others it carries), so one trace shows an issue
        // call and its arrival in the registry.
        let span = tracing::info_span!("deliver to the registry", robot.count = batch.len());
        let mut traces: Vec<&str> = batch
            .iter()
            .filter_map(|delivery| delivery.traceparent.as_deref())
            .collect();
        traces.dedup();
        rpc_telemetry::continue_traces(&span, traces);
        let mut client = self.registry.clone();
        let call = client.register_robots(request).instrument(span);
        let answer = tokio::time::timeout(self.settings.call_timeout, call)
            .await
            .map_err(|_| DeliveryError::Timeout(self.settings.call_timeout))??
            .into_inner();
        let ids: Vec<i64> = batch.iter().map(|d| d.outbox_id).collect();
        self.store.mark_delivered(&ids).await?;
        *self.progress.lock().expect("progress lock") = Instant::now();
        let acknowledged =
            answer.registered_count as usize + answer.already_registered_count as usize;
        if acknowledged != batch.len() {
            tracing::warn!(
                sent = batch.len(),
                acknowledged,
                "the registry acknowledged another number of robots than sent"
            );
        }
        tracing::debug!(
            robots = batch.len(),
            registered = answer.registered_count,
            already_registered = answer.already_registered_count,
            "delivered to the registry"
        );
        self.status.send_modify(|status| {
            status.delivered += batch.len() as u64;
            status.consecutive_failures = 0;
            status.last_error = None;
        });
        Ok(batch.len())
    }

    /// Re-reads the backlog, decides whether the relay is stuck, and logs
    /// and reports the health when that changes.
    async fn refresh(&self) {
        let _one_at_a_time = self.refreshing.lock().await;
        let as_of = Timestamp::now();
        let backlog = match self.store.backlog().await {
            Ok(backlog) => backlog,
            Err(error) => {
                tracing::warn!(%error, "cannot read the outbox backlog");
                return;
            }
        };
        let since_progress = self.progress.lock().expect("progress lock").elapsed();
        let was = self.status.borrow().clone();
        let mut now = RelayStatus {
            pending: backlog.pending,
            oldest_pending: backlog.oldest,
            as_of,
            ..was.clone()
        };
        let waited_long = now
            .oldest_pending_age()
            .is_some_and(|age| age > self.settings.stall_after);
        now.stalled =
            backlog.pending > 0 && waited_long && since_progress > self.settings.stall_after;
        // Health first: whoever sees the new status also finds it reported.
        if now.stalled != was.stalled {
            self.health
                .set_service(DELIVERY_HEALTH_SERVICE, !now.stalled)
                .await;
        }
        // Only the fields read here: a delivery updates the others meanwhile.
        self.status.send_modify(|status| {
            status.pending = now.pending;
            status.oldest_pending = now.oldest_pending;
            status.as_of = now.as_of;
            status.stalled = now.stalled;
        });
        if now.stalled && !was.stalled {
            tracing::error!(
                pending = now.pending,
                oldest_age = ?now.oldest_pending_age(),
                last_error = now.last_error.as_deref().unwrap_or(""),
                "delivery to the registry is stuck"
            );
        } else if !now.stalled && was.stalled {
            tracing::info!(
                pending = now.pending,
                "delivery to the registry moves again"
            );
        }
        if now.pending == 0 && was.pending > 0 {
            tracing::info!(
                delivered = now.delivered,
                "the registry has every issued robot"
            );
        } else if now.pending > 0 && was.pending == 0 {
            tracing::info!(
                pending = now.pending,
                "robots waiting for delivery to the registry"
            );
        }
    }
}

/// Exports the backlog as OpenTelemetry gauges, read from the status the
/// relay keeps current.
fn observe(status: watch::Receiver<RelayStatus>) {
    let meter = opentelemetry::global::meter("robotid");
    let pending = status.clone();
    meter
        .u64_observable_gauge("robotid.issuance.relay.pending")
        .with_description("Issued robots the registry has not acknowledged")
        .with_unit("{robot}")
        .with_callback(move |observer| observer.observe(pending.borrow().pending, &[]))
        .build();
    meter
        .f64_observable_gauge("robotid.issuance.relay.oldest_pending_age")
        .with_description("How long the oldest unacknowledged robot has waited")
        .with_unit("s")
        .with_callback(move |observer| {
            let age = status.borrow().oldest_pending_age();
            observer.observe(age.map_or(0.0, |age| age.as_secs_f64()), &[]);
        })
        .build();
}

/// Names a batch by its rows: the same rows sent again are the same
/// request to the registry, and a set of rows that differs (PostgreSQL may
/// commit ids out of order, so a range can fill in between two attempts)
/// is a different one, never a reused id.
fn batch_request_id(batch: &[Delivery]) -> String {
    let mut digest = Sha256::new();
    for delivery in batch {
        digest.update(delivery.robot_id.as_str());
    }
    let first = batch.first().map_or(0, |d| d.outbox_id);
    let last = batch.last().map_or(0, |d| d.outbox_id);
    format!(
        "issuance-outbox-{first}-{last}-{}",
        hex::encode(&digest.finalize()[..8])
    )
}

fn registration(delivery: &Delivery) -> registry::RobotRegistration {
    registry::RobotRegistration {
        robot_id: delivery.robot_id.as_str().to_owned(),
        manufacturer_name: delivery.manufacturer_name.clone(),
        model_name: delivery.model_name.clone(),
        production: Some(common::Production {
            production_time: delivery.production.produced_at.map(timestamp_to_wire),
            factory: delivery.production.factory.clone().unwrap_or_default(),
        }),
        import_origin: None,
        occur_time: Some(timestamp_to_wire(delivery.issued_at)),
        credential: delivery.credential.clone(),
        // This registry's own key signed it.
        credential_public_key: Vec::new(),
    }
}

/// The wait before attempt `failures + 1`: doubling from the minimum up to
/// the cap, then "equal jitter" (half fixed, half random), so replicas that
/// failed together do not retry together. `jitter` is in [0, 1).
fn backoff(settings: &RelaySettings, failures: u32, jitter: f64) -> Duration {
    let doublings = failures.saturating_sub(1).min(20);
    let full = settings
        .min_backoff
        .saturating_mul(1 << doublings)
        .min(settings.max_backoff);
    full / 2 + full.mul_f64(jitter.clamp(0.0, 1.0) / 2.0)
}

fn jitter() -> f64 {
    let mut bytes = [0_u8; 4];
    // Without randomness the wait is just not spread: no reason to fail.
    if getrandom::fill(&mut bytes).is_err() {
        return 0.5;
    }
    f64::from(u32::from_le_bytes(bytes)) / (f64::from(u32::MAX) + 1.0)
}

/// How much longer than a round's deliveries a claim lasts.
const LEASE_MARGIN: Duration = Duration::from_secs(5);

/// A relay's name among the replicas: random, so that two processes (or a
/// restart) never share one; the time stands in without randomness.
fn random_u64() -> u64 {
    let mut bytes = [0_u8; 8];
    if getrandom::fill(&mut bytes).is_err() {
        return Timestamp::now().as_micros() as u64;
    }
    u64::from_le_bytes(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_100_ms_to_a_30_s_cap_with_jitter() {
        let settings = RelaySettings::default();
        assert_eq!(backoff(&settings, 1, 0.0), Duration::from_millis(50));
        assert!(backoff(&settings, 1, 0.999) < Duration::from_millis(100));
        assert_eq!(backoff(&settings, 2, 0.0), Duration::from_millis(100));
        assert_eq!(backoff(&settings, 4, 0.0), Duration::from_millis(400));
        assert_eq!(backoff(&settings, 30, 0.0), Duration::from_secs(15));
        assert!(backoff(&settings, u32::MAX, 0.999) < Duration::from_secs(30));
        let spread: Vec<_> = (0..10).map(|_| backoff(&settings, 5, jitter())).collect();
        assert!(spread.iter().all(
            |wait| *wait >= Duration::from_millis(800) && *wait < Duration::from_millis(1_600)
        ));
    }
}
