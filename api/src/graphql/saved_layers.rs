//! Saved layers: ATT&CK Navigator layers brought in as scoped views (or as planned test cases), listed, read
//! back as a layer file, renamed and deleted (see `crate::layer_import`).

use async_graphql::{Context, ErrorExtensions, Object, SimpleObject};
use chrono::{DateTime, Utc};
use domain::saved_layer::{SavedLayerCommand, SavedLayerError};
use importers::interop::navigator::{
    self, Domain, Gradient, LayerExport, Metadata, TechniqueEntry,
};
use projections::saved_layers::{self, SavedLayerRow};
use uuid::Uuid;

use super::command::{Refusal, caller, failed};
use super::error::{ApiError, internal};
use super::paging::page_size;
use crate::layer_import::{self, ImportedLayer, LayerUse};
use crate::state::AppState;

/// One technique annotation of a saved layer, as the layer gave it.
#[derive(SimpleObject, Debug, Clone, PartialEq)]
pub struct LayerAnnotation {
    technique_id: String,
    tactic: Option<String>,
    score: Option<f64>,
    color: Option<String>,
    comment: Option<String>,
}

/// A Navigator layer kept as a scoped view.
#[derive(SimpleObject, Debug, Clone, PartialEq)]
#[graphql(complex)]
pub struct SavedLayer {
    id: Uuid,
    name: String,
    description: String,
    domain: String,
    attack_version: Option<String>,
    /// The layer's own score range (its gradient), when it has one.
    min_score: Option<f64>,
    max_score: Option<f64>,
    annotations: Vec<LayerAnnotation>,
    /// The file it came from.
    source: String,
    saved_at: DateTime<Utc>,
    #[graphql(skip)]
    row: SavedLayerRow,
}

#[async_graphql::ComplexObject]
impl SavedLayer {
    /// The layer as a Navigator format 4.5 file (JSON), to open in the Navigator again.
    async fn navigator_layer(&self) -> async_graphql::Json<serde_json::Value> {
        async_graphql::Json(navigator_file(&self.row))
    }
}

/// A saved layer written back as a format 4.5 layer.
pub fn navigator_file(row: &SavedLayerRow) -> serde_json::Value {
    let content = &row.content;
    let layer = LayerExport {
        name: content.name.clone(),
        description: content.description.clone(),
        domain: Domain::from_name(&content.domain).unwrap_or(Domain::Enterprise),
        attack_version: content.attack_version.clone(),
        techniques: content
            .annotations
            .iter()
            .map(|annotation| TechniqueEntry {
                technique: annotation.technique.clone(),
                tactic: annotation.tactic.clone(),
                score: annotation.score,
                color: annotation.color.clone(),
                comment: annotation.comment.clone(),
                enabled: true,
                metadata: annotation
                    .metadata
                    .iter()
                    .map(|(name, value)| Metadata {
                        name: name.clone(),
                        value: value.clone(),
                    })
                    .collect(),
                links: Vec::new(),
            })
            .collect(),
        gradient: content
            .min_score
            .zip(content.max_score)
            .map(|(min_value, max_value)| Gradient {
                colors: vec![
                    "#ff6666".to_owned(),
                    "#ffe766".to_owned(),
                    "#8ec843".to_owned(),
                ],
                min_value,
                max_value,
            }),
        legend_items: Vec::new(),
        metadata: Vec::new(),
    };
    serde_json::to_value(navigator::to_v45(&layer)).unwrap_or_default()
}

impl From<SavedLayerRow> for SavedLayer {
    fn from(row: SavedLayerRow) -> Self {
        let content = row.content.clone();
        Self {
            id: row.layer_id,
            name: content.name,
            description: content.description,
            domain: content.domain,
            attack_version: content.attack_version,
            min_score: content.min_score,
            max_score: content.max_score,
            annotations: content
                .annotations
                .into_iter()
                .map(|annotation| LayerAnnotation {
                    technique_id: annotation.technique.to_string(),
                    tactic: annotation.tactic,
                    score: annotation.score,
                    color: annotation.color,
                    comment: annotation.comment,
                })
                .collect(),
            source: content.source,
            saved_at: row.saved_at,
            row,
        }
    }
}

/// What `importNavigatorLayer` did with each layer of the file.
#[derive(SimpleObject, Debug, Clone, PartialEq)]
pub struct ImportedNavigatorLayer {
    name: String,
    domain: String,
    saved_layer_id: Option<Uuid>,
    test_case_ids: Vec<Uuid>,
    /// Revoked technique ids replaced: `T1086 -> T1059.001`.
    mapped: Vec<String>,
    /// Entries left out, each with the reason.
    left_out: Vec<String>,
}

impl From<ImportedLayer> for ImportedNavigatorLayer {
    fn from(layer: ImportedLayer) -> Self {
        Self {
            name: layer.name,
            domain: layer.domain,
            saved_layer_id: layer.saved_layer,
            test_case_ids: layer.test_cases,
            mapped: layer.mapped,
            left_out: layer.left_out,
        }
    }
}

impl Refusal for SavedLayerError {
    fn code(&self) -> &'static str {
        Self::code(self)
    }
}

#[derive(Debug, Default)]
pub struct SavedLayersQuery;

#[Object]
impl SavedLayersQuery {
    /// Saved layers, newest first (at most 100).
    async fn saved_layers(
        &self,
        context: &Context<'_>,
        first: Option<i32>,
    ) -> async_graphql::Result<Vec<SavedLayer>> {
        let state = context.data::<AppState>()?;
        let limit = i64::try_from(page_size(
            first.and_then(|first| usize::try_from(first).ok()),
        ))
        .unwrap_or(100);
        let rows = saved_layers::page(&state.pool, None, limit)
            .await
            .map_err(internal)?;
        Ok(rows.into_iter().map(SavedLayer::from).collect())
    }

    /// One saved layer; null when there is none with this id.
    async fn saved_layer(
        &self,
        context: &Context<'_>,
        id: Uuid,
    ) -> async_graphql::Result<Option<SavedLayer>> {
        let state = context.data::<AppState>()?;
        Ok(saved_layers::find(&state.pool, id)
            .await
            .map_err(internal)?
            .map(SavedLayer::from))
    }
}

#[derive(Debug, Default)]
pub struct SavedLayersMutation;

#[Object]
impl SavedLayersMutation {
    /// Brings in the Navigator layer file `layer` (its JSON text: one layer or a 4.5 multi-layer array) as
    /// saved views or as planned test cases. Revoked techniques are mapped to their replacements; what cannot
    /// be placed is listed in `leftOut`. A malformed file is refused (VALIDATION) with the JSON path.
    async fn import_navigator_layer(
        &self,
        context: &Context<'_>,
        layer: String,
        #[graphql(default = "layer.json")] file_name: String,
        #[graphql(name = "as")] use_as: LayerUse,
    ) -> async_graphql::Result<Vec<ImportedNavigatorLayer>> {
        let state = context.data::<AppState>()?;
        let caller = caller(context)?;
        // One request makes several aggregates: an idempotency key cannot stand for all of them.
        let mut command_context = caller.context.clone();
        command_context.idempotency_key = None;
        let layers = layer_import::import(
            state,
            &caller.actor,
            &command_context,
            &file_name,
            layer.as_bytes(),
            use_as,
        )
        .await
        .map_err(|error| match error.downcast::<navigator::LayerError>() {
            Ok(invalid) => ApiError::Validation(invalid.to_string()).extend(),
            Err(error) => ApiError::Internal(error.into()).extend(),
        })?;
        Ok(layers
            .into_iter()
            .map(ImportedNavigatorLayer::from)
            .collect())
    }

    /// Renames a saved layer.
    async fn rename_saved_layer(
        &self,
        context: &Context<'_>,
        id: Uuid,
        name: String,
    ) -> async_graphql::Result<bool> {
        execute(context, id, |actor| SavedLayerCommand::Rename {
            actor,
            name,
        })
        .await
    }

    /// Deletes a saved layer (its history stays in the log).
    async fn delete_saved_layer(
        &self,
        context: &Context<'_>,
        id: Uuid,
    ) -> async_graphql::Result<bool> {
        execute(context, id, |actor| SavedLayerCommand::Delete { actor }).await
    }
}

async fn execute(
    context: &Context<'_>,
    id: Uuid,
    command: impl FnOnce(domain::actor::Actor) -> SavedLayerCommand,
) -> async_graphql::Result<bool> {
    let state = context.data::<AppState>()?;
    let caller = caller(context)?;
    state
        .saved_layers
        .execute(&caller.context, &id.to_string(), command(caller.actor))
        .await
        .map_err(failed)?;
    Ok(true)
}
