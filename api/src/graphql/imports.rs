//! Starting an import from the API (admins): it runs in the background and the mutation returns its run at once,
//! so no request waits minutes behind a proxy timeout; `importRun(id)` and the `importRunChanged` subscription
//! follow it. The files come from a URL (the ATT&CK release URL by default), never from the server's disk.

use async_graphql::{Context, ErrorExtensions, Object, Subscription};
use futures::Stream;
use importers::catalog;
use importers::fetch::ATTACK_ENTERPRISE_URL;
use importers::import::{self, Location};
use importers::source::Source;
use importers::taxii;
use uuid::Uuid;

use super::account::principal;
use super::catalog_views::ImportRun;
use super::error::{ApiError, internal};
use super::workflow_subscriptions::watch;
use crate::state::AppState;

#[derive(Debug, Default)]
pub struct ImportsMutation;

#[Object]
impl ImportsMutation {
    /// Starts importing `url` as `source` (attack, d3fend, atomic, …; `url` defaults to MITRE's Enterprise
    /// ATT&CK release for `attack`; for `taxii`, `url` is the server's discovery URL and `collection` a
    /// collection's id or title) and returns the run, still RUNNING; follow it with `importRun(id)` or
    /// `importRunChanged(id)`.
    async fn start_import(
        &self,
        context: &Context<'_>,
        source: String,
        url: Option<String>,
        collection: Option<String>,
    ) -> async_graphql::Result<ImportRun> {
        let state = context.data::<AppState>()?;
        let source: Source = source
            .parse()
            .map_err(|error: importers::source::UnknownSource| validation(error.to_string()))?;
        let url = match (url, source) {
            (Some(url), _) => url.trim().to_owned(),
            (None, Source::Attack) => ATTACK_ENTERPRISE_URL.to_owned(),
            (None, _) => return Err(validation(format!("give the URL to import {source} from"))),
        };
        let location = match (source, collection) {
            (Source::Taxii, Some(collection)) => Location::Taxii(
                taxii::Config::new(&url, &collection)
                    .map_err(|error| validation(error.to_string()))?,
            ),
            (Source::Taxii, None) => {
                return Err(validation(
                    "give the TAXII collection's id or title".to_owned(),
                ));
            }
            (_, Some(_)) => return Err(validation("a collection is for taxii only".to_owned())),
            (_, None) => Location::parse(&url),
        };
        if matches!(location, Location::Path(_)) {
            return Err(validation(
                "only http(s) URLs can be imported through the API; use `aegis import` for files"
                    .to_owned(),
            ));
        }
        let started_by = principal(context)?.user_id;
        let run_id =
            catalog::begin_run(&state.pool, source, &[location.as_text()], Some(started_by))
                .await
                .map_err(|error| ApiError::internal(error).extend())?;
        let pool = state.pool.clone();
        tokio::spawn(async move {
            if let Err(error) = import::run(&pool, run_id, source, &[location], &|_| {}).await {
                tracing::error!(%run_id, %error, "import failed");
                if let Err(error) = catalog::fail_run(&pool, run_id, &error.to_string()).await {
                    tracing::error!(%run_id, %error, "cannot record the failed import");
                }
            }
        });
        let row = projections::catalog::import_run(&state.pool, run_id)
            .await
            .map_err(internal)?
            .ok_or_else(|| ApiError::Internal("the run just begun is not there".into()).extend())?;
        Ok(ImportRun::from(row))
    }
}

fn validation(message: String) -> async_graphql::Error {
    ApiError::Validation(message).extend()
}

#[derive(Debug, Default)]
pub struct ImportsSubscription;

#[Subscription(guard = "super::guard::SubscriptionGuard")]
impl ImportsSubscription {
    /// Import run `id` as `importRun(id)` shows it: sent at once, then whenever it changes (null while there is
    /// no such run).
    #[allow(
        clippy::unused_async,
        reason = "async-graphql requires subscription resolvers to be async"
    )]
    async fn import_run_changed(
        &self,
        context: &Context<'_>,
        id: Uuid,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<Option<ImportRun>>>> {
        let state = context.data::<AppState>()?.clone();
        let read = move |state: AppState| async move {
            projections::catalog::import_run(&state.pool, id).await
        };
        Ok(watch(
            state,
            read,
            move |state: AppState| async move {
                Ok(read(state).await.map_err(internal)?.map(ImportRun::from))
            },
            |_| None,
        ))
    }
}
