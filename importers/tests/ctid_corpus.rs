//! The CTID parser on the Mappings Explorer snapshot, checked against counts taken with `serde_json::Value`.

mod support;

use std::collections::{BTreeMap, BTreeSet};

use importers::parsers::ctid;
use importers::record::{RecordKind, SourceFile};
use serde_json::Value;

/// Per (mapping_framework, mapping_framework_version): distinct capability ids, rows that map a technique,
/// and non-mappable rows with a capability — counted straight from the JSON.
#[derive(Default, Debug)]
struct Expected {
    capabilities: BTreeSet<String>,
    /// Distinct rows by what a mapping says (CSA CCM 4.1 and M365 repeat some rows, which count once).
    mapped_rows: BTreeSet<String>,
    non_mappable_with_capability: usize,
    techniques_without_capability: BTreeSet<String>,
}

fn string(value: &Value, key: &str) -> Option<String> {
    value
        .get(key)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|text| !text.is_empty())
        .map(str::to_owned)
}

fn expected_counts(files: &[SourceFile]) -> BTreeMap<(String, String), Expected> {
    let mut expected: BTreeMap<(String, String), Expected> = BTreeMap::new();
    for file in files {
        let document: Value = serde_json::from_slice(&file.bytes).expect("JSON");
        let metadata = &document["metadata"];
        let framework = string(metadata, "mapping_framework").expect("framework");
        let version = string(metadata, "mapping_framework_version").expect("version");
        let entry = expected.entry((framework.clone(), version)).or_default();
        for row in document["mapping_objects"].as_array().expect("rows") {
            let technique = string(row, "attack_object_id");
            let Some(capability) = string(row, "capability_id") else {
                entry.techniques_without_capability.extend(technique);
                continue;
            };
            // Zero padding differs between rev4 and rev5; the OSCAL label drops it.
            let capability = if framework == "nist_800_53" {
                capability.replace("-0", "-")
            } else {
                capability
            };
            entry.capabilities.insert(capability);
            if technique.is_some() && string(row, "status").as_deref() != Some("non_mappable") {
                let said: Vec<String> = [
                    "capability_id",
                    "attack_object_id",
                    "attack_object_name",
                    "mapping_type",
                    "score_category",
                    "score_value",
                    "comments",
                    "references",
                ]
                .iter()
                .map(|key| row.get(*key).map(ToString::to_string).unwrap_or_default())
                .collect();
                entry.mapped_rows.insert(said.join("\u{1f}"));
            } else {
                entry.non_mappable_with_capability += 1;
            }
        }
    }
    expected
}

#[test]
fn ctid_corpus_parses_with_counts_from_json_values() {
    let files = support::source_files("ctid-mappings-explorer", ctid::accepts);
    assert_eq!(files.len(), 10);
    let started = std::time::Instant::now();
    let parsed = ctid::parse(&files);
    eprintln!(
        "ctid: {} records in {:?}",
        parsed.records.len(),
        started.elapsed()
    );
    assert_eq!(parsed.failures, []);

    let expected = expected_counts(&files);
    assert_eq!(
        expected.len(),
        8,
        "VERIS and KEV have two domain files each"
    );
    let frameworks: Vec<_> = parsed
        .records
        .iter()
        .filter(|record| record.kind == RecordKind::ComplianceFramework)
        .collect();
    assert_eq!(frameworks.len(), expected.len());
    let mut total_capabilities = 0;
    for ((framework_key, version), counts) in &expected {
        let framework = frameworks
            .iter()
            .find(|record| {
                record.details["framework"] == framework_key.as_str()
                    && record.details["framework_version"] == version.as_str()
            })
            .unwrap_or_else(|| panic!("no framework record for {framework_key} {version}"));
        assert_eq!(framework.scope, "ctid");
        let capabilities: Vec<_> = parsed
            .records
            .iter()
            .filter(|record| {
                record.kind == RecordKind::ControlMapping && record.scope == framework.id
            })
            .collect();
        assert_eq!(
            capabilities.len(),
            counts.capabilities.len(),
            "{}",
            framework.id
        );
        let mappings: usize = capabilities
            .iter()
            .map(|record| record.details["mappings"].as_array().map_or(0, Vec::len))
            .sum();
        assert_eq!(mappings, counts.mapped_rows.len(), "{}", framework.id);
        let non_mappable: u64 = capabilities
            .iter()
            .filter_map(|record| record.details["non_mappable"].as_u64())
            .sum();
        assert_eq!(
            usize::try_from(non_mappable).expect("small"),
            counts.non_mappable_with_capability,
            "{}",
            framework.id
        );
        let without_capability: BTreeSet<String> = framework.details["non_mappable_techniques"]
            .as_array()
            .expect("list")
            .iter()
            .filter_map(|technique| technique.as_str().map(str::to_owned))
            .collect();
        assert_eq!(
            without_capability, counts.techniques_without_capability,
            "{}",
            framework.id
        );
        total_capabilities += capabilities.len();
    }
    assert_eq!(parsed.records.len(), frameworks.len() + total_capabilities);

    let ids: BTreeSet<&str> = frameworks.iter().map(|record| record.id.as_str()).collect();
    assert_eq!(
        ids,
        BTreeSet::from([
            "azure-04.26.2025",
            "cri_profile-v2.1",
            "csa_ccm-4.1",
            "kev-07.28.2025",
            "m365-07.18.2025",
            "nist_800_53-rev4",
            "nist_800_53-rev5",
            "veris-1.4.0",
        ])
    );
}

#[test]
fn ctid_corpus_spot_checks() {
    let files = support::source_files("ctid-mappings-explorer", ctid::accepts);
    let parsed = ctid::parse(&files);
    let frameworks: Vec<_> = parsed
        .records
        .iter()
        .filter(|record| record.kind == RecordKind::ComplianceFramework)
        .collect();
    // Spot checks: rev5 labels join with OSCAL; rev4's trailing-space ids merged.
    let account_management = parsed
        .records
        .iter()
        .find(|record| {
            record.kind == RecordKind::ControlMapping
                && record.scope == "nist_800_53-rev5"
                && record.id == "AC-2"
        })
        .expect("rev5 AC-2");
    assert_eq!(account_management.name, "Account Management");
    assert_eq!(account_management.details["group"], "AC");
    assert_eq!(account_management.details["group_name"], "Access Control");
    assert!(
        account_management
            .techniques
            .iter()
            .any(|technique| technique.to_string() == "T1078")
    );
    assert!(
        parsed
            .records
            .iter()
            .all(|record| !record.id.starts_with("AC-0"))
    );
    assert!(
        parsed
            .records
            .iter()
            .all(|record| record.id.trim() == record.id)
    );
    let rev5 = frameworks
        .iter()
        .find(|record| record.id == "nist_800_53-rev5")
        .expect("rev5");
    assert_eq!(rev5.name, "NIST SP 800-53 rev5");
    assert_eq!(rev5.details["sources"][0]["attack_version"], "16.1");
    assert_eq!(rev5.details["sources"][0]["last_update"], "04/16/2025");
    let sentinel = parsed
        .records
        .iter()
        .find(|record| record.scope == "azure-04.26.2025" && record.id == "microsoft_sentinel")
        .expect("azure sentinel");
    let masquerading = sentinel.details["mappings"]
        .as_array()
        .expect("mappings")
        .iter()
        .find(|mapping| mapping["technique"] == "T1036")
        .expect("T1036 row");
    assert_eq!(masquerading["score_category"], "detect");
    assert_eq!(masquerading["score_value"], "minimal");
}
