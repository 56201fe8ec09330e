//! The catch-up projector.

use std::any::Any;
use std::borrow::Cow;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde_json::Value;
use sqlx::postgres::{PgListener, PgRow};
use sqlx::{PgConnection, PgPool, Row};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// One event as projections see it.
#[derive(Debug)]
pub struct StoredEvent {
    pub global_seq: i64,
    pub tx_id: i64,
    pub aggregate_type: String,
    pub aggregate_id: String,
    pub sequence: i64,
    pub event_type: String,
    pub event_version: String,
    /// The payload's JSON text; [`StoredEvent::payload`] reads it into the event type a projection needs.
    pub payload_json: String,
    pub metadata: Value,
    pub recorded_at: DateTime<Utc>,
    /// The event's link in the hash chain, for read models that show it (the audit log).
    pub hash: Vec<u8>,
    pub prev_hash: Vec<u8>,
    /// The payload as the first projection that read it asked for it, kept for the others: a batch goes to
    /// every projection, and reading JSON was most of a rebuild's own CPU when each read it again.
    decoded: OnceLock<Box<dyn Any + Send + Sync>>,
}

impl StoredEvent {
    /// The `events` columns [`StoredEvent::from_row`] reads, for a `SELECT` from `events`.
    pub const COLUMNS: &'static str = "global_seq, tx_id::text::bigint AS tx_id, aggregate_type, aggregate_id, \
         sequence, event_type, event_version, payload::text AS payload, metadata, recorded_at, hash, prev_hash";

    /// An event from a row holding [`StoredEvent::COLUMNS`].
    pub fn from_row(row: &PgRow) -> Result<Self, sqlx::Error> {
        Ok(Self {
            global_seq: row.try_get("global_seq")?,
            tx_id: row.try_get("tx_id")?,
            aggregate_type: row.try_get("aggregate_type")?,
            aggregate_id: row.try_get("aggregate_id")?,
            sequence: row.try_get("sequence")?,
            event_type: row.try_get("event_type")?,
            event_version: row.try_get("event_version")?,
            payload_json: row.try_get("payload")?,
            metadata: row.try_get("metadata")?,
            recorded_at: row.try_get("recorded_at")?,
            hash: row.try_get("hash")?,
            prev_hash: row.try_get("prev_hash")?,
            decoded: OnceLock::new(),
        })
    }

    /// A metadata value written by the command layer (every value there is a string).
    pub fn metadata_str(&self, key: &str) -> Option<&str> {
        self.metadata.get(key).and_then(Value::as_str)
    }

    /// The aggregate id as a UUID, which every aggregate created through Aegis has; `None` otherwise.
    pub fn uuid_of(&self) -> Option<Uuid> {
        Uuid::parse_str(&self.aggregate_id).ok()
    }

    /// Reads the payload, once per event for the type asked first (each aggregate's events are read as its
    /// event enum everywhere; another type is read afresh). One this version cannot read is a bug to see, not
    /// to skip silently.
    pub fn payload<T: DeserializeOwned + Clone + Send + Sync + 'static>(
        &self,
    ) -> Result<Cow<'_, T>, sqlx::Error> {
        let read = || {
            serde_json::from_str::<T>(&self.payload_json)
                .map_err(|error| sqlx::Error::Decode(Box::new(error)))
        };
        if self.decoded.get().is_none() {
            // Two projections reading at once both decode; either result is kept.
            let _ = self.decoded.set(Box::new(read()?));
        }
        match self
            .decoded
            .get()
            .and_then(|decoded| decoded.downcast_ref::<T>())
        {
            Some(decoded) => Ok(Cow::Borrowed(decoded)),
            None => read().map(Cow::Owned),
        }
    }

    /// When the command behind the event was given, from the metadata written by the command layer; the time
    /// the event was stored when that is missing (events written by other means). Both are part of the event,
    /// so a rebuild gets the same answer.
    pub fn occurred_at(&self) -> DateTime<Utc> {
        self.metadata_str("occurred_at")
            .and_then(|text| DateTime::parse_from_rfc3339(text).ok())
            .map_or(self.recorded_at, |time| time.with_timezone(&Utc))
    }

    /// Who gave the command behind the event, from its metadata.
    pub fn actor_id(&self) -> Option<&str> {
        self.metadata_str("actor_id")
    }

    fn position(&self) -> Position {
        Position {
            tx_id: self.tx_id,
            global_seq: self.global_seq,
        }
    }
}

/// The events of `aggregate_type` in `events`, in order, each with its aggregate id as a UUID. A stream whose
/// id is not a UUID was written by other means and has no place in a read model keyed by UUID: it is skipped
/// with a warning, which beats failing every later event.
pub fn streams_of<'a>(
    events: &'a [StoredEvent],
    aggregate_type: &'static str,
) -> impl Iterator<Item = (Uuid, &'a StoredEvent)> {
    events
        .iter()
        .filter(move |event| event.aggregate_type == aggregate_type)
        .filter_map(move |event| {
            let Some(id) = event.uuid_of() else {
                tracing::warn!(aggregate_id = %event.aggregate_id, "skipping a {aggregate_type} stream whose id is not a UUID");
                return None;
            };
            Some((id, event))
        })
}

/// The distinct ids of the `aggregate_type` streams in `events`, in order of id (see [`streams_of`]).
pub fn stream_ids(events: &[StoredEvent], aggregate_type: &'static str) -> Vec<Uuid> {
    let ids: std::collections::BTreeSet<Uuid> = streams_of(events, aggregate_type)
        .map(|(id, _)| id)
        .collect();
    ids.into_iter().collect()
}

/// A point in the global order; events after it have not been applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Position {
    pub tx_id: i64,
    pub global_seq: i64,
}

/// A read model fed by the projector. `apply` runs inside the projector's transaction, which also moves the
/// checkpoint: it must only write its own tables, and must not commit.
#[async_trait::async_trait]
pub trait Projection: Send + Sync {
    /// Stable name: the checkpoint's key and the argument of `aegis projections rebuild NAME`.
    fn name(&self) -> &'static str;
    /// The tables holding the read model, emptied by a rebuild.
    fn tables(&self) -> &'static [&'static str];
    /// Applies `events`, in order; all are newer than anything applied before.
    async fn apply(
        &self,
        connection: &mut PgConnection,
        events: &[StoredEvent],
    ) -> Result<(), sqlx::Error>;
}

#[derive(Debug, thiserror::Error)]
pub enum ProjectorError {
    #[error("no projection is named {name:?}; known: {known}")]
    UnknownProjection { name: String, known: String },
    #[error("projection {projection} failed: {source}")]
    Projection {
        projection: &'static str,
        source: sqlx::Error,
    },
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// How far a projection trails the event log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectionLag {
    pub projection: &'static str,
    /// Committed events not yet applied (counted up to [`LAG_COUNT_CAP`]).
    pub events_behind: i64,
    /// When the oldest of them was recorded.
    pub oldest_pending_at: Option<DateTime<Utc>>,
    pub events_applied: i64,
}

/// Counting beyond this many pending events tells an operator nothing more and costs a scan.
pub const LAG_COUNT_CAP: i64 = 1_000_000;

/// Tuning for [`Projector`].
#[derive(Debug, Clone, Copy)]
pub struct ProjectorSettings {
    /// Events read per transaction.
    pub batch_size: i64,
    /// How often to look for events when no notification arrives (notifications can be lost, and an event
    /// held back behind a slow transaction produces none when that transaction ends).
    pub poll_interval: Duration,
    /// Pause after a failed batch before retrying.
    pub retry_delay: Duration,
}

impl Default for ProjectorSettings {
    fn default() -> Self {
        Self {
            batch_size: 5_000,
            poll_interval: Duration::from_millis(500),
            retry_delay: Duration::from_secs(2),
        }
    }
}

/// Feeds every projection from the global order.
///
/// All projections advance in one transaction per batch, sharing one read of the log: the batch starts at the
/// furthest-behind checkpoint and each projection is given only the events past its own. A rebuilt projection
/// therefore catches up alongside the others without a separate reader.
#[derive(Clone)]
pub struct Projector {
    pool: PgPool,
    projections: Arc<[Arc<dyn Projection>]>,
    settings: ProjectorSettings,
}

impl std::fmt::Debug for Projector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Projector")
            .field("projections", &self.names())
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

const EVENTS_APPENDED_CHANNEL: &str = "aegis_events_appended";

impl Projector {
    pub fn new(
        pool: PgPool,
        projections: Vec<Arc<dyn Projection>>,
        settings: ProjectorSettings,
    ) -> Self {
        Self {
            pool,
            projections: projections.into(),
            settings,
        }
    }

    pub fn names(&self) -> Vec<&'static str> {
        self.projections
            .iter()
            .map(|projection| projection.name())
            .collect()
    }

    /// Applies one batch to every projection that is behind; returns how many distinct events were read.
    pub async fn step(&self) -> Result<usize, ProjectorError> {
        let mut transaction = self.pool.begin().await?;
        let checkpoints = lock_checkpoints(&mut transaction, &self.names()).await?;
        let Some(start) = checkpoints.iter().min().copied() else {
            return Ok(0);
        };
        let events = read_batch(&mut transaction, start, self.settings.batch_size).await?;
        let Some(last) = events.last().map(StoredEvent::position) else {
            transaction.commit().await?;
            return Ok(0);
        };
        for (projection, checkpoint) in self.projections.iter().zip(&checkpoints) {
            let first_new = events.partition_point(|event| event.position() <= *checkpoint);
            let pending = &events[first_new..];
            if pending.is_empty() {
                continue;
            }
            projection
                .apply(&mut transaction, pending)
                .await
                .map_err(|source| ProjectorError::Projection {
                    projection: projection.name(),
                    source,
                })?;
            save_checkpoint(&mut transaction, projection.name(), last, pending.len()).await?;
            metrics::counter!("aegis_projection_events_applied_total", "projection" => projection.name())
                .increment(pending.len() as u64);
        }
        transaction.commit().await?;
        Ok(events.len())
    }

    /// Runs batches until one comes back short: everything visible now is applied. Events behind a
    /// transaction that is still open stay for later.
    pub async fn drain(&self) -> Result<usize, ProjectorError> {
        let mut total = 0;
        loop {
            let read = self.step().await?;
            total += read;
            if i64::try_from(read).unwrap_or(i64::MAX) < self.settings.batch_size {
                return Ok(total);
            }
        }
    }

    /// Returns once every projection has applied every event committed before the call. Any transaction
    /// open in the cluster holds newer events back (that is what keeps the order gapless), so this may wait
    /// for such a transaction to end.
    pub async fn catch_up(&self) -> Result<(), ProjectorError> {
        let target: Option<(i64, i64)> = sqlx::query_as(
            "SELECT tx_id::text::bigint, global_seq FROM events ORDER BY events.tx_id DESC, events.global_seq DESC LIMIT 1",
        )
        .fetch_optional(&self.pool)
        .await?;
        let Some((tx_id, global_seq)) = target else {
            return Ok(());
        };
        let target = Position { tx_id, global_seq };
        loop {
            self.drain().await?;
            let mut connection = self.pool.acquire().await?;
            let checkpoints = read_checkpoints(&mut connection, &self.names()).await?;
            if checkpoints.iter().all(|checkpoint| *checkpoint >= target) {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Keeps the projections up to date until `shutdown` is cancelled. Wakes on each commit notification and
    /// on a poll interval; a failing batch is logged and retried after a pause.
    pub async fn run(&self, shutdown: CancellationToken) -> Result<(), ProjectorError> {
        let mut listener = PgListener::connect_with(&self.pool).await?;
        listener.listen(EVENTS_APPENDED_CHANNEL).await?;
        tracing::info!(projections = ?self.names(), "projector running");
        loop {
            let delay = match self.drain().await {
                Ok(_) => self.settings.poll_interval,
                Err(error) => {
                    tracing::error!(%error, "projector batch failed; retrying");
                    self.settings.retry_delay
                }
            };
            tokio::select! {
                () = shutdown.cancelled() => return Ok(()),
                notification = listener.recv() => {
                    // A broken listener connection reconnects on the next recv; polling covers the gap.
                    if let Err(error) = notification {
                        tracing::warn!(%error, "lost the events notification channel");
                        tokio::time::sleep(delay).await;
                    }
                }
                () = tokio::time::sleep(delay) => {}
            }
        }
    }

    /// The projections `name` designates: every one when `None`.
    fn chosen(&self, name: Option<&str>) -> Result<Vec<Arc<dyn Projection>>, ProjectorError> {
        let chosen: Vec<Arc<dyn Projection>> = self
            .projections
            .iter()
            .filter(|projection| name.is_none_or(|name| projection.name() == name))
            .cloned()
            .collect();
        match name {
            Some(name) if chosen.is_empty() => Err(ProjectorError::UnknownProjection {
                name: name.to_owned(),
                known: self.names().join(", "),
            }),
            _ => Ok(chosen),
        }
    }

    /// Empties the read models of `name` (every projection when `None`) and rewinds their checkpoints; the
    /// next steps rebuild them from the first event.
    pub async fn reset(&self, name: Option<&str>) -> Result<Vec<&'static str>, ProjectorError> {
        let chosen = self.chosen(name)?;
        let mut transaction = self.pool.begin().await?;
        // Taking the checkpoint locks first keeps a running projector from applying a batch in between.
        lock_checkpoints(&mut transaction, &self.names()).await?;
        for projection in &chosen {
            empty(&mut transaction, projection.as_ref()).await?;
        }
        transaction.commit().await?;
        Ok(chosen.iter().map(|projection| projection.name()).collect())
    }

    /// Rebuilds `name` (or every projection) from zero and returns once it has caught up.
    ///
    /// Each chosen projection gets a transaction of its own (as many as the pool allows, one connection kept
    /// for reading the log): its tables are emptied and its non-unique indexes dropped, the log is read once,
    /// batch by batch, and each batch handed to every projection's task, which applies it in its transaction
    /// while the next batch is read and the other projections apply theirs, on every core. Then the indexes are
    /// built again over the full tables (far cheaper than maintaining them row by row) and the transactions
    /// commit. A failure leaves the read models as they were; meanwhile readers wait on the emptied tables
    /// instead of seeing half a read model, and a running projector waits on the checkpoints. Events committed
    /// during the rebuild are applied by the catch-up that follows.
    pub async fn rebuild(&self, name: Option<&str>) -> Result<Vec<&'static str>, ProjectorError> {
        let mut chosen = self.chosen(name)?;
        // Checkpoint rows are locked in name order, as `lock_checkpoints` does, so that a running projector
        // and this rebuild never wait on each other in a cycle.
        chosen.sort_by_key(|projection| projection.name());
        let transactions = usize::try_from(self.pool.options().get_max_connections())
            .unwrap_or(usize::MAX)
            .saturating_sub(1)
            .clamp(1, chosen.len().max(1));
        let mut groups: Vec<Vec<Arc<dyn Projection>>> = vec![Vec::new(); transactions];
        for (index, projection) in chosen.into_iter().enumerate() {
            groups[index % transactions].push(projection);
        }
        let mut workers = Vec::with_capacity(groups.len());
        for group in groups {
            let rebuild = Rebuild::begin(&self.pool, group).await?;
            // Two batches in flight per projection: the reader stays ahead without holding the log in memory.
            let (batches, received) = tokio::sync::mpsc::channel(2);
            workers.push((batches, tokio::spawn(rebuild.run(received))));
        }
        let mut connection = self.pool.acquire().await?;
        let mut after = Position::default();
        loop {
            let events: Arc<[StoredEvent]> = read_batch(&mut connection, after, REBUILD_BATCH_SIZE)
                .await?
                .into();
            let Some(last) = events.last().map(StoredEvent::position) else {
                break;
            };
            for (batches, _) in &workers {
                // A projection that failed has stopped listening; its error is reported below.
                if batches.send(Arc::clone(&events)).await.is_err() {
                    break;
                }
            }
            if workers.iter().any(|(batches, _)| batches.is_closed()) {
                break;
            }
            after = last;
        }
        drop(connection);
        let mut finished = Vec::with_capacity(workers.len());
        for (batches, worker) in workers {
            drop(batches);
            finished.push(worker.await.map_err(|error| {
                ProjectorError::Database(sqlx::Error::Protocol(format!(
                    "a rebuild task stopped: {error}"
                )))
            })??);
        }
        let mut rebuilt = Vec::new();
        for rebuild in finished {
            rebuilt.extend(rebuild.commit().await?);
        }
        self.catch_up().await?;
        // In the order they are applied, as `reset` reports them.
        Ok(self
            .names()
            .into_iter()
            .filter(|name| rebuilt.contains(name))
            .collect())
    }

    /// How far each projection trails the committed log.
    pub async fn lag(&self) -> Result<Vec<ProjectionLag>, sqlx::Error> {
        let mut lags = Vec::with_capacity(self.projections.len());
        for name in self.names() {
            let row = sqlx::query(
                "SELECT coalesce(c.events_applied, 0) AS events_applied,
                        (SELECT count(*) FROM (
                            SELECT 1 FROM events e
                             WHERE (e.tx_id, e.global_seq) > (coalesce(c.tx_id, '0'), coalesce(c.global_seq, 0))
                             LIMIT $2) pending) AS events_behind,
                        (SELECT min(e.recorded_at) FROM (
                            SELECT recorded_at FROM events e
                             WHERE (e.tx_id, e.global_seq) > (coalesce(c.tx_id, '0'), coalesce(c.global_seq, 0))
                             ORDER BY e.tx_id, e.global_seq LIMIT 1) e) AS oldest_pending_at
                   FROM (SELECT 1) one
                   LEFT JOIN projection_checkpoints c ON c.projection = $1",
            )
            .bind(name)
            .bind(LAG_COUNT_CAP)
            .fetch_one(&self.pool)
            .await?;
            lags.push(ProjectionLag {
                projection: name,
                events_behind: row.try_get("events_behind")?,
                oldest_pending_at: row.try_get("oldest_pending_at")?,
                events_applied: row.try_get("events_applied")?,
            });
        }
        Ok(lags)
    }
}

/// Empties a projection's tables and rewinds its checkpoint (whose row the caller has locked).
async fn empty(
    connection: &mut PgConnection,
    projection: &dyn Projection,
) -> Result<(), sqlx::Error> {
    for table in projection.tables() {
        sqlx::query(&format!("TRUNCATE {table}"))
            .execute(&mut *connection)
            .await?;
    }
    sqlx::query(
        "UPDATE projection_checkpoints
            SET tx_id = '0', global_seq = 0, events_applied = 0, updated_at = now()
          WHERE projection = $1",
    )
    .bind(projection.name())
    .execute(connection)
    .await?;
    Ok(())
}

/// Events per batch in a rebuild, more than a running projector reads: a batch loads and writes each row it
/// touches once, however many of its events touch the row, and no reader waits for a rebuild's batches.
const REBUILD_BATCH_SIZE: i64 = 20_000;

/// The last batch of a rebuild after which its tables are analysed (see [`Rebuild::apply`]).
const LAST_ANALYZED_BATCH: u64 = 8;

/// Projections being rebuilt in one transaction (see [`Projector::rebuild`]).
struct Rebuild {
    projections: Vec<Arc<dyn Projection>>,
    transaction: sqlx::Transaction<'static, sqlx::Postgres>,
    /// `CREATE INDEX` statements of the indexes dropped for the rebuild.
    dropped_indexes: Vec<String>,
    /// Batches applied so far.
    batches: u64,
}

impl Rebuild {
    async fn begin(
        pool: &PgPool,
        projections: Vec<Arc<dyn Projection>>,
    ) -> Result<Self, ProjectorError> {
        let mut transaction = pool.begin().await?;
        let names: Vec<&'static str> = projections
            .iter()
            .map(|projection| projection.name())
            .collect();
        lock_checkpoints(&mut transaction, &names).await?;
        // The indexes are built again over a whole table at the end: sorting the largest (the audit log's,
        // about 60 MB per million events) in memory instead of in temporary files.
        sqlx::query("SET LOCAL maintenance_work_mem = '128MB'")
            .execute(&mut *transaction)
            .await?;
        let mut dropped_indexes = Vec::new();
        for projection in &projections {
            let failed = |source| ProjectorError::Projection {
                projection: projection.name(),
                source,
            };
            empty(&mut transaction, projection.as_ref())
                .await
                .map_err(failed)?;
            dropped_indexes.extend(
                drop_secondary_indexes(&mut transaction, projection.tables())
                    .await
                    .map_err(failed)?,
            );
        }
        Ok(Self {
            projections,
            transaction,
            dropped_indexes,
            batches: 0,
        })
    }

    /// Applies every batch `incoming` brings, until it closes, then builds the dropped indexes again (here, so
    /// that the rebuilds build theirs at the same time); then the rebuild is ready to commit.
    async fn run(
        mut self,
        mut incoming: tokio::sync::mpsc::Receiver<Arc<[StoredEvent]>>,
    ) -> Result<Self, ProjectorError> {
        while let Some(events) = incoming.recv().await {
            if let Some(last) = events.last().map(StoredEvent::position) {
                self.apply(&events, last).await?;
            }
        }
        for definition in &self.dropped_indexes {
            sqlx::query(definition)
                .execute(&mut *self.transaction)
                .await?;
        }
        Ok(self)
    }

    async fn apply(
        &mut self,
        events: &[StoredEvent],
        last: Position,
    ) -> Result<(), ProjectorError> {
        self.batches += 1;
        // The emptied tables grow inside this transaction, unseen by autovacuum: without fresh statistics the
        // planner keeps thinking them empty and scans them whole to load a batch's rows, which makes a rebuild
        // quadratic. Analysing after batches 1, 2, 4 and 8 is enough: from then on the planner scales the rows
        // it knows of by the pages a table has now, and later ANALYZEs, over tables of hundreds of thousands of
        // rows, cost a rebuild of a million events a twentieth of its CPU for nothing.
        if self.batches.is_power_of_two() && self.batches <= LAST_ANALYZED_BATCH {
            for projection in &self.projections {
                for table in projection.tables() {
                    sqlx::query(&format!("ANALYZE {table}"))
                        .execute(&mut *self.transaction)
                        .await?;
                }
            }
        }
        for projection in &self.projections {
            let name = projection.name();
            projection
                .apply(&mut self.transaction, events)
                .await
                .map_err(|source| ProjectorError::Projection {
                    projection: name,
                    source,
                })?;
            save_checkpoint(&mut self.transaction, name, last, events.len()).await?;
            metrics::counter!("aegis_projection_events_applied_total", "projection" => name)
                .increment(events.len() as u64);
        }
        Ok(())
    }

    async fn commit(self) -> Result<Vec<&'static str>, ProjectorError> {
        self.transaction.commit().await?;
        Ok(self
            .projections
            .iter()
            .map(|projection| projection.name())
            .collect())
    }
}

/// Drops the non-unique indexes of `tables` and returns their definitions. Only indexes this role may drop and
/// create again: those of tables whose owner's rights it has. Unique ones stay, as upserts rely on them.
async fn drop_secondary_indexes(
    connection: &mut PgConnection,
    tables: &[&str],
) -> Result<Vec<String>, sqlx::Error> {
    let indexes: Vec<(String, String)> = sqlx::query_as(
        "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
           FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid
          WHERE i.indrelid IN (SELECT to_regclass(name) FROM unnest($1::text[]) AS name)
            AND NOT i.indisunique
            AND pg_has_role(current_user, t.relowner, 'USAGE')
          ORDER BY 1",
    )
    .bind(tables)
    .fetch_all(&mut *connection)
    .await?;
    let mut definitions = Vec::with_capacity(indexes.len());
    for (index, definition) in indexes {
        sqlx::query(&format!("DROP INDEX {index}"))
            .execute(&mut *connection)
            .await?;
        definitions.push(definition);
    }
    Ok(definitions)
}

/// Locks (creating when missing) the checkpoint rows of `names`, in name order so that concurrent lockers
/// never deadlock, and returns their positions in the order of `names`.
async fn lock_checkpoints(
    connection: &mut PgConnection,
    names: &[&'static str],
) -> Result<Vec<Position>, sqlx::Error> {
    sqlx::query(
        "INSERT INTO projection_checkpoints (projection) SELECT unnest($1::text[])
         ON CONFLICT (projection) DO NOTHING",
    )
    .bind(names)
    .execute(&mut *connection)
    .await?;
    checkpoints(connection, names, " FOR UPDATE").await
}

/// The positions of `names`, without locking; a projection without a checkpoint row is at the start.
async fn read_checkpoints(
    connection: &mut PgConnection,
    names: &[&'static str],
) -> Result<Vec<Position>, sqlx::Error> {
    checkpoints(connection, names, "").await
}

async fn checkpoints(
    connection: &mut PgConnection,
    names: &[&'static str],
    locking: &str,
) -> Result<Vec<Position>, sqlx::Error> {
    let rows: Vec<(String, i64, i64)> = sqlx::query_as(&format!(
        "SELECT projection, tx_id::text::bigint, global_seq
           FROM projection_checkpoints WHERE projection = ANY($1)
          ORDER BY projection{locking}"
    ))
    .bind(names)
    .fetch_all(&mut *connection)
    .await?;
    Ok(names
        .iter()
        .map(|name| {
            rows.iter()
                .find(|(projection, _, _)| projection == name)
                .map(|(_, tx_id, global_seq)| Position {
                    tx_id: *tx_id,
                    global_seq: *global_seq,
                })
                .unwrap_or_default()
        })
        .collect())
}

/// The next events after `after` in commit order, only from transactions older than every running one: a
/// transaction still open could commit an event with a smaller `tx_id` than those already visible.
async fn read_batch(
    connection: &mut PgConnection,
    after: Position,
    limit: i64,
) -> Result<Vec<StoredEvent>, sqlx::Error> {
    let rows = sqlx::query(&format!(
        "SELECT {}
           FROM events
          WHERE (tx_id, global_seq) > ($1::text::xid8, $2)
            AND tx_id < pg_snapshot_xmin(pg_current_snapshot())
          -- Qualified: the bare name would mean the bigint output column and defeat the index.
          ORDER BY events.tx_id, events.global_seq
          LIMIT $3",
        StoredEvent::COLUMNS
    ))
    .bind(after.tx_id.to_string())
    .bind(after.global_seq)
    .bind(limit)
    .fetch_all(&mut *connection)
    .await?;
    rows.iter().map(StoredEvent::from_row).collect()
}

async fn save_checkpoint(
    connection: &mut PgConnection,
    name: &str,
    position: Position,
    applied: usize,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE projection_checkpoints
            SET tx_id = $2::text::xid8, global_seq = $3, events_applied = events_applied + $4, updated_at = now()
          WHERE projection = $1",
    )
    .bind(name)
    .bind(position.tx_id.to_string())
    .bind(position.global_seq)
    .bind(i64::try_from(applied).unwrap_or(i64::MAX))
    .execute(connection)
    .await?;
    Ok(())
}
