//! The aggregate's tests: value types, settings, every command path and rejection, and the
//! persisted-event contract here; the score itself in [`formula`].

use std::collections::BTreeSet;

use cqrs_es::test::TestFramework;
use uuid::Uuid;

use super::*;
use crate::role::Role;

mod formula;

/// An instant written as RFC 3339, e.g. "2025-03-01T12:00:00Z".
fn at(rfc3339: &str) -> DateTime<Utc> {
    rfc3339.parse().unwrap()
}

fn name(input: &str) -> PolicyName {
    PolicyName::parse(input).unwrap()
}

fn reason(input: &str) -> ChangeReason {
    ChangeReason::parse(input).unwrap()
}

/// The defaults with only the half-life changed.
fn settings_with_half_life(days: Option<u16>) -> PolicySettings {
    PolicySettings::parse(PolicySettingsDraft {
        half_life_days: days,
        ..PolicySettings::default().to_draft()
    })
    .unwrap()
}

fn command(action: ScoringPolicyAction) -> ScoringPolicyCommand {
    command_by(&[Role::Admin], action)
}

fn command_by(roles: &[Role], action: ScoringPolicyAction) -> ScoringPolicyCommand {
    ScoringPolicyCommand {
        actor: Actor::new(Uuid::from_u128(100), roles.iter().copied()),
        at: at("2025-03-01T12:00:00Z"),
        action,
    }
}

fn defined() -> ScoringPolicyEvent {
    ScoringPolicyEvent::Defined {
        name: name("Standard"),
        settings: PolicySettings::default(),
        reason: reason("Initial policy."),
    }
}

fn activated() -> ScoringPolicyEvent {
    ScoringPolicyEvent::Activated {
        reason: reason("Go live."),
    }
}

fn retired() -> ScoringPolicyEvent {
    ScoringPolicyEvent::Retired {
        reason: reason("Superseded."),
    }
}

fn framework() -> TestFramework<ScoringPolicy> {
    TestFramework::with(())
}

/// One action of every kind but `Define`, each of which would change a defined, inactive policy.
fn actions_on_existing() -> Vec<ScoringPolicyAction> {
    vec![
        ScoringPolicyAction::Change {
            settings: settings_with_half_life(Some(90)),
            reason: reason("Quarterly retests."),
        },
        ScoringPolicyAction::Rename {
            name: name("Strict"),
            reason: reason("Clearer."),
        },
        ScoringPolicyAction::Activate {
            reason: reason("Go live."),
        },
        ScoringPolicyAction::Deactivate {
            reason: reason("Replaced."),
        },
        ScoringPolicyAction::Retire {
            reason: reason("Superseded."),
        },
    ]
}

// Values

#[test]
fn policy_names_are_trimmed_and_checked() {
    assert_eq!(name("  Standard ").as_str(), "Standard");
    for (input, why) in [
        ("", "it is empty"),
        (&"a".repeat(101)[..], "it is longer than 100 characters"),
        ("Std\tv2", "it contains control characters"),
    ] {
        let error = PolicyName::parse(input).unwrap_err();
        assert_eq!(error, ScoringPolicyError::InvalidName(why.to_owned()));
        assert_eq!(error.code(), "INVALID_NAME");
    }
}

#[test]
fn reasons_are_required_and_bounded() {
    assert_eq!(
        reason(" Line one.\nLine two. ").as_str(),
        "Line one.\nLine two."
    );
    for (input, why) in [
        ("  ", "it is empty"),
        (&"a".repeat(501)[..], "it is longer than 500 characters"),
        (
            "a\u{0}b",
            "it contains control characters other than line breaks and tabs",
        ),
    ] {
        let error = ChangeReason::parse(input).unwrap_err();
        assert_eq!(error, ScoringPolicyError::InvalidReason(why.to_owned()));
        assert_eq!(error.code(), "INVALID_REASON");
    }
    assert!(ChangeReason::parse(&"a".repeat(500)).is_ok());
}

#[test]
fn the_default_settings_are_the_documented_ones() {
    let settings = PolicySettings::default();
    assert_eq!(
        settings.outcome_weights(),
        OutcomeWeights {
            blocked: 100,
            alerted: 80,
            logged: 40,
            not_detected: 0,
        }
    );
    assert_eq!(settings.rule_weight(), 10);
    assert_eq!(settings.telemetry_weight(), 10);
    assert_eq!(settings.prevalence_weight(), 0);
    assert_eq!(settings.half_life_days(), Some(180));
    assert_eq!(settings.aggregation(), Aggregation::Average);
    assert_eq!(PolicySettings::parse(settings.to_draft()), Ok(settings));
}

/// One edit of the default settings.
type DraftChange = fn(&mut PolicySettingsDraft);

fn settings_rejection(change: DraftChange) -> String {
    let mut draft = PolicySettings::default().to_draft();
    change(&mut draft);
    match PolicySettings::parse(draft) {
        Err(ScoringPolicyError::InvalidSettings(reason)) => reason,
        other => panic!("expected INVALID_SETTINGS, got {other:?}"),
    }
}

#[test]
fn settings_reject_each_broken_rule_with_its_reason() {
    let not_monotone = "a better outcome must weigh at least as much as a worse one \
                        (blocked ≥ alerted ≥ logged ≥ not detected)";
    let cases: [(DraftChange, &str); 10] = [
        (
            |draft| draft.outcome_weights.blocked = 101,
            "the weight of \"blocked\" is above 100",
        ),
        (
            |draft| draft.outcome_weights.not_detected = 255,
            "the weight of \"not detected\" is above 100",
        ),
        (|draft| draft.outcome_weights.blocked = 79, not_monotone),
        (|draft| draft.outcome_weights.logged = 81, not_monotone),
        (
            |draft| draft.outcome_weights.not_detected = 41,
            not_monotone,
        ),
        (
            |draft| draft.rule_weight = 101,
            "the rule weight is above 100",
        ),
        (
            |draft| draft.telemetry_weight = 200,
            "the telemetry weight is above 100",
        ),
        (
            |draft| draft.prevalence_weight = 101,
            "the prevalence weight is above 100",
        ),
        (
            |draft| draft.half_life_days = Some(0),
            "the half-life must be 1 to 3650 days, or none",
        ),
        (
            |draft| draft.half_life_days = Some(3651),
            "the half-life must be 1 to 3650 days, or none",
        ),
    ];
    for (change, why) in cases {
        assert_eq!(settings_rejection(change), why);
    }
    assert_eq!(
        PolicySettings::parse(PolicySettings::default().to_draft())
            .map(|settings| settings.half_life_days()),
        Ok(Some(180))
    );
}

#[test]
fn settings_at_the_limits_are_accepted() {
    for draft in [
        PolicySettingsDraft {
            outcome_weights: OutcomeWeights {
                blocked: 100,
                alerted: 100,
                logged: 100,
                not_detected: 100,
            },
            rule_weight: 100,
            telemetry_weight: 100,
            prevalence_weight: 100,
            half_life_days: Some(3650),
            aggregation: Aggregation::Max,
        },
        PolicySettingsDraft {
            outcome_weights: OutcomeWeights {
                blocked: 0,
                alerted: 0,
                logged: 0,
                not_detected: 0,
            },
            rule_weight: 0,
            telemetry_weight: 0,
            prevalence_weight: 0,
            half_life_days: Some(1),
            aggregation: Aggregation::Min,
        },
        PolicySettingsDraft {
            half_life_days: None,
            ..PolicySettings::default().to_draft()
        },
    ] {
        assert_eq!(PolicySettings::parse(draft).unwrap().to_draft(), draft);
    }
}

#[test]
fn settings_are_checked_when_loaded() {
    let stored = r#"{"outcome_weights":{"blocked":40,"alerted":80,"logged":40,"not_detected":0},"rule_weight":10,"telemetry_weight":10,"prevalence_weight":0,"half_life_days":180,"aggregation":"average"}"#;
    assert!(serde_json::from_str::<PolicySettings>(stored).is_err());
    assert!(serde_json::from_str::<Aggregation>("\"median\"").is_err());
}

#[test]
fn error_codes_are_distinct() {
    let errors = [
        ScoringPolicyError::RoleRequired,
        ScoringPolicyError::InvalidName(String::new()),
        ScoringPolicyError::InvalidReason(String::new()),
        ScoringPolicyError::InvalidSettings(String::new()),
        ScoringPolicyError::AlreadyExists,
        ScoringPolicyError::NotFound,
        ScoringPolicyError::Retired,
        ScoringPolicyError::StillActive,
    ];
    let codes: BTreeSet<&str> = errors.iter().map(ScoringPolicyError::code).collect();
    assert_eq!(codes.len(), errors.len());
}

// Who may act

#[test]
fn only_admins_may_define_policies() {
    let define = || ScoringPolicyAction::Define {
        name: name("Standard"),
        settings: PolicySettings::default(),
        reason: reason("Initial policy."),
    };
    framework()
        .given_no_previous_events()
        .when(command_by(&[Role::Admin], define()))
        .then_expect_events(vec![defined()]);
    for role in [
        Role::RedLead,
        Role::RedTech,
        Role::BlueLead,
        Role::BlueTech,
        Role::Viewer,
    ] {
        framework()
            .given_no_previous_events()
            .when(command_by(&[role], define()))
            .then_expect_error(ScoringPolicyError::RoleRequired);
    }
}

#[test]
fn only_admins_may_change_policies() {
    for action in actions_on_existing() {
        framework()
            .given(vec![defined()])
            .when(command_by(
                &[Role::RedLead, Role::BlueLead, Role::Viewer],
                action,
            ))
            .then_expect_error(ScoringPolicyError::RoleRequired);
    }
}

// Define

#[test]
fn defining_an_existing_policy_is_refused() {
    framework()
        .given(vec![defined()])
        .when(command(ScoringPolicyAction::Define {
            name: name("Other"),
            settings: PolicySettings::default(),
            reason: reason("Again."),
        }))
        .then_expect_error(ScoringPolicyError::AlreadyExists);
}

#[test]
fn every_other_command_needs_a_defined_policy() {
    for action in actions_on_existing() {
        framework()
            .given_no_previous_events()
            .when(command(action))
            .then_expect_error(ScoringPolicyError::NotFound);
    }
}

// Change

#[test]
fn changing_the_settings_raises_the_version() {
    framework()
        .given(vec![defined()])
        .when(command(ScoringPolicyAction::Change {
            settings: settings_with_half_life(Some(90)),
            reason: reason("Quarterly retests."),
        }))
        .then_expect_events(vec![ScoringPolicyEvent::Changed {
            version: 2,
            settings: settings_with_half_life(Some(90)),
            reason: reason("Quarterly retests."),
        }]);
    framework()
        .given(vec![
            defined(),
            activated(),
            ScoringPolicyEvent::Changed {
                version: 2,
                settings: settings_with_half_life(Some(90)),
                reason: reason("Quarterly retests."),
            },
        ])
        .when(command(ScoringPolicyAction::Change {
            settings: settings_with_half_life(None),
            reason: reason("No decay for the audit."),
        }))
        .then_expect_events(vec![ScoringPolicyEvent::Changed {
            version: 3,
            settings: settings_with_half_life(None),
            reason: reason("No decay for the audit."),
        }]);
}

#[test]
fn changing_to_the_current_settings_changes_nothing() {
    framework()
        .given(vec![defined()])
        .when(command(ScoringPolicyAction::Change {
            settings: PolicySettings::default(),
            reason: reason("Retry."),
        }))
        .then_expect_events(vec![]);
}

// Rename

#[test]
fn renaming_a_policy() {
    framework()
        .given(vec![defined()])
        .when(command(ScoringPolicyAction::Rename {
            name: name("Strict"),
            reason: reason("Clearer."),
        }))
        .then_expect_events(vec![ScoringPolicyEvent::Renamed {
            name: name("Strict"),
            reason: reason("Clearer."),
        }]);
    framework()
        .given(vec![defined()])
        .when(command(ScoringPolicyAction::Rename {
            name: name("Standard"),
            reason: reason("Retry."),
        }))
        .then_expect_events(vec![]);
}

// Activate, Deactivate

#[test]
fn activating_a_policy() {
    framework()
        .given(vec![defined()])
        .when(command(ScoringPolicyAction::Activate {
            reason: reason("Go live."),
        }))
        .then_expect_events(vec![activated()]);
}

#[test]
fn activating_the_active_policy_changes_nothing() {
    framework()
        .given(vec![defined(), activated()])
        .when(command(ScoringPolicyAction::Activate {
            reason: reason("Retry."),
        }))
        .then_expect_events(vec![]);
}

#[test]
fn deactivating_a_policy() {
    framework()
        .given(vec![defined(), activated()])
        .when(command(ScoringPolicyAction::Deactivate {
            reason: reason("Replaced by Strict."),
        }))
        .then_expect_events(vec![ScoringPolicyEvent::Deactivated {
            reason: reason("Replaced by Strict."),
        }]);
}

#[test]
fn deactivating_an_inactive_policy_changes_nothing() {
    framework()
        .given(vec![defined()])
        .when(command(ScoringPolicyAction::Deactivate {
            reason: reason("Retry."),
        }))
        .then_expect_events(vec![]);
}

// Retire

#[test]
fn retiring_an_inactive_policy() {
    framework()
        .given(vec![
            defined(),
            activated(),
            ScoringPolicyEvent::Deactivated {
                reason: reason("Replaced."),
            },
        ])
        .when(command(ScoringPolicyAction::Retire {
            reason: reason("Superseded."),
        }))
        .then_expect_events(vec![retired()]);
}

#[test]
fn retiring_the_active_policy_is_refused() {
    framework()
        .given(vec![defined(), activated()])
        .when(command(ScoringPolicyAction::Retire {
            reason: reason("Superseded."),
        }))
        .then_expect_error(ScoringPolicyError::StillActive);
}

#[test]
fn a_retired_policy_refuses_every_command() {
    for action in actions_on_existing() {
        framework()
            .given(vec![defined(), retired()])
            .when(command(action))
            .then_expect_error(ScoringPolicyError::Retired);
    }
}

// State

#[test]
fn the_state_follows_the_events() {
    let mut policy = ScoringPolicy::default();
    assert!(!policy.is_defined());
    assert_eq!(policy.version(), 0);
    for event in [
        defined(),
        activated(),
        ScoringPolicyEvent::Changed {
            version: 2,
            settings: settings_with_half_life(Some(90)),
            reason: reason("Quarterly retests."),
        },
        ScoringPolicyEvent::Renamed {
            name: name("Quarterly"),
            reason: reason("Clearer."),
        },
    ] {
        policy.apply(event);
    }
    assert!(policy.is_defined());
    assert!(policy.is_active());
    assert!(!policy.is_retired());
    assert_eq!(policy.version(), 2);
    assert_eq!(policy.name(), Some(&name("Quarterly")));
    assert_eq!(policy.settings().half_life_days(), Some(90));

    policy.apply(ScoringPolicyEvent::Deactivated {
        reason: reason("Replaced."),
    });
    policy.apply(retired());
    assert!(!policy.is_active());
    assert!(policy.is_retired());
    let json = serde_json::to_string(&policy).unwrap();
    assert_eq!(
        serde_json::from_str::<ScoringPolicy>(&json).unwrap(),
        policy
    );
}

// The persisted contract

/// Every event with the JSON stored for it at version 1. These literals are the persisted contract:
/// if one stops matching, write an upcaster instead of editing the literal.
fn stored_v1_events() -> Vec<(ScoringPolicyEvent, &'static str, &'static str)> {
    vec![
        (
            defined(),
            "ScoringPolicyDefined",
            r#"{"Defined":{"name":"Standard","settings":{"outcome_weights":{"blocked":100,"alerted":80,"logged":40,"not_detected":0},"rule_weight":10,"telemetry_weight":10,"prevalence_weight":0,"half_life_days":180,"aggregation":"average"},"reason":"Initial policy."}}"#,
        ),
        (
            ScoringPolicyEvent::Changed {
                version: 2,
                settings: PolicySettings::parse(PolicySettingsDraft {
                    outcome_weights: OutcomeWeights {
                        blocked: 100,
                        alerted: 90,
                        logged: 30,
                        not_detected: 0,
                    },
                    rule_weight: 15,
                    telemetry_weight: 5,
                    prevalence_weight: 50,
                    half_life_days: None,
                    aggregation: Aggregation::Min,
                })
                .unwrap(),
                reason: reason("Weigh alerts higher.\nNo decay."),
            },
            "ScoringPolicyChanged",
            r#"{"Changed":{"version":2,"settings":{"outcome_weights":{"blocked":100,"alerted":90,"logged":30,"not_detected":0},"rule_weight":15,"telemetry_weight":5,"prevalence_weight":50,"half_life_days":null,"aggregation":"min"},"reason":"Weigh alerts higher.\nNo decay."}}"#,
        ),
        (
            ScoringPolicyEvent::Changed {
                version: 3,
                settings: PolicySettings::parse(PolicySettingsDraft {
                    aggregation: Aggregation::Max,
                    ..PolicySettings::default().to_draft()
                })
                .unwrap(),
                reason: reason("Optimistic view."),
            },
            "ScoringPolicyChanged",
            r#"{"Changed":{"version":3,"settings":{"outcome_weights":{"blocked":100,"alerted":80,"logged":40,"not_detected":0},"rule_weight":10,"telemetry_weight":10,"prevalence_weight":0,"half_life_days":180,"aggregation":"max"},"reason":"Optimistic view."}}"#,
        ),
        (
            ScoringPolicyEvent::Renamed {
                name: name("Strict"),
                reason: reason("Clearer."),
            },
            "ScoringPolicyRenamed",
            r#"{"Renamed":{"name":"Strict","reason":"Clearer."}}"#,
        ),
        (
            activated(),
            "ScoringPolicyActivated",
            r#"{"Activated":{"reason":"Go live."}}"#,
        ),
        (
            ScoringPolicyEvent::Deactivated {
                reason: reason("Replaced by Strict."),
            },
            "ScoringPolicyDeactivated",
            r#"{"Deactivated":{"reason":"Replaced by Strict."}}"#,
        ),
        (
            retired(),
            "ScoringPolicyRetired",
            r#"{"Retired":{"reason":"Superseded."}}"#,
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
        "ScoringPolicyDefined",
        "ScoringPolicyChanged",
        "ScoringPolicyRenamed",
        "ScoringPolicyActivated",
        "ScoringPolicyDeactivated",
        "ScoringPolicyRetired",
    ]
    .map(str::to_owned)
    .into();
    assert_eq!(listed, expected);
}

#[test]
fn every_event_round_trips_through_json() {
    for (event, _, stored) in stored_v1_events() {
        let json = serde_json::to_string(&event).unwrap();
        assert_eq!(json, stored);
        assert_eq!(
            serde_json::from_str::<ScoringPolicyEvent>(&json).unwrap(),
            event
        );
    }
}

#[test]
fn stored_v1_payloads_still_deserialize() {
    for (event, event_type, stored) in stored_v1_events() {
        assert_eq!(
            serde_json::from_str::<ScoringPolicyEvent>(stored).unwrap(),
            event
        );
        assert_eq!(event.event_type(), event_type);
        assert_eq!(event.event_version(), "1");
    }
}

#[test]
fn commands_round_trip_through_json_for_hashing() {
    let command = command(ScoringPolicyAction::Change {
        settings: settings_with_half_life(Some(30)),
        reason: reason("Monthly retests."),
    });
    let json = serde_json::to_string(&command).unwrap();
    assert_eq!(
        serde_json::from_str::<ScoringPolicyCommand>(&json).unwrap(),
        command
    );
}
