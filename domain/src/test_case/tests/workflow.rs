//! Given/when/then for every command: its happy path and the rejections of its own rules. Who may give it in
//! which state is in [`super::authorisation`].

use super::*;

/// A valid action of every kind but `PlanTestCase`.
fn every_action_but_plan() -> Vec<TestCaseAction> {
    vec![
        TestCaseAction::EditPlan { plan: plan() },
        TestCaseAction::AssignTestCase {
            red_assignee: Some(user(Role::RedTech)),
            blue_assignee: None,
        },
        TestCaseAction::StartExecution,
        TestCaseAction::RecordExecution {
            execution: execution("2025-03-01T12:05:00Z", "2025-03-01T12:06:00Z"),
        },
        TestCaseAction::CompleteExecution,
        TestCaseAction::StartReview,
        TestCaseAction::RecordDefenseOutcome {
            defense: defense("EDR", Outcome::Blocked),
        },
        TestCaseAction::SubmitForApproval,
        TestCaseAction::ApproveResult,
        TestCaseAction::RejectResult {
            reason: note("Wrong host."),
            back_to: Side::Red,
        },
        TestCaseAction::Pause,
        TestCaseAction::Resume,
        TestCaseAction::Abandon {
            reason: note("Out of scope."),
        },
        TestCaseAction::Reopen {
            reason: note("New rule deployed."),
        },
        TestCaseAction::RevealToBlue,
        TestCaseAction::LinkDetectionRule {
            rule: rule("sigma-lsass-dump"),
        },
        TestCaseAction::UnlinkDetectionRule {
            rule: rule("sigma-lsass-dump"),
        },
        TestCaseAction::AddComment {
            body: note("Looks good."),
        },
        TestCaseAction::AttachEvidence {
            evidence: evidence(50),
        },
        TestCaseAction::RemoveEvidence {
            evidence_id: id(50),
        },
    ]
}

// PlanTestCase

#[test]
fn plan_creates_a_planned_test_case_in_run_1() {
    framework()
        .given_no_previous_events()
        .when(by(
            Role::RedLead,
            TestCaseAction::PlanTestCase { plan: plan() },
        ))
        .then_expect_events(vec![planned()]);

    let test_case = rebuild(vec![planned()]);
    assert_eq!(test_case.state(), Some(TestState::Planned));
    assert_eq!(test_case.run(), 1);
    assert_eq!(test_case.plan(), Some(&plan()));
    assert!(test_case.is_hidden_from_blue());
}

#[test]
fn plan_an_existing_test_case_is_rejected() {
    framework()
        .given(vec![planned()])
        .when(by(
            Role::BlueLead,
            TestCaseAction::PlanTestCase { plan: plan() },
        ))
        .then_expect_error(TestCaseError::AlreadyExists);
}

#[test]
fn every_other_command_on_a_test_case_never_planned_is_rejected() {
    for action in every_action_but_plan() {
        framework()
            .given_no_previous_events()
            .when(by(Role::Admin, action))
            .then_expect_error(TestCaseError::NotFound);
    }
}

#[test]
fn a_fresh_test_case_has_nothing() {
    let test_case = TestCase::default();
    assert_eq!(test_case.state(), None);
    assert_eq!(test_case.plan(), None);
    assert_eq!(test_case.run(), 0);
    assert_eq!(test_case.outcome(), None);
    assert_eq!(test_case.time_to_detect(), None);
    assert!(!test_case.is_hidden_from_blue());
}

// EditPlan

#[test]
fn edit_plan_replaces_the_plan() {
    let edited = Plan {
        procedure: ProcedureSource::Lolbas {
            entry: TemplateRef::parse("Rundll32").unwrap(),
        },
        blind: false,
        ..plan()
    };
    framework()
        .given(history(TestState::Assigned))
        .when(by(
            Role::BlueLead,
            TestCaseAction::EditPlan {
                plan: edited.clone(),
            },
        ))
        .then_expect_events(vec![TestCaseEvent::PlanEdited {
            edited_by: user(Role::BlueLead),
            at: now(),
            plan: edited.clone(),
        }]);
}

#[test]
fn plan_edited_changes_the_plan_and_nothing_else() {
    let edited = Plan {
        blind: false,
        ..plan()
    };
    let mut events = history(TestState::Assigned);
    events.push(TestCaseEvent::PlanEdited {
        edited_by: user(Role::RedLead),
        at: now(),
        plan: edited.clone(),
    });
    let test_case = rebuild(events);
    assert_eq!(test_case.plan(), Some(&edited));
    assert_eq!(test_case.state(), Some(TestState::Assigned));
    assert!(!test_case.is_hidden_from_blue());
}

// AssignTestCase

#[test]
fn assign_names_both_techs() {
    framework()
        .given(history(TestState::Planned))
        .when(by(
            Role::Admin,
            TestCaseAction::AssignTestCase {
                red_assignee: Some(user(Role::RedTech)),
                blue_assignee: Some(user(Role::BlueTech)),
            },
        ))
        .then_expect_events(vec![assigned()]);
}

#[test]
fn each_lead_assigns_their_own_side_and_the_other_side_stays() {
    let red_assigned = TestCaseEvent::Assigned {
        assigned_by: user(Role::RedLead),
        at: now(),
        red_assignee: Some(user(Role::RedTech)),
        blue_assignee: None,
    };
    let blue_assigned = TestCaseEvent::Assigned {
        assigned_by: user(Role::BlueLead),
        at: now(),
        red_assignee: None,
        blue_assignee: Some(user(Role::BlueTech)),
    };
    framework()
        .given(vec![planned()])
        .when(by(
            Role::RedLead,
            TestCaseAction::AssignTestCase {
                red_assignee: Some(user(Role::RedTech)),
                blue_assignee: None,
            },
        ))
        .then_expect_events(vec![red_assigned.clone()]);
    framework()
        .given(vec![planned(), red_assigned.clone()])
        .when(by(
            Role::BlueLead,
            TestCaseAction::AssignTestCase {
                red_assignee: None,
                blue_assignee: Some(user(Role::BlueTech)),
            },
        ))
        .then_expect_events(vec![blue_assigned.clone()]);

    let test_case = rebuild(vec![planned(), red_assigned, blue_assigned]);
    assert_eq!(test_case.state(), Some(TestState::Assigned));
    assert_eq!(test_case.red_assignee(), Some(user(Role::RedTech)));
    assert_eq!(test_case.blue_assignee(), Some(user(Role::BlueTech)));
}

#[test]
fn a_lead_may_not_assign_the_other_side() {
    framework()
        .given(vec![planned()])
        .when(by(
            Role::RedLead,
            TestCaseAction::AssignTestCase {
                red_assignee: Some(user(Role::RedTech)),
                blue_assignee: Some(user(Role::BlueTech)),
            },
        ))
        .then_expect_error(TestCaseError::RoleRequired(&[Role::BlueLead]));
    framework()
        .given(vec![planned()])
        .when(by(
            Role::BlueLead,
            TestCaseAction::AssignTestCase {
                red_assignee: Some(user(Role::RedTech)),
                blue_assignee: Some(user(Role::BlueTech)),
            },
        ))
        .then_expect_error(TestCaseError::RoleRequired(&[Role::RedLead]));
}

#[test]
fn assign_without_an_assignee_is_rejected() {
    framework()
        .given(vec![planned()])
        .when(by(
            Role::Admin,
            TestCaseAction::AssignTestCase {
                red_assignee: None,
                blue_assignee: None,
            },
        ))
        .then_expect_error(TestCaseError::NothingToAssign);
}

// Red: StartExecution, RecordExecution, CompleteExecution

#[test]
fn the_assigned_red_tech_starts_the_execution() {
    framework()
        .given(history(TestState::Assigned))
        .when(by(Role::RedTech, TestCaseAction::StartExecution))
        .then_expect_events(vec![execution_started()]);
    assert_eq!(
        rebuild(history(TestState::Executing)).state(),
        Some(TestState::Executing)
    );
}

#[test]
fn a_red_lead_starts_an_execution_no_red_tech_is_assigned_to() {
    let blue_only = TestCaseEvent::Assigned {
        assigned_by: user(Role::BlueLead),
        at: now(),
        red_assignee: None,
        blue_assignee: Some(user(Role::BlueTech)),
    };
    framework()
        .given(vec![planned(), blue_only.clone()])
        .when(by(Role::RedLead, TestCaseAction::StartExecution))
        .then_expect_events(vec![TestCaseEvent::ExecutionStarted {
            started_by: user(Role::RedLead),
            at: now(),
        }]);
    framework()
        .given(vec![planned(), blue_only])
        .when(by(Role::RedTech, TestCaseAction::StartExecution))
        .then_expect_error(TestCaseError::NotAssignee);
}

#[test]
fn executions_are_recorded_repeatedly() {
    let second = execution("2025-03-01T12:10:00Z", "2025-03-01T12:10:00Z");
    framework()
        .given(history(TestState::Executing))
        .when(by(
            Role::RedTech,
            TestCaseAction::RecordExecution {
                execution: second.clone(),
            },
        ))
        .then_expect_events(vec![execution_recorded(second.clone())]);

    let mut events = history(TestState::Executing);
    events.push(execution_recorded(second.clone()));
    let test_case = rebuild(events);
    assert_eq!(
        test_case.executions(),
        [
            execution("2025-03-01T12:05:00Z", "2025-03-01T12:06:00Z"),
            second
        ]
    );
    assert_eq!(test_case.state(), Some(TestState::Executing));
}

#[test]
fn an_execution_that_stops_before_it_starts_is_rejected() {
    framework()
        .given(history(TestState::Executing))
        .when(by(
            Role::RedTech,
            TestCaseAction::RecordExecution {
                execution: execution("2025-03-01T12:06:00Z", "2025-03-01T12:05:59Z"),
            },
        ))
        .then_expect_error(TestCaseError::InvalidTimeRange);
}

#[test]
fn complete_execution_hands_over_to_blue() {
    framework()
        .given(history(TestState::Executing))
        .when(by(Role::RedTech, TestCaseAction::CompleteExecution))
        .then_expect_events(vec![execution_completed()]);
    assert_eq!(
        rebuild(history(TestState::Executed)).state(),
        Some(TestState::Executed)
    );
}

#[test]
fn complete_execution_without_an_execution_is_rejected() {
    framework()
        .given(vec![planned(), assigned(), execution_started()])
        .when(by(Role::RedTech, TestCaseAction::CompleteExecution))
        .then_expect_error(TestCaseError::NoExecution);
}

#[test]
fn a_red_tech_who_is_not_assigned_may_not_do_red_work() {
    let cases = [
        (TestState::Assigned, TestCaseAction::StartExecution),
        (
            TestState::Executing,
            TestCaseAction::RecordExecution {
                execution: execution("2025-03-01T12:05:00Z", "2025-03-01T12:06:00Z"),
            },
        ),
        (TestState::Executing, TestCaseAction::CompleteExecution),
    ];
    for (state, action) in cases {
        framework()
            .given(history(state))
            .when(command(unassigned(Role::RedTech), action))
            .then_expect_error(TestCaseError::NotAssignee);
    }
}

// Blue: StartReview, RecordDefenseOutcome, SubmitForApproval

#[test]
fn the_assigned_blue_tech_starts_the_review() {
    framework()
        .given(history(TestState::Executed))
        .when(by(Role::BlueTech, TestCaseAction::StartReview))
        .then_expect_events(vec![review_started()]);
}

#[test]
fn outcomes_are_recorded_one_per_tool_and_a_tool_again_replaces_its_outcome() {
    let siem = alerted("SIEM", "2025-03-01T12:09:00Z");
    framework()
        .given(history(TestState::Reviewing))
        .when(by(
            Role::BlueLead,
            TestCaseAction::RecordDefenseOutcome {
                defense: siem.clone(),
            },
        ))
        .then_expect_events(vec![outcome_recorded(Role::BlueLead, siem.clone())]);

    let corrected = defense("EDR", Outcome::Logged);
    let mut events = history(TestState::Reviewing);
    events.push(outcome_recorded(Role::BlueLead, siem.clone()));
    events.push(outcome_recorded(Role::BlueTech, corrected.clone()));
    let test_case = rebuild(events);
    assert_eq!(
        test_case.outcomes(),
        &BTreeMap::from([(tool("EDR"), corrected), (tool("SIEM"), siem)])
    );
    assert_eq!(test_case.state(), Some(TestState::Reviewing));
}

#[test]
fn only_a_detection_has_a_severity_a_detection_time_or_fired_rules() {
    let inconsistent = [
        DefenseOutcome {
            severity: Some(Severity::Info),
            ..defense("EDR", Outcome::NotDetected)
        },
        DefenseOutcome {
            detected_at: Some(now()),
            ..defense("EDR", Outcome::NotApplicable)
        },
        DefenseOutcome {
            rules_fired: [rule("sigma-lsass-dump")].into(),
            ..defense("EDR", Outcome::NotDetected)
        },
    ];
    for defense in inconsistent {
        framework()
            .given(history(TestState::Reviewing))
            .when(by(
                Role::BlueTech,
                TestCaseAction::RecordDefenseOutcome { defense },
            ))
            .then_expect_error(TestCaseError::InconsistentOutcome);
    }
    for outcome in [Outcome::Logged, Outcome::Alerted, Outcome::Blocked] {
        let detection = DefenseOutcome {
            outcome,
            ..alerted("EDR", "2025-03-01T12:08:00Z")
        };
        let result = framework()
            .given(history(TestState::Reviewing))
            .when(by(
                Role::BlueTech,
                TestCaseAction::RecordDefenseOutcome { defense: detection },
            ))
            .inspect_result();
        assert!(result.is_ok(), "{outcome:?}");
    }
}

#[test]
fn submit_for_approval_waits_for_a_lead() {
    framework()
        .given(history(TestState::Reviewing))
        .when(by(Role::BlueTech, TestCaseAction::SubmitForApproval))
        .then_expect_events(vec![submitted()]);
    assert_eq!(
        rebuild(history(TestState::AwaitingApproval)).state(),
        Some(TestState::AwaitingApproval)
    );
}

#[test]
fn submit_without_an_outcome_is_rejected() {
    framework()
        .given(
            history(TestState::Executed)
                .into_iter()
                .chain([review_started()])
                .collect(),
        )
        .when(by(Role::BlueTech, TestCaseAction::SubmitForApproval))
        .then_expect_error(TestCaseError::NoOutcome);
}

#[test]
fn a_blue_tech_who_is_not_assigned_may_not_do_blue_work() {
    let cases = [
        (TestState::Executed, TestCaseAction::StartReview),
        (
            TestState::Reviewing,
            TestCaseAction::RecordDefenseOutcome {
                defense: defense("EDR", Outcome::NotDetected),
            },
        ),
        (TestState::Reviewing, TestCaseAction::SubmitForApproval),
    ];
    for (state, action) in cases {
        framework()
            .given(history(state))
            .when(command(unassigned(Role::BlueTech), action))
            .then_expect_error(TestCaseError::NotAssignee);
    }
}

// ApproveResult, RejectResult

#[test]
fn approve_completes_the_run_with_its_outcome() {
    framework()
        .given(history(TestState::AwaitingApproval))
        .when(by(Role::BlueLead, TestCaseAction::ApproveResult))
        .then_expect_events(vec![TestCaseEvent::ResultApproved {
            approved_by: user(Role::BlueLead),
            at: now(),
            outcome: Outcome::Alerted,
        }]);
    assert_eq!(
        rebuild(history(TestState::Completed)).state(),
        Some(TestState::Completed)
    );
}

/// Awaiting approval after the blue lead recorded an outcome that the blue tech then replaced.
fn awaiting_approval_after_the_blue_lead_recorded() -> Vec<TestCaseEvent> {
    let mut events = history(TestState::Executed);
    events.extend([
        review_started(),
        outcome_recorded(Role::BlueLead, defense("EDR", Outcome::NotDetected)),
        outcome_recorded(Role::BlueTech, defense("EDR", Outcome::Logged)),
        submitted(),
    ]);
    events
}

#[test]
fn a_lead_who_recorded_an_outcome_in_the_run_may_not_approve_it() {
    framework()
        .given(awaiting_approval_after_the_blue_lead_recorded())
        .when(by(Role::BlueLead, TestCaseAction::ApproveResult))
        .then_expect_error(TestCaseError::SelfApproval);
    framework()
        .given(awaiting_approval_after_the_blue_lead_recorded())
        .when(by(Role::RedLead, TestCaseAction::ApproveResult))
        .then_expect_events(vec![TestCaseEvent::ResultApproved {
            approved_by: user(Role::RedLead),
            at: now(),
            outcome: Outcome::Logged,
        }]);
}

#[test]
fn an_admin_may_approve_an_outcome_they_recorded() {
    let mut events = history(TestState::Executed);
    events.extend([
        review_started(),
        outcome_recorded(Role::Admin, defense("EDR", Outcome::Blocked)),
        submitted(),
    ]);
    framework()
        .given(events)
        .when(by(Role::Admin, TestCaseAction::ApproveResult))
        .then_expect_events(vec![TestCaseEvent::ResultApproved {
            approved_by: user(Role::Admin),
            at: now(),
            outcome: Outcome::Blocked,
        }]);
}

#[test]
fn reject_sends_the_result_back_to_red_or_to_blue_and_keeps_what_was_recorded() {
    for (side, state) in [
        (Side::Red, TestState::Executing),
        (Side::Blue, TestState::Reviewing),
    ] {
        let rejected = TestCaseEvent::ResultRejected {
            rejected_by: user(Role::RedLead),
            at: now(),
            reason: note("Wrong host."),
            back_to: side,
        };
        framework()
            .given(history(TestState::AwaitingApproval))
            .when(by(
                Role::RedLead,
                TestCaseAction::RejectResult {
                    reason: note("Wrong host."),
                    back_to: side,
                },
            ))
            .then_expect_events(vec![rejected.clone()]);

        let mut events = history(TestState::AwaitingApproval);
        events.push(rejected);
        let test_case = rebuild(events);
        assert_eq!(test_case.state(), Some(state));
        assert_eq!(test_case.executions().len(), 1);
        assert_eq!(test_case.outcome(), Some(Outcome::Alerted));
    }
}

// Pause, Resume, Abandon

#[test]
fn pause_and_resume_return_to_the_state_paused_in() {
    for state in &STATES[..6] {
        let previous = state.active().unwrap();
        let paused = TestCaseEvent::Paused {
            paused_by: user(Role::BlueLead),
            at: now(),
            previous,
        };
        let resumed = TestCaseEvent::Resumed {
            resumed_by: user(Role::RedLead),
            at: now(),
            state: previous,
        };
        framework()
            .given(history(*state))
            .when(by(Role::BlueLead, TestCaseAction::Pause))
            .then_expect_events(vec![paused.clone()]);
        let mut events = history(*state);
        events.push(paused.clone());
        assert_eq!(
            rebuild(events.clone()).state(),
            Some(TestState::Paused { previous })
        );
        framework()
            .given(events.clone())
            .when(by(Role::RedLead, TestCaseAction::Resume))
            .then_expect_events(vec![resumed.clone()]);
        events.push(resumed);
        assert_eq!(rebuild(events).state(), Some(*state));
    }
}

#[test]
fn abandon_closes_the_test_case() {
    framework()
        .given(history(TestState::Executing))
        .when(by(
            Role::RedLead,
            TestCaseAction::Abandon {
                reason: note("Target decommissioned."),
            },
        ))
        .then_expect_events(vec![TestCaseEvent::Abandoned {
            abandoned_by: user(Role::RedLead),
            at: now(),
            reason: note("Target decommissioned."),
        }]);
    assert_eq!(
        rebuild(history(TestState::Abandoned)).state(),
        Some(TestState::Abandoned)
    );
}

// Reopen

fn reopened(run: u32) -> TestCaseEvent {
    TestCaseEvent::Reopened {
        reopened_by: user(Role::BlueLead),
        at: now(),
        reason: note("New rule deployed."),
        run,
    }
}

#[test]
fn reopen_starts_the_next_run() {
    for state in [TestState::Completed, TestState::Abandoned] {
        framework()
            .given(history(state))
            .when(by(
                Role::BlueLead,
                TestCaseAction::Reopen {
                    reason: note("New rule deployed."),
                },
            ))
            .then_expect_events(vec![reopened(2)]);
    }
}

#[test]
fn a_new_run_starts_assigned_without_executions_outcomes_or_evidence() {
    let mut events = history(TestState::Executing);
    events.push(evidence_attached(Role::RedTech, Side::Red, 50));
    events.extend(history(TestState::Completed).split_off(history(TestState::Executing).len()));
    events.extend([
        TestCaseEvent::RevealedToBlue {
            revealed_by: user(Role::RedLead),
            at: now(),
        },
        reopened(2),
    ]);
    let test_case = rebuild(events);

    assert_eq!(test_case.run(), 2);
    assert_eq!(test_case.state(), Some(TestState::Assigned));
    assert!(test_case.executions().is_empty());
    assert!(test_case.outcomes().is_empty());
    assert!(test_case.evidence().is_empty());
    assert_eq!(test_case.outcome(), None);
    assert_eq!(test_case.time_to_detect(), None);
    assert_eq!(test_case.plan(), Some(&plan()));
    assert_eq!(test_case.red_assignee(), Some(user(Role::RedTech)));
    assert_eq!(test_case.blue_assignee(), Some(user(Role::BlueTech)));
    assert_eq!(
        test_case.detection_rules(),
        &BTreeSet::from([rule("sigma-lsass-dump")])
    );
    assert!(test_case.is_revealed());
}

#[test]
fn run_2_goes_through_the_workflow_again_on_top_of_run_1() {
    // In run 1 the blue lead recorded an outcome; in run 2 they did not, so they may approve run 2.
    let mut events = awaiting_approval_after_the_blue_lead_recorded();
    events.push(TestCaseEvent::ResultApproved {
        approved_by: user(Role::RedLead),
        at: now(),
        outcome: Outcome::Logged,
    });
    events.push(reopened(2));
    events.extend(history(TestState::AwaitingApproval).split_off(3));
    let test_case = rebuild(events.clone());
    assert_eq!(test_case.run(), 2);
    assert_eq!(test_case.state(), Some(TestState::AwaitingApproval));
    assert_eq!(test_case.outcome(), Some(Outcome::Alerted));

    framework()
        .given(events.clone())
        .when(by(Role::BlueLead, TestCaseAction::ApproveResult))
        .then_expect_events(vec![TestCaseEvent::ResultApproved {
            approved_by: user(Role::BlueLead),
            at: now(),
            outcome: Outcome::Alerted,
        }]);
    framework()
        .given(events)
        .when(by(
            Role::RedLead,
            TestCaseAction::Reopen {
                reason: note("Again."),
            },
        ))
        .then_expect_error(TestCaseError::WrongState {
            state: TestState::AwaitingApproval,
        });
}

// RevealToBlue

#[test]
fn red_reveals_a_blind_test_to_blue() {
    let revealed = TestCaseEvent::RevealedToBlue {
        revealed_by: user(Role::RedTech),
        at: now(),
    };
    framework()
        .given(history(TestState::Reviewing))
        .when(by(Role::RedTech, TestCaseAction::RevealToBlue))
        .then_expect_events(vec![revealed.clone()]);

    let mut events = history(TestState::Reviewing);
    assert!(rebuild(events.clone()).is_hidden_from_blue());
    events.push(revealed);
    let test_case = rebuild(events.clone());
    assert!(test_case.is_revealed());
    assert!(!test_case.is_hidden_from_blue());
    assert_eq!(test_case.state(), Some(TestState::Reviewing));

    framework()
        .given(events)
        .when(by(Role::RedLead, TestCaseAction::RevealToBlue))
        .then_expect_error(TestCaseError::AlreadyRevealed);
}

#[test]
fn reveal_of_a_test_that_is_not_blind_is_rejected() {
    framework()
        .given(vec![TestCaseEvent::Planned {
            planned_by: user(Role::RedLead),
            at: now(),
            plan: Plan {
                blind: false,
                ..plan()
            },
        }])
        .when(by(Role::RedLead, TestCaseAction::RevealToBlue))
        .then_expect_error(TestCaseError::NotBlind);
}

// LinkDetectionRule, UnlinkDetectionRule

#[test]
fn detection_rules_are_linked_and_unlinked() {
    framework()
        .given(history(TestState::Completed))
        .when(by(
            Role::BlueTech,
            TestCaseAction::LinkDetectionRule {
                rule: rule("splunk: LSASS access"),
            },
        ))
        .then_expect_events(vec![TestCaseEvent::DetectionRuleLinked {
            linked_by: user(Role::BlueTech),
            at: now(),
            rule: rule("splunk: LSASS access"),
        }]);
    let unlinked = TestCaseEvent::DetectionRuleUnlinked {
        unlinked_by: user(Role::RedLead),
        at: now(),
        rule: rule("sigma-lsass-dump"),
    };
    framework()
        .given(history(TestState::Planned))
        .when(by(
            Role::RedLead,
            TestCaseAction::UnlinkDetectionRule {
                rule: rule("sigma-lsass-dump"),
            },
        ))
        .then_expect_events(vec![unlinked.clone()]);

    let mut events = history(TestState::Planned);
    assert_eq!(
        rebuild(events.clone()).detection_rules(),
        &BTreeSet::from([rule("sigma-lsass-dump")])
    );
    events.push(unlinked);
    assert!(rebuild(events).detection_rules().is_empty());
}

#[test]
fn a_rule_is_linked_once_and_unlinked_only_when_linked() {
    framework()
        .given(history(TestState::Planned))
        .when(by(
            Role::BlueLead,
            TestCaseAction::LinkDetectionRule {
                rule: rule("sigma-lsass-dump"),
            },
        ))
        .then_expect_error(TestCaseError::AlreadyLinked(rule("sigma-lsass-dump")));
    framework()
        .given(history(TestState::Planned))
        .when(by(
            Role::BlueLead,
            TestCaseAction::UnlinkDetectionRule {
                rule: rule("other"),
            },
        ))
        .then_expect_error(TestCaseError::NotLinked(rule("other")));
}

// AddComment

#[test]
fn anyone_on_the_team_comments_in_any_state() {
    framework()
        .given(history(TestState::Abandoned))
        .when(by(
            Role::RedTech,
            TestCaseAction::AddComment {
                body: note("Host was offline."),
            },
        ))
        .then_expect_events(vec![TestCaseEvent::CommentAdded {
            author: user(Role::RedTech),
            at: now(),
            body: note("Host was offline."),
        }]);
}

// AttachEvidence, RemoveEvidence

#[test]
fn red_attaches_evidence_while_executing_and_blue_while_reviewing() {
    framework()
        .given(history(TestState::Executing))
        .when(by(
            Role::RedTech,
            TestCaseAction::AttachEvidence {
                evidence: evidence(50),
            },
        ))
        .then_expect_events(vec![evidence_attached(Role::RedTech, Side::Red, 50)]);
    framework()
        .given(history(TestState::Reviewing))
        .when(by(
            Role::BlueTech,
            TestCaseAction::AttachEvidence {
                evidence: evidence(51),
            },
        ))
        .then_expect_events(vec![evidence_attached(Role::BlueTech, Side::Blue, 51)]);

    let mut events = history(TestState::Executing);
    events.push(evidence_attached(Role::RedTech, Side::Red, 50));
    assert_eq!(
        rebuild(events).evidence(),
        &BTreeMap::from([(
            id(50),
            AttachedEvidence {
                side: Side::Red,
                evidence: evidence(50),
            }
        )])
    );
}

#[test]
fn evidence_is_attached_once() {
    let mut events = history(TestState::Executing);
    events.push(evidence_attached(Role::RedTech, Side::Red, 50));
    framework()
        .given(events)
        .when(by(
            Role::RedLead,
            TestCaseAction::AttachEvidence {
                evidence: evidence(50),
            },
        ))
        .then_expect_error(TestCaseError::DuplicateEvidence(id(50)));
}

#[test]
fn removed_evidence_leaves_the_run_but_not_the_log() {
    let removed = TestCaseEvent::EvidenceRemoved {
        removed_by: user(Role::RedLead),
        at: now(),
        evidence_id: id(50),
    };
    let mut events = history(TestState::Executing);
    events.push(evidence_attached(Role::RedTech, Side::Red, 50));
    framework()
        .given(events.clone())
        .when(by(
            Role::RedLead,
            TestCaseAction::RemoveEvidence {
                evidence_id: id(50),
            },
        ))
        .then_expect_events(vec![removed.clone()]);

    events.push(removed);
    assert!(rebuild(events.clone()).evidence().is_empty());
    framework()
        .given(events)
        .when(by(
            Role::RedLead,
            TestCaseAction::RemoveEvidence {
                evidence_id: id(50),
            },
        ))
        .then_expect_error(TestCaseError::UnknownEvidence(id(50)));
}

#[test]
fn evidence_is_removed_by_its_side_in_its_own_state_of_its_run() {
    let mut executing = history(TestState::Executing);
    executing.push(evidence_attached(Role::RedTech, Side::Red, 50));
    let mut reviewing = executing.clone();
    reviewing.extend(history(TestState::Reviewing).split_off(history(TestState::Executing).len()));
    let mut next_run = reviewing.clone();
    next_run.extend([
        submitted(),
        TestCaseEvent::ResultApproved {
            approved_by: user(Role::RedLead),
            at: now(),
            outcome: Outcome::Alerted,
        },
        reopened(2),
        execution_started(),
    ]);
    let remove = || TestCaseAction::RemoveEvidence {
        evidence_id: id(50),
    };

    framework()
        .given(executing)
        .when(by(Role::BlueLead, remove()))
        .then_expect_error(TestCaseError::RoleRequired(&[Role::RedLead, Role::RedTech]));
    framework()
        .given(reviewing)
        .when(by(Role::RedTech, remove()))
        .then_expect_error(TestCaseError::WrongState {
            state: TestState::Reviewing,
        });
    framework()
        .given(next_run)
        .when(by(Role::RedTech, remove()))
        .then_expect_error(TestCaseError::UnknownEvidence(id(50)));
}

// Derived values

/// A test case under review with exactly these outcomes, one tool each.
fn reviewed_with(outcomes: &[Outcome]) -> TestCase {
    let mut events = history(TestState::Executed);
    events.push(review_started());
    for (index, outcome) in outcomes.iter().enumerate() {
        events.push(outcome_recorded(
            Role::BlueTech,
            defense(&format!("tool {index}"), *outcome),
        ));
    }
    rebuild(events)
}

#[test]
fn the_outcome_is_the_strongest_and_not_applicable_only_when_all_say_so() {
    use Outcome::{Alerted, Blocked, Logged, NotApplicable, NotDetected};
    let cases: [(&[Outcome], Option<Outcome>); 9] = [
        (&[], None),
        (&[NotApplicable], Some(NotApplicable)),
        (&[NotApplicable, NotApplicable], Some(NotApplicable)),
        (&[NotApplicable, NotDetected], Some(NotDetected)),
        (&[NotDetected, Logged], Some(Logged)),
        (&[Logged, Alerted, NotDetected], Some(Alerted)),
        (&[Blocked, Alerted], Some(Blocked)),
        (&[NotApplicable, Blocked, Logged], Some(Blocked)),
        (&[NotDetected], Some(NotDetected)),
    ];
    for (outcomes, expected) in cases {
        assert_eq!(reviewed_with(outcomes).outcome(), expected, "{outcomes:?}");
    }
}

proptest! {
    #[test]
    fn the_outcome_does_not_depend_on_the_order_of_the_tools(
        outcomes in proptest::collection::vec(0..5_usize, 1..6),
    ) {
        let all = [
            Outcome::NotApplicable,
            Outcome::NotDetected,
            Outcome::Logged,
            Outcome::Alerted,
            Outcome::Blocked,
        ];
        let outcomes: Vec<Outcome> = outcomes.into_iter().map(|index| all[index]).collect();
        let mut reversed = outcomes.clone();
        reversed.reverse();
        let expected = all.into_iter().rev().find(|outcome| outcomes.contains(outcome));
        prop_assert_eq!(reviewed_with(&outcomes).outcome(), expected);
        prop_assert_eq!(reviewed_with(&reversed).outcome(), expected);
    }
}

#[test]
fn time_to_detect_is_the_earliest_detection_minus_the_first_execution_start() {
    let mut events = history(TestState::Executing);
    events.extend([
        execution_recorded(execution("2025-03-01T12:01:00Z", "2025-03-01T12:02:00Z")),
        execution_completed(),
        review_started(),
    ]);
    assert_eq!(rebuild(events.clone()).time_to_detect(), None);

    events.push(outcome_recorded(
        Role::BlueTech,
        defense("Firewall", Outcome::NotDetected),
    ));
    assert_eq!(rebuild(events.clone()).time_to_detect(), None);

    events.extend([
        outcome_recorded(Role::BlueTech, alerted("EDR", "2025-03-01T12:09:00Z")),
        outcome_recorded(Role::BlueTech, alerted("SIEM", "2025-03-01T12:04:30Z")),
    ]);
    assert_eq!(
        rebuild(events).time_to_detect(),
        Some(TimeDelta::seconds(210))
    );
}

#[test]
fn time_to_detect_is_negative_when_a_tool_clock_runs_behind() {
    let mut events = history(TestState::Executed);
    events.extend([
        review_started(),
        outcome_recorded(Role::BlueTech, alerted("EDR", "2025-03-01T12:04:00Z")),
    ]);
    assert_eq!(
        rebuild(events).time_to_detect(),
        Some(TimeDelta::minutes(-1))
    );
}
