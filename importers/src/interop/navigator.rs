//! ATT&CK Navigator layers: reading layer files of every format version (1.0 to 4.5) into [`Layer`]s, mapping
//! revoked technique ids to their replacements ([`map_revoked`]), and writing a format 4.5 layer from a
//! [`LayerExport`] the caller fills ([`to_v45`]).
//!
//! A file holds one layer object, or (format 4.5, the Navigator's "download all layers") a JSON array of them.
//!
//! Format quirks handled (see QUIRKS.md "3. ATT&CK Navigator layers"):
//! - two version schemes: up to 3.0 a top-level `"version": "2.2"`, from 4.0 a `"versions"` object whose
//!   `attack` is optional (absent in every DeTT&CT layer) and written `"18"`, `"17.0"` or `"8"`; hybrids write a
//!   4.x number in the old `version` key. A format this module does not know (a newer one, or
//!   mitreattack-python's deliberately bad `"9.0"`) still parses, with a warning: see
//!   [`LayerWarning::UnknownFormatVersion`];
//! - the domain was renamed in 4.0 (`mitre-enterprise` → `enterprise-attack`, `mitre-mobile` → `mobile-attack`)
//!   and hybrids pair a 4.x version with an old name, so the domain is read on its own, never from the version;
//!   nor is anything else inferred from the version (the Navigator's own 3.0 samples hold sub-technique ids);
//! - `tactic` is optional (an entry without one applies to every tactic of its technique) and `techniqueID`
//!   repeats, typically once per tactic: every entry is kept, in file order;
//! - `score` may be absent (update layers only colour techniques); `color` and `comment` default to `""` in the
//!   spec, so an empty one reads as `None`; colours are trimmed because DeTT&CT writes `"#0d47a1 "`;
//! - metadata and link lists may hold `{"divider": true}` separators, which are left out;
//! - producers add keys of their own or misspell them (`hideDisable`, `viewMode`, `filters.stages`, layer-level
//!   `links`): only the keys read here are looked at, everything else is ignored whatever its type;
//! - Python producers write unset fields as `null`, so `null` reads like an absent key.
//!
//! An entry whose `techniqueID` is missing or not an ATT&CK id (`T1234`, `T1234.123`) costs that entry, which is
//! listed in [`Layer::skipped`]. Anything else malformed (not JSON, a wrong type, a missing name or domain, an
//! unknown domain) fails the file with a [`LayerError`] naming the JSON path, e.g.
//! `$[1].techniques[3].score: expected a number, found "high"`.
//!
//! Pure: bytes in, values out; what a layer becomes in Aegis is the caller's decision.

use std::collections::{HashMap, HashSet};
use std::hash::BuildHasher;

use domain::test_case::TechniqueId;
use serde::Serialize;
use serde_json::{Map, Value, json};

/// Every layer format version the specs define (`layers/spec/v1.0` … `v4.5`).
const KNOWN_FORMAT_VERSIONS: &[&str] = &[
    "1.0", "1.1", "1.2", "1.3", "2.0", "2.1", "2.2", "3.0", "4.0", "4.1", "4.2", "4.3", "4.4",
    "4.5",
];
/// The format [`to_v45`] writes.
const WRITTEN_FORMAT_VERSION: &str = "4.5";
/// The Navigator version [`to_v45`] names: format 4.5 requires at least 4.9.0, and its spec example names 5.1.0.
const WRITTEN_NAVIGATOR_VERSION: &str = "5.1.0";

/// An ATT&CK technology domain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Domain {
    Enterprise,
    Mobile,
    Ics,
}

impl Domain {
    /// The name format 4.x uses (`enterprise-attack`, `mobile-attack`, `ics-attack`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Enterprise => "enterprise-attack",
            Self::Mobile => "mobile-attack",
            Self::Ics => "ics-attack",
        }
    }

    /// A domain as any format version names it: the 4.x names and the `mitre-` names of formats up to 3.0.
    pub fn from_name(name: &str) -> Option<Self> {
        match name.trim().to_ascii_lowercase().as_str() {
            "enterprise-attack" | "mitre-enterprise" => Some(Self::Enterprise),
            "mobile-attack" | "mitre-mobile" => Some(Self::Mobile),
            "ics-attack" => Some(Self::Ics),
            _ => None,
        }
    }
}

/// One layer as read from a file.
#[derive(Debug, Clone, PartialEq)]
pub struct Layer {
    pub name: String,
    /// `""` when the file has none (the spec's default).
    pub description: String,
    pub domain: Domain,
    /// The ATT&CK version as written (`"18"`, `"17.0"`); `None` before format 4.0 and in DeTT&CT layers.
    pub attack_version: Option<String>,
    /// The layer format version as written (`"2.2"`, `"4.5"`); `None` when the file names none, which 4.x allows.
    pub format_version: Option<String>,
    /// The technique entries in file order; a technique may appear once per tactic.
    pub techniques: Vec<TechniqueEntry>,
    /// The entries left out because their technique id is missing or malformed.
    pub skipped: Vec<SkippedEntry>,
    pub gradient: Option<Gradient>,
    pub legend_items: Vec<LegendItem>,
    pub metadata: Vec<Metadata>,
    pub warnings: Vec<LayerWarning>,
}

/// One technique annotation of a layer; also what [`to_v45`] writes.
#[derive(Debug, Clone, PartialEq)]
pub struct TechniqueEntry {
    pub technique: TechniqueId,
    /// The tactic's short name (`lateral-movement`), lower-cased; `None` means every tactic of the technique.
    pub tactic: Option<String>,
    /// As written: producers use their own scales (ART counts tests, DeTT&CT counts reports).
    pub score: Option<f64>,
    /// Trimmed; overrides the colour the score would give.
    pub color: Option<String>,
    /// As written, line breaks and all (ART comments are bullet lists starting with `"\n- "`).
    pub comment: Option<String>,
    pub enabled: bool,
    pub metadata: Vec<Metadata>,
    pub links: Vec<Link>,
}

/// A `name`/`value` pair shown in the technique's (or layer's) tooltip.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Metadata {
    pub name: String,
    pub value: String,
}

/// A hyperlink in the technique's context menu.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Link {
    pub label: String,
    pub url: String,
}

/// The colour scale scores are painted with.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Gradient {
    /// Trimmed, from the colour of `min_value` to that of `max_value`.
    pub colors: Vec<String>,
    pub min_value: f64,
    pub max_value: f64,
}

/// One line of the layer's legend.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LegendItem {
    pub label: String,
    /// Trimmed (DeTT&CT writes `"#0d47a1 "`).
    pub color: String,
}

/// A technique entry left out of [`Layer::techniques`], and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedEntry {
    /// Where the entry is: `$.techniques[3]`, or `$[1].techniques[3]` in a multi-layer file.
    pub path: String,
    pub problem: EntryProblem,
}

/// Why a technique entry was left out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EntryProblem {
    #[error("no techniqueID")]
    MissingTechniqueId,
    #[error("{0:?} is not an ATT&CK technique id (T1234 or T1234.123)")]
    InvalidTechniqueId(String),
}

/// Something about a layer that did not stop it being read but that the user should know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LayerWarning {
    /// The format version is not one of 1.0 to 4.5. The layer is still read: every version so far only added
    /// keys around the ones read here, so a newer file most likely reads correctly, and refusing it would lose a
    /// whole coverage file over a label; the warning lets the user check the result.
    #[error("layer format version {0:?} is unknown (known: 1.0 to 4.5); read as if it were 4.5")]
    UnknownFormatVersion(String),
}

/// Why a layer file could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LayerError {
    #[error("not JSON: {0}")]
    NotJson(String),
    #[error("$: an empty list of layers")]
    NoLayers,
    #[error("{path}: expected {expected}, found {found}")]
    WrongType {
        path: String,
        expected: &'static str,
        found: String,
    },
    #[error("{path}: required, but missing or null")]
    Missing { path: String },
    #[error(
        "{path}: unknown domain {found:?} (expected enterprise-attack, mobile-attack, ics-attack, \
         mitre-enterprise or mitre-mobile)"
    )]
    UnknownDomain { path: String, found: String },
}

/// Reads a layer file: one layer object, or an array of layers (format 4.5 "download all layers").
pub fn parse(bytes: &[u8]) -> Result<Vec<Layer>, LayerError> {
    let document: Value =
        serde_json::from_slice(bytes).map_err(|error| LayerError::NotJson(error.to_string()))?;
    let root = Node {
        value: &document,
        path: "$".to_owned(),
    };
    match &document {
        Value::Array(layers) if layers.is_empty() => Err(LayerError::NoLayers),
        Value::Array(_) => root.items()?.iter().map(read_layer).collect(),
        Value::Object(_) => Ok(vec![read_layer(&root)?]),
        _ => Err(root.wrong_type("a layer object or an array of layers")),
    }
}

/// A technique entry that [`map_revoked`] took out of the layer.
#[derive(Debug, Clone, PartialEq)]
pub struct Unmapped {
    pub entry: TechniqueEntry,
    pub reason: UnmappedReason,
}

/// Why [`map_revoked`] could not map an entry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnmappedReason {
    #[error("revoked or deprecated without a replacement")]
    NoReplacement,
    #[error("the replacement {0:?} is not an ATT&CK technique id")]
    InvalidReplacement(String),
}

/// Rewrites the entries whose technique is revoked to its replacement, and takes out (and returns) those that
/// have none. `replacements` maps a technique id as ATT&CK writes it (`T1193`) to the id that revoked it
/// (`Some("T1566.001")`, which should be the current id: chains are not followed) or to `None` when it was
/// revoked or deprecated without a replacement. Ids absent from the map are left alone.
///
/// A rewritten entry keeps its tactic, score and comment. Two entries may end up with the same technique and
/// tactic (a layer that named both the old and the new id); both are kept, as layers repeat ids anyway.
pub fn map_revoked<S: BuildHasher>(
    layer: &mut Layer,
    replacements: &HashMap<String, Option<String>, S>,
) -> Vec<Unmapped> {
    let mut unmapped = Vec::new();
    for mut entry in std::mem::take(&mut layer.techniques) {
        let reason = match replacements.get(entry.technique.as_str()) {
            None => None,
            Some(None) => Some(UnmappedReason::NoReplacement),
            Some(Some(replacement)) => match TechniqueId::parse(replacement) {
                Ok(technique) => {
                    entry.technique = technique;
                    None
                }
                Err(_) => Some(UnmappedReason::InvalidReplacement(replacement.clone())),
            },
        };
        match reason {
            None => layer.techniques.push(entry),
            Some(reason) => unmapped.push(Unmapped { entry, reason }),
        }
    }
    unmapped
}

/// What the caller fills to write a layer with [`to_v45`].
#[derive(Debug, Clone, PartialEq)]
pub struct LayerExport {
    pub name: String,
    pub description: String,
    pub domain: Domain,
    /// Written as `versions.attack`; the Navigator assumes its current ATT&CK version when it is absent.
    pub attack_version: Option<String>,
    pub techniques: Vec<TechniqueEntry>,
    /// The Navigator paints scores red to green over 0–100 when there is none.
    pub gradient: Option<Gradient>,
    pub legend_items: Vec<LegendItem>,
    pub metadata: Vec<Metadata>,
}

/// A format 4.5 layer, ready for `serde_json::to_vec` (or `to_value`); a list of them is a multi-layer file.
///
/// The display settings are the spec's defaults, except that sub-techniques with annotations are shown
/// expanded (Aegis coverage is mostly on sub-techniques, which the Navigator otherwise hides under their
/// parent): `layout.expandedSubtechniques` is `annotated`, and `showSubtechniques` is set on each technique
/// whose sub-techniques have entries.
pub fn to_v45(layer: &LayerExport) -> impl Serialize {
    let annotated_parents: HashSet<TechniqueId> = layer
        .techniques
        .iter()
        .filter_map(|entry| entry.technique.parent())
        .collect();
    LayerV45 {
        name: &layer.name,
        versions: VersionsV45 {
            attack: layer.attack_version.as_deref(),
            navigator: WRITTEN_NAVIGATOR_VERSION,
            layer: WRITTEN_FORMAT_VERSION,
        },
        domain: layer.domain.as_str(),
        description: &layer.description,
        sorting: 0,
        layout: json!({
            "layout": "side",
            "showID": false,
            "showName": true,
            "showAggregateScores": false,
            "countUnscored": false,
            "aggregateFunction": "average",
            "expandedSubtechniques": "annotated",
        }),
        hide_disabled: false,
        techniques: layer
            .techniques
            .iter()
            .map(|entry| TechniqueV45 {
                technique_id: entry.technique.as_str(),
                tactic: entry.tactic.as_deref(),
                score: entry.score,
                color: entry.color.as_deref(),
                comment: entry.comment.as_deref().unwrap_or_default(),
                enabled: entry.enabled,
                metadata: &entry.metadata,
                links: &entry.links,
                show_subtechniques: annotated_parents.contains(&entry.technique),
            })
            .collect(),
        gradient: layer.gradient.as_ref(),
        legend_items: &layer.legend_items,
        metadata: &layer.metadata,
        select_techniques_across_tactics: true,
        select_subtechniques_with_parent: true,
    }
}

/// The written layer; the field order is the spec's, so the file reads like its example.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct LayerV45<'a> {
    name: &'a str,
    versions: VersionsV45<'a>,
    domain: &'static str,
    description: &'a str,
    sorting: u8,
    layout: Value,
    hide_disabled: bool,
    techniques: Vec<TechniqueV45<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    gradient: Option<&'a Gradient>,
    legend_items: &'a [LegendItem],
    metadata: &'a [Metadata],
    select_techniques_across_tactics: bool,
    select_subtechniques_with_parent: bool,
}

#[derive(Serialize)]
struct VersionsV45<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    attack: Option<&'a str>,
    navigator: &'static str,
    layer: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TechniqueV45<'a> {
    #[serde(rename = "techniqueID")]
    technique_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    tactic: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    score: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    color: Option<&'a str>,
    comment: &'a str,
    enabled: bool,
    metadata: &'a [Metadata],
    links: &'a [Link],
    show_subtechniques: bool,
}

fn read_layer(node: &Node<'_>) -> Result<Layer, LayerError> {
    let layer = node.object()?;
    let name = layer.text("name")?;
    let domain_node = layer.required("domain")?;
    let domain_name = domain_node.string()?;
    let domain = Domain::from_name(domain_name).ok_or_else(|| LayerError::UnknownDomain {
        path: domain_node.path.clone(),
        found: domain_name.to_owned(),
    })?;
    let (attack_version, versioned_format) = match layer.get("versions") {
        Some(versions) => {
            let versions = versions.object()?;
            (versions.string("attack")?, versions.string("layer")?)
        }
        None => (None, None),
    };
    // Formats up to 3.0 name themselves in `version`, 4.x in `versions.layer`; hybrids (sysmon-modular) write a
    // 4.x number in `version`.
    let format_version = versioned_format
        .or(layer.string("version")?)
        .and_then(non_empty_trimmed);
    let warnings = format_version
        .iter()
        .filter(|version| !KNOWN_FORMAT_VERSIONS.contains(&version.as_str()))
        .map(|version| LayerWarning::UnknownFormatVersion(version.clone()))
        .collect();
    let mut techniques = Vec::new();
    let mut skipped = Vec::new();
    for entry in layer.items("techniques")? {
        match read_entry(&entry)? {
            Ok(technique) => techniques.push(technique),
            Err(problem) => skipped.push(SkippedEntry {
                path: entry.path,
                problem,
            }),
        }
    }
    let gradient = match layer.get("gradient") {
        Some(gradient) => Some(read_gradient(&gradient.object()?)?),
        None => None,
    };
    let legend_items = layer
        .items("legendItems")?
        .iter()
        .map(|item| {
            let item = item.object()?;
            Ok(LegendItem {
                label: item.text("label")?,
                color: item.text("color")?.trim().to_owned(),
            })
        })
        .collect::<Result<_, LayerError>>()?;
    Ok(Layer {
        name,
        description: layer.string("description")?.unwrap_or_default().to_owned(),
        domain,
        attack_version: attack_version.and_then(non_empty_trimmed),
        format_version,
        techniques,
        skipped,
        gradient,
        legend_items,
        metadata: read_metadata(&layer)?,
        warnings,
    })
}

/// The outer `Result` fails the file (a wrong type); the inner one costs only this entry (a bad technique id).
fn read_entry(node: &Node<'_>) -> Result<Result<TechniqueEntry, EntryProblem>, LayerError> {
    let entry = node.object()?;
    let Some(id) = entry.string("techniqueID")? else {
        return Ok(Err(EntryProblem::MissingTechniqueId));
    };
    let Ok(technique) = TechniqueId::parse(id) else {
        return Ok(Err(EntryProblem::InvalidTechniqueId(id.to_owned())));
    };
    let links = without_dividers(&entry, "links")?
        .iter()
        .map(|link| {
            Ok(Link {
                label: link.text("label")?,
                url: link.text("url")?,
            })
        })
        .collect::<Result<_, LayerError>>()?;
    Ok(Ok(TechniqueEntry {
        technique,
        tactic: entry
            .string("tactic")?
            .and_then(non_empty_trimmed)
            .map(|tactic| tactic.to_lowercase()),
        score: entry.number("score")?,
        color: entry.string("color")?.and_then(non_empty_trimmed),
        comment: entry
            .string("comment")?
            .filter(|comment| !comment.is_empty())
            .map(ToOwned::to_owned),
        enabled: entry.boolean("enabled")?.unwrap_or(true),
        metadata: read_metadata(&entry)?,
        links,
    }))
}

fn read_gradient(gradient: &Object<'_>) -> Result<Gradient, LayerError> {
    Ok(Gradient {
        colors: gradient
            .required("colors")?
            .items()?
            .iter()
            .map(|color| Ok(color.string()?.trim().to_owned()))
            .collect::<Result<_, LayerError>>()?,
        min_value: gradient.required("minValue")?.number()?,
        max_value: gradient.required("maxValue")?.number()?,
    })
}

fn read_metadata(object: &Object<'_>) -> Result<Vec<Metadata>, LayerError> {
    without_dividers(object, "metadata")?
        .iter()
        .map(|item| {
            Ok(Metadata {
                name: item.text("name")?,
                value: item.text("value")?,
            })
        })
        .collect()
}

/// The objects of a metadata or link list, without the `{"divider": true}` separators between them.
fn without_dividers<'a>(object: &Object<'a>, key: &str) -> Result<Vec<Object<'a>>, LayerError> {
    let mut items = Vec::new();
    for item in object.items(key)? {
        let item = item.object()?;
        if item.get("divider").is_none() {
            items.push(item);
        }
    }
    Ok(items)
}

/// `text` trimmed, or `None` when that leaves nothing.
fn non_empty_trimmed(text: &str) -> Option<String> {
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

/// A value in the document with the JSON path that leads to it, so that every error can say where it is.
struct Node<'a> {
    value: &'a Value,
    path: String,
}

impl<'a> Node<'a> {
    fn object(&self) -> Result<Object<'a>, LayerError> {
        match self.value {
            Value::Object(fields) => Ok(Object {
                fields,
                path: self.path.clone(),
            }),
            _ => Err(self.wrong_type("an object")),
        }
    }

    fn items(&self) -> Result<Vec<Node<'a>>, LayerError> {
        match self.value {
            Value::Array(items) => Ok(items
                .iter()
                .enumerate()
                .map(|(index, value)| Node {
                    value,
                    path: format!("{}[{index}]", self.path),
                })
                .collect()),
            _ => Err(self.wrong_type("an array")),
        }
    }

    fn string(&self) -> Result<&'a str, LayerError> {
        self.value
            .as_str()
            .ok_or_else(|| self.wrong_type("a string"))
    }

    fn number(&self) -> Result<f64, LayerError> {
        self.value
            .as_f64()
            .ok_or_else(|| self.wrong_type("a number"))
    }

    fn boolean(&self) -> Result<bool, LayerError> {
        self.value
            .as_bool()
            .ok_or_else(|| self.wrong_type("true or false"))
    }

    fn wrong_type(&self, expected: &'static str) -> LayerError {
        const SHOWN_CHARS: usize = 40;
        let found = match self.value {
            Value::Null => "null".to_owned(),
            Value::Bool(value) => value.to_string(),
            Value::Number(value) => value.to_string(),
            Value::String(text) if text.chars().count() > SHOWN_CHARS => {
                let start: String = text.chars().take(SHOWN_CHARS).collect();
                format!("{start:?}…")
            }
            Value::String(text) => format!("{text:?}"),
            Value::Array(_) => "an array".to_owned(),
            Value::Object(_) => "an object".to_owned(),
        };
        LayerError::WrongType {
            path: self.path.clone(),
            expected,
            found,
        }
    }
}

/// A JSON object of the document and its path. Its optional fields read as `Ok(None)` when absent or `null`.
struct Object<'a> {
    fields: &'a Map<String, Value>,
    path: String,
}

impl<'a> Object<'a> {
    /// The field `key`; `null` counts as absent because Python producers write unset fields as `null`.
    fn get(&self, key: &str) -> Option<Node<'a>> {
        self.fields
            .get(key)
            .filter(|value| !value.is_null())
            .map(|value| Node {
                value,
                path: format!("{}.{key}", self.path),
            })
    }

    fn required(&self, key: &str) -> Result<Node<'a>, LayerError> {
        self.get(key).ok_or_else(|| LayerError::Missing {
            path: format!("{}.{key}", self.path),
        })
    }

    /// A required string field, owned.
    fn text(&self, key: &str) -> Result<String, LayerError> {
        Ok(self.required(key)?.string()?.to_owned())
    }

    fn string(&self, key: &str) -> Result<Option<&'a str>, LayerError> {
        self.get(key).map(|node| node.string()).transpose()
    }

    fn number(&self, key: &str) -> Result<Option<f64>, LayerError> {
        self.get(key).map(|node| node.number()).transpose()
    }

    fn boolean(&self, key: &str) -> Result<Option<bool>, LayerError> {
        self.get(key).map(|node| node.boolean()).transpose()
    }

    /// The elements of an array field; an absent array is an empty one.
    fn items(&self, key: &str) -> Result<Vec<Node<'a>>, LayerError> {
        self.get(key).map_or(Ok(Vec::new()), |node| node.items())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn parse_one(layer: &Value) -> Layer {
        let mut layers = parse(&serde_json::to_vec(layer).expect("serialisable")).expect("parses");
        assert_eq!(layers.len(), 1);
        layers.remove(0)
    }

    fn parse_error(layer: &Value) -> String {
        parse(&serde_json::to_vec(layer).expect("serialisable"))
            .expect_err("does not parse")
            .to_string()
    }

    fn ids(layer: &Layer) -> Vec<&str> {
        layer
            .techniques
            .iter()
            .map(|entry| entry.technique.as_str())
            .collect()
    }

    fn technique(id: &str) -> TechniqueId {
        TechniqueId::parse(id).expect("technique id")
    }

    fn entry(id: &str) -> TechniqueEntry {
        TechniqueEntry {
            technique: technique(id),
            tactic: None,
            score: None,
            color: None,
            comment: None,
            enabled: true,
            metadata: Vec::new(),
            links: Vec::new(),
        }
    }

    #[test]
    fn a_format_2_2_layer_has_a_top_level_version_and_an_old_domain_name() {
        let layer = parse_one(&json!({
            "name": "pins", "version": "2.2", "domain": "mitre-mobile", "viewMode": 0, "hideDisable": false,
            "filters": {"stages": ["act"], "platforms": ["android"]},
            "techniques": [
                {"techniqueID": "T1056", "tactic": "collection", "score": 1},
                {"techniqueID": "T1056", "tactic": "Credential-Access ", "score": 2}
            ]
        }));
        assert_eq!(layer.domain, Domain::Mobile);
        assert_eq!(layer.format_version.as_deref(), Some("2.2"));
        assert_eq!(layer.attack_version, None);
        assert_eq!(layer.description, "");
        assert_eq!(ids(&layer), ["T1056", "T1056"]);
        let tactics: Vec<_> = layer
            .techniques
            .iter()
            .map(|entry| entry.tactic.as_deref())
            .collect();
        assert_eq!(tactics, [Some("collection"), Some("credential-access")]);
        assert!(layer.warnings.is_empty());
    }

    #[test]
    fn a_format_4_layer_names_its_versions_and_attack_is_optional() {
        let with_attack = parse_one(&json!({
            "name": "art", "domain": "ics-attack",
            "versions": {"attack": " 17.0", "navigator": "5.0.0", "layer": "4.5"}
        }));
        assert_eq!(with_attack.domain, Domain::Ics);
        assert_eq!(with_attack.attack_version.as_deref(), Some("17.0"));
        assert_eq!(with_attack.format_version.as_deref(), Some("4.5"));
        let without_attack = parse_one(&json!({
            "name": "dettect", "domain": "enterprise-attack", "versions": {"navigator": "4.5", "layer": "4.3"}
        }));
        assert_eq!(without_attack.attack_version, None);
        assert_eq!(without_attack.format_version.as_deref(), Some("4.3"));
    }

    #[test]
    fn a_hybrid_writes_a_4_x_version_in_the_old_key_with_an_old_domain_name() {
        let layer =
            parse_one(&json!({"name": "sysmon", "version": "4.3", "domain": "mitre-enterprise"}));
        assert_eq!(layer.format_version.as_deref(), Some("4.3"));
        assert_eq!(layer.domain, Domain::Enterprise);
        assert!(layer.warnings.is_empty());
    }

    #[test]
    fn a_layer_without_any_version_is_read_as_4_x_allows() {
        let layer =
            parse_one(&json!({"name": "bare", "domain": "enterprise-attack", "techniques": []}));
        assert_eq!(layer.format_version, None);
        assert!(layer.techniques.is_empty());
        assert!(layer.warnings.is_empty());
    }

    #[test]
    fn an_unknown_format_version_is_read_with_a_warning() {
        let layer = parse_one(&json!({
            "name": "future", "domain": "enterprise-attack",
            "versions": {"attack": "8", "navigator": "4.0", "layer": "9.0"},
            "techniques": [{"techniqueID": "T1003"}]
        }));
        assert_eq!(
            layer.warnings,
            [LayerWarning::UnknownFormatVersion("9.0".to_owned())]
        );
        assert_eq!(ids(&layer), ["T1003"]);
    }

    #[test]
    fn an_empty_technique_list_with_empty_filters_is_an_empty_layer() {
        // ART's ESXi layer.
        let layer = parse_one(&json!({
            "name": "Atomic Red Team (ESXi)", "domain": "enterprise-attack",
            "versions": {"attack": "18", "navigator": "5.3.0", "layer": "4.5"}, "filters": {}, "techniques": []
        }));
        assert!(layer.techniques.is_empty());
        assert!(layer.skipped.is_empty());
    }

    #[test]
    fn entry_fields_are_normalised_and_defaulted() {
        let layer = parse_one(&json!({
            "name": "entries", "domain": "enterprise-attack",
            "techniques": [
                {
                    "techniqueID": "t1003.001", "score": 2.5, "color": "#0d47a1 ", "comment": "\n- one\n- two\n",
                    "enabled": false, "showSubtechniques": true,
                    "metadata": [
                        {"name": "-Groups", "value": "APT1"}, {"divider": true}, {"name": "b", "value": "2"}
                    ],
                    "links": [{"label": "View Atomic", "url": "https://example.org"}, {"divider": true}]
                },
                {"techniqueID": "T1059", "color": "", "comment": "", "score": null, "tactic": null}
            ]
        }));
        let first = &layer.techniques[0];
        assert_eq!(first.technique.as_str(), "T1003.001");
        assert_eq!(first.score, Some(2.5));
        assert_eq!(first.color.as_deref(), Some("#0d47a1"));
        assert_eq!(first.comment.as_deref(), Some("\n- one\n- two\n"));
        assert!(!first.enabled);
        let names: Vec<_> = first
            .metadata
            .iter()
            .map(|item| item.name.as_str())
            .collect();
        assert_eq!(names, ["-Groups", "b"]);
        assert_eq!(
            first.links,
            [Link {
                label: "View Atomic".to_owned(),
                url: "https://example.org".to_owned()
            }]
        );
        assert_eq!(layer.techniques[1], entry("T1059"));
    }

    #[test]
    fn layer_level_gradient_legend_and_metadata_are_kept_and_colours_trimmed() {
        let layer = parse_one(&json!({
            "name": "legend", "domain": "enterprise-attack", "sorting": 3, "links": [{"label": "x", "url": "y"}],
            "layout": {"layout": "flat"}, "selectTechniquesAcrossTactics": true,
            "gradient": {"colors": ["#ffcece", "#ff0000 "], "minValue": 0, "maxValue": 5998},
            "legendItems": [{"label": "Src. of tech. is only software", "color": "#0d47a1 "}],
            "metadata": [{"divider": true}, {"name": "source", "value": "DeTT&CT"}]
        }));
        assert_eq!(
            layer.gradient,
            Some(Gradient {
                colors: vec!["#ffcece".to_owned(), "#ff0000".to_owned()],
                min_value: 0.0,
                max_value: 5998.0
            })
        );
        assert_eq!(layer.legend_items[0].color, "#0d47a1");
        assert_eq!(layer.metadata.len(), 1);
    }

    #[test]
    fn a_missing_or_malformed_technique_id_costs_only_its_entry() {
        let layer = parse_one(&json!({
            "name": "ids", "domain": "enterprise-attack",
            "techniques": [
                {"techniqueID": "T1566.001"}, {"techniqueID": "TA0001"}, {"tactic": "execution"},
                {"techniqueID": "T1059.1"}
            ]
        }));
        assert_eq!(ids(&layer), ["T1566.001"]);
        assert_eq!(
            layer.skipped,
            [
                SkippedEntry {
                    path: "$.techniques[1]".to_owned(),
                    problem: EntryProblem::InvalidTechniqueId("TA0001".to_owned())
                },
                SkippedEntry {
                    path: "$.techniques[2]".to_owned(),
                    problem: EntryProblem::MissingTechniqueId
                },
                SkippedEntry {
                    path: "$.techniques[3]".to_owned(),
                    problem: EntryProblem::InvalidTechniqueId("T1059.1".to_owned())
                },
            ]
        );
    }

    #[test]
    fn a_wrong_type_names_its_json_path() {
        let techniques: Vec<Value> = (0..3)
            .map(|index| json!({"techniqueID": format!("T100{index}")}))
            .chain([json!({"techniqueID": "T1003", "score": "high"})])
            .collect();
        assert_eq!(
            parse_error(&layer_with("techniques", json!(techniques))),
            r#"$.techniques[3].score: expected a number, found "high""#
        );
        let cases = [
            (
                layer_with("techniques", json!({})),
                "$.techniques: expected an array, found an object",
            ),
            (
                layer_with("techniques", json!([{"techniqueID": 1003}])),
                "$.techniques[0].techniqueID: expected a string, found 1003",
            ),
            (
                layer_with(
                    "techniques",
                    json!([{"techniqueID": "T1003", "enabled": "yes"}]),
                ),
                r#"$.techniques[0].enabled: expected true or false, found "yes""#,
            ),
            (
                layer_with(
                    "techniques",
                    json!([{"techniqueID": "T1003", "metadata": [{"name": "a"}]}]),
                ),
                "$.techniques[0].metadata[0].value: required, but missing or null",
            ),
            (
                layer_with("versions", json!("4.5")),
                r#"$.versions: expected an object, found "4.5""#,
            ),
            (
                layer_with(
                    "gradient",
                    json!({"colors": ["#fff", 0], "minValue": 0, "maxValue": 1}),
                ),
                "$.gradient.colors[1]: expected a string, found 0",
            ),
            (
                layer_with("gradient", json!({"colors": []})),
                "$.gradient.minValue: required, but missing or null",
            ),
            (
                layer_with("name", Value::Null),
                "$.name: required, but missing or null",
            ),
            (
                json!({"name": "x"}),
                "$.domain: required, but missing or null",
            ),
            (
                layer_with("domain", json!("pre-attack")),
                concat!(
                    r#"$.domain: unknown domain "pre-attack" (expected enterprise-attack, mobile-attack, "#,
                    "ics-attack, mitre-enterprise or mitre-mobile)"
                ),
            ),
            (
                json!("layer"),
                r#"$: expected a layer object or an array of layers, found "layer""#,
            ),
            (json!([]), "$: an empty list of layers"),
            (json!([42]), "$[0]: expected an object, found 42"),
        ];
        for (layer, message) in cases {
            assert_eq!(parse_error(&layer), message, "{layer}");
        }
    }

    /// A minimal valid layer with `key` set to `value`.
    fn layer_with(key: &str, value: Value) -> Value {
        let mut layer = json!({"name": "x", "domain": "enterprise-attack"});
        layer[key] = value;
        layer
    }

    #[test]
    fn a_long_string_of_the_wrong_type_is_shortened_in_the_message() {
        let layer = layer_with(
            "techniques",
            json!([{"techniqueID": "T1003", "score": "x".repeat(100)}]),
        );
        assert_eq!(
            parse_error(&layer),
            format!(
                "$.techniques[0].score: expected a number, found \"{}\"…",
                "x".repeat(40)
            )
        );
    }

    #[test]
    fn malformed_json_is_not_json() {
        let error = parse(b"{\"name\": \"x\",").expect_err("truncated");
        assert!(
            matches!(&error, LayerError::NotJson(reason) if reason.contains("line 1")),
            "{error}"
        );
    }

    #[test]
    fn an_array_holds_several_layers_and_an_error_names_the_failing_one() {
        let first = json!({
            "name": "one", "domain": "enterprise-attack", "techniques": [{"techniqueID": "T1003"}]
        });
        let second = json!({"name": "two", "domain": "mobile-attack", "techniques": [{"techniqueID": "bad"}]});
        let layers = parse(&serde_json::to_vec(&json!([first, second])).expect("serialisable"))
            .expect("parses");
        let names: Vec<_> = layers.iter().map(|layer| layer.name.as_str()).collect();
        assert_eq!(names, ["one", "two"]);
        assert_eq!(layers[1].skipped[0].path, "$[1].techniques[0]");
        let broken = json!({
            "name": "two", "domain": "mobile-attack", "techniques": [{"techniqueID": "T1003", "score": "high"}]
        });
        assert_eq!(
            parse_error(&json!([first, broken])),
            r#"$[1].techniques[0].score: expected a number, found "high""#
        );
    }

    fn layer_of(entries: Vec<TechniqueEntry>) -> Layer {
        Layer {
            name: "revoked".to_owned(),
            description: String::new(),
            domain: Domain::Enterprise,
            attack_version: None,
            format_version: Some("2.2".to_owned()),
            techniques: entries,
            skipped: Vec::new(),
            gradient: None,
            legend_items: Vec::new(),
            metadata: Vec::new(),
            warnings: Vec::new(),
        }
    }

    #[test]
    fn map_revoked_rewrites_replaced_ids_and_returns_the_rest() {
        let mut spearphishing = entry("T1193");
        spearphishing.tactic = Some("initial-access".to_owned());
        spearphishing.score = Some(7.0);
        let mut layer = layer_of(vec![
            spearphishing,
            entry("T1064"),
            entry("T1059"),
            entry("T1108"),
        ]);
        let replacements = HashMap::from([
            ("T1193".to_owned(), Some("T1566.001".to_owned())),
            ("T1064".to_owned(), None),
            ("T1108".to_owned(), Some("not an id".to_owned())),
        ]);
        let unmapped = map_revoked(&mut layer, &replacements);
        assert_eq!(ids(&layer), ["T1566.001", "T1059"]);
        assert_eq!(
            layer.techniques[0].tactic.as_deref(),
            Some("initial-access")
        );
        assert_eq!(layer.techniques[0].score, Some(7.0));
        assert_eq!(
            unmapped,
            [
                Unmapped {
                    entry: entry("T1064"),
                    reason: UnmappedReason::NoReplacement
                },
                Unmapped {
                    entry: entry("T1108"),
                    reason: UnmappedReason::InvalidReplacement("not an id".to_owned())
                },
            ]
        );
    }

    #[test]
    fn map_revoked_with_no_matching_ids_changes_nothing() {
        let mut layer = layer_of(vec![entry("T1003"), entry("T1003")]);
        let before = layer.clone();
        let replacements = HashMap::from([("T1193".to_owned(), None)]);
        assert!(map_revoked(&mut layer, &replacements).is_empty());
        assert_eq!(layer, before);
    }

    fn export() -> LayerExport {
        let mut sub_technique = entry("T1003.001");
        sub_technique.score = Some(75.5);
        sub_technique.comment = Some("\n- LSASS dump".to_owned());
        sub_technique.metadata = vec![Metadata {
            name: "campaign".to_owned(),
            value: "Q3".to_owned(),
        }];
        let mut parent = entry("T1003");
        parent.score = Some(0.0);
        parent.color = Some("#ff6666".to_owned());
        let mut per_tactic = entry("T1078");
        per_tactic.tactic = Some("persistence".to_owned());
        per_tactic.enabled = false;
        LayerExport {
            name: "Aegis coverage".to_owned(),
            description: "exported".to_owned(),
            domain: Domain::Enterprise,
            attack_version: Some("18".to_owned()),
            techniques: vec![parent, sub_technique, per_tactic.clone(), per_tactic],
            gradient: Some(Gradient {
                colors: vec!["#ff6666".to_owned(), "#8ec843".to_owned()],
                min_value: 0.0,
                max_value: 100.0,
            }),
            legend_items: vec![LegendItem {
                label: "covered".to_owned(),
                color: "#8ec843".to_owned(),
            }],
            metadata: vec![Metadata {
                name: "generated by".to_owned(),
                value: "Aegis".to_owned(),
            }],
        }
    }

    #[test]
    fn to_v45_writes_the_spec_fields() {
        let written = serde_json::to_value(to_v45(&export())).expect("serialisable");
        assert_eq!(
            written["versions"],
            json!({"attack": "18", "navigator": "5.1.0", "layer": "4.5"})
        );
        assert_eq!(written["domain"], "enterprise-attack");
        assert_eq!(written["hideDisabled"], false);
        assert_eq!(written["layout"]["showID"], false);
        assert_eq!(written["layout"]["expandedSubtechniques"], "annotated");
        assert_eq!(
            written["gradient"],
            json!({"colors": ["#ff6666", "#8ec843"], "minValue": 0.0, "maxValue": 100.0})
        );
        assert_eq!(
            written["techniques"][0],
            json!({
                "techniqueID": "T1003", "score": 0.0, "color": "#ff6666", "comment": "", "enabled": true,
                "metadata": [], "links": [], "showSubtechniques": true
            })
        );
        assert_eq!(written["techniques"][1]["showSubtechniques"], false);
        assert_eq!(written["techniques"][2]["tactic"], "persistence");
        assert!(written["techniques"][2].get("score").is_none());
        for key in [
            "name",
            "description",
            "sorting",
            "legendItems",
            "metadata",
            "selectTechniquesAcrossTactics",
            "selectSubtechniquesWithParent",
        ] {
            assert!(written.get(key).is_some(), "{key}");
        }
    }

    #[test]
    fn to_v45_leaves_out_an_unknown_attack_version_and_gradient() {
        let mut layer = export();
        layer.attack_version = None;
        layer.gradient = None;
        let written = serde_json::to_value(to_v45(&layer)).expect("serialisable");
        assert_eq!(
            written["versions"],
            json!({"navigator": "5.1.0", "layer": "4.5"})
        );
        assert!(written.get("gradient").is_none());
    }

    #[test]
    fn what_to_v45_writes_parses_back_the_same() {
        let exported = export();
        let bytes = serde_json::to_vec(&to_v45(&exported)).expect("serialisable");
        let layer = parse_one(&serde_json::from_slice(&bytes).expect("JSON"));
        assert_eq!(layer.name, exported.name);
        assert_eq!(layer.description, exported.description);
        assert_eq!(layer.domain, exported.domain);
        assert_eq!(layer.attack_version, exported.attack_version);
        assert_eq!(layer.format_version.as_deref(), Some("4.5"));
        assert_eq!(layer.techniques, exported.techniques);
        assert_eq!(layer.gradient, exported.gradient);
        assert_eq!(layer.legend_items, exported.legend_items);
        assert_eq!(layer.metadata, exported.metadata);
        assert!(layer.skipped.is_empty() && layer.warnings.is_empty());
    }

    #[test]
    fn a_list_of_written_layers_is_a_multi_layer_file() {
        let mut mobile = export();
        mobile.domain = Domain::Mobile;
        let layers = [export(), mobile];
        let written: Vec<_> = layers.iter().map(to_v45).collect();
        let bytes = serde_json::to_vec(&written).expect("serialisable");
        let domains: Vec<_> = parse(&bytes)
            .expect("parses")
            .iter()
            .map(|layer| layer.domain)
            .collect();
        assert_eq!(domains, [Domain::Enterprise, Domain::Mobile]);
    }
}
