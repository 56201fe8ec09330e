//! The Atomic Red Team parser on the whole corpus: every test becomes one template, counted independently of
//! the parser by a plain text scan for `auto_generated_guid:`.

mod support;

use std::collections::HashSet;

use importers::parsers::atomic;
use importers::record::{CatalogRecord, RecordKind, technique_ids};
use serde_json::json;

fn text_lines_starting_with(bytes: &[u8], prefix: &str) -> usize {
    String::from_utf8_lossy(bytes)
        .lines()
        .filter(|line| {
            line.trim_start()
                .trim_start_matches("- ")
                .starts_with(prefix)
        })
        .count()
}

fn find<'a>(records: &'a [CatalogRecord], id: &str) -> &'a CatalogRecord {
    records
        .iter()
        .find(|record| record.id == id)
        .unwrap_or_else(|| panic!("no record {id}"))
}

#[test]
fn every_atomic_test_in_the_corpus_is_one_template() {
    let files = support::source_files("atomic-red-team", atomic::accepts);
    // One technique file per technique folder, nothing else accepted.
    let technique_folders =
        std::fs::read_dir(support::corpus_dir().join("atomic-red-team/atomics"))
            .expect("atomics folder")
            .filter(|entry| entry.as_ref().is_ok_and(|entry| entry.path().is_dir()))
            .count();
    assert_eq!(files.len(), technique_folders);

    let expected_tests: usize = files
        .iter()
        .map(|file| text_lines_starting_with(&file.bytes, "auto_generated_guid:"))
        .sum();
    let expected_manual: usize = files
        .iter()
        .map(|file| text_lines_starting_with(&file.bytes, "name: manual"))
        .sum();

    let parsed = atomic::parse(&files);
    assert_eq!(parsed.failures, []);
    assert_eq!(parsed.records.len(), expected_tests);
    assert_eq!(expected_tests, 1175, "the pinned corpus has 1,175 tests");

    let ids: HashSet<&str> = parsed
        .records
        .iter()
        .map(|record| record.id.as_str())
        .collect();
    assert_eq!(ids.len(), parsed.records.len(), "ids are unique");
    for record in &parsed.records {
        assert_eq!(record.kind, RecordKind::Template);
        assert_eq!(record.scope, "atomic");
        assert!(uuid::Uuid::try_parse(&record.id).is_ok());
        assert_eq!(record.id, record.id.to_lowercase());
        assert_eq!(record.techniques.len(), 1, "{}", record.id);
    }
    let manual: Vec<&CatalogRecord> = parsed
        .records
        .iter()
        .filter(|record| record.details["executor"]["name"] == "manual")
        .collect();
    assert_eq!(manual.len(), expected_manual);
    assert!(
        manual
            .iter()
            .all(|record| record.details["executor"]["command"].is_null()
                && record.details["executor"]["steps"].is_string())
    );
}

#[test]
fn known_atomic_tests_field_by_field() {
    let parsed = atomic::parse(&support::source_files("atomic-red-team", atomic::accepts));

    let procdump = find(&parsed.records, "0be2230c-9ab3-4ac2-8826-3199b9a0ebf8");
    assert_eq!(procdump.name, "Dump LSASS.exe Memory using ProcDump");
    assert_eq!(procdump.techniques, technique_ids(["T1003.001"]));
    let details = &procdump.details;
    assert_eq!(details["technique"], "T1003.001");
    assert_eq!(
        details["technique_display_name"],
        "OS Credential Dumping: LSASS Memory"
    );
    assert_eq!(details["test_number"], 1);
    assert_eq!(details["supported_platforms"], json!(["windows"]));
    assert_eq!(details["executor"]["name"], "command_prompt");
    assert_eq!(details["executor"]["elevation_required"], true);
    assert_eq!(
        details["executor"]["command"],
        "\"#{procdump_exe}\" -accepteula -ma lsass.exe #{output_file}\n"
    );
    assert_eq!(
        details["executor"]["cleanup_command"],
        "del \"#{output_file}\" >nul 2> nul\n"
    );
    assert_eq!(
        details["input_arguments"]["procdump_exe"],
        json!({
            "description": "Path of Procdump executable",
            "type": "path",
            "default": "PathToAtomicsFolder\\..\\ExternalPayloads\\procdump.exe",
        })
    );
    assert_eq!(details["dependency_executor_name"], "powershell");
    assert_eq!(details["dependencies"].as_array().map(Vec::len), Some(1));
    assert!(
        details["dependencies"][0]["get_prereq_command"]
            .as_str()
            .is_some_and(|command| command.contains("Procdump.zip"))
    );

    let task_manager = find(&parsed.records, "dea6c349-f1c6-44f3-87a1-1ed33a59a607");
    assert_eq!(
        task_manager.name,
        "Dump LSASS.exe Memory using Windows Task Manager"
    );
    assert_eq!(task_manager.details["test_number"], 5);
    assert_eq!(task_manager.details["executor"]["name"], "manual");
    assert!(task_manager.details["executor"]["command"].is_null());
    assert!(
        task_manager.details["executor"]["steps"]
            .as_str()
            .is_some_and(|steps| steps.starts_with("1. Open Task Manager:"))
    );
    assert_eq!(
        task_manager.details["executor"]["elevation_required"],
        false
    );
    assert_eq!(task_manager.details["dependency_executor_name"], "manual");

    // The one float default upstream, kept as a float.
    let outlook = find(&parsed.records, "7a91ad51-e6d2-4d43-9471-f26362f5738e");
    assert_eq!(outlook.techniques, technique_ids(["T1137.004"]));
    assert_eq!(
        outlook.details["input_arguments"]["outlook_version"]["type"],
        "float"
    );
    assert_eq!(
        outlook.details["input_arguments"]["outlook_version"]["default"],
        json!(16.0)
    );

    // No upper-case argument type survives.
    for record in &parsed.records {
        if let Some(arguments) = record.details["input_arguments"].as_object() {
            for argument in arguments.values() {
                if let Some(kind) = argument["type"].as_str() {
                    assert_eq!(kind, kind.to_lowercase());
                }
            }
        }
    }
}
