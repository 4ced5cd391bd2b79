-- Every robot the registry knows, with its current state. The history is in
-- events; event_count and head_hash pin its newest entry so that a deleted
-- or truncated history shows.
CREATE TABLE robots (
    robot_id          TEXT PRIMARY KEY,
    manufacturer_code TEXT NOT NULL,
    model_code        TEXT NOT NULL,
    manufacturer_name TEXT NOT NULL,
    model_name        TEXT NOT NULL,
    produced_at       BIGINT,
    factory           TEXT,
    status            TEXT NOT NULL,
    recalled          BIGINT NOT NULL,
    stolen            BIGINT NOT NULL,
    jurisdiction      TEXT NOT NULL,
    holder_kind       TEXT,
    holder            TEXT,
    open_recall       TEXT,
    origin_country    TEXT,
    event_count       BIGINT NOT NULL,
    head_hash         BLOB NOT NULL,
    registered_at     BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL
);

CREATE INDEX robots_by_model ON robots (manufacturer_code, model_code);
