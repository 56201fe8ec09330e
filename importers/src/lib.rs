//! Aegis' importers: pure parsers from upstream bytes (ATT&CK STIX, D3FEND, Atomic Red Team, CALDERA, LOLBAS,
//! GTFOBins, Sigma, Elastic, CTID, Sysmon, OSCAL, Navigator, VECTR, ATTiRe) to domain records, the fetchers
//! (files, URLs, TAXII 2.1) and the catalog writer. The parsers arrive with the importers issue.
//!
//! # Invariants
//! - Parsers are pure functions of their input: no IO, so they can be fuzzed.
//! - A malformed file is reported with its name and reason; the rest of an import goes on.
//! - No dependency on `commands`, `projections` or `api`.
