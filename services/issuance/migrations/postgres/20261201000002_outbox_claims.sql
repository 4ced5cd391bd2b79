-- Several issuance replicas relay one outbox. A relay claims the rows it is
-- about to send: claimed_by names the relay, claimed_until (microseconds
-- since the epoch) is when its claim lapses, so that the rows of a relay
-- that died mid-delivery are taken over by another. Unclaimed rows have
-- both NULL.
ALTER TABLE outbox ADD COLUMN claimed_by TEXT;
ALTER TABLE outbox ADD COLUMN claimed_until BIGINT;
