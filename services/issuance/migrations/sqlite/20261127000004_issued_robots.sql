-- Every code ever issued, with its signed credential. The primary key is
-- the last guard against a serial handed out twice.
CREATE TABLE issued_robots (
    robot_id   TEXT PRIMARY KEY,
    batch_id   BIGINT NOT NULL REFERENCES batches (id),
    sequence   BIGINT NOT NULL,
    credential BLOB NOT NULL
);

CREATE INDEX issued_robots_by_batch ON issued_robots (batch_id, sequence);
