//! Aegis' composition root: configuration, telemetry, the HTTP and GraphQL surface, the CLI, and the wiring
//! of `commands`, `projections` and `importers` into one `aegis` binary.
//!
//! # Layout
//! - [`cli`]: the `aegis` commands; [`serve`]: the server and projectors under one shutdown signal.
//! - [`config`]: flags over `DATABASE_URL`/`AEGIS_*` over an optional TOML file over defaults.
//! - [`database`]: finding the database ([`local_postgres`] when nothing is configured), migrating it as the
//!   owner, connecting as the restricted application role.
//! - [`read_replica`]: GraphQL queries on an optional streaming replica, each client reading its own writes.
//! - [`http`]: `app(state) -> Router` (GraphQL, `/health`, `/ready`, `/metrics`); [`graphql`]: the schema.
//! - [`web_app`]: the built web dashboard at `/` (hashed assets cached for good, SPA fallback).
//! - [`evidence_http`]: the local-disk evidence store's signed upload and download URLs (streamed).
//! - [`edge`]: `harden(router, config)`: security headers, CORS for configured origins, the CSRF guard.
//! - [`import`]: `aegis import` (progress on a terminal, `--json` summary).
//! - [`export`], [`layers`], [`stix`], [`portable`]: `aegis export`: test cases and campaigns as CSV and JSON,
//!   heatmap views as Navigator layers and STIX bundles, a campaign's signed history (and its import).
//! - [`scheduler`]: the scheduled jobs (once per due time across processes); [`recurring`]: recurring
//!   campaigns' instances; [`intel_scan`]: the intel scan's findings and the ATT&CK release item.
//! - [`chaos`]: `aegis chaos`: the server and PostgreSQL crashed under load, and what was lost.
//! - [`scale_out`]: several servers behind a private nginx, and a streaming standby (tests, benchmark).
//! - [`telemetry`]: structured logs, OpenTelemetry traces, Prometheus metrics. [`bench`]: `aegis bench`.
//!
//! # Invariants
//! - The only crate that sees every other; handlers and resolvers stay thin (extract, authorise, call
//!   `commands` or `projections`, map the error). No SQL here except readiness, benchmarks and the scheduler's own `job_runs` table.
//! - Errors reach clients as a message and a stable `extensions.code`; causes go to the log.

pub mod auth;
pub mod bench;
pub mod chaos;
pub mod cli;
pub mod config;
pub mod database;
pub mod demo;
pub mod edge;
pub mod evidence_http;
pub mod execution_import;
pub mod export;
pub mod graphql;
pub mod http;
pub mod import;
pub mod intel_scan;
pub mod layer_import;
pub mod layers;
pub mod local_postgres;
pub mod portable;
pub mod read_replica;
pub mod recurring;
pub mod report;
pub mod scale_out;
pub mod scheduler;
pub mod serve;
pub mod state;
pub mod stix;
pub mod telemetry;
pub mod vectr_import;
pub mod web_app;
