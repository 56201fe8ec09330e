//! The workflow read models (test cases, campaigns, scoring policies) against a real Postgres, fed with real
//! domain events as the command layer stores them: a test case through two runs, blind redaction, paging,
//! campaign progress, policy history, idempotence and rebuilds.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use domain::campaign::{
    CampaignDescription, CampaignEvent, CampaignName, CampaignScope, CampaignStatus,
    CancellationReason, Recurrence,
};
use domain::scoring::{
    ChangeReason, PolicyName, PolicySettings, PolicySettingsDraft, ScoringPolicyEvent,
};
use domain::test_case::{
    ActiveState, DefenseOutcome, DetectionRuleRef, EvidenceRef, Execution, FileName, Note, Outcome,
    Plan, Platform, ProcedureSource, Severity, Sha256, Side, Tag, Target, TechniqueId,
    TestCaseEvent, TestState, Text, Title, ToolName,
};
use projections::campaigns::{self, CampaignFilter, OutcomeCount, StateCount, TimeToDetectStats};
use projections::paging::PageCursor;
use projections::projector::StoredEvent;
use projections::scoring_policies;
use projections::test_cases::{self, TestCaseFilter};
use sqlx::PgPool;
use uuid::Uuid;

mod support;

use support::{BLUE_LEAD, BLUE_TECH, Log, RED_LEAD, RED_TECH, at, id, projector};

fn plan(title: &str, technique: &str, blind: bool) -> Plan {
    Plan {
        title: Title::parse(title).unwrap(),
        objective: Text::parse("An LSASS dump through comsvcs.dll is blocked.").unwrap(),
        technique: TechniqueId::parse(technique).unwrap(),
        procedure: ProcedureSource::AtomicTest { guid: id(100) },
        steps: Text::parse("rundll32 comsvcs.dll MiniDump <lsass pid> lsass.dmp full").unwrap(),
        platforms: [Platform::parse("windows").unwrap()].into(),
        targets: [Target::parse("ws-01").unwrap()].into(),
        tags: [Tag::parse("credential-access").unwrap()].into(),
        blind,
    }
}

fn planned(time: &str, plan: Plan) -> TestCaseEvent {
    TestCaseEvent::Planned {
        planned_by: id(RED_LEAD),
        at: at(time),
        plan,
    }
}

fn execution(started_at: &str, stopped_at: &str) -> Execution {
    Execution {
        command: Text::parse("rundll32 comsvcs.dll MiniDump 612 lsass.dmp full").unwrap(),
        target: Target::parse("ws-01").unwrap(),
        started_at: at(started_at),
        stopped_at: at(stopped_at),
        output_excerpt: Text::parse("Access is denied.").unwrap(),
    }
}

fn defense(tool: &str, outcome: Outcome, detected_at: Option<&str>) -> DefenseOutcome {
    let detection = outcome.is_detection();
    DefenseOutcome {
        tool: ToolName::parse(tool).unwrap(),
        outcome,
        severity: detection.then_some(Severity::High),
        detected_at: detected_at.map(at),
        rules_fired: if detection {
            [DetectionRuleRef::parse("sigma-lsass-access").unwrap()].into()
        } else {
            BTreeSet::new()
        },
    }
}

fn evidence(number: u128, file_name: &str) -> EvidenceRef {
    EvidenceRef {
        id: id(number),
        sha256: Sha256::parse(&"ab".repeat(32)).unwrap(),
        file_name: FileName::parse(file_name).unwrap(),
        stored: None,
    }
}

fn note(text: &str) -> Note {
    Note::parse(text).unwrap()
}

/// Plans `test_case_id` at `day` 09:00 and takes it through assignment, execution (two executions, the
/// second starting first), red and blue evidence, review by two tools (one corrected), a comment, a linked
/// rule, submission and approval. Its time to detect is 75 s: the earliest detection (10:02:45) minus the
/// earliest execution start (10:01:30).
async fn walk_to_completion(log: &mut Log, test_case_id: Uuid, day: &str, blind: bool) {
    let time = |clock: &str| format!("{day}T{clock}Z");
    let title = format!("Dump LSASS ({day})");
    log.test_case(
        test_case_id,
        planned(&time("09:00:00"), plan(&title, "T1003.001", blind)),
    )
    .await;
    let events = vec![
        TestCaseEvent::Assigned {
            assigned_by: id(RED_LEAD),
            at: at(&time("09:10:00")),
            red_assignee: Some(id(RED_TECH)),
            blue_assignee: Some(id(BLUE_TECH)),
        },
        TestCaseEvent::ExecutionStarted {
            started_by: id(RED_TECH),
            at: at(&time("10:00:00")),
        },
        TestCaseEvent::ExecutionRecorded {
            recorded_by: id(RED_TECH),
            at: at(&time("10:10:00")),
            execution: execution(&time("10:05:00"), &time("10:06:00")),
        },
        TestCaseEvent::ExecutionRecorded {
            recorded_by: id(RED_TECH),
            at: at(&time("10:11:00")),
            execution: execution(&time("10:01:30"), &time("10:02:00")),
        },
        TestCaseEvent::EvidenceAttached {
            attached_by: id(RED_TECH),
            at: at(&time("10:12:00")),
            side: Side::Red,
            evidence: evidence(201, "procdump-output.txt"),
        },
        TestCaseEvent::ExecutionCompleted {
            completed_by: id(RED_TECH),
            at: at(&time("10:15:00")),
        },
        TestCaseEvent::ReviewStarted {
            started_by: id(BLUE_TECH),
            at: at(&time("11:00:00")),
        },
        TestCaseEvent::OutcomeRecorded {
            recorded_by: id(BLUE_TECH),
            at: at(&time("11:10:00")),
            defense: defense("EDR", Outcome::Alerted, Some(&time("10:03:30"))),
        },
        TestCaseEvent::OutcomeRecorded {
            recorded_by: id(BLUE_TECH),
            at: at(&time("11:11:00")),
            defense: defense("SIEM", Outcome::Logged, Some(&time("10:02:00"))),
        },
        // A correction: SIEM's record is replaced, with a later detection time.
        TestCaseEvent::OutcomeRecorded {
            recorded_by: id(BLUE_TECH),
            at: at(&time("11:12:00")),
            defense: defense("SIEM", Outcome::Logged, Some(&time("10:02:45"))),
        },
        TestCaseEvent::EvidenceAttached {
            attached_by: id(BLUE_TECH),
            at: at(&time("11:13:00")),
            side: Side::Blue,
            evidence: evidence(202, "edr-alert.json"),
        },
        TestCaseEvent::EvidenceAttached {
            attached_by: id(BLUE_TECH),
            at: at(&time("11:14:00")),
            side: Side::Blue,
            evidence: evidence(203, "wrong-file.json"),
        },
        TestCaseEvent::EvidenceRemoved {
            removed_by: id(BLUE_TECH),
            at: at(&time("11:15:00")),
            evidence_id: id(203),
        },
        TestCaseEvent::CommentAdded {
            author: id(BLUE_TECH),
            at: at(&time("11:16:00")),
            body: note("The EDR alert fired within two minutes."),
        },
        TestCaseEvent::DetectionRuleLinked {
            linked_by: id(BLUE_TECH),
            at: at(&time("11:17:00")),
            rule: DetectionRuleRef::parse("sigma-lsass-access").unwrap(),
        },
        TestCaseEvent::SubmittedForApproval {
            submitted_by: id(BLUE_TECH),
            at: at(&time("11:20:00")),
        },
        TestCaseEvent::ResultApproved {
            approved_by: id(RED_LEAD),
            at: at(&time("12:00:00")),
            outcome: Outcome::Alerted,
        },
    ];
    for event in events {
        log.test_case(test_case_id, event).await;
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn a_test_case_walked_through_a_run_and_reopened(pool: PgPool) {
    let mut log = Log::new(&pool);
    let test_case_id = id(10);
    walk_to_completion(&mut log, test_case_id, "2025-03-03", true).await;
    let projector = projector(&pool, 4);
    projector.catch_up().await.unwrap();

    let row = test_cases::find(&pool, test_case_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.run, 1);
    assert_eq!(row.state, TestState::Completed);
    assert_eq!(row.title, "Dump LSASS (2025-03-03)");
    assert_eq!(row.technique, "T1003.001");
    assert_eq!(
        row.procedure,
        Some(ProcedureSource::AtomicTest { guid: id(100) })
    );
    assert_eq!(row.platforms, vec!["windows"]);
    assert_eq!(row.targets, Some(vec!["ws-01".to_owned()]));
    assert_eq!(row.tags, vec!["credential-access"]);
    assert!(row.blind && !row.revealed);
    assert_eq!(
        (row.red_assignee, row.blue_assignee),
        (Some(id(RED_TECH)), Some(id(BLUE_TECH)))
    );
    assert_eq!(row.detection_rules, vec!["sigma-lsass-access"]);
    // The strongest tool's outcome, and the earliest detection minus the earliest execution start.
    assert_eq!(row.outcome, Some(Outcome::Alerted));
    assert_eq!(row.time_to_detect_ms, Some(75_000));
    assert_eq!(
        row.first_execution_started_at,
        Some(at("2025-03-03T10:01:30Z"))
    );
    assert_eq!(row.planned_by, id(RED_LEAD));
    assert_eq!(row.planned_at, at("2025-03-03T09:00:00Z"));
    assert_eq!(row.completed_at, Some(at("2025-03-03T12:00:00Z")));
    assert_eq!(row.last_changed_at, at("2025-03-03T12:00:00Z"));

    let tools: Vec<(&str, Outcome, Option<DateTime<Utc>>)> = row
        .outcomes
        .iter()
        .map(|outcome| (outcome.tool.as_str(), outcome.outcome, outcome.detected_at))
        .collect();
    assert_eq!(
        tools,
        vec![
            ("EDR", Outcome::Alerted, Some(at("2025-03-03T10:03:30Z"))),
            ("SIEM", Outcome::Logged, Some(at("2025-03-03T10:02:45Z"))),
        ],
        "one outcome per tool, the correction replacing the first SIEM record"
    );
    assert_eq!(row.outcomes[0].severity, Some(Severity::High));
    assert_eq!(row.outcomes[0].rules_fired, vec!["sigma-lsass-access"]);
    assert_eq!(row.executions.len(), 2);
    assert_eq!(row.executions[1].started_at, at("2025-03-03T10:01:30Z"));
    let evidence: Vec<(Side, &str, bool)> = row
        .evidence
        .iter()
        .map(|evidence| (evidence.side, evidence.file_name.as_str(), evidence.removed))
        .collect();
    assert_eq!(
        evidence,
        vec![
            (Side::Red, "procdump-output.txt", false),
            (Side::Blue, "edr-alert.json", false),
            (Side::Blue, "wrong-file.json", true),
        ]
    );
    assert_eq!(row.comments.len(), 1);
    assert_eq!(row.comments[0].author, id(BLUE_TECH));
    assert_eq!(row.runs.len(), 1);
    assert_eq!(row.runs[0].approved_outcome, Some(Outcome::Alerted));
    assert_eq!(row.runs[0].approved_by, Some(id(RED_LEAD)));
    assert_eq!(row.runs[0].time_to_detect_ms, Some(75_000));

    // Reopen: run 2 starts assigned, without a result; run 1 keeps its own.
    log.test_case(
        test_case_id,
        TestCaseEvent::Reopened {
            reopened_by: id(BLUE_LEAD),
            at: at("2025-04-01T09:00:00Z"),
            reason: note("Retest after the EDR policy change."),
            run: 2,
        },
    )
    .await;
    log.test_case(
        test_case_id,
        TestCaseEvent::Paused {
            paused_by: id(BLUE_LEAD),
            at: at("2025-04-01T09:30:00Z"),
            previous: ActiveState::Assigned,
        },
    )
    .await;
    projector.catch_up().await.unwrap();
    let row = test_cases::find(&pool, test_case_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.run, 2);
    assert_eq!(
        row.state,
        TestState::Paused {
            previous: ActiveState::Assigned
        }
    );
    assert_eq!(
        (
            row.outcome,
            row.time_to_detect_ms,
            row.first_execution_started_at,
            row.completed_at
        ),
        (None, None, None, None)
    );
    assert_eq!(
        (row.red_assignee, row.blue_assignee),
        (Some(id(RED_TECH)), Some(id(BLUE_TECH))),
        "a new run keeps the assignees"
    );
    assert_eq!(row.detection_rules, vec!["sigma-lsass-access"]);
    assert_eq!(row.runs.len(), 2);
    assert_eq!(row.runs[0].approved_outcome, Some(Outcome::Alerted));
    assert_eq!(row.runs[0].time_to_detect_ms, Some(75_000));
    assert_eq!(
        row.runs[1].reopen_reason.as_deref(),
        Some("Retest after the EDR policy change.")
    );
    assert_eq!(row.runs[1].started_by, id(BLUE_LEAD));
    assert_eq!(row.runs[1].outcome, None);
    assert!(
        row.outcomes.iter().all(|outcome| outcome.run == 1),
        "run 1's outcomes stay in history"
    );

    let paused = TestCaseFilter {
        state: Some("paused".to_owned()),
        ..TestCaseFilter::default()
    };
    assert_eq!(
        test_cases::page(&pool, &paused, None, 10)
            .await
            .unwrap()
            .len(),
        1
    );

    log.test_case(
        test_case_id,
        TestCaseEvent::Resumed {
            resumed_by: id(BLUE_LEAD),
            at: at("2025-04-01T10:00:00Z"),
            state: ActiveState::Assigned,
        },
    )
    .await;
    log.test_case(
        test_case_id,
        TestCaseEvent::ExecutionStarted {
            started_by: id(RED_TECH),
            at: at("2025-04-01T11:00:00Z"),
        },
    )
    .await;
    log.test_case(
        test_case_id,
        TestCaseEvent::ExecutionRecorded {
            recorded_by: id(RED_TECH),
            at: at("2025-04-01T11:10:00Z"),
            execution: execution("2025-04-01T11:01:00Z", "2025-04-01T11:02:00Z"),
        },
    )
    .await;
    projector.catch_up().await.unwrap();
    let row = test_cases::find(&pool, test_case_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.state, TestState::Executing);
    assert_eq!(
        row.first_execution_started_at,
        Some(at("2025-04-01T11:01:00Z")),
        "only run 2's executions count now"
    );
    assert_eq!(row.time_to_detect_ms, None, "no detection in run 2 yet");
}

#[sqlx::test(migrations = "../migrations")]
async fn a_blind_test_is_redacted_for_blue_until_revealed(pool: PgPool) {
    let mut log = Log::new(&pool);
    let (blind, open) = (id(11), id(12));
    walk_to_completion(&mut log, blind, "2025-03-03", true).await;
    walk_to_completion(&mut log, open, "2025-03-04", false).await;
    let projector = projector(&pool, 100);
    projector.catch_up().await.unwrap();

    let row = test_cases::find(&pool, blind).await.unwrap().unwrap();
    assert!(row.is_hidden_from_blue());
    let redacted = row.redacted_for_blue();
    assert!(redacted.redacted);
    assert_eq!(
        (
            &redacted.objective,
            &redacted.procedure,
            &redacted.steps,
            &redacted.targets
        ),
        (&None, &None, &None, &None)
    );
    assert_eq!(redacted.time_to_detect_ms, None);
    assert_eq!(redacted.first_execution_started_at, None);
    assert!(redacted.executions.is_empty());
    assert!(
        redacted
            .evidence
            .iter()
            .all(|evidence| evidence.side == Side::Blue)
    );
    assert_eq!(redacted.evidence.len(), 2);
    assert!(
        redacted
            .runs
            .iter()
            .all(|run| run.time_to_detect_ms.is_none() && run.first_execution_started_at.is_none())
    );
    // What blue may see stays.
    assert_eq!(redacted.title, row.title);
    assert_eq!(redacted.technique, row.technique);
    assert_eq!(redacted.state, row.state);
    assert_eq!(redacted.outcome, Some(Outcome::Alerted));
    assert_eq!(redacted.outcomes, row.outcomes);
    assert_eq!(redacted.comments, row.comments);
    assert_eq!(redacted.detection_rules, row.detection_rules);
    assert_eq!(redacted.last_changed_at, row.state_changed_at);

    let not_blind = test_cases::find(&pool, open).await.unwrap().unwrap();
    assert_eq!(not_blind.redacted_for_blue(), not_blind);

    log.test_case(
        blind,
        TestCaseEvent::RevealedToBlue {
            revealed_by: id(RED_TECH),
            at: at("2025-03-05T09:00:00Z"),
        },
    )
    .await;
    projector.catch_up().await.unwrap();
    let revealed = test_cases::find(&pool, blind).await.unwrap().unwrap();
    assert!(revealed.revealed && !revealed.is_hidden_from_blue());
    assert_eq!(revealed.redacted_for_blue(), revealed);
}

#[sqlx::test(migrations = "../migrations")]
async fn pages_filter_and_continue_after_their_cursor(pool: PgPool) {
    let mut log = Log::new(&pool);
    walk_to_completion(&mut log, id(21), "2025-03-03", false).await;
    log.test_case(
        id(22),
        planned(
            "2025-03-04T09:00:00Z",
            plan("Kerberoast", "T1558.003", false),
        ),
    )
    .await;
    log.test_case(
        id(23),
        planned("2025-03-05T09:00:00Z", plan("Dump SAM", "T1003", false)),
    )
    .await;
    log.test_case(
        id(23),
        TestCaseEvent::Assigned {
            assigned_by: id(BLUE_LEAD),
            at: at("2025-03-05T09:05:00Z"),
            red_assignee: None,
            blue_assignee: Some(id(77)),
        },
    )
    .await;
    log.campaign(
        id(500),
        "2025-03-01T08:00:00Z",
        CampaignEvent::Created {
            name: CampaignName::parse("Credential access").unwrap(),
            description: CampaignDescription::default(),
            scope: CampaignScope::parse(["T1003"], None).unwrap(),
            planned_start: at("2025-03-03T08:00:00Z"),
            planned_end: at("2025-03-07T17:00:00Z"),
            recurrence: None,
        },
    )
    .await;
    for member in [21, 23] {
        log.campaign(
            id(500),
            "2025-03-06T08:00:00Z",
            CampaignEvent::TestCaseAdded {
                test_case_id: id(member),
            },
        )
        .await;
    }
    projector(&pool, 100).catch_up().await.unwrap();

    let ids = |rows: &[test_cases::TestCaseRow]| -> Vec<Uuid> {
        rows.iter().map(|row| row.test_case_id).collect()
    };
    let everything = TestCaseFilter::default();
    let first = test_cases::page(&pool, &everything, None, 2).await.unwrap();
    assert_eq!(ids(&first), vec![id(21), id(22)]);
    assert_eq!(first[0].outcomes.len(), 2, "pages carry the children");
    let cursor = PageCursor::decode(&first[1].cursor().encode()).unwrap();
    assert_eq!(cursor, first[1].cursor());
    let second = test_cases::page(&pool, &everything, Some(&cursor), 2)
        .await
        .unwrap();
    assert_eq!(ids(&second), vec![id(23)]);

    let filtered = |filter: TestCaseFilter| {
        let pool = pool.clone();
        async move { ids(&test_cases::page(&pool, &filter, None, 10).await.unwrap()) }
    };
    assert_eq!(
        filtered(TestCaseFilter {
            technique: Some(TechniqueId::parse("t1003").unwrap()),
            ..TestCaseFilter::default()
        })
        .await,
        vec![id(21), id(23)],
        "a technique includes its sub-techniques"
    );
    assert_eq!(
        filtered(TestCaseFilter {
            campaign_id: Some(id(500)),
            ..TestCaseFilter::default()
        })
        .await,
        vec![id(21), id(23)]
    );
    assert_eq!(
        filtered(TestCaseFilter {
            assignee: Some(id(77)),
            ..TestCaseFilter::default()
        })
        .await,
        vec![id(23)]
    );
    assert_eq!(
        filtered(TestCaseFilter {
            outcome: Some(Outcome::Alerted),
            ..TestCaseFilter::default()
        })
        .await,
        vec![id(21)]
    );
    assert_eq!(
        filtered(TestCaseFilter {
            state: Some("planned".to_owned()),
            tag: Some(Tag::parse("Credential-Access").unwrap()),
            ..TestCaseFilter::default()
        })
        .await,
        vec![id(22)]
    );
    assert_eq!(
        filtered(TestCaseFilter {
            tag: Some(Tag::parse("nothing-tagged").unwrap()),
            ..TestCaseFilter::default()
        })
        .await,
        Vec::<Uuid>::new()
    );
}

/// A campaign of six members: two completed with 75 s to detect (one of them blind), one abandoned, one
/// planned, one in review (blocked, detected after 30 s) and one never planned; a seventh was removed. Its
/// template spawns a cancelled instance.
#[sqlx::test(migrations = "../migrations")]
async fn campaign_progress_counts_members_by_state_and_outcome(pool: PgPool) {
    let mut log = Log::new(&pool);
    let campaign_id = id(600);
    // Completed, blind and unrevealed: 75 s.
    walk_to_completion(&mut log, id(31), "2025-03-03", true).await;
    // Completed, not blind: 75 s.
    walk_to_completion(&mut log, id(32), "2025-03-04", false).await;
    // Abandoned.
    log.test_case(
        id(33),
        planned("2025-03-05T09:00:00Z", plan("Abandoned", "T1059", false)),
    )
    .await;
    log.test_case(
        id(33),
        TestCaseEvent::Abandoned {
            abandoned_by: id(RED_LEAD),
            at: at("2025-03-05T10:00:00Z"),
            reason: note("Out of scope."),
        },
    )
    .await;
    // Planned.
    log.test_case(
        id(34),
        planned("2025-03-06T09:00:00Z", plan("Planned", "T1059", false)),
    )
    .await;
    // In review, blocked, with a detection 30 s after the start.
    let in_review = id(35);
    log.test_case(
        in_review,
        planned("2025-03-07T09:00:00Z", plan("Reviewing", "T1059", false)),
    )
    .await;
    for event in [
        TestCaseEvent::Assigned {
            assigned_by: id(RED_LEAD),
            at: at("2025-03-07T09:01:00Z"),
            red_assignee: Some(id(RED_TECH)),
            blue_assignee: Some(id(BLUE_TECH)),
        },
        TestCaseEvent::ExecutionStarted {
            started_by: id(RED_TECH),
            at: at("2025-03-07T10:00:00Z"),
        },
        TestCaseEvent::ExecutionRecorded {
            recorded_by: id(RED_TECH),
            at: at("2025-03-07T10:05:00Z"),
            execution: execution("2025-03-07T10:00:00Z", "2025-03-07T10:01:00Z"),
        },
        TestCaseEvent::ExecutionCompleted {
            completed_by: id(RED_TECH),
            at: at("2025-03-07T10:06:00Z"),
        },
        TestCaseEvent::ReviewStarted {
            started_by: id(BLUE_TECH),
            at: at("2025-03-07T11:00:00Z"),
        },
        TestCaseEvent::OutcomeRecorded {
            recorded_by: id(BLUE_TECH),
            at: at("2025-03-07T11:05:00Z"),
            defense: defense("EDR", Outcome::Blocked, Some("2025-03-07T10:00:30Z")),
        },
        TestCaseEvent::OutcomeRecorded {
            recorded_by: id(BLUE_TECH),
            at: at("2025-03-07T11:06:00Z"),
            defense: defense("Proxy", Outcome::NotApplicable, None),
        },
    ] {
        log.test_case(in_review, event).await;
    }

    log.campaign(
        campaign_id,
        "2025-03-01T08:00:00Z",
        CampaignEvent::Created {
            name: CampaignName::parse("Weekly credential drill").unwrap(),
            description: CampaignDescription::parse("Dumping and execution.").unwrap(),
            scope: CampaignScope::parse(["T1003.001", "T1059"], Some("G0016")).unwrap(),
            planned_start: at("2025-03-03T08:00:00Z"),
            planned_end: at("2025-03-07T17:00:00Z"),
            recurrence: Some(Recurrence::parse("0 9 * * 1", "Europe/Berlin").unwrap()),
        },
    )
    .await;
    for member in [31, 32, 33, 34, 35, 36, 37] {
        log.campaign(
            campaign_id,
            "2025-03-02T08:00:00Z",
            CampaignEvent::TestCaseAdded {
                test_case_id: id(member),
            },
        )
        .await;
    }
    log.campaign(
        campaign_id,
        "2025-03-02T09:00:00Z",
        CampaignEvent::TestCaseRemoved {
            test_case_id: id(37),
        },
    )
    .await;
    log.campaign(
        campaign_id,
        "2025-03-03T08:00:00Z",
        CampaignEvent::Activated {
            at: at("2025-03-03T08:00:00Z"),
        },
    )
    .await;
    // The template spawns its instance for Monday 10 March, 09:00 in Berlin, with a copy of a test case.
    let instance_id = id(601);
    log.campaign(
        campaign_id,
        "2025-03-10T08:00:05Z",
        CampaignEvent::SpawnRecorded {
            due_at: at("2025-03-10T08:00:00Z"),
            instance_id,
        },
    )
    .await;
    log.campaign(
        instance_id,
        "2025-03-10T08:00:06Z",
        CampaignEvent::InstanceCreated {
            template_id: campaign_id,
            due_at: at("2025-03-10T08:00:00Z"),
            name: CampaignName::parse("Weekly credential drill (2025-03-10 09:00)").unwrap(),
            description: CampaignDescription::parse("Dumping and execution.").unwrap(),
            scope: CampaignScope::parse(["T1003.001", "T1059"], Some("G0016")).unwrap(),
            planned_start: at("2025-03-10T08:00:00Z"),
            planned_end: at("2025-03-14T17:00:00Z"),
            test_cases: [id(38)].into(),
        },
    )
    .await;
    log.test_case(
        id(38),
        planned("2025-03-10T08:00:06Z", plan("Copy", "T1059", false)),
    )
    .await;
    log.campaign(
        instance_id,
        "2025-03-10T09:00:00Z",
        CampaignEvent::Cancelled {
            reason: CancellationReason::parse("Holiday week.").unwrap(),
            at: at("2025-03-10T09:00:00Z"),
        },
    )
    .await;
    projector(&pool, 3).catch_up().await.unwrap();

    let progress = campaigns::campaign_progress(&pool, campaign_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        progress.total, 6,
        "36 is a member that was never planned; 37 was removed"
    );
    assert_eq!(progress.unknown, 1);
    let count = |state: &str| {
        progress
            .by_state
            .iter()
            .find(|count| count.state == state)
            .unwrap()
            .count
    };
    assert_eq!(
        (
            count("completed"),
            count("abandoned"),
            count("planned"),
            count("reviewing")
        ),
        (2, 1, 1, 1)
    );
    assert_eq!(progress.by_state.len(), 9, "every state, zeros included");
    assert_eq!(
        progress.by_state[0],
        StateCount {
            state: "planned",
            count: 1
        }
    );
    assert_eq!(
        progress.by_outcome,
        vec![
            OutcomeCount {
                outcome: Some(Outcome::Blocked),
                count: 1
            },
            OutcomeCount {
                outcome: Some(Outcome::Alerted),
                count: 2
            },
            OutcomeCount {
                outcome: Some(Outcome::Logged),
                count: 0
            },
            OutcomeCount {
                outcome: Some(Outcome::NotDetected),
                count: 0
            },
            OutcomeCount {
                outcome: Some(Outcome::NotApplicable),
                count: 0
            },
            OutcomeCount {
                outcome: None,
                count: 2
            },
        ],
        "the blocked tool outweighs the one that does not apply"
    );
    assert_eq!(progress.closed, 3);
    assert_eq!(progress.percent_complete, Some(50.0));
    assert_eq!(
        progress.time_to_detect,
        TimeToDetectStats {
            measured: 3,
            min_ms: Some(30_000),
            median_ms: Some(75_000),
            max_ms: Some(75_000),
        }
    );
    assert_eq!(
        progress.time_to_detect_for_blue,
        TimeToDetectStats {
            measured: 2,
            min_ms: Some(30_000),
            median_ms: Some(52_500),
            max_ms: Some(75_000),
        },
        "the blind test's time to detect is left out for blue"
    );

    let template = campaigns::find(&pool, campaign_id).await.unwrap().unwrap();
    assert_eq!(template.status, CampaignStatus::Active);
    assert_eq!(template.activated_at, Some(at("2025-03-03T08:00:00Z")));
    assert_eq!(template.scope_techniques, vec!["T1003.001", "T1059"]);
    assert_eq!(template.scope_threat_actor.as_deref(), Some("G0016"));
    assert_eq!(
        template
            .recurrence
            .as_ref()
            .unwrap()
            .next_due_after(at("2025-03-10T08:00:00Z")),
        Some(at("2025-03-17T08:00:00Z"))
    );
    assert_eq!(template.created_by, Some(id(RED_LEAD).to_string()));
    assert_eq!(template.created_at, at("2025-03-01T08:00:00Z"));
    let spawns = campaigns::spawns(&pool, campaign_id).await.unwrap();
    assert_eq!(spawns.len(), 1);
    assert_eq!(
        (spawns[0].due_at, spawns[0].instance_id),
        (at("2025-03-10T08:00:00Z"), instance_id)
    );

    let instance = campaigns::find(&pool, instance_id).await.unwrap().unwrap();
    assert_eq!(instance.template_id, Some(campaign_id));
    assert_eq!(instance.due_at, Some(at("2025-03-10T08:00:00Z")));
    assert_eq!(instance.status, CampaignStatus::Cancelled);
    assert_eq!(instance.cancel_reason.as_deref(), Some("Holiday week."));
    assert_eq!(instance.recurrence, None);
    let instance_progress = campaigns::campaign_progress(&pool, instance_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((instance_progress.total, instance_progress.closed), (1, 0));
    assert_eq!(instance_progress.percent_complete, Some(0.0));
    assert_eq!(
        instance_progress.time_to_detect,
        TimeToDetectStats::default()
    );
    assert!(
        campaigns::campaign_progress(&pool, id(9999))
            .await
            .unwrap()
            .is_none()
    );

    let instances = campaigns::page(
        &pool,
        &CampaignFilter {
            template_id: Some(campaign_id),
            ..CampaignFilter::default()
        },
        None,
        10,
    )
    .await
    .unwrap();
    assert_eq!(instances.len(), 1);
    assert_eq!(instances[0].campaign_id, instance_id);
    let active = campaigns::page(
        &pool,
        &CampaignFilter {
            status: Some(CampaignStatus::Active),
            ..CampaignFilter::default()
        },
        None,
        10,
    )
    .await
    .unwrap();
    assert_eq!(active.len(), 1);
    assert_eq!(active[0].campaign_id, campaign_id);
    let all = campaigns::page(&pool, &CampaignFilter::default(), None, 1)
        .await
        .unwrap();
    let rest = campaigns::page(&pool, &CampaignFilter::default(), Some(&all[0].cursor()), 5)
        .await
        .unwrap();
    assert_eq!(
        (all[0].campaign_id, rest.len(), rest[0].campaign_id),
        (campaign_id, 1, instance_id)
    );
    let of_copy = campaigns::for_test_case(&pool, id(38)).await.unwrap();
    assert_eq!(of_copy.len(), 1);
    assert_eq!(of_copy[0].campaign_id, instance_id);
}

fn reason(text: &str) -> ChangeReason {
    ChangeReason::parse(text).unwrap()
}

fn settings_with_rule_weight(rule_weight: u8) -> PolicySettings {
    PolicySettings::parse(PolicySettingsDraft {
        rule_weight,
        ..PolicySettings::default().to_draft()
    })
    .unwrap()
}

#[sqlx::test(migrations = "../migrations")]
async fn scoring_policies_keep_their_versions_and_the_active_one(pool: PgPool) {
    let mut log = Log::new(&pool);
    let (baseline, strict) = (id(700), id(701));
    let events = [
        (
            baseline,
            "2025-01-01T10:00:00Z",
            ScoringPolicyEvent::Defined {
                name: PolicyName::parse("Baseline").unwrap(),
                settings: PolicySettings::default(),
                reason: reason("The defaults."),
            },
        ),
        (
            baseline,
            "2025-01-02T10:00:00Z",
            ScoringPolicyEvent::Changed {
                version: 2,
                settings: settings_with_rule_weight(20),
                reason: reason("Rules count for more."),
            },
        ),
        (
            baseline,
            "2025-01-03T10:00:00Z",
            ScoringPolicyEvent::Renamed {
                name: PolicyName::parse("Baseline 2025").unwrap(),
                reason: reason("A clearer name."),
            },
        ),
        (
            baseline,
            "2025-01-04T10:00:00Z",
            ScoringPolicyEvent::Activated {
                reason: reason("Go live."),
            },
        ),
    ];
    for (policy_id, time, event) in events {
        log.policy(policy_id, time, event).await;
    }
    let projector = projector(&pool, 2);
    projector.catch_up().await.unwrap();

    let active = scoring_policies::active(&pool).await.unwrap().unwrap();
    assert_eq!(active.policy_id, baseline);
    assert_eq!(active.name, "Baseline 2025");
    assert_eq!(active.version, 2);
    assert_eq!(active.settings, settings_with_rule_weight(20));
    assert!(active.active && !active.retired);
    assert_eq!(active.defined_at, at("2025-01-01T10:00:00Z"));
    assert_eq!(active.changed_at, at("2025-01-04T10:00:00Z"));
    assert_eq!(active.last_reason, "Go live.");
    assert_eq!(active.last_changed_by, Some(id(1).to_string()));
    let versions = scoring_policies::versions(&pool, baseline).await.unwrap();
    assert_eq!(
        versions
            .iter()
            .map(|version| (version.version, version.settings, version.reason.as_str()))
            .collect::<Vec<_>>(),
        vec![
            (1, PolicySettings::default(), "The defaults."),
            (2, settings_with_rule_weight(20), "Rules count for more."),
        ]
    );
    assert_eq!(
        scoring_policies::version(&pool, baseline, 1)
            .await
            .unwrap()
            .unwrap()
            .at,
        at("2025-01-01T10:00:00Z")
    );

    // The command layer's activation flow: the new policy is activated, the previous one deactivated.
    for (policy_id, time, event) in [
        (
            strict,
            "2025-02-01T10:00:00Z",
            ScoringPolicyEvent::Defined {
                name: PolicyName::parse("Strict").unwrap(),
                settings: settings_with_rule_weight(0),
                reason: reason("What-if without rules."),
            },
        ),
        (
            strict,
            "2025-02-02T10:00:00Z",
            ScoringPolicyEvent::Activated {
                reason: reason("Audit season."),
            },
        ),
        (
            baseline,
            "2025-02-02T10:00:00Z",
            ScoringPolicyEvent::Deactivated {
                reason: reason("Audit season."),
            },
        ),
        (
            baseline,
            "2025-02-03T10:00:00Z",
            ScoringPolicyEvent::Retired {
                reason: reason("Replaced."),
            },
        ),
    ] {
        log.policy(policy_id, time, event).await;
    }
    projector.catch_up().await.unwrap();
    assert_eq!(
        scoring_policies::active(&pool)
            .await
            .unwrap()
            .unwrap()
            .policy_id,
        strict
    );
    let listed: Vec<(String, bool, bool)> = scoring_policies::list(&pool)
        .await
        .unwrap()
        .into_iter()
        .map(|policy| (policy.name, policy.active, policy.retired))
        .collect();
    assert_eq!(
        listed,
        vec![
            ("Baseline 2025".to_owned(), false, true),
            ("Strict".to_owned(), true, false),
        ]
    );
    assert!(
        scoring_policies::find(&pool, id(702))
            .await
            .unwrap()
            .is_none()
    );
}

/// Every row of every workflow read model, as text, ordered by key.
async fn dump(pool: &PgPool) -> Vec<(String, Vec<String>)> {
    let tables = [
        ("test_cases", "test_case_id"),
        ("test_case_runs", "test_case_id, run"),
        ("test_case_outcomes", "test_case_id, run, tool"),
        ("test_case_executions", "test_case_id, sequence"),
        ("test_case_comments", "test_case_id, sequence"),
        ("test_case_evidence", "test_case_id, run, evidence_id"),
        ("campaigns", "campaign_id"),
        ("campaign_test_cases", "campaign_id, test_case_id"),
        ("campaign_spawns", "template_id, due_at"),
        ("scoring_policies", "policy_id"),
        ("scoring_policy_versions", "policy_id, version"),
    ];
    let mut dumped = Vec::new();
    for (table, key) in tables {
        let rows: Vec<String> =
            sqlx::query_scalar(&format!("SELECT {table}::text FROM {table} ORDER BY {key}"))
                .fetch_all(pool)
                .await
                .unwrap();
        dumped.push((table.to_owned(), rows));
    }
    dumped
}

async fn stored_events(pool: &PgPool) -> Vec<StoredEvent> {
    let rows = sqlx::query(&format!(
        "SELECT {} FROM events ORDER BY events.tx_id, events.global_seq",
        StoredEvent::COLUMNS
    ))
    .fetch_all(pool)
    .await
    .unwrap();
    rows.iter()
        .map(|row| StoredEvent::from_row(row).unwrap())
        .collect()
}

#[sqlx::test(migrations = "../migrations")]
async fn applying_twice_changes_nothing_and_a_rebuild_is_identical(pool: PgPool) {
    let mut log = Log::new(&pool);
    walk_to_completion(&mut log, id(41), "2025-03-03", true).await;
    log.test_case(
        id(41),
        TestCaseEvent::Reopened {
            reopened_by: id(RED_LEAD),
            at: at("2025-03-10T09:00:00Z"),
            reason: note("Retest."),
            run: 2,
        },
    )
    .await;
    walk_to_completion(&mut log, id(42), "2025-03-04", false).await;
    log.campaign(
        id(800),
        "2025-03-01T08:00:00Z",
        CampaignEvent::Created {
            name: CampaignName::parse("Rebuild me").unwrap(),
            description: CampaignDescription::default(),
            scope: CampaignScope::parse(["T1003"], None).unwrap(),
            planned_start: at("2025-03-03T08:00:00Z"),
            planned_end: at("2025-03-07T17:00:00Z"),
            recurrence: Some(Recurrence::parse("0 9 * * 1", "Europe/Berlin").unwrap()),
        },
    )
    .await;
    log.campaign(
        id(800),
        "2025-03-02T08:00:00Z",
        CampaignEvent::TestCaseAdded {
            test_case_id: id(41),
        },
    )
    .await;
    log.campaign(
        id(800),
        "2025-03-03T08:00:01Z",
        CampaignEvent::SpawnRecorded {
            due_at: at("2025-03-03T08:00:00Z"),
            instance_id: id(801),
        },
    )
    .await;
    log.campaign(
        id(800),
        "2025-03-04T09:00:00Z",
        CampaignEvent::RecurrenceCleared,
    )
    .await;
    log.policy(
        id(900),
        "2025-01-01T10:00:00Z",
        ScoringPolicyEvent::Defined {
            name: PolicyName::parse("Baseline").unwrap(),
            settings: PolicySettings::default(),
            reason: reason("The defaults."),
        },
    )
    .await;
    log.policy(
        id(900),
        "2025-01-02T10:00:00Z",
        ScoringPolicyEvent::Activated {
            reason: reason("Go live."),
        },
    )
    .await;

    let live = projector(&pool, 5);
    live.catch_up().await.unwrap();
    let before = dump(&pool).await;
    assert!(
        before.iter().all(|(_, rows)| !rows.is_empty()),
        "{before:?}"
    );
    let campaign = campaigns::find(&pool, id(800)).await.unwrap().unwrap();
    assert_eq!(campaign.recurrence, None);

    // The projector never hands an event over twice, but a projection must not count on it.
    let events = stored_events(&pool).await;
    let mut transaction = pool.begin().await.unwrap();
    for projection in projections::all().iter().filter(|projection| {
        ["test_cases", "campaigns", "scoring_policies"].contains(&projection.name())
    }) {
        projection.apply(&mut transaction, &events).await.unwrap();
        projection
            .apply(&mut transaction, &events[..7])
            .await
            .unwrap();
    }
    transaction.commit().await.unwrap();
    assert_eq!(dump(&pool).await, before);

    let rebuilt = live.rebuild(None).await.unwrap();
    assert!(rebuilt.contains(&"test_cases") && rebuilt.contains(&"scoring_policies"));
    assert_eq!(dump(&pool).await, before);

    live.reset(Some("campaigns")).await.unwrap();
    assert!(campaigns::find(&pool, id(800)).await.unwrap().is_none());
    live.catch_up().await.unwrap();
    assert_eq!(dump(&pool).await, before);
}

#[sqlx::test(migrations = "../migrations")]
async fn an_event_before_its_test_case_was_planned_stops_the_projection(pool: PgPool) {
    let mut log = Log::new(&pool);
    // Sequence 1 of a stream that is not `Planned`: the log or the projection is broken, and it must show.
    log.test_case(
        id(51),
        TestCaseEvent::ExecutionStarted {
            started_by: id(RED_TECH),
            at: at("2025-03-03T10:00:00Z"),
        },
    )
    .await;
    let error = projector(&pool, 10).catch_up().await.unwrap_err();
    assert!(
        error
            .to_string()
            .contains("before the test case was planned"),
        "{error}"
    );
    assert!(test_cases::find(&pool, id(51)).await.unwrap().is_none());
}

/// The application connects as a member of `aegis_app`, which must be able to project and to rebuild.
#[sqlx::test(migrations = "../migrations")]
async fn the_application_role_may_write_and_truncate_every_workflow_table(pool: PgPool) {
    let missing: Vec<String> = sqlx::query_scalar(
        "SELECT t || ' ' || p
           FROM unnest(ARRAY['test_cases', 'test_case_runs', 'test_case_outcomes', 'test_case_executions',
                             'test_case_comments', 'test_case_evidence', 'campaigns', 'campaign_test_cases',
                             'campaign_spawns', 'scoring_policies', 'scoring_policy_versions']) t,
                unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE']) p
          WHERE NOT has_table_privilege('aegis_app', t, p)",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(missing, Vec::<String>::new());
}
