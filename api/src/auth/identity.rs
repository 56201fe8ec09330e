//! The account flows behind the GraphQL fields: signing in and out, passwords, two-factor login, API
//! tokens, and user administration. Each flow checks its inputs, asks the `User` aggregate to decide, and
//! stores secrets (hashes, TOTP secrets, token records) in the same transaction as the events that mention
//! them.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::num::NonZeroUsize;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use commands::accounts::{
    self, Account, AccountChange, IssuedToken, SecurityPolicyTable, TokenKind, UserAccounts,
};
use commands::context::{Actor, Clock, CommandContext, IdempotencyKey};
use commands::password::{HashError, Password, PasswordHash, PasswordHasher, PasswordPolicy};
use commands::service::{CommandError, CommandOutcome, CommandService};
use commands::throttle::{LoginThrottle, ThrottleError, ThrottleKey, ThrottlePolicy};
use commands::totp::{self, RecoveryCodes, TotpSecret};
use domain::role::Role;
use domain::security_policy::{SecurityPolicy, SecurityPolicyCommand};
use domain::user::{
    DisplayName, Email, LoginFailure, TokenName, TokenScope, User, UserCommand, UserError,
};
use sqlx::PgPool;
use uuid::Uuid;

use super::session::{Authenticator, Principal};
use super::tokens::Claims;

/// How often a command that clashed with a concurrent one on the same user is tried in all: each round of a
/// clash lets one of the contenders through, so this many sign-ins of one user at once all get in.
const CONFLICT_ATTEMPTS: u64 = 32;

/// Settings of the account flows.
#[derive(Debug, Clone, Copy)]
pub struct IdentitySettings {
    /// Absolute lifetime of a browser session.
    pub session_ttl: Duration,
    /// Argon2 hashes allowed to run at once; further logins queue.
    pub concurrent_hashes: NonZeroUsize,
    pub throttle: ThrottlePolicy,
}

impl Default for IdentitySettings {
    fn default() -> Self {
        Self {
            session_ttl: Duration::from_secs(12 * 3600),
            concurrent_hashes: std::thread::available_parallelism().unwrap_or(NonZeroUsize::MIN),
            throttle: ThrottlePolicy::default(),
        }
    }
}

/// Why an account flow did not happen. The API maps each variant to one `extensions.code`.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    /// Wrong e-mail, password or second factor, or a deactivated account: one answer for all, so that it
    /// reveals nothing.
    #[error("the e-mail address or password is wrong")]
    InvalidCredentials,
    #[error("enter the code from your authenticator app (or a recovery code)")]
    SecondFactorRequired,
    #[error("too many failed sign-ins; try again in {} seconds", .retry_after.as_secs().max(1))]
    Throttled { retry_after: Duration },
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Rejected(UserError),
    #[error("no such user")]
    UnknownUser,
    #[error("{0}")]
    Conflict(String),
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl IdentityError {
    fn internal(error: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Internal(Box::new(error))
    }
}

impl From<CommandError<UserError>> for IdentityError {
    fn from(error: CommandError<UserError>) -> Self {
        match error {
            CommandError::Rejected(error) => Self::Rejected(error),
            error @ (CommandError::Conflict { .. }
            | CommandError::IdempotencyKeyReused
            | CommandError::Taken(_)) => Self::Conflict(error.to_string()),
            CommandError::Store(error) => Self::Internal(error),
        }
    }
}

impl From<HashError> for IdentityError {
    fn from(error: HashError) -> Self {
        Self::internal(error)
    }
}

impl From<sqlx::Error> for IdentityError {
    fn from(error: sqlx::Error) -> Self {
        Self::internal(error)
    }
}

/// A new session: the token for the cookie, and what the client should do next.
#[derive(Clone)]
pub struct SignedIn {
    pub user_id: Uuid,
    pub token: String,
    pub expires_at: DateTime<Utc>,
    pub password_change_required: bool,
}

impl std::fmt::Debug for SignedIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignedIn")
            .field("user_id", &self.user_id)
            .finish_non_exhaustive()
    }
}

/// The account flows, shared by every request.
#[derive(Clone)]
pub struct Identity {
    pool: PgPool,
    users: Arc<CommandService<User>>,
    security_policy: Arc<CommandService<SecurityPolicy>>,
    hasher: Arc<PasswordHasher>,
    throttle: LoginThrottle,
    authenticator: Authenticator,
    settings: IdentitySettings,
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identity")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// Where a request comes from, for metadata and throttling.
#[derive(Debug, Clone, Copy)]
pub struct RequestOrigin {
    pub correlation_id: Uuid,
    pub client_ip: Option<IpAddr>,
}

impl RequestOrigin {
    fn context(self, actor: Actor) -> CommandContext {
        self.command_context(actor, None)
    }

    /// The metadata of a command issued by this request.
    pub fn command_context(
        self,
        actor: Actor,
        idempotency_key: Option<IdempotencyKey>,
    ) -> CommandContext {
        CommandContext {
            actor,
            correlation_id: self.correlation_id,
            idempotency_key,
            client_ip: self.client_ip,
        }
    }
}

fn actor_of(principal: &Principal) -> Actor {
    Actor::user(principal.user_id, principal.roles.iter().copied())
}

/// Everything about a login attempt is recorded by Aegis itself, on the user's stream.
fn login_actor() -> Actor {
    Actor::system("login")
}

impl Identity {
    pub fn new(
        pool: PgPool,
        clock: Arc<dyn Clock>,
        authenticator: Authenticator,
        settings: IdentitySettings,
    ) -> Self {
        let users = CommandService::new(pool.clone(), (), Arc::clone(&clock))
            .with_write_model(UserAccounts::shared());
        let security_policy = CommandService::new(pool.clone(), (), clock)
            .with_write_model(Arc::new(SecurityPolicyTable));
        Self {
            throttle: LoginThrottle::new(pool.clone(), settings.throttle),
            hasher: Arc::new(PasswordHasher::new(settings.concurrent_hashes)),
            users: Arc::new(users),
            security_policy: Arc::new(security_policy),
            pool,
            authenticator,
            settings,
        }
    }

    pub fn authenticator(&self) -> &Authenticator {
        &self.authenticator
    }

    /// The absolute lifetime of a browser session.
    pub fn session_ttl(&self) -> Duration {
        self.settings.session_ttl
    }

    pub fn hasher(&self) -> &PasswordHasher {
        &self.hasher
    }

    fn now(&self) -> DateTime<Utc> {
        self.users.now()
    }

    /// Runs a `User` command and, since it may change credentials, forgets cached grants here at once
    /// (other replicas hear it from Postgres).
    async fn execute(
        &self,
        context: &CommandContext,
        user_id: Uuid,
        command: UserCommand,
        change: Option<AccountChange>,
    ) -> Result<CommandOutcome, IdentityError> {
        // The user's stream is shared by every session of theirs: two sign-ins at once (two tabs, a script)
        // clash on its sequence. Each attempt decides afresh, so retrying a clash is safe.
        let mut attempt = 0;
        let outcome = loop {
            let outcome = self
                .users
                .execute_with(
                    context,
                    &user_id.to_string(),
                    command.clone(),
                    change.clone().map(AccountChange::in_transaction),
                )
                .await;
            attempt += 1;
            match outcome {
                Err(CommandError::Conflict { .. }) if attempt < CONFLICT_ATTEMPTS => {
                    // A random pause, so that the losers of a clash do not meet again in lockstep.
                    let pause =
                        rand::Rng::gen_range(&mut rand::thread_rng(), 1..=5 * attempt.min(10));
                    tokio::time::sleep(Duration::from_millis(pause)).await;
                }
                outcome => break outcome,
            }
        };
        self.authenticator.forget_grants();
        Ok(outcome?)
    }

    /// The caller acting on their own account.
    async fn execute_own(
        &self,
        origin: RequestOrigin,
        principal: &Principal,
        command: UserCommand,
        change: Option<AccountChange>,
    ) -> Result<CommandOutcome, IdentityError> {
        let context = origin.context(actor_of(principal));
        self.execute(&context, principal.user_id, command, change)
            .await
    }

    /// Signs in with e-mail, password and, when enrolled, a TOTP or recovery code.
    pub async fn login(
        &self,
        origin: RequestOrigin,
        email: &str,
        password: &str,
        second_factor: Option<&str>,
    ) -> Result<SignedIn, IdentityError> {
        let now = self.now();
        let mut keys = vec![ThrottleKey::account(email)];
        keys.extend(origin.client_ip.map(ThrottleKey::Ip));
        let account = match Email::parse(email) {
            Ok(email) => accounts::find_by_email(&self.pool, email.as_str()).await?,
            Err(_) => None,
        };
        let context = origin.context(login_actor());
        let checked = self
            .keys_to_check(
                &keys,
                account.as_ref().map(|account| account.user_id),
                origin.client_ip,
            )
            .await?;

        if let Err(error) = self.throttle.check(checked, now).await {
            return Err(match error {
                ThrottleError::Throttled { retry_after } => {
                    if let Some(account) = &account {
                        self.record_failure_unawaited(
                            context,
                            account.user_id,
                            LoginFailure::Throttled,
                        );
                    }
                    IdentityError::Throttled { retry_after }
                }
                ThrottleError::Database(error) => IdentityError::internal(error),
            });
        }

        let Some(account) = account else {
            // Same cost as a real check, so timing does not tell which addresses exist.
            self.hasher.verify_against_nothing(password).await;
            self.throttle.record_failure(&keys, now).await?;
            return Err(IdentityError::InvalidCredentials);
        };
        if !self.password_matches(&account, password).await? {
            self.throttle.record_failure(&keys, now).await?;
            self.record_failure_unawaited(context, account.user_id, LoginFailure::WrongPassword);
            return Err(IdentityError::InvalidCredentials);
        }
        if !account.active {
            self.record_failure(&context, account.user_id, LoginFailure::Deactivated)
                .await;
            return Err(IdentityError::InvalidCredentials);
        }
        let second_factor_used = if account.totp_enabled {
            let Some(code) = second_factor else {
                return Err(IdentityError::SecondFactorRequired);
            };
            if !self
                .check_second_factor(&context, &account, code, now)
                .await?
            {
                self.throttle.record_failure(&keys, now).await?;
                self.record_failure(&context, account.user_id, LoginFailure::WrongSecondFactor)
                    .await;
                return Err(IdentityError::InvalidCredentials);
            }
            true
        } else {
            false
        };

        self.throttle.record_success(email, now).await?;
        let session_id = Uuid::now_v7();
        let expires_at =
            now + TimeDelta::from_std(self.settings.session_ttl).unwrap_or(TimeDelta::hours(12));
        let minted = self
            .authenticator
            .keys()
            .mint(&Claims {
                user_id: account.user_id,
                token_id: session_id,
                expires_at,
                read_only: false,
            })
            .map_err(IdentityError::internal)?;
        let record = accounts::store_token(IssuedToken {
            token_id: session_id,
            user_id: account.user_id,
            kind: TokenKind::Session,
            name: None,
            scope: scope_json(TokenScope::Full),
            revocation_id: minted.revocation_id,
            created_at: now,
            expires_at,
        });
        let command = UserCommand::RecordLogin {
            session_id,
            second_factor: second_factor_used,
        };
        self.execute(&context, account.user_id, command, Some(record))
            .await?;
        Ok(SignedIn {
            user_id: account.user_id,
            token: minted.value,
            expires_at,
            password_change_required: account.password_reset_required,
        })
    }

    async fn password_matches(
        &self,
        account: &Account,
        password: &str,
    ) -> Result<bool, IdentityError> {
        match account.password_hash.as_deref().map(PasswordHash::parse) {
            Some(Ok(hash)) => Ok(self.hasher.verify(password, &hash).await?),
            Some(Err(error)) => Err(error.into()),
            None => {
                self.hasher.verify_against_nothing(password).await;
                Ok(false)
            }
        }
    }

    /// A TOTP code (each usable once, across replicas) or a recovery code (removed when used).
    async fn check_second_factor(
        &self,
        context: &CommandContext,
        account: &Account,
        code: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, IdentityError> {
        let secret = account
            .totp_secret
            .as_deref()
            .and_then(|bytes| <[u8; 20]>::try_from(bytes).ok())
            .map(TotpSecret::from_bytes);
        if let Some(secret) = secret {
            let last_used = account
                .totp_last_step
                .and_then(|step| u64::try_from(step).ok());
            let unix = u64::try_from(now.timestamp()).unwrap_or_default();
            if let Ok(step) = totp::verify(&secret, code, unix, last_used) {
                let step = i64::try_from(step).unwrap_or(i64::MAX);
                return Ok(accounts::claim_totp_step(&self.pool, account.user_id, step).await?);
            }
        }
        let Some(index) = totp::recovery_code_matches(code, &account.recovery_codes) else {
            return Ok(false);
        };
        let removal =
            accounts::remove_recovery_code(account.user_id, account.recovery_codes[index]);
        match self
            .execute(
                context,
                account.user_id,
                UserCommand::UseRecoveryCode,
                Some(removal),
            )
            .await
        {
            Ok(_) => Ok(true),
            // Another request used the same code first.
            Err(IdentityError::Conflict(_)) => Ok(false),
            Err(error) => Err(error),
        }
    }

    /// Failed attempts are security events; failing to record one must not change the answer.
    /// The throttle keys a login is checked against, of `keys` (the tried account, then the client's address):
    /// an address the user has signed in from is spared the account's block and only its own counts, so that
    /// guesses from anywhere else cannot lock the user out where they work. Asked for unknown e-mail addresses
    /// too (of the nil id), so that timing does not tell them apart.
    async fn keys_to_check<'keys>(
        &self,
        keys: &'keys [ThrottleKey],
        user_id: Option<Uuid>,
        client_ip: Option<std::net::IpAddr>,
    ) -> Result<&'keys [ThrottleKey], sqlx::Error> {
        let Some(address) = client_ip else {
            return Ok(keys);
        };
        let known =
            accounts::has_logged_in_from(&self.pool, user_id.unwrap_or(Uuid::nil()), address)
                .await?;
        Ok(if known { &keys[1..] } else { keys })
    }

    /// [`Self::record_failure`] without the answer waiting for it, for the refusals anyone can provoke without
    /// the password: the event write is work an unknown e-mail address does not cost, so awaiting it let
    /// timing tell existing accounts from unknown ones (measured in api/tests/brute_force.rs).
    fn record_failure_unawaited(
        &self,
        context: CommandContext,
        user_id: Uuid,
        reason: LoginFailure,
    ) {
        let identity = self.clone();
        tokio::spawn(async move { identity.record_failure(&context, user_id, reason).await });
    }

    async fn record_failure(&self, context: &CommandContext, user_id: Uuid, reason: LoginFailure) {
        let command = UserCommand::RecordLoginFailure { reason };
        if let Err(error) = self.execute(context, user_id, command, None).await {
            tracing::warn!(%error, %user_id, "could not record a failed login");
        }
    }

    /// Records that `principal` was refused `operation` (failing to record must not change the answer).
    pub async fn record_access_denied(
        &self,
        origin: RequestOrigin,
        principal: &Principal,
        operation: &str,
    ) {
        let command = UserCommand::RecordAccessDenied {
            operation: operation.to_owned(),
        };
        if let Err(error) = self.execute_own(origin, principal, command, None).await {
            tracing::warn!(%error, user_id = %principal.user_id, "could not record a refused operation");
        }
    }

    /// Ends the caller's session: its token stops working on every replica at once.
    pub async fn logout(
        &self,
        origin: RequestOrigin,
        principal: &Principal,
    ) -> Result<(), IdentityError> {
        let command = UserCommand::RecordLogout {
            session_id: principal.token_id,
        };
        self.execute_own(origin, principal, command, None).await?;
        Ok(())
    }

    /// Changes the caller's password; the current one is required.
    pub async fn change_password(
        &self,
        origin: RequestOrigin,
        principal: &Principal,
        current: &str,
        new: &str,
    ) -> Result<(), IdentityError> {
        let account = accounts::find(&self.pool, principal.user_id)
            .await?
            .ok_or(IdentityError::UnknownUser)?;
        if !self.password_matches(&account, current).await? {
            return Err(IdentityError::Invalid(
                "the current password is wrong".to_owned(),
            ));
        }
        let password = Self::acceptable_password(new, &account.email)?;
        let hash = self.hasher.hash(&password).await?;
        let store = accounts::store_password_hash(principal.user_id, hash.as_str().to_owned());
        self.execute_own(origin, principal, UserCommand::ChangePassword, Some(store))
            .await?;
        Ok(())
    }

    fn acceptable_password(candidate: &str, email: &str) -> Result<Password, IdentityError> {
        PasswordPolicy::check(candidate, &[email])
            .map_err(|rejected| IdentityError::Invalid(rejected.to_string()))
    }

    /// Creates a user with a generated one-time password that must be changed at first sign-in, or with
    /// `password` when given (scripts, the first admin). Returns the id and the password to hand over.
    pub async fn create_user(
        &self,
        origin: RequestOrigin,
        actor: Actor,
        email: &str,
        display_name: &str,
        roles: BTreeSet<Role>,
        password: Option<&str>,
    ) -> Result<(Uuid, String), IdentityError> {
        let email = Email::parse(email).map_err(IdentityError::Rejected)?;
        let display_name = DisplayName::parse(display_name).map_err(IdentityError::Rejected)?;
        let (plain, must_change) = match password {
            Some(password) => (password.to_owned(), false),
            None => (one_time_password(), true),
        };
        let password = Self::acceptable_password(&plain, email.as_str())?;
        let hash = self.hasher.hash(&password).await?;
        let user_id = Uuid::now_v7();
        let context = origin.context(actor);
        let register = UserCommand::Register {
            email,
            display_name,
            roles,
        };
        let store = accounts::store_password_hash(user_id, hash.as_str().to_owned());
        self.execute(&context, user_id, register, Some(store))
            .await?;
        if must_change {
            self.execute(&context, user_id, UserCommand::RequirePasswordReset, None)
                .await?;
        }
        Ok((user_id, plain))
    }

    /// An administrative change to another user.
    pub async fn administer(
        &self,
        origin: RequestOrigin,
        principal: &Principal,
        user_id: Uuid,
        command: UserCommand,
    ) -> Result<CommandOutcome, IdentityError> {
        self.execute(&origin.context(actor_of(principal)), user_id, command, None)
            .await
    }

    /// Issues an API token, shown once.
    pub async fn create_api_token(
        &self,
        origin: RequestOrigin,
        principal: &Principal,
        name: &str,
        scope: TokenScope,
        expires_at: DateTime<Utc>,
    ) -> Result<(Uuid, String), IdentityError> {
        let name = TokenName::parse(name).map_err(IdentityError::Rejected)?;
        let token_id = Uuid::now_v7();
        let now = self.now();
        let minted = self
            .authenticator
            .keys()
            .mint(&Claims {
                user_id: principal.user_id,
                token_id,
                expires_at,
                read_only: scope != TokenScope::Full,
            })
            .map_err(IdentityError::internal)?;
        let record = accounts::store_token(IssuedToken {
            token_id,
            user_id: principal.user_id,
            kind: TokenKind::Api,
            name: Some(name.as_str().to_owned()),
            scope: scope_json(scope),
            revocation_id: minted.revocation_id,
            created_at: now,
            expires_at,
        });
        let command = UserCommand::CreateApiToken {
            token_id,
            name,
            scope,
            expires_at,
            now,
        };
        self.execute_own(origin, principal, command, Some(record))
            .await?;
        Ok((token_id, minted.value))
    }

    pub async fn revoke_api_token(
        &self,
        origin: RequestOrigin,
        principal: &Principal,
        token_id: Uuid,
    ) -> Result<(), IdentityError> {
        let command = UserCommand::RevokeApiToken { token_id };
        self.execute_own(origin, principal, command, None).await?;
        Ok(())
    }

    /// Changes the caller's own display name and/or e-mail address.
    pub async fn update_profile(
        &self,
        origin: RequestOrigin,
        principal: &Principal,
        user_id: Uuid,
        display_name: Option<&str>,
        email: Option<&str>,
    ) -> Result<(), IdentityError> {
        let context = origin.context(actor_of(principal));
        if let Some(display_name) = display_name {
            let display_name = DisplayName::parse(display_name).map_err(IdentityError::Rejected)?;
            self.execute(
                &context,
                user_id,
                UserCommand::ChangeDisplayName { display_name },
                None,
            )
            .await?;
        }
        if let Some(email) = email {
            let email = Email::parse(email).map_err(IdentityError::Rejected)?;
            self.execute(&context, user_id, UserCommand::ChangeEmail { email }, None)
                .await?;
        }
        Ok(())
    }

    /// Turns the caller's two-factor login off; a current code (or a recovery code) proves possession.
    pub async fn disable_two_factor(
        &self,
        origin: RequestOrigin,
        principal: &Principal,
        code: &str,
    ) -> Result<(), IdentityError> {
        let account = accounts::find(&self.pool, principal.user_id)
            .await?
            .ok_or(IdentityError::UnknownUser)?;
        if !account.totp_enabled {
            return Err(IdentityError::Rejected(UserError::TwoFactorNotEnabled));
        }
        let context = origin.context(actor_of(principal));
        if !self
            .check_second_factor(&context, &account, code, self.now())
            .await?
        {
            return Err(IdentityError::Invalid("the code is not valid".to_owned()));
        }
        self.execute(
            &context,
            principal.user_id,
            UserCommand::DisableTwoFactor,
            None,
        )
        .await?;
        Ok(())
    }

    /// Requires (or stops requiring) two-factor login of every holder of `role`.
    pub async fn set_two_factor_requirement(
        &self,
        origin: RequestOrigin,
        principal: &Principal,
        role: Role,
        required: bool,
    ) -> Result<(), IdentityError> {
        let command = if required {
            SecurityPolicyCommand::RequireTwoFactor { role }
        } else {
            SecurityPolicyCommand::WaiveTwoFactor { role }
        };
        let outcome = self
            .security_policy
            .execute(
                &origin.context(actor_of(principal)),
                SecurityPolicy::ID,
                command,
            )
            .await;
        self.authenticator.forget_grants();
        match outcome {
            Ok(_) => Ok(()),
            Err(CommandError::Rejected(rejected)) => {
                Err(IdentityError::Invalid(rejected.to_string()))
            }
            Err(CommandError::Store(error)) => Err(IdentityError::Internal(error)),
            Err(error) => Err(IdentityError::Conflict(error.to_string())),
        }
    }

    /// Roles whose holders must use two-factor login.
    pub async fn two_factor_required_roles(&self) -> Result<BTreeSet<Role>, IdentityError> {
        Ok(accounts::two_factor_required_roles(&self.pool).await?)
    }

    /// Starts two-factor enrolment: a new secret, as an otpauth URI for the authenticator app.
    pub async fn begin_two_factor(
        &self,
        principal: &Principal,
    ) -> Result<(String, String), IdentityError> {
        let account = accounts::find(&self.pool, principal.user_id)
            .await?
            .ok_or(IdentityError::UnknownUser)?;
        if account.totp_enabled {
            return Err(IdentityError::Rejected(UserError::TwoFactorAlreadyEnabled));
        }
        let secret = TotpSecret::generate();
        accounts::store_totp_secret(&self.pool, principal.user_id, secret.as_bytes()).await?;
        let uri = secret
            .otpauth_uri("Aegis", &account.email)
            .map_err(|error| IdentityError::Invalid(error.to_string()))?;
        Ok((secret.to_base32(), uri))
    }

    /// Confirms enrolment with a first code; returns the recovery codes, shown once.
    pub async fn confirm_two_factor(
        &self,
        origin: RequestOrigin,
        principal: &Principal,
        code: &str,
    ) -> Result<Vec<String>, IdentityError> {
        let account = accounts::find(&self.pool, principal.user_id)
            .await?
            .ok_or(IdentityError::UnknownUser)?;
        let secret = account
            .totp_secret
            .as_deref()
            .and_then(|bytes| <[u8; 20]>::try_from(bytes).ok())
            .map(TotpSecret::from_bytes)
            .ok_or_else(|| IdentityError::Invalid("start two-factor enrolment first".to_owned()))?;
        let unix = u64::try_from(self.now().timestamp()).unwrap_or_default();
        let step = totp::verify(&secret, code, unix, None).map_err(|_| {
            IdentityError::Invalid("the code is not valid; check the device's clock".to_owned())
        })?;
        accounts::claim_totp_step(
            &self.pool,
            principal.user_id,
            i64::try_from(step).unwrap_or(i64::MAX),
        )
        .await?;
        let codes = RecoveryCodes::generate(RecoveryCodes::DEFAULT_COUNT);
        let store = accounts::store_recovery_codes(principal.user_id, codes.digests().to_vec());
        self.execute_own(origin, principal, UserCommand::EnableTwoFactor, Some(store))
            .await?;
        Ok(codes.codes().to_vec())
    }

    /// Creates the first admin when no active admin exists; returns its e-mail and password to print once.
    pub async fn ensure_first_admin(
        &self,
        password: Option<&str>,
    ) -> Result<Option<(String, String)>, IdentityError> {
        if accounts::active_admin_exists(&self.pool).await? {
            return Ok(None);
        }
        let email = "admin@aegis.local";
        if let Some(account) = accounts::find_by_email(&self.pool, email).await? {
            // A deactivated first admin is the operator's decision; do not resurrect it silently.
            tracing::warn!(user_id = %account.user_id, "no active admin; {email} exists but is deactivated");
            return Ok(None);
        }
        let origin = RequestOrigin {
            correlation_id: Uuid::now_v7(),
            client_ip: None,
        };
        let created = self
            .create_user(
                origin,
                Actor::system("first-start"),
                email,
                "Administrator",
                BTreeSet::from([Role::Admin]),
                password,
            )
            .await;
        let password = match created {
            Ok((_, password)) => password,
            // Another replica starting at the same moment created it.
            Err(IdentityError::Conflict(_)) => return Ok(None),
            Err(error) => return Err(error),
        };
        Ok(Some((email.to_owned(), password)))
    }
}

fn scope_json(scope: TokenScope) -> serde_json::Value {
    serde_json::to_value(scope).unwrap_or_default()
}

/// 20 characters from a 56-symbol alphabet (~116 bits): strong, and unambiguous when read aloud.
fn one_time_password() -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyzABCDEFGHJKMNPQRSTUVWXYZ23456789";
    let mut rng = rand::rngs::OsRng;
    (0..20)
        .map(|_| char::from(ALPHABET[rng.gen_range(0..ALPHABET.len())]))
        .collect()
}
