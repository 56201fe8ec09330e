//! NIST OSCAL control catalogs (SP 800-53 and any other catalog), in the XML form and the JSON form, and the
//! baseline profiles that select controls from them.
//!
//! Records:
//! - a **catalog** makes one [`RecordKind::ComplianceFramework`] (scope `"oscal"`, id the framework slug) and
//!   one [`RecordKind::Control`] per control and enhancement (scope: the framework slug, id: the display label
//!   `AC-2`, `AC-2(1)`). The slug of SP 800-53 revision N is `nist_800_53-revN`, the id the CTID parser gives
//!   the same framework, so the compliance read model joins controls with their ATT&CK mappings; any other
//!   catalog takes a slug of its title.
//! - a **resolved-profile catalog** (a baseline rendered as a catalog, marked by a `resolution-tool` prop or a
//!   `source-profile` link) makes the same `Control` records in its base framework's scope, and a
//!   `ComplianceFramework` for the baseline itself (`nist_800_53-rev5-low`) listing its control labels.
//! - a **profile** makes only that baseline `ComplianceFramework` (its `include-controls/with-id` list turned
//!   into labels): resolving a profile against its catalog is the resolved catalog's job upstream, and the list
//!   alone answers "which controls does the LOW baseline need".
//!
//! When several files of one import give the same key (the XML and JSON forms of one catalog, a baseline as
//! profile and as resolved catalog, a control in the full catalog and in a baseline), the first one wins in
//! this order: full catalogs, resolved catalogs, profiles, each by path. Other OSCAL models (SSPs, component
//! definitions, …) are not malformed and are skipped without records.
//!
//! Upstream quirks handled (QUIRKS.md "2. NIST OSCAL"):
//! 1. default namespace without prefix: elements are matched by local name; the `<?xml-model?>` processing
//!    instruction before the root is ignored;
//! 2. enhancements are nested `<control>`s (their `parent` is the enclosing control); 5.1.1 controls carry
//!    several `label` props (`AC-1`, `AC-01` class `zero-padded`, class `sp800-53a`): the one without a class
//!    is the id;
//! 3. `<prop name="status" value="withdrawn"/>` makes a [`RecordStatus::Deprecated`] control; assessment parts
//!    of 5.1.1 are ignored;
//! 4. statement prose is mixed content with `<insert type="param" id-ref=…/>`: rendered to plain text with each
//!    parameter written the way NIST prints it (`[Assignment: organization-defined frequency]`,
//!    `[Selection (one or more): a; b]`), item labels kept (`a.`, `1.`), nesting shown by indentation;
//!    quick-xml 0.42 hands `&amp;` over as its own event, which is stitched back into the text;
//! 5. profiles (see above);
//! 6. the JSON form is wrapped (`{"catalog": …}`, `{"profile": …}`) with kebab-case keys, prose is Markdown
//!    with `{{ insert: param, id }}` moustaches (rendered like the XML inserts), `select.choice` (1.0) or
//!    `select.choices`, nested `groups`, controls without `class`.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::LazyLock;

use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};
use regex::Regex;
use serde::Serialize;
use serde_json::Value;

use crate::record::{CatalogRecord, FileFailure, Parsed, RecordKind, RecordStatus, SourceFile};

/// Whether a file found by a directory walk belongs to this source: OSCAL XML or JSON (the YAML form is not
/// read). Which model a file holds is only known from its content, so [`parse`] skips non-catalog models.
pub fn accepts(path: &Path) -> bool {
    path.extension()
        .and_then(|extension| extension.to_str())
        .is_some_and(|extension| {
            extension.eq_ignore_ascii_case("xml") || extension.eq_ignore_ascii_case("json")
        })
}

/// Parses every file of one import; a file that is not OSCAL is reported in [`Parsed::failures`].
pub fn parse(files: &[SourceFile]) -> Parsed {
    let mut documents = Vec::new();
    let mut failures = Vec::new();
    for (file_index, file) in files.iter().enumerate() {
        match read_document(&file.bytes) {
            Ok(Some(document)) => documents.push((document.precedence(), file_index, document)),
            Ok(None) => {}
            Err(error) => failures.push(FileFailure::new(&file.path, error)),
        }
    }
    documents.sort_by_key(|(precedence, file_index, _)| (*precedence, *file_index));
    let upstream_version = documents
        .iter()
        .find_map(|(_, _, document)| document.metadata().version.clone());
    let mut records: BTreeMap<(RecordKind, String, String), CatalogRecord> = BTreeMap::new();
    for (_, _, document) in &documents {
        for record in document.records() {
            records
                .entry((record.kind, record.scope.clone(), record.id.clone()))
                .or_insert(record);
        }
    }
    Parsed {
        records: records.into_values().collect(),
        failures,
        upstream_version,
    }
}

/// Why an OSCAL file could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
enum OscalFileError {
    #[error("not UTF-8 text")]
    NotUtf8,
    #[error("not well-formed XML: {0}")]
    Xml(String),
    #[error("XML nested deeper than {MAX_DEPTH} elements")]
    TooDeep,
    #[error("not JSON: {0}")]
    Json(String),
    #[error("not an OSCAL document (root `{0}`)")]
    NotOscal(String),
}

/// Deeper than any OSCAL document (SP 800-53 nests about 12); bounds the recursive walks on hostile input.
const MAX_DEPTH: usize = 128;

/// The OSCAL models that are not catalogs or profiles: valid input for other tools, nothing to import here.
const OTHER_OSCAL_MODELS: [&str; 6] = [
    "component-definition",
    "system-security-plan",
    "assessment-plan",
    "assessment-results",
    "plan-of-action-and-milestones",
    "mapping-collection",
];

// ---------------------------------------------------------------------------------------------------------
// The model both forms are read into.

/// Running text with parameter references, as prose is in both forms.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Inline {
    Text(String),
    Parameter(String),
}

type Prose = Vec<Inline>;

#[derive(Debug, Default, Clone)]
struct Metadata {
    title: String,
    version: Option<String>,
    oscal_version: Option<String>,
    last_modified: Option<String>,
    /// A resolved-profile catalog (`resolution-tool` prop or `source-profile` link).
    resolved: bool,
}

#[derive(Debug, Clone)]
enum Selection {
    Label(String),
    Select {
        how_many: Option<String>,
        choices: Vec<Prose>,
    },
}

#[derive(Debug, Default)]
struct Part {
    name: String,
    label: Option<String>,
    paragraphs: Vec<Prose>,
    parts: Vec<Part>,
}

#[derive(Debug, Default)]
struct Control {
    id: String,
    class: Option<String>,
    title: String,
    /// Label props as (class, value).
    labels: Vec<(Option<String>, String)>,
    withdrawn: bool,
    parts: Vec<Part>,
    controls: Vec<Control>,
}

#[derive(Debug, Default)]
struct Group {
    id: Option<String>,
    title: String,
    groups: Vec<Group>,
    controls: Vec<Control>,
}

#[derive(Debug, Default)]
struct Catalog {
    metadata: Metadata,
    groups: Vec<Group>,
    controls: Vec<Control>,
    parameters: HashMap<String, Selection>,
}

#[derive(Debug, Default)]
struct Profile {
    metadata: Metadata,
    /// `with-id` values of every import, in order.
    control_ids: Vec<String>,
    include_all: bool,
}

#[derive(Debug)]
enum Document {
    Catalog(Catalog),
    Profile(Profile),
}

impl Document {
    fn metadata(&self) -> &Metadata {
        match self {
            Self::Catalog(catalog) => &catalog.metadata,
            Self::Profile(profile) => &profile.metadata,
        }
    }

    /// Full catalogs before resolved catalogs before profiles (see the module docs).
    fn precedence(&self) -> u8 {
        match self {
            Self::Catalog(catalog) if !catalog.metadata.resolved => 0,
            Self::Catalog(_) => 1,
            Self::Profile(_) => 2,
        }
    }

    fn records(&self) -> Vec<CatalogRecord> {
        match self {
            Self::Catalog(catalog) => catalog_records(catalog),
            Self::Profile(profile) => vec![profile_record(profile)],
        }
    }
}

fn read_document(bytes: &[u8]) -> Result<Option<Document>, OscalFileError> {
    let text = std::str::from_utf8(bytes).map_err(|_| OscalFileError::NotUtf8)?;
    if text.trim_start().starts_with('<') {
        let root = xml_tree(text)?;
        xml_document(&root)
    } else {
        let value: Value =
            serde_json::from_str(text).map_err(|error| OscalFileError::Json(error.to_string()))?;
        json_document(&value)
    }
}

// ---------------------------------------------------------------------------------------------------------
// Framework ids.

/// `NIST Special Publication 800-53 Revision 5.1.1 LOW IMPACT BASELINE` → revision `5`, rest `LOW IMPACT …`.
static NIST_800_53_TITLE: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(r"(?i)800-53\s*(?:Revision|Rev\.?)\s*(\d+)(?:\.\d+)*\s*:?\s*(.*)$").ok()
});

/// Lower-case ASCII letters and digits with `_` between words.
fn slug(text: &str) -> String {
    let mut slug = String::new();
    for word in text
        .split(|character: char| !character.is_ascii_alphanumeric())
        .filter(|word| !word.is_empty())
    {
        if !slug.is_empty() {
            slug.push('_');
        }
        slug.push_str(&word.to_ascii_lowercase());
    }
    slug
}

/// The framework a title names, and the baseline word if the title names one (`LOW`, `MODERATE`, `HIGH`,
/// `PRIVACY`).
fn framework_of(title: &str) -> (String, Option<String>) {
    let captures = NIST_800_53_TITLE
        .as_ref()
        .and_then(|pattern| pattern.captures(title));
    if let Some(captures) = captures {
        let base = format!("nist_800_53-rev{}", &captures[1]);
        let rest = captures.get(2).map_or("", |rest| rest.as_str()).trim();
        let first_word = rest.split_whitespace().next().unwrap_or("");
        let baseline = (!first_word.is_empty()
            && first_word
                .chars()
                .all(|character| character.is_ascii_uppercase()))
        .then(|| first_word.to_ascii_lowercase());
        return (base, baseline);
    }
    (slug(title), None)
}

/// The framework whose `Control` records a catalog fills, and the id of its baseline record when it is one.
fn catalog_scopes(metadata: &Metadata) -> (String, Option<String>) {
    let (base, baseline) = framework_of(&metadata.title);
    if !metadata.resolved {
        return (base, None);
    }
    let baseline_id = match baseline {
        Some(baseline) => format!("{base}-{baseline}"),
        None => slug(&metadata.title),
    };
    (base, Some(baseline_id))
}

// ---------------------------------------------------------------------------------------------------------
// Records.

/// What a catalog's or a baseline's [`RecordKind::ComplianceFramework`] record carries in `details`.
#[derive(Debug, Serialize)]
struct FrameworkDetails {
    /// `catalog` or `baseline`.
    kind: &'static str,
    title: String,
    version: Option<String>,
    oscal_version: Option<String>,
    last_modified: Option<String>,
    /// For a baseline: the framework whose controls it selects.
    #[serde(skip_serializing_if = "Option::is_none")]
    baseline_of: Option<String>,
    /// For a baseline: the selected controls' labels; for a catalog: absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    controls: Option<Vec<String>>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    include_all: bool,
    control_count: usize,
}

/// What a [`RecordKind::Control`] record carries in `details`.
#[derive(Debug, Serialize)]
struct ControlDetails {
    /// The OSCAL id (`ac-2.1`).
    oscal_id: String,
    class: Option<String>,
    family_id: Option<String>,
    family: Option<String>,
    /// Label of the enclosing control, for enhancements.
    parent: Option<String>,
    /// The statement as plain text, parameters written `[Assignment: …]` / `[Selection …: …]`.
    statement: Option<String>,
    guidance: Option<String>,
    /// The catalog version the control was read from.
    catalog_version: Option<String>,
}

fn framework_record(id: String, details: &FrameworkDetails) -> CatalogRecord {
    CatalogRecord {
        kind: RecordKind::ComplianceFramework,
        scope: "oscal".to_owned(),
        id,
        name: details.title.clone(),
        status: RecordStatus::Active,
        techniques: Vec::new(),
        details: serde_json::to_value(details).unwrap_or(Value::Null),
    }
}

fn catalog_records(catalog: &Catalog) -> Vec<CatalogRecord> {
    let (scope, baseline_id) = catalog_scopes(&catalog.metadata);
    let mut controls = Vec::new();
    let context = ControlContext {
        catalog,
        scope: &scope,
    };
    for control in &catalog.controls {
        context.collect(control, None, None, &mut controls);
    }
    for group in &catalog.groups {
        context.collect_group(group, &mut controls);
    }
    let metadata = &catalog.metadata;
    let labels: Vec<String> = controls.iter().map(|record| record.id.clone()).collect();
    let framework = match baseline_id {
        None => framework_record(
            scope.clone(),
            &FrameworkDetails {
                kind: "catalog",
                title: metadata.title.clone(),
                version: metadata.version.clone(),
                oscal_version: metadata.oscal_version.clone(),
                last_modified: metadata.last_modified.clone(),
                baseline_of: None,
                controls: None,
                include_all: false,
                control_count: labels.len(),
            },
        ),
        Some(baseline_id) => framework_record(
            baseline_id,
            &FrameworkDetails {
                kind: "baseline",
                title: metadata.title.clone(),
                version: metadata.version.clone(),
                oscal_version: metadata.oscal_version.clone(),
                last_modified: metadata.last_modified.clone(),
                baseline_of: Some(scope.clone()),
                control_count: labels.len(),
                controls: Some(labels),
                include_all: false,
            },
        ),
    };
    let mut records = vec![framework];
    records.extend(controls);
    records
}

fn profile_record(profile: &Profile) -> CatalogRecord {
    let metadata = &profile.metadata;
    let (base, baseline) = framework_of(&metadata.title);
    let id = match baseline {
        Some(baseline) => format!("{base}-{baseline}"),
        None => slug(&metadata.title),
    };
    let mut labels: Vec<String> = profile
        .control_ids
        .iter()
        .map(|id| label_from_oscal_id(id))
        .collect();
    labels.dedup();
    framework_record(
        id,
        &FrameworkDetails {
            kind: "baseline",
            title: metadata.title.clone(),
            version: metadata.version.clone(),
            oscal_version: metadata.oscal_version.clone(),
            last_modified: metadata.last_modified.clone(),
            baseline_of: Some(base),
            control_count: labels.len(),
            controls: Some(labels),
            include_all: profile.include_all,
        },
    )
}

/// `ac-2` → `AC-2`, `ac-2.1` → `AC-2(1)`: the SP 800-53 label a profile's `with-id` stands for. Ids of other
/// shapes are kept as they are.
fn label_from_oscal_id(id: &str) -> String {
    let (base, enhancement) = match id.split_once('.') {
        Some((base, enhancement)) => (base, Some(enhancement)),
        None => (id, None),
    };
    let Some((family, number)) = base.split_once('-') else {
        return id.to_owned();
    };
    let well_formed = family.len() == 2
        && family
            .chars()
            .all(|character| character.is_ascii_alphabetic())
        && !number.is_empty()
        && number.chars().all(|character| character.is_ascii_digit())
        && enhancement.is_none_or(|enhancement| {
            !enhancement.is_empty()
                && enhancement
                    .chars()
                    .all(|character| character.is_ascii_digit())
        });
    if !well_formed {
        return id.to_owned();
    }
    let family = family.to_ascii_uppercase();
    match enhancement {
        Some(enhancement) => format!("{family}-{number}({enhancement})"),
        None => format!("{family}-{number}"),
    }
}

struct ControlContext<'a> {
    catalog: &'a Catalog,
    scope: &'a str,
}

impl ControlContext<'_> {
    fn collect_group(&self, group: &Group, records: &mut Vec<CatalogRecord>) {
        for control in &group.controls {
            self.collect(control, Some(group), None, records);
        }
        for inner in &group.groups {
            self.collect_group(inner, records);
        }
    }

    fn collect(
        &self,
        control: &Control,
        family: Option<&Group>,
        parent: Option<&str>,
        records: &mut Vec<CatalogRecord>,
    ) {
        let label = control_label(control);
        let statement = control
            .parts
            .iter()
            .find(|part| part.name == "statement")
            .map(|part| self.render_part_tree(part))
            .filter(|text| !text.is_empty());
        let guidance = control
            .parts
            .iter()
            .find(|part| part.name == "guidance")
            .map(|part| {
                part.paragraphs
                    .iter()
                    .map(|paragraph| self.render_prose(paragraph, 0))
                    .collect::<Vec<_>>()
                    .join("\n\n")
            })
            .filter(|text| !text.is_empty());
        let details = ControlDetails {
            oscal_id: control.id.clone(),
            class: control.class.clone(),
            family_id: family.and_then(|group| group.id.clone()),
            family: family.map(|group| group.title.clone()),
            parent: parent.map(str::to_owned),
            statement,
            guidance,
            catalog_version: self.catalog.metadata.version.clone(),
        };
        records.push(CatalogRecord {
            kind: RecordKind::Control,
            scope: self.scope.to_owned(),
            id: label.clone(),
            name: control.title.clone(),
            status: if control.withdrawn {
                RecordStatus::Deprecated
            } else {
                RecordStatus::Active
            },
            techniques: Vec::new(),
            details: serde_json::to_value(&details).unwrap_or(Value::Null),
        });
        for enhancement in &control.controls {
            self.collect(enhancement, family, Some(&label), records);
        }
    }

    /// One line per part with a label or prose, nested parts indented under labelled ones.
    fn render_part_tree(&self, part: &Part) -> String {
        let mut lines = Vec::new();
        self.render_part(part, 0, &mut lines);
        lines.join("\n")
    }

    fn render_part(&self, part: &Part, depth: usize, lines: &mut Vec<String>) {
        let prose = part
            .paragraphs
            .iter()
            .map(|paragraph| self.render_prose(paragraph, 0))
            .filter(|text| !text.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        let line = match (&part.label, prose.is_empty()) {
            (Some(label), false) => format!("{label} {prose}"),
            (Some(label), true) => label.clone(),
            (None, _) => prose,
        };
        if !line.is_empty() {
            lines.push(format!("{}{line}", "  ".repeat(depth)));
        }
        let child_depth = if part.label.is_some() {
            depth + 1
        } else {
            depth
        };
        for child in &part.parts {
            self.render_part(child, child_depth, lines);
        }
    }

    /// Prose as plain text; `nesting` bounds parameters whose choices insert parameters (possibly themselves).
    fn render_prose(&self, prose: &Prose, nesting: usize) -> String {
        let mut text = String::new();
        for inline in prose {
            match inline {
                Inline::Text(part) => text.push_str(part),
                Inline::Parameter(id) => text.push_str(&self.render_parameter(id, nesting)),
            }
        }
        collapse_whitespace(&text)
    }

    fn render_parameter(&self, id: &str, nesting: usize) -> String {
        if nesting > 4 {
            return format!("[{id}]");
        }
        match self.catalog.parameters.get(id) {
            Some(Selection::Label(label)) => format!("[Assignment: {label}]"),
            Some(Selection::Select { how_many, choices }) => {
                let choices: Vec<String> = choices
                    .iter()
                    .map(|choice| self.render_prose(choice, nesting + 1))
                    .collect();
                // `one` (or nothing) picks a single choice; OSCAL's only other value is `one-or-more`.
                let how_many = match how_many.as_deref() {
                    Some("one") | None => "",
                    Some(_) => " (one or more)",
                };
                format!("[Selection{how_many}: {}]", choices.join("; "))
            }
            None => format!("[Assignment: {id}]"),
        }
    }
}

/// The label prop without a class, else any label prop, else the OSCAL id.
fn control_label(control: &Control) -> String {
    control
        .labels
        .iter()
        .find(|(class, _)| class.is_none())
        .or_else(|| control.labels.first())
        .map_or_else(
            || label_from_oscal_id(&control.id),
            |(_, label)| label.clone(),
        )
}

fn collapse_whitespace(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

// ---------------------------------------------------------------------------------------------------------
// XML form: a small element tree first (mixed content needs siblings in order), then the model.

#[derive(Debug, Default)]
struct XmlElement {
    /// Local name: OSCAL puts everything in a default namespace.
    name: String,
    attributes: Vec<(String, String)>,
    children: Vec<XmlNode>,
}

#[derive(Debug)]
enum XmlNode {
    Element(XmlElement),
    Text(String),
}

impl XmlElement {
    fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    fn elements(&self) -> impl Iterator<Item = &XmlElement> {
        self.children.iter().filter_map(|child| match child {
            XmlNode::Element(element) => Some(element),
            XmlNode::Text(_) => None,
        })
    }

    fn elements_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a XmlElement> {
        self.elements().filter(move |element| element.name == name)
    }

    fn first(&self, name: &str) -> Option<&XmlElement> {
        self.elements().find(|element| element.name == name)
    }

    /// All text below this element, markup dropped.
    fn text(&self) -> String {
        let mut text = String::new();
        self.append_text(&mut text);
        collapse_whitespace(&text)
    }

    fn append_text(&self, text: &mut String) {
        for child in &self.children {
            match child {
                XmlNode::Text(part) => text.push_str(part),
                XmlNode::Element(element) => element.append_text(text),
            }
        }
    }

    /// Mixed content as prose: text and `<insert type="param">` in document order, other markup flattened.
    fn prose(&self) -> Prose {
        let mut prose = Vec::new();
        self.append_prose(&mut prose);
        prose
    }

    fn append_prose(&self, prose: &mut Prose) {
        for child in &self.children {
            match child {
                XmlNode::Text(part) => prose.push(Inline::Text(part.clone())),
                XmlNode::Element(element) if element.name == "insert" => {
                    if let Some(id) = element.attribute("id-ref") {
                        prose.push(Inline::Parameter(id.to_owned()));
                    }
                }
                XmlNode::Element(element) => element.append_prose(prose),
            }
        }
    }
}

fn attributes_of(start: &BytesStart<'_>) -> Result<Vec<(String, String)>, OscalFileError> {
    let mut attributes = Vec::new();
    for attribute in start.attributes() {
        let attribute = attribute.map_err(|error| OscalFileError::Xml(error.to_string()))?;
        let key = attribute.key.local_name().as_ref().to_owned();
        let value = quick_xml::escape::unescape(&attribute.value)
            .map_err(|error| OscalFileError::Xml(error.to_string()))?
            .into_owned();
        attributes.push((key, value));
    }
    Ok(attributes)
}

/// Reads the whole document into a tree and returns its root element.
fn xml_tree(text: &str) -> Result<XmlElement, OscalFileError> {
    let mut reader = Reader::from_str(text);
    // The document element sits on a stack of open elements; index 0 collects the root.
    let mut stack: Vec<XmlElement> = vec![XmlElement::default()];
    loop {
        let event = reader
            .read_event()
            .map_err(|error| OscalFileError::Xml(error.to_string()))?;
        match event {
            Event::Start(start) => {
                if stack.len() > MAX_DEPTH {
                    return Err(OscalFileError::TooDeep);
                }
                stack.push(XmlElement {
                    name: start.local_name().as_ref().to_owned(),
                    attributes: attributes_of(&start)?,
                    children: Vec::new(),
                });
            }
            Event::Empty(start) => {
                let element = XmlElement {
                    name: start.local_name().as_ref().to_owned(),
                    attributes: attributes_of(&start)?,
                    children: Vec::new(),
                };
                if let Some(open) = stack.last_mut() {
                    open.children.push(XmlNode::Element(element));
                }
            }
            Event::End(_) => {
                if stack.len() < 2 {
                    return Err(OscalFileError::Xml("unexpected end tag".to_owned()));
                }
                if let (Some(element), Some(open)) = (stack.pop(), stack.last_mut()) {
                    open.children.push(XmlNode::Element(element));
                }
            }
            Event::Text(text) => push_text(&mut stack, &text.xml10_content()),
            Event::CData(data) => push_text(&mut stack, &data.xml10_content()),
            // quick-xml 0.42 reports `&amp;`, `&#x2019;` … as their own events: stitch them into the text.
            Event::GeneralRef(reference) => {
                let name = reference.xml10_content();
                let resolved = quick_xml::escape::unescape(&format!("&{name};"))
                    .map_or_else(|_| format!("&{name};"), std::borrow::Cow::into_owned);
                push_text(&mut stack, &resolved);
            }
            Event::Eof => break,
            Event::Comment(_) | Event::Decl(_) | Event::PI(_) | Event::DocType(_) => {}
        }
    }
    if stack.len() != 1 {
        return Err(OscalFileError::Xml(
            "unclosed element at end of file".to_owned(),
        ));
    }
    stack
        .pop()
        .and_then(|document| {
            document.children.into_iter().find_map(|child| match child {
                XmlNode::Element(element) => Some(element),
                XmlNode::Text(_) => None,
            })
        })
        .ok_or_else(|| OscalFileError::Xml("no root element".to_owned()))
}

/// Appends text to the open element, joining it with a preceding text node (split by entity references).
fn push_text(stack: &mut [XmlElement], text: &str) {
    let Some(open) = stack.last_mut() else {
        return;
    };
    if let Some(XmlNode::Text(previous)) = open.children.last_mut() {
        previous.push_str(text);
    } else {
        open.children.push(XmlNode::Text(text.to_owned()));
    }
}

fn xml_document(root: &XmlElement) -> Result<Option<Document>, OscalFileError> {
    match root.name.as_str() {
        "catalog" => Ok(Some(Document::Catalog(xml_catalog(root)))),
        "profile" => Ok(Some(Document::Profile(xml_profile(root)))),
        name if OTHER_OSCAL_MODELS.contains(&name) => Ok(None),
        name => Err(OscalFileError::NotOscal(name.to_owned())),
    }
}

fn xml_metadata(root: &XmlElement) -> Metadata {
    let Some(metadata) = root.first("metadata") else {
        return Metadata::default();
    };
    let field = |name: &str| {
        metadata
            .first(name)
            .map(XmlElement::text)
            .filter(|text| !text.is_empty())
    };
    Metadata {
        title: field("title").unwrap_or_default(),
        version: field("version"),
        oscal_version: field("oscal-version"),
        last_modified: field("last-modified"),
        resolved: metadata
            .elements_named("prop")
            .any(|prop| prop.attribute("name") == Some("resolution-tool"))
            || metadata
                .elements_named("link")
                .any(|link| link.attribute("rel") == Some("source-profile")),
    }
}

fn xml_catalog(root: &XmlElement) -> Catalog {
    let mut catalog = Catalog {
        metadata: xml_metadata(root),
        ..Catalog::default()
    };
    let mut parameters = HashMap::new();
    xml_parameters(root, &mut parameters, 0);
    catalog.parameters = parameters;
    catalog.groups = root
        .elements_named("group")
        .map(|group| xml_group(group, 0))
        .collect();
    catalog.controls = root
        .elements_named("control")
        .map(|control| xml_control(control, 0))
        .collect();
    catalog
}

/// Every `<param>` anywhere in the catalog (controls, groups, the catalog itself), by id.
fn xml_parameters(element: &XmlElement, parameters: &mut HashMap<String, Selection>, depth: usize) {
    if depth > MAX_DEPTH {
        return;
    }
    for child in element.elements() {
        if child.name == "param" {
            if let Some(id) = child.attribute("id") {
                parameters.insert(id.to_owned(), xml_parameter(child));
            }
        } else {
            xml_parameters(child, parameters, depth + 1);
        }
    }
}

fn xml_parameter(param: &XmlElement) -> Selection {
    if let Some(select) = param.first("select") {
        return Selection::Select {
            how_many: select.attribute("how-many").map(str::to_owned),
            choices: select
                .elements_named("choice")
                .map(XmlElement::prose)
                .collect(),
        };
    }
    let label = param
        .first("label")
        .map(XmlElement::text)
        .or_else(|| param.first("guideline").map(XmlElement::text))
        .unwrap_or_else(|| param.attribute("id").unwrap_or_default().to_owned());
    Selection::Label(label)
}

fn xml_group(group: &XmlElement, depth: usize) -> Group {
    Group {
        id: group.attribute("id").map(str::to_owned),
        title: group
            .first("title")
            .map(XmlElement::text)
            .unwrap_or_default(),
        groups: if depth < MAX_DEPTH {
            group
                .elements_named("group")
                .map(|inner| xml_group(inner, depth + 1))
                .collect()
        } else {
            Vec::new()
        },
        controls: group
            .elements_named("control")
            .map(|control| xml_control(control, depth + 1))
            .collect(),
    }
}

fn xml_control(control: &XmlElement, depth: usize) -> Control {
    let props: Vec<&XmlElement> = control.elements_named("prop").collect();
    Control {
        id: control.attribute("id").unwrap_or_default().to_owned(),
        class: control.attribute("class").map(str::to_owned),
        title: control
            .first("title")
            .map(XmlElement::text)
            .unwrap_or_default(),
        labels: props
            .iter()
            .filter(|prop| prop.attribute("name") == Some("label"))
            .filter_map(|prop| {
                Some((
                    prop.attribute("class").map(str::to_owned),
                    prop.attribute("value")?.trim().to_owned(),
                ))
            })
            .collect(),
        withdrawn: props.iter().any(|prop| {
            prop.attribute("name") == Some("status")
                && prop
                    .attribute("value")
                    .is_some_and(|value| value.trim().eq_ignore_ascii_case("withdrawn"))
        }),
        parts: control
            .elements_named("part")
            .map(|part| xml_part(part, depth + 1))
            .collect(),
        controls: if depth < MAX_DEPTH {
            control
                .elements_named("control")
                .map(|inner| xml_control(inner, depth + 1))
                .collect()
        } else {
            Vec::new()
        },
    }
}

/// Elements of a part that are not prose.
const PART_STRUCTURE: [&str; 5] = ["part", "prop", "title", "link", "param"];

fn xml_part(part: &XmlElement, depth: usize) -> Part {
    Part {
        name: part.attribute("name").unwrap_or_default().to_owned(),
        label: part
            .elements_named("prop")
            .find(|prop| prop.attribute("name") == Some("label"))
            .and_then(|prop| prop.attribute("value"))
            .map(|label| label.trim().to_owned()),
        paragraphs: part
            .elements()
            .filter(|element| !PART_STRUCTURE.contains(&element.name.as_str()))
            .map(XmlElement::prose)
            .collect(),
        parts: if depth < MAX_DEPTH {
            part.elements_named("part")
                .map(|inner| xml_part(inner, depth + 1))
                .collect()
        } else {
            Vec::new()
        },
    }
}

fn xml_profile(root: &XmlElement) -> Profile {
    let mut profile = Profile {
        metadata: xml_metadata(root),
        ..Profile::default()
    };
    for import in root.elements_named("import") {
        profile.include_all |= import.first("include-all").is_some();
        for include in import.elements_named("include-controls") {
            profile.control_ids.extend(
                include
                    .elements_named("with-id")
                    .map(XmlElement::text)
                    .filter(|id| !id.is_empty()),
            );
        }
    }
    profile
}

// ---------------------------------------------------------------------------------------------------------
// JSON form.

fn json_document(value: &Value) -> Result<Option<Document>, OscalFileError> {
    let Some(object) = value.as_object() else {
        return Err(OscalFileError::NotOscal("not an object".to_owned()));
    };
    if let Some(catalog) = object.get("catalog") {
        return Ok(Some(Document::Catalog(json_catalog(catalog))));
    }
    if let Some(profile) = object.get("profile") {
        return Ok(Some(Document::Profile(json_profile(profile))));
    }
    if OTHER_OSCAL_MODELS
        .iter()
        .any(|model| object.contains_key(*model))
    {
        return Ok(None);
    }
    let keys: Vec<&str> = object.keys().map(String::as_str).collect();
    Err(OscalFileError::NotOscal(keys.join(", ")))
}

fn json_text(value: &Value, key: &str) -> Option<String> {
    value
        .get(key)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|text| !text.is_empty())
        .map(str::to_owned)
}

fn json_list<'a>(value: &'a Value, key: &str) -> &'a [Value] {
    value
        .get(key)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

/// `name`/`value`/`class` props.
fn json_props<'a>(value: &'a Value, name: &'a str) -> impl Iterator<Item = &'a Value> {
    json_list(value, "props")
        .iter()
        .filter(move |prop| prop.get("name").and_then(Value::as_str) == Some(name))
}

fn json_metadata(root: &Value) -> Metadata {
    let metadata = root.get("metadata").unwrap_or(&Value::Null);
    Metadata {
        title: json_text(metadata, "title")
            .map(|title| markdown_to_text(&title))
            .unwrap_or_default(),
        version: json_text(metadata, "version"),
        oscal_version: json_text(metadata, "oscal-version"),
        last_modified: json_text(metadata, "last-modified"),
        resolved: json_props(metadata, "resolution-tool").next().is_some()
            || json_list(metadata, "links")
                .iter()
                .any(|link| link.get("rel").and_then(Value::as_str) == Some("source-profile")),
    }
}

static MOUSTACHE_INSERT: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"\{\{\s*insert:\s*param,\s*([^\s}]+)\s*\}\}").ok());

/// Markdown prose with `{{ insert: param, id }}` as [`Prose`].
fn json_prose(markdown: &str) -> Prose {
    let Some(pattern) = MOUSTACHE_INSERT.as_ref() else {
        return vec![Inline::Text(markdown_to_text(markdown))];
    };
    let mut prose = Vec::new();
    let mut last = 0;
    for captures in pattern.captures_iter(markdown) {
        let (Some(whole), Some(id)) = (captures.get(0), captures.get(1)) else {
            continue;
        };
        prose.push(Inline::Text(markdown_to_text(
            &markdown[last..whole.start()],
        )));
        prose.push(Inline::Parameter(id.as_str().to_owned()));
        last = whole.end();
    }
    prose.push(Inline::Text(markdown_to_text(&markdown[last..])));
    prose
}

/// The few Markdown marks OSCAL prose uses (`*em*`, `**strong**`, backslash escapes), dropped for plain text.
fn markdown_to_text(markdown: &str) -> String {
    let mut text = String::with_capacity(markdown.len());
    let mut characters = markdown.chars().peekable();
    while let Some(character) = characters.next() {
        match character {
            '\\' => {
                if let Some(escaped) = characters.next() {
                    text.push(escaped);
                }
            }
            '*' => {}
            other => text.push(other),
        }
    }
    text
}

fn json_catalog(root: &Value) -> Catalog {
    let mut parameters = HashMap::new();
    json_parameters(root, &mut parameters, 0);
    Catalog {
        metadata: json_metadata(root),
        groups: json_list(root, "groups")
            .iter()
            .map(|group| json_group(group, 0))
            .collect(),
        controls: json_list(root, "controls")
            .iter()
            .map(|control| json_control(control, 0))
            .collect(),
        parameters,
    }
}

fn json_parameters(value: &Value, parameters: &mut HashMap<String, Selection>, depth: usize) {
    if depth > MAX_DEPTH {
        return;
    }
    for param in json_list(value, "params") {
        if let Some(id) = json_text(param, "id") {
            parameters.insert(id, json_parameter(param));
        }
    }
    for key in ["groups", "controls"] {
        for child in json_list(value, key) {
            json_parameters(child, parameters, depth + 1);
        }
    }
}

fn json_parameter(param: &Value) -> Selection {
    if let Some(select) = param.get("select") {
        // OSCAL 1.0 calls the list `choice`, 1.1 `choice` too in JSON, some tools `choices`.
        let choices = select
            .get("choice")
            .or_else(|| select.get("choices"))
            .and_then(Value::as_array)
            .map(|choices| {
                choices
                    .iter()
                    .filter_map(Value::as_str)
                    .map(json_prose)
                    .collect()
            })
            .unwrap_or_default();
        return Selection::Select {
            how_many: json_text(select, "how-many"),
            choices,
        };
    }
    let label = json_text(param, "label")
        .or_else(|| {
            json_list(param, "guidelines")
                .first()
                .and_then(|guideline| json_text(guideline, "prose"))
        })
        .or_else(|| json_text(param, "id"))
        .unwrap_or_default();
    Selection::Label(collapse_whitespace(&markdown_to_text(&label)))
}

fn json_group(group: &Value, depth: usize) -> Group {
    Group {
        id: json_text(group, "id"),
        title: json_text(group, "title").unwrap_or_default(),
        groups: if depth < MAX_DEPTH {
            json_list(group, "groups")
                .iter()
                .map(|inner| json_group(inner, depth + 1))
                .collect()
        } else {
            Vec::new()
        },
        controls: json_list(group, "controls")
            .iter()
            .map(|control| json_control(control, depth + 1))
            .collect(),
    }
}

fn json_control(control: &Value, depth: usize) -> Control {
    Control {
        id: json_text(control, "id").unwrap_or_default(),
        class: json_text(control, "class"),
        title: json_text(control, "title")
            .map(|title| markdown_to_text(&title))
            .unwrap_or_default(),
        labels: json_props(control, "label")
            .filter_map(|prop| Some((json_text(prop, "class"), json_text(prop, "value")?)))
            .collect(),
        withdrawn: json_props(control, "status").any(|prop| {
            json_text(prop, "value").is_some_and(|value| value.eq_ignore_ascii_case("withdrawn"))
        }),
        parts: json_list(control, "parts")
            .iter()
            .map(|part| json_part(part, depth + 1))
            .collect(),
        controls: if depth < MAX_DEPTH {
            json_list(control, "controls")
                .iter()
                .map(|inner| json_control(inner, depth + 1))
                .collect()
        } else {
            Vec::new()
        },
    }
}

fn json_part(part: &Value, depth: usize) -> Part {
    Part {
        name: json_text(part, "name").unwrap_or_default(),
        label: json_props(part, "label")
            .next()
            .and_then(|prop| json_text(prop, "value")),
        paragraphs: part
            .get("prose")
            .and_then(Value::as_str)
            .map(|prose| prose.split("\n\n").map(json_prose).collect::<Vec<_>>())
            .unwrap_or_default(),
        parts: if depth < MAX_DEPTH {
            json_list(part, "parts")
                .iter()
                .map(|inner| json_part(inner, depth + 1))
                .collect()
        } else {
            Vec::new()
        },
    }
}

fn json_profile(root: &Value) -> Profile {
    let mut profile = Profile {
        metadata: json_metadata(root),
        ..Profile::default()
    };
    for import in json_list(root, "imports") {
        profile.include_all |= import.get("include-all").is_some();
        for include in json_list(import, "include-controls") {
            profile.control_ids.extend(
                json_list(include, "with-ids")
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::trim)
                    .filter(|id| !id.is_empty())
                    .map(str::to_owned),
            );
        }
    }
    profile
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

    /// SP 800-53 shaped catalog: default namespace, processing instruction, a nested enhancement, 5.1.1-style
    /// label props with and without class, a withdrawn control, mixed-content prose with inserts and `&amp;`.
    const CATALOG_XML: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<?xml-model href="oscal_complete_schema.xsd"?>
<catalog xmlns="http://csrc.nist.gov/ns/oscal/1.0" uuid="u">
  <metadata>
    <title>NIST Special Publication 800-53 Revision 5: Security and Privacy Controls</title>
    <last-modified>2021-06-08T13:57:33-04:00</last-modified>
    <version>5.0.1</version>
    <oscal-version>1.0.0</oscal-version>
  </metadata>
  <group class="family" id="ac">
    <title>Access Control</title>
    <control class="SP800-53" id="ac-2">
      <title>Account Management</title>
      <param id="ac-2_prm_1"><label>organization-defined prerequisites &amp; criteria</label></param>
      <param id="ac-2_prm_2">
        <select how-many="one-or-more"><choice>remove</choice><choice>disable after <insert type="param" id-ref="ac-2_prm_1"/></choice></select>
      </param>
      <prop name="label" value="AC-2"/>
      <prop name="label" class="zero-padded" value="AC-02"/>
      <prop name="label" class="sp800-53a" value="AC-02"/>
      <part name="statement" id="ac-2_smt">
        <part name="item" id="ac-2_smt.a">
          <prop name="label" value="a."/>
          <p>Require <insert type="param" id-ref="ac-2_prm_1"/> for group &amp; role <em>membership</em>;</p>
          <part name="item" id="ac-2_smt.a.1">
            <prop name="label" value="1."/>
            <p><insert type="param" id-ref="ac-2_prm_2"/> accounts.</p>
          </part>
        </part>
      </part>
      <part name="guidance" id="ac-2_gdn"><p>Examples of account types &#x2014; individual.</p></part>
      <control class="SP800-53-enhancement" id="ac-2.1">
        <title>Automated System Account Management</title>
        <prop name="label" value="AC-2(1)"/>
        <part name="statement" id="ac-2.1_smt"><p>Support it.</p></part>
      </control>
      <control class="SP800-53-enhancement" id="ac-2.10">
        <title>Shared and Group Account Credential Change</title>
        <prop name="label" value="AC-2(10)"/>
        <prop name="status" value="withdrawn"/>
      </control>
    </control>
  </group>
</catalog>"#;

    const CATALOG_JSON: &str = r#"{"catalog": {"uuid": "u",
      "metadata": {"title": "NIST Special Publication 800-53 Revision 5: Security and Privacy Controls",
        "last-modified": "2021-06-08T13:57:33-04:00", "version": "5.0.1", "oscal-version": "1.0.0"},
      "groups": [{"id": "ac", "class": "family", "title": "Access Control", "controls": [
        {"id": "ac-2", "class": "SP800-53", "title": "Account Management",
         "params": [{"id": "ac-2_prm_1", "label": "organization-defined prerequisites & criteria"},
                    {"id": "ac-2_prm_2", "select": {"how-many": "one-or-more",
                      "choice": ["remove", "disable after {{ insert: param, ac-2_prm_1 }}"]}}],
         "props": [{"name": "label", "value": "AC-2"}, {"name": "label", "class": "zero-padded", "value": "AC-02"}],
         "parts": [{"id": "ac-2_smt", "name": "statement", "parts": [
           {"id": "ac-2_smt.a", "name": "item", "props": [{"name": "label", "value": "a."}],
            "prose": "Require {{ insert: param, ac-2_prm_1 }} for group & role *membership*;",
            "parts": [{"id": "ac-2_smt.a.1", "name": "item", "props": [{"name": "label", "value": "1."}],
                       "prose": "{{ insert: param, ac-2_prm_2 }} accounts."}]}]},
           {"id": "ac-2_gdn", "name": "guidance", "prose": "Examples of account types — individual."}],
         "controls": [
           {"id": "ac-2.1", "class": "SP800-53-enhancement", "title": "Automated System Account Management",
            "props": [{"name": "label", "value": "AC-2(1)"}],
            "parts": [{"id": "ac-2.1_smt", "name": "statement", "prose": "Support it."}]},
           {"id": "ac-2.10", "class": "SP800-53-enhancement", "title": "Shared and Group Account Credential Change",
            "props": [{"name": "label", "value": "AC-2(10)"}, {"name": "status", "value": "withdrawn"}]}]}]}]}}"#;

    const EXPECTED_STATEMENT: &str = "a. Require [Assignment: organization-defined prerequisites & criteria] for group & role membership;\n  1. [Selection (one or more): remove; disable after [Assignment: organization-defined prerequisites & criteria]] accounts.";

    fn record<'a>(parsed: &'a Parsed, kind: RecordKind, id: &str) -> &'a CatalogRecord {
        parsed
            .records
            .iter()
            .find(|record| record.kind == kind && record.id == id)
            .unwrap_or_else(|| panic!("no {kind:?} {id}"))
    }

    #[test]
    fn default_namespace_and_processing_instruction_do_not_hide_controls() {
        let parsed = parse(&[file("catalog.xml", CATALOG_XML)]);
        assert!(parsed.failures.is_empty(), "{:?}", parsed.failures);
        let ids: Vec<&str> = parsed
            .records
            .iter()
            .map(|record| record.id.as_str())
            .collect();
        assert_eq!(ids, ["nist_800_53-rev5", "AC-2", "AC-2(1)", "AC-2(10)"]);
        assert_eq!(parsed.upstream_version.as_deref(), Some("5.0.1"));
    }

    #[test]
    fn framework_record_uses_the_ctid_slug_under_scope_oscal() {
        let parsed = parse(&[file("catalog.xml", CATALOG_XML)]);
        let framework = record(&parsed, RecordKind::ComplianceFramework, "nist_800_53-rev5");
        assert_eq!(framework.scope, "oscal");
        assert_eq!(
            framework.name,
            "NIST Special Publication 800-53 Revision 5: Security and Privacy Controls"
        );
        assert_eq!(framework.details["version"], "5.0.1");
        assert_eq!(framework.details["oscal_version"], "1.0.0");
        assert_eq!(
            framework.details["last_modified"],
            "2021-06-08T13:57:33-04:00"
        );
    }

    #[test]
    fn label_without_class_is_the_id_and_nested_enhancements_know_their_parent() {
        let parsed = parse(&[file("catalog.xml", CATALOG_XML)]);
        let control = record(&parsed, RecordKind::Control, "AC-2");
        assert_eq!(control.scope, "nist_800_53-rev5");
        assert_eq!(control.name, "Account Management");
        assert_eq!(control.details["oscal_id"], "ac-2");
        assert_eq!(control.details["family"], "Access Control");
        assert_eq!(control.details["family_id"], "ac");
        assert!(control.details["parent"].is_null());
        let enhancement = record(&parsed, RecordKind::Control, "AC-2(1)");
        assert_eq!(enhancement.details["parent"], "AC-2");
        assert_eq!(enhancement.details["family_id"], "ac");
    }

    #[test]
    fn withdrawn_controls_are_deprecated() {
        let parsed = parse(&[file("catalog.xml", CATALOG_XML)]);
        assert_eq!(
            record(&parsed, RecordKind::Control, "AC-2(10)").status,
            RecordStatus::Deprecated
        );
        assert_eq!(
            record(&parsed, RecordKind::Control, "AC-2").status,
            RecordStatus::Active
        );
    }

    #[test]
    fn mixed_content_statement_renders_params_and_stitches_entity_references() {
        let parsed = parse(&[file("catalog.xml", CATALOG_XML)]);
        let control = record(&parsed, RecordKind::Control, "AC-2");
        assert_eq!(control.details["statement"], EXPECTED_STATEMENT);
        assert_eq!(
            control.details["guidance"],
            "Examples of account types \u{2014} individual."
        );
    }

    #[test]
    fn json_form_with_wrapper_kebab_keys_and_moustaches_matches_the_xml() {
        let from_json = parse(&[file("catalog.json", CATALOG_JSON)]);
        assert!(from_json.failures.is_empty(), "{:?}", from_json.failures);
        let from_xml = parse(&[file("catalog.xml", CATALOG_XML)]);
        assert_eq!(from_json.records, from_xml.records);
        assert_eq!(
            record(&from_json, RecordKind::Control, "AC-2").details["statement"],
            EXPECTED_STATEMENT
        );
    }

    #[test]
    fn both_forms_in_one_import_give_one_record_per_key() {
        let parsed = parse(&[
            file("catalog.xml", CATALOG_XML),
            file("catalog.json", CATALOG_JSON),
        ]);
        assert_eq!(parsed.records.len(), 4);
    }

    const PROFILE_XML: &str = r##"<?xml version="1.0"?>
<?xml-model href="x.xsd"?>
<profile xmlns="http://csrc.nist.gov/ns/oscal/1.0" uuid="p">
  <metadata><title>NIST Special Publication 800-53 Revision 5.1.1 LOW IMPACT BASELINE</title>
    <version>5.1.1+u4</version><oscal-version>1.1.2</oscal-version></metadata>
  <import href="#84cbf061"><include-controls><with-id>ac-1</with-id><with-id>ac-2</with-id><with-id>at-2.2</with-id></include-controls></import>
  <merge><as-is>true</as-is></merge>
</profile>"##;

    #[test]
    fn profile_becomes_a_baseline_listing_control_labels() {
        let parsed = parse(&[file("low.xml", PROFILE_XML)]);
        assert!(parsed.failures.is_empty(), "{:?}", parsed.failures);
        assert_eq!(parsed.records.len(), 1);
        let baseline = record(
            &parsed,
            RecordKind::ComplianceFramework,
            "nist_800_53-rev5-low",
        );
        assert_eq!(baseline.scope, "oscal");
        assert_eq!(baseline.details["kind"], "baseline");
        assert_eq!(baseline.details["baseline_of"], "nist_800_53-rev5");
        assert_eq!(
            baseline.details["controls"],
            serde_json::json!(["AC-1", "AC-2", "AT-2(2)"])
        );
        let json = r##"{"profile": {"uuid": "p", "metadata": {"title": "NIST Special Publication 800-53 Revision 5.1.1 LOW IMPACT BASELINE", "version": "5.1.1+u4"},
            "imports": [{"href": "#84cbf061", "include-controls": [{"with-ids": ["ac-1", "ac-2", "at-2.2"]}]}]}}"##;
        let from_json = parse(&[file("low.json", json)]);
        assert_eq!(
            record(
                &from_json,
                RecordKind::ComplianceFramework,
                "nist_800_53-rev5-low"
            )
            .details["controls"],
            baseline.details["controls"]
        );
    }

    #[test]
    fn resolved_profile_catalog_fills_the_base_framework_and_names_its_baseline() {
        let resolved = CATALOG_XML
            .replace(
                "Revision 5: Security and Privacy Controls",
                "Revision 5.1.1 LOW IMPACT BASELINE",
            )
            .replace(
                "<oscal-version>1.0.0</oscal-version>",
                "<oscal-version>1.1.2</oscal-version><prop name=\"resolution-tool\" value=\"OPRXP\"/>",
            );
        let parsed = parse(&[file("low-resolved.xml", &resolved)]);
        let baseline = record(
            &parsed,
            RecordKind::ComplianceFramework,
            "nist_800_53-rev5-low",
        );
        assert_eq!(
            baseline.details["controls"],
            serde_json::json!(["AC-2", "AC-2(1)", "AC-2(10)"])
        );
        assert_eq!(
            record(&parsed, RecordKind::Control, "AC-2").scope,
            "nist_800_53-rev5"
        );
        // A full catalog in the same import wins for the control records.
        let both = parse(&[
            file("low-resolved.xml", &resolved),
            file("catalog.xml", CATALOG_XML),
        ]);
        assert_eq!(
            record(&both, RecordKind::Control, "AC-2").details["catalog_version"],
            "5.0.1"
        );
        assert_eq!(both.upstream_version.as_deref(), Some("5.0.1"));
    }

    #[test]
    fn other_catalogs_take_a_title_slug_nested_groups_and_classless_controls() {
        let json = r#"{"catalog": {"metadata": {"title": "Sample Security Catalog *for Demonstration*", "version": "1.1"},
          "groups": [{"id": "s1", "title": "Organization", "groups": [{"id": "s1.1", "title": "Internal Organization",
            "controls": [{"id": "s1.1.1", "title": "Roles", "parts": [{"name": "statement", "prose": "Define roles."}]}]}]}]}}"#;
        let parsed = parse(&[file("basic.json", json)]);
        assert!(parsed.failures.is_empty(), "{:?}", parsed.failures);
        let framework = record(
            &parsed,
            RecordKind::ComplianceFramework,
            "sample_security_catalog_for_demonstration",
        );
        assert_eq!(framework.name, "Sample Security Catalog for Demonstration");
        let control = record(&parsed, RecordKind::Control, "s1.1.1");
        assert_eq!(control.scope, "sample_security_catalog_for_demonstration");
        assert_eq!(control.details["family_id"], "s1.1");
        assert_eq!(control.details["statement"], "Define roles.");
    }

    #[test]
    fn other_oscal_models_are_skipped_and_foreign_files_fail() {
        let parsed = parse(&[
            file("ssp.json", r#"{"system-security-plan": {}}"#),
            file(
                "component.xml",
                "<component-definition xmlns=\"http://csrc.nist.gov/ns/oscal/1.0\"/>",
            ),
            file("layer.json", r#"{"layers": []}"#),
            file("broken.xml", "<catalog><metadata></catalog>"),
            file("catalog.xml", CATALOG_XML),
        ]);
        let failed: Vec<&str> = parsed
            .failures
            .iter()
            .map(|failure| failure.file.as_str())
            .collect();
        assert_eq!(failed, ["layer.json", "broken.xml"]);
        assert_eq!(parsed.records.len(), 4);
    }

    #[test]
    fn labels_from_profile_ids() {
        assert_eq!(label_from_oscal_id("ac-2"), "AC-2");
        assert_eq!(label_from_oscal_id("ac-2.13"), "AC-2(13)");
        assert_eq!(label_from_oscal_id("s1.1.1"), "s1.1.1");
        assert_eq!(label_from_oscal_id("ac-"), "ac-");
    }

    #[test]
    fn only_xml_and_json_are_accepted() {
        assert!(accepts(Path::new("oscal/rev5/xml/catalog.xml")));
        assert!(accepts(Path::new("oscal/rev5/json/catalog-min.json")));
        assert!(!accepts(Path::new("oscal/rev5/yaml/catalog.yaml")));
        assert!(!accepts(Path::new("oscal/README.md")));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = parse(&[SourceFile { path: PathBuf::from("x.xml"), bytes }]);
        }

        #[test]
        fn mutated_catalogs_never_panic(position in 0usize..8192, byte in any::<u8>(), json in any::<bool>()) {
            let mut bytes = if json { CATALOG_JSON } else { CATALOG_XML }.as_bytes().to_vec();
            let position = position % bytes.len();
            bytes[position] = byte;
            let _ = parse(&[SourceFile { path: PathBuf::from("x"), bytes }]);
        }

        #[test]
        fn deep_nesting_is_refused_not_overflowed(depth in 100usize..2000) {
            let text = format!("{}{}", "<catalog>".repeat(depth), "</catalog>".repeat(depth));
            let _ = parse(&[file("deep.xml", &text)]);
        }
    }
}
