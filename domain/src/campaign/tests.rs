//! The aggregate's tests: value types, every command path and rejection, and the persisted-event contract
//! here; schedules in [`recurrence`].

use cqrs_es::test::TestFramework;

use super::*;

mod recurrence;

/// A fixed id, readable in the stored literals (`id(1)` is "00000000-0000-0000-0000-000000000001").
fn id(number: u128) -> Uuid {
    Uuid::from_u128(number)
}

/// An instant written as RFC 3339, e.g. "2025-03-01T12:00:00Z".
fn at(rfc3339: &str) -> DateTime<Utc> {
    rfc3339.parse().unwrap()
}

/// The time every command in these tests is given at.
fn now() -> DateTime<Utc> {
    at("2025-03-01T12:00:00Z")
}

fn actor(roles: &[Role]) -> Actor {
    Actor::new(id(100), roles.iter().copied())
}

/// `action`, asked by a red lead at [`now`].
fn command(action: CampaignAction) -> CampaignCommand {
    command_by(&[Role::RedLead], action)
}

fn command_by(roles: &[Role], action: CampaignAction) -> CampaignCommand {
    CampaignCommand {
        actor: actor(roles),
        at: now(),
        action,
    }
}

fn name(input: &str) -> CampaignName {
    CampaignName::parse(input).unwrap()
}

fn description(input: &str) -> CampaignDescription {
    CampaignDescription::parse(input).unwrap()
}

fn scope() -> CampaignScope {
    CampaignScope::parse(["T1059.001", "T1566"], Some("G0016")).unwrap()
}

fn reason(input: &str) -> CancellationReason {
    CancellationReason::parse(input).unwrap()
}

/// Every Monday at 09:00 in Berlin.
fn weekly() -> Recurrence {
    Recurrence::parse("0 9 * * 1", "Europe/Berlin").unwrap()
}

/// A one-off campaign planned for March 2025.
fn created() -> CampaignEvent {
    CampaignEvent::Created {
        name: name("Q1 initial access"),
        description: description("Phishing and script execution."),
        scope: scope(),
        planned_start: at("2025-03-03T08:00:00Z"),
        planned_end: at("2025-03-07T17:00:00Z"),
        recurrence: None,
    }
}

/// A template recurring every Monday 09:00 Berlin, planned for its first week from Monday 2025-02-03.
fn created_recurring() -> CampaignEvent {
    CampaignEvent::Created {
        name: name("Weekly phishing drill"),
        description: description(""),
        scope: scope(),
        planned_start: at("2025-02-03T08:00:00Z"),
        planned_end: at("2025-02-04T08:00:00Z"),
        recurrence: Some(weekly()),
    }
}

fn create_action() -> CampaignAction {
    CampaignAction::Create {
        name: name("Q1 initial access"),
        description: description("Phishing and script execution."),
        scope: scope(),
        planned_start: at("2025-03-03T08:00:00Z"),
        planned_end: at("2025-03-07T17:00:00Z"),
        recurrence: None,
    }
}

fn create_instance_action() -> CampaignAction {
    CampaignAction::CreateInstance {
        template_id: id(1),
        due_at: at("2025-02-10T08:00:00Z"),
        name: name("Weekly phishing drill (2025-02-10 09:00)"),
        description: description(""),
        scope: scope(),
        planned_start: at("2025-02-10T08:00:00Z"),
        planned_end: at("2025-02-11T08:00:00Z"),
        test_cases: [id(11), id(12)].into(),
    }
}

fn edit_action() -> CampaignAction {
    CampaignAction::Edit {
        name: name("Q1 initial access, extended"),
        description: description("Phishing, script execution\nand valid accounts."),
        scope: CampaignScope::parse(["T1078"], None).unwrap(),
        planned_start: at("2025-03-03T08:00:00Z"),
        planned_end: at("2025-03-14T17:00:00Z"),
    }
}

fn framework() -> TestFramework<Campaign> {
    TestFramework::with(())
}

/// One valid action of every kind but creation, for a planned one-off campaign with member `id(11)`.
fn actions_on_existing() -> Vec<CampaignAction> {
    vec![
        edit_action(),
        CampaignAction::Activate,
        CampaignAction::Complete,
        CampaignAction::Cancel {
            reason: reason("Out of budget."),
        },
        CampaignAction::AddTestCase {
            test_case_id: id(12),
        },
        CampaignAction::RemoveTestCase {
            test_case_id: id(11),
        },
        CampaignAction::SetRecurrence {
            recurrence: Some(weekly()),
        },
        CampaignAction::RecordSpawn {
            due_at: at("2025-02-10T08:00:00Z"),
            instance_id: id(2),
        },
    ]
}

// Values

#[test]
fn name_is_trimmed() {
    assert_eq!(name("  Q1 initial access \n").as_str(), "Q1 initial access");
}

#[test]
fn name_rejects_each_bad_input_with_its_reason() {
    let too_long = "a".repeat(201);
    for (input, why) in [
        (" \t ", "it is empty"),
        (too_long.as_str(), "it is longer than 200 characters"),
        ("Q1\u{7}", "it contains control characters"),
        ("Q1\nQ2", "it contains control characters"),
    ] {
        let error = CampaignName::parse(input).unwrap_err();
        assert_eq!(
            error,
            CampaignError::InvalidName(why.to_owned()),
            "{input:?}"
        );
        assert_eq!(error.code(), "INVALID_NAME");
    }
    assert_eq!(name(&"a".repeat(200)).as_str().len(), 200);
    assert!(serde_json::from_str::<CampaignName>("\"  \"").is_err());
}

#[test]
fn description_may_be_empty_and_keeps_line_breaks() {
    assert_eq!(CampaignDescription::default(), description("   "));
    assert_eq!(
        description(" Step one.\r\n\tStep two. ").as_str(),
        "Step one.\r\n\tStep two."
    );
}

#[test]
fn description_rejects_control_characters_and_excess_length() {
    assert_eq!(
        CampaignDescription::parse("bell\u{7}"),
        Err(CampaignError::InvalidDescription(
            "it contains control characters other than line breaks and tabs".to_owned()
        ))
    );
    let error = CampaignDescription::parse(&"a".repeat(5001)).unwrap_err();
    assert_eq!(
        error,
        CampaignError::InvalidDescription("it is longer than 5000 characters".to_owned())
    );
    assert_eq!(error.code(), "INVALID_DESCRIPTION");
    assert!(CampaignDescription::parse(&"a".repeat(5000)).is_ok());
}

#[test]
fn cancellation_reason_is_required_and_bounded() {
    assert_eq!(reason("  Out of budget. ").as_str(), "Out of budget.");
    for (input, why) in [
        ("  ", "it is empty"),
        (&"a".repeat(501)[..], "it is longer than 500 characters"),
        (
            "a\u{1b}b",
            "it contains control characters other than line breaks and tabs",
        ),
    ] {
        let error = CancellationReason::parse(input).unwrap_err();
        assert_eq!(error, CampaignError::InvalidReason(why.to_owned()));
        assert_eq!(error.code(), "INVALID_REASON");
    }
}

#[test]
fn technique_ids_are_normalised() {
    for (input, normalised) in [
        ("T1059", "T1059"),
        (" t1059.001 ", "T1059.001"),
        ("T0001", "T0001"),
    ] {
        assert_eq!(ScopeTechnique::parse(input).unwrap().as_str(), normalised);
    }
}

#[test]
fn malformed_technique_ids_are_rejected() {
    for input in [
        "",
        "T",
        "T105",
        "T10590",
        "T1059.",
        "T1059.01",
        "T1059.0001",
        "1059",
        "G0016",
        "T1059-001",
        "T１０５９",
        "T1059.001.002",
        "TA0001",
    ] {
        let error = ScopeTechnique::parse(input).unwrap_err();
        assert_eq!(error.code(), "INVALID_SCOPE", "{input:?}");
    }
    assert_eq!(
        ScopeTechnique::parse(" T105 "),
        Err(CampaignError::InvalidScope(
            "\"T105\" is not a technique id such as T1059 or T1059.001".to_owned()
        ))
    );
}

#[test]
fn threat_actor_ids_are_normalised_and_checked() {
    assert_eq!(
        ScopeThreatActor::parse(" g0016 ").unwrap().as_str(),
        "G0016"
    );
    for input in ["", "G16", "G00016", "T1059", "APT29", "S0002"] {
        assert_eq!(
            ScopeThreatActor::parse(input).unwrap_err().code(),
            "INVALID_SCOPE",
            "{input:?}"
        );
    }
}

#[test]
fn scope_needs_a_technique_or_a_threat_actor() {
    assert_eq!(
        CampaignScope::parse([], None),
        Err(CampaignError::InvalidScope(
            "it names neither a technique nor a threat actor".to_owned()
        ))
    );
    let techniques_only = CampaignScope::parse(["T1059"], None).unwrap();
    assert_eq!(techniques_only.techniques().len(), 1);
    assert_eq!(techniques_only.threat_actor(), None);
    let actor_only = CampaignScope::parse([], Some("G0016")).unwrap();
    assert!(actor_only.techniques().is_empty());
    assert_eq!(actor_only.threat_actor().unwrap().as_str(), "G0016");
}

#[test]
fn scope_merges_spellings_of_one_technique() {
    let scope = CampaignScope::parse(["T1059", "t1059", "T1059.001"], None).unwrap();
    let ids: Vec<&str> = scope
        .techniques()
        .iter()
        .map(ScopeTechnique::as_str)
        .collect();
    assert_eq!(ids, ["T1059", "T1059.001"]);
}

#[test]
fn scope_is_bounded() {
    let ids: Vec<String> = (0..1001).map(|number| format!("T{number:04}")).collect();
    assert_eq!(
        CampaignScope::parse(ids.iter().map(String::as_str), None),
        Err(CampaignError::InvalidScope(
            "it names more than 1000 techniques".to_owned()
        ))
    );
    assert!(CampaignScope::parse(ids[..1000].iter().map(String::as_str), None).is_ok());
}

#[test]
fn scope_is_checked_when_loaded() {
    assert!(
        serde_json::from_str::<CampaignScope>(r#"{"techniques":[],"threat_actor":null}"#).is_err()
    );
    assert!(
        serde_json::from_str::<CampaignScope>(r#"{"techniques":["T99"],"threat_actor":null}"#)
            .is_err()
    );
    assert_eq!(
        serde_json::from_str::<CampaignScope>(r#"{"techniques":[],"threat_actor":"G0016"}"#)
            .unwrap(),
        CampaignScope::parse([], Some("G0016")).unwrap()
    );
}

#[test]
fn every_status_round_trips_through_serde_as_its_name() {
    for status in [
        CampaignStatus::Planned,
        CampaignStatus::Active,
        CampaignStatus::Completed,
        CampaignStatus::Cancelled,
    ] {
        let json = serde_json::to_string(&status).unwrap();
        assert_eq!(json, format!("\"{status}\""));
        assert_eq!(
            serde_json::from_str::<CampaignStatus>(&json).unwrap(),
            status
        );
    }
}

#[test]
fn error_codes_are_distinct() {
    let errors = [
        CampaignError::RoleRequired,
        CampaignError::InvalidName(String::new()),
        CampaignError::InvalidDescription(String::new()),
        CampaignError::InvalidReason(String::new()),
        CampaignError::InvalidDates {
            planned_start: now(),
            planned_end: now(),
        },
        CampaignError::InvalidRecurrence(String::new()),
        CampaignError::InvalidScope(String::new()),
        CampaignError::WrongStatus(CampaignStatus::Planned),
        CampaignError::AlreadyMember(id(1)),
        CampaignError::NotMember(id(1)),
        CampaignError::AlreadySpawned {
            due_at: now(),
            instance_id: id(1),
        },
        CampaignError::NotRecurring,
        CampaignError::NotADueTime(now()),
        CampaignError::NotDueYet(now()),
        CampaignError::NotFound,
        CampaignError::AlreadyExists,
    ];
    let codes: BTreeSet<&str> = errors.iter().map(CampaignError::code).collect();
    assert_eq!(codes.len(), errors.len());
    assert_eq!(
        CampaignError::WrongStatus(CampaignStatus::Completed).to_string(),
        "This cannot be done while the campaign is completed."
    );
}

// Who may act

#[test]
fn leads_and_admins_may_create_campaigns() {
    for roles in [
        &[Role::RedLead][..],
        &[Role::BlueLead],
        &[Role::Admin],
        &[Role::Viewer, Role::BlueLead],
    ] {
        framework()
            .given_no_previous_events()
            .when(command_by(roles, create_action()))
            .then_expect_events(vec![created()]);
    }
}

#[test]
fn other_roles_may_not_create_campaigns() {
    for role in [Role::RedTech, Role::BlueTech, Role::Viewer] {
        framework()
            .given_no_previous_events()
            .when(command_by(&[role], create_action()))
            .then_expect_error(CampaignError::RoleRequired);
        framework()
            .given_no_previous_events()
            .when(command_by(&[role], create_instance_action()))
            .then_expect_error(CampaignError::RoleRequired);
    }
}

#[test]
fn other_roles_may_not_change_campaigns() {
    for action in actions_on_existing() {
        for roles in [&[Role::RedTech, Role::BlueTech, Role::Viewer][..], &[]] {
            framework()
                .given(vec![
                    created(),
                    CampaignEvent::TestCaseAdded {
                        test_case_id: id(11),
                    },
                ])
                .when(command_by(roles, action.clone()))
                .then_expect_error(CampaignError::RoleRequired);
        }
    }
}

// Create

#[test]
fn creating_a_recurring_campaign() {
    framework()
        .given_no_previous_events()
        .when(command(CampaignAction::Create {
            name: name("Weekly phishing drill"),
            description: description(""),
            scope: scope(),
            planned_start: at("2025-02-03T08:00:00Z"),
            planned_end: at("2025-02-04T08:00:00Z"),
            recurrence: Some(weekly()),
        }))
        .then_expect_events(vec![created_recurring()]);
}

#[test]
fn a_campaign_may_start_and_end_at_the_same_instant() {
    let instant = at("2025-03-03T08:00:00Z");
    let result = framework()
        .given_no_previous_events()
        .when(command(CampaignAction::Create {
            name: name("Tabletop"),
            description: description(""),
            scope: scope(),
            planned_start: instant,
            planned_end: instant,
            recurrence: None,
        }))
        .inspect_result();
    assert_eq!(result.unwrap().len(), 1);
}

#[test]
fn creating_with_the_end_before_the_start_is_refused() {
    framework()
        .given_no_previous_events()
        .when(command(CampaignAction::Create {
            name: name("Backwards"),
            description: description(""),
            scope: scope(),
            planned_start: at("2025-03-07T08:00:00Z"),
            planned_end: at("2025-03-07T07:59:59Z"),
            recurrence: None,
        }))
        .then_expect_error(CampaignError::InvalidDates {
            planned_start: at("2025-03-07T08:00:00Z"),
            planned_end: at("2025-03-07T07:59:59Z"),
        });
}

#[test]
fn creating_an_existing_campaign_is_refused() {
    framework()
        .given(vec![created()])
        .when(command(create_action()))
        .then_expect_error(CampaignError::AlreadyExists);
    framework()
        .given(vec![created()])
        .when(command(create_instance_action()))
        .then_expect_error(CampaignError::AlreadyExists);
}

// CreateInstance

#[test]
fn creating_an_instance() {
    framework()
        .given_no_previous_events()
        .when(command(create_instance_action()))
        .then_expect_events(vec![instance_created()]);
}

fn instance_created() -> CampaignEvent {
    CampaignEvent::InstanceCreated {
        template_id: id(1),
        due_at: at("2025-02-10T08:00:00Z"),
        name: name("Weekly phishing drill (2025-02-10 09:00)"),
        description: description(""),
        scope: scope(),
        planned_start: at("2025-02-10T08:00:00Z"),
        planned_end: at("2025-02-11T08:00:00Z"),
        test_cases: [id(11), id(12)].into(),
    }
}

#[test]
fn creating_an_instance_with_the_end_before_the_start_is_refused() {
    let CampaignAction::CreateInstance {
        template_id,
        due_at,
        name,
        description,
        scope,
        planned_start,
        test_cases,
        ..
    } = create_instance_action()
    else {
        unreachable!()
    };
    let planned_end = planned_start - TimeDelta::minutes(1);
    framework()
        .given_no_previous_events()
        .when(command(CampaignAction::CreateInstance {
            template_id,
            due_at,
            name,
            description,
            scope,
            planned_start,
            planned_end,
            test_cases,
        }))
        .then_expect_error(CampaignError::InvalidDates {
            planned_start,
            planned_end,
        });
}

// Commands on a campaign that does not exist

#[test]
fn every_other_command_needs_an_existing_campaign() {
    for action in actions_on_existing() {
        framework()
            .given_no_previous_events()
            .when(command(action))
            .then_expect_error(CampaignError::NotFound);
    }
}

// Edit

#[test]
fn editing_a_planned_or_active_campaign() {
    let edited = CampaignEvent::Edited {
        name: name("Q1 initial access, extended"),
        description: description("Phishing, script execution\nand valid accounts."),
        scope: CampaignScope::parse(["T1078"], None).unwrap(),
        planned_start: at("2025-03-03T08:00:00Z"),
        planned_end: at("2025-03-14T17:00:00Z"),
    };
    framework()
        .given(vec![created()])
        .when(command(edit_action()))
        .then_expect_events(vec![edited.clone()]);
    framework()
        .given(vec![created(), CampaignEvent::Activated { at: now() }])
        .when(command(edit_action()))
        .then_expect_events(vec![edited]);
}

#[test]
fn editing_to_the_current_details_changes_nothing() {
    framework()
        .given(vec![created()])
        .when(command(CampaignAction::Edit {
            name: name("Q1 initial access"),
            description: description("Phishing and script execution."),
            scope: scope(),
            planned_start: at("2025-03-03T08:00:00Z"),
            planned_end: at("2025-03-07T17:00:00Z"),
        }))
        .then_expect_events(vec![]);
}

#[test]
fn editing_with_the_end_before_the_start_is_refused() {
    framework()
        .given(vec![created()])
        .when(command(CampaignAction::Edit {
            name: name("Q1 initial access"),
            description: description(""),
            scope: scope(),
            planned_start: at("2025-03-03T08:00:00Z"),
            planned_end: at("2025-03-01T08:00:00Z"),
        }))
        .then_expect_error(CampaignError::InvalidDates {
            planned_start: at("2025-03-03T08:00:00Z"),
            planned_end: at("2025-03-01T08:00:00Z"),
        });
}

/// A campaign in each final status, with member `id(11)`.
fn finished_campaigns() -> Vec<(CampaignStatus, Vec<CampaignEvent>)> {
    let member = CampaignEvent::TestCaseAdded {
        test_case_id: id(11),
    };
    vec![
        (
            CampaignStatus::Completed,
            vec![
                created(),
                member.clone(),
                CampaignEvent::Activated { at: now() },
                CampaignEvent::Completed { at: now() },
            ],
        ),
        (
            CampaignStatus::Cancelled,
            vec![
                created(),
                member,
                CampaignEvent::Cancelled {
                    reason: reason("Out of budget."),
                    at: now(),
                },
            ],
        ),
    ]
}

#[test]
fn a_finished_campaign_refuses_every_change() {
    let changes = vec![
        edit_action(),
        CampaignAction::Activate,
        CampaignAction::Complete,
        CampaignAction::Cancel {
            reason: reason("Again."),
        },
        CampaignAction::AddTestCase {
            test_case_id: id(12),
        },
        CampaignAction::RemoveTestCase {
            test_case_id: id(11),
        },
        CampaignAction::SetRecurrence {
            recurrence: Some(weekly()),
        },
    ];
    for (status, history) in finished_campaigns() {
        for action in changes.clone() {
            framework()
                .given(history.clone())
                .when(command(action))
                .then_expect_error(CampaignError::WrongStatus(status));
        }
    }
}

// Activate, Complete, Cancel

#[test]
fn activating_a_planned_campaign() {
    framework()
        .given(vec![created()])
        .when(command(CampaignAction::Activate))
        .then_expect_events(vec![CampaignEvent::Activated { at: now() }]);
}

#[test]
fn activating_an_active_campaign_is_refused() {
    framework()
        .given(vec![created(), CampaignEvent::Activated { at: now() }])
        .when(command(CampaignAction::Activate))
        .then_expect_error(CampaignError::WrongStatus(CampaignStatus::Active));
}

#[test]
fn completing_an_active_campaign() {
    framework()
        .given(vec![created(), CampaignEvent::Activated { at: now() }])
        .when(command(CampaignAction::Complete))
        .then_expect_events(vec![CampaignEvent::Completed { at: now() }]);
}

#[test]
fn completing_a_planned_campaign_is_refused() {
    framework()
        .given(vec![created()])
        .when(command(CampaignAction::Complete))
        .then_expect_error(CampaignError::WrongStatus(CampaignStatus::Planned));
}

#[test]
fn cancelling_a_planned_or_active_campaign() {
    let cancel = || {
        command(CampaignAction::Cancel {
            reason: reason("Scope moved to Q2."),
        })
    };
    let cancelled = CampaignEvent::Cancelled {
        reason: reason("Scope moved to Q2."),
        at: now(),
    };
    framework()
        .given(vec![created()])
        .when(cancel())
        .then_expect_events(vec![cancelled.clone()]);
    framework()
        .given(vec![created(), CampaignEvent::Activated { at: now() }])
        .when(cancel())
        .then_expect_events(vec![cancelled]);
}

// Membership

#[test]
fn adding_a_test_case() {
    framework()
        .given(vec![created()])
        .when(command(CampaignAction::AddTestCase {
            test_case_id: id(11),
        }))
        .then_expect_events(vec![CampaignEvent::TestCaseAdded {
            test_case_id: id(11),
        }]);
}

#[test]
fn adding_a_member_again_is_refused() {
    framework()
        .given(vec![
            created(),
            CampaignEvent::TestCaseAdded {
                test_case_id: id(11),
            },
        ])
        .when(command(CampaignAction::AddTestCase {
            test_case_id: id(11),
        }))
        .then_expect_error(CampaignError::AlreadyMember(id(11)));
}

#[test]
fn removing_a_test_case_from_an_active_campaign() {
    framework()
        .given(vec![
            created(),
            CampaignEvent::TestCaseAdded {
                test_case_id: id(11),
            },
            CampaignEvent::Activated { at: now() },
        ])
        .when(command(CampaignAction::RemoveTestCase {
            test_case_id: id(11),
        }))
        .then_expect_events(vec![CampaignEvent::TestCaseRemoved {
            test_case_id: id(11),
        }]);
}

#[test]
fn removing_a_test_case_that_is_no_member_is_refused() {
    framework()
        .given(vec![
            created(),
            CampaignEvent::TestCaseAdded {
                test_case_id: id(11),
            },
            CampaignEvent::TestCaseRemoved {
                test_case_id: id(11),
            },
        ])
        .when(command(CampaignAction::RemoveTestCase {
            test_case_id: id(11),
        }))
        .then_expect_error(CampaignError::NotMember(id(11)));
}

#[test]
fn an_instance_starts_with_its_test_cases_as_members() {
    framework()
        .given(vec![instance_created()])
        .when(command(CampaignAction::AddTestCase {
            test_case_id: id(12),
        }))
        .then_expect_error(CampaignError::AlreadyMember(id(12)));
}

// SetRecurrence

#[test]
fn making_a_campaign_recur() {
    framework()
        .given(vec![created()])
        .when(command(CampaignAction::SetRecurrence {
            recurrence: Some(weekly()),
        }))
        .then_expect_events(vec![CampaignEvent::RecurrenceSet {
            recurrence: weekly(),
        }]);
}

#[test]
fn changing_a_schedule() {
    let monthly = Recurrence::parse("0 9 1 * *", "Europe/Berlin").unwrap();
    framework()
        .given(vec![created_recurring()])
        .when(command(CampaignAction::SetRecurrence {
            recurrence: Some(monthly.clone()),
        }))
        .then_expect_events(vec![CampaignEvent::RecurrenceSet {
            recurrence: monthly,
        }]);
}

#[test]
fn stopping_a_recurrence() {
    framework()
        .given(vec![created_recurring()])
        .when(command(CampaignAction::SetRecurrence { recurrence: None }))
        .then_expect_events(vec![CampaignEvent::RecurrenceCleared]);
}

#[test]
fn setting_the_current_recurrence_changes_nothing() {
    framework()
        .given(vec![created_recurring()])
        .when(command(CampaignAction::SetRecurrence {
            recurrence: Some(weekly()),
        }))
        .then_expect_events(vec![]);
    framework()
        .given(vec![created()])
        .when(command(CampaignAction::SetRecurrence { recurrence: None }))
        .then_expect_events(vec![]);
}

#[test]
fn an_instance_may_not_recur_itself() {
    framework()
        .given(vec![instance_created()])
        .when(command(CampaignAction::SetRecurrence {
            recurrence: Some(weekly()),
        }))
        .then_expect_error(CampaignError::InvalidRecurrence(
            "an instance of a recurring campaign cannot recur itself".to_owned(),
        ));
}

// RecordSpawn

fn record_spawn(due_at: &str, instance_id: Uuid) -> CampaignCommand {
    command(CampaignAction::RecordSpawn {
        due_at: at(due_at),
        instance_id,
    })
}

#[test]
fn recording_a_spawn() {
    framework()
        .given(vec![created_recurring()])
        .when(record_spawn("2025-02-10T08:00:00Z", id(2)))
        .then_expect_events(vec![CampaignEvent::SpawnRecorded {
            due_at: at("2025-02-10T08:00:00Z"),
            instance_id: id(2),
        }]);
}

#[test]
fn recording_a_second_spawn_for_a_due_time_is_refused_with_the_first_instance() {
    framework()
        .given(vec![
            created_recurring(),
            CampaignEvent::SpawnRecorded {
                due_at: at("2025-02-10T08:00:00Z"),
                instance_id: id(2),
            },
        ])
        .when(record_spawn("2025-02-10T08:00:00Z", id(3)))
        .then_expect_error(CampaignError::AlreadySpawned {
            due_at: at("2025-02-10T08:00:00Z"),
            instance_id: id(2),
        });
}

#[test]
fn already_spawned_wins_over_later_changes_to_the_template() {
    framework()
        .given(vec![
            created_recurring(),
            CampaignEvent::SpawnRecorded {
                due_at: at("2025-02-10T08:00:00Z"),
                instance_id: id(2),
            },
            CampaignEvent::RecurrenceCleared,
            CampaignEvent::Cancelled {
                reason: reason("Drill retired."),
                at: now(),
            },
        ])
        .when(record_spawn("2025-02-10T08:00:00Z", id(2)))
        .then_expect_error(CampaignError::AlreadySpawned {
            due_at: at("2025-02-10T08:00:00Z"),
            instance_id: id(2),
        });
}

#[test]
fn another_due_time_may_be_spawned() {
    framework()
        .given(vec![
            created_recurring(),
            CampaignEvent::SpawnRecorded {
                due_at: at("2025-02-10T08:00:00Z"),
                instance_id: id(2),
            },
        ])
        .when(record_spawn("2025-02-17T08:00:00Z", id(3)))
        .then_expect_events(vec![CampaignEvent::SpawnRecorded {
            due_at: at("2025-02-17T08:00:00Z"),
            instance_id: id(3),
        }]);
}

#[test]
fn recording_a_spawn_on_a_campaign_that_does_not_recur_is_refused() {
    framework()
        .given(vec![created()])
        .when(record_spawn("2025-02-10T08:00:00Z", id(2)))
        .then_expect_error(CampaignError::NotRecurring);
}

#[test]
fn recording_a_spawn_on_a_finished_template_is_refused() {
    framework()
        .given(vec![
            created_recurring(),
            CampaignEvent::Activated { at: now() },
            CampaignEvent::Completed { at: now() },
        ])
        .when(record_spawn("2025-02-10T08:00:00Z", id(2)))
        .then_expect_error(CampaignError::WrongStatus(CampaignStatus::Completed));
}

#[test]
fn recording_a_spawn_for_a_time_the_schedule_does_not_fire_is_refused() {
    // 09:00 UTC is 10:00 in Berlin; and a due time shifted by a second is a different key, not a due time.
    for instant in ["2025-02-10T09:00:00Z", "2025-02-10T08:00:01Z"] {
        framework()
            .given(vec![created_recurring()])
            .when(record_spawn(instant, id(2)))
            .then_expect_error(CampaignError::NotADueTime(at(instant)));
    }
}

#[test]
fn recording_a_spawn_before_it_is_due_is_refused() {
    framework()
        .given(vec![created_recurring()])
        .when(record_spawn("2025-03-03T08:00:00Z", id(2)))
        .then_expect_error(CampaignError::NotDueYet(at("2025-03-03T08:00:00Z")));
}

#[test]
fn recording_a_spawn_exactly_when_due() {
    framework()
        .given(vec![created_recurring()])
        .when(CampaignCommand {
            actor: actor(&[Role::Admin]),
            at: at("2025-03-03T08:00:00Z"),
            action: CampaignAction::RecordSpawn {
                due_at: at("2025-03-03T08:00:00Z"),
                instance_id: id(2),
            },
        })
        .then_expect_events(vec![CampaignEvent::SpawnRecorded {
            due_at: at("2025-03-03T08:00:00Z"),
            instance_id: id(2),
        }]);
}

// Helpers for the scheduler

fn replay(events: Vec<CampaignEvent>) -> Campaign {
    let mut campaign = Campaign::default();
    for event in events {
        campaign.apply(event);
    }
    campaign
}

#[test]
fn the_instance_action_copies_the_template() {
    let template = replay(vec![created_recurring()]);
    let action = template
        .instance_action(id(1), at("2025-02-10T08:00:00Z"), [id(11), id(12)].into())
        .unwrap();
    assert_eq!(action, create_instance_action());
}

#[test]
fn the_instance_name_shows_the_local_due_time_and_fits() {
    let mut template = replay(vec![created_recurring()]);
    template.apply(CampaignEvent::Edited {
        name: name(&"x".repeat(200)),
        description: description(""),
        scope: scope(),
        planned_start: at("2025-02-03T08:00:00Z"),
        planned_end: at("2025-02-03T08:00:00Z"),
    });
    // Summer time: 09:00 in Berlin is 07:00 UTC.
    let CampaignAction::CreateInstance { name, .. } = template
        .instance_action(id(1), at("2025-07-07T07:00:00Z"), BTreeSet::new())
        .unwrap()
    else {
        unreachable!()
    };
    assert_eq!(name.as_str().chars().count(), 200);
    assert!(name.as_str().ends_with("x (2025-07-07 09:00)"));
}

#[test]
fn the_instance_action_needs_a_recurring_template_and_a_due_time() {
    assert_eq!(
        Campaign::default().instance_action(id(1), now(), BTreeSet::new()),
        Err(CampaignError::NotFound)
    );
    assert_eq!(
        replay(vec![created()]).instance_action(id(1), now(), BTreeSet::new()),
        Err(CampaignError::NotRecurring)
    );
    assert_eq!(
        replay(vec![created_recurring()]).instance_action(id(1), now(), BTreeSet::new()),
        Err(CampaignError::NotADueTime(now()))
    );
}

#[test]
fn unspawned_due_times_start_after_the_planned_start_and_the_latest_spawn() {
    let mut template = replay(vec![created_recurring()]);
    // Planned start is the first Monday's 09:00, which is the template's own run.
    assert_eq!(
        template.unspawned_due_times(at("2025-02-17T08:00:00Z")),
        [at("2025-02-10T08:00:00Z"), at("2025-02-17T08:00:00Z")]
    );
    template.apply(CampaignEvent::SpawnRecorded {
        due_at: at("2025-02-10T08:00:00Z"),
        instance_id: id(2),
    });
    assert_eq!(
        template.unspawned_due_times(at("2025-02-17T08:00:00Z")),
        [at("2025-02-17T08:00:00Z")]
    );
    assert!(
        template
            .unspawned_due_times(at("2025-02-17T07:59:59Z"))
            .is_empty()
    );
}

#[test]
fn unspawned_due_times_are_empty_unless_an_open_campaign_recurs() {
    let later = at("2025-06-01T00:00:00Z");
    assert!(Campaign::default().unspawned_due_times(later).is_empty());
    assert!(
        replay(vec![created()])
            .unspawned_due_times(later)
            .is_empty()
    );
    let cancelled = replay(vec![
        created_recurring(),
        CampaignEvent::Cancelled {
            reason: reason("Retired."),
            at: now(),
        },
    ]);
    assert!(cancelled.unspawned_due_times(later).is_empty());
}

// State

#[test]
fn the_state_follows_the_events() {
    let mut campaign = replay(vec![created_recurring()]);
    assert_eq!(campaign.status(), Some(CampaignStatus::Planned));
    assert_eq!(
        campaign.details().unwrap().name,
        name("Weekly phishing drill")
    );
    assert_eq!(campaign.recurrence(), Some(&weekly()));
    assert_eq!(campaign.origin(), None);

    for event in [
        CampaignEvent::TestCaseAdded {
            test_case_id: id(11),
        },
        CampaignEvent::TestCaseAdded {
            test_case_id: id(12),
        },
        CampaignEvent::TestCaseRemoved {
            test_case_id: id(11),
        },
        CampaignEvent::Activated { at: now() },
        CampaignEvent::SpawnRecorded {
            due_at: at("2025-02-10T08:00:00Z"),
            instance_id: id(2),
        },
        CampaignEvent::RecurrenceCleared,
    ] {
        campaign.apply(event);
    }
    assert_eq!(campaign.status(), Some(CampaignStatus::Active));
    assert_eq!(campaign.test_cases(), &BTreeSet::from([id(12)]));
    assert_eq!(campaign.recurrence(), None);
    assert_eq!(
        campaign.spawned(),
        &BTreeMap::from([(at("2025-02-10T08:00:00Z"), id(2))])
    );

    let instance = replay(vec![instance_created()]);
    assert_eq!(
        instance.origin(),
        Some(InstanceOrigin {
            template_id: id(1),
            due_at: at("2025-02-10T08:00:00Z"),
        })
    );
    assert_eq!(instance.test_cases(), &BTreeSet::from([id(11), id(12)]));
}

#[test]
fn the_state_survives_a_snapshot() {
    let campaign = replay(vec![
        created_recurring(),
        CampaignEvent::SpawnRecorded {
            due_at: at("2025-02-10T08:00:00Z"),
            instance_id: id(2),
        },
    ]);
    let json = serde_json::to_string(&campaign).unwrap();
    assert_eq!(serde_json::from_str::<Campaign>(&json).unwrap(), campaign);
}

// The persisted contract

/// Every event with the JSON stored for it at version 1. These literals are the persisted contract:
/// if one stops matching, write an upcaster instead of editing the literal.
fn stored_v1_events() -> Vec<(CampaignEvent, &'static str, &'static str)> {
    vec![
        (
            created(),
            "CampaignCreated",
            r#"{"Created":{"name":"Q1 initial access","description":"Phishing and script execution.","scope":{"techniques":["T1059.001","T1566"],"threat_actor":"G0016"},"planned_start":"2025-03-03T08:00:00Z","planned_end":"2025-03-07T17:00:00Z","recurrence":null}}"#,
        ),
        (
            created_recurring(),
            "CampaignCreated",
            r#"{"Created":{"name":"Weekly phishing drill","description":"","scope":{"techniques":["T1059.001","T1566"],"threat_actor":"G0016"},"planned_start":"2025-02-03T08:00:00Z","planned_end":"2025-02-04T08:00:00Z","recurrence":{"cron":"0 9 * * 1","timezone":"Europe/Berlin"}}}"#,
        ),
        (
            instance_created(),
            "CampaignInstanceCreated",
            r#"{"InstanceCreated":{"template_id":"00000000-0000-0000-0000-000000000001","due_at":"2025-02-10T08:00:00Z","name":"Weekly phishing drill (2025-02-10 09:00)","description":"","scope":{"techniques":["T1059.001","T1566"],"threat_actor":"G0016"},"planned_start":"2025-02-10T08:00:00Z","planned_end":"2025-02-11T08:00:00Z","test_cases":["00000000-0000-0000-0000-00000000000b","00000000-0000-0000-0000-00000000000c"]}}"#,
        ),
        (
            CampaignEvent::Edited {
                name: name("Q1 initial access, extended"),
                description: description("Two lines:\nphishing and accounts."),
                scope: CampaignScope::parse(["T1078"], None).unwrap(),
                planned_start: at("2025-03-03T08:00:00Z"),
                planned_end: at("2025-03-14T17:00:00Z"),
            },
            "CampaignEdited",
            r#"{"Edited":{"name":"Q1 initial access, extended","description":"Two lines:\nphishing and accounts.","scope":{"techniques":["T1078"],"threat_actor":null},"planned_start":"2025-03-03T08:00:00Z","planned_end":"2025-03-14T17:00:00Z"}}"#,
        ),
        (
            CampaignEvent::Activated {
                at: at("2025-03-03T08:05:00Z"),
            },
            "CampaignActivated",
            r#"{"Activated":{"at":"2025-03-03T08:05:00Z"}}"#,
        ),
        (
            CampaignEvent::Completed {
                at: at("2025-03-07T16:30:00Z"),
            },
            "CampaignCompleted",
            r#"{"Completed":{"at":"2025-03-07T16:30:00Z"}}"#,
        ),
        (
            CampaignEvent::Cancelled {
                reason: reason("Scope moved to Q2."),
                at: at("2025-03-02T10:00:00Z"),
            },
            "CampaignCancelled",
            r#"{"Cancelled":{"reason":"Scope moved to Q2.","at":"2025-03-02T10:00:00Z"}}"#,
        ),
        (
            CampaignEvent::TestCaseAdded {
                test_case_id: id(11),
            },
            "CampaignTestCaseAdded",
            r#"{"TestCaseAdded":{"test_case_id":"00000000-0000-0000-0000-00000000000b"}}"#,
        ),
        (
            CampaignEvent::TestCaseRemoved {
                test_case_id: id(11),
            },
            "CampaignTestCaseRemoved",
            r#"{"TestCaseRemoved":{"test_case_id":"00000000-0000-0000-0000-00000000000b"}}"#,
        ),
        (
            CampaignEvent::RecurrenceSet {
                recurrence: Recurrence::parse("0 9 1 * *", "America/New_York").unwrap(),
            },
            "CampaignRecurrenceSet",
            r#"{"RecurrenceSet":{"recurrence":{"cron":"0 9 1 * *","timezone":"America/New_York"}}}"#,
        ),
        (
            CampaignEvent::RecurrenceCleared,
            "CampaignRecurrenceCleared",
            r#""RecurrenceCleared""#,
        ),
        (
            CampaignEvent::SpawnRecorded {
                due_at: at("2025-02-10T08:00:00Z"),
                instance_id: id(2),
            },
            "CampaignSpawnRecorded",
            r#"{"SpawnRecorded":{"due_at":"2025-02-10T08:00:00Z","instance_id":"00000000-0000-0000-0000-000000000002"}}"#,
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
        "CampaignCreated",
        "CampaignInstanceCreated",
        "CampaignEdited",
        "CampaignActivated",
        "CampaignCompleted",
        "CampaignCancelled",
        "CampaignTestCaseAdded",
        "CampaignTestCaseRemoved",
        "CampaignRecurrenceSet",
        "CampaignRecurrenceCleared",
        "CampaignSpawnRecorded",
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
        assert_eq!(serde_json::from_str::<CampaignEvent>(&json).unwrap(), event);
    }
}

#[test]
fn stored_v1_payloads_still_deserialize() {
    for (event, event_type, stored) in stored_v1_events() {
        assert_eq!(
            serde_json::from_str::<CampaignEvent>(stored).unwrap(),
            event
        );
        assert_eq!(event.event_type(), event_type);
        assert_eq!(event.event_version(), "1");
    }
}

#[test]
fn commands_round_trip_through_json_for_hashing() {
    let command = command(create_instance_action());
    let json = serde_json::to_string(&command).unwrap();
    assert_eq!(
        serde_json::from_str::<CampaignCommand>(&json).unwrap(),
        command
    );
}
