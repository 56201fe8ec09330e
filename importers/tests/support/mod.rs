//! Shared by the corpus tests: where the upstream corpus is and how a directory walk names its files.

use std::path::{Path, PathBuf};

use importers::record::SourceFile;

/// The corpus folder: `$AEGIS_CORPUS`, or `shared/corpus` beside the repository.
pub fn corpus_dir() -> PathBuf {
    std::env::var("AEGIS_CORPUS").map_or_else(
        |_| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus"),
        PathBuf::from,
    )
}

/// Every file under `corpus_dir()/folder` that `accepts` takes, named the way an import of that folder names
/// it (`folder/relative/path`), sorted by path.
pub fn source_files(folder: &str, accepts: fn(&Path) -> bool) -> Vec<SourceFile> {
    let root = corpus_dir().join(folder);
    let mut pending = vec![root.clone()];
    let mut files = Vec::new();
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
            // The walk names files after the folder's own name, not the whole path to it.
            let folder_name = Path::new(folder).file_name().unwrap_or_default();
            let named = Path::new(folder_name).join(relative);
            if accepts(&named) {
                let bytes = std::fs::read(&path)
                    .unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()));
                files.push(SourceFile { path: named, bytes });
            }
        }
    }
    files.sort_by(|left, right| left.path.cmp(&right.path));
    files
}
