//! Every source imported from the full upstream corpus into a real database, the way `aegis import` does it:
//! no file fails, the catalog holds what the parser produced, and a second import of the same files changes
//! nothing and appends no events.

#![allow(clippy::unwrap_used)]

// Each test binary uses its own part of the shared helpers.
#[allow(dead_code)]
mod support;

use std::path::PathBuf;

use importers::catalog::{self, ImportSummary};
use importers::import::{self, Location};
use importers::source::Source;
use sqlx::PgPool;

/// Each source with the corpus folders an administrator would point it at.
const SOURCES: &[(Source, &[&str])] = &[
    (Source::Attack, &["mitre-attack"]),
    (Source::D3fend, &["d3fend"]),
    (Source::Atomic, &["atomic-red-team"]),
    (Source::Caldera, &["caldera-stockpile"]),
    (Source::Lolbas, &["lolbas"]),
    (Source::Gtfobins, &["gtfobins"]),
    (Source::Sigma, &["sigma"]),
    (Source::Elastic, &["elastic-detection-rules"]),
    (Source::Sysmon, &["sysmon-modular", "sysmon-config"]),
    (Source::Ctid, &["ctid-mappings-explorer"]),
    (Source::Oscal, &["oscal-content-5.0.1", "oscal-content"]),
];

async fn import_source(pool: &PgPool, source: Source, folders: &[&str]) -> ImportSummary {
    let locations: Vec<Location> = folders
        .iter()
        .map(|folder| Location::Path(support::corpus_dir().join(folder)))
        .collect();
    let names: Vec<String> = locations.iter().map(Location::as_text).collect();
    let run_id = catalog::begin_run(pool, source, &names, None)
        .await
        .unwrap();
    import::run(pool, run_id, source, &locations, &|_| {})
        .await
        .unwrap()
}

async fn scalar(pool: &PgPool, query: &str) -> i64 {
    sqlx::query_scalar(query).fetch_one(pool).await.unwrap()
}

#[sqlx::test(migrations = "../migrations")]
async fn every_source_imports_the_whole_corpus_and_a_second_import_changes_nothing(pool: PgPool) {
    let mut expected_records = 0;
    for (source, folders) in SOURCES {
        let first = import_source(&pool, *source, folders).await;
        assert!(
            first.errors.is_empty(),
            "{source}: unexpected failures {:?}",
            first.errors
        );
        // The catalog holds exactly what the parser made of the same files (parsed again here, on its own).
        let locations: Vec<Location> = folders
            .iter()
            .map(|folder| Location::Path(support::corpus_dir().join(folder)))
            .collect();
        let (files, parsed, unread) = import::parse_only(*source, &locations).await;
        assert!(unread.is_empty());
        assert_eq!(first.files_seen, files.len(), "{source}: files seen");
        let mut keys: Vec<_> = parsed
            .records
            .iter()
            .map(|record| (record.kind, record.scope.clone(), record.id.clone()))
            .collect();
        keys.sort();
        keys.dedup();
        assert!(!keys.is_empty(), "{source}: the corpus gives records");
        assert_eq!(
            first.records_new + first.records_changed + first.records_unchanged,
            keys.len(),
            "{source}: every record is accounted for"
        );
        expected_records += keys.len();
    }
    let stored = scalar(
        &pool,
        "SELECT count(*) FROM catalog_records WHERE valid_to IS NULL",
    )
    .await;
    assert_eq!(usize::try_from(stored).unwrap(), expected_records);
    let versions_before = scalar(&pool, "SELECT count(*) FROM catalog_records").await;

    for (source, folders) in SOURCES {
        let second = import_source(&pool, *source, folders).await;
        assert_eq!(
            (second.records_new, second.records_changed),
            (0, 0),
            "{source}: a second import of the same files reports everything unchanged"
        );
        assert!(second.errors.is_empty());
    }
    assert_eq!(
        scalar(&pool, "SELECT count(*) FROM catalog_records").await,
        versions_before,
        "no new versions"
    );
    assert_eq!(
        scalar(&pool, "SELECT count(*) FROM events").await,
        0,
        "no events"
    );
    assert_eq!(
        scalar(
            &pool,
            "SELECT count(*) FROM import_runs WHERE status = 'succeeded'"
        )
        .await,
        i64::try_from(2 * SOURCES.len()).unwrap()
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn a_malformed_file_is_reported_by_name_and_the_rest_imports(pool: PgPool) {
    let directory = tempfile_directory();
    std::fs::write(
        directory.join("T1000.yaml"),
        "attack_technique: T1000\ndisplay_name: broken\natomic_tests: [",
    )
    .unwrap();
    let atomics = support::corpus_dir().join("atomic-red-team/atomics/T1003.001/T1003.001.yaml");
    std::fs::copy(&atomics, directory.join("T1003.001.yaml")).unwrap();

    let locations = [Location::Path(directory.clone())];
    let run_id = catalog::begin_run(
        &pool,
        Source::Atomic,
        &[directory.display().to_string()],
        None,
    )
    .await
    .unwrap();
    let summary = import::run(&pool, run_id, Source::Atomic, &locations, &|_| {})
        .await
        .unwrap();
    assert_eq!(summary.files_seen, 2);
    assert_eq!(summary.files_failed, 1);
    assert!(
        summary.errors[0].file.ends_with("T1000.yaml"),
        "{:?}",
        summary.errors
    );
    assert!(summary.records_new > 0, "the good file still imported");
    assert!(!summary.succeeded());
    std::fs::remove_dir_all(directory).unwrap();
}

#[sqlx::test(migrations = "../migrations")]
async fn a_location_without_files_of_the_source_is_an_error(pool: PgPool) {
    let directory = tempfile_directory();
    let locations = [Location::Path(directory.clone())];
    let run_id = catalog::begin_run(
        &pool,
        Source::Sigma,
        &[directory.display().to_string()],
        None,
    )
    .await
    .unwrap();
    let summary = import::run(&pool, run_id, Source::Sigma, &locations, &|_| {})
        .await
        .unwrap();
    assert_eq!(summary.files_failed, 1);
    assert_eq!(summary.errors[0].error, "no sigma files found here");
    std::fs::remove_dir_all(directory).unwrap();
}

/// A fresh directory under the system's temporary directory.
fn tempfile_directory() -> PathBuf {
    let directory = std::env::temp_dir().join(format!("aegis-import-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&directory).unwrap();
    directory
}
