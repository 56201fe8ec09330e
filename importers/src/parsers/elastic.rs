//! Elastic detection-rules (TOML) → one [`RecordKind::DetectionRule`] record (scope `"elastic"`) per file.
//!
//! The record id is `rule.rule_id`, the name `rule.name`, the techniques every technique and sub-technique id of
//! the `[[rule.threat]]` array. A rule is [`RecordStatus::Deprecated`] when `metadata.maturity = "deprecated"`
//! (every file in `rules/_deprecated`); the deprecation date and reason stay in the details.
//!
//! Upstream quirks handled here (see the corpus' QUIRKS.md, "Elastic detection-rules (TOML)"):
//! - threat mapping as nested arrays of tables (`[[rule.threat.technique.subtechnique]]`), 0–7 entries per rule,
//!   some tactic-only (no technique): tactics are kept with their framework, id and name;
//! - technique ids that do not parse are kept as text in the details (the catalog flags unknown ids later);
//! - loosely typed fields: `metadata.integration` and `rule.machine_learning_job_id` are a string or a list
//!   (both become lists); `index`, `query` and `language` are absent for ML and ES|QL rules;
//! - building blocks: `building_block_type` present (also on 5 deprecated rules) → `building_block: true`;
//! - dates are `YYYY/MM/DD` strings and are kept as written;
//! - literal `'''` queries with backslashes, tabs and non-ASCII text are TOML's business (`toml` 0.9 reads all of
//!   them); the query text is kept verbatim.
//!
//! A file that is not TOML, or lacks `rule.rule_id`/`rule.name`, is a [`FileFailure`]; so is a second file
//! reusing a rule id (record keys must be unique).

use std::collections::HashMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::record::{
    CatalogRecord, FileFailure, Parsed, RecordKind, RecordStatus, SourceFile, technique_ids,
};

/// The catalog scope of every Elastic record.
pub const SCOPE: &str = "elastic";

/// Folders of a detection-rules checkout whose TOML is not a detection rule (hunting queries have their own
/// schema; `detection_rules/etc` holds package configuration).
const NON_RULE_FOLDERS: &[&str] = &[
    "hunting",
    "detection_rules",
    "etc",
    "tests",
    ".github",
    "docs",
    "docs-dev",
];

/// Whether a file found by a directory walk belongs to this source: `.toml` files outside the folders of a
/// detection-rules checkout that hold other TOML, and not `pyproject.toml`.
pub fn accepts(path: &Path) -> bool {
    let is_toml = path
        .extension()
        .and_then(|extension| extension.to_str())
        .is_some_and(|extension| extension.eq_ignore_ascii_case("toml"));
    let is_project_file = path
        .file_name()
        .is_some_and(|name| name.eq_ignore_ascii_case("pyproject.toml"));
    is_toml
        && !is_project_file
        && !path.components().any(|component| {
            component
                .as_os_str()
                .to_str()
                .is_some_and(|name| NON_RULE_FOLDERS.contains(&name))
        })
}

/// Parses every file of one import; a file that cannot be used is reported in [`Parsed::failures`].
pub fn parse(files: &[SourceFile]) -> Parsed {
    let mut parsed = Parsed::default();
    let mut owner_of_id: HashMap<String, String> = HashMap::new();
    for file in files {
        let path = file.path.to_string_lossy().replace('\\', "/");
        let record = match parse_rule(&path, &file.bytes) {
            Ok(record) => record,
            Err(error) => {
                parsed.failures.push(FileFailure::new(&file.path, error));
                continue;
            }
        };
        if let Some(other_file) = owner_of_id.get(&record.id) {
            parsed.failures.push(FileFailure::new(
                &file.path,
                ElasticError::DuplicateId {
                    id: record.id.clone(),
                    other_file: other_file.clone(),
                },
            ));
            continue;
        }
        owner_of_id.insert(record.id.clone(), path);
        parsed.records.push(record);
    }
    parsed
}

/// Why an Elastic rule file could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ElasticError {
    #[error("the file is not UTF-8 text")]
    NotUtf8,
    #[error("not a detection rule: {0}")]
    Toml(String),
    #[error("`rule.{0}` is empty")]
    Empty(&'static str),
    #[error("rule id {id} is already used by {other_file}")]
    DuplicateId { id: String, other_file: String },
}

/// The details of an Elastic rule record.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ElasticRuleDetails {
    /// `eql`, `query`, `esql`, `new_terms`, `machine_learning`, `threshold`, `threat_match`.
    #[serde(rename = "type")]
    pub rule_type: Option<String>,
    pub language: Option<String>,
    pub severity: Option<String>,
    pub risk_score: Option<i64>,
    pub maturity: Option<String>,
    pub building_block: bool,
    pub tactics: Vec<ThreatTactic>,
    /// Technique ids in the threat mapping that are not ATT&CK technique ids, as written.
    pub unparsed_technique_ids: Vec<String>,
    pub integration: Vec<String>,
    pub index: Vec<String>,
    pub query: Option<String>,
    pub machine_learning_job_id: Vec<String>,
    pub tags: Vec<String>,
    pub description: Option<String>,
    pub author: Vec<String>,
    pub references: Vec<String>,
    /// `YYYY/MM/DD` as written.
    pub creation_date: Option<String>,
    pub updated_date: Option<String>,
    pub deprecation_date: Option<String>,
    pub deprecated_reason: Option<String>,
    pub min_stack_version: Option<String>,
    pub version: Option<i64>,
    pub path: String,
}

/// A tactic a rule's threat entry names.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct ThreatTactic {
    pub framework: Option<String>,
    pub id: Option<String>,
    pub name: Option<String>,
}

#[derive(Debug, Deserialize)]
struct RuleFile {
    #[serde(default)]
    metadata: Metadata,
    rule: RuleSection,
}

#[derive(Debug, Default, Deserialize)]
struct Metadata {
    creation_date: Option<String>,
    updated_date: Option<String>,
    deprecation_date: Option<String>,
    deprecated_reason: Option<String>,
    maturity: Option<String>,
    min_stack_version: Option<String>,
    integration: Option<OneOrMany>,
}

/// The `[rule]` table.
#[derive(Debug, Deserialize)]
struct RuleSection {
    rule_id: String,
    name: String,
    #[serde(rename = "type")]
    rule_type: Option<String>,
    language: Option<String>,
    severity: Option<String>,
    risk_score: Option<i64>,
    building_block_type: Option<String>,
    #[serde(default)]
    index: Vec<String>,
    query: Option<String>,
    machine_learning_job_id: Option<OneOrMany>,
    #[serde(default)]
    tags: Vec<String>,
    description: Option<String>,
    #[serde(default)]
    author: Vec<String>,
    #[serde(default)]
    references: Vec<String>,
    version: Option<i64>,
    #[serde(default)]
    threat: Vec<Threat>,
}

/// A field upstream writes either as one string or as a list of strings.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    fn into_list(self) -> Vec<String> {
        match self {
            Self::One(one) => vec![one],
            Self::Many(many) => many,
        }
    }
}

#[derive(Debug, Deserialize)]
struct Threat {
    framework: Option<String>,
    tactic: Option<Named>,
    #[serde(default)]
    technique: Vec<Technique>,
}

#[derive(Debug, Deserialize)]
struct Named {
    id: Option<String>,
    name: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Technique {
    id: Option<String>,
    #[serde(default)]
    subtechnique: Vec<Named>,
}

fn parse_rule(path: &str, bytes: &[u8]) -> Result<CatalogRecord, ElasticError> {
    let text = std::str::from_utf8(bytes).map_err(|_| ElasticError::NotUtf8)?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let RuleFile { metadata, rule } =
        toml::from_str(text).map_err(|error| ElasticError::Toml(toml_error_text(text, &error)))?;
    let rule_id = rule.rule_id.trim().to_owned();
    if rule_id.is_empty() {
        return Err(ElasticError::Empty("rule_id"));
    }
    let name = rule.name.trim().to_owned();
    if name.is_empty() {
        return Err(ElasticError::Empty("name"));
    }

    let mut technique_texts = Vec::new();
    let mut tactics = Vec::new();
    for threat in &rule.threat {
        if let Some(tactic) = &threat.tactic {
            tactics.push(ThreatTactic {
                framework: threat.framework.clone(),
                id: tactic.id.clone(),
                name: tactic.name.clone(),
            });
        }
        for technique in &threat.technique {
            technique_texts.extend(technique.id.clone());
            technique_texts.extend(
                technique
                    .subtechnique
                    .iter()
                    .filter_map(|sub| sub.id.clone()),
            );
        }
    }
    tactics.sort();
    tactics.dedup();
    let techniques = technique_ids(technique_texts.iter().map(String::as_str));
    let mut unparsed_technique_ids: Vec<String> = technique_texts
        .into_iter()
        .filter(|id| domain::test_case::TechniqueId::parse(id).is_err())
        .collect();
    unparsed_technique_ids.sort();
    unparsed_technique_ids.dedup();

    let deprecated = metadata
        .maturity
        .as_deref()
        .is_some_and(|maturity| maturity.trim().eq_ignore_ascii_case("deprecated"));
    let details = ElasticRuleDetails {
        rule_type: rule.rule_type,
        language: rule.language,
        severity: rule.severity,
        risk_score: rule.risk_score,
        maturity: metadata.maturity,
        building_block: rule.building_block_type.is_some(),
        tactics,
        unparsed_technique_ids,
        integration: metadata
            .integration
            .map(OneOrMany::into_list)
            .unwrap_or_default(),
        index: rule.index,
        query: rule.query,
        machine_learning_job_id: rule
            .machine_learning_job_id
            .map(OneOrMany::into_list)
            .unwrap_or_default(),
        tags: rule.tags,
        description: rule.description,
        author: rule.author,
        references: rule.references,
        creation_date: metadata.creation_date,
        updated_date: metadata.updated_date,
        deprecation_date: metadata.deprecation_date,
        deprecated_reason: metadata.deprecated_reason,
        min_stack_version: metadata.min_stack_version,
        version: rule.version,
        path: path.to_owned(),
    };
    Ok(CatalogRecord {
        kind: RecordKind::DetectionRule,
        scope: SCOPE.to_owned(),
        id: rule_id,
        name,
        status: if deprecated {
            RecordStatus::Deprecated
        } else {
            RecordStatus::Active
        },
        techniques,
        details: serde_json::to_value(&details).unwrap_or(serde_json::Value::Null),
    })
}

/// The TOML error's message with the line it points at, on one line (the crate's `Display` quotes the source).
fn toml_error_text(text: &str, error: &toml::de::Error) -> String {
    match error.span() {
        Some(span) => {
            let line = text
                .get(..span.start)
                .map_or(0, |before| before.matches('\n').count())
                + 1;
            format!("{} (line {line})", error.message().trim())
        }
        None => error.message().trim().to_owned(),
    }
}

#[cfg(test)]
mod tests;
