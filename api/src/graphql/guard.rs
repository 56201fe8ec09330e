//! Deny by default: every root field of the schema names the operation it performs, and nothing resolves
//! unless the role rules (`domain::access`) allow the caller that operation. A root field missing from
//! [`FIELD_OPERATIONS`] is refused for everyone, and the role-matrix test fails on it.

use std::sync::Arc;

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextResolve, ResolveInfo,
};
use async_graphql::{ErrorExtensions, PathSegment, Pos, ServerResult, Value};
use domain::access::{Operation, authorize};

use super::error::ApiError;
use crate::auth::identity::RequestOrigin;
use crate::auth::session::Authentication;
use crate::state::AppState;

/// The operation behind each root field, as `Type.field`.
pub const FIELD_OPERATIONS: &[(&str, Operation)] = &[
    ("Query.serverInfo", Operation::ReadServerInfo),
    ("Query.projections", Operation::ReadSystemStatus),
    ("Query.me", Operation::ReadOwnAccount),
    ("Query.myApiTokens", Operation::ReadOwnAccount),
    ("Query.users", Operation::ReadUsers),
    ("Mutation.login", Operation::SignIn),
    ("Mutation.logout", Operation::ManageOwnAccount),
    ("Mutation.changeMyPassword", Operation::ManageOwnAccount),
    ("Mutation.createApiToken", Operation::ManageOwnAccount),
    ("Mutation.revokeApiToken", Operation::ManageOwnAccount),
    ("Mutation.updateMyProfile", Operation::ManageOwnAccount),
    ("Mutation.disableTwoFactor", Operation::ManageOwnAccount),
    ("Mutation.beginTwoFactor", Operation::ManageOwnAccount),
    ("Mutation.confirmTwoFactor", Operation::ManageOwnAccount),
    ("Mutation.createUser", Operation::ManageUsers),
    ("Mutation.updateUser", Operation::ManageUsers),
    ("Mutation.resetTwoFactor", Operation::ManageUsers),
    ("Mutation.grantRole", Operation::ManageUsers),
    ("Mutation.revokeRole", Operation::ManageUsers),
    ("Mutation.deactivateUser", Operation::ManageUsers),
    ("Mutation.reactivateUser", Operation::ManageUsers),
    ("Mutation.requirePasswordReset", Operation::ManageUsers),
    ("Query.securityPolicy", Operation::ReadSecurityPolicy),
    (
        "Mutation.setTwoFactorRequirement",
        Operation::ManageSecurityPolicy,
    ),
    (
        "Subscription.projectionProgress",
        Operation::ReadSystemStatus,
    ),
];

/// Operations still allowed while the caller must change a forced-reset password.
const ALLOWED_DURING_RESET: &[&str] = &["Query.me", "Mutation.changeMyPassword", "Mutation.logout"];

/// Operations still allowed while a role of the caller requires two-factor login they have not set up.
const ALLOWED_DURING_ENROLMENT: &[&str] = &[
    "Query.me",
    "Query.securityPolicy",
    "Mutation.beginTwoFactor",
    "Mutation.confirmTwoFactor",
    "Mutation.logout",
];

pub fn operation_of(type_name: &str, field: &str) -> Option<Operation> {
    FIELD_OPERATIONS
        .iter()
        .find(|(name, _)| name.split_once('.') == Some((type_name, field)))
        .map(|(_, operation)| *operation)
}

/// Checks one root field for the caller of the request.
pub fn check(
    authentication: &Authentication,
    type_name: &str,
    field: &str,
) -> Result<(), ApiError> {
    let Some(operation) = operation_of(type_name, field) else {
        return Err(ApiError::Forbidden(format!(
            "{type_name}.{field} has no access rule"
        )));
    };
    let rejected = match authentication {
        Authentication::Rejected(reason) => Some(*reason),
        _ => None,
    };
    authorize(&authentication.caller(), operation)
        .map_err(|denied| ApiError::denied(denied, rejected))?;
    let Some(principal) = authentication.principal() else {
        return Ok(());
    };
    let name = format!("{type_name}.{field}");
    if principal.password_reset_required && !ALLOWED_DURING_RESET.contains(&name.as_str()) {
        return Err(ApiError::Forbidden("change your password first".to_owned()));
    }
    if principal.two_factor_enrolment_required && !ALLOWED_DURING_ENROLMENT.contains(&name.as_str())
    {
        return Err(ApiError::Forbidden(
            "set up two-factor login first (beginTwoFactor)".to_owned(),
        ));
    }
    Ok(())
}

/// The schema extension that runs [`check`] before every query and mutation root field.
#[derive(Debug, Clone, Copy, Default)]
pub struct Authorization;

impl ExtensionFactory for Authorization {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(AuthorizationExtension)
    }
}

struct AuthorizationExtension;

#[async_trait::async_trait]
impl Extension for AuthorizationExtension {
    async fn resolve(
        &self,
        ctx: &ExtensionContext<'_>,
        info: ResolveInfo<'_>,
        next: NextResolve<'_>,
    ) -> ServerResult<Option<Value>> {
        let is_root = info.path_node.parent.is_none();
        let is_operation_root = matches!(info.parent_type, "Query" | "Mutation");
        if is_root && is_operation_root && !info.name.starts_with("__") {
            let authentication = ctx
                .data_opt::<Authentication>()
                .unwrap_or(&Authentication::Anonymous);
            if let Err(error) = check(authentication, info.parent_type, info.name) {
                let operation = format!("{}.{}", info.parent_type, info.name);
                // A signed-in user refused is a security event on their stream.
                if let (Some(principal), Some(state), Some(origin)) = (
                    authentication.principal(),
                    ctx.data_opt::<AppState>(),
                    ctx.data_opt::<RequestOrigin>(),
                ) {
                    state
                        .identity
                        .record_access_denied(*origin, principal, &operation)
                        .await;
                }
                let mut server_error = error.extend().into_server_error(Pos::default());
                server_error.path = vec![PathSegment::Field(info.name.to_owned())];
                return Err(server_error);
            }
        }
        next.run(ctx, info).await
    }
}

/// Subscriptions resolve outside the extension's reach: each subscription object carries this guard.
#[derive(Debug, Clone, Copy, Default)]
pub struct SubscriptionGuard;

impl async_graphql::Guard for SubscriptionGuard {
    async fn check(&self, ctx: &async_graphql::Context<'_>) -> async_graphql::Result<()> {
        let authentication = ctx
            .data_opt::<Authentication>()
            .unwrap_or(&Authentication::Anonymous);
        let field = ctx.item.node.name.node.as_str();
        check(authentication, "Subscription", field).map_err(|error| error.extend())
    }
}
