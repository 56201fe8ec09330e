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

/// `parse` applied to every file, on every core, the results in the files' order: for sources whose files
/// stand alone (a Sigma rule per file), so that an import of thousands of files is not bound to one core.
fn each_file<T: Send>(
    files: &[crate::record::SourceFile],
    parse: impl Fn(&crate::record::SourceFile) -> T + Sync,
) -> Vec<T> {
    // Below this many files per thread, starting threads costs more than it saves (a fuzzer's single file).
    const FILES_PER_THREAD: usize = 32;
    let threads = std::thread::available_parallelism()
        .map_or(1, std::num::NonZeroUsize::get)
        .min(files.len() / FILES_PER_THREAD);
    if threads <= 1 {
        return files.iter().map(parse).collect();
    }
    let chunk = files.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let parse = &parse;
        let workers: Vec<_> = files
            .chunks(chunk)
            .map(|part| scope.spawn(move || part.iter().map(parse).collect::<Vec<T>>()))
            .collect();
        workers
            .into_iter()
            .flat_map(|worker| {
                worker
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    })
}
