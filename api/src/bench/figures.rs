//! The figures every benchmark returns besides what it prints, and the one markdown table `aegis bench all`
//! makes of them: figure, ours, the baseline measured in the same run, their ratio, the target, pass or fail.
//!
//! A ratio is always "how ours compares with the baseline" in the direction the figure's name says: our rate ÷
//! the baseline's rate for throughputs (append ÷ pgbench, rebuild ÷ sequential read), the baseline's time ÷ ours
//! for import times (how many times faster), and the largest log's p99 ÷ the smallest's for the heatmap's
//! growth (flat is 1).

use std::fmt::Write as _;

/// A number and its unit, e.g. 2,276 events/s or 5.1 ms.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Measure {
    pub amount: f64,
    pub unit: &'static str,
}

impl Measure {
    pub fn new(amount: f64, unit: &'static str) -> Self {
        Self { amount, unit }
    }

    pub fn millis(duration: std::time::Duration) -> Self {
        Self::new(duration.as_secs_f64() * 1000.0, "ms")
    }
}

impl std::fmt::Display for Measure {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "{} {}", number(self.amount), self.unit)
    }
}

/// What a figure must reach: a bound on our value, or on the ratio.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Goal {
    AtLeast(f64),
    AtMost(f64),
    RatioAtLeast(f64),
    RatioAtMost(f64),
}

/// One row of the table.
#[derive(Debug, Clone, PartialEq)]
pub struct Figure {
    pub name: String,
    /// None when it could not be measured here; `note` says why.
    pub ours: Option<Measure>,
    pub baseline: Option<Baseline>,
    pub ratio: Option<f64>,
    pub target: Option<Goal>,
    pub note: Option<String>,
}

/// A baseline measured in the same run, and what it is.
#[derive(Debug, Clone, PartialEq)]
pub struct Baseline {
    pub what: String,
    pub value: Measure,
}

/// Whether a figure met its target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Pass,
    Fail,
    /// The figure has no target.
    Unjudged,
    /// It has a target but no value (not measured here).
    NotMeasured,
}

impl Figure {
    /// A value of ours alone.
    pub fn ours(name: impl Into<String>, ours: Measure) -> Self {
        Self {
            name: name.into(),
            ours: Some(ours),
            baseline: None,
            ratio: None,
            target: None,
            note: None,
        }
    }

    /// A figure that could not be measured, and why.
    pub fn missing(name: impl Into<String>, why: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            ours: None,
            baseline: None,
            ratio: None,
            target: None,
            note: Some(why.into()),
        }
    }

    /// A rate of ours next to the baseline's rate of the same thing; the ratio is ours ÷ baseline.
    pub fn rate_versus(
        name: impl Into<String>,
        ours: Measure,
        what: impl Into<String>,
        baseline: Measure,
    ) -> Self {
        Self {
            ratio: Some(ours.amount / baseline.amount),
            ..Self::ours(name, ours).with_baseline(what, baseline)
        }
    }

    /// A time of ours next to the baseline's time for the same work; the ratio is baseline ÷ ours (how many
    /// times faster we are).
    pub fn time_versus(
        name: impl Into<String>,
        ours: Measure,
        what: impl Into<String>,
        baseline: Measure,
    ) -> Self {
        Self {
            ratio: Some(baseline.amount / ours.amount),
            ..Self::ours(name, ours).with_baseline(what, baseline)
        }
    }

    /// A latency of ours next to the same latency at a smaller size; the ratio is ours ÷ baseline (flat is 1).
    pub fn growth_versus(
        name: impl Into<String>,
        ours: Measure,
        what: impl Into<String>,
        baseline: Measure,
    ) -> Self {
        Self::rate_versus(name, ours, what, baseline)
    }

    fn with_baseline(self, what: impl Into<String>, value: Measure) -> Self {
        Self {
            baseline: Some(Baseline {
                what: what.into(),
                value,
            }),
            ..self
        }
    }

    #[must_use]
    pub fn target(self, target: Goal) -> Self {
        Self {
            target: Some(target),
            ..self
        }
    }

    #[must_use]
    pub fn note(self, note: impl Into<String>) -> Self {
        Self {
            note: Some(note.into()),
            ..self
        }
    }

    pub fn verdict(&self) -> Verdict {
        let Some(target) = self.target else {
            return Verdict::Unjudged;
        };
        let (value, bound, at_least) = match target {
            Goal::AtLeast(bound) => (self.ours.map(|ours| ours.amount), bound, true),
            Goal::AtMost(bound) => (self.ours.map(|ours| ours.amount), bound, false),
            Goal::RatioAtLeast(bound) => (self.ratio, bound, true),
            Goal::RatioAtMost(bound) => (self.ratio, bound, false),
        };
        match value {
            Some(value) if value.is_finite() => {
                if (at_least && value >= bound) || (!at_least && value <= bound) {
                    Verdict::Pass
                } else {
                    Verdict::Fail
                }
            }
            _ => Verdict::NotMeasured,
        }
    }

    fn target_text(&self) -> String {
        let unit = self.ours.map_or("", |ours| ours.unit);
        match self.target {
            None => String::new(),
            Some(Goal::AtLeast(bound)) => format!("≥ {} {unit}", number(bound)),
            Some(Goal::AtMost(bound)) => format!("≤ {} {unit}", number(bound)),
            Some(Goal::RatioAtLeast(bound)) => format!("ratio ≥ {}", number(bound)),
            Some(Goal::RatioAtMost(bound)) => format!("ratio ≤ {}", number(bound)),
        }
    }
}

/// The markdown table of `figures`, one row each.
pub fn table(figures: &[Figure]) -> String {
    let mut table = String::from(
        "| figure | ours | baseline | ratio | target | pass/fail |\n|---|---|---|---|---|---|\n",
    );
    for figure in figures {
        let ours = match (&figure.ours, &figure.note) {
            (Some(ours), Some(note)) => format!("{ours} ({note})"),
            (Some(ours), None) => ours.to_string(),
            (None, note) => note.clone().unwrap_or_else(|| "not measured".to_owned()),
        };
        let baseline = figure
            .baseline
            .as_ref()
            .map(|baseline| format!("{}: {}", baseline.what, baseline.value))
            .unwrap_or_default();
        let ratio = figure
            .ratio
            .map(|ratio| format!("{}×", number(ratio)))
            .unwrap_or_default();
        let verdict = match figure.verdict() {
            Verdict::Pass => "pass",
            Verdict::Fail => "**fail**",
            Verdict::Unjudged => "",
            Verdict::NotMeasured => "not measured",
        };
        let _ = writeln!(
            table,
            "| {} | {ours} | {baseline} | {ratio} | {} | {verdict} |",
            figure.name,
            figure.target_text()
        );
    }
    table
}

/// A number as README writes them: thousands separated above 1,000, three significant digits below.
pub fn number(amount: f64) -> String {
    if !amount.is_finite() {
        return amount.to_string();
    }
    let magnitude = amount.abs();
    if magnitude >= 1000.0 {
        let rounded = format!("{magnitude:.0}");
        let mut grouped = String::new();
        for (index, digit) in rounded.chars().enumerate() {
            if index > 0 && (rounded.len() - index) % 3 == 0 {
                grouped.push(',');
            }
            grouped.push(digit);
        }
        return if amount < 0.0 {
            format!("-{grouped}")
        } else {
            grouped
        };
    }
    // Three significant digits, at least two decimals below 10 (0.65, 0.0072).
    let decimals = if magnitude >= 100.0 {
        0
    } else if magnitude >= 10.0 {
        1
    } else if magnitude >= 0.1 || magnitude == 0.0 {
        2
    } else {
        let (mut decimals, mut scaled) = (2, magnitude * 100.0);
        while scaled < 100.0 && decimals < 12 {
            scaled *= 10.0;
            decimals += 1;
        }
        decimals
    };
    format!("{amount:.decimals$}")
}

#[cfg(test)]
mod tests {
    use super::{Figure, Goal, Measure, Verdict, number, table};

    #[test]
    fn numbers_read_like_readme_figures() {
        assert_eq!(number(56_894.4), "56,894");
        assert_eq!(number(1_000_000.0), "1,000,000");
        assert_eq!(number(212.04), "212");
        assert_eq!(number(36.24), "36.2");
        assert_eq!(number(5.126), "5.13");
        assert_eq!(number(0.65), "0.65");
        assert_eq!(number(0.006_52), "0.00652");
        assert_eq!(number(0.0), "0.00");
    }

    #[test]
    fn each_kind_of_target_judges_its_own_number() {
        let append = Figure::rate_versus(
            "append",
            Measure::new(2_276.0, "events/s"),
            "pgbench",
            Measure::new(3_494.0, "rows/s"),
        )
        .target(Goal::RatioAtLeast(0.5));
        assert_eq!(append.verdict(), Verdict::Pass);
        let import = Figure::time_versus(
            "import",
            Measure::new(0.8, "s"),
            "python",
            Measure::new(6.0, "s"),
        )
        .target(Goal::RatioAtLeast(10.0));
        assert_eq!(import.ratio, Some(7.5));
        assert_eq!(import.verdict(), Verdict::Fail);
        let latency = Figure::ours("p99", Measure::new(20.5, "ms")).target(Goal::AtMost(20.0));
        assert_eq!(latency.verdict(), Verdict::Fail);
        let rebuild = Figure::ours("rebuild", Measure::new(30_000.0, "events/s"))
            .target(Goal::AtLeast(30_000.0));
        assert_eq!(rebuild.verdict(), Verdict::Pass);
        let missing = Figure::missing("web", "not built").target(Goal::AtMost(1.0));
        assert_eq!(missing.verdict(), Verdict::NotMeasured);
        assert_eq!(
            Figure::ours("free", Measure::new(1.0, "s")).verdict(),
            Verdict::Unjudged
        );
    }

    #[test]
    fn the_table_has_a_row_per_figure_with_its_verdict() {
        let rendered = table(&[
            Figure::growth_versus(
                "growth",
                Measure::new(6.0, "ms"),
                "p99 at 10,000 events",
                Measure::new(4.0, "ms"),
            )
            .target(Goal::RatioAtMost(1.5)),
            Figure::missing("web bundle", "not built"),
        ]);
        let lines: Vec<&str> = rendered.lines().collect();
        assert_eq!(lines.len(), 4);
        assert_eq!(
            lines[2],
            "| growth | 6.00 ms | p99 at 10,000 events: 4.00 ms | 1.50× | ratio ≤ 1.50 | pass |"
        );
        assert_eq!(lines[3], "| web bundle | not built |  |  |  |  |");
    }
}
