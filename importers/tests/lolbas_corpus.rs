//! The LOLBAS parser on the corpus: one template per command, counted independently by a plain text scan for
//! `- Command:` lines.

mod support;

use std::collections::HashSet;

use importers::parsers::lolbas;
use importers::record::{CatalogRecord, RecordKind, technique_ids};
use serde_json::json;

fn find<'a>(records: &'a [CatalogRecord], id: &str) -> &'a CatalogRecord {
    records
        .iter()
        .find(|record| record.id == id)
        .unwrap_or_else(|| panic!("no record {id}"))
}

#[test]
fn every_lolbas_command_in_the_corpus_is_one_template() {
    let files = support::source_files("lolbas", lolbas::accepts);
    let yaml_files = support::source_files("lolbas", |path| {
        path.extension().is_some_and(|extension| extension == "yml")
    });
    assert_eq!(files.len(), yaml_files.len());
    assert_eq!(files.len(), 145, "the pinned corpus has 145 entries");

    let expected_commands: usize = files
        .iter()
        .map(|file| {
            String::from_utf8_lossy(&file.bytes)
                .lines()
                .filter(|line| line.trim_start().starts_with("- Command:"))
                .count()
        })
        .sum();

    let parsed = lolbas::parse(&files);
    assert_eq!(parsed.failures, []);
    assert_eq!(parsed.records.len(), expected_commands);
    assert_eq!(expected_commands, 291, "the pinned corpus has 291 commands");

    let ids: HashSet<&str> = parsed
        .records
        .iter()
        .map(|record| record.id.as_str())
        .collect();
    assert_eq!(ids.len(), parsed.records.len(), "ids are unique");
    for record in &parsed.records {
        assert_eq!(record.kind, RecordKind::Template);
        assert_eq!(record.scope, "lolbas");
        assert!(record.id.chars().count() <= 255);
        assert_eq!(record.techniques.len(), 1, "{}", record.id);
        assert!(!record.name.contains('\n'));
        assert!(record.name.chars().count() <= 255, "{}", record.name);
    }
}

#[test]
fn known_lolbas_commands_field_by_field() {
    let parsed = lolbas::parse(&support::source_files("lolbas", lolbas::accepts));

    let first = find(&parsed.records, "Rundll32.exe#1");
    assert_eq!(first.techniques, technique_ids(["T1218.011"]));
    assert!(
        first
            .name
            .starts_with("Rundll32.exe: First part should be a DLL file (any extension accepted)")
    );
    let details = &first.details;
    assert_eq!(details["entry"], "Rundll32.exe");
    assert_eq!(
        details["entry_description"],
        "Used by Windows to execute dll files"
    );
    assert_eq!(details["author"], "Oddvar Moe");
    assert_eq!(details["created"], "2018-05-25");
    assert_eq!(details["collection"], "OSBinaries");
    assert_eq!(details["command"], "rundll32.exe {PATH},EntryPoint");
    assert_eq!(details["usecase"], "Execute DLL file");
    assert_eq!(details["category"], "Execute");
    assert_eq!(details["privileges"], "User");
    assert_eq!(
        details["operating_system"],
        "Windows vista, Windows 7, Windows 8, Windows 8.1, Windows 10, Windows 11"
    );
    assert_eq!(details["tags"], json!([{"key": "Execute", "value": "DLL"}]));
    assert_eq!(
        details["full_paths"],
        json!([
            r"C:\Windows\System32\rundll32.exe",
            r"C:\Windows\SysWOW64\rundll32.exe"
        ])
    );
    assert_eq!(details["detections"].as_array().map(Vec::len), Some(5));
    assert_eq!(
        details["detections"][3],
        json!({"key": "IOC", "value": "Outbount Internet/network connections made from rundll32"})
    );

    // The fourth command hides a DLL in an alternate data stream: another technique, another template.
    let ads = find(&parsed.records, "Rundll32.exe#4");
    assert_eq!(ads.techniques, technique_ids(["T1564.004"]));
    assert_eq!(ads.details["category"], "ADS");
    assert_eq!(
        ads.details["command"],
        "rundll32 \"{PATH}:ADSDLL.dll\",DllMain"
    );

    // `Detection:` null upstream.
    let copilot = find(&parsed.records, "Mscopilot_proxy.exe#1");
    assert_eq!(copilot.details["detections"], json!([]));
    assert_eq!(
        copilot.details["tags"],
        json!([{"key": "Execute", "value": "CMD"}])
    );
    assert_eq!(copilot.details["collection"], "OtherMSBinaries");
}
