-- The coverage read model (projections::coverage): what the heatmap, its time travel, explain and diff read.
-- Derived data like every read model: a rebuild truncates these tables and replays the log; times come from
-- the events, never from the clock, so a rebuild gives the same rows.

-- Per test case, what coverage needs of its plan, as of its latest plan event, and its current run.
CREATE TABLE coverage_plans
(
    test_case_id uuid PRIMARY KEY,
    technique    text    NOT NULL,
    -- atomic:<guid>, caldera:<id>, lolbas:<entry>, gtfobins:<entry>, or test_case:<id> for a manual one:
    -- re-tests of the same template trend together.
    procedure    text    NOT NULL,
    platforms    text[]  NOT NULL,
    tags         text[]  NOT NULL,
    run          integer NOT NULL
);

-- Every approved run that scores (not "not applicable"): the history that time travel replays. Platforms and
-- tags are the plan's when the run was approved, so filters read history as it was.
CREATE TABLE coverage_validations
(
    test_case_id uuid        NOT NULL,
    run          integer     NOT NULL,
    technique    text        NOT NULL,
    procedure    text        NOT NULL,
    outcome      text        NOT NULL,
    validated_at timestamptz NOT NULL,
    approved_by  uuid        NOT NULL,
    platforms    text[]      NOT NULL,
    tags         text[]      NOT NULL,
    global_seq   bigint      NOT NULL,
    PRIMARY KEY (test_case_id, run)
);

CREATE INDEX coverage_validations_time ON coverage_validations (validated_at, global_seq);
CREATE INDEX coverage_validations_procedure ON coverage_validations (technique, procedure, validated_at DESC);

-- The newest validation of each procedure against each technique: the live heatmap reads only this.
CREATE TABLE coverage_current
(
    technique    text        NOT NULL,
    procedure    text        NOT NULL,
    test_case_id uuid        NOT NULL,
    run          integer     NOT NULL,
    outcome      text        NOT NULL,
    validated_at timestamptz NOT NULL,
    platforms    text[]      NOT NULL,
    tags         text[]      NOT NULL,
    global_seq   bigint      NOT NULL,
    PRIMARY KEY (technique, procedure)
);

-- When each detection rule was deployed, until when (null: still deployed).
CREATE TABLE coverage_rule_periods
(
    source      text        NOT NULL,
    rule_id     text        NOT NULL,
    deployed_at timestamptz NOT NULL,
    retired_at  timestamptz,
    deployed_by text,
    PRIMARY KEY (source, rule_id, deployed_at)
);

-- When each scoring policy was the active one, until when (null: still active).
CREATE TABLE coverage_policy_periods
(
    policy_id      uuid        NOT NULL,
    activated_at   timestamptz NOT NULL,
    deactivated_at timestamptz,
    PRIMARY KEY (policy_id, activated_at)
);

-- Snapshots (CoverageSnapshots events): coverage_current as it stood at that point of the log.
CREATE TABLE coverage_snapshots
(
    snapshot_id uuid PRIMARY KEY,
    -- weekly or on_demand
    kind        text        NOT NULL,
    taken_at    timestamptz NOT NULL,
    taken_by    text,
    global_seq  bigint      NOT NULL
);

CREATE INDEX coverage_snapshots_time ON coverage_snapshots (taken_at);

CREATE TABLE coverage_snapshot_results
(
    snapshot_id  uuid        NOT NULL,
    technique    text        NOT NULL,
    procedure    text        NOT NULL,
    test_case_id uuid        NOT NULL,
    run          integer     NOT NULL,
    outcome      text        NOT NULL,
    validated_at timestamptz NOT NULL,
    platforms    text[]      NOT NULL,
    tags         text[]      NOT NULL,
    global_seq   bigint      NOT NULL,
    PRIMARY KEY (snapshot_id, technique, procedure)
);

GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE
    ON coverage_plans, coverage_validations, coverage_current, coverage_rule_periods, coverage_policy_periods,
       coverage_snapshots, coverage_snapshot_results
    TO aegis_app;
