-- Achievements completed and points, per user: the state the rules fold (user_points.state)
-- and the rows queries read (completions, totals, awards, daily changes).
CREATE TABLE {schema}.user_achievements (
    tenant          text        NOT NULL,
    user_id         text        NOT NULL,
    achievement_id  uuid        NOT NULL,
    achieved_at     timestamptz NOT NULL,
    backdated       boolean     NOT NULL,
    command_id      uuid        NOT NULL,
    PRIMARY KEY (tenant, user_id, achievement_id)
);
CREATE INDEX user_achievements_achievement ON {schema}.user_achievements (tenant, achievement_id);

CREATE TABLE {schema}.user_points (
    tenant      text        NOT NULL,
    user_id     text        NOT NULL,
    state       jsonb       NOT NULL,
    PRIMARY KEY (tenant, user_id)
);

CREATE TABLE {schema}.points_totals (
    tenant      text    NOT NULL,
    user_id     text    NOT NULL,
    system_id   uuid    NOT NULL,
    total       bigint  NOT NULL,
    level_id    uuid,
    PRIMARY KEY (tenant, system_id, user_id)
);

CREATE TABLE {schema}.points_awards (
    tenant      text        NOT NULL,
    id          uuid        NOT NULL,
    user_id     text        NOT NULL,
    system_id   uuid        NOT NULL,
    command_id  uuid        NOT NULL,
    awarded     bigint      NOT NULL,
    total       bigint      NOT NULL,
    awarded_at  timestamptz NOT NULL,
    body        jsonb       NOT NULL,
    PRIMARY KEY (tenant, id)
);
CREATE INDEX points_awards_user ON {schema}.points_awards (tenant, user_id, system_id, awarded_at);

CREATE TABLE {schema}.points_daily (
    tenant      text    NOT NULL,
    user_id     text    NOT NULL,
    system_id   uuid    NOT NULL,
    day         date    NOT NULL,
    change      bigint  NOT NULL,
    PRIMARY KEY (tenant, user_id, system_id, day)
);
