//! Appending to and reading from the event log (postgres-es' `events` and `snapshots` tables).

use cqrs_es::Aggregate;
use cqrs_es::persist::{
    PersistedEventRepository, PersistenceError, ReplayStream, SerializedEvent, SerializedSnapshot,
};
use futures::future::BoxFuture;
use postgres_es::PostgresEventRepository;
use serde_json::Value;
use sqlx::{PgConnection, PgPool, Postgres, Row, Transaction};

use crate::hash_chain::{ChainedEvent, GENESIS, Hash};

/// Reads through postgres-es and appends through [`ChainedEventRepository::append`], which adds the hash
/// chain and, when a command carries an idempotency key, its record in the same transaction.
pub struct ChainedEventRepository {
    pool: PgPool,
    reads: PostgresEventRepository,
}

impl std::fmt::Debug for ChainedEventRepository {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChainedEventRepository")
            .finish_non_exhaustive()
    }
}

impl Clone for ChainedEventRepository {
    fn clone(&self) -> Self {
        Self::new(self.pool.clone())
    }
}

/// What a command with an idempotency key leaves behind so that a retry returns the same outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyRecord {
    pub actor_id: String,
    pub key: String,
    pub request_digest: Hash,
    pub aggregate_type: String,
    pub aggregate_id: String,
    /// The sequences appended, `first..=last`; `(version + 1, version)` when the command decided on no events.
    pub first_sequence: i64,
    pub last_sequence: i64,
}

/// Work that must commit or roll back together with a command's events: keeping write-side lookup tables
/// (accounts, tokens) in step, or storing a secret that the events only mention.
pub type InTransaction = Box<
    dyn for<'c> FnOnce(&'c mut PgConnection) -> BoxFuture<'c, Result<(), WriteModelError>> + Send,
>;

/// Why work in the append transaction failed.
#[derive(Debug, thiserror::Error)]
pub enum WriteModelError {
    /// A value that must be unique across aggregates (an e-mail address) is already in use.
    #[error("this {0} is already taken")]
    Taken(&'static str),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// Why an append did not happen.
#[derive(Debug, thiserror::Error)]
pub enum AppendError {
    /// See [`WriteModelError::Taken`].
    #[error("this {0} is already taken")]
    Taken(&'static str),
    /// Another command appended to the aggregate first (the primary key on its sequence clashed).
    #[error("the aggregate was changed concurrently")]
    Conflict,
    /// Another request with the same idempotency key committed first.
    #[error("another request with the same idempotency key committed first")]
    IdempotencyKeyTaken,
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

impl From<AppendError> for PersistenceError {
    fn from(error: AppendError) -> Self {
        match error {
            AppendError::Conflict => Self::OptimisticLockError,
            AppendError::Database(error) => Self::ConnectionError(Box::new(error)),
            other @ (AppendError::IdempotencyKeyTaken | AppendError::Taken(_)) => {
                Self::UnknownError(Box::new(other))
            }
        }
    }
}

const UNIQUE_VIOLATION: &str = "23505";

fn classify(error: sqlx::Error) -> AppendError {
    let constraint = error
        .as_database_error()
        .filter(|database_error| database_error.code().as_deref() == Some(UNIQUE_VIOLATION))
        .and_then(|database_error| database_error.constraint().map(str::to_owned));
    match constraint.as_deref() {
        Some("events_pkey") => AppendError::Conflict,
        Some("command_idempotency_pkey") => AppendError::IdempotencyKeyTaken,
        _ => AppendError::Database(error),
    }
}

impl ChainedEventRepository {
    pub fn new(pool: PgPool) -> Self {
        Self {
            reads: PostgresEventRepository::new(pool.clone()),
            pool,
        }
    }

    /// Appends `events` (all of one aggregate, consecutive sequences; possibly none) with their chained hashes,
    /// the idempotency record when given, and `changes`, atomically.
    pub async fn append(
        &self,
        events: &[SerializedEvent],
        idempotency: Option<&IdempotencyRecord>,
        changes: Vec<InTransaction>,
    ) -> Result<(), AppendError> {
        let mut transaction = self.pool.begin().await?;
        append_events(&mut transaction, events).await?;
        if let Some(record) = idempotency {
            insert_idempotency_record(&mut transaction, record).await?;
        }
        for change in changes {
            change(&mut transaction)
                .await
                .map_err(|error| match error {
                    WriteModelError::Taken(what) => AppendError::Taken(what),
                    WriteModelError::Database(error) => AppendError::Database(error),
                })?;
        }
        transaction.commit().await?;
        Ok(())
    }

    /// The record left by an earlier command of `actor_id` with `key`, if any.
    pub async fn find_idempotency_record(
        &self,
        actor_id: &str,
        key: &str,
    ) -> Result<Option<IdempotencyRecord>, sqlx::Error> {
        let row = sqlx::query(
            "SELECT request_digest, aggregate_type, aggregate_id, first_sequence, last_sequence
               FROM command_idempotency WHERE actor_id = $1 AND idempotency_key = $2",
        )
        .bind(actor_id)
        .bind(key)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let digest: Vec<u8> = row.try_get("request_digest")?;
        Ok(Some(IdempotencyRecord {
            actor_id: actor_id.to_owned(),
            key: key.to_owned(),
            request_digest: digest.try_into().unwrap_or_default(),
            aggregate_type: row.try_get("aggregate_type")?,
            aggregate_id: row.try_get("aggregate_id")?,
            first_sequence: row.try_get("first_sequence")?,
            last_sequence: row.try_get("last_sequence")?,
        }))
    }
}

async fn append_events(
    transaction: &mut Transaction<'_, Postgres>,
    events: &[SerializedEvent],
) -> Result<(), AppendError> {
    let Some(first) = events.first() else {
        return Ok(());
    };
    let first_sequence = to_sequence(first.sequence);
    let mut prev_hash = if first_sequence == 1 {
        GENESIS
    } else {
        previous_hash(transaction, first, first_sequence - 1).await?
    };

    let mut sequences = Vec::with_capacity(events.len());
    let mut prev_hashes = Vec::with_capacity(events.len());
    let mut hashes = Vec::with_capacity(events.len());
    for event in events {
        let sequence = to_sequence(event.sequence);
        let hash = ChainedEvent {
            aggregate_type: &event.aggregate_type,
            aggregate_id: &event.aggregate_id,
            sequence,
            event_type: &event.event_type,
            event_version: &event.event_version,
            payload: &event.payload,
            metadata: &event.metadata,
        }
        .hash(&prev_hash);
        sequences.push(sequence);
        prev_hashes.push(prev_hash.to_vec());
        hashes.push(hash.to_vec());
        prev_hash = hash;
    }

    // One statement for the whole command keeps the append a single round trip.
    sqlx::query(
        "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version,
                             payload, metadata, prev_hash, hash)
         SELECT $1, $2, sequence, event_type, event_version, payload, metadata, prev_hash, hash
           FROM UNNEST($3::bigint[], $4::text[], $5::text[], $6::jsonb[], $7::jsonb[], $8::bytea[], $9::bytea[])
                AS appended(sequence, event_type, event_version, payload, metadata, prev_hash, hash)
          ORDER BY sequence",
    )
    .bind(&first.aggregate_type)
    .bind(&first.aggregate_id)
    .bind(&sequences)
    .bind(events.iter().map(|event| event.event_type.as_str()).collect::<Vec<_>>())
    .bind(events.iter().map(|event| event.event_version.as_str()).collect::<Vec<_>>())
    .bind(events.iter().map(|event| &event.payload).collect::<Vec<&Value>>())
    .bind(events.iter().map(|event| &event.metadata).collect::<Vec<&Value>>())
    .bind(&prev_hashes)
    .bind(&hashes)
    .execute(&mut **transaction)
    .await
    .map_err(classify)?;
    Ok(())
}

async fn previous_hash(
    transaction: &mut Transaction<'_, Postgres>,
    event: &SerializedEvent,
    sequence: i64,
) -> Result<Hash, AppendError> {
    let stored: Option<Vec<u8>> = sqlx::query_scalar(
        "SELECT hash FROM events WHERE aggregate_type = $1 AND aggregate_id = $2 AND sequence = $3",
    )
    .bind(&event.aggregate_type)
    .bind(&event.aggregate_id)
    .bind(sequence)
    .fetch_optional(&mut **transaction)
    .await?;
    // The predecessor is missing only when the caller's view of the aggregate is not what is stored.
    stored
        .and_then(|hash| hash.try_into().ok())
        .ok_or(AppendError::Conflict)
}

async fn insert_idempotency_record(
    transaction: &mut Transaction<'_, Postgres>,
    record: &IdempotencyRecord,
) -> Result<(), AppendError> {
    sqlx::query(
        "INSERT INTO command_idempotency
             (actor_id, idempotency_key, request_digest, aggregate_type, aggregate_id, first_sequence, last_sequence)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&record.actor_id)
    .bind(&record.key)
    .bind(record.request_digest.as_slice())
    .bind(&record.aggregate_type)
    .bind(&record.aggregate_id)
    .bind(record.first_sequence)
    .bind(record.last_sequence)
    .execute(&mut **transaction)
    .await
    .map_err(classify)?;
    Ok(())
}

fn to_sequence(sequence: usize) -> i64 {
    i64::try_from(sequence).expect("an aggregate never holds more than i64::MAX events")
}

async fn upsert_snapshot<A: Aggregate>(
    pool: &PgPool,
    (aggregate_id, payload, current_snapshot): (String, Value, usize),
    last_sequence: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO snapshots (aggregate_type, aggregate_id, last_sequence, current_snapshot, payload)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (aggregate_type, aggregate_id) DO UPDATE
            SET last_sequence = excluded.last_sequence, current_snapshot = excluded.current_snapshot,
                payload = excluded.payload
          WHERE snapshots.last_sequence < excluded.last_sequence",
    )
    .bind(A::TYPE)
    .bind(aggregate_id)
    .bind(last_sequence)
    .bind(to_sequence(current_snapshot))
    .bind(payload)
    .execute(pool)
    .await?;
    Ok(())
}

/// Lets cqrs-es' own `PersistedEventStore` and `CqrsFramework` run on the chained log too.
impl PersistedEventRepository for ChainedEventRepository {
    async fn get_events<A: Aggregate>(
        &self,
        aggregate_id: &str,
    ) -> Result<Vec<SerializedEvent>, PersistenceError> {
        self.reads.get_events::<A>(aggregate_id).await
    }

    async fn get_last_events<A: Aggregate>(
        &self,
        aggregate_id: &str,
        last_sequence: usize,
    ) -> Result<Vec<SerializedEvent>, PersistenceError> {
        self.reads
            .get_last_events::<A>(aggregate_id, last_sequence)
            .await
    }

    async fn get_snapshot<A: Aggregate>(
        &self,
        aggregate_id: &str,
    ) -> Result<Option<SerializedSnapshot>, PersistenceError> {
        self.reads.get_snapshot::<A>(aggregate_id).await
    }

    async fn persist<A: Aggregate>(
        &self,
        events: &[SerializedEvent],
        snapshot_update: Option<(String, Value, usize)>,
    ) -> Result<(), PersistenceError> {
        self.append(events, None, Vec::new()).await?;
        if let (Some(snapshot), Some(last)) = (snapshot_update, events.last()) {
            upsert_snapshot::<A>(&self.pool, snapshot, to_sequence(last.sequence))
                .await
                .map_err(|error| PersistenceError::ConnectionError(Box::new(error)))?;
        }
        Ok(())
    }

    async fn stream_events<A: Aggregate>(
        &self,
        aggregate_id: &str,
    ) -> Result<ReplayStream, PersistenceError> {
        self.reads.stream_events::<A>(aggregate_id).await
    }

    async fn stream_all_events<A: Aggregate>(&self) -> Result<ReplayStream, PersistenceError> {
        self.reads.stream_all_events::<A>().await
    }
}
