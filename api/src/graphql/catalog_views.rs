//! Reading the reference catalogs: ATT&CK techniques, tactics and threat actors, detection rules, templates,
//! compliance frameworks and controls, and the import runs that loaded them. Every list and lookup accepts
//! `asOf`: the catalog as it was then (an older ATT&CK release stays queryable after a newer one is loaded).

use std::collections::HashSet;

use async_graphql::connection::{Connection, Edge, EmptyFields, query};
use async_graphql::{Context, Enum, ErrorExtensions, InputObject, Json, Object, SimpleObject};
use chrono::{DateTime, Utc};
use projections::catalog::{self, CatalogCursor, CatalogEntry, CatalogFilter, ImportRunRow};
use projections::paging::PageCursor;
use uuid::Uuid;

use super::error::{ApiError, internal};
use super::paging::page_size;
use crate::state::AppState;

/// ATT&CK domains, as their STIX collections name them.
#[derive(Enum, Clone, Copy, PartialEq, Eq, Debug)]
pub enum AttackDomain {
    Enterprise,
    Mobile,
    Ics,
}

impl AttackDomain {
    pub fn scope(self) -> &'static str {
        match self {
            Self::Enterprise => "enterprise-attack",
            Self::Mobile => "mobile-attack",
            Self::Ics => "ics-attack",
        }
    }
}

/// Where an upstream object is in its life cycle.
#[derive(Enum, Clone, Copy, PartialEq, Eq, Debug)]
pub enum CatalogStatus {
    Active,
    /// No longer maintained upstream.
    Deprecated,
    /// Replaced upstream (see `replacedBy`).
    Revoked,
}

impl CatalogStatus {
    fn of(entry: &CatalogEntry) -> Self {
        match entry.status.as_str() {
            "revoked" => Self::Revoked,
            "deprecated" => Self::Deprecated,
            _ => Self::Active,
        }
    }
}

/// Any catalog record: a template, a mitigation, a D3FEND countermeasure, a control mapping, a Sysmon
/// configuration… Fields every source has are typed; the rest of what upstream says is in `details`.
#[derive(Debug, Clone)]
pub struct CatalogItem {
    entry: CatalogEntry,
    as_of: Option<DateTime<Utc>>,
}

#[Object]
impl CatalogItem {
    /// technique, tactic, group, software, mitigation, defensive_technique, template, detection_rule,
    /// telemetry_config, compliance_framework, control, control_mapping…
    async fn kind(&self) -> &str {
        &self.entry.kind
    }
    /// What keeps ids apart: an ATT&CK domain, a template library (atomic, caldera, lolbas, gtfobins), a rule
    /// source (sigma, elastic), a compliance framework.
    async fn scope(&self) -> &str {
        &self.entry.scope
    }
    /// The upstream id.
    async fn id(&self) -> &str {
        &self.entry.id
    }
    async fn name(&self) -> &str {
        &self.entry.name
    }
    async fn status(&self) -> CatalogStatus {
        CatalogStatus::of(&self.entry)
    }
    async fn replaced_by(&self) -> Option<&str> {
        self.entry.replaced_by.as_deref()
    }
    /// The ATT&CK technique ids the record refers to.
    async fn techniques(&self) -> &[String] {
        &self.entry.techniques
    }
    /// The technique ids the loaded ATT&CK catalog does not know (newer than the loaded release, or
    /// mistyped upstream); empty while no ATT&CK catalog is loaded. Such records are kept, and flagged here.
    async fn unknown_techniques(
        &self,
        context: &Context<'_>,
    ) -> async_graphql::Result<Vec<String>> {
        unknown_techniques(context, &self.entry.techniques).await
    }
    /// The source that imported it (attack, sigma, atomic…).
    async fn source(&self) -> &str {
        &self.entry.source
    }
    /// 1 for the first import of the record, one more per upstream change.
    async fn version(&self) -> i32 {
        self.entry.version
    }
    /// When this version was imported.
    async fn imported_at(&self) -> DateTime<Utc> {
        self.entry.valid_from
    }
    /// Everything else upstream says, as the importer read it.
    async fn details(&self) -> Json<&serde_json::Value> {
        Json(&self.entry.details)
    }
    /// For a template (atomic, caldera, lolbas, gtfobins): the procedure kind, objective, steps and platforms a
    /// test case planned from it takes (`planTestCaseFromTemplate`), so that changing a plan's procedure to it
    /// can take them too; null for other kinds.
    async fn template_plan(&self) -> Option<super::templates::TemplatePlan> {
        super::templates::TemplatePlan::of(&self.entry)
    }
    /// For a detection rule: whether we run it, and the last decision (null for other kinds and for rules
    /// nobody deployed yet).
    async fn deployment(
        &self,
        context: &Context<'_>,
    ) -> async_graphql::Result<Option<super::detection_rules::RuleDeployment>> {
        if self.entry.kind != "detection_rule" {
            return Ok(None);
        }
        super::detection_rules::deployment(context, &self.entry.scope, &self.entry.id).await
    }
    /// The moment this record was read as of (null: now).
    async fn as_of(&self) -> Option<DateTime<Utc>> {
        self.as_of
    }
}

/// An ATT&CK technique or sub-technique.
#[derive(Debug, Clone)]
pub struct Technique {
    entry: CatalogEntry,
    as_of: Option<DateTime<Utc>>,
}

#[Object]
impl Technique {
    async fn id(&self) -> &str {
        &self.entry.id
    }
    async fn name(&self) -> &str {
        &self.entry.name
    }
    /// enterprise-attack, mobile-attack or ics-attack.
    async fn domain(&self) -> &str {
        &self.entry.scope
    }
    async fn status(&self) -> CatalogStatus {
        CatalogStatus::of(&self.entry)
    }
    /// The technique that replaced a revoked one.
    async fn replaced_by(&self) -> Option<&str> {
        self.entry.replaced_by.as_deref()
    }
    async fn description(&self) -> Option<&str> {
        self.entry.detail_text("description")
    }
    async fn url(&self) -> Option<&str> {
        self.entry.detail_text("url")
    }
    /// Tactic short names (`credential-access`), in ATT&CK's order for the technique.
    async fn tactics(&self) -> Vec<String> {
        self.entry.detail_texts("tactics")
    }
    async fn platforms(&self) -> Vec<String> {
        self.entry.detail_texts("platforms")
    }
    async fn is_sub_technique(&self) -> bool {
        self.entry.id.contains('.')
    }
    /// For a sub-technique, its technique's id.
    async fn parent(&self) -> Option<String> {
        self.entry
            .id
            .split_once('.')
            .map(|(parent, _)| parent.to_owned())
    }
    async fn sub_techniques(&self, context: &Context<'_>) -> async_graphql::Result<Vec<Technique>> {
        let state = context.data::<AppState>()?;
        let entries =
            catalog::sub_techniques(&state.pool, &self.entry.scope, &self.entry.id, self.as_of)
                .await
                .map_err(internal)?;
        Ok(entries
            .into_iter()
            .map(|entry| Technique {
                entry,
                as_of: self.as_of,
            })
            .collect())
    }
    /// ATT&CK groups that use it (in this domain).
    async fn threat_actors(
        &self,
        context: &Context<'_>,
    ) -> async_graphql::Result<Vec<ThreatActor>> {
        Ok(self
            .referring(context, "group", true)
            .await?
            .into_iter()
            .map(|item| ThreatActor {
                entry: item.entry,
                as_of: self.as_of,
            })
            .collect())
    }
    /// Malware and tools that use it.
    async fn software(&self, context: &Context<'_>) -> async_graphql::Result<Vec<CatalogItem>> {
        self.referring(context, "software", true).await
    }
    async fn mitigations(&self, context: &Context<'_>) -> async_graphql::Result<Vec<CatalogItem>> {
        self.referring(context, "mitigation", true).await
    }
    /// ATT&CK v18 detection strategies for it.
    async fn detection_strategies(
        &self,
        context: &Context<'_>,
    ) -> async_graphql::Result<Vec<CatalogItem>> {
        self.referring(context, "detection_strategy", true).await
    }
    /// Sigma and Elastic rules tagged with it.
    async fn detection_rules(
        &self,
        context: &Context<'_>,
    ) -> async_graphql::Result<Vec<CatalogItem>> {
        self.referring(context, "detection_rule", false).await
    }
    /// Procedures a test case can start from (Atomic, CALDERA, LOLBAS, GTFOBins).
    async fn templates(&self, context: &Context<'_>) -> async_graphql::Result<Vec<CatalogItem>> {
        self.referring(context, "template", false).await
    }
    /// D3FEND techniques that counter it.
    async fn countermeasures(
        &self,
        context: &Context<'_>,
    ) -> async_graphql::Result<Vec<CatalogItem>> {
        self.referring(context, "defensive_technique", false).await
    }
    /// Compliance controls mapped to it (CTID mappings).
    async fn controls(&self, context: &Context<'_>) -> async_graphql::Result<Vec<CatalogItem>> {
        self.referring(context, "control_mapping", false).await
    }
    /// Sysmon configurations that collect events naming it.
    async fn telemetry(&self, context: &Context<'_>) -> async_graphql::Result<Vec<CatalogItem>> {
        self.referring(context, "telemetry_config", false).await
    }
    /// Everything else ATT&CK says about it.
    async fn details(&self) -> Json<&serde_json::Value> {
        Json(&self.entry.details)
    }
}

impl Technique {
    /// Records of `kind` that name this technique; ATT&CK's own records only from the same domain.
    async fn referring(
        &self,
        context: &Context<'_>,
        kind: &str,
        same_domain: bool,
    ) -> async_graphql::Result<Vec<CatalogItem>> {
        let state = context.data::<AppState>()?;
        let entries = catalog::referring_to(&state.pool, kind, &self.entry.id, self.as_of)
            .await
            .map_err(internal)?;
        Ok(entries
            .into_iter()
            .filter(|entry| !same_domain || entry.scope == self.entry.scope)
            .map(|entry| CatalogItem {
                entry,
                as_of: self.as_of,
            })
            .collect())
    }
}

/// An ATT&CK tactic: a column of the matrix.
#[derive(SimpleObject, Debug, Clone, PartialEq, Eq)]
pub struct Tactic {
    id: String,
    name: String,
    /// The name techniques use for it (`credential-access`).
    shortname: String,
    domain: String,
    /// Its column in the domain's matrix, from 0.
    order: Option<i32>,
    description: Option<String>,
}

impl Tactic {
    fn of(entry: &CatalogEntry) -> Self {
        Self {
            id: entry.id.clone(),
            name: entry.name.clone(),
            shortname: entry
                .detail_text("shortname")
                .unwrap_or_default()
                .to_owned(),
            domain: entry.scope.clone(),
            order: entry
                .details
                .get("order")
                .and_then(serde_json::Value::as_i64)
                .and_then(|order| i32::try_from(order).ok()),
            description: entry.detail_text("description").map(str::to_owned),
        }
    }
}

/// An ATT&CK group and the techniques it uses.
#[derive(Debug, Clone)]
pub struct ThreatActor {
    entry: CatalogEntry,
    as_of: Option<DateTime<Utc>>,
}

#[Object]
impl ThreatActor {
    async fn id(&self) -> &str {
        &self.entry.id
    }
    async fn name(&self) -> &str {
        &self.entry.name
    }
    async fn domain(&self) -> &str {
        &self.entry.scope
    }
    async fn status(&self) -> CatalogStatus {
        CatalogStatus::of(&self.entry)
    }
    async fn aliases(&self) -> Vec<String> {
        self.entry.detail_texts("aliases")
    }
    async fn description(&self) -> Option<&str> {
        self.entry.detail_text("description")
    }
    /// The ids of the techniques it uses.
    async fn technique_ids(&self) -> &[String] {
        &self.entry.techniques
    }
    /// The techniques it uses, as the catalog describes them.
    async fn techniques(&self, context: &Context<'_>) -> async_graphql::Result<Vec<Technique>> {
        let state = context.data::<AppState>()?;
        let mut techniques = Vec::new();
        for id in &self.entry.techniques {
            if let Some(entry) = catalog::find(
                &state.pool,
                "technique",
                Some(&self.entry.scope),
                id,
                self.as_of,
            )
            .await
            .map_err(internal)?
            {
                techniques.push(Technique {
                    entry,
                    as_of: self.as_of,
                });
            }
        }
        Ok(techniques)
    }
    async fn details(&self) -> Json<&serde_json::Value> {
        Json(&self.entry.details)
    }
}

/// One import: where from, which upstream release, what it changed, what failed.
#[derive(SimpleObject, Debug, Clone, PartialEq, Eq)]
pub struct ImportRun {
    id: Uuid,
    source: String,
    locations: Vec<String>,
    upstream_version: Option<String>,
    /// SHA-256 of every input file's name and bytes: equal digests, equal input.
    content_digest: Option<String>,
    status: ImportRunStatus,
    started_at: DateTime<Utc>,
    finished_at: Option<DateTime<Utc>>,
    /// Null when started from the command line.
    started_by: Option<Uuid>,
    files_seen: i32,
    files_failed: i32,
    records_new: i32,
    records_changed: i32,
    records_unchanged: i32,
    /// Records of this import that upstream marks revoked or deprecated.
    records_retired: i32,
    errors: Vec<ImportRunError>,
}

#[derive(Enum, Clone, Copy, PartialEq, Eq, Debug)]
pub enum ImportRunStatus {
    Running,
    /// Every file imported.
    Succeeded,
    /// Some files failed; the others were imported.
    Partial,
    /// Nothing could be imported.
    Failed,
}

/// A file an import could not use, and why; `file` is null when the whole run failed.
#[derive(SimpleObject, Debug, Clone, PartialEq, Eq)]
pub struct ImportRunError {
    file: Option<String>,
    error: String,
}

impl From<ImportRunRow> for ImportRun {
    fn from(row: ImportRunRow) -> Self {
        let status = match row.status.as_str() {
            "succeeded" => ImportRunStatus::Succeeded,
            "partial" => ImportRunStatus::Partial,
            "failed" => ImportRunStatus::Failed,
            _ => ImportRunStatus::Running,
        };
        Self {
            id: row.run_id,
            source: row.source,
            locations: row.locations,
            upstream_version: row.upstream_version,
            content_digest: row.content_digest,
            status,
            started_at: row.started_at,
            finished_at: row.finished_at,
            started_by: row.started_by,
            files_seen: row.files_seen,
            files_failed: row.files_failed,
            records_new: row.records_new,
            records_changed: row.records_changed,
            records_unchanged: row.records_unchanged,
            records_retired: row.records_retired,
            errors: row
                .errors
                .into_iter()
                .map(|error| ImportRunError {
                    file: error.file,
                    error: error.error,
                })
                .collect(),
        }
    }
}

/// Which catalog records a list holds.
#[derive(InputObject, Debug, Clone, Default)]
pub struct CatalogListFilter {
    /// Only records that refer to this ATT&CK technique id.
    technique: Option<String>,
    /// Only records whose id or name contains this text.
    search: Option<String>,
    /// Include revoked and deprecated records (left out by default).
    #[graphql(default)]
    include_retired: bool,
    /// The catalog as it was at this moment (default: now).
    as_of: Option<DateTime<Utc>>,
}

#[derive(Debug, Default)]
pub struct CatalogQuery;

type CatalogConnection<T> = Connection<String, T, EmptyFields, EmptyFields>;

#[Object]
impl CatalogQuery {
    /// ATT&CK techniques and sub-techniques of one domain, by id.
    #[graphql(complexity = "super::paging::page_complexity(first, child_complexity)")]
    async fn techniques(
        &self,
        context: &Context<'_>,
        #[graphql(default_with = "AttackDomain::Enterprise")] domain: AttackDomain,
        filter: Option<CatalogListFilter>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<CatalogConnection<Technique>> {
        let filter = list_filter("technique", Some(domain.scope().to_owned()), filter);
        paged(context, filter, first, after, |entry, as_of| Technique {
            entry,
            as_of,
        })
        .await
    }

    /// One technique or sub-technique by id (any domain), with what refers to it.
    async fn technique(
        &self,
        context: &Context<'_>,
        id: String,
        as_of: Option<DateTime<Utc>>,
    ) -> async_graphql::Result<Option<Technique>> {
        let state = context.data::<AppState>()?;
        let entry = catalog::find(&state.pool, "technique", None, &id, as_of)
            .await
            .map_err(internal)?;
        Ok(entry.map(|entry| Technique { entry, as_of }))
    }

    /// The tactics of a domain in matrix order: the heatmap's columns.
    async fn tactics(
        &self,
        context: &Context<'_>,
        #[graphql(default_with = "AttackDomain::Enterprise")] domain: AttackDomain,
        as_of: Option<DateTime<Utc>>,
    ) -> async_graphql::Result<Vec<Tactic>> {
        let state = context.data::<AppState>()?;
        let entries = catalog::tactics(&state.pool, domain.scope(), as_of)
            .await
            .map_err(internal)?;
        Ok(entries.iter().map(Tactic::of).collect())
    }

    /// ATT&CK groups, by id.
    #[graphql(complexity = "super::paging::page_complexity(first, child_complexity)")]
    async fn threat_actors(
        &self,
        context: &Context<'_>,
        #[graphql(default_with = "AttackDomain::Enterprise")] domain: AttackDomain,
        filter: Option<CatalogListFilter>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<CatalogConnection<ThreatActor>> {
        let filter = list_filter("group", Some(domain.scope().to_owned()), filter);
        paged(context, filter, first, after, |entry, as_of| ThreatActor {
            entry,
            as_of,
        })
        .await
    }

    /// One ATT&CK group by id (`G0016`), in any domain.
    async fn threat_actor(
        &self,
        context: &Context<'_>,
        id: String,
        as_of: Option<DateTime<Utc>>,
    ) -> async_graphql::Result<Option<ThreatActor>> {
        let state = context.data::<AppState>()?;
        let entry = catalog::find(&state.pool, "group", None, &id, as_of)
            .await
            .map_err(internal)?;
        Ok(entry.map(|entry| ThreatActor { entry, as_of }))
    }

    /// Sigma and Elastic rules; `source` is sigma or elastic.
    #[graphql(complexity = "super::paging::page_complexity(first, child_complexity)")]
    async fn detection_rules(
        &self,
        context: &Context<'_>,
        source: Option<String>,
        filter: Option<CatalogListFilter>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<CatalogConnection<CatalogItem>> {
        let filter = list_filter("detection_rule", source, filter);
        paged(context, filter, first, after, |entry, as_of| CatalogItem {
            entry,
            as_of,
        })
        .await
    }

    /// Procedures to start test cases from; `library` is atomic, caldera, lolbas or gtfobins.
    #[graphql(complexity = "super::paging::page_complexity(first, child_complexity)")]
    async fn templates(
        &self,
        context: &Context<'_>,
        library: Option<String>,
        filter: Option<CatalogListFilter>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<CatalogConnection<CatalogItem>> {
        let filter = list_filter("template", library, filter);
        paged(context, filter, first, after, |entry, as_of| CatalogItem {
            entry,
            as_of,
        })
        .await
    }

    /// Compliance frameworks (from CTID mappings and OSCAL catalogs).
    #[graphql(complexity = "super::paging::page_complexity(first, child_complexity)")]
    async fn compliance_frameworks(
        &self,
        context: &Context<'_>,
        filter: Option<CatalogListFilter>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<CatalogConnection<CatalogItem>> {
        let filter = list_filter("compliance_framework", None, filter);
        paged(context, filter, first, after, |entry, as_of| CatalogItem {
            entry,
            as_of,
        })
        .await
    }

    /// The controls of one framework as CTID maps them to techniques (their OSCAL titles, families and text:
    /// `catalog(kind: "control", scope: framework)`).
    #[graphql(complexity = "super::paging::page_complexity(first, child_complexity)")]
    async fn controls(
        &self,
        context: &Context<'_>,
        framework: String,
        filter: Option<CatalogListFilter>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<CatalogConnection<CatalogItem>> {
        let filter = list_filter("control_mapping", Some(framework), filter);
        paged(context, filter, first, after, |entry, as_of| CatalogItem {
            entry,
            as_of,
        })
        .await
    }

    /// Any other catalog record kind (mitigation, software, defensive_technique, telemetry_config,
    /// detection_strategy, analytic, data_component…), optionally in one scope.
    #[graphql(complexity = "super::paging::page_complexity(first, child_complexity)")]
    async fn catalog(
        &self,
        context: &Context<'_>,
        kind: String,
        scope: Option<String>,
        filter: Option<CatalogListFilter>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<CatalogConnection<CatalogItem>> {
        let filter = list_filter(&kind, scope, filter);
        paged(context, filter, first, after, |entry, as_of| CatalogItem {
            entry,
            as_of,
        })
        .await
    }

    /// Import runs, newest first, optionally of one source.
    #[graphql(complexity = "super::paging::page_complexity(first, child_complexity)")]
    async fn import_runs(
        &self,
        context: &Context<'_>,
        source: Option<String>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<CatalogConnection<ImportRun>> {
        let state = context.data::<AppState>()?;
        query(
            after,
            None,
            first,
            None,
            |after: Option<String>, _: Option<String>, first, _| async move {
                let cursor = after
                    .as_deref()
                    .map(|text| PageCursor::decode(text).ok_or_else(invalid_cursor))
                    .transpose()?;
                let limit = page_size(first);
                let mut rows = catalog::import_runs(
                    &state.pool,
                    source.as_deref(),
                    cursor.as_ref(),
                    fetch_limit(limit),
                )
                .await
                .map_err(internal)?;
                let has_next = rows.len() > limit;
                rows.truncate(limit);
                let mut connection = Connection::new(cursor.is_some(), has_next);
                connection.edges.extend(
                    rows.into_iter()
                        .map(|row| Edge::new(row.cursor().encode(), ImportRun::from(row))),
                );
                Ok::<_, async_graphql::Error>(connection)
            },
        )
        .await
    }

    /// One import run, e.g. the one `startImport` returned, to follow its progress.
    async fn import_run(
        &self,
        context: &Context<'_>,
        id: Uuid,
    ) -> async_graphql::Result<Option<ImportRun>> {
        let state = context.data::<AppState>()?;
        let row = catalog::import_run(&state.pool, id)
            .await
            .map_err(internal)?;
        Ok(row.map(ImportRun::from))
    }
}

fn list_filter(
    kind: &str,
    scope: Option<String>,
    filter: Option<CatalogListFilter>,
) -> CatalogFilter {
    let filter = filter.unwrap_or_default();
    CatalogFilter {
        kind: kind.to_owned(),
        scope,
        technique: filter.technique.map(|id| id.trim().to_uppercase()),
        search: filter.search.filter(|text| !text.trim().is_empty()),
        include_retired: filter.include_retired,
        as_of: filter.as_of,
    }
}

/// One page of `filter`'s records as GraphQL objects made by `wrap`.
async fn paged<T: async_graphql::OutputType>(
    context: &Context<'_>,
    filter: CatalogFilter,
    first: Option<i32>,
    after: Option<String>,
    wrap: impl Fn(CatalogEntry, Option<DateTime<Utc>>) -> T + Send + Sync,
) -> async_graphql::Result<CatalogConnection<T>> {
    let state = context.data::<AppState>()?;
    query(
        after,
        None,
        first,
        None,
        |after: Option<String>, _: Option<String>, first, _| async move {
            let cursor = after
                .as_deref()
                .map(|text| CatalogCursor::decode(text).ok_or_else(invalid_cursor))
                .transpose()?;
            let limit = page_size(first);
            let mut entries =
                catalog::page(&state.pool, &filter, cursor.as_ref(), fetch_limit(limit))
                    .await
                    .map_err(internal)?;
            let has_next = entries.len() > limit;
            entries.truncate(limit);
            let mut connection = Connection::new(cursor.is_some(), has_next);
            connection.edges.extend(
                entries
                    .into_iter()
                    .map(|entry| Edge::new(entry.cursor().encode(), wrap(entry, filter.as_of))),
            );
            Ok::<_, async_graphql::Error>(connection)
        },
    )
    .await
}

/// One more row than the page holds, to know whether there is a next page.
fn fetch_limit(page: usize) -> i64 {
    i64::try_from(page + 1).unwrap_or(i64::MAX)
}

fn invalid_cursor() -> async_graphql::Error {
    ApiError::Validation("the cursor is not valid".to_owned()).extend()
}

/// `techniques` minus the ones the loaded ATT&CK catalog knows; empty while none is loaded.
pub async fn unknown_techniques(
    context: &Context<'_>,
    techniques: &[String],
) -> async_graphql::Result<Vec<String>> {
    let state = context.data::<AppState>()?;
    if techniques.is_empty()
        || !catalog::has_techniques(&state.pool)
            .await
            .map_err(internal)?
    {
        return Ok(Vec::new());
    }
    let known: HashSet<String> = catalog::known_techniques(&state.pool, techniques)
        .await
        .map_err(internal)?;
    Ok(techniques
        .iter()
        .filter(|id| !known.contains(*id))
        .cloned()
        .collect())
}
