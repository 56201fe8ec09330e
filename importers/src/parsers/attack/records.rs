//! Turns the joined graph into catalog records, one per object and domain it is emitted in, with each kind's
//! details.
//!
//! Every list of related objects is limited to the record's domain (a group shared by Enterprise and ICS lists
//! its Enterprise techniques under `enterprise-attack` and its ICS techniques under `ics-attack`) and holds
//! ATT&CK ids, sorted and without repeats, except where upstream order means something (tactics, analytics).
//!
//! Quirks handled here:
//! - Revoked and deprecated are separate flags; `revoked` wins if both are ever set. A revoked object's
//!   replacement is the target of its `revoked-by` relationship, named by its ATT&CK id (a malware may be
//!   replaced by a tool).
//! - Sub-technique parents are `subtechnique-of` relationships, not embedded; two revoked v18 sub-techniques
//!   have none, so the parent falls back to the id before the dot.
//! - A technique's tactics are its kill chain phases of the record's domain, put in the matrix's tactic order;
//!   the mobile matrix and tactics have deprecated twins, so active matrices and tactics are preferred.
//! - ICS techniques list `x_mitre_platforms: ["None"]`, the string: it means no platform.
//! - Legacy mitigations carry technique-style ids (`T1040`); the id is kept as upstream gives it and never
//!   read as a technique.
//! - Detection (v18): detection strategy -detects-> technique, strategy → analytics (`x_mitre_analytic_refs`),
//!   analytic → data components (log source references). Older releases link data components to techniques
//!   with `detects` directly; both feed a technique's `data_components`.

use std::collections::HashMap;

use serde::Serialize;

use super::graph::{Domain, Entry, Graph, Link, ObjectKind};
use super::stix::{LogSource, MutableElement, RelatedAsset, Text};
use crate::record::{CatalogRecord, RecordKind, RecordStatus, technique_ids};

/// Fields every ATT&CK record's details carry.
#[derive(Debug, Serialize)]
struct Common<'g> {
    stix_id: &'g str,
    description: Option<&'g str>,
    url: Option<&'g str>,
    /// `x_mitre_version`: the object's own version, not the release's.
    version: Option<&'g str>,
    created: Option<&'g str>,
    modified: Option<&'g str>,
    /// Every domain the object belongs to, including ones absent from this import.
    domains: Vec<&'static str>,
}

#[derive(Debug, Serialize)]
struct TechniqueDetails<'g> {
    #[serde(flatten)]
    common: Common<'g>,
    /// Tactic shortnames (`phase_name`) in the matrix's tactic order.
    tactics: Vec<&'g str>,
    /// The same tactics by id, where the import holds them.
    tactic_ids: Vec<&'g str>,
    platforms: Vec<&'g str>,
    is_subtechnique: bool,
    parent: Option<&'g str>,
    sub_techniques: Vec<&'g str>,
    /// `x_mitre_detection` text; empty on every v18 technique, kept for older releases.
    detection: Option<&'g str>,
    detection_strategies: Vec<&'g str>,
    mitigations: Vec<&'g str>,
    data_components: Vec<&'g str>,
    /// ICS assets the technique `targets`.
    targets_assets: Vec<&'g str>,
}

#[derive(Debug, Serialize)]
struct TacticDetails<'g> {
    #[serde(flatten)]
    common: Common<'g>,
    shortname: Option<&'g str>,
    /// Matrices whose `tactic_refs` list the tactic.
    matrices: Vec<&'g str>,
    /// Position (from 0) in the tactic order of its (active) matrix.
    order: Option<usize>,
}

#[derive(Debug, Serialize)]
struct MatrixDetails<'g> {
    #[serde(flatten)]
    common: Common<'g>,
    /// Tactic ids in the matrix's order.
    tactics: Vec<&'g str>,
}

#[derive(Debug, Serialize)]
struct GroupDetails<'g> {
    #[serde(flatten)]
    common: Common<'g>,
    aliases: &'g [Text<'g>],
    /// Software the group `uses`.
    software: Vec<&'g str>,
    /// Campaigns `attributed-to` the group.
    campaigns: Vec<&'g str>,
}

#[derive(Debug, Serialize)]
struct CampaignDetails<'g> {
    #[serde(flatten)]
    common: Common<'g>,
    aliases: &'g [Text<'g>],
    first_seen: Option<&'g str>,
    last_seen: Option<&'g str>,
    software: Vec<&'g str>,
    /// Groups the campaign is `attributed-to`.
    groups: Vec<&'g str>,
}

#[derive(Debug, Serialize)]
struct SoftwareDetails<'g> {
    #[serde(flatten)]
    common: Common<'g>,
    /// `malware` or `tool`.
    software_type: &'static str,
    aliases: &'g [Text<'g>],
    platforms: Vec<&'g str>,
    /// Groups and campaigns that `use` the software.
    groups: Vec<&'g str>,
    campaigns: Vec<&'g str>,
}

#[derive(Debug, Serialize)]
struct MitigationDetails<'g> {
    #[serde(flatten)]
    common: Common<'g>,
}

#[derive(Debug, Serialize)]
struct DataSourceDetails<'g> {
    #[serde(flatten)]
    common: Common<'g>,
    platforms: Vec<&'g str>,
    collection_layers: &'g [Text<'g>],
    data_components: Vec<&'g str>,
}

#[derive(Debug, Serialize)]
struct DataComponentDetails<'g> {
    #[serde(flatten)]
    common: Common<'g>,
    data_source: Option<&'g str>,
    log_sources: &'g [LogSource<'g>],
    /// Analytics that read the component.
    analytics: Vec<&'g str>,
}

#[derive(Debug, Serialize)]
struct DetectionStrategyDetails<'g> {
    #[serde(flatten)]
    common: Common<'g>,
    /// Analytic ids in upstream order.
    analytics: Vec<&'g str>,
}

#[derive(Debug, Serialize)]
struct AnalyticLogSource<'g> {
    /// The data component's id (`DC0032`) when the import holds it.
    data_component: Option<&'g str>,
    data_component_ref: Option<&'g str>,
    name: Option<&'g str>,
    channel: Option<&'g str>,
}

#[derive(Debug, Serialize)]
struct AnalyticDetails<'g> {
    #[serde(flatten)]
    common: Common<'g>,
    platforms: Vec<&'g str>,
    log_sources: Vec<AnalyticLogSource<'g>>,
    mutable_elements: &'g [MutableElement<'g>],
    detection_strategies: Vec<&'g str>,
}

#[derive(Debug, Serialize)]
struct AssetDetails<'g> {
    #[serde(flatten)]
    common: Common<'g>,
    platforms: Vec<&'g str>,
    sectors: &'g [Text<'g>],
    related_assets: &'g [RelatedAsset<'g>],
}

/// What differs between record kinds: the kind, the technique ids, the serialised details.
struct Parts<'g> {
    kind: RecordKind,
    techniques: Vec<&'g str>,
    details: serde_json::Value,
}

impl<'g> Parts<'g> {
    fn new(kind: RecordKind, techniques: Vec<&'g str>, details: &impl Serialize) -> Self {
        Self {
            kind,
            techniques,
            details: to_json(details),
        }
    }
}

/// Where a tactic sits in the matrices of one domain.
#[derive(Debug, Default)]
struct TacticPlace<'g> {
    matrices: Vec<&'g str>,
    order: Option<usize>,
}

/// Lookups computed once for the whole import.
struct Builder<'g, 'a> {
    graph: &'g Graph<'a>,
    /// (domain, tactic entry) → its matrices and order.
    tactic_places: HashMap<(Domain, usize), TacticPlace<'g>>,
    /// (domain, shortname) → tactic entry, active tactics preferred.
    tactic_by_shortname: HashMap<(Domain, &'g str), usize>,
    /// (domain, tactic entry) → technique ids under it.
    tactic_techniques: HashMap<(Domain, usize), Vec<&'g str>>,
}

/// Every record of the import, sorted by key; at most one record per (kind, scope, id).
pub(super) fn build_records(graph: &Graph<'_>) -> Vec<CatalogRecord> {
    let builder = Builder::new(graph);
    let mut records = Vec::new();
    for (index, entry) in graph.entries.iter().enumerate() {
        for domain in entry.domains.iter() {
            if let Some(record) = builder.record(index, entry, domain) {
                records.push(record);
            }
        }
    }
    // Two objects with one ATT&CK id in one domain never happen upstream; if they do, keep the live one.
    records.sort_by(|left, right| {
        (left.kind, &left.scope, &left.id, status_rank(&left.status)).cmp(&(
            right.kind,
            &right.scope,
            &right.id,
            status_rank(&right.status),
        ))
    });
    records.dedup_by(|later, kept| {
        later.kind == kept.kind && later.scope == kept.scope && later.id == kept.id
    });
    records
}

fn status_rank(status: &RecordStatus) -> u8 {
    match status {
        RecordStatus::Active => 0,
        RecordStatus::Deprecated => 1,
        RecordStatus::Revoked { .. } => 2,
    }
}

fn is_live(entry: &Entry<'_>) -> bool {
    !entry.object.is_revoked() && !entry.object.is_deprecated()
}

impl<'g, 'a> Builder<'g, 'a> {
    fn new(graph: &'g Graph<'a>) -> Self {
        let mut builder = Self {
            graph,
            tactic_places: HashMap::new(),
            tactic_by_shortname: HashMap::new(),
            tactic_techniques: HashMap::new(),
        };
        builder.place_tactics();
        builder.index_tactic_shortnames();
        builder.collect_tactic_techniques();
        builder
    }

    fn place_tactics(&mut self) {
        let graph = self.graph;
        let mut matrices: Vec<usize> = (0..graph.entries.len())
            .filter(|index| graph.entries[*index].kind == ObjectKind::Matrix)
            .collect();
        // The order of a tactic is its place in an active matrix when one lists it.
        matrices.sort_by_key(|index| !is_live(&graph.entries[*index]));
        for matrix in matrices {
            let matrix_entry = &graph.entries[matrix];
            for domain in matrix_entry.domains.iter() {
                for (position, tactic_ref) in matrix_entry.object.tactic_refs.iter().enumerate() {
                    let Some(tactic) = graph.index_of(Some(tactic_ref)) else {
                        continue;
                    };
                    let place = self.tactic_places.entry((domain, tactic)).or_default();
                    place.matrices.push(&matrix_entry.attack_id);
                    place.order.get_or_insert(position);
                }
            }
        }
    }

    fn index_tactic_shortnames(&mut self) {
        let graph = self.graph;
        for (index, entry) in graph.entries.iter().enumerate() {
            if entry.kind != ObjectKind::Tactic {
                continue;
            }
            let Some(shortname) = entry.object.x_mitre_shortname.as_deref() else {
                continue;
            };
            for domain in entry.domains.iter() {
                self.tactic_by_shortname
                    .entry((domain, shortname))
                    .and_modify(|kept| {
                        if !is_live(&graph.entries[*kept]) && is_live(entry) {
                            *kept = index;
                        }
                    })
                    .or_insert(index);
            }
        }
    }

    fn collect_tactic_techniques(&mut self) {
        let graph = self.graph;
        for entry in &graph.entries {
            if entry.kind != ObjectKind::Technique {
                continue;
            }
            for domain in entry.domains.iter() {
                for phase in &entry.object.kill_chain_phases {
                    if !domain.owns_kill_chain(&phase.kill_chain_name) {
                        continue;
                    }
                    if let Some(&tactic) = self
                        .tactic_by_shortname
                        .get(&(domain, phase.phase_name.as_str()))
                    {
                        self.tactic_techniques
                            .entry((domain, tactic))
                            .or_default()
                            .push(&entry.attack_id);
                    }
                }
            }
        }
    }

    fn record(&self, index: usize, entry: &'g Entry<'a>, domain: Domain) -> Option<CatalogRecord> {
        let common = Self::common(entry);
        let Parts {
            kind,
            techniques,
            details,
        } = match entry.kind {
            ObjectKind::Collection => return None,
            ObjectKind::Technique => Parts::new(
                RecordKind::Technique,
                vec![entry.attack_id.as_ref()],
                &self.technique(index, entry, domain, common),
            ),
            ObjectKind::Tactic => self.tactic(index, entry, domain, common),
            ObjectKind::Matrix => self.matrix(entry, common),
            ObjectKind::Group => self.group(index, entry, domain, common),
            ObjectKind::Campaign => self.campaign(index, entry, domain, common),
            ObjectKind::Malware | ObjectKind::Tool => self.software(index, entry, domain, common),
            ObjectKind::Mitigation => Parts::new(
                RecordKind::Mitigation,
                self.ids(
                    self.graph.targets(index, Link::Mitigates),
                    domain,
                    is_technique,
                ),
                &MitigationDetails { common },
            ),
            ObjectKind::DataSource => self.data_source(index, entry, domain, common),
            ObjectKind::DataComponent => self.data_component(index, entry, domain, common),
            ObjectKind::DetectionStrategy => self.detection_strategy(index, domain, common),
            ObjectKind::Analytic => self.analytic(index, entry, domain, common),
            ObjectKind::Asset => Parts::new(
                RecordKind::Asset,
                self.ids(
                    self.graph.sources(index, Link::Targets),
                    domain,
                    is_technique,
                ),
                &AssetDetails {
                    common,
                    platforms: platforms(&entry.object.x_mitre_platforms),
                    sectors: &entry.object.x_mitre_sectors,
                    related_assets: &entry.object.x_mitre_related_assets,
                },
            ),
        };
        Some(CatalogRecord {
            kind,
            scope: domain.as_str().to_owned(),
            id: entry.attack_id.clone().into_owned(),
            name: entry.object.name.as_ref().map_or_else(
                || entry.attack_id.clone().into_owned(),
                |name| name.0.clone().into_owned(),
            ),
            status: self.status(index, entry),
            techniques: technique_ids(techniques),
            details,
        })
    }

    fn tactic(
        &self,
        index: usize,
        entry: &'g Entry<'a>,
        domain: Domain,
        common: Common<'g>,
    ) -> Parts<'g> {
        let place = self.tactic_places.get(&(domain, index));
        let techniques = self
            .tactic_techniques
            .get(&(domain, index))
            .cloned()
            .unwrap_or_default();
        let details = TacticDetails {
            common,
            shortname: entry.object.x_mitre_shortname.as_deref(),
            matrices: place
                .map(|place| place.matrices.clone())
                .unwrap_or_default(),
            order: place.and_then(|place| place.order),
        };
        Parts::new(RecordKind::Tactic, techniques, &details)
    }

    fn matrix(&self, entry: &'g Entry<'a>, common: Common<'g>) -> Parts<'g> {
        let tactics = entry
            .object
            .tactic_refs
            .iter()
            .filter_map(|tactic_ref| self.graph.index_of(Some(tactic_ref)))
            .map(|tactic| self.graph.entries[tactic].attack_id.as_ref())
            .collect();
        Parts::new(
            RecordKind::Matrix,
            Vec::new(),
            &MatrixDetails { common, tactics },
        )
    }

    fn group(
        &self,
        index: usize,
        entry: &'g Entry<'a>,
        domain: Domain,
        common: Common<'g>,
    ) -> Parts<'g> {
        let graph = self.graph;
        let details = GroupDetails {
            common,
            aliases: &entry.object.aliases,
            software: self.ids(
                graph.targets(index, Link::Uses),
                domain,
                ObjectKind::is_software,
            ),
            campaigns: self.ids(graph.sources(index, Link::AttributedTo), domain, |kind| {
                kind == ObjectKind::Campaign
            }),
        };
        Parts::new(
            RecordKind::Group,
            self.used_techniques(index, domain),
            &details,
        )
    }

    fn campaign(
        &self,
        index: usize,
        entry: &'g Entry<'a>,
        domain: Domain,
        common: Common<'g>,
    ) -> Parts<'g> {
        let graph = self.graph;
        let details = CampaignDetails {
            common,
            aliases: &entry.object.aliases,
            first_seen: entry.object.first_seen.as_deref(),
            last_seen: entry.object.last_seen.as_deref(),
            software: self.ids(
                graph.targets(index, Link::Uses),
                domain,
                ObjectKind::is_software,
            ),
            groups: self.ids(graph.targets(index, Link::AttributedTo), domain, |kind| {
                kind == ObjectKind::Group
            }),
        };
        Parts::new(
            RecordKind::Campaign,
            self.used_techniques(index, domain),
            &details,
        )
    }

    fn software(
        &self,
        index: usize,
        entry: &'g Entry<'a>,
        domain: Domain,
        common: Common<'g>,
    ) -> Parts<'g> {
        let graph = self.graph;
        let details = SoftwareDetails {
            common,
            software_type: if entry.kind == ObjectKind::Malware {
                "malware"
            } else {
                "tool"
            },
            aliases: &entry.object.x_mitre_aliases,
            platforms: platforms(&entry.object.x_mitre_platforms),
            groups: self.ids(graph.sources(index, Link::Uses), domain, |kind| {
                kind == ObjectKind::Group
            }),
            campaigns: self.ids(graph.sources(index, Link::Uses), domain, |kind| {
                kind == ObjectKind::Campaign
            }),
        };
        Parts::new(
            RecordKind::Software,
            self.used_techniques(index, domain),
            &details,
        )
    }

    fn data_source(
        &self,
        index: usize,
        entry: &'g Entry<'a>,
        domain: Domain,
        common: Common<'g>,
    ) -> Parts<'g> {
        let details = DataSourceDetails {
            common,
            platforms: platforms(&entry.object.x_mitre_platforms),
            collection_layers: &entry.object.x_mitre_collection_layers,
            data_components: self.ids(
                self.graph.sources(index, Link::InDataSource),
                domain,
                |kind| kind == ObjectKind::DataComponent,
            ),
        };
        Parts::new(RecordKind::DataSource, Vec::new(), &details)
    }

    fn data_component(
        &self,
        index: usize,
        entry: &'g Entry<'a>,
        domain: Domain,
        common: Common<'g>,
    ) -> Parts<'g> {
        let graph = self.graph;
        let details = DataComponentDetails {
            common,
            data_source: graph
                .targets(index, Link::InDataSource)
                .next()
                .map(|data_source| graph.entries[data_source].attack_id.as_ref()),
            log_sources: &entry.object.x_mitre_log_sources,
            analytics: self.ids(
                graph.sources(index, Link::ReadsDataComponent),
                domain,
                |kind| kind == ObjectKind::Analytic,
            ),
        };
        Parts::new(
            RecordKind::DataComponent,
            self.data_component_techniques(index, domain),
            &details,
        )
    }

    fn detection_strategy(&self, index: usize, domain: Domain, common: Common<'g>) -> Parts<'g> {
        let graph = self.graph;
        let analytics = graph
            .targets(index, Link::HasAnalytic)
            .map(|analytic| graph.entries[analytic].attack_id.as_ref())
            .collect();
        Parts::new(
            RecordKind::DetectionStrategy,
            self.ids(graph.targets(index, Link::Detects), domain, is_technique),
            &DetectionStrategyDetails { common, analytics },
        )
    }

    fn analytic(
        &self,
        index: usize,
        entry: &'g Entry<'a>,
        domain: Domain,
        common: Common<'g>,
    ) -> Parts<'g> {
        let graph = self.graph;
        let strategies: Vec<usize> = graph.sources(index, Link::HasAnalytic).collect();
        let techniques = self.ids(
            strategies
                .iter()
                .flat_map(|strategy| graph.targets(*strategy, Link::Detects)),
            domain,
            is_technique,
        );
        let details = AnalyticDetails {
            common,
            platforms: platforms(&entry.object.x_mitre_platforms),
            log_sources: self.analytic_log_sources(entry),
            mutable_elements: &entry.object.x_mitre_mutable_elements,
            detection_strategies: self.ids(strategies.into_iter(), domain, |kind| {
                kind == ObjectKind::DetectionStrategy
            }),
        };
        Parts::new(RecordKind::Analytic, techniques, &details)
    }

    fn technique(
        &self,
        index: usize,
        entry: &'g Entry<'a>,
        domain: Domain,
        common: Common<'g>,
    ) -> TechniqueDetails<'g> {
        let graph = self.graph;
        // Phases of this domain, each with its tactic (when the import holds it) and that tactic's order.
        let mut phases: Vec<(&str, Option<usize>, Option<usize>)> = entry
            .object
            .kill_chain_phases
            .iter()
            .filter(|phase| domain.owns_kill_chain(&phase.kill_chain_name))
            .map(|phase| {
                let tactic = self
                    .tactic_by_shortname
                    .get(&(domain, phase.phase_name.as_str()))
                    .copied();
                let order = tactic
                    .and_then(|tactic| self.tactic_places.get(&(domain, tactic)))
                    .and_then(|place| place.order);
                (phase.phase_name.as_str(), tactic, order)
            })
            .collect();
        phases.sort_by_key(|(_, _, order)| order.unwrap_or(usize::MAX));
        phases.dedup_by_key(|(shortname, _, _)| *shortname);

        let id = entry.attack_id.as_ref();
        let is_subtechnique = entry
            .object
            .x_mitre_is_subtechnique
            .unwrap_or(id.contains('.'));
        let parent = graph
            .targets(index, Link::SubtechniqueOf)
            .map(|parent| graph.entries[parent].attack_id.as_ref())
            .next()
            .or_else(|| {
                is_subtechnique
                    .then(|| id.split_once('.').map(|(parent, _)| parent))
                    .flatten()
            });

        let strategies: Vec<usize> = graph
            .sources(index, Link::Detects)
            .filter(|source| graph.entries[*source].kind == ObjectKind::DetectionStrategy)
            .collect();
        let data_components = self.ids(
            strategies
                .iter()
                .flat_map(|strategy| graph.targets(*strategy, Link::HasAnalytic))
                .flat_map(|analytic| graph.targets(analytic, Link::ReadsDataComponent))
                .chain(graph.sources(index, Link::Detects)),
            domain,
            |kind| kind == ObjectKind::DataComponent,
        );

        TechniqueDetails {
            common,
            tactics: phases.iter().map(|(shortname, _, _)| *shortname).collect(),
            tactic_ids: phases
                .iter()
                .filter_map(|(_, tactic, _)| {
                    tactic.map(|tactic| graph.entries[tactic].attack_id.as_ref())
                })
                .collect(),
            platforms: platforms(&entry.object.x_mitre_platforms),
            is_subtechnique,
            parent,
            sub_techniques: self.ids(
                graph.sources(index, Link::SubtechniqueOf),
                domain,
                is_technique,
            ),
            detection: entry
                .object
                .x_mitre_detection
                .as_deref()
                .filter(|detection| !detection.trim().is_empty()),
            detection_strategies: self.ids(strategies.into_iter(), domain, |kind| {
                kind == ObjectKind::DetectionStrategy
            }),
            mitigations: self.ids(graph.sources(index, Link::Mitigates), domain, |kind| {
                kind == ObjectKind::Mitigation
            }),
            data_components,
            targets_assets: self.ids(graph.targets(index, Link::Targets), domain, |kind| {
                kind == ObjectKind::Asset
            }),
        }
    }

    /// Techniques a data component helps detect: through the analytics that read it (v18), or directly by a
    /// `detects` relationship (older releases).
    fn data_component_techniques(&self, index: usize, domain: Domain) -> Vec<&'g str> {
        let graph = self.graph;
        self.ids(
            graph
                .sources(index, Link::ReadsDataComponent)
                .flat_map(|analytic| graph.sources(analytic, Link::HasAnalytic))
                .flat_map(|strategy| graph.targets(strategy, Link::Detects))
                .chain(graph.targets(index, Link::Detects)),
            domain,
            is_technique,
        )
    }

    fn analytic_log_sources(&self, entry: &'g Entry<'a>) -> Vec<AnalyticLogSource<'g>> {
        entry
            .object
            .x_mitre_log_source_references
            .iter()
            .map(|log_source| {
                let data_component_ref = log_source.x_mitre_data_component_ref.as_deref();
                AnalyticLogSource {
                    data_component: self
                        .graph
                        .index_of(data_component_ref)
                        .map(|component| self.graph.entries[component].attack_id.as_ref()),
                    data_component_ref,
                    name: log_source.name.as_deref(),
                    channel: log_source.channel.as_deref(),
                }
            })
            .collect()
    }

    /// Techniques a group, campaign or software `uses`.
    fn used_techniques(&self, index: usize, domain: Domain) -> Vec<&'g str> {
        self.ids(self.graph.targets(index, Link::Uses), domain, is_technique)
    }

    /// The ATT&CK ids of the given entries that are of a wanted kind and in `domain`, sorted, without repeats.
    fn ids(
        &self,
        indices: impl Iterator<Item = usize>,
        domain: Domain,
        wanted: impl Fn(ObjectKind) -> bool,
    ) -> Vec<&'g str> {
        let graph = self.graph;
        let mut ids: Vec<&'g str> = indices
            .map(|index| &graph.entries[index])
            .filter(|entry| wanted(entry.kind) && entry.domains.contains(domain))
            .map(|entry| entry.attack_id.as_ref())
            .collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    }

    fn status(&self, index: usize, entry: &Entry<'_>) -> RecordStatus {
        if entry.object.is_revoked() {
            let replaced_by =
                self.graph
                    .targets(index, Link::RevokedBy)
                    .next()
                    .map(|replacement| {
                        self.graph.entries[replacement]
                            .attack_id
                            .clone()
                            .into_owned()
                    });
            RecordStatus::Revoked { replaced_by }
        } else if entry.object.is_deprecated() {
            RecordStatus::Deprecated
        } else {
            RecordStatus::Active
        }
    }

    fn common(entry: &'g Entry<'a>) -> Common<'g> {
        let object = &entry.object;
        Common {
            stix_id: object.id.as_str(),
            description: object.description.as_deref(),
            url: object
                .attack_reference()
                .and_then(|reference| reference.url.as_deref()),
            version: object.x_mitre_version.as_deref(),
            created: object.created.as_deref(),
            modified: object.modified.as_deref(),
            domains: entry.declared_domains.iter().map(Domain::as_str).collect(),
        }
    }
}

fn is_technique(kind: ObjectKind) -> bool {
    kind == ObjectKind::Technique
}

/// Platforms without ICS's `"None"` placeholder.
fn platforms<'g>(platforms: &'g [Text<'g>]) -> Vec<&'g str> {
    platforms
        .iter()
        .map(Text::as_str)
        .filter(|platform| *platform != "None")
        .collect()
}

/// Details structs hold only strings, numbers, booleans and lists, which always serialise.
fn to_json(details: &impl Serialize) -> serde_json::Value {
    serde_json::to_value(details).unwrap_or(serde_json::Value::Null)
}
