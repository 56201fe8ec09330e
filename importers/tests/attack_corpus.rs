//! The ATT&CK parser on the corpus: `mitre-attack/` holds the v18.1 Enterprise bundle and the ICS bundle,
//! imported together as one directory. Expected numbers are computed here from the same bytes with
//! `serde_json::Value`, independently of the parser's typed reading and graph.

mod support;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::OnceLock;

use importers::parsers::attack;
use importers::record::{CatalogRecord, Parsed, RecordKind, RecordStatus};
use serde_json::Value;

const ENTERPRISE: &str = "enterprise-attack";
const ICS: &str = "ics-attack";
const MOBILE: &str = "mobile-attack";

struct Corpus {
    parsed: Parsed,
    /// Every STIX object by id, with `x_mitre_domains` united over the two bundles.
    objects: HashMap<String, Value>,
}

fn corpus() -> &'static Corpus {
    static CORPUS: OnceLock<Corpus> = OnceLock::new();
    CORPUS.get_or_init(|| {
        let files = support::source_files("mitre-attack", attack::accepts);
        let names: Vec<String> = files
            .iter()
            .map(|file| file.path.display().to_string())
            .collect();
        assert_eq!(
            names,
            [
                "mitre-attack/enterprise-attack.json",
                "mitre-attack/ics-attack.json"
            ]
        );
        let mut objects: HashMap<String, Value> = HashMap::new();
        for file in &files {
            let bundle: Value = serde_json::from_slice(&file.bytes).expect("corpus bundle is JSON");
            for object in bundle["objects"]
                .as_array()
                .expect("objects")
                .iter()
                .cloned()
            {
                let id = object["id"].as_str().expect("id").to_owned();
                match objects.get_mut(&id) {
                    Some(existing) => {
                        let mut domains = domains_of(existing);
                        domains.extend(domains_of(&object));
                        existing["x_mitre_domains"] =
                            Value::from(domains.into_iter().collect::<Vec<_>>());
                    }
                    None => {
                        objects.insert(id, object);
                    }
                }
            }
        }
        Corpus {
            parsed: attack::parse(&files),
            objects,
        }
    })
}

fn domains_of(object: &Value) -> BTreeSet<String> {
    object["x_mitre_domains"]
        .as_array()
        .map(|domains| {
            domains
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

fn external_id(object: &Value) -> &str {
    object["external_references"]
        .as_array()
        .and_then(|references| {
            references.iter().find(|reference| {
                reference["source_name"]
                    .as_str()
                    .is_some_and(|name| name.starts_with("mitre"))
                    && reference["external_id"].is_string()
            })
        })
        .and_then(|reference| reference["external_id"].as_str())
        .expect("every corpus object but relationships, identity and marking has an ATT&CK id")
}

fn record_kind(stix_type: &str) -> Option<RecordKind> {
    Some(match stix_type {
        "attack-pattern" => RecordKind::Technique,
        "x-mitre-tactic" => RecordKind::Tactic,
        "x-mitre-matrix" => RecordKind::Matrix,
        "intrusion-set" => RecordKind::Group,
        "campaign" => RecordKind::Campaign,
        "malware" | "tool" => RecordKind::Software,
        "course-of-action" => RecordKind::Mitigation,
        "x-mitre-data-source" => RecordKind::DataSource,
        "x-mitre-data-component" => RecordKind::DataComponent,
        "x-mitre-detection-strategy" => RecordKind::DetectionStrategy,
        "x-mitre-analytic" => RecordKind::Analytic,
        "x-mitre-asset" => RecordKind::Asset,
        _ => return None,
    })
}

fn record<'c>(kind: RecordKind, scope: &str, id: &str) -> &'c CatalogRecord {
    corpus()
        .parsed
        .records
        .iter()
        .find(|record| record.kind == kind && record.scope == scope && record.id == id)
        .unwrap_or_else(|| panic!("no {kind:?} {scope} {id}"))
}

fn strings(value: &Value) -> Vec<&str> {
    value
        .as_array()
        .map(|values| values.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

fn technique_strings(record: &CatalogRecord) -> Vec<String> {
    record.techniques.iter().map(ToString::to_string).collect()
}

#[test]
fn no_failures_and_no_release_version_in_cti_bundles() {
    let parsed = &corpus().parsed;
    assert_eq!(parsed.failures, []);
    // MITRE's cti bundles carry no x-mitre-collection, so nothing names the release.
    assert!(
        !corpus()
            .objects
            .values()
            .any(|object| object["type"] == "x-mitre-collection")
    );
    assert_eq!(parsed.upstream_version, None);
}

#[test]
fn one_record_per_object_and_present_domain() {
    let mut expected: BTreeMap<(RecordKind, String), usize> = BTreeMap::new();
    for object in corpus().objects.values() {
        let Some(kind) = record_kind(object["type"].as_str().expect("type")) else {
            continue;
        };
        // Mobile is not in this import: objects shared with mobile are emitted for their other domains only.
        let domains: Vec<String> = domains_of(object)
            .into_iter()
            .filter(|domain| domain != MOBILE)
            .collect();
        assert!(!domains.is_empty(), "no corpus object is mobile-only");
        for domain in domains {
            *expected.entry((kind, domain)).or_default() += 1;
        }
    }
    let mut actual: BTreeMap<(RecordKind, String), usize> = BTreeMap::new();
    for record in &corpus().parsed.records {
        *actual
            .entry((record.kind, record.scope.clone()))
            .or_default() += 1;
    }
    assert_eq!(actual, expected);
    // The PROVENANCE counts for Enterprise, and ICS's own bundle.
    assert_eq!(
        expected[&(RecordKind::Technique, ENTERPRISE.to_owned())],
        835
    );
    assert_eq!(expected[&(RecordKind::Tactic, ENTERPRISE.to_owned())], 14);
    assert_eq!(expected[&(RecordKind::Group, ENTERPRISE.to_owned())], 187);
    assert_eq!(
        expected[&(RecordKind::Software, ENTERPRISE.to_owned())],
        696 + 91
    );
    assert_eq!(
        expected[&(RecordKind::DetectionStrategy, ENTERPRISE.to_owned())],
        691
    );
    assert_eq!(
        expected[&(RecordKind::Analytic, ENTERPRISE.to_owned())],
        1739
    );
    assert_eq!(expected[&(RecordKind::Technique, ICS.to_owned())], 95);
    assert_eq!(expected[&(RecordKind::Asset, ICS.to_owned())], 18);
    // One campaign is only in the Enterprise bundle but lists ICS too.
    assert_eq!(expected[&(RecordKind::Campaign, ICS.to_owned())], 9);
}

#[test]
fn revoked_and_deprecated_match_the_flags() {
    let mut expected: BTreeMap<(RecordKind, String, &str), usize> = BTreeMap::new();
    for object in corpus().objects.values() {
        let Some(kind) = record_kind(object["type"].as_str().expect("type")) else {
            continue;
        };
        let status = if object["revoked"] == Value::Bool(true) {
            "revoked"
        } else if object["x_mitre_deprecated"] == Value::Bool(true) {
            "deprecated"
        } else {
            continue;
        };
        for domain in domains_of(object)
            .into_iter()
            .filter(|domain| domain != MOBILE)
        {
            *expected.entry((kind, domain, status)).or_default() += 1;
        }
    }
    let mut actual: BTreeMap<(RecordKind, String, &str), usize> = BTreeMap::new();
    for record in &corpus().parsed.records {
        let status = match record.status {
            RecordStatus::Active => continue,
            RecordStatus::Deprecated => "deprecated",
            RecordStatus::Revoked { .. } => "revoked",
        };
        *actual
            .entry((record.kind, record.scope.clone(), status))
            .or_default() += 1;
    }
    assert_eq!(actual, expected);
    // QUIRKS.md's numbers for Enterprise.
    let enterprise = |kind, status| expected[&(kind, ENTERPRISE.to_owned(), status)];
    assert_eq!(enterprise(RecordKind::Technique, "revoked"), 132);
    assert_eq!(enterprise(RecordKind::Technique, "deprecated"), 12);
    assert_eq!(enterprise(RecordKind::Mitigation, "deprecated"), 224);
    assert_eq!(enterprise(RecordKind::DataSource, "deprecated"), 38);
    assert_eq!(enterprise(RecordKind::DataComponent, "deprecated"), 3);
    assert_eq!(enterprise(RecordKind::Group, "deprecated"), 9);
    // 4 Enterprise-only revoked groups, plus the one both bundles share (Enterprise in one, ICS in the other).
    assert_eq!(enterprise(RecordKind::Group, "revoked"), 6);
    assert_eq!(enterprise(RecordKind::Software, "revoked"), 2);
}

#[test]
fn revoked_records_name_their_replacement() {
    let revoked = record(RecordKind::Technique, ENTERPRISE, "T1066");
    assert_eq!(
        revoked.status,
        RecordStatus::Revoked {
            replaced_by: Some("T1027.005".to_owned())
        }
    );
    // Every revoked-by relationship shows as the replacement of its source, by ATT&CK id.
    let objects = &corpus().objects;
    let mut checked = 0;
    for relationship in objects.values() {
        if relationship["relationship_type"] != "revoked-by" {
            continue;
        }
        let source = &objects[relationship["source_ref"].as_str().expect("source")];
        let target = &objects[relationship["target_ref"].as_str().expect("target")];
        let kind = record_kind(source["type"].as_str().expect("type")).expect("a kept kind");
        for domain in domains_of(source)
            .into_iter()
            .filter(|domain| domain != MOBILE)
        {
            let record = record(kind, &domain, external_id(source));
            assert_eq!(
                record.status,
                RecordStatus::Revoked {
                    replaced_by: Some(external_id(target).to_owned())
                }
            );
            checked += 1;
        }
    }
    assert_eq!(checked, 142);
}

#[test]
fn enterprise_tactics_in_matrix_order() {
    let matrix = record(RecordKind::Matrix, ENTERPRISE, "enterprise-attack");
    let expected = [
        "TA0043", "TA0042", "TA0001", "TA0002", "TA0003", "TA0004", "TA0005", "TA0006", "TA0007",
        "TA0008", "TA0009", "TA0011", "TA0010", "TA0040",
    ];
    assert_eq!(strings(&matrix.details["tactics"]), expected);
    assert_eq!(matrix.name, "Enterprise ATT&CK");
    assert_eq!(matrix.status, RecordStatus::Active);
    for (position, tactic_id) in expected.iter().enumerate() {
        let tactic = record(RecordKind::Tactic, ENTERPRISE, tactic_id);
        assert_eq!(tactic.details["order"], position);
        assert_eq!(strings(&tactic.details["matrices"]), ["enterprise-attack"]);
    }
    let execution = record(RecordKind::Tactic, ENTERPRISE, "TA0002");
    assert_eq!(execution.name, "Execution");
    assert_eq!(execution.details["shortname"], "execution");
    assert!(
        execution
            .techniques
            .iter()
            .any(|technique| technique.to_string() == "T1059.001")
    );

    let ics = record(RecordKind::Matrix, ICS, "ics-attack");
    assert_eq!(strings(&ics.details["tactics"]).len(), 12);
}

#[test]
fn technique_fields() {
    let powershell = record(RecordKind::Technique, ENTERPRISE, "T1059.001");
    assert_eq!(powershell.name, "PowerShell");
    assert_eq!(powershell.status, RecordStatus::Active);
    assert_eq!(technique_strings(powershell), ["T1059.001"]);
    let details = &powershell.details;
    assert_eq!(details["parent"], "T1059");
    assert_eq!(details["is_subtechnique"], true);
    assert_eq!(strings(&details["tactics"]), ["execution"]);
    assert_eq!(strings(&details["tactic_ids"]), ["TA0002"]);
    assert_eq!(strings(&details["platforms"]), ["Windows"]);
    assert_eq!(
        details["url"],
        "https://attack.mitre.org/techniques/T1059/001"
    );
    assert_eq!(strings(&details["domains"]), [ENTERPRISE]);
    assert!(strings(&details["mitigations"]).contains(&"M1042"));
    assert!(!strings(&details["detection_strategies"]).is_empty());
    assert!(!strings(&details["data_components"]).is_empty());

    let dumping = record(RecordKind::Technique, ENTERPRISE, "T1003.001");
    assert_eq!(dumping.details["parent"], "T1003");
    let parent = record(RecordKind::Technique, ENTERPRISE, "T1003");
    assert_eq!(parent.details["is_subtechnique"], false);
    assert_eq!(parent.details["parent"], Value::Null);
    assert!(strings(&parent.details["sub_techniques"]).contains(&"T1003.001"));

    // Four tactics, listed upstream out of matrix order.
    let valid_accounts = record(RecordKind::Technique, ENTERPRISE, "T1078");
    assert_eq!(
        strings(&valid_accounts.details["tactics"]),
        [
            "initial-access",
            "persistence",
            "privilege-escalation",
            "defense-evasion"
        ]
    );
    assert_eq!(
        strings(&valid_accounts.details["tactic_ids"]),
        ["TA0001", "TA0003", "TA0004", "TA0005"]
    );
}

#[test]
fn sub_technique_parents_follow_relationships() {
    let objects = &corpus().objects;
    let mut sub_techniques = 0;
    for object in objects.values() {
        if object["type"] == "attack-pattern" && object["x_mitre_is_subtechnique"] == true {
            sub_techniques += 1;
        }
    }
    assert_eq!(sub_techniques, 479);
    let mut linked = BTreeSet::new();
    for relationship in objects.values() {
        if relationship["relationship_type"] != "subtechnique-of" {
            continue;
        }
        let child = external_id(&objects[relationship["source_ref"].as_str().expect("source")]);
        let parent = external_id(&objects[relationship["target_ref"].as_str().expect("target")]);
        assert_eq!(
            record(RecordKind::Technique, ENTERPRISE, child).details["parent"],
            parent
        );
        linked.insert(child);
    }
    assert_eq!(linked.len(), 477);
    // The two revoked sub-techniques without a relationship get the id before the dot.
    for (child, parent) in [("T1053.001", "T1053"), ("T1547.011", "T1547")] {
        assert!(!linked.contains(child));
        let record = record(RecordKind::Technique, ENTERPRISE, child);
        assert!(matches!(record.status, RecordStatus::Revoked { .. }));
        assert_eq!(record.details["parent"], parent);
    }
    let flagged = corpus()
        .parsed
        .records
        .iter()
        .filter(|record| {
            record.kind == RecordKind::Technique && record.details["is_subtechnique"] == true
        })
        .count();
    assert_eq!(flagged, sub_techniques);
}

#[test]
fn ics_none_platform_means_no_platform() {
    let mut expected_empty = 0;
    let mut with_none_string = 0;
    for object in corpus().objects.values() {
        if object["type"] != "attack-pattern" || !domains_of(object).contains(ICS) {
            continue;
        }
        let platforms = strings(&object["x_mitre_platforms"]);
        if platforms == ["None"] {
            with_none_string += 1;
        }
        if platforms.iter().all(|platform| *platform == "None") {
            expected_empty += 1;
        }
    }
    assert_eq!(with_none_string, 82);
    let records: Vec<&CatalogRecord> = corpus()
        .parsed
        .records
        .iter()
        .filter(|record| record.kind == RecordKind::Technique && record.scope == ICS)
        .collect();
    let empty = records
        .iter()
        .filter(|record| strings(&record.details["platforms"]).is_empty())
        .count();
    assert_eq!(empty, expected_empty);
    assert!(
        records
            .iter()
            .all(|record| !strings(&record.details["platforms"]).contains(&"None"))
    );
}

#[test]
fn groups_shared_by_domains_keep_each_domains_techniques() {
    for record in corpus()
        .parsed
        .records
        .iter()
        .filter(|record| record.kind == RecordKind::Group)
    {
        let prefix_ok = |technique: &String| {
            // Enterprise technique ids are T1xxx; ICS's are T08xx.
            if record.scope == ICS {
                technique.starts_with("T08")
            } else {
                technique.starts_with("T1")
            }
        };
        assert!(
            technique_strings(record).iter().all(prefix_ok),
            "{} {}",
            record.scope,
            record.id
        );
    }
    let apt28 = record(RecordKind::Group, ENTERPRISE, "G0007");
    assert_eq!(apt28.name, "APT28");
    assert!(technique_strings(apt28).contains(&"T1003.001".to_owned()));
    assert!(strings(&apt28.details["aliases"]).contains(&"Fancy Bear"));
    assert!(strings(&apt28.details["software"]).contains(&"S0002"));
}

#[test]
fn group_software_and_campaign_techniques_are_their_uses_relationships() {
    let objects = &corpus().objects;
    let mut expected: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
    for relationship in objects.values() {
        if relationship["relationship_type"] != "uses" {
            continue;
        }
        let source = &objects[relationship["source_ref"].as_str().expect("source")];
        let target = &objects[relationship["target_ref"].as_str().expect("target")];
        if target["type"] != "attack-pattern" {
            continue;
        }
        for domain in domains_of(target).intersection(&domains_of(source)) {
            if domain == MOBILE {
                continue;
            }
            expected
                .entry((domain.clone(), external_id(source).to_owned()))
                .or_default()
                .insert(external_id(target).to_owned());
        }
    }
    let mut actual: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
    for record in &corpus().parsed.records {
        if matches!(
            record.kind,
            RecordKind::Group | RecordKind::Campaign | RecordKind::Software
        ) && !record.techniques.is_empty()
        {
            actual.insert(
                (record.scope.clone(), record.id.clone()),
                technique_strings(record).into_iter().collect(),
            );
        }
    }
    assert_eq!(actual, expected);
}

#[test]
fn mitigations_keep_legacy_technique_style_ids() {
    let mitigations: Vec<&CatalogRecord> = corpus()
        .parsed
        .records
        .iter()
        .filter(|record| record.kind == RecordKind::Mitigation && record.scope == ENTERPRISE)
        .collect();
    assert_eq!(mitigations.len(), 268);
    let legacy: Vec<&&CatalogRecord> = mitigations
        .iter()
        .filter(|record| record.id.starts_with('T'))
        .collect();
    assert_eq!(legacy.len(), 224);
    assert!(
        legacy
            .iter()
            .all(|record| record.status == RecordStatus::Deprecated)
    );
    let training = record(RecordKind::Mitigation, ENTERPRISE, "M1017");
    assert_eq!(training.name, "User Training");
    assert!(technique_strings(training).contains(&"T1566.001".to_owned()));
}

#[test]
fn detection_model_is_joined() {
    let objects = &corpus().objects;
    let mut detects = 0;
    for relationship in objects.values() {
        if relationship["relationship_type"] != "detects" {
            continue;
        }
        detects += 1;
        let source = &objects[relationship["source_ref"].as_str().expect("source")];
        let target = &objects[relationship["target_ref"].as_str().expect("target")];
        let domain = domains_of(source).into_iter().next().expect("a domain");
        let strategy = record(RecordKind::DetectionStrategy, &domain, external_id(source));
        assert!(technique_strings(strategy).contains(&external_id(target).to_owned()));
        let technique = record(RecordKind::Technique, &domain, external_id(target));
        assert!(strings(&technique.details["detection_strategies"]).contains(&external_id(source)));
        let analytics = strings(&source["x_mitre_analytic_refs"]);
        let analytic_ids: Vec<&str> = analytics
            .iter()
            .map(|id| external_id(&objects[*id]))
            .collect();
        assert_eq!(strings(&strategy.details["analytics"]), analytic_ids);
    }
    assert_eq!(detects, 691 + 83);

    // Every log source reference resolves to its data component's id.
    let mut references = 0;
    for object in objects.values() {
        if object["type"] != "x-mitre-analytic" {
            continue;
        }
        let domain = domains_of(object).into_iter().next().expect("a domain");
        let analytic = record(RecordKind::Analytic, &domain, external_id(object));
        let expected: Vec<&str> = object["x_mitre_log_source_references"]
            .as_array()
            .map(|references| {
                references
                    .iter()
                    .map(|reference| {
                        external_id(
                            &objects[reference["x_mitre_data_component_ref"]
                                .as_str()
                                .expect("ref")],
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        let actual: Vec<&str> = analytic.details["log_sources"]
            .as_array()
            .expect("log_sources")
            .iter()
            .map(|source| source["data_component"].as_str().expect("resolved"))
            .collect();
        assert_eq!(actual, expected);
        references += actual.len();
    }
    assert!(references > 1700);
}

#[test]
fn ics_assets_list_the_techniques_targeting_them() {
    let objects = &corpus().objects;
    let mut expected: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for relationship in objects.values() {
        if relationship["relationship_type"] == "targets" {
            let source = &objects[relationship["source_ref"].as_str().expect("source")];
            let target = &objects[relationship["target_ref"].as_str().expect("target")];
            expected
                .entry(external_id(target).to_owned())
                .or_default()
                .insert(external_id(source).to_owned());
        }
    }
    assert_eq!(expected.values().map(BTreeSet::len).sum::<usize>(), 685);
    for (asset, techniques) in &expected {
        let record = record(RecordKind::Asset, ICS, asset);
        assert_eq!(
            technique_strings(record)
                .into_iter()
                .collect::<BTreeSet<_>>(),
            *techniques
        );
    }
}
