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
