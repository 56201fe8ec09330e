//! What the scheduler finds worth telling the leads: the intel scan (`intel_scan`) and the new ATT&CK release an
//! `attack_sync` loaded. Each finding becomes an `IntelItem` (see `domain::intel`) naming the active leads,
//! whom the notifications projection then tells.
//!
//! # Findings
//! The scan compares the imports finished since the previous scan started with what was there before (the first
//! import of a kind and scope is the baseline, not news), one item per import and finding:
//! - techniques ATT&CK added, and techniques it changed (content or status);
//! - detection rules and templates new in the catalog for techniques in scope (those of a test case or a
//!   campaign's scope);
//! - per tracked threat actor (a group a campaign is scoped to), the techniques it uses that its previous
//!   version did not;
//! - per ATT&CK domain, the techniques whose coverage went stale since the previous scan (the heatmap's
//!   staleness, under the scoring policy in force).
//!
//! # Rerunning
//! An item's id is derived from what it reports (the import run and finding, or the stale techniques and their
//! last validations), so a rerun finds the same ids, raising one again is refused, and nothing is told twice.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, TimeDelta, Utc};
use commands::service::CommandError;
use domain::intel::{
    CatalogLink, DETAIL_MAX_CHARS, IntelCommand, IntelError, IntelKind, RaiseIntelItem,
};
use domain::role::Role;
use projections::catalog::{self, CatalogChange};
use projections::heatmap::{self, HeatmapQuery};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::scheduler::{JobRunRow, scheduler_actor};
use crate::state::AppState;

/// The namespace of intel item ids.
const INTEL_NAMESPACE: Uuid = Uuid::from_u128(0x6165_6769_735f_696e_7465_6c5f_6964_0001);

/// The ATT&CK domains whose heatmaps are checked for staleness.
const ATTACK_DOMAINS: [&str; 3] = ["enterprise-attack", "mobile-attack", "ics-attack"];

/// How far before the previous scan the next one looks again: an import that committed while the previous
/// scan ran is not missed (the derived ids keep what was raised from being raised twice).
const LOOK_BACK_OVERLAP: TimeDelta = TimeDelta::days(1);

/// An item about to be raised.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Finding {
    /// What the id is derived from.
    key: String,
    kind: IntelKind,
    title: String,
    lines: Vec<String>,
    links: Vec<CatalogLink>,
}

/// Runs the scan due at `now` after the `previous` one (`None` for the first); returns the counts the job
/// run records. Imports are compared by when they finished against when the previous scan started (both the
/// database's time); staleness at the scan's due time against the previous one's.
pub async fn scan(
    state: &AppState,
    previous: Option<JobRunRow>,
    now: DateTime<Utc>,
) -> anyhow::Result<Value> {
    let pool = &state.pool;
    let changes = catalog::changes_since(
        pool,
        previous
            .as_ref()
            .map(|previous| previous.started_at - LOOK_BACK_OVERLAP),
        &["technique", "detection_rule", "template", "group"],
    )
    .await?;
    let in_scope: BTreeSet<String> = projections::intel::techniques_in_scope(pool)
        .await?
        .into_iter()
        .collect();
    let tracked: BTreeSet<String> = projections::intel::tracked_threat_actors(pool)
        .await?
        .into_iter()
        .collect();
    let mut findings = catalog_findings(&changes, &in_scope, &tracked);
    for scope in ATTACK_DOMAINS {
        let since = previous.as_ref().map(|previous| previous.due_at);
        findings.extend(stale_finding(state, scope, since, now).await?);
    }
    let found = findings.len();
    let raised = raise(state, findings).await?;
    Ok(json!({ "findings": found, "raised": raised }))
}

/// The new ATT&CK release `attack_sync` loaded, when its import added or changed anything.
pub async fn attack_release(
    state: &AppState,
    import_run: Uuid,
    location: &str,
    new_or_changed: usize,
) -> anyhow::Result<usize> {
    let Some(run) = catalog::import_run(&state.pool, import_run).await? else {
        anyhow::bail!("import run {import_run} is missing");
    };
    if new_or_changed == 0 {
        return Ok(0);
    }
    let release = run.upstream_version.as_deref().map_or_else(
        || "A new ATT&CK release".to_owned(),
        |version| format!("ATT&CK {version}"),
    );
    let finding = Finding {
        // The content, not the version: a re-published release with the same number is news too.
        key: format!(
            "attack_version/{location}/{}",
            run.content_digest.as_deref().unwrap_or_default()
        ),
        kind: IntelKind::AttackVersion,
        title: format!("{release} loaded from {location}"),
        lines: vec![format!(
            "{} new, {} changed, {} retired records (import run {import_run}).",
            run.records_new, run.records_changed, run.records_retired
        )],
        links: Vec::new(),
    };
    raise(state, vec![finding]).await
}

/// Raises each finding unless an earlier run raised it; returns how many were new.
async fn raise(state: &AppState, findings: Vec<Finding>) -> anyhow::Result<usize> {
    if findings.is_empty() {
        return Ok(0);
    }
    let leads = projections::users::active_holding(
        &state.pool,
        &[Role::RedLead.as_str(), Role::BlueLead.as_str()],
    )
    .await?;
    let (actor, context) = scheduler_actor();
    let mut raised = 0;
    for finding in findings {
        let item_id = Uuid::new_v5(&INTEL_NAMESPACE, finding.key.as_bytes());
        let command = IntelCommand::Raise(RaiseIntelItem {
            actor: actor.clone(),
            kind: finding.kind,
            title: finding.title,
            detail: detail(&finding.lines),
            links: finding.links,
            notify: leads.clone(),
        });
        match state
            .intel_items
            .execute(&context, &item_id.to_string(), command)
            .await
        {
            Ok(_) => raised += 1,
            Err(CommandError::Rejected(IntelError::AlreadyRaised)) => {}
            Err(error) => return Err(error.into()),
        }
    }
    Ok(raised)
}

/// The lines, one per record, cut to fit an item's detail.
fn detail(lines: &[String]) -> String {
    let mut detail = String::new();
    for (shown, line) in lines.iter().enumerate() {
        let more = format!("… and {} more.", lines.len() - shown);
        if detail.chars().count() + line.chars().count() + more.chars().count() + 2
            > DETAIL_MAX_CHARS
        {
            detail.push_str(&more);
            break;
        }
        detail.push_str(line);
        detail.push('\n');
    }
    detail
}

fn link(change: &CatalogChange) -> CatalogLink {
    CatalogLink {
        kind: change.kind.clone(),
        scope: change.scope.clone(),
        id: change.id.clone(),
        name: change.name.clone(),
    }
}

fn technique_link(scope: &str, technique: &str) -> CatalogLink {
    CatalogLink {
        kind: "technique".to_owned(),
        scope: scope.to_owned(),
        id: technique.to_owned(),
        name: String::new(),
    }
}

fn plural(count: usize, one: &str, many: &str) -> String {
    format!("{count} {}", if count == 1 { one } else { many })
}

/// The findings in the catalog's changes, one per import run and kind (per group for actors).
fn catalog_findings(
    changes: &[CatalogChange],
    in_scope: &BTreeSet<String>,
    tracked: &BTreeSet<String>,
) -> Vec<Finding> {
    let mut grouped: BTreeMap<(Uuid, &str, IntelKind), Vec<&CatalogChange>> = BTreeMap::new();
    let mut findings = Vec::new();
    for change in changes {
        let is_new = change.previous_techniques.is_none();
        let kind = match (change.kind.as_str(), is_new) {
            ("technique", true) => IntelKind::NewTechniques,
            ("technique", false) => IntelKind::ChangedTechniques,
            ("detection_rule", true) if touches(change, in_scope) => IntelKind::NewDetectionRules,
            ("template", true) if touches(change, in_scope) => IntelKind::NewTemplates,
            ("group", false) if tracked.contains(&change.id) => {
                findings.extend(actor_finding(change));
                continue;
            }
            _ => continue,
        };
        grouped
            .entry((change.run_id, change.scope.as_str(), kind))
            .or_default()
            .push(change);
    }
    for ((run_id, scope, kind), changes) in grouped {
        let release = changes[0]
            .upstream_version
            .as_deref()
            .map_or_else(|| scope.to_owned(), |version| format!("{scope} {version}"));
        let count = changes.len();
        let title = match kind {
            IntelKind::NewTechniques => {
                format!(
                    "ATT&CK {release}: {}",
                    plural(count, "new technique", "new techniques")
                )
            }
            IntelKind::ChangedTechniques => format!(
                "ATT&CK {release}: {} changed",
                plural(count, "technique", "techniques")
            ),
            IntelKind::NewDetectionRules => format!(
                "{} for techniques in scope ({scope})",
                plural(count, "new detection rule", "new detection rules")
            ),
            _ => format!(
                "{} for techniques in scope ({scope})",
                plural(count, "new procedure", "new procedures")
            ),
        };
        let mut links: Vec<CatalogLink> = changes.iter().map(|change| link(change)).collect();
        if kind != IntelKind::NewTechniques && kind != IntelKind::ChangedTechniques {
            // The techniques in scope the rules and procedures are for, so that filtering by technique finds them.
            let techniques: BTreeSet<&String> = changes
                .iter()
                .flat_map(|change| change.techniques.iter())
                .filter(|technique| in_scope.contains(*technique))
                .collect();
            links.extend(
                techniques
                    .into_iter()
                    .map(|technique| technique_link("", technique)),
            );
        }
        let records = changes
            .iter()
            .map(|change| {
                let status = if change.status == "active" {
                    String::new()
                } else {
                    format!(" ({})", change.status)
                };
                format!("{} {}{status}", change.id, change.name)
            })
            .collect();
        findings.push(Finding {
            key: format!("{kind:?}/{run_id}/{scope}"),
            kind,
            title,
            lines: records,
            links,
        });
    }
    findings
}

fn touches(change: &CatalogChange, in_scope: &BTreeSet<String>) -> bool {
    change
        .techniques
        .iter()
        .any(|technique| in_scope.contains(technique))
}

/// A tracked group's techniques that its previous version did not list.
fn actor_finding(change: &CatalogChange) -> Option<Finding> {
    let before: BTreeSet<&String> = change.previous_techniques.iter().flatten().collect();
    let added: Vec<&String> = change
        .techniques
        .iter()
        .filter(|technique| !before.contains(technique))
        .collect();
    if added.is_empty() {
        return None;
    }
    let mut links = vec![link(change)];
    links.extend(
        added
            .iter()
            .map(|technique| technique_link(&change.scope, technique)),
    );
    Some(Finding {
        key: format!("actor/{}/{}/{}", change.run_id, change.scope, change.id),
        kind: IntelKind::ActorTechniques,
        title: format!(
            "{} ({}) now uses {}",
            change.name,
            change.id,
            plural(added.len(), "more technique", "more techniques")
        ),
        lines: added.iter().map(|technique| (*technique).clone()).collect(),
        links,
    })
}

/// The techniques of `scope` stale at `now` that were not at `since` (every stale one for the first scan).
async fn stale_finding(
    state: &AppState,
    scope: &str,
    since: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> anyhow::Result<Option<Finding>> {
    let query = |as_of: Option<DateTime<Utc>>, at: DateTime<Utc>| HeatmapQuery {
        scope: scope.to_owned(),
        filter: projections::coverage::ResultFilter::default(),
        threat_actor: None,
        as_of,
        policy_id: None,
        at,
    };
    let current = heatmap::heatmap(&state.pool, &query(None, now)).await?;
    let earlier = match since {
        Some(since) if since < now => {
            Some(heatmap::heatmap(&state.pool, &query(Some(since), since)).await?)
        }
        _ => None,
    };
    let was_stale: BTreeSet<&str> = earlier
        .as_ref()
        .map(|earlier| {
            earlier
                .cells()
                .into_iter()
                .filter(|(_, cell)| cell.cell.stale)
                .map(|(id, _)| id)
                .collect()
        })
        .unwrap_or_default();
    let mut gone_stale: Vec<(&str, &heatmap::TechniqueCell)> = current
        .cells()
        .into_iter()
        .filter(|(id, cell)| cell.cell.stale && !was_stale.contains(id))
        .collect();
    if gone_stale.is_empty() {
        return Ok(None);
    }
    gone_stale.sort_by_key(|(id, _)| *id);
    let lines: Vec<String> = gone_stale
        .iter()
        .map(|(id, cell)| {
            let last = cell
                .cell
                .last_validated_at
                .map_or_else(String::new, |last| last.format("%Y-%m-%d").to_string());
            format!("{id} {} (last validated {last})", cell.technique.name)
        })
        .collect();
    Ok(Some(Finding {
        // The techniques and their last validations: the same staleness is reported once.
        key: format!("stale/{scope}/{}", lines.join("|")),
        kind: IntelKind::StaleCoverage,
        title: format!(
            "{} went stale in {scope}",
            plural(gone_stale.len(), "technique", "techniques")
        ),
        lines,
        links: gone_stale
            .iter()
            .map(|(id, cell)| CatalogLink {
                kind: "technique".to_owned(),
                scope: scope.to_owned(),
                id: (*id).to_owned(),
                name: cell.technique.name.clone(),
            })
            .collect(),
    }))
}
