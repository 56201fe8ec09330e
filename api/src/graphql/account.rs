//! The caller's own account: sign in and out, profile, password, two-factor login, API tokens.

use async_graphql::{Context, Enum, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};
use domain::role::Role;
use domain::user::TokenScope;
use uuid::Uuid;

use super::error::{ApiError, identity_error};
use crate::auth::identity::RequestOrigin;
use crate::auth::session::{Authentication, Principal, cleared_session_cookie, session_cookie};
use crate::state::AppState;

/// One of Aegis' six roles.
#[derive(Enum, Clone, Copy, PartialEq, Eq, Debug)]
#[graphql(remote = "domain::role::Role")]
pub enum RoleName {
    Admin,
    RedLead,
    RedTech,
    BlueLead,
    BlueTech,
    Viewer,
}

/// The signed-in user.
#[derive(SimpleObject, Debug)]
#[allow(
    clippy::struct_excessive_bools,
    reason = "independent flags clients read, not a state machine"
)]
pub struct Me {
    id: Uuid,
    email: String,
    display_name: String,
    roles: Vec<RoleName>,
    two_factor_enabled: bool,
    /// An admin forced a password reset: change it before doing anything else.
    password_change_required: bool,
    /// A role of yours requires two-factor login: set it up before doing anything else.
    two_factor_enrolment_required: bool,
    /// This request's token may only read.
    read_only: bool,
}

/// A new session; its token travels only in the HttpOnly cookie.
#[derive(SimpleObject, Debug)]
pub struct LoginResult {
    user_id: Uuid,
    expires_at: DateTime<Utc>,
    password_change_required: bool,
}

/// What an API token may do.
#[derive(Enum, Clone, Copy, PartialEq, Eq, Debug)]
pub enum TokenScopeKind {
    /// Whatever the user's roles allow when the token is used.
    Full,
    /// Reads only.
    ReadOnly,
    /// Reads of one campaign only.
    CampaignReadOnly,
}

#[derive(InputObject, Debug)]
pub struct TokenScopeInput {
    kind: TokenScopeKind,
    /// Required for `CAMPAIGN_READ_ONLY`.
    campaign_id: Option<Uuid>,
}

impl TokenScopeInput {
    fn parse(&self) -> Result<TokenScope, ApiError> {
        match (self.kind, self.campaign_id) {
            (TokenScopeKind::Full, None) => Ok(TokenScope::Full),
            (TokenScopeKind::ReadOnly, None) => Ok(TokenScope::ReadOnly),
            (TokenScopeKind::CampaignReadOnly, Some(campaign_id)) => {
                Ok(TokenScope::CampaignReadOnly { campaign_id })
            }
            (TokenScopeKind::CampaignReadOnly, None) => Err(ApiError::Validation(
                "a campaign-scoped token needs campaignId".to_owned(),
            )),
            (_, Some(_)) => Err(ApiError::Validation(
                "only CAMPAIGN_READ_ONLY takes a campaignId".to_owned(),
            )),
        }
    }
}

/// An API token as its owner lists it; its value was shown once, at creation.
#[derive(SimpleObject, Debug)]
pub struct ApiToken {
    id: Uuid,
    name: String,
    scope: TokenScopeKind,
    campaign_id: Option<Uuid>,
    created_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    revoked_at: Option<DateTime<Utc>>,
}

/// A new API token. `token` is shown this once; send it as `Authorization: Bearer <token>`.
#[derive(SimpleObject, Debug)]
pub struct CreatedApiToken {
    id: Uuid,
    token: String,
}

/// Two-factor enrolment: add the secret to an authenticator app (the URI renders as a QR code), then
/// confirm with a first code.
#[derive(SimpleObject, Debug)]
pub struct TwoFactorEnrolment {
    secret: String,
    otpauth_uri: String,
}

pub fn principal<'a>(context: &'a Context<'_>) -> async_graphql::Result<&'a Principal> {
    context
        .data::<Authentication>()?
        .principal()
        .ok_or_else(|| ApiError::Unauthenticated("sign in first".to_owned()).extend())
}

pub fn origin(context: &Context<'_>) -> async_graphql::Result<RequestOrigin> {
    Ok(*context.data::<RequestOrigin>()?)
}

use async_graphql::ErrorExtensions as _;

#[derive(Debug, Default)]
pub struct AccountQuery;

#[Object]
impl AccountQuery {
    /// The signed-in user.
    async fn me(&self, context: &Context<'_>) -> async_graphql::Result<Me> {
        let principal = principal(context)?;
        let state = context.data::<AppState>()?;
        let profile = projections::users::find(&state.pool, principal.user_id)
            .await
            .map_err(|error| ApiError::internal(error).extend())?;
        let account = commands::accounts::find(&state.pool, principal.user_id)
            .await
            .map_err(|error| ApiError::internal(error).extend())?
            .ok_or_else(|| ApiError::NotFound("no such user".to_owned()).extend())?;
        Ok(Me {
            id: principal.user_id,
            display_name: profile
                .map_or_else(|| account.email.clone(), |profile| profile.display_name),
            email: account.email,
            roles: principal
                .roles
                .iter()
                .copied()
                .map(RoleName::from)
                .collect(),
            two_factor_enabled: account.totp_enabled,
            password_change_required: principal.password_reset_required,
            two_factor_enrolment_required: principal.two_factor_enrolment_required,
            read_only: principal.read_only,
        })
    }

    /// The signed-in user's API tokens, newest first.
    async fn my_api_tokens(&self, context: &Context<'_>) -> async_graphql::Result<Vec<ApiToken>> {
        let principal = principal(context)?;
        let state = context.data::<AppState>()?;
        let tokens = commands::accounts::api_tokens(&state.pool, principal.user_id)
            .await
            .map_err(|error| ApiError::internal(error).extend())?;
        Ok(tokens
            .into_iter()
            .map(|token| {
                let scope = serde_json::from_value(token.scope).unwrap_or(TokenScope::ReadOnly);
                let (scope, campaign_id) = match scope {
                    TokenScope::Full => (TokenScopeKind::Full, None),
                    TokenScope::ReadOnly => (TokenScopeKind::ReadOnly, None),
                    TokenScope::CampaignReadOnly { campaign_id } => {
                        (TokenScopeKind::CampaignReadOnly, Some(campaign_id))
                    }
                };
                ApiToken {
                    id: token.token_id,
                    name: token.name,
                    scope,
                    campaign_id,
                    created_at: token.created_at,
                    expires_at: token.expires_at,
                    revoked_at: token.revoked_at,
                }
            })
            .collect())
    }
}

#[derive(Debug, Default)]
pub struct AccountMutation;

#[Object]
impl AccountMutation {
    /// Signs in; the session token is set as an HttpOnly cookie. `secondFactor` is the TOTP code (or a
    /// recovery code) when two-factor login is on.
    async fn login(
        &self,
        context: &Context<'_>,
        email: String,
        password: String,
        second_factor: Option<String>,
    ) -> async_graphql::Result<LoginResult> {
        let state = context.data::<AppState>()?;
        let signed_in = state
            .identity
            .login(
                origin(context)?,
                &email,
                &password,
                second_factor.as_deref(),
            )
            .await
            .map_err(identity_error)?;
        context.append_http_header(
            axum::http::header::SET_COOKIE,
            session_cookie(
                &signed_in.token,
                state.identity.session_ttl(),
                state.web.secure_cookies,
            ),
        );
        Ok(LoginResult {
            user_id: signed_in.user_id,
            expires_at: signed_in.expires_at,
            password_change_required: signed_in.password_change_required,
        })
    }

    /// Ends this session everywhere; the cookie is cleared.
    async fn logout(&self, context: &Context<'_>) -> async_graphql::Result<bool> {
        let state = context.data::<AppState>()?;
        state
            .identity
            .logout(origin(context)?, principal(context)?)
            .await
            .map_err(identity_error)?;
        context.append_http_header(
            axum::http::header::SET_COOKIE,
            cleared_session_cookie(state.web.secure_cookies),
        );
        Ok(true)
    }

    /// Changes the signed-in user's password; the current one is required.
    async fn change_my_password(
        &self,
        context: &Context<'_>,
        current_password: String,
        new_password: String,
    ) -> async_graphql::Result<bool> {
        let state = context.data::<AppState>()?;
        state
            .identity
            .change_password(
                origin(context)?,
                principal(context)?,
                &current_password,
                &new_password,
            )
            .await
            .map_err(identity_error)?;
        Ok(true)
    }

    /// Issues an API token for integrators; its value is returned this once.
    async fn create_api_token(
        &self,
        context: &Context<'_>,
        name: String,
        scope: TokenScopeInput,
        expires_at: DateTime<Utc>,
    ) -> async_graphql::Result<CreatedApiToken> {
        let state = context.data::<AppState>()?;
        let scope = scope.parse().map_err(|error| error.extend())?;
        let (id, token) = state
            .identity
            .create_api_token(
                origin(context)?,
                principal(context)?,
                &name,
                scope,
                expires_at,
            )
            .await
            .map_err(identity_error)?;
        Ok(CreatedApiToken { id, token })
    }

    /// Revokes one of the signed-in user's API tokens, with every copy attenuated from it.
    async fn revoke_api_token(
        &self,
        context: &Context<'_>,
        id: Uuid,
    ) -> async_graphql::Result<bool> {
        let state = context.data::<AppState>()?;
        state
            .identity
            .revoke_api_token(origin(context)?, principal(context)?, id)
            .await
            .map_err(identity_error)?;
        Ok(true)
    }

    /// Changes the signed-in user's display name and/or e-mail address.
    async fn update_my_profile(
        &self,
        context: &Context<'_>,
        display_name: Option<String>,
        email: Option<String>,
    ) -> async_graphql::Result<bool> {
        let state = context.data::<AppState>()?;
        let principal = principal(context)?;
        state
            .identity
            .update_profile(
                origin(context)?,
                principal,
                principal.user_id,
                display_name.as_deref(),
                email.as_deref(),
            )
            .await
            .map_err(identity_error)?;
        Ok(true)
    }

    /// Turns two-factor login off; needs a current code or a recovery code.
    async fn disable_two_factor(
        &self,
        context: &Context<'_>,
        code: String,
    ) -> async_graphql::Result<bool> {
        let state = context.data::<AppState>()?;
        state
            .identity
            .disable_two_factor(origin(context)?, principal(context)?, &code)
            .await
            .map_err(identity_error)?;
        Ok(true)
    }

    /// Starts two-factor enrolment.
    async fn begin_two_factor(
        &self,
        context: &Context<'_>,
    ) -> async_graphql::Result<TwoFactorEnrolment> {
        let state = context.data::<AppState>()?;
        let (secret, otpauth_uri) = state
            .identity
            .begin_two_factor(principal(context)?)
            .await
            .map_err(identity_error)?;
        Ok(TwoFactorEnrolment {
            secret,
            otpauth_uri,
        })
    }

    /// Confirms enrolment with a code from the app; returns recovery codes, shown this once.
    async fn confirm_two_factor(
        &self,
        context: &Context<'_>,
        code: String,
    ) -> async_graphql::Result<Vec<String>> {
        let state = context.data::<AppState>()?;
        state
            .identity
            .confirm_two_factor(origin(context)?, principal(context)?, &code)
            .await
            .map_err(identity_error)
    }
}

/// Roles from the API's names to the domain's.
pub fn domain_roles(roles: &[RoleName]) -> std::collections::BTreeSet<Role> {
    roles.iter().copied().map(Role::from).collect()
}
