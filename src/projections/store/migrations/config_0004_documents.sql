-- Achievements and points systems, triggers, levels and boosts: versioned documents in the
-- admin API's JSON shape. ``scope`` is the points system a trigger, level or boost belongs to.
CREATE TABLE laurel.documents (
    tenant      text        NOT NULL,
    kind        text        NOT NULL,
    id          uuid        NOT NULL,
    scope       text        NOT NULL DEFAULT '',
    key         text,
    body        jsonb       NOT NULL,
    created     timestamptz NOT NULL,
    valid_from  timestamptz NOT NULL,
    valid_to    timestamptz,
    PRIMARY KEY (tenant, kind, id, valid_from)
);
CREATE UNIQUE INDEX documents_current ON laurel.documents (tenant, kind, id)
    WHERE valid_to IS NULL;
CREATE UNIQUE INDEX documents_current_key ON laurel.documents (tenant, kind, scope, key)
    WHERE valid_to IS NULL AND key IS NOT NULL;

-- Backdating runs: when an achievement becomes active (or an active one changes), every
-- existing user gets a command that completes it if they already qualify. ``queued`` counts
-- the users whose command is on the topic.
CREATE TABLE laurel.backdates (
    tenant          text        NOT NULL,
    achievement_id  uuid        NOT NULL,
    version         timestamptz NOT NULL,
    queued          integer     NOT NULL DEFAULT 0,
    finished        timestamptz,
    PRIMARY KEY (tenant, achievement_id, version)
);
