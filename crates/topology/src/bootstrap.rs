//! What every scenario needs before issuing: an admitted manufacturer and
//! an approved product model.

use robotid_proto::issuance::v1 as issuance;
use robotid_test_support::{catalog, unique as request_id};
use tonic::Code;

use crate::Topology;

/// The manufacturer code the PKI's `manufacturer` identity acts for.
pub const MANUFACTURER: &str = "0001";

impl Topology {
    /// As the regulator: admits manufacturer [`MANUFACTURER`] (unless it
    /// was already), declares `model_code` and approves it. Returns the
    /// product model's name for `IssueRobotIds`,
    /// `manufacturers/0001/productModels/{model_code}`.
    pub async fn approve_model(&self, model_code: &str) -> anyhow::Result<String> {
        let mut regulator = self.issuance_as("regulator").await?;
        let admitted = regulator
            .create_manufacturer(issuance::CreateManufacturerRequest {
                request_id: request_id("manufacturer"),
                manufacturer: Some(catalog::manufacturer(
                    MANUFACTURER,
                    "Hubei Humanoid Works Co., Ltd.",
                    "CN",
                )),
            })
            .await;
        match admitted {
            Ok(_) => {}
            Err(status) if status.code() == Code::AlreadyExists => {}
            Err(status) => anyhow::bail!("admitting manufacturer {MANUFACTURER}: {status:?}"),
        }
        regulator
            .create_product_model(issuance::CreateProductModelRequest {
                request_id: request_id("model"),
                parent: format!("manufacturers/{MANUFACTURER}"),
                product_model: Some(catalog::product_model(
                    model_code,
                    format!("SeeLight {model_code}"),
                )),
            })
            .await
            .map_err(|status| anyhow::anyhow!("declaring model {model_code}: {status:?}"))?;
        let name = format!("manufacturers/{MANUFACTURER}/productModels/{model_code}");
        regulator
            .approve_product_model(issuance::ApproveProductModelRequest {
                request_id: request_id("approve"),
                name: name.clone(),
            })
            .await
            .map_err(|status| anyhow::anyhow!("approving {name}: {status:?}"))?;
        Ok(name)
    }
}
