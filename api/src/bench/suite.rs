//! `aegis bench all [--quick]`: every benchmark in one run, each on a scratch database of its own, with the
//! ceilings and peers measured in the same run (pgbench, `COPY`, a sequential read of the log, `serde_json` on
//! the ATT&CK bundle, mitreattack-python and pySigma), and one markdown table of the figures at the end.
//!
//! Every figure is printed with a verdict against its target; the exit status says only whether the suite ran
//! (a missed target is a finding to read in the table, not a crash). The generated data are deterministic (fixed
//! seeds; the simulated history ends at the time of the run).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use chrono::{DateTime, TimeDelta, Utc};
use commands::context::{Actor, SystemClock};
use domain::role::Role;
use sqlx::{PgPool, Row as _};
use uuid::Uuid;

use super::figures::{self, Figure, Measure};
use super::{ScratchDatabase, heatmap, imports};
use crate::auth::identity::{Identity, IdentitySettings, RequestOrigin};
use crate::auth::session::Authenticator;
use crate::auth::tokens::SigningKeys;
use crate::database::Located;
use crate::graphql::guard::with_caller;

/// How much of everything: the quick size for the test command, the full one for README.
#[derive(Debug, Clone)]
pub struct SuiteSize {
    pub append_seconds: u64,
    pub users_per_writer: usize,
    pub copy_rows: u64,
    pub projector_events: i64,
    pub heatmap_events: u64,
    pub heatmap_queries: usize,
    pub graphql_queries: usize,
    pub explain_queries: usize,
    pub import_runs: usize,
    pub import_cases: Vec<imports::Case>,
    /// Only the first import of each case: no parse-only run, no second import.
    pub import_first_only: bool,
    pub evidence_rounds: u32,
    pub logins: usize,
    pub verifications: u32,
    pub mutations: usize,
    pub load_clients: usize,
    pub load_seconds: f64,
}

impl SuiteSize {
    /// About a minute and a half in a release build on two cores.
    pub fn quick() -> Self {
        Self {
            append_seconds: 2,
            users_per_writer: 10,
            copy_rows: 100_000,
            projector_events: 20_000,
            heatmap_events: 20_000,
            heatmap_queries: 20,
            graphql_queries: 2,
            explain_queries: 10,
            import_runs: 1,
            import_cases: vec![imports::Case::Attack, imports::Case::Sigma],
            import_first_only: true,
            evidence_rounds: 1,
            logins: 5,
            verifications: 50,
            mutations: 50,
            load_clients: 16,
            load_seconds: 3.0,
        }
    }

    /// README's figures: 1M events, long runs.
    pub fn full() -> Self {
        Self {
            append_seconds: 10,
            users_per_writer: 200,
            copy_rows: 1_000_000,
            projector_events: 1_000_000,
            heatmap_events: 1_000_000,
            heatmap_queries: 200,
            graphql_queries: 20,
            explain_queries: 50,
            import_runs: 5,
            import_cases: vec![
                imports::Case::Attack,
                imports::Case::Sigma,
                imports::Case::Elastic,
                imports::Case::Atomic,
            ],
            import_first_only: false,
            evidence_rounds: 5,
            logins: 30,
            verifications: 2_000,
            mutations: 500,
            load_clients: 16,
            load_seconds: 20.0,
        }
    }
}

/// The corpus and the scripts are found from the current directory: run the suite from the repository root.
const CORPUS: &str = "../shared/corpus";
const PYTHON_BASELINE_SCRIPT: &str = "deploy/bench/ensure-python-baseline";
const WEB_DIST: &str = "web/dist";

/// Runs every benchmark, prints each one's own output as it goes and the table at the end; returns the figures.
pub async fn run(
    located: &Located,
    s3: Option<commands::evidence::store::S3Settings>,
    size: &SuiteSize,
) -> anyhow::Result<Vec<Figure>> {
    let started = Instant::now();
    let aegis = std::env::current_exe().context("cannot find the aegis executable")?;
    let corpus =
        std::env::var_os("AEGIS_CORPUS").map_or_else(|| PathBuf::from(CORPUS), PathBuf::from);
    let mut figures = Vec::new();
    let steps: [(&str, Step); 8] = [
        ("append", Step::Append),
        ("projector", Step::Projector),
        ("heatmap", Step::Heatmap),
        ("import", Step::Import),
        ("evidence", Step::Evidence),
        ("login", Step::Login),
        ("mutations", Step::Mutations),
        ("load", Step::Load),
    ];
    for (name, step) in steps {
        println!(
            "\n==> bench {name} ({:.0} s so far)",
            started.elapsed().as_secs_f64()
        );
        let scratch = ScratchDatabase::create_named(&located.owner_url, name).await?;
        let measured = step
            .run(&scratch, &aegis, &corpus, s3.clone(), size)
            .await
            .with_context(|| format!("bench {name}"));
        scratch.finish().await?;
        figures.extend(measured?);
    }
    figures.push(web_bundle(Path::new(WEB_DIST))?);
    println!(
        "\n==> every benchmark ran in {:.0} s ({} build)\n",
        started.elapsed().as_secs_f64(),
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        }
    );
    println!("{}", figures::table(&figures));
    Ok(figures)
}

#[derive(Debug, Clone, Copy)]
enum Step {
    Append,
    Projector,
    Heatmap,
    Import,
    Evidence,
    Login,
    Mutations,
    Load,
}

impl Step {
    async fn run(
        self,
        scratch: &ScratchDatabase,
        aegis: &Path,
        corpus: &Path,
        s3: Option<commands::evidence::store::S3Settings>,
        size: &SuiteSize,
    ) -> anyhow::Result<Vec<Figure>> {
        match self {
            Self::Append => append(scratch, size).await,
            Self::Projector => projector(scratch, size).await,
            Self::Heatmap => coverage(scratch, corpus, size).await,
            Self::Import => {
                let python = ensure_python_baseline()?;
                let args = imports::ImportArgs {
                    corpus: corpus.to_owned(),
                    runs: size.import_runs,
                    cases: size.import_cases.clone(),
                    baseline: python.is_some(),
                    python: python.unwrap_or_default(),
                    first_only: size.import_first_only,
                };
                imports::run(scratch, &args).await
            }
            Self::Evidence => super::evidence::run(scratch, s3, size.evidence_rounds).await,
            Self::Login => super::login(scratch, size.logins, 16, size.verifications).await,
            Self::Mutations => {
                super::mutations(
                    scratch,
                    size.mutations,
                    size.load_clients,
                    Duration::from_secs_f64(size.load_seconds),
                )
                .await
            }
            Self::Load => {
                super::load::server_under_load(aegis, scratch, size.load_clients, size.load_seconds)
                    .await
            }
        }
    }
}

/// The command layer against pgbench (in `append`), then against `COPY` of the same rows into the same table.
async fn append(scratch: &ScratchDatabase, size: &SuiteSize) -> anyhow::Result<Vec<Figure>> {
    let rates = super::append_rates(
        scratch,
        &[1, 4, 16],
        Duration::from_secs(size.append_seconds),
        size.users_per_writer,
    )
    .await?;
    let mut figures = super::append_figures(&rates);
    let copied = copy_rate(&scratch.pool, size.copy_rows).await?;
    println!(
        "raw COPY of {} events-like rows into events: {copied:.0} rows/s",
        size.copy_rows
    );
    if let Some(rate) = rates.iter().max_by_key(|rate| rate.writers) {
        figures.push(Figure::rate_versus(
            format!(
                "append, {} writers, against the bulk ceiling (one COPY of {} rows into events)",
                rate.writers,
                figures::number(size.copy_rows as f64)
            ),
            Measure::new(rate.commands, "events/s"),
            "COPY",
            Measure::new(copied, "rows/s"),
        ));
    }
    Ok(figures)
}

/// Catch-up from zero over generated events, against reading the same log as the projector reads it.
async fn projector(scratch: &ScratchDatabase, size: &SuiteSize) -> anyhow::Result<Vec<Figure>> {
    let rate = super::catch_up(
        scratch,
        size.projector_events,
        crate::config::DEFAULT_PROJECTOR_BATCH_SIZE,
    )
    .await?;
    let read = sequential_read_rate(&scratch.pool).await?;
    println!("sequential read of the same log in commit order: {read:.0} rows/s");
    Ok(vec![Figure::rate_versus(
        format!(
            "projector catch-up from zero, {} events",
            figures::number(size.projector_events as f64)
        ),
        Measure::new(rate, "events/s"),
        "sequential read of the log",
        Measure::new(read, "rows/s"),
    )])
}

/// The heatmap benchmark, explain and diff timed on its log while its snapshots are there, and the rebuild
/// against a sequential read of that log.
async fn coverage(
    scratch: &ScratchDatabase,
    corpus: &Path,
    size: &SuiteSize,
) -> anyhow::Result<Vec<Figure>> {
    let args = heatmap::HeatmapArgs {
        events: size.heatmap_events,
        techniques: 700,
        queries: size.heatmap_queries,
        corpus: corpus.to_owned(),
        batch_size: crate::config::DEFAULT_PROJECTOR_BATCH_SIZE,
        graphql_queries: size.graphql_queries,
    };
    let mut figures = heatmap::run(scratch, &args, async |end| {
        explain_and_diff(scratch, end, size.explain_queries).await
    })
    .await?;
    let read = sequential_read_rate(&scratch.pool).await?;
    println!("sequential read of the heatmap's log in commit order: {read:.0} rows/s");
    for figure in &mut figures {
        if figure.name.starts_with(heatmap::REBUILD_FIGURE)
            && let Some(ours) = figure.ours
        {
            *figure = Figure::rate_versus(
                figure.name.clone(),
                ours,
                "sequential read of the log",
                Measure::new(read, "rows/s"),
            )
            .target(figure.target.context("the rebuild figure has a target")?);
        }
    }
    Ok(figures)
}

/// `explainCoverage` of tested techniques and `coverageDiff` over the last weeks, through the GraphQL schema
/// with a viewer's token (checked per request, as over HTTP).
async fn explain_and_diff(
    scratch: &ScratchDatabase,
    end: DateTime<Utc>,
    count: usize,
) -> anyhow::Result<Vec<Figure>> {
    let pool = &scratch.pool;
    let (state, token, origin) = viewer(scratch).await?;
    let schema = crate::graphql::schema(&state);
    let tested: Vec<String> = sqlx::query_scalar(
        "SELECT technique FROM coverage_current GROUP BY technique ORDER BY count(*) DESC, technique LIMIT $1",
    )
    .bind(i64::try_from(count)?)
    .fetch_all(pool)
    .await
    .context("cannot list the tested techniques")?;
    if tested.is_empty() {
        bail!("the generated log tested no technique");
    }
    let execute = async |document: String| -> anyhow::Result<Duration> {
        let started = Instant::now();
        let authentication = state
            .identity
            .authenticator()
            .authenticate_token(&token)
            .await;
        let request = with_caller(
            &state,
            authentication,
            async_graphql::Request::new(document),
        )
        .data(origin);
        let response = schema.execute(request).await;
        let _json = serde_json::to_string(&response)?;
        let elapsed = started.elapsed();
        if !response.errors.is_empty() {
            bail!("{:?}", response.errors);
        }
        Ok(elapsed)
    };
    let mut explain = Vec::with_capacity(count);
    let mut diff = Vec::with_capacity(count);
    for index in 0..count {
        let technique = &tested[index % tested.len()];
        explain.push(
            execute(format!(
                r#"{{ explainCoverage(techniqueId: "{technique}") {{ at policy {{ version }}
                    cell {{ techniqueId score }} terms {{ total score }}
                    validations {{ testCaseId run outcome validatedAt counts }} rules {{ __typename }} }} }}"#
            ))
            .await?,
        );
        let weeks = i64::try_from(index % 12 + 1)?;
        let from = end - TimeDelta::weeks(weeks);
        diff.push(
            execute(format!(
                r#"{{ coverageDiff(from: "{}", to: "{}") {{ techniqueId change before after
                    causes {{ testCaseId outcome validatedAt }} }} }}"#,
                from.to_rfc3339(),
                end.to_rfc3339()
            ))
            .await?,
        );
    }
    let events: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(pool)
        .await?;
    let events = figures::number(events as f64);
    let mut figures = latency_figures(
        &format!("explainCoverage of a tested technique through GraphQL, {events} events"),
        &mut explain,
    );
    figures.extend(latency_figures(
        &format!("coverageDiff over the last 1–12 weeks through GraphQL, {events} events"),
        &mut diff,
    ));
    Ok(figures)
}

/// p50 and p99 rows, also printed.
fn latency_figures(name: &str, latencies: &mut [Duration]) -> Vec<Figure> {
    latencies.sort();
    let at = |p: usize| latencies[(latencies.len() * p / 100).min(latencies.len() - 1)];
    println!(
        "{name}: p50 {:.1} ms, p99 {:.1} ms ({} requests)",
        at(50).as_secs_f64() * 1000.0,
        at(99).as_secs_f64() * 1000.0,
        latencies.len()
    );
    vec![
        Figure::ours(format!("{name}, p50"), Measure::millis(at(50))),
        Figure::ours(format!("{name}, p99"), Measure::millis(at(99))),
    ]
}

/// The application over the scratch database and a viewer's session token, as a request carries it.
async fn viewer(
    scratch: &ScratchDatabase,
) -> anyhow::Result<(crate::state::AppState, String, RequestOrigin)> {
    let pool = &scratch.pool;
    let keys = std::sync::Arc::new(SigningKeys::ephemeral());
    let identity = Identity::new(
        pool.clone(),
        std::sync::Arc::new(SystemClock),
        Authenticator::new(keys, pool.clone()),
        IdentitySettings::default(),
    );
    let origin = RequestOrigin {
        correlation_id: Uuid::now_v7(),
        client_ip: None,
    };
    let (email, password) = ("explain.viewer@example.org", "a long benchmark passphrase");
    identity
        .create_user(
            origin,
            Actor::system("bench"),
            email,
            "Bench Viewer",
            std::collections::BTreeSet::from([Role::Viewer]),
            Some(password),
        )
        .await?;
    let token = identity.login(origin, email, password, None).await?.token;
    let state = crate::state::AppState::new(
        pool.clone(),
        crate::serve::projector(pool, crate::config::DEFAULT_PROJECTOR_BATCH_SIZE),
        identity,
        crate::state::WebSettings::default(),
    );
    Ok((state, token, origin))
}

/// One `COPY … FROM STDIN` of `rows` rows shaped like the append benchmark's events (same table, indexes and
/// triggers), in rows per second: the bulk-write ceiling of this server.
async fn copy_rate(pool: &PgPool, rows: u64) -> anyhow::Result<f64> {
    const CHUNK: u64 = 10_000;
    let mut connection = pool.acquire().await?;
    let started = Instant::now();
    let mut copy = connection
        .copy_in_raw(
            "COPY events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata,
                          prev_hash, hash) FROM STDIN",
        )
        .await?;
    let mut sent = 0;
    while sent < rows {
        let mut chunk = String::with_capacity(usize::try_from(CHUNK)? * 420);
        for row in sent..(sent + CHUNK).min(rows) {
            use std::fmt::Write as _;
            let _ = writeln!(
                chunk,
                "User\tcopy-{}\t{}\tUserDisplayNameChanged\t1\t{{\"DisplayNameChanged\":{{\"display_name\":\"Bench {row}\"}}}}\t\
                 {{\"actor_id\":\"0190d6c4-3b7a-7cc2-9a4e-2f5f1d0c9b11\",\"actor_roles\":\"admin\",\
                 \"correlation_id\":\"{}\",\"occurred_at\":\"2026-11-28T10:00:00.000000Z\"}}\t\\\\x{:064x}\t\\\\x{:064x}",
                row / 10,
                row % 10 + 1,
                Uuid::from_u128(u128::from(row)),
                row,
                row + 1
            );
        }
        copy.send(chunk.into_bytes()).await?;
        sent = (sent + CHUNK).min(rows);
    }
    let copied = copy.finish().await?;
    let rate = copied as f64 / started.elapsed().as_secs_f64();
    if copied != rows {
        bail!("COPY wrote {copied} rows of {rows}");
    }
    Ok(rate)
}

/// Reads the whole log as the projector does (batches of 20,000 in commit order, every column decoded, the
/// JSON parsed) and does nothing with it, in rows per second: the read ceiling of a catch-up or a rebuild.
async fn sequential_read_rate(pool: &PgPool) -> anyhow::Result<f64> {
    let mut connection = pool.acquire().await?;
    let started = Instant::now();
    let (mut after, mut rows) = ((0_i64, 0_i64), 0_u64);
    loop {
        let batch = sqlx::query(
            "SELECT global_seq, tx_id::text::bigint AS tx_id, aggregate_type, aggregate_id, sequence,
                    event_type, event_version, payload, metadata, recorded_at
               FROM events
              WHERE (tx_id, global_seq) > ($1::text::xid8, $2)
                AND tx_id < pg_snapshot_xmin(pg_current_snapshot())
              ORDER BY events.tx_id, events.global_seq
              LIMIT 20000",
        )
        .bind(after.0.to_string())
        .bind(after.1)
        .fetch_all(&mut *connection)
        .await?;
        let Some(last) = batch.last() else {
            break;
        };
        for row in &batch {
            let _decoded: (
                i64,
                i64,
                String,
                String,
                i64,
                String,
                String,
                serde_json::Value,
                serde_json::Value,
                DateTime<Utc>,
            ) = (
                row.try_get(0)?,
                row.try_get(1)?,
                row.try_get(2)?,
                row.try_get(3)?,
                row.try_get(4)?,
                row.try_get(5)?,
                row.try_get(6)?,
                row.try_get(7)?,
                row.try_get(8)?,
                row.try_get(9)?,
            );
        }
        after = (last.try_get(1)?, last.try_get(0)?);
        rows += batch.len() as u64;
    }
    if rows == 0 {
        bail!("the log is empty: nothing to read");
    }
    Ok(rows as f64 / started.elapsed().as_secs_f64())
}

/// `deploy/bench/ensure-python-baseline` (from a checkout): the venv's Python, or None with a warning when the
/// script is not there.
fn ensure_python_baseline() -> anyhow::Result<Option<PathBuf>> {
    if let Some(python) = std::env::var_os("AEGIS_BENCH_PYTHON") {
        return Ok(Some(PathBuf::from(python)));
    }
    if !Path::new(PYTHON_BASELINE_SCRIPT).exists() {
        eprintln!(
            "{PYTHON_BASELINE_SCRIPT} is not here (run the suite from the repository root): no Python baseline"
        );
        return Ok(None);
    }
    let output = std::process::Command::new(PYTHON_BASELINE_SCRIPT)
        .stderr(std::process::Stdio::inherit())
        .output()
        .with_context(|| format!("cannot run {PYTHON_BASELINE_SCRIPT}"))?;
    if !output.status.success() {
        bail!("{PYTHON_BASELINE_SCRIPT} failed ({})", output.status);
    }
    let python = String::from_utf8(output.stdout)?.trim().to_owned();
    Ok(Some(PathBuf::from(python)))
}

/// The gzip size of what the browser loads first: the scripts and module preloads `index.html` names.
fn web_bundle(dist: &Path) -> anyhow::Result<Figure> {
    const NAME: &str =
        "web: initial JavaScript, gzip -9 (the scripts and module preloads index.html names)";
    let index = dist.join("index.html");
    let Ok(html) = std::fs::read_to_string(&index) else {
        return Ok(Figure::missing(NAME, "not built (cd web && npm run build)"));
    };
    let mut total = 0_u64;
    let mut raw = 0_u64;
    for asset in initial_scripts(&html) {
        let path = dist.join(asset.trim_start_matches('/'));
        let output = std::process::Command::new("gzip")
            .args(["-9", "-c"])
            .arg(&path)
            .output()
            .with_context(|| format!("cannot run gzip on {}", path.display()))?;
        if !output.status.success() {
            bail!("gzip {} failed", path.display());
        }
        total += output.stdout.len() as u64;
        raw += std::fs::metadata(&path)?.len();
    }
    Ok(
        Figure::ours(NAME, Measure::new(total as f64 / 1000.0, "kB")).note(format!(
            "{} kB before compression",
            figures::number(raw as f64 / 1000.0)
        )),
    )
}

/// The `src` of module scripts and the `href` of module preloads in `index.html`, in order.
fn initial_scripts(html: &str) -> Vec<String> {
    let mut scripts = Vec::new();
    for tag in html.split('<').skip(1) {
        let tag = tag.split('>').next().unwrap_or_default();
        let attribute = if tag.starts_with("script") && tag.contains("type=\"module\"") {
            "src=\""
        } else if tag.starts_with("link") && tag.contains("rel=\"modulepreload\"") {
            "href=\""
        } else {
            continue;
        };
        if let Some(value) = tag
            .split_once(attribute)
            .and_then(|(_, rest)| rest.split_once('"'))
            .map(|(value, _)| value)
            && Path::new(value)
                .extension()
                .is_some_and(|extension| extension.eq_ignore_ascii_case("js"))
        {
            scripts.push(value.to_owned());
        }
    }
    scripts
}

#[cfg(test)]
mod tests {
    use super::initial_scripts;

    #[test]
    fn the_initial_scripts_are_the_module_script_and_its_preloads() {
        let html = r#"<!doctype html><html><head>
            <script type="module" crossorigin src="/assets/index-Bx1.js"></script>
            <link rel="modulepreload" crossorigin href="/assets/vendor-C2.js">
            <link rel="stylesheet" crossorigin href="/assets/index-D3.css">
            <link rel="icon" href="/favicon.svg"></head><body><div id="root"></div></body></html>"#;
        assert_eq!(
            initial_scripts(html),
            ["/assets/index-Bx1.js", "/assets/vendor-C2.js"]
        );
    }
}
