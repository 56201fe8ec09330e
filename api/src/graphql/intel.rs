//! Intel items (see `crate::intel_scan`): the list, one item, and acknowledging one.

use async_graphql::connection::{Connection, EmptyFields};
use async_graphql::{Context, Enum, Object, SimpleObject};
use chrono::{DateTime, Utc};
use domain::intel::{AcknowledgeIntelItem, IntelCommand};
use projections::intel::{self, IntelFilter, IntelItemRow};
use uuid::Uuid;

use super::command::{Refusal, caller, failed};
use super::error::internal;
use super::paging::keyset_page;
use crate::state::AppState;

/// What an intel item reports.
#[derive(Enum, Clone, Copy, PartialEq, Eq, Debug)]
#[graphql(remote = "domain::intel::IntelKind")]
pub enum IntelKind {
    /// A new ATT&CK release was loaded.
    AttackVersion,
    /// Techniques ATT&CK did not have before.
    NewTechniques,
    /// Techniques whose content or status changed.
    ChangedTechniques,
    /// New detection rules for techniques in scope (those of a test case or a campaign's scope).
    NewDetectionRules,
    /// New procedures (templates) for techniques in scope.
    NewTemplates,
    /// A tracked threat actor (a group a campaign is scoped to) uses techniques it did not before.
    ActorTechniques,
    /// Techniques whose coverage went stale since the previous scan.
    StaleCoverage,
}

/// A catalog record an item points at.
#[derive(SimpleObject, Debug, Clone, PartialEq, Eq)]
pub struct IntelLink {
    /// `technique`, `detection_rule`, `template`, `group`…
    kind: String,
    /// The ATT&CK domain, the rule or template source; empty for a technique a rule or template names.
    scope: String,
    id: String,
    /// Empty when the finding did not look the name up.
    name: String,
}

/// A finding of the intel scan or ATT&CK sync.
#[derive(SimpleObject, Debug, Clone, PartialEq, Eq)]
pub struct IntelItem {
    id: Uuid,
    kind: IntelKind,
    title: String,
    /// One line per record or technique found.
    detail: String,
    links: Vec<IntelLink>,
    raised_at: DateTime<Utc>,
    acknowledged: bool,
    acknowledged_at: Option<DateTime<Utc>>,
    /// The acknowledging user's id.
    acknowledged_by: Option<String>,
    /// What was done about it.
    acknowledgement: Option<String>,
}

impl From<IntelItemRow> for IntelItem {
    fn from(row: IntelItemRow) -> Self {
        Self {
            id: row.item_id,
            kind: row.kind.into(),
            title: row.title,
            detail: row.detail,
            links: row
                .links
                .into_iter()
                .map(|link| IntelLink {
                    kind: link.kind,
                    scope: link.scope,
                    id: link.id,
                    name: link.name,
                })
                .collect(),
            raised_at: row.raised_at,
            acknowledged: row.acknowledged_at.is_some(),
            acknowledged_at: row.acknowledged_at,
            acknowledged_by: row.acknowledged_by,
            acknowledgement: row.acknowledgement,
        }
    }
}

/// What `acknowledgeIntelItem` recorded.
#[derive(SimpleObject, Debug, Clone, PartialEq, Eq)]
pub struct IntelAcknowledgement {
    id: Uuid,
    acknowledged_at: DateTime<Utc>,
    note: Option<String>,
    /// True when this was a retry of an acknowledgement already recorded (same idempotency key).
    unchanged: bool,
}

impl Refusal for domain::intel::IntelError {
    fn code(&self) -> &'static str {
        Self::code(self)
    }
}

#[derive(Debug, Default)]
pub struct IntelQuery;

#[Object]
impl IntelQuery {
    /// Intel items, newest first: only the unacknowledged ones with `openOnly: true`, of one kind, or linking
    /// one technique.
    #[graphql(complexity = "super::paging::page_complexity(first, child_complexity)")]
    async fn intel_items(
        &self,
        context: &Context<'_>,
        open_only: Option<bool>,
        kind: Option<IntelKind>,
        technique: Option<String>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<Connection<String, IntelItem, EmptyFields, EmptyFields>> {
        let state = context.data::<AppState>()?;
        let filter = IntelFilter {
            open_only: open_only.unwrap_or(false),
            kind: kind.map(Into::into),
            technique: technique.map(|technique| technique.trim().to_uppercase()),
        };
        keyset_page(
            after,
            first,
            |cursor, limit| async move {
                intel::page(&state.pool, &filter, cursor.as_ref(), limit).await
            },
            IntelItemRow::cursor,
            IntelItem::from,
        )
        .await
    }

    /// One intel item; null when there is none with this id.
    async fn intel_item(
        &self,
        context: &Context<'_>,
        id: Uuid,
    ) -> async_graphql::Result<Option<IntelItem>> {
        let state = context.data::<AppState>()?;
        Ok(intel::find(&state.pool, id)
            .await
            .map_err(internal)?
            .map(IntelItem::from))
    }

    /// How many intel items nobody acknowledged yet.
    async fn open_intel_item_count(&self, context: &Context<'_>) -> async_graphql::Result<i32> {
        let state = context.data::<AppState>()?;
        let count = intel::open_count(&state.pool).await.map_err(internal)?;
        Ok(i32::try_from(count).unwrap_or(i32::MAX))
    }
}

#[derive(Debug, Default)]
pub struct IntelMutation;

#[Object]
impl IntelMutation {
    /// Records that you (a lead) have seen an intel item, with what was done about it. A second
    /// acknowledgement is refused (CONFLICT, ALREADY_ACKNOWLEDGED); an unknown id is NOT_FOUND.
    async fn acknowledge_intel_item(
        &self,
        context: &Context<'_>,
        id: Uuid,
        note: Option<String>,
    ) -> async_graphql::Result<IntelAcknowledgement> {
        let state = context.data::<AppState>()?;
        let caller = caller(context)?;
        let note = note.filter(|note| !note.trim().is_empty());
        let command = IntelCommand::Acknowledge(AcknowledgeIntelItem {
            actor: caller.actor,
            note: note.clone(),
        });
        let outcome = state
            .intel_items
            .execute(&caller.context, &id.to_string(), command)
            .await
            .map_err(failed)?;
        Ok(IntelAcknowledgement {
            id,
            acknowledged_at: state.intel_items.now(),
            note: note.map(|note| note.trim().to_owned()),
            unchanged: outcome.replayed,
        })
    }
}
