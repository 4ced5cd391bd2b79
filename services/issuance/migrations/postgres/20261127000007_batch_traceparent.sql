-- The W3C trace context of the IssueRobotIds call that issued the batch, so
-- that its delivery to the registry, made later by the outbox relay, joins
-- the same trace. Operational data only: no caller or holder data.
ALTER TABLE batches ADD COLUMN traceparent TEXT;
