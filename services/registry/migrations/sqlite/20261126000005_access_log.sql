-- Every full read and every write: append-only, in 16 hash chains (shards)
-- so that calls on different robots do not queue behind one chain head.
CREATE TABLE access_log (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    shard         BIGINT NOT NULL,
    sequence      BIGINT NOT NULL,
    at            BIGINT NOT NULL,
    caller        TEXT NOT NULL,
    action        TEXT NOT NULL,
    robot_id      TEXT,
    outcome       TEXT NOT NULL,
    previous_hash BLOB NOT NULL,
    hash          BLOB NOT NULL,
    UNIQUE (shard, sequence)
);

CREATE INDEX access_log_by_robot ON access_log (robot_id, id);

-- The newest entry of each chain, so that deleting it shows.
CREATE TABLE access_log_heads (
    shard    BIGINT PRIMARY KEY,
    sequence BIGINT NOT NULL,
    hash     BLOB NOT NULL
);

INSERT INTO access_log_heads (shard, sequence, hash) VALUES
    (0, 0, zeroblob(32)),
    (1, 0, zeroblob(32)),
    (2, 0, zeroblob(32)),
    (3, 0, zeroblob(32)),
    (4, 0, zeroblob(32)),
    (5, 0, zeroblob(32)),
    (6, 0, zeroblob(32)),
    (7, 0, zeroblob(32)),
    (8, 0, zeroblob(32)),
    (9, 0, zeroblob(32)),
    (10, 0, zeroblob(32)),
    (11, 0, zeroblob(32)),
    (12, 0, zeroblob(32)),
    (13, 0, zeroblob(32)),
    (14, 0, zeroblob(32)),
    (15, 0, zeroblob(32));
