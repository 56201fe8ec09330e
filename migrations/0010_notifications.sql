-- In-app notifications (projections::notifications): one row per recipient and cause event, derived from the
-- TestCase and Campaign events. Derived data like every read model: a rebuild truncates `notifications` and
-- its working tables and replays the log. Ids are derived from the cause event's global position and the
-- recipient, and times are the events' own, so a rebuild gives the same rows.

CREATE TABLE notifications
(
    notification_id uuid PRIMARY KEY,
    recipient       uuid        NOT NULL,
    kind            text        NOT NULL
        CHECK (kind IN ('assigned', 'review_requested', 'rejected', 'approved', 'campaign_due')),
    subject_kind    text        NOT NULL CHECK (subject_kind IN ('test_case', 'campaign')),
    subject_id      uuid        NOT NULL,
    -- The test case's title or the campaign's name when the event happened.
    subject_title   text        NOT NULL,
    message         text        NOT NULL,
    -- The actor id from the event metadata (a user's UUID, or `system:<component>`).
    actor_id        text,
    -- The cause event's occurred_at, and its place in the global order.
    created_at      timestamptz NOT NULL,
    global_seq      bigint      NOT NULL
);

-- A user's notifications, newest first.
CREATE INDEX notifications_recipient ON notifications (recipient, created_at DESC, notification_id DESC);

-- What the projection must remember of each test case to choose recipients: the title, the assignees, the
-- leads who planned or assigned it (they approve) and who recorded outcomes in the current run (they may not).
-- Its own copy rather than `test_cases`, so that rebuilding this projection alone gives the same rows.
CREATE TABLE notification_test_cases
(
    test_case_id      uuid PRIMARY KEY,
    last_sequence     bigint NOT NULL,
    title             text   NOT NULL,
    red_assignee      uuid,
    blue_assignee     uuid,
    leads             uuid[] NOT NULL,
    outcome_recorders uuid[] NOT NULL
);

-- Who is told when a recurring campaign spawns an instance: whoever created it or set its recurrence.
CREATE TABLE notification_campaigns
(
    campaign_id   uuid PRIMARY KEY,
    last_sequence bigint NOT NULL,
    owners        uuid[] NOT NULL
);

-- Which notifications each user has read: the user's own state, not derived from events. Written by the API,
-- never truncated by a rebuild (it is not among the projection's tables), and keyed by the deterministic
-- notification id, so the marks still apply to the rebuilt rows. No foreign key for the same reason.
CREATE TABLE notification_reads
(
    user_id         uuid        NOT NULL,
    notification_id uuid        NOT NULL,
    read_at         timestamptz NOT NULL,
    PRIMARY KEY (user_id, notification_id)
);

GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE
    ON notifications, notification_test_cases, notification_campaigns
    TO aegis_app;
-- A mark is written once and never changed; DELETE is for clean-up.
GRANT SELECT, INSERT, DELETE ON notification_reads TO aegis_app;
