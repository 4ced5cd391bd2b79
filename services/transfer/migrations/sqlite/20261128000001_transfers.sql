-- Shipments and their clearance. seq orders them for listing (newest
-- first); id is derived from the clearance request's request_id, so a retry
-- after a partial failure names the same transfer.
CREATE TABLE transfers (
    seq                 INTEGER PRIMARY KEY AUTOINCREMENT,
    id                  TEXT NOT NULL UNIQUE,
    direction           TEXT NOT NULL,
    state               TEXT NOT NULL,
    origin_country      TEXT NOT NULL,
    destination_country TEXT NOT NULL,
    declarant           TEXT NOT NULL,
    customs_office      TEXT NOT NULL,
    allow_partial       BIGINT NOT NULL,
    clearance           BLOB,
    created_at          BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL
);

CREATE INDEX transfers_by_state ON transfers (state, seq);
CREATE INDEX transfers_by_office ON transfers (customs_office, seq);
