-- What every heatmap reads, made cheap (projections::heatmap).

-- A technique's tactics in a column of their own: the matrix needs only them, and taking them out of `details`
-- de-TOASTed every technique's whole description on every request.
ALTER TABLE catalog_records
    ADD COLUMN tactics jsonb GENERATED ALWAYS AS (coalesce(details -> 'tactics', '[]')) STORED;

-- One row per transaction that changed the catalog, so a reader can keep what it derived from the catalog until
-- the count moves. A row appears when its transaction commits, together with the change: a sequence would move
-- before the change is visible. Keyed by transaction, so concurrent imports never wait on each other here.
CREATE TABLE catalog_changes
(
    tx_id      xid8 PRIMARY KEY,
    changed_at timestamptz NOT NULL DEFAULT now()
);

CREATE FUNCTION note_catalog_change() RETURNS trigger
    LANGUAGE plpgsql AS
$$
BEGIN
    INSERT INTO catalog_changes (tx_id) VALUES (pg_current_xact_id()) ON CONFLICT DO NOTHING;
    RETURN NULL;
END
$$;

CREATE TRIGGER catalog_records_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON catalog_records
    FOR EACH STATEMENT EXECUTE FUNCTION note_catalog_change();

GRANT SELECT, INSERT ON catalog_changes TO aegis_app;
