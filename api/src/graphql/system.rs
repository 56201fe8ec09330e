//! The server itself: version, schema, event count, projection progress.

use std::time::Duration;

use async_graphql::{Context, ErrorExtensions, Object, SimpleObject, Subscription};
use chrono::{DateTime, Utc};
use futures::Stream;
use projections::projector::ProjectionLag;

use super::error::ApiError;
use super::scalars::BigInt;
use crate::database::schema_version;
use crate::state::AppState;

/// The running Aegis server.
#[derive(SimpleObject)]
pub struct ServerInfo {
    /// The server's version.
    version: String,
    /// The newest database migration this server knows.
    schema_version: BigInt,
    /// Events recorded so far (as projected; see `projections` for any lag).
    event_count: BigInt,
}

/// How far one read model has got through the event log.
#[derive(SimpleObject, Clone, PartialEq, Eq)]
pub struct ProjectionStatus {
    /// The projection's name, as `aegis projections rebuild NAME` takes it.
    name: String,
    /// Events applied since the projection was last rebuilt.
    events_applied: BigInt,
    /// Committed events not yet applied.
    events_behind: BigInt,
    /// When the oldest of those was recorded.
    oldest_pending_at: Option<DateTime<Utc>>,
}

impl From<ProjectionLag> for ProjectionStatus {
    fn from(lag: ProjectionLag) -> Self {
        Self {
            name: lag.projection.to_owned(),
            events_applied: BigInt(lag.events_applied),
            events_behind: BigInt(lag.events_behind),
            oldest_pending_at: lag.oldest_pending_at,
        }
    }
}

async fn projection_statuses(state: &AppState) -> async_graphql::Result<Vec<ProjectionStatus>> {
    let lags = state
        .projector
        .lag()
        .await
        .map_err(|error| ApiError::internal(error).extend())?;
    Ok(lags.into_iter().map(ProjectionStatus::from).collect())
}

#[derive(Debug, Default)]
pub struct SystemQuery;

#[Object]
impl SystemQuery {
    /// The server's version, schema version and event count.
    async fn server_info(&self, context: &Context<'_>) -> async_graphql::Result<ServerInfo> {
        let state = context.data::<AppState>()?;
        let events = projections::event_totals::total(&state.pool)
            .await
            .map_err(|error| ApiError::internal(error).extend())?;
        Ok(ServerInfo {
            version: env!("CARGO_PKG_VERSION").to_owned(),
            schema_version: BigInt(schema_version()),
            event_count: BigInt(events),
        })
    }

    /// Every read model and how far it trails the event log.
    async fn projections(
        &self,
        context: &Context<'_>,
    ) -> async_graphql::Result<Vec<ProjectionStatus>> {
        projection_statuses(context.data::<AppState>()?).await
    }
}

#[derive(Debug, Default)]
pub struct SystemSubscription;

/// How often progress is sampled for subscribers. Every replica reads the shared checkpoints, so subscribers
/// see progress made by whichever process leads.
const PROGRESS_INTERVAL: Duration = Duration::from_secs(1);

#[Subscription(guard = "super::guard::SubscriptionGuard")]
impl SystemSubscription {
    /// The projections' progress: sent at once, then whenever it changes.
    #[allow(
        clippy::unused_async,
        reason = "async-graphql requires subscription resolvers to be async"
    )]
    async fn projection_progress(
        &self,
        context: &Context<'_>,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<Vec<ProjectionStatus>>>>
    {
        let state = context.data::<AppState>()?.clone();
        let initial: (AppState, Option<Vec<ProjectionStatus>>, bool) = (state, None, false);
        Ok(futures::stream::unfold(
            initial,
            |(state, previous, started)| async move {
                if started {
                    tokio::time::sleep(PROGRESS_INTERVAL).await;
                }
                let mut previous = previous;
                loop {
                    match projection_statuses(&state).await {
                        Ok(current) if previous.as_ref() == Some(&current) => {
                            tokio::time::sleep(PROGRESS_INTERVAL).await;
                        }
                        Ok(current) => {
                            previous = Some(current.clone());
                            return Some((Ok(current), (state, previous, true)));
                        }
                        Err(error) => return Some((Err(error), (state, previous, true))),
                    }
                }
            },
        ))
    }
}
