//! Reading the files of an import from the paths the user named: a file is read as is, a directory is walked
//! recursively and keeps the files its source accepts. Every file that cannot be read is reported and the others
//! still import.

use std::path::{Path, PathBuf};

use crate::record::{FileFailure, SourceFile};
use crate::source::Source;

/// The files one import will parse, in a stable order, and the ones that could not be read.
#[derive(Debug, Default)]
pub struct Collected {
    pub files: Vec<SourceFile>,
    pub failures: Vec<FileFailure>,
}

/// Every file under `locations` that `source` accepts, named by the path convention of
/// [`SourceFile::path`]: relative to the directory given, prefixed with that directory's name, so that the names
/// in reports and record ids do not depend on where the content sits on this machine.
pub fn paths(source: Source, locations: &[PathBuf]) -> (Vec<(PathBuf, PathBuf)>, Vec<FileFailure>) {
    let mut found = Vec::new();
    let mut failures = Vec::new();
    for location in locations {
        match std::fs::metadata(location) {
            Ok(metadata) if metadata.is_dir() => {
                let root_name = location
                    .canonicalize()
                    .ok()
                    .and_then(|canonical| canonical.file_name().map(PathBuf::from))
                    .unwrap_or_default();
                walk(source, location, &root_name, &mut found, &mut failures);
            }
            // A file named on its own is imported even when a directory walk would skip it: the user chose it.
            Ok(_) => found.push((
                location.clone(),
                location.file_name().map(PathBuf::from).unwrap_or_default(),
            )),
            Err(error) => failures.push(FileFailure::new(location, error)),
        }
    }
    found.sort_by(|left, right| left.1.cmp(&right.1));
    found.dedup_by(|left, right| left.0 == right.0);
    (found, failures)
}

fn walk(
    source: Source,
    directory: &Path,
    named: &Path,
    found: &mut Vec<(PathBuf, PathBuf)>,
    failures: &mut Vec<FileFailure>,
) {
    let entries = match std::fs::read_dir(directory) {
        Ok(entries) => entries,
        Err(error) => return failures.push(FileFailure::new(directory, error)),
    };
    for entry in entries {
        let entry = match entry {
            Ok(entry) => entry,
            Err(error) => {
                failures.push(FileFailure::new(directory, error));
                continue;
            }
        };
        let path = entry.path();
        let name = named.join(entry.file_name());
        match entry.file_type() {
            Ok(kind) if kind.is_dir() => walk(source, &path, &name, found, failures),
            // The walked path too: a user who points into `yml/OSBinaries` of a LOLBAS checkout means LOLBAS
            // files, though the name the walk gives (`OSBinaries/…`) no longer shows the `yml` folder.
            Ok(_) if source.accepts(&name) || source.accepts(&path) => found.push((path, name)),
            Ok(_) => {}
            Err(error) => failures.push(FileFailure::new(&path, error)),
        }
    }
}

/// Reads one file found by [`paths`].
pub fn read(path: &Path, name: &Path) -> Result<SourceFile, FileFailure> {
    std::fs::read(path)
        .map(|bytes| SourceFile {
            path: name.to_owned(),
            bytes,
        })
        .map_err(|error| FileFailure::new(name, error))
}
