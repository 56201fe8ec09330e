-- Intel items (projections::intel): what the scheduler's intel scan and ATT&CK sync found — a new ATT&CK
-- release, new or changed techniques, new rules and procedures for techniques in scope, tracked actors' new
-- techniques, coverage gone stale — from the IntelItem events, with who acknowledged each. Derived from the log
-- like every read model: a rebuild truncates and replays it.
CREATE TABLE intel_items
(
    item_id          uuid PRIMARY KEY,
    -- domain::intel::IntelKind by name.
    kind             text        NOT NULL,
    title            text        NOT NULL,
    detail           text        NOT NULL,
    -- The ATT&CK techniques among the links, for filtering by technique.
    techniques       text[]      NOT NULL,
    -- [{"kind", "scope", "id", "name"}]: the catalog records it points at.
    links            jsonb       NOT NULL,
    raised_at        timestamptz NOT NULL,
    -- The actor id from the event metadata (`system:scheduler`, or a user's UUID).
    raised_by        text,
    acknowledged_at  timestamptz,
    acknowledged_by  text,
    acknowledgement  text,
    global_seq       bigint      NOT NULL
);

-- Newest first, open ones alone.
CREATE INDEX intel_items_newest ON intel_items (raised_at DESC, item_id DESC);
CREATE INDEX intel_items_open ON intel_items (raised_at DESC, item_id DESC) WHERE acknowledged_at IS NULL;

GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON intel_items TO aegis_app;

-- Notifications now also tell the leads of intel items and the admins of failed scheduled jobs.
ALTER TABLE notifications DROP CONSTRAINT notifications_kind_check;
ALTER TABLE notifications ADD CONSTRAINT notifications_kind_check
    CHECK (kind IN ('assigned', 'review_requested', 'rejected', 'approved', 'campaign_due', 'intel',
                    'job_failed'));
ALTER TABLE notifications DROP CONSTRAINT notifications_subject_kind_check;
ALTER TABLE notifications ADD CONSTRAINT notifications_subject_kind_check
    CHECK (subject_kind IN ('test_case', 'campaign', 'intel_item', 'job_run'));
