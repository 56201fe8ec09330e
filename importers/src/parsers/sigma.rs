//! SigmaHQ detection rules (YAML) → one [`RecordKind::DetectionRule`] record (scope `"sigma"`) per rule.
//!
//! The record id is the rule's `id`, its name the `title`, its techniques the `attack.tNNNN[.NNN]` tags. A rule is
//! [`RecordStatus::Deprecated`] when it says `status: deprecated` or lives under a `deprecated/` folder; the
//! upstream status text (`test`, `unsupported`, …) is kept in the details.
//!
//! Upstream quirks handled here (see the corpus' QUIRKS.md, "Sigma (YAML)"):
//! - **Multi-document files** (legacy `action: global`, only in `unsupported/`): the global document is merged
//!   onto every later document (maps recursively, everything else replaced), each result is one rule; a document
//!   without `id`/`title` inherits the global's. `action: reset` drops the global, `action: repeat` merges onto the
//!   previous rule. When several rules of one file end up with the same id (two log sources sharing the global
//!   id), each record id gets `#<document number>` so record keys stay unique; `rule_id` keeps the upstream id.
//! - **Scalar typing**: the detection is stored as JSON with each scalar's *source text* (`00000429` stays
//!   `"00000429"`, an unquoted `0x1F3FFF` stays `"0x1F3FFF"` rather than becoming 2047999); only numbers written in
//!   canonical form (`EventID: 4624`) stay JSON numbers, and `null`/`~`/empty stay JSON null. To get the source
//!   text, every document is read twice: once into a `serde_yaml_ng::Value` to learn its shape, once guided by that
//!   shape asking the deserializer for each scalar as a string (which yields the text as written).
//! - **Dates**: `YYYY-MM-DD` and legacy `YYYY/MM/DD` are both kept as the text upstream wrote.
//! - **Tags**: tactic tags are spelled with hyphens (`attack.defense_evasion` → `defense-evasion`); technique
//!   tags that do not parse as technique ids are kept as text; software/group/data-source ids (`attack.s0002`) and
//!   other namespaces (`detection.*`, `cve.*`, `car.*`, `stp.*`, …) are kept by namespace.
//! - A document that is not a mapping, or a rule without `id` or `title`, is a [`FileFailure`] naming the file and
//!   the document number; the file's other rules are still imported.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::Path;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json};
use serde_yaml_ng::Value as Yaml;

use crate::record::{
    CatalogRecord, FileFailure, Parsed, RecordKind, RecordStatus, SourceFile, technique_ids,
};

/// The catalog scope of every Sigma record.
pub const SCOPE: &str = "sigma";

/// Folders of a Sigma checkout that hold YAML which is not a rule (test data, CI configuration).
const NON_RULE_FOLDERS: &[&str] = &[
    "tests",
    "test",
    "regression_data",
    ".github",
    "documentation",
    "images",
];

/// Whether a file found by a directory walk belongs to this source: YAML files outside the test-data and CI
/// folders of a Sigma checkout.
pub fn accepts(path: &Path) -> bool {
    let is_yaml = path
        .extension()
        .and_then(|extension| extension.to_str())
        .is_some_and(|extension| {
            extension.eq_ignore_ascii_case("yml") || extension.eq_ignore_ascii_case("yaml")
        });
    is_yaml
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
    // Record keys must be unique across the whole import: the first file to use a rule id keeps it.
    let mut owner_of_id: HashMap<String, String> = HashMap::new();
    let outcomes = super::each_file(files, |file| {
        let path = slash_path(&file.path);
        let outcome = parse_file(&path, &file.bytes);
        (path, outcome)
    });
    for (file, (path, outcome)) in files.iter().zip(outcomes) {
        for error in outcome.errors {
            parsed.failures.push(FileFailure::new(&file.path, error));
        }
        for record in outcome.records {
            if let Some(other_file) = owner_of_id.get(&record.id) {
                parsed.failures.push(FileFailure::new(
                    &file.path,
                    SigmaError::DuplicateId {
                        id: record.id.clone(),
                        other_file: other_file.clone(),
                    },
                ));
                continue;
            }
            owner_of_id.insert(record.id.clone(), path.clone());
            parsed.records.push(record);
        }
    }
    parsed
}

/// Why a Sigma file or one of its documents could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SigmaError {
    #[error("the file is not UTF-8 text")]
    NotUtf8,
    #[error("invalid YAML: {0}")]
    Yaml(String),
    #[error("document {document}: a rule must be a mapping")]
    NotAMapping { document: usize },
    #[error("document {document}: `action: repeat` but no earlier rule to repeat")]
    RepeatWithoutRule { document: usize },
    #[error("document {document}: the rule has no `id`")]
    MissingId { document: usize },
    #[error("document {document}: the rule has no `title`")]
    MissingTitle { document: usize },
    #[error("rule id {id} is already used by {other_file}")]
    DuplicateId { id: String, other_file: String },
}

/// The details of a Sigma rule record.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SigmaRuleDetails {
    /// The upstream `id`; differs from the record id only for multi-document files (see module docs).
    pub rule_id: String,
    /// The 1-based document number within a multi-document file; absent for ordinary one-rule files.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub document: Option<usize>,
    /// Upstream `status` text: `stable`, `test`, `experimental`, `deprecated`, `unsupported`.
    pub status: Option<String>,
    pub level: Option<String>,
    pub description: Option<String>,
    pub author: Option<String>,
    /// As upstream wrote it: `YYYY-MM-DD`, or `YYYY/MM/DD` in legacy rules.
    pub date: Option<String>,
    pub modified: Option<String>,
    pub logsource: Option<LogSource>,
    /// ATT&CK tactic tags, hyphenated and lower case (`defense-evasion`).
    pub tactics: Vec<String>,
    /// Other ATT&CK ids in tags (software `S0002`, groups `G0016`, data sources `DS0005`), upper case.
    pub attack_references: Vec<String>,
    /// `attack.t…` tags that are not technique ids, as written.
    pub unparsed_technique_tags: Vec<String>,
    /// Every non-ATT&CK tag by namespace (`cve` → `2021-1675`); a tag without a dot is under `""`.
    pub tags_by_namespace: BTreeMap<String, Vec<String>>,
    pub related: Vec<RelatedRule>,
    pub falsepositives: Vec<String>,
    pub references: Vec<String>,
    /// The `detection` mapping with scalar source text preserved (see module docs).
    pub detection: Json,
    pub path: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogSource {
    pub product: Option<String>,
    pub category: Option<String>,
    pub service: Option<String>,
    pub definition: Option<String>,
}

/// An entry of `related`: another rule and how this one relates to it (`derived`, `obsolete`, `merged`, …).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RelatedRule {
    pub id: Option<String>,
    #[serde(rename = "type")]
    pub relation: Option<String>,
}

/// What one file produced: its rules and the reasons some of its documents (or the whole file) failed.
#[derive(Debug, Default)]
struct FileOutcome {
    records: Vec<CatalogRecord>,
    errors: Vec<SigmaError>,
}

fn parse_file(path: &str, bytes: &[u8]) -> FileOutcome {
    let mut outcome = FileOutcome::default();
    let documents = match read_documents(bytes) {
        Ok(documents) => documents,
        Err(error) => {
            outcome.errors.push(error);
            return outcome;
        }
    };
    let rules = merge_documents(documents, &mut outcome.errors);
    let is_multi_document = rules.len() > 1 || rules.iter().any(|rule| rule.document > 1);
    let mut rules_per_id: HashMap<String, usize> = HashMap::new();
    for rule in &rules {
        if let Some(id) = text_field(&rule.body, "id") {
            *rules_per_id.entry(id).or_default() += 1;
        }
    }
    for rule in rules {
        match rule_record(path, &rule, is_multi_document, &rules_per_id) {
            Ok(record) => outcome.records.push(record),
            Err(error) => outcome.errors.push(error),
        }
    }
    outcome
}

/// One YAML document of a file, as JSON with scalar source text, and its 1-based number in the file.
#[derive(Debug)]
struct Document {
    number: usize,
    body: Json,
}

/// One rule after `action: global` merging; `document` is the number of the document it came from.
#[derive(Debug)]
struct MergedRule {
    document: usize,
    body: Map<String, Json>,
}

fn read_documents(bytes: &[u8]) -> Result<Vec<Document>, SigmaError> {
    let text = std::str::from_utf8(bytes).map_err(|_| SigmaError::NotUtf8)?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    // First pass: the shape of every document, with YAML's own typing.
    let mut shapes = Vec::new();
    for document in serde_yaml_ng::Deserializer::from_str(text) {
        shapes.push(
            Yaml::deserialize(document).map_err(|error| SigmaError::Yaml(error.to_string()))?,
        );
    }
    // Second pass: the same documents again, guided by their shapes, reading every scalar as its source text.
    let mut documents = Vec::with_capacity(shapes.len());
    for (index, (document, shape)) in serde_yaml_ng::Deserializer::from_str(text)
        .zip(&shapes)
        .enumerate()
    {
        let body = SourceText { shape }
            .deserialize(document)
            .map_err(|error| SigmaError::Yaml(error.to_string()))?;
        documents.push(Document {
            number: index + 1,
            body,
        });
    }
    Ok(documents)
}

/// Applies the legacy collection actions (`global`, `reset`, `repeat`) and drops empty documents (a stray `---`
/// at the end of a file).
fn merge_documents(documents: Vec<Document>, errors: &mut Vec<SigmaError>) -> Vec<MergedRule> {
    let mut global: Option<Map<String, Json>> = None;
    let mut previous: Option<Map<String, Json>> = None;
    let mut rules = Vec::new();
    for document in documents {
        let mut body = match document.body {
            Json::Null => continue,
            Json::Object(body) => body,
            _ => {
                errors.push(SigmaError::NotAMapping {
                    document: document.number,
                });
                continue;
            }
        };
        match text_field(&body, "action").as_deref() {
            Some("global") => {
                body.remove("action");
                global = Some(body);
                continue;
            }
            Some("reset") => {
                global = None;
                continue;
            }
            Some("repeat") => {
                body.remove("action");
                let Some(base) = previous.clone() else {
                    errors.push(SigmaError::RepeatWithoutRule {
                        document: document.number,
                    });
                    continue;
                };
                let merged = deep_merged(base, body);
                previous = Some(merged.clone());
                rules.push(MergedRule {
                    document: document.number,
                    body: merged,
                });
                continue;
            }
            _ => {}
        }
        let merged = match &global {
            Some(global) => deep_merged(global.clone(), body),
            None => body,
        };
        previous = Some(merged.clone());
        rules.push(MergedRule {
            document: document.number,
            body: merged,
        });
    }
    rules
}

/// `overlay` onto `base` the way legacy sigmac merged collection documents: mappings merge key by key, any other
/// value (lists included) replaces.
fn deep_merged(mut base: Map<String, Json>, overlay: Map<String, Json>) -> Map<String, Json> {
    for (key, value) in overlay {
        match (base.remove(&key), value) {
            (Some(Json::Object(base_child)), Json::Object(overlay_child)) => {
                base.insert(key, Json::Object(deep_merged(base_child, overlay_child)));
            }
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
    base
}

fn rule_record(
    path: &str,
    rule: &MergedRule,
    is_multi_document: bool,
    rules_per_id: &HashMap<String, usize>,
) -> Result<CatalogRecord, SigmaError> {
    let body = &rule.body;
    let document = rule.document;
    let rule_id = text_field(body, "id").ok_or(SigmaError::MissingId { document })?;
    let title = text_field(body, "title").ok_or(SigmaError::MissingTitle { document })?;
    let record_id = if rules_per_id.get(&rule_id).copied().unwrap_or(0) > 1 {
        format!("{rule_id}#{document}")
    } else {
        rule_id.clone()
    };
    let upstream_status = text_field(body, "status");
    let in_deprecated_folder = path.split('/').any(|component| component == "deprecated");
    let status = if in_deprecated_folder
        || upstream_status
            .as_deref()
            .is_some_and(|status| status.eq_ignore_ascii_case("deprecated"))
    {
        RecordStatus::Deprecated
    } else {
        RecordStatus::Active
    };
    let tags = SortedTags::from_tags(&text_list(body.get("tags")));
    let details = SigmaRuleDetails {
        rule_id,
        document: is_multi_document.then_some(document),
        status: upstream_status,
        level: text_field(body, "level"),
        description: text_field(body, "description"),
        author: text_field(body, "author"),
        date: text_field(body, "date"),
        modified: text_field(body, "modified"),
        logsource: body
            .get("logsource")
            .and_then(Json::as_object)
            .map(|logsource| LogSource {
                product: text_field(logsource, "product"),
                category: text_field(logsource, "category"),
                service: text_field(logsource, "service"),
                definition: text_field(logsource, "definition"),
            }),
        tactics: tags.tactics,
        attack_references: tags.attack_references,
        unparsed_technique_tags: tags.unparsed_technique_tags,
        tags_by_namespace: tags.by_namespace,
        related: related_rules(body.get("related")),
        falsepositives: text_list(body.get("falsepositives")),
        references: text_list(body.get("references")),
        detection: body.get("detection").cloned().unwrap_or(Json::Null),
        path: path.to_owned(),
    };
    Ok(CatalogRecord {
        kind: RecordKind::DetectionRule,
        scope: SCOPE.to_owned(),
        id: record_id,
        name: title,
        status,
        techniques: technique_ids(tags.techniques.iter().map(String::as_str)),
        details: serde_json::to_value(&details).unwrap_or(Json::Null),
    })
}

/// A rule's tags sorted into what the catalog needs.
#[derive(Debug, Default)]
struct SortedTags {
    /// Candidate technique ids (`T1059.001`), checked by [`technique_ids`].
    techniques: Vec<String>,
    tactics: Vec<String>,
    attack_references: Vec<String>,
    unparsed_technique_tags: Vec<String>,
    by_namespace: BTreeMap<String, Vec<String>>,
}

impl SortedTags {
    fn from_tags(tags: &[String]) -> Self {
        let mut sorted = Self::default();
        for tag in tags {
            let tag = tag.trim();
            let (namespace, value) = tag.split_once('.').unwrap_or(("", tag));
            if !namespace.eq_ignore_ascii_case("attack") {
                sorted
                    .by_namespace
                    .entry(namespace.to_lowercase())
                    .or_default()
                    .push(value.to_owned());
                continue;
            }
            let lower = value.to_lowercase();
            let mut characters = lower.chars();
            let looks_like_technique = characters.next() == Some('t')
                && characters
                    .next()
                    .is_some_and(|second| second.is_ascii_digit());
            if looks_like_technique {
                if domain::test_case::TechniqueId::parse(value).is_ok() {
                    sorted.techniques.push(value.to_owned());
                } else {
                    sorted.unparsed_technique_tags.push(tag.to_owned());
                }
            } else if !lower.is_empty()
                && lower.chars().all(|character| {
                    character.is_ascii_alphabetic() || matches!(character, '-' | '_')
                })
            {
                sorted.tactics.push(lower.replace('_', "-"));
            } else {
                sorted.attack_references.push(value.to_uppercase());
            }
        }
        for list in [
            &mut sorted.tactics,
            &mut sorted.attack_references,
            &mut sorted.unparsed_technique_tags,
        ] {
            list.sort();
            list.dedup();
        }
        sorted
    }
}

fn related_rules(value: Option<&Json>) -> Vec<RelatedRule> {
    let Some(Json::Array(entries)) = value else {
        return Vec::new();
    };
    entries
        .iter()
        .filter_map(Json::as_object)
        .map(|entry| RelatedRule {
            id: text_field(entry, "id"),
            relation: text_field(entry, "type"),
        })
        .collect()
}

/// A scalar field as text (numbers and booleans as written); `None` when absent, null, empty or not a scalar.
fn text_field(map: &Map<String, Json>, key: &str) -> Option<String> {
    map.get(key).and_then(scalar_text)
}

fn scalar_text(value: &Json) -> Option<String> {
    let text = match value {
        Json::String(text) => text.trim().to_owned(),
        Json::Number(number) => number.to_string(),
        Json::Bool(flag) => flag.to_string(),
        Json::Null | Json::Array(_) | Json::Object(_) => return None,
    };
    (!text.is_empty()).then_some(text)
}

/// A list of scalars as text; a lone scalar counts as a one-element list (some rules write `falsepositives:
/// Unknown`).
fn text_list(value: Option<&Json>) -> Vec<String> {
    match value {
        Some(Json::Array(items)) => items.iter().filter_map(scalar_text).collect(),
        Some(scalar) => scalar_text(scalar).into_iter().collect(),
        None => Vec::new(),
    }
}

fn slash_path(path: &Path) -> String {
    path.to_string_lossy().replace('\\', "/")
}

/// Reads one YAML node into JSON guided by `shape` (the same node already read as a [`Yaml`] value), asking the
/// deserializer for every string or number as a string so the text is exactly what upstream wrote.
struct SourceText<'shape> {
    shape: &'shape Yaml,
}

impl<'de> DeserializeSeed<'de> for SourceText<'_> {
    type Value = Json;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Json, D::Error> {
        match self.shape {
            Yaml::Mapping(mapping) => deserializer.deserialize_map(MappingText { mapping }),
            Yaml::Sequence(sequence) => deserializer.deserialize_seq(SequenceText { sequence }),
            Yaml::String(_) | Yaml::Number(_) => {
                let text = deserializer.deserialize_str(ScalarText)?;
                Ok(scalar_json(self.shape, text))
            }
            Yaml::Null => {
                deserializer.deserialize_ignored_any(IgnoredAny)?;
                Ok(Json::Null)
            }
            Yaml::Bool(flag) => {
                deserializer.deserialize_ignored_any(IgnoredAny)?;
                Ok(Json::Bool(*flag))
            }
            // Explicit YAML tags (`!foo bar`) never occur in Sigma; keep serde_yaml_ng's own rendering.
            Yaml::Tagged(_) => {
                deserializer.deserialize_ignored_any(IgnoredAny)?;
                Ok(serde_json::to_value(self.shape).unwrap_or(Json::Null))
            }
        }
    }
}

/// A number stays a JSON number only when the source wrote it canonically (`4624`); anything else (`0x1F3FFF`,
/// `+1`, `1e3`) keeps its text. Leading-zero digit strings are already strings in `shape`.
fn scalar_json(shape: &Yaml, text: String) -> Json {
    if let Yaml::Number(number) = shape
        && number.to_string() == text
        && let Ok(json) = serde_json::to_value(number)
    {
        return json;
    }
    Json::String(text)
}

struct ScalarText;

impl Visitor<'_> for ScalarText {
    type Value = String;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a scalar")
    }

    fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<String, E> {
        Ok(text.to_owned())
    }

    fn visit_string<E: serde::de::Error>(self, text: String) -> Result<String, E> {
        Ok(text)
    }
}

struct MappingText<'shape> {
    mapping: &'shape serde_yaml_ng::Mapping,
}

impl<'de> Visitor<'de> for MappingText<'_> {
    type Value = Json;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a mapping")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Json, A::Error> {
        let mut object = Map::new();
        for (key_shape, value_shape) in self.mapping {
            let Some(key) = access.next_key_seed(SourceText { shape: key_shape })? else {
                break;
            };
            let value = access.next_value_seed(SourceText { shape: value_shape })?;
            object.insert(json_key(key), value);
        }
        // The shape and the second read come from the same text, so nothing should be left; drain defensively.
        while access.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Json::Object(object))
    }
}

fn json_key(key: Json) -> String {
    match key {
        Json::String(text) => text,
        Json::Null => String::new(),
        other => other.to_string(),
    }
}

struct SequenceText<'shape> {
    sequence: &'shape [Yaml],
}

impl<'de> Visitor<'de> for SequenceText<'_> {
    type Value = Json;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a sequence")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut access: A) -> Result<Json, A::Error> {
        let mut items = Vec::with_capacity(self.sequence.len());
        for shape in self.sequence {
            let Some(item) = access.next_element_seed(SourceText { shape })? else {
                break;
            };
            items.push(item);
        }
        while access.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Json::Array(items))
    }
}

#[cfg(test)]
mod tests;
