//! The write side's account records: what signing in and checking a token need, kept in step with the
//! `User` aggregate's events in the same transaction (so an e-mail address is unique at once, and a
//! deactivation or revocation takes effect at once), plus the secrets the events never carry.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use domain::role::Role;
use domain::security_policy::{SecurityPolicy, SecurityPolicyEvent};
use domain::user::{User, UserEvent};
use serde_json::Value;
use sqlx::{PgConnection, PgPool, Row};
use uuid::Uuid;

use crate::event_log::{InTransaction, WriteModelError};
use crate::service::WriteModel;

/// Mirrors `User` events into `accounts` and `auth_tokens`.
#[derive(Debug, Clone, Copy, Default)]
pub struct UserAccounts;

impl UserAccounts {
    pub fn shared() -> Arc<dyn WriteModel<User>> {
        Arc::new(Self)
    }
}

impl WriteModel<User> for UserAccounts {
    fn changes(
        &self,
        aggregate_id: &str,
        events: &[UserEvent],
        occurred_at: DateTime<Utc>,
    ) -> Option<InTransaction> {
        if events.is_empty() {
            return None;
        }
        let aggregate_id = aggregate_id.to_owned();
        let events = events.to_vec();
        Some(Box::new(move |connection: &mut PgConnection| {
            Box::pin(async move {
                let user_id = Uuid::parse_str(&aggregate_id).map_err(|_| {
                    WriteModelError::Database(sqlx::Error::Protocol(format!(
                        "user ids are UUIDs, not {aggregate_id:?}"
                    )))
                })?;
                for event in &events {
                    apply(connection, user_id, event, occurred_at).await?;
                }
                Ok(())
            })
        }))
    }
}

async fn apply(
    connection: &mut PgConnection,
    user_id: Uuid,
    event: &UserEvent,
    occurred_at: DateTime<Utc>,
) -> Result<(), WriteModelError> {
    match event {
        UserEvent::Registered { email, roles, .. } => {
            let roles: Vec<&str> = roles.iter().map(|role| role.as_str()).collect();
            sqlx::query(
                "INSERT INTO accounts (user_id, email, roles, active) VALUES ($1, $2, $3, true)",
            )
            .bind(user_id)
            .bind(email.as_str())
            .bind(&roles)
            .execute(connection)
            .await
            .map_err(email_taken)?;
        }
        UserEvent::EmailChanged { email } => {
            set_text(connection, user_id, "email = $2", email.as_str())
                .await
                .map_err(email_taken)?;
        }
        UserEvent::RoleGranted { role } => {
            set_text(
                connection,
                user_id,
                "roles = array_append(roles, $2)",
                role.as_str(),
            )
            .await?;
        }
        UserEvent::RoleRevoked { role } => {
            set_text(
                connection,
                user_id,
                "roles = array_remove(roles, $2)",
                role.as_str(),
            )
            .await?;
        }
        UserEvent::Deactivated => {
            set(connection, user_id, "active = false").await?;
            // Every session and token of theirs dies with the account, not at its expiry.
            sqlx::query(
                "UPDATE auth_tokens SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL",
            )
            .bind(user_id)
            .bind(occurred_at)
            .execute(connection)
            .await?;
        }
        UserEvent::Reactivated => {
            set(connection, user_id, "active = true").await?;
        }
        UserEvent::LoggedOut { session_id }
        | UserEvent::ApiTokenRevoked {
            token_id: session_id,
        } => {
            sqlx::query("UPDATE auth_tokens SET revoked_at = $3 WHERE user_id = $1 AND token_id = $2 AND revoked_at IS NULL")
                .bind(user_id)
                .bind(session_id)
                .bind(occurred_at)
                .execute(connection)
                .await?;
        }
        UserEvent::PasswordResetRequired => {
            set(connection, user_id, "password_reset_required = true").await?;
        }
        UserEvent::PasswordChanged => {
            set(connection, user_id, "password_reset_required = false").await?;
        }
        UserEvent::TwoFactorEnabled => {
            set(connection, user_id, "totp_enabled = true").await?;
        }
        UserEvent::TwoFactorDisabled => {
            let cleared = "totp_enabled = false, totp_secret = NULL, totp_last_step = NULL, recovery_codes = '{}'";
            set(connection, user_id, cleared).await?;
        }
        UserEvent::DisplayNameChanged { .. }
        | UserEvent::LoggedIn { .. }
        | UserEvent::LoginFailed { .. }
        | UserEvent::RecoveryCodeUsed
        | UserEvent::ApiTokenCreated { .. }
        | UserEvent::AccessDenied { .. } => {}
    }
    Ok(())
}

/// `UPDATE accounts SET <assignments> WHERE user_id = $1`.
async fn set(
    connection: &mut PgConnection,
    user_id: Uuid,
    assignments: &str,
) -> Result<(), sqlx::Error> {
    let updated = sqlx::query(&format!(
        "UPDATE accounts SET {assignments}, updated_at = now() WHERE user_id = $1"
    ))
    .bind(user_id)
    .execute(connection)
    .await?;
    exactly_one(updated.rows_affected(), user_id)
}

/// [`set`] with one text parameter, `$2`.
async fn set_text(
    connection: &mut PgConnection,
    user_id: Uuid,
    assignments: &str,
    value: &str,
) -> Result<(), sqlx::Error> {
    let updated = sqlx::query(&format!(
        "UPDATE accounts SET {assignments}, updated_at = now() WHERE user_id = $1"
    ))
    .bind(user_id)
    .bind(value)
    .execute(connection)
    .await?;
    exactly_one(updated.rows_affected(), user_id)
}

/// An account change that touched no row is a bug in the caller's order of work: fail loudly.
fn exactly_one(rows: u64, user_id: Uuid) -> Result<(), sqlx::Error> {
    if rows == 1 {
        Ok(())
    } else {
        Err(sqlx::Error::Protocol(format!(
            "no account row for user {user_id}"
        )))
    }
}

fn email_taken(error: sqlx::Error) -> WriteModelError {
    let constraint = error
        .as_database_error()
        .and_then(|error| error.constraint());
    if constraint == Some("accounts_email_key") {
        WriteModelError::Taken("e-mail address")
    } else {
        WriteModelError::Database(error)
    }
}

/// Mirrors the `SecurityPolicy` aggregate's two-factor requirements into `two_factor_required_roles`.
#[derive(Debug, Clone, Copy, Default)]
pub struct SecurityPolicyTable;

impl WriteModel<SecurityPolicy> for SecurityPolicyTable {
    fn changes(
        &self,
        _aggregate_id: &str,
        events: &[SecurityPolicyEvent],
        _occurred_at: DateTime<Utc>,
    ) -> Option<InTransaction> {
        if events.is_empty() {
            return None;
        }
        let events = events.to_vec();
        Some(Box::new(move |connection: &mut PgConnection| {
            Box::pin(async move {
                for event in &events {
                    let (statement, role) = match event {
                        SecurityPolicyEvent::TwoFactorRequired { role } => (
                            "INSERT INTO two_factor_required_roles (role) VALUES ($1) ON CONFLICT DO NOTHING",
                            role,
                        ),
                        SecurityPolicyEvent::TwoFactorWaived { role } => (
                            "DELETE FROM two_factor_required_roles WHERE role = $1",
                            role,
                        ),
                    };
                    sqlx::query(statement)
                        .bind(role.as_str())
                        .execute(&mut *connection)
                        .await?;
                }
                Ok(())
            })
        }))
    }
}

/// Roles whose holders must use two-factor login.
pub async fn two_factor_required_roles(pool: &PgPool) -> Result<BTreeSet<Role>, sqlx::Error> {
    let names: Vec<String> = sqlx::query_scalar("SELECT role FROM two_factor_required_roles")
        .fetch_all(pool)
        .await?;
    Ok(roles(&names))
}

/// A change to the account records that must commit with the event that mentions it. A value rather than a
/// closure so that a command retried after a conflict can apply it again.
#[derive(Clone, PartialEq)]
pub enum AccountChange {
    PasswordHash {
        user_id: Uuid,
        phc: String,
    },
    RecoveryCodes {
        user_id: Uuid,
        digests: Vec<[u8; 32]>,
    },
    RemoveRecoveryCode {
        user_id: Uuid,
        digest: [u8; 32],
    },
    Token(IssuedToken),
}

impl std::fmt::Debug for AccountChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Hashes and digests stay out of logs.
        let kind = match self {
            Self::PasswordHash { .. } => "PasswordHash",
            Self::RecoveryCodes { .. } => "RecoveryCodes",
            Self::RemoveRecoveryCode { .. } => "RemoveRecoveryCode",
            Self::Token(_) => "Token",
        };
        f.debug_tuple("AccountChange").field(&kind).finish()
    }
}

impl AccountChange {
    pub fn in_transaction(self) -> InTransaction {
        match self {
            Self::PasswordHash { user_id, phc } => store_password_hash_in_transaction(user_id, phc),
            Self::RecoveryCodes { user_id, digests } => {
                store_recovery_codes_in_transaction(user_id, digests)
            }
            Self::RemoveRecoveryCode { user_id, digest } => {
                remove_recovery_code_in_transaction(user_id, digest)
            }
            Self::Token(token) => store_token_in_transaction(token),
        }
    }
}

/// Stores a new password hash, with `PasswordChanged` (or the registration).
pub fn store_password_hash(user_id: Uuid, phc: String) -> AccountChange {
    AccountChange::PasswordHash { user_id, phc }
}

/// Stores the digests of freshly shown recovery codes, with `TwoFactorEnabled`.
pub fn store_recovery_codes(user_id: Uuid, digests: Vec<[u8; 32]>) -> AccountChange {
    AccountChange::RecoveryCodes { user_id, digests }
}

/// Removes a used recovery code, with `RecoveryCodeUsed`; fails (rolling the event back) when another request
/// used it first.
pub fn remove_recovery_code(user_id: Uuid, digest: [u8; 32]) -> AccountChange {
    AccountChange::RemoveRecoveryCode { user_id, digest }
}

/// Records an issued token, with the `LoggedIn` or `ApiTokenCreated` event that mentions it.
pub fn store_token(token: IssuedToken) -> AccountChange {
    AccountChange::Token(token)
}

/// What signing in needs to know about an account.
#[derive(Clone, PartialEq, Eq)]
pub struct Account {
    pub user_id: Uuid,
    pub email: String,
    pub roles: BTreeSet<Role>,
    pub active: bool,
    /// Argon2id PHC string, `None` until a password is set.
    pub password_hash: Option<String>,
    pub password_reset_required: bool,
    pub totp_secret: Option<Vec<u8>>,
    pub totp_enabled: bool,
    pub totp_last_step: Option<i64>,
    /// SHA-256 digests of the unused recovery codes.
    pub recovery_codes: Vec<[u8; 32]>,
}

impl std::fmt::Debug for Account {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Secrets stay out of logs.
        f.debug_struct("Account")
            .field("user_id", &self.user_id)
            .field("email", &self.email)
            .field("roles", &self.roles)
            .field("active", &self.active)
            .field("totp_enabled", &self.totp_enabled)
            .finish_non_exhaustive()
    }
}

const ACCOUNT_COLUMNS: &str = "user_id, email, roles, active, password_hash, password_reset_required, totp_secret, \
                               totp_enabled, totp_last_step, recovery_codes";

/// The account with this (normalised) e-mail address.
pub async fn find_by_email(pool: &PgPool, email: &str) -> Result<Option<Account>, sqlx::Error> {
    let row = sqlx::query(&format!(
        "SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE email = $1"
    ))
    .bind(email)
    .fetch_optional(pool)
    .await?;
    row.map(|row| account(&row)).transpose()
}

/// Whether the user has signed in from `address` before (a `UserLoggedIn` event carries it in its metadata).
/// Login throttling spares such an address the account's block, so that guesses from elsewhere cannot lock
/// the user out of the places they sign in from.
pub async fn has_logged_in_from(
    pool: &PgPool,
    user_id: Uuid,
    address: IpAddr,
) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM events
                         WHERE aggregate_type = 'User' AND aggregate_id = $1
                           AND event_type = 'UserLoggedIn' AND metadata->>'client_ip' = $2)",
    )
    .bind(user_id.to_string())
    .bind(address.to_string())
    .fetch_one(pool)
    .await
}

pub async fn find(pool: &PgPool, user_id: Uuid) -> Result<Option<Account>, sqlx::Error> {
    let row = sqlx::query(&format!(
        "SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE user_id = $1"
    ))
    .bind(user_id)
    .fetch_optional(pool)
    .await?;
    row.map(|row| account(&row)).transpose()
}

/// Whether any active account holds the admin role (first start creates one when none does).
pub async fn active_admin_exists(pool: &PgPool) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM accounts WHERE active AND 'admin' = ANY (roles))",
    )
    .fetch_one(pool)
    .await
}

fn account(row: &sqlx::postgres::PgRow) -> Result<Account, sqlx::Error> {
    let recovery_codes: Vec<Vec<u8>> = row.try_get("recovery_codes")?;
    Ok(Account {
        user_id: row.try_get("user_id")?,
        email: row.try_get("email")?,
        roles: roles(&row.try_get::<Vec<String>, _>("roles")?),
        active: row.try_get("active")?,
        password_hash: row.try_get("password_hash")?,
        password_reset_required: row.try_get("password_reset_required")?,
        totp_secret: row.try_get("totp_secret")?,
        totp_enabled: row.try_get("totp_enabled")?,
        totp_last_step: row.try_get("totp_last_step")?,
        recovery_codes: recovery_codes
            .into_iter()
            .filter_map(|digest| digest.try_into().ok())
            .collect(),
    })
}

/// Stored role names back to roles; a name this version does not know grants nothing.
fn roles(names: &[String]) -> BTreeSet<Role> {
    names.iter().filter_map(|name| name.parse().ok()).collect()
}

/// Stores a new password hash, in the transaction that records `PasswordChanged` (or registers the user).
fn store_password_hash_in_transaction(user_id: Uuid, phc: String) -> InTransaction {
    Box::new(move |connection: &mut PgConnection| {
        Box::pin(async move {
            set_text(connection, user_id, "password_hash = $2", &phc).await?;
            Ok(())
        })
    })
}

/// Starts TOTP enrolment: the secret is kept, but second-factor login only starts with `TwoFactorEnabled`.
pub async fn store_totp_secret(
    pool: &PgPool,
    user_id: Uuid,
    secret: &[u8],
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE accounts SET totp_secret = $2, totp_last_step = NULL, updated_at = now() WHERE user_id = $1")
        .bind(user_id)
        .bind(secret)
        .execute(pool)
        .await?;
    Ok(())
}

/// Claims a TOTP time step for this account: false when that step (or a later one) was already used, so a
/// code works once even when two replicas see it at the same moment.
pub async fn claim_totp_step(pool: &PgPool, user_id: Uuid, step: i64) -> Result<bool, sqlx::Error> {
    let claimed = sqlx::query(
        "UPDATE accounts SET totp_last_step = $2
          WHERE user_id = $1 AND (totp_last_step IS NULL OR totp_last_step < $2)",
    )
    .bind(user_id)
    .bind(step)
    .execute(pool)
    .await?;
    Ok(claimed.rows_affected() == 1)
}

/// Stores the digests of freshly shown recovery codes, with `TwoFactorEnabled`.
fn store_recovery_codes_in_transaction(user_id: Uuid, digests: Vec<[u8; 32]>) -> InTransaction {
    Box::new(move |connection: &mut PgConnection| {
        Box::pin(async move {
            let digests: Vec<Vec<u8>> = digests.iter().map(|digest| digest.to_vec()).collect();
            sqlx::query(
                "UPDATE accounts SET recovery_codes = $2, updated_at = now() WHERE user_id = $1",
            )
            .bind(user_id)
            .bind(&digests)
            .execute(connection)
            .await?;
            Ok(())
        })
    })
}

/// Removes a used recovery code, with `RecoveryCodeUsed`; fails (rolling the event back) when another
/// request used it first.
fn remove_recovery_code_in_transaction(user_id: Uuid, digest: [u8; 32]) -> InTransaction {
    Box::new(move |connection: &mut PgConnection| {
        Box::pin(async move {
            let removed = sqlx::query(
                "UPDATE accounts SET recovery_codes = array_remove(recovery_codes, $2), updated_at = now()
                  WHERE user_id = $1 AND $2 = ANY (recovery_codes)",
            )
            .bind(user_id)
            .bind(digest.as_slice())
            .execute(connection)
            .await?;
            if removed.rows_affected() == 1 {
                Ok(())
            } else {
                Err(WriteModelError::Taken("recovery code"))
            }
        })
    })
}

/// A session or API token Aegis issued.
#[derive(Debug, Clone, PartialEq)]
pub struct IssuedToken {
    pub token_id: Uuid,
    pub user_id: Uuid,
    pub kind: TokenKind,
    pub name: Option<String>,
    pub scope: Value,
    /// The biscuit's authority-block revocation id, shared by every attenuated copy.
    pub revocation_id: Vec<u8>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    Session,
    Api,
}

impl TokenKind {
    const fn as_str(self) -> &'static str {
        match self {
            Self::Session => "session",
            Self::Api => "api",
        }
    }
}

/// Records an issued token, with the `LoggedIn` or `ApiTokenCreated` event that mentions it.
fn store_token_in_transaction(token: IssuedToken) -> InTransaction {
    Box::new(move |connection: &mut PgConnection| {
        Box::pin(async move {
            sqlx::query(
                "INSERT INTO auth_tokens (token_id, user_id, kind, name, scope, revocation_id, created_at, expires_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(token.token_id)
            .bind(token.user_id)
            .bind(token.kind.as_str())
            .bind(&token.name)
            .bind(&token.scope)
            .bind(&token.revocation_id)
            .bind(token.created_at)
            .bind(token.expires_at)
            .execute(connection)
            .await?;
            Ok(())
        })
    })
}

/// A presented token's record and its account's current state: what every request is checked against.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenGrant {
    pub token_id: Uuid,
    pub user_id: Uuid,
    pub kind: TokenKind,
    pub scope: Value,
    pub expires_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub account_active: bool,
    pub roles: BTreeSet<Role>,
    pub password_reset_required: bool,
    /// A role of the account requires two-factor login and the account has not enrolled.
    pub two_factor_enrolment_required: bool,
}

/// The grant behind a token, found by any of its revocation ids (one per block; Aegis records the first).
pub async fn token_grant(
    pool: &PgPool,
    revocation_ids: &[Vec<u8>],
) -> Result<Option<TokenGrant>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT t.token_id, t.user_id, t.kind, t.scope, t.expires_at, t.revoked_at,
                a.active, a.roles, a.password_reset_required,
                NOT a.totp_enabled AND EXISTS (
                    SELECT 1 FROM two_factor_required_roles r WHERE r.role = ANY (a.roles)
                ) AS two_factor_enrolment_required
           FROM auth_tokens t JOIN accounts a USING (user_id)
          WHERE t.revocation_id = ANY ($1)",
    )
    .bind(revocation_ids)
    .fetch_optional(pool)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let kind: String = row.try_get("kind")?;
    Ok(Some(TokenGrant {
        token_id: row.try_get("token_id")?,
        user_id: row.try_get("user_id")?,
        kind: if kind == "api" {
            TokenKind::Api
        } else {
            TokenKind::Session
        },
        scope: row.try_get("scope")?,
        expires_at: row.try_get("expires_at")?,
        revoked_at: row.try_get("revoked_at")?,
        account_active: row.try_get("active")?,
        roles: roles(&row.try_get::<Vec<String>, _>("roles")?),
        password_reset_required: row.try_get("password_reset_required")?,
        two_factor_enrolment_required: row.try_get("two_factor_enrolment_required")?,
    }))
}

/// A user's API tokens, newest first (never their values: those were shown once).
pub async fn api_tokens(
    pool: &PgPool,
    user_id: Uuid,
) -> Result<Vec<IssuedTokenSummary>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT token_id, name, scope, created_at, expires_at, revoked_at FROM auth_tokens
          WHERE user_id = $1 AND kind = 'api' ORDER BY created_at DESC",
    )
    .bind(user_id)
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(IssuedTokenSummary {
                token_id: row.try_get("token_id")?,
                name: row
                    .try_get::<Option<String>, _>("name")?
                    .unwrap_or_default(),
                scope: row.try_get("scope")?,
                created_at: row.try_get("created_at")?,
                expires_at: row.try_get("expires_at")?,
                revoked_at: row.try_get("revoked_at")?,
            })
        })
        .collect()
}

/// One API token as its owner lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct IssuedTokenSummary {
    pub token_id: Uuid,
    pub name: String,
    pub scope: Value,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}
