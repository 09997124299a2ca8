-- leaderboard.changed is sent at most once per group every 15 minutes: when each group's was
-- last sent, and until when a change inside that window waits. Outside the projection schemas
-- (a replay keeps the windows), written by the ranker in the transaction that announces.
CREATE TABLE laurel.leaderboard_change_windows (
    tenant        text        NOT NULL,
    board_id      uuid        NOT NULL,
    run           date        NOT NULL,
    grp           text        NOT NULL,
    sent          timestamptz,
    waiting_until timestamptz,
    PRIMARY KEY (tenant, board_id, run, grp)
);
