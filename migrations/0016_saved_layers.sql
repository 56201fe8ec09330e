-- Saved layers (projections::saved_layers): Navigator layers brought in as scoped views, from the SavedLayer
-- events; a deleted layer's row is removed. Derived from the log like every read model.
CREATE TABLE saved_layers
(
    layer_id       uuid PRIMARY KEY,
    name           text        NOT NULL,
    description    text        NOT NULL,
    domain         text        NOT NULL,
    attack_version text,
    min_score      double precision,
    max_score      double precision,
    -- [{"technique", "tactic", "score", "color", "comment", "metadata": [[name, value]…]}]
    annotations    jsonb       NOT NULL,
    source         text        NOT NULL,
    saved_at       timestamptz NOT NULL,
    -- The actor id from the event metadata.
    saved_by       text,
    last_sequence  bigint      NOT NULL
);

CREATE INDEX saved_layers_newest ON saved_layers (saved_at DESC, layer_id DESC);

GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON saved_layers TO aegis_app;
