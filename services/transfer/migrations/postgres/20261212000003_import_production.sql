-- For a foreign robot cleared for import: its production date and factory
-- as the origin's clearance states them, registered with it on arrival.
ALTER TABLE transfer_robots ADD COLUMN produced_at BIGINT;
ALTER TABLE transfer_robots ADD COLUMN factory TEXT;
