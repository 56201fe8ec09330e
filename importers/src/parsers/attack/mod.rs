//! MITRE ATT&CK (Enterprise, Mobile, ICS) from STIX 2.0 / 2.1: techniques, tactics, matrices, groups,
//! campaigns, software, mitigations, data sources and components, detection strategies, analytics and ICS
//! assets, one record per object and ATT&CK domain (the record's scope: `enterprise-attack`, `mobile-attack`,
//! `ics-attack`).
//!
//! Input shapes, all handled by [`parse`] and mixable in one import:
//! - one bundle holding a whole domain (`enterprise-attack.json`, `ics-attack.json`);
//! - a directory of one-object bundles (MITRE's `enterprise-attack/<type>/<type>--<uuid>.json`), where
//!   relationships sit in files of their own, so every file of the import is joined before anything resolves;
//! - TAXII 2.1 envelopes (`{"more": …, "next": …, "objects": […]}`): a TAXII client passes every page of a
//!   collection as one [`SourceFile`] each, in one call, exactly like the files of a directory.
//!
//! The parse is split in three steps, one module each: [`stix`] reads each file into typed objects that borrow
//! from the bytes (the Enterprise bundle is 44 MB), [`graph`] joins all objects (duplicates across domain
//! bundles, domains, relationships), [`records`] builds the records and their details. Each module lists the
//! upstream quirks it handles.
//!
//! The release (`upstream_version`) is the `x_mitre_version` of the `x-mitre-collection` object, which the
//! ATT&CK Workbench exports and `attack-stix-data` bundles carry. MITRE's `cti` bundles have no collection:
//! there `x_mitre_version` is each object's own version and `x_mitre_attack_spec_version` the data model's
//! (3.2.0 and 3.3.0 mixed within v18.1), so neither names the release and the version stays unknown.

mod graph;
mod records;
mod stix;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::path::Path;

use crate::record::{FileFailure, Parsed, SourceFile};

/// Whether a file found by a directory walk belongs to this source: any JSON file (bundles, one-object bundles,
/// saved TAXII pages). Files that turn out not to be STIX are reported, not skipped.
pub fn accepts(path: &Path) -> bool {
    path.extension()
        .is_some_and(|extension| extension.eq_ignore_ascii_case("json"))
}

/// Parses every file of one import together; a file that is not a STIX bundle or TAXII envelope is reported in
/// [`Parsed::failures`], and so is a file some of whose objects could not be read (its other objects are kept).
pub fn parse(files: &[SourceFile]) -> Parsed {
    let mut failures = Vec::new();
    let mut objects = Vec::new();
    for file in files {
        match stix::read_file(file) {
            Ok(file_objects) => {
                if let Some(skipped) = file_objects.skipped {
                    failures.push(FileFailure::new(&file.path, skipped));
                }
                objects.extend(file_objects.objects);
            }
            Err(error) => failures.push(FileFailure::new(&file.path, error)),
        }
    }
    let graph = graph::Graph::build(objects);
    Parsed {
        records: records::build_records(&graph),
        failures,
        upstream_version: release_version(&graph),
    }
}

/// The release named by the import's `x-mitre-collection` objects: their version when they agree, each domain
/// with its version when they do not (an import mixing releases is worth seeing).
fn release_version(graph: &graph::Graph<'_>) -> Option<String> {
    let mut versions: BTreeMap<&str, Vec<&'static str>> = BTreeMap::new();
    for entry in &graph.entries {
        if entry.kind != graph::ObjectKind::Collection {
            continue;
        }
        let Some(version) = entry.object.x_mitre_version.as_deref() else {
            continue;
        };
        let domains = versions.entry(version.trim()).or_default();
        domains.extend(entry.domains.iter().map(graph::Domain::as_str));
    }
    match versions.len() {
        0 => None,
        1 => versions.into_keys().next().map(str::to_owned),
        _ => Some(
            versions
                .into_iter()
                .map(|(version, domains)| format!("{version} ({})", domains.join(", ")))
                .collect::<Vec<_>>()
                .join("; "),
        ),
    }
}
