//! MITRE CALDERA abilities (the stockpile plugin's `data/abilities/<tactic>/<id>.yml`): one template per
//! ability, keyed by the ability's `id` as written (usually a UUID, some 32 hex digits without dashes), which is
//! what a test case planned from it stores as its `TemplateRef`.
//!
//! Scope "caldera"; details: tactic, technique id and name as written, description, privilege, which of the two
//! upstream schemas the ability uses, one executor entry per (platform, executor) pair, and the raw
//! requirements and parsers (small, and their shape differs between releases).
//!
//! Upstream quirks survived (see QUIRKS.md, "Caldera stockpile (YAML)"):
//! - an ability file is a top-level YAML *list* (of one ability); adversary, source and planner files are
//!   top-level maps: those produce nothing and no failure, so importing all of `data/` works;
//! - two schemas: legacy `technique: {attack_id, name}` + `platforms: {os: {executor: {command, …}}}`, and the
//!   newer `technique_id`/`technique_name` + `executors: [{platform, name, command, …}]`;
//! - comma-joined keys (`linux,darwin`, `psh,pwsh`, `shellcode_amd64,shellcode_386`) are split, one executor
//!   entry per platform and executor;
//! - `privilege: ''` means none; `command` may be absent or null; `cleanup` is a string (legacy) or a list;
//!   `payloads` may be absent;
//! - `requirements` come as `{module.path: [..]}` or `{module, relationship_match}`: kept raw.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use serde::de::{Deserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_yaml_ng::Value as YamlValue;

use super::template_support::{
    SeenIds, has_ancestor_named, has_yaml_extension, non_blank, scalar_text, template_record,
    text_list, yaml_to_json,
};
use crate::record::{CatalogRecord, FileFailure, Parsed, SourceFile, technique_ids};
use domain::test_case::TemplateRef;

const SCOPE: &str = "caldera";

/// Whether a file found by a directory walk belongs to this source: a YAML file under an `abilities` folder.
/// Adversary profiles (`data/adversaries`) are left out; given anyway, they produce nothing.
pub fn accepts(path: &Path) -> bool {
    has_yaml_extension(path) && has_ancestor_named(path, "abilities")
}

/// Parses every file of one import; a file that cannot be used is reported in [`Parsed::failures`].
pub fn parse(files: &[SourceFile]) -> Parsed {
    let mut parsed = Parsed::default();
    let mut seen = SeenIds::default();
    for file in files {
        let abilities = match serde_yaml_ng::from_slice::<CalderaFile>(&file.bytes) {
            Ok(CalderaFile::Abilities(abilities)) => abilities,
            Ok(CalderaFile::Map(map)) if map.looks_like_an_ability() => vec![*map],
            // An adversary profile, a fact source, a planner: not a procedure.
            Ok(CalderaFile::Map(_) | CalderaFile::Empty) => Vec::new(),
            Err(error) => {
                parsed
                    .failures
                    .push(FileFailure::new(&file.path, CalderaError::Yaml(error)));
                continue;
            }
        };
        for (index, ability) in abilities.into_iter().enumerate() {
            match template_from_ability(ability, index + 1, &file.path, &mut seen) {
                Ok(record) => parsed.records.push(record),
                Err(error) => parsed.failures.push(FileFailure::new(&file.path, error)),
            }
        }
    }
    parsed
}

/// Why a file, or one ability in it, could not be used.
#[derive(Debug, thiserror::Error)]
enum CalderaError {
    #[error("not a CALDERA ability file: {0}")]
    Yaml(serde_yaml_ng::Error),
    #[error("ability {number} in the file has no id")]
    MissingId { number: usize },
    #[error("ability {number} has an id that cannot name a template ({id:?}): {reason}")]
    InvalidId {
        number: usize,
        id: String,
        reason: String,
    },
    #[error("ability {id} is already imported from {first_file}")]
    DuplicateId { id: String, first_file: String },
    #[error("ability {id} could not be stored: {source}")]
    Details {
        id: String,
        source: serde_json::Error,
    },
}

fn template_from_ability(
    ability: RawAbility,
    number: usize,
    file: &Path,
    seen: &mut SeenIds,
) -> Result<CatalogRecord, CalderaError> {
    let Some(raw_id) = non_blank(ability.id) else {
        return Err(CalderaError::MissingId { number });
    };
    let id = match TemplateRef::parse(&raw_id) {
        Ok(template_ref) => String::from(template_ref),
        Err(error) => {
            return Err(CalderaError::InvalidId {
                number,
                id: raw_id,
                reason: error.to_string(),
            });
        }
    };
    if let Err(first_file) = seen.claim(&id, file) {
        return Err(CalderaError::DuplicateId { id, first_file });
    }

    // The newer schema names the technique at the top; the legacy one nests it.
    let legacy_technique = ability.technique.unwrap_or_default();
    let technique_id = non_blank(ability.technique_id.or(legacy_technique.attack_id));
    let technique_name = non_blank(ability.technique_name.or(legacy_technique.name));

    let schema = if ability.executors.is_some() {
        AbilitySchema::Executors
    } else {
        AbilitySchema::Legacy
    };
    let mut executors = Vec::new();
    for (platforms, executors_by_name) in ability.platforms.unwrap_or_default() {
        for (executor_names, body) in executors_by_name.unwrap_or_default() {
            let body = body.unwrap_or_default();
            for platform in split_joined(&platforms) {
                for executor in split_joined(&executor_names) {
                    executors.push(body.entry(platform.clone(), executor));
                }
            }
        }
    }
    for executor in ability.executors.unwrap_or_default() {
        let platforms = executor.platform.clone().unwrap_or_default();
        let names = executor.name.clone().unwrap_or_default();
        for platform in split_joined(&platforms) {
            for name in split_joined(&names) {
                executors.push(executor.entry(platform.clone(), name));
            }
        }
    }

    let name = non_blank(ability.name).unwrap_or_else(|| id.clone());
    let details = AbilityDetails {
        tactic: non_blank(ability.tactic),
        technique_id: technique_id.clone(),
        technique_name,
        description: ability.description,
        privilege: non_blank(ability.privilege),
        schema,
        executors,
        requirements: yaml_to_json(&ability.requirements),
        repeatable: ability.repeatable,
        singleton: ability.singleton,
        buckets: ability.buckets,
        plugin: non_blank(ability.plugin),
    };
    let techniques = technique_ids(technique_id.as_deref());
    template_record(SCOPE, id.clone(), name, techniques, &details)
        .map_err(|source| CalderaError::Details { id, source })
}

/// Splits a comma-joined key (`linux,darwin`, `psh,pwsh`) into its names; a key with no name left is dropped.
fn split_joined(key: &str) -> Vec<String> {
    key.split(',')
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .map(str::to_owned)
        .collect()
}

/// A stockpile file: a list of abilities, or a map (an adversary profile, or a lone ability written as a map).
#[derive(Debug)]
enum CalderaFile {
    Abilities(Vec<RawAbility>),
    Map(Box<RawAbility>),
    Empty,
}

impl<'de> Deserialize<'de> for CalderaFile {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // A hand-written visitor rather than `#[serde(untagged)]`: the abilities are read straight from the YAML
        // (so a number where text is expected still reads as text), and errors keep their line and column.
        struct FileVisitor;

        impl<'de> Visitor<'de> for FileVisitor {
            type Value = CalderaFile;

            fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                formatter.write_str("a list of abilities or an adversary profile")
            }

            fn visit_seq<A: SeqAccess<'de>>(
                self,
                mut sequence: A,
            ) -> Result<Self::Value, A::Error> {
                let mut abilities = Vec::new();
                while let Some(ability) = sequence.next_element::<Option<RawAbility>>()? {
                    abilities.extend(ability);
                }
                Ok(CalderaFile::Abilities(abilities))
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                RawAbility::deserialize(serde::de::value::MapAccessDeserializer::new(map))
                    .map(|ability| CalderaFile::Map(Box::new(ability)))
            }

            fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
                Ok(CalderaFile::Empty)
            }

            fn visit_none<E: serde::de::Error>(self) -> Result<Self::Value, E> {
                Ok(CalderaFile::Empty)
            }
        }

        deserializer.deserialize_any(FileVisitor)
    }
}

/// One ability in either schema; everything is optional so a missing field is reported for the ability.
#[derive(Debug, Default, Deserialize)]
struct RawAbility {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    tactic: Option<String>,
    // Legacy schema.
    #[serde(default)]
    technique: Option<RawLegacyTechnique>,
    #[serde(default)]
    platforms: Option<BTreeMap<String, Option<ExecutorsByName>>>,
    // Newer schema.
    #[serde(default)]
    technique_id: Option<String>,
    #[serde(default)]
    technique_name: Option<String>,
    #[serde(default)]
    executors: Option<Vec<RawExecutorBody>>,
    // Both.
    #[serde(default)]
    privilege: Option<String>,
    #[serde(default)]
    requirements: YamlValue,
    #[serde(default)]
    repeatable: Option<bool>,
    #[serde(default)]
    singleton: Option<bool>,
    #[serde(default, deserialize_with = "text_list")]
    buckets: Vec<String>,
    #[serde(default)]
    plugin: Option<String>,
}

impl RawAbility {
    /// A map read from a stockpile file is an ability only when it says how to run something or what it
    /// does; adversary profiles (`atomic_ordering`) say neither.
    fn looks_like_an_ability(&self) -> bool {
        self.platforms.is_some()
            || self.executors.is_some()
            || self.technique.is_some()
            || self.technique_id.is_some()
    }
}

/// Legacy schema: executor name (possibly comma-joined) → how to run it, under one platform key.
type ExecutorsByName = BTreeMap<String, Option<RawExecutorBody>>;

#[derive(Debug, Default, Deserialize)]
struct RawLegacyTechnique {
    #[serde(default)]
    attack_id: Option<String>,
    #[serde(default)]
    name: Option<String>,
}

/// What both schemas say about running one executor on one platform. The newer schema's list items also name
/// the platform and executor; the legacy schema names them in the keys above the body. One struct rather than
/// `#[serde(flatten)]`, which would buffer the values and lose the YAML reader's numbers-as-text leniency.
#[derive(Debug, Default, Deserialize)]
struct RawExecutorBody {
    #[serde(default)]
    platform: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    command: Option<String>,
    // A string in the legacy schema, a list in the newer one.
    #[serde(default, deserialize_with = "text_list")]
    cleanup: Vec<String>,
    #[serde(default, deserialize_with = "text_list")]
    payloads: Vec<String>,
    #[serde(default, deserialize_with = "text_list")]
    uploads: Vec<String>,
    #[serde(default)]
    timeout: YamlValue,
    #[serde(default)]
    parsers: YamlValue,
}

impl RawExecutorBody {
    fn entry(&self, platform: String, executor: String) -> ExecutorDetails {
        ExecutorDetails {
            platform,
            executor,
            command: non_blank(self.command.clone()),
            cleanup: self.cleanup.clone(),
            payloads: self.payloads.clone(),
            uploads: self.uploads.clone(),
            // Seconds; a quoted number is still a number.
            timeout: scalar_text(&self.timeout).and_then(|timeout| timeout.trim().parse().ok()),
            parsers: yaml_to_json(&self.parsers),
        }
    }
}

/// Which upstream schema an ability is written in.
#[derive(Debug, Clone, Copy, Serialize)]
#[serde(rename_all = "snake_case")]
enum AbilitySchema {
    /// `technique: {attack_id, name}` and `platforms: {os: {executor: {…}}}`.
    Legacy,
    /// `technique_id`, `technique_name` and `executors: [{platform, name, …}]`.
    Executors,
}

/// The details of a CALDERA ability template.
#[derive(Debug, Serialize)]
struct AbilityDetails {
    tactic: Option<String>,
    /// As written, kept even when it is not a valid ATT&CK id.
    technique_id: Option<String>,
    technique_name: Option<String>,
    description: Option<String>,
    /// `Elevated` or none (upstream writes an empty string for none).
    privilege: Option<String>,
    schema: AbilitySchema,
    /// One entry per platform and executor, comma-joined upstream keys split.
    executors: Vec<ExecutorDetails>,
    /// Raw: fact requirements checked before the ability runs.
    requirements: serde_json::Value,
    repeatable: Option<bool>,
    singleton: Option<bool>,
    buckets: Vec<String>,
    plugin: Option<String>,
}

#[derive(Debug, Serialize)]
struct ExecutorDetails {
    platform: String,
    executor: String,
    command: Option<String>,
    cleanup: Vec<String>,
    payloads: Vec<String>,
    uploads: Vec<String>,
    timeout: Option<u64>,
    /// Raw: the output parsers, keyed by Python module path.
    parsers: serde_json::Value,
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

    const LEGACY: &str = "- id: a201bec2-a193-4b58-bf0e-57fa621da474
  name: Exfil to GitHub
  description: |
    Sends files.
  tactic: exfiltration
  technique:
    attack_id: T1567.001
    name: Exfiltration to Code Repository
  privilege: ''
  platforms:
    linux,darwin:
      sh:
        command: |
          curl -X PUT #{server}/#{paw}
        cleanup: rm /tmp/b64
        payloads:
        - sandcat.go
        timeout: 60
        parsers:
          plugins.stockpile.app.parsers.basic:
          - source: host.user.name
    windows:
      psh,pwsh:
        command: Get-ChildItem
      cmd:
  requirements:
    - plugins.stockpile.app.requirements.paw_provenance:
        - source: host.dir.staged
";

    const NEWER: &str = "- tactic: defense-evasion
  technique_name: BITS Jobs
  technique_id: T1197
  name: Deploy Agent via BITSAdmin
  description: Uses BITS.
  executors:
  - name: psh
    platform: windows
    command: bitsadmin /create update
    payloads: []
    timeout: 60
    parsers: []
    cleanup:
    - bitsadmin /cancel update
  - name: shellcode_amd64,shellcode_386
    platform: windows
    command:
  requirements: []
  privilege: Elevated
  repeatable: false
  buckets:
  - defense-evasion
  id: e52e7918-ce55-4451-ac19-713a52487ae8
";

    #[test]
    fn a_legacy_ability_splits_comma_joined_platforms_and_executors() {
        let parsed = parse(&[file("abilities/exfiltration/a.yml", LEGACY)]);
        assert_eq!(parsed.failures, []);
        let record = &parsed.records[0];
        assert_eq!(record.kind, RecordKind::Template);
        assert_eq!(record.scope, "caldera");
        assert_eq!(record.id, "a201bec2-a193-4b58-bf0e-57fa621da474");
        assert_eq!(record.name, "Exfil to GitHub");
        assert_eq!(record.techniques, technique_ids(["T1567.001"]));
        assert_eq!(record.details["schema"], "legacy");
        assert_eq!(
            record.details["technique_name"],
            "Exfiltration to Code Repository"
        );
        let pairs: Vec<(String, String)> = record.details["executors"]
            .as_array()
            .expect("executors")
            .iter()
            .map(|entry| {
                (
                    entry["platform"].as_str().unwrap_or_default().to_owned(),
                    entry["executor"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect();
        let expected = [
            ("linux", "sh"),
            ("darwin", "sh"),
            ("windows", "cmd"),
            ("windows", "psh"),
            ("windows", "pwsh"),
        ];
        assert_eq!(
            pairs,
            expected.map(|(platform, executor)| (platform.to_owned(), executor.to_owned()))
        );
        let linux = &record.details["executors"][0];
        assert_eq!(linux["cleanup"], json!(["rm /tmp/b64"]));
        assert_eq!(linux["payloads"], json!(["sandcat.go"]));
        assert_eq!(linux["timeout"], 60);
        assert_eq!(
            linux["parsers"]["plugins.stockpile.app.parsers.basic"][0]["source"],
            "host.user.name"
        );
        // `cmd:` with nothing under it is an executor without a command.
        assert_eq!(
            record.details["executors"][2]["command"],
            serde_json::Value::Null
        );
    }

    #[test]
    fn an_empty_privilege_is_none_and_requirements_stay_raw() {
        let parsed = parse(&[file("abilities/exfiltration/a.yml", LEGACY)]);
        let details = &parsed.records[0].details;
        assert_eq!(details["privilege"], serde_json::Value::Null);
        assert_eq!(
            details["requirements"],
            json!([{"plugins.stockpile.app.requirements.paw_provenance": [{"source": "host.dir.staged"}]}])
        );
    }

    #[test]
    fn a_newer_ability_reads_its_executor_list_and_splits_names() {
        let parsed = parse(&[file("abilities/defense-evasion/e.yml", NEWER)]);
        assert_eq!(parsed.failures, []);
        let record = &parsed.records[0];
        assert_eq!(record.techniques, technique_ids(["T1197"]));
        assert_eq!(record.details["schema"], "executors");
        assert_eq!(record.details["privilege"], "Elevated");
        assert_eq!(record.details["repeatable"], false);
        assert_eq!(record.details["buckets"], json!(["defense-evasion"]));
        let executors = record.details["executors"].as_array().expect("executors");
        assert_eq!(executors.len(), 3);
        assert_eq!(executors[0]["cleanup"], json!(["bitsadmin /cancel update"]));
        assert_eq!(executors[1]["executor"], "shellcode_amd64");
        assert_eq!(executors[2]["executor"], "shellcode_386");
        // A null command and an absent timeout.
        assert_eq!(executors[2]["command"], serde_json::Value::Null);
        assert_eq!(executors[2]["timeout"], serde_json::Value::Null);
    }

    #[test]
    fn adversary_profiles_produce_nothing_and_no_failure() {
        let adversary = "---\n\nid: 09ad625e-6cba-490f-afe3-5417e7edb9c6\nname: Thief\natomic_ordering:\n  \
                         - 10fad81e-3f68-47be-83b6-fbee7711c6a9 # stager\n";
        let other = "adversary_id: 1bac97ca\nname: X\natomic_ordering:\n- abc # c\ntags: []\n";
        let parsed = parse(&[
            file("adversaries/a.yml", adversary),
            file("adversaries/b.yml", other),
        ]);
        assert_eq!(parsed, Parsed::default());
        assert!(!accepts(Path::new(
            "caldera-stockpile/data/adversaries/a.yml"
        )));
        assert!(accepts(Path::new(
            "caldera-stockpile/data/abilities/discovery/a.yml"
        )));
        assert!(!accepts(Path::new(
            "caldera-stockpile/data/abilities/README.md"
        )));
    }

    #[test]
    fn crlf_tabs_and_no_final_newline_parse() {
        let text = "- id: 123\r\n  name: Tabbed\r\n  technique_id: T1082\r\n  executors:\r\n  - name: sh\r\n    \
                    platform: linux\r\n    command: \"uname\\t-a\"";
        let parsed = parse(&[file("abilities/discovery/x.yml", text)]);
        assert_eq!(parsed.failures, []);
        // A numeric id reads as text.
        assert_eq!(parsed.records[0].id, "123");
        assert_eq!(
            parsed.records[0].details["executors"][0]["command"],
            "uname\t-a"
        );
    }

    #[test]
    fn abilities_without_an_id_or_repeated_fail_alone() {
        let no_id = "- name: Nameless\n  technique_id: T1082\n";
        let parsed = parse(&[
            file("abilities/a.yml", NEWER),
            file("abilities/b.yml", NEWER),
            file("abilities/c.yml", no_id),
            file("abilities/d.yml", "- [broken"),
            file("abilities/e.yml", LEGACY),
        ]);
        assert_eq!(parsed.records.len(), 2);
        let errors: Vec<&str> = parsed
            .failures
            .iter()
            .map(|failure| failure.file.as_str())
            .collect();
        assert_eq!(
            errors,
            ["abilities/b.yml", "abilities/c.yml", "abilities/d.yml"]
        );
        assert!(
            parsed.failures[0]
                .error
                .contains("already imported from abilities/a.yml")
        );
        assert!(parsed.failures[1].error.contains("no id"));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = parse(&[SourceFile { path: PathBuf::from("a.yml"), bytes }]);
        }

        #[test]
        fn mutations_of_a_valid_file_never_panic(
            position in 0usize..LEGACY.len(),
            length in 0usize..40,
            insert in "[ -~\n:\\-\\[\\]{}|>&*#'\"]{0,12}",
        ) {
            let mut text = LEGACY.as_bytes().to_vec();
            let end = (position + length).min(text.len());
            text.splice(position..end, insert.bytes());
            let _ = parse(&[SourceFile { path: PathBuf::from("a.yml"), bytes: text }]);
        }
    }
}
