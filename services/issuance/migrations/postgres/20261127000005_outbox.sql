-- Issued robots not yet acknowledged by the registry, written in the
-- transaction that issued them and deleted in the one that records the
-- registry's acknowledgement.
-- Identity values are never used again, so ids keep naming one row for
-- good.
CREATE TABLE outbox (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    robot_id   TEXT NOT NULL REFERENCES issued_robots (robot_id),
    batch_id   BIGINT NOT NULL REFERENCES batches (id),
    created_at BIGINT NOT NULL
);
