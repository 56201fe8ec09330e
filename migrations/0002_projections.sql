-- The read side's bookkeeping and its first read models. Read models are derived data: the application may
-- rewrite them freely (a rebuild truncates them), unlike events.

-- Where each projection has read up to, in the global order (tx_id, global_seq). Updated in the same
-- transaction as the projection's read model, so every event takes effect exactly once.
CREATE TABLE projection_checkpoints
(
    projection     text        PRIMARY KEY,
    tx_id          xid8        NOT NULL DEFAULT '0',
    global_seq     bigint      NOT NULL DEFAULT 0,
    events_applied bigint      NOT NULL DEFAULT 0,
    updated_at     timestamptz NOT NULL DEFAULT now()
);

-- Every event with who did it, when and why, for auditors to browse and filter.
CREATE TABLE audit_log
(
    global_seq      bigint PRIMARY KEY,
    recorded_at     timestamptz NOT NULL,
    occurred_at     timestamptz,
    aggregate_type  text        NOT NULL,
    aggregate_id    text        NOT NULL,
    sequence        bigint      NOT NULL,
    event_type      text        NOT NULL,
    event_version   text        NOT NULL,
    actor_id        text,
    actor_roles     text,
    correlation_id  text,
    idempotency_key text
);

CREATE INDEX audit_log_aggregate ON audit_log (aggregate_type, aggregate_id, sequence);

-- How many events of each type exist, cheap to read for serverInfo and metrics.
CREATE TABLE event_totals
(
    aggregate_type text   NOT NULL,
    event_type     text   NOT NULL,
    events         bigint NOT NULL,
    PRIMARY KEY (aggregate_type, event_type)
);

GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON projection_checkpoints, audit_log, event_totals TO aegis_app;
