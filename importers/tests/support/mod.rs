//! Shared by the corpus tests: where the corpus is, and the files of one corpus folder as an import of that
//! folder would see them.

use std::path::{Path, PathBuf};

use importers::record::SourceFile;

/// The corpus directory: `AEGIS_CORPUS`, or `shared/corpus` beside the repository.
pub fn corpus_dir() -> PathBuf {
    std::env::var("AEGIS_CORPUS").map_or_else(
        |_| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus"),
        PathBuf::from,
    )
}

/// Walks `corpus_dir()/folder` recursively and returns the files `accepts` takes, with the path convention of
/// a directory import (relative to the folder, prefixed with the folder's own name), sorted by path.
pub fn source_files(folder: &str, accepts: fn(&Path) -> bool) -> Vec<SourceFile> {
    let root = corpus_dir().join(folder);
    let prefix = PathBuf::from(root.file_name().expect("the corpus folder has a name"));
    let mut pending = vec![root.clone()];
    let mut files = Vec::new();
    while let Some(directory) = pending.pop() {
        let entries = std::fs::read_dir(&directory)
            .unwrap_or_else(|error| panic!("cannot read {}: {error}", directory.display()));
        for entry in entries {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                pending.push(path);
                continue;
            }
            let relative = prefix.join(path.strip_prefix(&root).expect("inside the root"));
            if accepts(&relative) {
                let bytes = std::fs::read(&path)
                    .unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()));
                files.push(SourceFile {
                    path: relative,
                    bytes,
                });
            }
        }
    }
    files.sort_by(|left, right| left.path.cmp(&right.path));
    files
}
