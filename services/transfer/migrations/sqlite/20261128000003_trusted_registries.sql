-- Foreign registries' signing keys. A key id names one key and so one
-- country: credentials are looked up by it.
CREATE TABLE trusted_registries (
    country_code TEXT NOT NULL,
    key_id       TEXT NOT NULL UNIQUE,
    public_key   BLOB NOT NULL,
    not_before   BIGINT NOT NULL,
    not_after    BIGINT NOT NULL,
    revoked_at   BIGINT,
    created_at   BIGINT NOT NULL,
    PRIMARY KEY (country_code, key_id)
);
