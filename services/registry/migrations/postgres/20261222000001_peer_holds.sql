-- Holds that cross borders (src/holds/): where each peer's registry
-- answers, which recall of a peer each received recall is, and the
-- outbox of holds to deliver to the peers.

ALTER TABLE peers ADD COLUMN grpc_url TEXT NOT NULL DEFAULT '';

-- A recall opened here for a peer's (`registries/{CC}/recalls/{id}`):
-- one per peer recall, however many of its robots are here.
ALTER TABLE recalls ADD COLUMN origin_name TEXT;
CREATE UNIQUE INDEX recalls_by_origin_name ON recalls (origin_name);

-- One row per hold event and peer, written in the event's transaction;
-- the event itself (its details, salt and log index) is read from
-- `events` at delivery. Delivered rows are kept as the record of what
-- each peer answered.
CREATE TABLE peer_outbox (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    country         TEXT NOT NULL,
    robot_id        TEXT NOT NULL,
    sequence        BIGINT NOT NULL,
    -- For a recall: its name where it was opened.
    origin_recall   TEXT,
    created_at      BIGINT NOT NULL,
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    delivered_at    BIGINT,
    -- `OK`, or the peer's refusal (code and reason).
    outcome         TEXT
);
-- What waits, by peer and robot (each robot's oldest goes first).
CREATE INDEX peer_outbox_pending ON peer_outbox (country, robot_id, id) WHERE delivered_at IS NULL;

-- Clone alarms: a code active where it cannot be (a peer's hold on a
-- robot recycled here, or on one at home here), raised by this registry
-- or reported back by the peer that raised it. One per hold and peer.
CREATE TABLE clone_alarms (
    robot_id    TEXT NOT NULL,
    peer        TEXT NOT NULL,
    hold_id     TEXT NOT NULL,
    -- The country whose registry found it: this one's, or the peer's
    -- (which refused the hold and said why).
    raised_by   TEXT NOT NULL,
    reason      TEXT NOT NULL,
    detected_at BIGINT NOT NULL,
    PRIMARY KEY (robot_id, peer, hold_id)
);
