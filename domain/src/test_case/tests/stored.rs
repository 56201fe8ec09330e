//! The persisted-event contract: every event type with the JSON stored for it at version 1.

use super::*;

/// Every event with the JSON stored for it at version 1, with both shapes of the optional parts. These
/// literals are the persisted contract: if one stops matching, write an upcaster instead of editing the
/// literal.
fn stored_v1_events() -> Vec<(TestCaseEvent, &'static str, &'static str)> {
    let mut events = vec![
        (
            planned(),
            "TestCasePlanned",
            r#"{"Planned":{"planned_by":"00000000-0000-0000-0000-000000000002","at":"2025-03-01T12:00:00Z","plan":{"title":"Dump LSASS with comsvcs.dll","objective":"An LSASS dump through comsvcs.dll is blocked.","technique":"T1003.001","procedure":{"kind":"atomic_test","guid":"00000000-0000-0000-0000-000000000064"},"steps":"rundll32 comsvcs.dll MiniDump <lsass pid> lsass.dmp full","platforms":["windows"],"targets":["ws-01"],"tags":["credential-access"],"blind":true}}}"#,
        ),
        (
            TestCaseEvent::PlanEdited {
                edited_by: user(Role::BlueLead),
                at: now(),
                plan: Plan {
                    title: Title::parse("Dump LSASS by hand").unwrap(),
                    objective: text(""),
                    technique: TechniqueId::parse("T1003").unwrap(),
                    procedure: ProcedureSource::Manual,
                    steps: text("1. Open Task Manager.\n2. Create a dump file of lsass.exe."),
                    platforms: BTreeSet::new(),
                    targets: [target("ws-01"), target("ws-02")].into(),
                    tags: BTreeSet::new(),
                    blind: false,
                },
            },
            "TestCasePlanEdited",
            r#"{"PlanEdited":{"edited_by":"00000000-0000-0000-0000-000000000004","at":"2025-03-01T12:00:00Z","plan":{"title":"Dump LSASS by hand","objective":"","technique":"T1003","procedure":{"kind":"manual"},"steps":"1. Open Task Manager.\n2. Create a dump file of lsass.exe.","platforms":[],"targets":["ws-01","ws-02"],"tags":[],"blind":false}}}"#,
        ),
        (
            assigned(),
            "TestCaseAssigned",
            r#"{"Assigned":{"assigned_by":"00000000-0000-0000-0000-000000000001","at":"2025-03-01T12:00:00Z","red_assignee":"00000000-0000-0000-0000-000000000003","blue_assignee":"00000000-0000-0000-0000-000000000005"}}"#,
        ),
        (
            TestCaseEvent::Assigned {
                assigned_by: user(Role::BlueLead),
                at: now(),
                red_assignee: None,
                blue_assignee: Some(user(Role::BlueTech)),
            },
            "TestCaseAssigned",
            r#"{"Assigned":{"assigned_by":"00000000-0000-0000-0000-000000000004","at":"2025-03-01T12:00:00Z","red_assignee":null,"blue_assignee":"00000000-0000-0000-0000-000000000005"}}"#,
        ),
        (
            execution_started(),
            "TestCaseExecutionStarted",
            r#"{"ExecutionStarted":{"started_by":"00000000-0000-0000-0000-000000000003","at":"2025-03-01T12:00:00Z"}}"#,
        ),
        (
            execution_recorded(execution("2025-03-01T12:05:00Z", "2025-03-01T12:06:00Z")),
            "TestCaseExecutionRecorded",
            r#"{"ExecutionRecorded":{"recorded_by":"00000000-0000-0000-0000-000000000003","at":"2025-03-01T12:00:00Z","execution":{"command":"rundll32 comsvcs.dll MiniDump 612 lsass.dmp full","target":"ws-01","started_at":"2025-03-01T12:05:00Z","stopped_at":"2025-03-01T12:06:00Z","output_excerpt":"Access is denied."}}}"#,
        ),
        (
            execution_completed(),
            "TestCaseExecutionCompleted",
            r#"{"ExecutionCompleted":{"completed_by":"00000000-0000-0000-0000-000000000003","at":"2025-03-01T12:00:00Z"}}"#,
        ),
        (
            review_started(),
            "TestCaseReviewStarted",
            r#"{"ReviewStarted":{"started_by":"00000000-0000-0000-0000-000000000005","at":"2025-03-01T12:00:00Z"}}"#,
        ),
        (
            outcome_recorded(Role::BlueTech, alerted("EDR", "2025-03-01T12:08:00Z")),
            "TestCaseOutcomeRecorded",
            r#"{"OutcomeRecorded":{"recorded_by":"00000000-0000-0000-0000-000000000005","at":"2025-03-01T12:00:00Z","defense":{"tool":"EDR","outcome":"alerted","severity":"high","detected_at":"2025-03-01T12:08:00Z","rules_fired":["sigma-lsass-dump"]}}}"#,
        ),
        (
            outcome_recorded(Role::BlueLead, defense("Firewall", Outcome::NotApplicable)),
            "TestCaseOutcomeRecorded",
            r#"{"OutcomeRecorded":{"recorded_by":"00000000-0000-0000-0000-000000000004","at":"2025-03-01T12:00:00Z","defense":{"tool":"Firewall","outcome":"not_applicable","severity":null,"detected_at":null,"rules_fired":[]}}}"#,
        ),
    ];
    events.extend(stored_v1_decision_events());
    events.extend(stored_v1_annotation_events());
    events
}

/// The stored JSON of submission, approval, rejection, pausing, abandoning and reopening, part of
/// [`stored_v1_events`].
fn stored_v1_decision_events() -> Vec<(TestCaseEvent, &'static str, &'static str)> {
    vec![
        (
            submitted(),
            "TestCaseSubmittedForApproval",
            r#"{"SubmittedForApproval":{"submitted_by":"00000000-0000-0000-0000-000000000005","at":"2025-03-01T12:00:00Z"}}"#,
        ),
        (
            TestCaseEvent::ResultApproved {
                approved_by: user(Role::RedLead),
                at: now(),
                outcome: Outcome::Alerted,
            },
            "TestCaseResultApproved",
            r#"{"ResultApproved":{"approved_by":"00000000-0000-0000-0000-000000000002","at":"2025-03-01T12:00:00Z","outcome":"alerted"}}"#,
        ),
        (
            TestCaseEvent::ResultRejected {
                rejected_by: user(Role::BlueLead),
                at: now(),
                reason: note("Wrong host."),
                back_to: Side::Red,
            },
            "TestCaseResultRejected",
            r#"{"ResultRejected":{"rejected_by":"00000000-0000-0000-0000-000000000004","at":"2025-03-01T12:00:00Z","reason":"Wrong host.","back_to":"red"}}"#,
        ),
        (
            TestCaseEvent::Paused {
                paused_by: user(Role::RedLead),
                at: now(),
                previous: ActiveState::AwaitingApproval,
            },
            "TestCasePaused",
            r#"{"Paused":{"paused_by":"00000000-0000-0000-0000-000000000002","at":"2025-03-01T12:00:00Z","previous":"awaiting_approval"}}"#,
        ),
        (
            TestCaseEvent::Resumed {
                resumed_by: user(Role::RedLead),
                at: now(),
                state: ActiveState::AwaitingApproval,
            },
            "TestCaseResumed",
            r#"{"Resumed":{"resumed_by":"00000000-0000-0000-0000-000000000002","at":"2025-03-01T12:00:00Z","state":"awaiting_approval"}}"#,
        ),
        (
            TestCaseEvent::Abandoned {
                abandoned_by: user(Role::BlueLead),
                at: now(),
                reason: note("Out of scope."),
            },
            "TestCaseAbandoned",
            r#"{"Abandoned":{"abandoned_by":"00000000-0000-0000-0000-000000000004","at":"2025-03-01T12:00:00Z","reason":"Out of scope."}}"#,
        ),
    ]
}

/// The stored JSON of reveals, detection rules, comments and evidence, part of [`stored_v1_events`].
fn stored_v1_annotation_events() -> Vec<(TestCaseEvent, &'static str, &'static str)> {
    vec![
        (
            TestCaseEvent::Reopened {
                reopened_by: user(Role::BlueLead),
                at: now(),
                reason: note("New rule deployed."),
                run: 2,
            },
            "TestCaseReopened",
            r#"{"Reopened":{"reopened_by":"00000000-0000-0000-0000-000000000004","at":"2025-03-01T12:00:00Z","reason":"New rule deployed.","run":2}}"#,
        ),
        (
            TestCaseEvent::RevealedToBlue {
                revealed_by: user(Role::RedTech),
                at: now(),
            },
            "TestCaseRevealedToBlue",
            r#"{"RevealedToBlue":{"revealed_by":"00000000-0000-0000-0000-000000000003","at":"2025-03-01T12:00:00Z"}}"#,
        ),
        (
            rule_linked(),
            "TestCaseDetectionRuleLinked",
            r#"{"DetectionRuleLinked":{"linked_by":"00000000-0000-0000-0000-000000000004","at":"2025-03-01T12:00:00Z","rule":"sigma-lsass-dump"}}"#,
        ),
        (
            TestCaseEvent::DetectionRuleUnlinked {
                unlinked_by: user(Role::BlueTech),
                at: now(),
                rule: rule("sigma-lsass-dump"),
            },
            "TestCaseDetectionRuleUnlinked",
            r#"{"DetectionRuleUnlinked":{"unlinked_by":"00000000-0000-0000-0000-000000000005","at":"2025-03-01T12:00:00Z","rule":"sigma-lsass-dump"}}"#,
        ),
        (
            TestCaseEvent::CommentAdded {
                author: user(Role::RedTech),
                at: now(),
                body: note("Host was offline.\nRetried at noon."),
            },
            "TestCaseCommentAdded",
            r#"{"CommentAdded":{"author":"00000000-0000-0000-0000-000000000003","at":"2025-03-01T12:00:00Z","body":"Host was offline.\nRetried at noon."}}"#,
        ),
        (
            evidence_attached(Role::RedTech, Side::Red, 50),
            "TestCaseEvidenceAttached",
            r#"{"EvidenceAttached":{"attached_by":"00000000-0000-0000-0000-000000000003","at":"2025-03-01T12:00:00Z","side":"red","evidence":{"id":"00000000-0000-0000-0000-000000000032","sha256":"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855","file_name":"lsass-dump.log"}}}"#,
        ),
        // The same event since evidence goes through verified uploads: `stored` added, with a default.
        (
            TestCaseEvent::EvidenceAttached {
                attached_by: user(Role::BlueTech),
                at: now(),
                side: Side::Blue,
                evidence: EvidenceRef {
                    stored: Some(StoredObject {
                        key: "evidence/00000000-0000-0000-0000-000000000064/00000000-0000-0000-0000-000000000033".to_owned(),
                        size: 0,
                        content_type: "text/plain".to_owned(),
                    }),
                    ..evidence(51)
                },
            },
            "TestCaseEvidenceAttached",
            r#"{"EvidenceAttached":{"attached_by":"00000000-0000-0000-0000-000000000005","at":"2025-03-01T12:00:00Z","side":"blue","evidence":{"id":"00000000-0000-0000-0000-000000000033","sha256":"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855","file_name":"lsass-dump.log","stored":{"key":"evidence/00000000-0000-0000-0000-000000000064/00000000-0000-0000-0000-000000000033","size":0,"content_type":"text/plain"}}}}"#,
        ),
        (
            TestCaseEvent::EvidenceRemoved {
                removed_by: user(Role::RedLead),
                at: now(),
                evidence_id: id(50),
            },
            "TestCaseEvidenceRemoved",
            r#"{"EvidenceRemoved":{"removed_by":"00000000-0000-0000-0000-000000000002","at":"2025-03-01T12:00:00Z","evidence_id":"00000000-0000-0000-0000-000000000032"}}"#,
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
        "TestCasePlanned",
        "TestCasePlanEdited",
        "TestCaseAssigned",
        "TestCaseExecutionStarted",
        "TestCaseExecutionRecorded",
        "TestCaseExecutionCompleted",
        "TestCaseReviewStarted",
        "TestCaseOutcomeRecorded",
        "TestCaseSubmittedForApproval",
        "TestCaseResultApproved",
        "TestCaseResultRejected",
        "TestCasePaused",
        "TestCaseResumed",
        "TestCaseAbandoned",
        "TestCaseReopened",
        "TestCaseRevealedToBlue",
        "TestCaseDetectionRuleLinked",
        "TestCaseDetectionRuleUnlinked",
        "TestCaseCommentAdded",
        "TestCaseEvidenceAttached",
        "TestCaseEvidenceRemoved",
    ]
    .map(str::to_owned)
    .into();
    assert_eq!(listed, expected);
}

#[test]
fn every_event_round_trips_through_json() {
    for (event, _, _) in stored_v1_events() {
        let json = serde_json::to_string(&event).unwrap();
        assert_eq!(serde_json::from_str::<TestCaseEvent>(&json).unwrap(), event);
    }
}

#[test]
fn stored_v1_payloads_still_deserialize() {
    for (event, event_type, stored) in stored_v1_events() {
        assert_eq!(
            serde_json::from_str::<TestCaseEvent>(stored).unwrap(),
            event
        );
        assert_eq!(event.event_type(), event_type);
        assert_eq!(event.event_version(), "1");
    }
}

/// Every procedure source as stored inside a plan.
#[test]
fn stored_procedure_sources_still_deserialize() {
    let template = |entry: &str| TemplateRef::parse(entry).unwrap();
    let cases = [
        (
            ProcedureSource::AtomicTest { guid: id(100) },
            r#"{"kind":"atomic_test","guid":"00000000-0000-0000-0000-000000000064"}"#,
        ),
        (
            ProcedureSource::CalderaAbility {
                id: template("c0da588f-79f0-4263-8998-7496b1a40596"),
            },
            r#"{"kind":"caldera_ability","id":"c0da588f-79f0-4263-8998-7496b1a40596"}"#,
        ),
        (
            ProcedureSource::Lolbas {
                entry: template("Rundll32"),
            },
            r#"{"kind":"lolbas","entry":"Rundll32"}"#,
        ),
        (
            ProcedureSource::Gtfobins {
                entry: template("tar"),
            },
            r#"{"kind":"gtfobins","entry":"tar"}"#,
        ),
        (ProcedureSource::Manual, r#"{"kind":"manual"}"#),
    ];
    for (source, stored) in cases {
        assert_eq!(serde_json::to_string(&source).unwrap(), stored);
        assert_eq!(
            serde_json::from_str::<ProcedureSource>(stored).unwrap(),
            source
        );
    }
}

/// Evidence attached before uploads were verified carries no storage details; it loads with `stored: None`
/// and serializes back to exactly what was stored.
#[test]
fn an_evidence_payload_from_before_verified_uploads_still_loads() {
    let stored = r#"{"EvidenceAttached":{"attached_by":"00000000-0000-0000-0000-000000000003","at":"2025-03-01T12:00:00Z","side":"red","evidence":{"id":"00000000-0000-0000-0000-000000000032","sha256":"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855","file_name":"lsass-dump.log"}}}"#;
    let event = serde_json::from_str::<TestCaseEvent>(stored).unwrap();
    let TestCaseEvent::EvidenceAttached { evidence, .. } = &event else {
        panic!("not an attachment: {event:?}");
    };
    assert_eq!(evidence.stored, None);
    assert_eq!(serde_json::to_string(&event).unwrap(), stored);
}

#[test]
fn a_stored_payload_breaking_a_value_rule_is_refused() {
    let stored = r#"{"CommentAdded":{"author":"00000000-0000-0000-0000-000000000003","at":"2025-03-01T12:00:00Z","body":"  "}}"#;
    assert!(serde_json::from_str::<TestCaseEvent>(stored).is_err());
}

#[test]
fn a_snapshot_round_trips_through_json() {
    let mut events = history(TestState::Reviewing);
    events.push(evidence_attached(Role::BlueTech, Side::Blue, 51));
    let test_case = rebuild(events);
    let json = serde_json::to_string(&test_case).unwrap();
    assert_eq!(serde_json::from_str::<TestCase>(&json).unwrap(), test_case);
}
