-- The transparency log (see src/log/mod.rs): one append-only Merkle tree
-- over every event (and the access log's heads), kept as its tiles.

-- The next leaf index. Taken (row-locked) by each transaction that appends
-- leaves, so leaves are numbered in commit order with no gaps. `anchored`
-- is the digest of the access-log heads last entered as a leaf.
CREATE TABLE log_sequence (
    id         BIGINT PRIMARY KEY,
    next_index BIGINT NOT NULL,
    anchored   BLOB
);
INSERT INTO log_sequence (id, next_index) VALUES (1, 0);

-- Every leaf's entry, by index; `robot_id` for event leaves (NULL for
-- access-log anchors), so that a robot's leaves are found without a scan.
CREATE TABLE log_entries (
    log_index BIGINT PRIMARY KEY,
    robot_id  TEXT,
    entry     BLOB NOT NULL
);
CREATE INDEX log_entries_by_robot ON log_entries (robot_id, log_index);

-- How much of the log the tiles hold: the tree of `size` leaves, whose
-- root is `root` (NULL while empty). Only grows.
CREATE TABLE log_tree (
    id   BIGINT PRIMARY KEY,
    size BIGINT NOT NULL,
    root BLOB
);
INSERT INTO log_tree (id, size) VALUES (1, 0);

-- Each tile at the widest it has reached (c2sp.org/tlog-tiles): narrower
-- versions are its prefixes.
CREATE TABLE log_tiles (
    level      BIGINT NOT NULL,
    tile_index BIGINT NOT NULL,
    data       BLOB NOT NULL,
    PRIMARY KEY (level, tile_index)
);

-- Every checkpoint signed, one per size: signed only after the tree of that
-- size is stored, so a size never gets two roots.
CREATE TABLE log_checkpoints (
    size      BIGINT PRIMARY KEY,
    note      BLOB NOT NULL,
    signed_at BIGINT NOT NULL
);

-- Where each event is in the log, and the salt of its details commitment.
ALTER TABLE events ADD COLUMN log_index BIGINT;
ALTER TABLE events ADD COLUMN log_salt BLOB;
