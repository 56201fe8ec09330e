//! MITRE D3FEND: the defensive techniques of the D3FEND ontology, read from its Turtle source
//! (`src/ontology/d3fend-protege.ttl` and the extension/mapping `.ttl` files beside it).
//!
//! Every class below `d3f:DefensiveTechnique` becomes one [`RecordKind::DefensiveTechnique`] record (scope
//! `"d3fend"`), keyed by the local name of its IRI (`ProcessTermination`); its `techniques` are the ATT&CK
//! techniques it counters.
//!
//! D3FEND does not tabulate "technique X counters T1059": the mapping is **inferred** the way upstream's
//! `def-to-off` SPARQL query (the source of `d3fend-full-mappings.csv`) does it. ATT&CK techniques are OWL
//! classes that restrict a digital artifact (`:T1003.001 rdfs:subClassOf [owl:onProperty :accesses;
//! owl:someValuesFrom :AuthenticationService]`), defensive techniques restrict artifacts too (`:analyzes`,
//! `:hardens`, `:terminates` …), and a defensive technique counters an offensive one when the offensive artifact
//! is the defensive artifact or one of its subclasses (`?off_artifact rdfs:subClassOf* ?def_artifact`).
//!
//! Upstream quirks handled (see QUIRKS.md "D3FEND (Turtle/OWL)"):
//! - a mapping file with a Turtle syntax error (`d3fend-ontology-mappings.ttl`) fails alone, as a
//!   [`FileFailure`]; its triples are dropped whole and the other files still count;
//! - `d3fend-cco.ttl` writes a relative IRI (`<../d3fend-protege.ttl#>`) with no `@base`: the parser is given
//!   [`BASE_IRI`] so the strict IRI check accepts it;
//! - local names with dots (`:T1059.001`) are plain Turtle 1.1 and left to `oxttl`;
//! - OWL punning (a technique that is at once `owl:Class`, `owl:NamedIndividual` and typed as itself): only the
//!   `rdfs:subClassOf` hierarchy decides what a technique is, so the extra `rdf:type`s change nothing;
//! - 27 `D3A-*` d3fend-ids are reused by different classes: records are keyed by IRI, the d3fend-id is a detail;
//! - ATT&CK classes flagged `owl:deprecated` still take part in the inference; deprecated defensive
//!   techniques become [`RecordStatus::Deprecated`].
//!
//! Only `.ttl` files are accepted: the NIST workbook (`.xlsx`) and the Protégé catalog (`.xml`) beside the
//! ontology are not Turtle.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::path::Path;

use oxrdf::{NamedOrBlankNode, Term};
use oxttl::TurtleParser;
use serde::Serialize;

use crate::record::{
    CatalogRecord, FileFailure, Parsed, RecordKind, RecordStatus, SourceFile, technique_ids,
};

/// The D3FEND namespace; techniques in it are keyed by their bare local name.
const D3F: &str = "http://d3fend.mitre.org/ontologies/d3fend.owl#";
/// Resolves the relative IRIs some upstream files write without an `@base` (`d3fend-cco.ttl`'s
/// `owl:imports <../d3fend-protege.ttl#>`); the resolved IRI is never used as a key.
const BASE_IRI: &str = "http://d3fend.mitre.org/ontologies/";

const RDFS_SUBCLASS_OF: &str = "http://www.w3.org/2000/01/rdf-schema#subClassOf";
const RDFS_LABEL: &str = "http://www.w3.org/2000/01/rdf-schema#label";
const RDF_TYPE: &str = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type";
const OWL_ON_PROPERTY: &str = "http://www.w3.org/2002/07/owl#onProperty";
const OWL_SOME_VALUES_FROM: &str = "http://www.w3.org/2002/07/owl#someValuesFrom";
const OWL_DEPRECATED: &str = "http://www.w3.org/2002/07/owl#deprecated";
const OWL_VERSION_INFO: &str = "http://www.w3.org/2002/07/owl#versionInfo";
const OWL_ONTOLOGY: &str = "http://www.w3.org/2002/07/owl#Ontology";

/// Whether a file found by a directory walk belongs to this source: Turtle files only.
pub fn accepts(path: &Path) -> bool {
    path.extension()
        .and_then(|extension| extension.to_str())
        .is_some_and(|extension| extension.eq_ignore_ascii_case("ttl"))
}

/// Parses every file of one import; a file that is not valid Turtle is reported in [`Parsed::failures`] and
/// contributes nothing, so the inference never runs on half a file.
pub fn parse(files: &[SourceFile]) -> Parsed {
    let mut graph = Graph::default();
    let mut failures = Vec::new();
    for (file_index, file) in files.iter().enumerate() {
        match read_turtle(file_index, &file.bytes) {
            Ok(triples) => graph.add_all(triples),
            Err(error) => failures.push(FileFailure::new(&file.path, error)),
        }
    }
    let upstream_version = graph.ontology_version();
    Parsed {
        records: graph.defensive_technique_records(),
        failures,
        upstream_version,
    }
}

/// Why a D3FEND file could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
enum D3fendFileError {
    #[error("not valid Turtle: {0}")]
    Syntax(String),
}

/// A node as the graph keeps it: a named node is its IRI; a blank node is `_:<file>:<label>` so that two
/// files' blank nodes never meet.
type NodeKey = String;

/// The object of a triple, reduced to what the inference reads.
#[derive(Debug, Clone)]
enum ObjectValue {
    Node(NodeKey),
    Literal(String),
}

#[derive(Debug, Clone)]
struct PlainTriple {
    subject: NodeKey,
    predicate: String,
    object: ObjectValue,
}

fn node_key(file_index: usize, node: &NamedOrBlankNode) -> NodeKey {
    match node {
        NamedOrBlankNode::NamedNode(named) => named.as_str().to_owned(),
        NamedOrBlankNode::BlankNode(blank) => format!("_:{file_index}:{}", blank.as_str()),
    }
}

fn object_value(file_index: usize, term: &Term) -> Option<ObjectValue> {
    if let Term::NamedNode(named) = term {
        return Some(ObjectValue::Node(named.as_str().to_owned()));
    }
    if let Term::BlankNode(blank) = term {
        return Some(ObjectValue::Node(format!(
            "_:{file_index}:{}",
            blank.as_str()
        )));
    }
    if let Term::Literal(literal) = term {
        return Some(ObjectValue::Literal(literal.value().to_owned()));
    }
    None
}

/// Reads one Turtle file whole; the first syntax error fails the file.
fn read_turtle(file_index: usize, bytes: &[u8]) -> Result<Vec<PlainTriple>, D3fendFileError> {
    let parser = TurtleParser::new()
        .with_base_iri(BASE_IRI)
        .map_err(|error| D3fendFileError::Syntax(error.to_string()))?;
    let mut triples = Vec::new();
    for triple in parser.for_slice(bytes) {
        let triple = triple.map_err(|error| D3fendFileError::Syntax(error.to_string()))?;
        if let Some(object) = object_value(file_index, &triple.object) {
            triples.push(PlainTriple {
                subject: node_key(file_index, &triple.subject),
                predicate: triple.predicate.as_str().to_owned(),
                object,
            });
        }
    }
    Ok(triples)
}

/// What the graph knows about one node; only the predicates the records need are kept.
#[derive(Debug, Default)]
struct NodeFacts {
    label: Option<String>,
    d3fend_id: Option<String>,
    attack_id: Option<String>,
    definition: Option<String>,
    version_info: Option<String>,
    deprecated: bool,
    is_ontology: bool,
    /// Objects of `rdfs:subClassOf`: named super classes and blank restriction nodes, in file order.
    super_classes: Vec<NodeKey>,
    /// For a restriction node: `owl:onProperty`.
    on_property: Option<NodeKey>,
    /// For a restriction node: `owl:someValuesFrom`.
    some_values_from: Option<NodeKey>,
}

/// The union of every good file's triples, indexed by subject.
#[derive(Debug, Default)]
struct Graph {
    nodes: HashMap<NodeKey, NodeFacts>,
}

/// One `rdfs:subClassOf [owl:onProperty P; owl:someValuesFrom C]` of a class.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Restriction {
    property: NodeKey,
    target: NodeKey,
}

impl Graph {
    fn add_all(&mut self, triples: Vec<PlainTriple>) {
        for triple in triples {
            self.add(triple);
        }
    }

    fn add(&mut self, triple: PlainTriple) {
        let facts = self.nodes.entry(triple.subject).or_default();
        match (triple.predicate.as_str(), triple.object) {
            (RDFS_SUBCLASS_OF, ObjectValue::Node(object)) => facts.super_classes.push(object),
            (OWL_ON_PROPERTY, ObjectValue::Node(object)) => facts.on_property = Some(object),
            (OWL_SOME_VALUES_FROM, ObjectValue::Node(object)) => {
                facts.some_values_from = Some(object);
            }
            (RDF_TYPE, ObjectValue::Node(object)) if object == OWL_ONTOLOGY => {
                facts.is_ontology = true;
            }
            (RDFS_LABEL, ObjectValue::Literal(value)) => {
                facts.label.get_or_insert(value);
            }
            (OWL_DEPRECATED, ObjectValue::Literal(value)) => {
                facts.deprecated |= value.trim() == "true" || value.trim() == "1";
            }
            (OWL_VERSION_INFO, ObjectValue::Literal(value)) => {
                facts.version_info.get_or_insert(value);
            }
            (predicate, ObjectValue::Literal(value)) => {
                if let Some(local) = predicate.strip_prefix(D3F) {
                    match local {
                        "d3fend-id" => {
                            facts.d3fend_id.get_or_insert(value);
                        }
                        "attack-id" => {
                            facts.attack_id.get_or_insert(value);
                        }
                        "definition" => {
                            facts.definition.get_or_insert(value);
                        }
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }

    /// `owl:versionInfo` of the D3FEND ontology header (any ontology header when D3FEND's has none).
    fn ontology_version(&self) -> Option<String> {
        let d3fend_header = self
            .nodes
            .get("http://d3fend.mitre.org/ontologies/d3fend.owl")
            .and_then(|facts| facts.version_info.clone());
        d3fend_header.or_else(|| {
            let mut versions: Vec<&String> = self
                .nodes
                .values()
                .filter(|facts| facts.is_ontology)
                .filter_map(|facts| facts.version_info.as_ref())
                .collect();
            versions.sort();
            versions.first().map(|version| (*version).clone())
        })
    }

    fn facts(&self, node: &str) -> Option<&NodeFacts> {
        self.nodes.get(node)
    }

    /// Named class -> its named direct subclasses.
    fn sub_class_index(&self) -> HashMap<&str, Vec<&str>> {
        let mut index: HashMap<&str, Vec<&str>> = HashMap::new();
        for (node, facts) in &self.nodes {
            if is_blank(node) {
                continue;
            }
            for super_class in &facts.super_classes {
                if !is_blank(super_class) {
                    index
                        .entry(super_class.as_str())
                        .or_default()
                        .push(node.as_str());
                }
            }
        }
        index
    }

    /// The restrictions a class states itself (not the ones it inherits), as upstream's query reads them.
    fn restrictions(&self, class: &str) -> Vec<Restriction> {
        let Some(facts) = self.facts(class) else {
            return Vec::new();
        };
        facts
            .super_classes
            .iter()
            .filter(|super_class| is_blank(super_class))
            .filter_map(|blank| {
                let restriction = self.facts(blank)?;
                Some(Restriction {
                    property: restriction.on_property.clone()?,
                    target: restriction.some_values_from.clone()?,
                })
            })
            .collect()
    }

    fn named_super_classes<'a>(&'a self, class: &str) -> Vec<&'a str> {
        self.facts(class)
            .map(|facts| {
                facts
                    .super_classes
                    .iter()
                    .filter(|super_class| !is_blank(super_class))
                    .map(String::as_str)
                    .collect()
            })
            .unwrap_or_default()
    }

    fn display_name(&self, node: &str) -> String {
        self.facts(node)
            .and_then(|facts| facts.label.clone())
            .unwrap_or_else(|| local_name(node).to_owned())
    }

    /// The nearest tactic a technique or one of its ancestors `d3f:enables` (the tactic sits on the top
    /// technique of a branch: `:ProcessEviction enables :Evict`, and `:ProcessTermination` inherits it).
    fn tactic_of(&self, technique: &str, tactics: &HashSet<&str>) -> Option<String> {
        let enables = format!("{D3F}enables");
        let mut queue = VecDeque::from([technique]);
        let mut seen = HashSet::from([technique]);
        while let Some(class) = queue.pop_front() {
            let mut found: Vec<&str> = self
                .restrictions(class)
                .iter()
                .filter(|restriction| restriction.property == enables)
                .filter_map(|restriction| tactics.get(restriction.target.as_str()).copied())
                .collect();
            found.sort_unstable();
            if let Some(tactic) = found.first() {
                return Some(self.display_name(tactic));
            }
            for super_class in self.named_super_classes(class) {
                if seen.insert(super_class) {
                    queue.push_back(super_class);
                }
            }
        }
        None
    }

    fn defensive_technique_records(&self) -> Vec<CatalogRecord> {
        let sub_classes = self.sub_class_index();
        let defensive_root = format!("{D3F}DefensiveTechnique");
        let defensive_techniques = proper_descendants(&sub_classes, &defensive_root);
        let tactics = proper_descendants(&sub_classes, &format!("{D3F}DefensiveTactic"));
        let digital_artifacts = proper_descendants(&sub_classes, &format!("{D3F}DigitalArtifact"));
        let offensive_techniques =
            proper_descendants(&sub_classes, &format!("{D3F}OffensiveTechnique"));

        // Artifact -> the ATT&CK ids of the offensive techniques that restrict it themselves.
        let mut attack_ids_by_artifact: HashMap<&str, BTreeSet<&str>> = HashMap::new();
        for offensive in &offensive_techniques {
            let Some(attack_id) = self
                .facts(offensive)
                .and_then(|facts| facts.attack_id.as_deref())
            else {
                continue;
            };
            for restriction in self.restrictions(offensive) {
                if let Some(artifact) = digital_artifacts.get(restriction.target.as_str()) {
                    attack_ids_by_artifact
                        .entry(artifact)
                        .or_default()
                        .insert(attack_id);
                }
            }
        }

        let mut descendants_cache: HashMap<&str, HashSet<&str>> = HashMap::new();
        let mut records: BTreeMap<String, CatalogRecord> = BTreeMap::new();
        let mut ordered: Vec<&str> = defensive_techniques.iter().copied().collect();
        ordered.sort_unstable();
        for technique in ordered {
            let Some(facts) = self.facts(technique) else {
                continue;
            };
            let mut artifacts = Vec::new();
            let mut countered: BTreeSet<&str> = BTreeSet::new();
            for restriction in self.restrictions(technique) {
                let Some(artifact) = digital_artifacts.get(restriction.target.as_str()).copied()
                else {
                    continue;
                };
                artifacts.push(ArtifactRelation {
                    relation: self.display_name(&restriction.property),
                    artifact: local_name(artifact).to_owned(),
                });
                let descendants = descendants_cache
                    .entry(artifact)
                    .or_insert_with(|| descendants_or_self(&sub_classes, artifact));
                for descendant in descendants.iter() {
                    if let Some(attack_ids) = attack_ids_by_artifact.get(descendant) {
                        countered.extend(attack_ids.iter().copied());
                    }
                }
            }
            artifacts.sort();
            artifacts.dedup();
            let techniques = technique_ids(countered.iter().copied());
            let unparsed_attack_ids: Vec<String> = countered
                .iter()
                .filter(|candidate| domain::test_case::TechniqueId::parse(candidate).is_err())
                .map(|candidate| (*candidate).to_owned())
                .collect();
            let mut parents: Vec<String> = self
                .named_super_classes(technique)
                .into_iter()
                .map(|parent| local_name(parent).to_owned())
                .collect();
            parents.sort();
            parents.dedup();
            let details = DefensiveTechniqueDetails {
                iri: technique.to_owned(),
                d3fend_id: facts.d3fend_id.clone(),
                tactic: self.tactic_of(technique, &tactics),
                definition: facts.definition.clone(),
                artifacts,
                parents,
                unparsed_attack_ids,
            };
            let id = record_id(technique);
            records.entry(id.clone()).or_insert_with(|| CatalogRecord {
                kind: RecordKind::DefensiveTechnique,
                scope: "d3fend".to_owned(),
                id,
                name: facts
                    .label
                    .clone()
                    .unwrap_or_else(|| local_name(technique).to_owned()),
                status: if facts.deprecated {
                    RecordStatus::Deprecated
                } else {
                    RecordStatus::Active
                },
                techniques,
                details: serde_json::to_value(&details).unwrap_or(serde_json::Value::Null),
            });
        }
        records.into_values().collect()
    }
}

/// What a [`RecordKind::DefensiveTechnique`] record carries in `details`.
#[derive(Debug, Serialize)]
struct DefensiveTechniqueDetails {
    iri: String,
    /// `D3-PT`; not unique upstream, hence not the key.
    d3fend_id: Option<String>,
    /// The D3FEND tactic (Model, Harden, Detect, Isolate, Deceive, Evict, Restore) by label.
    tactic: Option<String>,
    definition: Option<String>,
    /// The digital artifacts the technique acts on, with the relation (`analyzes`, `hardens`, …).
    artifacts: Vec<ArtifactRelation>,
    /// Local names of the direct super classes (`ProcessEviction`).
    parents: Vec<String>,
    /// Countered `d3f:attack-id`s that are not ATT&CK technique ids (kept so nothing is lost silently).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    unparsed_attack_ids: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
struct ArtifactRelation {
    relation: String,
    artifact: String,
}

fn is_blank(node: &str) -> bool {
    node.starts_with("_:")
}

/// The part of an IRI after its last `#` or `/`.
fn local_name(iri: &str) -> &str {
    iri.rsplit(['#', '/']).next().unwrap_or(iri)
}

/// Techniques in the D3FEND namespace go by their local name; any other namespace (an extension) keeps the
/// full IRI so two namespaces can never collide.
fn record_id(iri: &str) -> String {
    match iri.strip_prefix(D3F) {
        Some(local) if !local.is_empty() => local.to_owned(),
        _ => iri.to_owned(),
    }
}

/// Every named class below `root` (`rdfs:subClassOf+`), cycles tolerated.
fn proper_descendants<'a>(
    sub_classes: &HashMap<&'a str, Vec<&'a str>>,
    root: &str,
) -> HashSet<&'a str> {
    let mut found = HashSet::new();
    let mut queue: VecDeque<&str> = sub_classes.get(root).cloned().unwrap_or_default().into();
    while let Some(class) = queue.pop_front() {
        if found.insert(class)
            && let Some(children) = sub_classes.get(class)
        {
            queue.extend(children.iter().copied());
        }
    }
    found.remove(root);
    found
}

/// `rdfs:subClassOf*`: the class and every named class below it.
fn descendants_or_self<'a>(
    sub_classes: &HashMap<&'a str, Vec<&'a str>>,
    class: &'a str,
) -> HashSet<&'a str> {
    let mut found = proper_descendants(sub_classes, class);
    found.insert(class);
    found
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use proptest::prelude::*;

    use super::*;

    const PREFIXES: &str = "@prefix : <http://d3fend.mitre.org/ontologies/d3fend.owl#> .
@prefix owl: <http://www.w3.org/2002/07/owl#> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
";

    /// A miniature ontology: tactic, one technique branch with punning, artifacts with a subclass, and ATT&CK
    /// classes with dotted local names restricting the artifacts.
    fn ontology() -> String {
        format!(
            r###"{PREFIXES}
<http://d3fend.mitre.org/ontologies/d3fend.owl> a owl:Ontology ; owl:versionInfo "1.2.0" .
:DefensiveTactic a owl:Class .
:Evict a :DefensiveTactic, owl:Class, owl:NamedIndividual ; rdfs:label "Evict" ; rdfs:subClassOf :DefensiveTactic .
:DefensiveTechnique a :DefensiveTechnique, owl:Class, owl:NamedIndividual ; rdfs:label "Defensive Technique" .
:terminates a owl:ObjectProperty ; rdfs:label "terminates" .
:enables a owl:ObjectProperty ; rdfs:label "enables" .
:accesses a owl:ObjectProperty ; rdfs:label "accesses" .
:DigitalArtifact a owl:Class .
:Process a owl:Class ; rdfs:label "Process" ; rdfs:subClassOf :DigitalArtifact .
:SystemServiceProcess a owl:Class ; rdfs:subClassOf :Process .
:File a owl:Class ; rdfs:subClassOf :DigitalArtifact .
:OffensiveTechnique a owl:Class .
:ProcessEviction a owl:Class, owl:NamedIndividual, :ProcessEviction ;
    rdfs:label "Process Eviction" ;
    rdfs:subClassOf :DefensiveTechnique, [ a owl:Restriction ; owl:onProperty :enables ; owl:someValuesFrom :Evict ] ;
    :d3fend-id "D3-PE" .
:ProcessTermination a owl:Class, owl:NamedIndividual, :ProcessTermination ;
    rdfs:label "Process Termination" ;
    rdfs:subClassOf :ProcessEviction, [ a owl:Restriction ; owl:onProperty :terminates ; owl:someValuesFrom :Process ] ;
    :d3fend-id "D3-PT" ;
    :definition "Terminating a running application process." ;
    :kb-article """## How it works
        Multi-line "Markdown" literal.""" .
:T1059 a owl:Class ; rdfs:subClassOf :OffensiveTechnique ; :attack-id "T1059" .
:T1059.001 a owl:Class ; rdfs:label "PowerShell" ;
    rdfs:subClassOf :T1059, [ a owl:Restriction ; owl:onProperty :accesses ; owl:someValuesFrom :SystemServiceProcess ] ;
    :attack-id "T1059.001" .
:T1005 a owl:Class ; rdfs:subClassOf :OffensiveTechnique,
    [ a owl:Restriction ; owl:onProperty :accesses ; owl:someValuesFrom :File ] ;
    :attack-id "T1005" .
:T1055 a owl:Class ; rdfs:subClassOf :OffensiveTechnique,
    [ a owl:Restriction ; owl:onProperty :accesses ; owl:someValuesFrom :Process ] ;
    owl:deprecated true ;
    :attack-id "T1055" .
"###
        )
    }

    fn file(path: &str, text: &str) -> SourceFile {
        SourceFile {
            path: PathBuf::from(path),
            bytes: text.as_bytes().to_vec(),
        }
    }

    fn record<'a>(parsed: &'a Parsed, id: &str) -> &'a CatalogRecord {
        parsed
            .records
            .iter()
            .find(|record| record.id == id)
            .unwrap_or_else(|| panic!("no record {id}"))
    }

    fn technique_strings(record: &CatalogRecord) -> Vec<String> {
        record.techniques.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn mapping_to_attack_is_inferred_through_shared_artifacts_and_their_subclasses() {
        let parsed = parse(&[file("d3fend-protege.ttl", &ontology())]);
        assert!(parsed.failures.is_empty(), "{:?}", parsed.failures);
        let termination = record(&parsed, "ProcessTermination");
        // T1055 restricts :Process itself; T1059.001 restricts a subclass of :Process; T1005 restricts :File.
        assert_eq!(technique_strings(termination), ["T1055", "T1059.001"]);
        assert_eq!(
            termination.details["artifacts"][0]["relation"],
            "terminates"
        );
        assert_eq!(termination.details["artifacts"][0]["artifact"], "Process");
    }

    #[test]
    fn record_carries_label_d3fend_id_tactic_from_ancestor_parents_and_definition() {
        let parsed = parse(&[file("d3fend-protege.ttl", &ontology())]);
        let termination = record(&parsed, "ProcessTermination");
        assert_eq!(termination.kind, RecordKind::DefensiveTechnique);
        assert_eq!(termination.scope, "d3fend");
        assert_eq!(termination.name, "Process Termination");
        assert_eq!(termination.status, RecordStatus::Active);
        assert_eq!(termination.details["d3fend_id"], "D3-PT");
        assert_eq!(termination.details["tactic"], "Evict");
        assert_eq!(
            termination.details["parents"],
            serde_json::json!(["ProcessEviction"])
        );
        assert_eq!(
            termination.details["definition"],
            "Terminating a running application process."
        );
        assert_eq!(parsed.upstream_version.as_deref(), Some("1.2.0"));
    }

    #[test]
    fn owl_punning_does_not_make_a_technique_its_own_tactic_or_parent() {
        // :ProcessEviction is typed as itself and as owl:NamedIndividual; only subClassOf counts.
        let parsed = parse(&[file("d3fend-protege.ttl", &ontology())]);
        let ids: Vec<&str> = parsed
            .records
            .iter()
            .map(|record| record.id.as_str())
            .collect();
        assert_eq!(ids, ["ProcessEviction", "ProcessTermination"]);
        assert_eq!(
            record(&parsed, "ProcessEviction").details["tactic"],
            "Evict"
        );
    }

    #[test]
    fn a_file_with_a_syntax_error_fails_alone() {
        // As in upstream's d3fend-ontology-mappings.ttl: a statement ends with `.` and then continues.
        let broken = format!(
            "{PREFIXES}\n:ProcessTermination rdfs:label \"x\" .\n    owl:sameAs :Other .\n:Extra rdfs:subClassOf :DefensiveTechnique ."
        );
        let parsed = parse(&[
            file("d3fend-protege.ttl", &ontology()),
            file("mappings/d3fend-ontology-mappings.ttl", &broken),
        ]);
        assert_eq!(parsed.failures.len(), 1);
        assert_eq!(
            parsed.failures[0].file,
            "mappings/d3fend-ontology-mappings.ttl"
        );
        assert!(parsed.failures[0].error.starts_with("not valid Turtle"));
        // Nothing of the broken file is used, not even the triples before the error.
        assert_eq!(parsed.records.len(), 2);
        assert_eq!(
            record(&parsed, "ProcessTermination").name,
            "Process Termination"
        );
    }

    #[test]
    fn a_relative_iri_without_base_is_resolved_against_a_supplied_base() {
        let cco = format!(
            "{PREFIXES}\n<http://d3fend.mitre.org/ontologies/d3fend-cco.owl#> a owl:Ontology ;\n    owl:imports <../d3fend-protege.ttl#> .\n:Process rdfs:subClassOf <https://www.commoncoreontologies.org/ont00000798> ."
        );
        let parsed = parse(&[
            file("d3fend-protege.ttl", &ontology()),
            file("mappings/d3fend-cco.ttl", &cco),
        ]);
        assert!(parsed.failures.is_empty(), "{:?}", parsed.failures);
        // The extra super class of :Process does not disturb the artifact hierarchy.
        assert_eq!(
            technique_strings(record(&parsed, "ProcessTermination")),
            ["T1055", "T1059.001"]
        );
    }

    #[test]
    fn local_names_with_dots_are_attack_sub_techniques() {
        let text = format!(
            "{PREFIXES}\n:T1003.001 rdfs:subClassOf :OffensiveTechnique, [ owl:onProperty :accesses ; owl:someValuesFrom :Process ] ; :attack-id \"T1003.001\" .\n"
        );
        let parsed = parse(&[
            file("d3fend-protege.ttl", &ontology()),
            file("extra.ttl", &text),
        ]);
        assert!(parsed.failures.is_empty(), "{:?}", parsed.failures);
        assert_eq!(
            technique_strings(record(&parsed, "ProcessTermination")),
            ["T1003.001", "T1055", "T1059.001"]
        );
    }

    #[test]
    fn reused_d3fend_ids_do_not_merge_records_because_the_key_is_the_iri() {
        let text = format!(
            "{PREFIXES}\n:ActiveLearning rdfs:subClassOf :ProcessEviction ; rdfs:label \"Active Learning\" ; :d3fend-id \"D3A-AL\" .\n:AlethicLogic rdfs:subClassOf :ProcessEviction ; rdfs:label \"Alethic Logic\" ; :d3fend-id \"D3A-AL\" .\n"
        );
        let parsed = parse(&[
            file("d3fend-protege.ttl", &ontology()),
            file("extra.ttl", &text),
        ]);
        assert_eq!(
            record(&parsed, "ActiveLearning").details["d3fend_id"],
            "D3A-AL"
        );
        assert_eq!(
            record(&parsed, "AlethicLogic").details["d3fend_id"],
            "D3A-AL"
        );
        assert_eq!(parsed.records.len(), 4);
    }

    #[test]
    fn deprecated_defensive_technique_is_kept_as_deprecated() {
        let text = format!(
            "{PREFIXES}\n:OldIdea rdfs:subClassOf :ProcessEviction ; rdfs:label \"Old\" ; owl:deprecated \"true\"^^xsd:boolean .\n"
        );
        let parsed = parse(&[
            file("d3fend-protege.ttl", &ontology()),
            file("extra.ttl", &text),
        ]);
        assert_eq!(record(&parsed, "OldIdea").status, RecordStatus::Deprecated);
    }

    #[test]
    fn only_turtle_files_are_accepted() {
        assert!(accepts(Path::new("d3fend/src/ontology/d3fend-protege.ttl")));
        assert!(!accepts(Path::new(
            "d3fend/extensions/nist/sp800-53r5-control-catalog-d3fend-mapping.xlsx"
        )));
        assert!(!accepts(Path::new(
            "d3fend/src/ontology/initiatives/catalog-v001.xml"
        )));
        assert!(!accepts(Path::new("d3fend/PROVENANCE.md")));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = parse(&[SourceFile { path: PathBuf::from("x.ttl"), bytes }]);
        }

        #[test]
        fn mutated_ontology_never_panics(position in 0usize..4096, byte in any::<u8>(), cut in 0usize..4096) {
            let mut bytes = ontology().into_bytes();
            let position = position % bytes.len();
            bytes[position] = byte;
            bytes.truncate(cut.max(1) % (bytes.len() + 1));
            let _ = parse(&[SourceFile { path: PathBuf::from("x.ttl"), bytes }]);
        }
    }
}
