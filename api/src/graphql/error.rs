//! Errors as clients see them: a safe message and a stable `extensions.code`. Causes of internal errors go
//! to the log with the request's correlation id, never to the client.

use std::time::Duration;

use async_graphql::ErrorExtensions;
use domain::access::Denied;
use domain::user::UserError;

use crate::auth::identity::IdentityError;

/// The one place errors are mapped to responses. Resolvers return `Err(api_error.extend())`.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    Unauthenticated(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    Validation(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{message}")]
    RateLimited {
        message: String,
        retry_after: Duration,
    },
    /// A domain rule refused the command: `code` is one of the API's codes, `reason` the domain's stable
    /// code (e.g. WRONG_STATE, NOT_ASSIGNEE, SELF_APPROVAL).
    #[error("{message}")]
    Refused {
        code: &'static str,
        reason: &'static str,
        message: String,
    },
    /// A service Aegis depends on (the evidence store) cannot be reached; asking again later may work. The
    /// cause goes to the log.
    #[error("{message}")]
    Unavailable {
        message: String,
        #[source]
        cause: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// A read-side failure as the client sees it (INTERNAL); the cause goes to the log.
pub fn internal(error: sqlx::Error) -> async_graphql::Error {
    async_graphql::ErrorExtensions::extend(&ApiError::internal(error))
}

impl ApiError {
    pub fn internal(error: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Internal(Box::new(error))
    }

    pub const fn code(&self) -> &'static str {
        match self {
            Self::Unauthenticated(_) => "UNAUTHENTICATED",
            Self::Forbidden(_) => "FORBIDDEN",
            Self::Validation(_) => "VALIDATION",
            Self::NotFound(_) => "NOT_FOUND",
            Self::Conflict(_) => "CONFLICT",
            Self::RateLimited { .. } => "RATE_LIMITED",
            Self::Refused { code, .. } => code,
            Self::Unavailable { .. } => "UNAVAILABLE",
            Self::Internal(_) => "INTERNAL",
        }
    }

    /// A refusal by the role rules; `rejected` explains a presented-but-bad token.
    pub fn denied(denied: Denied, rejected: Option<&str>) -> Self {
        match (denied, rejected) {
            (Denied::NotSignedIn, Some(reason)) => {
                Self::Unauthenticated(format!("sign in again: {reason}"))
            }
            (Denied::NotSignedIn, None) => Self::Unauthenticated(denied.to_string()),
            // The same stable reasons as the domain's refusals, so clients handle both alike.
            (Denied::MissingRole, _) => Self::Refused {
                code: "FORBIDDEN",
                reason: "ROLE_REQUIRED",
                message: denied.to_string(),
            },
            (Denied::ReadOnly, _) => Self::Refused {
                code: "FORBIDDEN",
                reason: "READ_ONLY_TOKEN",
                message: denied.to_string(),
            },
        }
    }
}

impl ErrorExtensions for ApiError {
    fn extend(&self) -> async_graphql::Error {
        match self {
            Self::Internal(cause) => tracing::error!(error = %cause, "request failed"),
            Self::Unavailable { cause, .. } => {
                tracing::warn!(error = %cause, "a service Aegis depends on is unavailable");
            }
            _ => {}
        }
        let code = self.code();
        let retry_after = match self {
            Self::RateLimited { retry_after, .. } => Some(retry_after.as_secs().max(1)),
            _ => None,
        };
        let reason = match self {
            Self::Refused { reason, .. } => Some(*reason),
            _ => None,
        };
        async_graphql::Error::new(self.to_string()).extend_with(|_, extensions| {
            extensions.set("code", code);
            if let Some(seconds) = retry_after {
                extensions.set("retryAfterSeconds", seconds);
            }
            if let Some(reason) = reason {
                extensions.set("reason", reason);
            }
        })
    }
}

impl From<IdentityError> for ApiError {
    fn from(error: IdentityError) -> Self {
        let message = error.to_string();
        match error {
            IdentityError::InvalidCredentials | IdentityError::SecondFactorRequired => {
                Self::Unauthenticated(message)
            }
            IdentityError::Throttled { retry_after } => Self::RateLimited {
                message,
                retry_after,
            },
            IdentityError::Rejected(UserError::NotRegistered | UserError::UnknownToken(_)) => {
                Self::NotFound(message)
            }
            IdentityError::Invalid(_) | IdentityError::Rejected(_) => Self::Validation(message),
            IdentityError::UnknownUser => Self::NotFound(message),
            IdentityError::Conflict(_) => Self::Conflict(message),
            IdentityError::Internal(cause) => Self::Internal(cause),
        }
    }
}

impl ApiError {
    /// A domain refusal with its stable `reason`, classified into the API's codes by what the caller can do
    /// about it.
    pub fn refused(reason: &'static str, message: String) -> Self {
        let code = match reason {
            "ROLE_REQUIRED" | "NOT_ASSIGNEE" | "SELF_APPROVAL" | "NOT_UPLOADER" => "FORBIDDEN",
            "NOT_FOUND" | "UNKNOWN_EVIDENCE" | "UNKNOWN_RULE" | "UNKNOWN_UPLOAD" => "NOT_FOUND",
            // Evidence whose declared or uploaded bytes are not acceptable.
            "WRONG_SIDE" | "TOO_LARGE" | "EMPTY_FILE" | "UNSUPPORTED_TYPE" | "TYPE_MISMATCH"
            | "SIZE_MISMATCH" | "HASH_MISMATCH" | "CONTENT_MISMATCH" => "VALIDATION",
            reason if reason.starts_with("INVALID_") || reason == "INCONSISTENT_OUTCOME" => {
                "VALIDATION"
            }
            _ => "CONFLICT",
        };
        Self::Refused {
            code,
            reason,
            message,
        }
    }
}

/// `?` on an identity flow in a resolver.
pub fn identity_error(error: IdentityError) -> async_graphql::Error {
    ApiError::from(error).extend()
}

/// Gives every error of a response a code. Every error Aegis raises has one; async-graphql's own errors (a
/// syntax error, a field or argument the schema does not have, an argument value it cannot coerce such as an
/// `Int` out of range, the depth and complexity limits) have none and all say the request does not fit the
/// schema: `GRAPHQL_VALIDATION_FAILED`.
pub struct CodedErrors;

impl async_graphql::extensions::ExtensionFactory for CodedErrors {
    fn create(&self) -> std::sync::Arc<dyn async_graphql::extensions::Extension> {
        std::sync::Arc::new(CodedErrorsExtension)
    }
}

struct CodedErrorsExtension;

#[async_trait::async_trait]
impl async_graphql::extensions::Extension for CodedErrorsExtension {
    async fn request(
        &self,
        ctx: &async_graphql::extensions::ExtensionContext<'_>,
        next: async_graphql::extensions::NextRequest<'_>,
    ) -> async_graphql::Response {
        let mut response = next.run(ctx).await;
        for error in &mut response.errors {
            let extensions = error.extensions.get_or_insert_with(Default::default);
            if extensions.get("code").is_none() {
                extensions.set("code", "GRAPHQL_VALIDATION_FAILED");
            }
        }
        response
    }
}
