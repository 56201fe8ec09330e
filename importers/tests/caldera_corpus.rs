//! The CALDERA parser on the stockpile corpus: one template per ability file, executor entries counted
//! independently with a plain YAML value walk, adversary profiles producing nothing.

mod support;

use std::collections::HashSet;

use importers::parsers::caldera;
use importers::record::{CatalogRecord, RecordKind, technique_ids};
use serde_json::json;
use serde_yaml_ng::Value;

fn find<'a>(records: &'a [CatalogRecord], id: &str) -> &'a CatalogRecord {
    records
        .iter()
        .find(|record| record.id == id)
        .unwrap_or_else(|| panic!("no record {id}"))
}

fn comma_parts(key: &Value) -> usize {
    key.as_str().map_or(0, |key| {
        key.split(',')
            .filter(|part| !part.trim().is_empty())
            .count()
    })
}

/// Executor entries of one ability file: platforms × executors, comma-joined keys counted part by part.
fn executor_entries(bytes: &[u8]) -> usize {
    let abilities: Value = serde_yaml_ng::from_slice(bytes).expect("corpus YAML parses");
    let mut count = 0;
    for ability in abilities.as_sequence().expect("an ability file is a list") {
        if let Some(platforms) = ability.get("platforms").and_then(Value::as_mapping) {
            for (platform, executors) in platforms {
                let executors = executors.as_mapping().map_or(0, |executors| {
                    executors.keys().map(comma_parts).sum::<usize>()
                });
                count += comma_parts(platform) * executors;
            }
        }
        if let Some(executors) = ability.get("executors").and_then(Value::as_sequence) {
            for executor in executors {
                count += executor.get("platform").map_or(0, comma_parts)
                    * executor.get("name").map_or(0, comma_parts);
            }
        }
    }
    count
}

#[test]
fn every_ability_in_the_corpus_is_one_template() {
    let files = support::source_files("caldera-stockpile", caldera::accepts);
    let ability_files = support::source_files("caldera-stockpile", |path| {
        path.components()
            .any(|component| component.as_os_str() == "abilities")
            && path.extension().is_some_and(|extension| extension == "yml")
    });
    assert_eq!(files.len(), ability_files.len());
    assert_eq!(files.len(), 136, "the pinned corpus has 136 ability files");

    let parsed = caldera::parse(&files);
    assert_eq!(parsed.failures, []);
    assert_eq!(parsed.records.len(), files.len());
    // The file name is the ability id upstream.
    let ids: HashSet<&str> = parsed
        .records
        .iter()
        .map(|record| record.id.as_str())
        .collect();
    let stems: HashSet<&str> = files
        .iter()
        .filter_map(|file| file.path.file_stem().and_then(|stem| stem.to_str()))
        .collect();
    assert_eq!(ids, stems);

    let expected_executors: usize = files.iter().map(|file| executor_entries(&file.bytes)).sum();
    let executors: usize = parsed
        .records
        .iter()
        .map(|record| record.details["executors"].as_array().map_or(0, Vec::len))
        .sum();
    assert_eq!(executors, expected_executors);
    for record in &parsed.records {
        assert_eq!(record.kind, RecordKind::Template);
        assert_eq!(record.scope, "caldera");
        assert_eq!(record.techniques.len(), 1, "{}", record.id);
        assert_ne!(record.details["privilege"], "");
        for executor in record.details["executors"].as_array().into_iter().flatten() {
            assert!(!executor["platform"].as_str().unwrap_or(",").contains(','));
            assert!(!executor["executor"].as_str().unwrap_or(",").contains(','));
        }
    }
    let newer = parsed
        .records
        .iter()
        .filter(|record| record.details["schema"] == "executors")
        .count();
    let expected_newer = files
        .iter()
        .filter(|file| {
            String::from_utf8_lossy(&file.bytes)
                .lines()
                .any(|line| line.starts_with("  executors:"))
        })
        .count();
    assert_eq!(newer, expected_newer);
}

#[test]
fn adversary_profiles_are_not_accepted_and_produce_nothing_when_given() {
    let adversaries = support::source_files("caldera-stockpile", |path| {
        path.components()
            .any(|component| component.as_os_str() == "adversaries")
    });
    assert!(!adversaries.is_empty());
    assert!(adversaries.iter().all(|file| !caldera::accepts(&file.path)));
    let parsed = caldera::parse(&adversaries);
    assert_eq!(parsed.failures, []);
    assert_eq!(parsed.records, []);
}

#[test]
fn known_abilities_field_by_field() {
    let parsed = caldera::parse(&support::source_files(
        "caldera-stockpile",
        caldera::accepts,
    ));

    let legacy = find(&parsed.records, "a201bec2-a193-4b58-bf0e-57fa621da474");
    assert_eq!(legacy.name, "Exfil Directory Files to GitHub");
    assert_eq!(legacy.techniques, technique_ids(["T1567.001"]));
    let details = &legacy.details;
    assert_eq!(details["schema"], "legacy");
    assert_eq!(details["tactic"], "exfiltration");
    assert_eq!(details["technique_id"], "T1567.001");
    assert_eq!(details["technique_name"], "Exfiltration to Code Repository");
    assert!(details["privilege"].is_null());
    let pairs: Vec<String> = details["executors"]
        .as_array()
        .expect("executors")
        .iter()
        .map(|executor| {
            format!(
                "{}/{}",
                executor["platform"].as_str().unwrap_or(""),
                executor["executor"].as_str().unwrap_or("")
            )
        })
        .collect();
    assert_eq!(pairs, ["linux/sh", "windows/psh", "windows/pwsh"]);
    assert!(
        details["executors"][0]["command"]
            .as_str()
            .is_some_and(|command| command.starts_with("GHUser=\"#{github.user.name}\";"))
    );
    assert_eq!(
        details["requirements"],
        json!([{"plugins.stockpile.app.requirements.paw_provenance": [{"source": "host.dir.staged"}]}])
    );

    let newer = find(&parsed.records, "e52e7918-ce55-4451-ac19-713a52487ae8");
    assert_eq!(newer.name, "Deploy Agent via BITSAdmin");
    assert_eq!(newer.techniques, technique_ids(["T1197"]));
    assert_eq!(newer.details["schema"], "executors");
    assert_eq!(newer.details["tactic"], "defense-evasion");
    assert_eq!(newer.details["technique_name"], "BITS Jobs");
    // `privilege: ''` upstream.
    assert!(newer.details["privilege"].is_null());
    assert_eq!(newer.details["plugin"], "stockpile");
    assert_eq!(newer.details["repeatable"], false);
    assert_eq!(newer.details["singleton"], true);
    let executor = &newer.details["executors"][0];
    assert_eq!(executor["platform"], "windows");
    assert_eq!(executor["executor"], "psh");
    assert_eq!(executor["timeout"], 60);
    assert_eq!(executor["cleanup"], json!(["bitsadmin /cancel update"]));
    assert_eq!(executor["payloads"], json!([]));
    assert!(
        executor["command"]
            .as_str()
            .is_some_and(|command| command.starts_with("bitsadmin /create update;\n"))
    );

    // The ability whose legacy executors have a cleanup and no command.
    let cleanup_only = find(&parsed.records, "4cd4eb44-29a7-4259-91ae-e457b283a880");
    let executors = cleanup_only.details["executors"]
        .as_array()
        .expect("executors");
    assert!(
        executors
            .iter()
            .all(|executor| executor["command"].is_null())
    );
    assert!(executors.iter().all(|executor| {
        executor["cleanup"]
            .as_array()
            .is_some_and(|cleanup| cleanup.len() == 1)
    }));
}
