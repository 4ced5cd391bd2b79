-- Manufacturers the regulator admitted, by the 4-character code it assigned.
CREATE TABLE manufacturers (
    code                TEXT PRIMARY KEY,
    legal_name          TEXT NOT NULL,
    registration_number TEXT NOT NULL,
    country_code        TEXT NOT NULL,
    created_at          BIGINT NOT NULL
);
