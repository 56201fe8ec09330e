//! The caller's own notifications: the list (newest first), the unread count, marking them read, and a live
//! summary. Every field is about the signed-in caller only; nobody reads or marks another user's
//! notifications, admins included.

use async_graphql::connection::{Connection, EmptyFields};
use async_graphql::{Context, Enum, ErrorExtensions, Object, SimpleObject, Subscription};
use chrono::{DateTime, Utc};
use futures::Stream;
use projections::notifications::{self, MarkReadError, MarkSelection, NotificationRow};
use uuid::Uuid;

use super::account::principal;
use super::error::{ApiError, internal};
use super::paging::{MAX_PAGE, keyset_page};
use super::workflow_subscriptions::watch;
use crate::state::AppState;

/// How many of the newest notifications `notificationsChanged` sends unless asked for another number.
const NEWEST_BY_DEFAULT: usize = 10;

/// What a notification is about.
#[derive(Enum, Clone, Copy, PartialEq, Eq, Debug)]
#[graphql(remote = "projections::notifications::NotificationKind")]
pub enum NotificationKind {
    /// A test case was assigned to you, or reopened with you as an assignee (the next run is yours).
    Assigned,
    /// A test case waits for you: blue to review it, or a lead to approve it.
    ReviewRequested,
    /// A result went back to your side; the message gives the reason.
    Rejected,
    /// A result you worked on was approved.
    Approved,
    /// A recurring campaign you created or scheduled spawned a new instance.
    CampaignDue,
    /// The intel scan or ATT&CK sync found something (`intelItem(subjectId)`); you are a lead.
    Intel,
    /// A scheduled job failed (`jobRuns`); you are an admin.
    JobFailed,
}

/// What kind of thing a notification's subject is.
#[derive(Enum, Clone, Copy, PartialEq, Eq, Debug)]
#[graphql(remote = "projections::notifications::SubjectKind")]
pub enum NotificationSubjectKind {
    /// `subjectId` is a test case (`testCase(id)`).
    TestCase,
    /// `subjectId` is a campaign (`campaign(id)`).
    Campaign,
    /// `subjectId` is an intel item (`intelItem(id)`).
    IntelItem,
    /// `subjectId` is a scheduled job's run (`jobRuns`); the title is the job.
    JobRun,
}

/// Something that happened which concerns you. Made from the event log, so it is never changed; only
/// whether you read it is yours to change.
#[derive(SimpleObject, Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    id: Uuid,
    kind: NotificationKind,
    subject_kind: NotificationSubjectKind,
    subject_id: Uuid,
    /// The test case's title or the campaign's name when it happened.
    subject_title: String,
    /// One line to show.
    message: String,
    /// The user who acted; null when Aegis itself did (the scheduler).
    actor_id: Option<Uuid>,
    /// The acting user's display name now, or the part of Aegis that acted.
    actor_name: Option<String>,
    /// When it happened (the time of the command behind it).
    created_at: DateTime<Utc>,
    read: bool,
    read_at: Option<DateTime<Utc>>,
}

impl From<NotificationRow> for Notification {
    fn from(row: NotificationRow) -> Self {
        let actor_id = row
            .actor_id
            .as_deref()
            .and_then(|actor| Uuid::parse_str(actor).ok());
        let system_name = row
            .actor_id
            .as_deref()
            .and_then(|actor| actor.strip_prefix("system:"))
            .map(|component| format!("Aegis ({component})"));
        Self {
            id: row.notification_id,
            kind: row.kind.into(),
            subject_kind: row.subject_kind.into(),
            subject_id: row.subject_id,
            subject_title: row.subject_title,
            message: row.message,
            actor_id,
            actor_name: row.actor_name.or(system_name),
            created_at: row.created_at,
            read: row.read_at.is_some(),
            read_at: row.read_at,
        }
    }
}

/// Your unread count and newest notifications, as `notificationsChanged` sends them.
#[derive(SimpleObject, Debug, Clone, PartialEq, Eq)]
pub struct NotificationSummary {
    unread_count: i32,
    /// Newest first, read or not.
    newest: Vec<Notification>,
}

/// What `markNotificationsRead` did.
#[derive(SimpleObject, Debug, Clone, PartialEq, Eq)]
pub struct MarkNotificationsReadResult {
    /// How many of them were unread until now.
    marked: i32,
    /// Your unread notifications left.
    unread_count: i32,
}

fn count(value: impl TryInto<i32>) -> i32 {
    value.try_into().unwrap_or(i32::MAX)
}

async fn unread_count(state: &AppState, user_id: Uuid) -> async_graphql::Result<i32> {
    notifications::unread_count(&state.pool, user_id)
        .await
        .map(count)
        .map_err(internal)
}

async fn summary(
    state: &AppState,
    user_id: Uuid,
    newest: usize,
) -> async_graphql::Result<NotificationSummary> {
    let rows = notifications::page(
        &state.pool,
        user_id,
        false,
        None,
        i64::try_from(newest).unwrap_or(i64::MAX),
    )
    .await
    .map_err(internal)?;
    Ok(NotificationSummary {
        unread_count: unread_count(state, user_id).await?,
        newest: rows.into_iter().map(Notification::from).collect(),
    })
}

#[derive(Debug, Default)]
pub struct NotificationsQuery;

#[Object]
impl NotificationsQuery {
    /// Your notifications, newest first; only the unread ones with `unreadOnly: true`.
    #[graphql(complexity = "super::paging::page_complexity(first, child_complexity)")]
    async fn my_notifications(
        &self,
        context: &Context<'_>,
        unread_only: Option<bool>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<Connection<String, Notification, EmptyFields, EmptyFields>> {
        let state = context.data::<AppState>()?;
        let user_id = principal(context)?.user_id;
        let unread_only = unread_only.unwrap_or(false);
        keyset_page(
            after,
            first,
            |cursor, limit| async move {
                notifications::page(&state.pool, user_id, unread_only, cursor.as_ref(), limit).await
            },
            NotificationRow::cursor,
            Notification::from,
        )
        .await
    }

    /// How many of your notifications are unread.
    async fn unread_notification_count(&self, context: &Context<'_>) -> async_graphql::Result<i32> {
        unread_count(context.data::<AppState>()?, principal(context)?.user_id).await
    }
}

#[derive(Debug, Default)]
pub struct NotificationsMutation;

#[Object]
impl NotificationsMutation {
    /// Marks your notifications `ids` read, or every one of yours with `all: true` (give one or the other).
    /// An id that is not one of your notifications refuses the whole request (NOT_FOUND) and marks nothing.
    /// Marking a read notification again changes nothing.
    async fn mark_notifications_read(
        &self,
        context: &Context<'_>,
        ids: Option<Vec<Uuid>>,
        all: Option<bool>,
    ) -> async_graphql::Result<MarkNotificationsReadResult> {
        let state = context.data::<AppState>()?;
        let user_id = principal(context)?.user_id;
        let selection = match (ids, all.unwrap_or(false)) {
            (Some(ids), false) if !ids.is_empty() && ids.len() <= MAX_PAGE => {
                MarkSelection::Ids(ids)
            }
            (Some(ids), false) if ids.len() > MAX_PAGE => {
                return Err(ApiError::Validation(format!(
                    "mark at most {MAX_PAGE} notifications at once, or all of them with `all: true`"
                ))
                .extend());
            }
            (None, true) => MarkSelection::All,
            _ => {
                return Err(ApiError::Validation(
                    "give the ids of the notifications to mark or `all: true`, one of the two"
                        .to_owned(),
                )
                .extend());
            }
        };
        let read_at = state.test_cases.now();
        let marked = notifications::mark_read(&state.pool, user_id, &selection, read_at)
            .await
            .map_err(|error| match error {
                MarkReadError::NotYours(_) => ApiError::NotFound(error.to_string()).extend(),
                MarkReadError::Database(cause) => internal(cause),
            })?;
        Ok(MarkNotificationsReadResult {
            marked: count(marked),
            unread_count: unread_count(state, user_id).await?,
        })
    }
}

#[derive(Debug, Default)]
pub struct NotificationsSubscription;

#[Subscription(guard = "super::guard::SubscriptionGuard")]
impl NotificationsSubscription {
    /// Your unread count and your `first` newest notifications (10 unless given, at most 100): sent at once,
    /// then whenever a notification arrives or one is marked read.
    #[allow(
        clippy::unused_async,
        reason = "async-graphql requires subscription resolvers to be async"
    )]
    async fn notifications_changed(
        &self,
        context: &Context<'_>,
        first: Option<i32>,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<NotificationSummary>>> {
        let state = context.data::<AppState>()?.clone();
        let user_id = principal(context)?.user_id;
        let newest = first
            .map_or(Some(NEWEST_BY_DEFAULT), |first| usize::try_from(first).ok())
            .map(|newest| newest.min(MAX_PAGE))
            .ok_or_else(|| {
                ApiError::Validation("`first` must not be negative".to_owned()).extend()
            })?;
        Ok(watch(
            state,
            move |state: AppState| async move { notifications::revision(&state.pool, user_id).await },
            move |state: AppState| async move { summary(&state, user_id, newest).await },
            |_| None,
        ))
    }
}
