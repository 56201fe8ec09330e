//! The GTFOBins parser on the corpus: one template per example, counted independently with a plain YAML
//! value walk over each entry's first document; techniques from `_data/functions.yml`; aliases on targets.

mod support;

use std::collections::{BTreeMap, HashSet};

use importers::parsers::gtfobins;
use importers::record::{CatalogRecord, RecordKind, technique_ids};
use serde::Deserialize;
use serde_json::json;
use serde_yaml_ng::Value;

fn find<'a>(records: &'a [CatalogRecord], id: &str) -> &'a CatalogRecord {
    records
        .iter()
        .find(|record| record.id == id)
        .unwrap_or_else(|| panic!("no record {id}"))
}

/// The first YAML document of an entry (the front matter before `...`).
fn first_document(bytes: &[u8]) -> Value {
    let document = serde_yaml_ng::Deserializer::from_slice(bytes)
        .next()
        .expect("one document");
    Value::deserialize(document).expect("corpus YAML parses")
}

#[test]
fn every_gtfobins_example_in_the_corpus_is_one_template() {
    let files = support::source_files("gtfobins", gtfobins::accepts);
    let entry_count = std::fs::read_dir(support::corpus_dir().join("gtfobins/_gtfobins"))
        .expect("_gtfobins folder")
        .count();
    // Every entry plus functions.yml.
    assert_eq!(files.len(), entry_count + 1);

    let mut expected_examples = 0;
    let mut expected_inherit = 0;
    let mut alias_targets: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for file in files.iter().filter(|file| {
        file.path
            .parent()
            .is_some_and(|parent| parent.ends_with("_gtfobins"))
    }) {
        let entry = first_document(&file.bytes);
        let binary = file
            .path
            .file_name()
            .and_then(|name| name.to_str())
            .unwrap_or_default()
            .to_owned();
        if let Some(target) = entry.get("alias").and_then(Value::as_str) {
            alias_targets
                .entry(target.to_owned())
                .or_default()
                .push(binary);
        }
        for (function, examples) in entry
            .get("functions")
            .and_then(Value::as_mapping)
            .into_iter()
            .flatten()
        {
            let count = examples.as_sequence().map_or(0, Vec::len);
            expected_examples += count;
            if function.as_str() == Some("inherit") {
                expected_inherit += count;
            }
        }
    }

    let parsed = gtfobins::parse(&files);
    assert_eq!(parsed.failures, []);
    assert_eq!(parsed.records.len(), expected_examples);
    assert_eq!(expected_examples, 499, "the pinned corpus has 499 examples");

    let ids: HashSet<&str> = parsed
        .records
        .iter()
        .map(|record| record.id.as_str())
        .collect();
    assert_eq!(ids.len(), parsed.records.len(), "ids are unique");
    let without_techniques: Vec<&CatalogRecord> = parsed
        .records
        .iter()
        .filter(|record| record.techniques.is_empty())
        .collect();
    // Only `inherit` has no ATT&CK ids in functions.yml.
    assert_eq!(without_techniques.len(), expected_inherit);
    assert!(
        without_techniques
            .iter()
            .all(|record| record.details["function"] == "inherit"
                && record.details["inherits_from"].is_string())
    );
    for record in &parsed.records {
        assert_eq!(record.kind, RecordKind::Template);
        assert_eq!(record.scope, "gtfobins");
    }

    // Alias entries give no template, and are listed on targets that are present.
    let binaries: HashSet<&str> = parsed
        .records
        .iter()
        .filter_map(|record| record.details["binary"].as_str())
        .collect();
    for (target, aliases) in &alias_targets {
        for alias in aliases {
            assert!(!binaries.contains(alias.as_str()), "{alias} is alias-only");
        }
        for record in parsed
            .records
            .iter()
            .filter(|record| record.details["binary"] == target.as_str())
        {
            let mut expected = aliases.clone();
            expected.sort();
            assert_eq!(record.details["aliases"], json!(expected), "{}", record.id);
        }
    }
}

#[test]
fn without_functions_yml_nothing_fails_and_nothing_has_techniques() {
    let files: Vec<_> = support::source_files("gtfobins", gtfobins::accepts)
        .into_iter()
        .filter(|file| !file.path.ends_with("_data/functions.yml"))
        .collect();
    let parsed = gtfobins::parse(&files);
    assert_eq!(parsed.failures, []);
    assert_eq!(parsed.records.len(), 499);
    assert!(
        parsed
            .records
            .iter()
            .all(|record| record.techniques.is_empty())
    );
}

#[test]
fn known_gtfobins_examples_field_by_field() {
    let parsed = gtfobins::parse(&support::source_files("gtfobins", gtfobins::accepts));

    let shell = find(&parsed.records, "bash#shell#1");
    assert_eq!(shell.name, "bash: shell");
    assert_eq!(shell.techniques, technique_ids(["T1059"]));
    assert_eq!(shell.details["binary"], "bash");
    assert_eq!(shell.details["function"], "shell");
    assert_eq!(shell.details["function_label"], "Shell");
    assert_eq!(shell.details["code"], "bash");
    assert_eq!(
        shell.details["contexts"],
        json!({"sudo": null, "suid": {"code": "bash -p"}, "unprivileged": null})
    );

    let history = find(&parsed.records, "bash#file-read#2");
    assert_eq!(history.techniques, technique_ids(["T1005"]));
    assert_eq!(
        history.details["comment"],
        "This only works interactively from an existing `bash` session."
    );
    assert_eq!(history.details["handles_binary_data"], false);

    let download = find(&parsed.records, "bash#download#1");
    assert_eq!(download.techniques, technique_ids(["T1105"]));
    assert_eq!(download.details["sender"], "http-server");

    let inherit = find(&parsed.records, "apport-cli#inherit#1");
    assert_eq!(inherit.techniques, []);
    assert_eq!(inherit.details["inherits_from"], "less");
    assert_eq!(inherit.details["code"], "apport-cli -f\n1\n2\nv");

    let apt_get = parsed
        .records
        .iter()
        .find(|record| record.details["binary"] == "apt-get")
        .expect("apt-get is in the corpus");
    assert_eq!(apt_get.details["aliases"], json!(["apt"]));
    let gcc = parsed
        .records
        .iter()
        .find(|record| record.details["binary"] == "gcc")
        .expect("gcc is in the corpus");
    assert_eq!(gcc.details["aliases"], json!(["c99", "cc", "g++"]));

    // The `capabilities` context lists the capability needed.
    let perl_capabilities = parsed
        .records
        .iter()
        .filter(|record| record.details["binary"] == "perl")
        .find_map(|record| record.details["contexts"].get("capabilities").cloned())
        .expect("perl has a capabilities context");
    assert_eq!(perl_capabilities["list"], json!(["CAP_SETUID"]));
}
