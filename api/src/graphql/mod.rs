//! The GraphQL schema: queries read from `projections`, mutations go through `commands`. Split per area and
//! merged here; every root field is authorised by [`guard`] before it resolves.

mod account;
mod audit_log;
mod campaign_views;
mod campaigns;
mod catalog_views;
mod command;
mod coverage;
mod detection_rules;
mod error;
mod evidence;
pub mod guard;
mod history;
mod imports;
mod intel;
mod interop;
mod jobs;
mod notifications;
mod nul_guard;
mod paging;
mod saved_layers;
mod scalars;
mod scoring;
mod scoring_views;
mod spans;
mod system;
mod templates;
mod test_case_views;
mod test_cases;
mod users;
mod workflow_subscriptions;

use async_graphql::{MergedObject, MergedSubscription, Schema};

use crate::state::AppState;

pub use error::ApiError;

/// The `Idempotency-Key` header of a request: a retried mutation with the same key returns its first result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestedIdempotencyKey(pub String);

/// Every query, by area.
#[derive(MergedObject, Default, Debug)]
pub struct Query(
    system::SystemQuery,
    account::AccountQuery,
    users::UsersQuery,
    test_case_views::TestCasesQuery,
    campaign_views::CampaignsQuery,
    scoring_views::ScoringQuery,
    history::HistoryQuery,
    audit_log::AuditLogQuery,
    catalog_views::CatalogQuery,
    coverage::CoverageQuery,
    notifications::NotificationsQuery,
    evidence::EvidenceQuery,
    jobs::JobsQuery,
    intel::IntelQuery,
    saved_layers::SavedLayersQuery,
    interop::InteropQuery,
);

/// Every change, by area.
#[derive(MergedObject, Default, Debug)]
pub struct Mutation(
    account::AccountMutation,
    users::UsersMutation,
    test_cases::TestCasesMutation,
    campaigns::CampaignsMutation,
    scoring::ScoringMutation,
    detection_rules::DetectionRulesMutation,
    templates::TemplatesMutation,
    imports::ImportsMutation,
    coverage::CoverageMutation,
    notifications::NotificationsMutation,
    evidence::EvidenceMutation,
    jobs::JobsMutation,
    intel::IntelMutation,
    saved_layers::SavedLayersMutation,
    interop::InteropMutation,
);

/// Every live update, by area.
#[derive(MergedSubscription, Default, Debug)]
pub struct Subscription(
    system::SystemSubscription,
    workflow_subscriptions::WorkflowSubscription,
    imports::ImportsSubscription,
    notifications::NotificationsSubscription,
);

pub type AegisSchema = Schema<Query, Mutation, Subscription>;

/// Deep enough for GraphiQL's introspection query (depth 14, complexity about 200) and for real screens;
/// shallow enough to refuse abusive nesting.
const MAX_DEPTH: usize = 16;
const MAX_COMPLEXITY: usize = 2_000;

pub fn schema(state: &AppState) -> AegisSchema {
    Schema::build(
        Query::default(),
        Mutation::default(),
        Subscription::default(),
    )
    .data(state.clone())
    .limit_depth(MAX_DEPTH)
    .limit_complexity(MAX_COMPLEXITY)
    .extension(error::CodedErrors)
    .extension(nul_guard::NulGuard)
    .extension(guard::CallerPerOperation)
    .extension(guard::Authorization)
    .extension(spans::RootFieldSpans)
    .finish()
}

/// The SDL committed as `schema.graphql`, for clients and code generators.
pub fn sdl() -> String {
    Schema::build(
        Query::default(),
        Mutation::default(),
        Subscription::default(),
    )
    .finish()
    .sdl()
}
