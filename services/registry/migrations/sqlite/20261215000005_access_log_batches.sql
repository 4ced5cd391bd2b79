-- A call about several robots is one entry that commits to their codes
-- (count and digest); the codes are indexed beside it, one row each, so
-- that a listing by robot finds the entry.
ALTER TABLE access_log ADD COLUMN robot_count BIGINT NOT NULL DEFAULT 0;
ALTER TABLE access_log ADD COLUMN robots_digest BLOB;

CREATE TABLE access_log_robots (
    shard    BIGINT NOT NULL,
    sequence BIGINT NOT NULL,
    robot_id TEXT NOT NULL,
    PRIMARY KEY (shard, sequence, robot_id)
);

CREATE INDEX access_log_robots_by_robot ON access_log_robots (robot_id);
