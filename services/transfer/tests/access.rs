//! Identity and access on the transfer service, over mutual TLS: every RPC
//! walked with every identity of the test PKI, as the authorization table
//! says. Two deployments (China, Germany) so that an import can arrive.

mod support;

use robotid_credential::SigningKey;
use robotid_proto::transfer::v1 as pb;
use robotid_proto::transfer::v1::transfer_service_client::TransferServiceClient;
use robotid_test_support::identities::{
    IDENTITIES, assert_answer, caller, expected_refusal, rpcs_of,
};
use robotid_test_support::{TestDb, each_backend};
use support::*;
use tonic::transport::Channel;

each_backend!(every_rpc_answers_each_identity_as_the_table_says);

async fn client_of(
    deployment: &Deployment,
    identity: Option<&str>,
) -> TransferServiceClient<Channel> {
    match identity {
        Some(identity) => deployment.transfer_as(identity).await,
        None => deployment.transfer_anonymous().await,
    }
}

async fn every_rpc_answers_each_identity_as_the_table_says(db: TestDb) {
    let de_db = db.same_engine().await;
    let mut cn = Deployment::spawn("CN", "DE", db).await;
    let de = Deployment::spawn("DE", "CN", de_db).await;
    de.trust(cn.trusted()).await;
    // China sends its checkpoints to Germany's witness once it trusts
    // Germany: an import into Germany clears on them.
    cn.trust(de.trusted()).await;

    // One robot for each clearance asked and each withdrawal, one export
    // that waits for its departure, and one import into Germany that waits
    // for its arrival.
    let mut robots = cn.issue("HX0001", 2 * IDENTITIES.len() as i32 + 2).await;
    let traveller = robots.pop().unwrap();
    let departing = robots.pop().unwrap();
    let mut withdrawable = Vec::new();
    for robot in robots.split_off(IDENTITIES.len()) {
        withdrawable.push(cn.clear(export("CN", "DE", &[&robot.id], false)).await);
    }
    let leaving = cn.clear(export("CN", "DE", &[&traveller.id], false)).await;
    let leaving = cn.depart(&leaving.name).await;
    let arriving = de
        .clear(import(
            "CN",
            "DE",
            &[(&traveller.id, &traveller.credential)],
            &leaving.clearance,
            false,
        ))
        .await;
    assert_eq!(arriving.state(), pb::TransferState::Cleared, "{arriving:?}");
    let cleared = cn.clear(export("CN", "DE", &[&departing.id], false)).await;
    let revocable = cn
        .trust(trusted_key(
            "FR",
            &SigningKey::from_seed(&[41; 32]),
            days_from_now(-1),
            days_from_now(30),
        ))
        .await;
    let mut key_seeds = 50u8..;

    let rpcs = rpcs_of("robotid.transfer.v1");
    assert_eq!(rpcs.len(), 9, "every transfer RPC is in the table");
    for (method, allows) in rpcs {
        let name = method.rsplit('/').next().unwrap();
        for (n, (identity, uri)) in IDENTITIES.iter().enumerate() {
            let who = caller(uri);
            let allowed = allows.iter().any(|allow| allow.admits(&who));
            let refusal = expected_refusal(&who);
            let mut client = client_of(&cn, *identity).await;
            let who = identity.unwrap_or("anonymous");
            match name {
                "RequestClearance" => {
                    let result = client
                        .request_clearance(export("CN", "DE", &[&robots[n].id], false))
                        .await;
                    assert_answer(name, who, allowed, refusal, result);
                }
                "GetTransfer" => {
                    let result = client
                        .get_transfer(pb::GetTransferRequest {
                            name: cleared.name.clone(),
                        })
                        .await;
                    assert_answer(name, who, allowed, refusal, result);
                }
                "ListTransfers" => {
                    let result = client
                        .list_transfers(pb::ListTransfersRequest::default())
                        .await;
                    assert_answer(name, who, allowed, refusal, result);
                }
                "ConfirmDeparture" => {
                    let result = client
                        .confirm_departure(pb::ConfirmDepartureRequest {
                            request_id: unique("matrix"),
                            name: cleared.name.clone(),
                        })
                        .await;
                    assert_answer(name, who, allowed, refusal, result);
                }
                "ConfirmArrival" => {
                    // Arrivals are confirmed at the destination's border.
                    let result = client_of(&de, *identity)
                        .await
                        .confirm_arrival(pb::ConfirmArrivalRequest {
                            request_id: unique("matrix"),
                            name: arriving.name.clone(),
                        })
                        .await;
                    assert_answer(name, who, allowed, refusal, result);
                }
                "WithdrawClearance" => {
                    let result = client
                        .withdraw_clearance(pb::WithdrawClearanceRequest {
                            request_id: unique("matrix"),
                            name: withdrawable[n].name.clone(),
                        })
                        .await;
                    assert_answer(name, who, allowed, refusal, result);
                }
                "AddTrustedRegistry" => {
                    let key = SigningKey::from_seed(&[key_seeds.next().unwrap(); 32]);
                    let result = client
                        .add_trusted_registry(pb::AddTrustedRegistryRequest {
                            request_id: unique("matrix"),
                            trusted_registry: Some(trusted_key(
                                "FR",
                                &key,
                                days_from_now(-1),
                                days_from_now(30),
                            )),
                        })
                        .await;
                    assert_answer(name, who, allowed, refusal, result);
                }
                "ListTrustedRegistries" => {
                    let result = client
                        .list_trusted_registries(pb::ListTrustedRegistriesRequest::default())
                        .await;
                    assert_answer(name, who, allowed, refusal, result);
                }
                "RevokeTrustedRegistry" => {
                    let result = client
                        .revoke_trusted_registry(pb::RevokeTrustedRegistryRequest {
                            request_id: unique("matrix"),
                            name: revocable.name.clone(),
                        })
                        .await;
                    assert_answer(name, who, allowed, refusal, result);
                }
                other => panic!("no fixture for {other}"),
            }
        }
    }
    de.stop().await;
    cn.stop().await;
}
