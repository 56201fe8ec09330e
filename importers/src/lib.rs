//! Aegis' importers: pure parsers from upstream bytes (ATT&CK STIX, D3FEND, Atomic Red Team, CALDERA, LOLBAS,
//! GTFOBins, Sigma, Elastic, CTID, Sysmon, OSCAL) to catalog records, the fetchers (files, URLs, TAXII 2.1) and
//! the catalog writer.
//!
//! # Layout
//! - [`record`]: the one shape every parser produces ([`record::CatalogRecord`]).
//! - [`parsers`]: one module per source, `accepts(path)` and `parse(files)`.
//!
//! # Invariants
//! - Parsers are pure functions of their input: no IO, so they can be fuzzed.
//! - A malformed file is reported with its name and reason; the rest of an import goes on.
//! - No dependency on `commands`, `projections` or `api`.

pub mod parsers;
pub mod record;
