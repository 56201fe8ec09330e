//! User administration and the user list.

use async_graphql::connection::{Connection, Edge, EmptyFields, query};
use async_graphql::{Context, ErrorExtensions, Object, SimpleObject};
use chrono::{DateTime, Utc};
use domain::role::Role;
use domain::user::UserCommand;
use uuid::Uuid;

use super::account::{RoleName, domain_roles, origin, principal};
use super::error::{ApiError, identity_error};
use super::paging::page_size;
use crate::state::AppState;

/// A user as lists show them.
#[derive(SimpleObject, Debug)]
pub struct UserSummary {
    id: Uuid,
    email: String,
    display_name: String,
    roles: Vec<RoleName>,
    active: bool,
    two_factor_enabled: bool,
    created_at: DateTime<Utc>,
}

/// A new user and the one-time password to hand over (to be changed at first sign-in).
#[derive(SimpleObject, Debug)]
pub struct CreatedUser {
    id: Uuid,
    one_time_password: String,
}

#[derive(Debug, Default)]
pub struct UsersQuery;

#[Object]
impl UsersQuery {
    /// The organisation's security settings.
    async fn security_policy(
        &self,
        context: &Context<'_>,
    ) -> async_graphql::Result<SecurityPolicy> {
        let state = context.data::<AppState>()?;
        let roles = state
            .identity
            .two_factor_required_roles()
            .await
            .map_err(identity_error)?;
        Ok(SecurityPolicy {
            two_factor_required_for: roles.into_iter().map(RoleName::from).collect(),
        })
    }

    /// Users ordered by e-mail address.
    #[graphql(complexity = "super::paging::page_complexity(first, child_complexity)")]
    async fn users(
        &self,
        context: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<Connection<String, UserSummary, EmptyFields, EmptyFields>> {
        let state = context.data::<AppState>()?;
        query(
            after,
            None,
            first,
            None,
            |after: Option<String>, _: Option<String>, first, _| async move {
                let limit = page_size(first);
                let mut page = projections::users::page(
                    &state.pool,
                    after.as_deref(),
                    i64::try_from(limit + 1).unwrap_or(101),
                )
                .await
                .map_err(|error| ApiError::internal(error).extend())?;
                let has_next = page.len() > limit;
                page.truncate(limit);
                let mut connection = Connection::new(after.is_some(), has_next);
                connection.edges.extend(page.into_iter().map(|user| {
                    Edge::new(
                        user.email.clone(),
                        UserSummary {
                            id: user.user_id,
                            email: user.email,
                            display_name: user.display_name,
                            roles: user
                                .roles
                                .iter()
                                .filter_map(|role| role.parse::<Role>().ok())
                                .map(RoleName::from)
                                .collect(),
                            active: user.active,
                            two_factor_enabled: user.two_factor,
                            created_at: user.created_at,
                        },
                    )
                }));
                Ok::<_, async_graphql::Error>(connection)
            },
        )
        .await
    }
}

/// Organisation-wide security settings.
#[derive(SimpleObject, Debug)]
pub struct SecurityPolicy {
    /// Holders of these roles must sign in with a second factor.
    two_factor_required_for: Vec<RoleName>,
}

#[derive(Debug, Default)]
pub struct UsersMutation;

impl UsersMutation {
    async fn administer(
        &self,
        context: &Context<'_>,
        user_id: Uuid,
        command: UserCommand,
    ) -> async_graphql::Result<bool> {
        let state = context.data::<AppState>()?;
        state
            .identity
            .administer(origin(context)?, principal(context)?, user_id, command)
            .await
            .map_err(identity_error)?;
        Ok(true)
    }
}

#[Object]
impl UsersMutation {
    /// Creates a user with a one-time password they must change at first sign-in.
    async fn create_user(
        &self,
        context: &Context<'_>,
        email: String,
        display_name: String,
        roles: Vec<RoleName>,
    ) -> async_graphql::Result<CreatedUser> {
        let state = context.data::<AppState>()?;
        let actor = principal(context)?;
        let (id, one_time_password) = state
            .identity
            .create_user(
                origin(context)?,
                commands::context::Actor::user(actor.user_id, actor.roles.iter().copied()),
                &email,
                &display_name,
                domain_roles(&roles),
                None,
            )
            .await
            .map_err(identity_error)?;
        Ok(CreatedUser {
            id,
            one_time_password,
        })
    }

    /// Requires (or stops requiring) two-factor login of every holder of `role`.
    async fn set_two_factor_requirement(
        &self,
        context: &Context<'_>,
        role: RoleName,
        required: bool,
    ) -> async_graphql::Result<bool> {
        let state = context.data::<AppState>()?;
        state
            .identity
            .set_two_factor_requirement(
                origin(context)?,
                principal(context)?,
                role.into(),
                required,
            )
            .await
            .map_err(identity_error)?;
        Ok(true)
    }

    /// Changes another user's display name and/or e-mail address.
    async fn update_user(
        &self,
        context: &Context<'_>,
        user_id: Uuid,
        display_name: Option<String>,
        email: Option<String>,
    ) -> async_graphql::Result<bool> {
        let state = context.data::<AppState>()?;
        state
            .identity
            .update_profile(
                origin(context)?,
                principal(context)?,
                user_id,
                display_name.as_deref(),
                email.as_deref(),
            )
            .await
            .map_err(identity_error)?;
        Ok(true)
    }

    /// Turns another user's two-factor login off (a lost device); they may enrol again.
    async fn reset_two_factor(
        &self,
        context: &Context<'_>,
        user_id: Uuid,
    ) -> async_graphql::Result<bool> {
        self.administer(context, user_id, UserCommand::DisableTwoFactor)
            .await
    }

    async fn grant_role(
        &self,
        context: &Context<'_>,
        user_id: Uuid,
        role: RoleName,
    ) -> async_graphql::Result<bool> {
        self.administer(
            context,
            user_id,
            UserCommand::GrantRole { role: role.into() },
        )
        .await
    }

    async fn revoke_role(
        &self,
        context: &Context<'_>,
        user_id: Uuid,
        role: RoleName,
    ) -> async_graphql::Result<bool> {
        self.administer(
            context,
            user_id,
            UserCommand::RevokeRole { role: role.into() },
        )
        .await
    }

    /// Deactivates a user: every session and token of theirs stops working at once.
    async fn deactivate_user(
        &self,
        context: &Context<'_>,
        user_id: Uuid,
    ) -> async_graphql::Result<bool> {
        self.administer(context, user_id, UserCommand::Deactivate)
            .await
    }

    async fn reactivate_user(
        &self,
        context: &Context<'_>,
        user_id: Uuid,
    ) -> async_graphql::Result<bool> {
        self.administer(context, user_id, UserCommand::Reactivate)
            .await
    }

    /// Forces the user to choose a new password at their next sign-in.
    async fn require_password_reset(
        &self,
        context: &Context<'_>,
        user_id: Uuid,
    ) -> async_graphql::Result<bool> {
        self.administer(context, user_id, UserCommand::RequirePasswordReset)
            .await
    }
}
