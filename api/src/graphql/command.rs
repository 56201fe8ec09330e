//! What the command mutations share: the caller as the command layer and the domain see them, and how the
//! command layer's failures reach clients. The domain's refusals keep their stable reason
//! ([`ApiError::refused`]); everything else is a conflict or an internal error.

use async_graphql::{Context, ErrorExtensions};
use commands::context::{CommandContext, IdempotencyKey};
use commands::service::CommandError;
use domain::actor::Actor;
use uuid::Uuid;

use super::RequestedIdempotencyKey;
use super::account::{origin, principal};
use super::error::ApiError;

/// Who runs a command, twice: as event metadata and inside the domain command.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The events' metadata: actor, correlation id, client address and the request's idempotency key.
    pub context: CommandContext,
    /// The actor the aggregate judges.
    pub actor: Actor,
}

/// The signed-in caller of this request, with its `Idempotency-Key` if it sent one.
pub fn caller(context: &Context<'_>) -> async_graphql::Result<Caller> {
    let principal = principal(context)?;
    let idempotency_key = context
        .data_opt::<RequestedIdempotencyKey>()
        .map(|key| IdempotencyKey::parse(&key.0))
        .transpose()
        .map_err(|error| ApiError::Validation(error.to_string()).extend())?;
    let command_actor =
        commands::context::Actor::user(principal.user_id, principal.roles.iter().copied());
    Ok(Caller {
        context: origin(context)?.command_context(command_actor, idempotency_key),
        actor: Actor::new(principal.user_id, principal.roles.iter().copied()),
    })
}

impl Caller {
    /// The id of an aggregate this request creates. With an idempotency key it is derived from the actor and
    /// the key, so a retried creation names the same aggregate and is answered as the first one was.
    pub fn new_aggregate_id(&self) -> Uuid {
        match &self.context.idempotency_key {
            Some(key) => {
                let name = format!("{}\u{0}{}", self.context.actor.id(), key.as_str());
                Uuid::new_v5(&CREATED_BY_KEY, name.as_bytes())
            }
            None => Uuid::now_v7(),
        }
    }
}

/// The UUID namespace of aggregate ids derived from idempotency keys.
const CREATED_BY_KEY: Uuid = Uuid::from_u128(0x6165_6769_735f_6964_656d_706f_7465_6e74);

/// A domain error with a stable code (every aggregate's error enum has one).
pub trait Refusal: std::error::Error {
    fn code(&self) -> &'static str;
}

impl Refusal for domain::test_case::TestCaseError {
    fn code(&self) -> &'static str {
        Self::code(self)
    }
}

impl Refusal for domain::campaign::CampaignError {
    fn code(&self) -> &'static str {
        Self::code(self)
    }
}

impl Refusal for domain::detection_rule::DetectionRuleError {
    fn code(&self) -> &'static str {
        Self::code(self)
    }
}

impl Refusal for domain::scoring::ScoringPolicyError {
    fn code(&self) -> &'static str {
        Self::code(self)
    }
}

/// A domain refusal as clients see it: one of the API's codes and the domain's stable reason.
pub fn refused(error: &impl Refusal) -> async_graphql::Error {
    ApiError::refused(error.code(), error.to_string()).extend()
}

/// A command that did not take effect, as clients see it.
pub fn failed<E: Refusal>(error: CommandError<E>) -> async_graphql::Error {
    match error {
        CommandError::Rejected(error) => refused(&error),
        CommandError::Conflict { .. }
        | CommandError::IdempotencyKeyReused
        | CommandError::Taken(_) => ApiError::Conflict(error.to_string()).extend(),
        CommandError::Store(cause) => ApiError::Internal(cause).extend(),
    }
}
