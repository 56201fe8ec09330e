//! The `User` aggregate: who may use Aegis, under which name and e-mail address, with which roles, and the
//! security lifecycle of the account (logins, password changes, second factor, API tokens, refused access).
//!
//! Secrets never enter the domain: password hashes, TOTP secrets, recovery codes and token values are
//! checked and stored by the command layer outside the event log. Events record only the facts an auditor
//! reads ("a login failed because of a wrong password", "token X was revoked"), so any projection may read
//! them. Uniqueness of e-mail addresses across users needs a read model and is checked by the command layer,
//! not here.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, TimeDelta, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::role::Role;
use crate::text::{label, string_newtype};

/// Upper bound from RFC 5321 (a path is at most 256 octets including the angle brackets).
const EMAIL_MAX_CHARS: usize = 254;
/// Long enough for any real name, short enough for every table and badge in the UI.
const DISPLAY_NAME_MAX_CHARS: usize = 100;
/// Same room as a display name: a token name is a label in a list.
const TOKEN_NAME_MAX_CHARS: usize = 100;
/// A year, plus one day so that "one year from today" is always accepted, leap years included.
const TOKEN_MAX_LIFETIME_DAYS: i64 = 366;
/// Operation names are GraphQL paths such as "Mutation.grantRole"; anything longer is not a name.
const OPERATION_MAX_CHARS: usize = 200;

/// A normalised e-mail address: trimmed and lower-cased, so two spellings of one address compare equal.
///
/// The check is deliberately shallow (one `@`, a dotted domain, no whitespace): only sending a message proves
/// an address, and stricter grammars reject real addresses.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);

impl Email {
    /// Normalises and checks `input`; the reason for a rejection is in [`UserError::InvalidEmail`].
    pub fn parse(input: &str) -> Result<Self, UserError> {
        let invalid = |reason: &str| Err(UserError::InvalidEmail(reason.to_owned()));
        let email = input.trim().to_lowercase();
        if email.is_empty() {
            return invalid("it is empty");
        }
        if email.chars().count() > EMAIL_MAX_CHARS {
            return invalid("it is longer than 254 characters");
        }
        if email.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return invalid("it contains spaces or control characters");
        }
        let Some((local, domain)) = email.split_once('@') else {
            return invalid("it must contain an '@'");
        };
        if domain.contains('@') {
            return invalid("it must contain only one '@'");
        }
        if local.is_empty() {
            return invalid("the part before the '@' is empty");
        }
        if !domain.contains('.') || domain.starts_with('.') || domain.ends_with('.') {
            return invalid(
                "the domain after the '@' must contain a '.' and must not start or end with one",
            );
        }
        Ok(Self(email))
    }
}

string_newtype!(Email, UserError);

/// The name shown for a user: trimmed, 1 to 100 characters, no control characters (which would break
/// layouts and logs). Case is kept as typed.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct DisplayName(String);

impl DisplayName {
    /// Trims and checks `input`; the reason for a rejection is in [`UserError::InvalidDisplayName`].
    pub fn parse(input: &str) -> Result<Self, UserError> {
        label(input, DISPLAY_NAME_MAX_CHARS)
            .map(|name| Self(name.to_owned()))
            .map_err(UserError::InvalidDisplayName)
    }
}

string_newtype!(DisplayName, UserError);

/// The label a user gives an API token so they can tell their tokens apart: trimmed, 1 to 100 characters,
/// no control characters. Never the token's value.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TokenName(String);

impl TokenName {
    /// Trims and checks `input`; the reason for a rejection is in [`UserError::InvalidTokenName`].
    pub fn parse(input: &str) -> Result<Self, UserError> {
        label(input, TOKEN_NAME_MAX_CHARS)
            .map(|name| Self(name.to_owned()))
            .map_err(UserError::InvalidTokenName)
    }
}

string_newtype!(TokenName, UserError);

/// What an API token may do. Persisted inside `ApiTokenCreated` as an object tagged by `kind`
/// (`{"kind":"read_only"}`), so a variant's name and fields are part of the event schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TokenScope {
    /// Whatever the user's roles allow at the time the token is used, not at the time it was created.
    Full,
    /// Reads everything the user may read, changes nothing.
    ReadOnly,
    /// Reads one campaign the user may read, changes nothing.
    CampaignReadOnly { campaign_id: Uuid },
}

/// Why a login was refused, as the auditor sees it. Persisted by name (`"wrong_password"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LoginFailure {
    /// The password did not match.
    WrongPassword,
    /// The password matched but the TOTP code or recovery code did not.
    WrongSecondFactor,
    /// The credentials may have been right, but the user is deactivated.
    Deactivated,
    /// Too many recent failures; the attempt was not checked at all.
    Throttled,
}

/// An API token as the aggregate remembers it: its label, what it may do, until when, and whether it was
/// revoked. The token's value is not here; the command layer keeps only a hash of it, outside the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiToken {
    name: TokenName,
    scope: TokenScope,
    expires_at: DateTime<Utc>,
    revoked: bool,
}

impl ApiToken {
    /// The label the user gave the token.
    pub fn name(&self) -> &TokenName {
        &self.name
    }

    /// What the token may do.
    pub fn scope(&self) -> TokenScope {
        self.scope
    }

    /// The instant from which the token is no longer accepted.
    pub fn expires_at(&self) -> DateTime<Utc> {
        self.expires_at
    }

    /// Whether `RevokeApiToken` happened; a revoked token never comes back.
    pub fn is_revoked(&self) -> bool {
        self.revoked
    }

    /// Whether the token may be used at `now`: not revoked and not yet expired. Whether its user is active
    /// is a separate check ([`User::is_active`]).
    pub fn is_usable_at(&self, now: DateTime<Utc>) -> bool {
        !self.revoked && now < self.expires_at
    }
}

/// What may be asked of a user. Serializable because the command layer hashes the serialized form to
/// recognise a retried command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum UserCommand {
    /// Create the user with at least one role; the user starts active.
    Register {
        email: Email,
        display_name: DisplayName,
        roles: BTreeSet<Role>,
    },
    /// Rename the user.
    ChangeDisplayName { display_name: DisplayName },
    /// Move the user to another e-mail address.
    ChangeEmail { email: Email },
    /// Add a role the user does not hold yet.
    GrantRole { role: Role },
    /// Remove a role the user holds, never the last one.
    RevokeRole { role: Role },
    /// Lock the user out while keeping their history.
    Deactivate,
    /// Let a deactivated user back in.
    Reactivate,
    /// Record a successful login, after the command layer checked the password and, if `second_factor`,
    /// a TOTP code or recovery code.
    RecordLogin {
        session_id: Uuid,
        second_factor: bool,
    },
    /// Record a refused login. Accepted for deactivated users, since that is one of the reasons.
    RecordLoginFailure { reason: LoginFailure },
    /// Record the end of a session. Never refused for a registered user.
    RecordLogout { session_id: Uuid },
    /// Record that the user's password was replaced; the command layer stores the new hash.
    ChangePassword,
    /// Require the user to choose a new password at their next login.
    RequirePasswordReset,
    /// Turn on the second factor; the command layer stores the TOTP secret and recovery codes.
    EnableTwoFactor,
    /// Turn off the second factor (by the user or by an admin; authorisation is checked elsewhere).
    DisableTwoFactor,
    /// Record that one of the user's recovery codes was spent in place of a TOTP code.
    UseRecoveryCode,
    /// Create an API token identified by `token_id`, valid until `expires_at`. `now` is the time of the
    /// request and bounds the lifetime; it is not recorded.
    CreateApiToken {
        token_id: Uuid,
        name: TokenName,
        scope: TokenScope,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    },
    /// Revoke one of the user's API tokens for good. Accepted for deactivated users: taking access away is
    /// always safe.
    RevokeApiToken { token_id: Uuid },
    /// Record that the user was refused `operation` (a name such as "Mutation.grantRole", 1 to 200
    /// characters, no control characters).
    RecordAccessDenied { operation: String },
}

/// What happened to a user. Persisted: a variant's shape never changes (see the crate docs).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum UserEvent {
    /// The user exists from now on, active, with these roles.
    Registered {
        email: Email,
        display_name: DisplayName,
        roles: BTreeSet<Role>,
    },
    /// The user's display name is now `display_name`.
    DisplayNameChanged { display_name: DisplayName },
    /// The user's e-mail address is now `email`.
    EmailChanged { email: Email },
    /// The user holds `role` from now on.
    RoleGranted { role: Role },
    /// The user no longer holds `role`.
    RoleRevoked { role: Role },
    /// The user may no longer act.
    Deactivated,
    /// The user may act again.
    Reactivated,
    /// The user logged in and `session_id` began; `second_factor` tells whether a second factor was checked.
    LoggedIn {
        session_id: Uuid,
        second_factor: bool,
    },
    /// A login as the user was refused for `reason`.
    LoginFailed { reason: LoginFailure },
    /// The session `session_id` ended.
    LoggedOut { session_id: Uuid },
    /// The user's password was replaced; any required reset is done.
    PasswordChanged,
    /// The user must choose a new password at their next login.
    PasswordResetRequired,
    /// Logins need a second factor from now on.
    TwoFactorEnabled,
    /// Logins no longer need a second factor.
    TwoFactorDisabled,
    /// One of the user's recovery codes was spent.
    RecoveryCodeUsed,
    /// The user has a new API token `token_id`, valid until `expires_at`.
    ApiTokenCreated {
        token_id: Uuid,
        name: TokenName,
        scope: TokenScope,
        expires_at: DateTime<Utc>,
    },
    /// The API token `token_id` is no longer accepted.
    ApiTokenRevoked { token_id: Uuid },
    /// The user asked for `operation` and was refused.
    AccessDenied { operation: String },
}

impl DomainEvent for UserEvent {
    fn event_type(&self) -> String {
        match self {
            UserEvent::Registered { .. } => "UserRegistered",
            UserEvent::DisplayNameChanged { .. } => "UserDisplayNameChanged",
            UserEvent::EmailChanged { .. } => "UserEmailChanged",
            UserEvent::RoleGranted { .. } => "UserRoleGranted",
            UserEvent::RoleRevoked { .. } => "UserRoleRevoked",
            UserEvent::Deactivated => "UserDeactivated",
            UserEvent::Reactivated => "UserReactivated",
            UserEvent::LoggedIn { .. } => "UserLoggedIn",
            UserEvent::LoginFailed { .. } => "UserLoginFailed",
            UserEvent::LoggedOut { .. } => "UserLoggedOut",
            UserEvent::PasswordChanged => "UserPasswordChanged",
            UserEvent::PasswordResetRequired => "UserPasswordResetRequired",
            UserEvent::TwoFactorEnabled => "UserTwoFactorEnabled",
            UserEvent::TwoFactorDisabled => "UserTwoFactorDisabled",
            UserEvent::RecoveryCodeUsed => "UserRecoveryCodeUsed",
            UserEvent::ApiTokenCreated { .. } => "UserApiTokenCreated",
            UserEvent::ApiTokenRevoked { .. } => "UserApiTokenRevoked",
            UserEvent::AccessDenied { .. } => "UserAccessDenied",
        }
        .to_owned()
    }

    fn event_version(&self) -> String {
        "1".to_owned()
    }
}

/// Why a user command or a user value was rejected. The messages are written for end users.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UserError {
    /// The input is not an acceptable e-mail address; carries the reason.
    #[error("The e-mail address is not valid: {0}.")]
    InvalidEmail(String),
    /// The input is not an acceptable display name; carries the reason.
    #[error("The display name is not valid: {0}.")]
    InvalidDisplayName(String),
    /// `Register` on a user that already exists.
    #[error("This user is already registered.")]
    AlreadyRegistered,
    /// Any command but `Register` on a user that does not exist.
    #[error("This user is not registered.")]
    NotRegistered,
    /// `Register` with an empty role set.
    #[error("A user needs at least one role.")]
    NoRoles,
    /// A command a deactivated user may not give: anything but `Reactivate`, `RecordLoginFailure`,
    /// `RecordLogout`, `RevokeApiToken` and `RecordAccessDenied`.
    #[error("This user is deactivated; reactivate the user first.")]
    Deactivated,
    /// `GrantRole` of a role the user already holds.
    #[error("The user already has the role {0}.")]
    RoleAlreadyGranted(Role),
    /// `RevokeRole` of a role the user does not hold.
    #[error("The user does not have the role {0}.")]
    RoleNotGranted(Role),
    /// `RevokeRole` of the user's only role; a user without roles is deactivated instead.
    #[error("The user's last role cannot be revoked; deactivate the user instead.")]
    LastRole,
    /// `Reactivate` on a user that is active.
    #[error("This user is already active.")]
    AlreadyActive,
    /// The input is not an acceptable API token name; carries the reason.
    #[error("The token name is not valid: {0}.")]
    InvalidTokenName(String),
    /// `EnableTwoFactor` when the second factor is on.
    #[error("Two-factor authentication is already enabled for this user.")]
    TwoFactorAlreadyEnabled,
    /// `DisableTwoFactor` or `UseRecoveryCode` when the second factor is off.
    #[error("Two-factor authentication is not enabled for this user.")]
    TwoFactorNotEnabled,
    /// `CreateApiToken` with an expiry at or before the time of the request.
    #[error("The token's expiry date must be in the future.")]
    TokenExpiresInPast,
    /// `CreateApiToken` with an expiry more than 366 days after the time of the request.
    #[error("An API token may be valid for at most 366 days; choose an earlier expiry date.")]
    TokenLifetimeTooLong,
    /// `CreateApiToken` with the id of a token the user already has.
    #[error("The user already has an API token with the id {0}.")]
    DuplicateToken(Uuid),
    /// `RevokeApiToken` of a token this user never had.
    #[error("The user has no API token with the id {0}.")]
    UnknownToken(Uuid),
    /// `RevokeApiToken` of a token that is already revoked.
    #[error("The API token {0} is already revoked.")]
    TokenAlreadyRevoked(Uuid),
    /// `RecordAccessDenied` with an operation name that is blank, longer than 200 characters or contains
    /// control characters.
    #[error(
        "The name of the refused operation must be 1 to 200 characters without control characters."
    )]
    InvalidOperation,
}

/// A user's current state, rebuilt from its events. Also persisted as a snapshot, so fields added later
/// carry `#[serde(default)]` and older snapshots still load.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[expect(
    clippy::struct_excessive_bools,
    reason = "independent flags, and `registered` and `active` are already in stored snapshots"
)]
pub struct User {
    registered: bool,
    email: Option<Email>,
    display_name: Option<DisplayName>,
    roles: BTreeSet<Role>,
    active: bool,
    #[serde(default)]
    password_reset_required: bool,
    #[serde(default)]
    two_factor_enabled: bool,
    #[serde(default)]
    api_tokens: BTreeMap<Uuid, ApiToken>,
}

impl User {
    /// Whether `Registered` has happened.
    pub fn is_registered(&self) -> bool {
        self.registered
    }

    /// Whether the user may act: registered and not deactivated.
    pub fn is_active(&self) -> bool {
        self.active
    }

    /// The roles the user holds; empty before registration.
    pub fn roles(&self) -> &BTreeSet<Role> {
        &self.roles
    }

    /// The current e-mail address; `None` before registration.
    pub fn email(&self) -> Option<&Email> {
        self.email.as_ref()
    }

    /// The current display name; `None` before registration.
    pub fn display_name(&self) -> Option<&DisplayName> {
        self.display_name.as_ref()
    }

    /// Whether the user must choose a new password before doing anything else.
    pub fn password_reset_required(&self) -> bool {
        self.password_reset_required
    }

    /// Whether logins need a second factor.
    pub fn two_factor_enabled(&self) -> bool {
        self.two_factor_enabled
    }

    /// Every API token the user ever created, revoked and expired ones included, by id.
    pub fn api_tokens(&self) -> &BTreeMap<Uuid, ApiToken> {
        &self.api_tokens
    }

    /// The API token `token_id`, if this user created it.
    pub fn api_token(&self, token_id: Uuid) -> Option<&ApiToken> {
        self.api_tokens.get(&token_id)
    }

    /// Decides which events `command` produces, without changing anything.
    ///
    /// The arms are the rules, checked top to bottom: registration first, then existence, then the commands
    /// a deactivated user accepts (reactivation, recording what happened to the account, and taking access
    /// away, which is always safe), then the rest. Asking for the current name or address again, or for a
    /// password reset that is already required, succeeds with no event, so a retried request is harmless.
    pub fn decide(&self, command: UserCommand) -> Result<Vec<UserEvent>, UserError> {
        match command {
            UserCommand::Register { .. } if self.registered => Err(UserError::AlreadyRegistered),
            UserCommand::Register { roles, .. } if roles.is_empty() => Err(UserError::NoRoles),
            UserCommand::Register {
                email,
                display_name,
                roles,
            } => Ok(vec![UserEvent::Registered {
                email,
                display_name,
                roles,
            }]),
            _ if !self.registered => Err(UserError::NotRegistered),
            UserCommand::Reactivate if self.active => Err(UserError::AlreadyActive),
            UserCommand::Reactivate => Ok(vec![UserEvent::Reactivated]),
            UserCommand::RecordLoginFailure { reason } => {
                Ok(vec![UserEvent::LoginFailed { reason }])
            }
            UserCommand::RecordLogout { session_id } => {
                Ok(vec![UserEvent::LoggedOut { session_id }])
            }
            UserCommand::RevokeApiToken { token_id } => self.decide_revoke_api_token(token_id),
            UserCommand::RecordAccessDenied { operation } if !is_operation_name(&operation) => {
                Err(UserError::InvalidOperation)
            }
            UserCommand::RecordAccessDenied { operation } => {
                Ok(vec![UserEvent::AccessDenied { operation }])
            }
            _ if !self.active => Err(UserError::Deactivated),
            UserCommand::ChangeDisplayName { display_name }
                if self.display_name.as_ref() == Some(&display_name) =>
            {
                Ok(vec![])
            }
            UserCommand::ChangeDisplayName { display_name } => {
                Ok(vec![UserEvent::DisplayNameChanged { display_name }])
            }
            UserCommand::ChangeEmail { email } if self.email.as_ref() == Some(&email) => Ok(vec![]),
            UserCommand::ChangeEmail { email } => Ok(vec![UserEvent::EmailChanged { email }]),
            UserCommand::GrantRole { role } if self.roles.contains(&role) => {
                Err(UserError::RoleAlreadyGranted(role))
            }
            UserCommand::GrantRole { role } => Ok(vec![UserEvent::RoleGranted { role }]),
            UserCommand::RevokeRole { role } if !self.roles.contains(&role) => {
                Err(UserError::RoleNotGranted(role))
            }
            UserCommand::RevokeRole { .. } if self.roles.len() == 1 => Err(UserError::LastRole),
            UserCommand::RevokeRole { role } => Ok(vec![UserEvent::RoleRevoked { role }]),
            UserCommand::Deactivate => Ok(vec![UserEvent::Deactivated]),
            UserCommand::RecordLogin {
                session_id,
                second_factor,
            } => Ok(vec![UserEvent::LoggedIn {
                session_id,
                second_factor,
            }]),
            UserCommand::ChangePassword => Ok(vec![UserEvent::PasswordChanged]),
            UserCommand::RequirePasswordReset if self.password_reset_required => Ok(vec![]),
            UserCommand::RequirePasswordReset => Ok(vec![UserEvent::PasswordResetRequired]),
            UserCommand::EnableTwoFactor if self.two_factor_enabled => {
                Err(UserError::TwoFactorAlreadyEnabled)
            }
            UserCommand::EnableTwoFactor => Ok(vec![UserEvent::TwoFactorEnabled]),
            UserCommand::DisableTwoFactor | UserCommand::UseRecoveryCode
                if !self.two_factor_enabled =>
            {
                Err(UserError::TwoFactorNotEnabled)
            }
            UserCommand::DisableTwoFactor => Ok(vec![UserEvent::TwoFactorDisabled]),
            UserCommand::UseRecoveryCode => Ok(vec![UserEvent::RecoveryCodeUsed]),
            UserCommand::CreateApiToken {
                token_id,
                name,
                scope,
                expires_at,
                now,
            } => self.decide_create_api_token(token_id, name, scope, expires_at, now),
        }
    }

    /// The rules of `CreateApiToken` once the user is known to be active: the expiry must lie in the
    /// future but within the lifetime limit, and the id must be new.
    fn decide_create_api_token(
        &self,
        token_id: Uuid,
        name: TokenName,
        scope: TokenScope,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Vec<UserEvent>, UserError> {
        if expires_at <= now {
            return Err(UserError::TokenExpiresInPast);
        }
        if exceeds_token_lifetime(now, expires_at) {
            return Err(UserError::TokenLifetimeTooLong);
        }
        if self.api_tokens.contains_key(&token_id) {
            return Err(UserError::DuplicateToken(token_id));
        }
        Ok(vec![UserEvent::ApiTokenCreated {
            token_id,
            name,
            scope,
            expires_at,
        }])
    }

    /// The rules of `RevokeApiToken`, whether or not the user is active: the token must be one of the
    /// user's and not revoked yet. An expired token may still be revoked, so the log says it was.
    fn decide_revoke_api_token(&self, token_id: Uuid) -> Result<Vec<UserEvent>, UserError> {
        match self.api_tokens.get(&token_id) {
            None => Err(UserError::UnknownToken(token_id)),
            Some(token) if token.revoked => Err(UserError::TokenAlreadyRevoked(token_id)),
            Some(_) => Ok(vec![UserEvent::ApiTokenRevoked { token_id }]),
        }
    }
}

/// Whether `operation` may stand in the audit log as the name of a refused operation: not blank, at most
/// 200 characters, and free of control characters that could forge lines in logs.
fn is_operation_name(operation: &str) -> bool {
    !operation.trim().is_empty()
        && operation.chars().count() <= OPERATION_MAX_CHARS
        && !operation.chars().any(char::is_control)
}

/// Whether a token created at `now` and expiring at `expires_at` would live longer than allowed. Where
/// `now` plus the limit is past the end of the calendar, no expiry can be too late.
fn exceeds_token_lifetime(now: DateTime<Utc>, expires_at: DateTime<Utc>) -> bool {
    now.checked_add_signed(TimeDelta::days(TOKEN_MAX_LIFETIME_DAYS))
        .is_some_and(|latest| expires_at > latest)
}

impl Aggregate for User {
    const TYPE: &'static str = "User";
    type Command = UserCommand;
    type Event = UserEvent;
    type Error = UserError;
    type Services = ();

    async fn handle(
        &mut self,
        command: UserCommand,
        _services: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), UserError> {
        for event in self.decide(command)? {
            // The sink applies each event, so `self` is current when the command layer reads it back.
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: UserEvent) {
        match event {
            UserEvent::Registered {
                email,
                display_name,
                roles,
            } => {
                self.registered = true;
                self.active = true;
                self.email = Some(email);
                self.display_name = Some(display_name);
                self.roles = roles;
            }
            UserEvent::DisplayNameChanged { display_name } => {
                self.display_name = Some(display_name);
            }
            UserEvent::EmailChanged { email } => self.email = Some(email),
            UserEvent::RoleGranted { role } => {
                self.roles.insert(role);
            }
            UserEvent::RoleRevoked { role } => {
                self.roles.remove(&role);
            }
            UserEvent::Deactivated => self.active = false,
            UserEvent::Reactivated => self.active = true,
            // Facts for the audit log; no rule depends on them.
            UserEvent::LoggedIn { .. }
            | UserEvent::LoginFailed { .. }
            | UserEvent::LoggedOut { .. }
            | UserEvent::RecoveryCodeUsed
            | UserEvent::AccessDenied { .. } => {}
            UserEvent::PasswordChanged => self.password_reset_required = false,
            UserEvent::PasswordResetRequired => self.password_reset_required = true,
            UserEvent::TwoFactorEnabled => self.two_factor_enabled = true,
            UserEvent::TwoFactorDisabled => self.two_factor_enabled = false,
            UserEvent::ApiTokenCreated {
                token_id,
                name,
                scope,
                expires_at,
            } => {
                let token = ApiToken {
                    name,
                    scope,
                    expires_at,
                    revoked: false,
                };
                self.api_tokens.insert(token_id, token);
            }
            UserEvent::ApiTokenRevoked { token_id } => {
                if let Some(token) = self.api_tokens.get_mut(&token_id) {
                    token.revoked = true;
                }
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
