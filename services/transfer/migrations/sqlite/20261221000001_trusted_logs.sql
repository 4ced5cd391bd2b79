-- Each trusted registry's transparency log, which imports from it are
-- checked against: empty texts for an entry that recognises credentials
-- only.
ALTER TABLE trusted_registries ADD COLUMN log_origin TEXT NOT NULL DEFAULT '';
ALTER TABLE trusted_registries ADD COLUMN log_key TEXT NOT NULL DEFAULT '';
ALTER TABLE trusted_registries ADD COLUMN witness_key TEXT NOT NULL DEFAULT '';
ALTER TABLE trusted_registries ADD COLUMN web_url TEXT NOT NULL DEFAULT '';
ALTER TABLE trusted_registries ADD COLUMN import_policy TEXT NOT NULL DEFAULT '';
ALTER TABLE trusted_registries ADD COLUMN registry_url TEXT NOT NULL DEFAULT '';
