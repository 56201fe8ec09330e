-- The read models of the red/blue workflow: test cases (projections::test_cases), campaigns with their
-- membership (projections::campaigns) and scoring policies (projections::scoring_policies). Derived data: a
-- rebuild truncates these tables and replays the event log, so they have no identity columns, no defaults
-- taken from the clock and no foreign keys (each table is truncated on its own). Every row that mirrors an
-- aggregate keeps `last_sequence`, the aggregate sequence of the last event applied to it, so applying an
-- event twice changes nothing.

-- One row per test case: the current run's plan, state, assignees and derived result.
CREATE TABLE test_cases
(
    test_case_id               uuid PRIMARY KEY,
    last_sequence              bigint      NOT NULL,
    run                        integer     NOT NULL,
    -- domain::test_case::TestState::as_str; while paused, paused_from is the state it returns to.
    state                      text        NOT NULL,
    paused_from                text,
    title                      text        NOT NULL,
    objective                  text        NOT NULL,
    technique                  text        NOT NULL,
    -- domain::test_case::ProcedureSource as serde writes it ({"kind":"atomic_test","guid":"…"}).
    procedure_source           jsonb       NOT NULL,
    steps                      text        NOT NULL,
    platforms                  text[]      NOT NULL,
    targets                    text[]      NOT NULL,
    tags                       text[]      NOT NULL,
    blind                      boolean     NOT NULL,
    revealed                   boolean     NOT NULL,
    red_assignee               uuid,
    blue_assignee              uuid,
    detection_rules            text[]      NOT NULL,
    -- The current run's outcome as the domain derives it (the strongest tool's; null until one is recorded),
    -- by serde name ("not_detected").
    outcome                    text,
    -- Earliest detection minus earliest execution start in the current run; negative when a tool's clock
    -- runs behind red's; null without both.
    time_to_detect_ms          bigint,
    first_execution_started_at timestamptz,
    planned_by                 uuid        NOT NULL,
    planned_at                 timestamptz NOT NULL,
    -- When the current run was approved; null unless completed.
    completed_at               timestamptz,
    -- When the state last changed, and when anything last changed (both from the events' own times).
    state_changed_at           timestamptz NOT NULL,
    last_changed_at            timestamptz NOT NULL
);

CREATE UNIQUE INDEX test_cases_page ON test_cases (planned_at, test_case_id);
CREATE INDEX test_cases_technique ON test_cases (technique);
CREATE INDEX test_cases_state ON test_cases (state);
CREATE INDEX test_cases_red_assignee ON test_cases (red_assignee);
CREATE INDEX test_cases_blue_assignee ON test_cases (blue_assignee);
CREATE INDEX test_cases_tags ON test_cases USING gin (tags);

-- Every run of every test case: run 1 from planning, each later one from a reopen. Earlier runs keep their
-- result here after the test case moved on (the coverage read models want the last approved outcome).
CREATE TABLE test_case_runs
(
    test_case_id               uuid        NOT NULL,
    run                        integer     NOT NULL,
    started_at                 timestamptz NOT NULL,
    started_by                 uuid        NOT NULL,
    -- Why the run was reopened; null for run 1.
    reopen_reason              text,
    outcome                    text,
    time_to_detect_ms          bigint,
    first_execution_started_at timestamptz,
    -- The outcome the approving lead approved (as carried by the approval event).
    approved_outcome           text,
    approved_by                uuid,
    completed_at               timestamptz,
    abandoned_by               uuid,
    abandoned_at               timestamptz,
    abandon_reason             text,
    PRIMARY KEY (test_case_id, run)
);

-- What each tool did, per run; recording a tool again in the same run replaces its row.
CREATE TABLE test_case_outcomes
(
    test_case_id uuid        NOT NULL,
    run          integer     NOT NULL,
    tool         text        NOT NULL,
    outcome      text        NOT NULL,
    severity     text,
    detected_at  timestamptz,
    rules_fired  text[]      NOT NULL,
    recorded_by  uuid        NOT NULL,
    recorded_at  timestamptz NOT NULL,
    PRIMARY KEY (test_case_id, run, tool)
);

-- Red's executions, keyed by the sequence of the event that recorded them (so by recording order).
CREATE TABLE test_case_executions
(
    test_case_id   uuid        NOT NULL,
    sequence       bigint      NOT NULL,
    run            integer     NOT NULL,
    command        text        NOT NULL,
    target         text        NOT NULL,
    started_at     timestamptz NOT NULL,
    stopped_at     timestamptz NOT NULL,
    output_excerpt text        NOT NULL,
    recorded_by    uuid        NOT NULL,
    recorded_at    timestamptz NOT NULL,
    PRIMARY KEY (test_case_id, sequence)
);

CREATE TABLE test_case_comments
(
    test_case_id uuid        NOT NULL,
    sequence     bigint      NOT NULL,
    run          integer     NOT NULL,
    author       uuid        NOT NULL,
    body         text        NOT NULL,
    at           timestamptz NOT NULL,
    PRIMARY KEY (test_case_id, sequence)
);

-- Evidence per run; removed evidence stays, flagged, because the attachment stays in the event log.
CREATE TABLE test_case_evidence
(
    test_case_id uuid        NOT NULL,
    run          integer     NOT NULL,
    evidence_id  uuid        NOT NULL,
    side         text        NOT NULL CHECK (side IN ('red', 'blue')),
    sha256       text        NOT NULL,
    file_name    text        NOT NULL,
    attached_by  uuid        NOT NULL,
    attached_at  timestamptz NOT NULL,
    removed      boolean     NOT NULL,
    removed_by   uuid,
    removed_at   timestamptz,
    PRIMARY KEY (test_case_id, run, evidence_id)
);

CREATE TABLE campaigns
(
    campaign_id         uuid PRIMARY KEY,
    last_sequence       bigint      NOT NULL,
    name                text        NOT NULL,
    description         text        NOT NULL,
    scope_techniques    text[]      NOT NULL,
    scope_threat_actor  text,
    planned_start       timestamptz NOT NULL,
    planned_end         timestamptz NOT NULL,
    -- domain::campaign::CampaignStatus::as_str.
    status              text        NOT NULL,
    -- A template's schedule (both null when the campaign does not recur).
    recurrence_cron     text,
    recurrence_timezone text,
    -- An instance's template and the due time it was spawned for.
    template_id         uuid,
    due_at              timestamptz,
    activated_at        timestamptz,
    completed_at        timestamptz,
    cancelled_at        timestamptz,
    cancel_reason       text,
    -- From the events' metadata (occurred_at, actor_id).
    created_at          timestamptz NOT NULL,
    created_by          text,
    last_changed_at     timestamptz NOT NULL
);

CREATE UNIQUE INDEX campaigns_page ON campaigns (created_at, campaign_id);
CREATE INDEX campaigns_template ON campaigns (template_id);

-- Which test cases belong to which campaign (the test cases' own read model knows nothing of campaigns).
CREATE TABLE campaign_test_cases
(
    campaign_id  uuid        NOT NULL,
    test_case_id uuid        NOT NULL,
    added_at     timestamptz NOT NULL,
    PRIMARY KEY (campaign_id, test_case_id)
);

CREATE INDEX campaign_test_cases_test_case ON campaign_test_cases (test_case_id);

-- Each spawn a template recorded: due time and the instance chosen for it.
CREATE TABLE campaign_spawns
(
    template_id uuid        NOT NULL,
    due_at      timestamptz NOT NULL,
    instance_id uuid        NOT NULL,
    recorded_at timestamptz NOT NULL,
    PRIMARY KEY (template_id, due_at)
);

CREATE TABLE scoring_policies
(
    policy_id       uuid PRIMARY KEY,
    last_sequence   bigint      NOT NULL,
    name            text        NOT NULL,
    -- The version of `settings`: 1 when defined, one more per change.
    version         integer     NOT NULL,
    -- domain::scoring::PolicySettings as serde writes it (a PolicySettingsDraft).
    settings        jsonb       NOT NULL,
    active          boolean     NOT NULL,
    retired         boolean     NOT NULL,
    defined_at      timestamptz NOT NULL,
    -- The last event of any kind, its reason and its actor.
    changed_at      timestamptz NOT NULL,
    last_reason     text        NOT NULL,
    last_changed_by text,
    -- When it was last activated; the most recent wins should two ever be active at once.
    activated_at    timestamptz
);

-- Every version of every policy's settings, for history and re-scoring under an older version.
CREATE TABLE scoring_policy_versions
(
    policy_id  uuid        NOT NULL,
    version    integer     NOT NULL,
    settings   jsonb       NOT NULL,
    reason     text        NOT NULL,
    at         timestamptz NOT NULL,
    changed_by text,
    PRIMARY KEY (policy_id, version)
);

GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE
    ON test_cases, test_case_runs, test_case_outcomes, test_case_executions, test_case_comments,
       test_case_evidence, campaigns, campaign_test_cases, campaign_spawns, scoring_policies,
       scoring_policy_versions
    TO aegis_app;
