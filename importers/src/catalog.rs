//! The catalog writer: stores what a parser produced as versioned catalog records and records the import run
//! (migration 0007). Only the catalog tables are touched here.
//!
//! An import compares each record's digest with its current version: equal → unchanged (nothing written), new
//! key → version 1, different → the current version is closed (`valid_to`, `retired_by`) and the next one added.
//! Importing the same content twice therefore writes nothing but the run row. All record writes of one import
//! happen in one transaction, serialised with other imports by an advisory lock, so a reader sees a catalog
//! either before or after an import, never half of one.

use std::collections::{HashMap, HashSet};

use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::{PgPool, Postgres, Row, Transaction};
use uuid::Uuid;

use crate::record::{CatalogRecord, FileFailure, Parsed, RecordStatus, SourceFile};
use crate::source::Source;

/// Serialises catalog writers: two imports of overlapping content must not both add version 2 of a record.
const CATALOG_WRITE_LOCK: i64 = 0x6165_6769_735f_6361; // "aegis_ca"
/// Records per INSERT statement: large enough to amortise round trips, small enough for one JSON parameter.
const INSERT_BATCH: usize = 2_000;

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("catalog database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("import run {0} does not exist or has already finished")]
    UnknownRun(Uuid),
}

/// What an import did: the run row's counts, and the JSON summary `aegis import --json` prints.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImportSummary {
    pub run_id: Uuid,
    pub source: Source,
    pub upstream_version: Option<String>,
    pub files_seen: usize,
    pub records_new: usize,
    pub records_changed: usize,
    pub records_unchanged: usize,
    pub records_retired: usize,
    pub files_failed: usize,
    pub errors: Vec<FileFailure>,
}

impl ImportSummary {
    /// Whether every file imported (the command's exit status).
    pub fn succeeded(&self) -> bool {
        self.files_failed == 0
    }
}

/// Records a new run as `running` and returns its id, before any work: a run started from the API is visible
/// (and its progress queryable) at once.
pub async fn begin_run(
    pool: &PgPool,
    source: Source,
    locations: &[String],
    started_by: Option<Uuid>,
) -> Result<Uuid, CatalogError> {
    let run_id = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO import_runs (run_id, source, locations, status, started_at, started_by)
         VALUES ($1, $2, $3, 'running', now(), $4)",
    )
    .bind(run_id)
    .bind(source.as_str())
    .bind(locations)
    .bind(started_by)
    .execute(pool)
    .await?;
    Ok(run_id)
}

/// Marks a run that could not get as far as writing (the server could not be reached, nothing was readable).
pub async fn fail_run(pool: &PgPool, run_id: Uuid, error: &str) -> Result<(), CatalogError> {
    let errors = serde_json::json!([{ "file": null, "error": error }]);
    let updated = sqlx::query(
        "UPDATE import_runs SET status = 'failed', finished_at = now(), errors = $2
         WHERE run_id = $1 AND status = 'running'",
    )
    .bind(run_id)
    .bind(errors)
    .execute(pool)
    .await?;
    if updated.rows_affected() == 0 {
        return Err(CatalogError::UnknownRun(run_id));
    }
    Ok(())
}

/// Writes what `source` parsed from `files` and finishes the run. `unread` are the files that could not even be
/// read or fetched; they count as failed files beside the parser's own failures.
pub async fn complete_run(
    pool: &PgPool,
    run_id: Uuid,
    source: Source,
    files: &[SourceFile],
    parsed: Parsed,
    unread: Vec<FileFailure>,
) -> Result<ImportSummary, CatalogError> {
    let Parsed {
        records,
        mut failures,
        upstream_version,
    } = parsed;
    let files_seen = files.len() + unread.len();
    failures.splice(0..0, unread);
    let failed_files: HashSet<&str> = failures
        .iter()
        .map(|failure| failure.file.as_str())
        .collect();
    let files_failed = failed_files.len();
    let records = without_repeated_keys(records);
    let records_retired = records
        .iter()
        .filter(|record| record.status != RecordStatus::Active)
        .count();

    let mut transaction = pool.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(CATALOG_WRITE_LOCK)
        .execute(&mut *transaction)
        .await?;
    let current = current_digests(&mut transaction, &records).await?;
    let mut new = Vec::new();
    let mut changed = Vec::new();
    let mut unchanged = 0;
    for record in records {
        let digest = digest(&record);
        match current.get(&key(&record)) {
            None => new.push(RecordVersion::first(record, digest)),
            Some((_, current_digest)) if *current_digest == digest => unchanged += 1,
            Some((version, _)) => changed.push(RecordVersion::next(record, digest, *version)),
        }
    }
    close_changed(&mut transaction, run_id, &changed).await?;
    for batch in new.chunks(INSERT_BATCH).chain(changed.chunks(INSERT_BATCH)) {
        insert_versions(&mut transaction, run_id, source, batch).await?;
    }
    let summary = ImportSummary {
        run_id,
        source,
        upstream_version,
        files_seen,
        records_new: new.len(),
        records_changed: changed.len(),
        records_unchanged: unchanged,
        records_retired,
        files_failed,
        errors: failures,
    };
    finish(&mut transaction, &summary, &content_digest(files)).await?;
    transaction.commit().await?;
    Ok(summary)
}

type Key = (String, String, String);

fn key(record: &CatalogRecord) -> Key {
    (
        record.kind.as_str().to_owned(),
        record.scope.clone(),
        record.id.clone(),
    )
}

/// Keeps the last record of each key: a parser that meets the same upstream id twice (a Sigma rule present in
/// both `rules/` and `deprecated/`) reports the later file's content, as upstream's own loaders do.
fn without_repeated_keys(records: Vec<CatalogRecord>) -> Vec<CatalogRecord> {
    let mut seen = HashSet::new();
    let mut kept: Vec<CatalogRecord> = records
        .into_iter()
        .rev()
        .filter(|record| seen.insert(key(record)))
        .collect();
    kept.reverse();
    kept
}

/// The digest of everything a record version stores, so that equal digests mean nothing to write.
fn digest(record: &CatalogRecord) -> String {
    let content = serde_json::json!({
        "name": record.name,
        "status": record.status,
        "techniques": record.techniques,
        "details": record.details,
    });
    hex::encode(Sha256::digest(content.to_string().as_bytes()))
}

/// SHA-256 over every input file's name and bytes, in path order.
fn content_digest(files: &[SourceFile]) -> String {
    let mut ordered: Vec<&SourceFile> = files.iter().collect();
    ordered.sort_by(|left, right| left.path.cmp(&right.path));
    let mut hasher = Sha256::new();
    for file in ordered {
        let name = file.path.to_string_lossy();
        hasher.update((name.len() as u64).to_be_bytes());
        hasher.update(name.as_bytes());
        hasher.update((file.bytes.len() as u64).to_be_bytes());
        hasher.update(&file.bytes);
    }
    hex::encode(hasher.finalize())
}

async fn current_digests(
    transaction: &mut Transaction<'_, Postgres>,
    records: &[CatalogRecord],
) -> Result<HashMap<Key, (i32, String)>, CatalogError> {
    let (mut kinds, mut scopes, mut ids) = (Vec::new(), Vec::new(), Vec::new());
    for record in records {
        kinds.push(record.kind.as_str());
        scopes.push(record.scope.as_str());
        ids.push(record.id.as_str());
    }
    let rows = sqlx::query(
        "SELECT c.kind, c.scope, c.id, c.version, c.digest
         FROM unnest($1::text[], $2::text[], $3::text[]) AS k(kind, scope, id)
         JOIN catalog_records c USING (kind, scope, id)
         WHERE c.valid_to IS NULL",
    )
    .bind(kinds)
    .bind(scopes)
    .bind(ids)
    .fetch_all(&mut **transaction)
    .await?;
    rows.into_iter()
        .map(|row| {
            Ok((
                (
                    row.try_get("kind")?,
                    row.try_get("scope")?,
                    row.try_get("id")?,
                ),
                (row.try_get("version")?, row.try_get("digest")?),
            ))
        })
        .collect()
}

/// A record version about to be inserted.
#[derive(Debug, Serialize)]
struct RecordVersion {
    kind: &'static str,
    scope: String,
    id: String,
    version: i32,
    name: String,
    status: &'static str,
    replaced_by: Option<String>,
    techniques: Vec<String>,
    details: serde_json::Value,
    digest: String,
}

impl RecordVersion {
    fn first(record: CatalogRecord, digest: String) -> Self {
        Self::of(record, digest, 1)
    }

    fn next(record: CatalogRecord, digest: String, current: i32) -> Self {
        Self::of(record, digest, current + 1)
    }

    fn of(record: CatalogRecord, digest: String, version: i32) -> Self {
        let (status, replaced_by) = match record.status {
            RecordStatus::Active => ("active", None),
            RecordStatus::Deprecated => ("deprecated", None),
            RecordStatus::Revoked { replaced_by } => ("revoked", replaced_by),
        };
        Self {
            kind: record.kind.as_str(),
            scope: record.scope,
            id: record.id,
            version,
            name: record.name,
            status,
            replaced_by,
            techniques: record.techniques.into_iter().map(String::from).collect(),
            details: record.details,
            digest,
        }
    }
}

async fn close_changed(
    transaction: &mut Transaction<'_, Postgres>,
    run_id: Uuid,
    changed: &[RecordVersion],
) -> Result<(), CatalogError> {
    if changed.is_empty() {
        return Ok(());
    }
    let (mut kinds, mut scopes, mut ids) = (Vec::new(), Vec::new(), Vec::new());
    for version in changed {
        kinds.push(version.kind);
        scopes.push(version.scope.as_str());
        ids.push(version.id.as_str());
    }
    sqlx::query(
        "UPDATE catalog_records c SET valid_to = now(), retired_by = $4
         FROM unnest($1::text[], $2::text[], $3::text[]) AS k(kind, scope, id)
         WHERE (c.kind, c.scope, c.id) = (k.kind, k.scope, k.id) AND c.valid_to IS NULL",
    )
    .bind(kinds)
    .bind(scopes)
    .bind(ids)
    .bind(run_id)
    .execute(&mut **transaction)
    .await?;
    Ok(())
}

async fn insert_versions(
    transaction: &mut Transaction<'_, Postgres>,
    run_id: Uuid,
    source: Source,
    versions: &[RecordVersion],
) -> Result<(), CatalogError> {
    // One JSON parameter per batch: unnest cannot carry the per-record technique arrays (Postgres has no
    // arrays of arrays of different lengths), jsonb_to_recordset can.
    sqlx::query(
        "INSERT INTO catalog_records
             (kind, scope, id, version, name, status, replaced_by, techniques, details, digest,
              source, run_id, valid_from)
         SELECT kind, scope, id, version, name, status, replaced_by, techniques, details, digest,
                $2, $3, now()
         FROM jsonb_to_recordset($1) AS r(kind text, scope text, id text, version integer, name text,
              status text, replaced_by text, techniques text[], details jsonb, digest text)",
    )
    .bind(sqlx::types::Json(versions))
    .bind(source.as_str())
    .bind(run_id)
    .execute(&mut **transaction)
    .await?;
    Ok(())
}

async fn finish(
    transaction: &mut Transaction<'_, Postgres>,
    summary: &ImportSummary,
    content_digest: &str,
) -> Result<(), CatalogError> {
    let status = if summary.files_failed == 0 {
        "succeeded"
    } else if summary.files_failed < summary.files_seen {
        "partial"
    } else {
        "failed"
    };
    let updated = sqlx::query(
        "UPDATE import_runs SET
             status = $2, finished_at = now(), upstream_version = $3, content_digest = $4,
             files_seen = $5, files_failed = $6, records_new = $7, records_changed = $8,
             records_unchanged = $9, records_retired = $10, errors = $11
         WHERE run_id = $1 AND status = 'running'",
    )
    .bind(summary.run_id)
    .bind(status)
    .bind(&summary.upstream_version)
    .bind(content_digest)
    .bind(count(summary.files_seen))
    .bind(count(summary.files_failed))
    .bind(count(summary.records_new))
    .bind(count(summary.records_changed))
    .bind(count(summary.records_unchanged))
    .bind(count(summary.records_retired))
    .bind(sqlx::types::Json(&summary.errors))
    .execute(&mut **transaction)
    .await?;
    if updated.rows_affected() == 0 {
        return Err(CatalogError::UnknownRun(summary.run_id));
    }
    Ok(())
}

fn count(value: usize) -> i32 {
    i32::try_from(value).unwrap_or(i32::MAX)
}
