-- Product models of each manufacturer and their approval. next_sequence is
-- the model's serial counter: the next sequence number to try, moved once
-- per issued batch in the transaction that records the batch.
-- key_components are newline-separated (components hold no control
-- characters).
CREATE TABLE product_models (
    manufacturer_code   TEXT NOT NULL REFERENCES manufacturers (code),
    model_code          TEXT NOT NULL,
    display_name        TEXT NOT NULL,
    category            TEXT NOT NULL,
    height_mm           BIGINT NOT NULL,
    mass_g              BIGINT NOT NULL,
    degrees_of_freedom  BIGINT NOT NULL,
    battery_capacity_wh BIGINT NOT NULL,
    autonomy_level      TEXT NOT NULL,
    key_components      TEXT NOT NULL,
    approval            TEXT NOT NULL,
    created_at          BIGINT NOT NULL,
    approved_at         BIGINT,
    next_sequence       BIGINT NOT NULL,
    PRIMARY KEY (manufacturer_code, model_code)
);

CREATE INDEX product_models_by_approval ON product_models (approval, manufacturer_code, model_code);
