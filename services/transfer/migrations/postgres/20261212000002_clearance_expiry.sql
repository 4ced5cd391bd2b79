-- When a cleared export's clearance lapses unless the shipment departed
-- (for an import: when the origin's clearance lapses), and the index the
-- expiry sweep reads.
ALTER TABLE transfers ADD COLUMN expires_at BIGINT;
CREATE INDEX transfers_by_expiry ON transfers (state, expires_at);
