-- The regulator who added each trusted key, and who revoked it.
ALTER TABLE trusted_registries ADD COLUMN added_by TEXT NOT NULL DEFAULT '';
ALTER TABLE trusted_registries ADD COLUMN revoked_by TEXT;
