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

fn parse_one(path: &str, text: &str) -> CatalogRecord {
    let parsed = parse(&[file(path, text)]);
    assert_eq!(parsed.failures, vec![], "{path}");
    let [record] = parsed.records.as_slice() else {
        panic!("one record expected: {parsed:?}");
    };
    record.clone()
}

fn technique_texts(record: &CatalogRecord) -> Vec<&str> {
    record
        .techniques
        .iter()
        .map(domain::test_case::TechniqueId::as_str)
        .collect()
}

/// Shaped like a merged sysmon-modular config: BOM, comment banner, CRLF, names on filters, Rules and a
/// RuleGroup, include and exclude filters.
const MERGED: &str = "\u{feff}<!-- NOTICE : generated output of Sysmon-modular -->\r
<!--  //**   ***//  & friends -->\r
<Sysmon schemaversion=\"4.90\">\r
\t<HashAlgorithms>md5,sha256,IMPHASH</HashAlgorithms>\r
\t<EventFiltering>\r
\t\t<RuleGroup name=\"\" groupRelation=\"or\">\r
\t\t\t<ProcessCreate onmatch=\"include\">\r
\t\t\t\t<OriginalFileName name=\"technique_id=T1197,technique_name=BITS Jobs\" condition=\"is\">bitsadmin.exe</OriginalFileName>\r
\t\t\t\t<OriginalFileName name=\"technique_id=T1197,technique_name=BITS Jobs\" condition=\"is\">bitsadmin2.exe</OriginalFileName>\r
\t\t\t\t<Rule name=\"technique_id=T1055,technique_name=Process Injection\" groupRelation=\"and\">\r
\t\t\t\t\t<Image condition=\"end with\">mavinject.exe</Image>\r
\t\t\t\t\t<CommandLine condition=\"contains\">/INJECTRUNNING</CommandLine>\r
\t\t\t\t</Rule>\r
\t\t\t\t<Rule name=\"Ingress Tool Transfer\" groupRelation=\"or\">\r
\t\t\t\t\t<CommandLine name=\"technique=T1105,technique_name=Ingress Tool Transfer\" condition=\"Contains\">urlcache</CommandLine>\r
\t\t\t\t</Rule>\r
\t\t\t\t<CommandLine name=\"technique_id=T1559.002,office\" condition=\"contains\">a &amp; b</CommandLine>\r
\t\t\t\t<CommandLine name=\"technique_id=T1055; Possible Cobalt Strike post-exploitation jobs.\" condition=\"is\">x</CommandLine>\r
\t\t\t\t<Image name=\"technique_id=T,technique_name=\" condition=\"is\">y</Image>\r
\t\t\t\t<Image name=\"technique_name=Outlook Server 95/98 Identity Keys\" condition=\"is\">z</Image>\r
\t\t\t</ProcessCreate>\r
\t\t</RuleGroup>\r
\t\t<RuleGroup name=\"technique_id=T1571,technique_name=Non-Standard Port\" groupRelation=\"or\">\r
\t\t\t<NetworkConnect onmatch=\"Include\">\r
\t\t\t\t<DestinationPort condition=\"is\">4444</DestinationPort>\r
\t\t\t</NetworkConnect>\r
\t\t</RuleGroup>\r
\t\t<RuleGroup name=\"\" groupRelation=\"or\">\r
\t\t\t<ProcessCreate onmatch=\"exclude\">\r
\t\t\t\t<Image name=\"technique_id=T1036,technique_name=Masquerading &amp; Such\" condition=\"is\">C:\\ok.exe</Image>\r
\t\t\t\t<Rule name=\"Exclude Chrome\" groupRelation=\"and\">\r
\t\t\t\t\t<Image condition=\"is\">chrome.exe</Image>\r
\t\t\t\t</Rule>\r
\t\t\t</ProcessCreate>\r
\t\t</RuleGroup>\r
\t\t<RuleGroup name=\"\" groupRelation=\"or\">\r
\t\t\t<ProcessCreate onmatch=\"include\">\r
\t\t\t\t<Image name=\"technique_id=T1197,technique_name=BITS Jobs\" condition=\"is\">again.exe</Image>\r
\t\t\t</ProcessCreate>\r
\t\t</RuleGroup>\r
\t</EventFiltering>\r
</Sysmon>";

#[test]
fn a_merged_config_becomes_one_record_keyed_by_its_path() {
    let record = parse_one("sysmon-modular/sysmonconfig.xml", MERGED);
    assert_eq!(record.kind, RecordKind::TelemetryConfig);
    assert_eq!(record.scope, "sysmon");
    assert_eq!(record.id, "sysmon-modular/sysmonconfig.xml");
    assert_eq!(record.name, "sysmonconfig.xml");
    assert_eq!(record.status, RecordStatus::Active);
    assert_eq!(record.details["schemaversion"], "4.90");
    assert_eq!(record.details["hash_algorithms"], "md5,sha256,IMPHASH");
    assert_eq!(record.details["path"], "sysmon-modular/sysmonconfig.xml");
    assert_eq!(record.details["module_event_ids"], json!([]));
}

#[test]
fn ids_come_from_filter_rule_and_rule_group_names_by_regex_in_every_variant() {
    let record = parse_one("sysmonconfig.xml", MERGED);
    // T1105 from `technique=…`, T1559.002 despite `,office`, T1055 from a Rule and from `; Possible …`, T1571
    // from the enclosing RuleGroup; `technique_id=T` gives nothing.
    assert_eq!(
        technique_texts(&record),
        vec!["T1055", "T1105", "T1197", "T1559.002", "T1571"]
    );
}

#[test]
fn techniques_under_exclude_filters_are_reduced_visibility_not_coverage() {
    let record = parse_one("sysmonconfig.xml", MERGED);
    assert!(!technique_texts(&record).contains(&"T1036"));
    assert_eq!(record.details["excluded_techniques"], json!(["T1036"]));
}

#[test]
fn filters_are_summarised_per_event_and_onmatch_with_each_technique_once() {
    let record = parse_one("sysmonconfig.xml", MERGED);
    assert_eq!(
        record.details["event_filters"],
        json!([
            {"event": "NetworkConnect", "onmatch": "include", "filter_blocks": 1, "conditions": 1,
             "techniques": ["T1571"], "comment_techniques": []},
            {"event": "ProcessCreate", "onmatch": "exclude", "filter_blocks": 1, "conditions": 2,
             "techniques": ["T1036"], "comment_techniques": []},
            {"event": "ProcessCreate", "onmatch": "include", "filter_blocks": 2, "conditions": 10,
             "techniques": ["T1055", "T1105", "T1197", "T1559.002"], "comment_techniques": []},
        ])
    );
}

#[test]
fn names_without_an_id_are_counted_as_labels() {
    let record = parse_one("sysmonconfig.xml", MERGED);
    assert_eq!(
        record.details["labels_without_technique"],
        json!({
            "Exclude Chrome": 1,
            "Ingress Tool Transfer": 1,
            "technique_id=T,technique_name=": 1,
            "technique_name=Outlook Server 95/98 Identity Keys": 1,
        })
    );
}

/// Shaped like SwiftOnSecurity's config: old-style bare ids, several per name, labels, technique URLs in
/// comments, tabs and CRLF.
const SWIFT: &str = "<!--\r\n\tsysmon-config | A Sysmon configuration focused on default high-quality event tracing\r\n-->\r
<Sysmon schemaversion=\"4.50\">\r
\t<HashAlgorithms>md5,sha256,IMPHASH</HashAlgorithms>\r
\t<EventFiltering>\r
\t<!--COMMENT: [ https://attack.mitre.org/wiki/Technique/T1099 ] -->\r
\t<RuleGroup name=\"\" groupRelation=\"or\">\r
\t\t<RegistryEvent onmatch=\"include\">\r
\t\t\t<TargetObject name=\"T1031,T1050\" condition=\"end with\">\\ImagePath</TargetObject> <!--[ https://attack.mitre.org/wiki/Technique/T1050 ] -->\r
\t\t\t<TargetObject name=\"T1089,Tamper-Defender\" condition=\"end with\">\\x</TargetObject>\r
\t\t\t<TargetObject condition=\"begin with\">HKLM\\Software\\Microsoft\\Netsh</TargetObject> <!--Netsh helper DLL [ https://attack.mitre.org/wiki/Technique/T1128 ] -->\r
\t\t\t<TargetObject name=\"T1183,IFEO\" condition=\"begin with\">HKLM\\IFEO</TargetObject>\r
\t\t</RegistryEvent>\r
\t</RuleGroup>\r
\t<RuleGroup name=\"\" groupRelation=\"or\">\r
\t\t<NetworkConnect onmatch=\"include\">\r
\t\t\t<DestinationPort name=\"Alert,Metasploit\" condition=\"is\">4444</DestinationPort>\r
\t\t\t<DestinationPort name=\"Tor\" condition=\"is\">9001</DestinationPort>\r
\t\t\t<DestinationPort name=\"Tor\" condition=\"is\">9030</DestinationPort>\r
\t\t</NetworkConnect>\r
\t</RuleGroup>\r
\t</EventFiltering>\r
</Sysmon>\r\n";

#[test]
fn old_style_ids_are_kept_as_written_and_several_ids_in_one_name_all_count() {
    let record = parse_one("sysmon-config/sysmonconfig-export.xml", SWIFT);
    assert_eq!(
        technique_texts(&record),
        vec!["T1031", "T1050", "T1089", "T1183"]
    );
    assert_eq!(record.details["schemaversion"], "4.50");
    assert_eq!(
        record.details["labels_without_technique"],
        json!({"Alert,Metasploit": 1, "Tor": 2})
    );
}

#[test]
fn technique_urls_in_comments_inside_a_filter_are_kept_apart_and_the_ones_outside_are_ignored() {
    let record = parse_one("sysmonconfig-export.xml", SWIFT);
    let registry = &record.details["event_filters"][1];
    assert_eq!(registry["event"], "RegistryEvent");
    assert_eq!(registry["comment_techniques"], json!(["T1050", "T1128"]));
    assert!(!technique_texts(&record).contains(&"T1128"));
    assert!(!technique_texts(&record).contains(&"T1099"));
}

#[test]
fn comment_urls_in_the_new_style_with_sub_techniques_are_read() {
    let config = "<Sysmon><EventFiltering><RuleGroup><FileDelete onmatch=\"include\"><!-- https://attack.mitre.org/techniques/T1003/001/ and https://attack.mitre.org/techniques/T1490/--><TargetFilename condition=\"is\">x</TargetFilename></FileDelete></RuleGroup></EventFiltering></Sysmon>";
    let record = parse_one("x.xml", config);
    assert_eq!(
        record.details["event_filters"][0]["comment_techniques"],
        json!(["T1003.001", "T1490"])
    );
}

#[test]
fn a_module_snippet_without_the_sysmon_root_parses_and_its_folder_gives_the_event_ids() {
    let snippet = "<RuleGroup name=\"\" groupRelation=\"or\">\n  <RegistryEvent onmatch=\"include\">\n    <TargetObject name=\"technique_id=T1112,technique_name=Modify Registry\" condition=\"contains\">\\Run</TargetObject>\n  </RegistryEvent>\n</RuleGroup>\n<RuleGroup name=\"\" groupRelation=\"or\">\n  <RegistryEvent onmatch=\"exclude\"/>\n</RuleGroup>\n";
    let record = parse_one(
        "sysmon-modular/12_13_14_registry_event/include_run.xml",
        snippet,
    );
    assert_eq!(technique_texts(&record), vec!["T1112"]);
    assert_eq!(record.details["schemaversion"], Json::Null);
    assert_eq!(record.details["module_event_ids"], json!([12, 13, 14]));
    assert_eq!(record.name, "include_run.xml");
    assert_eq!(record.details["event_filters"][0]["onmatch"], "exclude");
    assert_eq!(record.details["event_filters"][0]["conditions"], 0);
}

use serde_json::Value as Json;

#[test]
fn an_entity_reference_in_text_arrives_as_its_own_event_and_is_resolved() {
    let config = "<Sysmon schemaversion=\"4.30\"><HashAlgorithms>md5&amp;sha256&#44;IMPHASH</HashAlgorithms><EventFiltering><RuleGroup><ProcessCreate onmatch=\"include\"><CommandLine name=\"technique_id=T1003,technique_name=A &amp; B\" condition=\"contains\">x &amp;&amp; y &lt;z&gt;</CommandLine></ProcessCreate></RuleGroup></EventFiltering></Sysmon>";
    let record = parse_one("x.xml", config);
    assert_eq!(record.details["hash_algorithms"], "md5&sha256,IMPHASH");
    assert_eq!(technique_texts(&record), vec!["T1003"]);
    assert_eq!(record.details["event_filters"][0]["conditions"], 1);
}

#[test]
fn onmatch_is_compared_without_case_and_unknown_values_are_neither_coverage_nor_exclusion() {
    let config = "<Sysmon><EventFiltering><RuleGroup><ProcessCreate onmatch=\"INCLUDE\"><Image name=\"T1059\" condition=\"is\">a</Image></ProcessCreate><DnsQuery onmatch=\"maybe\"><QueryName name=\"T1071\" condition=\"is\">b</QueryName></DnsQuery></RuleGroup></EventFiltering></Sysmon>";
    let record = parse_one("x.xml", config);
    assert_eq!(technique_texts(&record), vec!["T1059"]);
    assert_eq!(record.details["excluded_techniques"], json!([]));
    assert_eq!(record.details["event_filters"][0]["onmatch"], "maybe");
    assert_eq!(
        record.details["event_filters"][0]["techniques"],
        json!(["T1071"])
    );
}

#[test]
fn a_template_without_filters_is_a_record_without_techniques() {
    let template = "<Sysmon schemaversion=\"4.21\">\n  <!-- banner & friends -->\n  <HashAlgorithms>*</HashAlgorithms>\n  <EventFiltering>\n  </EventFiltering>\n</Sysmon>";
    let record = parse_one("templates/sysmon_template.xml", template);
    assert!(record.techniques.is_empty());
    assert_eq!(record.details["event_filters"], json!([]));
    assert_eq!(record.details["hash_algorithms"], "*");
}

#[test]
fn malformed_files_fail_alone_with_a_clear_reason() {
    let parsed = parse(&[
        file("mismatch.xml", "<Sysmon><EventFiltering></Sysmon>"),
        file("unclosed.xml", "<Sysmon><EventFiltering>"),
        file("other.xml", "<project><modelVersion/></project>"),
        file("empty.xml", "<!-- nothing -->\n"),
        SourceFile {
            path: PathBuf::from("binary.xml"),
            bytes: vec![0x3c, 0xff, 0x3e],
        },
        file("good.xml", "<Sysmon schemaversion=\"4.90\"/>"),
    ]);
    let failures: Vec<_> = parsed
        .failures
        .iter()
        .map(|failure| (failure.file.as_str(), failure.error.as_str()))
        .collect();
    assert_eq!(failures.len(), 5, "{failures:?}");
    assert!(
        failures[0].1.starts_with("invalid XML at byte"),
        "{}",
        failures[0].1
    );
    assert_eq!(failures[1].1, "element <EventFiltering> is not closed");
    assert_eq!(
        failures[2].1,
        "not a Sysmon configuration: the root element is <project>"
    );
    assert_eq!(failures[3].1, "no XML element in the file");
    assert_eq!(failures[4].1, "the file is not UTF-8 text");
    assert_eq!(parsed.records.len(), 1);
}

#[test]
fn accepts_xml_files_only() {
    assert!(accepts(Path::new(
        "sysmon-modular/10_process_access/exclude_defender_for_endpoint copy.xml"
    )));
    assert!(accepts(Path::new("sysmonconfig-export.XML")));
    assert!(!accepts(Path::new(
        "sysmon-modular/attack_matrix/Sysmon-modular.json"
    )));
    assert!(!accepts(Path::new("sysmon-modular/PROVENANCE.md")));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = parse(&[SourceFile { path: PathBuf::from("fuzz.xml"), bytes }]);
    }

    #[test]
    fn mutated_configs_never_panic(position in 0usize..4000, replacement in "[<>/=\"'&;#! \n\tTa-z0-9]{0,6}") {
        let mut text = MERGED.to_owned();
        let mut cut = position.min(text.len());
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.insert_str(cut, &replacement);
        let _ = parse(&[file("fuzz.xml", &text)]);
    }
}
