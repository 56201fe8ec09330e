//! The GraphQL schema: queries read from `projections`, mutations go through `commands`. Split per area and
//! merged here.

mod error;
mod scalars;
mod system;

use async_graphql::{EmptyMutation, MergedObject, MergedSubscription, Schema};

use crate::state::AppState;

/// Every query, by area.
#[derive(MergedObject, Default, Debug)]
pub struct Query(system::SystemQuery);

/// Every live update, by area.
#[derive(MergedSubscription, Default, Debug)]
pub struct Subscription(system::SystemSubscription);

pub type AegisSchema = Schema<Query, EmptyMutation, Subscription>;

/// Deep enough for GraphiQL's introspection query (depth 14, complexity about 200) and for real screens;
/// shallow enough to refuse abusive nesting.
const MAX_DEPTH: usize = 16;
const MAX_COMPLEXITY: usize = 2_000;

pub fn schema(state: &AppState) -> AegisSchema {
    Schema::build(Query::default(), EmptyMutation, Subscription::default())
        .data(state.clone())
        .limit_depth(MAX_DEPTH)
        .limit_complexity(MAX_COMPLEXITY)
        .extension(async_graphql::extensions::Tracing)
        .finish()
}

/// The SDL committed as `schema.graphql`, for clients and code generators.
pub fn sdl() -> String {
    Schema::build(Query::default(), EmptyMutation, Subscription::default())
        .finish()
        .sdl()
}
