//! Reading the reference catalogs the importers wrote (migration 0007): records by kind, by technique, as of a
//! moment, and the import runs. The catalog is not a projection of events — importers write it — but it is read
//! side data and the read models join it, so its queries live here beside theirs.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::postgres::PgRow;
use sqlx::{FromRow, PgPool, Row};
use uuid::Uuid;

use crate::paging::PageCursor;

/// One version of one catalog record.
#[derive(Debug, Clone, PartialEq, FromRow)]
pub struct CatalogEntry {
    pub kind: String,
    pub scope: String,
    pub id: String,
    pub version: i32,
    pub name: String,
    /// active, deprecated or revoked.
    pub status: String,
    pub replaced_by: Option<String>,
    pub techniques: Vec<String>,
    pub details: serde_json::Value,
    /// The source that imported it (`attack`, `sigma`…).
    pub source: String,
    pub valid_from: DateTime<Utc>,
}

impl CatalogEntry {
    /// A text field of the details (`description`, `parent`); `None` when absent or not text.
    pub fn detail_text(&self, field: &str) -> Option<&str> {
        self.details.get(field).and_then(serde_json::Value::as_str)
    }

    /// A list-of-text field of the details (`tactics`, `platforms`); empty when absent.
    pub fn detail_texts(&self, field: &str) -> Vec<String> {
        self.details
            .get(field)
            .and_then(serde_json::Value::as_array)
            .map(|values| {
                values
                    .iter()
                    .filter_map(|value| value.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The key of this record in a list ordered by (`scope`, `id`).
    pub fn cursor(&self) -> CatalogCursor {
        CatalogCursor {
            scope: self.scope.clone(),
            id: self.id.clone(),
        }
    }
}

/// A position in a catalog list, which is ordered by (`scope`, `id`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogCursor {
    pub scope: String,
    pub id: String,
}

impl CatalogCursor {
    /// An opaque API cursor (JSON of the pair; ids contain any character).
    pub fn encode(&self) -> String {
        serde_json::to_string(&(&self.scope, &self.id)).unwrap_or_default()
    }

    pub fn decode(text: &str) -> Option<Self> {
        let (scope, id): (String, String) = serde_json::from_str(text).ok()?;
        Some(Self { scope, id })
    }
}

/// Which records a list holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CatalogFilter {
    /// A record kind as the importers store it: `technique`, `group`, `detection_rule`…
    pub kind: String,
    /// Only this scope (an ATT&CK domain, a template library, a rule source, a framework).
    pub scope: Option<String>,
    /// Only records that refer to this technique.
    pub technique: Option<String>,
    /// Only records whose id or name contains this text (case-insensitive).
    pub search: Option<String>,
    /// Include revoked and deprecated records.
    pub include_retired: bool,
    /// The catalog as it was at this moment instead of now.
    pub as_of: Option<DateTime<Utc>>,
}

const ENTRY_COLUMNS: &str =
    "kind, scope, id, version, name, status, replaced_by, techniques, details, source, valid_from";

/// The versions in force: current ones, or those valid at `as_of` (parameter `$1`).
pub(crate) const IN_FORCE: &str = "(($1::timestamptz IS NULL AND valid_to IS NULL)
     OR ($1::timestamptz IS NOT NULL AND valid_from <= $1 AND (valid_to IS NULL OR valid_to > $1)))";

/// One page of records matching `filter`, after `after`, in (`scope`, `id`) order.
pub async fn page(
    pool: &PgPool,
    filter: &CatalogFilter,
    after: Option<&CatalogCursor>,
    limit: i64,
) -> Result<Vec<CatalogEntry>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {ENTRY_COLUMNS} FROM catalog_records
         WHERE {IN_FORCE} AND kind = $2
           AND ($3::text IS NULL OR scope = $3)
           AND ($4::text IS NULL OR techniques @> ARRAY[$4::text])
           AND ($5::text IS NULL OR id ILIKE '%' || $5 || '%' OR name ILIKE '%' || $5 || '%')
           AND ($6 OR status = 'active')
           AND ($7::text IS NULL OR (scope, id) > ($7, $8))
         ORDER BY scope, id
         LIMIT $9"
    ))
    .bind(filter.as_of)
    .bind(&filter.kind)
    .bind(&filter.scope)
    .bind(&filter.technique)
    .bind(filter.search.as_deref().map(escape_like))
    .bind(filter.include_retired)
    .bind(after.map(|cursor| &cursor.scope))
    .bind(after.map(|cursor| &cursor.id))
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// Every record of `kind` in `scope` in force (revoked and deprecated included), by id: a heatmap's techniques.
pub async fn all(
    pool: &PgPool,
    kind: &str,
    scope: &str,
    as_of: Option<DateTime<Utc>>,
) -> Result<Vec<CatalogEntry>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {ENTRY_COLUMNS} FROM catalog_records
         WHERE {IN_FORCE} AND kind = $2 AND scope = $3 ORDER BY id"
    ))
    .bind(as_of)
    .bind(kind)
    .bind(scope)
    .fetch_all(pool)
    .await
}

/// The techniques of a domain in force at `as_of` (now when `None`), by id, as a heatmap shows them: `details`
/// holds only `tactics`. A technique's description, detection notes and references are nearly all of its record
/// (about 2 MB for the Enterprise matrix), and reading them for every cell was most of a heatmap's time.
pub async fn matrix_techniques(
    pool: &PgPool,
    scope: &str,
    as_of: Option<DateTime<Utc>>,
) -> Result<Vec<CatalogEntry>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT kind, scope, id, version, name, status, replaced_by, techniques,
                jsonb_build_object('tactics', tactics) AS details, source, valid_from
         FROM catalog_records
         WHERE {IN_FORCE} AND kind = 'technique' AND scope = $2 ORDER BY id"
    ))
    .bind(as_of)
    .bind(scope)
    .fetch_all(pool)
    .await
}

/// One record by kind and id (in any scope unless one is given), as of a moment or now.
pub async fn find(
    pool: &PgPool,
    kind: &str,
    scope: Option<&str>,
    id: &str,
    as_of: Option<DateTime<Utc>>,
) -> Result<Option<CatalogEntry>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {ENTRY_COLUMNS} FROM catalog_records
         WHERE {IN_FORCE} AND kind = $2 AND upper(id) = upper($3) AND ($4::text IS NULL OR scope = $4)
         ORDER BY scope LIMIT 1"
    ))
    .bind(as_of)
    .bind(kind)
    .bind(id)
    .bind(scope)
    .fetch_optional(pool)
    .await
}

/// Every record of `kind` in force that refers to `technique` (the groups using it, the rules detecting it…).
pub async fn referring_to(
    pool: &PgPool,
    kind: &str,
    technique: &str,
    as_of: Option<DateTime<Utc>>,
) -> Result<Vec<CatalogEntry>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {ENTRY_COLUMNS} FROM catalog_records
         WHERE {IN_FORCE} AND kind = $2 AND techniques @> ARRAY[$3::text]
         ORDER BY scope, id"
    ))
    .bind(as_of)
    .bind(kind)
    .bind(technique)
    .fetch_all(pool)
    .await
}

/// The sub-techniques of a technique in one ATT&CK domain, in id order.
pub async fn sub_techniques(
    pool: &PgPool,
    scope: &str,
    technique: &str,
    as_of: Option<DateTime<Utc>>,
) -> Result<Vec<CatalogEntry>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {ENTRY_COLUMNS} FROM catalog_records
         WHERE {IN_FORCE} AND kind = 'technique' AND scope = $2 AND id LIKE $3 || '.%'
         ORDER BY id"
    ))
    .bind(as_of)
    .bind(scope)
    .bind(technique)
    .fetch_all(pool)
    .await
}

/// The tactics of an ATT&CK domain in matrix order (the order ATT&CK's own matrix shows them).
pub async fn tactics(
    pool: &PgPool,
    scope: &str,
    as_of: Option<DateTime<Utc>>,
) -> Result<Vec<CatalogEntry>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {ENTRY_COLUMNS} FROM catalog_records
         WHERE {IN_FORCE} AND kind = 'tactic' AND scope = $2 AND status = 'active'
         ORDER BY (details->>'order')::integer NULLS LAST, id"
    ))
    .bind(as_of)
    .bind(scope)
    .fetch_all(pool)
    .await
}

/// Which of `ids` the loaded ATT&CK catalog knows as a technique (in any domain, revoked ones included: a
/// revoked id is known, and shown as revoked).
pub async fn known_techniques(
    pool: &PgPool,
    ids: &[String],
) -> Result<HashSet<String>, sqlx::Error> {
    if ids.is_empty() {
        return Ok(HashSet::new());
    }
    let known: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT id FROM catalog_records
         WHERE kind = 'technique' AND valid_to IS NULL AND id = ANY($1)",
    )
    .bind(ids)
    .fetch_all(pool)
    .await?;
    Ok(known.into_iter().collect())
}

/// Whether any ATT&CK catalog has been imported: without one, no id can be called unknown.
pub async fn has_techniques(pool: &PgPool) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM catalog_records WHERE kind = 'technique' AND valid_to IS NULL)",
    )
    .fetch_one(pool)
    .await
}

/// One import run.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportRunRow {
    pub run_id: Uuid,
    pub source: String,
    pub locations: Vec<String>,
    pub upstream_version: Option<String>,
    pub content_digest: Option<String>,
    pub status: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub started_by: Option<Uuid>,
    pub files_seen: i32,
    pub files_failed: i32,
    pub records_new: i32,
    pub records_changed: i32,
    pub records_unchanged: i32,
    pub records_retired: i32,
    pub errors: Vec<ImportError>,
}

/// A file an import could not use.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ImportError {
    pub file: Option<String>,
    pub error: String,
}

impl ImportRunRow {
    pub fn cursor(&self) -> PageCursor {
        PageCursor {
            at: self.started_at,
            id: self.run_id,
        }
    }

    fn from_row(row: &PgRow) -> Result<Self, sqlx::Error> {
        let errors: sqlx::types::Json<Vec<ImportError>> = row.try_get("errors")?;
        Ok(Self {
            run_id: row.try_get("run_id")?,
            source: row.try_get("source")?,
            locations: row.try_get("locations")?,
            upstream_version: row.try_get("upstream_version")?,
            content_digest: row.try_get("content_digest")?,
            status: row.try_get("status")?,
            started_at: row.try_get("started_at")?,
            finished_at: row.try_get("finished_at")?,
            started_by: row.try_get("started_by")?,
            files_seen: row.try_get("files_seen")?,
            files_failed: row.try_get("files_failed")?,
            records_new: row.try_get("records_new")?,
            records_changed: row.try_get("records_changed")?,
            records_unchanged: row.try_get("records_unchanged")?,
            records_retired: row.try_get("records_retired")?,
            errors: errors.0,
        })
    }
}

/// Import runs, newest first, optionally of one source.
pub async fn import_runs(
    pool: &PgPool,
    source: Option<&str>,
    after: Option<&PageCursor>,
    limit: i64,
) -> Result<Vec<ImportRunRow>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT * FROM import_runs
         WHERE ($1::text IS NULL OR source = $1)
           AND ($2::timestamptz IS NULL OR (started_at, run_id) < ($2, $3))
         ORDER BY started_at DESC, run_id DESC
         LIMIT $4",
    )
    .bind(source)
    .bind(after.map(|cursor| cursor.at))
    .bind(after.map(|cursor| cursor.id))
    .bind(limit)
    .fetch_all(pool)
    .await?;
    rows.iter().map(ImportRunRow::from_row).collect()
}

pub async fn import_run(pool: &PgPool, run_id: Uuid) -> Result<Option<ImportRunRow>, sqlx::Error> {
    sqlx::query("SELECT * FROM import_runs WHERE run_id = $1")
        .bind(run_id)
        .fetch_optional(pool)
        .await?
        .as_ref()
        .map(ImportRunRow::from_row)
        .transpose()
}

/// `text` with LIKE's wildcards taken literally.
fn escape_like(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

/// A record version an import added: a new record, or a changed one with what it referred to before.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct CatalogChange {
    pub run_id: Uuid,
    /// The import's upstream release (`18.1`), when it names one.
    pub upstream_version: Option<String>,
    pub kind: String,
    pub scope: String,
    pub id: String,
    pub name: String,
    pub version: i32,
    pub status: String,
    pub techniques: Vec<String>,
    /// The techniques of the version before; `None` for a new record.
    pub previous_techniques: Option<Vec<String>>,
}

/// The records of `kinds` that the imports finished after `since` (every import when `None`) added or
/// changed, by import run. The first import of a kind and scope is the baseline, not news: its records are
/// left out.
pub async fn changes_since(
    pool: &PgPool,
    since: Option<DateTime<Utc>>,
    kinds: &[&str],
) -> Result<Vec<CatalogChange>, sqlx::Error> {
    sqlx::query_as(
        "WITH runs AS (
             SELECT run_id, upstream_version FROM import_runs
              WHERE status IN ('succeeded', 'partial') AND finished_at IS NOT NULL
                AND ($1::timestamptz IS NULL OR finished_at > $1)),
         first_runs AS (
             SELECT DISTINCT ON (kind, scope) kind, scope, run_id FROM catalog_records
              WHERE kind = ANY($2) ORDER BY kind, scope, valid_from, run_id)
         SELECT c.run_id, runs.upstream_version, c.kind, c.scope, c.id, c.name, c.version, c.status,
                c.techniques, p.techniques AS previous_techniques
           FROM catalog_records c
           JOIN runs USING (run_id)
           JOIN first_runs f ON (f.kind, f.scope) = (c.kind, c.scope)
           LEFT JOIN catalog_records p ON (p.kind, p.scope, p.id, p.version) = (c.kind, c.scope, c.id, c.version - 1)
          WHERE c.kind = ANY($2) AND (c.version > 1 OR c.run_id <> f.run_id)
          ORDER BY c.run_id, c.kind, c.scope, c.id",
    )
    .bind(since)
    .bind(kinds)
    .fetch_all(pool)
    .await
}
