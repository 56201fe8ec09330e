-- Identity: the write side's account records (secrets live here, never in the event log) and the tokens
-- issued to sessions and integrators. Rows are kept in step with the User aggregate's events in the same
-- transaction as those events (commands::accounts), so e-mail uniqueness, deactivation and revocation take
-- effect at once on every replica.

CREATE TABLE accounts
(
    user_id                 uuid PRIMARY KEY,
    -- Normalised (lower-case) e-mail address; unique across users.
    email                   text        NOT NULL UNIQUE,
    roles                   text[]      NOT NULL,
    active                  boolean     NOT NULL,
    -- Argon2id PHC string; null until a password is set.
    password_hash           text,
    password_reset_required boolean     NOT NULL DEFAULT false,
    -- TOTP secret during enrolment and once enabled; the step of the last accepted code (each code works once).
    totp_secret             bytea,
    totp_enabled            boolean     NOT NULL DEFAULT false,
    totp_last_step          bigint,
    -- SHA-256 digests of the unused recovery codes.
    recovery_codes          bytea[]     NOT NULL DEFAULT '{}',
    updated_at              timestamptz NOT NULL DEFAULT now()
);

-- Every biscuit Aegis issued: browser sessions and API tokens. A token is accepted only while its row says
-- it is neither revoked nor expired; the row is found by the token's revocation id (its authority block's
-- signature), which every attenuated copy of the token shares.
CREATE TABLE auth_tokens
(
    token_id      uuid PRIMARY KEY,
    user_id       uuid        NOT NULL REFERENCES accounts (user_id),
    kind          text        NOT NULL CHECK (kind IN ('session', 'api')),
    name          text,
    scope         jsonb       NOT NULL,
    revocation_id bytea       NOT NULL UNIQUE,
    created_at    timestamptz NOT NULL,
    expires_at    timestamptz NOT NULL,
    revoked_at    timestamptz
);

CREATE INDEX auth_tokens_user ON auth_tokens (user_id);

-- Replicas cache token checks briefly; any change to an account or a token tells them to forget at once.
CREATE FUNCTION aegis_notify_credentials_changed() RETURNS trigger
    LANGUAGE plpgsql AS
$$
BEGIN
    PERFORM pg_notify('aegis_credentials_changed', NEW.user_id::text);
    RETURN NULL;
END
$$;

CREATE TRIGGER accounts_changed
    AFTER INSERT OR UPDATE ON accounts
    FOR EACH ROW EXECUTE FUNCTION aegis_notify_credentials_changed();

CREATE TRIGGER auth_tokens_changed
    AFTER UPDATE ON auth_tokens
    FOR EACH ROW EXECUTE FUNCTION aegis_notify_credentials_changed();

GRANT SELECT, INSERT, UPDATE ON accounts, auth_tokens TO aegis_app;

-- The users read model (projections::users): who exists, for lists and pickers. Derived data.
CREATE TABLE users
(
    user_id      uuid PRIMARY KEY,
    email        text        NOT NULL,
    display_name text        NOT NULL,
    roles        text[]      NOT NULL,
    active       boolean     NOT NULL,
    two_factor   boolean     NOT NULL DEFAULT false,
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL
);

CREATE INDEX users_email ON users (email);

GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON users TO aegis_app;
