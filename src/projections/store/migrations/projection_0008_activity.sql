-- Analytics rollups, kept by the processor in each batch's transaction (so an overview reads
-- O(days) rows, not O(users x days)), rebuilt and compared by a replay like every table.
-- Days are the users' local dates; weeks start on Monday; months on the 1st.

-- Which users were active (recorded a metric event) on which day, and when first.
CREATE TABLE {schema}.user_days (
    tenant   text NOT NULL,
    user_id  text NOT NULL,
    day      date NOT NULL,
    PRIMARY KEY (tenant, user_id, day)
);
CREATE TABLE {schema}.user_periods (
    tenant   text NOT NULL,
    user_id  text NOT NULL,
    unit     text NOT NULL CHECK (unit IN ('week', 'month')),
    start    date NOT NULL,
    PRIMARY KEY (tenant, user_id, unit, start)
);
CREATE TABLE {schema}.user_activity (
    tenant     text NOT NULL,
    user_id    text NOT NULL,
    first_day  date NOT NULL,
    PRIMARY KEY (tenant, user_id)
);

-- Per tenant and day: active users and those active for the first time; per week and month:
-- active users; per metric and day: active users, events and the sum of their values.
CREATE TABLE {schema}.tenant_daily (
    tenant     text    NOT NULL,
    day        date    NOT NULL,
    users      integer NOT NULL,
    new_users  integer NOT NULL,
    PRIMARY KEY (tenant, day)
);
CREATE TABLE {schema}.tenant_periods (
    tenant  text    NOT NULL,
    unit    text    NOT NULL CHECK (unit IN ('week', 'month')),
    start   date    NOT NULL,
    users   integer NOT NULL,
    PRIMARY KEY (tenant, unit, start)
);
CREATE TABLE {schema}.metric_activity (
    tenant     text             NOT NULL,
    metric_id  uuid             NOT NULL,
    day        date             NOT NULL,
    users      integer          NOT NULL,
    events     integer          NOT NULL,
    total      double precision NOT NULL,
    PRIMARY KEY (tenant, metric_id, day)
);

-- Retention: of the users first active in week ``cohort``, how many were active in ``week``;
-- of those first active on ``cohort``, how many were active ``after`` (1, 7, 30) days later.
CREATE TABLE {schema}.retention_weekly (
    tenant  text    NOT NULL,
    cohort  date    NOT NULL,
    week    date    NOT NULL,
    users   integer NOT NULL,
    PRIMARY KEY (tenant, cohort, week)
);
CREATE TABLE {schema}.retention_daily (
    tenant  text    NOT NULL,
    cohort  date    NOT NULL,
    after   integer NOT NULL,
    users   integer NOT NULL,
    PRIMARY KEY (tenant, cohort, after)
);

-- What the processor would have written for the activity recorded before this migration, so
-- that a replay's rebuild equals the live schema: from the daily changes, and the events
-- counted from the stored outcomes of metric events (not idempotent repeats).
INSERT INTO {schema}.user_days (tenant, user_id, day)
    SELECT DISTINCT tenant, user_id, day FROM {schema}.metric_daily;
INSERT INTO {schema}.user_activity (tenant, user_id, first_day)
    SELECT tenant, user_id, min(day) FROM {schema}.user_days GROUP BY tenant, user_id;
INSERT INTO {schema}.user_periods (tenant, user_id, unit, start)
    SELECT DISTINCT d.tenant, d.user_id, u.unit, date_trunc(u.unit, d.day)::date
    FROM {schema}.user_days d CROSS JOIN (VALUES ('week'), ('month')) AS u(unit);
INSERT INTO {schema}.tenant_daily (tenant, day, users, new_users)
    SELECT d.tenant, d.day, count(*), count(*) FILTER (WHERE d.day = a.first_day)
    FROM {schema}.user_days d JOIN {schema}.user_activity a USING (tenant, user_id)
    GROUP BY d.tenant, d.day;
INSERT INTO {schema}.tenant_periods (tenant, unit, start, users)
    SELECT tenant, unit, start, count(*) FROM {schema}.user_periods GROUP BY tenant, unit, start;
INSERT INTO {schema}.retention_daily (tenant, cohort, after, users)
    SELECT d.tenant, a.first_day, d.day - a.first_day, count(*)
    FROM {schema}.user_days d JOIN {schema}.user_activity a USING (tenant, user_id)
    WHERE d.day - a.first_day IN (1, 7, 30)
    GROUP BY d.tenant, a.first_day, d.day - a.first_day;
INSERT INTO {schema}.retention_weekly (tenant, cohort, week, users)
    SELECT p.tenant, date_trunc('week', a.first_day)::date, p.start, count(*)
    FROM {schema}.user_periods p JOIN {schema}.user_activity a USING (tenant, user_id)
    WHERE p.unit = 'week'
    GROUP BY p.tenant, date_trunc('week', a.first_day)::date, p.start;
INSERT INTO {schema}.metric_activity (tenant, metric_id, day, users, events, total)
    SELECT m.tenant, m.metric_id, m.day, count(*), coalesce(max(e.events), 0), sum(m.change)
    FROM {schema}.metric_daily m
    LEFT JOIN (
        SELECT tenant, (body->>'metricId')::uuid AS metric_id, (body->>'day')::date AS day,
               count(*) AS events
        FROM {schema}.command_outcomes
        WHERE body->>'kind' = 'metric.event' AND NOT (body->>'idempotentReplayed')::boolean
        GROUP BY 1, 2, 3
    ) e ON e.tenant = m.tenant AND e.metric_id = m.metric_id AND e.day = m.day
    GROUP BY m.tenant, m.metric_id, m.day;
