-- Who asked for each transfer (the authenticated caller, e.g.
-- robotid://customs/CN-SHA) and who made its last change (confirmed,
-- withdrew, or the service itself for an expiry).
ALTER TABLE transfers ADD COLUMN requested_by TEXT NOT NULL DEFAULT '';
ALTER TABLE transfers ADD COLUMN updated_by TEXT NOT NULL DEFAULT '';
