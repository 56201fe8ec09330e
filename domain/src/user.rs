//! The `User` aggregate: who may use Aegis, under which name and e-mail address, with which roles.
//!
//! Passwords and sessions live outside the domain; nothing here is a secret, so events may be read by any
//! projection. Uniqueness of e-mail addresses across users needs a read model and is checked by the
//! command layer, not here.

use std::collections::BTreeSet;
use std::fmt;

use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

use crate::role::Role;

/// Upper bound from RFC 5321 (a path is at most 256 octets including the angle brackets).
const EMAIL_MAX_CHARS: usize = 254;
/// Long enough for any real name, short enough for every table and badge in the UI.
const DISPLAY_NAME_MAX_CHARS: usize = 100;

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

    /// The normalised address.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Email {
    type Error = UserError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<Email> for String {
    fn from(email: Email) -> Self {
        email.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.0)
    }
}

/// The name shown for a user: trimmed, 1 to 100 characters, no control characters (which would break
/// layouts and logs). Case is kept as typed.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct DisplayName(String);

impl DisplayName {
    /// Trims and checks `input`; the reason for a rejection is in [`UserError::InvalidDisplayName`].
    pub fn parse(input: &str) -> Result<Self, UserError> {
        let invalid = |reason: &str| Err(UserError::InvalidDisplayName(reason.to_owned()));
        let name = input.trim();
        if name.is_empty() {
            return invalid("it is empty");
        }
        // Characters, not bytes: a name in Greek or Japanese must get the same room as one in English.
        if name.chars().count() > DISPLAY_NAME_MAX_CHARS {
            return invalid("it is longer than 100 characters");
        }
        if name.chars().any(char::is_control) {
            return invalid("it contains control characters");
        }
        Ok(Self(name.to_owned()))
    }

    /// The trimmed name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for DisplayName {
    type Error = UserError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<DisplayName> for String {
    fn from(name: DisplayName) -> Self {
        name.0
    }
}

impl fmt::Display for DisplayName {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.0)
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
    /// Any command but `Reactivate` on a deactivated user.
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
}

/// A user's current state, rebuilt from its events.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    registered: bool,
    email: Option<Email>,
    display_name: Option<DisplayName>,
    roles: BTreeSet<Role>,
    active: bool,
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

    /// Decides which events `command` produces, without changing anything.
    ///
    /// The arms are the rules, checked top to bottom: registration first, then existence, then
    /// reactivation (the one command a deactivated user accepts), then the rest. Asking for the current
    /// name or address again succeeds with no event, so a retried request is harmless.
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
        }
    }
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
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use cqrs_es::test::TestFramework;

    use super::*;

    fn email(input: &str) -> Email {
        Email::parse(input).unwrap()
    }

    fn name(input: &str) -> DisplayName {
        DisplayName::parse(input).unwrap()
    }

    fn roles(roles: &[Role]) -> BTreeSet<Role> {
        roles.iter().copied().collect()
    }

    fn registered_as(user_roles: &[Role]) -> UserEvent {
        UserEvent::Registered {
            email: email("ada@example.com"),
            display_name: name("Ada Lovelace"),
            roles: roles(user_roles),
        }
    }

    fn registered() -> UserEvent {
        registered_as(&[Role::RedLead])
    }

    fn framework() -> TestFramework<User> {
        TestFramework::with(())
    }

    /// Every command except `Register` and `Reactivate`, i.e. those a deactivated user rejects.
    fn commands_rejected_when_deactivated() -> Vec<UserCommand> {
        vec![
            UserCommand::ChangeDisplayName {
                display_name: name("Grace Hopper"),
            },
            UserCommand::ChangeEmail {
                email: email("grace@example.com"),
            },
            UserCommand::GrantRole { role: Role::Admin },
            UserCommand::RevokeRole {
                role: Role::RedLead,
            },
            UserCommand::Deactivate,
        ]
    }

    // Email

    #[test]
    fn email_is_trimmed_and_lower_cased() {
        assert_eq!(
            email("  Ada.Lovelace@Example.COM \n").as_str(),
            "ada.lovelace@example.com"
        );
    }

    #[test]
    fn email_of_254_characters_is_accepted() {
        let address = format!("{}@example.com", "a".repeat(254 - "@example.com".len()));
        assert_eq!(email(&address).as_str(), address);
    }

    #[test]
    fn email_rejects_each_malformed_address_with_its_reason() {
        let too_long = format!("{}@example.com", "a".repeat(255 - "@example.com".len()));
        let cases = [
            ("   ", "it is empty"),
            (too_long.as_str(), "it is longer than 254 characters"),
            (
                "ada lovelace@example.com",
                "it contains spaces or control characters",
            ),
            (
                "ada\u{7}@example.com",
                "it contains spaces or control characters",
            ),
            ("ada.example.com", "it must contain an '@'"),
            ("ada@lovelace@example.com", "it must contain only one '@'"),
            ("@example.com", "the part before the '@' is empty"),
            (
                "ada@localhost",
                "the domain after the '@' must contain a '.' and must not start or end with one",
            ),
            (
                "ada@.example.com",
                "the domain after the '@' must contain a '.' and must not start or end with one",
            ),
            (
                "ada@example.com.",
                "the domain after the '@' must contain a '.' and must not start or end with one",
            ),
        ];
        for (input, reason) in cases {
            assert_eq!(
                Email::parse(input),
                Err(UserError::InvalidEmail(reason.to_owned())),
                "input {input:?}"
            );
        }
    }

    #[test]
    fn email_serializes_as_a_plain_string_and_is_checked_when_read() {
        assert_eq!(
            serde_json::to_string(&email("ada@example.com")).unwrap(),
            "\"ada@example.com\""
        );
        assert_eq!(
            serde_json::from_str::<Email>("\"Ada@Example.com\"").unwrap(),
            email("ada@example.com")
        );
        assert!(serde_json::from_str::<Email>("\"not an address\"").is_err());
    }

    // DisplayName

    #[test]
    fn display_name_is_trimmed_and_keeps_its_case() {
        assert_eq!(name("  Ada Lovelace\t").as_str(), "Ada Lovelace");
    }

    #[test]
    fn display_name_length_counts_characters_not_bytes() {
        let greek = "λ".repeat(100);
        assert_eq!(name(&greek).as_str(), greek);
    }

    #[test]
    fn display_name_rejects_each_bad_name_with_its_reason() {
        let too_long = "a".repeat(101);
        let cases = [
            ("", "it is empty"),
            (" \t ", "it is empty"),
            (too_long.as_str(), "it is longer than 100 characters"),
            ("Ada\nLovelace", "it contains control characters"),
        ];
        for (input, reason) in cases {
            assert_eq!(
                DisplayName::parse(input),
                Err(UserError::InvalidDisplayName(reason.to_owned())),
                "input {input:?}"
            );
        }
    }

    #[test]
    fn display_name_serializes_as_a_plain_string_and_is_checked_when_read() {
        assert_eq!(serde_json::to_string(&name("Ada")).unwrap(), "\"Ada\"");
        assert!(serde_json::from_str::<DisplayName>("\"\"").is_err());
    }

    // Register

    #[test]
    fn register_creates_an_active_user() {
        framework()
            .given_no_previous_events()
            .when(UserCommand::Register {
                email: email("ada@example.com"),
                display_name: name("Ada Lovelace"),
                roles: roles(&[Role::RedLead]),
            })
            .then_expect_events(vec![registered()]);
    }

    #[test]
    fn register_twice_is_rejected() {
        framework()
            .given(vec![registered()])
            .when(UserCommand::Register {
                email: email("grace@example.com"),
                display_name: name("Grace Hopper"),
                roles: roles(&[Role::Viewer]),
            })
            .then_expect_error(UserError::AlreadyRegistered);
    }

    #[test]
    fn register_without_roles_is_rejected() {
        framework()
            .given_no_previous_events()
            .when(UserCommand::Register {
                email: email("ada@example.com"),
                display_name: name("Ada Lovelace"),
                roles: BTreeSet::new(),
            })
            .then_expect_error(UserError::NoRoles);
    }

    #[test]
    fn every_other_command_on_an_unregistered_user_is_rejected() {
        let mut commands = commands_rejected_when_deactivated();
        commands.push(UserCommand::Reactivate);
        for command in commands {
            framework()
                .given_no_previous_events()
                .when(command)
                .then_expect_error(UserError::NotRegistered);
        }
    }

    // Deactivate and Reactivate

    #[test]
    fn deactivate_locks_the_user_out() {
        framework()
            .given(vec![registered()])
            .when(UserCommand::Deactivate)
            .then_expect_events(vec![UserEvent::Deactivated]);
    }

    #[test]
    fn every_command_but_reactivate_on_a_deactivated_user_is_rejected() {
        for command in commands_rejected_when_deactivated() {
            framework()
                .given(vec![registered(), UserEvent::Deactivated])
                .when(command)
                .then_expect_error(UserError::Deactivated);
        }
    }

    #[test]
    fn reactivate_lets_a_deactivated_user_back_in() {
        framework()
            .given(vec![registered(), UserEvent::Deactivated])
            .when(UserCommand::Reactivate)
            .then_expect_events(vec![UserEvent::Reactivated]);
    }

    #[test]
    fn reactivate_an_active_user_is_rejected() {
        framework()
            .given(vec![
                registered(),
                UserEvent::Deactivated,
                UserEvent::Reactivated,
            ])
            .when(UserCommand::Reactivate)
            .then_expect_error(UserError::AlreadyActive);
    }

    // ChangeDisplayName and ChangeEmail

    #[test]
    fn change_display_name_renames_the_user() {
        framework()
            .given(vec![registered()])
            .when(UserCommand::ChangeDisplayName {
                display_name: name("Countess of Lovelace"),
            })
            .then_expect_events(vec![UserEvent::DisplayNameChanged {
                display_name: name("Countess of Lovelace"),
            }]);
    }

    #[test]
    fn change_display_name_to_the_current_one_changes_nothing() {
        framework()
            .given(vec![registered()])
            .when(UserCommand::ChangeDisplayName {
                display_name: name(" Ada Lovelace "),
            })
            .then_expect_events(vec![]);
    }

    #[test]
    fn change_email_moves_the_user_to_the_new_address() {
        framework()
            .given(vec![registered()])
            .when(UserCommand::ChangeEmail {
                email: email("countess@example.com"),
            })
            .then_expect_events(vec![UserEvent::EmailChanged {
                email: email("countess@example.com"),
            }]);
    }

    #[test]
    fn change_email_to_the_current_one_changes_nothing() {
        framework()
            .given(vec![registered()])
            .when(UserCommand::ChangeEmail {
                email: email("ADA@example.com"),
            })
            .then_expect_events(vec![]);
    }

    // GrantRole and RevokeRole

    #[test]
    fn grant_role_adds_the_role() {
        framework()
            .given(vec![registered()])
            .when(UserCommand::GrantRole {
                role: Role::BlueLead,
            })
            .then_expect_events(vec![UserEvent::RoleGranted {
                role: Role::BlueLead,
            }]);
    }

    #[test]
    fn grant_role_already_held_is_rejected() {
        framework()
            .given(vec![registered()])
            .when(UserCommand::GrantRole {
                role: Role::RedLead,
            })
            .then_expect_error(UserError::RoleAlreadyGranted(Role::RedLead));
    }

    #[test]
    fn revoke_role_removes_the_role() {
        framework()
            .given(vec![registered_as(&[Role::RedLead, Role::Viewer])])
            .when(UserCommand::RevokeRole {
                role: Role::RedLead,
            })
            .then_expect_events(vec![UserEvent::RoleRevoked {
                role: Role::RedLead,
            }]);
    }

    #[test]
    fn revoke_role_not_held_is_rejected() {
        framework()
            .given(vec![registered_as(&[Role::RedLead, Role::Viewer])])
            .when(UserCommand::RevokeRole { role: Role::Admin })
            .then_expect_error(UserError::RoleNotGranted(Role::Admin));
    }

    #[test]
    fn revoke_last_role_is_rejected() {
        framework()
            .given(vec![
                registered_as(&[Role::RedLead, Role::Viewer]),
                UserEvent::RoleRevoked { role: Role::Viewer },
            ])
            .when(UserCommand::RevokeRole {
                role: Role::RedLead,
            })
            .then_expect_error(UserError::LastRole);
    }

    // State and events

    #[test]
    fn state_follows_the_events() {
        let mut user = User::default();
        assert!(!user.is_registered());
        assert!(!user.is_active());
        assert_eq!(user.email(), None);

        for event in [
            registered(),
            UserEvent::DisplayNameChanged {
                display_name: name("Countess of Lovelace"),
            },
            UserEvent::EmailChanged {
                email: email("countess@example.com"),
            },
            UserEvent::RoleGranted { role: Role::Admin },
            UserEvent::RoleRevoked {
                role: Role::RedLead,
            },
            UserEvent::Deactivated,
        ] {
            user.apply(event);
        }

        assert!(user.is_registered());
        assert!(!user.is_active());
        assert_eq!(user.email(), Some(&email("countess@example.com")));
        assert_eq!(user.display_name(), Some(&name("Countess of Lovelace")));
        assert_eq!(user.roles(), &roles(&[Role::Admin]));

        user.apply(UserEvent::Reactivated);
        assert!(user.is_active());
    }

    /// Every event with the JSON stored for it at version 1. These literals are the persisted contract:
    /// if one stops matching, write an upcaster instead of editing the literal.
    fn stored_v1_events() -> Vec<(UserEvent, &'static str, &'static str)> {
        vec![
            (
                registered_as(&[Role::Viewer, Role::RedLead]),
                "UserRegistered",
                r#"{"Registered":{"email":"ada@example.com","display_name":"Ada Lovelace","roles":["red_lead","viewer"]}}"#,
            ),
            (
                UserEvent::DisplayNameChanged {
                    display_name: name("Countess of Lovelace"),
                },
                "UserDisplayNameChanged",
                r#"{"DisplayNameChanged":{"display_name":"Countess of Lovelace"}}"#,
            ),
            (
                UserEvent::EmailChanged {
                    email: email("countess@example.com"),
                },
                "UserEmailChanged",
                r#"{"EmailChanged":{"email":"countess@example.com"}}"#,
            ),
            (
                UserEvent::RoleGranted {
                    role: Role::BlueTech,
                },
                "UserRoleGranted",
                r#"{"RoleGranted":{"role":"blue_tech"}}"#,
            ),
            (
                UserEvent::RoleRevoked { role: Role::Admin },
                "UserRoleRevoked",
                r#"{"RoleRevoked":{"role":"admin"}}"#,
            ),
            (
                UserEvent::Deactivated,
                "UserDeactivated",
                r#""Deactivated""#,
            ),
            (
                UserEvent::Reactivated,
                "UserReactivated",
                r#""Reactivated""#,
            ),
        ]
    }

    #[test]
    fn every_event_round_trips_through_json() {
        for (event, _, _) in stored_v1_events() {
            let json = serde_json::to_string(&event).unwrap();
            assert_eq!(serde_json::from_str::<UserEvent>(&json).unwrap(), event);
        }
    }

    #[test]
    fn stored_v1_payloads_still_deserialize() {
        for (event, event_type, stored) in stored_v1_events() {
            assert_eq!(serde_json::from_str::<UserEvent>(stored).unwrap(), event);
            assert_eq!(event.event_type(), event_type);
            assert_eq!(event.event_version(), "1");
        }
    }
}
