-- The event log: each decided command's type and receipt time (the api's clock) beside its
-- outcome, so recent commands can be listed and filtered. Rows decided before this migration
-- have neither (a replay fills them: they are not compared, since the live rows cannot be).
ALTER TABLE {schema}.command_outcomes ADD COLUMN IF NOT EXISTS received_at timestamptz;
ALTER TABLE {schema}.command_outcomes ADD COLUMN IF NOT EXISTS type text;
CREATE INDEX IF NOT EXISTS command_outcomes_log
    ON {schema}.command_outcomes (tenant, received_at DESC, command_id);
