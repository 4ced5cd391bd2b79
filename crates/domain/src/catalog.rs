//! What issuance keeps besides the codes it hands out: admitted
//! manufacturers, their product models and the models' approval, and the
//! rule that allocates a batch of serials.

use crate::code::{
    CountryCode, ManufacturerCode, ModelCode, RobotId, prefix_catches_every_adjacent_transposition,
};
use crate::time::Timestamp;

/// A manufacturing enterprise admitted by the regulator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manufacturer {
    pub code: ManufacturerCode,
    pub legal_name: String,
    pub registration_number: String,
    /// Where the enterprise is registered (ISO 3166-1 alpha-2).
    pub country: CountryCode,
    pub created_at: Timestamp,
}

/// Whether a product model may be issued identity codes: no code, no
/// market access.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Approval {
    Pending,
    Approved,
}

impl Approval {
    pub fn as_str(self) -> &'static str {
        match self {
            Approval::Pending => "PENDING",
            Approval::Approved => "APPROVED",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Approval::Pending, Approval::Approved]
            .into_iter()
            .find(|approval| approval.as_str() == text)
    }
}

/// Key specifications of a product model.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Specifications {
    pub height_mm: u32,
    pub mass_g: u32,
    pub degrees_of_freedom: u32,
    pub battery_capacity_wh: u32,
    /// Autonomy or capability level as the standard grades it, e.g. "L2".
    pub autonomy_level: String,
}

/// A robot type of one manufacturer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductModel {
    pub manufacturer: ManufacturerCode,
    pub model: ModelCode,
    pub display_name: String,
    pub category: String,
    pub specifications: Specifications,
    pub key_components: Vec<String>,
    pub approval: Approval,
    pub created_at: Timestamp,
    pub approved_at: Option<Timestamp>,
}

impl ProductModel {
    /// `manufacturers/{code}/productModels/{model}`.
    pub fn name(&self) -> String {
        model_name(&self.manufacturer, &self.model)
    }

    /// The model with market access granted at `now`; approving an approved
    /// model changes nothing, so a repeated approval is harmless.
    pub fn approve(mut self, now: Timestamp) -> Self {
        if self.approval == Approval::Pending {
            self.approval = Approval::Approved;
            self.approved_at = Some(now);
        }
        self
    }
}

/// `manufacturers/{code}`.
pub fn manufacturer_name(code: &ManufacturerCode) -> String {
    format!("manufacturers/{code}")
}

/// `manufacturers/{code}/productModels/{model}`.
pub fn model_name(manufacturer: &ManufacturerCode, model: &ModelCode) -> String {
    format!("manufacturers/{manufacturer}/productModels/{model}")
}

/// A field of a manufacturer or model that cannot be accepted, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {problem}")]
pub struct CatalogError {
    /// Path within the resource, e.g. `key_components[2]`.
    pub field: String,
    pub problem: String,
}

impl CatalogError {
    fn new(field: impl Into<String>, problem: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            problem: problem.into(),
        }
    }
}

/// Bounds on free-text fields, in characters.
pub const MAX_NAME: usize = 200;
pub const MAX_REGISTRATION_NUMBER: usize = 64;
pub const MAX_CATEGORY: usize = 64;
pub const MAX_AUTONOMY_LEVEL: usize = 32;
pub const MAX_KEY_COMPONENTS: usize = 100;

/// A name or label a person reads: an identifier of 1 to `max`
/// characters (see [`crate::text`]: no control or bidirectional
/// characters; they break logs, the stores' list encodings, and what a
/// reader sees).
pub fn check_text(field: &str, value: &str, max: usize) -> Result<(), CatalogError> {
    crate::text::identifier(value, max).map_err(|e| CatalogError::new(field, e.to_string()))
}

/// Refuses a manufacturer code under which some adjacent transposition of
/// the code's fixed start would go unnoticed: the check character could
/// not protect any robot of that manufacturer.
pub fn admissible_manufacturer(
    country: &CountryCode,
    manufacturer: &ManufacturerCode,
) -> Result<(), CatalogError> {
    if prefix_catches_every_adjacent_transposition(country, manufacturer, None) {
        Ok(())
    } else {
        Err(CatalogError::new(
            "code",
            format!(
                "{country}-{manufacturer} hides a swap of two neighbouring characters from the \
                 check character; choose another code"
            ),
        ))
    }
}

/// As [`admissible_manufacturer`], for a model code under its manufacturer.
pub fn admissible_model(
    country: &CountryCode,
    manufacturer: &ManufacturerCode,
    model: &ModelCode,
) -> Result<(), CatalogError> {
    if prefix_catches_every_adjacent_transposition(country, manufacturer, Some(model)) {
        Ok(())
    } else {
        Err(CatalogError::new(
            "model_code",
            format!(
                "{country}-{manufacturer}-{model} hides a swap of two neighbouring characters \
                 from the check character; choose another code"
            ),
        ))
    }
}

impl Specifications {
    pub fn validate(&self) -> Result<(), CatalogError> {
        check_text(
            "specifications.autonomy_level",
            &self.autonomy_level,
            MAX_AUTONOMY_LEVEL,
        )
    }
}

impl ProductModel {
    /// Checks the fields a manufacturer declares.
    pub fn validate(&self) -> Result<(), CatalogError> {
        check_text("display_name", &self.display_name, MAX_NAME)?;
        check_text("category", &self.category, MAX_CATEGORY)?;
        self.specifications.validate()?;
        if self.key_components.len() > MAX_KEY_COMPONENTS {
            return Err(CatalogError::new(
                "key_components",
                format!("at most {MAX_KEY_COMPONENTS}"),
            ));
        }
        for (i, component) in self.key_components.iter().enumerate() {
            check_text(&format!("key_components[{i}]"), component, MAX_NAME)?;
        }
        Ok(())
    }
}

impl Manufacturer {
    pub fn validate(&self) -> Result<(), CatalogError> {
        check_text("legal_name", &self.legal_name, MAX_NAME)?;
        check_text(
            "registration_number",
            &self.registration_number,
            MAX_REGISTRATION_NUMBER,
        )
    }
}

/// Robots per issuance: one batch is one transaction.
pub const MAX_BATCH: u32 = 10_000;

/// The codes of one batch and where the model's counter goes next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allocation {
    /// In sequence order, each with its sequence number.
    pub robots: Vec<(RobotId, u64)>,
    pub next_sequence: u64,
}

/// Allocates `count` codes of a model from its counter `next_sequence`,
/// skipping the sequence numbers whose serial would let a transposition
/// through (see [`RobotId::issue_from`]). Pure: the caller stores the new
/// counter in the transaction that records the codes, so a code is handed
/// out once or not at all.
pub fn allocate(
    country: &CountryCode,
    manufacturer: &ManufacturerCode,
    model: &ModelCode,
    next_sequence: u64,
    count: u32,
) -> Allocation {
    let mut robots = Vec::with_capacity(count as usize);
    let mut sequence = next_sequence;
    for _ in 0..count {
        let (id, next) = RobotId::issue_from(country, manufacturer, model, sequence);
        robots.push((id, next - 1));
        sequence = next;
    }
    Allocation {
        robots,
        next_sequence: sequence,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes() -> (CountryCode, ManufacturerCode, ModelCode) {
        (
            "CN".parse().unwrap(),
            "0001".parse().unwrap(),
            "HX0001".parse().unwrap(),
        )
    }

    #[test]
    fn consecutive_allocations_are_disjoint_and_verify() {
        let (country, manufacturer, model) = codes();
        let first = allocate(&country, &manufacturer, &model, 1, 700);
        let second = allocate(&country, &manufacturer, &model, first.next_sequence, 700);
        let mut all: Vec<_> = first.robots.iter().chain(&second.robots).collect();
        assert_eq!(all.len(), 1_400);
        for (id, sequence) in &all {
            assert_eq!(RobotId::parse_issued(id.as_str()).unwrap(), *id);
            assert_eq!(id.sequence(), Some(*sequence));
            assert!(id.catches_every_adjacent_transposition());
        }
        all.sort();
        all.dedup();
        assert_eq!(all.len(), 1_400);
        // ~1 in 630 serials is skipped, so 1,400 codes take a few more numbers.
        assert!(second.next_sequence > 1_401, "{}", second.next_sequence);
        assert!(second.next_sequence < 1_420, "{}", second.next_sequence);
    }

    #[test]
    fn approval_is_idempotent() {
        let (_, manufacturer, model) = codes();
        let pending = ProductModel {
            manufacturer,
            model,
            display_name: "SeeLight S1".into(),
            category: "household".into(),
            specifications: Specifications {
                autonomy_level: "L2".into(),
                ..Specifications::default()
            },
            key_components: vec!["joint actuator".into()],
            approval: Approval::Pending,
            created_at: Timestamp::from_micros(1),
            approved_at: None,
        };
        assert_eq!(pending.validate(), Ok(()));
        let approved = pending.approve(Timestamp::from_micros(2));
        assert_eq!(approved.approval, Approval::Approved);
        let again = approved.clone().approve(Timestamp::from_micros(3));
        assert_eq!(again, approved);
        assert_eq!(approved.name(), "manufacturers/0001/productModels/HX0001");
    }

    #[test]
    fn text_fields_are_bounded_and_printable() {
        assert!(check_text("f", "ok", 5).is_ok());
        assert_eq!(check_text("f", "  ", 5).unwrap_err().field, "f");
        assert!(check_text("f", "toolong", 5).is_err());
        assert!(check_text("f", "two\nlines", 50).is_err());
    }

    #[test]
    fn codes_that_hide_a_transposition_are_not_admitted() {
        const DIGITS: &[u8; 36] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
        let country: CountryCode = "CN".parse().unwrap();
        let (mut refused, mut admitted) = (0, 0);
        for n in 0..2_000_usize {
            let text: String = [n / 46_656, n / 1_296, n / 36, n]
                .iter()
                .map(|v| DIGITS[v % 36] as char)
                .collect();
            let code: ManufacturerCode = text.parse().unwrap();
            match admissible_manufacturer(&country, &code) {
                Ok(()) => admitted += 1,
                Err(error) => {
                    assert!(!prefix_catches_every_adjacent_transposition(
                        &country, &code, None
                    ));
                    assert_eq!(error.field, "code");
                    assert!(error.problem.contains("choose another code"));
                    refused += 1;
                }
            }
        }
        assert!(
            refused > 0 && admitted > refused,
            "{refused} refused, {admitted} admitted"
        );
    }
}
