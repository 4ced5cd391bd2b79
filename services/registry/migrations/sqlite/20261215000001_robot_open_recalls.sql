-- Several recalls can be open on a robot at once: their names, oldest
-- first, comma-separated; `recalled` counts them.
ALTER TABLE robots ADD COLUMN open_recalls TEXT NOT NULL DEFAULT '';
UPDATE robots SET open_recalls = COALESCE(open_recall, '') WHERE recalled <> 0;
ALTER TABLE robots DROP COLUMN open_recall;
