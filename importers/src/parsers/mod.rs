//! One module per upstream source, each with the same two functions:
//!
//! - `accepts(path)`: whether a file found by walking a directory belongs to the source (an atomics folder
//!   also holds Markdown; a Sigma checkout holds test data);
//! - `parse(files) -> Parsed`: every file of one import at once, because some sources only make sense whole
//!   (an ATT&CK directory of one-object bundles keeps relationships in their own files; GTFOBins keeps ATT&CK ids
//!   in `_data/functions.yml`). A file that cannot be used becomes a [`crate::record::FileFailure`] and the
//!   others still produce records.
//!
//! Parsers are pure: bytes in, records out, no IO and no clock, so each one is fuzzed.

pub mod atomic;
pub mod attack;
pub mod caldera;
pub mod ctid;
pub mod d3fend;
pub mod elastic;
pub mod gtfobins;
pub mod lolbas;
pub mod oscal;
pub mod sigma;
pub mod sysmon;

// Shared by the four template parsers (atomic, caldera, lolbas, gtfobins).
mod template_support;
