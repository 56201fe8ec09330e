//! Sysmon configurations (XML: sysmon-modular modules and merged configs, SwiftOnSecurity's sysmon-config) → one
//! [`RecordKind::TelemetryConfig`] record (scope `"sysmon"`) per file.
//!
//! The record id is the file's path as the import gave it (`/` separators), its name the file name. Its
//! techniques are the ATT&CK ids named under an `onmatch="include"` event filter: those events are collected, so
//! the technique is visible. Ids named under `onmatch="exclude"` mean *reduced* visibility and are kept apart in
//! the details (`excluded_techniques`), never in `techniques`.
//!
//! Upstream quirks handled here (see the corpus' QUIRKS.md, "1. Sysmon configs mapped to ATT&CK"):
//! - **Where the id sits**: the `name` attribute of a field filter, of a `<Rule>`, or of the `<RuleGroup>` around
//!   an event filter; an unnamed element inherits its ancestors' names, so every non-empty `name` on the event
//!   filter, inside it, or on an enclosing element counts for that event filter.
//! - **`name` is free text**: ids are found with the regex `\bT\d{4}(?:\.\d{3})?\b`, never by splitting on `,`
//!   (`technique_id=T1559.002,office`, `T1031,T1050`, `technique=T1105,…`, `technique_id=T1055; Possible …`).
//!   Names without any id (`Tor`, `Caution`, `technique_id=T,technique_name=`, `Ingress Tool Transfer`) are kept
//!   as distinct labels with a count.
//! - **Old-style ids** (SwiftOnSecurity's `T1060`, `T1089`…) are kept as written; mapping revoked ids to their
//!   replacements is the catalog's job, with ATT&CK's revoked-by relationships.
//! - **Comments**: SwiftOnSecurity also cites techniques in comments (`[ https://attack.mitre.org/wiki/Technique/
//!   T1099 ]`). Those inside an event filter are kept per event filter as `comment_techniques` in the details,
//!   but do not count as coverage: a comment is prose about a filter, not a filter, and several sit beside
//!   exclusions or explain what is *not* collected.
//! - `onmatch` and the element names are compared case-insensitively where upstream varies (`include`,
//!   `Include`); the same technique named many times in one event filter counts once (the merged
//!   `sysmonconfig.xml` names `technique_id` 838 times).
//! - **Encoding**: the merged configs start with a UTF-8 BOM and comment banners, there is no `<?xml?>`
//!   declaration or namespace, line endings are mixed (CRLF, tabs). Character references in text arrive from
//!   quick-xml as separate `GeneralRef` events and are resolved where text is kept (`HashAlgorithms`).
//! - **Module snippets**: a file without the `<Sysmon>` root (just `<EventFiltering>` or `<RuleGroup>`s) parses
//!   too; its `schemaversion` is then absent. The module folder prefix (`12_13_14_registry_event`) gives the
//!   Sysmon event ids the module is written for.
//!
//! A file that is not well-formed XML, or whose root is not a Sysmon element, is a [`FileFailure`].

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::LazyLock;

use quick_xml::events::{BytesStart, Event};
use quick_xml::{Reader, XmlVersion};
use regex::Regex;
use serde::Serialize;

use crate::record::{
    CatalogRecord, FileFailure, Parsed, RecordKind, RecordStatus, SourceFile, technique_ids,
};

/// The catalog scope of every Sysmon record.
pub const SCOPE: &str = "sysmon";

/// Root elements a Sysmon configuration or module snippet starts with.
const SYSMON_ROOTS: &[&str] = &["Sysmon", "EventFiltering", "RuleGroup"];

/// An ATT&CK technique id inside free text (`technique_id=T1218,technique_name=…`, `T1183,IFEO`).
static TECHNIQUE_IN_TEXT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\bT\d{4}(?:\.\d{3})?\b")
        .unwrap_or_else(|error| unreachable!("constant regex: {error}"))
});

/// A technique cited by URL in a comment, old (`/wiki/Technique/T1099`) or new (`/techniques/T1490/`,
/// `/techniques/T1003/001/`) style.
static TECHNIQUE_URL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"attack\.mitre\.org/(?:wiki/Technique|techniques)/(T\d{4})(?:[./](\d{3}))?")
        .unwrap_or_else(|error| unreachable!("constant regex: {error}"))
});

/// A sysmon-modular module folder: the Sysmon event ids, then the event's name (`12_13_14_registry_event`).
static MODULE_FOLDER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(\d+(?:_\d+)*)_[A-Za-z]")
        .unwrap_or_else(|error| unreachable!("constant regex: {error}"))
});

/// Whether a file found by a directory walk belongs to this source: every `.xml` file.
pub fn accepts(path: &Path) -> bool {
    path.extension()
        .and_then(|extension| extension.to_str())
        .is_some_and(|extension| extension.eq_ignore_ascii_case("xml"))
}

/// Parses every file of one import; a file that cannot be used is reported in [`Parsed::failures`].
pub fn parse(files: &[SourceFile]) -> Parsed {
    let mut parsed = Parsed::default();
    for file in files {
        match parse_config(&file.path, &file.bytes) {
            Ok(record) => parsed.records.push(record),
            Err(error) => parsed.failures.push(FileFailure::new(&file.path, error)),
        }
    }
    parsed
}

/// Why a Sysmon file could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SysmonError {
    #[error("the file is not UTF-8 text")]
    NotUtf8,
    #[error("invalid XML at byte {position}: {reason}")]
    Xml { position: u64, reason: String },
    #[error("element <{0}> is not closed")]
    Unclosed(String),
    #[error("no XML element in the file")]
    Empty,
    #[error("not a Sysmon configuration: the root element is <{0}>")]
    NotSysmon(String),
}

/// The details of a Sysmon configuration record.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SysmonConfigDetails {
    /// The root's `schemaversion` (`4.50`, `4.90`); absent for module snippets without the `<Sysmon>` root.
    pub schemaversion: Option<String>,
    pub hash_algorithms: Option<String>,
    /// Sysmon event ids from a sysmon-modular module folder name (`12_13_14_registry_event` → 12, 13, 14).
    pub module_event_ids: Vec<u32>,
    /// One entry per (event, onmatch), in that order; several filters of one kind are merged.
    pub event_filters: Vec<EventFilterSummary>,
    /// Techniques named under `onmatch="exclude"` filters: reduced visibility, not coverage.
    pub excluded_techniques: Vec<String>,
    /// `name` values that hold no technique id, with how often each occurs.
    pub labels_without_technique: BTreeMap<String, usize>,
    pub path: String,
}

/// The event filters of one event type and `onmatch` value in a file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EventFilterSummary {
    /// The event element: `ProcessCreate`, `NetworkConnect`, `RegistryEvent`, …
    pub event: String,
    /// `include` or `exclude` (lower case); other values are kept as written, lower-cased.
    pub onmatch: String,
    /// How many elements of this kind the file has.
    pub filter_blocks: usize,
    /// How many field conditions they hold (elements inside the filter other than `<Rule>`).
    pub conditions: usize,
    pub techniques: Vec<String>,
    /// Techniques cited by URL in comments inside these filters (not counted as coverage).
    pub comment_techniques: Vec<String>,
}

/// One event filter element (`<ProcessCreate onmatch="include">`) while it is being read.
#[derive(Debug)]
struct OpenFilter {
    event: String,
    onmatch: String,
    /// The element stack depth of the filter element itself.
    depth: usize,
    conditions: usize,
    technique_texts: Vec<String>,
    comment_texts: Vec<String>,
}

/// What reading one file collects.
#[derive(Debug, Default)]
struct Collected {
    schemaversion: Option<String>,
    hash_algorithms: Option<String>,
    filters: BTreeMap<(String, String), EventFilterSummary>,
    included: Vec<String>,
    excluded: Vec<String>,
    labels_without_technique: BTreeMap<String, usize>,
}

fn parse_config(path: &Path, bytes: &[u8]) -> Result<CatalogRecord, SysmonError> {
    let text = std::str::from_utf8(bytes).map_err(|_| SysmonError::NotUtf8)?;
    // The merged sysmon-modular configs start with a BOM; quick-xml's `from_str` would see it as text.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let collected = read_config(text)?;
    let slash_path = path.to_string_lossy().replace('\\', "/");
    let file_name = slash_path
        .rsplit('/')
        .next()
        .unwrap_or(&slash_path)
        .to_owned();

    let techniques = technique_ids(collected.included.iter().map(String::as_str));
    let excluded_techniques = technique_ids(collected.excluded.iter().map(String::as_str))
        .into_iter()
        .map(|id| id.as_str().to_owned())
        .collect();
    let details = SysmonConfigDetails {
        schemaversion: collected.schemaversion,
        hash_algorithms: collected.hash_algorithms,
        module_event_ids: module_event_ids(&slash_path),
        event_filters: collected.filters.into_values().collect(),
        excluded_techniques,
        labels_without_technique: collected.labels_without_technique,
        path: slash_path.clone(),
    };
    Ok(CatalogRecord {
        kind: RecordKind::TelemetryConfig,
        scope: SCOPE.to_owned(),
        id: slash_path,
        name: file_name,
        status: RecordStatus::Active,
        techniques,
        details: serde_json::to_value(&details).unwrap_or(serde_json::Value::Null),
    })
}

/// The state of one pass over a configuration's events.
#[derive(Debug, Default)]
struct ConfigReader {
    collected: Collected,
    /// Element names from the root down, each with its non-empty `name` attribute.
    stack: Vec<(String, Option<String>)>,
    open_filter: Option<OpenFilter>,
    root_seen: bool,
    /// Text of a `<HashAlgorithms>` element being read, assembled from text and entity-reference events.
    hash_text: Option<String>,
}

fn read_config(text: &str) -> Result<Collected, SysmonError> {
    let mut reader = Reader::from_str(text);
    let mut state = ConfigReader::default();
    loop {
        let event = reader.read_event().map_err(|error| SysmonError::Xml {
            position: reader.error_position(),
            reason: error.to_string(),
        })?;
        match event {
            Event::Start(element) => state.start(&element, false)?,
            Event::Empty(element) => state.start(&element, true)?,
            Event::End(_) => state.end(),
            Event::Text(text) => {
                if let Some(hash) = state.hash_text.as_mut() {
                    hash.push_str(&text.xml_content(XmlVersion::Implicit1_0));
                }
            }
            // quick-xml delivers `&amp;` and `&#44;` in text as events of their own.
            Event::GeneralRef(reference) => {
                if let Some(hash) = state.hash_text.as_mut() {
                    let resolved = match reference.resolve_char_ref() {
                        Ok(Some(character)) => Some(character.to_string()),
                        _ => quick_xml::escape::resolve_predefined_entity(&reference)
                            .map(str::to_owned),
                    };
                    hash.push_str(&resolved.unwrap_or_else(|| format!("&{};", &*reference)));
                }
            }
            Event::Comment(comment) => {
                if let Some(filter) = state.open_filter.as_mut() {
                    filter.comment_texts.push(String::from(&*comment));
                }
            }
            Event::Eof => break,
            Event::CData(_) | Event::Decl(_) | Event::PI(_) | Event::DocType(_) => {}
        }
    }
    if let Some((element_name, _)) = state.stack.pop() {
        return Err(SysmonError::Unclosed(element_name));
    }
    if !state.root_seen {
        return Err(SysmonError::Empty);
    }
    Ok(state.collected)
}

impl ConfigReader {
    fn start(&mut self, element: &BytesStart<'_>, is_empty: bool) -> Result<(), SysmonError> {
        let element_name = element.local_name().as_ref().to_owned();
        if !self.root_seen {
            self.root_seen = true;
            if !SYSMON_ROOTS.contains(&element_name.as_str())
                && attribute(element, "onmatch").is_none()
            {
                return Err(SysmonError::NotSysmon(element_name));
            }
        }
        let name_attribute = attribute(element, "name").filter(|name| !name.trim().is_empty());
        if element_name == "Sysmon" && self.collected.schemaversion.is_none() {
            self.collected.schemaversion = attribute(element, "schemaversion");
        }
        if element_name.eq_ignore_ascii_case("HashAlgorithms") && !is_empty {
            self.hash_text = Some(String::new());
        }
        match self.open_filter.as_mut() {
            Some(filter) => {
                if !element_name.eq_ignore_ascii_case("Rule") {
                    filter.conditions += 1;
                }
                filter.technique_texts.extend(name_attribute.clone());
            }
            None => {
                if let Some(onmatch) = attribute(element, "onmatch") {
                    // The filter inherits every name on the elements around it (a named `<RuleGroup>`).
                    let mut technique_texts: Vec<String> = self
                        .stack
                        .iter()
                        .filter_map(|(_, name)| name.clone())
                        .collect();
                    technique_texts.extend(name_attribute.clone());
                    self.open_filter = Some(OpenFilter {
                        event: element_name.clone(),
                        onmatch: onmatch.trim().to_lowercase(),
                        depth: self.stack.len(),
                        conditions: 0,
                        technique_texts,
                        comment_texts: Vec::new(),
                    });
                }
            }
        }
        if let Some(name) = &name_attribute
            && !TECHNIQUE_IN_TEXT.is_match(name)
        {
            *self
                .collected
                .labels_without_technique
                .entry(name.trim().to_owned())
                .or_default() += 1;
        }
        if is_empty {
            close_filter_at(self.stack.len(), &mut self.open_filter, &mut self.collected);
        } else {
            self.stack.push((element_name, name_attribute));
        }
        Ok(())
    }

    fn end(&mut self) {
        if let Some((element_name, _)) = self.stack.pop()
            && element_name.eq_ignore_ascii_case("HashAlgorithms")
        {
            self.collected.hash_algorithms =
                self.hash_text.take().map(|text| text.trim().to_owned());
        }
        close_filter_at(self.stack.len(), &mut self.open_filter, &mut self.collected);
    }
}

/// Ends the open event filter when the element just closed (at stack depth `depth`) was the filter itself, and
/// adds what it named to the file's totals.
fn close_filter_at(depth: usize, open_filter: &mut Option<OpenFilter>, collected: &mut Collected) {
    if open_filter
        .as_ref()
        .is_none_or(|filter| filter.depth != depth)
    {
        return;
    }
    let Some(filter) = open_filter.take() else {
        return;
    };
    let technique_texts: Vec<String> = filter
        .technique_texts
        .iter()
        .flat_map(|text| {
            TECHNIQUE_IN_TEXT
                .find_iter(text)
                .map(|found| found.as_str().to_owned())
        })
        .collect();
    let comment_texts: Vec<String> = filter
        .comment_texts
        .iter()
        .flat_map(|text| {
            TECHNIQUE_URL
                .captures_iter(text)
                .map(|captures| match captures.get(2) {
                    Some(sub_technique) => format!("{}.{}", &captures[1], sub_technique.as_str()),
                    None => captures[1].to_owned(),
                })
        })
        .collect();
    match filter.onmatch.as_str() {
        "include" => collected.included.extend(technique_texts.iter().cloned()),
        "exclude" => collected.excluded.extend(technique_texts.iter().cloned()),
        _ => {}
    }
    let summary = collected
        .filters
        .entry((filter.event.clone(), filter.onmatch.clone()))
        .or_insert_with(|| EventFilterSummary {
            event: filter.event,
            onmatch: filter.onmatch,
            filter_blocks: 0,
            conditions: 0,
            techniques: Vec::new(),
            comment_techniques: Vec::new(),
        });
    summary.filter_blocks += 1;
    summary.conditions += filter.conditions;
    summary.techniques = merged_ids(&summary.techniques, &technique_texts);
    summary.comment_techniques = merged_ids(&summary.comment_techniques, &comment_texts);
}

/// `existing` and `new` as sorted, distinct technique ids.
fn merged_ids(existing: &[String], new: &[String]) -> Vec<String> {
    technique_ids(existing.iter().chain(new).map(String::as_str))
        .into_iter()
        .map(|id| id.as_str().to_owned())
        .collect()
}

/// An attribute's value with entity references resolved; the raw text when a reference is unknown (upstream
/// never has one, and a label is still better than nothing).
fn attribute(element: &BytesStart<'_>, key: &str) -> Option<String> {
    element
        .attributes()
        .flatten()
        .find(|attribute| attribute.key.local_name().as_ref() == key)
        .map(
            |attribute| match attribute.normalized_value(XmlVersion::Implicit1_0) {
                Ok(value) => value.into_owned(),
                Err(_) => attribute.value.into_owned(),
            },
        )
}

/// The event ids of a sysmon-modular module folder (`1_process_creation/x.xml` → `[1]`).
fn module_event_ids(slash_path: &str) -> Vec<u32> {
    let mut components: Vec<&str> = slash_path.split('/').collect();
    components.pop();
    let Some(folder) = components.last() else {
        return Vec::new();
    };
    MODULE_FOLDER
        .captures(folder)
        .map(|captures| {
            captures[1]
                .split('_')
                .filter_map(|number| number.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests;
