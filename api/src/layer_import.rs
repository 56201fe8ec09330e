//! ATT&CK Navigator layers into Aegis (`aegis import navigator`, `importNavigatorLayer`): each layer of a file
//! (one, or a 4.5 multi-layer array) becomes a saved layer (a scoped view kept beside the heatmap) or planned
//! test cases for its techniques, as the user chooses.
//!
//! A layer made for another ATT&CK release is mapped to the loaded one first: a revoked technique becomes its
//! replacement (`revoked-by` in the catalog), and what has no replacement, or is unknown to the catalog, is
//! reported and left out. Entries without a usable technique id are reported by their JSON path.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::Utc;
use commands::context::CommandContext;
use domain::actor::Actor;
use domain::saved_layer::{LayerAnnotation, LayerContent, SavedLayerCommand};
use domain::test_case::{
    Plan, ProcedureSource, Tag, TechniqueId, TestCaseAction, TestCaseCommand, Text, Title,
};
use importers::interop::navigator::{self, Layer, UnmappedReason};
use projections::catalog::CatalogEntry;
use serde::Serialize;
use uuid::Uuid;

use crate::state::AppState;

/// The objective of a test case planned from an entry without a usable comment.
const DEFAULT_OBJECTIVE: &str =
    "Validate the defences against this technique, named by an imported layer.";

/// What a layer becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, async_graphql::Enum)]
pub enum LayerUse {
    /// A saved layer: the layer's scores, colours and comments kept as a scoped view.
    View,
    /// A planned manual test case per technique the layer names.
    Tests,
}

/// What happened to one layer of a file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ImportedLayer {
    pub name: String,
    pub domain: String,
    /// The saved layer (`view`).
    pub saved_layer: Option<Uuid>,
    /// The planned test cases (`tests`).
    pub test_cases: Vec<Uuid>,
    /// Revoked ids replaced, `from -> to`.
    pub mapped: Vec<String>,
    /// Entries left out, each with the reason.
    pub left_out: Vec<String>,
}

/// Reads `bytes` (the file `file_name`) and brings each layer in as `use_as`, as `actor`.
pub async fn import(
    state: &AppState,
    actor: &Actor,
    context: &CommandContext,
    file_name: &str,
    bytes: &[u8],
    use_as: LayerUse,
) -> anyhow::Result<Vec<ImportedLayer>> {
    let layers = navigator::parse(bytes)?;
    let mut imported = Vec::with_capacity(layers.len());
    for layer in layers {
        imported.push(import_layer(state, actor, context, file_name, layer, use_as).await?);
    }
    Ok(imported)
}

async fn import_layer(
    state: &AppState,
    actor: &Actor,
    context: &CommandContext,
    file_name: &str,
    mut layer: Layer,
    use_as: LayerUse,
) -> anyhow::Result<ImportedLayer> {
    let catalog =
        projections::catalog::all(&state.pool, "technique", layer.domain.as_str(), None).await?;
    let names: HashMap<&str, &str> = catalog
        .iter()
        .map(|entry| (entry.id.as_str(), entry.name.as_str()))
        .collect();
    let (mapped, left_out) = map_to_catalog(&mut layer, &catalog, &names);
    let mut result = ImportedLayer {
        name: layer.name.clone(),
        domain: layer.domain.as_str().to_owned(),
        saved_layer: None,
        test_cases: Vec::new(),
        mapped,
        left_out,
    };
    match use_as {
        LayerUse::View => {
            result.saved_layer = Some(save_view(state, actor, context, file_name, &layer).await?);
        }
        LayerUse::Tests => {
            result.test_cases =
                plan_tests(state, actor, context, file_name, &layer, &names).await?;
        }
    }
    Ok(result)
}

/// Maps revoked ids to their replacements and leaves out what the catalog cannot place; returns the
/// mappings (`from -> to`) and what was left out, with the reasons.
fn map_to_catalog(
    layer: &mut Layer,
    catalog: &[CatalogEntry],
    names: &HashMap<&str, &str>,
) -> (Vec<String>, Vec<String>) {
    let replacements: HashMap<String, Option<String>> = catalog
        .iter()
        .filter(|entry| entry.status != "active")
        .map(|entry| (entry.id.clone(), entry.replaced_by.clone()))
        .collect();
    // What map_revoked will rewrite: entries whose id has a valid replacement.
    let mapped: Vec<String> = layer
        .techniques
        .iter()
        .filter_map(|entry| {
            let to = replacements.get(entry.technique.as_str())?.as_deref()?;
            TechniqueId::parse(to)
                .is_ok()
                .then(|| format!("{} -> {to}", entry.technique))
        })
        .collect();
    let mut left_out: Vec<String> = layer
        .skipped
        .iter()
        .map(|skipped| format!("{}: {:?}", skipped.path, skipped.problem))
        .collect();
    let unmapped = navigator::map_revoked(layer, &replacements);
    left_out.extend(unmapped.into_iter().map(|unmapped| {
        let reason = match unmapped.reason {
            UnmappedReason::NoReplacement => {
                "revoked or deprecated without a replacement".to_owned()
            }
            UnmappedReason::InvalidReplacement(to) => format!("replaced by an invalid id {to:?}"),
        };
        format!("{}: {reason}", unmapped.entry.technique)
    }));
    // Unknown to the loaded catalog: only checked when the domain is loaded at all.
    if !names.is_empty() {
        let domain = layer.domain.as_str();
        let (known, unknown): (Vec<_>, Vec<_>) = std::mem::take(&mut layer.techniques)
            .into_iter()
            .partition(|entry| names.contains_key(entry.technique.as_str()));
        left_out.extend(unknown.iter().map(|entry| {
            format!(
                "{}: not in the loaded ATT&CK catalog ({domain})",
                entry.technique
            )
        }));
        layer.techniques = known;
    }
    (mapped, left_out)
}

async fn save_view(
    state: &AppState,
    actor: &Actor,
    context: &CommandContext,
    file_name: &str,
    layer: &Layer,
) -> anyhow::Result<Uuid> {
    let layer_id = Uuid::now_v7();
    let saved = LayerContent {
        name: layer.name.clone(),
        description: layer.description.clone(),
        domain: layer.domain.as_str().to_owned(),
        attack_version: layer.attack_version.clone(),
        min_score: layer.gradient.as_ref().map(|gradient| gradient.min_value),
        max_score: layer.gradient.as_ref().map(|gradient| gradient.max_value),
        annotations: layer
            .techniques
            .iter()
            .filter(|entry| entry.enabled)
            .map(|entry| LayerAnnotation {
                technique: entry.technique.clone(),
                tactic: entry.tactic.clone(),
                score: entry.score,
                color: entry.color.clone(),
                comment: entry.comment.clone(),
                metadata: entry
                    .metadata
                    .iter()
                    .map(|pair| (pair.name.clone(), pair.value.clone()))
                    .collect(),
            })
            .collect(),
        source: file_name.to_owned(),
    };
    let command = SavedLayerCommand::Save {
        actor: actor.clone(),
        content: saved,
    };
    state
        .saved_layers
        .execute(context, &layer_id.to_string(), command)
        .await?;
    Ok(layer_id)
}

/// A planned manual test case per technique of the layer, in id order.
async fn plan_tests(
    state: &AppState,
    actor: &Actor,
    context: &CommandContext,
    file_name: &str,
    layer: &Layer,
    names: &HashMap<&str, &str>,
) -> anyhow::Result<Vec<Uuid>> {
    let mut comments = BTreeMap::new();
    for entry in layer.techniques.iter().filter(|entry| entry.enabled) {
        comments
            .entry(entry.technique.clone())
            .or_insert_with(|| entry.comment.clone());
    }
    let mut planned = Vec::with_capacity(comments.len());
    for (technique, comment) in comments {
        let name = names.get(technique.as_str()).copied().unwrap_or_default();
        let title: String = format!("{technique} {name} ({})", layer.name)
            .chars()
            .take(200)
            .collect();
        // A comment that is no valid objective (too long, control characters) is not worth failing over.
        let objective = match comment.as_deref().map(Text::parse) {
            Some(Ok(objective)) => objective,
            _ => Text::parse(DEFAULT_OBJECTIVE)?,
        };
        let plan = Plan {
            title: Title::parse(&title)?,
            objective,
            technique,
            procedure: ProcedureSource::Manual,
            steps: Text::parse(&format!(
                "Planned from the ATT&CK Navigator layer \u{201c}{}\u{201d} ({file_name}); write the procedure.",
                layer.name
            ))?,
            platforms: BTreeSet::new(),
            targets: BTreeSet::new(),
            tags: BTreeSet::from([Tag::parse("navigator-import")?]),
            blind: false,
        };
        let test_case = Uuid::now_v7();
        let command = TestCaseCommand {
            actor: actor.clone(),
            at: Utc::now(),
            action: TestCaseAction::PlanTestCase { plan },
        };
        state
            .test_cases
            .execute(context, &test_case.to_string(), command)
            .await?;
        planned.push(test_case);
    }
    Ok(planned)
}
