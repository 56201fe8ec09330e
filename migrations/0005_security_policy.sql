-- Roles whose holders must use two-factor login, kept in step with the SecurityPolicy aggregate's events in
-- the same transaction (commands::accounts::SecurityPolicyTable), read on every request.
CREATE TABLE two_factor_required_roles
(
    role text PRIMARY KEY
);

GRANT SELECT, INSERT, DELETE ON two_factor_required_roles TO aegis_app;
