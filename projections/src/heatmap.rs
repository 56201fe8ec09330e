//! The heatmap of one ATT&CK domain at one moment: the catalog as it was then (tactic columns and technique cells,
//! so a tactic split in a new ATT&CK release is data, not code), the newest result of each procedure
//! ([`crate::coverage::results`]), the rules deployed then, telemetry and threat-actor prevalence from the
//! catalogs, scored by the policy in force then (or the one asked for, or settings not saved yet) with
//! `domain::coverage`.
//!
//! A test case against a technique that ATT&CK later revoked counts for its replacement.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use domain::coverage::{
    Cell, CellFacts, Prepared, ProcedureResult, cell, roll_up, visibility_from_event_types,
};
use domain::scoring::PolicySettings;
use futures::TryFutureExt;
use sqlx::PgPool;
use uuid::Uuid;

use crate::catalog::{self, CatalogEntry};
use crate::coverage::{self, ResultFilter, ResultRow};

/// What a heatmap shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeatmapQuery {
    /// The ATT&CK domain (`enterprise-attack`…).
    pub scope: String,
    pub filter: ResultFilter,
    /// Only the techniques this ATT&CK group uses (and their sub-techniques).
    pub threat_actor: Option<String>,
    /// The past moment to show; `None` for now.
    pub as_of: Option<DateTime<Utc>>,
    /// Score with this policy (its settings as they were at the moment) instead of the one in force.
    pub policy_id: Option<Uuid>,
    /// The time scores are computed at (recency decay, staleness): `as_of`, or the caller's clock for now.
    pub at: DateTime<Utc>,
}

/// The policy a heatmap was scored with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyUsed {
    /// `None`: no policy was active; the default settings were used.
    pub policy_id: Option<Uuid>,
    pub version: Option<i32>,
    pub settings: PolicySettings,
}

/// One technique's cell, with its sub-techniques' cells.
#[derive(Debug, Clone, PartialEq)]
pub struct TechniqueCell {
    /// The catalog record, with only `tactics` in its details ([`catalog::matrix_techniques`]).
    pub technique: CatalogEntry,
    pub cell: Cell,
    pub sub_techniques: Vec<TechniqueCell>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Heatmap {
    pub scope: String,
    pub at: DateTime<Utc>,
    pub policy: PolicyUsed,
    /// Tactic columns in matrix order.
    pub tactics: Vec<CatalogEntry>,
    /// Techniques (not sub-techniques), by id; each lists its tactics in its details.
    pub techniques: Vec<TechniqueCell>,
}

impl Heatmap {
    /// Every cell, techniques and sub-techniques, by technique id.
    pub fn cells(&self) -> HashMap<&str, &TechniqueCell> {
        let mut cells = HashMap::new();
        for technique in &self.techniques {
            cells.insert(technique.technique.id.as_str(), technique);
            for sub in &technique.sub_techniques {
                cells.insert(sub.technique.id.as_str(), sub);
            }
        }
        cells
    }
}

/// Why a heatmap could not be computed.
#[derive(Debug, thiserror::Error)]
pub enum HeatmapError {
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error("scoring policy {0} does not exist (or had no settings at that moment)")]
    UnknownPolicy(Uuid),
    #[error("stored policy settings do not read back: {0}")]
    Settings(String),
}

/// The heatmap `query` asks for.
pub async fn heatmap(pool: &PgPool, query: &HeatmapQuery) -> Result<Heatmap, HeatmapError> {
    Ok(Inputs::read(pool, query).await?.heatmap(query))
}

/// [`heatmap`], reading its inputs through `cache`: a dashboard asks for the same heatmap again and again, and
/// between two changes to the log or the catalog only the time it is scored at moves.
pub async fn heatmap_cached(
    pool: &PgPool,
    cache: &HeatmapCache,
    query: &HeatmapQuery,
) -> Result<Heatmap, HeatmapError> {
    Ok(cache.inputs(pool, query).await?.heatmap(query))
}

/// [`heatmap_cached`] scored with `settings` instead of a stored policy's: a preview of settings not saved yet.
/// The inputs are those of the heatmap under the policy in force (`query.policy_id` is ignored), so a preview
/// beside that heatmap reads nothing twice. The heatmap names no policy ([`PolicyUsed::policy_id`] is `None`).
pub async fn heatmap_cached_with_settings(
    pool: &PgPool,
    cache: &HeatmapCache,
    query: &HeatmapQuery,
    settings: PolicySettings,
) -> Result<Heatmap, HeatmapError> {
    let in_force = HeatmapQuery {
        policy_id: None,
        ..query.clone()
    };
    let policy = PolicyUsed {
        policy_id: None,
        version: None,
        settings,
    };
    Ok(cache
        .inputs(pool, &in_force)
        .await?
        .heatmap_under(&in_force, &policy))
}

/// Everything a heatmap is computed from; its cells are a function of these and the time they are scored at.
#[derive(Debug)]
struct Inputs {
    policy: PolicyUsed,
    techniques: Vec<CatalogEntry>,
    tactics: Vec<CatalogEntry>,
    /// With a threat actor: the techniques it uses.
    kept: Option<HashSet<String>>,
    /// One fact sheet per technique, results re-attributed from revoked techniques to their replacements,
    /// prepared for `policy`: kept inputs are scored again at every request.
    facts: HashMap<String, Prepared>,
}

impl Inputs {
    async fn read(pool: &PgPool, query: &HeatmapQuery) -> Result<Self, HeatmapError> {
        // The reads are independent: each on its own connection, at the same time.
        let kept = async {
            match &query.threat_actor {
                Some(group) => actor_techniques(pool, query, group).await.map(Some),
                None => Ok(None),
            }
        };
        let (policy, techniques, tactics, kept, results, rule_counts, telemetry, usage) = tokio::try_join!(
            policy(pool, query),
            catalog::matrix_techniques(pool, &query.scope, query.as_of).map_err(HeatmapError::from),
            catalog::tactics(pool, &query.scope, query.as_of).map_err(HeatmapError::from),
            kept,
            coverage::results(pool, &query.filter, query.as_of).map_err(HeatmapError::from),
            coverage::deployed_rule_counts(pool, query.as_of).map_err(HeatmapError::from),
            coverage::telemetry_event_types(pool, query.as_of).map_err(HeatmapError::from),
            coverage::actor_usage(pool, &query.scope, query.as_of).map_err(HeatmapError::from),
        )?;
        let facts = facts(&techniques, results, rule_counts, telemetry, usage)
            .into_iter()
            .map(|(technique, facts)| (technique, Prepared::new(facts, &policy.settings)))
            .collect();
        Ok(Self {
            policy,
            techniques,
            tactics,
            kept,
            facts,
        })
    }

    /// The heatmap scored at `query.at`.
    fn heatmap(&self, query: &HeatmapQuery) -> Heatmap {
        self.heatmap_under(query, &self.policy)
    }

    /// The heatmap scored at `query.at` with `policy` rather than the policy the inputs were read with.
    fn heatmap_under(&self, query: &HeatmapQuery, policy: &PolicyUsed) -> Heatmap {
        let mut by_parent: BTreeMap<&str, Vec<TechniqueCell>> = BTreeMap::new();
        let mut parents = Vec::new();
        for entry in self
            .techniques
            .iter()
            .filter(|entry| entry.status == "active")
        {
            let cell = match self.facts.get(&entry.id) {
                Some(prepared) => prepared.cell(&entry.id, &policy.settings, query.at),
                None => cell(&entry.id, CellFacts::default(), &policy.settings, query.at),
            };
            let technique_cell = TechniqueCell {
                technique: entry.clone(),
                cell,
                sub_techniques: Vec::new(),
            };
            match entry.id.split_once('.') {
                Some((parent, _)) => by_parent.entry(parent).or_default().push(technique_cell),
                None => parents.push(technique_cell),
            }
        }
        for parent in &mut parents {
            let mut subs = by_parent
                .remove(parent.technique.id.as_str())
                .unwrap_or_default();
            if let Some(kept) = &self.kept {
                subs.retain(|sub| kept.contains(&sub.technique.id));
            }
            roll_up(
                &mut parent.cell,
                subs.iter().map(|sub| &sub.cell),
                &policy.settings,
            );
            parent.sub_techniques = subs;
        }
        if let Some(kept) = &self.kept {
            parents.retain(|parent| {
                kept.contains(&parent.technique.id) || !parent.sub_techniques.is_empty()
            });
        }
        Heatmap {
            scope: query.scope.clone(),
            at: query.at,
            policy: policy.clone(),
            tactics: self.tactics.clone(),
            techniques: parents,
        }
    }
}

/// Heatmap inputs kept between requests (see [`heatmap_cached`]), for as long as they are exactly what a fresh
/// read would give: until the catalog changes or any projection applies another event. Checking that costs one
/// small query; the inputs of a whole matrix cost a dozen, some over the whole catalog.
#[derive(Debug, Default)]
pub struct HeatmapCache {
    kept: Mutex<KeptInputs>,
}

#[derive(Debug, Default)]
struct KeptInputs {
    /// What the kept inputs were read at.
    version: Option<ReadVersion>,
    inputs: HashMap<InputsKey, Arc<Inputs>>,
}

/// How many different heatmaps (domains, filters, moments, policies) are kept at once; beyond it the cache
/// starts over, which bounds its memory whatever the callers ask for (the inputs of a whole matrix over a year
/// of work are a megabyte or two).
const KEPT_HEATMAPS: usize = 16;

/// A query without its scoring time: what the inputs depend on.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct InputsKey {
    scope: String,
    filter: ResultFilter,
    threat_actor: Option<String>,
    as_of: Option<DateTime<Utc>>,
    policy_id: Option<Uuid>,
}

/// The state of everything a heatmap reads: how many transactions have changed the catalog, and where each
/// projection stands in the log. Equal versions mean equal inputs (a rebuilt projection ends where it was, with
/// the same rows).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
struct ReadVersion {
    catalog_changes: i64,
    positions: Vec<i64>,
}

impl HeatmapCache {
    async fn inputs(
        &self,
        pool: &PgPool,
        query: &HeatmapQuery,
    ) -> Result<Arc<Inputs>, HeatmapError> {
        let version: ReadVersion = sqlx::query_as(
            "SELECT (SELECT count(*) FROM catalog_changes) AS catalog_changes,
                    array(SELECT global_seq FROM projection_checkpoints ORDER BY projection) AS positions",
        )
        .fetch_one(pool)
        .await?;
        let key = InputsKey {
            scope: query.scope.clone(),
            filter: query.filter.clone(),
            threat_actor: query.threat_actor.clone(),
            as_of: query.as_of,
            policy_id: query.policy_id,
        };
        if let Some(inputs) = self.lock().get(&version, &key) {
            return Ok(inputs);
        }
        // Read outside the lock: other heatmaps are served meanwhile. Kept under the version read before,
        // so a change that lands during the read makes the next request read again.
        let inputs = Arc::new(Inputs::read(pool, query).await?);
        self.lock().keep(version, key, Arc::clone(&inputs));
        Ok(inputs)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, KeptInputs> {
        // What is kept is replaced whole, never left half-written: a panic elsewhere cannot spoil it.
        self.kept
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl KeptInputs {
    fn get(&self, version: &ReadVersion, key: &InputsKey) -> Option<Arc<Inputs>> {
        (self.version.as_ref() == Some(version))
            .then(|| self.inputs.get(key).cloned())
            .flatten()
    }

    fn keep(&mut self, version: ReadVersion, key: InputsKey, inputs: Arc<Inputs>) {
        if self.version.as_ref() != Some(&version) || self.inputs.len() >= KEPT_HEATMAPS {
            self.inputs.clear();
            self.version = Some(version);
        }
        self.inputs.insert(key, inputs);
    }
}

async fn policy(pool: &PgPool, query: &HeatmapQuery) -> Result<PolicyUsed, HeatmapError> {
    let found = match query.policy_id {
        Some(policy_id) => Some(
            coverage::policy_version(pool, policy_id, query.as_of)
                .await?
                .ok_or(HeatmapError::UnknownPolicy(policy_id))?,
        ),
        None => coverage::policy_in_force(pool, query.as_of).await?,
    };
    Ok(match found {
        Some((policy_id, version, settings)) => PolicyUsed {
            policy_id: Some(policy_id),
            version: Some(version),
            settings: serde_json::from_value(settings)
                .map_err(|error| HeatmapError::Settings(error.to_string()))?,
        },
        None => PolicyUsed {
            policy_id: None,
            version: None,
            settings: PolicySettings::default(),
        },
    })
}

/// Everything known about each technique of the domain at the moment, by technique id.
fn facts(
    techniques: &[CatalogEntry],
    results: Vec<ResultRow>,
    rule_counts: HashMap<String, u32>,
    telemetry: HashMap<String, u32>,
    (groups, using): (u32, HashMap<String, u32>),
) -> HashMap<String, CellFacts> {
    let replacements: HashMap<&str, &str> = techniques
        .iter()
        .filter_map(|entry| Some((entry.id.as_str(), entry.replaced_by.as_deref()?)))
        .collect();
    let mut results_by_technique: HashMap<String, Vec<ProcedureResult>> = HashMap::new();
    for ResultRow {
        technique, result, ..
    } in results
    {
        let technique = replacements
            .get(technique.as_str())
            .map_or(technique.clone(), |replacement| (*replacement).to_owned());
        results_by_technique
            .entry(technique)
            .or_default()
            .push(result);
    }
    let mut facts: HashMap<String, CellFacts> = results_by_technique
        .into_iter()
        .map(|(technique, results)| {
            let facts = CellFacts {
                results: results.into(),
                ..CellFacts::default()
            };
            (technique, facts)
        })
        .collect();
    for (technique, rules) in rule_counts {
        facts.entry(technique).or_default().context.deployed_rules = rules;
    }
    for (technique, event_types) in telemetry {
        facts
            .entry(technique)
            .or_default()
            .context
            .telemetry_visibility = visibility_from_event_types(event_types);
    }
    // Without tracked groups, prevalence is unknown rather than zero.
    for entry in techniques {
        let users = using.get(&entry.id).copied().unwrap_or_default();
        if let Some(share) = (users * 100).checked_div(groups) {
            facts
                .entry(entry.id.clone())
                .or_default()
                .context
                .actor_prevalence = Some(u8::try_from(share).unwrap_or(100));
        }
    }
    facts
}

/// The techniques group `group` uses (in the heatmap's domain), with the parents of its sub-techniques.
async fn actor_techniques(
    pool: &PgPool,
    query: &HeatmapQuery,
    group: &str,
) -> Result<HashSet<String>, HeatmapError> {
    let entry = catalog::find(pool, "group", Some(&query.scope), group, query.as_of).await?;
    Ok(entry
        .map(|entry| entry.techniques)
        .unwrap_or_default()
        .into_iter()
        .collect())
}
