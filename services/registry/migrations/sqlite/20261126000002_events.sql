-- The append-only history: one row per event, each hashed over its content
-- and the previous event's hash.
CREATE TABLE events (
    robot_id         TEXT NOT NULL,
    sequence         BIGINT NOT NULL,
    kind             TEXT NOT NULL,
    holder_kind      TEXT,
    holder           TEXT,
    country          TEXT,
    recall           TEXT,
    note             TEXT,
    component        TEXT,
    firmware_version TEXT,
    reference        TEXT,
    occurred_at      BIGINT NOT NULL,
    recorded_at      BIGINT NOT NULL,
    actor            TEXT NOT NULL,
    status_after     TEXT NOT NULL,
    previous_hash    BLOB NOT NULL,
    hash             BLOB NOT NULL,
    PRIMARY KEY (robot_id, sequence)
);
