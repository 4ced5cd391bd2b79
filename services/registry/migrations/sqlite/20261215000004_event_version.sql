-- The canonical encoding each event is hashed with: every event stored
-- before this is version 1; the registry writes version 2, which commits to
-- the robot's standing after the event, and names it on every row.
ALTER TABLE events ADD COLUMN version BIGINT NOT NULL DEFAULT 1;
