-- One row per IssueRobotIds that issued: the model, the names the registry
-- is told (as they were at issue time, so a repeated delivery carries the
-- same data), production metadata and the issue time.
CREATE TABLE batches (
    id                BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    manufacturer_code TEXT NOT NULL,
    model_code        TEXT NOT NULL,
    manufacturer_name TEXT NOT NULL,
    model_name        TEXT NOT NULL,
    robot_count       BIGINT NOT NULL,
    produced_at       BIGINT,
    factory           TEXT,
    issued_at         BIGINT NOT NULL,
    actor             TEXT NOT NULL,
    FOREIGN KEY (manufacturer_code, model_code) REFERENCES product_models (manufacturer_code, model_code)
);
