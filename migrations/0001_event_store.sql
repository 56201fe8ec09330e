-- The write model: postgres-es' events and snapshots tables, extended with a global commit order and a hash
-- chain. Never edit this file once applied; add a new migration instead.

-- The role the application connects as (through a login role that is a member of it). It may read and append
-- events, never change or remove them: append-only is enforced by the database, not by the application's good
-- manners. Roles are cluster-wide, so creating it must survive another database (or a parallel test) having
-- created it first.
DO $$
BEGIN
    CREATE ROLE aegis_app NOLOGIN;
EXCEPTION
    WHEN duplicate_object OR unique_violation THEN NULL;
END
$$;

CREATE TABLE events
(
    aggregate_type text                         NOT NULL,
    aggregate_id   text                         NOT NULL,
    sequence       bigint CHECK (sequence >= 1) NOT NULL,
    event_type     text                         NOT NULL,
    event_version  text                         NOT NULL,
    -- jsonb rather than postgres-es' json: grouping and filtering on payloads is several times faster, and the
    -- hash chain never hashes the bytes Postgres returns (jsonb reorders keys) but a canonical encoding.
    payload        jsonb                        NOT NULL,
    metadata       jsonb                        NOT NULL,
    -- The global order projections read in: commit order is approximated by the inserting transaction's id,
    -- and a projector only reads ids below the oldest running transaction (pg_snapshot_xmin), so an event
    -- committed late by a slow transaction is never skipped.
    global_seq     bigint GENERATED ALWAYS AS IDENTITY,
    tx_id          xid8                         NOT NULL DEFAULT pg_current_xact_id(),
    recorded_at    timestamptz                  NOT NULL DEFAULT now(),
    -- hash = sha256(prev_hash || canonical event); prev_hash is the hash of the aggregate's previous event, or
    -- 32 zero bytes for its first.
    prev_hash      bytea                        NOT NULL CHECK (length(prev_hash) = 32),
    hash           bytea                        NOT NULL CHECK (length(hash) = 32),
    -- The optimistic-concurrency check: two commands appending the same sequence clash here.
    PRIMARY KEY (aggregate_type, aggregate_id, sequence)
);

CREATE UNIQUE INDEX events_global_seq ON events (global_seq);
CREATE INDEX events_commit_order ON events (tx_id, global_seq);

-- Even the owner may not change history by accident; a deliberate DBA can still bypass triggers, which is why
-- the hash chain exists.
CREATE FUNCTION aegis_events_are_append_only() RETURNS trigger
    LANGUAGE plpgsql AS
$$
BEGIN
    RAISE EXCEPTION 'events are append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE TRIGGER events_append_only_rows
    BEFORE UPDATE OR DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION aegis_events_are_append_only();

CREATE TRIGGER events_append_only_truncate
    BEFORE TRUNCATE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION aegis_events_are_append_only();

-- Wakes projectors as soon as events are committed (they also poll, so a lost notification only delays them).
CREATE FUNCTION aegis_notify_events_appended() RETURNS trigger
    LANGUAGE plpgsql AS
$$
BEGIN
    PERFORM pg_notify('aegis_events_appended', '');
    RETURN NULL;
END
$$;

CREATE TRIGGER events_notify_appended
    AFTER INSERT ON events
    FOR EACH STATEMENT EXECUTE FUNCTION aegis_notify_events_appended();

CREATE TABLE snapshots
(
    aggregate_type   text                                 NOT NULL,
    aggregate_id     text                                 NOT NULL,
    last_sequence    bigint CHECK (last_sequence >= 0)    NOT NULL,
    current_snapshot bigint CHECK (current_snapshot >= 0) NOT NULL,
    payload          jsonb                                NOT NULL,
    PRIMARY KEY (aggregate_type, aggregate_id)
);

-- A command retried with the same idempotency key returns its first outcome; the row is written in the same
-- transaction as the command's events. Keys are scoped by actor so two clients can never collide.
CREATE TABLE command_idempotency
(
    actor_id        text        NOT NULL,
    idempotency_key text        NOT NULL,
    request_digest  bytea       NOT NULL,
    aggregate_type  text        NOT NULL,
    aggregate_id    text        NOT NULL,
    -- The sequences the command appended, first_sequence..=last_sequence; a command that decided on no events
    -- stores (version + 1, version), an empty range that still records the aggregate's version.
    first_sequence  bigint      NOT NULL,
    last_sequence   bigint      NOT NULL,
    recorded_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (actor_id, idempotency_key)
);

GRANT SELECT, INSERT ON events TO aegis_app;
GRANT SELECT, INSERT, UPDATE ON snapshots TO aegis_app;
GRANT SELECT, INSERT ON command_idempotency TO aegis_app;
GRANT SELECT ON _sqlx_migrations TO aegis_app;
