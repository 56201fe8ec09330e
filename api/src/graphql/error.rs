//! Errors as clients see them: a message and a stable `extensions.code`. Causes are logged, never returned.

use async_graphql::ErrorExtensions;

/// The one place errors are mapped to responses. Resolvers return `Err(api_error.extend())`.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl ApiError {
    pub fn internal(error: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Internal(Box::new(error))
    }
}

impl ErrorExtensions for ApiError {
    fn extend(&self) -> async_graphql::Error {
        let code = match self {
            Self::Internal(cause) => {
                tracing::error!(error = %cause, "request failed");
                "INTERNAL"
            }
        };
        async_graphql::Error::new(self.to_string())
            .extend_with(|_, extensions| extensions.set("code", code))
    }
}
