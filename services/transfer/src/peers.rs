//! The trust list's logs, pushed to this deployment's registry: its witness
//! witnesses the peers' logs, and it sends its own checkpoints to the
//! peers' witnesses, for exactly the registries the regulator trusts. The
//! registry's `PutPeer` sets a peer whole, so pushing the same list again is
//! harmless: it is pushed at start, after every change of the trust list,
//! and every minute (a registry that was down, or restored from a backup,
//! catches up by itself).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use robotid_domain::time::Timestamp;
use robotid_domain::transfer::TrustedKey;
use robotid_proto::registry::v1 as pb;
use tokio::sync::{Notify, watch};

use crate::registry::Registry;
use crate::store::TransferStore;

/// Between two pushes of an unchanged list.
const RESYNC: Duration = Duration::from_secs(60);
/// After a push that failed.
const RETRY: Duration = Duration::from_secs(2);

/// One peer per country that ever had a log on the list: the log of its
/// newest usable entry, active; else of its newest entry, inactive (its
/// trust was revoked or lapsed: no longer witnessed, nothing sent to it).
pub fn peers_of(keys: &[TrustedKey], now: Timestamp) -> Vec<pb::Peer> {
    let mut by_country: BTreeMap<&str, (bool, Timestamp, pb::Peer)> = BTreeMap::new();
    for key in keys {
        let Some(log) = &key.log else { continue };
        let active = key.usable_at(now).is_ok();
        let rank = (active, key.not_before);
        let better = by_country
            .get(key.country.as_str())
            .is_none_or(|(was_active, since, _)| rank > (*was_active, *since));
        if better {
            let peer = pb::Peer {
                country_code: key.country.as_str().to_owned(),
                log_origin: log.origin.clone(),
                log_key: log.log_key.clone(),
                witness_key: log.witness_key.clone(),
                web_url: log.web_url.clone(),
                grpc_url: log.registry_url.clone(),
                active,
                ..Default::default()
            };
            by_country.insert(key.country.as_str(), (active, key.not_before, peer));
        }
    }
    by_country.into_values().map(|(_, _, peer)| peer).collect()
}

/// Pushes the list to the registry until `stopped`.
pub async fn sync(
    store: TransferStore,
    registry: Registry,
    changed: Arc<Notify>,
    mut stopped: watch::Receiver<bool>,
) {
    loop {
        let wait = match push(&store, &registry).await {
            Ok(()) => RESYNC,
            Err(error) => {
                tracing::warn!(%error, "the trust list's peers did not reach the registry; retrying");
                RETRY
            }
        };
        tokio::select! {
            _ = changed.notified() => {}
            _ = tokio::time::sleep(wait) => {}
            _ = stopped.changed() => return,
        }
    }
}

async fn push(store: &TransferStore, registry: &Registry) -> anyhow::Result<()> {
    let keys = store.trusted_keys().await?;
    for peer in peers_of(&keys, Timestamp::now()) {
        registry.put_peer(peer).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use robotid_domain::transfer::TrustedLog;

    use super::*;

    fn entry(country: &str, since: i64, revoked: bool, origin: Option<&str>) -> TrustedKey {
        TrustedKey {
            country: country.parse().unwrap(),
            kid: format!("{since:016x}"),
            public_key: [since as u8; 32],
            not_before: Timestamp::from_micros(since),
            not_after: Timestamp::from_micros(10_000),
            revoked_at: revoked.then(|| Timestamp::from_micros(since + 1)),
            added_by: "robotid://regulator/miit".into(),
            revoked_by: None,
            log: origin.map(|origin| TrustedLog {
                origin: origin.into(),
                log_key: format!("{origin}+00000000+key"),
                witness_key: "witness+00000000+key".into(),
                web_url: format!("https://{origin}"),
                import_policy: String::new(),
                registry_url: String::new(),
            }),
        }
    }

    #[test]
    fn one_peer_per_country_from_its_newest_usable_log() {
        let now = Timestamp::from_micros(5_000);
        let keys = [
            // Germany: an old usable entry, a newer revoked one, and a
            // newest one without a log.
            entry("DE", 1_000, false, Some("old.de/log")),
            entry("DE", 2_000, true, Some("revoked.de/log")),
            entry("DE", 3_000, false, None),
            // France: its only log entry was revoked.
            entry("FR", 1_000, true, Some("fr/log")),
            // Japan: no log at all, so no peer.
            entry("JP", 1_000, false, None),
        ];
        let peers: Vec<(String, String, bool)> = peers_of(&keys, now)
            .into_iter()
            .map(|peer| (peer.country_code, peer.log_origin, peer.active))
            .collect();
        assert_eq!(
            peers,
            [
                ("DE".into(), "old.de/log".into(), true),
                ("FR".into(), "fr/log".into(), false),
            ]
        );
    }
}
