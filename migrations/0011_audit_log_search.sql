-- What auditors need from the audit log (projections::audit_log): a one-line summary of every event, who did it
-- by name as of the event, the event's place in the hash chain, and indexes for each filter of `auditLog`.
--
-- The new columns are computed from the event log, so the rows already there are emptied and the projection is
-- rewound: the projector refills the audit log from the first event on its next batch, like
-- `aegis projections rebuild audit_log`. The checkpoint row is locked first, as the projector locks it, so a
-- running projector cannot apply a batch in between.
UPDATE projection_checkpoints
   SET tx_id = '0', global_seq = 0, events_applied = 0, updated_at = now()
 WHERE projection = 'audit_log';

TRUNCATE audit_log;

ALTER TABLE audit_log
    -- Who acted, as an auditor reads it: the actor's e-mail address as it was when the event happened, or the
    -- actor id itself for a part of Aegis (`system:login`) or an unknown user.
    ADD COLUMN actor_label text  NOT NULL,
    -- One line for people: "red.lead@aegis.demo planned test case “LSASS dump” (T1003.001)".
    ADD COLUMN summary     text  NOT NULL,
    -- The event's link in the hash chain (`events.hash`, `events.prev_hash`), so an auditor can match a line
    -- against `aegis audit verify` and an export.
    ADD COLUMN hash        bytea NOT NULL,
    ADD COLUMN prev_hash   bytea NOT NULL;

-- Every event has a time from now on: the command's time, else the time it was stored.
ALTER TABLE audit_log ALTER COLUMN occurred_at SET NOT NULL;

-- One index per filter of `auditLog`, each ending in global_seq so that a filtered page, newest first, is an
-- index range scan that stops after the page. The aggregate index replaces the one ordered by sequence: within
-- one aggregate, sequence and global_seq grow together.
DROP INDEX audit_log_aggregate;
CREATE INDEX audit_log_aggregate ON audit_log (aggregate_type, aggregate_id, global_seq);
CREATE INDEX audit_log_aggregate_type ON audit_log (aggregate_type, global_seq);
CREATE INDEX audit_log_actor ON audit_log (actor_id, global_seq);
CREATE INDEX audit_log_event_type ON audit_log (event_type, global_seq);
CREATE INDEX audit_log_occurred_at ON audit_log (occurred_at, global_seq);

-- The audit log's own memory of users' e-mail addresses, fed by `User` events in the global order, so that
-- a summary names the actor as they were called at the time and a rebuild writes the same lines. Part of the
-- audit_log projection (emptied with it on a rebuild).
CREATE TABLE audit_log_user_emails
(
    user_id text PRIMARY KEY,
    email   text NOT NULL
);

GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON audit_log_user_emails TO aegis_app;
