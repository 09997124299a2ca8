-- Each user's daily change of a metric per event attribute value (Wrapped's byAttribute).
-- Written from this version on: a replay's rebuild also has the earlier events' rows, so the
-- table is not compared (its live rows start here).
CREATE TABLE {schema}.metric_attribute_daily (
    tenant     text             NOT NULL,
    user_id    text             NOT NULL,
    metric_id  uuid             NOT NULL,
    attribute  text             NOT NULL,
    value      text             NOT NULL,
    day        date             NOT NULL,
    change     double precision NOT NULL,
    PRIMARY KEY (tenant, user_id, metric_id, attribute, value, day)
);
