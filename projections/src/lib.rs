//! Aegis' read side: the catch-up projector over the global event order, and every read model.
//!
//! # Layout
//! - [`projector`]: [`projector::Projector`] feeds [`projector::Projection`]s in commit order, with each
//!   projection's checkpoint stored in the same transaction as its read-model update; rebuild and lag.
//! - [`leader`]: among several Aegis processes, only the holder of a Postgres advisory lock runs projectors.
//! - [`audit_log`], [`event_totals`], [`users`]: the read models, each a table plus the functions that read it.
//!
//! # Invariants
//! - Events are read in `(tx_id, global_seq)` order and only below `pg_snapshot_xmin(pg_current_snapshot())`:
//!   an event committed late by a slow transaction is never skipped (a plain `global_seq > last` would).
//! - A read model is a pure function of the event log: rebuilding from zero gives the same rows.
//! - Errors are never swallowed: a failing batch is rolled back, logged and retried.
//! - No dependency on `commands`, `importers` or `api`; no HTTP or GraphQL types.

pub mod audit_log;
pub mod event_totals;
pub mod leader;
pub mod projector;
pub mod users;

use std::sync::Arc;

/// Every read model Aegis maintains, in the order they are applied.
pub fn all() -> Vec<Arc<dyn projector::Projection>> {
    vec![
        Arc::new(audit_log::AuditLog),
        Arc::new(event_totals::EventTotals),
        Arc::new(users::Users),
    ]
}
