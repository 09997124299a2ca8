-- Configuration: never derived from the log. Rows are versions with an effective interval
-- [valid_from, valid_to); the current version has valid_to NULL.
CREATE TABLE laurel.metrics (
    tenant      text        NOT NULL,
    id          uuid        NOT NULL,
    key         text        NOT NULL,
    name        text        NOT NULL,
    unit_type   text        NOT NULL DEFAULT 'number',
    units       text,
    created     timestamptz NOT NULL,
    valid_from  timestamptz NOT NULL,
    valid_to    timestamptz,
    PRIMARY KEY (tenant, id, valid_from)
);
CREATE UNIQUE INDEX metrics_current_key ON laurel.metrics (tenant, key) WHERE valid_to IS NULL;
CREATE UNIQUE INDEX metrics_current_id ON laurel.metrics (tenant, id) WHERE valid_to IS NULL;

CREATE TABLE laurel.attributes (
    tenant      text        NOT NULL,
    id          uuid        NOT NULL,
    key         text        NOT NULL,
    name        text        NOT NULL,
    type        text        NOT NULL CHECK (type IN ('user', 'event')),
    created     timestamptz NOT NULL,
    valid_from  timestamptz NOT NULL,
    valid_to    timestamptz,
    PRIMARY KEY (tenant, id, valid_from)
);
CREATE UNIQUE INDEX attributes_current_key ON laurel.attributes (tenant, type, key)
    WHERE valid_to IS NULL;
CREATE UNIQUE INDEX attributes_current_id ON laurel.attributes (tenant, id) WHERE valid_to IS NULL;

-- Which projection schema serves reads and receives the processor's writes.
CREATE TABLE laurel.active_projection (
    singleton   boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    schema_name text    NOT NULL,
    switched    timestamptz NOT NULL DEFAULT now()
);
