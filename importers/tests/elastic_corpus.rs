//! The Elastic parser on the real detection-rules sample: counts checked against plain text scans of the same files.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use importers::parsers::elastic;
use importers::record::{CatalogRecord, RecordStatus, SourceFile};
use regex::Regex;
use serde_json::json;

const FOLDER: &str = "elastic-detection-rules";

fn text(file: &SourceFile) -> &str {
    std::str::from_utf8(&file.bytes).expect("corpus files are UTF-8")
}

fn path(file: &SourceFile) -> String {
    file.path.to_string_lossy().replace('\\', "/")
}

fn count_matching(files: &[SourceFile], pattern: &str) -> usize {
    let regex = Regex::new(pattern).expect("regex");
    files
        .iter()
        .filter(|file| regex.is_match(text(file)))
        .count()
}

fn record<'a>(records: &'a [CatalogRecord], id: &str) -> &'a CatalogRecord {
    records
        .iter()
        .find(|record| record.id == id)
        .unwrap_or_else(|| panic!("no record {id}"))
}

#[test]
fn every_elastic_rule_of_the_corpus_becomes_a_record() {
    let files = support::source_files(FOLDER, elastic::accepts);
    let toml_files = files
        .iter()
        .filter(|file| {
            file.path
                .extension()
                .is_some_and(|extension| extension == "toml")
        })
        .count();
    assert_eq!(files.len(), toml_files);
    assert!(files.len() > 1000, "the sample holds ~1,300 rule files");

    let started = Instant::now();
    let parsed = elastic::parse(&files);
    eprintln!(
        "elastic: {} files, {} records, {} failures in {:?}",
        files.len(),
        parsed.records.len(),
        parsed.failures.len(),
        started.elapsed()
    );
    assert_eq!(parsed.failures, vec![]);
    assert_eq!(parsed.records.len(), files.len());
    assert_eq!(
        parsed.records.len(),
        count_matching(&files, r#"(?m)^rule_id = ""#),
        "one rule_id line per file"
    );

    let deprecated = parsed
        .records
        .iter()
        .filter(|record| record.status == RecordStatus::Deprecated)
        .count();
    assert_eq!(
        deprecated,
        count_matching(&files, r#"(?m)^maturity = "deprecated""#)
    );
    let in_deprecated_folder = files
        .iter()
        .filter(|file| path(file).contains("/rules/_deprecated/"))
        .count();
    assert_eq!(deprecated, in_deprecated_folder);

    let building_blocks = parsed
        .records
        .iter()
        .filter(|record| record.details["building_block"] == true)
        .count();
    assert_eq!(
        building_blocks,
        count_matching(&files, r"(?m)^building_block_type =")
    );

    // Technique and sub-technique ids by text (`id = "T…"` lines; tactic ids are `TA…`), per file.
    let technique_line = Regex::new(r#"(?m)^\s*id = "(T\d{4}(?:\.\d{3})?)"\s*$"#).expect("regex");
    let by_path: BTreeMap<&str, &CatalogRecord> = parsed
        .records
        .iter()
        .map(|record| (record.details["path"].as_str().expect("path"), record))
        .collect();
    let mut technique_links = 0;
    for file in &files {
        let by_text: BTreeSet<String> = technique_line
            .captures_iter(text(file))
            .map(|captures| captures[1].to_owned())
            .collect();
        let record = by_path[path(file).as_str()];
        let parsed_techniques: BTreeSet<String> = record
            .techniques
            .iter()
            .map(|id| id.as_str().to_owned())
            .collect();
        assert_eq!(parsed_techniques, by_text, "{}", path(file));
        technique_links += parsed_techniques.len();
        assert_eq!(record.details["unparsed_technique_ids"], json!([]));
    }
    let without_threat = files.len() - count_matching(&files, r"(?m)^\s*\[\[rule\.threat\]\]");
    let without_tactics = parsed
        .records
        .iter()
        .filter(|record| record.details["tactics"] == json!([]))
        .count();
    assert_eq!(without_tactics, without_threat);
    eprintln!(
        "elastic: {technique_links} rule→technique links, {without_threat} rules without threat"
    );
}

#[test]
fn known_elastic_rules_are_read_field_by_field() {
    let files = support::source_files(FOLDER, elastic::accepts);
    let parsed = elastic::parse(&files);

    // A deprecated rule whose integration is a single string.
    let rds = record(&parsed.records, "119c8877-8613-416d-a98a-96b6664ee73a5");
    assert_eq!(rds.name, "AWS RDS Snapshot Export");
    assert_eq!(rds.status, RecordStatus::Deprecated);
    assert_eq!(rds.details["maturity"], "deprecated");
    assert_eq!(rds.details["deprecation_date"], "2021/08/02");
    assert_eq!(rds.details["integration"], json!(["aws"]));
    assert_eq!(rds.details["type"], "query");
    assert_eq!(rds.details["risk_score"], 21);
    assert_eq!(rds.details["severity"], "low");

    // A building block with sub-techniques under two tactics.
    let browsers = record(&parsed.records, "5b9eb30f-87d6-45f4-9289-2bf2024f0376");
    assert_eq!(browsers.name, "Potential Masquerading as Browser Process");
    assert_eq!(browsers.status, RecordStatus::Active);
    assert_eq!(
        browsers
            .techniques
            .iter()
            .map(domain::test_case::TechniqueId::as_str)
            .collect::<Vec<_>>(),
        vec!["T1036", "T1036.001", "T1036.005", "T1554"]
    );
    assert_eq!(browsers.details["building_block"], true);
    assert_eq!(browsers.details["language"], "eql");
    assert_eq!(browsers.details["integration"], json!(["endpoint"]));
    assert_eq!(
        browsers.details["index"],
        json!(["logs-endpoint.events.process-*"])
    );
    assert_eq!(browsers.details["creation_date"], "2023/08/02");
    assert_eq!(browsers.details["updated_date"], "2025/05/05");
    assert_eq!(
        browsers.details["tactics"],
        json!([
            {"framework": "MITRE ATT&CK", "id": "TA0003", "name": "Persistence"},
            {"framework": "MITRE ATT&CK", "id": "TA0005", "name": "Defense Evasion"},
        ])
    );
    assert!(
        browsers.details["query"]
            .as_str()
            .is_some_and(|query| query.contains("process"))
    );
    assert_eq!(
        browsers.details["path"],
        "elastic-detection-rules/rules_building_block/defense_evasion_masquerading_browsers.toml"
    );
}
