//! One import from start to finish: collect the files (paths walked, URLs fetched, TAXII collections paged
//! through), parse them off the async runtime, write the catalog. The caller begins the run ([`crate::catalog::begin_run`]) so that the API can
//! hand out its id before the work starts.

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

use crate::catalog::{self, CatalogError, ImportSummary};
use crate::fetch;
use crate::files;
use crate::record::{FileFailure, Parsed, SourceFile};
use crate::source::Source;
use crate::taxii;

/// Where an import reads from, as the user wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    Path(PathBuf),
    Url(String),
    /// A TAXII 2.1 collection, every page of it one file. With `added_after` the records are incomplete (the
    /// parser drops relationships to objects that are not on the fetched pages): catalog imports fetch whole
    /// collections, and [`Location::parse`] never makes this variant.
    Taxii(taxii::Config),
}

impl Location {
    pub fn parse(input: &str) -> Self {
        let lowered = input.to_ascii_lowercase();
        if lowered.starts_with("https://") || lowered.starts_with("http://") {
            Self::Url(input.to_owned())
        } else {
            Self::Path(PathBuf::from(input))
        }
    }

    pub fn as_text(&self) -> String {
        match self {
            Self::Path(path) => path.display().to_string(),
            Self::Url(url) => url.clone(),
            Self::Taxii(config) => config.describe(),
        }
    }
}

/// How far an import has got, for a progress bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    Reading {
        done: usize,
        total: usize,
    },
    /// A TAXII collection was fetched; `newest_added` is the server's latest `X-TAXII-Date-Added-Last`.
    Fetched {
        pages: usize,
        objects: usize,
        newest_added: Option<DateTime<Utc>>,
    },
    Parsing {
        files: usize,
    },
    Writing {
        records: usize,
    },
}

/// Runs the import `run_id` (already begun) of `locations` and finishes its run row. Files that cannot be
/// read, fetched or parsed are in the summary's errors; the rest is imported. A location that yields no file of
/// this source is itself an error: an import of nothing is a mistake worth saying so.
pub async fn run(
    pool: &PgPool,
    run_id: Uuid,
    source: Source,
    locations: &[Location],
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<ImportSummary, CatalogError> {
    let (files, unread) = collect(source, locations, progress).await;
    progress(Progress::Parsing { files: files.len() });
    let (files, parsed) = tokio::task::spawn_blocking(move || {
        let parsed = source.parse(&files);
        (files, parsed)
    })
    .await
    .unwrap_or_else(|panic| std::panic::resume_unwind(panic.into_panic()));
    progress(Progress::Writing {
        records: parsed.records.len(),
    });
    catalog::complete_run(pool, run_id, source, &files, parsed, unread).await
}

/// Parses without writing: what `aegis bench import` times, and what a dry run would show.
pub async fn parse_only(
    source: Source,
    locations: &[Location],
) -> (Vec<SourceFile>, Parsed, Vec<FileFailure>) {
    let (files, unread) = collect(source, locations, &|_| {}).await;
    let parsed = source.parse(&files);
    (files, parsed, unread)
}

async fn collect(
    source: Source,
    locations: &[Location],
    progress: &(dyn Fn(Progress) + Sync),
) -> (Vec<SourceFile>, Vec<FileFailure>) {
    let mut read = Vec::new();
    let mut failures = Vec::new();
    for location in locations {
        let before = read.len() + failures.len();
        match location {
            Location::Path(path) => {
                let (found, unreadable) = files::paths(source, std::slice::from_ref(path));
                failures.extend(unreadable);
                let total = found.len();
                for (done, (path, name)) in found.iter().enumerate() {
                    match files::read(path, name) {
                        Ok(file) => read.push(file),
                        Err(failure) => failures.push(failure),
                    }
                    progress(Progress::Reading {
                        done: done + 1,
                        total,
                    });
                }
            }
            Location::Url(url) => match fetch::download(url).await {
                Ok(file) => read.push(file),
                Err(error) => failures.push(FileFailure {
                    file: url.clone(),
                    error: error.to_string(),
                }),
            },
            Location::Taxii(config) => {
                let on_page = |pages| {
                    progress(Progress::Reading {
                        done: pages,
                        total: pages,
                    });
                };
                match taxii::fetch(config, &on_page).await {
                    Ok(fetched) => {
                        progress(Progress::Fetched {
                            pages: fetched.pages.len(),
                            objects: fetched.objects,
                            newest_added: fetched.newest_added,
                        });
                        if fetched.pages.is_empty() {
                            failures.push(FileFailure {
                                file: location.as_text(),
                                error: format!(
                                    "collection {} has no objects{}",
                                    fetched.located.collection.id,
                                    if config.added_after.is_some() {
                                        " added after that time"
                                    } else {
                                        ""
                                    }
                                ),
                            });
                        }
                        read.extend(fetched.pages);
                    }
                    Err(error) => failures.push(FileFailure {
                        file: location.as_text(),
                        error: error.to_string(),
                    }),
                }
            }
        }
        if read.len() + failures.len() == before {
            failures.push(FileFailure {
                file: location.as_text(),
                error: format!("no {source} files found here"),
            });
        }
    }
    (read, failures)
}
