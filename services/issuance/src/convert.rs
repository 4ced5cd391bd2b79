//! Wire ↔ domain conversions at issuance's edge. Conversions from the wire
//! destructure every field, so a new proto field is a compile error here
//! until it is handled.

use robotid_domain::catalog::{
    Approval, CatalogError, Manufacturer, ProductModel, Specifications, manufacturer_name,
};
use robotid_domain::code::{CountryCode, ManufacturerCode, ModelCode};
use robotid_domain::time::Timestamp;
use robotid_platform::error::ApiError;
use robotid_platform::wire::timestamp_to_wire;
use robotid_proto::issuance::v1 as pb;

use crate::issuer::IssuedRobot;

/// A domain validation error as an INVALID_ARGUMENT on `prefix.field`.
pub fn invalid(prefix: &str, error: CatalogError) -> ApiError {
    ApiError::invalid_argument(format!("{prefix}.{}", error.field), error.problem)
}

/// `manufacturers/{code}`.
pub fn parse_manufacturer_name(field: &str, name: &str) -> Result<ManufacturerCode, ApiError> {
    let code = name.strip_prefix("manufacturers/").ok_or_else(|| {
        ApiError::invalid_argument(field, "a manufacturer name, `manufacturers/{code}`")
    })?;
    ManufacturerCode::parse(code).map_err(|e| ApiError::invalid_argument(field, e))
}

/// `manufacturers/{code}/productModels/{model}`.
pub fn parse_model_name(
    field: &str,
    name: &str,
) -> Result<(ManufacturerCode, ModelCode), ApiError> {
    let malformed = || {
        ApiError::invalid_argument(
            field,
            "a product model name, `manufacturers/{code}/productModels/{model}`",
        )
    };
    let rest = name.strip_prefix("manufacturers/").ok_or_else(malformed)?;
    let (manufacturer, model) = rest.split_once("/productModels/").ok_or_else(malformed)?;
    Ok((
        ManufacturerCode::parse(manufacturer).map_err(|e| ApiError::invalid_argument(field, e))?,
        ModelCode::parse(model).map_err(|e| ApiError::invalid_argument(field, e))?,
    ))
}

/// A manufacturer to admit; `name` and `create_time` are output only and
/// ignored.
pub fn manufacturer_from_wire(
    manufacturer: Option<pb::Manufacturer>,
    now: Timestamp,
) -> Result<Manufacturer, ApiError> {
    let pb::Manufacturer {
        name: _,
        code,
        legal_name,
        registration_number,
        country_code,
        create_time: _,
    } = manufacturer.ok_or_else(|| ApiError::invalid_argument("manufacturer", "required"))?;
    let code = ManufacturerCode::parse(&code)
        .map_err(|e| ApiError::invalid_argument("manufacturer.code", e))?;
    let country = CountryCode::parse(&country_code).map_err(|e| {
        ApiError::invalid_argument(
            "manufacturer.country_code",
            format!("an ISO 3166-1 alpha-2 code, two capitals: {e}"),
        )
    })?;
    let manufacturer = Manufacturer {
        code,
        legal_name,
        registration_number,
        country,
        created_at: now,
    };
    manufacturer
        .validate()
        .map_err(|e| invalid("manufacturer", e))?;
    Ok(manufacturer)
}

pub fn manufacturer_to_wire(manufacturer: &Manufacturer) -> pb::Manufacturer {
    pb::Manufacturer {
        name: manufacturer_name(&manufacturer.code),
        code: manufacturer.code.as_str().to_owned(),
        legal_name: manufacturer.legal_name.clone(),
        registration_number: manufacturer.registration_number.clone(),
        country_code: manufacturer.country.as_str().to_owned(),
        create_time: Some(timestamp_to_wire(manufacturer.created_at)),
    }
}

fn non_negative(field: &str, value: i32) -> Result<u32, ApiError> {
    u32::try_from(value).map_err(|_| {
        ApiError::invalid_argument(
            format!("product_model.specifications.{field}"),
            "must not be negative",
        )
    })
}

/// A product model to declare under `parent`, pending approval. Output-only
/// fields (`name`, `approval_state`, `create_time`, `approve_time`) are
/// ignored; `manufacturer_code` may be empty or must name the parent.
pub fn model_from_wire(
    parent: &ManufacturerCode,
    model: Option<pb::ProductModel>,
    now: Timestamp,
) -> Result<ProductModel, ApiError> {
    let pb::ProductModel {
        name: _,
        manufacturer_code,
        model_code,
        display_name,
        category,
        specifications,
        key_components,
        approval_state: _,
        create_time: _,
        approve_time: _,
    } = model.ok_or_else(|| ApiError::invalid_argument("product_model", "required"))?;
    if !manufacturer_code.is_empty()
        && ManufacturerCode::parse(&manufacturer_code).ok().as_ref() != Some(parent)
    {
        return Err(ApiError::invalid_argument(
            "product_model.manufacturer_code",
            "empty, or the code of the parent manufacturer",
        ));
    }
    let model = ModelCode::parse(&model_code)
        .map_err(|e| ApiError::invalid_argument("product_model.model_code", e))?;
    let pb::Specifications {
        height_mm,
        mass_g,
        degrees_of_freedom,
        battery_capacity_wh,
        autonomy_level,
    } = specifications
        .ok_or_else(|| ApiError::invalid_argument("product_model.specifications", "required"))?;
    let model = ProductModel {
        manufacturer: parent.clone(),
        model,
        display_name,
        category,
        specifications: Specifications {
            height_mm: non_negative("height_mm", height_mm)?,
            mass_g: non_negative("mass_g", mass_g)?,
            degrees_of_freedom: non_negative("degrees_of_freedom", degrees_of_freedom)?,
            battery_capacity_wh: non_negative("battery_capacity_wh", battery_capacity_wh)?,
            autonomy_level,
        },
        key_components,
        approval: Approval::Pending,
        created_at: now,
        approved_at: None,
    };
    model.validate().map_err(|e| invalid("product_model", e))?;
    Ok(model)
}

pub fn approval_to_wire(approval: Approval) -> pb::ApprovalState {
    match approval {
        Approval::Pending => pb::ApprovalState::Pending,
        Approval::Approved => pb::ApprovalState::Approved,
    }
}

/// A list filter: unspecified means every state.
pub fn approval_filter_from_wire(field: &str, value: i32) -> Result<Option<Approval>, ApiError> {
    match pb::ApprovalState::try_from(value) {
        Ok(pb::ApprovalState::Unspecified) => Ok(None),
        Ok(pb::ApprovalState::Pending) => Ok(Some(Approval::Pending)),
        Ok(pb::ApprovalState::Approved) => Ok(Some(Approval::Approved)),
        Err(_) => Err(ApiError::invalid_argument(field, "unknown approval state")),
    }
}

pub fn model_to_wire(model: &ProductModel) -> pb::ProductModel {
    let specifications = &model.specifications;
    // Specifications are validated into u32 from non-negative i32 values.
    let wire_count = |value: u32| i32::try_from(value).unwrap_or(i32::MAX);
    pb::ProductModel {
        name: model.name(),
        manufacturer_code: model.manufacturer.as_str().to_owned(),
        model_code: model.model.as_str().to_owned(),
        display_name: model.display_name.clone(),
        category: model.category.clone(),
        specifications: Some(pb::Specifications {
            height_mm: wire_count(specifications.height_mm),
            mass_g: wire_count(specifications.mass_g),
            degrees_of_freedom: wire_count(specifications.degrees_of_freedom),
            battery_capacity_wh: wire_count(specifications.battery_capacity_wh),
            autonomy_level: specifications.autonomy_level.clone(),
        }),
        key_components: model.key_components.clone(),
        approval_state: approval_to_wire(model.approval).into(),
        create_time: Some(timestamp_to_wire(model.created_at)),
        approve_time: model.approved_at.map(timestamp_to_wire),
    }
}

pub fn issued_to_wire(robot: &IssuedRobot) -> pb::IssuedRobot {
    pb::IssuedRobot {
        robot_id: robot.robot_id.as_str().to_owned(),
        credential: robot.credential.clone(),
    }
}
