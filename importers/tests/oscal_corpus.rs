//! The OSCAL parser on the NIST snapshots, checked against counts taken by text scans and `serde_json::Value`.

mod support;

use std::collections::BTreeSet;

use importers::parsers::oscal;
use importers::record::{CatalogRecord, RecordKind, RecordStatus, SourceFile};
use serde_json::Value;

fn only(files: &[SourceFile], suffix: &str) -> Vec<SourceFile> {
    files
        .iter()
        .filter(|file| file.path.to_string_lossy().ends_with(suffix))
        .cloned()
        .collect()
}

fn controls(records: &[CatalogRecord]) -> Vec<&CatalogRecord> {
    records
        .iter()
        .filter(|record| record.kind == RecordKind::Control)
        .collect()
}

/// Controls in a JSON catalog, counted by walking every `controls` array.
fn count_json_controls(value: &Value) -> usize {
    match value {
        Value::Object(object) => object
            .iter()
            .map(|(key, inner)| {
                let own = if key == "controls" {
                    inner.as_array().map_or(0, Vec::len)
                } else {
                    0
                };
                own + count_json_controls(inner)
            })
            .sum(),
        Value::Array(items) => items.iter().map(count_json_controls).sum(),
        _ => 0,
    }
}

#[test]
fn oscal_5_0_1_catalog_counts_match_text_scans() {
    let files = support::source_files("oscal-content-5.0.1", oscal::accepts);
    assert_eq!(files.len(), 2);
    let xml = only(&files, ".xml");
    let text = String::from_utf8(xml[0].bytes.clone()).expect("UTF-8");
    let control_elements = text.matches("<control ").count();
    let enhancement_elements = text
        .matches("<control class=\"SP800-53-enhancement\"")
        .count();
    let withdrawn = text
        .matches("<prop name=\"status\" value=\"withdrawn\"")
        .count();
    let families = text.matches("<group ").count();
    assert_eq!(
        (control_elements, enhancement_elements, withdrawn, families),
        (1189, 867, 182, 20)
    );

    let parsed = oscal::parse(&xml);
    assert_eq!(parsed.failures, []);
    assert_eq!(parsed.upstream_version.as_deref(), Some("5.0.1"));
    let controls_xml = controls(&parsed.records);
    assert_eq!(controls_xml.len(), control_elements);
    assert_eq!(
        controls_xml
            .iter()
            .filter(|record| record.details["parent"].is_string())
            .count(),
        enhancement_elements
    );
    assert_eq!(
        controls_xml
            .iter()
            .filter(|record| record.status == RecordStatus::Deprecated)
            .count(),
        withdrawn
    );
    let family_ids: BTreeSet<&str> = controls_xml
        .iter()
        .filter_map(|record| record.details["family_id"].as_str())
        .collect();
    assert_eq!(family_ids.len(), families);
    assert!(
        controls_xml
            .iter()
            .all(|record| record.scope == "nist_800_53-rev5")
    );
    let framework = parsed
        .records
        .iter()
        .find(|record| record.kind == RecordKind::ComplianceFramework)
        .expect("framework");
    assert_eq!(
        (framework.scope.as_str(), framework.id.as_str()),
        ("oscal", "nist_800_53-rev5")
    );
    assert_eq!(framework.details["version"], "5.0.1");
    assert_eq!(framework.details["oscal_version"], "1.0.0");
    assert_eq!(parsed.records.len(), control_elements + 1);

    // The JSON form: the same controls, counted independently, with the same names, statuses and statements.
    let json = only(&files, ".json");
    let value: Value = serde_json::from_slice(&json[0].bytes).expect("JSON");
    assert_eq!(count_json_controls(&value), control_elements);
    let parsed_json = oscal::parse(&json);
    assert_eq!(parsed_json.failures, []);
    let controls_json = controls(&parsed_json.records);
    assert_eq!(controls_json.len(), control_elements);
    let mut same_statement = 0;
    for (from_xml, from_json) in controls_xml.iter().zip(&controls_json) {
        assert_eq!(
            (&from_xml.id, &from_xml.name, &from_xml.status),
            (&from_json.id, &from_json.name, &from_json.status)
        );
        assert_eq!(from_xml.details["parent"], from_json.details["parent"]);
        assert_eq!(from_xml.details["family"], from_json.details["family"]);
        same_statement +=
            usize::from(from_xml.details["statement"] == from_json.details["statement"]);
    }
    eprintln!(
        "statements rendered identically from XML and JSON: {same_statement}/{control_elements}"
    );
    assert!(same_statement * 10 >= control_elements * 9);

    // Both forms in one import: one record per key.
    let both = oscal::parse(&files);
    assert_eq!(both.records.len(), control_elements + 1);
}

#[test]
fn oscal_5_0_1_spot_checks() {
    let files = support::source_files("oscal-content-5.0.1", oscal::accepts);
    let parsed = oscal::parse(&only(&files, ".xml"));
    let controls_xml = controls(&parsed.records);
    let account_management = controls_xml
        .iter()
        .find(|record| record.id == "AC-2(1)")
        .expect("AC-2(1)");
    assert_eq!(
        account_management.name,
        "Automated System Account Management"
    );
    assert_eq!(account_management.details["oscal_id"], "ac-2.1");
    assert_eq!(account_management.details["parent"], "AC-2");
    assert_eq!(account_management.details["family"], "Access Control");
    assert_eq!(
        account_management.details["statement"],
        "Support the management of system accounts using [Assignment: organization-defined automated mechanisms]."
    );
    let withdrawn_control = controls_xml
        .iter()
        .find(|record| record.id == "AC-2(10)")
        .expect("AC-2(10)");
    assert_eq!(withdrawn_control.status, RecordStatus::Deprecated);
}

#[test]
fn oscal_content_head_baselines_and_example_catalog() {
    let files = support::source_files("oscal-content", oscal::accepts);
    let parsed = oscal::parse(&files);
    assert_eq!(parsed.failures, []);
    // Baselines: the number of `<with-id>` in each XML profile (QUIRKS: 149, 287, 370, 96).
    for (baseline, file) in [
        ("nist_800_53-rev5-low", "LOW-baseline_profile.xml"),
        ("nist_800_53-rev5-moderate", "MODERATE-baseline_profile.xml"),
        ("nist_800_53-rev5-high", "HIGH-baseline_profile.xml"),
        ("nist_800_53-rev5-privacy", "PRIVACY-baseline_profile.xml"),
    ] {
        let profile = only(&files, file);
        let with_ids = String::from_utf8(profile[0].bytes.clone())
            .expect("UTF-8")
            .matches("<with-id>")
            .count();
        let record = parsed
            .records
            .iter()
            .find(|record| record.kind == RecordKind::ComplianceFramework && record.id == baseline)
            .unwrap_or_else(|| panic!("no {baseline}"));
        assert_eq!(
            record.details["controls"].as_array().map(Vec::len),
            Some(with_ids),
            "{baseline}"
        );
        assert_eq!(record.details["baseline_of"], "nist_800_53-rev5");
    }
    // The LOW resolved catalog gives the rev5 controls (the full catalog is not in this snapshot).
    let resolved = only(&files, "LOW-baseline-resolved-profile_catalog.xml");
    let resolved_controls = String::from_utf8(resolved[0].bytes.clone())
        .expect("UTF-8")
        .matches("<control ")
        .count();
    let rev5: Vec<_> = controls(&parsed.records)
        .into_iter()
        .filter(|record| record.scope == "nist_800_53-rev5")
        .collect();
    assert_eq!(rev5.len(), resolved_controls);
    // 5.1.1 labels: the one without a class (`AC-1`, not the zero-padded `AC-01`).
    assert!(rev5.iter().any(|record| record.id == "AC-1"));
    assert!(rev5.iter().all(|record| !record.id.contains("-0")));
    let low = parsed
        .records
        .iter()
        .find(|record| record.id == "nist_800_53-rev5-low")
        .expect("low");
    let low_labels: BTreeSet<&str> = low.details["controls"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let rev5_labels: BTreeSet<&str> = rev5.iter().map(|record| record.id.as_str()).collect();
    assert_eq!(
        low_labels, rev5_labels,
        "the LOW profile selects exactly the LOW resolved catalog's controls"
    );

    let basic = only(&files, "basic-catalog.xml");
    let basic_controls = String::from_utf8(basic[0].bytes.clone())
        .expect("UTF-8")
        .matches("<control ")
        .count();
    let sample: Vec<_> = controls(&parsed.records)
        .into_iter()
        .filter(|record| record.scope == "sample_security_catalog_for_demonstration_and_testing")
        .collect();
    assert_eq!(sample.len(), basic_controls);
    let frameworks = parsed
        .records
        .iter()
        .filter(|record| record.kind == RecordKind::ComplianceFramework)
        .count();
    assert_eq!(frameworks, 5);
    assert_eq!(parsed.records.len(), frameworks + rev5.len() + sample.len());
}
