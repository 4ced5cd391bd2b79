//! A manufacturer and product models as the regulator admits and approves
//! them, the same in every test and tool that needs one to issue under.

use robotid_proto::issuance::v1 as issuance;

/// Manufacturer `code` of `country`, as its admission request carries it.
pub fn manufacturer(code: &str, legal_name: &str, country: &str) -> issuance::Manufacturer {
    issuance::Manufacturer {
        code: code.into(),
        legal_name: legal_name.into(),
        registration_number: "91420100MA4K".into(),
        country_code: country.into(),
        ..Default::default()
    }
}

/// A household humanoid, model `model_code`, named `display_name`.
pub fn product_model(model_code: &str, display_name: String) -> issuance::ProductModel {
    issuance::ProductModel {
        model_code: model_code.into(),
        display_name,
        category: "household".into(),
        specifications: Some(issuance::Specifications {
            height_mm: 1_650,
            mass_g: 55_000,
            degrees_of_freedom: 41,
            battery_capacity_wh: 864,
            autonomy_level: "L3".into(),
        }),
        key_components: vec!["joint actuator JA-7".into()],
        ..Default::default()
    }
}
