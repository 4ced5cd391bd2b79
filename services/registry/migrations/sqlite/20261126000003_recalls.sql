-- Recalls of a product model, or of listed robots of it.
CREATE TABLE recalls (
    id                   INTEGER PRIMARY KEY AUTOINCREMENT,
    manufacturer_code    TEXT NOT NULL,
    model_code           TEXT NOT NULL,
    robot_ids            TEXT NOT NULL,
    reason               TEXT NOT NULL,
    affected_robot_count BIGINT NOT NULL,
    created_at           BIGINT NOT NULL
);
