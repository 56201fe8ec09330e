//! CTID Mappings Explorer: the JSON files that map a framework's capabilities (NIST SP 800-53 controls, cloud
//! security features, CVEs, VERIS actions …) to ATT&CK techniques
//! (`mappings/<framework>/attack-<v>/<framework>-<version>/<domain>/*.json`, `{metadata, mapping_objects[]}`).
//!
//! Each framework becomes one [`RecordKind::ComplianceFramework`] record (scope `"ctid"`, id a slug of
//! `mapping_framework` and its version, e.g. `nist_800_53-rev5`, `m365-07.18.2025`: the same slug the upstream
//! folders use, so it stays stable across imports) and each capability one [`RecordKind::ControlMapping`]
//! record (scope: the framework id, id: the capability id), whose `techniques` are the mapped ATT&CK ids.
//! Files of one framework in several ATT&CK domains (VERIS enterprise and ICS, KEV enterprise and mobile) make
//! one framework whose `sources` lists each file, and a capability present in both gets one record.
//!
//! NIST SP 800-53 control ids are normalised to the OSCAL display label (`AC-02` → `AC-2`, `AC-02(01)` →
//! `AC-2(1)`), so the OSCAL parser's `Control` records (scope `nist_800_53-rev5` too) join with these.
//!
//! Upstream quirks handled (see QUIRKS.md "CTID Mappings Explorer (JSON)"):
//! - dates are `MM/DD/YYYY` strings and `mapping_framework_version` may itself be a date: kept as given in the
//!   details, and `/` becomes `.` in the slug; `mapping_version` may be an empty string; author/contact null;
//! - non-mappable rows: `status: "non_mappable"` with a null `capability_id` (NIST: the technique has no
//!   control; listed on the framework as `non_mappable_techniques`) or a null `attack_object_id` (VERIS, CSA
//!   CCM: the capability maps to nothing; counted on the capability as `non_mappable`); their `mapping_type` is
//!   `non_mappable` in some files and null in others, so the `status` decides, never the type;
//! - each framework has its own `mapping_type` vocabulary (mitigates, technique_scores, related_to, …) and
//!   scores only in security-stack files: kept as given, no enum;
//! - rev5 control ids are zero-padded and rev4 ones may carry trailing spaces (`AC-4 `);
//! - rows repeated verbatim (CSA CCM 4.1, Microsoft 365) count once;
//! - capability ids with spaces and punctuation (`A&A-01`, `action.hacking.variety.Abuse of functionality`,
//!   CVE ids) are kept as they are (only surrounding whitespace is trimmed).
//!
//! Values are read from `serde_json::Value` field by field, so an unexpected type in one row costs that field,
//! not the file; only a file that is not JSON, or has no `metadata.mapping_framework` or `mapping_objects`
//! list, fails.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::Serialize;
use serde_json::Value;

use crate::record::{
    CatalogRecord, FileFailure, Parsed, RecordKind, RecordStatus, SourceFile, technique_ids,
};

/// Whether a file found by a directory walk belongs to this source: the mapping files are JSON.
pub fn accepts(path: &Path) -> bool {
    path.extension()
        .and_then(|extension| extension.to_str())
        .is_some_and(|extension| extension.eq_ignore_ascii_case("json"))
}

/// Parses every mapping file of one import; a file that is not a mapping file is reported in
/// [`Parsed::failures`].
pub fn parse(files: &[SourceFile]) -> Parsed {
    let mut frameworks: BTreeMap<String, FrameworkAccumulator> = BTreeMap::new();
    let mut failures = Vec::new();
    for file in files {
        match read_mapping_file(&file.bytes) {
            Ok(mapping_file) => add_file(&mut frameworks, &file.path, &mapping_file),
            Err(error) => failures.push(FileFailure::new(&file.path, error)),
        }
    }
    let mut records = Vec::new();
    for (framework_id, framework) in frameworks {
        records.extend(framework.into_records(&framework_id));
    }
    Parsed {
        records,
        failures,
        upstream_version: None,
    }
}

/// Why a CTID file could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
enum CtidFileError {
    #[error("not JSON: {0}")]
    NotJson(String),
    #[error("not a mapping file: {0}")]
    NotAMappingFile(&'static str),
}

/// The parts of one mapping file the records need.
#[derive(Debug)]
struct MappingFile {
    framework: String,
    framework_version: Option<String>,
    source: SourceDetails,
    capability_groups: BTreeMap<String, String>,
    rows: Vec<Value>,
}

fn read_mapping_file(bytes: &[u8]) -> Result<MappingFile, CtidFileError> {
    let mut document: Value =
        serde_json::from_slice(bytes).map_err(|error| CtidFileError::NotJson(error.to_string()))?;
    let Some(Value::Array(rows)) = document.get_mut("mapping_objects").map(Value::take) else {
        return Err(CtidFileError::NotAMappingFile("no `mapping_objects` list"));
    };
    let metadata = document
        .get("metadata")
        .filter(|metadata| metadata.is_object())
        .ok_or(CtidFileError::NotAMappingFile("no `metadata` object"))?;
    let framework = text(metadata, "mapping_framework").ok_or(CtidFileError::NotAMappingFile(
        "no `metadata.mapping_framework`",
    ))?;
    let capability_groups = metadata
        .get("capability_groups")
        .and_then(Value::as_object)
        .map(|groups| {
            groups
                .iter()
                .filter_map(|(key, name)| Some((key.clone(), scalar_text(name)?)))
                .collect()
        })
        .unwrap_or_default();
    let mapping_types = metadata
        .get("mapping_types")
        .and_then(Value::as_object)
        .map(|types| types.keys().cloned().collect())
        .unwrap_or_default();
    Ok(MappingFile {
        framework,
        framework_version: text(metadata, "mapping_framework_version"),
        source: SourceDetails {
            file: String::new(),
            technology_domain: text(metadata, "technology_domain"),
            attack_version: text(metadata, "attack_version"),
            mapping_version: text(metadata, "mapping_version"),
            creation_date: text(metadata, "creation_date"),
            last_update: text(metadata, "last_update"),
            mapping_types,
            row_count: rows.len(),
        },
        capability_groups,
        rows,
    })
}

/// A string (or number) field, trimmed; absent, null and empty all read as `None`.
fn text(object: &Value, key: &str) -> Option<String> {
    object.get(key).and_then(scalar_text)
}

fn scalar_text(value: &Value) -> Option<String> {
    let text = match value {
        Value::String(text) => text.trim().to_owned(),
        Value::Number(number) => number.to_string(),
        Value::Bool(flag) => flag.to_string(),
        _ => return None,
    };
    (!text.is_empty()).then_some(text)
}

/// `nist_800_53` + `rev5` → `nist_800_53-rev5`; `m365` + `07/18/2025` → `m365-07.18.2025` (as upstream names its
/// folders). Only ASCII letters, digits, `.`, `_` and `-` survive, lower-cased.
pub fn framework_slug(framework: &str, version: Option<&str>) -> String {
    fn clean(part: &str) -> String {
        part.trim()
            .chars()
            .filter_map(|character| match character {
                '/' => Some('.'),
                ' ' => Some('_'),
                character if character.is_ascii_alphanumeric() => {
                    Some(character.to_ascii_lowercase())
                }
                '.' | '_' | '-' => Some(character),
                _ => None,
            })
            .collect()
    }
    match version.map(clean).filter(|version| !version.is_empty()) {
        Some(version) => format!("{}-{version}", clean(framework)),
        None => clean(framework),
    }
}

/// `AC-02` → `AC-2`, `AC-02(01)` → `AC-2(1)`, `ac-2 (1)` → `AC-2(1)`; anything else is returned trimmed.
pub fn nist_control_label(capability_id: &str) -> String {
    let trimmed = capability_id.trim();
    parse_nist_control(trimmed).unwrap_or_else(|| trimmed.to_owned())
}

/// Two letters, `-`, a number, and optionally a parenthesised enhancement number, spaces allowed around it.
fn parse_nist_control(text: &str) -> Option<String> {
    let (family, rest) = text.split_once('-')?;
    if family.len() != 2
        || !family
            .chars()
            .all(|character| character.is_ascii_alphabetic())
    {
        return None;
    }
    let (number, enhancement) = match rest.split_once('(') {
        Some((number, enhancement)) => (
            number.trim_end(),
            Some(enhancement.strip_suffix(')')?.trim()),
        ),
        None => (rest, None),
    };
    let family = family.to_ascii_uppercase();
    let number = plain_number(number)?;
    match enhancement {
        Some(enhancement) => Some(format!("{family}-{number}({})", plain_number(enhancement)?)),
        None => Some(format!("{family}-{number}")),
    }
}

/// ASCII digits without their leading zeros (`02` → `2`, `00` → `0`); `None` for anything else.
fn plain_number(digits: &str) -> Option<&str> {
    if digits.is_empty() || !digits.chars().all(|character| character.is_ascii_digit()) {
        return None;
    }
    let stripped = digits.trim_start_matches('0');
    Some(if stripped.is_empty() { "0" } else { stripped })
}

/// One mapping file as the framework record lists it.
#[derive(Debug, Clone, Serialize)]
struct SourceDetails {
    file: String,
    technology_domain: Option<String>,
    attack_version: Option<String>,
    /// Often the empty string upstream; then absent.
    mapping_version: Option<String>,
    /// `MM/DD/YYYY` as given.
    creation_date: Option<String>,
    last_update: Option<String>,
    mapping_types: Vec<String>,
    row_count: usize,
}

#[derive(Debug, Default)]
struct FrameworkAccumulator {
    framework: String,
    framework_version: Option<String>,
    sources: Vec<SourceDetails>,
    capability_groups: BTreeMap<String, String>,
    /// Techniques upstream marks as mapped to no capability (rows with a null `capability_id`).
    non_mappable_techniques: BTreeSet<String>,
    capabilities: BTreeMap<String, CapabilityAccumulator>,
}

#[derive(Debug, Default)]
struct CapabilityAccumulator {
    description: Option<String>,
    group: Option<String>,
    mappings: Vec<MappingDetails>,
    non_mappable: usize,
}

/// One capability → technique row.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
struct MappingDetails {
    /// `attack_object_id` as given (kept even when it is not an ATT&CK technique id).
    technique: String,
    technique_name: Option<String>,
    technology_domain: Option<String>,
    mapping_type: Option<String>,
    score_category: Option<String>,
    score_value: Option<String>,
    comments: Option<String>,
    /// Links as given, trimmed; rows that repeat one another except for their references stay apart.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    references: Vec<String>,
}

fn add_file(
    frameworks: &mut BTreeMap<String, FrameworkAccumulator>,
    path: &Path,
    mapping_file: &MappingFile,
) {
    let framework_id = framework_slug(
        &mapping_file.framework,
        mapping_file.framework_version.as_deref(),
    );
    let is_nist = mapping_file
        .framework
        .trim()
        .eq_ignore_ascii_case("nist_800_53");
    let framework = frameworks.entry(framework_id).or_default();
    if framework.framework.is_empty() {
        framework.framework.clone_from(&mapping_file.framework);
        framework
            .framework_version
            .clone_from(&mapping_file.framework_version);
    }
    let mut source = mapping_file.source.clone();
    source.file = path.display().to_string();
    framework.sources.push(source);
    for (key, name) in &mapping_file.capability_groups {
        framework
            .capability_groups
            .entry(key.clone())
            .or_insert_with(|| name.clone());
    }
    let domain = mapping_file.source.technology_domain.clone();
    for row in &mapping_file.rows {
        let non_mappable_status = text(row, "status").as_deref() == Some("non_mappable");
        let technique = text(row, "attack_object_id");
        let Some(capability_id) = text(row, "capability_id") else {
            if let Some(technique) = technique {
                framework.non_mappable_techniques.insert(technique);
            }
            continue;
        };
        let capability_id = if is_nist {
            nist_control_label(&capability_id)
        } else {
            capability_id
        };
        let capability = framework.capabilities.entry(capability_id).or_default();
        if capability.description.is_none() {
            capability.description = text(row, "capability_description");
        }
        if capability.group.is_none() {
            capability.group = text(row, "capability_group");
        }
        match technique {
            Some(technique) if !non_mappable_status => {
                capability.mappings.push(MappingDetails {
                    technique,
                    technique_name: text(row, "attack_object_name"),
                    technology_domain: domain.clone(),
                    mapping_type: text(row, "mapping_type"),
                    score_category: text(row, "score_category"),
                    score_value: text(row, "score_value"),
                    comments: text(row, "comments"),
                    references: row
                        .get("references")
                        .and_then(Value::as_array)
                        .map(|references| references.iter().filter_map(scalar_text).collect())
                        .unwrap_or_default(),
                });
            }
            _ => capability.non_mappable += 1,
        }
    }
}

/// What a [`RecordKind::ComplianceFramework`] record from CTID carries in `details`.
#[derive(Debug, Serialize)]
struct FrameworkDetails {
    /// `mapping_framework` as given (`nist_800_53`).
    framework: String,
    /// `mapping_framework_version` as given (`rev5`, `07/18/2025`).
    framework_version: Option<String>,
    /// One entry per mapping file (one per ATT&CK domain), with its versions and dates as given.
    sources: Vec<SourceDetails>,
    /// Capability group key → name.
    capability_groups: BTreeMap<String, String>,
    capability_count: usize,
    /// Techniques upstream marks `non_mappable` (no capability addresses them).
    non_mappable_techniques: Vec<String>,
}

/// What a [`RecordKind::ControlMapping`] record carries in `details`.
#[derive(Debug, Serialize)]
struct ControlMappingDetails {
    framework_id: String,
    group: Option<String>,
    group_name: Option<String>,
    mappings: Vec<MappingDetails>,
    /// Rows of this capability that map to no technique (`status: non_mappable`, mapping type `non_mappable`
    /// or null upstream).
    non_mappable: usize,
}

impl FrameworkAccumulator {
    fn into_records(self, framework_id: &str) -> Vec<CatalogRecord> {
        let mut records = Vec::with_capacity(self.capabilities.len() + 1);
        let name = framework_display_name(&self.framework, self.framework_version.as_deref());
        let details = FrameworkDetails {
            framework: self.framework,
            framework_version: self.framework_version,
            sources: self.sources,
            capability_groups: self.capability_groups.clone(),
            capability_count: self.capabilities.len(),
            non_mappable_techniques: self.non_mappable_techniques.into_iter().collect(),
        };
        records.push(CatalogRecord {
            kind: RecordKind::ComplianceFramework,
            scope: "ctid".to_owned(),
            id: framework_id.to_owned(),
            name,
            status: RecordStatus::Active,
            techniques: Vec::new(),
            details: serde_json::to_value(&details).unwrap_or(Value::Null),
        });
        for (capability_id, mut capability) in self.capabilities {
            capability.mappings.sort();
            capability.mappings.dedup();
            let techniques = technique_ids(
                capability
                    .mappings
                    .iter()
                    .map(|mapping| mapping.technique.as_str()),
            );
            let group_name = capability
                .group
                .as_ref()
                .and_then(|group| self.capability_groups.get(group).cloned());
            let details = ControlMappingDetails {
                framework_id: framework_id.to_owned(),
                group: capability.group,
                group_name,
                mappings: capability.mappings,
                non_mappable: capability.non_mappable,
            };
            records.push(CatalogRecord {
                kind: RecordKind::ControlMapping,
                scope: framework_id.to_owned(),
                name: capability
                    .description
                    .unwrap_or_else(|| capability_id.clone()),
                id: capability_id,
                status: RecordStatus::Active,
                techniques,
                details: serde_json::to_value(&details).unwrap_or(Value::Null),
            });
        }
        records
    }
}

/// `NIST SP 800-53 rev5`, `Microsoft 365 07/18/2025`: the upstream key spelled out for the frameworks
/// Mappings Explorer publishes, the key itself for any other.
fn framework_display_name(framework: &str, version: Option<&str>) -> String {
    let label = match framework.trim() {
        "nist_800_53" => "NIST SP 800-53",
        "aws" => "Amazon Web Services",
        "azure" => "Microsoft Azure",
        "gcp" => "Google Cloud Platform",
        "m365" => "Microsoft 365",
        "kev" => "CISA Known Exploited Vulnerabilities",
        "veris" => "VERIS",
        "csa_ccm" => "CSA Cloud Controls Matrix",
        "cri_profile" => "CRI Profile",
        "intel_vpro" => "Intel vPro",
        "cis" => "CIS Controls",
        other => other,
    };
    match version {
        Some(version) => format!("{label} {version}"),
        None => label.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use proptest::prelude::*;

    use super::*;

    fn file(path: &str, text: &str) -> SourceFile {
        SourceFile {
            path: PathBuf::from(path),
            bytes: text.as_bytes().to_vec(),
        }
    }

    const NIST_REV5: &str = r#"{
      "metadata": {"mapping_version": "", "technology_domain": "enterprise", "attack_version": "16.1",
        "mapping_framework": "nist_800_53", "mapping_framework_version": "rev5", "author": null, "contact": null,
        "creation_date": "01/13/2022", "last_update": "04/16/2025",
        "mapping_types": {"mitigates": {"name": "mitigates", "description": ""}},
        "capability_groups": {"AC": "Access Control"}},
      "mapping_objects": [
        {"capability_id": "AC-02", "capability_description": "Account Management", "mapping_type": "mitigates",
         "attack_object_id": "T1078", "attack_object_name": "Valid Accounts", "capability_group": "AC",
         "status": "complete", "comments": "", "references": []},
        {"capability_id": "AC-02(01)", "capability_description": "Automated Account Management",
         "mapping_type": "mitigates", "attack_object_id": "T1078.001", "capability_group": "AC",
         "status": "complete"},
        {"capability_id": "AC-02", "capability_description": "Account Management", "mapping_type": "mitigates",
         "attack_object_id": "T1098", "capability_group": "AC", "status": "complete"},
        {"capability_id": null, "capability_group": null, "capability_description": null, "mapping_type": null,
         "attack_object_id": "T1496.002", "attack_object_name": "Bandwidth Hijacking",
         "comments": "no mitigations in att&ck", "references": [], "status": "non_mappable"}
      ]}"#;

    fn record<'a>(parsed: &'a Parsed, kind: RecordKind, id: &str) -> &'a CatalogRecord {
        parsed
            .records
            .iter()
            .find(|record| record.kind == kind && record.id == id)
            .unwrap_or_else(|| panic!("no {kind:?} {id}"))
    }

    fn technique_strings(record: &CatalogRecord) -> Vec<String> {
        record.techniques.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn nist_rev5_zero_padded_ids_become_oscal_labels() {
        let parsed = parse(&[file("rev5.json", NIST_REV5)]);
        assert!(parsed.failures.is_empty(), "{:?}", parsed.failures);
        let control = record(&parsed, RecordKind::ControlMapping, "AC-2");
        assert_eq!(control.scope, "nist_800_53-rev5");
        assert_eq!(control.name, "Account Management");
        assert_eq!(technique_strings(control), ["T1078", "T1098"]);
        assert_eq!(control.details["group"], "AC");
        assert_eq!(control.details["group_name"], "Access Control");
        assert_eq!(control.details["mappings"][0]["mapping_type"], "mitigates");
        let enhancement = record(&parsed, RecordKind::ControlMapping, "AC-2(1)");
        assert_eq!(technique_strings(enhancement), ["T1078.001"]);
    }

    #[test]
    fn nist_label_normalisation_covers_padding_spaces_and_case() {
        assert_eq!(nist_control_label("AC-02"), "AC-2");
        assert_eq!(nist_control_label("AC-02(01)"), "AC-2(1)");
        assert_eq!(nist_control_label("ac-2 (10)"), "AC-2(10)");
        assert_eq!(nist_control_label("AC-4 "), "AC-4");
        assert_eq!(nist_control_label("SI-10"), "SI-10");
        assert_eq!(nist_control_label("PM-00"), "PM-0");
        assert_eq!(nist_control_label("not a control"), "not a control");
    }

    #[test]
    fn framework_record_keeps_dates_and_versions_as_given_and_lists_non_mappable_techniques() {
        let parsed = parse(&[file("rev5.json", NIST_REV5)]);
        let framework = record(&parsed, RecordKind::ComplianceFramework, "nist_800_53-rev5");
        assert_eq!(framework.scope, "ctid");
        assert_eq!(framework.name, "NIST SP 800-53 rev5");
        assert_eq!(framework.details["framework"], "nist_800_53");
        assert_eq!(framework.details["framework_version"], "rev5");
        let source = &framework.details["sources"][0];
        assert_eq!(source["creation_date"], "01/13/2022");
        assert_eq!(source["last_update"], "04/16/2025");
        assert_eq!(source["attack_version"], "16.1");
        assert_eq!(source["technology_domain"], "enterprise");
        // The empty mapping_version reads as absent.
        assert!(source["mapping_version"].is_null());
        assert_eq!(source["file"], "rev5.json");
        assert_eq!(
            framework.details["non_mappable_techniques"],
            serde_json::json!(["T1496.002"])
        );
        // A non-mappable row without a capability makes no ControlMapping record.
        assert_eq!(parsed.records.len(), 3);
    }

    #[test]
    fn date_as_framework_version_makes_a_dotted_slug() {
        assert_eq!(
            framework_slug("m365", Some("07/18/2025")),
            "m365-07.18.2025"
        );
        assert_eq!(
            framework_slug("nist_800_53", Some("rev5")),
            "nist_800_53-rev5"
        );
        assert_eq!(framework_slug("csa_ccm", Some("4.1")), "csa_ccm-4.1");
        assert_eq!(framework_slug("veris", None), "veris");
        assert_eq!(framework_slug("veris", Some(" ")), "veris");
    }

    #[test]
    fn null_attack_object_rows_count_as_non_mappable_on_their_capability() {
        let veris = r#"{"metadata": {"mapping_framework": "veris", "mapping_framework_version": "1.4.0",
            "technology_domain": "ics", "author": null},
          "mapping_objects": [
            {"capability_id": "action.hacking.variety.Abuse of functionality", "capability_description": "Abuse.",
             "mapping_type": "related_to", "attack_object_id": "T0800", "status": "complete"},
            {"capability_id": "action.hacking.variety.Abuse of functionality", "mapping_type": null,
             "attack_object_id": null, "status": "non_mappable"},
            {"capability_id": "A&A-01", "mapping_type": "non_mappable", "attack_object_id": null,
             "status": "non_mappable"}
          ]}"#;
        let parsed = parse(&[file("veris.json", veris)]);
        assert!(parsed.failures.is_empty(), "{:?}", parsed.failures);
        let abuse = record(
            &parsed,
            RecordKind::ControlMapping,
            "action.hacking.variety.Abuse of functionality",
        );
        assert_eq!(abuse.scope, "veris-1.4.0");
        assert_eq!(technique_strings(abuse), ["T0800"]);
        assert_eq!(abuse.details["non_mappable"], 1);
        let punctuation = record(&parsed, RecordKind::ControlMapping, "A&A-01");
        assert!(punctuation.techniques.is_empty());
        assert_eq!(punctuation.details["non_mappable"], 1);
        assert_eq!(punctuation.details["mappings"], serde_json::json!([]));
    }

    #[test]
    fn scores_and_framework_specific_mapping_types_are_kept() {
        let m365 = r#"{"metadata": {"mapping_framework": "m365", "mapping_framework_version": "07/18/2025",
            "technology_domain": "enterprise"},
          "mapping_objects": [
            {"capability_id": "EID-CA-E3", "capability_description": "Conditional Access",
             "mapping_type": "technique_score", "attack_object_id": "T1059.009", "score_category": "protect",
             "score_value": "partial", "comments": "Partial coverage.", "status": "complete"}
          ]}"#;
        let parsed = parse(&[file("m365.json", m365)]);
        let capability = record(&parsed, RecordKind::ControlMapping, "EID-CA-E3");
        assert_eq!(capability.scope, "m365-07.18.2025");
        let mapping = &capability.details["mappings"][0];
        assert_eq!(mapping["mapping_type"], "technique_score");
        assert_eq!(mapping["score_category"], "protect");
        assert_eq!(mapping["score_value"], "partial");
        assert_eq!(mapping["comments"], "Partial coverage.");
    }

    #[test]
    fn two_domain_files_of_one_framework_make_one_framework_and_merged_capabilities() {
        let enterprise = r#"{"metadata": {"mapping_framework": "kev", "mapping_framework_version": "07/28/2025",
            "technology_domain": "enterprise"},
          "mapping_objects": [{"capability_id": "CVE-2021-38000", "mapping_type": "exploitation_technique",
            "attack_object_id": "T1190", "status": "complete"}]}"#;
        let mobile = r#"{"metadata": {"mapping_framework": "kev", "mapping_framework_version": "07/28/2025",
            "technology_domain": "mobile"},
          "mapping_objects": [{"capability_id": "CVE-2021-38000", "mapping_type": "exploitation_technique",
            "attack_object_id": "T1660", "status": "complete"}]}"#;
        let parsed = parse(&[file("e.json", enterprise), file("m.json", mobile)]);
        assert_eq!(parsed.records.len(), 2);
        let framework = record(&parsed, RecordKind::ComplianceFramework, "kev-07.28.2025");
        assert_eq!(
            framework.details["sources"].as_array().map(Vec::len),
            Some(2)
        );
        let cve = record(&parsed, RecordKind::ControlMapping, "CVE-2021-38000");
        assert_eq!(technique_strings(cve), ["T1190", "T1660"]);
    }

    #[test]
    fn unknown_technique_ids_are_kept_in_details() {
        let text = r#"{"metadata": {"mapping_framework": "x", "mapping_framework_version": "1"},
          "mapping_objects": [{"capability_id": "C-1", "attack_object_id": "DET0001", "status": "complete"},
                              {"capability_id": "C-1", "attack_object_id": 42, "status": "complete"}]}"#;
        let parsed = parse(&[file("x.json", text)]);
        let capability = record(&parsed, RecordKind::ControlMapping, "C-1");
        assert!(capability.techniques.is_empty());
        assert_eq!(capability.details["mappings"][0]["technique"], "42");
        assert_eq!(capability.details["mappings"][1]["technique"], "DET0001");
    }

    #[test]
    fn a_file_that_is_not_a_mapping_file_fails_alone() {
        let parsed = parse(&[
            file("broken.json", "{\"metadata\": "),
            file("other.json", "{\"layers\": []}"),
            file("rev5.json", NIST_REV5),
        ]);
        let failed: Vec<&str> = parsed
            .failures
            .iter()
            .map(|failure| failure.file.as_str())
            .collect();
        assert_eq!(failed, ["broken.json", "other.json"]);
        assert!(parsed.failures[0].error.starts_with("not JSON"));
        assert_eq!(parsed.records.len(), 3);
    }

    #[test]
    fn only_json_files_are_accepted() {
        assert!(accepts(Path::new("ctid/mappings/kev/x.json")));
        assert!(!accepts(Path::new("ctid/LICENSE.upstream")));
        assert!(!accepts(Path::new("ctid/PROVENANCE.md")));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = parse(&[SourceFile { path: PathBuf::from("x.json"), bytes }]);
        }

        #[test]
        fn mutated_mapping_file_never_panics(position in 0usize..4096, byte in any::<u8>()) {
            let mut bytes = NIST_REV5.as_bytes().to_vec();
            let position = position % bytes.len();
            bytes[position] = byte;
            let _ = parse(&[SourceFile { path: PathBuf::from("x.json"), bytes }]);
        }

        #[test]
        fn any_capability_id_normalises_without_panic(id in ".{0,24}") {
            let _ = nist_control_label(&id);
        }
    }
}
