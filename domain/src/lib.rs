//! Aegis' pure core: the aggregates, their commands and versioned events, value types and rules.
//!
//! # Layout
//! - [`access`]: who may do what: every operation, its audience, and `authorize`.
//! - [`actor`]: who performs a command (user id and roles), carried inside commands.
//! - [`campaign`]: the `Campaign` aggregate: scope, schedule, membership, recurrence.
//! - [`coverage`]: the heatmap's cells computed from a technique's facts, a policy and a moment; roll-up of
//!   sub-techniques, staleness, change between two moments.
//! - [`coverage_snapshot`]: the `CoverageSnapshots` aggregate: weekly and on-demand snapshots of coverage.
//! - [`detection_rule`]: the `DetectionRule` aggregate: which Sigma/Elastic rules we run (they count in scores).
//! - [`intel`]: the `IntelItem` aggregate: a finding of the intel scan or ATT&CK sync, and its acknowledgement.
//! - [`job_failure`]: the `JobFailure` aggregate: a scheduled job's failed run, told to the admins.
//! - [`saved_layer`]: the `SavedLayer` aggregate: a Navigator layer brought in as a scoped view.
//! - [`role`]: the six roles of Aegis.
//! - [`scoring`]: the `ScoringPolicy` aggregate and the pure technique score.
//! - [`security_policy`]: organisation-wide security settings (roles that require two-factor login).
//! - [`test_case`](mod@test_case): the `TestCase` aggregate: the red/blue workflow of one procedure against one technique.
//! - `text` (crate-private): what the string value types share: the `string_newtype!` macro and the label,
//!   prose and technique-id checks used by more than one type.
//! - [`user`]: the `User` aggregate: profile, roles, activation, and the account's security lifecycle
//!   (sign-ins, passwords, two-factor login, API tokens, refused operations).
//!
//! # Invariants
//! - No IO: no database, HTTP, GraphQL, S3 or auth crates, no clock (`Utc::now()`) and no randomness.
//!   Time, ids and the actor arrive inside commands; the layering check in CI proves the dependency tree.
//! - Decisions are pure: `decide(&self, command) -> Result<Vec<Event>, Error>`; `apply` only assigns.
//! - A persisted event's shape never changes: new fields get serde defaults, incompatible changes get a new
//!   event version and an upcaster.

pub mod access;
pub mod actor;
pub mod campaign;
pub mod coverage;
pub mod coverage_snapshot;
pub mod detection_rule;
pub mod intel;
pub mod job_failure;
pub mod role;
pub mod saved_layer;
pub mod scoring;
pub mod security_policy;
pub mod test_case;
mod text;
pub mod user;
