-- Issued robots not yet acknowledged by the registry, written in the
-- transaction that issued them and deleted in the one that records the
-- registry's acknowledgement.
-- AUTOINCREMENT: an id is never used again after its row is deleted, so
-- ids keep naming one row for good.
CREATE TABLE outbox (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    robot_id   TEXT NOT NULL REFERENCES issued_robots (robot_id),
    batch_id   BIGINT NOT NULL REFERENCES batches (id),
    created_at BIGINT NOT NULL
);
