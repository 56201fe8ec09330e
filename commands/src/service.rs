//! Executing a command against an aggregate: the one path by which Aegis changes.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use cqrs_es::persist::{EventUpcaster, PersistedEventStore, SerializedEvent};
use cqrs_es::{Aggregate, AggregateContext, AggregateError, EventEnvelope, EventStore};
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use tracing::Instrument;

use crate::context::{Clock, CommandContext};
use crate::event_log::{AppendError, ChainedEventRepository, IdempotencyRecord, InTransaction};
use crate::hash_chain::Hash;

/// What a command did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandOutcome {
    pub aggregate_id: String,
    /// The aggregate's sequence after the command (0 for an aggregate that still has no events).
    pub version: i64,
    /// How many events the command appended.
    pub appended: i64,
    /// True when this is the stored outcome of an earlier request with the same idempotency key.
    pub replayed: bool,
}

/// Why a command did not take effect. `Rejected` carries the domain's typed reason.
#[derive(Debug, thiserror::Error)]
pub enum CommandError<E: std::error::Error> {
    #[error("{0}")]
    Rejected(E),
    #[error(
        "{aggregate_type} {aggregate_id} was changed by someone else at the same time; reload and retry"
    )]
    Conflict {
        aggregate_type: &'static str,
        aggregate_id: String,
    },
    #[error("this idempotency key was already used for a different request")]
    IdempotencyKeyReused,
    /// A value that must be unique across aggregates is in use (see [`crate::event_log::WriteModelError::Taken`]).
    #[error("this {0} is already taken")]
    Taken(&'static str),
    #[error("the event store failed: {0}")]
    Store(Box<dyn std::error::Error + Send + Sync>),
}

/// Write-side tables kept in step with an aggregate's events, in the transaction that appends them.
pub trait WriteModel<A: Aggregate>: Send + Sync {
    /// The statements `events` call for, if any.
    fn changes(
        &self,
        aggregate_id: &str,
        events: &[A::Event],
        occurred_at: DateTime<Utc>,
    ) -> Option<InTransaction>;
}

/// Executes commands of one aggregate type against the chained event log.
pub struct CommandService<A: Aggregate> {
    events: ChainedEventRepository,
    store: PersistedEventStore<ChainedEventRepository, A>,
    services: A::Services,
    clock: Arc<dyn Clock>,
    write_model: Option<Arc<dyn WriteModel<A>>>,
}

impl<A: Aggregate> std::fmt::Debug for CommandService<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CommandService")
            .field("aggregate_type", &A::TYPE)
            .finish_non_exhaustive()
    }
}

impl<A> CommandService<A>
where
    A: Aggregate,
    A::Command: Serialize,
    A::Error: Send + Sync + 'static,
{
    pub fn new(pool: PgPool, services: A::Services, clock: Arc<dyn Clock>) -> Self {
        Self::with_upcasters(pool, services, clock, Vec::new())
    }

    /// Upcasters turn stored events of an older `event_version` into the current shape on load.
    pub fn with_upcasters(
        pool: PgPool,
        services: A::Services,
        clock: Arc<dyn Clock>,
        upcasters: Vec<Box<dyn EventUpcaster>>,
    ) -> Self {
        let events = ChainedEventRepository::new(pool);
        let store = PersistedEventStore::new_event_store(events.clone()).with_upcasters(upcasters);
        Self {
            events,
            store,
            services,
            clock,
            write_model: None,
        }
    }

    /// Keeps `write_model` in step with every command's events.
    #[must_use]
    pub fn with_write_model(self, write_model: Arc<dyn WriteModel<A>>) -> Self {
        Self {
            write_model: Some(write_model),
            ..self
        }
    }

    /// The clock commands are stamped with.
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// The aggregate as its events leave it (for a process that must look before it acts).
    pub async fn load(&self, aggregate_id: &str) -> Result<A, CommandError<A::Error>> {
        Ok(self
            .store
            .load_aggregate(aggregate_id)
            .await
            .map_err(from_aggregate_error)?
            .aggregate)
    }

    /// Loads the aggregate, lets it decide, and appends what it decided with `context` as metadata.
    pub async fn execute(
        &self,
        context: &CommandContext,
        aggregate_id: &str,
        command: A::Command,
    ) -> Result<CommandOutcome, CommandError<A::Error>> {
        self.execute_with(context, aggregate_id, command, None)
            .await
    }

    /// [`Self::execute`], running `in_transaction` in the transaction that appends the events (for a secret
    /// the events only mention, such as a new password's hash).
    pub async fn execute_with(
        &self,
        context: &CommandContext,
        aggregate_id: &str,
        command: A::Command,
        in_transaction: Option<InTransaction>,
    ) -> Result<CommandOutcome, CommandError<A::Error>> {
        let (outcome, _) = self
            .execute_observed(context, aggregate_id, command, in_transaction)
            .await?;
        Ok(outcome)
    }

    /// [`Self::execute`], also returning the aggregate as the command left it (what a mutation answers
    /// with). A replayed request loads it afresh.
    pub async fn execute_returning(
        &self,
        context: &CommandContext,
        aggregate_id: &str,
        command: A::Command,
    ) -> Result<(CommandOutcome, A), CommandError<A::Error>> {
        let (outcome, aggregate) = self
            .execute_observed(context, aggregate_id, command, None)
            .await?;
        let aggregate = match aggregate {
            Some(aggregate) => aggregate,
            None => self.load(aggregate_id).await?,
        };
        Ok((outcome, aggregate))
    }

    /// Executes inside the command's span and records its outcome in metrics.
    async fn execute_observed(
        &self,
        context: &CommandContext,
        aggregate_id: &str,
        command: A::Command,
        in_transaction: Option<InTransaction>,
    ) -> Result<(CommandOutcome, Option<A>), CommandError<A::Error>> {
        let span = tracing::info_span!(
            "command",
            aggregate_type = A::TYPE,
            aggregate_id,
            actor_id = context.actor.id(),
            correlation_id = %context.correlation_id,
            outcome = tracing::field::Empty,
        );
        let result = self
            .execute_in_span(context, aggregate_id, command, in_transaction)
            .instrument(span.clone())
            .await;
        let outcome = match &result {
            Ok((outcome, _)) if outcome.replayed => "replayed",
            Ok(_) => "applied",
            Err(CommandError::Rejected(_)) => "rejected",
            Err(CommandError::Conflict { .. }) => "conflict",
            Err(CommandError::IdempotencyKeyReused) => "idempotency_key_reused",
            Err(CommandError::Taken(_)) => "taken",
            Err(CommandError::Store(_)) => "store_error",
        };
        span.record("outcome", outcome);
        metrics::counter!("aegis_commands_total", "aggregate" => A::TYPE, "outcome" => outcome)
            .increment(1);
        if let Ok((outcome, _)) = &result {
            metrics::counter!("aegis_events_appended_total", "aggregate" => A::TYPE)
                .increment(outcome.appended.unsigned_abs());
        }
        result
    }

    async fn execute_in_span(
        &self,
        context: &CommandContext,
        aggregate_id: &str,
        command: A::Command,
        in_transaction: Option<InTransaction>,
    ) -> Result<(CommandOutcome, Option<A>), CommandError<A::Error>> {
        let digest = request_digest::<A>(aggregate_id, &command)?;
        if let Some(key) = &context.idempotency_key {
            let earlier = self
                .events
                .find_idempotency_record(context.actor.id(), key.as_str())
                .await
                .map_err(store_error)?;
            if let Some(earlier) = earlier {
                return replay(&earlier, &digest).map(|outcome| (outcome, None));
            }
        }

        let mut aggregate_context = self
            .store
            .load_aggregate(aggregate_id)
            .await
            .map_err(from_aggregate_error)?;
        let loaded_version = to_i64(aggregate_context.current_sequence);
        let sink = cqrs_es::event_sink::EventSink::default();
        aggregate_context
            .aggregate()
            .handle(command, &self.services, &sink)
            .await
            .map_err(CommandError::Rejected)?;
        let decided = sink.collect().await;

        let occurred_at = self.clock.now();
        let metadata = context.metadata(occurred_at);
        let serialized = decided
            .iter()
            .zip(aggregate_context.current_sequence + 1..)
            .map(|(payload, sequence)| {
                SerializedEvent::try_from(&EventEnvelope::<A> {
                    aggregate_id: aggregate_id.to_owned(),
                    sequence,
                    payload: payload.clone(),
                    metadata: metadata.clone(),
                })
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(|error| CommandError::Store(Box::new(error)))?;

        let appended = to_i64(serialized.len());
        let outcome = CommandOutcome {
            aggregate_id: aggregate_id.to_owned(),
            version: loaded_version + appended,
            appended,
            replayed: false,
        };
        let record = context
            .idempotency_key
            .as_ref()
            .map(|key| IdempotencyRecord {
                actor_id: context.actor.id().to_owned(),
                key: key.as_str().to_owned(),
                request_digest: digest,
                aggregate_type: A::TYPE.to_owned(),
                aggregate_id: aggregate_id.to_owned(),
                first_sequence: loaded_version + 1,
                last_sequence: outcome.version,
            });

        // The write model first: the extra work may update the rows it creates.
        let mut changes: Vec<InTransaction> = self
            .write_model
            .iter()
            .filter_map(|write_model| write_model.changes(aggregate_id, &decided, occurred_at))
            .collect();
        changes.extend(in_transaction);
        let stored = self
            .events
            .append(&serialized, record.as_ref(), changes)
            .await;
        match stored {
            Ok(()) => Ok((outcome, Some(aggregate_context.aggregate))),
            Err(AppendError::Conflict) => Err(CommandError::Conflict {
                aggregate_type: A::TYPE,
                aggregate_id: aggregate_id.to_owned(),
            }),
            // A concurrent retry with the same key won the race: answer as that request did.
            Err(AppendError::IdempotencyKeyTaken) => {
                let earlier = match &record {
                    Some(record) => self
                        .events
                        .find_idempotency_record(&record.actor_id, &record.key)
                        .await
                        .map_err(store_error)?,
                    None => None,
                };
                match earlier {
                    Some(earlier) => replay(&earlier, &digest).map(|outcome| (outcome, None)),
                    None => Err(store_error(AppendError::IdempotencyKeyTaken)),
                }
            }
            Err(AppendError::Taken(what)) => Err(CommandError::Taken(what)),
            Err(AppendError::Database(error)) => Err(store_error(error)),
        }
    }
}

/// The top-level field of a command that says when it was issued, left out of its request digest.
const ISSUED_AT_FIELD: &str = "at";

/// Identifies a request by what it asks for: same aggregate type, id and command (as JSON, without its
/// `at`) → same digest.
fn request_digest<A: Aggregate>(
    aggregate_id: &str,
    command: &A::Command,
) -> Result<Hash, CommandError<A::Error>>
where
    A::Command: Serialize,
    A::Error: Send + Sync + 'static,
{
    let to_store_error = |error: serde_json::Error| CommandError::Store(Box::new(error));
    let mut command = serde_json::to_value(command).map_err(to_store_error)?;
    // Commands carry the moment they were issued (`at`); a retry is the same request issued later.
    if let Some(fields) = command.as_object_mut() {
        fields.remove(ISSUED_AT_FIELD);
    }
    let command = serde_json::to_vec(&command).map_err(to_store_error)?;
    let mut hasher = Sha256::new();
    for part in [A::TYPE.as_bytes(), aggregate_id.as_bytes(), &command] {
        hasher.update((part.len() as u64).to_be_bytes());
        hasher.update(part);
    }
    Ok(hasher.finalize().into())
}

fn replay<E: std::error::Error>(
    earlier: &IdempotencyRecord,
    digest: &Hash,
) -> Result<CommandOutcome, CommandError<E>> {
    if &earlier.request_digest != digest {
        return Err(CommandError::IdempotencyKeyReused);
    }
    Ok(CommandOutcome {
        aggregate_id: earlier.aggregate_id.clone(),
        version: earlier.last_sequence,
        appended: earlier.last_sequence - earlier.first_sequence + 1,
        replayed: true,
    })
}

fn store_error<E: std::error::Error>(
    error: impl std::error::Error + Send + Sync + 'static,
) -> CommandError<E> {
    CommandError::Store(Box::new(error))
}

fn from_aggregate_error<E: std::error::Error>(error: AggregateError<E>) -> CommandError<E> {
    match error {
        AggregateError::UserError(error) => CommandError::Rejected(error),
        AggregateError::AggregateConflict => {
            CommandError::Store("unexpected conflict while loading".into())
        }
        AggregateError::DatabaseConnectionError(error)
        | AggregateError::DeserializationError(error)
        | AggregateError::UnexpectedError(error) => CommandError::Store(error),
    }
}

fn to_i64(count: usize) -> i64 {
    i64::try_from(count).expect("an aggregate never holds more than i64::MAX events")
}
