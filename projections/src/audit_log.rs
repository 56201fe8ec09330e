//! The audit log read model: every event with who did it, when, in which request, a one-line summary for
//! people and its link in the hash chain; [`page`] lists it newest first, filtered, for auditors.
//!
//! The summary names the actor by e-mail address as it was when the event happened: the projection keeps
//! its own memory of users' addresses (`audit_log_user_emails`), fed by `User` events in the global order, so
//! the lines do not depend on another read model or on the batch size, and a rebuild writes them again
//! identically.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use domain::user::UserEvent;
use sqlx::{PgConnection, PgPool, Postgres, QueryBuilder, Row};

use crate::copy::BinaryRows;
use crate::projector::{Projection, StoredEvent};

pub mod summary;

/// Keeps `audit_log` in step with the event log.
#[derive(Debug, Clone, Copy, Default)]
pub struct AuditLog;

// Metadata keys written by the command layer (see `commands::context::keys`); projections read them by name
// because they must not depend on the write side.
const ACTOR_ROLES: &str = "actor_roles";
const CORRELATION_ID: &str = "correlation_id";
const IDEMPOTENCY_KEY: &str = "idempotency_key";

/// Who acted when an event carries no actor (written by other means than the command layer).
const UNKNOWN_ACTOR: &str = "unknown actor";

#[async_trait::async_trait]
impl Projection for AuditLog {
    fn name(&self) -> &'static str {
        "audit_log"
    }

    fn tables(&self) -> &'static [&'static str] {
        &["audit_log", "audit_log_user_emails"]
    }

    async fn apply(
        &self,
        connection: &mut PgConnection,
        events: &[StoredEvent],
    ) -> Result<(), sqlx::Error> {
        let mut emails = UserEmails::load(&mut *connection, events).await?;
        // One COPY per batch: a rebuild writes a row per event, and COPY is the cheapest way in.
        let mut rows = BinaryRows::new(
            "audit_log",
            &[
                "global_seq",
                "recorded_at",
                "occurred_at",
                "aggregate_type",
                "aggregate_id",
                "sequence",
                "event_type",
                "event_version",
                "actor_id",
                "actor_roles",
                "correlation_id",
                "idempotency_key",
                "actor_label",
                "summary",
                "hash",
                "prev_hash",
            ],
        );
        for event in events {
            let actor_label = event
                .actor_id()
                .map_or(UNKNOWN_ACTOR, |actor_id| emails.label(actor_id));
            let predicate = summary::summarize_stored(event);
            let subject_user = (event.aggregate_type == "User"
                && event.actor_id() != Some(event.aggregate_id.as_str()))
            .then(|| emails.known(&event.aggregate_id))
            .flatten();
            rows.row()
                .bigint(event.global_seq)
                .timestamptz(event.recorded_at)
                .timestamptz(event.occurred_at())
                .text(&event.aggregate_type)
                .text(&event.aggregate_id)
                .bigint(event.sequence)
                .text(&event.event_type)
                .text(&event.event_version)
                .optional_text(event.actor_id())
                .optional_text(event.metadata_str(ACTOR_ROLES))
                .optional_text(event.metadata_str(CORRELATION_ID))
                .optional_text(event.metadata_str(IDEMPOTENCY_KEY))
                .text(actor_label)
                .text(&summary::line(actor_label, &predicate, subject_user))
                .bytea(&event.hash)
                .bytea(&event.prev_hash);
            // After the line: a user who changes their own address is named by the old one, as they were
            // known when they asked.
            emails.follow(event);
        }
        emails.store(&mut *connection).await?;
        rows.copy_into(connection).await
    }
}

/// The users' e-mail addresses the audit log knows, as of the event being applied.
struct UserEmails {
    known: HashMap<String, String>,
    changed: BTreeMap<String, String>,
}

impl UserEmails {
    /// The stored addresses of every actor and user the batch mentions.
    async fn load(
        connection: &mut PgConnection,
        events: &[StoredEvent],
    ) -> Result<Self, sqlx::Error> {
        let mut ids: Vec<&str> = events
            .iter()
            .flat_map(|event| {
                let user = (event.aggregate_type == "User").then_some(event.aggregate_id.as_str());
                [event.actor_id(), user]
            })
            .flatten()
            .collect();
        ids.sort_unstable();
        ids.dedup();
        let known: Vec<(String, String)> = sqlx::query_as(
            "SELECT user_id, email FROM audit_log_user_emails WHERE user_id = ANY($1)",
        )
        .bind(&ids)
        .fetch_all(connection)
        .await?;
        Ok(Self {
            known: known.into_iter().collect(),
            changed: BTreeMap::new(),
        })
    }

    fn known(&self, user_id: &str) -> Option<&str> {
        self.known.get(user_id).map(String::as_str)
    }

    /// The user's address, or the id itself for a part of Aegis (`system:login`) or a user not seen.
    fn label<'a>(&'a self, actor_id: &'a str) -> &'a str {
        self.known(actor_id).unwrap_or(actor_id)
    }

    /// Takes in the address a `User` event gives its user.
    fn follow(&mut self, event: &StoredEvent) {
        if event.aggregate_type != "User" {
            return;
        }
        // Another user event, or one this version cannot read, leaves the address as it was.
        let Ok(payload) = event.payload::<UserEvent>() else {
            return;
        };
        let (UserEvent::Registered { email, .. } | UserEvent::EmailChanged { email }) = &*payload
        else {
            return;
        };
        self.known
            .insert(event.aggregate_id.clone(), email.to_string());
        self.changed
            .insert(event.aggregate_id.clone(), email.to_string());
    }

    async fn store(self, connection: &mut PgConnection) -> Result<(), sqlx::Error> {
        if self.changed.is_empty() {
            return Ok(());
        }
        sqlx::query(
            "INSERT INTO audit_log_user_emails (user_id, email)
             SELECT * FROM UNNEST($1::text[], $2::text[])
             ON CONFLICT (user_id) DO UPDATE SET email = excluded.email",
        )
        .bind(self.changed.keys().collect::<Vec<_>>())
        .bind(self.changed.values().collect::<Vec<_>>())
        .execute(connection)
        .await?;
        Ok(())
    }
}

/// The e-mail addresses the audit log knows for `user_ids` (the latest of each), for tools that name actors
/// outside the audit log's own lines.
pub async fn user_emails(
    pool: &PgPool,
    user_ids: &[&str],
) -> Result<HashMap<String, String>, sqlx::Error> {
    let rows: Vec<(String, String)> =
        sqlx::query_as("SELECT user_id, email FROM audit_log_user_emails WHERE user_id = ANY($1)")
            .bind(user_ids)
            .fetch_all(pool)
            .await?;
    Ok(rows.into_iter().collect())
}

/// Which lines [`page`] lists; every field given narrows the list, and they combine.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditLogFilter {
    /// A user id, or a part of Aegis such as `system:login`.
    pub actor_id: Option<String>,
    pub aggregate_type: Option<String>,
    pub aggregate_id: Option<String>,
    pub event_type: Option<String>,
    /// Events that happened at or after this time.
    pub from: Option<DateTime<Utc>>,
    /// Events that happened at or before this time.
    pub to: Option<DateTime<Utc>>,
}

/// One line of the audit log as auditors read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditLogLine {
    pub global_seq: i64,
    pub occurred_at: DateTime<Utc>,
    pub recorded_at: DateTime<Utc>,
    pub actor_id: Option<String>,
    pub actor_label: String,
    /// The roles the actor acted with, as the command layer recorded them.
    pub actor_roles: Vec<String>,
    pub aggregate_type: String,
    pub aggregate_id: String,
    pub sequence: i64,
    pub event_type: String,
    pub event_version: String,
    pub summary: String,
    pub correlation_id: Option<String>,
    pub hash: Vec<u8>,
    pub prev_hash: Vec<u8>,
}

/// Up to `limit` lines matching `filter`, newest first (by global position), before position `before` when
/// given. Events appended meanwhile have larger positions, so a client paging with `before` never sees a line
/// twice or misses one. Ask for one more than a page to learn whether another follows.
///
/// The statement holds only the conditions given, so each combination is planned on its own and an index
/// of migration 0011 (actor, aggregate, aggregate type, event type, time; each ending in `global_seq`)
/// serves it.
pub async fn page(
    pool: &PgPool,
    filter: &AuditLogFilter,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<AuditLogLine>, sqlx::Error> {
    let mut query: QueryBuilder<'_, Postgres> = QueryBuilder::new(
        "SELECT global_seq, occurred_at, recorded_at, actor_id, actor_label, actor_roles, aggregate_type,
                aggregate_id, sequence, event_type, event_version, summary, correlation_id, hash, prev_hash
           FROM audit_log WHERE true",
    );
    if let Some(before) = before {
        query.push(" AND global_seq < ").push_bind(before);
    }
    let texts = [
        ("actor_id", &filter.actor_id),
        ("aggregate_type", &filter.aggregate_type),
        ("aggregate_id", &filter.aggregate_id),
        ("event_type", &filter.event_type),
    ];
    for (column, value) in texts {
        if let Some(value) = value {
            query
                .push(format_args!(" AND {column} = "))
                .push_bind(value.clone());
        }
    }
    if let Some(from) = filter.from {
        query.push(" AND occurred_at >= ").push_bind(from);
    }
    if let Some(to) = filter.to {
        query.push(" AND occurred_at <= ").push_bind(to);
    }
    query
        .push(" ORDER BY global_seq DESC LIMIT ")
        .push_bind(limit);
    let rows = query.build().fetch_all(pool).await?;
    rows.iter()
        .map(|row| {
            let roles: Option<String> = row.try_get("actor_roles")?;
            Ok(AuditLogLine {
                global_seq: row.try_get("global_seq")?,
                occurred_at: row.try_get("occurred_at")?,
                recorded_at: row.try_get("recorded_at")?,
                actor_id: row.try_get("actor_id")?,
                actor_label: row.try_get("actor_label")?,
                actor_roles: roles
                    .unwrap_or_default()
                    .split(',')
                    .filter(|role| !role.is_empty())
                    .map(str::to_owned)
                    .collect(),
                aggregate_type: row.try_get("aggregate_type")?,
                aggregate_id: row.try_get("aggregate_id")?,
                sequence: row.try_get("sequence")?,
                event_type: row.try_get("event_type")?,
                event_version: row.try_get("event_version")?,
                summary: row.try_get("summary")?,
                correlation_id: row.try_get("correlation_id")?,
                hash: row.try_get("hash")?,
                prev_hash: row.try_get("prev_hash")?,
            })
        })
        .collect()
}

/// One line of the audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    pub global_seq: i64,
    pub recorded_at: DateTime<Utc>,
    pub occurred_at: Option<DateTime<Utc>>,
    pub aggregate_type: String,
    pub aggregate_id: String,
    pub sequence: i64,
    pub event_type: String,
    pub actor_id: Option<String>,
    pub correlation_id: Option<String>,
}

/// The history of one aggregate, oldest first.
pub async fn history(
    pool: &PgPool,
    aggregate_type: &str,
    aggregate_id: &str,
) -> Result<Vec<AuditEntry>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT global_seq, recorded_at, occurred_at, aggregate_type, aggregate_id, sequence, event_type,
                actor_id, correlation_id
           FROM audit_log WHERE aggregate_type = $1 AND aggregate_id = $2 ORDER BY sequence",
    )
    .bind(aggregate_type)
    .bind(aggregate_id)
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(AuditEntry {
                global_seq: row.try_get("global_seq")?,
                recorded_at: row.try_get("recorded_at")?,
                occurred_at: row.try_get("occurred_at")?,
                aggregate_type: row.try_get("aggregate_type")?,
                aggregate_id: row.try_get("aggregate_id")?,
                sequence: row.try_get("sequence")?,
                event_type: row.try_get("event_type")?,
                actor_id: row.try_get("actor_id")?,
                correlation_id: row.try_get("correlation_id")?,
            })
        })
        .collect()
}
