//! LOLBAS (Living Off The Land Binaries, Scripts and Libraries, `yml/<collection>/<Entry>.yml`): one template
//! per command of an entry, because each command is its own procedure against its own technique
//! (`Rundll32.exe` executes a DLL for T1218.011 and hides one in an ADS for T1564.004).
//!
//! Scope "lolbas"; id `<Name>#<n>` (n is the 1-based position in `Commands`, stable as long as upstream only
//! appends), name `<Name>: <command description>` shortened to one line; details: the entry's name,
//! description, author, creation date and collection folder, then the command, its description, use case,
//! category, privileges, operating systems and tags, and the entry's paths, detections, resources, code samples
//! and aliases (repeated on every command of the entry, so one template is self-contained).
//!
//! Upstream quirks survived (see QUIRKS.md, "LOLBAS (YAML)"):
//! - `Created` is an unquoted date: read as text (YAML 1.2), never as a date type;
//! - `Privileges` and `OperatingSystem` are free text: kept as written;
//! - `Tags` and `Detection` are lists of single-key maps (`- Execute: DLL`, `- Sigma: https://…`), absent or
//!   **null**: read as `{key, value}` pairs, null and absent as none;
//! - command templates with placeholders (`{PATH_ABSOLUTE}`, `{REMOTEURL:.exe}`) and multi-line commands: kept
//!   verbatim;
//! - `Full_Path[].Path` may be "no default"; `Aliases` is a list of `{Alias}`; a Name that differs from the file
//!   name (`devtunnels.yml` → `devtunnel.exe`): the id uses Name, the file name is only for error reports.

use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_yaml_ng::Value as YamlValue;

use super::template_support::{
    SeenIds, has_ancestor_named, has_yaml_extension, key_text, non_blank, scalar_text,
    template_record, yaml_to_json,
};
use crate::record::{CatalogRecord, FileFailure, Parsed, SourceFile, technique_ids};
use domain::test_case::TemplateRef;

const SCOPE: &str = "lolbas";

/// How much of a command's description goes into a template's name; the full text is in the details.
const NAME_DESCRIPTION_MAX_CHARS: usize = 120;

/// Whether a file found by a directory walk belongs to this source: a YAML file under the `yml` folder (the
/// checkout's other YAML, CI workflows and the template, is not).
pub fn accepts(path: &Path) -> bool {
    has_yaml_extension(path) && has_ancestor_named(path, "yml")
}

/// Parses every file of one import; a file that cannot be used is reported in [`Parsed::failures`].
pub fn parse(files: &[SourceFile]) -> Parsed {
    let mut parsed = Parsed::default();
    let mut seen = SeenIds::default();
    for file in files {
        match serde_yaml_ng::from_slice::<RawEntry>(&file.bytes) {
            Ok(entry) => templates_from_entry(entry, &file.path, &mut seen, &mut parsed),
            Err(error) => parsed
                .failures
                .push(FileFailure::new(&file.path, LolbasError::Yaml(error))),
        }
    }
    parsed
}

/// Why a file, or one command in it, could not be used.
#[derive(Debug, thiserror::Error)]
enum LolbasError {
    #[error("not a LOLBAS entry: {0}")]
    Yaml(serde_yaml_ng::Error),
    #[error("the entry has no Name")]
    MissingName,
    #[error("command {number} cannot be named {id:?}: {reason}")]
    InvalidId {
        number: usize,
        id: String,
        reason: String,
    },
    #[error("command {id} is already imported from {first_file}")]
    DuplicateId { id: String, first_file: String },
    #[error("command {id} could not be stored: {source}")]
    Details {
        id: String,
        source: serde_json::Error,
    },
}

fn templates_from_entry(entry: RawEntry, file: &Path, seen: &mut SeenIds, parsed: &mut Parsed) {
    let Some(entry_name) = non_blank(entry.name).map(|name| name.trim().to_owned()) else {
        parsed
            .failures
            .push(FileFailure::new(file, LolbasError::MissingName));
        return;
    };
    let shared = EntryDetails {
        entry: entry_name.clone(),
        entry_description: entry.description,
        author: non_blank(entry.author),
        created: non_blank(entry.created),
        collection: collection_of(file),
        full_paths: values_named(&entry.full_path, "Path"),
        detections: key_value_pairs(&entry.detection),
        resources: values_named(&entry.resources, "Link"),
        code_samples: values_named(&entry.code_sample, "Code"),
        aliases: values_named(&entry.aliases, "Alias"),
    };
    for (index, command) in entry.commands.unwrap_or_default().into_iter().enumerate() {
        let number = index + 1;
        match template_from_command(command, number, &shared, file, seen) {
            Ok(record) => parsed.records.push(record),
            Err(error) => parsed.failures.push(FileFailure::new(file, error)),
        }
    }
}

fn template_from_command(
    command: RawCommand,
    number: usize,
    shared: &EntryDetails,
    file: &Path,
    seen: &mut SeenIds,
) -> Result<CatalogRecord, LolbasError> {
    let raw_id = format!("{}#{number}", shared.entry);
    let id = match TemplateRef::parse(&raw_id) {
        Ok(template_ref) => String::from(template_ref),
        Err(error) => {
            return Err(LolbasError::InvalidId {
                number,
                id: raw_id,
                reason: error.to_string(),
            });
        }
    };
    if let Err(first_file) = seen.claim(&id, file) {
        return Err(LolbasError::DuplicateId { id, first_file });
    }
    let summary = non_blank(command.description.clone())
        .or_else(|| non_blank(command.usecase.clone()))
        .map_or_else(
            || format!("command {number}"),
            |text| shorten(&text, NAME_DESCRIPTION_MAX_CHARS),
        );
    let name = format!("{}: {summary}", shared.entry);
    let mitre_id = non_blank(command.mitre_id).map(|mitre_id| mitre_id.trim().to_owned());
    let details = CommandDetails {
        shared,
        command_number: number,
        command: command.command,
        description: command.description,
        usecase: command.usecase,
        category: non_blank(command.category),
        privileges: non_blank(command.privileges),
        operating_system: non_blank(command.operating_system),
        mitre_id: mitre_id.clone(),
        tags: key_value_pairs(&command.tags),
    };
    template_record(
        SCOPE,
        id.clone(),
        name,
        technique_ids(mitre_id.as_deref()),
        &details,
    )
    .map_err(|source| LolbasError::Details { id, source })
}

/// The folder an entry sits in under `yml/` (`OSBinaries`, `OSLibraries`, `OSScripts`, `OtherMSBinaries`,
/// `HonorableMentions`): upstream's only statement of what kind of file the entry is.
fn collection_of(file: &Path) -> Option<String> {
    let parent = file.parent()?;
    let grandparent = parent.parent()?;
    (grandparent.file_name()? == "yml")
        .then(|| parent.file_name()?.to_str().map(str::to_owned))
        .flatten()
}

/// One line, whitespace collapsed, cut at a word boundary with an ellipsis when longer than `max` characters.
fn shorten(text: &str, max: usize) -> String {
    let line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if line.chars().count() <= max {
        return line;
    }
    let cut: String = line.chars().take(max).collect();
    let at_word = match cut.rfind(' ') {
        // Only back off to a word boundary when it does not throw away most of the text.
        Some(space) if space > max / 2 => &cut[..space],
        _ => cut.as_str(),
    };
    format!("{}…", at_word.trim_end_matches([' ', ',', ';', ':', '.']))
}

/// Reads a list of single-key maps (`- Execute: DLL`) as pairs, in order. A map with several keys gives several
/// pairs; null, absent and non-map items give none.
fn key_value_pairs(value: &YamlValue) -> Vec<KeyValue> {
    let Some(items) = value.as_sequence() else {
        return Vec::new();
    };
    items
        .iter()
        .filter_map(YamlValue::as_mapping)
        .flat_map(|mapping| mapping.iter())
        .filter(|(_, item)| !item.is_null())
        .map(|(key, item)| KeyValue {
            key: key_text(key),
            value: scalar_text(item).unwrap_or_else(|| yaml_to_json(item).to_string()),
        })
        .collect()
}

/// The values of `key` in a list of single-key maps (`Full_Path: [{Path: …}]`), skipping null ones.
fn values_named(value: &YamlValue, key: &str) -> Vec<String> {
    key_value_pairs(value)
        .into_iter()
        .filter(|pair| pair.key == key)
        .map(|pair| pair.value)
        .collect()
}

/// One LOLBAS file. Lists of single-key maps are read as YAML values so that null, absent and odd items are
/// survivable rather than fatal.
#[derive(Debug, Deserialize)]
struct RawEntry {
    #[serde(default, rename = "Name")]
    name: Option<String>,
    #[serde(default, rename = "Description")]
    description: Option<String>,
    #[serde(default, rename = "Author")]
    author: Option<String>,
    // An unquoted date upstream; the YAML 1.2 reader gives its text.
    #[serde(default, rename = "Created")]
    created: Option<String>,
    #[serde(default, rename = "Commands")]
    commands: Option<Vec<RawCommand>>,
    #[serde(default, rename = "Full_Path")]
    full_path: YamlValue,
    #[serde(default, rename = "Code_Sample")]
    code_sample: YamlValue,
    #[serde(default, rename = "Detection")]
    detection: YamlValue,
    #[serde(default, rename = "Resources")]
    resources: YamlValue,
    #[serde(default, rename = "Aliases")]
    aliases: YamlValue,
}

#[derive(Debug, Deserialize)]
struct RawCommand {
    #[serde(default, rename = "Command")]
    command: Option<String>,
    #[serde(default, rename = "Description")]
    description: Option<String>,
    #[serde(default, rename = "Usecase")]
    usecase: Option<String>,
    #[serde(default, rename = "Category")]
    category: Option<String>,
    #[serde(default, rename = "Privileges")]
    privileges: Option<String>,
    #[serde(default, rename = "MitreID")]
    mitre_id: Option<String>,
    #[serde(default, rename = "OperatingSystem")]
    operating_system: Option<String>,
    #[serde(default, rename = "Tags")]
    tags: YamlValue,
}

/// One `- Key: value` item of a LOLBAS list (`Execute: DLL`, `Sigma: https://…`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
struct KeyValue {
    key: String,
    value: String,
}

/// What every command of one entry shares.
#[derive(Debug, Serialize)]
struct EntryDetails {
    /// The entry's `Name` (`Rundll32.exe`).
    entry: String,
    entry_description: Option<String>,
    author: Option<String>,
    /// As written (`2018-05-25`).
    created: Option<String>,
    /// The folder under `yml/`, when the import kept it.
    collection: Option<String>,
    full_paths: Vec<String>,
    /// `{key: "Sigma" | "Elastic" | "Splunk" | "IOC" | "BlockRule" | "Analysis", value}`.
    detections: Vec<KeyValue>,
    resources: Vec<String>,
    code_samples: Vec<String>,
    aliases: Vec<String>,
}

/// The details of a LOLBAS command template.
#[derive(Debug, Serialize)]
struct CommandDetails<'entry> {
    #[serde(flatten)]
    shared: &'entry EntryDetails,
    /// 1-based position in the entry's `Commands`.
    command_number: usize,
    command: Option<String>,
    description: Option<String>,
    usecase: Option<String>,
    category: Option<String>,
    /// Free text upstream (`User`, `Local Admin`, `User, Administrator in Windows 8`).
    privileges: Option<String>,
    /// Free text upstream (`Windows 10 (and likely previous versions), Windows 11`).
    operating_system: Option<String>,
    /// As written, kept even when it is not a valid ATT&CK id.
    mitre_id: Option<String>,
    tags: Vec<KeyValue>,
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use proptest::prelude::*;
    use serde_json::json;

    use super::*;
    use crate::record::RecordKind;

    fn file(path: &str, text: &str) -> SourceFile {
        SourceFile {
            path: PathBuf::from(path),
            bytes: text.as_bytes().to_vec(),
        }
    }

    const ENTRY: &str = r"---
Name: Tool.exe
Description: Used by Windows to run things
Aliases:
  - Alias: Tool64.exe
  - Alias:
Author: Someone
Created: 2018-05-25
Commands:
  - Command: tool.exe {PATH_SMB:.dll},EntryPoint
    Description: Runs a DLL from an SMB share. EntryPoint is the name of the entry point in the DLL file to execute, and this sentence goes on for a while.
    Usecase: Execute DLL from SMB share.
    Category: Execute
    Privileges: User, Administrator in Windows 8
    MitreID: T1218.011
    OperatingSystem: Windows 10 (and likely previous versions), Windows 11
    Tags:
      - Execute: DLL
      - Execute: Remote
  - Command: |
      tool.exe /a
      tool.exe /b {REMOTEURL:.exe}
    Description: Two lines.
    Usecase: Download
    Category: Download
    Privileges: Local Admin
    MitreID: T1105
    OperatingSystem: Windows 11
Full_Path:
  - Path: C:\Windows\System32\tool.exe
  - Path: no default
Code_Sample:
Detection:
  - Sigma: https://github.com/SigmaHQ/sigma/blob/x/rules/a.yml
  - IOC: Outbound connections from tool.exe
Resources:
  - Link: https://example.org/post
Acknowledgement:
  - Person: Someone
    Handle:
";

    #[test]
    fn each_command_is_one_template_named_after_entry_and_description() {
        let parsed = parse(&[file("lolbas/yml/OSBinaries/Tool.yml", ENTRY)]);
        assert_eq!(parsed.failures, []);
        assert_eq!(parsed.records.len(), 2);
        let first = &parsed.records[0];
        assert_eq!(first.kind, RecordKind::Template);
        assert_eq!(first.scope, "lolbas");
        assert_eq!(first.id, "Tool.exe#1");
        assert_eq!(parsed.records[1].id, "Tool.exe#2");
        assert_eq!(first.techniques, technique_ids(["T1218.011"]));
        assert_eq!(parsed.records[1].techniques, technique_ids(["T1105"]));
        assert_eq!(
            first.name,
            "Tool.exe: Runs a DLL from an SMB share. EntryPoint is the name of the entry point in the DLL file to \
             execute, and this sentence…"
        );
        assert_eq!(parsed.records[1].name, "Tool.exe: Two lines.");
    }

    #[test]
    fn command_fields_are_kept_verbatim_including_free_text_and_placeholders() {
        let parsed = parse(&[file("lolbas/yml/OSBinaries/Tool.yml", ENTRY)]);
        let details = &parsed.records[0].details;
        assert_eq!(details["entry"], "Tool.exe");
        assert_eq!(
            details["entry_description"],
            "Used by Windows to run things"
        );
        assert_eq!(details["author"], "Someone");
        assert_eq!(details["created"], "2018-05-25");
        assert_eq!(details["collection"], "OSBinaries");
        assert_eq!(details["command_number"], 1);
        assert_eq!(details["command"], "tool.exe {PATH_SMB:.dll},EntryPoint");
        assert_eq!(details["usecase"], "Execute DLL from SMB share.");
        assert_eq!(details["category"], "Execute");
        assert_eq!(details["privileges"], "User, Administrator in Windows 8");
        assert_eq!(
            details["operating_system"],
            "Windows 10 (and likely previous versions), Windows 11"
        );
        assert_eq!(details["mitre_id"], "T1218.011");
        assert_eq!(
            parsed.records[1].details["command"],
            "tool.exe /a\ntool.exe /b {REMOTEURL:.exe}\n"
        );
    }

    #[test]
    fn tags_detections_paths_and_aliases_are_read_from_single_key_maps() {
        let parsed = parse(&[file("lolbas/yml/OSBinaries/Tool.yml", ENTRY)]);
        let details = &parsed.records[0].details;
        assert_eq!(
            details["tags"],
            json!([{"key": "Execute", "value": "DLL"}, {"key": "Execute", "value": "Remote"}])
        );
        // The second command has no Tags at all.
        assert_eq!(parsed.records[1].details["tags"], json!([]));
        assert_eq!(
            details["detections"],
            json!([
                {"key": "Sigma", "value": "https://github.com/SigmaHQ/sigma/blob/x/rules/a.yml"},
                {"key": "IOC", "value": "Outbound connections from tool.exe"},
            ])
        );
        assert_eq!(
            details["full_paths"],
            json!([r"C:\Windows\System32\tool.exe", "no default"])
        );
        assert_eq!(details["resources"], json!(["https://example.org/post"]));
        // `Code_Sample:` null, and an `Alias:` with nothing.
        assert_eq!(details["code_samples"], json!([]));
        assert_eq!(details["aliases"], json!(["Tool64.exe"]));
    }

    #[test]
    fn a_null_detection_and_absent_lists_are_empty() {
        let text = "Name: Lone.exe\nDescription: x\nCreated: 2020-01-01\nCommands:\n- Command: lone.exe\n  \
                    Description: d\n  MitreID: T1202\nDetection:\n";
        let parsed = parse(&[file("Lone.yml", text)]);
        assert_eq!(parsed.failures, []);
        let details = &parsed.records[0].details;
        assert_eq!(details["detections"], json!([]));
        assert_eq!(details["full_paths"], json!([]));
        assert_eq!(details["tags"], json!([]));
        assert_eq!(details["collection"], serde_json::Value::Null);
    }

    #[test]
    fn the_id_uses_name_not_the_file_name() {
        let text = "Name: devtunnel.exe\nCommands:\n- Command: devtunnel.exe host\n  Description: d\n  MitreID: T1572\n";
        let parsed = parse(&[file("yml/OtherMSBinaries/devtunnels.yml", text)]);
        assert_eq!(parsed.records[0].id, "devtunnel.exe#1");
    }

    #[test]
    fn bad_entries_fail_alone_and_repeated_names_keep_the_first() {
        let parsed = parse(&[
            file("yml/a/Tool.yml", ENTRY),
            file("yml/b/Tool.yml", ENTRY),
            file("yml/c/NoName.yml", "Description: x\nCommands: []\n"),
            file("yml/d/Broken.yml", "Name: [x"),
        ]);
        assert_eq!(parsed.records.len(), 2);
        let files: Vec<&str> = parsed
            .failures
            .iter()
            .map(|failure| failure.file.as_str())
            .collect();
        assert_eq!(
            files,
            [
                "yml/b/Tool.yml",
                "yml/b/Tool.yml",
                "yml/c/NoName.yml",
                "yml/d/Broken.yml"
            ]
        );
        assert!(
            parsed.failures[0]
                .error
                .contains("Tool.exe#1 is already imported from yml/a/Tool.yml")
        );
    }

    #[test]
    fn accepts_yaml_under_yml_only() {
        assert!(accepts(Path::new("lolbas/yml/OSBinaries/Rundll32.yml")));
        assert!(accepts(Path::new("yml/OSBinaries/AddInProcess.yaml")));
        assert!(!accepts(Path::new(
            "LOLBAS/.github/workflows/validation.yml"
        )));
        assert!(!accepts(Path::new("LOLBAS/YML-Template.yml")));
        assert!(!accepts(Path::new("yml/OSBinaries/.AppInstaller.yml.swp")));
    }

    #[test]
    fn shorten_keeps_short_text_and_cuts_long_text_at_a_word() {
        assert_eq!(shorten("  a\n b  ", 10), "a b");
        assert_eq!(shorten("aaaa bbbb cccc", 11), "aaaa bbbb…");
        assert_eq!(shorten("abcdefghijklmnop", 5), "abcde…");
        assert_eq!(shorten("ééééé ééééé", 7), "ééééé…");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = parse(&[SourceFile { path: PathBuf::from("yml/a/x.yml"), bytes }]);
        }

        #[test]
        fn mutations_of_a_valid_file_never_panic(
            position in 0usize..ENTRY.len(),
            length in 0usize..40,
            insert in "[ -~\n:\\-\\[\\]{}|>&*#'\"é]{0,12}",
        ) {
            let mut text = ENTRY.as_bytes().to_vec();
            let end = (position + length).min(text.len());
            text.splice(position..end, insert.bytes());
            let _ = parse(&[SourceFile { path: PathBuf::from("yml/a/x.yml"), bytes: text }]);
        }

        #[test]
        fn shorten_never_panics_and_stays_short(text in "\\PC{0,300}", max in 1usize..200) {
            let short = shorten(&text, max);
            prop_assert!(short.chars().count() <= max + 1);
        }
    }
}
