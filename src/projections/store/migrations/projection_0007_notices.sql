-- Each user's pending lifecycle messages (the emails.*_due webhooks): the core's Notices as JSON.
ALTER TABLE {schema}.users ADD COLUMN IF NOT EXISTS notices jsonb NOT NULL DEFAULT '{}';
