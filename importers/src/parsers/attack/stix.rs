//! The STIX shapes ATT&CK publishes, and reading one input file into its objects.
//!
//! Performance: the Enterprise bundle is 44 MB, so objects are read into typed structs whose text borrows from
//! the input bytes ([`Text`] is borrowed unless the JSON string holds escapes) and every field the catalog
//! does not use (relationship descriptions, citations, marking refs) is skipped by serde without allocating.
//!
//! Robustness: the container is read first with each object kept as raw JSON, then every object is read on its
//! own, so one object of an unexpected shape (a number where a list belongs) costs that object — reported with
//! the file — and not the other 24,000 objects of the bundle.
//!
//! Quirks handled here:
//! - Two container shapes: a STIX bundle (`"type": "bundle"`, STIX 2.0 with `spec_version` on the bundle, STIX
//!   2.1 without) and a TAXII 2.1 envelope (`{"more": …, "next": …, "objects": […]}`, no `type`); both carry
//!   the objects in `objects`, which a bundle may also omit (an empty bundle).
//! - Optional fields everywhere: `revoked` is absent on many objects (absent = false), identity and marking
//!   objects lack `modified` and every `x_mitre_*` field, detection strategies have no `description`.

use std::borrow::Cow;
use std::fmt;
use std::ops::Deref;

use serde::de::{Deserializer, IgnoredAny, Visitor};
use serde::{Deserialize, Serialize, Serializer};
use serde_json::value::RawValue;
use thiserror::Error;

use crate::record::SourceFile;

/// A JSON string, borrowed from the input when it holds no escape sequence (ids and names almost never do).
///
/// `Cow<str>` alone is always owned when nested in `Option` or `Vec`, which is where most ATT&CK strings are.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(super) struct Text<'a>(pub(super) Cow<'a, str>);

impl Text<'_> {
    pub(super) fn as_str(&self) -> &str {
        &self.0
    }
}

impl Deref for Text<'_> {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TextVisitor<'a>(std::marker::PhantomData<&'a ()>);

        impl<'de: 'a, 'a> Visitor<'de> for TextVisitor<'a> {
            type Value = Text<'a>;

            fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                formatter.write_str("a string")
            }

            fn visit_borrowed_str<E>(self, value: &'de str) -> Result<Self::Value, E> {
                Ok(Text(Cow::Borrowed(value)))
            }

            fn visit_str<E>(self, value: &str) -> Result<Self::Value, E> {
                Ok(Text(Cow::Owned(value.to_owned())))
            }

            fn visit_string<E>(self, value: String) -> Result<Self::Value, E> {
                Ok(Text(Cow::Owned(value)))
            }
        }

        deserializer.deserialize_str(TextVisitor(std::marker::PhantomData))
    }
}

impl Serialize for Text<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

/// The top level of a file: a bundle or a TAXII envelope, objects left raw (see the module docs).
#[derive(Deserialize)]
struct Container<'a> {
    #[serde(rename = "type", default, borrow)]
    stix_type: Option<Text<'a>>,
    #[serde(default, borrow)]
    objects: Option<Vec<&'a RawValue>>,
    /// Only looked at to recognise an empty TAXII page, which may carry nothing but `"more": false`.
    #[serde(default)]
    more: Option<IgnoredAny>,
}

/// One entry of `external_references`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct ExternalReference<'a> {
    #[serde(borrow)]
    pub(super) source_name: Text<'a>,
    #[serde(borrow)]
    pub(super) external_id: Option<Text<'a>>,
    #[serde(borrow)]
    pub(super) url: Option<Text<'a>>,
}

/// One entry of `kill_chain_phases`: `phase_name` is a tactic's `x_mitre_shortname`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct KillChainPhase<'a> {
    #[serde(borrow)]
    pub(super) kill_chain_name: Text<'a>,
    #[serde(borrow)]
    pub(super) phase_name: Text<'a>,
}

/// One entry of a data component's `x_mitre_log_sources`.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub(super) struct LogSource<'a> {
    #[serde(borrow)]
    pub(super) name: Option<Text<'a>>,
    #[serde(borrow)]
    pub(super) channel: Option<Text<'a>>,
}

/// One entry of an analytic's `x_mitre_log_source_references`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct LogSourceReference<'a> {
    #[serde(borrow)]
    pub(super) x_mitre_data_component_ref: Option<Text<'a>>,
    #[serde(borrow)]
    pub(super) name: Option<Text<'a>>,
    #[serde(borrow)]
    pub(super) channel: Option<Text<'a>>,
}

/// One entry of an analytic's `x_mitre_mutable_elements`: what a defender tunes for their environment.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub(super) struct MutableElement<'a> {
    #[serde(borrow)]
    pub(super) field: Option<Text<'a>>,
    #[serde(borrow)]
    pub(super) description: Option<Text<'a>>,
}

/// One entry of an ICS asset's `x_mitre_related_assets`.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub(super) struct RelatedAsset<'a> {
    #[serde(borrow)]
    pub(super) name: Option<Text<'a>>,
    #[serde(borrow, rename(deserialize = "related_asset_sectors"))]
    pub(super) sectors: Vec<Text<'a>>,
    #[serde(borrow)]
    pub(super) description: Option<Text<'a>>,
}

/// Every field of every STIX object type the catalog reads; an object type simply leaves the others empty.
/// One struct rather than one per type keeps the read a single pass with no buffering of the object.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct StixObject<'a> {
    #[serde(rename = "type", borrow)]
    pub(super) object_type: Text<'a>,
    #[serde(borrow)]
    pub(super) id: Text<'a>,
    #[serde(borrow)]
    pub(super) name: Option<Text<'a>>,
    #[serde(borrow)]
    pub(super) description: Option<Text<'a>>,
    #[serde(borrow)]
    pub(super) created: Option<Text<'a>>,
    #[serde(borrow)]
    pub(super) modified: Option<Text<'a>>,
    pub(super) revoked: Option<bool>,
    pub(super) x_mitre_deprecated: Option<bool>,
    #[serde(borrow)]
    pub(super) x_mitre_version: Option<Text<'a>>,
    #[serde(borrow)]
    pub(super) x_mitre_domains: Vec<Text<'a>>,
    #[serde(borrow)]
    pub(super) external_references: Vec<ExternalReference<'a>>,
    #[serde(borrow)]
    pub(super) x_mitre_platforms: Vec<Text<'a>>,

    // attack-pattern
    #[serde(borrow)]
    pub(super) kill_chain_phases: Vec<KillChainPhase<'a>>,
    pub(super) x_mitre_is_subtechnique: Option<bool>,
    #[serde(borrow)]
    pub(super) x_mitre_detection: Option<Text<'a>>,

    // x-mitre-tactic, x-mitre-matrix
    #[serde(borrow)]
    pub(super) x_mitre_shortname: Option<Text<'a>>,
    #[serde(borrow)]
    pub(super) tactic_refs: Vec<Text<'a>>,

    // intrusion-set, campaign, malware, tool
    #[serde(borrow)]
    pub(super) aliases: Vec<Text<'a>>,
    #[serde(borrow)]
    pub(super) x_mitre_aliases: Vec<Text<'a>>,
    #[serde(borrow)]
    pub(super) first_seen: Option<Text<'a>>,
    #[serde(borrow)]
    pub(super) last_seen: Option<Text<'a>>,

    // x-mitre-data-source, x-mitre-data-component
    #[serde(borrow)]
    pub(super) x_mitre_collection_layers: Vec<Text<'a>>,
    #[serde(borrow)]
    pub(super) x_mitre_data_source_ref: Option<Text<'a>>,
    #[serde(borrow)]
    pub(super) x_mitre_log_sources: Vec<LogSource<'a>>,

    // x-mitre-detection-strategy, x-mitre-analytic
    #[serde(borrow)]
    pub(super) x_mitre_analytic_refs: Vec<Text<'a>>,
    #[serde(borrow)]
    pub(super) x_mitre_log_source_references: Vec<LogSourceReference<'a>>,
    #[serde(borrow)]
    pub(super) x_mitre_mutable_elements: Vec<MutableElement<'a>>,

    // x-mitre-asset
    #[serde(borrow)]
    pub(super) x_mitre_sectors: Vec<Text<'a>>,
    #[serde(borrow)]
    pub(super) x_mitre_related_assets: Vec<RelatedAsset<'a>>,

    // relationship
    #[serde(borrow)]
    pub(super) relationship_type: Option<Text<'a>>,
    #[serde(borrow)]
    pub(super) source_ref: Option<Text<'a>>,
    #[serde(borrow)]
    pub(super) target_ref: Option<Text<'a>>,
}

impl<'a> StixObject<'a> {
    pub(super) fn is_revoked(&self) -> bool {
        self.revoked.unwrap_or(false)
    }

    pub(super) fn is_deprecated(&self) -> bool {
        self.x_mitre_deprecated.unwrap_or(false)
    }

    /// The `external_references` entry that carries the ATT&CK id: `source_name` is `mitre-attack` in every
    /// domain today, but older mobile and ICS objects use `mitre-mobile-attack` / `mitre-ics-attack`.
    pub(super) fn attack_reference(&self) -> Option<&ExternalReference<'a>> {
        self.external_references.iter().find(|reference| {
            reference.external_id.is_some()
                && matches!(
                    reference.source_name.as_str(),
                    "mitre-attack" | "mitre-mobile-attack" | "mitre-ics-attack"
                )
        })
    }
}

/// Why a file gave no objects, or lost some.
#[derive(Debug, Error)]
pub(super) enum ReadError {
    #[error("not UTF-8 text: {0}")]
    NotUtf8(#[from] std::str::Utf8Error),
    #[error("not JSON: {0}")]
    NotJson(serde_json::Error),
    #[error("not a STIX bundle or TAXII envelope: {0}")]
    NotAContainer(serde_json::Error),
    #[error("not a STIX bundle or TAXII envelope: the top level is a STIX `{0}` object")]
    SingleObject(String),
    #[error("not a STIX bundle or TAXII envelope: no `objects` list and no bundle `type`")]
    NoObjects,
    #[error(
        "{skipped} STIX object(s) could not be read and were skipped; the first, object #{index} ({id}): {reason}"
    )]
    ObjectsSkipped {
        skipped: usize,
        index: usize,
        id: String,
        reason: serde_json::Error,
    },
}

/// What one file gave: its objects, and the objects it had to skip (reported as one failure for the file).
pub(super) struct FileObjects<'a> {
    pub(super) objects: Vec<StixObject<'a>>,
    pub(super) skipped: Option<ReadError>,
}

/// Reads one bundle or TAXII envelope. The whole file fails only when it is not such a container.
pub(super) fn read_file(file: &SourceFile) -> Result<FileObjects<'_>, ReadError> {
    let text = std::str::from_utf8(&file.bytes)?;
    // No ATT&CK file has a byte-order mark, but editors add one and serde_json refuses it.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let container: Container<'_> =
        serde_json::from_str(text).map_err(|error| match error.classify() {
            serde_json::error::Category::Data => ReadError::NotAContainer(error),
            _ => ReadError::NotJson(error),
        })?;
    let is_bundle = container
        .stix_type
        .as_ref()
        .is_some_and(|container_type| container_type.as_str() == "bundle");
    if let Some(other_type) = container.stix_type.filter(|_| !is_bundle) {
        return Err(ReadError::SingleObject(other_type.0.into_owned()));
    }
    let raw_objects = match container.objects {
        Some(raw_objects) => raw_objects,
        // A bundle may omit `objects` (STIX 2.1 makes it optional) and a TAXII page may be empty.
        None if is_bundle || container.more.is_some() => Vec::new(),
        None => return Err(ReadError::NoObjects),
    };

    let mut objects = Vec::with_capacity(raw_objects.len());
    let mut skipped = None;
    let mut skipped_count = 0;
    for (index, raw_object) in raw_objects.into_iter().enumerate() {
        match serde_json::from_str::<StixObject<'_>>(raw_object.get()) {
            Ok(object) => objects.push(object),
            Err(reason) => {
                skipped_count += 1;
                if skipped.is_none() {
                    skipped = Some((index, object_id_of(raw_object), reason));
                }
            }
        }
    }
    let skipped = skipped.map(|(index, id, reason)| ReadError::ObjectsSkipped {
        skipped: skipped_count,
        index,
        id,
        reason,
    });
    Ok(FileObjects { objects, skipped })
}

/// The `id` of an object that could not be read as a whole, for the failure report.
fn object_id_of(raw_object: &RawValue) -> String {
    #[derive(Deserialize)]
    struct JustTheId {
        id: String,
    }
    serde_json::from_str::<JustTheId>(raw_object.get())
        .map_or_else(|_| "no readable id".to_owned(), |object| object.id)
}
