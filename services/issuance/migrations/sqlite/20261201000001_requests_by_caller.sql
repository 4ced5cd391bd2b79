-- A request id belongs to its caller: the key becomes (caller, method,
-- request_id), so that another caller's id neither replays this caller's
-- answer nor blocks its call. SQLite cannot change a primary key in place:
-- the table is rebuilt. Rows from before have no recorded caller; they keep
-- an empty one, which no caller has, and are answered to nobody again.
CREATE TABLE requests_by_caller (
    caller      TEXT NOT NULL,
    method      TEXT NOT NULL,
    request_id  TEXT NOT NULL,
    fingerprint BLOB NOT NULL,
    result      TEXT,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (caller, method, request_id)
);
INSERT INTO requests_by_caller (caller, method, request_id, fingerprint, result, created_at)
    SELECT '', method, request_id, fingerprint, result, created_at FROM requests;
DROP TABLE requests;
ALTER TABLE requests_by_caller RENAME TO requests;
