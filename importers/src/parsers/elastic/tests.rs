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

const EQL_RULE: &str = r###"[metadata]
creation_date = "2020/02/18"
integration = ["endpoint", "windows",]
maturity = "production"
min_stack_version = "8.3.0"
updated_date = "2024/05/21"

[rule]
author = ["Elastic"]
description = "Finds encoded commands — with non-ASCII text"
index = ["logs-endpoint.events.process-*", "winlogbeat-*",]
language = "eql"
license = "Elastic License v2"
name = "Encoded PowerShell"
references = ["https://example.org/a"]
risk_score = 47
rule_id = "00000000-1111-2222-3333-444444444444"
severity = "medium"
tags = ["Domain: Endpoint", "OS: Windows", "Mitre Atlas: T0086"]
type = "eql"
note = """## Triage
	Tabbed Markdown"""

query = '''
process where process.name : "powershell.exe" and process.args : "C:\Windows\*"
'''

[[rule.threat]]
framework = "MITRE ATT&CK"

[[rule.threat.technique]]
id = "T1027"
name = "Obfuscated Files or Information"
reference = "https://attack.mitre.org/techniques/T1027/"

[[rule.threat.technique.subtechnique]]
id = "T1027.010"
name = "Command Obfuscation"
reference = "https://attack.mitre.org/techniques/T1027/010/"

[rule.threat.tactic]
id = "TA0005"
name = "Defense Evasion"
reference = "https://attack.mitre.org/tactics/TA0005/"

[[rule.threat]]
framework = "MITRE ATT&CK"

[[rule.threat.technique]]
id = "T1059"
name = "Command and Scripting Interpreter"
reference = "https://attack.mitre.org/techniques/T1059/"

[[rule.threat.technique.subtechnique]]
id = "T1059.001"
name = "PowerShell"
reference = "https://attack.mitre.org/techniques/T1059/001/"

[rule.threat.tactic]
id = "TA0002"
name = "Execution"
reference = "https://attack.mitre.org/tactics/TA0002/"

[[rule.threat]]
framework = "MITRE ATT&CK"

[rule.threat.tactic]
id = "TA0011"
name = "Command and Control"
reference = "https://attack.mitre.org/tactics/TA0011/"
"###;

#[test]
fn an_eql_rule_becomes_one_record_with_every_technique_and_sub_technique() {
    let parsed = parse_one(
        "elastic-detection-rules/rules/windows/encoded.toml",
        EQL_RULE,
    );
    assert_eq!(parsed.failures, vec![]);
    let [record] = parsed.records.as_slice() else {
        panic!("one record expected: {parsed:?}");
    };
    assert_eq!(record.kind, RecordKind::DetectionRule);
    assert_eq!(record.scope, "elastic");
    assert_eq!(record.id, "00000000-1111-2222-3333-444444444444");
    assert_eq!(record.name, "Encoded PowerShell");
    assert_eq!(record.status, RecordStatus::Active);
    assert_eq!(
        technique_texts(record),
        vec!["T1027", "T1027.010", "T1059", "T1059.001"]
    );
    let details = &record.details;
    assert_eq!(details["type"], "eql");
    assert_eq!(details["language"], "eql");
    assert_eq!(details["severity"], "medium");
    assert_eq!(details["risk_score"], 47);
    assert_eq!(details["maturity"], "production");
    assert_eq!(details["building_block"], false);
    assert_eq!(details["integration"], json!(["endpoint", "windows"]));
    assert_eq!(
        details["index"],
        json!(["logs-endpoint.events.process-*", "winlogbeat-*"])
    );
    assert_eq!(
        details["query"],
        "process where process.name : \"powershell.exe\" and process.args : \"C:\\Windows\\*\"\n"
    );
    assert_eq!(
        details["tags"],
        json!(["Domain: Endpoint", "OS: Windows", "Mitre Atlas: T0086"])
    );
    assert_eq!(details["creation_date"], "2020/02/18");
    assert_eq!(details["updated_date"], "2024/05/21");
    assert_eq!(details["min_stack_version"], "8.3.0");
    assert_eq!(details["version"], Json::Null);
    assert_eq!(
        details["path"],
        "elastic-detection-rules/rules/windows/encoded.toml"
    );
}

use serde_json::Value as Json;

#[test]
fn tactic_only_threat_entries_keep_their_tactic() {
    let parsed = parse_one("r.toml", EQL_RULE);
    assert_eq!(
        parsed.records[0].details["tactics"],
        json!([
            {"framework": "MITRE ATT&CK", "id": "TA0002", "name": "Execution"},
            {"framework": "MITRE ATT&CK", "id": "TA0005", "name": "Defense Evasion"},
            {"framework": "MITRE ATT&CK", "id": "TA0011", "name": "Command and Control"},
        ])
    );
}

#[test]
fn a_deprecated_rule_keeps_its_deprecation_date_and_reason() {
    let rule = r#"[metadata]
creation_date = "2020/02/18"
maturity = "deprecated"
deprecation_date = "2022/09/13"
deprecated_reason = "Superseded."
updated_date = "2022/09/13"
[rule]
name = "Old"
rule_id = "old"
type = "query"
"#;
    let parsed = parse_one("rules/_deprecated/old.toml", rule);
    assert_eq!(parsed.failures, vec![]);
    let record = &parsed.records[0];
    assert_eq!(record.status, RecordStatus::Deprecated);
    assert_eq!(record.details["deprecation_date"], "2022/09/13");
    assert_eq!(record.details["deprecated_reason"], "Superseded.");
    assert!(record.techniques.is_empty());
}

#[test]
fn integration_and_ml_job_ids_as_a_single_string_become_lists_and_ml_rules_have_no_query() {
    let rule = r#"[metadata]
integration = "aws"
maturity = "production"
[rule]
name = "Rare method"
rule_id = "ml"
type = "machine_learning"
machine_learning_job_id = "gcp_audit_rare_method"
anomaly_threshold = 50
"#;
    let parsed = parse_one("ml.toml", rule);
    assert_eq!(parsed.failures, vec![]);
    let details = &parsed.records[0].details;
    assert_eq!(details["integration"], json!(["aws"]));
    assert_eq!(
        details["machine_learning_job_id"],
        json!(["gcp_audit_rare_method"])
    );
    assert_eq!(details["query"], Json::Null);
    assert_eq!(details["language"], Json::Null);
    assert_eq!(details["index"], json!([]));
}

#[test]
fn building_block_type_marks_a_building_block() {
    let rule = "[metadata]\nmaturity = \"production\"\n[rule]\nname = \"B\"\nrule_id = \"b\"\nbuilding_block_type = \"default\"\nversion = 3\n";
    let parsed = parse_one("rules_building_block/b.toml", rule);
    assert_eq!(parsed.records[0].details["building_block"], true);
    assert_eq!(parsed.records[0].details["version"], 3);
}

#[test]
fn technique_ids_that_do_not_parse_are_kept_as_text() {
    let rule = "[rule]\nname = \"A\"\nrule_id = \"a\"\n[[rule.threat]]\nframework = \"MITRE ATLAS\"\n[[rule.threat.technique]]\nid = \"AML.T0051\"\n[[rule.threat.technique]]\nid = \"t1078\"\n[rule.threat.tactic]\nid = \"AML.TA0005\"\nname = \"Execution\"\n";
    let parsed = parse_one("a.toml", rule);
    assert_eq!(parsed.failures, vec![]);
    assert_eq!(technique_texts(&parsed.records[0]), vec!["T1078"]);
    assert_eq!(
        parsed.records[0].details["unparsed_technique_ids"],
        json!(["AML.T0051"])
    );
    assert_eq!(
        parsed.records[0].details["tactics"],
        json!([{"framework": "MITRE ATLAS", "id": "AML.TA0005", "name": "Execution"}])
    );
}

#[test]
fn crlf_line_endings_and_a_missing_final_newline_are_fine() {
    let rule = "[metadata]\r\nmaturity = \"production\"\r\n[rule]\r\nname = \"Crlf\"\r\nrule_id = \"c\"\r\nquery = '''\r\nprocess.name : \"a\\b\"\r\n'''";
    let parsed = parse_one("c.toml", rule);
    assert_eq!(parsed.failures, vec![]);
    assert_eq!(parsed.records[0].name, "Crlf");
}

#[test]
fn malformed_files_fail_alone_with_a_clear_reason() {
    let parsed = parse(&[
        file("broken.toml", "[rule\nname = \"x\"\n"),
        file("no_id.toml", "[rule]\nname = \"x\"\n"),
        file("empty_id.toml", "[rule]\nname = \"x\"\nrule_id = \" \"\n"),
        file(
            "wrong_type.toml",
            "[rule]\nname = \"x\"\nrule_id = \"w\"\nrisk_score = \"high\"\n",
        ),
        SourceFile {
            path: PathBuf::from("binary.toml"),
            bytes: vec![0xc3, 0x28],
        },
        file("good.toml", "[rule]\nname = \"Good\"\nrule_id = \"g\"\n"),
    ]);
    let failures: Vec<_> = parsed
        .failures
        .iter()
        .map(|failure| (failure.file.as_str(), failure.error.as_str()))
        .collect();
    assert_eq!(failures.len(), 5, "{failures:?}");
    assert!(
        failures[0].1.starts_with("not a detection rule:") && failures[0].1.contains("(line 1)")
    );
    assert_eq!(
        failures[1].1,
        "not a detection rule: missing field `rule_id` (line 1)"
    );
    assert_eq!(failures[2].1, "`rule.rule_id` is empty");
    assert!(failures[3].1.contains("(line 4)"), "{}", failures[3].1);
    assert_eq!(failures[4].1, "the file is not UTF-8 text");
    assert_eq!(parsed.records.len(), 1);
}

#[test]
fn a_rule_id_used_by_two_files_is_reported_for_the_second() {
    let parsed = parse(&[
        file("rules/a.toml", "[rule]\nname = \"A\"\nrule_id = \"same\"\n"),
        file("rules/b.toml", "[rule]\nname = \"B\"\nrule_id = \"same\"\n"),
    ]);
    assert_eq!(parsed.records.len(), 1);
    assert_eq!(
        parsed.failures[0].error,
        "rule id same is already used by rules/a.toml"
    );
}

#[test]
fn accepts_rule_toml_but_not_other_toml_of_a_checkout() {
    assert!(accepts(Path::new("elastic/rules/windows/a.toml")));
    assert!(accepts(Path::new("elastic/rules_building_block/a.toml")));
    assert!(accepts(Path::new("a.TOML")));
    assert!(!accepts(Path::new(
        "elastic/hunting/windows/queries/a.toml"
    )));
    assert!(!accepts(Path::new(
        "elastic/detection_rules/etc/packages.toml"
    )));
    assert!(!accepts(Path::new("elastic/pyproject.toml")));
    assert!(!accepts(Path::new("elastic/rules/README.md")));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = parse(&[SourceFile { path: PathBuf::from("fuzz.toml"), bytes }]);
    }

    #[test]
    fn mutated_rules_never_panic(position in 0usize..2500, replacement in "[\\[\\]{}'\"#=,. \n\t0-9a-z]{0,6}") {
        let mut text = EQL_RULE.to_owned();
        let mut cut = position.min(text.len());
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.insert_str(cut, &replacement);
        let _ = parse(&[file("fuzz.toml", &text)]);
    }
}
