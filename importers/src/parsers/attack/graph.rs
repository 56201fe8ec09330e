//! Joins the objects of every file of one import into one graph: objects de-duplicated by STIX id, each given
//! the ATT&CK domains it is emitted in, relationships (and the references ATT&CK embeds in objects) resolved to
//! object indices in both directions.
//!
//! Quirks handled here:
//! - Relationships live in their own files when ATT&CK is imported as a directory of one-object bundles, so
//!   nothing is resolved before every file is read.
//! - The same object is published in several domain bundles (a group in Enterprise and ICS), sometimes with a
//!   different `x_mitre_domains` in each (v18.1 lists one revoked group as Enterprise-only in the Enterprise
//!   bundle and ICS-only in the ICS bundle): the newest `modified` wins and the domains are united.
//! - A relationship whose end is not in the import (a partial directory) cannot be resolved and is ignored; so
//!   are revoked or deprecated relationships, which upstream keeps only for history.
//! - `x_mitre_data_source_ref` is an empty string on data components that no longer have a data source (v18).
//! - Domains: `x_mitre_domains`, or for older content the `kill_chain_name` of the phases or the `source_name`
//!   of the ATT&CK reference (`mitre-mobile-attack`, `mitre-ics-attack`).

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

use super::stix::StixObject;

/// An ATT&CK domain: the scope of every ATT&CK record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(super) enum Domain {
    Enterprise,
    Mobile,
    Ics,
}

impl Domain {
    pub(super) const ALL: [Domain; 3] = [Domain::Enterprise, Domain::Mobile, Domain::Ics];

    pub(super) fn as_str(self) -> &'static str {
        match self {
            Self::Enterprise => "enterprise-attack",
            Self::Mobile => "mobile-attack",
            Self::Ics => "ics-attack",
        }
    }

    /// A value of `x_mitre_domains`, or the external id of a matrix or collection.
    fn from_domain_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|domain| domain.as_str() == name)
    }

    /// A `kill_chain_name`: each domain has its own kill chain.
    fn from_kill_chain_name(name: &str) -> Option<Self> {
        match name {
            "mitre-attack" => Some(Self::Enterprise),
            "mitre-mobile-attack" => Some(Self::Mobile),
            "mitre-ics-attack" => Some(Self::Ics),
            _ => None,
        }
    }

    /// The `source_name` of an ATT&CK reference; `mitre-attack` is used by every domain today, so only the two
    /// older domain-specific names say anything.
    fn from_source_name(name: &str) -> Option<Self> {
        match name {
            "mitre-mobile-attack" => Some(Self::Mobile),
            "mitre-ics-attack" => Some(Self::Ics),
            _ => None,
        }
    }

    /// Whether a kill chain phase belongs to this domain; an unknown kill chain is kept wherever it appears.
    pub(super) fn owns_kill_chain(self, kill_chain_name: &str) -> bool {
        Self::from_kill_chain_name(kill_chain_name).is_none_or(|domain| domain == self)
    }

    fn bit(self) -> u8 {
        match self {
            Self::Enterprise => 1,
            Self::Mobile => 2,
            Self::Ics => 4,
        }
    }
}

/// A set of domains, small enough to copy around.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct DomainSet(u8);

impl DomainSet {
    pub(super) fn single(domain: Domain) -> Self {
        Self(domain.bit())
    }

    pub(super) fn insert(&mut self, domain: Domain) {
        self.0 |= domain.bit();
    }

    pub(super) fn contains(self, domain: Domain) -> bool {
        self.0 & domain.bit() != 0
    }

    pub(super) fn is_empty(self) -> bool {
        self.0 == 0
    }

    fn union(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }

    fn intersection(self, other: Self) -> Self {
        Self(self.0 & other.0)
    }

    pub(super) fn iter(self) -> impl Iterator<Item = Domain> {
        Domain::ALL
            .into_iter()
            .filter(move |domain| self.contains(*domain))
    }

    /// The only domain in the set, if it holds exactly one.
    fn only(self) -> Option<Domain> {
        let mut domains = self.iter();
        let first = domains.next()?;
        domains.next().is_none().then_some(first)
    }
}

/// What a STIX object is to the catalog.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ObjectKind {
    Technique,
    Tactic,
    Matrix,
    Group,
    Campaign,
    Malware,
    Tool,
    Mitigation,
    DataSource,
    DataComponent,
    DetectionStrategy,
    Analytic,
    Asset,
    /// `x-mitre-collection`: no record, but it names the release.
    Collection,
}

impl ObjectKind {
    /// `None` for relationships (read separately) and for every type the catalog does not keep: identity,
    /// marking-definition, and types newer than this parser.
    fn from_stix_type(stix_type: &str) -> Option<Self> {
        Some(match stix_type {
            "attack-pattern" => Self::Technique,
            "x-mitre-tactic" => Self::Tactic,
            "x-mitre-matrix" => Self::Matrix,
            "intrusion-set" => Self::Group,
            "campaign" => Self::Campaign,
            "malware" => Self::Malware,
            "tool" => Self::Tool,
            "course-of-action" => Self::Mitigation,
            "x-mitre-data-source" => Self::DataSource,
            "x-mitre-data-component" => Self::DataComponent,
            "x-mitre-detection-strategy" => Self::DetectionStrategy,
            "x-mitre-analytic" => Self::Analytic,
            "x-mitre-asset" => Self::Asset,
            "x-mitre-collection" => Self::Collection,
            _ => return None,
        })
    }

    pub(super) fn is_software(self) -> bool {
        matches!(self, Self::Malware | Self::Tool)
    }
}

/// A link between two objects: a STIX relationship, or a reference ATT&CK embeds in an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Link {
    Uses,
    Mitigates,
    Detects,
    SubtechniqueOf,
    RevokedBy,
    AttributedTo,
    Targets,
    /// Detection strategy → analytic (`x_mitre_analytic_refs`).
    HasAnalytic,
    /// Analytic → data component (`x_mitre_log_source_references[].x_mitre_data_component_ref`).
    ReadsDataComponent,
    /// Data component → data source (`x_mitre_data_source_ref`).
    InDataSource,
}

impl Link {
    fn from_relationship_type(relationship_type: &str) -> Option<Self> {
        Some(match relationship_type {
            "uses" => Self::Uses,
            "mitigates" => Self::Mitigates,
            "detects" => Self::Detects,
            "subtechnique-of" => Self::SubtechniqueOf,
            "revoked-by" => Self::RevokedBy,
            "attributed-to" => Self::AttributedTo,
            "targets" => Self::Targets,
            _ => return None,
        })
    }
}

/// One kept object with what the graph knows about it.
#[derive(Debug)]
pub(super) struct Entry<'a> {
    pub(super) object: StixObject<'a>,
    pub(super) kind: ObjectKind,
    /// The ATT&CK id (`T1059.001`, `TA0002`, `enterprise-attack` for a matrix); the STIX id when the object
    /// has no ATT&CK reference, so that nothing is dropped.
    pub(super) attack_id: Cow<'a, str>,
    /// The domains this object is emitted in.
    pub(super) domains: DomainSet,
    /// Every domain the object claims, present in the import or not (shown in details).
    pub(super) declared_domains: DomainSet,
}

/// Every object of one import, joined.
#[derive(Debug, Default)]
pub(super) struct Graph<'a> {
    pub(super) entries: Vec<Entry<'a>>,
    /// Per entry: (link, other entry) for links leaving it.
    outgoing: Vec<Vec<(Link, usize)>>,
    /// Per entry: (link, other entry) for links arriving at it.
    incoming: Vec<Vec<(Link, usize)>>,
    by_stix_id: HashMap<Cow<'a, str>, usize>,
}

impl<'a> Graph<'a> {
    /// Joins the objects of all files (in file order; later duplicates replace older `modified` versions).
    pub(super) fn build(objects: impl IntoIterator<Item = StixObject<'a>>) -> Self {
        let mut graph = Graph::default();
        let mut relationships = Vec::new();
        let mut seen_relationships = HashSet::new();
        for object in objects {
            if object.object_type.as_str() == "relationship" {
                if seen_relationships.insert(object.id.0.clone()) {
                    relationships.push(object);
                }
                continue;
            }
            let Some(kind) = ObjectKind::from_stix_type(&object.object_type) else {
                continue;
            };
            if object.id.is_empty() {
                continue;
            }
            graph.insert(kind, object);
        }

        graph.assign_domains();
        graph.outgoing = vec![Vec::new(); graph.entries.len()];
        graph.incoming = vec![Vec::new(); graph.entries.len()];
        for relationship in &relationships {
            if relationship.is_revoked() || relationship.is_deprecated() {
                continue;
            }
            let Some(link) = relationship
                .relationship_type
                .as_deref()
                .and_then(Link::from_relationship_type)
            else {
                continue;
            };
            let (Some(source), Some(target)) = (
                graph.index_of(relationship.source_ref.as_deref()),
                graph.index_of(relationship.target_ref.as_deref()),
            ) else {
                continue;
            };
            graph.link(source, link, target);
        }
        graph.link_embedded_references();
        graph
    }

    fn insert(&mut self, kind: ObjectKind, object: StixObject<'a>) {
        let declared_domains = declared_domains(&object);
        if let Some(&index) = self.by_stix_id.get(object.id.as_str()) {
            let existing = &mut self.entries[index];
            let domains = existing.declared_domains.union(declared_domains);
            if object.modified > existing.object.modified {
                existing.object = object;
                existing.kind = kind;
                existing.attack_id = attack_id(&existing.object);
            }
            existing.declared_domains = domains;
            return;
        }
        self.by_stix_id
            .insert(object.id.0.clone(), self.entries.len());
        self.entries.push(Entry {
            attack_id: attack_id(&object),
            object,
            kind,
            domains: DomainSet::default(),
            declared_domains,
        });
    }

    /// A domain is present in the import when a matrix, tactic or collection of it is there, or an object that
    /// belongs to it alone (a partial directory may hold no matrix). An object is emitted in each of its
    /// domains that is present: importing the Enterprise bundle alone does not create half-empty ICS records
    /// for the groups Enterprise shares with ICS. An object none of whose domains is present (a lone file) is
    /// emitted in all of them, and one that names no domain at all in the only present domain, or Enterprise.
    fn assign_domains(&mut self) {
        let mut present = DomainSet::default();
        for entry in &self.entries {
            let anchors_domain = matches!(
                entry.kind,
                ObjectKind::Matrix | ObjectKind::Tactic | ObjectKind::Collection
            );
            if anchors_domain || entry.declared_domains.only().is_some() {
                present = present.union(entry.declared_domains);
            }
        }
        let fallback = present.only().unwrap_or(Domain::Enterprise);
        for entry in &mut self.entries {
            let in_present = entry.declared_domains.intersection(present);
            entry.domains = if !in_present.is_empty() {
                in_present
            } else if !entry.declared_domains.is_empty() {
                entry.declared_domains
            } else {
                DomainSet::single(fallback)
            };
            if entry.declared_domains.is_empty() {
                entry.declared_domains = entry.domains;
            }
        }
    }

    fn link_embedded_references(&mut self) {
        for source in 0..self.entries.len() {
            let object = &self.entries[source].object;
            let mut targets: Vec<(Link, usize)> = Vec::new();
            for analytic in &object.x_mitre_analytic_refs {
                if let Some(target) = self.index_of(Some(analytic)) {
                    targets.push((Link::HasAnalytic, target));
                }
            }
            for log_source in &object.x_mitre_log_source_references {
                if let Some(target) =
                    self.index_of(log_source.x_mitre_data_component_ref.as_deref())
                {
                    targets.push((Link::ReadsDataComponent, target));
                }
            }
            if let Some(target) = self.index_of(object.x_mitre_data_source_ref.as_deref()) {
                targets.push((Link::InDataSource, target));
            }
            for (link, target) in targets {
                self.link(source, link, target);
            }
        }
    }

    fn link(&mut self, source: usize, link: Link, target: usize) {
        self.outgoing[source].push((link, target));
        self.incoming[target].push((link, source));
    }

    /// The entry a STIX reference names; `None` for an empty reference or one outside the import.
    pub(super) fn index_of(&self, stix_id: Option<&str>) -> Option<usize> {
        self.by_stix_id.get(stix_id?).copied()
    }

    /// Entries reached from `index` by `link`, in upstream order.
    pub(super) fn targets(&self, index: usize, link: Link) -> impl Iterator<Item = usize> + '_ {
        self.outgoing[index]
            .iter()
            .filter(move |(each_link, _)| *each_link == link)
            .map(|(_, target)| *target)
    }

    /// Entries reaching `index` by `link`, in upstream order.
    pub(super) fn sources(&self, index: usize, link: Link) -> impl Iterator<Item = usize> + '_ {
        self.incoming[index]
            .iter()
            .filter(move |(each_link, _)| *each_link == link)
            .map(|(_, source)| *source)
    }
}

/// The ATT&CK id, or the STIX id when the object has none (see [`Entry::attack_id`]).
fn attack_id<'a>(object: &StixObject<'a>) -> Cow<'a, str> {
    object
        .attack_reference()
        .and_then(|reference| reference.external_id.as_ref())
        .map_or_else(|| object.id.0.clone(), |external_id| external_id.0.clone())
}

/// The domains an object names, from the most to the least explicit field (see the module docs).
fn declared_domains(object: &StixObject<'_>) -> DomainSet {
    let mut domains = DomainSet::default();
    for name in &object.x_mitre_domains {
        if let Some(domain) = Domain::from_domain_name(name) {
            domains.insert(domain);
        }
    }
    if domains.is_empty()
        && object.object_type.as_str() == "x-mitre-matrix"
        && let Some(domain) = object
            .attack_reference()
            .and_then(|reference| reference.external_id.as_deref())
            .and_then(Domain::from_domain_name)
    {
        domains.insert(domain);
    }
    if domains.is_empty() {
        for phase in &object.kill_chain_phases {
            if let Some(domain) = Domain::from_kill_chain_name(&phase.kill_chain_name) {
                domains.insert(domain);
            }
        }
    }
    if domains.is_empty() {
        for reference in &object.external_references {
            if let Some(domain) = Domain::from_source_name(&reference.source_name) {
                domains.insert(domain);
            }
        }
    }
    domains
}
