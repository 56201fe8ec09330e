//! Who may give each command, and in which states: every (command, role) pair of the workflow table, and every
//! (command, state) pair.

use super::*;

const LEAD_ROLES: &[Role] = &[Role::RedLead, Role::BlueLead];
const RED_ROLES: &[Role] = &[Role::RedLead, Role::RedTech];
const BLUE_ROLES: &[Role] = &[Role::BlueLead, Role::BlueTech];

fn with(mut events: Vec<TestCaseEvent>, event: TestCaseEvent) -> Vec<TestCaseEvent> {
    events.push(event);
    events
}

/// Each row of the workflow table: where the command is given, the command, and the roles that may give it
/// besides admin. The techs are the assignees of [`history`], so "assigned" rows accept them.
#[expect(
    clippy::too_many_lines,
    reason = "the workflow table, one entry per row, reads best whole"
)]
fn rows() -> Vec<(Vec<TestCaseEvent>, TestCaseAction, &'static [Role])> {
    vec![
        (
            vec![],
            TestCaseAction::PlanTestCase { plan: plan() },
            LEAD_ROLES,
        ),
        (
            history(TestState::Planned),
            TestCaseAction::EditPlan { plan: plan() },
            LEAD_ROLES,
        ),
        (
            history(TestState::Planned),
            TestCaseAction::AssignTestCase {
                red_assignee: Some(user(Role::RedTech)),
                blue_assignee: None,
            },
            &[Role::RedLead],
        ),
        (
            history(TestState::Planned),
            TestCaseAction::AssignTestCase {
                red_assignee: None,
                blue_assignee: Some(user(Role::BlueTech)),
            },
            &[Role::BlueLead],
        ),
        (
            history(TestState::Assigned),
            TestCaseAction::StartExecution,
            RED_ROLES,
        ),
        (
            history(TestState::Executing),
            TestCaseAction::RecordExecution {
                execution: execution("2025-03-01T12:07:00Z", "2025-03-01T12:08:00Z"),
            },
            RED_ROLES,
        ),
        (
            history(TestState::Executing),
            TestCaseAction::CompleteExecution,
            RED_ROLES,
        ),
        (
            history(TestState::Executed),
            TestCaseAction::StartReview,
            BLUE_ROLES,
        ),
        (
            history(TestState::Reviewing),
            TestCaseAction::RecordDefenseOutcome {
                defense: defense("SIEM", Outcome::Logged),
            },
            BLUE_ROLES,
        ),
        (
            history(TestState::Reviewing),
            TestCaseAction::SubmitForApproval,
            BLUE_ROLES,
        ),
        (
            history(TestState::AwaitingApproval),
            TestCaseAction::ApproveResult,
            LEAD_ROLES,
        ),
        (
            history(TestState::AwaitingApproval),
            TestCaseAction::RejectResult {
                reason: note("Wrong host."),
                back_to: Side::Blue,
            },
            LEAD_ROLES,
        ),
        (
            history(TestState::Executing),
            TestCaseAction::Pause,
            LEAD_ROLES,
        ),
        (history(PAUSED), TestCaseAction::Resume, LEAD_ROLES),
        (
            history(TestState::Reviewing),
            TestCaseAction::Abandon {
                reason: note("Out of scope."),
            },
            LEAD_ROLES,
        ),
        (
            history(TestState::Completed),
            TestCaseAction::Reopen {
                reason: note("New rule deployed."),
            },
            LEAD_ROLES,
        ),
        (
            history(TestState::Reviewing),
            TestCaseAction::RevealToBlue,
            RED_ROLES,
        ),
        (
            history(TestState::Planned),
            TestCaseAction::LinkDetectionRule {
                rule: rule("other"),
            },
            &[Role::RedLead, Role::BlueLead, Role::BlueTech],
        ),
        (
            history(TestState::Planned),
            TestCaseAction::UnlinkDetectionRule {
                rule: rule("sigma-lsass-dump"),
            },
            &[Role::RedLead, Role::BlueLead, Role::BlueTech],
        ),
        (
            history(TestState::Completed),
            TestCaseAction::AddComment {
                body: note("Nice."),
            },
            &[Role::RedLead, Role::RedTech, Role::BlueLead, Role::BlueTech],
        ),
        (
            history(TestState::Executing),
            TestCaseAction::AttachEvidence {
                evidence: evidence(50),
            },
            RED_ROLES,
        ),
        (
            history(TestState::Reviewing),
            TestCaseAction::AttachEvidence {
                evidence: evidence(51),
            },
            BLUE_ROLES,
        ),
        (
            with(
                history(TestState::Executing),
                evidence_attached(Role::RedTech, Side::Red, 50),
            ),
            TestCaseAction::RemoveEvidence {
                evidence_id: id(50),
            },
            RED_ROLES,
        ),
        (
            with(
                history(TestState::Reviewing),
                evidence_attached(Role::BlueTech, Side::Blue, 51),
            ),
            TestCaseAction::RemoveEvidence {
                evidence_id: id(51),
            },
            BLUE_ROLES,
        ),
    ]
}

#[test]
fn each_command_is_given_by_its_roles_and_admins_and_by_no_one_else() {
    for (given, action, roles) in rows() {
        for role in Role::ALL {
            let result = framework()
                .given(given.clone())
                .when(by(role, action.clone()))
                .inspect_result();
            if role == Role::Admin || roles.contains(&role) {
                assert!(result.is_ok(), "{role} {action:?}: {result:?}");
            } else {
                assert_eq!(
                    result,
                    Err(TestCaseError::RoleRequired(roles)),
                    "{role} {action:?}"
                );
            }
        }
    }
}

#[test]
fn a_viewer_gets_no_answer_about_existence_or_state() {
    framework()
        .given(history(TestState::Planned))
        .when(by(
            Role::Viewer,
            TestCaseAction::PlanTestCase { plan: plan() },
        ))
        .then_expect_error(TestCaseError::RoleRequired(LEAD_ROLES));
    for state in STATES {
        framework()
            .given(history(state))
            .when(by(Role::Viewer, TestCaseAction::Pause))
            .then_expect_error(TestCaseError::RoleRequired(LEAD_ROLES));
    }
}

/// Each command with the states it is accepted in.
fn accepted_states() -> Vec<(TestCaseAction, Vec<TestState>)> {
    let before_execution = vec![TestState::Planned, TestState::Assigned];
    vec![
        (
            TestCaseAction::EditPlan { plan: plan() },
            before_execution.clone(),
        ),
        (
            TestCaseAction::AssignTestCase {
                red_assignee: Some(user(Role::RedTech)),
                blue_assignee: None,
            },
            before_execution,
        ),
        (TestCaseAction::StartExecution, vec![TestState::Assigned]),
        (
            TestCaseAction::RecordExecution {
                execution: execution("2025-03-01T12:07:00Z", "2025-03-01T12:08:00Z"),
            },
            vec![TestState::Executing],
        ),
        (
            TestCaseAction::CompleteExecution,
            vec![TestState::Executing],
        ),
        (TestCaseAction::StartReview, vec![TestState::Executed]),
        (
            TestCaseAction::RecordDefenseOutcome {
                defense: defense("SIEM", Outcome::Logged),
            },
            vec![TestState::Reviewing],
        ),
        (
            TestCaseAction::SubmitForApproval,
            vec![TestState::Reviewing],
        ),
        (
            TestCaseAction::ApproveResult,
            vec![TestState::AwaitingApproval],
        ),
        (
            TestCaseAction::RejectResult {
                reason: note("Wrong host."),
                back_to: Side::Red,
            },
            vec![TestState::AwaitingApproval],
        ),
        (TestCaseAction::Pause, STATES[..6].to_vec()),
        (TestCaseAction::Resume, vec![PAUSED]),
        (
            TestCaseAction::Abandon {
                reason: note("Out of scope."),
            },
            STATES[..7].to_vec(),
        ),
        (
            TestCaseAction::Reopen {
                reason: note("New rule deployed."),
            },
            vec![TestState::Completed, TestState::Abandoned],
        ),
        (TestCaseAction::RevealToBlue, STATES.to_vec()),
        (
            TestCaseAction::LinkDetectionRule {
                rule: rule("other"),
            },
            STATES.to_vec(),
        ),
        (
            TestCaseAction::UnlinkDetectionRule {
                rule: rule("sigma-lsass-dump"),
            },
            STATES.to_vec(),
        ),
        (
            TestCaseAction::AddComment {
                body: note("Nice."),
            },
            STATES.to_vec(),
        ),
        (
            TestCaseAction::AttachEvidence {
                evidence: evidence(50),
            },
            vec![TestState::Executing, TestState::Reviewing],
        ),
    ]
}

#[test]
fn each_command_is_accepted_in_its_states_and_rejected_with_the_current_state_in_the_others() {
    for (action, accepted) in accepted_states() {
        for state in STATES {
            // An admin, so that only the state decides.
            let result = framework()
                .given(history(state))
                .when(by(Role::Admin, action.clone()))
                .inspect_result();
            if accepted.contains(&state) {
                assert!(result.is_ok(), "{state} {action:?}: {result:?}");
            } else {
                assert_eq!(
                    result,
                    Err(TestCaseError::WrongState { state }),
                    "{action:?}"
                );
            }
        }
    }
}
