-- Which country's codes a recall is of (a regulator may recall imported
-- robots), how many robots it skipped as past their end of life, and how
-- many it listed. A recall of a whole model made before this records no
-- country: the registry gives it its own at start.
ALTER TABLE recalls ADD COLUMN country_code TEXT NOT NULL DEFAULT '';
ALTER TABLE recalls ADD COLUMN skipped_robot_count BIGINT NOT NULL DEFAULT 0;
ALTER TABLE recalls ADD COLUMN listed_robot_count BIGINT NOT NULL DEFAULT 0;
UPDATE recalls SET country_code = substr(robot_ids, 1, 2), listed_robot_count = (length(robot_ids) + 1) / 30
    WHERE robot_ids <> '';
