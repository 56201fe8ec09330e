//! The security lifecycle: logins, passwords, the second factor, API tokens and refused access.

use super::*;

fn registered_with_two_factor() -> Vec<UserEvent> {
    vec![registered(), UserEvent::TwoFactorEnabled]
}

// TokenName

#[test]
fn token_name_is_trimmed_and_keeps_its_case() {
    assert_eq!(token_name("  CI Pipeline\t").as_str(), "CI Pipeline");
}

#[test]
fn token_name_length_counts_characters_not_bytes() {
    let japanese = "鍵".repeat(100);
    assert_eq!(token_name(&japanese).as_str(), japanese);
}

#[test]
fn token_name_rejects_each_bad_name_with_its_reason() {
    let too_long = "a".repeat(101);
    let cases = [
        ("", "it is empty"),
        (" \t ", "it is empty"),
        (too_long.as_str(), "it is longer than 100 characters"),
        ("CI\u{1b}[31m pipeline", "it contains control characters"),
    ];
    for (input, reason) in cases {
        assert_eq!(
            TokenName::parse(input),
            Err(UserError::InvalidTokenName(reason.to_owned())),
            "input {input:?}"
        );
    }
}

#[test]
fn token_name_serializes_as_a_plain_string_and_is_checked_when_read() {
    assert_eq!(
        serde_json::to_string(&token_name("CI pipeline")).unwrap(),
        "\"CI pipeline\""
    );
    assert_eq!(
        serde_json::from_str::<TokenName>("\" CI pipeline \"").unwrap(),
        token_name("CI pipeline")
    );
    assert!(serde_json::from_str::<TokenName>("\"  \"").is_err());
}

#[test]
fn an_invalid_token_name_reads_as_a_sentence() {
    assert_eq!(
        TokenName::parse("").unwrap_err().to_string(),
        "The token name is not valid: it is empty."
    );
}

// TokenScope and LoginFailure

#[test]
fn token_scopes_serialize_tagged_by_kind() {
    let cases = [
        (TokenScope::Full, r#"{"kind":"full"}"#),
        (TokenScope::ReadOnly, r#"{"kind":"read_only"}"#),
        (
            TokenScope::CampaignReadOnly {
                campaign_id: id(42),
            },
            r#"{"kind":"campaign_read_only","campaign_id":"00000000-0000-0000-0000-00000000002a"}"#,
        ),
    ];
    for (scope, json) in cases {
        assert_eq!(serde_json::to_string(&scope).unwrap(), json);
        assert_eq!(serde_json::from_str::<TokenScope>(json).unwrap(), scope);
    }
    assert!(serde_json::from_str::<TokenScope>(r#"{"kind":"admin"}"#).is_err());
    assert!(serde_json::from_str::<TokenScope>(r#"{"kind":"campaign_read_only"}"#).is_err());
}

#[test]
fn login_failures_serialize_by_name() {
    let cases = [
        (LoginFailure::WrongPassword, "\"wrong_password\""),
        (LoginFailure::WrongSecondFactor, "\"wrong_second_factor\""),
        (LoginFailure::Deactivated, "\"deactivated\""),
        (LoginFailure::Throttled, "\"throttled\""),
    ];
    for (reason, json) in cases {
        assert_eq!(serde_json::to_string(&reason).unwrap(), json);
        assert_eq!(serde_json::from_str::<LoginFailure>(json).unwrap(), reason);
    }
}

// Commands a deactivated user accepts

#[test]
fn every_command_a_deactivated_user_may_give_is_accepted() {
    let user = user_after(vec![
        registered(),
        token_created(id(1)),
        UserEvent::Deactivated,
    ]);
    for command in commands_accepted_when_deactivated() {
        assert_eq!(
            user.decide(command.clone()).map(|events| events.len()),
            Ok(1),
            "command {command:?}"
        );
    }
}

// RecordLogin

#[test]
fn record_login_starts_a_session() {
    framework()
        .given(vec![registered()])
        .when(UserCommand::RecordLogin {
            session_id: id(7),
            second_factor: false,
        })
        .then_expect_events(vec![UserEvent::LoggedIn {
            session_id: id(7),
            second_factor: false,
        }]);
}

#[test]
fn record_login_keeps_whether_a_second_factor_was_checked() {
    framework()
        .given(registered_with_two_factor())
        .when(UserCommand::RecordLogin {
            session_id: id(8),
            second_factor: true,
        })
        .then_expect_events(vec![UserEvent::LoggedIn {
            session_id: id(8),
            second_factor: true,
        }]);
}

#[test]
fn record_login_of_a_deactivated_user_is_rejected() {
    framework()
        .given(vec![registered(), UserEvent::Deactivated])
        .when(UserCommand::RecordLogin {
            session_id: id(7),
            second_factor: false,
        })
        .then_expect_error(UserError::Deactivated);
}

#[test]
fn record_login_of_an_unregistered_user_is_rejected() {
    framework()
        .given_no_previous_events()
        .when(UserCommand::RecordLogin {
            session_id: id(7),
            second_factor: false,
        })
        .then_expect_error(UserError::NotRegistered);
}

// RecordLoginFailure

#[test]
fn record_login_failure_records_the_reason() {
    framework()
        .given(vec![registered()])
        .when(UserCommand::RecordLoginFailure {
            reason: LoginFailure::WrongPassword,
        })
        .then_expect_events(vec![UserEvent::LoginFailed {
            reason: LoginFailure::WrongPassword,
        }]);
}

#[test]
fn record_login_failure_of_a_deactivated_user_is_recorded() {
    framework()
        .given(vec![registered(), UserEvent::Deactivated])
        .when(UserCommand::RecordLoginFailure {
            reason: LoginFailure::Deactivated,
        })
        .then_expect_events(vec![UserEvent::LoginFailed {
            reason: LoginFailure::Deactivated,
        }]);
}

#[test]
fn record_login_failure_of_an_unregistered_user_is_rejected() {
    framework()
        .given_no_previous_events()
        .when(UserCommand::RecordLoginFailure {
            reason: LoginFailure::Throttled,
        })
        .then_expect_error(UserError::NotRegistered);
}

// RecordLogout

#[test]
fn record_logout_ends_the_session() {
    framework()
        .given(vec![
            registered(),
            UserEvent::LoggedIn {
                session_id: id(7),
                second_factor: false,
            },
        ])
        .when(UserCommand::RecordLogout { session_id: id(7) })
        .then_expect_events(vec![UserEvent::LoggedOut { session_id: id(7) }]);
}

#[test]
fn record_logout_of_a_deactivated_user_is_recorded() {
    framework()
        .given(vec![
            registered(),
            UserEvent::LoggedIn {
                session_id: id(7),
                second_factor: false,
            },
            UserEvent::Deactivated,
        ])
        .when(UserCommand::RecordLogout { session_id: id(7) })
        .then_expect_events(vec![UserEvent::LoggedOut { session_id: id(7) }]);
}

#[test]
fn record_logout_of_an_unregistered_user_is_rejected() {
    framework()
        .given_no_previous_events()
        .when(UserCommand::RecordLogout { session_id: id(7) })
        .then_expect_error(UserError::NotRegistered);
}

// ChangePassword and RequirePasswordReset

#[test]
fn change_password_records_the_change() {
    framework()
        .given(vec![registered()])
        .when(UserCommand::ChangePassword)
        .then_expect_events(vec![UserEvent::PasswordChanged]);
}

#[test]
fn change_password_when_a_reset_is_required_records_the_change() {
    framework()
        .given(vec![registered(), UserEvent::PasswordResetRequired])
        .when(UserCommand::ChangePassword)
        .then_expect_events(vec![UserEvent::PasswordChanged]);
}

#[test]
fn change_password_of_a_deactivated_user_is_rejected() {
    framework()
        .given(vec![registered(), UserEvent::Deactivated])
        .when(UserCommand::ChangePassword)
        .then_expect_error(UserError::Deactivated);
}

#[test]
fn require_password_reset_records_the_requirement() {
    framework()
        .given(vec![registered()])
        .when(UserCommand::RequirePasswordReset)
        .then_expect_events(vec![UserEvent::PasswordResetRequired]);
}

#[test]
fn require_password_reset_when_one_is_required_changes_nothing() {
    framework()
        .given(vec![registered(), UserEvent::PasswordResetRequired])
        .when(UserCommand::RequirePasswordReset)
        .then_expect_events(vec![]);
}

#[test]
fn require_password_reset_after_the_password_changed_requires_it_again() {
    framework()
        .given(vec![
            registered(),
            UserEvent::PasswordResetRequired,
            UserEvent::PasswordChanged,
        ])
        .when(UserCommand::RequirePasswordReset)
        .then_expect_events(vec![UserEvent::PasswordResetRequired]);
}

#[test]
fn require_password_reset_of_a_deactivated_user_is_rejected() {
    framework()
        .given(vec![registered(), UserEvent::Deactivated])
        .when(UserCommand::RequirePasswordReset)
        .then_expect_error(UserError::Deactivated);
}

// EnableTwoFactor, DisableTwoFactor and UseRecoveryCode

#[test]
fn enable_two_factor_turns_it_on() {
    framework()
        .given(vec![registered()])
        .when(UserCommand::EnableTwoFactor)
        .then_expect_events(vec![UserEvent::TwoFactorEnabled]);
}

#[test]
fn enable_two_factor_when_it_is_on_is_rejected() {
    framework()
        .given(registered_with_two_factor())
        .when(UserCommand::EnableTwoFactor)
        .then_expect_error(UserError::TwoFactorAlreadyEnabled);
}

#[test]
fn enable_two_factor_after_it_was_disabled_turns_it_on_again() {
    framework()
        .given(vec![
            registered(),
            UserEvent::TwoFactorEnabled,
            UserEvent::TwoFactorDisabled,
        ])
        .when(UserCommand::EnableTwoFactor)
        .then_expect_events(vec![UserEvent::TwoFactorEnabled]);
}

#[test]
fn enable_two_factor_of_a_deactivated_user_is_rejected() {
    framework()
        .given(vec![registered(), UserEvent::Deactivated])
        .when(UserCommand::EnableTwoFactor)
        .then_expect_error(UserError::Deactivated);
}

#[test]
fn disable_two_factor_turns_it_off() {
    framework()
        .given(registered_with_two_factor())
        .when(UserCommand::DisableTwoFactor)
        .then_expect_events(vec![UserEvent::TwoFactorDisabled]);
}

#[test]
fn disable_two_factor_when_it_is_off_is_rejected() {
    framework()
        .given(vec![registered()])
        .when(UserCommand::DisableTwoFactor)
        .then_expect_error(UserError::TwoFactorNotEnabled);
}

#[test]
fn disable_two_factor_of_a_deactivated_user_is_rejected() {
    framework()
        .given(vec![
            registered(),
            UserEvent::TwoFactorEnabled,
            UserEvent::Deactivated,
        ])
        .when(UserCommand::DisableTwoFactor)
        .then_expect_error(UserError::Deactivated);
}

#[test]
fn use_recovery_code_records_the_spent_code() {
    framework()
        .given(registered_with_two_factor())
        .when(UserCommand::UseRecoveryCode)
        .then_expect_events(vec![UserEvent::RecoveryCodeUsed]);
}

#[test]
fn use_recovery_code_without_two_factor_is_rejected() {
    framework()
        .given(vec![registered()])
        .when(UserCommand::UseRecoveryCode)
        .then_expect_error(UserError::TwoFactorNotEnabled);
}

#[test]
fn use_recovery_code_after_two_factor_was_disabled_is_rejected() {
    framework()
        .given(vec![
            registered(),
            UserEvent::TwoFactorEnabled,
            UserEvent::TwoFactorDisabled,
        ])
        .when(UserCommand::UseRecoveryCode)
        .then_expect_error(UserError::TwoFactorNotEnabled);
}

#[test]
fn use_recovery_code_of_a_deactivated_user_is_rejected() {
    framework()
        .given(vec![
            registered(),
            UserEvent::TwoFactorEnabled,
            UserEvent::Deactivated,
        ])
        .when(UserCommand::UseRecoveryCode)
        .then_expect_error(UserError::Deactivated);
}

// CreateApiToken

/// `CreateApiToken` for the token `id(2)`, requested at 2025-03-01T12:00:00Z, expiring at `expires_at`.
fn create_token_expiring_at(expires_at: &str) -> UserCommand {
    UserCommand::CreateApiToken {
        token_id: id(2),
        name: token_name("Dashboard"),
        scope: TokenScope::ReadOnly,
        expires_at: at(expires_at),
        now: at("2025-03-01T12:00:00Z"),
    }
}

fn token_created_expiring_at(expires_at: &str) -> UserEvent {
    UserEvent::ApiTokenCreated {
        token_id: id(2),
        name: token_name("Dashboard"),
        scope: TokenScope::ReadOnly,
        expires_at: at(expires_at),
    }
}

#[test]
fn create_api_token_records_the_token_without_the_time_of_the_request() {
    framework()
        .given(vec![registered()])
        .when(create_token(id(1)))
        .then_expect_events(vec![token_created(id(1))]);
}

#[test]
fn create_api_token_with_a_campaign_scope_keeps_the_campaign() {
    framework()
        .given(vec![registered()])
        .when(UserCommand::CreateApiToken {
            token_id: id(3),
            name: token_name("Report export"),
            scope: TokenScope::CampaignReadOnly {
                campaign_id: id(42),
            },
            expires_at: at("2025-03-02T12:00:00Z"),
            now: at("2025-03-01T12:00:00Z"),
        })
        .then_expect_events(vec![UserEvent::ApiTokenCreated {
            token_id: id(3),
            name: token_name("Report export"),
            scope: TokenScope::CampaignReadOnly {
                campaign_id: id(42),
            },
            expires_at: at("2025-03-02T12:00:00Z"),
        }]);
}

#[test]
fn create_api_token_valid_for_exactly_366_days_is_accepted() {
    framework()
        .given(vec![registered()])
        .when(create_token_expiring_at("2026-03-02T12:00:00Z"))
        .then_expect_events(vec![token_created_expiring_at("2026-03-02T12:00:00Z")]);
}

#[test]
fn create_api_token_valid_for_one_second_is_accepted() {
    framework()
        .given(vec![registered()])
        .when(create_token_expiring_at("2025-03-01T12:00:01Z"))
        .then_expect_events(vec![token_created_expiring_at("2025-03-01T12:00:01Z")]);
}

#[test]
fn create_api_token_expiring_now_is_rejected() {
    framework()
        .given(vec![registered()])
        .when(create_token_expiring_at("2025-03-01T12:00:00Z"))
        .then_expect_error(UserError::TokenExpiresInPast);
}

#[test]
fn create_api_token_expiring_in_the_past_is_rejected() {
    framework()
        .given(vec![registered()])
        .when(create_token_expiring_at("2024-12-31T23:59:59Z"))
        .then_expect_error(UserError::TokenExpiresInPast);
}

#[test]
fn create_api_token_valid_for_longer_than_366_days_is_rejected() {
    framework()
        .given(vec![registered()])
        .when(create_token_expiring_at("2026-03-02T12:00:01Z"))
        .then_expect_error(UserError::TokenLifetimeTooLong);
}

#[test]
fn create_api_token_at_the_end_of_the_calendar_has_no_upper_bound() {
    // `now` plus 366 days cannot be represented; the check must neither panic nor reject.
    let end = DateTime::<Utc>::MAX_UTC;
    let command = UserCommand::CreateApiToken {
        token_id: id(2),
        name: token_name("Dashboard"),
        scope: TokenScope::ReadOnly,
        expires_at: end,
        now: end - TimeDelta::days(1),
    };
    framework()
        .given(vec![registered()])
        .when(command)
        .then_expect_events(vec![UserEvent::ApiTokenCreated {
            token_id: id(2),
            name: token_name("Dashboard"),
            scope: TokenScope::ReadOnly,
            expires_at: end,
        }]);
}

#[test]
fn create_api_token_with_an_existing_id_is_rejected() {
    framework()
        .given(vec![registered(), token_created(id(1))])
        .when(create_token(id(1)))
        .then_expect_error(UserError::DuplicateToken(id(1)));
}

#[test]
fn create_api_token_with_the_id_of_a_revoked_token_is_rejected() {
    framework()
        .given(vec![
            registered(),
            token_created(id(1)),
            UserEvent::ApiTokenRevoked { token_id: id(1) },
        ])
        .when(create_token(id(1)))
        .then_expect_error(UserError::DuplicateToken(id(1)));
}

#[test]
fn create_api_token_for_a_deactivated_user_is_rejected() {
    framework()
        .given(vec![registered(), UserEvent::Deactivated])
        .when(create_token(id(1)))
        .then_expect_error(UserError::Deactivated);
}

// RevokeApiToken

#[test]
fn revoke_api_token_revokes_it() {
    framework()
        .given(vec![registered(), token_created(id(1))])
        .when(UserCommand::RevokeApiToken { token_id: id(1) })
        .then_expect_events(vec![UserEvent::ApiTokenRevoked { token_id: id(1) }]);
}

#[test]
fn revoke_api_token_of_a_deactivated_user_is_accepted() {
    framework()
        .given(vec![
            registered(),
            token_created(id(1)),
            UserEvent::Deactivated,
        ])
        .when(UserCommand::RevokeApiToken { token_id: id(1) })
        .then_expect_events(vec![UserEvent::ApiTokenRevoked { token_id: id(1) }]);
}

#[test]
fn revoke_api_token_the_user_never_created_is_rejected() {
    framework()
        .given(vec![registered(), token_created(id(1))])
        .when(UserCommand::RevokeApiToken { token_id: id(2) })
        .then_expect_error(UserError::UnknownToken(id(2)));
}

#[test]
fn revoke_api_token_twice_is_rejected() {
    framework()
        .given(vec![
            registered(),
            token_created(id(1)),
            UserEvent::ApiTokenRevoked { token_id: id(1) },
        ])
        .when(UserCommand::RevokeApiToken { token_id: id(1) })
        .then_expect_error(UserError::TokenAlreadyRevoked(id(1)));
}

#[test]
fn revoke_api_token_of_an_unregistered_user_is_rejected() {
    framework()
        .given_no_previous_events()
        .when(UserCommand::RevokeApiToken { token_id: id(1) })
        .then_expect_error(UserError::NotRegistered);
}

// RecordAccessDenied

fn access_denied(operation: &str) -> UserCommand {
    UserCommand::RecordAccessDenied {
        operation: operation.to_owned(),
    }
}

#[test]
fn record_access_denied_records_the_operation() {
    framework()
        .given(vec![registered()])
        .when(access_denied("Mutation.grantRole"))
        .then_expect_events(vec![UserEvent::AccessDenied {
            operation: "Mutation.grantRole".to_owned(),
        }]);
}

#[test]
fn record_access_denied_of_a_deactivated_user_is_recorded() {
    framework()
        .given(vec![registered(), UserEvent::Deactivated])
        .when(access_denied("Query.campaigns"))
        .then_expect_events(vec![UserEvent::AccessDenied {
            operation: "Query.campaigns".to_owned(),
        }]);
}

#[test]
fn record_access_denied_with_a_200_character_operation_is_recorded() {
    // Characters, not bytes: 200 Greek letters are 400 bytes.
    let operation = "λ".repeat(200);
    framework()
        .given(vec![registered()])
        .when(access_denied(&operation))
        .then_expect_events(vec![UserEvent::AccessDenied { operation }]);
}

#[test]
fn record_access_denied_with_a_bad_operation_name_is_rejected() {
    for operation in [
        String::new(),
        "  ".to_owned(),
        "a".repeat(201),
        "Mutation.grantRole\nforged log line".to_owned(),
    ] {
        framework()
            .given(vec![registered()])
            .when(access_denied(&operation))
            .then_expect_error(UserError::InvalidOperation);
    }
}

#[test]
fn record_access_denied_of_an_unregistered_user_is_rejected() {
    framework()
        .given_no_previous_events()
        .when(access_denied("Mutation.grantRole"))
        .then_expect_error(UserError::NotRegistered);
}

// State

fn user_after(events: Vec<UserEvent>) -> User {
    let mut user = User::default();
    for event in events {
        user.apply(event);
    }
    user
}

#[test]
fn a_new_user_has_no_security_state() {
    let user = user_after(vec![registered()]);
    assert!(!user.password_reset_required());
    assert!(!user.two_factor_enabled());
    assert!(user.api_tokens().is_empty());
    assert_eq!(user.api_token(id(1)), None);
}

#[test]
fn password_reset_is_required_until_the_password_changes() {
    let mut user = user_after(vec![registered(), UserEvent::PasswordResetRequired]);
    assert!(user.password_reset_required());
    user.apply(UserEvent::PasswordChanged);
    assert!(!user.password_reset_required());
}

#[test]
fn two_factor_follows_enable_and_disable() {
    let mut user = user_after(registered_with_two_factor());
    assert!(user.two_factor_enabled());
    user.apply(UserEvent::RecoveryCodeUsed);
    assert!(user.two_factor_enabled());
    user.apply(UserEvent::TwoFactorDisabled);
    assert!(!user.two_factor_enabled());
}

#[test]
fn audit_facts_change_no_state() {
    let before = user_after(vec![registered()]);
    let after = user_after(vec![
        registered(),
        UserEvent::LoggedIn {
            session_id: id(7),
            second_factor: false,
        },
        UserEvent::LoginFailed {
            reason: LoginFailure::WrongPassword,
        },
        UserEvent::LoggedOut { session_id: id(7) },
        UserEvent::AccessDenied {
            operation: "Mutation.grantRole".to_owned(),
        },
    ]);
    assert_eq!(after, before);
}

#[test]
fn api_tokens_are_remembered_with_their_scope_expiry_and_revocation() {
    let user = user_after(vec![
        registered(),
        token_created(id(1)),
        token_created_expiring_at("2025-06-01T00:00:00Z"),
        UserEvent::ApiTokenRevoked { token_id: id(1) },
    ]);
    assert_eq!(
        user.api_tokens().keys().copied().collect::<Vec<_>>(),
        vec![id(1), id(2)]
    );

    let revoked = user.api_token(id(1)).unwrap();
    assert_eq!(revoked.name(), &token_name("CI pipeline"));
    assert_eq!(revoked.scope(), TokenScope::Full);
    assert_eq!(revoked.expires_at(), at("2026-03-01T12:00:00Z"));
    assert!(revoked.is_revoked());

    let active = user.api_token(id(2)).unwrap();
    assert_eq!(active.name(), &token_name("Dashboard"));
    assert_eq!(active.scope(), TokenScope::ReadOnly);
    assert!(!active.is_revoked());
}

#[test]
fn an_api_token_is_usable_until_it_expires_or_is_revoked() {
    let mut user = user_after(vec![
        registered(),
        token_created_expiring_at("2025-06-01T00:00:00Z"),
    ]);
    let token = user.api_token(id(2)).unwrap();
    assert!(token.is_usable_at(at("2025-05-31T23:59:59Z")));
    assert!(!token.is_usable_at(at("2025-06-01T00:00:00Z")));

    user.apply(UserEvent::ApiTokenRevoked { token_id: id(2) });
    let token = user.api_token(id(2)).unwrap();
    assert!(!token.is_usable_at(at("2025-05-31T23:59:59Z")));
}

#[test]
fn a_snapshot_from_before_the_security_lifecycle_still_loads() {
    let stored = r#"{"registered":true,"email":"ada@example.com","display_name":"Ada Lovelace","roles":["red_lead"],"active":true}"#;
    assert_eq!(
        serde_json::from_str::<User>(stored).unwrap(),
        user_after(vec![registered()])
    );
}

#[test]
fn a_snapshot_with_security_state_round_trips() {
    let user = user_after(vec![
        registered(),
        UserEvent::PasswordResetRequired,
        UserEvent::TwoFactorEnabled,
        token_created(id(1)),
        UserEvent::ApiTokenRevoked { token_id: id(1) },
    ]);
    let json = serde_json::to_string(&user).unwrap();
    assert_eq!(serde_json::from_str::<User>(&json).unwrap(), user);
}

// Errors

#[test]
fn new_errors_read_as_sentences() {
    let cases = [
        (
            UserError::TwoFactorAlreadyEnabled,
            "Two-factor authentication is already enabled for this user.",
        ),
        (
            UserError::TwoFactorNotEnabled,
            "Two-factor authentication is not enabled for this user.",
        ),
        (
            UserError::TokenExpiresInPast,
            "The token's expiry date must be in the future.",
        ),
        (
            UserError::TokenLifetimeTooLong,
            "An API token may be valid for at most 366 days; choose an earlier expiry date.",
        ),
        (
            UserError::DuplicateToken(id(1)),
            "The user already has an API token with the id 00000000-0000-0000-0000-000000000001.",
        ),
        (
            UserError::UnknownToken(id(1)),
            "The user has no API token with the id 00000000-0000-0000-0000-000000000001.",
        ),
        (
            UserError::TokenAlreadyRevoked(id(1)),
            "The API token 00000000-0000-0000-0000-000000000001 is already revoked.",
        ),
        (
            UserError::InvalidOperation,
            "The name of the refused operation must be 1 to 200 characters without control characters.",
        ),
    ];
    for (error, message) in cases {
        assert_eq!(error.to_string(), message);
    }
}
