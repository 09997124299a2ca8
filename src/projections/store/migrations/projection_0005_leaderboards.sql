-- Leaderboards: what each user holds on each board in each run (folded by the processor), and
-- the value at the end of each of the participant's local days (their history).
--
-- ``written`` is the transaction that last wrote an entry: rankings kept in memory follow the
-- table by reading the entries written since the oldest transaction still running at their
-- previous read (projections/store/rankings.py), so they never miss a commit.
CREATE TABLE {schema}.leaderboard_entries (
    tenant          text        NOT NULL,
    leaderboard_id  uuid        NOT NULL,
    run             date        NOT NULL,
    user_id         text        NOT NULL,
    grp             text,
    value           float8      NOT NULL,
    reached_at      timestamptz NOT NULL,
    written         xid8        NOT NULL DEFAULT pg_current_xact_id(),
    PRIMARY KEY (tenant, leaderboard_id, run, user_id)
);
CREATE INDEX leaderboard_entries_user
    ON {schema}.leaderboard_entries (tenant, user_id, leaderboard_id, run DESC);
CREATE INDEX leaderboard_entries_written ON {schema}.leaderboard_entries (written);

CREATE TABLE {schema}.leaderboard_days (
    tenant          text    NOT NULL,
    leaderboard_id  uuid    NOT NULL,
    user_id         text    NOT NULL,
    run             date    NOT NULL,
    day             date    NOT NULL,
    value           float8  NOT NULL,
    PRIMARY KEY (tenant, leaderboard_id, user_id, run, day)
);
