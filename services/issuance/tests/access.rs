//! Identity and access on issuance, over mutual TLS: every RPC walked with
//! every identity of the test PKI, as the authorization table says.

mod support;

use robotid_domain::code::{CountryCode, ManufacturerCode, ModelCode};
use robotid_proto::issuance::v1 as pb;
use robotid_test_support::identities::{
    IDENTITIES, assert_answer, caller, expected_refusal, rpcs_of,
};
use robotid_test_support::{TestDb, each_backend};
use support::*;

each_backend!(
    every_rpc_answers_each_identity_as_the_table_says,
    a_manufacturer_issues_only_under_its_deployments_country,
);

/// Model codes of manufacturer 0001 that issuance admits (it refuses the
/// few whose fixed prefix would hide a transposition), after `MODEL`.
fn admissible_model_codes() -> impl Iterator<Item = String> {
    let country = CountryCode::parse("CN").unwrap();
    let manufacturer = ManufacturerCode::parse(MANUFACTURER).unwrap();
    (2..10_000)
        .map(|n| format!("HX{n:04}"))
        .filter(move |code| {
            let model = ModelCode::parse(code).unwrap();
            robotid_domain::code::prefix_catches_every_adjacent_transposition(
                &country,
                &manufacturer,
                Some(&model),
            )
        })
}

async fn every_rpc_answers_each_identity_as_the_table_says(db: TestDb) {
    let registry = spawn_registry(db.same_engine().await).await;
    let home = IssuanceHome::new(db);
    let mut issuance = home.start(registry.addr, |_| {}).await;
    let model = issuance.approved_model().await;
    let mut model_codes = admissible_model_codes();

    let rpcs = rpcs_of("robotid.issuance.v1");
    assert_eq!(rpcs.len(), 8, "every issuance RPC is in the table");
    for (method, allows) in rpcs {
        let name = method.rsplit('/').next().unwrap();
        for (identity, uri) in IDENTITIES {
            let who = caller(uri);
            let allowed = allows.iter().any(|allow| allow.admits(&who));
            let refusal = expected_refusal(&who);
            let mut client = match identity {
                Some(identity) => issuance.as_(identity).await,
                None => issuance.as_anonymous().await,
            };
            let who = identity.unwrap_or("anonymous");
            match name {
                "CreateManufacturer" => {
                    let result = client
                        .create_manufacturer(pb::CreateManufacturerRequest {
                            request_id: unique("matrix"),
                            manufacturer: Some(manufacturer("0002")),
                        })
                        .await;
                    assert_answer(name, who, allowed, refusal, result);
                }
                "GetManufacturer" => {
                    let result = client
                        .get_manufacturer(pb::GetManufacturerRequest {
                            name: format!("manufacturers/{MANUFACTURER}"),
                        })
                        .await;
                    assert_answer(name, who, allowed, refusal, result);
                }
                "ListManufacturers" => {
                    let result = client
                        .list_manufacturers(pb::ListManufacturersRequest::default())
                        .await;
                    assert_answer(name, who, allowed, refusal, result);
                }
                "CreateProductModel" => {
                    let result = client
                        .create_product_model(pb::CreateProductModelRequest {
                            request_id: unique("matrix"),
                            parent: format!("manufacturers/{MANUFACTURER}"),
                            product_model: Some(product_model(&model_codes.next().unwrap())),
                        })
                        .await;
                    assert_answer(name, who, allowed, refusal, result);
                }
                "ApproveProductModel" => {
                    // A model of its own that waits for approval.
                    let code = model_codes.next().unwrap();
                    issuance
                        .create_model(MANUFACTURER, product_model(&code))
                        .await
                        .expect("model declared");
                    let result = client
                        .approve_product_model(pb::ApproveProductModelRequest {
                            request_id: unique("matrix"),
                            name: format!("manufacturers/{MANUFACTURER}/productModels/{code}"),
                        })
                        .await;
                    assert_answer(name, who, allowed, refusal, result);
                }
                "GetProductModel" => {
                    let result = client
                        .get_product_model(pb::GetProductModelRequest {
                            name: model.clone(),
                        })
                        .await;
                    assert_answer(name, who, allowed, refusal, result);
                }
                "ListProductModels" => {
                    let result = client
                        .list_product_models(pb::ListProductModelsRequest {
                            parent: format!("manufacturers/{MANUFACTURER}"),
                            ..Default::default()
                        })
                        .await;
                    assert_answer(name, who, allowed, refusal, result);
                }
                "IssueRobotIds" => {
                    let result = client
                        .issue_robot_ids(pb::IssueRobotIdsRequest {
                            request_id: unique("matrix"),
                            product_model: model.clone(),
                            count: 1,
                            production: production(),
                        })
                        .await;
                    assert_answer(name, who, allowed, refusal, result);
                }
                other => panic!("no fixture for {other}"),
            }
        }
    }
    issuance.stop().await;
    registry.stop().await;
}

/// A manufacturer's certificate is of its deployment's CA, so its scope
/// includes the deployment's country: Germany's issuance issues DE codes to
/// `robotid://manufacturer/0001`, even for a manufacturer whose record
/// names another country, and no request names a country to ask for
/// another.
async fn a_manufacturer_issues_only_under_its_deployments_country(db: TestDb) {
    let registry = spawn_registry(db.same_engine().await).await;
    let home = IssuanceHome::new(db);
    let mut issuance = home
        .start(registry.addr, |config| config.country = "DE".into())
        .await;
    let model = issuance.approved_model().await;
    let issued = issuance
        .issue(&model, 3, "german-issue")
        .await
        .expect("issued")
        .robots;
    assert_eq!(issued.len(), 3);
    for robot in &issued {
        assert!(robot.robot_id.starts_with("DE0001HX0001"), "{robot:?}");
    }
    issuance.stop().await;
    registry.stop().await;
}
