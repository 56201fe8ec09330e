//! Placeholder: the sigma parser is being written.

use std::path::Path;

use crate::record::{Parsed, SourceFile};

/// Whether a file found by a directory walk belongs to this source.
pub fn accepts(_path: &Path) -> bool {
    false
}

/// Parses every file of one import; a file that cannot be used is reported in [`Parsed::failures`].
pub fn parse(_files: &[SourceFile]) -> Parsed {
    Parsed::default()
}
