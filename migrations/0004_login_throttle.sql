-- Login throttling, per account and per client address, shared by every replica. This is operational state,
-- not history: rows are rewritten on every failed login and deleted on success or once they no longer matter,
-- so it lives beside the event store rather than in it. Depends only on 0001 (the aegis_app role).

CREATE TABLE login_throttle
(
    -- 'account': the normalised e-mail that was tried (whether or not such an account exists, so that
    -- throttling never reveals which addresses are registered); 'ip': an IPv4 address or an IPv6 /64 prefix.
    kind              text        NOT NULL CHECK (kind IN ('account', 'ip')),
    key               text        NOT NULL,
    -- Failures counted in the current window, which starts at the first failure after the previous window (or
    -- the previous block) ended.
    failures          int         NOT NULL CHECK (failures >= 0),
    window_started_at timestamptz NOT NULL,
    -- Logins for this key are refused until then. The application never extends a running block, and every
    -- block is capped, so no one can lock an account for good.
    blocked_until     timestamptz,
    -- Blocks so far: each one lasts twice as long as the previous (up to the cap). Forgotten after a quiet
    -- period as long as the longest block.
    blocks            int         NOT NULL DEFAULT 0 CHECK (blocks >= 0),
    PRIMARY KEY (kind, key)
);

GRANT SELECT, INSERT, UPDATE, DELETE ON login_throttle TO aegis_app;
