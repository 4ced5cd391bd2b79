-- Mutual recognition (see src/witness/): the trusted peers, what this
-- registry's witness cosigned of their logs, the forks it caught, and what
-- their witnesses cosigned of this registry's log.

-- One peer per country, as the transfer service's trust list sets it.
-- `revoked_at` set: no longer witnessed, no checkpoint sent to it.
CREATE TABLE peers (
    country     TEXT PRIMARY KEY,
    log_origin  TEXT NOT NULL,
    log_key     TEXT NOT NULL,
    witness_key TEXT NOT NULL,
    web_url     TEXT NOT NULL,
    revoked_at  BIGINT,
    updated_at  BIGINT NOT NULL,
    updated_by  TEXT NOT NULL
);

-- The newest checkpoint this witness cosigned of each peer log: only ever
-- replaced by one that extends it (c2sp.org/tlog-witness).
CREATE TABLE witness_heads (
    origin     TEXT PRIMARY KEY,
    size       BIGINT NOT NULL,
    root       BLOB NOT NULL,
    updated_at BIGINT NOT NULL
);

-- Refused checkpoints that the peer's log key signed: evidence of a fork.
CREATE TABLE witness_forks (
    origin        TEXT NOT NULL,
    size          BIGINT NOT NULL,
    root          BLOB NOT NULL,
    kind          TEXT NOT NULL,
    cosigned_size BIGINT NOT NULL,
    cosigned_root BLOB NOT NULL,
    request       BLOB NOT NULL,
    received_at   BIGINT NOT NULL,
    PRIMARY KEY (origin, size, root)
);

-- The peers' cosignatures of this registry's checkpoints, by size.
CREATE TABLE log_cosignatures (
    size      BIGINT NOT NULL,
    witness   TEXT NOT NULL,
    signature TEXT NOT NULL,
    PRIMARY KEY (size, witness)
);

-- How far each peer's witness has cosigned this registry's log: the old
-- size of the next add-checkpoint sent to it.
CREATE TABLE peer_witnessed (
    country TEXT PRIMARY KEY,
    size    BIGINT NOT NULL
);
