//! Execution logs of attack tools, in the two formats Invoke-AtomicRedTeam writes, read into one shape: an
//! [`ExecutionLog`] of [`ExecutionEntry`]s, one per procedure run (what ran, where, when, and how it ended).
//!
//! **ATTiRe v1.1** ([`parse_attire`]): JSON with kebab-case keys, an `execution-data` object for the whole run
//! and `procedures[]`, each with `steps[]`. Quirks survived (QUIRKS.md, "4. VECTR interop", ATTiRe):
//! - the schema requires little and allows any other key: unknown keys are ignored, and only what the schema
//!   requires (`execution-id`, `execution-source`, `target`; a step's `command`, `order`, `time-start`,
//!   `time-stop`) must be there; `attire-version` is not checked, since the schema does not require it;
//! - producers write keys the schema lacks (`procedure-id {type: "guid", id}`, `executor`, `exit-code`,
//!   `process-id`, `is-timeout`): read, because they identify the atomic test and tell how it ended;
//! - the ART logger's `execution-id` is the base64 of a GUID string: decoded to the GUID when it is one, kept as
//!   written otherwise (the README sample's is 32 random bytes);
//! - a procedure's `order` is the atomic's test number, written `1` or `1.0`;
//! - every step has at least one `output[]` item, an empty STDOUT when there was no output: empty items are
//!   dropped;
//! - a leading UTF-8 BOM, which Windows tools put before UTF-8 text and JSON parsers refuse, is skipped.
//!
//! A log is written by one tool in one go, so a value it got wrong is a broken producer: the whole log is
//! refused, with the JSON path of the value (`procedures[0].steps[0].time-start`).
//!
//! **Default-ExecutionLogger CSV** ([`parse_atomic_csv`], QUIRKS.md "5. Atomic Red Team execution logs"): one
//! row per atomic test run, every field quoted, 11 columns; the Syslog and WinEvent loggers' 13 keys (with `Tag`
//! and `CustomTag`) are read the same way, since columns are found by name. Only the start time is logged.
//! `Execution Time (Local)` is never read: it carries a `Z` although it is local time, and `Execution Time
//! (UTC)` says the same thing correctly. A row that cannot be used is skipped with its reason.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{DateTime, Utc};
use domain::test_case::TechniqueId;
use serde::de::Error as _;
use serde::{Deserialize, Deserializer};
use uuid::Uuid;

use super::vectr::{
    CsvError, RowError, SkippedRow, non_blank, optional_number, optional_technique, read_rows,
    technique_cell, utc_time,
};

/// What an output keeps, the note included: the domain's bound on an execution's output excerpt. The whole
/// output belongs in evidence.
const OUTPUT_MAX_CHARS: usize = 10_000;

/// An execution log in either format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecutionLog {
    pub source: ExecutionLogSource,
    /// ATTiRe's `execution-data`; the CSV has nothing like it.
    pub execution: Option<AttireExecution>,
    pub entries: Vec<ExecutionEntry>,
    /// CSV rows left out; always empty for ATTiRe, which is refused whole instead.
    pub skipped: Vec<SkippedRow>,
}

/// Which format a log was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExecutionLogSource {
    Attire,
    AtomicCsv,
}

/// The run an ATTiRe log records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttireExecution {
    /// `execution-id`, for telling runs apart: the GUID when it is the base64 of a GUID string (as the ART
    /// logger writes it), as written otherwise.
    pub id: String,
    /// `execution-source`: the tool that ran the procedures (`Invoke-Atomicredteam`); consumers name campaigns
    /// after it.
    pub tool: String,
    /// `execution-command`: the command line that started the run.
    pub command: Option<String>,
    /// `time-generated`: when the log was written.
    pub generated_at: Option<DateTime<Utc>>,
}

/// One procedure run. Text is trimmed and `None` when empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecutionEntry {
    pub technique: Option<TechniqueId>,
    /// The atomic test's `auto_generated_guid`.
    pub atomic_guid: Option<Uuid>,
    /// The atomic's test number within its technique.
    pub test_number: Option<u32>,
    pub test_name: Option<String>,
    /// The steps' commands, one per line in step order (ATTiRe only).
    pub command: Option<String>,
    /// The first step's executor (`POWERSHELL`, `command_prompt`; ATTiRe only).
    pub executor: Option<String>,
    pub target_host: Option<String>,
    /// As logged, possibly `HOST\user`.
    pub target_user: Option<String>,
    pub target_ip: Option<String>,
    /// The earliest step start.
    pub started_at: DateTime<Utc>,
    /// The latest step stop (ATTiRe only).
    pub stopped_at: Option<DateTime<Utc>>,
    /// The first non-zero exit code of the steps, else zero if a step gave one: one failed step fails the
    /// procedure.
    pub exit_code: Option<i64>,
    /// The first step's process id.
    pub process_id: Option<u32>,
    /// Whether a step ran out of time (ATTiRe's `is-timeout`).
    pub timed_out: bool,
    /// Standard output and error of every step, in step order, cut to 10,000 characters with a note saying so.
    pub output: Option<String>,
}

/// Why a whole execution log cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExecutionLogError {
    /// `path` is where in the document (`procedures[0].steps[0].time-start`; `.` for the whole document).
    #[error("not an ATTiRe log: at {path}: {message}")]
    Attire { path: String, message: String },
    #[error(transparent)]
    Csv(#[from] CsvError),
}

/// Parses an ATTiRe v1.1 JSON log: one entry per procedure.
pub fn parse_attire(bytes: &[u8]) -> Result<ExecutionLog, ExecutionLogError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let log: RawLog =
        serde_path_to_error::deserialize(&mut serde_json::Deserializer::from_slice(bytes))
            .map_err(|error| ExecutionLogError::Attire {
                path: error.path().to_string(),
                message: error.inner().to_string(),
            })?;
    let data = log.execution_data;
    let entries = log
        .procedures
        .into_iter()
        .enumerate()
        .map(|(index, procedure)| attire_entry(index, procedure, &data.target))
        .collect::<Result<_, _>>()?;
    Ok(ExecutionLog {
        source: ExecutionLogSource::Attire,
        execution: Some(AttireExecution {
            id: execution_id(&data.execution_id),
            tool: data.execution_source,
            command: data.execution_command.as_deref().and_then(non_blank),
            generated_at: data.time_generated,
        }),
        entries,
        skipped: Vec::new(),
    })
}

/// Parses an Invoke-AtomicRedTeam CSV execution log: one entry per row. `Execution Time (UTC)` and `Technique`
/// are required columns (every logger version writes them); the others may be absent.
pub fn parse_atomic_csv(bytes: &[u8]) -> Result<ExecutionLog, ExecutionLogError> {
    let (entries, skipped) = read_rows(
        bytes,
        &[&["Execution Time (UTC)"], &["Technique"]],
        atomic_entry,
    )?;
    Ok(ExecutionLog {
        source: ExecutionLogSource::AtomicCsv,
        execution: None,
        entries,
        skipped,
    })
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case")]
struct RawLog {
    execution_data: RawExecutionData,
    procedures: Vec<RawProcedure>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case")]
struct RawExecutionData {
    execution_id: String,
    execution_source: String,
    #[serde(default)]
    execution_command: Option<String>,
    target: RawTarget,
    // The ART logger writes "" until the run ends.
    #[serde(default, deserialize_with = "optional_rfc3339")]
    time_generated: Option<DateTime<Utc>>,
}

#[derive(Debug, Deserialize)]
struct RawTarget {
    #[serde(default)]
    host: Option<String>,
    #[serde(default)]
    ip: Option<String>,
    #[serde(default)]
    user: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case")]
struct RawProcedure {
    #[serde(default)]
    procedure_name: Option<String>,
    #[serde(default, deserialize_with = "technique")]
    mitre_technique_id: Option<TechniqueId>,
    #[serde(default, deserialize_with = "procedure_guid")]
    procedure_id: Option<Uuid>,
    #[serde(default, deserialize_with = "whole_number")]
    order: Option<u32>,
    steps: Vec<RawStep>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case")]
struct RawStep {
    command: String,
    #[serde(default)]
    executor: Option<String>,
    // Only for sorting; the schema's examples write `1.0`.
    order: f64,
    #[serde(deserialize_with = "rfc3339")]
    time_start: DateTime<Utc>,
    #[serde(deserialize_with = "rfc3339")]
    time_stop: DateTime<Utc>,
    #[serde(default)]
    output: Vec<RawOutput>,
    #[serde(default)]
    exit_code: Option<i64>,
    #[serde(default)]
    process_id: Option<u32>,
    #[serde(default)]
    is_timeout: Option<bool>,
}

#[derive(Debug, Deserialize)]
struct RawOutput {
    #[serde(default)]
    content: Option<String>,
}

fn attire_entry(
    index: usize,
    procedure: RawProcedure,
    target: &RawTarget,
) -> Result<ExecutionEntry, ExecutionLogError> {
    let mut steps = procedure.steps;
    // Stable, so steps of equal order keep the document's order.
    steps.sort_by(|left, right| left.order.total_cmp(&right.order));
    let (Some(started_at), Some(stopped_at)) = (
        steps.iter().map(|step| step.time_start).min(),
        steps.iter().map(|step| step.time_stop).max(),
    ) else {
        return Err(ExecutionLogError::Attire {
            path: format!("procedures[{index}].steps"),
            message: "a procedure needs at least one step".to_owned(),
        });
    };
    let exit_codes = || steps.iter().filter_map(|step| step.exit_code);
    let output = joined(
        steps
            .iter()
            .flat_map(|step| &step.output)
            .filter_map(|output| output.content.as_deref()),
    );
    Ok(ExecutionEntry {
        technique: procedure.mitre_technique_id,
        atomic_guid: procedure.procedure_id,
        test_number: procedure.order,
        test_name: procedure.procedure_name.as_deref().and_then(non_blank),
        command: joined(steps.iter().map(|step| step.command.as_str())),
        executor: steps
            .iter()
            .find_map(|step| step.executor.as_deref().and_then(non_blank)),
        target_host: target.host.as_deref().and_then(non_blank),
        target_user: target.user.as_deref().and_then(non_blank),
        target_ip: target.ip.as_deref().and_then(non_blank),
        started_at,
        stopped_at: Some(stopped_at),
        exit_code: exit_codes()
            .find(|code| *code != 0)
            .or_else(|| exit_codes().next()),
        process_id: steps.iter().find_map(|step| step.process_id),
        timed_out: steps.iter().any(|step| step.is_timeout == Some(true)),
        output: output.map(excerpt),
    })
}

/// The non-blank parts, one per line; `None` when there are none.
fn joined<'a>(parts: impl Iterator<Item = &'a str>) -> Option<String> {
    let parts: Vec<&str> = parts.filter(|part| !part.trim().is_empty()).collect();
    (!parts.is_empty()).then(|| parts.join("\n"))
}

fn excerpt(output: String) -> String {
    let total = output.chars().count();
    if total <= OUTPUT_MAX_CHARS {
        return output;
    }
    let note = format!("\n[output truncated: {total} characters in all]");
    let kept: String = output
        .chars()
        .take(OUTPUT_MAX_CHARS - note.chars().count())
        .collect();
    kept + &note
}

fn execution_id(raw: &str) -> String {
    BASE64
        .decode(raw.trim())
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .and_then(|text| Uuid::parse_str(&text).ok())
        .map_or_else(|| raw.to_owned(), |guid| guid.to_string())
}

fn technique<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<TechniqueId>, D::Error> {
    let text = Option::<String>::deserialize(deserializer)?.unwrap_or_default();
    optional_technique(&text).map_err(D::Error::custom)
}

fn rfc3339<'de, D: Deserializer<'de>>(deserializer: D) -> Result<DateTime<Utc>, D::Error> {
    let text = String::deserialize(deserializer)?;
    DateTime::parse_from_rfc3339(text.trim())
        .map(|time| time.to_utc())
        .map_err(|_| D::Error::custom(format!("{text:?} is not an RFC 3339 time")))
}

fn optional_rfc3339<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<DateTime<Utc>>, D::Error> {
    match Option::<String>::deserialize(deserializer)? {
        Some(text) if !text.trim().is_empty() => {
            rfc3339(serde::de::value::StringDeserializer::new(text)).map(Some)
        }
        _ => Ok(None),
    }
}

/// `procedure-id` names the atomic when its `type` is `guid`; other kinds of id say nothing Aegis can use.
fn procedure_guid<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Uuid>, D::Error> {
    #[derive(Deserialize)]
    struct ProcedureId {
        #[serde(rename = "type")]
        kind: String,
        id: String,
    }
    match Option::<ProcedureId>::deserialize(deserializer)? {
        Some(procedure_id) if procedure_id.kind.eq_ignore_ascii_case("guid") => {
            Uuid::parse_str(procedure_id.id.trim())
                .map(Some)
                .map_err(|_| D::Error::custom(format!("{:?} is not a GUID", procedure_id.id)))
        }
        _ => Ok(None),
    }
}

/// A test number written as an integer or as a float with nothing after the point (`1.0`).
fn whole_number<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<u32>, D::Error> {
    let Some(number) = Option::<f64>::deserialize(deserializer)? else {
        return Ok(None);
    };
    if number.fract() != 0.0 || !(0.0..=f64::from(u32::MAX)).contains(&number) {
        return Err(D::Error::custom(format!(
            "{number} is not a whole number in range"
        )));
    }
    // Checked just above: whole and within u32's range.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    Ok(Some(number as u32))
}

/// A row of the Default-ExecutionLogger CSV, by column name; `Execution Time (Local)`, `Tag` and `CustomTag` are
/// left out on purpose.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct AtomicRow {
    #[serde(rename = "Execution Time (UTC)")]
    execution_time_utc: String,
    #[serde(rename = "Technique")]
    technique: String,
    #[serde(rename = "Test Number")]
    test_number: String,
    #[serde(rename = "Test Name")]
    test_name: String,
    #[serde(rename = "Hostname")]
    hostname: String,
    #[serde(rename = "IP Address")]
    ip_address: String,
    #[serde(rename = "Username")]
    username: String,
    #[serde(rename = "GUID")]
    guid: String,
    #[serde(rename = "ProcessId")]
    process_id: String,
    #[serde(rename = "ExitCode")]
    exit_code: String,
}

fn atomic_entry(row: &AtomicRow) -> Result<ExecutionEntry, RowError> {
    const STARTED: &str = "Execution Time (UTC)";
    let atomic_guid = match row.guid.as_str() {
        "" => None,
        guid => Some(Uuid::parse_str(guid).map_err(|_| RowError::Invalid {
            field: "GUID",
            value: row.guid.clone(),
            expected: "a GUID",
        })?),
    };
    Ok(ExecutionEntry {
        technique: technique_cell("Technique", &row.technique)?,
        atomic_guid,
        test_number: optional_number("Test Number", &row.test_number)?,
        test_name: non_blank(&row.test_name),
        command: None,
        executor: None,
        target_host: non_blank(&row.hostname),
        target_user: non_blank(&row.username),
        target_ip: non_blank(&row.ip_address),
        started_at: utc_time(STARTED, &row.execution_time_utc)?
            .ok_or(RowError::Empty { field: STARTED })?,
        stopped_at: None,
        exit_code: optional_number("ExitCode", &row.exit_code)?,
        process_id: optional_number("ProcessId", &row.process_id)?,
        timed_out: false,
        output: None,
    })
}
