//! The Sigma parser on the real SigmaHQ sample: counts checked against plain text scans of the same files.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use importers::parsers::sigma;
use importers::record::{CatalogRecord, RecordStatus};
use regex::Regex;
use serde_json::json;

fn text(file: &importers::record::SourceFile) -> &str {
    std::str::from_utf8(&file.bytes).expect("corpus files are UTF-8")
}

fn path(file: &importers::record::SourceFile) -> String {
    file.path.to_string_lossy().replace('\\', "/")
}

fn record<'a>(records: &'a [CatalogRecord], id: &str) -> &'a CatalogRecord {
    records
        .iter()
        .find(|record| record.id == id)
        .unwrap_or_else(|| panic!("no record {id}"))
}

#[test]
fn every_sigma_rule_of_the_corpus_becomes_a_record() {
    let files = support::source_files("sigma", sigma::accepts);
    let yaml_files = files
        .iter()
        .filter(|file| {
            file.path
                .extension()
                .is_some_and(|extension| extension == "yml")
        })
        .count();
    assert_eq!(files.len(), yaml_files, "only .yml files are rules here");
    assert!(files.len() > 2000, "the sample holds ~2,400 rule files");

    let started = Instant::now();
    let parsed = sigma::parse(&files);
    eprintln!(
        "sigma: {} files, {} records, {} failures in {:?}",
        files.len(),
        parsed.records.len(),
        parsed.failures.len(),
        started.elapsed()
    );

    // No rule in the sample lacks an id (QUIRKS' one id-less document is the global header of
    // win_apt_apt29_tor.yml, whose rule document has its own id), so nothing fails.
    assert_eq!(parsed.failures, vec![]);

    // Rules by text: one per file, except legacy collections, which hold one rule per `---` separator.
    let separator = Regex::new(r"(?m)^---\s*$").expect("regex");
    let global = Regex::new(r"(?m)^action: global\s*$").expect("regex");
    let expected_rules: usize = files
        .iter()
        .map(|file| {
            if global.is_match(text(file)) {
                separator.find_iter(text(file)).count()
            } else {
                1
            }
        })
        .sum();
    assert_eq!(parsed.records.len(), expected_rules);

    // Every top-level `id:` line is a rule id, and every rule id comes from one.
    let id_line = Regex::new(r"(?m)^id:\s*(\S+)").expect("regex");
    let ids_by_text: BTreeSet<String> = files
        .iter()
        .flat_map(|file| {
            id_line
                .captures_iter(text(file))
                .map(|captures| captures[1].to_owned())
                .collect::<Vec<_>>()
        })
        .collect();
    let rule_ids: BTreeSet<String> = parsed
        .records
        .iter()
        .map(|record| {
            record.details["rule_id"]
                .as_str()
                .expect("rule_id")
                .to_owned()
        })
        .collect();
    assert_eq!(rule_ids, ids_by_text);
    let record_ids: BTreeSet<&str> = parsed
        .records
        .iter()
        .map(|record| record.id.as_str())
        .collect();
    assert_eq!(
        record_ids.len(),
        parsed.records.len(),
        "record ids are unique"
    );

    // Deprecated: under deprecated/ or `status: deprecated`.
    let deprecated_status = Regex::new(r"(?m)^status:\s*deprecated\b").expect("regex");
    let expected_deprecated = files
        .iter()
        .filter(|file| {
            path(file).starts_with("sigma/deprecated/") || deprecated_status.is_match(text(file))
        })
        .count();
    let deprecated = parsed
        .records
        .iter()
        .filter(|record| record.status == RecordStatus::Deprecated)
        .count();
    assert_eq!(deprecated, expected_deprecated);
}

#[test]
fn technique_tags_by_text_are_the_techniques_of_each_file() {
    let files = support::source_files("sigma", sigma::accepts);
    let parsed = sigma::parse(&files);
    // Technique tags by text, per file, against the union of the file's records' techniques.
    let technique_tag =
        Regex::new(r#"(?m)^\s*-\s*['"]?attack\.t(\d{4}(?:\.\d{3})?)\s*['"]?\s*(?:#.*)?$"#)
            .expect("regex");
    let mut techniques_by_file: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for record in &parsed.records {
        let file = record.details["path"].as_str().expect("path").to_owned();
        techniques_by_file
            .entry(file)
            .or_default()
            .extend(record.techniques.iter().map(|id| id.as_str().to_owned()));
    }
    let mut tagged_rules = 0;
    for file in &files {
        let by_text: BTreeSet<String> = technique_tag
            .captures_iter(text(file))
            .map(|captures| format!("T{}", &captures[1]))
            .collect();
        if !by_text.is_empty() {
            tagged_rules += 1;
        }
        let parsed_techniques = techniques_by_file.remove(&path(file)).unwrap_or_default();
        assert_eq!(parsed_techniques, by_text, "{}", path(file));
    }
    eprintln!("sigma: {tagged_rules} files carry technique tags");
}

#[test]
fn known_sigma_rules_are_read_field_by_field() {
    let files = support::source_files("sigma", sigma::accepts);
    let parsed = sigma::parse(&files);

    // Leading-zero registry values stay text (yaml-rust2 would return 429).
    let keyboard = record(&parsed.records, "34aa0252-6039-40ff-951f-939fd6ce47d8");
    assert_eq!(keyboard.name, "Suspicious Keyboard Layout Load");
    assert_eq!(keyboard.status, RecordStatus::Active);
    assert_eq!(
        keyboard
            .techniques
            .iter()
            .map(domain::test_case::TechniqueId::as_str)
            .collect::<Vec<_>>(),
        vec!["T1588.002"]
    );
    assert_eq!(keyboard.details["status"], "test");
    assert_eq!(keyboard.details["level"], "medium");
    assert_eq!(keyboard.details["date"], "2019-10-12");
    assert_eq!(keyboard.details["modified"], "2023-08-17");
    assert_eq!(keyboard.details["tactics"], json!(["resource-development"]));
    assert_eq!(keyboard.details["logsource"]["category"], "registry_set");
    assert_eq!(keyboard.details["logsource"]["product"], "windows");
    assert!(
        keyboard.details["logsource"]["definition"]
            .as_str()
            .is_some_and(|definition| definition.starts_with("Requirements: Sysmon config"))
    );
    assert_eq!(
        keyboard.details["detection"]["selection_registry"]["Details|contains"],
        json!(["00000429", "00050429", "0000042a"])
    );
    assert_eq!(
        keyboard.details["path"],
        "sigma/rules/windows/registry/registry_set/registry_set_susp_keyboard_layout_load.yml"
    );

    // A deprecated rule with legacy slash dates and an underscore tactic.
    let kitten = record(&parsed.records, "6c939dfa-c710-4e12-a4dd-47e1f10e68e1");
    assert_eq!(kitten.name, "Domestic Kitten FurBall Malware Pattern");
    assert_eq!(kitten.status, RecordStatus::Deprecated);
    assert_eq!(kitten.details["date"], "2021/02/08");
    assert_eq!(kitten.details["modified"], "2023/04/20");
    assert_eq!(kitten.details["tactics"], json!(["command-and-control"]));
    assert_eq!(kitten.details["falsepositives"], json!(["Unlikely"]));
    assert!(kitten.techniques.is_empty());

    // Legacy collections: the global id is shared by two log-source documents.
    let security = record(&parsed.records, "4a3a2b96-d7fc-4cb9-80e4-4a545fe95f46#2");
    let system = record(&parsed.records, "4a3a2b96-d7fc-4cb9-80e4-4a545fe95f46#3");
    assert_eq!(security.name, "Remote Service Creation");
    assert_eq!(security.details["logsource"]["service"], "security");
    assert_eq!(security.details["detection"]["selection2"]["EventID"], 4697);
    assert_eq!(security.details["detection"]["selection1"]["EventID"], 4624);
    assert_eq!(system.details["logsource"]["service"], "system");
    assert_eq!(system.details["detection"]["selection2"]["EventID"], 7045);
    assert_eq!(system.details["date"], "2020/10/05");
    assert_eq!(
        system.details["tactics"],
        json!(["execution", "lateral-movement", "persistence"])
    );
    // The id-less global header lends its title and tags to the document that has the id.
    let apt29 = record(&parsed.records, "c069f460-2b87-4010-8dcf-e45bab362624");
    assert_eq!(apt29.name, "APT29 Google Update Service Install");
    assert_eq!(
        apt29
            .techniques
            .iter()
            .map(domain::test_case::TechniqueId::as_str)
            .collect::<Vec<_>>(),
        vec!["T1050", "T1543.003"]
    );
    assert_eq!(apt29.details["attack_references"], json!(["G0016"]));
    assert_eq!(apt29.details["document"], 2);
}
