//! `aegis import <source> <path-or-url>… [--json]`: the catalog importers from the command line, with a
//! progress bar on a terminal, plain lines otherwise, and one JSON object on stdout with `--json`.
//! `aegis import stream FILE… [--trust-key HEX]` replays portable history instead (`crate::portable`).
//! `aegis import taxii <discovery-url> <collection-id-or-title> [--added-after <RFC3339>]` reads a TAXII 2.1
//! collection instead.

use std::io::IsTerminal;
use std::process::ExitCode;

use anyhow::bail;
use chrono::{DateTime, Utc};
use clap::Args;
use importers::catalog::{self, ImportSummary};
use importers::import::{self, Location, Progress};
use importers::source::Source;
use importers::taxii;
use indicatif::{ProgressBar, ProgressStyle};

use crate::state::AppState;

#[derive(Debug, Clone, Args)]
pub struct ImportArgs {
    /// attack, taxii, d3fend, atomic, caldera, lolbas, gtfobins, sigma, elastic, sysmon, ctid or oscal (the
    /// catalogs); navigator (ATT&CK Navigator layers, see --as); or stream (a campaign's history exported by
    /// `aegis export stream`).
    #[arg(value_parser = parse_kind)]
    pub kind: ImportKind,
    /// Files, directories (walked recursively) or HTTPS URLs; for taxii, the server's discovery URL
    /// (`https://host/taxii2/`, optionally with `user:password@`) and a collection's id or title.
    #[arg(required = true)]
    pub locations: Vec<String>,
    /// taxii only: fetch just the objects added after this time (RFC 3339). The records are then incomplete:
    /// relationships to objects that were not fetched are dropped, so catalog imports should fetch the whole
    /// collection (the default).
    #[arg(long, value_parser = parse_time)]
    pub added_after: Option<DateTime<Utc>>,
    /// taxii only: the user for HTTP basic authentication (better in the environment than on the command line).
    #[arg(long, env = "AEGIS_TAXII_USER")]
    pub taxii_user: Option<String>,
    /// taxii only: the password for HTTP basic authentication.
    #[arg(long, env = "AEGIS_TAXII_PASSWORD", hide_env_values = true)]
    pub taxii_password: Option<String>,
    /// navigator only: keep each layer as a saved view, or plan a test case per technique it names.
    #[arg(long = "as", value_enum, default_value = "view")]
    pub use_as: crate::layer_import::LayerUse,
    /// stream only: the public key (hex) the files must be signed with; without it any valid signature is
    /// accepted and the signing key is printed.
    #[arg(long)]
    pub trust_key: Option<String>,
    /// Print one JSON object (the run's counts and every failed file) on stdout instead of a report.
    #[arg(long)]
    pub json: bool,
}

/// What `aegis import` reads: reference content into the catalog, or data other tools wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportKind {
    Catalog(Source),
    Interop(Interop),
}

/// Data other tools (or other Aegis instances) wrote, imported file by file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interop {
    /// ATT&CK Navigator layers.
    Navigator,
    /// A VECTR CSV export: campaigns and test cases with their history.
    VectrCsv,
    /// Execution logs: ATTiRe JSON or Invoke-AtomicRedTeam CSV.
    Executions(crate::execution_import::LogFormat),
    /// Portable history (`aegis export stream`).
    Stream,
}

fn parse_kind(name: &str) -> Result<ImportKind, String> {
    let interop = match name {
        "navigator" => Interop::Navigator,
        "vectr-csv" => Interop::VectrCsv,
        "attire" => Interop::Executions(crate::execution_import::LogFormat::Attire),
        "art-log" => Interop::Executions(crate::execution_import::LogFormat::AtomicCsv),
        "stream" => Interop::Stream,
        _ => {
            return name.parse().map(ImportKind::Catalog).map_err(
                |error: importers::source::UnknownSource| {
                    format!("{error}, or navigator, vectr-csv, attire, art-log, stream")
                },
            );
        }
    };
    Ok(ImportKind::Interop(interop))
}

fn parse_time(text: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(text)
        .map(|time| time.with_timezone(&Utc))
        .map_err(|error| format!("{error}; expected an RFC 3339 time such as 2025-10-28T00:00:00Z"))
}

const TAXII_USAGE: &str =
    "usage: aegis import taxii <discovery-url> <collection-id-or-title> [--added-after <RFC3339>]";

/// The locations as the importers take them: one TAXII location made of the two arguments for `taxii`, each
/// argument a path or URL otherwise.
fn locations(source: Source, args: &ImportArgs) -> anyhow::Result<Vec<Location>> {
    if source != Source::Taxii {
        if args.added_after.is_some() {
            bail!("--added-after is for `aegis import taxii` only");
        }
        return Ok(args
            .locations
            .iter()
            .map(|text| Location::parse(text))
            .collect());
    }
    let [server, collection] = args.locations.as_slice() else {
        bail!(
            "{TAXII_USAGE}\n(got {} locations, expected the discovery URL and the collection)",
            args.locations.len()
        );
    };
    let mut config = taxii::Config::new(server, collection)?;
    config.added_after = args.added_after;
    if let Some(username) = &args.taxii_user {
        config.credentials = Some(taxii::Credentials {
            username: username.clone(),
            password: args.taxii_password.clone().unwrap_or_default(),
        });
    }
    Ok(vec![Location::Taxii(config)])
}

pub async fn run(state: &AppState, args: ImportArgs) -> anyhow::Result<ExitCode> {
    let pool = &state.pool;
    let source = match args.kind {
        ImportKind::Catalog(source) => source,
        ImportKind::Interop(interop) => return Ok(import_interop(state, &args, interop).await),
    };
    let locations = locations(source, &args)?;
    // The run row keeps the locations as text: a TAXII URL's password is not written there.
    let names: Vec<String> = locations.iter().map(Location::as_text).collect();
    let run_id = catalog::begin_run(pool, source, &names, None).await?;
    let bar = (!args.json && std::io::stderr().is_terminal()).then(ProgressBar::new_spinner);
    let report = |progress: Progress| match &bar {
        Some(bar) => show(bar, progress),
        None if !args.json => print_stage(progress),
        None => {}
    };
    let summary = import::run(pool, run_id, source, &locations, &report).await;
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    let summary = match summary {
        Ok(summary) => summary,
        Err(error) => {
            // The run row must not stay `running` when the write itself failed.
            catalog::fail_run(pool, run_id, &error.to_string())
                .await
                .ok();
            return Err(error.into());
        }
    };
    if args.json {
        println!("{}", serde_json::to_string(&summary)?);
    } else {
        print_report(&summary);
    }
    Ok(if summary.succeeded() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// `aegis import navigator|vectr-csv|attire|art-log|stream FILE…`, as the command line's admin.
async fn import_interop(state: &AppState, args: &ImportArgs, kind: Interop) -> ExitCode {
    let (actor, context) = crate::scheduler::system_actor("cli");
    let (actor, context) = (&actor, &context);
    match kind {
        Interop::Navigator => {
            each_file(args, async |name: &str, bytes: Vec<u8>| {
                crate::layer_import::import(state, actor, context, name, &bytes, args.use_as).await
            })
            .await
        }
        Interop::VectrCsv => {
            each_file(args, async |_: &str, bytes: Vec<u8>| {
                crate::vectr_import::import(state, actor, context, &bytes, chrono::Utc::now()).await
            })
            .await
        }
        Interop::Executions(format) => {
            each_file(args, async |_: &str, bytes: Vec<u8>| {
                crate::execution_import::import(state, actor, context, format, &bytes).await
            })
            .await
        }
        Interop::Stream => {
            each_file(args, async |_: &str, bytes: Vec<u8>| {
                crate::portable::import_bytes(&state.pool, &bytes, args.trust_key.as_deref()).await
            })
            .await
        }
    }
}

/// What the import of one file reports.
trait FileOutcome: serde::Serialize {
    /// The lines for people: the first about the whole file, then one per detail.
    fn lines(&self, file: &str) -> Vec<String>;
    /// Whether nothing was left out.
    fn whole(&self) -> bool;
}

impl FileOutcome for crate::vectr_import::VectrImport {
    fn lines(&self, file: &str) -> Vec<String> {
        let mut lines = vec![format!(
            "{file}: {} campaigns, {} test cases imported, {} already here, {} rows left out",
            self.campaigns,
            self.test_cases,
            self.already_imported,
            self.skipped.len()
        )];
        lines.extend(self.skipped.iter().map(|line| format!("  {line}")));
        lines
    }

    fn whole(&self) -> bool {
        self.skipped.is_empty()
    }
}

impl FileOutcome for crate::execution_import::ExecutionsImported {
    fn lines(&self, file: &str) -> Vec<String> {
        let mut lines = vec![format!(
            "{file}: {} executions recorded on open test cases, {} new test cases, {} already recorded, {} left out",
            self.recorded,
            self.planned,
            self.already_recorded,
            self.skipped.len()
        )];
        lines.extend(self.skipped.iter().map(|line| format!("  {line}")));
        lines
    }

    fn whole(&self) -> bool {
        self.skipped.is_empty()
    }
}

impl FileOutcome for Vec<crate::layer_import::ImportedLayer> {
    fn lines(&self, file: &str) -> Vec<String> {
        let mut lines = Vec::new();
        for layer in self {
            let made = layer.saved_layer.map_or_else(
                || format!("{} test cases planned", layer.test_cases.len()),
                |id| format!("saved layer {id}"),
            );
            lines.push(format!(
                "{file}: \u{201c}{}\u{201d} ({}): {made}; {} revoked ids mapped, {} entries left out",
                layer.name,
                layer.domain,
                layer.mapped.len(),
                layer.left_out.len()
            ));
            lines.extend(
                layer
                    .mapped
                    .iter()
                    .chain(&layer.left_out)
                    .map(|line| format!("  {line}")),
            );
        }
        lines
    }

    fn whole(&self) -> bool {
        self.iter().all(|layer| layer.left_out.is_empty())
    }
}

impl FileOutcome for crate::portable::StreamImport {
    fn lines(&self, file: &str) -> Vec<String> {
        vec![format!(
            "{file}: {} ({} streams, signed by {}): {} events appended, {} already here",
            self.subject,
            self.imported.streams,
            self.signed_by,
            self.imported.appended,
            self.imported.already_present
        )]
    }

    fn whole(&self) -> bool {
        true
    }
}

/// Imports each file of `args.locations` with `import` (given its name and bytes), reporting on stdout, or
/// one JSON object per file with `--json`. A file that cannot be read or imported is reported with its name
/// and reason and the others go on; exit 1 when any failed or left something out.
async fn each_file<T: FileOutcome>(
    args: &ImportArgs,
    mut import: impl AsyncFnMut(&str, Vec<u8>) -> anyhow::Result<T>,
) -> ExitCode {
    let mut whole = true;
    for name in &args.locations {
        let outcome = match std::fs::read(name) {
            Ok(bytes) => import(name, bytes).await,
            Err(error) => Err(anyhow::anyhow!("cannot read it: {error}")),
        };
        match outcome {
            Ok(imported) => {
                whole &= imported.whole();
                if args.json {
                    println!(
                        "{}",
                        serde_json::json!({ "file": name, "imported": imported })
                    );
                } else {
                    for line in imported.lines(name) {
                        println!("{line}");
                    }
                }
            }
            Err(error) => {
                whole = false;
                if args.json {
                    println!(
                        "{}",
                        serde_json::json!({ "file": name, "error": format!("{error:#}") })
                    );
                } else {
                    eprintln!("{name}: not imported: {error:#}");
                }
            }
        }
    }
    if whole {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn show(bar: &ProgressBar, progress: Progress) {
    match progress {
        Progress::Reading { done, total } => {
            if bar.length() != Some(total as u64) {
                bar.set_length(total as u64);
                bar.set_style(
                    ProgressStyle::with_template("reading {bar:40} {pos}/{len} files")
                        .unwrap_or_else(|_| ProgressStyle::default_bar()),
                );
            }
            bar.set_position(done as u64);
        }
        Progress::Fetched { .. } => bar.println(fetched(progress)),
        Progress::Parsing { files } => {
            bar.set_style(ProgressStyle::default_spinner());
            bar.set_message(format!("parsing {files} files"));
            bar.enable_steady_tick(std::time::Duration::from_millis(120));
        }
        Progress::Writing { records } => bar.set_message(format!("writing {records} records")),
    }
}

/// Without a terminal, one line per stage (not per file: a log of 3,000 "read" lines helps nobody).
fn print_stage(progress: Progress) {
    match progress {
        Progress::Reading { .. } => {}
        Progress::Fetched { .. } => eprintln!("{}", fetched(progress)),
        Progress::Parsing { files } => eprintln!("parsing {files} files"),
        Progress::Writing { records } => eprintln!("writing {records} records"),
    }
}

fn fetched(progress: Progress) -> String {
    let Progress::Fetched {
        pages,
        objects,
        newest_added,
    } = progress
    else {
        return String::new();
    };
    let newest = newest_added
        .map(|time| format!(" (the newest added {})", taxii::taxii_time(time)))
        .unwrap_or_default();
    let noun = if pages == 1 { "page" } else { "pages" };
    format!("fetched {objects} objects in {pages} {noun}{newest}")
}

fn print_report(summary: &ImportSummary) {
    let version = summary
        .upstream_version
        .as_deref()
        .map(|version| format!(" (upstream version {version})"))
        .unwrap_or_default();
    println!(
        "{source} import {run}{version}: {files} files, {new} new, {changed} changed, {unchanged} unchanged \
         records ({retired} revoked or deprecated), {failed} files failed",
        source = summary.source,
        run = summary.run_id,
        files = summary.files_seen,
        new = summary.records_new,
        changed = summary.records_changed,
        unchanged = summary.records_unchanged,
        retired = summary.records_retired,
        failed = summary.files_failed,
    );
    for failure in &summary.errors {
        println!("  failed: {}: {}", failure.file, failure.error);
    }
}
