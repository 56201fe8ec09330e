-- Which detection rules we run (projections::detection_rules), from the DetectionRule aggregate's events.
-- Derived data like every read model: a rebuild truncates it and replays the log. Rules are keyed by their
-- catalog identity (source and upstream id), so the catalog and scoring join it without the aggregate id.
CREATE TABLE detection_rule_deployments
(
    source        text        NOT NULL,
    rule_id       text        NOT NULL,
    aggregate_id  uuid        NOT NULL,
    last_sequence bigint      NOT NULL,
    deployed      boolean     NOT NULL,
    -- When, by whom and why the rule was last deployed or retired (from the event and its metadata).
    changed_at    timestamptz NOT NULL,
    -- The actor id from the event metadata.
    changed_by    text,
    reason        text        NOT NULL,
    -- When the rule was first deployed; kept after a retirement.
    first_deployed_at timestamptz,
    PRIMARY KEY (source, rule_id)
);

CREATE INDEX detection_rule_deployments_deployed ON detection_rule_deployments (source, rule_id) WHERE deployed;

GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON detection_rule_deployments TO aegis_app;
