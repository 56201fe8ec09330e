//! Trace spans for GraphQL: one per request, per parse and validation, and per root field — the resolvers that
//! read the database or run a command, which is where a slow request spends its time. Nested fields get none:
//! `async_graphql::extensions::Tracing` opens a span for every object field (its path formatted into it) and
//! looks up every leaf's type: a fifth of the time GraphQL took to answer a whole heatmap (thousands of cells).

use std::sync::Arc;

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextParseQuery, NextRequest, NextResolve,
    NextValidation, ResolveInfo,
};
use async_graphql::parser::types::ExecutableDocument;
use async_graphql::{Response, ServerError, ServerResult, ValidationResult, Value, Variables};
use tracing::Instrument;

pub struct RootFieldSpans;

impl ExtensionFactory for RootFieldSpans {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(RootFieldSpansExtension)
    }
}

struct RootFieldSpansExtension;

#[async_trait::async_trait]
impl Extension for RootFieldSpansExtension {
    async fn request(&self, ctx: &ExtensionContext<'_>, next: NextRequest<'_>) -> Response {
        next.run(ctx)
            .instrument(tracing::info_span!(target: "async_graphql::graphql", "request"))
            .await
    }

    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        next.run(ctx, query, variables)
            .instrument(tracing::info_span!(target: "async_graphql::graphql", "parse"))
            .await
    }

    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        next.run(ctx)
            .instrument(tracing::info_span!(target: "async_graphql::graphql", "validation"))
            .await
    }

    async fn resolve(
        &self,
        ctx: &ExtensionContext<'_>,
        info: ResolveInfo<'_>,
        next: NextResolve<'_>,
    ) -> ServerResult<Option<Value>> {
        if info.path_node.parent.is_some() || info.is_for_introspection {
            return next.run(ctx, info).await;
        }
        let span = tracing::info_span!(
            target: "async_graphql::graphql",
            "field",
            field = info.name,
            parent_type = info.parent_type,
        );
        let resolved = next.run(ctx, info).instrument(span.clone()).await;
        if let Err(error) = &resolved {
            span.in_scope(|| {
                tracing::info!(target: "async_graphql::graphql", error = %error.message, "error");
            });
        }
        resolved
    }
}
