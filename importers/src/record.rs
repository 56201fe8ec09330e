//! The one shape every parser produces, and what a parse of a set of files returns.
//!
//! Every upstream object — an ATT&CK technique, an atomic test, a Sigma rule, a NIST control — becomes a
//! [`CatalogRecord`]: a key (`kind`, `scope`, `id`), a display name, a lifecycle status, the ATT&CK techniques it
//! refers to, and the source-specific details as JSON (each parser serialises its own typed struct there). The
//! catalog writer stores records without knowing any source, so adding a source never touches the tables, and the
//! questions every read model asks ("what refers to T1059.001?") are answered by one indexed column.

use std::path::PathBuf;

use domain::test_case::TechniqueId;
use serde::Serialize;

/// What kind of thing a record is. The key of a record is (`kind`, `scope`, `id`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordKind {
    // ATT&CK (scope: the domain, "enterprise-attack", "mobile-attack" or "ics-attack", because groups,
    // software and mitigations appear in several domains with different relationships).
    Technique,
    Tactic,
    Matrix,
    Group,
    Campaign,
    Software,
    Mitigation,
    DataSource,
    DataComponent,
    DetectionStrategy,
    Analytic,
    Asset,
    // D3FEND (scope "d3fend"): a defensive technique; `techniques` are the ATT&CK techniques it counters.
    DefensiveTechnique,
    // Procedures a test case can start from (scope: "atomic", "caldera", "lolbas" or "gtfobins").
    Template,
    // Detection content (scope: "sigma" or "elastic").
    DetectionRule,
    // Telemetry configurations (scope "sysmon"); `techniques` are the techniques the configuration collects
    // events for (named under an include filter).
    TelemetryConfig,
    // Compliance (scope of a framework: "" ; of a control or mapping: its framework id).
    ComplianceFramework,
    Control,
    ControlMapping,
}

impl RecordKind {
    /// The name stored in the catalog tables and shown to users.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Technique => "technique",
            Self::Tactic => "tactic",
            Self::Matrix => "matrix",
            Self::Group => "group",
            Self::Campaign => "campaign",
            Self::Software => "software",
            Self::Mitigation => "mitigation",
            Self::DataSource => "data_source",
            Self::DataComponent => "data_component",
            Self::DetectionStrategy => "detection_strategy",
            Self::Analytic => "analytic",
            Self::Asset => "asset",
            Self::DefensiveTechnique => "defensive_technique",
            Self::Template => "template",
            Self::DetectionRule => "detection_rule",
            Self::TelemetryConfig => "telemetry_config",
            Self::ComplianceFramework => "compliance_framework",
            Self::Control => "control",
            Self::ControlMapping => "control_mapping",
        }
    }
}

/// Where an upstream object is in its life cycle. Upstream keeps revoked and deprecated objects (with their old
/// ids), and so does the catalog: a test case or a rule may still name them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum RecordStatus {
    Active,
    /// No longer maintained upstream (ATT&CK `x_mitre_deprecated`, Sigma `status: deprecated`, Elastic
    /// `maturity = "deprecated"`, a withdrawn NIST control).
    Deprecated,
    /// Replaced upstream; `replaced_by` is the id of the replacement when upstream names it (ATT&CK `revoked-by`).
    Revoked {
        replaced_by: Option<String>,
    },
}

/// One upstream object as the catalog stores it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CatalogRecord {
    pub kind: RecordKind,
    /// Keeps ids apart where upstream reuses them (see [`RecordKind`]); never empty except for frameworks.
    pub scope: String,
    /// The upstream id, unique within (`kind`, `scope`): `T1059.001`, `TA0002`, an atomic test's GUID, a Sigma
    /// rule's id, `AC-2(1)`.
    pub id: String,
    pub name: String,
    pub status: RecordStatus,
    /// The ATT&CK techniques this record refers to, sorted and without repeats: a technique lists itself, a
    /// group the techniques it uses, a rule its technique tags, a control its mapped techniques.
    pub techniques: Vec<TechniqueId>,
    /// The source-specific fields, as the parser's own typed struct serialises them.
    pub details: serde_json::Value,
}

/// One input file, read by the caller: parsers never touch the file system.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// The path as the user gave it or as the directory walk found it; used in error reports and, where
    /// upstream encodes meaning in names (GTFOBins entries, Sysmon module folders), by the parser.
    pub path: PathBuf,
    pub bytes: Vec<u8>,
}

/// A file that could not be used, with the reason. The rest of the import goes on without it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileFailure {
    pub file: String,
    pub error: String,
}

impl FileFailure {
    pub fn new(path: &std::path::Path, error: impl std::fmt::Display) -> Self {
        Self {
            file: path.display().to_string(),
            error: error.to_string(),
        }
    }
}

/// What a parser made of a set of files.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Parsed {
    pub records: Vec<CatalogRecord>,
    pub failures: Vec<FileFailure>,
    /// The upstream release when the content says so (ATT&CK `x_mitre_version` of the collection, D3FEND's
    /// ontology version, a NIST catalog's `metadata.version`).
    pub upstream_version: Option<String>,
}

/// Sorts and de-duplicates technique ids, keeping only the ones that parse; upstream text is full of ids with
/// stray case and spacing. Parsers that must report ids which do not parse keep them in their details.
pub fn technique_ids<'a>(candidates: impl IntoIterator<Item = &'a str>) -> Vec<TechniqueId> {
    let mut ids: Vec<TechniqueId> = candidates
        .into_iter()
        .filter_map(|candidate| TechniqueId::parse(candidate).ok())
        .collect();
    ids.sort();
    ids.dedup();
    ids
}
