//! The catalog writer against a real database: versions, idempotency, run rows.

#![allow(clippy::unwrap_used)]

use std::path::PathBuf;

use domain::test_case::TechniqueId;
use importers::catalog::{self, ImportSummary};
use importers::record::{CatalogRecord, FileFailure, Parsed, RecordKind, RecordStatus, SourceFile};
use importers::source::Source;
use sqlx::{PgPool, Row};

fn technique(id: &str, name: &str, status: RecordStatus) -> CatalogRecord {
    CatalogRecord {
        kind: RecordKind::Technique,
        scope: "enterprise-attack".into(),
        id: id.into(),
        name: name.into(),
        status,
        techniques: vec![TechniqueId::parse(id).unwrap()],
        details: serde_json::json!({ "tactics": ["execution"] }),
    }
}

async fn import(
    pool: &PgPool,
    records: Vec<CatalogRecord>,
    failures: Vec<FileFailure>,
) -> ImportSummary {
    let run_id = catalog::begin_run(pool, Source::Attack, &["bundle.json".into()], None)
        .await
        .unwrap();
    let parsed = Parsed {
        records,
        failures,
        upstream_version: Some("18.1".into()),
    };
    let files = [SourceFile {
        path: PathBuf::from("bundle.json"),
        bytes: b"{}".to_vec(),
    }];
    catalog::complete_run(pool, run_id, Source::Attack, &files, parsed, Vec::new())
        .await
        .unwrap()
}

async fn count(pool: &PgPool, query: &str) -> i64 {
    sqlx::query_scalar(query).fetch_one(pool).await.unwrap()
}

#[sqlx::test(migrations = "../migrations")]
async fn a_second_import_of_the_same_records_changes_nothing(pool: PgPool) {
    let records = vec![
        technique(
            "T1059",
            "Command and Scripting Interpreter",
            RecordStatus::Active,
        ),
        technique(
            "T1086",
            "PowerShell",
            RecordStatus::Revoked {
                replaced_by: Some("T1059.001".into()),
            },
        ),
    ];
    let first = import(&pool, records.clone(), Vec::new()).await;
    assert_eq!(
        (
            first.records_new,
            first.records_changed,
            first.records_unchanged
        ),
        (2, 0, 0)
    );
    assert_eq!(first.records_retired, 1);

    let second = import(&pool, records, Vec::new()).await;
    assert_eq!(
        (
            second.records_new,
            second.records_changed,
            second.records_unchanged
        ),
        (0, 0, 2)
    );
    assert_eq!(
        count(&pool, "SELECT count(*) FROM catalog_records").await,
        2,
        "an unchanged record gets no new version"
    );
    assert_eq!(
        count(&pool, "SELECT count(*) FROM events").await,
        0,
        "an import appends no events"
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn a_changed_record_gets_a_new_version_and_the_old_one_stays(pool: PgPool) {
    let first = import(
        &pool,
        vec![technique("T1059", "Old name", RecordStatus::Active)],
        Vec::new(),
    )
    .await;
    let second = import(
        &pool,
        vec![technique("T1059", "New name", RecordStatus::Active)],
        Vec::new(),
    )
    .await;
    assert_eq!((second.records_new, second.records_changed), (0, 1));

    let rows = sqlx::query(
        "SELECT version, name, valid_to IS NULL AS current, retired_by, run_id FROM catalog_records
         WHERE id = 'T1059' ORDER BY version",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    let versions: Vec<(i32, String, bool)> = rows
        .iter()
        .map(|row| (row.get("version"), row.get("name"), row.get("current")))
        .collect();
    assert_eq!(
        versions,
        vec![
            (1, "Old name".to_owned(), false),
            (2, "New name".to_owned(), true)
        ]
    );
    assert_eq!(
        rows[0].get::<Option<uuid::Uuid>, _>("retired_by"),
        Some(second.run_id)
    );
    assert_eq!(rows[0].get::<uuid::Uuid, _>("run_id"), first.run_id);
}

#[sqlx::test(migrations = "../migrations")]
async fn the_run_row_records_counts_failures_and_status(pool: PgPool) {
    let failure = FileFailure {
        file: "broken.json".into(),
        error: "expected value at line 1 column 1".into(),
    };
    let summary = import(
        &pool,
        vec![technique("T1059", "Interpreter", RecordStatus::Active)],
        vec![failure.clone()],
    )
    .await;
    assert!(!summary.succeeded());
    assert_eq!(summary.errors, vec![failure]);

    let row = sqlx::query(
        "SELECT status, files_failed, records_new, upstream_version, content_digest, errors,
                finished_at IS NOT NULL AS finished
         FROM import_runs WHERE run_id = $1",
    )
    .bind(summary.run_id)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(
        row.get::<String, _>("status"),
        "failed",
        "its only file failed"
    );
    assert_eq!(row.get::<i32, _>("files_failed"), 1);
    assert_eq!(row.get::<i32, _>("records_new"), 1);
    assert_eq!(
        row.get::<Option<String>, _>("upstream_version").as_deref(),
        Some("18.1")
    );
    assert_eq!(
        row.get::<Option<String>, _>("content_digest")
            .map(|digest| digest.len()),
        Some(64)
    );
    assert_eq!(
        row.get::<serde_json::Value, _>("errors"),
        serde_json::json!([{ "file": "broken.json", "error": "expected value at line 1 column 1" }])
    );
    assert!(row.get::<bool, _>("finished"));
}

#[sqlx::test(migrations = "../migrations")]
async fn a_run_that_failed_before_writing_is_marked_failed(pool: PgPool) {
    let run_id = catalog::begin_run(
        &pool,
        Source::Taxii,
        &["https://example.invalid/taxii2/".into()],
        None,
    )
    .await
    .unwrap();
    catalog::fail_run(&pool, run_id, "cannot reach the server")
        .await
        .unwrap();
    let status: String = sqlx::query_scalar("SELECT status FROM import_runs WHERE run_id = $1")
        .bind(run_id)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(status, "failed");
    assert!(
        catalog::fail_run(&pool, run_id, "again").await.is_err(),
        "a finished run stays finished"
    );
}
