//! One line per event type, from the events as `domain` serializes them (the shape stored in the log).

use chrono::{DateTime, Utc};
use domain::campaign::{
    CampaignDescription, CampaignEvent, CampaignName, CampaignScope, CancellationReason, Recurrence,
};
use domain::detection_rule::{DetectionRuleEvent, RuleChangeReason, RuleId, RuleRef, RuleSource};
use domain::role::Role;
use domain::scoring::{ChangeReason, PolicyName, PolicySettings, ScoringPolicyEvent};
use domain::security_policy::SecurityPolicyEvent;
use domain::test_case::{
    ActiveState, DefenseOutcome, DetectionRuleRef, EvidenceRef, Execution, FileName, Note, Outcome,
    Plan, ProcedureSource, Severity, Sha256, Side, Target, TechniqueId, TestCaseEvent, Text, Title,
    ToolName,
};
use domain::user::{DisplayName, Email, LoginFailure, TokenName, TokenScope, UserEvent};
use serde::Serialize;
use serde_json::json;
use uuid::Uuid;

use super::*;

fn id(number: u128) -> Uuid {
    Uuid::from_u128(number)
}

fn at(text: &str) -> DateTime<Utc> {
    text.parse().expect("an RFC 3339 time")
}

/// The summary of `event` as stored on an aggregate of `aggregate_type`.
fn of(aggregate_type: &str, event: &impl Serialize) -> String {
    let payload = serde_json::to_value(event).expect("domain events serialize");
    summarize(aggregate_type, "AnyType", &payload)
}

fn plan(blind: bool) -> Plan {
    Plan {
        title: Title::parse("LSASS dump").expect("a title"),
        objective: Text::parse("blocked by EDR").expect("a text"),
        technique: TechniqueId::parse("t1003.001").expect("a technique"),
        procedure: ProcedureSource::Manual,
        steps: Text::parse("rundll32 comsvcs.dll MiniDump").expect("a text"),
        platforms: [].into(),
        targets: [].into(),
        tags: [].into(),
        blind,
    }
}

fn note(text: &str) -> Note {
    Note::parse(text).expect("a note")
}

#[test]
#[expect(clippy::too_many_lines, reason = "one case per event type, as a table")]
fn user_events() {
    let cases = [
        (
            UserEvent::Registered {
                email: Email::parse("Red.Lead@Aegis.Demo").expect("an address"),
                display_name: DisplayName::parse("Rita Red").expect("a name"),
                roles: [Role::RedLead, Role::Admin].into(),
            },
            "registered user red.lead@aegis.demo (Rita Red) with roles admin, red_lead",
        ),
        (
            UserEvent::DisplayNameChanged {
                display_name: DisplayName::parse("Rita R.").expect("a name"),
            },
            "changed the display name to “Rita R.”",
        ),
        (
            UserEvent::EmailChanged {
                email: Email::parse("rita@aegis.demo").expect("an address"),
            },
            "changed the e-mail address to rita@aegis.demo",
        ),
        (
            UserEvent::RoleGranted {
                role: Role::BlueTech,
            },
            "granted role blue_tech",
        ),
        (
            UserEvent::RoleRevoked { role: Role::Viewer },
            "revoked role viewer",
        ),
        (UserEvent::Deactivated, "deactivated the account"),
        (UserEvent::Reactivated, "reactivated the account"),
        (
            UserEvent::LoggedIn {
                session_id: id(1),
                second_factor: true,
            },
            "recorded a sign-in with a second factor",
        ),
        (
            UserEvent::LoggedIn {
                session_id: id(1),
                second_factor: false,
            },
            "recorded a sign-in",
        ),
        (
            UserEvent::LoginFailed {
                reason: LoginFailure::WrongPassword,
            },
            "recorded a refused sign-in: wrong password",
        ),
        (
            UserEvent::LoginFailed {
                reason: LoginFailure::Throttled,
            },
            "recorded a refused sign-in: too many attempts",
        ),
        (
            UserEvent::LoggedOut { session_id: id(1) },
            "recorded a sign-out",
        ),
        (UserEvent::PasswordChanged, "changed the password"),
        (
            UserEvent::PasswordResetRequired,
            "required a password reset",
        ),
        (UserEvent::TwoFactorEnabled, "enabled two-factor login"),
        (UserEvent::TwoFactorDisabled, "disabled two-factor login"),
        (UserEvent::RecoveryCodeUsed, "used a recovery code"),
        (
            UserEvent::ApiTokenCreated {
                token_id: id(7),
                name: TokenName::parse("CI export").expect("a name"),
                scope: TokenScope::ReadOnly,
                expires_at: at("2026-12-31T23:00:00Z"),
            },
            "created API token “CI export” (read-only, expires 2026-12-31)",
        ),
        (
            UserEvent::ApiTokenCreated {
                token_id: id(8),
                name: TokenName::parse("Dashboard").expect("a name"),
                scope: TokenScope::CampaignReadOnly { campaign_id: id(9) },
                expires_at: at("2026-06-01T00:00:00Z"),
            },
            "created API token “Dashboard” (read-only, campaign 00000000-0000-0000-0000-000000000009, expires 2026-06-01)",
        ),
        (
            UserEvent::ApiTokenRevoked { token_id: id(7) },
            "revoked API token 00000000-0000-0000-0000-000000000007",
        ),
        (
            UserEvent::AccessDenied {
                operation: "Mutation.grantRole".to_owned(),
            },
            "was refused Mutation.grantRole",
        ),
    ];
    for (event, expected) in cases {
        assert_eq!(of("User", &event), expected, "{event:?}");
    }
}

#[test]
fn security_policy_events() {
    assert_eq!(
        of(
            "SecurityPolicy",
            &SecurityPolicyEvent::TwoFactorRequired { role: Role::Admin }
        ),
        "required two-factor login for role admin"
    );
    assert_eq!(
        of(
            "SecurityPolicy",
            &SecurityPolicyEvent::TwoFactorWaived { role: Role::Viewer }
        ),
        "waived two-factor login for role viewer"
    );
}

#[test]
#[expect(clippy::too_many_lines, reason = "one case per event type, as a table")]
fn test_case_events() {
    let by = id(1);
    let now = at("2026-01-05T10:00:00Z");
    let evidence = EvidenceRef {
        id: id(30),
        sha256: Sha256::parse(&"ab".repeat(32)).expect("a digest"),
        file_name: FileName::parse("lsass.pcap").expect("a file name"),
        stored: None,
    };
    let cases = [
        (
            TestCaseEvent::Planned {
                planned_by: by,
                at: now,
                plan: plan(false),
            },
            "planned test case “LSASS dump” (T1003.001)",
        ),
        (
            TestCaseEvent::Planned {
                planned_by: by,
                at: now,
                plan: plan(true),
            },
            "planned blind test case “LSASS dump” (T1003.001)",
        ),
        (
            TestCaseEvent::PlanEdited {
                edited_by: by,
                at: now,
                plan: plan(false),
            },
            "edited the plan: “LSASS dump” (T1003.001)",
        ),
        (
            TestCaseEvent::Assigned {
                assigned_by: by,
                at: now,
                red_assignee: Some(id(2)),
                blue_assignee: None,
            },
            "assigned the test case: red to 00000000-0000-0000-0000-000000000002",
        ),
        (
            TestCaseEvent::ExecutionStarted {
                started_by: by,
                at: now,
            },
            "started the execution",
        ),
        (
            TestCaseEvent::ExecutionRecorded {
                recorded_by: by,
                at: now,
                execution: Execution {
                    command: Text::parse("rundll32").expect("a text"),
                    target: Target::parse("ws-01").expect("a target"),
                    started_at: now,
                    stopped_at: now,
                    output_excerpt: Text::parse("").expect("a text"),
                },
            },
            "recorded an execution on ws-01",
        ),
        (
            TestCaseEvent::ExecutionCompleted {
                completed_by: by,
                at: now,
            },
            "completed the execution",
        ),
        (
            TestCaseEvent::ReviewStarted {
                started_by: by,
                at: now,
            },
            "started the review",
        ),
        (
            TestCaseEvent::OutcomeRecorded {
                recorded_by: by,
                at: now,
                defense: DefenseOutcome {
                    tool: ToolName::parse("EDR").expect("a tool"),
                    outcome: Outcome::Blocked,
                    severity: Some(Severity::High),
                    detected_at: Some(now),
                    rules_fired: [].into(),
                },
            },
            "recorded EDR: Blocked (High)",
        ),
        (
            TestCaseEvent::OutcomeRecorded {
                recorded_by: by,
                at: now,
                defense: DefenseOutcome {
                    tool: ToolName::parse("SIEM").expect("a tool"),
                    outcome: Outcome::NotDetected,
                    severity: None,
                    detected_at: None,
                    rules_fired: [].into(),
                },
            },
            "recorded SIEM: Not detected",
        ),
        (
            TestCaseEvent::SubmittedForApproval {
                submitted_by: by,
                at: now,
            },
            "submitted the result for approval",
        ),
        (
            TestCaseEvent::ResultApproved {
                approved_by: by,
                at: now,
                outcome: Outcome::Alerted,
            },
            "approved the result: Alerted",
        ),
        (
            TestCaseEvent::ResultRejected {
                rejected_by: by,
                at: now,
                reason: note("Wrong host.\nRun it on ws-02."),
                back_to: Side::Red,
            },
            "sent the result back to red: Wrong host. …",
        ),
        (
            TestCaseEvent::Paused {
                paused_by: by,
                at: now,
                previous: ActiveState::AwaitingApproval,
            },
            "paused the test case (awaiting approval)",
        ),
        (
            TestCaseEvent::Resumed {
                resumed_by: by,
                at: now,
                state: ActiveState::Executing,
            },
            "resumed the test case (executing)",
        ),
        (
            TestCaseEvent::Abandoned {
                abandoned_by: by,
                at: now,
                reason: note("Host retired."),
            },
            "abandoned the test case: Host retired.",
        ),
        (
            TestCaseEvent::Reopened {
                reopened_by: by,
                at: now,
                reason: note("Retest after the EDR update."),
                run: 2,
            },
            "reopened the test case for run 2: Retest after the EDR update.",
        ),
        (
            TestCaseEvent::RevealedToBlue {
                revealed_by: by,
                at: now,
            },
            "revealed the test case to blue",
        ),
        (
            TestCaseEvent::DetectionRuleLinked {
                linked_by: by,
                at: now,
                rule: DetectionRuleRef::parse("sigma-lsass-access").expect("a rule"),
            },
            "linked detection rule sigma-lsass-access",
        ),
        (
            TestCaseEvent::DetectionRuleUnlinked {
                unlinked_by: by,
                at: now,
                rule: DetectionRuleRef::parse("sigma-lsass-access").expect("a rule"),
            },
            "unlinked detection rule sigma-lsass-access",
        ),
        (
            TestCaseEvent::CommentAdded {
                author: by,
                at: now,
                body: note("Seen in the SIEM at 10:02."),
            },
            "commented: “Seen in the SIEM at 10:02.”",
        ),
        (
            TestCaseEvent::EvidenceAttached {
                attached_by: by,
                at: now,
                side: Side::Blue,
                evidence,
            },
            "attached blue evidence lsass.pcap",
        ),
        (
            TestCaseEvent::EvidenceRemoved {
                removed_by: by,
                at: now,
                evidence_id: id(0x30),
            },
            "removed evidence 00000000-0000-0000-0000-000000000030",
        ),
    ];
    for (event, expected) in cases {
        assert_eq!(of("TestCase", &event), expected, "{event:?}");
    }
}

#[test]
fn campaign_events() {
    let name = CampaignName::parse("Credential access, Q1").expect("a name");
    let scope = CampaignScope::parse(["T1003"], None).expect("a scope");
    let weekly = Recurrence::parse("0 9 * * 1", "Europe/Berlin").expect("a recurrence");
    let cases = [
        (
            CampaignEvent::Created {
                name: name.clone(),
                description: CampaignDescription::default(),
                scope: scope.clone(),
                planned_start: at("2026-01-05T08:00:00Z"),
                planned_end: at("2026-01-30T17:00:00Z"),
                recurrence: None,
            },
            "created campaign “Credential access, Q1” (2026-01-05 to 2026-01-30)",
        ),
        (
            CampaignEvent::Created {
                name: name.clone(),
                description: CampaignDescription::default(),
                scope: scope.clone(),
                planned_start: at("2026-01-05T08:00:00Z"),
                planned_end: at("2026-01-30T17:00:00Z"),
                recurrence: Some(weekly.clone()),
            },
            "created recurring campaign “Credential access, Q1” (2026-01-05 to 2026-01-30)",
        ),
        (
            CampaignEvent::InstanceCreated {
                template_id: id(1),
                due_at: at("2026-01-12T08:00:00Z"),
                name: name.clone(),
                description: CampaignDescription::default(),
                scope: scope.clone(),
                planned_start: at("2026-01-12T08:00:00Z"),
                planned_end: at("2026-01-16T17:00:00Z"),
                test_cases: [id(2), id(3)].into(),
            },
            "created campaign “Credential access, Q1”, the instance due 2026-01-12 08:00 UTC, with 2 test cases",
        ),
        (
            CampaignEvent::Edited {
                name: name.clone(),
                description: CampaignDescription::default(),
                scope,
                planned_start: at("2026-01-05T08:00:00Z"),
                planned_end: at("2026-01-30T17:00:00Z"),
            },
            "edited campaign “Credential access, Q1”",
        ),
        (
            CampaignEvent::Activated {
                at: at("2026-01-05T08:00:00Z"),
            },
            "activated the campaign",
        ),
        (
            CampaignEvent::Completed {
                at: at("2026-01-30T17:00:00Z"),
            },
            "completed the campaign",
        ),
        (
            CampaignEvent::Cancelled {
                reason: CancellationReason::parse("Budget cut.").expect("a reason"),
                at: at("2026-01-06T08:00:00Z"),
            },
            "cancelled the campaign: Budget cut.",
        ),
        (
            CampaignEvent::TestCaseAdded {
                test_case_id: id(2),
            },
            "added test case 00000000-0000-0000-0000-000000000002 to the campaign",
        ),
        (
            CampaignEvent::TestCaseRemoved {
                test_case_id: id(2),
            },
            "removed test case 00000000-0000-0000-0000-000000000002 from the campaign",
        ),
        (
            CampaignEvent::RecurrenceSet { recurrence: weekly },
            "set the campaign to recur on “0 9 * * 1” (Europe/Berlin)",
        ),
        (
            CampaignEvent::RecurrenceCleared,
            "stopped the campaign recurring",
        ),
        (
            CampaignEvent::SpawnRecorded {
                due_at: at("2026-01-12T08:00:00Z"),
                instance_id: id(4),
            },
            "spawned instance 00000000-0000-0000-0000-000000000004 due 2026-01-12 08:00 UTC",
        ),
    ];
    for (event, expected) in cases {
        assert_eq!(of("Campaign", &event), expected, "{event:?}");
    }
}

#[test]
fn scoring_policy_events() {
    let reason = |text: &str| ChangeReason::parse(text).expect("a reason");
    let cases = [
        (
            ScoringPolicyEvent::Defined {
                name: PolicyName::parse("Baseline").expect("a name"),
                settings: PolicySettings::default(),
                reason: reason("The defaults."),
            },
            "defined scoring policy “Baseline”: The defaults.",
        ),
        (
            ScoringPolicyEvent::Changed {
                version: 2,
                settings: PolicySettings::default(),
                reason: reason("Rules count more."),
            },
            "changed the scoring policy to version 2: Rules count more.",
        ),
        (
            ScoringPolicyEvent::Renamed {
                name: PolicyName::parse("Strict").expect("a name"),
                reason: reason("Clearer."),
            },
            "renamed the scoring policy to “Strict”: Clearer.",
        ),
        (
            ScoringPolicyEvent::Activated {
                reason: reason("Go live."),
            },
            "activated the scoring policy: Go live.",
        ),
        (
            ScoringPolicyEvent::Deactivated {
                reason: reason("Replaced."),
            },
            "deactivated the scoring policy: Replaced.",
        ),
        (
            ScoringPolicyEvent::Retired {
                reason: reason("Unused."),
            },
            "retired the scoring policy: Unused.",
        ),
    ];
    for (event, expected) in cases {
        assert_eq!(of("ScoringPolicy", &event), expected, "{event:?}");
    }
}

#[test]
fn detection_rule_events() {
    let rule = RuleRef {
        source: RuleSource::Sigma,
        id: RuleId::parse("0d894093-71bc-43c3-8c4d-ecfc28dcf5d9").expect("a rule id"),
    };
    let reason = RuleChangeReason::parse("Covers LSASS access.").expect("a reason");
    assert_eq!(
        of(
            "DetectionRule",
            &DetectionRuleEvent::Deployed {
                rule: rule.clone(),
                reason: reason.clone(),
            }
        ),
        "deployed sigma rule 0d894093-71bc-43c3-8c4d-ecfc28dcf5d9: Covers LSASS access."
    );
    assert_eq!(
        of(
            "DetectionRule",
            &DetectionRuleEvent::Retired { rule, reason }
        ),
        "retired sigma rule 0d894093-71bc-43c3-8c4d-ecfc28dcf5d9: Covers LSASS access."
    );
}

#[test]
fn long_free_text_is_cut_to_one_short_line() {
    let comment = TestCaseEvent::CommentAdded {
        author: id(1),
        at: at("2026-01-05T10:00:00Z"),
        body: note(&"x".repeat(200)),
    };
    assert_eq!(
        of("TestCase", &comment),
        format!("commented: “{}…”", "x".repeat(79))
    );
}

#[test]
fn unknown_types_and_unreadable_payloads_fall_back_to_the_event_type() {
    assert_eq!(
        summarize("Probe", "ProbeRecorded", &json!({})),
        "recorded ProbeRecorded on Probe"
    );
    assert_eq!(
        summarize("TestCase", "TestCaseTeleported", &json!({"Teleported": {}})),
        "recorded TestCaseTeleported on TestCase"
    );
}

#[test]
fn a_line_puts_the_actor_first_and_names_another_user() {
    assert_eq!(
        line(
            "admin@aegis.demo",
            "granted role red_lead",
            Some("bob@aegis.demo")
        ),
        "admin@aegis.demo granted role red_lead (user bob@aegis.demo)"
    );
    assert_eq!(
        line("bob@aegis.demo", "changed the password", None),
        "bob@aegis.demo changed the password"
    );
}
