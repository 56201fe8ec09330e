//! `aegis bench heatmap`: the coverage figures — the live heatmap of the whole Enterprise matrix as the log grows,
//! the heatmap at past moments with and without the weekly snapshots, a rebuild of every read model, and the
//! read models' size on disk.
//!
//! The catalog is the real one: the corpus' ATT&CK Enterprise bundle, Sigma rules, atomics and Sysmon
//! configuration, imported with `importers` into the scratch database and dated to before the simulated history
//! (an import is dated when it runs, and a heatmap at a past moment shows the catalog as it was then). The log is
//! two simulated years of a purple team at work: users, one scoring policy with a half-life (changed once), rule
//! deployments and retirements, a snapshot every week as the scheduler takes them, and test cases that each go
//! through the whole workflow, some reopened and approved again, mostly on Atomic tests reused across test cases
//! so that procedures trend. Events are the serde JSON of real domain events with the metadata the command layer
//! writes, inserted in batches (hashes do not matter to projections), in time order; the real projector reads
//! them and the heatmaps come from `projections::heatmap` directly, plus one through the GraphQL schema.

use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap, HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use commands::context::{Actor, SystemClock};
use domain::coverage_snapshot::{CoverageSnapshotEvent, SNAPSHOTS_AGGREGATE_ID, SnapshotKind};
use domain::detection_rule::{DetectionRuleEvent, RuleChangeReason, RuleId, RuleRef, RuleSource};
use domain::role::Role;
use domain::scoring::{
    ChangeReason, PolicyName, PolicySettings, PolicySettingsDraft, ScoringPolicyEvent,
};
use domain::test_case::{
    DefenseOutcome, Execution, Note, Outcome, Plan, Platform, ProcedureSource, Severity, Tag,
    Target, TechniqueId, TestCaseEvent, Text, Title, ToolName,
};
use domain::user::{DisplayName, Email, UserEvent};
use importers::catalog;
use importers::import::{self, Location};
use importers::source::Source;
use projections::coverage::ResultFilter;
use projections::heatmap::{self, HeatmapCache, HeatmapQuery};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

use super::ScratchDatabase;
use super::cpu::{CpuReading, CpuSpent};
use super::figures::{Figure, Goal, Measure};
use crate::auth::identity::{Identity, IdentitySettings, RequestOrigin};
use crate::auth::session::Authenticator;
use crate::auth::tokens::SigningKeys;
use crate::graphql::guard::with_caller;
use crate::serve::projector;

const SCOPE: &str = "enterprise-attack";
/// The simulated history: two years, ending about now.
const HISTORY_DAYS: i64 = 730;
/// Log sizes the live heatmap is measured at on the way to `--events`.
const STAGES: [u64; 3] = [10_000, 100_000, 1_000_000];
/// Events per INSERT (and per transaction) while generating.
const INSERT_BATCH: usize = 5_000;
/// Sigma rules deployed over the history.
const DEPLOYED_RULES: usize = 300;
/// GraphQL requests timed (each next to a direct call).
const GRAPHQL_QUERIES: usize = 20;
const BENCH_PASSWORD: &str = "a long benchmark passphrase";

#[derive(Debug, Clone, clap::Args)]
pub struct HeatmapArgs {
    /// Events in the generated log; the live heatmap is also measured at 10,000 and 100,000 on the way.
    #[arg(long, default_value_t = 1_000_000)]
    pub events: u64,
    /// How many of the bundle's active techniques and sub-techniques the test cases are spread over (all when
    /// the bundle has fewer).
    #[arg(long, default_value_t = 700)]
    pub techniques: usize,
    /// Heatmaps per measurement, for the percentiles (five times as many of the live heatmap as the
    /// server answers it).
    #[arg(long, default_value_t = 200)]
    pub queries: usize,
    /// The upstream corpus: a folder holding mitre-attack/, sigma/, atomic-red-team/ and sysmon-config/.
    #[arg(long, default_value = "../shared/corpus")]
    pub corpus: PathBuf,
    /// Events per projector transaction.
    #[arg(long, default_value_t = crate::config::DEFAULT_PROJECTOR_BATCH_SIZE)]
    pub batch_size: i64,
    /// Whole heatmaps timed through the GraphQL schema.
    #[arg(long, default_value_t = GRAPHQL_QUERIES)]
    pub graphql_queries: usize,
}

/// The name of the rebuild figure, to which `aegis bench all` adds its ceiling.
pub const REBUILD_FIGURE: &str = "rebuild of every read model from the heatmap's log";
/// The target of the live heatmap as the server answers it, and of `asOf` (p99, ms).
const LIVE_P99_TARGET_MS: f64 = 20.0;
const AS_OF_P99_TARGET_MS: f64 = 300.0;
/// How much the served heatmap's p99 may grow from the smallest log to the largest.
const FLATNESS_TARGET: f64 = 1.5;
/// The served heatmap takes about a millisecond, so it is timed this many times more often than the others:
/// its p99 is then the tenth slowest of a thousand rather than the second of two hundred, which any pause of the
/// machine decides.
const SERVED_SAMPLES: usize = 5;
const REBUILD_TARGET: f64 = 30_000.0;
/// The CPU per event that [`REBUILD_TARGET`] leaves on this machine's two cores.
const REBUILD_CPU_TARGET_MICROS: f64 = 2.0 * 1e6 / REBUILD_TARGET;

/// Prints the figures and returns them; `with_snapshots` measures more on the generated log (its end given)
/// while the weekly snapshots are still there, and its figures join the others.
#[allow(
    clippy::too_many_lines,
    reason = "the benchmark's steps in order, each a call"
)]
pub async fn run(
    scratch: &ScratchDatabase,
    args: &HeatmapArgs,
    with_snapshots: impl AsyncFnOnce(DateTime<Utc>) -> anyhow::Result<Vec<Figure>>,
) -> anyhow::Result<Vec<Figure>> {
    let pool = &scratch.pool;
    let kept: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(pool)
        .await?;
    if kept > 0 {
        return measure_kept(scratch, args, kept.unsigned_abs()).await;
    }
    let now = Utc::now();
    let start = (now - TimeDelta::days(HISTORY_DAYS))
        .date_naive()
        .and_hms_opt(0, 0, 0)
        .context("midnight exists")?
        .and_utc();
    let catalog = seed_catalog(pool, &args.corpus, start, args.techniques).await?;

    let mut generator = Generator::new(catalog, start, args.events)?;
    let projector = projector(pool, args.batch_size);
    let mut stages: Vec<u64> = STAGES
        .into_iter()
        .filter(|stage| *stage < args.events)
        .collect();
    stages.push(args.events);
    let mut rows = vec![Row::header()];
    let mut figures = Vec::new();
    let (mut read_p99, mut served) = (Vec::new(), Vec::new());
    let events = grow(
        pool,
        &mut generator,
        &projector,
        &stages,
        args.queries,
        |stage, live| {
            read_p99.push((stage, percentile(&live.read, 99)));
            served.push((stage, live.cached.clone()));
            rows.push(Row::latencies(LIVE_READ, stage, &live.read));
            rows.push(Row::latencies(LIVE_CACHED, stage, &live.cached));
            figures.extend(live_figures(stage, live));
        },
    )
    .await?;
    let end = generator.clock;

    // The same random moments with and without snapshots.
    let mut moments_rng = StdRng::seed_from_u64(7);
    let span = (end - start).num_seconds();
    let moments: Vec<DateTime<Utc>> = (0..args.queries)
        .map(|_| start + TimeDelta::seconds(moments_rng.gen_range(86_400..span.max(86_401))))
        .collect();
    let as_of = time_heatmaps(pool, None, args.queries, |index| {
        query(Some(moments[index]), moments[index])
    })
    .await?;
    let snapshots_kept: i64 = sqlx::query_scalar("SELECT count(*) FROM coverage_snapshots")
        .fetch_one(pool)
        .await?;
    rows.push(Row::latencies(
        &format!("heatmap(asOf), random moments, {snapshots_kept} weekly snapshots kept"),
        events,
        &as_of,
    ));
    let as_of_name = format!(
        "heatmap(asOf) at random moments, {} events, {snapshots_kept} weekly snapshots",
        thousands(events)
    );
    figures.extend(p50_p99(&as_of_name, &as_of, Some(AS_OF_P99_TARGET_MS)));
    figures.extend(with_snapshots(end).await?);

    let graphql = time_graphql(scratch, end, args.graphql_queries).await?;
    for (kind, times) in [
        ("every field", &graphql.every_field),
        (
            "the web grid's query, five fields per cell",
            &graphql.web_grid,
        ),
    ] {
        figures.push(Figure::growth_versus(
            format!(
                "one live heatmap through the GraphQL schema ({kind}), {} events, p50",
                thousands(events)
            ),
            Measure::millis(percentile(times, 50)),
            "the same heatmap called directly",
            Measure::millis(percentile(&graphql.direct, 50)),
        ));
    }

    let live_sizes = sizes(pool).await?;
    let (rebuild_seconds, rebuild_cpu, rebuilds) = time_rebuilds(pool, &projector, events).await?;
    figures.push(
        Figure::ours(
            format!("{REBUILD_FIGURE} ({} events)", thousands(events)),
            Measure::new(events as f64 / rebuild_seconds, "events/s"),
        )
        .target(Goal::AtLeast(REBUILD_TARGET)),
    );
    figures.extend(rebuild_cpu.map(|micros| {
        Figure::ours(
            "rebuild's CPU per event, this process and PostgreSQL (wall-clock free; 30,000 events/s on 2 cores leaves 66)",
            Measure::new(micros, "µs"),
        )
        .target(Goal::AtMost(REBUILD_CPU_TARGET_MICROS))
    }));
    let rebuilt_sizes = sizes(pool).await?;
    let read_models: i64 = rebuilt_sizes
        .iter()
        .filter(|(name, _)| !name.starts_with("events"))
        .map(|(_, bytes)| bytes)
        .sum();
    figures.push(Figure::ours(
        "read models on disk after the rebuild, per 1,000,000 events",
        Measure::new(
            read_models as f64 / 1_048_576.0 * 1_000_000.0 / events as f64,
            "MiB",
        ),
    ));

    sqlx::query("TRUNCATE coverage_snapshots")
        .execute(pool)
        .await?;
    let without = time_heatmaps(pool, None, args.queries, |index| {
        query(Some(moments[index]), moments[index])
    })
    .await?;
    rows.push(Row::latencies(
        "heatmap(asOf), same moments, no snapshots",
        events,
        &without,
    ));
    figures.extend(p50_p99(
        &format!(
            "heatmap(asOf) at the same moments, {} events, no snapshots",
            thousands(events)
        ),
        &without,
        None,
    ));
    figures.extend(growth(&served, 50, None));
    figures.extend(growth(&served, 99, Some(FLATNESS_TARGET)));

    rows.push(Row::ratio(LIVE_READ, &read_p99));
    let served_p99: Vec<(u64, Duration)> = served
        .iter()
        .map(|(stage, latencies)| (*stage, percentile(latencies, 99)))
        .collect();
    rows.push(Row::ratio(LIVE_CACHED, &served_p99));
    println!();
    for row in &rows {
        println!("{row}");
    }
    println!("{graphql}");
    println!("{rebuilds}");
    print_sizes(&live_sizes, &rebuilt_sizes, events);
    Ok(figures)
}

/// The live heatmap's p50 and p99 at one log size, both ways; the served one has a target.
fn live_figures(stage: u64, live: &LiveLatencies) -> Vec<Figure> {
    let mut figures = p50_p99(
        &format!(
            "live heatmap as the server answers, {} events",
            thousands(stage)
        ),
        &live.cached,
        Some(LIVE_P99_TARGET_MS),
    );
    figures.extend(p50_p99(
        &format!(
            "live heatmap, every input read again (first request after a change), {} events",
            thousands(stage)
        ),
        &live.read,
        None,
    ));
    figures
}

/// Two rows, p50 and p99; the p99 row carries the target when there is one.
fn p50_p99(name: &str, latencies: &[Duration], p99_target_ms: Option<f64>) -> Vec<Figure> {
    let p99 = Figure::ours(
        format!("{name}, p99"),
        Measure::millis(percentile(latencies, 99)),
    );
    vec![
        Figure::ours(
            format!("{name}, p50"),
            Measure::millis(percentile(latencies, 50)),
        ),
        match p99_target_ms {
            Some(target) => p99.target(Goal::AtMost(target)),
            None => p99,
        },
    ]
}

/// The served heatmap's `p`th percentile at the largest log over the smallest's: flat is 1. The p50 shows how the
/// work grows; the p99, which the target is on, also how often the machine pauses.
fn growth(served: &[(u64, Vec<Duration>)], p: usize, target: Option<f64>) -> Option<Figure> {
    let ((first, first_latencies), (last, last_latencies)) = (served.first()?, served.last()?);
    (first != last).then(|| {
        let figure = Figure::growth_versus(
            format!(
                "live heatmap as the server answers, p{p} growth from {} to {} events",
                thousands(*first),
                thousands(*last)
            ),
            Measure::millis(percentile(last_latencies, p)),
            format!("p{p} at {} events", thousands(*first)),
            Measure::millis(percentile(first_latencies, p)),
        );
        match target {
            Some(ratio) => figure.target(Goal::RatioAtMost(ratio)),
            None => figure,
        }
    })
}

fn thousands(count: u64) -> String {
    super::figures::number(count as f64)
}

/// The live heatmap, one through GraphQL and the rebuilds, on a database generated by an earlier run
/// (`AEGIS_BENCH_DATABASE`), at the moment its history ends.
async fn measure_kept(
    scratch: &ScratchDatabase,
    args: &HeatmapArgs,
    events: u64,
) -> anyhow::Result<Vec<Figure>> {
    let pool = &scratch.pool;
    let projector = projector(pool, args.batch_size);
    projector.catch_up().await?;
    let at: DateTime<Utc> =
        sqlx::query_scalar("SELECT max((metadata->>'occurred_at')::timestamptz) FROM events")
            .fetch_one(pool)
            .await?;
    let live = time_live(pool, at, args.queries).await?;
    println!("{}", Row::header());
    println!("{}", Row::latencies(LIVE_READ, events, &live.read));
    println!("{}", Row::latencies(LIVE_CACHED, events, &live.cached));
    println!("{}", time_graphql(scratch, at, args.graphql_queries).await?);
    if std::env::var_os("AEGIS_BENCH_SKIP_REBUILD").is_none() {
        println!("{}", time_rebuilds(pool, &projector, events).await?.2);
    }
    Ok(live_figures(events, &live))
}

/// Whole heatmaps through the GraphQL schema, asking for every field or for what the web grid shows, each in turn
/// with a direct call through the same cache.
struct GraphqlTimes {
    every_field: Vec<Duration>,
    web_grid: Vec<Duration>,
    direct: Vec<Duration>,
}

impl std::fmt::Display for GraphqlTimes {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let direct = percentile(&self.direct, 50);
        write!(
            formatter,
            "one live heatmap through the GraphQL schema (token check, resolvers, JSON), {} in turn with direct \
             calls: every field p50 {:.1} ms, the web grid's query p50 {:.1} ms, direct p50 {:.1} ms (GraphQL \
             {:.2}× and {:.2}×)",
            self.direct.len(),
            millis(percentile(&self.every_field, 50)),
            millis(percentile(&self.web_grid, 50)),
            millis(direct),
            percentile(&self.every_field, 50).as_secs_f64() / direct.as_secs_f64(),
            percentile(&self.web_grid, 50).as_secs_f64() / direct.as_secs_f64(),
        )
    }
}

/// Rebuilds every read model at once, then each alone so the slow one shows (every rebuild reads the whole
/// log); returns the first's seconds and CPU per event (µs, when `/proc` tells), and the figures as text.
async fn time_rebuilds(
    pool: &PgPool,
    projector: &projections::projector::Projector,
    events: u64,
) -> anyhow::Result<(f64, Option<f64>, String)> {
    let cpu_per_event = |spent: CpuSpent| spent.total().as_secs_f64() * 1e6 / events as f64;
    let (all, all_cpu) = time_rebuild(pool, projector, None).await?;
    let mut rates = Vec::new();
    for name in projector.names() {
        let (seconds, cpu) = time_rebuild(pool, projector, Some(name)).await?;
        let cpu = cpu.map_or_else(String::new, |cpu| {
            format!(" ({:.1} µs CPU/event)", cpu_per_event(cpu))
        });
        rates.push(format!("{name} {:.0}{cpu}", events as f64 / seconds));
    }
    let all_cpu_text = all_cpu.map_or_else(String::new, |cpu| {
        format!(
            "; CPU {:.1} µs/event (this process {:.1}, PostgreSQL {:.1})",
            cpu_per_event(cpu),
            cpu.client.as_secs_f64() * 1e6 / events as f64,
            cpu.server.as_secs_f64() * 1e6 / events as f64
        )
    });
    Ok((
        all,
        all_cpu.map(cpu_per_event),
        format!(
            "rebuild of every read model ({}): {events} events in {all:.1} s = {:.0} events/s{all_cpu_text}\n\
             rebuild of one read model at a time, events/s: {}",
            projector.names().join(" + "),
            events as f64 / all,
            rates.join("; ")
        ),
    ))
}

/// One rebuild's wall seconds and CPU.
async fn time_rebuild(
    pool: &PgPool,
    projector: &projections::projector::Projector,
    name: Option<&str>,
) -> anyhow::Result<(f64, Option<CpuSpent>)> {
    let before = CpuReading::now(pool).await?;
    let started = Instant::now();
    projector.rebuild(name).await?;
    let seconds = started.elapsed().as_secs_f64();
    let after = CpuReading::now(pool).await?;
    Ok((
        seconds,
        before
            .zip(after)
            .map(|(before, after)| after.since(&before)),
    ))
}

/// Writes the log up to each of `stages` in turn, lets the projector catch up, and times live heatmaps at each;
/// returns the events written.
async fn grow(
    pool: &PgPool,
    generator: &mut Generator,
    projector: &projections::projector::Projector,
    stages: &[u64],
    queries: usize,
    mut measured: impl FnMut(u64, &LiveLatencies),
) -> anyhow::Result<u64> {
    let mut writer = Writer::new(pool);
    let mut generating = Duration::ZERO;
    let mut catching_up = Duration::ZERO;
    for &stage in stages {
        let started = Instant::now();
        while writer.written + writer.buffered() < stage {
            let event = generator.next_event()?;
            writer.push(event).await?;
        }
        writer.flush().await?;
        generating += started.elapsed();
        let started = Instant::now();
        projector.catch_up().await?;
        catching_up += started.elapsed();
        // What autovacuum would have done by now on a live server.
        sqlx::query("ANALYZE").execute(pool).await?;
        measured(stage, &time_live(pool, generator.clock, queries).await?);
    }
    println!(
        "generated {} events in {:.1} s ({} test cases, {} approvals, {} reopened, {} weekly snapshots, \
         {:.0} simulated days); projector caught up in {:.1} s",
        writer.written,
        generating.as_secs_f64(),
        generator.planned,
        generator.approved,
        generator.reopened,
        generator.snapshots,
        (generator.clock - generator.start).as_seconds_f64() / 86_400.0,
        catching_up.as_secs_f64()
    );
    Ok(writer.written)
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

fn percentile(latencies: &[Duration], p: usize) -> Duration {
    let mut sorted = latencies.to_vec();
    sorted.sort();
    sorted[(sorted.len() * p / 100).min(sorted.len() - 1)]
}

/// One line of the result table.
struct Row(String);

impl Row {
    fn header() -> Self {
        Self(format!(
            "{:<62} {:>10} {:>9} {:>9}",
            "figure", "events", "p50 ms", "p99 ms"
        ))
    }

    fn latencies(name: &str, events: u64, latencies: &[Duration]) -> Self {
        Self(format!(
            "{name:<62} {events:>10} {:>9.1} {:>9.1}",
            millis(percentile(latencies, 50)),
            millis(percentile(latencies, 99))
        ))
    }
}

impl Row {
    /// The newest live p99 over the first one: flat is 1.
    fn ratio(name: &str, live_p99: &[(u64, Duration)]) -> Self {
        match (live_p99.first(), live_p99.last()) {
            (Some((first, first_p99)), Some((last, last_p99))) => Self(format!(
                "{name}: p99 at {last} events / at {first} events: {:.2}×",
                last_p99.as_secs_f64() / first_p99.as_secs_f64()
            )),
            _ => Self(String::new()),
        }
    }
}

impl std::fmt::Display for Row {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(&self.0)
    }
}

fn query(as_of: Option<DateTime<Utc>>, at: DateTime<Utc>) -> HeatmapQuery {
    HeatmapQuery {
        scope: SCOPE.to_owned(),
        filter: ResultFilter::default(),
        threat_actor: None,
        as_of,
        policy_id: None,
        at,
    }
}

const LIVE_READ: &str = "live heatmap (Enterprise, whole matrix), inputs read every time";
const LIVE_CACHED: &str =
    "live heatmap, as the server answers (inputs kept while the log stands still)";

/// The live heatmap timed both ways.
struct LiveLatencies {
    /// Every input read from the database for each heatmap: the cost after each change to the log.
    read: Vec<Duration>,
    /// Through a [`HeatmapCache`], as GraphQL answers: one small query, then scoring at the time asked.
    cached: Vec<Duration>,
}

async fn time_live(
    pool: &PgPool,
    at: DateTime<Utc>,
    count: usize,
) -> anyhow::Result<LiveLatencies> {
    Ok(LiveLatencies {
        read: time_heatmaps(pool, None, count, |_| query(None, at)).await?,
        cached: time_heatmaps(
            pool,
            Some(&HeatmapCache::default()),
            count * SERVED_SAMPLES,
            |_| query(None, at),
        )
        .await?,
    })
}

/// `count` heatmaps one after another (after two to warm the pool), each timed; through `cache` when given,
/// as the server answers them, else each reading all its inputs.
async fn time_heatmaps(
    pool: &PgPool,
    cache: Option<&HeatmapCache>,
    count: usize,
    query_of: impl Fn(usize) -> HeatmapQuery,
) -> anyhow::Result<Vec<Duration>> {
    let heatmap = async |query: &HeatmapQuery| match cache {
        Some(cache) => heatmap::heatmap_cached(pool, cache, query).await,
        None => heatmap::heatmap(pool, query).await,
    };
    for index in 0..2.min(count) {
        heatmap(&query_of(index)).await?;
    }
    let mut latencies = Vec::with_capacity(count);
    for index in 0..count {
        let query = query_of(index);
        let started = Instant::now();
        let heatmap = heatmap(&query).await?;
        latencies.push(started.elapsed());
        if heatmap.techniques.is_empty() {
            bail!("the heatmap at {:?} has no techniques", query.as_of);
        }
    }
    Ok(latencies)
}

/// The whole live heatmap as a screen asks for it, through the schema with a viewer's token (verified per
/// request, as over HTTP), in turn with direct calls through the same cache: what GraphQL adds.
async fn time_graphql(
    scratch: &ScratchDatabase,
    at: DateTime<Utc>,
    count: usize,
) -> anyhow::Result<GraphqlTimes> {
    const HEATMAP: &str = "{ heatmap { domain at policy { policyId version } scoredTechniques techniques
        columns { tacticId tactic shortname cells { ...cell subTechniques { ...cell } } } } }
        fragment cell on CoverageCell { techniqueId name score ownScore stale best worst
        testsByOutcome { outcome procedures } procedures { procedure testCaseId run outcome validatedAt }
        deployedRules telemetryVisibility actorPrevalence lastValidatedAt }";
    // What `web/src/pages/HeatmapPage.tsx` asks for: a cell's procedures and the rest come with its drawer.
    const WEB_GRID: &str =
        "{ heatmap { at domain scoredTechniques techniques policy { policyId version }
        columns { tacticId tactic cells { techniqueId name score stale best
        subTechniques { techniqueId name score stale best } } } } }";
    let pool = &scratch.pool;
    let keys = Arc::new(SigningKeys::ephemeral());
    let authenticator = Authenticator::new(Arc::clone(&keys), pool.clone());
    let identity = Identity::new(
        pool.clone(),
        Arc::new(SystemClock),
        authenticator,
        IdentitySettings::default(),
    );
    let origin = RequestOrigin {
        correlation_id: Uuid::now_v7(),
        client_ip: None,
    };
    // A new address each run: a kept database is measured again.
    let email = format!("viewer-{}@example.org", Uuid::now_v7().simple());
    identity
        .create_user(
            origin,
            Actor::system("bench"),
            &email,
            "Bench Viewer",
            BTreeSet::from([Role::Viewer]),
            Some(BENCH_PASSWORD),
        )
        .await?;
    let token = identity
        .login(origin, &email, BENCH_PASSWORD, None)
        .await?
        .token;
    let state = crate::state::AppState::new(
        pool.clone(),
        projector(pool, crate::config::DEFAULT_PROJECTOR_BATCH_SIZE),
        identity,
        crate::state::WebSettings::default(),
    );
    let schema = crate::graphql::schema(&state);
    // As the HTTP handler does for every request: verify the token, then attach the caller.
    let request = async |query: &str| {
        let authentication = state
            .identity
            .authenticator()
            .authenticate_token(&token)
            .await;
        with_caller(&state, authentication, async_graphql::Request::new(query)).data(origin)
    };
    for query in [HEATMAP, WEB_GRID] {
        let response = schema.execute(request(query).await).await;
        if !response.errors.is_empty() {
            bail!("the heatmap query failed: {:?}", response.errors);
        }
    }
    let time_one = async |query: &str| -> anyhow::Result<Duration> {
        let started = Instant::now();
        let response = schema.execute(request(query).await).await;
        let _json = serde_json::to_string(&response)?;
        Ok(started.elapsed())
    };
    let mut times = GraphqlTimes {
        every_field: Vec::with_capacity(count),
        web_grid: Vec::with_capacity(count),
        direct: Vec::with_capacity(count),
    };
    for _ in 0..count {
        times.every_field.push(time_one(HEATMAP).await?);
        times.web_grid.push(time_one(WEB_GRID).await?);
        let started = Instant::now();
        heatmap::heatmap_cached(pool, &state.heatmaps, &query(None, at)).await?;
        times.direct.push(started.elapsed());
    }
    Ok(times)
}

/// Bytes on disk (with indexes and TOAST) per projection, and of the event log.
async fn sizes(pool: &PgPool) -> anyhow::Result<Vec<(String, i64)>> {
    let mut sizes = Vec::new();
    for projection in projections::all() {
        let mut bytes = 0;
        for table in projection.tables() {
            let size: i64 = sqlx::query_scalar("SELECT pg_total_relation_size($1::regclass)")
                .bind(*table)
                .fetch_one(pool)
                .await?;
            bytes += size;
        }
        sizes.push((projection.name().to_owned(), bytes));
    }
    let events: i64 = sqlx::query_scalar("SELECT pg_total_relation_size('events')")
        .fetch_one(pool)
        .await?;
    sizes.push(("events (the log, for reference)".to_owned(), events));
    Ok(sizes)
}

fn print_sizes(live: &[(String, i64)], rebuilt: &[(String, i64)], events: u64) {
    let per_million = |bytes: i64| bytes as f64 / 1_048_576.0 * 1_000_000.0 / events as f64;
    println!(
        "read-model size on disk, MB per 1,000,000 events (live catch-up / after the rebuild):"
    );
    let mut totals = (0, 0);
    for ((name, live), (_, rebuilt)) in live.iter().zip(rebuilt) {
        println!(
            "  {name:<34} {:>8.1} {:>8.1}",
            per_million(*live),
            per_million(*rebuilt)
        );
        if !name.starts_with("events") {
            totals = (totals.0 + live, totals.1 + rebuilt);
        }
    }
    println!(
        "  {:<34} {:>8.1} {:>8.1}",
        "all read models",
        per_million(totals.0),
        per_million(totals.1)
    );
}

/// What the generator needs from the imported catalog.
struct Catalog {
    /// The techniques test cases are planned against, most tested first.
    techniques: Vec<String>,
    /// The Atomic tests of each technique.
    atomics: HashMap<String, Vec<Uuid>>,
    /// Sigma rules naming a tested technique, to deploy.
    rules: Vec<RuleRef>,
}

/// Imports the corpus' Enterprise bundle, Sigma rules, atomics and Sysmon configuration, dated `imported`.
async fn import_corpus(
    pool: &PgPool,
    corpus: &std::path::Path,
    imported: DateTime<Utc>,
) -> anyhow::Result<()> {
    for (source, path) in [
        (Source::Attack, "mitre-attack/enterprise-attack.json"),
        (Source::Sigma, "sigma"),
        (Source::Atomic, "atomic-red-team"),
        (Source::Sysmon, "sysmon-config"),
    ] {
        let path = corpus.join(path);
        if !path.exists() {
            bail!(
                "{} is missing: the benchmark imports the corpus (--corpus)",
                path.display()
            );
        }
        let location = Location::Path(path);
        let run_id = catalog::begin_run(pool, source, &[location.as_text()], None).await?;
        import::run(pool, run_id, source, &[location], &|_| {}).await?;
    }
    sqlx::query("UPDATE catalog_records SET valid_from = $1")
        .bind(imported)
        .execute(pool)
        .await?;
    sqlx::query("UPDATE import_runs SET started_at = $1, finished_at = $1")
        .bind(imported)
        .execute(pool)
        .await?;

    Ok(())
}

/// The catalog as imported from the corpus, dated to the day before `start`, and what the generator uses of it.
async fn seed_catalog(
    pool: &PgPool,
    corpus: &std::path::Path,
    start: DateTime<Utc>,
    technique_count: usize,
) -> anyhow::Result<Catalog> {
    let started = Instant::now();
    import_corpus(pool, corpus, start - TimeDelta::days(1)).await?;
    let count = async |kind: &str, scope: &str| -> Result<i64, sqlx::Error> {
        sqlx::query_scalar(
            "SELECT count(*) FROM catalog_records WHERE valid_to IS NULL AND kind = $1 AND scope = $2
               AND status = 'active'",
        )
        .bind(kind)
        .bind(scope)
        .fetch_one(pool)
        .await
    };
    let mut active: Vec<String> = sqlx::query_scalar(
        "SELECT id FROM catalog_records WHERE valid_to IS NULL AND kind = 'technique' AND scope = $1
           AND status = 'active' ORDER BY id",
    )
    .bind(SCOPE)
    .fetch_all(pool)
    .await?;
    let active_techniques = active.len();
    // A fixed shuffle: which techniques are tested most does not follow their ids.
    let mut rng = StdRng::seed_from_u64(1);
    for index in (1..active.len()).rev() {
        active.swap(index, rng.gen_range(0..=index));
    }
    active.truncate(technique_count);
    let tested: HashSet<&str> = active.iter().map(String::as_str).collect();

    let mut atomics: HashMap<String, Vec<Uuid>> = HashMap::new();
    let templates: Vec<(String, Vec<String>)> = sqlx::query_as(
        "SELECT id, techniques FROM catalog_records WHERE valid_to IS NULL AND kind = 'template'
           AND scope = 'atomic' ORDER BY id",
    )
    .fetch_all(pool)
    .await?;
    let atomic_tests = templates.len();
    for (id, techniques) in templates {
        let Ok(guid) = Uuid::try_parse(&id) else {
            continue;
        };
        for technique in techniques {
            atomics.entry(technique).or_default().push(guid);
        }
    }

    let sigma: Vec<(String, Vec<String>)> = sqlx::query_as(
        "SELECT id, techniques FROM catalog_records WHERE valid_to IS NULL AND kind = 'detection_rule'
           AND scope = 'sigma' AND status <> 'deprecated' ORDER BY id",
    )
    .fetch_all(pool)
    .await?;
    let mut rules = Vec::new();
    for (id, techniques) in &sigma {
        if rules.len() == DEPLOYED_RULES {
            break;
        }
        if techniques
            .iter()
            .any(|technique| tested.contains(technique.as_str()))
        {
            rules.push(RuleRef {
                source: RuleSource::Sigma,
                id: RuleId::parse(id)?,
            });
        }
    }
    println!(
        "catalog: {} techniques and sub-techniques tested of {active_techniques} active, {} tactics, {} groups, \
         {} Sigma rules ({} deployed over the history), {atomic_tests} Atomic tests, a Sysmon config; imported \
         in {:.1} s",
        active.len(),
        count("tactic", SCOPE).await?,
        count("group", SCOPE).await?,
        sigma.len(),
        rules.len(),
        started.elapsed().as_secs_f64()
    );
    Ok(Catalog {
        techniques: active,
        atomics,
        rules,
    })
}

/// One event to append.
struct NewEvent {
    aggregate_type: &'static str,
    aggregate_id: String,
    sequence: i64,
    event_type: String,
    payload: Value,
    metadata: Value,
}

/// Appends generated events in batches: one INSERT and one transaction each, in order.
struct Writer<'a> {
    pool: &'a PgPool,
    batch: Vec<NewEvent>,
    written: u64,
}

impl<'a> Writer<'a> {
    fn new(pool: &'a PgPool) -> Self {
        Self {
            pool,
            batch: Vec::with_capacity(INSERT_BATCH),
            written: 0,
        }
    }

    fn buffered(&self) -> u64 {
        self.batch.len() as u64
    }

    async fn push(&mut self, event: NewEvent) -> anyhow::Result<()> {
        self.batch.push(event);
        if self.batch.len() == INSERT_BATCH {
            self.flush().await?;
        }
        Ok(())
    }

    async fn flush(&mut self) -> anyhow::Result<()> {
        if self.batch.is_empty() {
            return Ok(());
        }
        let batch = std::mem::take(&mut self.batch);
        let mut columns = (
            Vec::with_capacity(batch.len()),
            Vec::with_capacity(batch.len()),
            Vec::with_capacity(batch.len()),
            Vec::with_capacity(batch.len()),
            Vec::with_capacity(batch.len()),
            Vec::with_capacity(batch.len()),
        );
        for event in batch {
            columns.0.push(event.aggregate_type);
            columns.1.push(event.aggregate_id);
            columns.2.push(event.sequence);
            columns.3.push(event.event_type);
            columns.4.push(event.payload);
            columns.5.push(event.metadata);
        }
        let count = columns.0.len() as u64;
        // WITH ORDINALITY keeps the batch's order in global_seq.
        sqlx::query(
            "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload,
                                 metadata, prev_hash, hash)
             SELECT aggregate_type, aggregate_id, sequence, event_type, '1', payload, metadata,
                    '\\x0000000000000000000000000000000000000000000000000000000000000000'::bytea,
                    '\\x0000000000000000000000000000000000000000000000000000000000000000'::bytea
             FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::jsonb[], $6::jsonb[])
                  WITH ORDINALITY AS e(aggregate_type, aggregate_id, sequence, event_type, payload, metadata, n)
             ORDER BY n",
        )
        .bind(columns.0)
        .bind(columns.1)
        .bind(columns.2)
        .bind(columns.3)
        .bind(columns.4)
        .bind(columns.5)
        .execute(self.pool)
        .await?;
        self.written += count;
        self.batch = Vec::with_capacity(INSERT_BATCH);
        Ok(())
    }
}

/// Events per test case, on average, in tenths: the plan, nine of the first run, and the reopened ones' later
/// runs (ten each) — 11.6 measured — rounded down so that the history ends before now.
const EVENTS_PER_TEST_CASE_TENTHS: u64 = 115;
const REOPENED_PERCENT: u32 = 15;
const MANUAL_PERCENT: u32 = 10;
const TOOLS: [&str; 3] = ["EDR", "SIEM", "NDR"];

/// The next step of a test case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Assign,
    Start,
    Record,
    Complete,
    Review,
    Outcome,
    Submit,
    Approve,
    Reopen,
}

/// Something due at a moment of the simulated history.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Task {
    TestCase(Uuid),
    Snapshot,
    DeployRule(usize),
    RetireRule(usize),
    ChangePolicy,
}

/// A test case in progress.
struct TestCase {
    step: Step,
    run: u32,
    technique: String,
    red: usize,
    blue: usize,
    tools: usize,
    recorded: Vec<Outcome>,
    executed_at: DateTime<Utc>,
}

struct People {
    red_lead: Uuid,
    red_techs: [Uuid; 3],
    blue_lead: Uuid,
    blue_techs: [Uuid; 3],
}

/// Two simulated years of work, one event at a time in time order: new test cases arrive at a steady rate, and
/// everything else (the next step of each test case, snapshots, rule changes) is due at a moment.
struct Generator {
    rng: StdRng,
    catalog: Catalog,
    start: DateTime<Utc>,
    /// The time of the last event.
    clock: DateTime<Utc>,
    /// Mean milliseconds between two new test cases.
    plan_every_ms: i64,
    next_plan: DateTime<Utc>,
    due: BinaryHeap<Reverse<(DateTime<Utc>, u64, Task)>>,
    order: u64,
    test_cases: HashMap<Uuid, TestCase>,
    sequences: HashMap<Uuid, i64>,
    /// Events due before the first test case: users, the policy.
    opening: Vec<NewEvent>,
    people: People,
    policy_id: Uuid,
    planned: u64,
    approved: u64,
    reopened: u64,
    snapshots: u64,
}

impl Generator {
    fn new(catalog: Catalog, start: DateTime<Utc>, events: u64) -> anyhow::Result<Self> {
        let mut rng = StdRng::seed_from_u64(42);
        let mut person = || Uuid::from_u128(rng.r#gen());
        let people = People {
            red_lead: person(),
            red_techs: [person(), person(), person()],
            blue_lead: person(),
            blue_techs: [person(), person(), person()],
        };
        let policy_id = Uuid::from_u128(rng.r#gen());
        let history_ms = u64::try_from(HISTORY_DAYS * 86_400_000)?;
        let mut generator = Self {
            rng,
            catalog,
            start,
            clock: start,
            plan_every_ms: i64::try_from(history_ms * EVENTS_PER_TEST_CASE_TENTHS / (events * 10))?
                .max(1),
            next_plan: start + TimeDelta::hours(1),
            due: BinaryHeap::new(),
            order: 0,
            test_cases: HashMap::new(),
            sequences: HashMap::new(),
            opening: Vec::new(),
            people,
            policy_id,
            planned: 0,
            approved: 0,
            reopened: 0,
            snapshots: 0,
        };
        generator.open()?;
        Ok(generator)
    }

    fn schedule(&mut self, at: DateTime<Utc>, task: Task) {
        self.order += 1;
        self.due.push(Reverse((at, self.order, task)));
    }

    /// Users and the scoring policy at the start; the first snapshot, rule deployments spread over the history
    /// (one in ten retired later), and a policy change after a year.
    fn open(&mut self) -> anyhow::Result<()> {
        let people = [
            ("red-lead", self.people.red_lead, Role::RedLead),
            ("blue-lead", self.people.blue_lead, Role::BlueLead),
        ]
        .into_iter()
        .chain(
            self.people
                .red_techs
                .iter()
                .enumerate()
                .map(|(index, id)| (["red-1", "red-2", "red-3"][index], *id, Role::RedTech)),
        )
        .chain(
            self.people
                .blue_techs
                .iter()
                .enumerate()
                .map(|(index, id)| (["blue-1", "blue-2", "blue-3"][index], *id, Role::BlueTech)),
        )
        .collect::<Vec<_>>();
        for (name, user_id, role) in people {
            let event = UserEvent::Registered {
                email: Email::parse(&format!("{name}@example.org"))?,
                display_name: DisplayName::parse(&format!("Bench {name}"))?,
                roles: BTreeSet::from([role]),
            };
            let admin = ("system:bench".to_owned(), "admin");
            let new = self.event("User", user_id, self.start, admin, &event)?;
            self.opening.push(new);
        }
        let settings = |half_life_days| {
            PolicySettings::parse(PolicySettingsDraft {
                half_life_days: Some(half_life_days),
                ..PolicySettings::default().to_draft()
            })
        };
        for event in [
            ScoringPolicyEvent::Defined {
                name: PolicyName::parse("Standard")?,
                settings: settings(90)?,
                reason: ChangeReason::parse("the team's scoring")?,
            },
            ScoringPolicyEvent::Activated {
                reason: ChangeReason::parse("start scoring")?,
            },
        ] {
            let actor = Self::actor(self.people.blue_lead, Role::BlueLead);
            let new = self.event(
                "ScoringPolicy",
                self.policy_id,
                self.start + TimeDelta::minutes(30),
                actor,
                &event,
            )?;
            self.opening.push(new);
        }
        self.opening.reverse();
        self.schedule(self.start + TimeDelta::days(7), Task::Snapshot);
        self.schedule(self.start + TimeDelta::days(365), Task::ChangePolicy);
        let history = HISTORY_DAYS * 86_400;
        for index in 0..self.catalog.rules.len() {
            let deployed = self.start + TimeDelta::seconds(self.rng.gen_range(3_600..history));
            self.schedule(deployed, Task::DeployRule(index));
            if self.rng.gen_ratio(1, 10) {
                let retired = deployed + TimeDelta::days(self.rng.gen_range(30..300));
                self.schedule(retired, Task::RetireRule(index));
            }
        }
        Ok(())
    }

    fn actor(id: Uuid, role: Role) -> (String, &'static str) {
        (id.to_string(), role.as_str())
    }

    /// The event as the command layer stores it: the serde JSON of the domain event, its type, and metadata.
    fn event(
        &mut self,
        aggregate_type: &'static str,
        aggregate_id: Uuid,
        at: DateTime<Utc>,
        (actor_id, actor_roles): (String, &str),
        event: &impl Serialize,
    ) -> anyhow::Result<NewEvent> {
        let payload = serde_json::to_value(event)?;
        let variant = match &payload {
            Value::Object(fields) => fields.keys().next().cloned().unwrap_or_default(),
            Value::String(name) => name.clone(),
            other => bail!("not an event: {other}"),
        };
        let event_type = match aggregate_type {
            "CoverageSnapshots" => format!("CoverageSnapshot{variant}"),
            _ => format!("{aggregate_type}{variant}"),
        };
        let sequence = self.sequences.entry(aggregate_id).or_insert(0);
        *sequence += 1;
        Ok(NewEvent {
            aggregate_type,
            aggregate_id: aggregate_id.to_string(),
            sequence: *sequence,
            event_type,
            payload,
            metadata: json!({
                "actor_id": actor_id,
                "actor_roles": actor_roles,
                "correlation_id": Uuid::from_u128(self.rng.r#gen()).to_string(),
                "occurred_at": at.to_rfc3339_opts(SecondsFormat::Micros, true),
            }),
        })
    }

    fn next_event(&mut self) -> anyhow::Result<NewEvent> {
        if let Some(event) = self.opening.pop() {
            return Ok(event);
        }
        let due = self.due.peek().map(|Reverse((at, _, _))| *at);
        if due.is_none_or(|due| self.next_plan <= due) {
            let at = self.next_plan;
            let gap = self.rng.gen_range(0..2 * self.plan_every_ms);
            self.next_plan = at + TimeDelta::milliseconds(gap);
            self.clock = at;
            return self.plan(at);
        }
        let Some(Reverse((at, _, task))) = self.due.pop() else {
            bail!("nothing is due");
        };
        self.clock = at;
        match task {
            Task::TestCase(test_case_id) => self.step(test_case_id, at),
            Task::Snapshot => {
                self.snapshots += 1;
                self.schedule(at + TimeDelta::days(7), Task::Snapshot);
                let event = CoverageSnapshotEvent::Taken {
                    snapshot_id: Uuid::from_u128(self.rng.r#gen()),
                    kind: SnapshotKind::Weekly,
                };
                let scheduler = ("system:scheduler".to_owned(), "");
                self.event(
                    "CoverageSnapshots",
                    SNAPSHOTS_AGGREGATE_ID,
                    at,
                    scheduler,
                    &event,
                )
            }
            Task::DeployRule(index) | Task::RetireRule(index) => {
                let rule = self.catalog.rules[index].clone();
                let event = if matches!(task, Task::DeployRule(_)) {
                    DetectionRuleEvent::Deployed {
                        rule: rule.clone(),
                        reason: RuleChangeReason::parse("tuned in the lab")?,
                    }
                } else {
                    DetectionRuleEvent::Retired {
                        rule: rule.clone(),
                        reason: RuleChangeReason::parse("too noisy")?,
                    }
                };
                let actor = Self::actor(self.people.blue_lead, Role::BlueLead);
                self.event("DetectionRule", rule.aggregate_id(), at, actor, &event)
            }
            Task::ChangePolicy => {
                let event = ScoringPolicyEvent::Changed {
                    version: 2,
                    settings: PolicySettings::parse(PolicySettingsDraft {
                        half_life_days: Some(60),
                        ..PolicySettings::default().to_draft()
                    })?,
                    reason: ChangeReason::parse("results age faster than we thought")?,
                };
                let actor = Self::actor(self.people.blue_lead, Role::BlueLead);
                self.event("ScoringPolicy", self.policy_id, at, actor, &event)
            }
        }
    }

    /// A new test case: a technique (some far more often than others), mostly one of its Atomic tests.
    fn plan(&mut self, at: DateTime<Utc>) -> anyhow::Result<NewEvent> {
        // The smaller of two draws: the first techniques of the (shuffled) list are tested most.
        let techniques = self.catalog.techniques.len();
        let index = self
            .rng
            .gen_range(0..techniques)
            .min(self.rng.gen_range(0..techniques));
        let technique = self.catalog.techniques[index].clone();
        let test_case_id = Uuid::from_u128(self.rng.r#gen());
        let procedure = if self.rng.gen_ratio(MANUAL_PERCENT, 100) {
            ProcedureSource::Manual
        } else {
            let guid = match self.catalog.atomics.get(&technique) {
                Some(guids) => guids[self.rng.gen_range(0..guids.len())],
                // Techniques without an Atomic test in the corpus get a few stable stand-ins.
                None => Uuid::new_v5(
                    &Uuid::NAMESPACE_OID,
                    format!("{technique}/{}", self.rng.gen_range(0..3)).as_bytes(),
                ),
            };
            ProcedureSource::AtomicTest { guid }
        };
        let platform =
            ["windows", "windows", "windows", "linux", "linux", "macos"][self.rng.gen_range(0..6)];
        let quarter = format!(
            "{}-q{}",
            at.format("%Y"),
            (at.format("%m").to_string().parse::<u32>()? - 1) / 3 + 1
        );
        let plan = Plan {
            title: Title::parse(&format!("{technique} on {platform}"))?,
            objective: Text::parse("the procedure is detected or blocked")?,
            technique: TechniqueId::parse(&technique)?,
            procedure,
            steps: Text::parse(&format!("Invoke-AtomicTest {technique}"))?,
            platforms: BTreeSet::from([Platform::parse(platform)?]),
            targets: BTreeSet::from([Target::parse(&format!(
                "ws-{:02}",
                self.rng.gen_range(1..40)
            ))?]),
            tags: BTreeSet::from([Tag::parse(&quarter)?]),
            blind: self.rng.gen_ratio(1, 5),
        };
        let red = self.rng.gen_range(0..3);
        let blue = self.rng.gen_range(0..3);
        self.test_cases.insert(
            test_case_id,
            TestCase {
                step: Step::Assign,
                run: 1,
                technique,
                red,
                blue,
                tools: 0,
                recorded: Vec::new(),
                executed_at: at,
            },
        );
        self.planned += 1;
        let after = TimeDelta::minutes(self.rng.gen_range(30..2_880));
        self.schedule(at + after, Task::TestCase(test_case_id));
        let event = TestCaseEvent::Planned {
            planned_by: self.people.red_lead,
            at,
            plan,
        };
        let actor = Self::actor(self.people.red_lead, Role::RedLead);
        self.event("TestCase", test_case_id, at, actor, &event)
    }

    /// One tool's outcome: coverage gets better over the two years.
    fn tool_outcome(&mut self, at: DateTime<Utc>) -> Outcome {
        let progress = ((at - self.start).num_days() as f64 / HISTORY_DAYS as f64).clamp(0.0, 1.0);
        let draw = self.rng.gen_range(0.0..1.0);
        let not_detected = 0.45 - 0.25 * progress;
        let logged = not_detected + 0.25;
        let alerted = logged + 0.2 + 0.15 * progress;
        if draw < 0.02 {
            Outcome::NotApplicable
        } else if draw < not_detected {
            Outcome::NotDetected
        } else if draw < logged {
            Outcome::Logged
        } else if draw < alerted {
            Outcome::Alerted
        } else {
            Outcome::Blocked
        }
    }

    /// The next step of a test case's workflow, and when the one after it is due.
    #[allow(
        clippy::too_many_lines,
        reason = "the workflow, one step after another"
    )]
    fn step(&mut self, test_case_id: Uuid, at: DateTime<Utc>) -> anyhow::Result<NewEvent> {
        let Some(mut test_case) = self.test_cases.remove(&test_case_id) else {
            bail!("no test case {test_case_id}");
        };
        let red = self.people.red_techs[test_case.red];
        let blue = self.people.blue_techs[test_case.blue];
        let (red_lead, blue_lead) = (self.people.red_lead, self.people.blue_lead);
        let minutes =
            |rng: &mut StdRng, low: i64, high: i64| TimeDelta::minutes(rng.gen_range(low..high));
        let (event, actor, next, after) = match test_case.step {
            Step::Assign => (
                TestCaseEvent::Assigned {
                    assigned_by: red_lead,
                    at,
                    red_assignee: Some(red),
                    blue_assignee: Some(blue),
                },
                (red_lead, Role::RedLead),
                Step::Start,
                minutes(&mut self.rng, 60, 4_320),
            ),
            Step::Start => {
                test_case.executed_at = at;
                (
                    TestCaseEvent::ExecutionStarted {
                        started_by: red,
                        at,
                    },
                    (red, Role::RedTech),
                    Step::Record,
                    minutes(&mut self.rng, 5, 60),
                )
            }
            Step::Record => (
                TestCaseEvent::ExecutionRecorded {
                    recorded_by: red,
                    at,
                    execution: Execution {
                        command: Text::parse(&format!(
                            "Invoke-AtomicTest {} -Confirm:$false",
                            test_case.technique
                        ))?,
                        target: Target::parse("ws-01")?,
                        started_at: test_case.executed_at,
                        stopped_at: at,
                        output_excerpt: Text::parse("Done executing test")?,
                    },
                },
                (red, Role::RedTech),
                Step::Complete,
                minutes(&mut self.rng, 5, 30),
            ),
            Step::Complete => (
                TestCaseEvent::ExecutionCompleted {
                    completed_by: red,
                    at,
                },
                (red, Role::RedTech),
                Step::Review,
                minutes(&mut self.rng, 60, 2_880),
            ),
            Step::Review => {
                test_case.tools = self.rng.gen_range(1..=3);
                test_case.recorded.clear();
                (
                    TestCaseEvent::ReviewStarted {
                        started_by: blue,
                        at,
                    },
                    (blue, Role::BlueTech),
                    Step::Outcome,
                    minutes(&mut self.rng, 10, 120),
                )
            }
            Step::Outcome => {
                let outcome = self.tool_outcome(at);
                let tool = TOOLS[test_case.recorded.len() % TOOLS.len()];
                test_case.recorded.push(outcome);
                let detection = matches!(outcome, Outcome::Alerted | Outcome::Blocked);
                let next = if test_case.recorded.len() < test_case.tools {
                    Step::Outcome
                } else {
                    Step::Submit
                };
                (
                    TestCaseEvent::OutcomeRecorded {
                        recorded_by: blue,
                        at,
                        defense: DefenseOutcome {
                            tool: ToolName::parse(tool)?,
                            outcome,
                            severity: detection.then_some(Severity::High),
                            detected_at: detection
                                .then(|| test_case.executed_at + TimeDelta::minutes(2)),
                            rules_fired: BTreeSet::new(),
                        },
                    },
                    (blue, Role::BlueTech),
                    next,
                    minutes(&mut self.rng, 10, 120),
                )
            }
            Step::Submit => (
                TestCaseEvent::SubmittedForApproval {
                    submitted_by: blue,
                    at,
                },
                (blue, Role::BlueTech),
                Step::Approve,
                minutes(&mut self.rng, 60, 4_320),
            ),
            Step::Approve => {
                self.approved += 1;
                let outcome = test_case
                    .recorded
                    .iter()
                    .copied()
                    .max()
                    .unwrap_or(Outcome::NotDetected);
                (
                    TestCaseEvent::ResultApproved {
                        approved_by: blue_lead,
                        at,
                        outcome,
                    },
                    (blue_lead, Role::BlueLead),
                    Step::Reopen,
                    TimeDelta::days(self.rng.gen_range(14..120)),
                )
            }
            Step::Reopen => {
                self.reopened += 1;
                test_case.run += 1;
                (
                    TestCaseEvent::Reopened {
                        reopened_by: red_lead,
                        at,
                        reason: Note::parse("retest after tuning")?,
                        run: test_case.run,
                    },
                    (red_lead, Role::RedLead),
                    Step::Assign,
                    minutes(&mut self.rng, 30, 2_880),
                )
            }
        };
        test_case.step = next;
        let reopen = next == Step::Reopen;
        if !reopen || self.rng.gen_ratio(REOPENED_PERCENT, 100) {
            self.schedule(at + after, Task::TestCase(test_case_id));
            self.test_cases.insert(test_case_id, test_case);
        }
        let actor = Self::actor(actor.0, actor.1);
        self.event("TestCase", test_case_id, at, actor, &event)
    }
}
