-- Where participants stand, as the ranker observes it after entries change. Ranks depend on how
-- far every partition has got, so they are observations, not a fold of the log: replay does
-- not compare these tables (or leaderboard_days.rank); the ranker fills them again by observing
-- the rebuilt entries.
ALTER TABLE {schema}.leaderboard_days ADD COLUMN rank integer;

-- The latest rank observed for each entry (NULL: below the participant limit, or no group).
CREATE TABLE {schema}.leaderboard_ranks (
    tenant          text        NOT NULL,
    leaderboard_id  uuid        NOT NULL,
    run             date        NOT NULL,
    user_id         text        NOT NULL,
    rank            integer,
    value           float8      NOT NULL,
    observed        timestamptz NOT NULL,
    PRIMARY KEY (tenant, leaderboard_id, run, user_id)
);

-- Outcomes for webhooks (leaderboard.rank_changed): a participant's rank moved.
CREATE TABLE {schema}.leaderboard_rank_changes (
    id              bigserial   PRIMARY KEY,
    tenant          text        NOT NULL,
    leaderboard_id  uuid        NOT NULL,
    run             date        NOT NULL,
    user_id         text        NOT NULL,
    previous_rank   integer,
    rank            integer,
    previous_value  float8,
    value           float8      NOT NULL,
    observed        timestamptz NOT NULL
);
CREATE INDEX leaderboard_rank_changes_user
    ON {schema}.leaderboard_rank_changes (tenant, user_id, leaderboard_id, observed);

-- Runs that have entries, and when each was finalised; the results (leaderboard.finished):
-- the top 10 of each breakdown group once the run is over everywhere.
CREATE TABLE {schema}.leaderboard_runs (
    tenant          text        NOT NULL,
    leaderboard_id  uuid        NOT NULL,
    run             date        NOT NULL,
    finalised       timestamptz,
    PRIMARY KEY (tenant, leaderboard_id, run)
);
CREATE INDEX leaderboard_runs_open ON {schema}.leaderboard_runs (run) WHERE finalised IS NULL;

CREATE TABLE {schema}.leaderboard_results (
    tenant          text        NOT NULL,
    leaderboard_id  uuid        NOT NULL,
    run             date        NOT NULL,
    grp             text        NOT NULL,
    top             jsonb       NOT NULL,
    finalised       timestamptz NOT NULL,
    PRIMARY KEY (tenant, leaderboard_id, run, grp)
);

-- How far the ranker has observed the entries (the oldest transaction running at its last
-- read), committed with its observations.
CREATE TABLE {schema}.ranker_position (
    only_row    boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    written     xid8    NOT NULL
);
