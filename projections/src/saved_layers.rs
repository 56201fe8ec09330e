//! The saved layers read model (`saved_layers`): Navigator layers kept as scoped views, from the `SavedLayer`
//! events. Idempotent like the other read models: a row keeps the sequence of the last event applied.

use chrono::{DateTime, Utc};
use domain::saved_layer::{LayerAnnotation, LayerContent, SavedLayerEvent};
use sqlx::postgres::PgRow;
use sqlx::types::Json;
use sqlx::{PgConnection, PgPool, Row};
use uuid::Uuid;

use crate::paging::PageCursor;
use crate::projector::{Projection, StoredEvent, streams_of};
use crate::rows;

/// Keeps `saved_layers` in step with `SavedLayer` events.
#[derive(Debug, Clone, Copy, Default)]
pub struct SavedLayers;

#[async_trait::async_trait]
impl Projection for SavedLayers {
    fn name(&self) -> &'static str {
        "saved_layers"
    }

    fn tables(&self) -> &'static [&'static str] {
        &["saved_layers"]
    }

    /// Layers are saved one at a time by people: a statement per event.
    async fn apply(
        &self,
        connection: &mut PgConnection,
        events: &[StoredEvent],
    ) -> Result<(), sqlx::Error> {
        for (layer_id, stored) in streams_of(events, "SavedLayer") {
            match stored.payload::<SavedLayerEvent>()?.into_owned() {
                SavedLayerEvent::Saved { content } => {
                    sqlx::query(
                        "INSERT INTO saved_layers (layer_id, name, description, domain, attack_version,
                             min_score, max_score, annotations, source, saved_at, saved_by, last_sequence)
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
                         ON CONFLICT (layer_id) DO NOTHING",
                    )
                    .bind(layer_id)
                    .bind(&content.name)
                    .bind(&content.description)
                    .bind(&content.domain)
                    .bind(&content.attack_version)
                    .bind(content.min_score)
                    .bind(content.max_score)
                    .bind(Json(&content.annotations))
                    .bind(&content.source)
                    .bind(rows::as_stored(stored.occurred_at()))
                    .bind(stored.actor_id())
                    .bind(stored.sequence)
                    .execute(&mut *connection)
                    .await?;
                }
                SavedLayerEvent::Renamed { name } => {
                    sqlx::query(
                        "UPDATE saved_layers SET name = $2, last_sequence = $3
                          WHERE layer_id = $1 AND last_sequence < $3",
                    )
                    .bind(layer_id)
                    .bind(name)
                    .bind(stored.sequence)
                    .execute(&mut *connection)
                    .await?;
                }
                SavedLayerEvent::Deleted => {
                    sqlx::query("DELETE FROM saved_layers WHERE layer_id = $1")
                        .bind(layer_id)
                        .execute(&mut *connection)
                        .await?;
                }
            }
        }
        Ok(())
    }
}

/// One saved layer.
#[derive(Debug, Clone, PartialEq)]
pub struct SavedLayerRow {
    pub layer_id: Uuid,
    pub content: LayerContent,
    pub saved_at: DateTime<Utc>,
    pub saved_by: Option<String>,
}

impl SavedLayerRow {
    pub fn cursor(&self) -> PageCursor {
        PageCursor {
            at: self.saved_at,
            id: self.layer_id,
        }
    }
}

const COLUMNS: &str = "layer_id, name, description, domain, attack_version, min_score, max_score, \
                       annotations, source, saved_at, saved_by";

fn saved_layer(row: &PgRow) -> Result<SavedLayerRow, sqlx::Error> {
    let annotations: Json<Vec<LayerAnnotation>> = row.try_get("annotations")?;
    Ok(SavedLayerRow {
        layer_id: row.try_get("layer_id")?,
        content: LayerContent {
            name: row.try_get("name")?,
            description: row.try_get("description")?,
            domain: row.try_get("domain")?,
            attack_version: row.try_get("attack_version")?,
            min_score: row.try_get("min_score")?,
            max_score: row.try_get("max_score")?,
            annotations: annotations.0,
            source: row.try_get("source")?,
        },
        saved_at: row.try_get("saved_at")?,
        saved_by: row.try_get("saved_by")?,
    })
}

/// Saved layers, newest first, after `after`, at most `limit`.
pub async fn page(
    pool: &PgPool,
    after: Option<&PageCursor>,
    limit: i64,
) -> Result<Vec<SavedLayerRow>, sqlx::Error> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM saved_layers
          WHERE $1::timestamptz IS NULL OR (saved_at, layer_id) < ($1, $2::uuid)
          ORDER BY saved_at DESC, layer_id DESC LIMIT $3"
    ))
    .bind(after.map(|cursor| cursor.at))
    .bind(after.map(|cursor| cursor.id))
    .bind(limit)
    .fetch_all(pool)
    .await?;
    rows.iter().map(saved_layer).collect()
}

pub async fn find(pool: &PgPool, layer_id: Uuid) -> Result<Option<SavedLayerRow>, sqlx::Error> {
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM saved_layers WHERE layer_id = $1"
    ))
    .bind(layer_id)
    .fetch_optional(pool)
    .await?;
    row.as_ref().map(saved_layer).transpose()
}
