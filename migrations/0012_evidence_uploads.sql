-- Evidence uploads between `requestEvidenceUpload` and `confirmEvidenceUpload`. Not events: a request that is
-- never confirmed changes nothing an auditor cares about. The confirmation marks its row in the transaction
-- that appends `EvidenceAttached`, so a retried confirmation finds it confirmed. Confirmed rows stay: they
-- map an evidence id to its test case and object for downloads.
CREATE TABLE evidence_uploads
(
    upload_id      uuid PRIMARY KEY,
    test_case_id   uuid        NOT NULL,
    side           text        NOT NULL CHECK (side IN ('red', 'blue')),
    uploaded_by    uuid        NOT NULL,
    file_name      text        NOT NULL,
    content_type   text        NOT NULL,
    size           bigint      NOT NULL CHECK (size > 0),
    sha256         text        NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    quarantine_key text        NOT NULL,
    object_key     text        NOT NULL UNIQUE,
    requested_at   timestamptz NOT NULL,
    expires_at     timestamptz NOT NULL,
    confirmed_at   timestamptz,
    -- The reason code of a confirmation that failed its checks (the object was deleted).
    rejection      text
);

CREATE INDEX evidence_uploads_pending ON evidence_uploads (expires_at) WHERE confirmed_at IS NULL;

GRANT SELECT, INSERT, UPDATE, DELETE ON evidence_uploads TO aegis_app;

-- The evidence read model shows what was verified on upload (absent for evidence attached before).
ALTER TABLE test_case_evidence
    ADD COLUMN size         bigint,
    ADD COLUMN content_type text;
