//! The aggregate's tests: value types, the original account commands and the persisted-event contract here,
//! the security lifecycle in [`security`].

use cqrs_es::test::TestFramework;

use super::*;

mod security;

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

/// A fixed id, readable in the stored literals (`id(1)` is "00000000-0000-0000-0000-000000000001").
fn id(number: u128) -> Uuid {
    Uuid::from_u128(number)
}

/// An instant written as RFC 3339, e.g. "2025-03-01T12:00:00Z".
fn at(rfc3339: &str) -> DateTime<Utc> {
    rfc3339.parse().unwrap()
}

fn token_name(input: &str) -> TokenName {
    TokenName::parse(input).unwrap()
}

/// The token `token_id`, created with full scope and valid until 2026-03-01.
fn token_created(token_id: Uuid) -> UserEvent {
    UserEvent::ApiTokenCreated {
        token_id,
        name: token_name("CI pipeline"),
        scope: TokenScope::Full,
        expires_at: at("2026-03-01T12:00:00Z"),
    }
}

/// A valid `CreateApiToken` for `token_id`, requested on 2025-03-01 for a year.
fn create_token(token_id: Uuid) -> UserCommand {
    UserCommand::CreateApiToken {
        token_id,
        name: token_name("CI pipeline"),
        scope: TokenScope::Full,
        expires_at: at("2026-03-01T12:00:00Z"),
        now: at("2025-03-01T12:00:00Z"),
    }
}

/// The commands a deactivated user accepts besides `Reactivate`: each records a fact about the account or
/// takes access away. Valid for a user who created the token `id(1)`.
fn commands_accepted_when_deactivated() -> Vec<UserCommand> {
    vec![
        UserCommand::RecordLoginFailure {
            reason: LoginFailure::Deactivated,
        },
        UserCommand::RecordLogout { session_id: id(7) },
        UserCommand::RevokeApiToken { token_id: id(1) },
        UserCommand::RecordAccessDenied {
            operation: "Mutation.grantRole".to_owned(),
        },
    ]
}

/// Every command a deactivated user rejects with `Deactivated`, each valid for an active user.
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
        UserCommand::RecordLogin {
            session_id: id(7),
            second_factor: false,
        },
        UserCommand::ChangePassword,
        UserCommand::RequirePasswordReset,
        UserCommand::EnableTwoFactor,
        UserCommand::DisableTwoFactor,
        UserCommand::UseRecoveryCode,
        create_token(id(2)),
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
    commands.extend(commands_accepted_when_deactivated());
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
fn every_command_a_deactivated_user_may_not_give_is_rejected() {
    // Two-factor is on, so that `DisableTwoFactor` and `UseRecoveryCode` fail for being deactivated only.
    for command in commands_rejected_when_deactivated() {
        framework()
            .given(vec![
                registered(),
                UserEvent::TwoFactorEnabled,
                UserEvent::Deactivated,
            ])
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
    let mut events = vec![
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
    ];
    events.extend(stored_v1_sign_in_events());
    events.extend(stored_v1_api_token_and_access_events());
    events
}

/// The stored JSON of logins, passwords and the second factor, part of [`stored_v1_events`].
fn stored_v1_sign_in_events() -> Vec<(UserEvent, &'static str, &'static str)> {
    vec![
        (
            UserEvent::LoggedIn {
                session_id: id(7),
                second_factor: true,
            },
            "UserLoggedIn",
            r#"{"LoggedIn":{"session_id":"00000000-0000-0000-0000-000000000007","second_factor":true}}"#,
        ),
        (
            UserEvent::LoginFailed {
                reason: LoginFailure::WrongPassword,
            },
            "UserLoginFailed",
            r#"{"LoginFailed":{"reason":"wrong_password"}}"#,
        ),
        (
            UserEvent::LoginFailed {
                reason: LoginFailure::WrongSecondFactor,
            },
            "UserLoginFailed",
            r#"{"LoginFailed":{"reason":"wrong_second_factor"}}"#,
        ),
        (
            UserEvent::LoginFailed {
                reason: LoginFailure::Deactivated,
            },
            "UserLoginFailed",
            r#"{"LoginFailed":{"reason":"deactivated"}}"#,
        ),
        (
            UserEvent::LoginFailed {
                reason: LoginFailure::Throttled,
            },
            "UserLoginFailed",
            r#"{"LoginFailed":{"reason":"throttled"}}"#,
        ),
        (
            UserEvent::LoggedOut { session_id: id(7) },
            "UserLoggedOut",
            r#"{"LoggedOut":{"session_id":"00000000-0000-0000-0000-000000000007"}}"#,
        ),
        (
            UserEvent::PasswordChanged,
            "UserPasswordChanged",
            r#""PasswordChanged""#,
        ),
        (
            UserEvent::PasswordResetRequired,
            "UserPasswordResetRequired",
            r#""PasswordResetRequired""#,
        ),
        (
            UserEvent::TwoFactorEnabled,
            "UserTwoFactorEnabled",
            r#""TwoFactorEnabled""#,
        ),
        (
            UserEvent::TwoFactorDisabled,
            "UserTwoFactorDisabled",
            r#""TwoFactorDisabled""#,
        ),
        (
            UserEvent::RecoveryCodeUsed,
            "UserRecoveryCodeUsed",
            r#""RecoveryCodeUsed""#,
        ),
    ]
}

/// The stored JSON of API tokens and refused access, part of [`stored_v1_events`].
fn stored_v1_api_token_and_access_events() -> Vec<(UserEvent, &'static str, &'static str)> {
    vec![
        (
            token_created(id(1)),
            "UserApiTokenCreated",
            r#"{"ApiTokenCreated":{"token_id":"00000000-0000-0000-0000-000000000001","name":"CI pipeline","scope":{"kind":"full"},"expires_at":"2026-03-01T12:00:00Z"}}"#,
        ),
        (
            UserEvent::ApiTokenCreated {
                token_id: id(2),
                name: token_name("Dashboard"),
                scope: TokenScope::ReadOnly,
                expires_at: at("2025-06-30T23:59:59Z"),
            },
            "UserApiTokenCreated",
            r#"{"ApiTokenCreated":{"token_id":"00000000-0000-0000-0000-000000000002","name":"Dashboard","scope":{"kind":"read_only"},"expires_at":"2025-06-30T23:59:59Z"}}"#,
        ),
        (
            UserEvent::ApiTokenCreated {
                token_id: id(3),
                name: token_name("Report export"),
                scope: TokenScope::CampaignReadOnly {
                    campaign_id: id(42),
                },
                expires_at: at("2025-04-01T00:00:00Z"),
            },
            "UserApiTokenCreated",
            r#"{"ApiTokenCreated":{"token_id":"00000000-0000-0000-0000-000000000003","name":"Report export","scope":{"kind":"campaign_read_only","campaign_id":"00000000-0000-0000-0000-00000000002a"},"expires_at":"2025-04-01T00:00:00Z"}}"#,
        ),
        (
            UserEvent::ApiTokenRevoked { token_id: id(1) },
            "UserApiTokenRevoked",
            r#"{"ApiTokenRevoked":{"token_id":"00000000-0000-0000-0000-000000000001"}}"#,
        ),
        (
            UserEvent::AccessDenied {
                operation: "Mutation.grantRole".to_owned(),
            },
            "UserAccessDenied",
            r#"{"AccessDenied":{"operation":"Mutation.grantRole"}}"#,
        ),
    ]
}

#[test]
fn every_event_type_has_a_stored_literal() {
    let listed: BTreeSet<String> = stored_v1_events()
        .iter()
        .map(|(event, _, _)| event.event_type())
        .collect();
    let expected: BTreeSet<String> = [
        "UserRegistered",
        "UserDisplayNameChanged",
        "UserEmailChanged",
        "UserRoleGranted",
        "UserRoleRevoked",
        "UserDeactivated",
        "UserReactivated",
        "UserLoggedIn",
        "UserLoginFailed",
        "UserLoggedOut",
        "UserPasswordChanged",
        "UserPasswordResetRequired",
        "UserTwoFactorEnabled",
        "UserTwoFactorDisabled",
        "UserRecoveryCodeUsed",
        "UserApiTokenCreated",
        "UserApiTokenRevoked",
        "UserAccessDenied",
    ]
    .map(str::to_owned)
    .into();
    assert_eq!(listed, expected);
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
