//! Delivers the outbox's holds to the peers' registries: `DeliverHold` over
//! mutual TLS, with the certificate each peer's CA issued this registry
//! (`{peer TLS dir}/{cc}/registry.{crt,key}` beside that CA's `ca.crt`),
//! to the gRPC address the trust list gives (`Peer.grpc_url`).
//!
//! A hold goes once its event is in a checkpoint (the proof needs one);
//! holds of one robot go in the order they were recorded; a peer that does
//! not answer is asked again with backoff, and holds no one else back.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use robotid_domain::code::{CountryCode, RobotId};
use robotid_domain::time::Timestamp;
use robotid_platform::client::lazy_channel_with;
use robotid_platform::tls::TlsArgs;
use robotid_proto::registry::v1::registry_service_client::RegistryServiceClient;
use tokio::sync::Mutex;
use tonic::Code;
use tonic_types::StatusExt;

use super::clones;
use super::outbox::{self, Pending};
use crate::convert::hold_to_wire;
use crate::store::RegistryStore;
use crate::witness::store::{self as peers, Peer};

/// Between two looks at the outbox.
const POLL: Duration = Duration::from_millis(100);
/// How long one peer may take to answer one hold.
const CALL_TIMEOUT: Duration = Duration::from_secs(5);
/// The longest wait before a hold is offered again: a peer that comes
/// back gets its holds within this.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

type PeerClient = RegistryServiceClient<robotid_platform::client::RpcChannel>;

#[derive(Clone)]
pub struct HoldRelay {
    store: RegistryStore,
    home: CountryCode,
    tls_dir: Option<PathBuf>,
    /// One client per peer and address.
    clients: Arc<Mutex<HashMap<String, (String, PeerClient)>>>,
}

/// What became of one delivery.
enum Delivery {
    /// The peer recorded it, or refused it for good: the row is done.
    Answered(String),
    /// Not now: asked again later, with backoff.
    Later(String),
    /// The peer does not answer, or does not take this registry's holds
    /// yet: this one is asked again later, and the peer's others wait for
    /// the next round rather than each waiting out a timeout now.
    PeerUnavailable(String),
    /// Its event is not in a checkpoint yet: asked again at the next look.
    NotYet,
}

impl HoldRelay {
    pub fn new(store: RegistryStore, home: CountryCode, tls_dir: Option<PathBuf>) -> Self {
        Self {
            store,
            home,
            tls_dir,
            clients: Arc::default(),
        }
    }

    /// Rounds until `stop`.
    pub async fn run(self, stop: impl std::future::Future<Output = ()>) {
        tokio::pin!(stop);
        loop {
            if let Err(error) = self.round().await {
                tracing::warn!(%error, "delivering holds to the peers failed; retrying");
            }
            tokio::select! {
                _ = &mut stop => return,
                _ = tokio::time::sleep(POLL) => {}
            }
        }
    }

    /// Offers every due hold once, each peer's in parallel with the
    /// others', each robot's in order.
    pub async fn round(&self) -> anyhow::Result<()> {
        let pool = &self.store.database().pool;
        let mut connection = pool.acquire().await?;
        let due = outbox::due(&mut connection, Timestamp::now().as_micros()).await?;
        if due.is_empty() {
            return Ok(());
        }
        let peers: HashMap<String, Peer> = peers::peers(&mut connection)
            .await?
            .into_iter()
            .filter(|peer| peer.active && !peer.grpc_url.is_empty())
            .map(|peer| (peer.country.clone(), peer))
            .collect();
        drop(connection);
        let mut by_peer: HashMap<String, Vec<Pending>> = HashMap::new();
        for pending in due {
            // `due` took only active peers' holds; one revoked meanwhile
            // waits.
            if peers.contains_key(&pending.country) {
                by_peer
                    .entry(pending.country.clone())
                    .or_default()
                    .push(pending);
            }
        }
        let mut deliveries = tokio::task::JoinSet::new();
        for (country, holds) in by_peer {
            let relay = self.clone();
            let peer = peers[&country].clone();
            deliveries.spawn(async move { relay.deliver_all(&peer, holds).await });
        }
        while let Some(done) = deliveries.join_next().await {
            if let Ok(Err(error)) = done {
                tracing::warn!(%error, "delivering holds to a peer failed");
            }
        }
        Ok(())
    }

    async fn deliver_all(&self, peer: &Peer, holds: Vec<Pending>) -> anyhow::Result<()> {
        let pool = &self.store.database().pool;
        for pending in holds {
            let delivery = self.deliver(peer, &pending).await;
            let mut connection = pool.acquire().await?;
            let now = Timestamp::now().as_micros();
            let peer_unavailable = matches!(delivery, Delivery::PeerUnavailable(_));
            match delivery {
                Delivery::Answered(outcome) => {
                    if outcome != "OK" {
                        tracing::warn!(
                            peer = %peer.country, robot = %pending.robot_id, %outcome,
                            "a peer refused a hold"
                        );
                    }
                    outbox::answered(&mut connection, pending.id, &outcome, now).await?;
                }
                Delivery::NotYet => {
                    let next = now + POLL.as_micros() as i64;
                    outbox::postpone(&mut connection, pending.id, pending.attempts, next, "")
                        .await?;
                }
                Delivery::Later(why) | Delivery::PeerUnavailable(why) => {
                    tracing::debug!(peer = %peer.country, robot = %pending.robot_id, %why, "a hold waits");
                    let attempts = pending.attempts + 1;
                    let backoff = backoff(attempts);
                    outbox::postpone(
                        &mut connection,
                        pending.id,
                        attempts,
                        now + backoff.as_micros() as i64,
                        &why,
                    )
                    .await?;
                    if peer_unavailable {
                        break;
                    }
                }
            }
        }
        Ok(())
    }

    async fn deliver(&self, peer: &Peer, pending: &Pending) -> Delivery {
        let Some(log) = self.store.log() else {
            return Delivery::Later("this registry keeps no log: a hold needs its proof".into());
        };
        let Ok(robot) = RobotId::parse(&pending.robot_id) else {
            return Delivery::Answered("INVALID robot id in the outbox".into());
        };
        let (event, salt) = match self.store.event_with_salt(&robot, pending.sequence).await {
            Ok(Some((event, Some(salt)))) => (event, salt),
            Ok(_) => return Delivery::Answered("the event or its leaf is missing".into()),
            Err(error) => return Delivery::Later(error.to_string()),
        };
        let Some(index) = event.log_index else {
            return Delivery::Answered("the event has no leaf".into());
        };
        let proof = match log.proof_bundle(index, None).await {
            Ok(Some(bundle)) => bundle.to_string(),
            Ok(None) => return Delivery::NotYet,
            Err(error) => return Delivery::Later(error.to_string()),
        };
        let origin_recall = event.details.recall.as_ref().map(|recall| {
            pending
                .origin_recall
                .clone()
                .unwrap_or_else(|| super::global_recall_name(self.home.as_str(), recall))
        });
        let hold_id = format!("{}-{index}", self.home.as_str());
        let hold = hold_to_wire(hold_id.clone(), &event, &salt, proof, origin_recall);
        let mut client = match self.client(peer).await {
            Ok(client) => client,
            Err(error) => return Delivery::PeerUnavailable(format!("{error:#}")),
        };
        let mut request = tonic::Request::new(hold);
        request.set_timeout(CALL_TIMEOUT);
        match client.deliver_hold(request).await {
            Ok(_) => Delivery::Answered("OK".into()),
            Err(status) => {
                let reason = status
                    .get_details_error_info()
                    .map(|info| info.reason)
                    .unwrap_or_default();
                let outcome = format!("{:?} {reason}", status.code());
                if reason == clones::REASON {
                    // The peer found this robot where it cannot be: its
                    // regulator is told there, this one here.
                    let alarm = clones::found(
                        &pending.robot_id,
                        &peer.country,
                        &hold_id,
                        &peer.country,
                        status.message().to_owned(),
                    );
                    let raised = async {
                        let mut connection = self.store.database().pool.acquire().await?;
                        clones::raise(&mut connection, &alarm).await
                    };
                    if let Err(error) = raised.await {
                        return Delivery::Later(format!("keeping a clone alarm failed: {error}"));
                    }
                }
                match status.code() {
                    // The peer looked at the hold and will not record it:
                    // asking again would get the same answer.
                    Code::FailedPrecondition | Code::InvalidArgument | Code::AlreadyExists => {
                        Delivery::Answered(outcome)
                    }
                    // Down, slow, or not yet aware of this registry as
                    // its peer: later, for all of its holds.
                    Code::Unavailable
                    | Code::DeadlineExceeded
                    | Code::PermissionDenied
                    | Code::Unauthenticated
                    | Code::ResourceExhausted => Delivery::PeerUnavailable(outcome),
                    // Not yet holding the robot (its import is on its
                    // way), or failing on this one: later.
                    _ => Delivery::Later(outcome),
                }
            }
        }
    }

    /// The client for `peer`, made on first use (and again when its address
    /// changed), from the certificate its CA issued this registry.
    async fn client(&self, peer: &Peer) -> anyhow::Result<PeerClient> {
        let mut clients = self.clients.lock().await;
        if let Some((url, client)) = clients.get(&peer.country)
            && *url == peer.grpc_url
        {
            return Ok(client.clone());
        }
        let Some(dir) = &self.tls_dir else {
            anyhow::bail!(
                "no --peer-tls-dir: holds cannot be delivered to {}",
                peer.country
            );
        };
        let dir = dir.join(peer.country.to_ascii_lowercase());
        let tls = TlsArgs::from_dir(&dir, "registry").load()?.ok_or_else(|| {
            anyhow::anyhow!("no certificate for {} in {}", peer.country, dir.display())
        })?;
        let channel = lazy_channel_with(&peer.grpc_url, Some(&tls))?;
        let client = RegistryServiceClient::new(channel);
        clients.insert(
            peer.country.clone(),
            (peer.grpc_url.clone(), client.clone()),
        );
        Ok(client)
    }
}

/// 250 ms, doubled per attempt, at most [`MAX_BACKOFF`].
fn backoff(attempts: i64) -> Duration {
    let doublings = attempts.clamp(0, 8) as u32;
    (Duration::from_millis(250) * 2_u32.pow(doublings)).min(MAX_BACKOFF)
}

#[cfg(test)]
mod tests {
    #[test]
    fn backoff_doubles_up_to_its_bound() {
        assert_eq!(super::backoff(1).as_millis(), 500);
        assert_eq!(super::backoff(2).as_millis(), 1_000);
        assert_eq!(super::backoff(3).as_millis(), 2_000);
        assert_eq!(super::backoff(20), super::MAX_BACKOFF);
    }
}
