//! `aegis import <source> <path-or-url>… [--json]`: the catalog importers from the command line, with a
//! progress bar on a terminal, plain lines otherwise, and one JSON object on stdout with `--json`.

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Args;
use importers::catalog::{self, ImportSummary};
use importers::import::{self, Location, Progress};
use importers::source::Source;
use indicatif::{ProgressBar, ProgressStyle};
use sqlx::PgPool;

#[derive(Debug, Clone, Args)]
pub struct ImportArgs {
    /// attack, taxii, d3fend, atomic, caldera, lolbas, gtfobins, sigma, elastic, sysmon, ctid or oscal.
    #[arg(value_parser = parse_source)]
    pub source: Source,
    /// Files, directories (walked recursively) or HTTPS URLs.
    #[arg(required = true)]
    pub locations: Vec<String>,
    /// Print one JSON object (the run's counts and every failed file) on stdout instead of a report.
    #[arg(long)]
    pub json: bool,
}

fn parse_source(name: &str) -> Result<Source, String> {
    name.parse()
        .map_err(|error: importers::source::UnknownSource| error.to_string())
}

pub async fn run(pool: &PgPool, args: ImportArgs) -> anyhow::Result<ExitCode> {
    let locations: Vec<Location> = args
        .locations
        .iter()
        .map(|text| Location::parse(text))
        .collect();
    let run_id = catalog::begin_run(pool, args.source, &args.locations, None).await?;
    let bar = (!args.json && std::io::stderr().is_terminal()).then(ProgressBar::new_spinner);
    let report = |progress: Progress| match &bar {
        Some(bar) => show(bar, progress),
        None if !args.json => print_stage(progress),
        None => {}
    };
    let summary = import::run(pool, run_id, args.source, &locations, &report).await;
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
        Progress::Parsing { files } => eprintln!("parsing {files} files"),
        Progress::Writing { records } => eprintln!("writing {records} records"),
    }
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
