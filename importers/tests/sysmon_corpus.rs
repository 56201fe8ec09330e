//! The Sysmon parser on the real sysmon-modular and SwiftOnSecurity configs: technique sets checked against a plain
//! text scan of the `name` attributes of the same files.

mod support;

use std::collections::BTreeSet;
use std::time::Instant;

use importers::parsers::sysmon;
use importers::record::{CatalogRecord, SourceFile};
use regex::Regex;
use serde_json::json;

fn all_files() -> Vec<SourceFile> {
    let mut files = support::source_files("sysmon-modular", sysmon::accepts);
    files.extend(support::source_files("sysmon-config", sysmon::accepts));
    files
}

fn text(file: &SourceFile) -> &str {
    std::str::from_utf8(&file.bytes).expect("corpus files are UTF-8")
}

/// The file's text without XML comments: upstream disables filters by commenting them out.
fn text_without_comments(file: &SourceFile) -> String {
    let comment = Regex::new(r"(?s)<!--.*?-->").expect("regex");
    comment.replace_all(text(file), "").into_owned()
}

/// Every technique id inside a `name="…"` attribute, by text.
fn named_ids(text: &str) -> BTreeSet<String> {
    let name_attribute = Regex::new(r#"\bname="([^"]*)""#).expect("regex");
    let technique = Regex::new(r"\bT\d{4}(?:\.\d{3})?\b").expect("regex");
    name_attribute
        .captures_iter(text)
        .flat_map(|captures| {
            technique
                .find_iter(captures.get(1).map_or("", |name| name.as_str()))
                .map(|found| found.as_str().to_owned())
                .collect::<Vec<_>>()
        })
        .collect()
}

fn path(file: &SourceFile) -> String {
    file.path.to_string_lossy().replace('\\', "/")
}

fn record<'a>(records: &'a [CatalogRecord], id: &str) -> &'a CatalogRecord {
    records
        .iter()
        .find(|record| record.id == id)
        .unwrap_or_else(|| panic!("no record {id}"))
}

fn strings(value: &serde_json::Value) -> BTreeSet<String> {
    value
        .as_array()
        .expect("array")
        .iter()
        .map(|item| item.as_str().expect("string").to_owned())
        .collect()
}

#[test]
fn every_sysmon_config_of_the_corpus_becomes_a_record() {
    let files = all_files();
    let xml_files = files
        .iter()
        .filter(|file| {
            file.path
                .extension()
                .is_some_and(|extension| extension == "xml")
        })
        .count();
    assert_eq!(files.len(), xml_files);
    assert!(
        files.len() > 200,
        "the sample holds 233 modular files and SwiftOnSecurity's"
    );

    let started = Instant::now();
    let parsed = sysmon::parse(&files);
    eprintln!(
        "sysmon: {} files, {} records, {} failures in {:?}",
        files.len(),
        parsed.records.len(),
        parsed.failures.len(),
        started.elapsed()
    );
    assert_eq!(parsed.failures, vec![]);
    assert_eq!(parsed.records.len(), files.len());

    // Every id a `name` attribute outside comments holds (by text) is named under some event filter of that file:
    // included, excluded, or both. Nothing is lost, nothing is invented.
    let mut with_techniques = 0;
    let mut total_included = 0;
    for file in &files {
        let by_text = named_ids(&text_without_comments(file));
        let record = record(&parsed.records, &path(file));
        let included: BTreeSet<String> = record
            .techniques
            .iter()
            .map(|id| id.as_str().to_owned())
            .collect();
        let excluded = strings(&record.details["excluded_techniques"]);
        let named: BTreeSet<String> = included.union(&excluded).cloned().collect();
        assert_eq!(named, by_text, "{}", path(file));
        if !included.is_empty() {
            with_techniques += 1;
        }
        total_included += included.len();
    }
    eprintln!(
        "sysmon: {with_techniques} configs name included techniques, {total_included} config→technique links"
    );
}

#[test]
fn the_merged_config_names_techniques_many_times_and_the_record_keeps_each_once_per_event() {
    let files = all_files();
    let merged = files
        .iter()
        .find(|file| path(file) == "sysmon-modular/sysmonconfig.xml")
        .expect("sysmonconfig.xml is in the sample");
    // QUIRKS.md: 838 `technique_id` occurrences in the merged config.
    let occurrences = text(merged).matches("technique_id=").count();
    assert_eq!(occurrences, 838);
    let parsed = sysmon::parse(std::slice::from_ref(merged));
    let record = &parsed.records[0];
    let per_event_pairs: usize = record.details["event_filters"]
        .as_array()
        .expect("array")
        .iter()
        .map(|filter| filter["techniques"].as_array().expect("array").len())
        .sum();
    let distinct_ids = named_ids(&text_without_comments(merged));
    eprintln!(
        "sysmonconfig.xml: {occurrences} technique_id occurrences, {} distinct ids, {per_event_pairs} (event, technique) pairs, {} included techniques",
        distinct_ids.len(),
        record.techniques.len()
    );
    assert!(per_event_pairs < occurrences);
    assert!(per_event_pairs >= record.techniques.len());
    assert!(record.techniques.len() <= distinct_ids.len());
    assert_eq!(record.details["schemaversion"], "4.90");
}

#[test]
fn known_sysmon_configs_are_read_field_by_field() {
    let files = all_files();
    let parsed = sysmon::parse(&files);

    let callbacks = record(
        &parsed.records,
        "sysmon-modular/3_network_connection_initiated/include_common_callback_ports.xml",
    );
    assert_eq!(callbacks.name, "include_common_callback_ports.xml");
    assert_eq!(
        callbacks
            .techniques
            .iter()
            .map(domain::test_case::TechniqueId::as_str)
            .collect::<Vec<_>>(),
        vec!["T1571"]
    );
    assert_eq!(callbacks.details["schemaversion"], "4.30");
    assert_eq!(callbacks.details["module_event_ids"], json!([3]));
    assert_eq!(
        callbacks.details["event_filters"],
        json!([{"event": "NetworkConnect", "onmatch": "include", "filter_blocks": 1, "conditions": 5,
                "techniques": ["T1571"], "comment_techniques": []}])
    );

    let bits = record(
        &parsed.records,
        "sysmon-modular/1_process_creation/include_bitsadmin.xml",
    );
    assert_eq!(
        bits.techniques
            .iter()
            .map(domain::test_case::TechniqueId::as_str)
            .collect::<Vec<_>>(),
        vec!["T1197"]
    );
    assert_eq!(bits.details["event_filters"][0]["event"], "ProcessCreate");

    let desktop_central = record(
        &parsed.records,
        "sysmon-modular/exclude_desktop_central.xml",
    );
    assert!(desktop_central.techniques.is_empty());
    assert_eq!(
        desktop_central.details["event_filters"][0]["onmatch"],
        "exclude"
    );
    assert_eq!(desktop_central.details["event_filters"][0]["conditions"], 2);

    // SwiftOnSecurity: old-style ids kept as written, labels kept, comment URLs apart.
    let swift = record(&parsed.records, "sysmon-config/sysmonconfig-export.xml");
    assert_eq!(swift.name, "sysmonconfig-export.xml");
    assert_eq!(swift.details["schemaversion"], "4.50");
    assert_eq!(swift.details["hash_algorithms"], "md5,sha256,IMPHASH");
    let swift_techniques: Vec<&str> = swift
        .techniques
        .iter()
        .map(domain::test_case::TechniqueId::as_str)
        .collect();
    for old_id in ["T1031", "T1050", "T1089", "T1099", "T1183"] {
        assert!(
            swift_techniques.contains(&old_id),
            "{old_id} in {swift_techniques:?}"
        );
    }
    let labels = swift.details["labels_without_technique"]
        .as_object()
        .expect("object");
    for label in ["Tor", "Proxy", "Alert,Metasploit", "Caution"] {
        assert!(labels.contains_key(label), "{label}");
    }
    let network_include = swift.details["event_filters"]
        .as_array()
        .expect("array")
        .iter()
        .find(|filter| filter["event"] == "NetworkConnect" && filter["onmatch"] == "include")
        .expect("NetworkConnect include");
    assert_eq!(network_include["comment_techniques"], json!(["T1090"]));
    eprintln!(
        "sysmonconfig-export.xml: {} included techniques, {} excluded",
        swift.techniques.len(),
        swift.details["excluded_techniques"]
            .as_array()
            .map_or(0, Vec::len)
    );
}
