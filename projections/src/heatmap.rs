//! The heatmap of one ATT&CK domain at one moment: the catalog as it was then (tactic columns and technique cells,
//! so a tactic split in a new ATT&CK release is data, not code), the newest result of each procedure
//! ([`crate::coverage::results`]), the rules deployed then, telemetry and threat-actor prevalence from the
//! catalogs, scored by the policy in force then (or the one asked for) with `domain::coverage`.
//!
//! A test case against a technique that ATT&CK later revoked counts for its replacement.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Utc};
use domain::coverage::{Cell, CellFacts, cell, roll_up, visibility_from_event_types};
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
    let facts = facts(&techniques, results, rule_counts, telemetry, usage);
    let mut by_parent: BTreeMap<String, Vec<TechniqueCell>> = BTreeMap::new();
    let mut parents = Vec::new();
    for entry in techniques
        .into_iter()
        .filter(|entry| entry.status == "active")
    {
        let id = entry.id.clone();
        let cell = cell(
            &id,
            facts.get(&id).cloned().unwrap_or_default(),
            &policy.settings,
            query.at,
        );
        let technique_cell = TechniqueCell {
            technique: entry,
            cell,
            sub_techniques: Vec::new(),
        };
        match id.split_once('.') {
            Some((parent, _)) => by_parent
                .entry(parent.to_owned())
                .or_default()
                .push(technique_cell),
            None => parents.push(technique_cell),
        }
    }
    for parent in &mut parents {
        let mut subs = by_parent.remove(&parent.technique.id).unwrap_or_default();
        if let Some(kept) = &kept {
            subs.retain(|sub| kept.contains(&sub.technique.id));
        }
        roll_up(
            &mut parent.cell,
            &subs.iter().map(|sub| sub.cell.clone()).collect::<Vec<_>>(),
            &policy.settings,
        );
        parent.sub_techniques = subs;
    }
    if let Some(kept) = &kept {
        parents.retain(|parent| {
            kept.contains(&parent.technique.id) || !parent.sub_techniques.is_empty()
        });
    }
    Ok(Heatmap {
        scope: query.scope.clone(),
        at: query.at,
        policy,
        tactics,
        techniques: parents,
    })
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
    let mut facts: HashMap<String, CellFacts> = HashMap::new();
    for ResultRow {
        technique, result, ..
    } in results
    {
        let technique = replacements
            .get(technique.as_str())
            .map_or(technique.clone(), |replacement| (*replacement).to_owned());
        facts.entry(technique).or_default().results.push(result);
    }
    for (technique, rules) in rule_counts {
        facts.entry(technique).or_default().deployed_rules = rules;
    }
    for (technique, event_types) in telemetry {
        facts.entry(technique).or_default().telemetry_visibility =
            visibility_from_event_types(event_types);
    }
    // Without tracked groups, prevalence is unknown rather than zero.
    for entry in techniques {
        let users = using.get(&entry.id).copied().unwrap_or_default();
        if let Some(share) = (users * 100).checked_div(groups) {
            facts.entry(entry.id.clone()).or_default().actor_prevalence =
                Some(u8::try_from(share).unwrap_or(100));
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
