//! Interop over GraphQL, the same operations as `aegis export`, `aegis import` and `aegis report`: heatmap
//! views as Navigator layers and STIX bundles (for everyone who reads coverage); test cases and campaigns as
//! CSV or JSON, a campaign's signed history and printable reports (admins: they are unredacted); VECTR
//! exports and campaign histories in (admins); execution logs in (the workflow decides per entry).

use async_graphql::{Context, Enum, ErrorExtensions, Json, Object, SimpleObject};
use base64::Engine as _;
use chrono::{DateTime, Utc};
use commands::portable::{self, StreamFile};
use importers::interop::navigator::Domain;
use uuid::Uuid;

use super::catalog_views::AttackDomain;
use super::command::caller;
use super::error::ApiError;
use crate::execution_import::{self, LogFormat};
use crate::export::{self, Dataset, Format};
use crate::layers::{self, LayerView};
use crate::report::{self, ReportRequest, Subject};
use crate::state::AppState;

fn domain(domain: AttackDomain) -> Domain {
    match domain {
        AttackDomain::Enterprise => Domain::Enterprise,
        AttackDomain::Mobile => Domain::Mobile,
        AttackDomain::Ics => Domain::Ics,
    }
}

/// An import's problem with what it was given (a malformed file) as VALIDATION; anything else as INTERNAL.
fn refused_input(error: anyhow::Error) -> async_graphql::Error {
    let invalid = error.chain().any(|cause| {
        cause.is::<importers::interop::navigator::LayerError>()
            || cause.is::<importers::interop::vectr::CsvError>()
            || cause.is::<importers::interop::execution_log::ExecutionLogError>()
    });
    if invalid {
        ApiError::Validation(format!("{error:#}")).extend()
    } else {
        ApiError::Internal(error.into()).extend()
    }
}

/// A campaign that is not there as NOT_FOUND; anything else as INTERNAL.
fn not_found_or_internal(error: anyhow::Error) -> async_graphql::Error {
    match error.downcast::<report::NoSuchCampaign>() {
        Ok(missing) => ApiError::NotFound(missing.to_string()).extend(),
        Err(error) => ApiError::Internal(error.into()).extend(),
    }
}

/// CSV or JSON.
#[derive(Enum, Clone, Copy, PartialEq, Eq, Debug)]
pub enum ExportFormat {
    Csv,
    Json,
}

/// What `report` returns.
#[derive(Enum, Clone, Copy, PartialEq, Eq, Debug, Default)]
pub enum ReportFormat {
    #[default]
    Html,
    /// A PDF, base64-encoded.
    Pdf,
}

/// Which execution log format.
#[derive(Enum, Clone, Copy, PartialEq, Eq, Debug)]
pub enum ExecutionLogFormat {
    /// ATTiRe JSON.
    Attire,
    /// The Invoke-AtomicRedTeam default CSV execution log.
    AtomicCsv,
}

/// What `importVectrCsv` did.
#[derive(SimpleObject, Debug)]
pub struct VectrImportResult {
    campaigns: i32,
    test_cases: i32,
    already_imported: i32,
    /// Rows left out, each with the reason.
    skipped: Vec<String>,
}

/// What `importExecutionLog` did.
#[derive(SimpleObject, Debug)]
pub struct ExecutionLogImportResult {
    /// Executions recorded on test cases open for them.
    recorded: i32,
    /// Test cases planned for executions nothing was open for.
    planned: i32,
    already_recorded: i32,
    skipped: Vec<String>,
}

/// What `importCampaignStream` did.
#[derive(SimpleObject, Debug)]
pub struct StreamImportResult {
    subject: String,
    /// The public key (hex) that signed the file.
    signed_by: String,
    streams: i32,
    appended: i32,
    already_present: i32,
}

fn count(value: usize) -> i32 {
    i32::try_from(value).unwrap_or(i32::MAX)
}

#[derive(Debug, Default)]
pub struct InteropQuery;

#[Object]
impl InteropQuery {
    /// The heatmap view as an ATT&CK Navigator layer (format 4.5): now or as of a moment, one campaign's, or
    /// one threat actor's techniques (untested in grey); with `diffFrom`, the change from that moment to
    /// `asOf` (or now), scored −100 to 100.
    async fn navigator_layer(
        &self,
        context: &Context<'_>,
        domain: AttackDomain,
        as_of: Option<DateTime<Utc>>,
        campaign_id: Option<Uuid>,
        actor: Option<String>,
        diff_from: Option<DateTime<Utc>>,
    ) -> async_graphql::Result<Json<serde_json::Value>> {
        let state = context.data::<AppState>()?;
        let view = LayerView {
            domain: self::domain(domain),
            as_of,
            campaign: campaign_id,
            actor,
        };
        let layer = match diff_from {
            Some(from) => layers::diff_layer(&state.pool, &view, from, Utc::now()).await,
            None => layers::layer(&state.pool, &view, Utc::now()).await,
        }
        .map_err(|error| ApiError::Internal(error.into()).extend())?;
        Ok(Json(serde_json::to_value(
            importers::interop::navigator::to_v45(&layer),
        )?))
    }

    /// The heatmap view's coverage as a STIX 2.1 bundle.
    async fn coverage_stix(
        &self,
        context: &Context<'_>,
        domain: AttackDomain,
        as_of: Option<DateTime<Utc>>,
        campaign_id: Option<Uuid>,
        #[graphql(default = "Aegis")] organisation: String,
    ) -> async_graphql::Result<Json<serde_json::Value>> {
        let state = context.data::<AppState>()?;
        let view = LayerView {
            domain: self::domain(domain),
            as_of,
            campaign: campaign_id,
            actor: None,
        };
        let bundle = crate::stix::coverage_bundle(&state.pool, &view, &organisation, Utc::now())
            .await
            .map_err(|error| ApiError::Internal(error.into()).extend())?;
        Ok(Json(bundle))
    }

    /// Every test case (one campaign's with `campaignId`) as CSV or JSON text, unredacted.
    async fn export_test_cases(
        &self,
        context: &Context<'_>,
        format: ExportFormat,
        campaign_id: Option<Uuid>,
    ) -> async_graphql::Result<String> {
        exported(context, Dataset::TestCases, format, campaign_id).await
    }

    /// Every campaign (or one) with its progress, as CSV or JSON text.
    async fn export_campaigns(
        &self,
        context: &Context<'_>,
        format: ExportFormat,
        campaign_id: Option<Uuid>,
    ) -> async_graphql::Result<String> {
        exported(context, Dataset::Campaigns, format, campaign_id).await
    }

    /// A campaign's whole history, signed by this instance, for `importCampaignStream` elsewhere.
    async fn campaign_stream(
        &self,
        context: &Context<'_>,
        campaign_id: Uuid,
    ) -> async_graphql::Result<Json<StreamFile>> {
        let state = context.data::<AppState>()?;
        let keys = state.identity.authenticator().keys();
        crate::portable::export_campaign(&state.pool, keys, campaign_id)
            .await
            .map(Json)
            .map_err(not_found_or_internal)
    }

    /// A printable report of a campaign, or of the coverage without `campaignId`: HTML with print CSS, or with
    /// `format: PDF` the page printed by headless Chromium (`AEGIS_CHROMIUM`, else `chromium`), base64.
    async fn report(
        &self,
        context: &Context<'_>,
        campaign_id: Option<Uuid>,
        domain: AttackDomain,
        as_of: Option<DateTime<Utc>>,
        actor: Option<String>,
        #[graphql(default)] format: ReportFormat,
    ) -> async_graphql::Result<String> {
        let state = context.data::<AppState>()?;
        let request = ReportRequest {
            subject: campaign_id.map_or(Subject::Coverage, Subject::Campaign),
            domain: self::domain(domain),
            as_of,
            actor,
        };
        let html = report::html(&state.pool, &request, Utc::now())
            .await
            .map_err(not_found_or_internal)?;
        match format {
            ReportFormat::Html => Ok(html),
            ReportFormat::Pdf => {
                let chromium =
                    std::env::var_os("AEGIS_CHROMIUM").unwrap_or_else(|| "chromium".into());
                let pdf = report::pdf(&html, std::path::Path::new(&chromium))
                    .await
                    .map_err(|error| ApiError::Internal(error.into()).extend())?;
                Ok(base64::engine::general_purpose::STANDARD.encode(pdf))
            }
        }
    }
}

async fn exported(
    context: &Context<'_>,
    dataset: Dataset,
    format: ExportFormat,
    campaign: Option<Uuid>,
) -> async_graphql::Result<String> {
    let state = context.data::<AppState>()?;
    let format = match format {
        ExportFormat::Csv => Format::Csv,
        ExportFormat::Json => Format::Json,
    };
    let bytes = export::render(&state.pool, dataset, format, campaign)
        .await
        .map_err(|error| ApiError::Internal(error.into()).extend())?;
    Ok(String::from_utf8(bytes)?)
}

#[derive(Debug, Default)]
pub struct InteropMutation;

#[Object]
impl InteropMutation {
    /// Imports a VECTR CSV export (its text): its campaigns, and its rows as test cases taken through the
    /// workflow with the rows' own times. Importing the same export again adds nothing.
    async fn import_vectr_csv(
        &self,
        context: &Context<'_>,
        csv: String,
    ) -> async_graphql::Result<VectrImportResult> {
        let state = context.data::<AppState>()?;
        let caller = caller(context)?;
        let mut command_context = caller.context.clone();
        command_context.idempotency_key = None;
        let imported = crate::vectr_import::import(
            state,
            &caller.actor,
            &command_context,
            csv.as_bytes(),
            Utc::now(),
        )
        .await
        .map_err(refused_input)?;
        Ok(VectrImportResult {
            campaigns: count(imported.campaigns),
            test_cases: count(imported.test_cases),
            already_imported: count(imported.already_imported),
            skipped: imported.skipped,
        })
    }

    /// Records the executions of an execution log (its text) on the open test cases of the same atomic test
    /// and technique, or on new ones; what the workflow refuses you is listed in `skipped`.
    async fn import_execution_log(
        &self,
        context: &Context<'_>,
        log: String,
        format: ExecutionLogFormat,
    ) -> async_graphql::Result<ExecutionLogImportResult> {
        let state = context.data::<AppState>()?;
        let caller = caller(context)?;
        let mut command_context = caller.context.clone();
        command_context.idempotency_key = None;
        let format = match format {
            ExecutionLogFormat::Attire => LogFormat::Attire,
            ExecutionLogFormat::AtomicCsv => LogFormat::AtomicCsv,
        };
        let imported = execution_import::import(
            state,
            &caller.actor,
            &command_context,
            format,
            log.as_bytes(),
        )
        .await
        .map_err(refused_input)?;
        Ok(ExecutionLogImportResult {
            recorded: count(imported.recorded),
            planned: count(imported.planned),
            already_recorded: count(imported.already_recorded),
            skipped: imported.skipped,
        })
    }

    /// Verifies a campaign history exported by another instance (`campaignStream`, `aegis export stream`)
    /// and replays what is not here yet; with `trustKey` only a file signed by that key is accepted.
    async fn import_campaign_stream(
        &self,
        context: &Context<'_>,
        stream: Json<StreamFile>,
        trust_key: Option<String>,
    ) -> async_graphql::Result<StreamImportResult> {
        let state = context.data::<AppState>()?;
        let file = stream.0;
        let imported = portable::import(&state.pool, &file, trust_key.as_deref())
            .await
            .map_err(|error| match error {
                portable::PortableError::Database(cause) => {
                    ApiError::Internal(cause.into()).extend()
                }
                portable::PortableError::Conflict { .. } => {
                    ApiError::Conflict(error.to_string()).extend()
                }
                refused => ApiError::Validation(refused.to_string()).extend(),
            })?;
        Ok(StreamImportResult {
            subject: file.subject,
            signed_by: file.signature.public_key,
            streams: count(imported.streams),
            appended: count(imported.appended),
            already_present: count(imported.already_present),
        })
    }
}
