-- Reference catalogs: what the importers (importers::catalog) read from upstream content — ATT&CK, D3FEND,
-- templates, detection rules, telemetry configurations, compliance frameworks. Not derived from events, so a
-- projection rebuild never touches these tables; what users decide about reference data (a rule is deployed) is
-- an event like any other.
--
-- Versioned by import run: a record's content is never overwritten. A changed record closes its current version
-- (valid_to, retired_by) and adds the next one, so the catalog as it was at any moment — the ATT&CK release
-- that was loaded when a test was approved — stays queryable.

-- One row per import: where from, which upstream release, what it changed, what failed.
CREATE TABLE import_runs
(
    run_id            uuid PRIMARY KEY,
    -- importers::Source::as_str: attack, d3fend, atomic, caldera, lolbas, gtfobins, sigma, elastic, sysmon,
    -- ctid, oscal, taxii.
    source            text        NOT NULL,
    -- The paths and URLs as given.
    locations         text[]      NOT NULL,
    upstream_version  text,
    -- SHA-256 over every input file's path and bytes, in path order: equal digests mean equal input.
    content_digest    text,
    -- running, succeeded (every file imported), partial (some files failed, the rest imported), failed
    -- (nothing could be imported).
    status            text        NOT NULL,
    started_at        timestamptz NOT NULL,
    finished_at       timestamptz,
    -- Null when started from the command line.
    started_by        uuid,
    files_seen        integer     NOT NULL DEFAULT 0,
    files_failed      integer     NOT NULL DEFAULT 0,
    records_new       integer     NOT NULL DEFAULT 0,
    records_changed   integer     NOT NULL DEFAULT 0,
    records_unchanged integer     NOT NULL DEFAULT 0,
    -- Records of this import that upstream marks revoked or deprecated.
    records_retired   integer     NOT NULL DEFAULT 0,
    -- [{"file", "error"}], one per failed file (and one with a null file when the whole run failed).
    errors            jsonb       NOT NULL DEFAULT '[]'
);

CREATE INDEX import_runs_recent ON import_runs (started_at DESC, run_id);

-- Every version of every catalog record (importers::record::CatalogRecord).
CREATE TABLE catalog_records
(
    kind        text        NOT NULL,
    scope       text        NOT NULL,
    id          text        NOT NULL,
    -- 1 for the first import of the record, then one more per change.
    version     integer     NOT NULL,
    name        text        NOT NULL,
    -- active, deprecated or revoked.
    status      text        NOT NULL,
    replaced_by text,
    -- ATT&CK ids the record refers to (upper case, sorted).
    techniques  text[]      NOT NULL,
    details     jsonb       NOT NULL,
    -- SHA-256 of name, status, techniques and details: an import compares digests, not content.
    digest      text        NOT NULL,
    source      text        NOT NULL,
    run_id      uuid        NOT NULL REFERENCES import_runs (run_id),
    valid_from  timestamptz NOT NULL,
    -- Null while this is the current version.
    valid_to    timestamptz,
    retired_by  uuid REFERENCES import_runs (run_id),
    PRIMARY KEY (kind, scope, id, version)
);

CREATE UNIQUE INDEX catalog_records_current ON catalog_records (kind, scope, id) WHERE valid_to IS NULL;
CREATE INDEX catalog_records_by_technique ON catalog_records USING gin (techniques) WHERE valid_to IS NULL;

GRANT SELECT, INSERT, UPDATE ON import_runs, catalog_records TO aegis_app;
