-- metric_totals.updated depended on batch boundaries (the profile's time at the end of a batch),
-- so a replay could not reproduce it; nothing reads it.
ALTER TABLE {schema}.metric_totals DROP COLUMN IF EXISTS updated;
