//! Atomic Red Team: one template per atomic test (`atomics/T1003.001/T1003.001.yaml` holds every test of one
//! technique). A template is one procedure against one technique, keyed by the test's `auto_generated_guid`
//! (lower-case, hyphenated), which is what a test case planned from it stores as its `Uuid`.
//!
//! Scope "atomic"; details: the technique as written, the test's 1-based number in its file (upstream names
//! tests `T1003.001-2`), description, platforms, executor, input arguments, dependencies.
//!
//! Upstream quirks survived (see QUIRKS.md, "Atomic Red Team (YAML)"):
//! - `input_arguments.*.type` is case-inconsistent (`String`, `Path`, `Url`): lower-cased;
//! - `input_arguments.*.default` is a string, an integer, a float or null, and `integer` arguments sometimes
//!   have string defaults: kept as the JSON value YAML gives (`'53'` stays a string, `16.0` a float);
//! - `executor.name: manual` has `steps` and no `command`; `elevation_required` absent means false;
//!   `cleanup_command` may be absent; `dependency_executor_name` absent means the executor's name;
//! - `supported_platforms` values contain colons (`iaas:aws`);
//! - CRLF line endings, tabs inside strings, no final newline: handled by the YAML parser, tested here.
//!
//! Decisions: a test without a GUID (or with one that is not a GUID) cannot become a template — nothing could
//! refer to it stably — so it is reported as a failure of its file naming the test, and the file's other tests
//! are still imported. A GUID seen twice in one import is reported the same way (the first one wins).

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_yaml_ng::Value as YamlValue;
use uuid::Uuid;

use super::template_support::{
    SeenIds, has_yaml_extension, non_blank, template_record, text_list, yaml_to_json,
};
use crate::record::{FileFailure, Parsed, SourceFile, technique_ids};
use domain::test_case::TechniqueId;

const SCOPE: &str = "atomic";

/// Whether a file found by a directory walk belongs to this source: a YAML file named after a technique
/// (`T1003.001.yaml`). The rest of an atomics checkout (`Indexes/index.yaml`, Markdown, payloads) is not.
pub fn accepts(path: &Path) -> bool {
    has_yaml_extension(path)
        && path
            .file_stem()
            .and_then(|stem| stem.to_str())
            .is_some_and(|stem| stem.starts_with('T') && TechniqueId::parse(stem).is_ok())
}

/// Parses every file of one import; a file that cannot be used is reported in [`Parsed::failures`].
pub fn parse(files: &[SourceFile]) -> Parsed {
    let mut parsed = Parsed::default();
    let mut seen = SeenIds::default();
    for file in files {
        parse_file(file, &mut seen, &mut parsed);
    }
    parsed
}

/// Why a file, or one test in it, could not be used.
#[derive(Debug, thiserror::Error)]
enum AtomicError {
    #[error("not an Atomic Red Team technique file: {0}")]
    Yaml(#[from] serde_yaml_ng::Error),
    #[error("the file has no attack_technique")]
    MissingTechnique,
    #[error("test {number} has no name")]
    MissingName { number: usize },
    #[error("test {number} ({name}) has no auto_generated_guid, so no template can refer to it")]
    MissingGuid { number: usize, name: String },
    #[error("test {number} ({name}) has an auto_generated_guid that is not a GUID: {guid:?}")]
    InvalidGuid {
        number: usize,
        name: String,
        guid: String,
    },
    #[error("test {number} ({name}) has no executor name")]
    MissingExecutor { number: usize, name: String },
    #[error("test {number} ({name}) repeats GUID {guid}, already imported from {first_file}")]
    DuplicateGuid {
        number: usize,
        name: String,
        guid: String,
        first_file: String,
    },
    #[error("test {number} ({name}) could not be stored: {source}")]
    Details {
        number: usize,
        name: String,
        source: serde_json::Error,
    },
}

fn parse_file(file: &SourceFile, seen: &mut SeenIds, parsed: &mut Parsed) {
    let technique_file: TechniqueFile = match serde_yaml_ng::from_slice(&file.bytes) {
        Ok(technique_file) => technique_file,
        Err(error) => {
            parsed
                .failures
                .push(FileFailure::new(&file.path, AtomicError::from(error)));
            return;
        }
    };
    let attack_techniques: Vec<String> = technique_file
        .attack_technique
        .iter()
        .map(|technique| technique.trim().to_owned())
        .filter(|technique| !technique.is_empty())
        .collect();
    if attack_techniques.is_empty() {
        parsed
            .failures
            .push(FileFailure::new(&file.path, AtomicError::MissingTechnique));
        return;
    }
    let context = FileContext {
        technique: attack_techniques.join(", "),
        technique_display_name: technique_file.display_name,
        techniques: technique_ids(attack_techniques.iter().map(String::as_str)),
    };
    for (index, test) in technique_file
        .atomic_tests
        .unwrap_or_default()
        .into_iter()
        .enumerate()
    {
        match template_from_test(test, index + 1, &context, &file.path, seen) {
            Ok(record) => parsed.records.push(record),
            Err(error) => parsed.failures.push(FileFailure::new(&file.path, error)),
        }
    }
}

/// What every test of one file shares.
struct FileContext {
    technique: String,
    technique_display_name: Option<String>,
    techniques: Vec<TechniqueId>,
}

fn template_from_test(
    test: RawTest,
    number: usize,
    context: &FileContext,
    file: &Path,
    seen: &mut SeenIds,
) -> Result<crate::record::CatalogRecord, AtomicError> {
    let Some(name) = non_blank(test.name).map(|name| name.trim().to_owned()) else {
        return Err(AtomicError::MissingName { number });
    };
    let Some(raw_guid) = non_blank(test.auto_generated_guid) else {
        return Err(AtomicError::MissingGuid { number, name });
    };
    let guid = match Uuid::try_parse(raw_guid.trim()) {
        Ok(guid) => guid.hyphenated().to_string(),
        Err(_) => {
            return Err(AtomicError::InvalidGuid {
                number,
                name,
                guid: raw_guid,
            });
        }
    };
    let executor = test.executor.unwrap_or_default();
    let Some(executor_name) =
        non_blank(executor.name).map(|executor_name| executor_name.trim().to_owned())
    else {
        return Err(AtomicError::MissingExecutor { number, name });
    };
    if let Err(first_file) = seen.claim(&guid, file) {
        return Err(AtomicError::DuplicateGuid {
            number,
            name,
            guid,
            first_file,
        });
    }
    let details = AtomicTestDetails {
        technique: context.technique.clone(),
        technique_display_name: context.technique_display_name.clone(),
        test_number: number,
        description: test.description,
        supported_platforms: test.supported_platforms,
        executor: ExecutorDetails {
            command: non_blank(executor.command),
            steps: non_blank(executor.steps),
            // Upstream leaves the key out for tests that run without elevation.
            elevation_required: executor.elevation_required.unwrap_or(false),
            cleanup_command: non_blank(executor.cleanup_command),
            name: executor_name.clone(),
        },
        input_arguments: test
            .input_arguments
            .unwrap_or_default()
            .into_iter()
            .map(|(argument_name, argument)| {
                (
                    argument_name,
                    InputArgumentDetails {
                        description: argument.description,
                        kind: argument.kind.map(|kind| kind.trim().to_lowercase()),
                        default: yaml_to_json(&argument.default),
                    },
                )
            })
            .collect(),
        dependency_executor_name: non_blank(test.dependency_executor_name)
            .map_or(executor_name, |dependency_executor| {
                dependency_executor.trim().to_owned()
            }),
        dependencies: test
            .dependencies
            .unwrap_or_default()
            .into_iter()
            .map(|dependency| DependencyDetails {
                description: dependency.description,
                prereq_command: dependency.prereq_command,
                get_prereq_command: dependency.get_prereq_command,
            })
            .collect(),
    };
    template_record(
        SCOPE,
        guid,
        name.clone(),
        context.techniques.clone(),
        &details,
    )
    .map_err(|source| AtomicError::Details {
        number,
        name,
        source,
    })
}

/// One `T*.yaml` file as upstream writes it. Every field is optional here so that a missing one is reported
/// for the test that lacks it, not as an unreadable file.
#[derive(Debug, Deserialize)]
struct TechniqueFile {
    // Always one string at HEAD; older releases and forks sometimes list several.
    #[serde(default, deserialize_with = "text_list")]
    attack_technique: Vec<String>,
    #[serde(default)]
    display_name: Option<String>,
    #[serde(default)]
    atomic_tests: Option<Vec<RawTest>>,
}

#[derive(Debug, Deserialize)]
struct RawTest {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    auto_generated_guid: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default, deserialize_with = "text_list")]
    supported_platforms: Vec<String>,
    #[serde(default)]
    input_arguments: Option<BTreeMap<String, RawArgument>>,
    #[serde(default)]
    executor: Option<RawExecutor>,
    #[serde(default)]
    dependency_executor_name: Option<String>,
    #[serde(default)]
    dependencies: Option<Vec<RawDependency>>,
}

#[derive(Debug, Deserialize)]
struct RawArgument {
    #[serde(default)]
    description: Option<String>,
    #[serde(default, rename = "type")]
    kind: Option<String>,
    // A YAML value, not a String: defaults are strings, integers, floats or null upstream.
    #[serde(default)]
    default: YamlValue,
}

#[derive(Debug, Default, Deserialize)]
struct RawExecutor {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    command: Option<String>,
    #[serde(default)]
    steps: Option<String>,
    #[serde(default)]
    elevation_required: Option<bool>,
    #[serde(default)]
    cleanup_command: Option<String>,
}

#[derive(Debug, Deserialize)]
struct RawDependency {
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    prereq_command: Option<String>,
    #[serde(default)]
    get_prereq_command: Option<String>,
}

/// The details of an atomic test template.
#[derive(Debug, Serialize)]
struct AtomicTestDetails {
    /// `attack_technique` as the file writes it (kept even when it is not a valid id).
    technique: String,
    technique_display_name: Option<String>,
    /// 1-based position in the file: upstream and Invoke-AtomicTest call the test `T1003.001-<n>`.
    test_number: usize,
    description: Option<String>,
    supported_platforms: Vec<String>,
    executor: ExecutorDetails,
    input_arguments: BTreeMap<String, InputArgumentDetails>,
    dependency_executor_name: String,
    dependencies: Vec<DependencyDetails>,
}

#[derive(Debug, Serialize)]
struct ExecutorDetails {
    name: String,
    /// None for `manual` tests, which have `steps` instead.
    command: Option<String>,
    steps: Option<String>,
    elevation_required: bool,
    cleanup_command: Option<String>,
}

#[derive(Debug, Serialize)]
struct InputArgumentDetails {
    description: Option<String>,
    /// Lower-cased: upstream mixes `string` and `String`.
    #[serde(rename = "type")]
    kind: Option<String>,
    /// As given: a string, a number or null.
    default: serde_json::Value,
}

#[derive(Debug, Serialize)]
struct DependencyDetails {
    description: Option<String>,
    prereq_command: Option<String>,
    get_prereq_command: Option<String>,
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

    fn parse_one(text: &str) -> Parsed {
        parse(&[file("atomics/T1000/T1000.yaml", text)])
    }

    const TWO_TESTS: &str = r##"attack_technique: T1003.001
display_name: "OS Credential Dumping: LSASS Memory"
atomic_tests:
- name: Dump with a tool
  auto_generated_guid: 0BE2230C-9AB3-4AC2-8826-3199B9A0EBF8
  description: |
    Dumps memory.
  supported_platforms:
  - windows
  - iaas:aws
  input_arguments:
    output_file:
      description: Where the dump goes
      type: Path
      default: C:\Windows\Temp\lsass_dump.dmp
    port:
      description: A port
      type: Integer
      default: '53'
    count:
      description: A count
      type: integer
      default: 5
    ratio:
      description: A ratio
      type: float
      default: 16.0
    url:
      description: Nothing by default
      type: Url
      default:
  dependencies:
  - description: The tool exists (#{output_file})
    prereq_command: if (Test-Path "#{output_file}") {exit 0} else {exit 1}
    get_prereq_command: echo get
  executor:
    command: |
      "PathToAtomicsFolder\..\ExternalPayloads\procdump.exe" -ma lsass.exe #{output_file}
    cleanup_command: del "#{output_file}"
    name: command_prompt
    elevation_required: true
- name: Dump by hand
  auto_generated_guid: 9d0072c8-7cca-45c4-bd14-f852cfa35cf0
  supported_platforms:
  - windows
  executor:
    steps: |
      1. Open Task Manager.
    name: manual
"##;

    #[test]
    fn each_test_is_one_template_keyed_by_its_lower_case_guid() {
        let parsed = parse_one(TWO_TESTS);
        assert_eq!(parsed.failures, []);
        assert_eq!(parsed.records.len(), 2);
        let first = &parsed.records[0];
        assert_eq!(first.kind, RecordKind::Template);
        assert_eq!(first.scope, "atomic");
        assert_eq!(first.id, "0be2230c-9ab3-4ac2-8826-3199b9a0ebf8");
        assert_eq!(first.name, "Dump with a tool");
        assert_eq!(first.techniques, technique_ids(["T1003.001"]));
        assert_eq!(first.details["technique"], "T1003.001");
        assert_eq!(first.details["test_number"], 1);
        assert_eq!(parsed.records[1].details["test_number"], 2);
        assert_eq!(
            first.details["supported_platforms"],
            json!(["windows", "iaas:aws"])
        );
        assert_eq!(first.details["executor"]["elevation_required"], true);
        assert_eq!(
            first.details["executor"]["cleanup_command"],
            "del \"#{output_file}\""
        );
    }

    #[test]
    fn argument_types_are_lower_cased_and_defaults_keep_their_yaml_type() {
        let parsed = parse_one(TWO_TESTS);
        let arguments = &parsed.records[0].details["input_arguments"];
        assert_eq!(arguments["output_file"]["type"], "path");
        assert_eq!(
            arguments["output_file"]["default"],
            r"C:\Windows\Temp\lsass_dump.dmp"
        );
        // An integer argument with a quoted default stays a string: that is what upstream wrote.
        assert_eq!(arguments["port"]["type"], "integer");
        assert_eq!(arguments["port"]["default"], json!("53"));
        assert_eq!(arguments["count"]["default"], json!(5));
        assert_eq!(arguments["ratio"]["default"], json!(16.0));
        assert_eq!(arguments["url"]["type"], "url");
        assert_eq!(arguments["url"]["default"], serde_json::Value::Null);
    }

    #[test]
    fn a_manual_test_has_steps_no_command_and_defaults_for_absent_keys() {
        let parsed = parse_one(TWO_TESTS);
        let manual = &parsed.records[1].details;
        assert_eq!(manual["executor"]["name"], "manual");
        assert_eq!(manual["executor"]["command"], serde_json::Value::Null);
        assert_eq!(manual["executor"]["steps"], "1. Open Task Manager.\n");
        assert_eq!(manual["executor"]["elevation_required"], false);
        assert_eq!(
            manual["executor"]["cleanup_command"],
            serde_json::Value::Null
        );
        // Absent dependency_executor_name means the executor's own.
        assert_eq!(manual["dependency_executor_name"], "manual");
        assert_eq!(manual["dependencies"], json!([]));
        assert_eq!(manual["input_arguments"], json!({}));
    }

    #[test]
    fn dependencies_keep_their_three_commands() {
        let parsed = parse_one(TWO_TESTS);
        let dependency = &parsed.records[0].details["dependencies"][0];
        assert_eq!(
            dependency["description"],
            "The tool exists (#{output_file})"
        );
        assert_eq!(dependency["get_prereq_command"], "echo get");
        assert_eq!(
            parsed.records[0].details["dependency_executor_name"],
            "command_prompt"
        );
    }

    #[test]
    fn crlf_tabs_and_no_final_newline_parse() {
        let text = "attack_technique: T1059\r\ndisplay_name: x\r\natomic_tests:\r\n- name: Tabbed\r\n  \
                    auto_generated_guid: 9d0072c8-7cca-45c4-bd14-f852cfa35cf0\r\n  executor:\r\n    \
                    command: \"echo\\tone\"\r\n    name: sh";
        let parsed = parse_one(text);
        assert_eq!(parsed.failures, []);
        assert_eq!(
            parsed.records[0].details["executor"]["command"],
            "echo\tone"
        );
    }

    #[test]
    fn a_test_without_guid_fails_by_name_and_its_siblings_still_import() {
        let text = "attack_technique: T1059\natomic_tests:\n- name: No id\n  executor: {name: sh, command: id}\n\
                    - name: Good\n  auto_generated_guid: 9d0072c8-7cca-45c4-bd14-f852cfa35cf0\n  executor: {name: sh}\n\
                    - name: Bad id\n  auto_generated_guid: not-a-guid\n  executor: {name: sh}\n";
        let parsed = parse_one(text);
        assert_eq!(parsed.records.len(), 1);
        assert_eq!(parsed.records[0].name, "Good");
        assert_eq!(parsed.failures.len(), 2);
        assert!(
            parsed.failures[0]
                .error
                .contains("test 1 (No id) has no auto_generated_guid")
        );
        assert!(parsed.failures[1].error.contains("test 3 (Bad id)"));
        assert_eq!(parsed.failures[0].file, "atomics/T1000/T1000.yaml");
    }

    #[test]
    fn a_guid_seen_twice_keeps_the_first_and_names_both_files() {
        let text = "attack_technique: T1059\natomic_tests:\n- name: A\n  \
                    auto_generated_guid: 9d0072c8-7cca-45c4-bd14-f852cfa35cf0\n  executor: {name: sh}\n";
        let parsed = parse(&[file("a/T1059.yaml", text), file("b/T1059.yaml", text)]);
        assert_eq!(parsed.records.len(), 1);
        assert_eq!(parsed.failures.len(), 1);
        assert_eq!(parsed.failures[0].file, "b/T1059.yaml");
        assert!(parsed.failures[0].error.contains("a/T1059.yaml"));
    }

    #[test]
    fn an_unknown_technique_is_kept_in_details_and_the_record_survives() {
        let text = "attack_technique: X1234\natomic_tests:\n- name: A\n  \
                    auto_generated_guid: 9d0072c8-7cca-45c4-bd14-f852cfa35cf0\n  executor: {name: sh}\n";
        let parsed = parse_one(text);
        assert_eq!(parsed.records.len(), 1);
        assert_eq!(parsed.records[0].techniques, []);
        assert_eq!(parsed.records[0].details["technique"], "X1234");
    }

    #[test]
    fn a_file_that_is_not_an_atomic_file_fails_alone() {
        let parsed = parse(&[
            file("bad/T1.yaml", "attack_technique: [unclosed"),
            file("empty/T2.yaml", "display_name: nothing\n"),
            file("good/T1059.yaml", TWO_TESTS),
        ]);
        assert_eq!(parsed.records.len(), 2);
        assert_eq!(parsed.failures.len(), 2);
        assert!(parsed.failures[1].error.contains("no attack_technique"));
    }

    #[test]
    fn accepts_technique_files_only() {
        assert!(accepts(Path::new(
            "atomic-red-team/atomics/T1003.001/T1003.001.yaml"
        )));
        assert!(accepts(Path::new("T1059.yaml")));
        assert!(!accepts(Path::new("atomics/Indexes/index.yaml")));
        assert!(!accepts(Path::new("atomics/T1003/T1003.md")));
        assert!(!accepts(Path::new("atomics/used_guids.txt")));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = parse(&[SourceFile { path: PathBuf::from("T1.yaml"), bytes }]);
        }

        #[test]
        fn mutations_of_a_valid_file_never_panic(
            position in 0usize..TWO_TESTS.len(),
            length in 0usize..40,
            insert in "[ -~\n:\\-\\[\\]{}|>&*#'\"]{0,12}",
        ) {
            let mut text = TWO_TESTS.as_bytes().to_vec();
            let end = (position + length).min(text.len());
            text.splice(position..end, insert.bytes());
            let _ = parse(&[SourceFile { path: PathBuf::from("T1.yaml"), bytes: text }]);
        }
    }
}
