-- Each robot's signed ID credential, served on the public card, and for an
-- imported robot the foreign key that verified it (published at /keys).
CREATE TABLE robot_credentials (
    robot_id   TEXT PRIMARY KEY,
    credential BYTEA NOT NULL,
    public_key BYTEA
);
