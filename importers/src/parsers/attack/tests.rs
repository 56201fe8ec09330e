//! One small fixture per upstream quirk, and fuzzing of the whole parse.

use std::path::{Path, PathBuf};

use proptest::prelude::*;
use serde_json::{Value, json};

use super::{accepts, parse};
use crate::record::{CatalogRecord, Parsed, RecordKind, RecordStatus, SourceFile};

const IDENTITY: &str = "identity--c78cb6e5-0c4b-4611-8297-d1b8b55e40b5";

fn file(name: &str, value: &Value) -> SourceFile {
    SourceFile {
        path: PathBuf::from(name),
        bytes: serde_json::to_vec(value).expect("fixture serialises"),
    }
}

/// A STIX 2.0 bundle as MITRE's cti repository writes it.
fn bundle(name: &str, objects: Vec<Value>) -> SourceFile {
    file(
        name,
        &json!({"type": "bundle", "id": "bundle--1", "spec_version": "2.0", "objects": Value::Array(objects)}),
    )
}

/// A directory of one-object bundles, as `enterprise-attack/<type>/<type>--<uuid>.json`.
fn one_object_bundles(objects: Vec<Value>) -> Vec<SourceFile> {
    objects
        .into_iter()
        .map(|object| {
            let stix_id = object["id"].as_str().unwrap_or("unknown").to_owned();
            let stix_type = object["type"].as_str().unwrap_or("unknown").to_owned();
            bundle(
                &format!("enterprise-attack/{stix_type}/{stix_id}.json"),
                vec![object],
            )
        })
        .collect()
}

fn reference(external_id: &str) -> Value {
    json!([{"source_name": "mitre-attack", "external_id": external_id,
            "url": format!("https://attack.mitre.org/{external_id}")},
           {"source_name": "Some Blog", "description": "A citation without external_id"}])
}

fn technique(stix_id: &str, attack_id: &str, domain: &str, phases: &[&str]) -> Value {
    let kill_chain = match domain {
        "ics-attack" => "mitre-ics-attack",
        "mobile-attack" => "mitre-mobile-attack",
        _ => "mitre-attack",
    };
    json!({
        "type": "attack-pattern", "id": stix_id, "name": format!("Technique {attack_id}"),
        "created": "2020-01-01T00:00:00.000Z", "modified": "2024-01-01T00:00:00.000Z",
        "created_by_ref": IDENTITY, "external_references": reference(attack_id),
        "kill_chain_phases": phases.iter()
            .map(|phase| json!({"kill_chain_name": kill_chain, "phase_name": phase}))
            .collect::<Vec<_>>(),
        "x_mitre_domains": [domain], "x_mitre_platforms": ["Windows"], "x_mitre_version": "1.2",
        "x_mitre_is_subtechnique": attack_id.contains('.'), "x_mitre_detection": "",
        "x_mitre_deprecated": false,
    })
}

fn object(stix_type: &str, stix_id: &str, attack_id: &str, domains: &[&str]) -> Value {
    json!({
        "type": stix_type, "id": stix_id, "name": format!("Object {attack_id}"),
        "modified": "2024-01-01T00:00:00.000Z", "external_references": reference(attack_id),
        "x_mitre_domains": domains, "revoked": false, "x_mitre_deprecated": false,
    })
}

fn tactic(stix_id: &str, attack_id: &str, shortname: &str, domain: &str) -> Value {
    let mut tactic = object("x-mitre-tactic", stix_id, attack_id, &[domain]);
    tactic["x_mitre_shortname"] = json!(shortname);
    tactic
}

fn matrix(stix_id: &str, domain: &str, tactic_refs: &[&str]) -> Value {
    let mut matrix = object("x-mitre-matrix", stix_id, domain, &[domain]);
    matrix["tactic_refs"] = json!(tactic_refs);
    matrix
}

fn relationship(stix_id: &str, relationship_type: &str, source: &str, target: &str) -> Value {
    json!({
        "type": "relationship", "id": stix_id, "relationship_type": relationship_type,
        "source_ref": source, "target_ref": target, "description": "Long text (Citation: Somebody)",
        "modified": "2024-01-01T00:00:00.000Z", "x_mitre_deprecated": false,
    })
}

fn find<'p>(parsed: &'p Parsed, kind: RecordKind, scope: &str, id: &str) -> &'p CatalogRecord {
    parsed
        .records
        .iter()
        .find(|record| record.kind == kind && record.scope == scope && record.id == id)
        .unwrap_or_else(|| panic!("no {kind:?} {scope} {id} in {:#?}", parsed.records))
}

fn keys(parsed: &Parsed) -> Vec<(RecordKind, &str, &str)> {
    parsed
        .records
        .iter()
        .map(|record| (record.kind, record.scope.as_str(), record.id.as_str()))
        .collect()
}

fn techniques(record: &CatalogRecord) -> Vec<String> {
    record.techniques.iter().map(ToString::to_string).collect()
}

fn strings(value: &Value) -> Vec<&str> {
    value
        .as_array()
        .map(|values| values.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

/// A small Enterprise domain: two tactics, a technique and its sub-technique, a group using the sub-technique.
fn small_domain() -> Vec<Value> {
    vec![
        matrix(
            "x-mitre-matrix--e",
            "enterprise-attack",
            &["x-mitre-tactic--exec", "x-mitre-tactic--persist"],
        ),
        tactic(
            "x-mitre-tactic--persist",
            "TA0003",
            "persistence",
            "enterprise-attack",
        ),
        tactic(
            "x-mitre-tactic--exec",
            "TA0002",
            "execution",
            "enterprise-attack",
        ),
        technique(
            "attack-pattern--parent",
            "T1059",
            "enterprise-attack",
            &["execution"],
        ),
        technique(
            "attack-pattern--child",
            "T1059.001",
            "enterprise-attack",
            &["execution"],
        ),
        object(
            "intrusion-set",
            "intrusion-set--apt",
            "G0007",
            &["enterprise-attack"],
        ),
        relationship(
            "relationship--sub",
            "subtechnique-of",
            "attack-pattern--child",
            "attack-pattern--parent",
        ),
        relationship(
            "relationship--uses",
            "uses",
            "intrusion-set--apt",
            "attack-pattern--child",
        ),
        json!({"type": "identity", "id": IDENTITY, "name": "The MITRE Corporation", "identity_class": "organization"}),
        json!({"type": "marking-definition", "id": "marking-definition--1", "definition_type": "statement",
               "definition": {"statement": "Copyright 2015-2025, The MITRE Corporation."}}),
    ]
}

#[test]
fn accepts_json_files_only() {
    assert!(accepts(Path::new("mitre-attack/enterprise-attack.json")));
    assert!(accepts(Path::new(
        "cti/enterprise-attack/attack-pattern/attack-pattern--1.JSON"
    )));
    assert!(!accepts(Path::new("mitre-attack/PROVENANCE.md")));
    assert!(!accepts(Path::new("mitre-attack/LICENSE.upstream")));
}

#[test]
fn one_bundle_with_many_objects() {
    let parsed = parse(&[bundle("enterprise-attack.json", small_domain())]);
    assert_eq!(parsed.failures, []);
    assert_eq!(
        keys(&parsed),
        [
            (RecordKind::Technique, "enterprise-attack", "T1059"),
            (RecordKind::Technique, "enterprise-attack", "T1059.001"),
            (RecordKind::Tactic, "enterprise-attack", "TA0002"),
            (RecordKind::Tactic, "enterprise-attack", "TA0003"),
            (RecordKind::Matrix, "enterprise-attack", "enterprise-attack"),
            (RecordKind::Group, "enterprise-attack", "G0007"),
        ]
    );
    let child = find(
        &parsed,
        RecordKind::Technique,
        "enterprise-attack",
        "T1059.001",
    );
    assert_eq!(child.name, "Technique T1059.001");
    assert_eq!(techniques(child), ["T1059.001"]);
    assert_eq!(child.details["parent"], "T1059");
    assert_eq!(child.details["stix_id"], "attack-pattern--child");
    assert_eq!(child.details["version"], "1.2");
    assert_eq!(child.details["url"], "https://attack.mitre.org/T1059.001");
    assert_eq!(child.details["detection"], Value::Null);
    let group = find(&parsed, RecordKind::Group, "enterprise-attack", "G0007");
    assert_eq!(techniques(group), ["T1059.001"]);
    assert_eq!(parsed.upstream_version, None);
}

#[test]
fn directory_of_one_object_bundles_joins_relationships_across_files() {
    let files = one_object_bundles(small_domain());
    assert_eq!(files.len(), 10);
    let from_directory = parse(&files);
    let from_bundle = parse(&[bundle("enterprise-attack.json", small_domain())]);
    assert_eq!(from_directory.failures, []);
    assert_eq!(from_directory.records, from_bundle.records);
    let parent = find(
        &from_directory,
        RecordKind::Technique,
        "enterprise-attack",
        "T1059",
    );
    assert_eq!(strings(&parent.details["sub_techniques"]), ["T1059.001"]);
}

#[test]
fn taxii_envelope_pages_are_read_like_bundles() {
    let objects = small_domain();
    let (first, second) = objects.split_at(4);
    let pages = [
        file(
            "taxii/page-1.json",
            &json!({"more": true, "next": "2", "objects": first}),
        ),
        file(
            "taxii/page-2.json",
            &json!({"more": false, "objects": second}),
        ),
        // A TAXII server answers an empty page without `objects`.
        file("taxii/page-3.json", &json!({"more": false})),
    ];
    let parsed = parse(&pages);
    assert_eq!(parsed.failures, []);
    assert_eq!(
        parsed.records,
        parse(&[bundle("enterprise-attack.json", small_domain())]).records
    );
}

#[test]
fn empty_bundle_is_not_a_failure() {
    let parsed = parse(&[file(
        "empty.json",
        &json!({"type": "bundle", "id": "bundle--1"}),
    )]);
    assert_eq!(parsed, Parsed::default());
}

#[test]
fn absent_revoked_means_not_revoked() {
    let mut technique = technique("attack-pattern--1", "T1003", "enterprise-attack", &[]);
    technique.as_object_mut().expect("object").remove("revoked");
    let parsed = parse(&[bundle("b.json", vec![technique])]);
    assert_eq!(parsed.records[0].status, RecordStatus::Active);
}

#[test]
fn revoked_and_deprecated_are_separate_flags() {
    let mut revoked = technique("attack-pattern--old", "T1066", "enterprise-attack", &[]);
    revoked["revoked"] = json!(true);
    let mut revoked_without_replacement =
        technique("attack-pattern--gone", "T1067", "enterprise-attack", &[]);
    revoked_without_replacement["revoked"] = json!(true);
    let mut deprecated = technique("attack-pattern--dep", "T1068", "enterprise-attack", &[]);
    deprecated["x_mitre_deprecated"] = json!(true);
    let replacement = technique("attack-pattern--new", "T1027.005", "enterprise-attack", &[]);
    // A malware may be replaced by a tool.
    let mut malware = object("malware", "malware--old", "S0001", &["enterprise-attack"]);
    malware["revoked"] = json!(true);
    let tool = object("tool", "tool--new", "S0002", &["enterprise-attack"]);
    let parsed = parse(&[bundle(
        "b.json",
        vec![
            revoked,
            revoked_without_replacement,
            deprecated,
            replacement,
            malware,
            tool,
            relationship(
                "relationship--1",
                "revoked-by",
                "attack-pattern--old",
                "attack-pattern--new",
            ),
            relationship("relationship--2", "revoked-by", "malware--old", "tool--new"),
        ],
    )]);
    let status = |kind, id| find(&parsed, kind, "enterprise-attack", id).status.clone();
    assert_eq!(
        status(RecordKind::Technique, "T1066"),
        RecordStatus::Revoked {
            replaced_by: Some("T1027.005".to_owned())
        }
    );
    assert_eq!(
        status(RecordKind::Technique, "T1067"),
        RecordStatus::Revoked { replaced_by: None }
    );
    assert_eq!(
        status(RecordKind::Technique, "T1068"),
        RecordStatus::Deprecated
    );
    assert_eq!(
        status(RecordKind::Technique, "T1027.005"),
        RecordStatus::Active
    );
    assert_eq!(
        status(RecordKind::Software, "S0001"),
        RecordStatus::Revoked {
            replaced_by: Some("S0002".to_owned())
        }
    );
    let tool = find(&parsed, RecordKind::Software, "enterprise-attack", "S0002");
    assert_eq!(tool.details["software_type"], "tool");
}

#[test]
fn sub_technique_without_relationship_takes_the_id_before_the_dot() {
    let mut orphan = technique("attack-pattern--1", "T1053.001", "enterprise-attack", &[]);
    orphan["revoked"] = json!(true);
    let parsed = parse(&[bundle("b.json", vec![orphan])]);
    assert_eq!(parsed.records[0].details["parent"], "T1053");
    assert_eq!(parsed.records[0].details["is_subtechnique"], true);
}

#[test]
fn revoked_or_deprecated_relationships_and_dangling_ones_are_ignored() {
    let mut revoked_uses = relationship(
        "relationship--1",
        "uses",
        "intrusion-set--1",
        "attack-pattern--1",
    );
    revoked_uses["revoked"] = json!(true);
    let mut deprecated_uses = relationship(
        "relationship--2",
        "uses",
        "intrusion-set--1",
        "attack-pattern--2",
    );
    deprecated_uses["x_mitre_deprecated"] = json!(true);
    let parsed = parse(&[bundle(
        "b.json",
        vec![
            object(
                "intrusion-set",
                "intrusion-set--1",
                "G0001",
                &["enterprise-attack"],
            ),
            technique("attack-pattern--1", "T1001", "enterprise-attack", &[]),
            technique("attack-pattern--2", "T1002", "enterprise-attack", &[]),
            revoked_uses,
            deprecated_uses,
            // A partial directory: the other end is not in the import.
            relationship(
                "relationship--3",
                "uses",
                "intrusion-set--1",
                "attack-pattern--missing",
            ),
            relationship(
                "relationship--4",
                "mitigates",
                "course-of-action--missing",
                "attack-pattern--1",
            ),
            relationship(
                "relationship--5",
                "some-future-type",
                "intrusion-set--1",
                "attack-pattern--1",
            ),
        ],
    )]);
    assert_eq!(parsed.failures, []);
    let group = find(&parsed, RecordKind::Group, "enterprise-attack", "G0001");
    assert!(group.techniques.is_empty());
}

#[test]
fn legacy_mitigations_keep_technique_style_ids() {
    let mut legacy = object(
        "course-of-action",
        "course-of-action--1",
        "T1040",
        &["enterprise-attack"],
    );
    legacy["x_mitre_deprecated"] = json!(true);
    let parsed = parse(&[bundle(
        "b.json",
        vec![
            legacy,
            object(
                "course-of-action",
                "course-of-action--2",
                "M1042",
                &["enterprise-attack"],
            ),
            technique("attack-pattern--1", "T1059", "enterprise-attack", &[]),
            relationship(
                "relationship--1",
                "mitigates",
                "course-of-action--1",
                "attack-pattern--1",
            ),
            relationship(
                "relationship--2",
                "mitigates",
                "course-of-action--2",
                "attack-pattern--1",
            ),
        ],
    )]);
    let legacy = find(
        &parsed,
        RecordKind::Mitigation,
        "enterprise-attack",
        "T1040",
    );
    assert_eq!(legacy.status, RecordStatus::Deprecated);
    // The mitigation's own technique-style id is not a technique it refers to.
    assert_eq!(techniques(legacy), ["T1059"]);
    let technique = find(&parsed, RecordKind::Technique, "enterprise-attack", "T1059");
    assert_eq!(
        strings(&technique.details["mitigations"]),
        ["M1042", "T1040"]
    );
}

#[test]
fn domain_specific_source_names_give_id_and_domain() {
    let mut mobile = json!({
        "type": "attack-pattern", "id": "attack-pattern--m", "name": "Old mobile technique",
        "external_references": [{"source_name": "mitre-mobile-attack", "external_id": "T1400"}],
        "kill_chain_phases": [],
    });
    mobile["revoked"] = json!(true);
    let ics = json!({
        "type": "malware", "id": "malware--i", "name": "Old ICS malware",
        "external_references": [{"source_name": "mitre-ics-attack", "external_id": "S1000"}],
    });
    let parsed = parse(&[bundle("b.json", vec![mobile, ics])]);
    assert_eq!(
        keys(&parsed),
        [
            (RecordKind::Technique, "mobile-attack", "T1400"),
            (RecordKind::Software, "ics-attack", "S1000"),
        ]
    );
}

#[test]
fn kill_chain_name_gives_the_domain_without_x_mitre_domains() {
    let mut ics = technique(
        "attack-pattern--1",
        "T0800",
        "ics-attack",
        &["inhibit-response-function"],
    );
    ics.as_object_mut()
        .expect("object")
        .remove("x_mitre_domains");
    let parsed = parse(&[bundle("b.json", vec![ics])]);
    assert_eq!(
        keys(&parsed),
        [(RecordKind::Technique, "ics-attack", "T0800")]
    );
}

#[test]
fn object_without_attack_id_keeps_its_stix_id() {
    let group = json!({"type": "intrusion-set", "id": "intrusion-set--x", "name": "Unnamed", "x_mitre_domains": ["enterprise-attack"]});
    let parsed = parse(&[bundle("b.json", vec![group])]);
    assert_eq!(parsed.records[0].id, "intrusion-set--x");
}

#[test]
fn tactics_follow_the_matrix_order_and_the_records_domain() {
    let mut mixed = technique(
        "attack-pattern--1",
        "T1078",
        "enterprise-attack",
        &["persistence", "execution", "not-a-tactic"],
    );
    // A phase of another domain's kill chain does not belong to an Enterprise technique.
    mixed["kill_chain_phases"]
        .as_array_mut()
        .expect("phases")
        .push(json!({"kill_chain_name": "mitre-mobile-attack", "phase_name": "defense-evasion"}));
    let mut objects = small_domain();
    objects.push(mixed);
    let parsed = parse(&[bundle("b.json", objects)]);
    let details = &find(&parsed, RecordKind::Technique, "enterprise-attack", "T1078").details;
    assert_eq!(
        strings(&details["tactics"]),
        ["execution", "persistence", "not-a-tactic"]
    );
    assert_eq!(strings(&details["tactic_ids"]), ["TA0002", "TA0003"]);
    let persistence = find(&parsed, RecordKind::Tactic, "enterprise-attack", "TA0003");
    assert_eq!(persistence.details["order"], 1);
    assert_eq!(
        strings(&persistence.details["matrices"]),
        ["enterprise-attack"]
    );
    assert_eq!(persistence.details["shortname"], "persistence");
    assert_eq!(techniques(persistence), ["T1078"]);
    let matrix = find(
        &parsed,
        RecordKind::Matrix,
        "enterprise-attack",
        "enterprise-attack",
    );
    assert_eq!(strings(&matrix.details["tactics"]), ["TA0002", "TA0003"]);
}

#[test]
fn deprecated_mobile_matrix_does_not_set_the_order() {
    let mut old_matrix = matrix(
        "x-mitre-matrix--old",
        "mobile-attack",
        &["x-mitre-tactic--b", "x-mitre-tactic--a"],
    );
    old_matrix["external_references"] = reference("mobile-attack-old");
    old_matrix["x_mitre_deprecated"] = json!(true);
    let parsed = parse(&[bundle(
        "mobile.json",
        vec![
            old_matrix,
            matrix(
                "x-mitre-matrix--new",
                "mobile-attack",
                &["x-mitre-tactic--a", "x-mitre-tactic--b"],
            ),
            tactic(
                "x-mitre-tactic--a",
                "TA0027",
                "initial-access",
                "mobile-attack",
            ),
            tactic("x-mitre-tactic--b", "TA0041", "execution", "mobile-attack"),
        ],
    )]);
    let initial_access = find(&parsed, RecordKind::Tactic, "mobile-attack", "TA0027");
    assert_eq!(initial_access.details["order"], 0);
    assert_eq!(
        strings(&initial_access.details["matrices"]),
        ["mobile-attack", "mobile-attack-old"]
    );
    let old = find(
        &parsed,
        RecordKind::Matrix,
        "mobile-attack",
        "mobile-attack-old",
    );
    assert_eq!(old.status, RecordStatus::Deprecated);
}

#[test]
fn ics_none_platform_string_means_no_platform() {
    let mut ics = technique("attack-pattern--1", "T0800", "ics-attack", &[]);
    ics["x_mitre_platforms"] = json!(["None"]);
    let mut missing = technique("attack-pattern--2", "T0801", "ics-attack", &[]);
    missing
        .as_object_mut()
        .expect("object")
        .remove("x_mitre_platforms");
    let parsed = parse(&[bundle("ics-attack.json", vec![ics, missing])]);
    for record in &parsed.records {
        assert_eq!(record.details["platforms"], json!([]));
    }
}

#[test]
fn cross_domain_objects_are_emitted_per_present_domain_with_that_domains_links() {
    let objects = vec![
        matrix("x-mitre-matrix--e", "enterprise-attack", &[]),
        matrix("x-mitre-matrix--i", "ics-attack", &[]),
        object(
            "intrusion-set",
            "intrusion-set--1",
            "G0034",
            &["enterprise-attack", "ics-attack", "mobile-attack"],
        ),
        technique("attack-pattern--e", "T1059", "enterprise-attack", &[]),
        technique("attack-pattern--i", "T0853", "ics-attack", &[]),
        relationship(
            "relationship--1",
            "uses",
            "intrusion-set--1",
            "attack-pattern--e",
        ),
        relationship(
            "relationship--2",
            "uses",
            "intrusion-set--1",
            "attack-pattern--i",
        ),
    ];
    let parsed = parse(&[bundle("b.json", objects)]);
    let groups: Vec<(&str, Vec<String>)> = parsed
        .records
        .iter()
        .filter(|record| record.kind == RecordKind::Group)
        .map(|record| (record.scope.as_str(), techniques(record)))
        .collect();
    // Mobile is not in the import, so no mobile record; each record keeps its own domain's techniques.
    assert_eq!(
        groups,
        [
            ("enterprise-attack", vec!["T1059".to_owned()]),
            ("ics-attack", vec!["T0853".to_owned()]),
        ]
    );
    let group = find(&parsed, RecordKind::Group, "ics-attack", "G0034");
    assert_eq!(
        strings(&group.details["domains"]),
        ["enterprise-attack", "mobile-attack", "ics-attack"]
    );
}

#[test]
fn lone_cross_domain_object_is_emitted_in_all_its_domains() {
    let parsed = parse(&[bundle(
        "malware--1.json",
        vec![object(
            "malware",
            "malware--1",
            "S0001",
            &["enterprise-attack", "mobile-attack"],
        )],
    )]);
    assert_eq!(
        keys(&parsed),
        [
            (RecordKind::Software, "enterprise-attack", "S0001"),
            (RecordKind::Software, "mobile-attack", "S0001"),
        ]
    );
}

#[test]
fn one_object_in_two_bundles_is_one_object_with_both_domains() {
    // v18.1: a revoked group is Enterprise-only in the Enterprise bundle and ICS-only in the ICS bundle.
    let mut in_enterprise = object(
        "intrusion-set",
        "intrusion-set--1",
        "G0001",
        &["enterprise-attack"],
    );
    in_enterprise["description"] = json!("older text");
    in_enterprise["modified"] = json!("2023-01-01T00:00:00.000Z");
    let mut in_ics = object(
        "intrusion-set",
        "intrusion-set--1",
        "G0001",
        &["ics-attack"],
    );
    in_ics["description"] = json!("newer text");
    let shared_relationship = relationship(
        "relationship--1",
        "uses",
        "intrusion-set--1",
        "attack-pattern--1",
    );
    let parsed = parse(&[
        bundle(
            "enterprise-attack.json",
            vec![
                matrix("x-mitre-matrix--e", "enterprise-attack", &[]),
                in_enterprise,
                technique("attack-pattern--1", "T1059", "enterprise-attack", &[]),
                shared_relationship.clone(),
            ],
        ),
        bundle(
            "ics-attack.json",
            vec![
                matrix("x-mitre-matrix--i", "ics-attack", &[]),
                in_ics,
                shared_relationship,
            ],
        ),
    ]);
    let enterprise = find(&parsed, RecordKind::Group, "enterprise-attack", "G0001");
    let ics = find(&parsed, RecordKind::Group, "ics-attack", "G0001");
    assert_eq!(enterprise.details["description"], "newer text");
    assert_eq!(ics.details["description"], "newer text");
    assert_eq!(techniques(enterprise), ["T1059"]);
    assert!(ics.techniques.is_empty());
}

#[test]
fn identity_marking_collection_and_unknown_types_make_no_record() {
    let parsed = parse(&[bundle(
        "b.json",
        vec![
            json!({"type": "identity", "id": IDENTITY}),
            json!({"type": "marking-definition", "id": "marking-definition--1"}),
            json!({"type": "x-mitre-collection", "id": "x-mitre-collection--1", "x_mitre_version": "18.1"}),
            json!({"type": "x-mitre-something-new", "id": "x-mitre-something-new--1", "name": "?"}),
            json!({"type": "note", "id": "note--1", "content": 5}),
        ],
    )]);
    assert_eq!(parsed.failures, []);
    assert!(parsed.records.is_empty());
}

#[test]
fn collection_names_the_release() {
    let collection = json!({"type": "x-mitre-collection", "id": "x-mitre-collection--1",
        "name": "Enterprise ATT&CK", "x_mitre_version": "18.1", "x_mitre_contents": []});
    let mut objects = small_domain();
    objects.push(collection);
    let parsed = parse(&[bundle("enterprise-attack.json", objects)]);
    assert_eq!(parsed.upstream_version.as_deref(), Some("18.1"));

    let mixed = parse(&[
        file(
            "a.json",
            &json!({"type": "bundle", "objects": [{"type": "x-mitre-collection", "id": "x-mitre-collection--1",
                "x_mitre_version": "18.1", "x_mitre_domains": ["enterprise-attack"]}]}),
        ),
        file(
            "b.json",
            &json!({"type": "bundle", "objects": [{"type": "x-mitre-collection", "id": "x-mitre-collection--2",
                "x_mitre_version": "17.0", "x_mitre_domains": ["ics-attack"]}]}),
        ),
    ]);
    assert_eq!(
        mixed.upstream_version.as_deref(),
        Some("17.0 (ics-attack); 18.1 (enterprise-attack)")
    );
}

#[test]
fn files_that_are_not_bundles_fail_and_the_others_still_count() {
    let files = [
        SourceFile {
            path: PathBuf::from("broken.json"),
            bytes: b"{\"type\": \"bundle\", \"objects\": [".to_vec(),
        },
        SourceFile {
            path: PathBuf::from("latin1.json"),
            bytes: b"{\"type\": \"bundle\", \"objects\": [], \"x\": \"caf\xe9\"}".to_vec(),
        },
        file("array.json", &json!([1, 2])),
        file(
            "object.json",
            &technique("attack-pattern--1", "T1059", "enterprise-attack", &[]),
        ),
        file("settings.json", &json!({"theme": "dark"})),
        file(
            "weird-objects.json",
            &json!({"type": "bundle", "objects": 5}),
        ),
        bundle("good.json", small_domain()),
    ];
    let parsed = parse(&files);
    let failed: Vec<(&str, &str)> = parsed
        .failures
        .iter()
        .map(|failure| {
            (
                failure.file.as_str(),
                failure.error.split(':').next().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        failed,
        [
            ("broken.json", "not JSON"),
            ("latin1.json", "not UTF-8 text"),
            ("array.json", "not a STIX bundle or TAXII envelope"),
            ("object.json", "not a STIX bundle or TAXII envelope"),
            ("settings.json", "not a STIX bundle or TAXII envelope"),
            ("weird-objects.json", "not a STIX bundle or TAXII envelope"),
        ]
    );
    assert!(parsed.failures[3].error.contains("`attack-pattern` object"));
    assert_eq!(parsed.records.len(), 6);
}

#[test]
fn one_unreadable_object_costs_only_itself() {
    let mut bad = technique("attack-pattern--bad", "T1001", "enterprise-attack", &[]);
    bad["x_mitre_platforms"] = json!(5);
    let mut also_bad = technique("attack-pattern--bad2", "T1002", "enterprise-attack", &[]);
    also_bad["revoked"] = json!("yes");
    let mut objects = small_domain();
    objects.insert(3, bad);
    objects.push(also_bad);
    objects.push(json!(42));
    let parsed = parse(&[bundle("enterprise-attack.json", objects)]);
    assert_eq!(parsed.records.len(), 6);
    assert_eq!(parsed.failures.len(), 1);
    let failure = &parsed.failures[0];
    assert_eq!(failure.file, "enterprise-attack.json");
    assert!(
        failure
            .error
            .starts_with("3 STIX object(s) could not be read and were skipped; the first, object #3 (attack-pattern--bad)"),
        "{}",
        failure.error
    );
}

#[test]
fn byte_order_mark_escapes_and_no_final_newline_are_fine() {
    let mut bytes = "\u{feff}".as_bytes().to_vec();
    bytes.extend_from_slice(
        br#"{"type":"bundle","objects":[{"type":"attack-pattern","id":"attack-pattern--1","name":"Caf\u00e9 \"quoted\"","external_references":[{"source_name":"mitre-attack","external_id":"T1059"}],"x_mitre_domains":["enterprise-attack"],"description":"line\nbreak (Citation: X)"}]}"#,
    );
    let parsed = parse(&[SourceFile {
        path: PathBuf::from("b.json"),
        bytes,
    }]);
    assert_eq!(parsed.failures, []);
    assert_eq!(parsed.records[0].name, "Café \"quoted\"");
    assert_eq!(
        parsed.records[0].details["description"],
        "line\nbreak (Citation: X)"
    );
}

#[test]
fn v18_detection_model_joins_strategies_analytics_and_components() {
    let mut strategy = object(
        "x-mitre-detection-strategy",
        "x-mitre-detection-strategy--1",
        "DET0001",
        &["enterprise-attack"],
    );
    strategy["x_mitre_analytic_refs"] = json!([
        "x-mitre-analytic--2",
        "x-mitre-analytic--1",
        "x-mitre-analytic--missing"
    ]);
    let mut analytic = object(
        "x-mitre-analytic",
        "x-mitre-analytic--1",
        "AN0001",
        &["enterprise-attack"],
    );
    analytic["x_mitre_platforms"] = json!(["Windows"]);
    analytic["x_mitre_log_source_references"] = json!([
        {"x_mitre_data_component_ref": "x-mitre-data-component--1", "name": "WinEventLog:Security", "channel": "EventCode=4688"},
        {"x_mitre_data_component_ref": "x-mitre-data-component--missing", "name": "auditd:SYSCALL", "channel": "execve"},
    ]);
    analytic["x_mitre_mutable_elements"] =
        json!([{"field": "TimeWindow", "description": "Tune to the environment"}]);
    let other_analytic = object(
        "x-mitre-analytic",
        "x-mitre-analytic--2",
        "AN0002",
        &["enterprise-attack"],
    );
    let mut component = object(
        "x-mitre-data-component",
        "x-mitre-data-component--1",
        "DC0032",
        &["enterprise-attack"],
    );
    // v18 leaves the data source reference empty.
    component["x_mitre_data_source_ref"] = json!("");
    component["x_mitre_log_sources"] =
        json!([{"name": "WinEventLog:Security", "channel": "EventCode=4688"}]);
    let parsed = parse(&[bundle(
        "b.json",
        vec![
            technique("attack-pattern--1", "T1059", "enterprise-attack", &[]),
            strategy,
            analytic,
            other_analytic,
            component,
            relationship(
                "relationship--1",
                "detects",
                "x-mitre-detection-strategy--1",
                "attack-pattern--1",
            ),
        ],
    )]);
    let scope = "enterprise-attack";
    let technique = find(&parsed, RecordKind::Technique, scope, "T1059");
    assert_eq!(
        strings(&technique.details["detection_strategies"]),
        ["DET0001"]
    );
    assert_eq!(strings(&technique.details["data_components"]), ["DC0032"]);
    let strategy = find(&parsed, RecordKind::DetectionStrategy, scope, "DET0001");
    assert_eq!(techniques(strategy), ["T1059"]);
    assert_eq!(
        strings(&strategy.details["analytics"]),
        ["AN0002", "AN0001"]
    );
    let analytic = find(&parsed, RecordKind::Analytic, scope, "AN0001");
    assert_eq!(techniques(analytic), ["T1059"]);
    assert_eq!(
        strings(&analytic.details["detection_strategies"]),
        ["DET0001"]
    );
    assert_eq!(strings(&analytic.details["platforms"]), ["Windows"]);
    assert_eq!(
        analytic.details["log_sources"],
        json!([
            {"data_component": "DC0032", "data_component_ref": "x-mitre-data-component--1",
             "name": "WinEventLog:Security", "channel": "EventCode=4688"},
            {"data_component": null, "data_component_ref": "x-mitre-data-component--missing",
             "name": "auditd:SYSCALL", "channel": "execve"},
        ])
    );
    assert_eq!(
        analytic.details["mutable_elements"],
        json!([{"field": "TimeWindow", "description": "Tune to the environment"}])
    );
    let component = find(&parsed, RecordKind::DataComponent, scope, "DC0032");
    assert_eq!(techniques(component), ["T1059"]);
    assert_eq!(component.details["data_source"], Value::Null);
    assert_eq!(strings(&component.details["analytics"]), ["AN0001"]);
    assert_eq!(
        component.details["log_sources"],
        json!([{"name": "WinEventLog:Security", "channel": "EventCode=4688"}])
    );
}

#[test]
fn older_data_components_detect_techniques_directly_and_name_their_source() {
    let mut source = object(
        "x-mitre-data-source",
        "x-mitre-data-source--1",
        "DS0009",
        &["enterprise-attack"],
    );
    source["x_mitre_collection_layers"] = json!(["Host"]);
    source["x_mitre_platforms"] = json!(["Linux", "Windows"]);
    let mut component = object(
        "x-mitre-data-component",
        "x-mitre-data-component--1",
        "DC0032",
        &["enterprise-attack"],
    );
    component["x_mitre_data_source_ref"] = json!("x-mitre-data-source--1");
    let parsed = parse(&[bundle(
        "b.json",
        vec![
            technique("attack-pattern--1", "T1059", "enterprise-attack", &[]),
            source,
            component,
            relationship(
                "relationship--1",
                "detects",
                "x-mitre-data-component--1",
                "attack-pattern--1",
            ),
        ],
    )]);
    let scope = "enterprise-attack";
    let technique = find(&parsed, RecordKind::Technique, scope, "T1059");
    assert_eq!(strings(&technique.details["data_components"]), ["DC0032"]);
    assert_eq!(
        strings(&technique.details["detection_strategies"]),
        Vec::<&str>::new()
    );
    let component = find(&parsed, RecordKind::DataComponent, scope, "DC0032");
    assert_eq!(component.details["data_source"], "DS0009");
    assert_eq!(techniques(component), ["T1059"]);
    let source = find(&parsed, RecordKind::DataSource, scope, "DS0009");
    assert_eq!(strings(&source.details["data_components"]), ["DC0032"]);
    assert_eq!(strings(&source.details["collection_layers"]), ["Host"]);
    assert_eq!(strings(&source.details["platforms"]), ["Linux", "Windows"]);
}

#[test]
fn groups_campaigns_and_software_link_each_other() {
    let mut campaign = object("campaign", "campaign--1", "C0001", &["enterprise-attack"]);
    campaign["aliases"] = json!(["Operation Example"]);
    campaign["first_seen"] = json!("2020-01-01T05:00:00.000Z");
    campaign["last_seen"] = json!("2021-01-01T05:00:00.000Z");
    let mut group = object(
        "intrusion-set",
        "intrusion-set--1",
        "G0001",
        &["enterprise-attack"],
    );
    group["aliases"] = json!(["G0001 name", "Other Name"]);
    let mut malware = object("malware", "malware--1", "S0001", &["enterprise-attack"]);
    malware["x_mitre_aliases"] = json!(["Evil"]);
    malware["x_mitre_platforms"] = json!(["Windows"]);
    let parsed = parse(&[bundle(
        "b.json",
        vec![
            campaign,
            group,
            malware,
            technique("attack-pattern--1", "T1059", "enterprise-attack", &[]),
            technique("attack-pattern--2", "T1105", "enterprise-attack", &[]),
            relationship(
                "relationship--1",
                "attributed-to",
                "campaign--1",
                "intrusion-set--1",
            ),
            relationship("relationship--2", "uses", "campaign--1", "malware--1"),
            relationship(
                "relationship--3",
                "uses",
                "campaign--1",
                "attack-pattern--1",
            ),
            relationship("relationship--4", "uses", "intrusion-set--1", "malware--1"),
            relationship("relationship--5", "uses", "malware--1", "attack-pattern--2"),
        ],
    )]);
    let scope = "enterprise-attack";
    let campaign = find(&parsed, RecordKind::Campaign, scope, "C0001");
    assert_eq!(techniques(campaign), ["T1059"]);
    assert_eq!(strings(&campaign.details["groups"]), ["G0001"]);
    assert_eq!(strings(&campaign.details["software"]), ["S0001"]);
    assert_eq!(strings(&campaign.details["aliases"]), ["Operation Example"]);
    assert_eq!(campaign.details["first_seen"], "2020-01-01T05:00:00.000Z");
    let group = find(&parsed, RecordKind::Group, scope, "G0001");
    assert!(group.techniques.is_empty());
    assert_eq!(strings(&group.details["campaigns"]), ["C0001"]);
    assert_eq!(strings(&group.details["software"]), ["S0001"]);
    assert_eq!(
        strings(&group.details["aliases"]),
        ["G0001 name", "Other Name"]
    );
    let software = find(&parsed, RecordKind::Software, scope, "S0001");
    assert_eq!(techniques(software), ["T1105"]);
    assert_eq!(software.details["software_type"], "malware");
    assert_eq!(strings(&software.details["aliases"]), ["Evil"]);
    assert_eq!(strings(&software.details["platforms"]), ["Windows"]);
    assert_eq!(strings(&software.details["groups"]), ["G0001"]);
    assert_eq!(strings(&software.details["campaigns"]), ["C0001"]);
}

#[test]
fn ics_assets_list_the_techniques_targeting_them() {
    let mut asset = object(
        "x-mitre-asset",
        "x-mitre-asset--1",
        "A0008",
        &["ics-attack"],
    );
    asset["x_mitre_sectors"] = json!(["General"]);
    asset["x_mitre_platforms"] = json!(["Windows"]);
    asset["x_mitre_related_assets"] = json!([{"name": "File Server", "related_asset_sectors": ["General"], "description": "Houses files."}]);
    let parsed = parse(&[bundle(
        "ics-attack.json",
        vec![
            asset,
            technique("attack-pattern--1", "T0807", "ics-attack", &[]),
            relationship(
                "relationship--1",
                "targets",
                "attack-pattern--1",
                "x-mitre-asset--1",
            ),
        ],
    )]);
    let asset = find(&parsed, RecordKind::Asset, "ics-attack", "A0008");
    assert_eq!(techniques(asset), ["T0807"]);
    assert_eq!(strings(&asset.details["sectors"]), ["General"]);
    assert_eq!(
        asset.details["related_assets"],
        json!([{"name": "File Server", "sectors": ["General"], "description": "Houses files."}])
    );
    let technique = find(&parsed, RecordKind::Technique, "ics-attack", "T0807");
    assert_eq!(strings(&technique.details["targets_assets"]), ["A0008"]);
}

fn fixture_bytes() -> Vec<u8> {
    bundle("b.json", small_domain()).bytes
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = parse(&[SourceFile { path: PathBuf::from("fuzz.json"), bytes }]);
    }

    #[test]
    fn mutated_bundles_never_panic(
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut bytes = fixture_bytes();
        for (position, byte) in edits {
            let index = position.index(bytes.len());
            bytes[index] = byte;
        }
        let _ = parse(&[SourceFile { path: PathBuf::from("fuzz.json"), bytes: bytes.clone() }]);
        let mut truncated = bytes;
        truncated.truncate(cut.index(truncated.len() + 1));
        let _ = parse(&[SourceFile { path: PathBuf::from("fuzz.json"), bytes: truncated }]);
    }

    #[test]
    fn objects_of_any_shape_never_panic(
        values in proptest::collection::vec(
            prop_oneof![
                Just(json!(null)), Just(json!(true)), Just(json!(7)), Just(json!("x-mitre-tactic--a")),
                Just(json!([])), Just(json!(["enterprise-attack", "None"])), Just(json!({})),
            ],
            0..40,
        ),
    ) {
        // Put arbitrary values into the fields the parser reads.
        let fields = ["type", "id", "x_mitre_domains", "tactic_refs", "revoked", "source_ref", "target_ref",
            "external_references", "kill_chain_phases", "x_mitre_shortname", "relationship_type"];
        let mut objects = small_domain();
        for (index, value) in values.into_iter().enumerate() {
            let count = objects.len();
            if let Some(object) = objects[index % count].as_object_mut() {
                object.insert(fields[index % fields.len()].to_owned(), value);
            }
        }
        let _ = parse(&[bundle("fuzz.json", objects)]);
    }
}
