//! The VECTR CSV parser on VECTR's own sample export (`DEMO_PURPLE_CE.csv`, 765 test cases) and on small
//! hand-written files for what the sample does not show. Expected numbers were counted once in the sample with
//! Python's `csv` module (`encoding="utf-8-sig"`, `newline=""`).

// Each test binary uses its own part of the shared helpers.
#[allow(dead_code)]
mod support;

use std::collections::BTreeMap;

use chrono::DateTime;
use domain::test_case::{Outcome, Severity, TechniqueId};
use importers::interop::vectr::{
    self, CsvError, RowError, VectrExport, VectrOutcome, VectrRecord, VectrStatus,
};

fn demo_export() -> VectrExport {
    let path = support::corpus_dir()
        .join("vectr-tools/vectr_tools/csv_import_example/sample_data/DEMO_PURPLE_CE.csv");
    let bytes = std::fs::read(&path)
        .unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()));
    vectr::parse(&bytes).expect("the sample export parses")
}

fn find<'a>(export: &'a VectrExport, assessment_group: &str, variant: &str) -> &'a VectrRecord {
    export
        .records
        .iter()
        .find(|record| record.assessment_group == assessment_group && record.variant == variant)
        .unwrap_or_else(|| panic!("no record {variant} in {assessment_group}"))
}

fn count<T: Ord>(values: impl Iterator<Item = T>) -> BTreeMap<T, usize> {
    let mut counts = BTreeMap::new();
    for value in values {
        *counts.entry(value).or_default() += 1;
    }
    counts
}

/// A minimal export: the required columns and the judgement columns, CRLF line ends.
fn small_export(rows: &[&str]) -> Vec<u8> {
    let mut text = String::from(
        "AssessmentGroup,Campaign,Variant,MitreID,Method,Status,Outcome,Alert Severity,Alert Triggered,Activity Logged\r\n",
    );
    for row in rows {
        text.push_str(row);
        text.push_str("\r\n");
    }
    text.into_bytes()
}

#[test]
fn every_row_of_the_sample_becomes_a_record() {
    let export = demo_export();

    // Every row has an outcome, a status, a name and either a MitreID or a Method, and every time pair agrees.
    assert_eq!(export.skipped, []);
    assert_eq!(export.records.len(), 765);
    assert!(
        export
            .records
            .iter()
            .all(|record| record.status == VectrStatus::Completed)
    );
}

#[test]
fn rows_without_mitre_id_keep_their_method() {
    let export = demo_export();

    let without: Vec<&VectrRecord> = export
        .records
        .iter()
        .filter(|record| record.technique.is_none())
        .collect();
    assert_eq!(without.len(), 85);
    assert!(without.iter().all(|record| record.method.is_some()));
    let static_ip = find(&export, "Enterprise Purple – 2017 Q1", "Static IP Address");
    assert_eq!(static_ip.technique, None);
    assert_eq!(static_ip.method.as_deref(), Some("NAC bypass"));
    let inveigh = find(&export, "Enterprise Purple – 2017 Q1", "Inveigh");
    assert_eq!(
        inveigh.technique.as_ref().map(TechniqueId::as_str),
        Some("T1557.001")
    );
}

#[test]
fn outcomes_and_severities_are_counted_as_in_the_sample() {
    let export = demo_export();

    let outcomes = count(
        export
            .records
            .iter()
            .map(|record| format!("{:?}", record.outcome)),
    );
    assert_eq!(
        outcomes,
        BTreeMap::from([
            ("Blocked".to_owned(), 187),
            ("Detected".to_owned(), 174),
            ("NotDetected".to_owned(), 404),
        ])
    );
    let severities = count(export.records.iter().map(|record| record.alert_severity));
    assert_eq!(
        severities,
        BTreeMap::from([
            (None, 585),
            (Some(Severity::Info), 17),
            (Some(Severity::Low), 20),
            (Some(Severity::Medium), 36),
            (Some(Severity::High), 104),
            (Some(Severity::Critical), 3),
        ])
    );
    // Detected: 6 with Alert Triggered Yes and 164 with it TBD but a severity are Alerted, 4 with No are Logged;
    // NotDetected: 193 with Activity Logged Yes are Logged.
    let domain = count(export.records.iter().map(VectrRecord::domain_outcome));
    assert_eq!(
        domain,
        BTreeMap::from([
            (Some(Outcome::NotDetected), 211),
            (Some(Outcome::Logged), 197),
            (Some(Outcome::Alerted), 170),
            (Some(Outcome::Blocked), 187),
        ])
    );
}

#[test]
fn multi_line_cells_and_the_en_dash_are_kept() {
    let export = demo_export();

    let ransomware = find(
        &export,
        "Enterprise Purple – 2017 Q1",
        "Files with Ransomware Extensions #1",
    );
    assert_eq!(
        ransomware.objective.as_deref(),
        Some(
            "Generate a large number of files with a ransomware extension\n\nextensions:\n- locky\n- ykcol"
        )
    );
    let groups = count(
        export
            .records
            .iter()
            .map(|record| record.assessment_group.as_str()),
    );
    assert_eq!(groups.len(), 5);
    assert_eq!(groups["Enterprise Purple – 2017 Q1"], 153);
}

#[test]
fn times_are_the_epoch_values() {
    let export = demo_export();

    let first = &export.records[0];
    assert_eq!(first.variant, "Basic Auth & WPAD");
    assert_eq!(
        first.start_time,
        DateTime::from_timestamp_millis(1_484_644_825_930)
    );
    assert_eq!(
        first.stop_time,
        DateTime::from_timestamp_millis(1_484_648_027_930)
    );
    assert_eq!(
        first.detection_time,
        DateTime::from_timestamp_millis(1_484_654_723_930)
    );
    assert_eq!(
        first.start_time.map(|time| time.to_rfc3339()),
        Some("2017-01-17T09:20:25.930+00:00".to_owned())
    );
}

#[test]
fn multi_value_cells_are_split_and_trimmed() {
    let export = demo_export();

    let first = &export.records[0];
    assert_eq!(
        first.expected_detection_layers,
        [
            "Network Isolation",
            "Secure Baselines",
            "Behavior Analytics"
        ]
    );
    assert_eq!(first.detecting_tools, ["Secure Configs"]);
    assert_eq!(first.attacker_tools, ["Responder"]);
    assert_eq!(first.organizations, ["Security Risk Advisors"]);
    assert_eq!(first.target_assets, Vec::<String>::new());
    assert_eq!(first.likelihood.as_deref(), Some("High"));

    let wmi = find(
        &export,
        "Enterprise Purple – 2018 Q1",
        "Use of WMI Subscription for persistent jobs",
    );
    assert_eq!(wmi.detecting_tools, ["DoDonpachi", "Progear"]);
    assert_eq!(wmi.expected_detection_layers, ["SIEM", "EDR"]);
    assert_eq!(wmi.outcome, VectrOutcome::Detected);
    assert_eq!(wmi.alert_severity, Some(Severity::High));
    assert_eq!(wmi.alert_triggered, None);
    assert_eq!(wmi.activity_logged, Some(false));
    assert_eq!(wmi.domain_outcome(), Some(Outcome::Alerted));
}

#[test]
fn a_missing_required_column_is_named() {
    let bytes = b"AssessmentGroup,Campaign,Variant,MitreID,Status\r\nA,C,V,T1003,Completed\r\n";

    assert_eq!(
        vectr::parse(bytes),
        Err(CsvError::MissingColumns(vec![
            "Outcome or Outcome Path".to_owned()
        ]))
    );
}

#[test]
fn a_row_with_an_unknown_outcome_is_skipped_and_the_others_kept() {
    let bytes = small_export(&[
        "A,C,First,T1003,,Completed,Blocked,TBD,No,TBD",
        "A,C,\"Spans\nlines\",T1003,,Completed,Detected,Med,TBD,TBD",
        "A,C,Third,T1003,,Completed,Maybe,TBD,TBD,TBD",
        "A,C,Fourth,,Ransomware,Completed,NotDetected,TBD,TBD,Yes",
    ]);

    let export = vectr::parse(&bytes).expect("parses");

    let variants: Vec<&str> = export
        .records
        .iter()
        .map(|record| record.variant.as_str())
        .collect();
    assert_eq!(variants, ["First", "Spans\nlines", "Fourth"]);
    assert_eq!(export.skipped.len(), 1);
    let skipped = &export.skipped[0];
    // The header is row 1, and the multi-line cell above is one row.
    assert_eq!(skipped.row, 4);
    assert!(matches!(
        &skipped.reason,
        RowError::Invalid { field: "Outcome", value, .. } if value == "Maybe"
    ));
    assert_eq!(
        skipped.reason.to_string(),
        "Outcome \"Maybe\" is not one of Blocked, Detected, NotDetected or TBD"
    );
}

#[test]
fn flags_and_severity_decide_the_domain_outcome() {
    let bytes = small_export(&[
        "A,C,blocked alerted,T1003,,Completed,Blocked,High,Yes,Yes",
        "A,C,detected alerted,T1003,,Completed,Detected,TBD,Yes,TBD",
        "A,C,detected with a severity,T1003,,Completed,Detected,Low,TBD,TBD",
        "A,C,detected not alerted,T1003,,Completed,Detected,High,No,TBD",
        "A,C,detected nothing more,T1003,,Completed,Detected,TBD,TBD,TBD",
        "A,C,not detected but logged,T1003,,Completed,NotDetected,TBD,TBD,Yes",
        "A,C,not detected,T1003,,Completed,NOT DETECTED,,,",
        "A,C,not judged,T1003,,In Progress,TBD,TBD,TBD,TBD",
    ]);

    let export = vectr::parse(&bytes).expect("parses");

    assert_eq!(export.skipped, []);
    let outcomes: Vec<(&str, Option<Outcome>)> = export
        .records
        .iter()
        .map(|record| (record.variant.as_str(), record.domain_outcome()))
        .collect();
    assert_eq!(
        outcomes,
        [
            ("blocked alerted", Some(Outcome::Blocked)),
            ("detected alerted", Some(Outcome::Alerted)),
            ("detected with a severity", Some(Outcome::Alerted)),
            ("detected not alerted", Some(Outcome::Logged)),
            ("detected nothing more", Some(Outcome::Logged)),
            ("not detected but logged", Some(Outcome::Logged)),
            ("not detected", Some(Outcome::NotDetected)),
            ("not judged", None),
        ]
    );
    assert_eq!(export.records[7].status, VectrStatus::InProgress);
}

#[test]
fn outcome_path_likelihood_and_bom_are_understood() {
    let bytes =
        "\u{feff}AssessmentGroup,Campaign,Variant,Method,Status,Outcome Path,Likelihood\r\n\
                 A,C,V,Ransomware,Completed,Blocked.Blocked_Alerted_No,Low\r\n"
            .as_bytes();

    let export = vectr::parse(bytes).expect("parses");

    assert_eq!(export.skipped, []);
    let record = &export.records[0];
    assert_eq!(record.assessment_group, "A");
    assert_eq!(record.outcome, VectrOutcome::Blocked);
    assert_eq!(
        record.outcome_path.as_deref(),
        Some("Blocked.Blocked_Alerted_No")
    );
    assert_eq!(record.likelihood.as_deref(), Some("Low"));
    assert_eq!(record.technique, None);
}

#[test]
fn times_fall_back_to_the_epoch_and_must_agree() {
    let bytes = "AssessmentGroup,Campaign,Variant,MitreID,Status,Outcome,Start Time,Start Time Epoch\r\n\
                 A,C,epoch only,T1003,Completed,Blocked,,1484644825930\r\n\
                 A,C,whole seconds,T1003,Completed,Blocked,2017-01-17T09:20:25Z,1484644825930\r\n\
                 A,C,an hour apart,T1003,Completed,Blocked,2017-01-17T10:20:25.930Z,1484644825930\r\n\
                 A,C,not a time,T1003,Completed,Blocked,yesterday,\r\n\
                 A,C,bad technique,T12,Completed,Blocked,,\r\n"
        .as_bytes();

    let export = vectr::parse(bytes).expect("parses");

    let starts: Vec<_> = export
        .records
        .iter()
        .map(|record| record.start_time)
        .collect();
    assert_eq!(
        starts,
        [
            DateTime::from_timestamp_millis(1_484_644_825_930),
            DateTime::from_timestamp_millis(1_484_644_825_000),
        ]
    );
    let reasons: Vec<(u64, String)> = export
        .skipped
        .iter()
        .map(|skipped| (skipped.row, skipped.reason.to_string()))
        .collect();
    assert_eq!(
        reasons,
        [
            (
                4,
                "Start Time \"2017-01-17T10:20:25.930Z\" and its epoch \"1484644825930\" are different times"
                    .to_owned()
            ),
            (5, "Start Time \"yesterday\" is not an RFC 3339 time".to_owned()),
            (6, "MitreID \"T12\" is not an ATT&CK technique id".to_owned()),
        ]
    );
}

#[test]
fn a_row_with_too_few_cells_is_skipped() {
    let bytes = small_export(&[
        "A,C,Short,T1003",
        "A,C,Full,T1003,,Completed,Blocked,TBD,No,TBD",
    ]);

    let export = vectr::parse(&bytes).expect("parses");

    assert_eq!(export.records.len(), 1);
    assert_eq!(export.skipped[0].row, 2);
    assert_eq!(
        export.skipped[0].reason,
        RowError::CellCount {
            expected: 10,
            found: 4
        }
    );
}

#[test]
fn text_that_is_not_utf8_is_refused_with_its_line() {
    let mut bytes = small_export(&["A,C,First,T1003,,Completed,Blocked,TBD,No,TBD"]);
    // "é" in Latin-1, as a legacy spreadsheet export would write it.
    bytes.extend_from_slice(b"A,C,Caf\xe9,T1003,,Completed,Blocked,TBD,No,TBD\r\n");

    assert_eq!(vectr::parse(&bytes), Err(CsvError::NotUtf8 { line: 3 }));
}

#[test]
fn garbage_is_refused() {
    assert_eq!(
        vectr::parse(&[0xff, 0xfe, 0x00, 0x41]),
        Err(CsvError::NotUtf8 { line: 1 })
    );
    let error =
        vectr::parse(br#"{"attire-version": "1.1"}"#).expect_err("JSON is not a VECTR export");
    assert_eq!(
        error.to_string(),
        "missing required columns: AssessmentGroup, Campaign, Variant, Status, Outcome or Outcome Path, \
         MitreID or Method"
    );
    assert!(
        matches!(vectr::parse(b""), Err(CsvError::MissingColumns(columns)) if columns.len() == 6)
    );
}
