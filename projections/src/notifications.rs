//! The notifications read model (`notifications`): what each user is told in the application, one row per
//! recipient and cause event, from the `TestCase`, `Campaign`, `IntelItem` and `JobFailure` events. Whether a user has read a notification
//! is their own state, not the log's: it lives in `notification_reads`, which the API writes through
//! [`mark_read`] and a rebuild never empties.
//!
//! # Who is told what
//!
//! | cause event | kind | recipients |
//! |---|---|---|
//! | `TestCaseAssigned` | assigned | each newly named assignee (red and/or blue) |
//! | `TestCaseReopened` | assigned | both assignees: the next run is theirs again, with the reason |
//! | `TestCaseExecutionCompleted` | review requested | the blue assignee (blue starts the review) |
//! | `TestCaseSubmittedForApproval` | review requested | the leads who planned or assigned the test case, but not those who recorded an outcome in this run (they may not approve it) |
//! | `TestCaseResultRejected` | rejected | the assignee of the side it went back to, with the reason |
//! | `TestCaseResultApproved` | approved | both assignees |
//! | `CampaignInstanceCreated` | campaign due | whoever created the recurring template or set its recurrence |
//! | `IntelItemRaised` | intel | the leads the item names (the scan names the leads of its time) |
//! | `JobFailureRecorded` | job failed | the admins the failure names |
//!
//! Recipients are always people the event stream names, never "every lead": asking the `users` read model
//! who holds a role would make the rows depend on where batch boundaries fall and on whether `users` is
//! rebuilt alongside, and would flood large teams. The actor of an event is never told of their own action,
//! and the nil user (the scheduler's stand-in) is nobody. A campaign reaching its planned start is not an
//! event (nothing is appended when the clock passes it), so "campaign due" means a recurring campaign's new
//! instance was spawned; a read model must not read the clock.
//!
//! # Rebuilds and idempotence
//!
//! The projection keeps what it needs of each test case and campaign in its own working tables
//! (`notification_test_cases`, `notification_campaigns`) rather than reading `test_cases`, so that rebuilding
//! it alone gives the same rows. Each working row keeps the aggregate sequence of the last event applied, and
//! an event changes nothing unless it is newer. A notification's id is a UUID v5 of the cause event's global
//! position and the recipient, and its time is the event's `occurred_at`: a rebuild reproduces every row,
//! and the read marks, keyed by that id, still apply.

use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use domain::campaign::CampaignEvent;
use domain::intel::IntelEvent;
use domain::job_failure::JobFailureEvent;
use domain::test_case::{Outcome, Side, TestCaseEvent};
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, PgPool, Row};
use uuid::Uuid;

use crate::copy::BinaryRows;
use crate::paging::PageCursor;
use crate::projector::{Projection, StoredEvent, stream_ids};
use crate::rows;
use crate::test_cases::{from_serde_name, invalid, serde_name};

/// The namespace of notification ids (`"<global_seq>/<recipient>"` in it).
const NOTIFICATION_NAMESPACE: Uuid = Uuid::from_u128(0x6165_6769_735f_6e6f_7469_6669_6361_0001);

/// A rejection's reason in a one-line message is cut here; the full reason is in the test case's history.
const REASON_MAX_CHARS: usize = 200;

/// Keeps `notifications` and its working tables in step with `TestCase` and `Campaign` events.
#[derive(Debug, Clone, Copy, Default)]
pub struct Notifications;

#[async_trait::async_trait]
impl Projection for Notifications {
    fn name(&self) -> &'static str {
        "notifications"
    }

    /// `notification_reads` is deliberately absent: read marks are the users' state and outlive a rebuild.
    fn tables(&self) -> &'static [&'static str] {
        &[
            "notifications",
            "notification_test_cases",
            "notification_campaigns",
        ]
    }

    async fn apply(
        &self,
        connection: &mut PgConnection,
        events: &[StoredEvent],
    ) -> Result<(), sqlx::Error> {
        // The test cases' memories are read once and written once per batch; campaign events are rare and go
        // straight to their table. One pass in the global order: a campaign's instance must see its template
        // as it was then.
        let test_case_ids = stream_ids(events, "TestCase");
        let remembered: Vec<TestCaseMemory> = rows::load(
            connection,
            "SELECT coalesce(json_agg(m), '[]') FROM notification_test_cases m WHERE test_case_id = ANY($1)",
            &test_case_ids,
        )
        .await?;
        let mut batch = Batch {
            test_cases: remembered
                .into_iter()
                .map(|memory| (memory.test_case_id, memory))
                .collect(),
            ..Batch::default()
        };
        for stored in events {
            let aggregate_type = stored.aggregate_type.as_str();
            if !matches!(
                aggregate_type,
                "TestCase" | "Campaign" | "IntelItem" | "JobFailure"
            ) {
                continue;
            }
            let Some(aggregate_id) = stored.uuid_of() else {
                tracing::warn!(aggregate_id = %stored.aggregate_id, "skipping a {aggregate_type} stream whose id is not a UUID");
                continue;
            };
            match aggregate_type {
                "TestCase" => {
                    batch.test_case(aggregate_id, stored, &*stored.payload::<TestCaseEvent>()?)?;
                }
                "Campaign" => {
                    let event = stored.payload::<CampaignEvent>()?;
                    apply_campaign(connection, &mut batch, aggregate_id, stored, &event).await?;
                }
                "IntelItem" => {
                    batch.intel_item(aggregate_id, stored, &*stored.payload::<IntelEvent>()?);
                }
                _ => {
                    batch.job_failure(aggregate_id, stored, &*stored.payload::<JobFailureEvent>()?);
                }
            }
        }
        let changed: Vec<&TestCaseMemory> = batch
            .changed
            .iter()
            .map(|test_case_id| &batch.test_cases[test_case_id])
            .collect();
        rows::upsert(
            connection,
            "notification_test_cases",
            &["test_case_id"],
            &changed,
        )
        .await?;
        append(connection, &batch.notifications).await
    }
}

/// Appends notifications with one binary COPY, the cheapest way in. Each id is new: it is made of the event's
/// global position and the recipient, and the projector applies each event once.
async fn append(
    connection: &mut PgConnection,
    notifications: &[NotificationRecord],
) -> Result<(), sqlx::Error> {
    let mut rows = BinaryRows::new(
        "notifications",
        &[
            "notification_id",
            "recipient",
            "kind",
            "subject_kind",
            "subject_id",
            "subject_title",
            "message",
            "actor_id",
            "created_at",
            "global_seq",
        ],
    );
    for notification in notifications {
        rows.row()
            .uuid(notification.notification_id)
            .uuid(notification.recipient)
            .text(&serde_name(&notification.kind)?)
            .text(&serde_name(&notification.subject_kind)?)
            .uuid(notification.subject_id)
            .text(&notification.subject_title)
            .text(&notification.message)
            .optional_text(notification.actor_id.as_deref())
            .timestamptz(notification.created_at)
            .bigint(notification.global_seq);
    }
    rows.copy_into(connection).await
}

/// What one batch remembers of its test cases and the notifications it writes.
#[derive(Default)]
struct Batch {
    test_cases: BTreeMap<Uuid, TestCaseMemory>,
    changed: BTreeSet<Uuid>,
    notifications: Vec<NotificationRecord>,
}

/// A row of `notifications`.
#[derive(Debug)]
struct NotificationRecord {
    notification_id: Uuid,
    recipient: Uuid,
    kind: NotificationKind,
    subject_kind: SubjectKind,
    subject_id: Uuid,
    subject_title: String,
    message: String,
    actor_id: Option<String>,
    created_at: DateTime<Utc>,
    global_seq: i64,
}

/// What a notification is about, persisted by name (`"review_requested"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NotificationKind {
    /// A test case was assigned to the recipient, or reopened with them as an assignee.
    Assigned,
    /// A test case waits for the recipient: blue to review it, or a lead to approve it.
    ReviewRequested,
    /// A result went back to the recipient's side, with the reason.
    Rejected,
    /// A result the recipient worked on was approved.
    Approved,
    /// A recurring campaign of the recipient spawned a new instance.
    CampaignDue,
    /// The intel scan or ATT&CK sync found something (the recipient is a lead).
    Intel,
    /// A scheduled job failed (the recipient is an admin).
    JobFailed,
}

/// What kind of thing a notification's subject is, persisted by name (`"test_case"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubjectKind {
    TestCase,
    Campaign,
    IntelItem,
    /// A run of a scheduled job (`jobRuns`).
    JobRun,
}

/// A notification about to be written: who, what, and the line they read.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Draft {
    recipient: Uuid,
    kind: NotificationKind,
    message: String,
}

/// The cause of notifications: the event and what it is about.
struct Cause<'a> {
    stored: &'a StoredEvent,
    subject_kind: SubjectKind,
    subject_id: Uuid,
    subject_title: &'a str,
    /// The acting user, who is never told of their own action.
    actor: Option<Uuid>,
}

/// The id of the notification `recipient` gets for the event at `global_seq`.
pub fn notification_id(global_seq: i64, recipient: Uuid) -> Uuid {
    Uuid::new_v5(
        &NOTIFICATION_NAMESPACE,
        format!("{global_seq}/{recipient}").as_bytes(),
    )
}

/// Adds `drafts` for `cause` to the batch: one notification per recipient (the first draft wins), none for the
/// actor or the nil user.
fn notify(notifications: &mut Vec<NotificationRecord>, cause: &Cause<'_>, drafts: Vec<Draft>) {
    let mut seen = BTreeSet::new();
    let metadata_actor = cause
        .stored
        .actor_id()
        .and_then(|actor| Uuid::parse_str(actor).ok());
    for draft in drafts {
        let recipient = draft.recipient;
        let is_actor = Some(recipient) == cause.actor || Some(recipient) == metadata_actor;
        if recipient.is_nil() || is_actor || !seen.insert(recipient) {
            continue;
        }
        notifications.push(NotificationRecord {
            notification_id: notification_id(cause.stored.global_seq, recipient),
            recipient,
            kind: draft.kind,
            subject_kind: cause.subject_kind,
            subject_id: cause.subject_id,
            subject_title: cause.subject_title.to_owned(),
            message: draft.message,
            actor_id: cause.stored.actor_id().map(str::to_owned),
            created_at: rows::as_stored(cause.stored.occurred_at()),
            global_seq: cause.stored.global_seq,
        });
    }
}

// Intel items and failed jobs: the recipients are named in the event.

impl Batch {
    fn intel_item(&mut self, item_id: Uuid, stored: &StoredEvent, event: &IntelEvent) {
        let IntelEvent::Raised {
            title,
            notify: recipients,
            ..
        } = event
        else {
            return;
        };
        let cause = Cause {
            stored,
            subject_kind: SubjectKind::IntelItem,
            subject_id: item_id,
            subject_title: title,
            actor: None,
        };
        let drafts = recipients
            .iter()
            .map(|recipient| Draft {
                recipient: *recipient,
                kind: NotificationKind::Intel,
                message: format!("Intel: {title}."),
            })
            .collect();
        notify(&mut self.notifications, &cause, drafts);
    }

    fn job_failure(&mut self, run_id: Uuid, stored: &StoredEvent, event: &JobFailureEvent) {
        let JobFailureEvent::Recorded {
            job,
            due_at,
            error,
            notify: recipients,
        } = event;
        let cause = Cause {
            stored,
            subject_kind: SubjectKind::JobRun,
            subject_id: run_id,
            subject_title: job,
            actor: None,
        };
        let message = format!(
            "The scheduled job {job} (due {}) failed: {}",
            due_at.format("%Y-%m-%d %H:%M UTC"),
            one_line(error, REASON_MAX_CHARS)
        );
        let drafts = recipients
            .iter()
            .map(|recipient| Draft {
                recipient: *recipient,
                kind: NotificationKind::JobFailed,
                message: message.clone(),
            })
            .collect();
        notify(&mut self.notifications, &cause, drafts);
    }
}

// Test cases.

/// What the projection remembers of a test case (`notification_test_cases`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
struct TestCaseMemory {
    test_case_id: Uuid,
    /// The sequence of the last event applied.
    last_sequence: i64,
    title: String,
    red_assignee: Option<Uuid>,
    blue_assignee: Option<Uuid>,
    /// Who planned or assigned the test case, in that order: leads (or admins), who may approve it.
    leads: Vec<Uuid>,
    /// Who recorded an outcome in the current run: they may not approve it.
    outcome_recorders: Vec<Uuid>,
}

impl TestCaseMemory {
    fn assignee(&self, side: Side) -> Option<Uuid> {
        match side {
            Side::Red => self.red_assignee,
            Side::Blue => self.blue_assignee,
        }
    }
}

/// Whether an event changes what is remembered or tells anyone anything; the others are skipped unread.
const fn matters(event: &TestCaseEvent) -> bool {
    matches!(
        event,
        TestCaseEvent::PlanEdited { .. }
            | TestCaseEvent::Assigned { .. }
            | TestCaseEvent::ExecutionCompleted { .. }
            | TestCaseEvent::OutcomeRecorded { .. }
            | TestCaseEvent::SubmittedForApproval { .. }
            | TestCaseEvent::ResultApproved { .. }
            | TestCaseEvent::ResultRejected { .. }
            | TestCaseEvent::Reopened { .. }
    )
}

impl Batch {
    fn test_case(
        &mut self,
        test_case_id: Uuid,
        stored: &StoredEvent,
        event: &TestCaseEvent,
    ) -> Result<(), sqlx::Error> {
        if let TestCaseEvent::Planned {
            planned_by, plan, ..
        } = event
        {
            // Known already: the event was applied before.
            if let Entry::Vacant(entry) = self.test_cases.entry(test_case_id) {
                entry.insert(TestCaseMemory {
                    test_case_id,
                    last_sequence: stored.sequence,
                    title: plan.title.as_str().to_owned(),
                    red_assignee: None,
                    blue_assignee: None,
                    leads: Some(*planned_by)
                        .filter(|lead| !lead.is_nil())
                        .into_iter()
                        .collect(),
                    outcome_recorders: Vec::new(),
                });
                self.changed.insert(test_case_id);
            }
            return Ok(());
        }
        if !matters(event) {
            return Ok(());
        }
        let Some(memory) = self.test_cases.get_mut(&test_case_id) else {
            return Err(invalid(format!(
                "TestCase {test_case_id}: event {} arrived before the test case was planned",
                stored.sequence
            )));
        };
        if memory.last_sequence >= stored.sequence {
            return Ok(());
        }
        memory.last_sequence = stored.sequence;
        self.changed.insert(test_case_id);
        let drafts = test_case_drafts(memory, event);
        let cause = Cause {
            stored,
            subject_kind: SubjectKind::TestCase,
            subject_id: test_case_id,
            subject_title: &memory.title,
            actor: Some(test_case_actor(event)),
        };
        notify(&mut self.notifications, &cause, drafts);
        Ok(())
    }
}

/// The user who gave the command behind a test case event (every one of them names theirs).
const fn test_case_actor(event: &TestCaseEvent) -> Uuid {
    match event {
        TestCaseEvent::Planned { planned_by: by, .. }
        | TestCaseEvent::PlanEdited { edited_by: by, .. }
        | TestCaseEvent::Assigned {
            assigned_by: by, ..
        }
        | TestCaseEvent::ExecutionStarted { started_by: by, .. }
        | TestCaseEvent::ExecutionRecorded {
            recorded_by: by, ..
        }
        | TestCaseEvent::ExecutionCompleted {
            completed_by: by, ..
        }
        | TestCaseEvent::ReviewStarted { started_by: by, .. }
        | TestCaseEvent::OutcomeRecorded {
            recorded_by: by, ..
        }
        | TestCaseEvent::SubmittedForApproval {
            submitted_by: by, ..
        }
        | TestCaseEvent::ResultApproved {
            approved_by: by, ..
        }
        | TestCaseEvent::ResultRejected {
            rejected_by: by, ..
        }
        | TestCaseEvent::Paused { paused_by: by, .. }
        | TestCaseEvent::Resumed { resumed_by: by, .. }
        | TestCaseEvent::Abandoned {
            abandoned_by: by, ..
        }
        | TestCaseEvent::Reopened {
            reopened_by: by, ..
        }
        | TestCaseEvent::RevealedToBlue {
            revealed_by: by, ..
        }
        | TestCaseEvent::DetectionRuleLinked { linked_by: by, .. }
        | TestCaseEvent::DetectionRuleUnlinked {
            unlinked_by: by, ..
        }
        | TestCaseEvent::CommentAdded { author: by, .. }
        | TestCaseEvent::EvidenceAttached {
            attached_by: by, ..
        }
        | TestCaseEvent::EvidenceRemoved { removed_by: by, .. } => *by,
    }
}

/// Moves `memory` past `event` and returns the notifications the event causes (before the actor is left
/// out). Pure, so the rules read in one place.
fn test_case_drafts(memory: &mut TestCaseMemory, event: &TestCaseEvent) -> Vec<Draft> {
    let title = memory.title.clone();
    match event {
        TestCaseEvent::PlanEdited { plan, .. } => {
            plan.title.as_str().clone_into(&mut memory.title);
            Vec::new()
        }
        TestCaseEvent::Assigned {
            assigned_by,
            red_assignee,
            blue_assignee,
            ..
        } => assignment_drafts(memory, *assigned_by, *red_assignee, *blue_assignee),
        TestCaseEvent::ExecutionCompleted { .. } => memory
            .blue_assignee
            .map(|blue| Draft {
                recipient: blue,
                kind: NotificationKind::ReviewRequested,
                message: format!("\"{title}\" has been executed and awaits your review."),
            })
            .into_iter()
            .collect(),
        TestCaseEvent::OutcomeRecorded { recorded_by, .. } => {
            if !memory.outcome_recorders.contains(recorded_by) {
                memory.outcome_recorders.push(*recorded_by);
            }
            Vec::new()
        }
        TestCaseEvent::SubmittedForApproval { .. } => memory
            .leads
            .iter()
            .filter(|lead| !memory.outcome_recorders.contains(lead))
            .map(|lead| Draft {
                recipient: *lead,
                kind: NotificationKind::ReviewRequested,
                message: format!("\"{title}\" awaits your approval."),
            })
            .collect(),
        TestCaseEvent::ResultRejected {
            reason, back_to, ..
        } => memory
            .assignee(*back_to)
            .map(|assignee| Draft {
                recipient: assignee,
                kind: NotificationKind::Rejected,
                message: format!(
                    "\"{title}\" was sent back to you: {}",
                    one_line(reason.as_str(), REASON_MAX_CHARS)
                ),
            })
            .into_iter()
            .collect(),
        TestCaseEvent::ResultApproved { outcome, .. } => {
            [memory.red_assignee, memory.blue_assignee]
                .into_iter()
                .flatten()
                .map(|assignee| Draft {
                    recipient: assignee,
                    kind: NotificationKind::Approved,
                    message: format!(
                        "\"{title}\" was approved with the outcome {}.",
                        outcome_words(*outcome)
                    ),
                })
                .collect()
        }
        TestCaseEvent::Reopened { reason, .. } => {
            memory.outcome_recorders.clear();
            [memory.red_assignee, memory.blue_assignee]
                .into_iter()
                .flatten()
                .map(|assignee| Draft {
                    recipient: assignee,
                    kind: NotificationKind::Assigned,
                    message: format!(
                        "\"{title}\" was reopened and is yours again: {}",
                        one_line(reason.as_str(), REASON_MAX_CHARS)
                    ),
                })
                .collect()
        }
        TestCaseEvent::Planned { .. }
        | TestCaseEvent::ExecutionStarted { .. }
        | TestCaseEvent::ExecutionRecorded { .. }
        | TestCaseEvent::ReviewStarted { .. }
        | TestCaseEvent::Paused { .. }
        | TestCaseEvent::Resumed { .. }
        | TestCaseEvent::Abandoned { .. }
        | TestCaseEvent::RevealedToBlue { .. }
        | TestCaseEvent::DetectionRuleLinked { .. }
        | TestCaseEvent::DetectionRuleUnlinked { .. }
        | TestCaseEvent::CommentAdded { .. }
        | TestCaseEvent::EvidenceAttached { .. }
        | TestCaseEvent::EvidenceRemoved { .. } => Vec::new(),
    }
}

/// Only a newly named assignee is told: naming the same person again (when assigning the other side) is
/// not news to them.
fn assignment_drafts(
    memory: &mut TestCaseMemory,
    assigned_by: Uuid,
    red_assignee: Option<Uuid>,
    blue_assignee: Option<Uuid>,
) -> Vec<Draft> {
    let newly_red = red_assignee.filter(|red| memory.red_assignee != Some(*red));
    let newly_blue = blue_assignee.filter(|blue| memory.blue_assignee != Some(*blue));
    memory.red_assignee = red_assignee.or(memory.red_assignee);
    memory.blue_assignee = blue_assignee.or(memory.blue_assignee);
    if !assigned_by.is_nil() && !memory.leads.contains(&assigned_by) {
        memory.leads.push(assigned_by);
    }
    let title = &memory.title;
    match (newly_red, newly_blue) {
        (Some(red), Some(blue)) if red == blue => {
            vec![assigned(red, title, "the red and the blue side")]
        }
        (red, blue) => red
            .map(|red| assigned(red, title, "the red side"))
            .into_iter()
            .chain(blue.map(|blue| assigned(blue, title, "the blue side")))
            .collect(),
    }
}

fn assigned(recipient: Uuid, title: &str, sides: &str) -> Draft {
    Draft {
        recipient,
        kind: NotificationKind::Assigned,
        message: format!("You were assigned to \"{title}\" on {sides}."),
    }
}

const fn outcome_words(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::NotApplicable => "not applicable",
        Outcome::NotDetected => "not detected",
        Outcome::Logged => "logged",
        Outcome::Alerted => "alerted",
        Outcome::Blocked => "blocked",
    }
}

/// `text` on one line (every run of white space, line breaks included, becomes one space), cut to
/// `max_chars` characters with an ellipsis.
fn one_line(text: &str, max_chars: usize) -> String {
    let joined = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if joined.chars().count() <= max_chars {
        return joined;
    }
    let cut: String = joined.chars().take(max_chars.saturating_sub(1)).collect();
    format!("{}…", cut.trim_end())
}

// Campaigns.

async fn apply_campaign(
    connection: &mut PgConnection,
    batch: &mut Batch,
    campaign_id: Uuid,
    stored: &StoredEvent,
    event: &CampaignEvent,
) -> Result<(), sqlx::Error> {
    let actor = stored
        .actor_id()
        .and_then(|actor| Uuid::parse_str(actor).ok())
        .filter(|actor| !actor.is_nil());
    match event {
        CampaignEvent::Created { .. } => {
            remember_campaign(connection, campaign_id, stored, actor).await?;
            Ok(())
        }
        CampaignEvent::InstanceCreated {
            template_id,
            due_at,
            name,
            planned_start,
            ..
        } => {
            // Applied before when the instance is remembered already.
            if !remember_campaign(connection, campaign_id, stored, actor).await? {
                return Ok(());
            }
            let owners: Vec<Uuid> = sqlx::query_scalar(
                "SELECT owners FROM notification_campaigns WHERE campaign_id = $1",
            )
            .bind(template_id)
            .fetch_optional(&mut *connection)
            .await?
            .unwrap_or_default();
            let message = format!(
                "\"{name}\" is due (for {}): it is planned to start {}.",
                due_at.format("%Y-%m-%d %H:%M UTC"),
                planned_start.format("%Y-%m-%d %H:%M UTC"),
            );
            let drafts = owners
                .into_iter()
                .map(|owner| Draft {
                    recipient: owner,
                    kind: NotificationKind::CampaignDue,
                    message: message.clone(),
                })
                .collect();
            let cause = Cause {
                stored,
                subject_kind: SubjectKind::Campaign,
                subject_id: campaign_id,
                subject_title: name.as_str(),
                actor,
            };
            notify(&mut batch.notifications, &cause, drafts);
            Ok(())
        }
        CampaignEvent::RecurrenceSet { .. } => {
            // Whoever asks for a schedule wants to hear when it fires.
            sqlx::query(
                "UPDATE notification_campaigns
                    SET last_sequence = $2,
                        owners = CASE WHEN $3::uuid IS NULL OR $3 = ANY(owners) THEN owners
                                      ELSE array_append(owners, $3) END
                  WHERE campaign_id = $1 AND last_sequence < $2",
            )
            .bind(campaign_id)
            .bind(stored.sequence)
            .bind(actor)
            .execute(&mut *connection)
            .await?;
            Ok(())
        }
        CampaignEvent::Edited { .. }
        | CampaignEvent::Activated { .. }
        | CampaignEvent::Completed { .. }
        | CampaignEvent::Cancelled { .. }
        | CampaignEvent::TestCaseAdded { .. }
        | CampaignEvent::TestCaseRemoved { .. }
        | CampaignEvent::RecurrenceCleared
        | CampaignEvent::SpawnRecorded { .. } => Ok(()),
    }
}

/// Remembers a new campaign with its creator as owner; false when it was remembered already.
async fn remember_campaign(
    connection: &mut PgConnection,
    campaign_id: Uuid,
    stored: &StoredEvent,
    creator: Option<Uuid>,
) -> Result<bool, sqlx::Error> {
    let owners: Vec<Uuid> = creator.into_iter().collect();
    let inserted = sqlx::query(
        "INSERT INTO notification_campaigns (campaign_id, last_sequence, owners) VALUES ($1, $2, $3)
         ON CONFLICT (campaign_id) DO NOTHING",
    )
    .bind(campaign_id)
    .bind(stored.sequence)
    .bind(&owners)
    .execute(&mut *connection)
    .await?;
    Ok(inserted.rows_affected() == 1)
}

// The read side.

/// One notification as its recipient sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotificationRow {
    pub notification_id: Uuid,
    pub recipient: Uuid,
    pub kind: NotificationKind,
    pub subject_kind: SubjectKind,
    pub subject_id: Uuid,
    /// The test case's title or the campaign's name when the event happened.
    pub subject_title: String,
    pub message: String,
    /// The actor id from the event metadata: a user's UUID, or `system:<component>`.
    pub actor_id: Option<String>,
    /// The acting user's display name now, from the `users` read model; `None` for system actors.
    pub actor_name: Option<String>,
    /// When the cause event happened.
    pub created_at: DateTime<Utc>,
    /// When the recipient marked it read; `None` while unread.
    pub read_at: Option<DateTime<Utc>>,
}

impl NotificationRow {
    /// The position of this row in [`page`]'s order.
    pub fn cursor(&self) -> PageCursor {
        PageCursor {
            at: self.created_at,
            id: self.notification_id,
        }
    }
}

const COLUMNS: &str = "n.notification_id, n.recipient, n.kind, n.subject_kind, n.subject_id, n.subject_title,
                       n.message, n.actor_id, u.display_name AS actor_name, n.created_at, r.read_at";

/// `recipient`'s notifications, newest first (by the event's time, then id), after `after`; only the unread
/// ones when `unread_only`.
pub async fn page(
    pool: &PgPool,
    recipient: Uuid,
    unread_only: bool,
    after: Option<&PageCursor>,
    limit: i64,
) -> Result<Vec<NotificationRow>, sqlx::Error> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS}
           FROM notifications n
           LEFT JOIN notification_reads r ON r.user_id = n.recipient AND r.notification_id = n.notification_id
           LEFT JOIN users u ON u.user_id::text = n.actor_id
          WHERE n.recipient = $1
            AND ($2::timestamptz IS NULL OR (n.created_at, n.notification_id) < ($2, $3::uuid))
            AND (NOT $4 OR r.read_at IS NULL)
          ORDER BY n.created_at DESC, n.notification_id DESC
          LIMIT $5"
    ))
    .bind(recipient)
    .bind(after.map(|cursor| cursor.at))
    .bind(after.map(|cursor| cursor.id))
    .bind(unread_only)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    rows.iter().map(notification).collect()
}

fn notification(row: &PgRow) -> Result<NotificationRow, sqlx::Error> {
    let kind: String = row.try_get("kind")?;
    let subject_kind: String = row.try_get("subject_kind")?;
    Ok(NotificationRow {
        notification_id: row.try_get("notification_id")?,
        recipient: row.try_get("recipient")?,
        kind: from_serde_name(&kind)?,
        subject_kind: from_serde_name(&subject_kind)?,
        subject_id: row.try_get("subject_id")?,
        subject_title: row.try_get("subject_title")?,
        message: row.try_get("message")?,
        actor_id: row.try_get("actor_id")?,
        actor_name: row.try_get("actor_name")?,
        created_at: row.try_get("created_at")?,
        read_at: row.try_get("read_at")?,
    })
}

/// How many of `recipient`'s notifications are unread.
pub async fn unread_count(pool: &PgPool, recipient: Uuid) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT count(*) FROM notifications n
          WHERE n.recipient = $1
            AND NOT EXISTS (SELECT 1 FROM notification_reads r
                             WHERE r.user_id = $1 AND r.notification_id = n.notification_id)",
    )
    .bind(recipient)
    .fetch_one(pool)
    .await
}

/// A cheap summary of a user's notifications and marks that moves whenever either changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotificationRevision {
    pub notifications: i64,
    pub newest_position: Option<i64>,
    pub reads: i64,
}

/// The revision of `recipient`'s notifications, for subscriptions that poll.
pub async fn revision(pool: &PgPool, recipient: Uuid) -> Result<NotificationRevision, sqlx::Error> {
    let row = sqlx::query(
        "SELECT (SELECT count(*) FROM notifications WHERE recipient = $1) AS notifications,
                (SELECT max(global_seq) FROM notifications WHERE recipient = $1) AS newest_position,
                (SELECT count(*) FROM notification_reads WHERE user_id = $1) AS reads",
    )
    .bind(recipient)
    .fetch_one(pool)
    .await?;
    Ok(NotificationRevision {
        notifications: row.try_get("notifications")?,
        newest_position: row.try_get("newest_position")?,
        reads: row.try_get("reads")?,
    })
}

/// Which of a user's notifications to mark read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MarkSelection {
    /// These, each of which must be the user's.
    Ids(Vec<Uuid>),
    /// Every one the user has.
    All,
}

/// Why marking notifications read was refused.
#[derive(Debug, thiserror::Error)]
pub enum MarkReadError {
    /// Ids that are not notifications of the user (someone else's, or none at all: the answer is the same,
    /// so nobody learns which ids exist). Nothing was marked.
    #[error("you have no notification with the id {}", list(.0))]
    NotYours(Vec<Uuid>),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

fn list(ids: &[Uuid]) -> String {
    ids.iter()
        .map(Uuid::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Marks `selection` of `user_id`'s notifications read at `read_at`; returns how many were unread. Marking a
/// read notification again keeps its first time. All or nothing: one id that is not the user's marks none.
pub async fn mark_read(
    pool: &PgPool,
    user_id: Uuid,
    selection: &MarkSelection,
    read_at: DateTime<Utc>,
) -> Result<u64, MarkReadError> {
    let mut transaction = pool.begin().await?;
    let marked = match selection {
        MarkSelection::Ids(ids) => {
            let wanted: BTreeSet<Uuid> = ids.iter().copied().collect();
            let wanted: Vec<Uuid> = wanted.into_iter().collect();
            let owned: Vec<Uuid> = sqlx::query_scalar(
                "SELECT notification_id FROM notifications WHERE recipient = $1 AND notification_id = ANY($2)",
            )
            .bind(user_id)
            .bind(&wanted)
            .fetch_all(&mut *transaction)
            .await?;
            let missing: Vec<Uuid> = wanted
                .iter()
                .filter(|id| !owned.contains(id))
                .copied()
                .collect();
            if !missing.is_empty() {
                return Err(MarkReadError::NotYours(missing));
            }
            sqlx::query(
                "INSERT INTO notification_reads (user_id, notification_id, read_at)
                 SELECT $1, unnest($2::uuid[]), $3
                 ON CONFLICT (user_id, notification_id) DO NOTHING",
            )
            .bind(user_id)
            .bind(&owned)
            .bind(read_at)
            .execute(&mut *transaction)
            .await?
        }
        MarkSelection::All => {
            sqlx::query(
                "INSERT INTO notification_reads (user_id, notification_id, read_at)
                 SELECT $1, notification_id, $2 FROM notifications WHERE recipient = $1
                 ON CONFLICT (user_id, notification_id) DO NOTHING",
            )
            .bind(user_id)
            .bind(read_at)
            .execute(&mut *transaction)
            .await?
        }
    };
    transaction.commit().await?;
    Ok(marked.rows_affected())
}

/// Deletes the notifications that were read and whose event happened before `cutoff`; returns how many.
/// For the scheduler's clean-up (read ones older than 90 days).
///
/// Their read marks stay: a rebuild replays the log and brings those notifications back, and with the marks
/// they come back read (at the bottom of a newest-first list, gone again at the next clean-up) instead of
/// flooding their recipients as unread. A mark is a few dozen bytes.
pub async fn delete_read_before(pool: &PgPool, cutoff: DateTime<Utc>) -> Result<u64, sqlx::Error> {
    let deleted = sqlx::query(
        "DELETE FROM notifications n
          WHERE n.created_at < $1
            AND EXISTS (SELECT 1 FROM notification_reads r
                         WHERE r.user_id = n.recipient AND r.notification_id = n.notification_id)",
    )
    .bind(cutoff)
    .execute(pool)
    .await?;
    Ok(deleted.rows_affected())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reason_becomes_one_short_line() {
        assert_eq!(
            one_line("Wrong host.\n\n  Run it on ws-02\tplease. ", 200),
            "Wrong host. Run it on ws-02 please."
        );
        let long = "word ".repeat(100);
        let cut = one_line(&long, 20);
        assert_eq!(cut.chars().count(), 20);
        assert!(cut.ends_with('…'), "{cut}");
    }

    /// Ids are part of the contract with read marks: the same event and recipient give the same id forever.
    #[test]
    fn a_notification_id_depends_only_on_the_event_position_and_the_recipient() {
        let recipient = Uuid::from_u128(5);
        assert_eq!(
            notification_id(42, recipient),
            notification_id(42, recipient)
        );
        assert_ne!(
            notification_id(42, recipient),
            notification_id(43, recipient)
        );
        assert_ne!(
            notification_id(42, recipient),
            notification_id(42, Uuid::from_u128(6))
        );
        assert_eq!(
            notification_id(42, recipient).to_string(),
            "745a6d71-5b87-5c42-bc8b-9edda13b725e",
            "the namespace or the name format changed: every read mark would be lost"
        );
    }
}
