//! `aegis bench all --quick` (README, Performance) runs end to end against the test PostgreSQL, and its table has
//! every figure with a number, the baselines measured beside them, and a verdict wherever there is a target: so
//! the suite that produces README's performance table cannot rot unnoticed. The numbers themselves are not
//! judged here (a debug build on a shared machine); the suite's pass/fail column is what to read.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::Command;
use std::time::Instant;

/// One row of the markdown table: figure, ours, baseline, ratio, target, pass/fail.
struct Row {
    figure: String,
    ours: String,
    baseline: String,
    ratio: String,
    target: String,
    verdict: String,
}

fn rows(stdout: &str) -> Vec<Row> {
    let table: Vec<&str> = stdout
        .lines()
        .skip_while(|line| {
            !line.starts_with("| figure | ours | baseline | ratio | target | pass/fail |")
        })
        .skip(2)
        .take_while(|line| line.starts_with("| "))
        .collect();
    table
        .iter()
        .map(|line| {
            let cells: Vec<String> = line
                .trim_matches('|')
                .split(" | ")
                .map(|cell| cell.trim().to_owned())
                .collect();
            assert_eq!(cells.len(), 6, "a row of six cells: {line}");
            Row {
                figure: cells[0].clone(),
                ours: cells[1].clone(),
                baseline: cells[2].clone(),
                ratio: cells[3].clone(),
                target: cells[4].clone(),
                verdict: cells[5].clone(),
            }
        })
        .collect()
}

/// A row for every figure the issue names (the quick size's log has 10,000 and 20,000 events).
const EXPECTED: [&str; 24] = [
    "append, single-event commands through the command layer, 1 writers",
    "append, single-event commands through the command layer, 4 writers",
    "append, single-event commands through the command layer, 16 writers",
    "append, 16 writers, against the bulk ceiling",
    "projector catch-up from zero",
    "live heatmap as the server answers, 10,000 events, p99",
    "live heatmap as the server answers, 20,000 events, p99",
    "live heatmap as the server answers, p50 growth from 10,000 to 20,000 events",
    "live heatmap as the server answers, p99 growth from 10,000 to 20,000 events",
    "heatmap(asOf) at random moments",
    "explainCoverage of a tested technique through GraphQL",
    "coverageDiff over the last 1–12 weeks through GraphQL",
    "one live heatmap through the GraphQL schema",
    "rebuild of every read model from the heatmap's log",
    "import, ATT&CK Enterprise bundle, first",
    "import, all Sigma rules, first",
    "import, ATT&CK Enterprise bundle, first, as bytes per second",
    "evidence upload + confirm, 1 MiB files, local disk",
    "evidence upload + confirm, 50 MiB files, local disk",
    "sign-in",
    "addComment through HTTP and GraphQL, 16 concurrent clients in another process, p50",
    "addComment through HTTP and GraphQL, 16 concurrent clients in another process, p99",
    "aegis serve peak resident memory (VmHWM) under that load",
    "web: initial JavaScript",
];

fn starts_with_number(text: &str) -> bool {
    text.chars()
        .next()
        .is_some_and(|first| first.is_ascii_digit())
}

#[test]
fn the_quick_suite_measures_every_figure_against_its_baseline() {
    let database_url = std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
    let repository = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let started = Instant::now();
    let output = Command::new(env!("CARGO_BIN_EXE_aegis"))
        .args(["bench", "all", "--quick"])
        .current_dir(repository)
        .env("DATABASE_URL", &database_url)
        .env_remove("AEGIS_OWNER_DATABASE_URL")
        .env_remove("AEGIS_S3_ENDPOINT")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    eprintln!(
        "aegis bench all --quick took {:.0} s\n{stdout}",
        started.elapsed().as_secs_f64()
    );
    assert!(
        output.status.success(),
        "the suite failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let rows = rows(&stdout);
    for name in EXPECTED {
        assert!(
            rows.iter().any(|row| row.figure.starts_with(name)),
            "no row {name:?} in the table"
        );
    }
    every_row_has_its_numbers(&rows);
    // The peers and ceilings the issue names, each measured in this run.
    for (figure, baseline) in [
        (
            "append, single-event commands through the command layer, 16 writers",
            "pgbench",
        ),
        ("append, 16 writers, against the bulk ceiling", "COPY"),
        ("projector catch-up from zero", "sequential read"),
        (
            "rebuild of every read model from the heatmap's log",
            "sequential read",
        ),
        (
            "import, ATT&CK Enterprise bundle, first into",
            "mitreattack-python",
        ),
        ("import, all Sigma rules, first into", "pySigma"),
        (
            "import, ATT&CK Enterprise bundle, first, as bytes per second",
            "serde_json",
        ),
    ] {
        let row = rows
            .iter()
            .find(|row| row.figure.starts_with(figure))
            .unwrap();
        assert!(
            row.baseline
                .to_lowercase()
                .contains(&baseline.to_lowercase()),
            "{figure}: baseline {:?}, expected {baseline}",
            row.baseline
        );
    }
}

/// A number for ours (the web bundle may be unbuilt), for the baseline and ratio when there is a baseline,
/// and a verdict when there is a target.
fn every_row_has_its_numbers(rows: &[Row]) {
    for row in rows {
        if row.figure.starts_with("web:") && row.ours.starts_with("not built") {
            continue;
        }
        assert!(
            starts_with_number(&row.ours),
            "no number for {}: {}",
            row.figure,
            row.ours
        );
        if !row.baseline.is_empty() {
            let (_, value) = row.baseline.rsplit_once(": ").unwrap();
            assert!(
                starts_with_number(value),
                "no baseline number for {}",
                row.figure
            );
            assert!(
                starts_with_number(&row.ratio),
                "no ratio for {}",
                row.figure
            );
        }
        if !row.target.is_empty() {
            assert!(
                matches!(row.verdict.as_str(), "pass" | "**fail**"),
                "no verdict for {}: {}",
                row.figure,
                row.verdict
            );
        }
    }
}
