//! The fuzzers kept as the repository's scripts, run by `aegis chaos all` from a checkout: libFuzzer on every
//! importer parser (`deploy/dev/fuzz`, crate `fuzz/`) and schemathesis on the GraphQL endpoint
//! (`deploy/dev/schemathesis`). Each writes a tab-separated report with a header line; here it becomes a
//! markdown table. Outside a checkout (an installed binary) there are no scripts and they are skipped.

use std::path::Path;
use std::process::{Command, Stdio};

/// How long the fuzzers run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FuzzSize {
    /// libFuzzer's time on each parser.
    pub seconds_per_target: u32,
    /// schemathesis' cases per GraphQL operation, for each of its two users.
    pub examples_per_operation: u32,
}

impl FuzzSize {
    /// The test command's size: about two minutes each.
    pub fn quick() -> Self {
        Self {
            seconds_per_target: 8,
            examples_per_operation: 10,
        }
    }

    pub fn full() -> Self {
        Self {
            seconds_per_target: 60,
            examples_per_operation: 100,
        }
    }
}

/// What one fuzzing script reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptReport {
    pub script: &'static str,
    pub passed: bool,
    pub table: String,
}

/// Runs both scripts when this is a checkout (their output goes to stderr; stdout stays the tables); `aegis`
/// is the binary schemathesis fuzzes.
pub fn run_scripts(aegis: &Path, size: FuzzSize) -> anyhow::Result<Vec<ScriptReport>> {
    let runs = [
        (
            "deploy/dev/fuzz",
            "target/fuzz/report.tsv",
            ("AEGIS_FUZZ_SECONDS", size.seconds_per_target),
        ),
        (
            "deploy/dev/schemathesis",
            "target/schemathesis/report.tsv",
            ("AEGIS_SCHEMATHESIS_EXAMPLES", size.examples_per_operation),
        ),
    ];
    let mut reports = Vec::new();
    for (script, report, (variable, value)) in runs {
        if !Path::new(script).exists() {
            eprintln!("{script} skipped: run `aegis chaos all` from a checkout of the repository");
            continue;
        }
        let status = Command::new(script)
            .env(variable, value.to_string())
            .env("AEGIS_BIN", aegis)
            .stdout(Stdio::from(std::io::stderr()))
            .status()?;
        let tsv = std::fs::read_to_string(report).unwrap_or_default();
        reports.push(ScriptReport {
            script,
            passed: status.success(),
            table: markdown(&tsv),
        });
    }
    Ok(reports)
}

/// A tab-separated report (header line first) as a markdown table.
fn markdown(tsv: &str) -> String {
    let mut lines = tsv
        .lines()
        .map(|line| format!("| {} |", line.replace('\t', " | ")));
    let Some(header) = lines.next() else {
        return "(no report)\n".to_owned();
    };
    let columns = header.matches(" | ").count() + 1;
    let mut table = format!("{header}\n|{}\n", "---|".repeat(columns));
    for line in lines {
        table.push_str(&line);
        table.push('\n');
    }
    table
}

#[cfg(test)]
mod tests {
    use super::markdown;

    #[test]
    fn a_report_becomes_a_markdown_table() {
        assert_eq!(
            markdown("target\texecutions\nsigma\t1200\n"),
            "| target | executions |\n|---|---|\n| sigma | 1200 |\n"
        );
        assert_eq!(markdown(""), "(no report)\n");
    }
}
