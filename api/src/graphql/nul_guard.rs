//! Refuses a request any of whose strings holds U+0000. PostgreSQL stores no NUL in `text` or `jsonb`, so
//! such a string would otherwise fail deep inside a query or a command, as an INTERNAL error (schemathesis
//! found a catalog search doing so); here it is the client's VALIDATION error, before anything runs.

use std::sync::Arc;

use async_graphql::extensions::{Extension, ExtensionContext, ExtensionFactory, NextParseQuery};
use async_graphql::parser::types::ExecutableDocument;
use async_graphql::{ErrorExtensions, Pos, ServerResult, Variables};
use serde_json::Value;

pub struct NulGuard;

impl ExtensionFactory for NulGuard {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(NulGuardExtension)
    }
}

struct NulGuardExtension;

#[async_trait::async_trait]
impl Extension for NulGuardExtension {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let document = next.run(ctx, query, variables).await?;
        // The document's argument values and the variables, as JSON: every string the resolvers could see.
        let holds_nul =
            |json: serde_json::Result<Value>| json.is_ok_and(|json| any_string_holds_nul(&json));
        if holds_nul(serde_json::to_value(&document)) || holds_nul(serde_json::to_value(variables))
        {
            return Err(async_graphql::Error::new(
                "text may not contain the NUL character (U+0000)",
            )
            .extend_with(|_, extensions| extensions.set("code", "VALIDATION"))
            .into_server_error(Pos::default()));
        }
        Ok(document)
    }
}

fn any_string_holds_nul(json: &Value) -> bool {
    match json {
        Value::String(text) => text.contains('\0'),
        Value::Array(items) => items.iter().any(any_string_holds_nul),
        Value::Object(fields) => fields
            .iter()
            .any(|(key, value)| key.contains('\0') || any_string_holds_nul(value)),
        Value::Null | Value::Bool(_) | Value::Number(_) => false,
    }
}
