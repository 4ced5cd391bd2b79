-- Every full read and every write: append-only, in 16 hash chains (shards)
-- so that calls on different robots do not queue behind one chain head.
CREATE TABLE access_log (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    shard         BIGINT NOT NULL,
    sequence      BIGINT NOT NULL,
    at            BIGINT NOT NULL,
    caller        TEXT NOT NULL,
    action        TEXT NOT NULL,
    robot_id      TEXT,
    outcome       TEXT NOT NULL,
    previous_hash BYTEA NOT NULL,
    hash          BYTEA NOT NULL,
    UNIQUE (shard, sequence)
);

CREATE INDEX access_log_by_robot ON access_log (robot_id, id);

-- The newest entry of each chain, so that deleting it shows.
CREATE TABLE access_log_heads (
    shard    BIGINT PRIMARY KEY,
    sequence BIGINT NOT NULL,
    hash     BYTEA NOT NULL
);

INSERT INTO access_log_heads (shard, sequence, hash) VALUES
    (0, 0, decode(repeat('00', 32), 'hex')),
    (1, 0, decode(repeat('00', 32), 'hex')),
    (2, 0, decode(repeat('00', 32), 'hex')),
    (3, 0, decode(repeat('00', 32), 'hex')),
    (4, 0, decode(repeat('00', 32), 'hex')),
    (5, 0, decode(repeat('00', 32), 'hex')),
    (6, 0, decode(repeat('00', 32), 'hex')),
    (7, 0, decode(repeat('00', 32), 'hex')),
    (8, 0, decode(repeat('00', 32), 'hex')),
    (9, 0, decode(repeat('00', 32), 'hex')),
    (10, 0, decode(repeat('00', 32), 'hex')),
    (11, 0, decode(repeat('00', 32), 'hex')),
    (12, 0, decode(repeat('00', 32), 'hex')),
    (13, 0, decode(repeat('00', 32), 'hex')),
    (14, 0, decode(repeat('00', 32), 'hex')),
    (15, 0, decode(repeat('00', 32), 'hex'));
