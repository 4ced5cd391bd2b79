-- Who reported a robot stolen: only they (or the regulator) may report it
-- recovered.
ALTER TABLE robots ADD COLUMN stolen_by TEXT;
UPDATE robots SET stolen_by = (
    SELECT e.actor FROM events e
    WHERE e.robot_id = robots.robot_id AND e.kind = 'REPORTED_STOLEN'
    ORDER BY e.sequence DESC LIMIT 1
) WHERE stolen <> 0;
