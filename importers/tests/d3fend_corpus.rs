//! The D3FEND parser on the real ontology snapshot, checked against counts taken by plain text scans.

mod support;

use std::collections::BTreeSet;

use importers::parsers::d3fend;
use importers::record::{RecordKind, RecordStatus};

fn ontology_text(files: &[importers::record::SourceFile]) -> String {
    let protege = files
        .iter()
        .find(|file| file.path.ends_with("src/ontology/d3fend-protege.ttl"))
        .expect("the corpus has d3fend-protege.ttl");
    String::from_utf8(protege.bytes.clone()).expect("UTF-8")
}

#[test]
fn d3fend_corpus_parses_with_counts_from_text_scans() {
    let files = support::source_files("d3fend", d3fend::accepts);
    let paths: Vec<String> = files
        .iter()
        .map(|file| file.path.display().to_string())
        .collect();
    // The .xlsx workbook and the Protégé catalog .xml are not accepted.
    assert_eq!(
        paths,
        [
            "d3fend/src/ontology/d3fend-protege.ttl",
            "d3fend/src/ontology/initiatives/example-initiative.ttl",
            "d3fend/src/ontology/mappings/d3fend-cco.ttl",
        ]
    );
    let parsed = d3fend::parse(&files);
    // Upstream's broken d3fend-ontology-mappings.ttl is not in this snapshot (the unit test
    // `a_file_with_a_syntax_error_fails_alone` covers it), so no file may fail; d3fend-cco.ttl, with its
    // relative IRI, must parse.
    assert_eq!(parsed.failures, []);

    let text = ontology_text(&files);
    // Every `:d3fend-id "D3-…"` in the text is one defensive technique, except `ARMA_Model`, an analytic
    // technique (below AnalyticTechnique, not DefensiveTechnique) that upstream numbers D3-ARMA.
    let d3_ids: BTreeSet<&str> = text
        .lines()
        .filter_map(|line| line.trim().strip_prefix(":d3fend-id \""))
        .filter_map(|rest| rest.split('"').next())
        .filter(|id| id.starts_with("D3-"))
        .collect();
    assert_eq!(d3_ids.len(), 250);
    assert_eq!(parsed.records.len(), d3_ids.len() - 1);
    assert!(parsed.records.iter().all(|record| {
        record.kind == RecordKind::DefensiveTechnique
            && record.scope == "d3fend"
            && record.details["d3fend_id"]
                .as_str()
                .is_some_and(|id| id.starts_with("D3-"))
            && record.details["tactic"].is_string()
    }));
    assert!(
        parsed
            .records
            .iter()
            .all(|record| record.id != "ARMA_Model")
    );
    let keys: BTreeSet<&str> = parsed
        .records
        .iter()
        .map(|record| record.id.as_str())
        .collect();
    assert_eq!(keys.len(), parsed.records.len());
    assert!(
        parsed
            .records
            .iter()
            .all(|record| record.status == RecordStatus::Active)
    );

    // ATT&CK classes that restrict some artifact themselves (a text block starting `:T####` that holds an
    // `owl:someValuesFrom`): QUIRKS.md counts 331. The inference reaches most of them; the rest restrict
    // artifacts that no defensive technique names nor is an ancestor of.
    let attack_blocks_with_restrictions = text
        .split("\n\n")
        .map(str::trim_start)
        .filter(|block| {
            block.starts_with(":T")
                && block[2..]
                    .chars()
                    .take(4)
                    .all(|character| character.is_ascii_digit())
                && block.contains("owl:someValuesFrom")
        })
        .count();
    assert_eq!(attack_blocks_with_restrictions, 331);
    let countered: BTreeSet<String> = parsed
        .records
        .iter()
        .flat_map(|record| record.techniques.iter().map(ToString::to_string))
        .collect();
    assert_eq!(countered.len(), 307);
    assert!(countered.len() <= attack_blocks_with_restrictions);
    let with_countermeasures = parsed
        .records
        .iter()
        .filter(|record| !record.techniques.is_empty())
        .count();
    assert_eq!(with_countermeasures, 140);

    let termination = parsed
        .records
        .iter()
        .find(|record| record.id == "ProcessTermination")
        .expect("ProcessTermination");
    assert_eq!(termination.name, "Process Termination");
    assert_eq!(termination.details["d3fend_id"], "D3-PT");
    assert_eq!(termination.details["tactic"], "Evict");
    assert_eq!(
        termination.details["parents"],
        serde_json::json!(["ProcessEviction"])
    );
    assert_eq!(
        termination.details["artifacts"],
        serde_json::json!([{"relation": "terminates", "artifact": "Process"}])
    );
    let termination_techniques: Vec<String> = termination
        .techniques
        .iter()
        .map(ToString::to_string)
        .collect();
    assert!(termination_techniques.contains(&"T1003.001".to_owned()));
    assert!(termination_techniques.contains(&"T1562.001".to_owned()));

    // No version in the ontology header of this snapshot.
    assert_eq!(parsed.upstream_version, None);
}
