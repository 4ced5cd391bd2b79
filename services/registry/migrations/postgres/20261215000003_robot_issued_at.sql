-- When a robot's first event happened: no later event may be dated before.
ALTER TABLE robots ADD COLUMN issued_at BIGINT NOT NULL DEFAULT 0;
UPDATE robots SET issued_at = COALESCE((
    SELECT e.occurred_at FROM events e WHERE e.robot_id = robots.robot_id AND e.sequence = 1
), registered_at);
