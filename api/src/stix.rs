//! The organisation's coverage as a STIX 2.1 bundle, for CTI platforms: an `identity` for this Aegis
//! instance and, per tested technique of a heatmap view, an `attack-pattern` created by it, naming the ATT&CK
//! technique in its external references (with ATT&CK's own STIX id as `x_mitre_id` link) and carrying the
//! coverage in `x_aegis_*` properties: score, best and worst outcome, procedures per outcome, deployed rules,
//! last validation, staleness.
//!
//! The objects are Aegis' view of a technique, not copies of ATT&CK's: their ids are derived from the
//! instance and the technique (so a re-export updates the same objects, with a newer `modified`), which keeps
//! them from clashing with the ATT&CK objects a platform already holds.

use std::collections::HashMap;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

use crate::layers::{LayerView, heatmap_of, outcome_name};

/// The namespace of the bundle's object ids.
const STIX_NAMESPACE: Uuid = Uuid::from_u128(0x6165_6769_735f_7374_6978_5f69_6400_0001);

fn stix_id(kind: &str, key: &str) -> String {
    format!("{kind}--{}", Uuid::new_v5(&STIX_NAMESPACE, key.as_bytes()))
}

fn timestamp(moment: DateTime<Utc>) -> String {
    moment.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// The bundle of `view` at `now` (or as of `view.as_of`); `instance` names the organisation's identity.
pub async fn coverage_bundle(
    pool: &PgPool,
    view: &LayerView,
    instance: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<Value> {
    let heatmap = heatmap_of(pool, view, now).await?;
    let at = timestamp(heatmap.at);
    let identity = stix_id("identity", instance);
    // ATT&CK's own STIX ids, to point at the technique a platform already holds.
    let attack_ids: HashMap<String, String> =
        projections::catalog::all(pool, "technique", view.domain.as_str(), view.as_of)
            .await?
            .into_iter()
            .filter_map(|entry| {
                let stix = entry.details.get("stix_id")?.as_str()?.to_owned();
                Some((entry.id, stix))
            })
            .collect();
    let mut objects = vec![json!({
        "type": "identity",
        "spec_version": "2.1",
        "id": identity,
        "created": at,
        "modified": at,
        "name": instance,
        "identity_class": "organization",
        "description": "The organisation whose defences Aegis validated.",
    })];
    for technique in &heatmap.techniques {
        for cell in std::iter::once(technique).chain(&technique.sub_techniques) {
            let facts = &cell.cell;
            let Some(score) = facts.score else { continue };
            let id = &cell.technique.id;
            let tallies: serde_json::Map<String, Value> = facts
                .tests_by_outcome
                .iter()
                .map(|(outcome, count)| (outcome_name(*outcome).replace(' ', "_"), json!(count)))
                .collect();
            let mut reference = json!({
                "source_name": "mitre-attack",
                "external_id": id,
                "url": format!("https://attack.mitre.org/techniques/{}/", id.replace('.', "/")),
            });
            if let Some(attack_id) = attack_ids.get(id) {
                reference["x_mitre_stix_id"] = json!(attack_id);
            }
            objects.push(json!({
                "type": "attack-pattern",
                "spec_version": "2.1",
                "id": stix_id("attack-pattern", &format!("{instance}/{}/{id}", view.domain.as_str())),
                "created_by_ref": identity,
                "created": at,
                "modified": at,
                "name": cell.technique.name,
                "external_references": [reference],
                "x_aegis_domain": view.domain.as_str(),
                "x_aegis_score": score.value(),
                "x_aegis_best_outcome": facts.best.map(outcome_name),
                "x_aegis_worst_outcome": facts.worst.map(outcome_name),
                "x_aegis_procedures": tallies,
                "x_aegis_deployed_rules": facts.deployed_rules,
                "x_aegis_last_validated": facts.last_validated_at.map(timestamp),
                "x_aegis_stale": facts.stale,
            }));
        }
    }
    Ok(json!({
        "type": "bundle",
        "id": stix_id("bundle", &format!("{instance}/{}/{at}", view.domain.as_str())),
        "objects": objects,
    }))
}
