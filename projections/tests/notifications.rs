//! The notifications read model against a real Postgres, fed with real domain events as the command layer
//! stores them: who is told what for every kind, never the actor, titles as they were, read marks that are
//! only one's own and survive rebuilds, paging, and the clean-up of old read notifications.
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use domain::campaign::{
    CampaignDescription, CampaignEvent, CampaignName, CampaignScope, Recurrence,
};
use domain::test_case::{
    DefenseOutcome, Execution, Note, Outcome, Plan, ProcedureSource, Severity, Side, Target,
    TechniqueId, TestCaseEvent, Text, Title, ToolName,
};
use projections::notifications::NotificationKind::{
    Approved, Assigned, CampaignDue, Rejected, ReviewRequested,
};
use projections::notifications::{
    self, MarkReadError, MarkSelection, NotificationKind, NotificationRow, SubjectKind,
};
use projections::paging::PageCursor;
use projections::projector::{Projection as _, Projector, ProjectorSettings};
use serde::Serialize;
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

fn id(number: u128) -> Uuid {
    Uuid::from_u128(number)
}

fn at(rfc3339: &str) -> DateTime<Utc> {
    rfc3339.parse().unwrap()
}

const RED_LEAD: u128 = 2;
const RED_TECH: u128 = 3;
const BLUE_LEAD: u128 = 4;
const BLUE_TECH: u128 = 5;
const TEST_CASE: u128 = 100;
const SELF_ASSIGNED: u128 = 101;
const TEMPLATE: u128 = 800;
const INSTANCE: u128 = 801;
const SCHEDULER: &str = "system:scheduler";

/// Appends events the way the command layer stores them: the serde JSON of the domain event as payload,
/// the metadata keys projections read, one sequence per aggregate (hashes do not matter to projections).
struct Log {
    pool: PgPool,
    sequences: HashMap<(&'static str, Uuid), i64>,
}

impl Log {
    fn new(pool: &PgPool) -> Self {
        Self {
            pool: pool.clone(),
            sequences: HashMap::new(),
        }
    }

    async fn append(
        &mut self,
        aggregate_type: &'static str,
        aggregate_id: Uuid,
        occurred_at: &str,
        actor: &str,
        event: &impl Serialize,
    ) {
        let payload = serde_json::to_value(event).unwrap();
        let variant = match &payload {
            Value::String(name) => name.clone(),
            Value::Object(fields) => fields.keys().next().unwrap().clone(),
            other => panic!("not an event: {other}"),
        };
        let sequence = self
            .sequences
            .entry((aggregate_type, aggregate_id))
            .or_insert(0);
        *sequence += 1;
        sqlx::query(
            "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload,
                                 metadata, prev_hash, hash)
             VALUES ($1, $2, $3, $4, '1', $5, $6, $7, $7)",
        )
        .bind(aggregate_type)
        .bind(aggregate_id.to_string())
        .bind(*sequence)
        .bind(format!("{aggregate_type}{variant}"))
        .bind(payload)
        .bind(json!({
            "actor_id": actor,
            "occurred_at": occurred_at,
            "correlation_id": Uuid::from_u128(999).to_string(),
        }))
        .bind(vec![0_u8; 32])
        .execute(&self.pool)
        .await
        .unwrap();
    }

    /// Test case events carry their time and actor; the metadata repeats them as the command layer does.
    async fn test_case(&mut self, test_case_id: Uuid, event: TestCaseEvent) {
        let payload = serde_json::to_value(&event).unwrap();
        let fields = payload.as_object().unwrap().values().next().unwrap();
        let time = fields["at"].as_str().unwrap().to_owned();
        let actor = fields
            .as_object()
            .unwrap()
            .iter()
            .find(|(key, _)| key.ends_with("_by") || *key == "author")
            .map(|(_, value)| value.as_str().unwrap().to_owned())
            .unwrap();
        self.append("TestCase", test_case_id, &time, &actor, &event)
            .await;
    }

    async fn campaign(
        &mut self,
        campaign_id: Uuid,
        occurred_at: &str,
        actor: &str,
        event: CampaignEvent,
    ) {
        self.append("Campaign", campaign_id, occurred_at, actor, &event)
            .await;
    }
}

fn user(number: u128) -> String {
    id(number).to_string()
}

fn projector(pool: &PgPool, batch_size: i64) -> Projector {
    let settings = ProjectorSettings {
        batch_size,
        ..ProjectorSettings::default()
    };
    Projector::new(pool.clone(), projections::all(), settings)
}

fn plan(title: &str) -> Plan {
    Plan {
        title: Title::parse(title).unwrap(),
        objective: Text::parse("An LSASS dump is blocked.").unwrap(),
        technique: TechniqueId::parse("T1003.001").unwrap(),
        procedure: ProcedureSource::Manual,
        steps: Text::parse("rundll32 comsvcs.dll MiniDump <pid> lsass.dmp full").unwrap(),
        platforms: BTreeSet::new(),
        targets: BTreeSet::new(),
        tags: BTreeSet::new(),
        blind: false,
    }
}

fn execution(started_at: &str) -> Execution {
    Execution {
        command: Text::parse("rundll32 comsvcs.dll MiniDump 612 lsass.dmp full").unwrap(),
        target: Target::parse("ws-01").unwrap(),
        started_at: at(started_at),
        stopped_at: at(started_at),
        output_excerpt: Text::parse("Access is denied.").unwrap(),
    }
}

fn alerted(tool: &str) -> DefenseOutcome {
    DefenseOutcome {
        tool: ToolName::parse(tool).unwrap(),
        outcome: Outcome::Alerted,
        severity: Some(Severity::High),
        detected_at: None,
        rules_fired: BTreeSet::new(),
    }
}

fn note(text: &str) -> Note {
    Note::parse(text).unwrap()
}

/// A test case through every step that tells someone something, a self-assignment, and a recurring
/// campaign that spawns an instance. The comments name who must be told at each step.
#[expect(
    clippy::too_many_lines,
    reason = "the events read as one story, top to bottom"
)]
async fn scenario(log: &mut Log) {
    let test_case = id(TEST_CASE);
    let time = |clock: &str| at(&format!("2025-03-03T{clock}Z"));
    let events = vec![
        TestCaseEvent::Planned {
            planned_by: id(RED_LEAD),
            at: time("09:00:00"),
            plan: plan("Dump LSASS"),
        },
        // Red tech: assigned. The red lead assigned it: nothing for them.
        TestCaseEvent::Assigned {
            assigned_by: id(RED_LEAD),
            at: time("09:10:00"),
            red_assignee: Some(id(RED_TECH)),
            blue_assignee: None,
        },
        // Blue tech: assigned. The red tech, named again, is not told twice.
        TestCaseEvent::Assigned {
            assigned_by: id(BLUE_LEAD),
            at: time("09:20:00"),
            red_assignee: Some(id(RED_TECH)),
            blue_assignee: Some(id(BLUE_TECH)),
        },
        // Later notifications carry the new title; earlier ones keep the old.
        TestCaseEvent::PlanEdited {
            edited_by: id(RED_LEAD),
            at: time("09:30:00"),
            plan: plan("Dump LSASS with comsvcs"),
        },
        TestCaseEvent::ExecutionStarted {
            started_by: id(RED_TECH),
            at: time("10:00:00"),
        },
        TestCaseEvent::ExecutionRecorded {
            recorded_by: id(RED_TECH),
            at: time("10:05:00"),
            execution: execution("2025-03-03T10:01:00Z"),
        },
        // Blue tech: review requested.
        TestCaseEvent::ExecutionCompleted {
            completed_by: id(RED_TECH),
            at: time("10:10:00"),
        },
        TestCaseEvent::ReviewStarted {
            started_by: id(BLUE_TECH),
            at: time("11:00:00"),
        },
        TestCaseEvent::OutcomeRecorded {
            recorded_by: id(BLUE_TECH),
            at: time("11:05:00"),
            defense: alerted("EDR"),
        },
        // Red lead (planned and assigned) and blue lead (assigned): approval requested.
        TestCaseEvent::SubmittedForApproval {
            submitted_by: id(BLUE_TECH),
            at: time("11:10:00"),
        },
        // Blue tech: rejected, the reason on one line.
        TestCaseEvent::ResultRejected {
            rejected_by: id(BLUE_LEAD),
            at: time("12:00:00"),
            reason: note("Check the SIEM too.\nIt should have logged it."),
            back_to: Side::Blue,
        },
        // The blue lead records an outcome in this run, so may not approve it and is not asked to.
        TestCaseEvent::OutcomeRecorded {
            recorded_by: id(BLUE_LEAD),
            at: time("12:10:00"),
            defense: alerted("SIEM"),
        },
        // Red lead only: approval requested.
        TestCaseEvent::SubmittedForApproval {
            submitted_by: id(BLUE_TECH),
            at: time("12:20:00"),
        },
        // Red tech: rejected.
        TestCaseEvent::ResultRejected {
            rejected_by: id(RED_LEAD),
            at: time("13:00:00"),
            reason: note("Run it on ws-02 as well."),
            back_to: Side::Red,
        },
        // Blue tech: review requested again.
        TestCaseEvent::ExecutionCompleted {
            completed_by: id(RED_TECH),
            at: time("13:30:00"),
        },
        TestCaseEvent::ReviewStarted {
            started_by: id(BLUE_TECH),
            at: time("13:40:00"),
        },
        // Red lead only (the blue lead recorded an outcome in this run).
        TestCaseEvent::SubmittedForApproval {
            submitted_by: id(BLUE_TECH),
            at: time("13:50:00"),
        },
        // Both assignees: approved. The approving red lead is not told.
        TestCaseEvent::ResultApproved {
            approved_by: id(RED_LEAD),
            at: time("14:00:00"),
            outcome: Outcome::Alerted,
        },
        // Both assignees: the next run is theirs (assigned).
        TestCaseEvent::Reopened {
            reopened_by: id(RED_LEAD),
            at: time("14:30:00"),
            reason: note("The EDR policy changed."),
            run: 2,
        },
    ];
    for event in events {
        log.test_case(test_case, event).await;
    }

    // A lead who assigns themselves is not told.
    log.test_case(
        id(SELF_ASSIGNED),
        TestCaseEvent::Planned {
            planned_by: id(RED_LEAD),
            at: time("15:00:00"),
            plan: plan("Self-assigned"),
        },
    )
    .await;
    log.test_case(
        id(SELF_ASSIGNED),
        TestCaseEvent::Assigned {
            assigned_by: id(RED_LEAD),
            at: time("15:01:00"),
            red_assignee: Some(id(RED_LEAD)),
            blue_assignee: None,
        },
    )
    .await;

    // The red lead creates a recurring campaign, the blue lead sets its schedule: both hear when it spawns.
    log.campaign(
        id(TEMPLATE),
        "2025-03-01T08:00:00Z",
        &user(RED_LEAD),
        CampaignEvent::Created {
            name: CampaignName::parse("Weekly credential access").unwrap(),
            description: CampaignDescription::default(),
            scope: CampaignScope::parse(["T1003"], None).unwrap(),
            planned_start: at("2025-03-03T08:00:00Z"),
            planned_end: at("2025-03-07T17:00:00Z"),
            recurrence: None,
        },
    )
    .await;
    log.campaign(
        id(TEMPLATE),
        "2025-03-01T09:00:00Z",
        &user(BLUE_LEAD),
        CampaignEvent::RecurrenceSet {
            recurrence: Recurrence::parse("0 9 * * 1", "Europe/Berlin").unwrap(),
        },
    )
    .await;
    log.campaign(
        id(TEMPLATE),
        "2025-03-10T08:00:01Z",
        SCHEDULER,
        CampaignEvent::SpawnRecorded {
            due_at: at("2025-03-10T08:00:00Z"),
            instance_id: id(INSTANCE),
        },
    )
    .await;
    log.campaign(
        id(INSTANCE),
        "2025-03-10T08:00:02Z",
        SCHEDULER,
        CampaignEvent::InstanceCreated {
            template_id: id(TEMPLATE),
            due_at: at("2025-03-10T08:00:00Z"),
            name: CampaignName::parse("Weekly credential access 2025-03-10").unwrap(),
            description: CampaignDescription::default(),
            scope: CampaignScope::parse(["T1003"], None).unwrap(),
            planned_start: at("2025-03-10T08:00:00Z"),
            planned_end: at("2025-03-14T17:00:00Z"),
            test_cases: BTreeSet::new(),
        },
    )
    .await;
}

/// Every notification of `recipient`, oldest first, as (kind, title, message, actor, time).
async fn told(
    pool: &PgPool,
    recipient: u128,
) -> Vec<(
    NotificationKind,
    String,
    String,
    Option<String>,
    DateTime<Utc>,
)> {
    let mut rows = notifications::page(pool, id(recipient), false, None, 100)
        .await
        .unwrap();
    rows.reverse();
    rows.into_iter()
        .map(|row| {
            (
                row.kind,
                row.subject_title,
                row.message,
                row.actor_id,
                row.created_at,
            )
        })
        .collect()
}

#[sqlx::test(migrations = "../migrations")]
async fn every_kind_reaches_the_named_people_and_never_the_actor(pool: PgPool) {
    let mut log = Log::new(&pool);
    scenario(&mut log).await;
    projector(&pool, 4).catch_up().await.unwrap();

    let title = "Dump LSASS with comsvcs";
    let on = |clock: &str| at(&format!("2025-03-03T{clock}Z"));
    assert_eq!(
        told(&pool, RED_TECH).await,
        vec![
            (
                Assigned,
                "Dump LSASS".to_owned(),
                "You were assigned to \"Dump LSASS\" on the red side.".to_owned(),
                Some(user(RED_LEAD)),
                on("09:10:00"),
            ),
            (
                Rejected,
                title.to_owned(),
                format!("\"{title}\" was sent back to you: Run it on ws-02 as well."),
                Some(user(RED_LEAD)),
                on("13:00:00"),
            ),
            (
                Approved,
                title.to_owned(),
                format!("\"{title}\" was approved with the outcome alerted."),
                Some(user(RED_LEAD)),
                on("14:00:00"),
            ),
            (
                Assigned,
                title.to_owned(),
                format!("\"{title}\" was reopened and is yours again: The EDR policy changed."),
                Some(user(RED_LEAD)),
                on("14:30:00"),
            ),
        ]
    );
    assert_eq!(
        told(&pool, BLUE_TECH).await,
        vec![
            (
                Assigned,
                "Dump LSASS".to_owned(),
                "You were assigned to \"Dump LSASS\" on the blue side.".to_owned(),
                Some(user(BLUE_LEAD)),
                on("09:20:00"),
            ),
            (
                ReviewRequested,
                title.to_owned(),
                format!("\"{title}\" has been executed and awaits your review."),
                Some(user(RED_TECH)),
                on("10:10:00"),
            ),
            (
                Rejected,
                title.to_owned(),
                format!(
                    "\"{title}\" was sent back to you: Check the SIEM too. It should have logged it."
                ),
                Some(user(BLUE_LEAD)),
                on("12:00:00"),
            ),
            (
                ReviewRequested,
                title.to_owned(),
                format!("\"{title}\" has been executed and awaits your review."),
                Some(user(RED_TECH)),
                on("13:30:00"),
            ),
            (
                Approved,
                title.to_owned(),
                format!("\"{title}\" was approved with the outcome alerted."),
                Some(user(RED_LEAD)),
                on("14:00:00"),
            ),
            (
                Assigned,
                title.to_owned(),
                format!("\"{title}\" was reopened and is yours again: The EDR policy changed."),
                Some(user(RED_LEAD)),
                on("14:30:00"),
            ),
        ]
    );
    let approval = format!("\"{title}\" awaits your approval.");
    let due = "\"Weekly credential access 2025-03-10\" is due (for 2025-03-10 08:00 UTC): it is planned \
               to start 2025-03-10 08:00 UTC.";
    let campaign_due = (
        CampaignDue,
        "Weekly credential access 2025-03-10".to_owned(),
        due.to_owned(),
        Some(SCHEDULER.to_owned()),
        at("2025-03-10T08:00:02Z"),
    );
    // The red lead planned and assigned, so approves; never told of the self-assignment.
    assert_eq!(
        told(&pool, RED_LEAD).await,
        vec![
            (
                ReviewRequested,
                title.to_owned(),
                approval.clone(),
                Some(user(BLUE_TECH)),
                on("11:10:00"),
            ),
            (
                ReviewRequested,
                title.to_owned(),
                approval.clone(),
                Some(user(BLUE_TECH)),
                on("12:20:00"),
            ),
            (
                ReviewRequested,
                title.to_owned(),
                approval.clone(),
                Some(user(BLUE_TECH)),
                on("13:50:00"),
            ),
            campaign_due.clone(),
        ]
    );
    // The blue lead assigned, so approves, until they recorded an outcome in the run.
    assert_eq!(
        told(&pool, BLUE_LEAD).await,
        vec![
            (
                ReviewRequested,
                title.to_owned(),
                approval,
                Some(user(BLUE_TECH)),
                on("11:10:00"),
            ),
            campaign_due,
        ]
    );

    let everything: Vec<NotificationRow> = [RED_LEAD, RED_TECH, BLUE_LEAD, BLUE_TECH]
        .into_iter()
        .map(|recipient| notifications::page(&pool, id(recipient), false, None, 100))
        .collect::<futures::future::JoinAll<_>>()
        .await
        .into_iter()
        .flat_map(Result::unwrap)
        .collect();
    assert_eq!(everything.len(), 16);
    for row in &everything {
        assert_ne!(row.actor_id, Some(row.recipient.to_string()), "{row:?}");
        assert_eq!(row.read_at, None);
        let expected_subject = if row.kind == CampaignDue {
            (SubjectKind::Campaign, id(INSTANCE))
        } else {
            (SubjectKind::TestCase, id(TEST_CASE))
        };
        assert_eq!((row.subject_kind, row.subject_id), expected_subject);
        // No user row exists in this log, so no name; the API shows the id.
        assert_eq!(row.actor_name, None);
    }
    let ids: BTreeSet<Uuid> = everything.iter().map(|row| row.notification_id).collect();
    assert_eq!(ids.len(), everything.len());
    assert_eq!(
        notifications::unread_count(&pool, id(BLUE_TECH))
            .await
            .unwrap(),
        6
    );
}

/// Every row of the notification tables, as text, ordered by key.
async fn dump(pool: &PgPool) -> Vec<(String, Vec<String>)> {
    let tables = [
        ("notifications", "notification_id"),
        ("notification_test_cases", "test_case_id"),
        ("notification_campaigns", "campaign_id"),
        ("notification_reads", "user_id, notification_id"),
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

#[sqlx::test(migrations = "../migrations")]
async fn a_rebuild_gives_identical_rows_and_keeps_the_read_marks(pool: PgPool) {
    let mut log = Log::new(&pool);
    scenario(&mut log).await;
    let live = projector(&pool, 3);
    live.catch_up().await.unwrap();

    let blue_tech = notifications::page(&pool, id(BLUE_TECH), false, None, 100)
        .await
        .unwrap();
    let read_at = at("2025-03-04T08:00:00Z");
    let marked = notifications::mark_read(
        &pool,
        id(BLUE_TECH),
        &MarkSelection::Ids(vec![
            blue_tech[0].notification_id,
            blue_tech[1].notification_id,
        ]),
        read_at,
    )
    .await
    .unwrap();
    assert_eq!(marked, 2);
    notifications::mark_read(&pool, id(RED_LEAD), &MarkSelection::All, read_at)
        .await
        .unwrap();
    let before = dump(&pool).await;
    assert!(
        before.iter().all(|(_, rows)| !rows.is_empty()),
        "{before:?}"
    );

    // The projector never hands an event over twice, but a projection must not count on it.
    let events = live_events(&pool).await;
    let mut transaction = pool.begin().await.unwrap();
    let projection = projections::notifications::Notifications;
    projection.apply(&mut transaction, &events).await.unwrap();
    projection
        .apply(&mut transaction, &events[..9])
        .await
        .unwrap();
    transaction.commit().await.unwrap();
    assert_eq!(dump(&pool).await, before);

    assert_eq!(
        live.rebuild(Some("notifications")).await.unwrap(),
        vec!["notifications"]
    );
    assert_eq!(dump(&pool).await, before);
    live.rebuild(None).await.unwrap();
    assert_eq!(dump(&pool).await, before);
    // Batch boundaries do not matter either.
    projector(&pool, 1000).rebuild(None).await.unwrap();
    assert_eq!(dump(&pool).await, before);

    assert_eq!(
        notifications::unread_count(&pool, id(BLUE_TECH))
            .await
            .unwrap(),
        4
    );
    assert_eq!(
        notifications::unread_count(&pool, id(RED_LEAD))
            .await
            .unwrap(),
        0
    );
    let unread = notifications::page(&pool, id(BLUE_TECH), true, None, 100)
        .await
        .unwrap();
    assert_eq!(
        unread
            .iter()
            .map(|row| row.notification_id)
            .collect::<Vec<_>>(),
        blue_tech[2..]
            .iter()
            .map(|row| row.notification_id)
            .collect::<Vec<_>>()
    );
    let read = notifications::page(&pool, id(BLUE_TECH), false, None, 1)
        .await
        .unwrap();
    assert_eq!(read[0].read_at, Some(read_at));
}

async fn live_events(pool: &PgPool) -> Vec<projections::projector::StoredEvent> {
    let rows = sqlx::query(&format!(
        "SELECT {} FROM events ORDER BY events.tx_id, events.global_seq",
        projections::projector::StoredEvent::COLUMNS
    ))
    .fetch_all(pool)
    .await
    .unwrap();
    rows.iter()
        .map(|row| projections::projector::StoredEvent::from_row(row).unwrap())
        .collect()
}

#[sqlx::test(migrations = "../migrations")]
async fn only_ones_own_notifications_can_be_marked_and_a_mark_keeps_its_first_time(pool: PgPool) {
    let mut log = Log::new(&pool);
    scenario(&mut log).await;
    projector(&pool, 100).catch_up().await.unwrap();
    let red_tech = notifications::page(&pool, id(RED_TECH), false, None, 100)
        .await
        .unwrap();
    let blue_tech = notifications::page(&pool, id(BLUE_TECH), false, None, 100)
        .await
        .unwrap();
    let theirs = red_tech[0].notification_id;
    let mine = blue_tech[0].notification_id;
    let unknown = Uuid::from_u128(0xdead);

    // Someone else's id, or one that does not exist, refuses the whole request.
    let refused = notifications::mark_read(
        &pool,
        id(BLUE_TECH),
        &MarkSelection::Ids(vec![mine, theirs, unknown]),
        at("2025-03-04T08:00:00Z"),
    )
    .await
    .unwrap_err();
    let MarkReadError::NotYours(missing) = refused else {
        panic!("{refused:?}")
    };
    assert_eq!(
        missing.into_iter().collect::<BTreeSet<_>>(),
        BTreeSet::from([theirs, unknown])
    );
    assert_eq!(
        notifications::unread_count(&pool, id(BLUE_TECH))
            .await
            .unwrap(),
        6
    );
    assert_eq!(
        notifications::unread_count(&pool, id(RED_TECH))
            .await
            .unwrap(),
        4
    );

    let first = at("2025-03-04T08:00:00Z");
    assert_eq!(
        notifications::mark_read(
            &pool,
            id(BLUE_TECH),
            &MarkSelection::Ids(vec![mine, mine]),
            first
        )
        .await
        .unwrap(),
        1
    );
    // Again, later, and then everything: the first time stays, and only the unread ones count.
    assert_eq!(
        notifications::mark_read(
            &pool,
            id(BLUE_TECH),
            &MarkSelection::Ids(vec![mine]),
            at("2025-03-05T08:00:00Z")
        )
        .await
        .unwrap(),
        0
    );
    assert_eq!(
        notifications::mark_read(
            &pool,
            id(BLUE_TECH),
            &MarkSelection::All,
            at("2025-03-06T08:00:00Z")
        )
        .await
        .unwrap(),
        5
    );
    let rows = notifications::page(&pool, id(BLUE_TECH), false, None, 100)
        .await
        .unwrap();
    let first_read = rows.iter().find(|row| row.notification_id == mine).unwrap();
    assert_eq!(first_read.read_at, Some(first));
    assert!(rows.iter().all(|row| row.read_at.is_some()));
    // Marking all of one's own leaves everyone else's alone.
    assert_eq!(
        notifications::unread_count(&pool, id(RED_TECH))
            .await
            .unwrap(),
        4
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn pages_run_newest_first_and_continue_after_their_cursor(pool: PgPool) {
    let mut log = Log::new(&pool);
    scenario(&mut log).await;
    projector(&pool, 100).catch_up().await.unwrap();
    let all = notifications::page(&pool, id(BLUE_TECH), false, None, 100)
        .await
        .unwrap();
    assert_eq!(all.len(), 6);
    assert!(
        all.windows(2)
            .all(|pair| pair[0].created_at >= pair[1].created_at)
    );
    let mut paged = Vec::new();
    let mut cursor: Option<PageCursor> = None;
    loop {
        let page = notifications::page(&pool, id(BLUE_TECH), false, cursor.as_ref(), 2)
            .await
            .unwrap();
        let Some(last) = page.last() else { break };
        cursor = Some(last.cursor());
        paged.extend(page);
    }
    assert_eq!(paged, all);

    notifications::mark_read(
        &pool,
        id(BLUE_TECH),
        &MarkSelection::Ids(vec![all[1].notification_id]),
        at("2025-03-04T08:00:00Z"),
    )
    .await
    .unwrap();
    let unread = notifications::page(&pool, id(BLUE_TECH), true, None, 2)
        .await
        .unwrap();
    assert_eq!(
        unread
            .iter()
            .map(|row| row.notification_id)
            .collect::<Vec<_>>(),
        vec![all[0].notification_id, all[2].notification_id]
    );
    let revision = notifications::revision(&pool, id(BLUE_TECH)).await.unwrap();
    assert_eq!((revision.notifications, revision.reads), (6, 1));
    assert!(revision.newest_position.is_some());
}

#[sqlx::test(migrations = "../migrations")]
async fn the_clean_up_deletes_only_old_read_notifications_and_a_rebuild_keeps_them_read(
    pool: PgPool,
) {
    let mut log = Log::new(&pool);
    scenario(&mut log).await;
    let live = projector(&pool, 100);
    live.catch_up().await.unwrap();
    let blue_tech = notifications::page(&pool, id(BLUE_TECH), false, None, 100)
        .await
        .unwrap();
    // Newest first, after the reopening (14:30): the approval (14:00) and the first assignment (09:20) are read.
    let (approval, assignment) = (&blue_tech[1], &blue_tech[5]);
    notifications::mark_read(
        &pool,
        id(BLUE_TECH),
        &MarkSelection::Ids(vec![approval.notification_id, assignment.notification_id]),
        at("2025-03-04T08:00:00Z"),
    )
    .await
    .unwrap();

    // Before 12:00: the read assignment goes; the unread review request at 10:10 and the read approval stay.
    let deleted = notifications::delete_read_before(&pool, at("2025-03-03T12:00:00Z"))
        .await
        .unwrap();
    assert_eq!(deleted, 1);
    let left: Vec<Uuid> = notifications::page(&pool, id(BLUE_TECH), false, None, 100)
        .await
        .unwrap()
        .iter()
        .map(|row| row.notification_id)
        .collect();
    assert_eq!(left.len(), 5);
    assert!(!left.contains(&assignment.notification_id));
    assert_eq!(
        notifications::unread_count(&pool, id(BLUE_TECH))
            .await
            .unwrap(),
        4
    );
    // Other users' notifications of that time are unread and stay.
    assert_eq!(told(&pool, RED_TECH).await.len(), 4);

    // A rebuild brings the deleted one back, read: no flood of old unread notifications.
    live.rebuild(Some("notifications")).await.unwrap();
    let rebuilt = notifications::page(&pool, id(BLUE_TECH), false, None, 100)
        .await
        .unwrap();
    assert_eq!(
        rebuilt,
        blue_tech_with_reads(&blue_tech, &[approval, assignment])
    );
    assert_eq!(
        notifications::unread_count(&pool, id(BLUE_TECH))
            .await
            .unwrap(),
        4
    );
}

fn blue_tech_with_reads(
    rows: &[NotificationRow],
    read: &[&NotificationRow],
) -> Vec<NotificationRow> {
    rows.iter()
        .map(|row| {
            let mut row = row.clone();
            if read
                .iter()
                .any(|marked| marked.notification_id == row.notification_id)
            {
                row.read_at = Some(at("2025-03-04T08:00:00Z"));
            }
            row
        })
        .collect()
}

/// The application connects as a member of `aegis_app`: it projects and rebuilds the notifications and
/// writes the read marks, which it may not empty wholesale.
#[sqlx::test(migrations = "../migrations")]
async fn the_application_role_may_project_and_mark_but_not_truncate_the_marks(pool: PgPool) {
    let missing: Vec<String> = sqlx::query_scalar(
        "SELECT t || ' ' || p
           FROM unnest(ARRAY['notifications', 'notification_test_cases', 'notification_campaigns']) t,
                unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE']) p
          WHERE NOT has_table_privilege('aegis_app', t, p)
         UNION ALL
         SELECT 'notification_reads ' || p
           FROM unnest(ARRAY['SELECT', 'INSERT', 'DELETE']) p
          WHERE NOT has_table_privilege('aegis_app', 'notification_reads', p)",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(missing, Vec::<String>::new());
    let may_truncate: bool = sqlx::query_scalar(
        "SELECT has_table_privilege('aegis_app', 'notification_reads', 'TRUNCATE')",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert!(!may_truncate);
}
