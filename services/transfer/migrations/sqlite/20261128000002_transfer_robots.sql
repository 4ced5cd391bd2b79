-- The decision on each robot of a shipment, in the order declared. For a
-- cleared import, how it enters the registry on arrival: REGISTER (a
-- foreign robot new here, with the status and names its origin stated) or
-- RETURN (a robot the registry knows, abroad until now).
CREATE TABLE transfer_robots (
    transfer_id       TEXT NOT NULL,
    position          BIGINT NOT NULL,
    robot_id          TEXT NOT NULL,
    refusal           TEXT,
    arrival           TEXT,
    status            TEXT,
    manufacturer_name TEXT,
    model_name        TEXT,
    PRIMARY KEY (transfer_id, position)
);
