//! Live views of one test case or one campaign: the view the matching query shows, sent at once and again
//! whenever it changes.
//!
//! Each subscription polls the read side, like `projectionProgress`: every second it reads a cheap revision
//! (the aggregate sequences the rows were last changed at) and, only when that moved, builds the view again.
//! The read side is shared by every replica, so a subscriber learns of changes whichever process made them
//! and whichever leads the projector. A view is sent only when it differs from the last one sent to that
//! subscriber: blind redaction is applied per subscriber, so a blue user is not told, by an update that
//! shows nothing new, that red changed something hidden from them.

use std::future::Future;
use std::time::Duration;

use async_graphql::{Context, ErrorExtensions, Subscription};
use chrono::{DateTime, Utc};
use futures::Stream;
use uuid::Uuid;

use super::account::principal;
use super::campaign_views::{self, Campaign};
use super::error::ApiError;
use super::test_case_views::{self, TestCase};
use crate::state::AppState;

/// How often the read side is sampled for a subscriber.
const POLL_INTERVAL: Duration = Duration::from_secs(1);

/// A subscription's state between two items.
struct Watch<Revision, View, ReadRevision, BuildView> {
    state: AppState,
    read_revision: ReadRevision,
    build_view: BuildView,
    /// When a view goes out of date by the clock alone, without any change to the read side.
    stale_after: fn(&View) -> Option<DateTime<Utc>>,
    /// The revision the last view was built at, and the last view sent.
    revision: Option<Revision>,
    sent: Option<View>,
    /// Whether the first poll is done: every later one waits for the interval first.
    started: bool,
}

/// The stream of views `build_view` makes: the first at once, then one whenever a view built after
/// `read_revision` moved (or after `stale_after` passed) differs from the last one sent. A failed read is
/// sent as an error and tried again a second later.
pub(super) fn watch<Revision, View, ReadRevision, RevisionFuture, BuildView, ViewFuture>(
    state: AppState,
    read_revision: ReadRevision,
    build_view: BuildView,
    stale_after: fn(&View) -> Option<DateTime<Utc>>,
) -> impl Stream<Item = async_graphql::Result<View>> + Send
where
    Revision: PartialEq + Send + 'static,
    View: Clone + PartialEq + Send + 'static,
    ReadRevision: Fn(AppState) -> RevisionFuture + Send + 'static,
    RevisionFuture: Future<Output = Result<Revision, sqlx::Error>> + Send,
    BuildView: Fn(AppState) -> ViewFuture + Send + 'static,
    ViewFuture: Future<Output = async_graphql::Result<View>> + Send,
{
    let start = Watch {
        state,
        read_revision,
        build_view,
        stale_after,
        revision: None,
        sent: None,
        started: false,
    };
    futures::stream::unfold(start, |mut watch| async move {
        loop {
            if watch.started {
                tokio::time::sleep(POLL_INTERVAL).await;
            }
            watch.started = true;
            let revision = match (watch.read_revision)(watch.state.clone()).await {
                Ok(revision) => revision,
                Err(error) => return Some((Err(ApiError::internal(error).extend()), watch)),
            };
            let now = watch.state.campaigns.now();
            let out_of_date = watch
                .sent
                .as_ref()
                .and_then(watch.stale_after)
                .is_some_and(|at| at <= now);
            if watch.revision.as_ref() == Some(&revision) && !out_of_date {
                continue;
            }
            let view = match (watch.build_view)(watch.state.clone()).await {
                Ok(view) => view,
                Err(error) => return Some((Err(error), watch)),
            };
            watch.revision = Some(revision);
            if watch.sent.as_ref() == Some(&view) {
                continue;
            }
            watch.sent = Some(view.clone());
            return Some((Ok(view), watch));
        }
    })
}

#[derive(Debug, Default)]
pub struct WorkflowSubscription;

#[Subscription(guard = "super::guard::SubscriptionGuard")]
impl WorkflowSubscription {
    /// Test case `id` as `testCase(id)` shows it to the caller (blind tests redacted for blue): sent at once
    /// (null while there is no such test case), then whenever it changes.
    #[allow(
        clippy::unused_async,
        reason = "async-graphql requires subscription resolvers to be async"
    )]
    async fn test_case_changed(
        &self,
        context: &Context<'_>,
        id: Uuid,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<Option<TestCase>>>> {
        let state = context.data::<AppState>()?.clone();
        let principal = principal(context)?.clone();
        Ok(watch(
            state,
            move |state: AppState| async move {
                projections::test_cases::revision(&state.pool, id).await
            },
            move |state: AppState| {
                let principal = principal.clone();
                async move { test_case_views::find_view(&state, &principal, id).await }
            },
            |_| None,
        ))
    }

    /// Campaign `id` as `campaign(id)` shows it to the caller: sent at once (null while there is no such
    /// campaign), then whenever it, its membership, its spawns or its members' progress change, and when its
    /// next due time has passed.
    #[allow(
        clippy::unused_async,
        reason = "async-graphql requires subscription resolvers to be async"
    )]
    async fn campaign_changed(
        &self,
        context: &Context<'_>,
        id: Uuid,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<Option<Campaign>>>> {
        let state = context.data::<AppState>()?.clone();
        let principal = principal(context)?.clone();
        Ok(watch(
            state,
            move |state: AppState| async move {
                projections::campaigns::revision(&state.pool, id).await
            },
            move |state: AppState| {
                let principal = principal.clone();
                async move { campaign_views::find_view(&state, &principal, id).await }
            },
            |view: &Option<Campaign>| view.as_ref().and_then(Campaign::stale_after),
        ))
    }
}
