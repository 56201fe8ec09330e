//! What the four procedure-template parsers (Atomic Red Team, CALDERA, LOLBAS, GTFOBins) share: all four read
//! YAML with `serde_yaml_ng`, keep some upstream structures as raw JSON in their details, and must not emit
//! the same template id twice.
//!
//! Quirks handled here, once for all four sources:
//! - YAML mapping keys that are not strings (GTFOBins writes `true:`/`false:` keys; any source may write a
//!   number) cannot become JSON object keys as they are: [`yaml_to_json`] writes them as their YAML text;
//! - fields that are a list upstream but sometimes a single scalar or null ([`text_list`]);
//! - values that serde would read as text but YAML types as numbers or booleans (a timeout, a version)
//!   ([`scalar_text`]).

use std::collections::HashMap;
use std::path::Path;

use serde::{Deserialize, Deserializer, Serialize};
use serde_yaml_ng::Value as YamlValue;

use crate::record::{CatalogRecord, RecordKind, RecordStatus};
use domain::test_case::TechniqueId;

/// Converts a YAML value into JSON for a record's details, keeping every value: non-string keys become their
/// YAML text, tags are dropped (the tagged value is kept), and floats JSON cannot hold (NaN, infinities) become
/// their YAML text.
pub(crate) fn yaml_to_json(value: &YamlValue) -> serde_json::Value {
    match value {
        YamlValue::Null => serde_json::Value::Null,
        YamlValue::Bool(flag) => serde_json::Value::Bool(*flag),
        YamlValue::Number(number) => number_to_json(number),
        YamlValue::String(text) => serde_json::Value::String(text.clone()),
        YamlValue::Sequence(items) => {
            serde_json::Value::Array(items.iter().map(yaml_to_json).collect())
        }
        YamlValue::Mapping(mapping) => serde_json::Value::Object(
            mapping
                .iter()
                .map(|(key, item)| (key_text(key), yaml_to_json(item)))
                .collect(),
        ),
        YamlValue::Tagged(tagged) => yaml_to_json(&tagged.value),
    }
}

fn number_to_json(number: &serde_yaml_ng::Number) -> serde_json::Value {
    if let Some(integer) = number.as_i64() {
        return serde_json::Value::from(integer);
    }
    if let Some(integer) = number.as_u64() {
        return serde_json::Value::from(integer);
    }
    number
        .as_f64()
        .and_then(serde_json::Number::from_f64)
        .map_or_else(
            || serde_json::Value::String(number.to_string()),
            serde_json::Value::Number,
        )
}

/// The text of a mapping key: a string as it is, a scalar as YAML writes it, anything else as compact JSON.
pub(crate) fn key_text(key: &YamlValue) -> String {
    scalar_text(key).unwrap_or_else(|| yaml_to_json(key).to_string())
}

/// The text of a scalar (`53` → "53", `true` → "true"); `None` for null, lists and maps.
pub(crate) fn scalar_text(value: &YamlValue) -> Option<String> {
    match value {
        YamlValue::String(text) => Some(text.clone()),
        YamlValue::Bool(flag) => Some(flag.to_string()),
        YamlValue::Number(number) => Some(number.to_string()),
        YamlValue::Tagged(tagged) => scalar_text(&tagged.value),
        YamlValue::Null | YamlValue::Sequence(_) | YamlValue::Mapping(_) => None,
    }
}

/// Reads a list of texts that upstream sometimes writes as a single scalar, as null, or with null items:
/// `payloads: [a.exe]`, `payloads: a.exe`, `payloads:` all work. Maps inside the list are kept as JSON text
/// rather than failing the file.
pub(crate) fn text_list<'de, D>(deserializer: D) -> Result<Vec<String>, D::Error>
where
    D: Deserializer<'de>,
{
    let value = YamlValue::deserialize(deserializer)?;
    Ok(texts_of(&value))
}

/// The texts in a YAML value read as [`text_list`] reads it.
pub(crate) fn texts_of(value: &YamlValue) -> Vec<String> {
    match value {
        YamlValue::Null => Vec::new(),
        YamlValue::Sequence(items) => items
            .iter()
            .filter(|item| !matches!(item, YamlValue::Null))
            .map(|item| scalar_text(item).unwrap_or_else(|| yaml_to_json(item).to_string()))
            .collect(),
        YamlValue::Tagged(tagged) => texts_of(&tagged.value),
        other => vec![scalar_text(other).unwrap_or_else(|| yaml_to_json(other).to_string())],
    }
}

/// Text that is missing, null, or only whitespace is absent: upstream writes `privilege: ''` for "no privilege".
pub(crate) fn non_blank(text: Option<String>) -> Option<String> {
    text.filter(|text| !text.trim().is_empty())
}

/// Remembers which file first produced each id, so a second record with the same (kind, scope, id) becomes a
/// failure instead of silently replacing the first in the catalog.
#[derive(Debug, Default)]
pub(crate) struct SeenIds {
    first_file_by_id: HashMap<String, String>,
}

impl SeenIds {
    /// Claims `id` for `file`; when it is taken, returns the file that took it first.
    pub(crate) fn claim(&mut self, id: &str, file: &Path) -> Result<(), String> {
        if let Some(first_file) = self.first_file_by_id.get(id) {
            return Err(first_file.clone());
        }
        self.first_file_by_id
            .insert(id.to_owned(), file.display().to_string());
        Ok(())
    }
}

/// Builds a template record; the details struct is serialised here so every parser reports a (theoretical)
/// serialisation error the same way instead of unwrapping.
pub(crate) fn template_record(
    scope: &str,
    id: String,
    name: String,
    techniques: Vec<TechniqueId>,
    details: &impl Serialize,
) -> Result<CatalogRecord, serde_json::Error> {
    Ok(CatalogRecord {
        kind: RecordKind::Template,
        scope: scope.to_owned(),
        id,
        name,
        status: RecordStatus::Active,
        techniques,
        details: serde_json::to_value(details)?,
    })
}

/// Whether a path's extension is `.yml` or `.yaml` (any case).
pub(crate) fn has_yaml_extension(path: &Path) -> bool {
    path.extension()
        .and_then(|extension| extension.to_str())
        .is_some_and(|extension| {
            extension.eq_ignore_ascii_case("yml") || extension.eq_ignore_ascii_case("yaml")
        })
}

/// Whether any directory above the file is called `name`.
pub(crate) fn has_ancestor_named(path: &Path, name: &str) -> bool {
    path.parent().is_some_and(|parent| {
        parent
            .components()
            .any(|component| component.as_os_str() == name)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boolean_and_number_keys_become_text_keys() {
        let value: YamlValue =
            serde_yaml_ng::from_str("true: yes\n3: x\nnan: .nan\n").expect("fixture");
        let json = yaml_to_json(&value);
        assert_eq!(json["true"], "yes");
        assert_eq!(json["3"], "x");
        assert_eq!(json["nan"], ".nan");
    }

    #[test]
    fn a_text_list_takes_a_scalar_a_null_or_a_list() {
        #[derive(Deserialize)]
        struct Holder {
            #[serde(default, deserialize_with = "text_list")]
            items: Vec<String>,
        }
        let read = |yaml: &str| {
            serde_yaml_ng::from_str::<Holder>(yaml)
                .expect("fixture")
                .items
        };
        assert_eq!(read("items: a.exe"), ["a.exe"]);
        assert_eq!(read("items:"), Vec::<String>::new());
        assert_eq!(read("{}"), Vec::<String>::new());
        assert_eq!(read("items: [a, ~, 3]"), ["a", "3"]);
    }

    #[test]
    fn a_second_claim_names_the_first_file() {
        let mut seen = SeenIds::default();
        assert_eq!(seen.claim("x", Path::new("a.yml")), Ok(()));
        assert_eq!(seen.claim("x", Path::new("b.yml")), Err("a.yml".to_owned()));
    }
}
