-- A request id belongs to its caller: the key becomes (caller, method,
-- request_id), so that another caller's id neither replays this caller's
-- answer nor blocks its call. Rows from before have no recorded caller;
-- they keep an empty one, which no caller has, and are answered to nobody
-- again.
ALTER TABLE requests ADD COLUMN caller TEXT NOT NULL DEFAULT '';
ALTER TABLE requests ALTER COLUMN caller DROP DEFAULT;
ALTER TABLE requests DROP CONSTRAINT requests_pkey;
ALTER TABLE requests ADD PRIMARY KEY (caller, method, request_id);
