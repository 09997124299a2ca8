-- Streak settings, one version per change: the JSON is the admin API's StreakSettings shape.
CREATE TABLE laurel.streak_settings (
    tenant      text        NOT NULL,
    settings    jsonb       NOT NULL,
    valid_from  timestamptz NOT NULL,
    valid_to    timestamptz,
    PRIMARY KEY (tenant, valid_from)
);
CREATE UNIQUE INDEX streak_settings_current ON laurel.streak_settings (tenant)
    WHERE valid_to IS NULL;
