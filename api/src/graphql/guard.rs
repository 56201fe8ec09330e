//! Deny by default: every root field of the schema names the operation it performs, and nothing resolves
//! unless the role rules (`domain::access`) allow the caller that operation. A root field missing from
//! [`FIELD_OPERATIONS`] is refused for everyone, and the role-matrix test fails on it.

use std::sync::Arc;

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextPrepareRequest, NextResolve, ResolveInfo,
};
use async_graphql::{ErrorExtensions, PathSegment, Pos, Request, ServerResult, Value};
use domain::access::{Audience, Operation, authorize};

use super::error::ApiError;
use crate::auth::identity::RequestOrigin;
use crate::auth::session::{Authentication, PresentedToken};
use crate::state::{AppState, Introspection};

/// The operation behind each root field, as `Type.field`.
pub const FIELD_OPERATIONS: &[(&str, Operation)] = &[
    ("Query.serverInfo", Operation::ReadServerInfo),
    ("Query.heatmap", Operation::ReadCoverage),
    ("Query.rescore", Operation::ReadCoverage),
    ("Query.previewScoringPolicy", Operation::ReadCoverage),
    ("Query.explainCoverage", Operation::ReadCoverage),
    ("Query.coverageDiff", Operation::ReadCoverage),
    ("Query.coverageTrend", Operation::ReadCoverage),
    ("Query.coverageSnapshots", Operation::ReadCoverage),
    ("Query.threatActorGaps", Operation::ReadCoverage),
    ("Query.complianceCoverage", Operation::ReadCoverage),
    (
        "Mutation.takeCoverageSnapshot",
        Operation::TakeCoverageSnapshots,
    ),
    ("Query.techniques", Operation::ReadCatalog),
    ("Query.technique", Operation::ReadCatalog),
    ("Query.tactics", Operation::ReadCatalog),
    ("Query.threatActors", Operation::ReadCatalog),
    ("Query.threatActor", Operation::ReadCatalog),
    ("Query.detectionRules", Operation::ReadCatalog),
    ("Query.templates", Operation::ReadCatalog),
    ("Query.complianceFrameworks", Operation::ReadCatalog),
    ("Query.controls", Operation::ReadCatalog),
    ("Query.catalog", Operation::ReadCatalog),
    ("Query.importRuns", Operation::ReadCatalog),
    ("Query.importRun", Operation::ReadCatalog),
    ("Mutation.startImport", Operation::ImportCatalog),
    (
        "Mutation.deployDetectionRule",
        Operation::ManageDetectionRules,
    ),
    (
        "Mutation.retireDetectionRule",
        Operation::ManageDetectionRules,
    ),
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
    ("Query.testCase", Operation::ReadTestCases),
    ("Query.testCases", Operation::ReadTestCases),
    ("Query.testCaseTotals", Operation::ReadTestCases),
    ("Query.history", Operation::ReadHistory),
    ("Query.auditLog", Operation::ReadAuditLog),
    ("Query.auditChainVerification", Operation::ReadAuditLog),
    ("Query.auditReplay", Operation::ReadAuditLog),
    ("Query.campaign", Operation::ReadCampaigns),
    ("Query.campaigns", Operation::ReadCampaigns),
    ("Query.scoringPolicy", Operation::ReadScoringPolicies),
    ("Query.activeScoringPolicy", Operation::ReadScoringPolicies),
    ("Query.scoringPolicies", Operation::ReadScoringPolicies),
    ("Mutation.planTestCase", Operation::WorkOnTestCases),
    (
        "Mutation.planTestCaseFromTemplate",
        Operation::WorkOnTestCases,
    ),
    ("Mutation.editTestCasePlan", Operation::WorkOnTestCases),
    ("Mutation.assignTestCase", Operation::WorkOnTestCases),
    ("Mutation.startExecution", Operation::WorkOnTestCases),
    ("Mutation.recordExecution", Operation::WorkOnTestCases),
    ("Mutation.completeExecution", Operation::WorkOnTestCases),
    ("Mutation.startReview", Operation::WorkOnTestCases),
    ("Mutation.recordDefenseOutcome", Operation::WorkOnTestCases),
    ("Mutation.submitForApproval", Operation::WorkOnTestCases),
    ("Mutation.approveResult", Operation::WorkOnTestCases),
    ("Mutation.rejectResult", Operation::WorkOnTestCases),
    ("Mutation.pauseTestCase", Operation::WorkOnTestCases),
    ("Mutation.resumeTestCase", Operation::WorkOnTestCases),
    ("Mutation.abandonTestCase", Operation::WorkOnTestCases),
    ("Mutation.reopenTestCase", Operation::WorkOnTestCases),
    ("Mutation.revealToBlue", Operation::WorkOnTestCases),
    ("Mutation.linkDetectionRule", Operation::WorkOnTestCases),
    ("Mutation.unlinkDetectionRule", Operation::WorkOnTestCases),
    ("Mutation.addComment", Operation::WorkOnTestCases),
    ("Mutation.requestEvidenceUpload", Operation::WorkOnTestCases),
    ("Mutation.confirmEvidenceUpload", Operation::WorkOnTestCases),
    ("Query.evidenceDownloadUrl", Operation::ReadTestCases),
    ("Mutation.removeEvidence", Operation::WorkOnTestCases),
    ("Mutation.createCampaign", Operation::ManageCampaigns),
    ("Mutation.editCampaign", Operation::ManageCampaigns),
    ("Mutation.activateCampaign", Operation::ManageCampaigns),
    ("Mutation.completeCampaign", Operation::ManageCampaigns),
    ("Mutation.cancelCampaign", Operation::ManageCampaigns),
    ("Mutation.addTestCaseToCampaign", Operation::ManageCampaigns),
    (
        "Mutation.removeTestCaseFromCampaign",
        Operation::ManageCampaigns,
    ),
    ("Mutation.setCampaignRecurrence", Operation::ManageCampaigns),
    (
        "Mutation.defineScoringPolicy",
        Operation::ManageScoringPolicies,
    ),
    (
        "Mutation.changeScoringPolicy",
        Operation::ManageScoringPolicies,
    ),
    (
        "Mutation.renameScoringPolicy",
        Operation::ManageScoringPolicies,
    ),
    (
        "Mutation.activateScoringPolicy",
        Operation::ManageScoringPolicies,
    ),
    (
        "Mutation.deactivateScoringPolicy",
        Operation::ManageScoringPolicies,
    ),
    (
        "Mutation.retireScoringPolicy",
        Operation::ManageScoringPolicies,
    ),
    (
        "Mutation.setTwoFactorRequirement",
        Operation::ManageSecurityPolicy,
    ),
    (
        "Subscription.projectionProgress",
        Operation::ReadSystemStatus,
    ),
    ("Subscription.testCaseChanged", Operation::ReadTestCases),
    ("Subscription.campaignChanged", Operation::ReadCampaigns),
    ("Subscription.importRunChanged", Operation::ReadCatalog),
    ("Query.myNotifications", Operation::ReadOwnNotifications),
    (
        "Query.unreadNotificationCount",
        Operation::ReadOwnNotifications,
    ),
    (
        "Mutation.markNotificationsRead",
        Operation::ManageOwnNotifications,
    ),
    (
        "Subscription.notificationsChanged",
        Operation::ReadOwnNotifications,
    ),
    ("Query.scheduledJobs", Operation::ReadJobRuns),
    ("Query.jobRuns", Operation::ReadJobRuns),
    ("Mutation.runJobNow", Operation::RunJobs),
    ("Query.intelItems", Operation::ReadIntel),
    ("Query.intelItem", Operation::ReadIntel),
    ("Query.openIntelItemCount", Operation::ReadIntel),
    ("Mutation.acknowledgeIntelItem", Operation::AcknowledgeIntel),
    ("Query.savedLayers", Operation::ReadCoverage),
    ("Query.savedLayer", Operation::ReadCoverage),
    (
        "Mutation.importNavigatorLayer",
        Operation::ManageSavedLayers,
    ),
    ("Mutation.renameSavedLayer", Operation::ManageSavedLayers),
    ("Mutation.deleteSavedLayer", Operation::ManageSavedLayers),
    ("Query.navigatorLayer", Operation::ReadCoverage),
    ("Query.coverageStix", Operation::ReadCoverage),
    ("Query.exportTestCases", Operation::ExportData),
    ("Query.exportCampaigns", Operation::ExportData),
    ("Query.campaignStream", Operation::ExportData),
    ("Query.report", Operation::ExportData),
    ("Mutation.importVectrCsv", Operation::ImportHistory),
    ("Mutation.importExecutionLog", Operation::WorkOnTestCases),
    ("Mutation.importCampaignStream", Operation::ImportHistory),
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
    authorize(&authentication.caller(), operation).map_err(|denied| match authentication {
        // Unverified callers are anonymous to the rules, but "sign in again" would be wrong: the token may be
        // good and asking again may work.
        Authentication::Unverified(reason) => ApiError::Unavailable {
            message: format!("{reason}; try again"),
            cause: (*reason).into(),
        },
        Authentication::Rejected(reason) => ApiError::denied(denied, Some(reason)),
        Authentication::Anonymous | Authentication::SignedIn(_) => ApiError::denied(denied, None),
    })?;
    // What anyone may do (signing in) is never held back by the signed-in caller's pending duties.
    let Some(principal) = authentication
        .principal()
        .filter(|_| operation.audience() != Audience::Anyone)
    else {
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
                record_denial(
                    ctx.data_opt::<AppState>(),
                    ctx.data_opt::<RequestOrigin>(),
                    authentication,
                    info.parent_type,
                    info.name,
                )
                .await;
                // The extension does not know where the field stands in the document: no location rather than
                // a made-up one.
                let mut server_error = error.extend().into_server_error(Pos::default());
                server_error.locations.clear();
                server_error.path = vec![PathSegment::Field(info.name.to_owned())];
                return Err(server_error);
            }
        }
        next.run(ctx, info).await
    }
}

/// Attaches `authentication` to `request`, and turns introspection off when the caller may not use it.
pub fn with_caller(state: &AppState, authentication: Authentication, request: Request) -> Request {
    let introspection = match state.web.introspection {
        Introspection::Everyone => true,
        Introspection::Authenticated => authentication.principal().is_some(),
        Introspection::Nobody => false,
    };
    let request = request.data(authentication);
    if introspection {
        request
    } else {
        request.disable_introspection()
    }
}

/// On a WebSocket every operation is checked against the connection's token afresh, so a sign-out,
/// revocation, deactivation or role change reaches open connections too.
#[derive(Debug, Clone, Copy, Default)]
pub struct CallerPerOperation;

impl ExtensionFactory for CallerPerOperation {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(CallerPerOperationExtension)
    }
}

struct CallerPerOperationExtension;

#[async_trait::async_trait]
impl Extension for CallerPerOperationExtension {
    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        let request = match (ctx.data_opt::<PresentedToken>(), ctx.data_opt::<AppState>()) {
            (Some(PresentedToken(token)), Some(state)) => {
                let authentication = state
                    .identity
                    .authenticator()
                    .authenticate_presented(token.as_deref())
                    .await;
                with_caller(state, authentication, request)
            }
            _ => request,
        };
        next.run(ctx, request).await
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
        if let Err(error) = check(authentication, "Subscription", field) {
            record_denial(
                ctx.data_opt::<AppState>(),
                ctx.data_opt::<RequestOrigin>(),
                authentication,
                "Subscription",
                field,
            )
            .await;
            return Err(error.extend());
        }
        Ok(())
    }
}

/// A signed-in user refused is a security event on their stream.
async fn record_denial(
    state: Option<&AppState>,
    origin: Option<&RequestOrigin>,
    authentication: &Authentication,
    type_name: &str,
    field: &str,
) {
    if let (Some(principal), Some(state), Some(origin)) =
        (authentication.principal(), state, origin)
    {
        let operation = format!("{type_name}.{field}");
        state
            .identity
            .record_access_denied(*origin, principal, &operation)
            .await;
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_token_that_cannot_be_checked_now_is_unavailable_not_signed_out() {
        let unverified = Authentication::Unverified("the token could not be checked in time");
        assert_eq!(
            check(&unverified, "Query", "me").unwrap_err().code(),
            "UNAVAILABLE"
        );
        // Nothing is granted meanwhile, but what anyone may do stays possible.
        assert!(check(&unverified, "Mutation", "login").is_ok());
        let rejected = Authentication::Rejected("the token has expired");
        assert_eq!(
            check(&rejected, "Query", "me").unwrap_err().code(),
            "UNAUTHENTICATED"
        );
    }
}
