-- Every run of a scheduled job (api::scheduler): which job, for which due time, who or what started it, when
-- it started and ended, how it went and what it did. Operational state, not derived from events: a rebuild
-- leaves it alone. The unique (job, due_at) is what makes each due time run once however many Aegis processes
-- share the database: every process tries to insert the row, one succeeds and runs the job.
CREATE TABLE job_runs
(
    run_id      uuid PRIMARY KEY,
    job         text        NOT NULL,
    due_at      timestamptz NOT NULL,
    -- 'schedule', 'start' (run when the server starts) or the id of the admin who asked (runJobNow).
    trigger     text        NOT NULL,
    started_at  timestamptz NOT NULL,
    finished_at timestamptz,
    outcome     text        NOT NULL CHECK (outcome IN ('running', 'succeeded', 'failed')),
    -- What the run did, by name: {"deleted": 12}, {"instances": 1}…
    counts      jsonb       NOT NULL DEFAULT '{}',
    error       text,
    UNIQUE (job, due_at)
);

CREATE INDEX job_runs_newest ON job_runs (job, started_at DESC);

GRANT SELECT, INSERT, UPDATE ON job_runs TO aegis_app;
