-- A batch is taken in two steps: its serial range is reserved (a short
-- transaction under the model's row lock), then its robots are signed and
-- written outside that lock. `first_sequence` is where the range starts, so
-- that a retry of a call cut off in between can finish the same robots;
-- `state` is RESERVED until the robots are written, then ISSUED.
ALTER TABLE batches ADD COLUMN first_sequence BIGINT;
ALTER TABLE batches ADD COLUMN state TEXT NOT NULL DEFAULT 'ISSUED';
