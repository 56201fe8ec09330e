//! Aegis' write side: every change to Aegis enters through here and leaves as events in Postgres.
//!
//! # Layout
//! - [`service`]: [`service::CommandService`], `execute(context, aggregate_id, command)` for any aggregate:
//!   loads it, lets the domain decide, appends the events with their metadata, honours idempotency keys and
//!   reports a concurrent modification as a conflict.
//! - [`event_log`]: the append path over postgres-es' tables: [`event_log::ChainedEventRepository`] reads
//!   through postgres-es and appends with the hash chain and the idempotency record in one transaction.
//! - [`hash_chain`]: the canonical encoding of an event, its chained hash, and `verify` for `aegis audit verify`.
//! - [`accounts`]: the account records behind signing in (secrets, tokens), kept in step with `User` events.
//! - [`context`]: who asks and why ([`context::CommandContext`]), turned into event metadata; the clock.
//! - [`password`]: the password policy and the bounded Argon2id [`password::PasswordHasher`] behind login.
//! - [`totp`]: the second factor: RFC 6238 codes, enrolment URIs and single-use recovery codes.
//! - [`portable`]: portable history: whole streams exported as a signed file, verified and replayed by another
//!   instance.
//! - [`replay`]: an aggregate's states for auditors (`aegis audit replay`): its events loaded through the event
//!   store and applied one by one with the domain's `apply`, up to a moment.
//! - [`evidence`]: evidence files: the [`evidence::store::EvidenceStore`] trait with its S3 and local-disk
//!   backends, and [`evidence::EvidenceService`] (request an upload, confirm it, download, verify custody).
//! - [`throttle`]: [`throttle::LoginThrottle`], failed logins counted per account and per address in Postgres.
//!
//! # Invariants
//! - The clock is read here, never in `domain`; the actor comes from the caller's verified identity.
//! - Events are only ever inserted. The database role the application uses cannot update or delete them.
//! - No HTTP or GraphQL types, and no dependency on `projections`, `importers` or `api`.

pub mod accounts;
pub mod context;
pub mod event_log;
pub mod evidence;
pub mod hash_chain;
pub mod password;
pub mod portable;
pub mod replay;
pub mod service;
pub mod throttle;
pub mod totp;
