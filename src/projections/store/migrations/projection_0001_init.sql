-- A projection schema: everything here is derived from the commands topic and can be rebuilt.
-- {schema} is replaced by the schema's (quoted) name.
CREATE TABLE {schema}.checkpoints (
    topic       text        NOT NULL,
    partition   integer     NOT NULL,
    last_offset bigint      NOT NULL,
    updated     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (topic, partition)
);

CREATE TABLE {schema}.users (
    tenant              text        NOT NULL,
    user_id             text        NOT NULL,
    name                text,
    email               text,
    tz                  text,
    device_tokens       jsonb,
    subscribe_to_emails boolean     NOT NULL DEFAULT true,
    attributes          jsonb       NOT NULL DEFAULT '{}',
    sign_up_date        date,
    created             timestamptz NOT NULL,
    updated             timestamptz NOT NULL,
    PRIMARY KEY (tenant, user_id)
);

CREATE TABLE {schema}.metric_totals (
    tenant      text             NOT NULL,
    user_id     text             NOT NULL,
    metric_id   uuid             NOT NULL,
    total       double precision NOT NULL,
    updated     timestamptz      NOT NULL,
    PRIMARY KEY (tenant, user_id, metric_id)
);

-- Per user, metric and local date (in the user's zone at the event's time): the day's change.
CREATE TABLE {schema}.metric_daily (
    tenant      text             NOT NULL,
    user_id     text             NOT NULL,
    metric_id   uuid             NOT NULL,
    day         date             NOT NULL,
    change      double precision NOT NULL,
    PRIMARY KEY (tenant, user_id, metric_id, day)
);

CREATE TABLE {schema}.idempotency_keys (
    tenant      text NOT NULL,
    user_id     text NOT NULL,
    metric_key  text NOT NULL,
    key         text NOT NULL,
    event_id    uuid NOT NULL,
    PRIMARY KEY (tenant, user_id, metric_key, key)
);

-- One row per command the processor has decided: the synchronous answer and the dedup record.
CREATE TABLE {schema}.command_outcomes (
    tenant      text        NOT NULL,
    command_id  uuid        NOT NULL,
    user_id     text        NOT NULL,
    status      text        NOT NULL,
    body        jsonb       NOT NULL,
    topic       text        NOT NULL,
    partition   integer     NOT NULL,
    "offset"    bigint      NOT NULL,
    recorded    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant, command_id)
);

CREATE TABLE {schema}.dead_letters (
    topic       text        NOT NULL,
    partition   integer     NOT NULL,
    "offset"    bigint      NOT NULL,
    reason      text        NOT NULL,
    key         bytea,
    value       bytea,
    recorded    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (topic, partition, "offset")
);
