//! One line per event for people: what the actor did, computed from the event's payload alone.
//!
//! [`summarize`] returns the predicate ("planned test case “LSASS dump” (T1003.001)"); the audit log puts the
//! actor in front of it ([`line`]). It reads every aggregate's event enum from `domain`, so a new event variant
//! fails to compile here until it has its words. A type this build does not know, or a payload it cannot read
//! (written by a newer version), still gets a line: the fallback names the event type and the aggregate, so the
//! audit log never stops on an event it cannot describe.

use std::borrow::Cow;
use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use domain::campaign::CampaignEvent;
use domain::coverage_snapshot::CoverageSnapshotEvent;
use domain::detection_rule::{DetectionRuleEvent, RuleRef};
use domain::intel::IntelEvent;
use domain::job_failure::JobFailureEvent;
use domain::saved_layer::SavedLayerEvent;
use domain::scoring::ScoringPolicyEvent;
use domain::security_policy::SecurityPolicyEvent;
use domain::test_case::{ActiveState, Outcome, Plan, Severity, Side, TestCaseEvent};
use domain::user::{LoginFailure, TokenScope, UserEvent};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::projector::StoredEvent;

/// Free text (reasons, comments) is cut to this many characters, on its first line, to keep one line short.
const EXCERPT_MAX_CHARS: usize = 80;

/// What the event says happened, as a predicate for its actor: "planned test case “LSASS dump” (T1003.001)".
pub fn summarize(aggregate_type: &str, event_type: &str, payload: &Value) -> String {
    describe(aggregate_type, event_type, payload)
}

/// [`summarize`] for an event the projector read, whose payload the other projections read too.
pub(crate) fn summarize_stored(event: &StoredEvent) -> String {
    describe(&event.aggregate_type, &event.event_type, event)
}

/// A payload to read as an aggregate's event.
trait Payload {
    fn read<T: DeserializeOwned + Clone + Send + Sync + 'static>(&self) -> Option<Cow<'_, T>>;
}

impl Payload for Value {
    fn read<T: DeserializeOwned + Clone + Send + Sync + 'static>(&self) -> Option<Cow<'_, T>> {
        T::deserialize(self).ok().map(Cow::Owned)
    }
}

impl Payload for StoredEvent {
    fn read<T: DeserializeOwned + Clone + Send + Sync + 'static>(&self) -> Option<Cow<'_, T>> {
        self.payload().ok()
    }
}

fn describe(aggregate_type: &str, event_type: &str, payload: &impl Payload) -> String {
    let known = match aggregate_type {
        "User" => payload.read::<UserEvent>().map(|event| user(&event)),
        "SecurityPolicy" => payload
            .read::<SecurityPolicyEvent>()
            .map(|event| security_policy(&event)),
        "TestCase" => payload
            .read::<TestCaseEvent>()
            .map(|event| test_case(&event)),
        "Campaign" => payload
            .read::<CampaignEvent>()
            .map(|event| campaign(&event)),
        "ScoringPolicy" => payload
            .read::<ScoringPolicyEvent>()
            .map(|event| scoring_policy(&event)),
        "DetectionRule" => payload
            .read::<DetectionRuleEvent>()
            .map(|event| detection_rule(&event)),
        "CoverageSnapshots" => payload
            .read::<CoverageSnapshotEvent>()
            .map(|event| coverage_snapshot(&event)),
        "IntelItem" => payload.read::<IntelEvent>().map(|event| intel_item(&event)),
        "JobFailure" => payload
            .read::<JobFailureEvent>()
            .map(|event| job_failure(&event)),
        "SavedLayer" => payload
            .read::<SavedLayerEvent>()
            .map(|event| saved_layer(&event)),
        _ => None,
    };
    known.unwrap_or_else(|| format!("recorded {event_type} on {aggregate_type}"))
}

/// The whole line: the actor, the predicate, and for an event about another user than the actor, that user.
pub fn line(actor: &str, predicate: &str, subject_user: Option<&str>) -> String {
    let mut line = format!("{actor} {predicate}");
    if let Some(user) = subject_user {
        let _ = write!(line, " (user {user})");
    }
    line
}

fn user(event: &UserEvent) -> String {
    match event {
        UserEvent::Registered {
            email,
            display_name,
            roles,
        } => {
            let roles: Vec<&str> = roles.iter().map(|role| role.as_str()).collect();
            format!(
                "registered user {email} ({display_name}) with roles {}",
                roles.join(", ")
            )
        }
        UserEvent::DisplayNameChanged { display_name } => {
            format!("changed the display name to “{display_name}”")
        }
        UserEvent::EmailChanged { email } => format!("changed the e-mail address to {email}"),
        UserEvent::RoleGranted { role } => format!("granted role {role}"),
        UserEvent::RoleRevoked { role } => format!("revoked role {role}"),
        UserEvent::Deactivated => "deactivated the account".to_owned(),
        UserEvent::Reactivated => "reactivated the account".to_owned(),
        UserEvent::LoggedIn { second_factor, .. } => if *second_factor {
            "recorded a sign-in with a second factor"
        } else {
            "recorded a sign-in"
        }
        .to_owned(),
        UserEvent::LoginFailed { reason } => format!(
            "recorded a refused sign-in: {}",
            match reason {
                LoginFailure::WrongPassword => "wrong password",
                LoginFailure::WrongSecondFactor => "wrong second factor",
                LoginFailure::Deactivated => "account deactivated",
                LoginFailure::Throttled => "too many attempts",
            }
        ),
        UserEvent::LoggedOut { .. } => "recorded a sign-out".to_owned(),
        UserEvent::PasswordChanged => "changed the password".to_owned(),
        UserEvent::PasswordResetRequired => "required a password reset".to_owned(),
        UserEvent::TwoFactorEnabled => "enabled two-factor login".to_owned(),
        UserEvent::TwoFactorDisabled => "disabled two-factor login".to_owned(),
        UserEvent::RecoveryCodeUsed => "used a recovery code".to_owned(),
        UserEvent::ApiTokenCreated {
            name,
            scope,
            expires_at,
            ..
        } => format!(
            "created API token “{name}” ({}, expires {})",
            match scope {
                TokenScope::Full => "full".to_owned(),
                TokenScope::ReadOnly => "read-only".to_owned(),
                TokenScope::CampaignReadOnly { campaign_id } =>
                    format!("read-only, campaign {campaign_id}"),
            },
            day(*expires_at)
        ),
        UserEvent::ApiTokenRevoked { token_id } => format!("revoked API token {token_id}"),
        UserEvent::AccessDenied { operation } => format!("was refused {operation}"),
    }
}

fn security_policy(event: &SecurityPolicyEvent) -> String {
    match event {
        SecurityPolicyEvent::TwoFactorRequired { role } => {
            format!("required two-factor login for role {role}")
        }
        SecurityPolicyEvent::TwoFactorWaived { role } => {
            format!("waived two-factor login for role {role}")
        }
    }
}

fn test_case(event: &TestCaseEvent) -> String {
    match event {
        TestCaseEvent::Planned { plan, .. } => {
            let blind = if plan.blind { "blind " } else { "" };
            format!("planned {blind}test case {}", plan_label(plan))
        }
        TestCaseEvent::PlanEdited { plan, .. } => format!("edited the plan: {}", plan_label(plan)),
        TestCaseEvent::Assigned {
            red_assignee,
            blue_assignee,
            ..
        } => {
            let sides: Vec<String> = [("red", red_assignee), ("blue", blue_assignee)]
                .into_iter()
                .filter_map(|(side, assignee)| assignee.map(|id| format!("{side} to {id}")))
                .collect();
            format!("assigned the test case: {}", sides.join(", "))
        }
        TestCaseEvent::ExecutionStarted { .. } => "started the execution".to_owned(),
        TestCaseEvent::ExecutionRecorded { execution, .. } => {
            format!("recorded an execution on {}", execution.target)
        }
        TestCaseEvent::ExecutionCompleted { .. } => "completed the execution".to_owned(),
        TestCaseEvent::ReviewStarted { .. } => "started the review".to_owned(),
        TestCaseEvent::OutcomeRecorded { defense, .. } => {
            let mut text = format!("recorded {}: {}", defense.tool, outcome(defense.outcome));
            if let Some(severity) = defense.severity {
                let _ = write!(text, " ({})", self::severity(severity));
            }
            text
        }
        TestCaseEvent::SubmittedForApproval { .. } => {
            "submitted the result for approval".to_owned()
        }
        TestCaseEvent::ResultApproved { outcome, .. } => {
            format!("approved the result: {}", self::outcome(*outcome))
        }
        TestCaseEvent::ResultRejected {
            reason, back_to, ..
        } => format!(
            "sent the result back to {}: {}",
            side(*back_to),
            excerpt(reason.as_str())
        ),
        TestCaseEvent::Paused { previous, .. } => {
            format!("paused the test case ({})", active_state(*previous))
        }
        TestCaseEvent::Resumed { state, .. } => {
            format!("resumed the test case ({})", active_state(*state))
        }
        TestCaseEvent::Abandoned { reason, .. } => {
            format!("abandoned the test case: {}", excerpt(reason.as_str()))
        }
        TestCaseEvent::Reopened { reason, run, .. } => format!(
            "reopened the test case for run {run}: {}",
            excerpt(reason.as_str())
        ),
        TestCaseEvent::RevealedToBlue { .. } => "revealed the test case to blue".to_owned(),
        TestCaseEvent::DetectionRuleLinked { rule, .. } => format!("linked detection rule {rule}"),
        TestCaseEvent::DetectionRuleUnlinked { rule, .. } => {
            format!("unlinked detection rule {rule}")
        }
        TestCaseEvent::CommentAdded { body, .. } => {
            format!("commented: “{}”", excerpt(body.as_str()))
        }
        TestCaseEvent::EvidenceAttached { side, evidence, .. } => format!(
            "attached {} evidence {}",
            self::side(*side),
            evidence.file_name
        ),
        TestCaseEvent::EvidenceRemoved { evidence_id, .. } => {
            format!("removed evidence {evidence_id}")
        }
    }
}

fn campaign(event: &CampaignEvent) -> String {
    match event {
        CampaignEvent::Created {
            name,
            planned_start,
            planned_end,
            recurrence,
            ..
        } => {
            let recurring = if recurrence.is_some() {
                "recurring "
            } else {
                ""
            };
            format!(
                "created {recurring}campaign “{name}” ({} to {})",
                day(*planned_start),
                day(*planned_end)
            )
        }
        CampaignEvent::InstanceCreated {
            name,
            due_at,
            test_cases,
            ..
        } => format!(
            "created campaign “{name}”, the instance due {}, with {} test cases",
            minute(*due_at),
            test_cases.len()
        ),
        CampaignEvent::Edited { name, .. } => format!("edited campaign “{name}”"),
        CampaignEvent::Activated { .. } => "activated the campaign".to_owned(),
        CampaignEvent::Completed { .. } => "completed the campaign".to_owned(),
        CampaignEvent::Cancelled { reason, .. } => {
            format!("cancelled the campaign: {}", excerpt(reason.as_str()))
        }
        CampaignEvent::TestCaseAdded { test_case_id } => {
            format!("added test case {test_case_id} to the campaign")
        }
        CampaignEvent::TestCaseRemoved { test_case_id } => {
            format!("removed test case {test_case_id} from the campaign")
        }
        CampaignEvent::RecurrenceSet { recurrence } => format!(
            "set the campaign to recur on “{}” ({})",
            recurrence.cron(),
            recurrence.timezone()
        ),
        CampaignEvent::RecurrenceCleared => "stopped the campaign recurring".to_owned(),
        CampaignEvent::SpawnRecorded {
            due_at,
            instance_id,
        } => format!("spawned instance {instance_id} due {}", minute(*due_at)),
    }
}

fn scoring_policy(event: &ScoringPolicyEvent) -> String {
    let (what, reason) = match event {
        ScoringPolicyEvent::Defined { name, reason, .. } => {
            (format!("defined scoring policy “{name}”"), reason)
        }
        ScoringPolicyEvent::Changed {
            version, reason, ..
        } => (
            format!("changed the scoring policy to version {version}"),
            reason,
        ),
        ScoringPolicyEvent::Renamed { name, reason } => {
            (format!("renamed the scoring policy to “{name}”"), reason)
        }
        ScoringPolicyEvent::Activated { reason } => {
            ("activated the scoring policy".to_owned(), reason)
        }
        ScoringPolicyEvent::Deactivated { reason } => {
            ("deactivated the scoring policy".to_owned(), reason)
        }
        ScoringPolicyEvent::Retired { reason } => ("retired the scoring policy".to_owned(), reason),
    };
    format!("{what}: {}", excerpt(reason.as_str()))
}

fn detection_rule(event: &DetectionRuleEvent) -> String {
    let rule_label = |rule: &RuleRef| format!("{} rule {}", rule.source, rule.id);
    match event {
        DetectionRuleEvent::Deployed { rule, reason } => format!(
            "deployed {}: {}",
            rule_label(rule),
            excerpt(reason.as_str())
        ),
        DetectionRuleEvent::Retired { rule, reason } => {
            format!("retired {}: {}", rule_label(rule), excerpt(reason.as_str()))
        }
    }
}

fn coverage_snapshot(event: &CoverageSnapshotEvent) -> String {
    let CoverageSnapshotEvent::Taken { snapshot_id, kind } = event;
    format!(
        "took {} coverage snapshot {snapshot_id}",
        kind.as_str().replace('_', "-")
    )
}

fn intel_item(event: &IntelEvent) -> String {
    match event {
        IntelEvent::Raised { title, .. } => format!("raised intel item “{}”", excerpt(title)),
        IntelEvent::Acknowledged { note: Some(note) } => {
            format!("acknowledged the intel item: {}", excerpt(note))
        }
        IntelEvent::Acknowledged { note: None } => "acknowledged the intel item".to_owned(),
    }
}

fn job_failure(event: &JobFailureEvent) -> String {
    let JobFailureEvent::Recorded {
        job, due_at, error, ..
    } = event;
    format!(
        "recorded that job {job} due {} failed: {}",
        minute(*due_at),
        excerpt(error)
    )
}

fn saved_layer(event: &SavedLayerEvent) -> String {
    match event {
        SavedLayerEvent::Saved { content } => format!(
            "saved layer “{}” ({}, {} techniques, from {})",
            excerpt(&content.name),
            content.domain,
            content.annotations.len(),
            excerpt(&content.source)
        ),
        SavedLayerEvent::Renamed { name } => format!("renamed the layer “{}”", excerpt(name)),
        SavedLayerEvent::Deleted => "deleted the layer".to_owned(),
    }
}

fn plan_label(plan: &Plan) -> String {
    format!("“{}” ({})", plan.title, plan.technique)
}

fn outcome(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::NotApplicable => "Not applicable",
        Outcome::NotDetected => "Not detected",
        Outcome::Logged => "Logged",
        Outcome::Alerted => "Alerted",
        Outcome::Blocked => "Blocked",
    }
}

fn severity(severity: Severity) -> &'static str {
    match severity {
        Severity::Info => "Info",
        Severity::Low => "Low",
        Severity::Medium => "Medium",
        Severity::High => "High",
        Severity::Critical => "Critical",
    }
}

fn side(side: Side) -> &'static str {
    match side {
        Side::Red => "red",
        Side::Blue => "blue",
    }
}

fn active_state(state: ActiveState) -> &'static str {
    match state {
        ActiveState::Planned => "planned",
        ActiveState::Assigned => "assigned",
        ActiveState::Executing => "executing",
        ActiveState::Executed => "executed",
        ActiveState::Reviewing => "reviewing",
        ActiveState::AwaitingApproval => "awaiting approval",
    }
}

fn day(time: DateTime<Utc>) -> String {
    time.format("%Y-%m-%d").to_string()
}

fn minute(time: DateTime<Utc>) -> String {
    time.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// The first line of `text`, cut to [`EXCERPT_MAX_CHARS`] with an ellipsis when longer (or when more lines
/// follow).
fn excerpt(text: &str) -> String {
    let mut lines = text.trim().lines();
    let first = lines.next().unwrap_or_default().trim();
    let more_lines = lines.next().is_some();
    if first.chars().count() > EXCERPT_MAX_CHARS {
        let cut: String = first.chars().take(EXCERPT_MAX_CHARS - 1).collect();
        return format!("{}…", cut.trim_end());
    }
    if more_lines {
        return format!("{first} …");
    }
    first.to_owned()
}

#[cfg(test)]
mod tests;
