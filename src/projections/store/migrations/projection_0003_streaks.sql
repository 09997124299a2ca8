-- Streaks: each user's state (the core's Streak as JSON, plus the columns queries need),
-- the closed periods (history), pauses, and the outbox of transitions for webhooks.
ALTER TABLE {schema}.users ADD COLUMN preferences jsonb NOT NULL DEFAULT '{}';

CREATE TABLE {schema}.streaks (
    tenant      text        NOT NULL,
    user_id     text        NOT NULL,
    length      integer     NOT NULL,
    extended_at timestamptz,
    next_due    timestamptz,
    state       jsonb       NOT NULL,
    PRIMARY KEY (tenant, user_id)
);
-- The scheduler's queue: users with a period end or a freeze due.
CREATE INDEX streaks_next_due ON {schema}.streaks (next_due) WHERE next_due IS NOT NULL;

CREATE TABLE {schema}.streak_periods (
    tenant       text    NOT NULL,
    user_id      text    NOT NULL,
    frequency    text    NOT NULL,
    period_start date    NOT NULL,
    period_end   date    NOT NULL,
    length       integer NOT NULL,
    used_freeze  boolean NOT NULL,
    used_pause   boolean NOT NULL,
    reset_at     timestamptz,
    PRIMARY KEY (tenant, user_id, frequency, period_start)
);

CREATE TABLE {schema}.streak_pauses (
    tenant      text NOT NULL,
    id          uuid NOT NULL,
    user_id     text NOT NULL,
    start_date  date NOT NULL,
    end_date    date NOT NULL,
    status      text NOT NULL CHECK (status IN ('active', 'archived')),
    PRIMARY KEY (tenant, id)
);
CREATE INDEX streak_pauses_user ON {schema}.streak_pauses (tenant, user_id);

-- Transitions decided by each command (streak started, extended, lost, freezes), in order:
-- what webhooks will deliver. Written in the same transaction as the state they describe.
CREATE TABLE {schema}.outbox (
    tenant      text        NOT NULL,
    command_id  uuid        NOT NULL,
    seq         integer     NOT NULL,
    user_id     text        NOT NULL,
    kind        text        NOT NULL,
    occurred    timestamptz NOT NULL,
    body        jsonb       NOT NULL,
    PRIMARY KEY (tenant, command_id, seq)
);
