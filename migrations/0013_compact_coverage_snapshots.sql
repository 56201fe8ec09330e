-- A coverage snapshot keeps its results inside its own row, as one array of (technique, procedure) results,
-- instead of one row per result: a snapshot is written whole and read whole, a rebuild writes a hundred of them,
-- and a row per result cost an index entry each and a DELETE of thousands of rows per expired weekly snapshot.
-- The plan's platforms and tags are not kept: a filtered heatmap reads the validations, never a snapshot.
--
-- Derived data: the coverage projection is emptied and rewound, and the projector refills it from the first
-- event on its next batch, like `aegis projections rebuild coverage`.
UPDATE projection_checkpoints
   SET tx_id = '0', global_seq = 0, events_applied = 0, updated_at = now()
 WHERE projection = 'coverage';

TRUNCATE coverage_plans, coverage_validations, coverage_current, coverage_rule_periods, coverage_policy_periods,
    coverage_snapshots;

DROP TABLE coverage_snapshot_results;

-- One procedure's newest result against one technique when the snapshot was taken (a row of coverage_current).
CREATE TYPE coverage_snapshot_result AS
(
    technique    text,
    procedure    text,
    test_case_id uuid,
    run          integer,
    outcome      text,
    validated_at timestamptz,
    global_seq   bigint
);

-- Ordered by technique, then procedure.
ALTER TABLE coverage_snapshots ADD COLUMN results coverage_snapshot_result[] NOT NULL;
