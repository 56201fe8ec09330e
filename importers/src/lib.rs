//! Aegis' importers: pure parsers from upstream bytes (ATT&CK STIX, D3FEND, Atomic Red Team, CALDERA, LOLBAS,
//! GTFOBins, Sigma, Elastic, CTID, Sysmon, OSCAL) to catalog records, the fetchers (files, URLs, TAXII 2.1) and
//! the catalog writer.
//!
//! # Layout
//! - [`record`]: the one shape every parser produces ([`record::CatalogRecord`]).
//! - [`parsers`]: one module per source, `accepts(path)` and `parse(files)`; [`source::Source`] names them.
//! - [`files`] and [`fetch`]: reading the files of an import from paths and URLs.
//! - [`taxii`]: a TAXII 2.1 client; each page of a collection becomes one file for the ATT&CK parser.
//! - [`catalog`]: the writer of the versioned catalog tables and the import runs (migration 0007).
//! - [`import`]: one import from start to finish.
//!
//! # Invariants
//! - Parsers are pure functions of their input: no IO, so they can be fuzzed.
//! - Only the catalog tables (`import_runs`, `catalog_records`) are written here; never the event store.
//! - A malformed file is reported with its name and reason; the rest of an import goes on.
//! - No dependency on `commands`, `projections` or `api`.

pub mod catalog;
pub mod fetch;
pub mod files;
pub mod import;
pub mod interop;
pub mod parsers;
pub mod record;
pub mod source;
pub mod taxii;
