-- Webhooks: endpoints (configured through the Admin API), the messages the processor decided
-- for them (written in its batch transaction, with ids derived from their cause) and one
-- delivery per message and endpoint (the webhooks process claims, sends and records them).
-- These live outside the projection schemas: a replay rebuilds projections, never deliveries.
CREATE TABLE laurel.webhook_endpoints (
    id                     uuid        PRIMARY KEY,
    tenant                 text        NOT NULL,
    url                    text        NOT NULL,
    events                 text[],     -- NULL: every type
    description            text,
    status                 text        NOT NULL CHECK (status IN ('active', 'disabled')),
    disabled_reason        text,
    secret                 text        NOT NULL,
    previous_secret        text,       -- keeps signing beside the new one until ...
    previous_secret_until  timestamptz,
    failing_since          timestamptz, -- first failure since the last success
    created                timestamptz NOT NULL,
    updated                timestamptz NOT NULL
);
CREATE INDEX webhook_endpoints_tenant ON laurel.webhook_endpoints (tenant) WHERE status = 'active';

CREATE TABLE laurel.webhook_messages (
    id        text        PRIMARY KEY,
    position  bigserial   NOT NULL UNIQUE, -- decision order (per user: one partition, in order)
    tenant    text        NOT NULL,
    user_id   text,
    type      text        NOT NULL,
    created   timestamptz NOT NULL,           -- when the command was received (the api's clock)
    stored    timestamptz NOT NULL DEFAULT now(), -- the database's clock: retention counts from it
    body      jsonb       NOT NULL
);
CREATE INDEX webhook_messages_tenant ON laurel.webhook_messages (tenant, created);
CREATE INDEX webhook_messages_stored ON laurel.webhook_messages (stored);

CREATE TABLE laurel.webhook_deliveries (
    endpoint_id   uuid        NOT NULL REFERENCES laurel.webhook_endpoints ON DELETE CASCADE,
    message_id    text        NOT NULL REFERENCES laurel.webhook_messages ON DELETE CASCADE,
    position      bigint      NOT NULL,
    user_id       text,       -- the ordering key, with the endpoint
    state         text        NOT NULL DEFAULT 'pending'
                              CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts      integer     NOT NULL DEFAULT 0,
    next_attempt  timestamptz,
    leased_until  timestamptz, -- a webhooks process is sending it until then
    last_status   integer,
    last_error    text,
    latency_ms    double precision,
    created       timestamptz NOT NULL,
    finished      timestamptz,
    PRIMARY KEY (endpoint_id, message_id)
);
CREATE INDEX webhook_deliveries_due ON laurel.webhook_deliveries (next_attempt)
    WHERE state = 'pending';
CREATE INDEX webhook_deliveries_order ON laurel.webhook_deliveries (endpoint_id, user_id, position)
    WHERE state = 'pending';
CREATE INDEX webhook_deliveries_log ON laurel.webhook_deliveries (endpoint_id, created DESC);
