-- Mutating calls by request_id, so that a retry answers what the first call
-- did instead of doing it again. fingerprint is a hash of the request, to
-- refuse the same id reused for a different request.
CREATE TABLE requests (
    request_id  TEXT PRIMARY KEY,
    method      TEXT NOT NULL,
    fingerprint BYTEA NOT NULL,
    result      TEXT,
    created_at  BIGINT NOT NULL
);
