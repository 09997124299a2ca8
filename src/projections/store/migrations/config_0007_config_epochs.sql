-- Each tenant's configuration epoch: a number that changes, in the same transaction, with
-- every write to the tenant's metrics, attributes, streak settings or documents. The processor
-- reads the epochs of a batch's tenants and keeps the configuration it decoded until one moves,
-- instead of reading every version again in each batch. Epochs come from one sequence, so an
-- epoch is never reused: a tenant without a row has epoch 0 and no configuration written since
-- this migration, and every tenant with configuration gets a row here.
CREATE SEQUENCE laurel.config_epoch;

CREATE TABLE laurel.config_epochs (
    tenant  text   PRIMARY KEY,
    epoch   bigint NOT NULL
);

INSERT INTO laurel.config_epochs (tenant, epoch)
SELECT tenant, nextval('laurel.config_epoch') FROM (
    SELECT tenant FROM laurel.metrics UNION SELECT tenant FROM laurel.attributes
    UNION SELECT tenant FROM laurel.streak_settings UNION SELECT tenant FROM laurel.documents
) AS configured;

CREATE FUNCTION laurel.advance_config_epoch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        UPDATE laurel.config_epochs SET epoch = nextval('laurel.config_epoch');
    ELSE
        INSERT INTO laurel.config_epochs AS e (tenant, epoch)
        VALUES (CASE WHEN TG_OP = 'DELETE' THEN OLD.tenant ELSE NEW.tenant END,
                nextval('laurel.config_epoch'))
        ON CONFLICT (tenant) DO UPDATE SET epoch = EXCLUDED.epoch;
        IF TG_OP = 'UPDATE' AND OLD.tenant <> NEW.tenant THEN
            INSERT INTO laurel.config_epochs AS e (tenant, epoch)
            VALUES (OLD.tenant, nextval('laurel.config_epoch'))
            ON CONFLICT (tenant) DO UPDATE SET epoch = EXCLUDED.epoch;
        END IF;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER config_epoch AFTER INSERT OR UPDATE OR DELETE ON laurel.metrics
    FOR EACH ROW EXECUTE FUNCTION laurel.advance_config_epoch();
CREATE TRIGGER config_epoch AFTER INSERT OR UPDATE OR DELETE ON laurel.attributes
    FOR EACH ROW EXECUTE FUNCTION laurel.advance_config_epoch();
CREATE TRIGGER config_epoch AFTER INSERT OR UPDATE OR DELETE ON laurel.streak_settings
    FOR EACH ROW EXECUTE FUNCTION laurel.advance_config_epoch();
CREATE TRIGGER config_epoch AFTER INSERT OR UPDATE OR DELETE ON laurel.documents
    FOR EACH ROW EXECUTE FUNCTION laurel.advance_config_epoch();
CREATE TRIGGER config_epoch_truncate AFTER TRUNCATE ON laurel.metrics
    FOR EACH STATEMENT EXECUTE FUNCTION laurel.advance_config_epoch();
CREATE TRIGGER config_epoch_truncate AFTER TRUNCATE ON laurel.attributes
    FOR EACH STATEMENT EXECUTE FUNCTION laurel.advance_config_epoch();
CREATE TRIGGER config_epoch_truncate AFTER TRUNCATE ON laurel.streak_settings
    FOR EACH STATEMENT EXECUTE FUNCTION laurel.advance_config_epoch();
CREATE TRIGGER config_epoch_truncate AFTER TRUNCATE ON laurel.documents
    FOR EACH STATEMENT EXECUTE FUNCTION laurel.advance_config_epoch();
