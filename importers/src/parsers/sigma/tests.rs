use std::path::PathBuf;

use proptest::prelude::*;
use serde_json::json;

use super::*;

fn file(path: &str, text: &str) -> SourceFile {
    SourceFile {
        path: PathBuf::from(path),
        bytes: text.as_bytes().to_vec(),
    }
}

fn parse_one(path: &str, text: &str) -> Parsed {
    parse(&[file(path, text)])
}

fn technique_texts(record: &CatalogRecord) -> Vec<&str> {
    record
        .techniques
        .iter()
        .map(domain::test_case::TechniqueId::as_str)
        .collect()
}

const PLAIN_RULE: &str = "title: Suspicious Keyboard Layout Load
id: 11111111-2222-3333-4444-555555555555
status: test
description: Détecte un chargement \u{2014} with non-ASCII text
author: Aegis Tests
date: 2023-01-02
modified: 2024/03/04
references:
    - https://example.org/a
tags:
    - attack.resource-development
    - attack.t1588.002
    - attack.t1059.001
    - attack.defense_evasion
    - attack.s0002
    - detection.threat-hunting
    - cve.2021-1675
    - car.2013-05-009
    - stp.1u
logsource:
    product: windows
    category: registry_set
detection:
    selection:
        EventID: 4657
        Details|contains:
            - 00000429
            - 00050429
        GrantedAccess: 0x1F3FFF
        Hidden: true
        Empty: null
        Blank:
    condition: selection
falsepositives: Unknown
level: high
related:
    - id: 99999999-2222-3333-4444-555555555555
      type: derived
";

#[test]
fn a_plain_rule_becomes_one_record_with_its_id_title_and_technique_tags() {
    let parsed = parse_one("sigma/rules/windows/registry_set_layout.yml", PLAIN_RULE);
    assert_eq!(parsed.failures, vec![]);
    let [record] = parsed.records.as_slice() else {
        panic!("one record expected: {parsed:?}");
    };
    assert_eq!(record.kind, RecordKind::DetectionRule);
    assert_eq!(record.scope, "sigma");
    assert_eq!(record.id, "11111111-2222-3333-4444-555555555555");
    assert_eq!(record.name, "Suspicious Keyboard Layout Load");
    assert_eq!(record.status, RecordStatus::Active);
    assert_eq!(technique_texts(record), vec!["T1059.001", "T1588.002"]);
    assert_eq!(record.details["status"], "test");
    assert_eq!(record.details["level"], "high");
    assert_eq!(
        record.details["path"],
        "sigma/rules/windows/registry_set_layout.yml"
    );
    assert_eq!(
        record.details["logsource"],
        json!({"product": "windows", "category": "registry_set", "service": null, "definition": null})
    );
    assert_eq!(record.details["falsepositives"], json!(["Unknown"]));
    assert_eq!(
        record.details["references"],
        json!(["https://example.org/a"])
    );
    assert_eq!(
        record.details["related"],
        json!([{"id": "99999999-2222-3333-4444-555555555555", "type": "derived"}])
    );
    assert!(record.details.get("document").is_none());
}

#[test]
fn leading_zero_digits_and_hex_keep_their_source_text_while_canonical_numbers_stay_numbers() {
    let parsed = parse_one("rule.yml", PLAIN_RULE);
    let selection = &parsed.records[0].details["detection"]["selection"];
    assert_eq!(
        selection["Details|contains"],
        json!(["00000429", "00050429"])
    );
    assert_eq!(selection["GrantedAccess"], json!("0x1F3FFF"));
    assert_eq!(selection["EventID"], json!(4657));
    assert_eq!(selection["Hidden"], json!(true));
    assert_eq!(selection["Empty"], Json::Null);
    assert_eq!(selection["Blank"], Json::Null);
    assert_eq!(
        parsed.records[0].details["detection"]["condition"],
        "selection"
    );
}

#[test]
fn both_date_spellings_are_kept_as_written() {
    let parsed = parse_one("rule.yml", PLAIN_RULE);
    assert_eq!(parsed.records[0].details["date"], "2023-01-02");
    assert_eq!(parsed.records[0].details["modified"], "2024/03/04");
}

#[test]
fn tags_are_sorted_into_tactics_references_and_namespaces() {
    let parsed = parse_one("rule.yml", PLAIN_RULE);
    let details = &parsed.records[0].details;
    assert_eq!(
        details["tactics"],
        json!(["defense-evasion", "resource-development"])
    );
    assert_eq!(details["attack_references"], json!(["S0002"]));
    assert_eq!(
        details["tags_by_namespace"],
        json!({"car": ["2013-05-009"], "cve": ["2021-1675"], "detection": ["threat-hunting"], "stp": ["1u"]})
    );
}

#[test]
fn underscore_and_hyphen_tactic_spellings_become_one() {
    let rule = "title: T\nid: a\ntags:\n  - attack.privilege_escalation\n  - attack.privilege-escalation\n  - attack.Command_And_Control\ndetection:\n  s: {a: 1}\n  condition: s\n";
    let parsed = parse_one("rule.yml", rule);
    assert_eq!(
        parsed.records[0].details["tactics"],
        json!(["command-and-control", "privilege-escalation"])
    );
}

#[test]
fn technique_tags_that_are_not_technique_ids_are_kept_as_text_and_the_record_is_kept() {
    let rule = "title: T\nid: a\ntags:\n  - attack.t1059.1\n  - attack.t12345\n  - attack.t1050          # an old one\n  - 'attack.t1543.003 '\ndetection:\n  condition: s\n";
    let parsed = parse_one("rule.yml", rule);
    assert_eq!(parsed.failures, vec![]);
    let record = &parsed.records[0];
    // Revoked ids like T1050 are kept: the catalog maps them later.
    assert_eq!(technique_texts(record), vec!["T1050", "T1543.003"]);
    assert_eq!(
        record.details["unparsed_technique_tags"],
        json!(["attack.t1059.1", "attack.t12345"])
    );
}

#[test]
fn deprecated_by_status_or_by_folder_and_unsupported_stays_active() {
    let by_status = "title: T\nid: a\nstatus: deprecated # in favour of b\n";
    let by_folder = "title: T\nid: b\nstatus: test\n";
    let unsupported = "title: T\nid: c\nstatus: unsupported\n";
    let parsed = parse(&[
        file("sigma/rules/windows/a.yml", by_status),
        file("sigma/deprecated/windows/b.yml", by_folder),
        file("sigma/unsupported/windows/c.yml", unsupported),
    ]);
    assert_eq!(parsed.failures, vec![]);
    let statuses: Vec<_> = parsed
        .records
        .iter()
        .map(|record| {
            (
                record.id.as_str(),
                record.status.clone(),
                record.details["status"].clone(),
            )
        })
        .collect();
    assert_eq!(
        statuses,
        vec![
            ("a", RecordStatus::Deprecated, json!("deprecated")),
            ("b", RecordStatus::Deprecated, json!("test")),
            ("c", RecordStatus::Active, json!("unsupported")),
        ]
    );
}

/// Shaped like upstream's legacy collections: a global document, then log-source documents without id or title;
/// the second one is indented by one space.
const GLOBAL_WITH_ID: &str = "action: global
title: Remote Service Creation
id: 4a3a2b96-0000-0000-0000-000000000000
status: unsupported
date: 2020/10/05
tags:
    - attack.lateral_movement
    - attack.t1543.003
detection:
    selection1:
        EventID: 4624
    condition: (selection1) or selection2
level: medium
---
 logsource:
     product: windows
     service: security
 detection:
     selection2:
         EventID: 4697
---
logsource:
    product: windows
    service: system
detection:
    selection2:
        EventID: 7045";

#[test]
fn global_document_is_merged_onto_each_later_document_and_shared_ids_get_the_document_number() {
    let parsed = parse_one(
        "sigma/unsupported/windows/remote_service.yml",
        GLOBAL_WITH_ID,
    );
    assert_eq!(parsed.failures, vec![]);
    let ids: Vec<_> = parsed
        .records
        .iter()
        .map(|record| record.id.as_str())
        .collect();
    assert_eq!(
        ids,
        vec![
            "4a3a2b96-0000-0000-0000-000000000000#2",
            "4a3a2b96-0000-0000-0000-000000000000#3"
        ]
    );
    let second = &parsed.records[0];
    assert_eq!(second.name, "Remote Service Creation");
    assert_eq!(technique_texts(second), vec!["T1543.003"]);
    assert_eq!(
        second.details["rule_id"],
        "4a3a2b96-0000-0000-0000-000000000000"
    );
    assert_eq!(second.details["document"], 2);
    assert_eq!(second.details["logsource"]["service"], "security");
    assert_eq!(
        second.details["detection"],
        json!({"selection1": {"EventID": 4624}, "condition": "(selection1) or selection2", "selection2": {"EventID": 4697}})
    );
    assert_eq!(
        parsed.records[1].details["detection"]["selection2"],
        json!({"EventID": 7045})
    );
    assert_eq!(parsed.records[1].details["logsource"]["service"], "system");
}

#[test]
fn a_later_document_with_its_own_id_keeps_it_and_the_id_less_global_is_not_a_rule() {
    let collection = "action: global\ntitle: APT Service\ntags:\n  - attack.g0016\n  - attack.t1050\ndetection:\n  service_install:\n    EventID: 7045\n  condition: service_install | near process\n---\nid: c069f460-0000-0000-0000-000000000000\nlogsource:\n  category: process_creation\ndetection:\n  process:\n    Image: 'C:\\x.exe'\n";
    let parsed = parse_one("apt.yml", collection);
    assert_eq!(parsed.failures, vec![]);
    let [record] = parsed.records.as_slice() else {
        panic!("one record expected: {parsed:?}");
    };
    assert_eq!(record.id, "c069f460-0000-0000-0000-000000000000");
    assert_eq!(record.name, "APT Service");
    assert_eq!(record.details["document"], 2);
    assert_eq!(record.details["attack_references"], json!(["G0016"]));
    assert_eq!(record.details["detection"]["process"]["Image"], "C:\\x.exe");
    assert_eq!(
        record.details["detection"]["service_install"]["EventID"],
        7045
    );
}

#[test]
fn a_rule_without_id_fails_with_its_document_number_and_the_other_documents_still_import() {
    let collection = "action: global\ntitle: Shared\ndetection:\n  condition: s\n---\nid: one\ndetection:\n  s: {a: 1}\n---\ndetection:\n  s: {a: 2}\n";
    let parsed = parse_one("sigma/unsupported/x.yml", collection);
    assert_eq!(
        parsed.failures,
        vec![FileFailure {
            file: "sigma/unsupported/x.yml".to_owned(),
            error: "document 3: the rule has no `id`".to_owned(),
        }]
    );
    assert_eq!(parsed.records.len(), 1);
    assert_eq!(parsed.records[0].id, "one");
}

#[test]
fn a_rule_without_title_fails() {
    let parsed = parse_one("x.yml", "id: a\ndetection:\n  condition: s\n");
    assert_eq!(parsed.records, vec![]);
    assert_eq!(
        parsed.failures[0].error,
        "document 1: the rule has no `title`"
    );
}

#[test]
fn reset_drops_the_global_and_repeat_builds_on_the_previous_rule() {
    let collection = "action: global\ntitle: G\nlevel: high\n---\nid: a\n---\naction: repeat\nid: b\nlevel: low\n---\naction: reset\n---\ntitle: Alone\nid: c\n";
    let parsed = parse_one("x.yml", collection);
    assert_eq!(parsed.failures, vec![]);
    let summary: Vec<_> = parsed
        .records
        .iter()
        .map(|record| {
            (
                record.id.as_str(),
                record.name.as_str(),
                record.details["level"].clone(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            ("a", "G", json!("high")),
            ("b", "G", json!("low")),
            ("c", "Alone", Json::Null)
        ]
    );
}

#[test]
fn a_trailing_empty_document_is_ignored() {
    let parsed = parse_one("x.yml", "title: T\nid: a\n---\n");
    assert_eq!(parsed.failures, vec![]);
    assert_eq!(parsed.records.len(), 1);
    assert!(parsed.records[0].details.get("document").is_none());
}

#[test]
fn crlf_tabs_in_strings_and_no_final_newline_are_fine() {
    let rule = "title: \"Tab\\there\"\r\nid: a\r\ndescription: 'x\ty'\r\ndetection:\r\n    sel:\r\n        - 'a\tb'\r\n    condition: sel";
    let parsed = parse_one("x.yml", rule);
    assert_eq!(parsed.failures, vec![]);
    assert_eq!(parsed.records[0].name, "Tab\there");
    assert_eq!(parsed.records[0].details["description"], "x\ty");
    assert_eq!(
        parsed.records[0].details["detection"]["sel"],
        json!(["a\tb"])
    );
}

#[test]
fn keyword_lists_and_lists_of_maps_are_kept_in_the_detection() {
    let rule = "title: T\nid: a\ndetection:\n  keywords:\n    - 'wget *'\n    - '\\*escaped'\n  alternatives:\n    - Image|endswith: '\\cmd.exe'\n    - CommandLine|contains|all: [a, b]\n  condition: keywords or 1 of alternatives*\n";
    let parsed = parse_one("x.yml", rule);
    assert_eq!(
        parsed.records[0].details["detection"],
        json!({
            "keywords": ["wget *", "\\*escaped"],
            "alternatives": [{"Image|endswith": "\\cmd.exe"}, {"CommandLine|contains|all": ["a", "b"]}],
            "condition": "keywords or 1 of alternatives*"
        })
    );
}

#[test]
fn malformed_files_fail_alone() {
    let parsed = parse(&[
        file("bad.yml", "title: [unclosed\nid: a\n"),
        SourceFile {
            path: PathBuf::from("binary.yml"),
            bytes: vec![0xff, 0xfe, 0x00],
        },
        file("list.yml", "- just\n- a list\n"),
        file("good.yml", "title: Good\nid: g\n"),
    ]);
    let failed: Vec<_> = parsed
        .failures
        .iter()
        .map(|failure| failure.file.as_str())
        .collect();
    assert_eq!(failed, vec!["bad.yml", "binary.yml", "list.yml"]);
    assert!(parsed.failures[0].error.starts_with("invalid YAML"));
    assert_eq!(parsed.failures[1].error, "the file is not UTF-8 text");
    assert_eq!(
        parsed.failures[2].error,
        "document 1: a rule must be a mapping"
    );
    assert_eq!(parsed.records.len(), 1);
}

#[test]
fn a_rule_id_used_by_two_files_is_kept_for_the_first_and_reported_for_the_second() {
    let parsed = parse(&[
        file("sigma/rules/a.yml", "title: A\nid: same\n"),
        file("sigma/deprecated/b.yml", "title: B\nid: same\n"),
    ]);
    assert_eq!(parsed.records.len(), 1);
    assert_eq!(parsed.records[0].name, "A");
    assert_eq!(
        parsed.failures,
        vec![FileFailure {
            file: "sigma/deprecated/b.yml".to_owned(),
            error: "rule id same is already used by sigma/rules/a.yml".to_owned(),
        }]
    );
}

#[test]
fn accepts_rule_yaml_but_not_test_data_or_other_files() {
    assert!(accepts(Path::new("sigma/rules/windows/a.yml")));
    assert!(accepts(Path::new("sigma/deprecated/other/a.yaml")));
    assert!(accepts(Path::new("a.YML")));
    assert!(!accepts(Path::new("sigma/tests/data.yml")));
    assert!(!accepts(Path::new("sigma/.github/workflows/ci.yml")));
    assert!(!accepts(Path::new("sigma/PROVENANCE.md")));
    assert!(!accepts(Path::new("sigma/rules/README")));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = parse(&[SourceFile { path: PathBuf::from("fuzz.yml"), bytes }]);
    }

    #[test]
    fn mutated_rules_never_panic(position in 0usize..2000, replacement in "[-:\\[\\]{}'\"#&*!|> \n\t0-9a-z]{0,6}") {
        let mut text = GLOBAL_WITH_ID.to_owned() + "\n---\n" + PLAIN_RULE;
        let mut cut = position.min(text.len());
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.insert_str(cut, &replacement);
        let _ = parse(&[file("fuzz.yml", &text)]);
    }
}
