//! Getting this registry's log witnessed: after each new checkpoint, send
//! it with the consistency proof from what each peer's witness cosigned
//! last (c2sp.org/tlog-witness `add-checkpoint`), keep the cosignatures
//! that verify with that peer's witness key, and publish them with the
//! checkpoint. Each peer is asked on its own, with a timeout: one that is
//! down is retried at the next round and holds no one back.

use std::time::Duration;

use robotid_platform::web_client::WebClient;
use robotid_tlog::witness::{parse_cosignatures, parse_size_body};
use robotid_tlog::{AddCheckpoint, SignedCheckpoint, VerifierKey};

use super::{TransparencyLog, store};
use crate::witness::store::{self as peers, Peer};

/// How long one peer's witness may take to answer.
const PEER_TIMEOUT: Duration = Duration::from_secs(5);

pub struct Witnessing {
    log: TransparencyLog,
    client: WebClient,
    interval: Duration,
}

impl Witnessing {
    pub fn new(log: TransparencyLog, interval: Duration) -> Self {
        Self {
            log,
            client: WebClient::new(PEER_TIMEOUT),
            interval,
        }
    }

    /// Rounds until `stop`.
    pub async fn run(self, stop: impl std::future::Future<Output = ()>) {
        tokio::pin!(stop);
        loop {
            if let Err(error) = self.round().await {
                tracing::warn!(%error, "sending checkpoints to the peers' witnesses failed; retrying");
            }
            tokio::select! {
                _ = &mut stop => return,
                _ = tokio::time::sleep(self.interval) => {}
            }
        }
    }

    /// Sends the newest checkpoint to every active peer whose witness has
    /// not cosigned it yet.
    pub async fn round(&self) -> anyhow::Result<()> {
        let mut connection = self.log.pool().acquire().await?;
        let Some((size, note)) = store::latest_checkpoint(&mut connection).await? else {
            return Ok(());
        };
        let peers: Vec<Peer> = peers::peers(&mut connection)
            .await?
            .into_iter()
            .filter(|peer| peer.active && !peer.web_url.is_empty())
            .collect();
        drop(connection);
        let signed = SignedCheckpoint::parse(&note)?;
        let mut asks = tokio::task::JoinSet::new();
        for peer in peers {
            let (log, client, signed) = (self.log.clone(), self.client.clone(), signed.clone());
            asks.spawn(async move {
                if let Err(error) = ask(&log, &client, &peer, size, &signed).await {
                    tracing::debug!(country = %peer.country, %error, "a peer's witness did not cosign");
                }
            });
        }
        while asks.join_next().await.is_some() {}
        Ok(())
    }
}

/// One peer: up to two requests (the second after a 409 told the size its
/// witness holds).
async fn ask(
    log: &TransparencyLog,
    client: &WebClient,
    peer: &Peer,
    size: u64,
    signed: &SignedCheckpoint,
) -> anyhow::Result<()> {
    let witness_key = VerifierKey::parse(&peer.witness_key)?;
    let url = format!(
        "{}/witness/add-checkpoint",
        peer.web_url.trim_end_matches('/')
    );
    let mut connection = log.pool().acquire().await?;
    let mut old = peers::peer_witnessed(&mut connection, &peer.country).await?;
    for _ in 0..2 {
        if old >= size {
            return Ok(());
        }
        let proof = if old == 0 {
            Vec::new()
        } else {
            log.consistency_proof(old, size).await?
        };
        let body = AddCheckpoint::new(old, proof, signed.clone()).to_bytes();
        let answer = client.post(&url, "text/plain; charset=utf-8", body).await?;
        match answer.status {
            200 => {
                let text = String::from_utf8(answer.body)?;
                for signature in parse_cosignatures(&text)? {
                    let mut cosigned = signed.clone();
                    cosigned.add_signature(signature.clone());
                    let verified = cosigned.verify(std::slice::from_ref(&witness_key));
                    if verified.is_ok_and(|verified| verified.signed_by(&witness_key)) {
                        peers::keep_cosignature(
                            &mut connection,
                            size,
                            witness_key.name(),
                            signature.to_line().trim_end(),
                        )
                        .await?;
                    }
                }
                peers::set_peer_witnessed(&mut connection, &peer.country, size).await?;
                return Ok(());
            }
            409 => {
                let text = String::from_utf8_lossy(&answer.body);
                old = parse_size_body(&text)
                    .ok_or_else(|| anyhow::anyhow!("{url}: a 409 without a size"))?;
                peers::set_peer_witnessed(&mut connection, &peer.country, old).await?;
            }
            status => {
                anyhow::bail!(
                    "{url}: {status} {}",
                    String::from_utf8_lossy(&answer.body).trim()
                );
            }
        }
    }
    Ok(())
}
