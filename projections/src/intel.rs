//! The intel items read model (`intel_items`): what the intel scan and ATT&CK sync found, newest first, with
//! who acknowledged each — from the `IntelItem` events.
//!
//! Idempotent without a working table: a raised item is inserted unless present, and an acknowledgement only
//! fills an empty acknowledgement, so applying an event twice changes nothing.

use chrono::{DateTime, Utc};
use domain::intel::{CatalogLink, IntelEvent, IntelKind};
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, PgPool, Row};
use uuid::Uuid;

use crate::paging::PageCursor;
use crate::projector::{Projection, StoredEvent, streams_of};
use crate::rows;
use crate::test_cases::from_serde_name;

/// Keeps `intel_items` in step with `IntelItem` events.
#[derive(Debug, Clone, Copy, Default)]
pub struct Intel;

/// A row of `intel_items` as the projection writes it.
#[derive(Debug, serde::Serialize)]
struct RaisedRecord {
    item_id: Uuid,
    kind: IntelKind,
    title: String,
    detail: String,
    techniques: Vec<String>,
    links: Vec<CatalogLink>,
    raised_at: DateTime<Utc>,
    raised_by: Option<String>,
    global_seq: i64,
}

#[async_trait::async_trait]
impl Projection for Intel {
    fn name(&self) -> &'static str {
        "intel"
    }

    fn tables(&self) -> &'static [&'static str] {
        &["intel_items"]
    }

    async fn apply(
        &self,
        connection: &mut PgConnection,
        events: &[StoredEvent],
    ) -> Result<(), sqlx::Error> {
        let mut raised = Vec::new();
        let mut acknowledged = Vec::new();
        for (item_id, stored) in streams_of(events, "IntelItem") {
            match stored.payload::<IntelEvent>()?.into_owned() {
                IntelEvent::Raised {
                    kind,
                    title,
                    detail,
                    links,
                    ..
                } => raised.push(RaisedRecord {
                    item_id,
                    kind,
                    title,
                    detail,
                    techniques: links
                        .iter()
                        .filter(|link| link.kind == "technique")
                        .map(|link| link.id.clone())
                        .collect(),
                    links,
                    raised_at: rows::as_stored(stored.occurred_at()),
                    raised_by: stored.actor_id().map(str::to_owned),
                    global_seq: stored.global_seq,
                }),
                IntelEvent::Acknowledged { note } => acknowledged.push((item_id, stored, note)),
            }
        }
        rows::insert_missing(connection, "intel_items", &["item_id"], &raised).await?;
        // Rare (a person acknowledges one item at a time): a statement each.
        for (item_id, stored, note) in acknowledged {
            sqlx::query(
                "UPDATE intel_items SET acknowledged_at = $2, acknowledged_by = $3, acknowledgement = $4
                  WHERE item_id = $1 AND acknowledged_at IS NULL",
            )
            .bind(item_id)
            .bind(rows::as_stored(stored.occurred_at()))
            .bind(stored.actor_id())
            .bind(note)
            .execute(&mut *connection)
            .await?;
        }
        Ok(())
    }
}

/// One intel item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntelItemRow {
    pub item_id: Uuid,
    pub kind: IntelKind,
    pub title: String,
    pub detail: String,
    pub links: Vec<CatalogLink>,
    pub raised_at: DateTime<Utc>,
    pub raised_by: Option<String>,
    pub acknowledged_at: Option<DateTime<Utc>>,
    pub acknowledged_by: Option<String>,
    pub acknowledgement: Option<String>,
}

impl IntelItemRow {
    /// The keyset position of this row in [`page`]'s order.
    pub fn cursor(&self) -> PageCursor {
        PageCursor {
            at: self.raised_at,
            id: self.item_id,
        }
    }
}

const COLUMNS: &str = "item_id, kind, title, detail, links, raised_at, raised_by, acknowledged_at, \
                       acknowledged_by, acknowledgement";

fn item(row: &PgRow) -> Result<IntelItemRow, sqlx::Error> {
    let kind: String = row.try_get("kind")?;
    let links: sqlx::types::Json<Vec<CatalogLink>> = row.try_get("links")?;
    Ok(IntelItemRow {
        item_id: row.try_get("item_id")?,
        kind: from_serde_name(&kind)?,
        title: row.try_get("title")?,
        detail: row.try_get("detail")?,
        links: links.0,
        raised_at: row.try_get("raised_at")?,
        raised_by: row.try_get("raised_by")?,
        acknowledged_at: row.try_get("acknowledged_at")?,
        acknowledged_by: row.try_get("acknowledged_by")?,
        acknowledgement: row.try_get("acknowledgement")?,
    })
}

/// What [`page`] lists.
#[derive(Debug, Clone, Default)]
pub struct IntelFilter {
    pub open_only: bool,
    pub kind: Option<IntelKind>,
    /// Items linking this technique (`T1003`; a sub-technique's items do not count for the parent).
    pub technique: Option<String>,
}

/// Intel items newest first, after `after`, at most `limit`.
pub async fn page(
    pool: &PgPool,
    filter: &IntelFilter,
    after: Option<&PageCursor>,
    limit: i64,
) -> Result<Vec<IntelItemRow>, sqlx::Error> {
    let kind = filter
        .kind
        .map(|kind| serde_json::to_value(kind).map(|name| name.as_str().map(str::to_owned)))
        .transpose()
        .map_err(|error| sqlx::Error::Encode(Box::new(error)))?
        .flatten();
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM intel_items
          WHERE ($1::timestamptz IS NULL OR (raised_at, item_id) < ($1, $2::uuid))
            AND (NOT $3 OR acknowledged_at IS NULL)
            AND ($4::text IS NULL OR kind = $4)
            AND ($5::text IS NULL OR techniques @> ARRAY[$5])
          ORDER BY raised_at DESC, item_id DESC
          LIMIT $6"
    ))
    .bind(after.map(|cursor| cursor.at))
    .bind(after.map(|cursor| cursor.id))
    .bind(filter.open_only)
    .bind(kind)
    .bind(filter.technique.as_deref())
    .bind(limit)
    .fetch_all(pool)
    .await?;
    rows.iter().map(item).collect()
}

/// One item; `None` when no such item was raised (or the projection has not reached it yet).
pub async fn find(pool: &PgPool, item_id: Uuid) -> Result<Option<IntelItemRow>, sqlx::Error> {
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM intel_items WHERE item_id = $1"
    ))
    .bind(item_id)
    .fetch_optional(pool)
    .await?;
    row.as_ref().map(item).transpose()
}

/// How many items nobody acknowledged yet.
pub async fn open_count(pool: &PgPool) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT count(*) FROM intel_items WHERE acknowledged_at IS NULL")
        .fetch_one(pool)
        .await
}

// What the intel scan reads.

/// The techniques the organisation works on: those of every test case and those in a campaign's scope.
pub async fn techniques_in_scope(pool: &PgPool) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT technique FROM test_cases
         UNION SELECT unnest(scope_techniques) FROM campaigns
         ORDER BY 1",
    )
    .fetch_all(pool)
    .await
}

/// The ATT&CK groups the organisation tracks: those a campaign is scoped to.
pub async fn tracked_threat_actors(pool: &PgPool) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT DISTINCT scope_threat_actor FROM campaigns WHERE scope_threat_actor IS NOT NULL ORDER BY 1",
    )
    .fetch_all(pool)
    .await
}
