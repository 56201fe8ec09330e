//! VECTR's CSV export (`DEMO_PURPLE_CE.csv` in vectr-tools): one row per test case, with the red team's
//! execution (command, targets, times) and the blue team's result (outcome, alert, detecting tools) side by
//! side. [`parse`] turns the file into typed [`VectrRecord`]s; a row that cannot be used is reported in
//! [`VectrExport::skipped`] with its row number and reason, and the other rows go on.
//!
//! Quirks survived (QUIRKS.md, "4. VECTR interop"):
//! - a UTF-8 BOM, CRLF line ends and quoted multi-line cells (`Objective`, `Command`): handled by the `csv`
//!   crate, so a row is a record, not a line, and skipped rows are numbered by record as a spreadsheet shows
//!   them;
//! - the misspelled `Liklihood` column (the correct spelling is accepted too);
//! - `Outcome Path` (`Blocked.Blocked_Alerted_No`), which newer exports may carry instead of `Outcome`: its
//!   first segment stands for an empty or absent `Outcome`;
//! - an empty `MitreID` (85 rows of the sample): the row is kept without a technique, and the caller falls back
//!   to `Method`, VECTR's name for the technique, as VECTR's own importer does;
//! - enumerations in CamelCase (`NotDetected`), which upstream's importer upper-cases: matched without regard to
//!   case, spaces or underscores; `TBD` means "not judged yet" and becomes `None`;
//! - multi-value cells comma-joined in one field (`DoDonpachi,Progear`): split and trimmed;
//! - times given twice, ISO and epoch milliseconds: ISO wins, the epoch is the fallback, and a row whose two
//!   values disagree is skipped rather than guessed (they agree on every row of the sample).
//!
//! The CSV machinery ([`CsvError`], [`RowError`], [`SkippedRow`] and the row reader) is shared with the Atomic
//! Red Team execution log CSV in [`super::execution_log`].

use chrono::{DateTime, TimeDelta, Utc};
use domain::test_case::{Outcome, Severity, TechniqueId, TestCaseError};
use serde::Deserialize;
use serde::de::DeserializeOwned;

/// A whole VECTR export: the rows that could be used, and why the others could not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VectrExport {
    pub records: Vec<VectrRecord>,
    pub skipped: Vec<SkippedRow>,
}

/// One VECTR test case. Text cells are trimmed and `None` when empty; list cells are split on commas.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VectrRecord {
    /// `AssessmentGroup`: the assessment the campaign belongs to (`Enterprise Purple – 2017 Q1`).
    pub assessment_group: String,
    pub campaign: String,
    /// The kill-chain phase (`Delivery`, `Exploitation`).
    pub phase: Option<String>,
    /// The test case's own name (`1 - Macro - Cobalt Strike Standard`); VECTR's importer uses it as the name.
    pub variant: String,
    /// `MitreID`, validated and upper-cased; `None` when empty, and then `method` names the technique.
    pub technique: Option<TechniqueId>,
    pub capec_id: Option<String>,
    /// VECTR's name for the technique (`Phishing Payload`, `NAC bypass`), the fallback for an empty `MitreID`.
    pub method: Option<String>,
    pub status: VectrStatus,
    pub outcome: VectrOutcome,
    /// The finer outcome (`Blocked.Blocked_Alerted_No`), when the export has it.
    pub outcome_path: Option<String>,
    /// `None` for `TBD`.
    pub alert_severity: Option<Severity>,
    /// `None` for `TBD`.
    pub alert_triggered: Option<bool>,
    /// `None` for `TBD`.
    pub activity_logged: Option<bool>,
    pub outcome_notes: Option<String>,
    pub detection_recommendations: Option<String>,
    pub source_ips: Vec<String>,
    pub target_assets: Vec<String>,
    pub expected_detection_layers: Vec<String>,
    pub detecting_tools: Vec<String>,
    pub start_time: Option<DateTime<Utc>>,
    pub stop_time: Option<DateTime<Utc>>,
    pub detection_time: Option<DateTime<Utc>>,
    /// Every organization named; VECTR's importer keeps only the first.
    pub organizations: Vec<String>,
    pub tags: Vec<String>,
    /// What the test is meant to show; may span lines.
    pub objective: Option<String>,
    /// What red ran or how; often spans lines.
    pub command: Option<String>,
    pub references: Vec<String>,
    pub attacker_tools: Vec<String>,
    /// `Liklihood` in the export.
    pub likelihood: Option<String>,
    pub risk: Option<String>,
    pub internal_external: Option<String>,
    pub stealth: Option<String>,
    pub attack_vector: Option<String>,
    pub attack_complexity: Option<String>,
    pub privileges_required: Option<String>,
}

/// VECTR's legacy single outcome of a test case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VectrOutcome {
    /// Not judged yet.
    Tbd,
    NotDetected,
    Detected,
    Blocked,
}

/// Where a test case is in VECTR's workflow (the GraphQL `TestCaseStatus`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VectrStatus {
    NotPerformed,
    InProgress,
    Paused,
    Completed,
    Abandoned,
}

impl VectrRecord {
    /// The test case's result in Aegis' terms, `None` while VECTR's outcome is `TBD`.
    ///
    /// VECTR judges a test case once, with two flags beside the outcome; Aegis asks what each tool did. So:
    /// - `Blocked` is `Blocked`, whatever the flags say: stopping the procedure is the strongest result.
    /// - `Detected` is `Alerted` when `Alert Triggered` is `Yes`, or when it is `TBD` but an alert severity
    ///   was recorded (a severity is the severity of an alert; the sample leaves the flag `TBD` on 164 of its
    ///   174 detections, each with a severity). Otherwise, with the flag `No` or nothing to show an alert, the
    ///   detection was in the logs only: `Logged`.
    /// - `NotDetected` with `Activity Logged` `Yes` is `Logged`: nobody was alerted, but the telemetry was
    ///   recorded, which is exactly what Aegis' `Logged` means (and why VECTR tracks the flag). Otherwise it is
    ///   `NotDetected`.
    ///
    /// A row that maps to `NotDetected` may still carry a severity (four do in the sample); Aegis accepts a
    /// severity only with a detection, so the caller drops it there.
    pub fn domain_outcome(&self) -> Option<Outcome> {
        match self.outcome {
            VectrOutcome::Tbd => None,
            VectrOutcome::Blocked => Some(Outcome::Blocked),
            VectrOutcome::Detected => {
                let alerted = match self.alert_triggered {
                    Some(triggered) => triggered,
                    None => self.alert_severity.is_some(),
                };
                Some(if alerted {
                    Outcome::Alerted
                } else {
                    Outcome::Logged
                })
            }
            VectrOutcome::NotDetected if self.activity_logged == Some(true) => {
                Some(Outcome::Logged)
            }
            VectrOutcome::NotDetected => Some(Outcome::NotDetected),
        }
    }
}

/// Why a whole CSV file cannot be read (a VECTR export, or an Atomic Red Team execution log).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CsvError {
    #[error("not UTF-8 text (line {line}); export the file as UTF-8")]
    NotUtf8 { line: usize },
    /// Each entry names a required column, or the alternatives that may stand for it (`Outcome or Outcome Path`).
    #[error("missing required columns: {}", .0.join(", "))]
    MissingColumns(Vec<String>),
    #[error("unreadable CSV: {0}")]
    Unreadable(String),
}

/// A row left out of a CSV import, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedRow {
    /// The row as a spreadsheet numbers it: the header is row 1, the first record row 2. Not a line number:
    /// a multi-line cell is one row.
    pub row: u64,
    pub reason: RowError,
}

/// Why one CSV row was skipped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RowError {
    #[error("{field} is empty")]
    Empty { field: &'static str },
    #[error("{field} {value:?} is not {expected}")]
    Invalid {
        field: &'static str,
        value: String,
        expected: &'static str,
    },
    #[error("MitreID and Method are both empty, so nothing names the technique")]
    NoTechnique,
    #[error("{field} {iso:?} and its epoch {epoch:?} are different times")]
    TimesDisagree {
        field: &'static str,
        iso: String,
        epoch: String,
    },
    #[error("the row has {found} cells where the header has {expected}")]
    CellCount { expected: u64, found: u64 },
    #[error("unreadable row: {0}")]
    Unreadable(String),
}

/// Parses a VECTR CSV export. A file that is not UTF-8 or lacks a required column is an error; a row that cannot
/// be used is skipped with its reason.
///
/// Required columns: `AssessmentGroup`, `Campaign`, `Variant`, `Status`, `Outcome` (or `Outcome Path`), and
/// `MitreID` or `Method`: without them no row could make a test case. Every other column may be absent.
pub fn parse(bytes: &[u8]) -> Result<VectrExport, CsvError> {
    let (records, skipped) = read_rows(bytes, REQUIRED_COLUMNS, record)?;
    Ok(VectrExport { records, skipped })
}

const REQUIRED_COLUMNS: &[&[&str]] = &[
    &["AssessmentGroup"],
    &["Campaign"],
    &["Variant"],
    &["Status"],
    &["Outcome", "Outcome Path"],
    &["MitreID", "Method"],
];

/// A row as written: every cell as text (trimmed by the reader), empty when the column is absent.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RawRow {
    #[serde(rename = "AssessmentGroup")]
    assessment_group: String,
    #[serde(rename = "Campaign")]
    campaign: String,
    #[serde(rename = "Phase")]
    phase: String,
    #[serde(rename = "Variant")]
    variant: String,
    #[serde(rename = "MitreID")]
    mitre_id: String,
    #[serde(rename = "CapecId")]
    capec_id: String,
    #[serde(rename = "Method")]
    method: String,
    #[serde(rename = "Status")]
    status: String,
    #[serde(rename = "Outcome")]
    outcome: String,
    #[serde(rename = "Outcome Path")]
    outcome_path: String,
    #[serde(rename = "Alert Severity")]
    alert_severity: String,
    #[serde(rename = "Alert Triggered")]
    alert_triggered: String,
    #[serde(rename = "Activity Logged")]
    activity_logged: String,
    #[serde(rename = "Outcome Notes")]
    outcome_notes: String,
    #[serde(rename = "Detection Recommendations")]
    detection_recommendations: String,
    #[serde(rename = "SourceIps")]
    source_ips: String,
    #[serde(rename = "TargetAssets")]
    target_assets: String,
    #[serde(rename = "ExpectedDetectionLayers")]
    expected_detection_layers: String,
    #[serde(rename = "DetectingTools")]
    detecting_tools: String,
    #[serde(rename = "Start Time")]
    start_time: String,
    #[serde(rename = "Start Time Epoch")]
    start_time_epoch: String,
    #[serde(rename = "Stop Time")]
    stop_time: String,
    #[serde(rename = "Stop Time Epoch")]
    stop_time_epoch: String,
    #[serde(rename = "Detection Time")]
    detection_time: String,
    #[serde(rename = "Detection Time Epoch")]
    detection_time_epoch: String,
    #[serde(rename = "Organizations")]
    organizations: String,
    #[serde(rename = "Tags")]
    tags: String,
    #[serde(rename = "Objective")]
    objective: String,
    #[serde(rename = "Command")]
    command: String,
    #[serde(rename = "References")]
    references: String,
    #[serde(rename = "Attacker Tools")]
    attacker_tools: String,
    #[serde(rename = "Liklihood", alias = "Likelihood")]
    likelihood: String,
    #[serde(rename = "Risk")]
    risk: String,
    #[serde(rename = "Internal/External")]
    internal_external: String,
    #[serde(rename = "Stealth")]
    stealth: String,
    #[serde(rename = "Attack Vector")]
    attack_vector: String,
    #[serde(rename = "Attack Complexity")]
    attack_complexity: String,
    #[serde(rename = "Privileges Required")]
    privileges_required: String,
}

const OUTCOMES: &[(&str, VectrOutcome)] = &[
    ("tbd", VectrOutcome::Tbd),
    ("notdetected", VectrOutcome::NotDetected),
    ("detected", VectrOutcome::Detected),
    ("blocked", VectrOutcome::Blocked),
];

const STATUSES: &[(&str, VectrStatus)] = &[
    ("notperformed", VectrStatus::NotPerformed),
    ("inprogress", VectrStatus::InProgress),
    ("paused", VectrStatus::Paused),
    ("completed", VectrStatus::Completed),
    // The GraphQL enum spells it `Abandon`.
    ("abandon", VectrStatus::Abandoned),
    ("abandoned", VectrStatus::Abandoned),
];

const SEVERITIES: &[(&str, Option<Severity>)] = &[
    ("tbd", None),
    ("info", Some(Severity::Info)),
    ("low", Some(Severity::Low)),
    ("med", Some(Severity::Medium)),
    ("medium", Some(Severity::Medium)),
    ("high", Some(Severity::High)),
    ("critical", Some(Severity::Critical)),
];

const FLAGS: &[(&str, Option<bool>)] = &[("tbd", None), ("yes", Some(true)), ("no", Some(false))];
const YES_NO: &str = "one of Yes, No or TBD";

fn record(raw: &RawRow) -> Result<VectrRecord, RowError> {
    let technique = technique_cell("MitreID", &raw.mitre_id)?;
    let method = non_blank(&raw.method);
    if technique.is_none() && method.is_none() {
        return Err(RowError::NoTechnique);
    }
    // The path's first segment is the outcome itself: `Blocked.Blocked_Alerted_No` is a kind of `Blocked`.
    let outcome_text = match raw.outcome.as_str() {
        "" => raw.outcome_path.split('.').next().unwrap_or_default(),
        outcome => outcome,
    };
    let outcome = required_choice(
        "Outcome",
        outcome_text,
        OUTCOMES,
        "one of Blocked, Detected, NotDetected or TBD",
    )?;
    let status = required_choice(
        "Status",
        &raw.status,
        STATUSES,
        "one of NotPerformed, InProgress, Paused, Completed or Abandoned",
    )?;
    Ok(VectrRecord {
        assessment_group: required_text("AssessmentGroup", &raw.assessment_group)?,
        campaign: required_text("Campaign", &raw.campaign)?,
        phase: non_blank(&raw.phase),
        variant: required_text("Variant", &raw.variant)?,
        technique,
        capec_id: non_blank(&raw.capec_id),
        method,
        status,
        outcome,
        outcome_path: non_blank(&raw.outcome_path),
        alert_severity: optional_choice(
            "Alert Severity",
            &raw.alert_severity,
            SEVERITIES,
            "one of Info, Low, Med, High, Critical or TBD",
        )?,
        alert_triggered: optional_choice("Alert Triggered", &raw.alert_triggered, FLAGS, YES_NO)?,
        activity_logged: optional_choice("Activity Logged", &raw.activity_logged, FLAGS, YES_NO)?,
        outcome_notes: non_blank(&raw.outcome_notes),
        detection_recommendations: non_blank(&raw.detection_recommendations),
        source_ips: list(&raw.source_ips),
        target_assets: list(&raw.target_assets),
        expected_detection_layers: list(&raw.expected_detection_layers),
        detecting_tools: list(&raw.detecting_tools),
        start_time: time_twice(
            "Start Time",
            &raw.start_time,
            "Start Time Epoch",
            &raw.start_time_epoch,
        )?,
        stop_time: time_twice(
            "Stop Time",
            &raw.stop_time,
            "Stop Time Epoch",
            &raw.stop_time_epoch,
        )?,
        detection_time: time_twice(
            "Detection Time",
            &raw.detection_time,
            "Detection Time Epoch",
            &raw.detection_time_epoch,
        )?,
        organizations: list(&raw.organizations),
        tags: list(&raw.tags),
        objective: non_blank(&raw.objective),
        command: non_blank(&raw.command),
        references: list(&raw.references),
        attacker_tools: list(&raw.attacker_tools),
        likelihood: non_blank(&raw.likelihood),
        risk: non_blank(&raw.risk),
        internal_external: non_blank(&raw.internal_external),
        stealth: non_blank(&raw.stealth),
        attack_vector: non_blank(&raw.attack_vector),
        attack_complexity: non_blank(&raw.attack_complexity),
        privileges_required: non_blank(&raw.privileges_required),
    })
}

fn required_text(field: &'static str, cell: &str) -> Result<String, RowError> {
    non_blank(cell).ok_or(RowError::Empty { field })
}

fn required_choice<T: Copy>(
    field: &'static str,
    cell: &str,
    choices: &[(&str, T)],
    expected: &'static str,
) -> Result<T, RowError> {
    if cell.is_empty() {
        return Err(RowError::Empty { field });
    }
    // Upstream writes `NotDetected` and its importer `NOTDETECTED`; people write `Not Detected`.
    let key: String = cell
        .chars()
        .filter(|character| character.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect();
    choices
        .iter()
        .find(|(name, _)| *name == key)
        .map(|(_, value)| *value)
        .ok_or_else(|| RowError::Invalid {
            field,
            value: cell.to_owned(),
            expected,
        })
}

/// An empty cell is as undecided as `TBD`.
fn optional_choice<T: Copy>(
    field: &'static str,
    cell: &str,
    choices: &[(&str, Option<T>)],
    expected: &'static str,
) -> Result<Option<T>, RowError> {
    if cell.is_empty() {
        return Ok(None);
    }
    required_choice(field, cell, choices, expected)
}

/// A comma-joined multi-value cell, split, trimmed, without empty parts.
fn list(cell: &str) -> Vec<String> {
    cell.split(',').filter_map(non_blank).collect()
}

/// One time from its ISO cell and its epoch-milliseconds cell. ISO may be written to the whole second, so the
/// two agree when less than a second apart.
fn time_twice(
    field: &'static str,
    iso_cell: &str,
    epoch_field: &'static str,
    epoch_cell: &str,
) -> Result<Option<DateTime<Utc>>, RowError> {
    let iso = utc_time(field, iso_cell)?;
    let epoch = optional_number::<i64>(epoch_field, epoch_cell)?
        .map(|millis| {
            DateTime::from_timestamp_millis(millis).ok_or_else(|| RowError::Invalid {
                field: epoch_field,
                value: epoch_cell.to_owned(),
                expected: "a time in milliseconds since 1970",
            })
        })
        .transpose()?;
    match (iso, epoch) {
        (Some(iso), Some(epoch)) if (iso - epoch).abs() >= TimeDelta::seconds(1) => {
            Err(RowError::TimesDisagree {
                field,
                iso: iso_cell.to_owned(),
                epoch: epoch_cell.to_owned(),
            })
        }
        (iso, epoch) => Ok(iso.or(epoch)),
    }
}

// Shared with `super::execution_log`.

/// Trimmed text, `None` when nothing is left.
pub(super) fn non_blank(text: &str) -> Option<String> {
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

/// An optional ATT&CK technique id: blank is none (VECTR's `MitreID`, ATTiRe's `mitre-technique-id` and the
/// Atomic Red Team log's `Technique` may all be blank), anything else must be an id.
pub(super) fn optional_technique(text: &str) -> Result<Option<TechniqueId>, TestCaseError> {
    if text.trim().is_empty() {
        return Ok(None);
    }
    TechniqueId::parse(text).map(Some)
}

/// [`optional_technique`] in a CSV cell.
pub(super) fn technique_cell(
    field: &'static str,
    cell: &str,
) -> Result<Option<TechniqueId>, RowError> {
    optional_technique(cell).map_err(|_| RowError::Invalid {
        field,
        value: cell.to_owned(),
        expected: "an ATT&CK technique id",
    })
}

/// An RFC 3339 time in a CSV cell (`2017-01-17T09:20:25.930Z`); empty is none.
pub(super) fn utc_time(field: &'static str, cell: &str) -> Result<Option<DateTime<Utc>>, RowError> {
    if cell.is_empty() {
        return Ok(None);
    }
    DateTime::parse_from_rfc3339(cell)
        .map(|time| Some(time.to_utc()))
        .map_err(|_| RowError::Invalid {
            field,
            value: cell.to_owned(),
            expected: "an RFC 3339 time",
        })
}

/// A whole number in a CSV cell; empty is none.
pub(super) fn optional_number<T: std::str::FromStr>(
    field: &'static str,
    cell: &str,
) -> Result<Option<T>, RowError> {
    if cell.is_empty() {
        return Ok(None);
    }
    cell.parse().map(Some).map_err(|_| RowError::Invalid {
        field,
        value: cell.to_owned(),
        expected: "a whole number in range",
    })
}

/// Reads a CSV file with a header row: checks that every `required` column is there (each entry lists the names
/// that may stand for it), then turns each row into a `Raw` by column name (cells trimmed; absent columns are
/// the `Raw`'s defaults; unknown columns ignored) and `convert`s it. A row that fails is skipped with its reason.
pub(super) fn read_rows<Raw: DeserializeOwned, Record>(
    bytes: &[u8],
    required: &[&[&str]],
    convert: impl Fn(&Raw) -> Result<Record, RowError>,
) -> Result<(Vec<Record>, Vec<SkippedRow>), CsvError> {
    // Checked once for the whole file: a file in another encoding (Excel's UTF-16 or a legacy code page) would
    // garble every row, not just one.
    let text = std::str::from_utf8(bytes).map_err(|error| CsvError::NotUtf8 {
        line: bytes[..error.valid_up_to()]
            .split(|byte| *byte == b'\n')
            .count(),
    })?;
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|error| CsvError::Unreadable(error.to_string()))?
        .clone();
    let missing: Vec<String> = required
        .iter()
        .filter(|names| {
            !names
                .iter()
                .any(|name| headers.iter().any(|header| header == *name))
        })
        .map(|names| names.join(" or "))
        .collect();
    if !missing.is_empty() {
        return Err(CsvError::MissingColumns(missing));
    }

    let mut records = Vec::new();
    let mut skipped = Vec::new();
    // Row 1 is the header.
    for (row, result) in (2..).zip(reader.records()) {
        let converted = match result {
            Ok(record) => record
                .deserialize::<Raw>(Some(&headers))
                .map_err(|error| RowError::Unreadable(error.to_string()))
                .and_then(|raw| convert(&raw)),
            Err(error) => Err(row_error(&error)),
        };
        match converted {
            Ok(record) => records.push(record),
            Err(reason) => skipped.push(SkippedRow { row, reason }),
        }
    }
    Ok((records, skipped))
}

fn row_error(error: &csv::Error) -> RowError {
    match error.kind() {
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => RowError::CellCount {
            expected: *expected_len,
            found: *len,
        },
        _ => RowError::Unreadable(error.to_string()),
    }
}
