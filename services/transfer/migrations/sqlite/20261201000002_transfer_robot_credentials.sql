-- A cleared import keeps the robot's verified ID credential and the trusted
-- key that verified it, for its registration on arrival: the registry
-- serves both on the robot's public card.
ALTER TABLE transfer_robots ADD COLUMN credential BLOB;
ALTER TABLE transfer_robots ADD COLUMN credential_key BLOB;
