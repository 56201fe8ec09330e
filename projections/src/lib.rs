//! Aegis' read side: the catch-up projector over the global event order, and every read model.
//!
//! # Layout
//! - [`projector`]: [`projector::Projector`] feeds [`projector::Projection`]s in commit order, with each
//!   projection's checkpoint stored in the same transaction as its read-model update; rebuild and lag.
//! - [`leader`]: among several Aegis processes, only the holder of a Postgres advisory lock runs projectors.
//! - [`audit_log`], [`event_totals`], [`users`]: the read models, each a table plus the functions that read it;
//!   the audit log's one-line summary of every event is [`audit_log::summary::summarize`].
//! - [`test_cases`]: the red/blue workflow per test case (state, plan, derived outcome and time to detect) with
//!   its runs, outcomes, executions, comments and evidence; `TestCaseRow::redacted_for_blue` for blind tests.
//! - [`campaigns`]: campaigns, their membership, template spawns, and progress computed from `test_cases`.
//! - [`detection_rules`]: which catalog detection rules are deployed, from the `DetectionRule` events.
//! - [`coverage`]: approved results per procedure and technique (history, current, snapshots), rule
//!   deployment and policy activation periods; [`heatmap`]: the heatmap of a domain at a moment, from those
//!   and the catalogs, scored with `domain::coverage`.
//! - [`paging`]: [`paging::PageCursor`], the keyset cursor of every paged list, and its opaque text form.
//! - [`history`]: one aggregate's events, read straight from the log for auditors.
//! - [`catalog`]: the reference catalogs the importers write (ATT&CK, templates, rules…), by kind, by
//!   technique and as of a moment, and the import runs. Written by `importers`, not by events.
//! - [`scoring_policies`]: scoring policies (the active one, every one) and every version of their settings.
//! - [`notifications`]: what each user is told (assigned, review requested, rejected, approved, campaign due,
//!   intel, job failed), from the events; the read marks beside it are the users' own state.
//! - [`intel`]: the intel items the scheduler raised, and who acknowledged them.
//! - [`saved_layers`]: Navigator layers kept as scoped views.
//!
//! # Invariants
//! - Events are read in `(tx_id, global_seq)` order and only below `pg_snapshot_xmin(pg_current_snapshot())`:
//!   an event committed late by a slow transaction is never skipped (a plain `global_seq > last` would).
//! - A read model is a pure function of the event log: rebuilding from zero gives the same rows.
//! - Errors are never swallowed: a failing batch is rolled back, logged and retried.
//! - No dependency on `commands`, `importers` or `api`; no HTTP or GraphQL types.

pub mod audit_log;
pub mod campaigns;
pub mod catalog;
mod copy;
pub mod coverage;
pub mod detection_rules;
pub mod event_totals;
pub mod heatmap;
pub mod history;
pub mod intel;
pub mod leader;
pub mod notifications;
pub mod paging;
pub mod projector;
mod rows;
pub mod saved_layers;
pub mod scoring_policies;
pub mod test_cases;
pub mod users;

use std::sync::Arc;

/// Every read model Aegis maintains, in the order they are applied.
pub fn all() -> Vec<Arc<dyn projector::Projection>> {
    vec![
        Arc::new(audit_log::AuditLog),
        Arc::new(event_totals::EventTotals),
        Arc::new(users::Users),
        Arc::new(test_cases::TestCases),
        Arc::new(campaigns::Campaigns),
        Arc::new(scoring_policies::ScoringPolicies),
        Arc::new(detection_rules::DetectionRules),
        Arc::new(coverage::Coverage),
        Arc::new(notifications::Notifications),
        Arc::new(intel::Intel),
        Arc::new(saved_layers::SavedLayers),
    ]
}
