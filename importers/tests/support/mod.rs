//! Finds the shared upstream corpus and reads a source's files the way an import's directory walk would.

use std::path::{Path, PathBuf};

use importers::record::SourceFile;

/// The corpus folder: `$AEGIS_CORPUS`, or `shared/corpus` beside the repository.
pub fn corpus_dir() -> PathBuf {
    std::env::var("AEGIS_CORPUS").map_or_else(
        |_| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus"),
        PathBuf::from,
    )
}

/// Every file under `corpus_dir()/folder` that `accepts` takes, with the path an import of that folder gives it
/// (`folder/relative/path`), sorted by path.
pub fn source_files(folder: &str, accepts: fn(&Path) -> bool) -> Vec<SourceFile> {
    let root = corpus_dir().join(folder);
    let mut files = Vec::new();
    let mut pending = vec![root.clone()];
    while let Some(directory) = pending.pop() {
        let entries = std::fs::read_dir(&directory)
            .unwrap_or_else(|error| panic!("cannot read {}: {error}", directory.display()));
        for entry in entries {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                pending.push(path);
                continue;
            }
            let relative = path.strip_prefix(&root).expect("path under the root");
            let walked = Path::new(folder).join(relative);
            if accepts(&walked) {
                let bytes = std::fs::read(&path)
                    .unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()));
                files.push(SourceFile {
                    path: walked,
                    bytes,
                });
            }
        }
    }
    files.sort_by(|left, right| left.path.cmp(&right.path));
    files
}
