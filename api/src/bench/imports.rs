//! `aegis bench import`: import time and peak memory for the large upstream sets (the full ATT&CK Enterprise
//! bundle, all Sigma rules, all Elastic rules, all atomics), next to the reference Python tools loading the same
//! files in the same run.
//!
//! Each case (one source, one mode) runs in a child process of its own — this binary again, with the hidden
//! `bench import-case` — so that its peak memory is its own and not the high-water mark of everything measured
//! before it. The child reads its peak resident set from `/proc/self/status` (`VmHWM`) at the end, which makes
//! the memory figures Linux-only; without `libc` (and with `unsafe_code` forbidden) there is no portable way to
//! ask for a child's `getrusage`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, bail};
use importers::catalog;
use importers::import::{self, Location};
use importers::source::Source;
use serde::{Deserialize, Serialize};

use super::ScratchDatabase;
use super::figures::{Figure, Goal, Measure};
use crate::database;

/// The bound: Aegis' first import at least ten times as fast as the Python reference tool's load.
const PYTHON_TARGET_RATIO: f64 = 10.0;

/// Where the Python baseline's interpreter is when `AEGIS_BENCH_PYTHON` does not say (what
/// `deploy/bench/ensure-python-baseline` creates), relative to the repository root.
const DEFAULT_PYTHON: &str = "target/venv-bench/bin/python";
/// The baseline script, relative to the repository root.
const BASELINE_SCRIPT: &str = "deploy/bench/python-baseline.py";

#[derive(Debug, Clone, clap::Args)]
pub struct ImportArgs {
    /// The upstream corpus: a folder holding mitre-attack/, sigma/, elastic-detection-rules/ and
    /// atomic-red-team/.
    #[arg(long, default_value = "../shared/corpus")]
    pub corpus: PathBuf,
    /// Runs per case; the table shows the median time and the highest peak.
    #[arg(long, default_value_t = 3)]
    pub runs: usize,
    /// Cases to measure, comma-separated: attack, sigma, elastic, atomic.
    #[arg(long, value_delimiter = ',', default_value = "attack,sigma,elastic,atomic", value_parser = parse_case)]
    pub cases: Vec<Case>,
    /// Also run the Python reference tools on the same files (mitreattack-python for the bundle, pySigma for
    /// the Sigma rules) and print the ratios. Needs `deploy/bench/ensure-python-baseline` first.
    #[arg(long)]
    pub baseline: bool,
    /// Only the first import of each case: no parse-only run, no second import (`bench all --quick`).
    #[arg(long)]
    pub first_only: bool,
    /// The Python interpreter of the baseline's virtual environment.
    #[arg(long, env = "AEGIS_BENCH_PYTHON", default_value = DEFAULT_PYTHON)]
    pub python: PathBuf,
}

/// One source of the benchmark and the corpus paths an administrator would import it from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Case {
    Attack,
    Sigma,
    Elastic,
    Atomic,
}

impl Case {
    fn source(self) -> Source {
        match self {
            Self::Attack => Source::Attack,
            Self::Sigma => Source::Sigma,
            Self::Elastic => Source::Elastic,
            Self::Atomic => Source::Atomic,
        }
    }

    fn corpus_path(self) -> &'static str {
        match self {
            Self::Attack => "mitre-attack/enterprise-attack.json",
            Self::Sigma => "sigma",
            Self::Elastic => "elastic-detection-rules",
            Self::Atomic => "atomic-red-team",
        }
    }

    fn title(self) -> &'static str {
        match self {
            Self::Attack => "ATT&CK Enterprise bundle",
            Self::Sigma => "all Sigma rules",
            Self::Elastic => "all Elastic rules",
            Self::Atomic => "all atomics",
        }
    }

    /// The name of the same load in `python-baseline.py`, for the cases a reference Python tool covers.
    fn baseline(self) -> Option<&'static str> {
        match self {
            Self::Attack => Some("attack"),
            Self::Sigma => Some("sigma"),
            Self::Elastic | Self::Atomic => None,
        }
    }
}

fn parse_case(name: &str) -> Result<Case, String> {
    match name.trim() {
        "attack" => Ok(Case::Attack),
        "sigma" => Ok(Case::Sigma),
        "elastic" => Ok(Case::Elastic),
        "atomic" => Ok(Case::Atomic),
        other => Err(format!(
            "unknown case {other:?}; expected attack, sigma, elastic or atomic"
        )),
    }
}

/// What the child process measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Mode {
    /// Collect and parse, write nothing (`importers::import::parse_only`).
    Parse,
    /// A whole import into the scratch database: begin the run, collect, parse, write the catalog.
    Import,
}

/// One case, in the child process `aegis bench import` starts.
#[derive(Debug, Clone, clap::Args)]
pub struct CaseArgs {
    #[arg(long, value_parser = parse_source)]
    pub source: Source,
    #[arg(long, value_enum)]
    pub mode: Mode,
    /// The scratch database the parent created (for `--mode import`).
    #[arg(long)]
    pub scratch_url: Option<String>,
    #[arg(required = true)]
    pub locations: Vec<PathBuf>,
}

fn parse_source(name: &str) -> Result<Source, String> {
    name.parse()
        .map_err(|error: importers::source::UnknownSource| error.to_string())
}

/// The child's answer, one JSON line on stdout.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct CaseReport {
    files: usize,
    failed_files: usize,
    /// Parsed records (parse) or records written or found unchanged (import).
    records: usize,
    records_new: usize,
    records_unchanged: usize,
    seconds: f64,
    peak_mb: f64,
}

/// Runs one case and prints its report. The clock covers the work only: not process start, not connecting.
pub async fn case(args: &CaseArgs) -> anyhow::Result<()> {
    let locations: Vec<Location> = args
        .locations
        .iter()
        .map(|path| Location::Path(path.clone()))
        .collect();
    let report = match args.mode {
        Mode::Parse => {
            let started = Instant::now();
            let (files, parsed, unread) = import::parse_only(args.source, &locations).await;
            let seconds = started.elapsed().as_secs_f64();
            let failed_files = parsed.failures.len() + unread.len();
            CaseReport {
                files: files.len() + unread.len(),
                failed_files,
                records: parsed.records.len(),
                records_new: 0,
                records_unchanged: 0,
                seconds,
                peak_mb: 0.0,
            }
        }
        Mode::Import => {
            let url = args
                .scratch_url
                .as_deref()
                .context("--mode import needs --scratch-url")?;
            let pool = database::connect(url, 4).await?;
            let names: Vec<String> = locations.iter().map(Location::as_text).collect();
            let started = Instant::now();
            let run_id = catalog::begin_run(&pool, args.source, &names, None).await?;
            let summary = import::run(&pool, run_id, args.source, &locations, &|_| {}).await?;
            let seconds = started.elapsed().as_secs_f64();
            pool.close().await;
            CaseReport {
                files: summary.files_seen,
                failed_files: summary.files_failed,
                records: summary.records_new + summary.records_changed + summary.records_unchanged,
                records_new: summary.records_new,
                records_unchanged: summary.records_unchanged,
                seconds,
                peak_mb: 0.0,
            }
        }
    };
    let report = CaseReport {
        peak_mb: peak_resident_mb()?,
        ..report
    };
    println!("{}", serde_json::to_string(&report)?);
    Ok(())
}

/// This process' peak resident set size so far (`VmHWM`), in MiB.
fn peak_resident_mb() -> anyhow::Result<f64> {
    let status = std::fs::read_to_string("/proc/self/status")
        .context("peak memory is read from /proc/self/status: `bench import` runs on Linux only")?;
    let kib: f64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|number| number.parse().ok())
        .context("/proc/self/status has no VmHWM line")?;
    Ok(kib / 1024.0)
}

/// One line of the table: the median time and the highest peak of N runs of a case.
#[derive(Debug, Clone)]
struct Measured {
    files: usize,
    failed_files: usize,
    records: usize,
    seconds: f64,
    peak_mb: f64,
}

impl Measured {
    fn of(reports: &[CaseReport]) -> Self {
        let mut seconds: Vec<f64> = reports.iter().map(|report| report.seconds).collect();
        seconds.sort_by(f64::total_cmp);
        let median = if seconds.len() % 2 == 1 {
            seconds[seconds.len() / 2]
        } else {
            f64::midpoint(seconds[seconds.len() / 2 - 1], seconds[seconds.len() / 2])
        };
        let last = &reports[reports.len() - 1];
        Self {
            files: last.files,
            failed_files: last.failed_files,
            records: last.records,
            seconds: median,
            peak_mb: reports
                .iter()
                .map(|report| report.peak_mb)
                .fold(0.0, f64::max),
        }
    }
}

/// Every case's parse, first import and second import, then the Python baseline and the ratios; the bundle's
/// import also against `serde_json` parsing its bytes. Returns the figures.
pub async fn run(scratch: &ScratchDatabase, args: &ImportArgs) -> anyhow::Result<Vec<Figure>> {
    if args.runs == 0 {
        bail!("--runs must be at least 1");
    }
    let executable = std::env::current_exe().context("cannot find the aegis executable")?;
    println!(
        "import benchmark over {}, median of {} runs, peak resident memory per case (VmHWM, Linux)",
        args.corpus.display(),
        args.runs
    );
    println!(
        "{:<34} {:>6} {:>7} {:>8} {:>9} {:>8}",
        "case", "files", "failed", "records", "seconds", "peak MB"
    );
    let mut rust = Vec::new();
    for &case in &args.cases {
        let (parse, first) = measure_case(scratch, args, &executable, case).await?;
        rust.push((case, parse, first));
    }
    let python = if args.baseline {
        compare_with_python(args, &rust)?
    } else {
        Vec::new()
    };
    figures(args, &rust, &python)
}

/// One case: parse only, first import into an emptied catalog, the same import again (only the first with
/// `--first-only`), each `--runs` times; prints a row each and returns the parse and first-import figures.
async fn measure_case(
    scratch: &ScratchDatabase,
    args: &ImportArgs,
    executable: &Path,
    case: Case,
) -> anyhow::Result<(Option<Measured>, Measured)> {
    let location = args.corpus.join(case.corpus_path());
    if !location.exists() {
        bail!("{} does not exist (see --corpus)", location.display());
    }
    let parse = if args.first_only {
        None
    } else {
        let mut parses = Vec::with_capacity(args.runs);
        for _ in 0..args.runs {
            parses.push(run_case(executable, case, Mode::Parse, &location, None)?);
        }
        let parse = Measured::of(&parses);
        print_row(&format!("{} parse only", case.source()), &parse);
        Some(parse)
    };
    let mut firsts = Vec::with_capacity(args.runs);
    let mut seconds = Vec::with_capacity(args.runs);
    for _ in 0..args.runs {
        // Every first import starts from an empty catalog, so that every record is new.
        sqlx::query("TRUNCATE catalog_records, import_runs")
            .execute(&scratch.pool)
            .await?;
        let first = run_case(
            executable,
            case,
            Mode::Import,
            &location,
            Some(&scratch.url),
        )?;
        if first.records_new != first.records {
            bail!(
                "{case:?}: the first import into an empty catalog found {} of {} records already there",
                first.records - first.records_new,
                first.records
            );
        }
        firsts.push(first);
        if args.first_only {
            continue;
        }
        let second = run_case(
            executable,
            case,
            Mode::Import,
            &location,
            Some(&scratch.url),
        )?;
        if second.records_unchanged != second.records {
            bail!(
                "{case:?}: the second import of the same files changed {} of {} records",
                second.records - second.records_unchanged,
                second.records
            );
        }
        seconds.push(second);
    }
    let first = Measured::of(&firsts);
    print_row(
        &format!("{} import, first (all new)", case.source()),
        &first,
    );
    if !seconds.is_empty() {
        print_row(
            &format!("{} import, again (unchanged)", case.source()),
            &Measured::of(&seconds),
        );
    }
    Ok((parse, first))
}

/// Each case's first import, next to its Python peer when it has one; the bundle's also against `serde_json`.
fn figures(
    args: &ImportArgs,
    rust: &[(Case, Option<Measured>, Measured)],
    python: &[PythonReport],
) -> anyhow::Result<Vec<Figure>> {
    let mut figures = Vec::new();
    for (case, _, first) in rust {
        let name = format!(
            "import, {}, first into an empty catalog ({} records, median of {})",
            case.title(),
            super::figures::number(first.records as f64),
            args.runs
        );
        let ours = Measure::new(first.seconds, "s");
        let peer = case.baseline().and_then(|baseline| {
            python
                .iter()
                .find(|report| report.case == baseline)
                .map(|report| (report, baseline))
        });
        figures.push(match (peer, case.baseline()) {
            (Some((report, _)), _) => Figure::time_versus(
                name,
                ours,
                format!("{} load", report.tool),
                Measure::new(report.seconds, "s"),
            )
            .target(Goal::RatioAtLeast(PYTHON_TARGET_RATIO)),
            (None, Some(_)) => Figure::ours(name, ours)
                .note("no Python baseline here")
                .target(Goal::RatioAtLeast(PYTHON_TARGET_RATIO)),
            (None, None) => Figure::ours(name, ours),
        });
        if *case == Case::Attack {
            let bundle = args.corpus.join(case.corpus_path());
            let bytes = std::fs::metadata(&bundle)?.len() as f64 / 1_000_000.0;
            let ceiling = json_parse_rate(&bundle, args.runs)?;
            println!("serde_json parses the bundle ({bytes:.1} MB) at {ceiling:.1} MB/s");
            figures.push(Figure::rate_versus(
                "import, ATT&CK Enterprise bundle, first, as bytes per second",
                Measure::new(bytes / first.seconds, "MB/s"),
                "serde_json::Value parse of the same bytes",
                Measure::new(ceiling, "MB/s"),
            ));
        }
    }
    Ok(figures)
}

/// How fast `serde_json` parses the file into a `Value` (the best of `runs`), in MB/s: the ceiling of any
/// import of it on this machine.
fn json_parse_rate(path: &Path, runs: usize) -> anyhow::Result<f64> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut best = f64::INFINITY;
    for _ in 0..runs.max(1) {
        let started = Instant::now();
        let parsed: serde_json::Value = serde_json::from_slice(&bytes)
            .with_context(|| format!("{} is not JSON", path.display()))?;
        best = best.min(started.elapsed().as_secs_f64());
        drop(parsed);
    }
    Ok(bytes.len() as f64 / 1_000_000.0 / best)
}

fn print_row(name: &str, measured: &Measured) {
    println!(
        "{name:<34} {:>6} {:>7} {:>8} {:>9.2} {:>8.0}",
        measured.files, measured.failed_files, measured.records, measured.seconds, measured.peak_mb
    );
}

fn run_case(
    executable: &Path,
    case: Case,
    mode: Mode,
    location: &Path,
    scratch_url: Option<&str>,
) -> anyhow::Result<CaseReport> {
    let mut command = Command::new(executable);
    command
        .args(["bench", "import-case", "--source", case.source().as_str()])
        .args(["--mode", mode_name(mode)]);
    if let Some(url) = scratch_url {
        command.args(["--scratch-url", url]);
    }
    let output = command
        .arg(location)
        .output()
        .with_context(|| format!("cannot run {}", executable.display()))?;
    last_json_line(&output, &format!("the {case:?} case"))
}

fn mode_name(mode: Mode) -> &'static str {
    match mode {
        Mode::Parse => "parse",
        Mode::Import => "import",
    }
}

fn last_json_line<T: serde::de::DeserializeOwned>(
    output: &std::process::Output,
    what: &str,
) -> anyhow::Result<T> {
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        bail!(
            "{what} failed ({}): {stdout}{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let line = stdout
        .lines()
        .rev()
        .find(|line| !line.trim().is_empty())
        .with_context(|| format!("{what} printed nothing"))?;
    serde_json::from_str(line).with_context(|| format!("cannot read {what}'s report: {line}"))
}

/// One case of `python-baseline.py`'s output.
#[derive(Debug, Clone, Deserialize)]
struct PythonReport {
    case: String,
    tool: String,
    files: usize,
    records: usize,
    failed: usize,
    seconds: f64,
    peak_mb: f64,
}

/// Runs the Python reference tools on the same files (each case in its own process, median of the same number
/// of runs) and prints, per comparable case, how many times longer they take than Aegis' parse and its first
/// import.
fn compare_with_python(
    args: &ImportArgs,
    rust: &[(Case, Option<Measured>, Measured)],
) -> anyhow::Result<Vec<PythonReport>> {
    let cases: Vec<&str> = rust
        .iter()
        .filter_map(|(case, _, _)| case.baseline())
        .collect();
    if cases.is_empty() {
        println!("no case here has a Python baseline (attack and sigma have)");
        return Ok(Vec::new());
    }
    if !args.python.exists() {
        bail!(
            "{} does not exist: run deploy/bench/ensure-python-baseline (or set AEGIS_BENCH_PYTHON)",
            args.python.display()
        );
    }
    let output = Command::new(&args.python)
        .arg(BASELINE_SCRIPT)
        .arg("--corpus")
        .arg(&args.corpus)
        .args([
            "--runs",
            &args.runs.to_string(),
            "--cases",
            &cases.join(","),
        ])
        .output()
        .with_context(|| format!("cannot run {}", args.python.display()))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        bail!(
            "{BASELINE_SCRIPT} failed ({}): {stdout}{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let python: Vec<PythonReport> = stdout
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(serde_json::from_str)
        .collect::<Result<_, _>>()
        .with_context(|| format!("cannot read {BASELINE_SCRIPT}'s output: {stdout}"))?;

    println!();
    println!("Python baseline (same files, same number of runs, one process per case)");
    println!(
        "{:<34} {:>6} {:>7} {:>8} {:>9} {:>8}",
        "case", "files", "failed", "records", "seconds", "peak MB"
    );
    for report in &python {
        println!(
            "{:<34} {:>6} {:>7} {:>8} {:>9.2} {:>8.0}",
            format!("{} {}", report.case, report.tool),
            report.files,
            report.failed,
            report.records,
            report.seconds,
            report.peak_mb
        );
    }
    println!();
    println!(
        "{:<10} {:>22} {:>24} {:>16}",
        "case", "Python / Aegis parse", "Python / Aegis import", "memory Py/Aegis"
    );
    for (case, parse, first) in rust {
        let Some(name) = case.baseline() else {
            continue;
        };
        let report = python
            .iter()
            .find(|report| report.case == name)
            .with_context(|| format!("{BASELINE_SCRIPT} did not report {name}"))?;
        let parse_ratio = parse.as_ref().map_or_else(
            || "—".to_owned(),
            |parse| format!("{:.1}×", report.seconds / parse.seconds),
        );
        println!(
            "{name:<10} {parse_ratio:>22} {:>23.1}× {:>15.1}×",
            report.seconds / first.seconds,
            report.peak_mb / first.peak_mb
        );
    }
    Ok(python)
}
