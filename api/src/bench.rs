//! `aegis bench`: the figures README reports, measured against ceilings taken in the same run.
//!
//! Each benchmark works in a scratch database it creates next to Aegis' own (so it never touches real data)
//! and drops afterwards; it needs the owner's right to create databases.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use commands::context::{Actor, CommandContext, SystemClock};
use commands::service::{CommandError, CommandService};
use domain::role::Role;
use domain::user::{DisplayName, Email, User, UserCommand};
use sqlx::PgPool;

use crate::auth::identity::{Identity, IdentitySettings, RequestOrigin};
use crate::auth::session::Authenticator;
use crate::auth::tokens::SigningKeys;
use crate::database::{self, Located};
use crate::serve::projector;

mod cpu;
mod evidence;
pub mod figures;
mod heatmap;
mod imports;
mod load;
mod suite;

use figures::{Figure, Goal, Measure};

#[derive(Debug, clap::Subcommand)]
pub enum BenchCommand {
    /// Single-event commands through the command layer with N concurrent writers, next to pgbench inserting
    /// equivalent rows (the raw ceiling).
    Append {
        /// Writer counts to measure, comma-separated.
        #[arg(long, value_delimiter = ',', default_value = "1,4,16")]
        writers: Vec<u32>,
        /// Seconds per measurement.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
    },
    /// Sign-in latency (Argon2id cost), the bound on concurrent hashes, and token verification per request.
    Login {
        /// Sequential sign-ins for the latency figures.
        #[arg(long, default_value_t = 30)]
        logins: usize,
        /// Sign-ins started at once for the queueing figure.
        #[arg(long, default_value_t = 16)]
        concurrent: usize,
        /// Token verifications timed per figure.
        #[arg(long, default_value_t = 2_000)]
        verifications: u32,
    },
    /// A state-changing GraphQL mutation (`addComment`) through the whole HTTP stack: latency one at a time,
    /// then throughput with N concurrent clients (each on its own test case).
    Mutations {
        /// Sequential mutations for the latency figures.
        #[arg(long, default_value_t = 500)]
        requests: usize,
        #[arg(long, default_value_t = 16)]
        clients: usize,
        /// Seconds of the concurrent run.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
    },
    /// Projector catch-up from zero over N generated events.
    Projector {
        #[arg(long, default_value_t = 1_000_000)]
        events: i64,
        /// Events per projector transaction.
        #[arg(long, default_value_t = crate::config::DEFAULT_PROJECTOR_BATCH_SIZE)]
        batch_size: i64,
    },
    /// Import time and peak memory of the large upstream sets, optionally next to the Python reference tools.
    ///
    /// For the full ATT&CK Enterprise bundle, all Sigma rules, all Elastic rules and all atomics: parse only, a
    /// first import into an empty catalog and a second one of the same files, each case in a child process so
    /// that its peak memory is its own (read from /proc: Linux only). With --baseline, mitreattack-python and
    /// pySigma load the same files in the same run, and the ratios are printed.
    Import(imports::ImportArgs),
    /// Evidence upload + confirm throughput (MiB/s) for 1 MiB and 50 MiB files on the local-disk store and,
    /// when AEGIS_S3_ENDPOINT (and its credentials) are set, on that S3 server; and the peak resident memory
    /// of this process (server and client) during one 50 MiB upload + confirm.
    Evidence {
        /// Uploads per file size.
        #[arg(long, default_value_t = 5)]
        rounds: u32,
    },
    /// The coverage heatmap over a generated log of two years of purple-team work on the real ATT&CK
    /// Enterprise catalog: live heatmap latency as the log grows (10k, 100k, N events), heatmap(asOf) with and
    /// without the weekly snapshots, one heatmap through GraphQL, a rebuild of every read model, and their size.
    Heatmap(heatmap::HeatmapArgs),
    /// Mutations/s and heatmap queries/s through a private nginx with one and three `aegis serve` on one
    /// PostgreSQL, and with GraphQL queries on a streaming standby, all on throwaway clusters (nginx from
    /// AEGIS_NGINX or Debian's path).
    Replicas {
        /// Concurrent clients.
        #[arg(long, default_value_t = 8)]
        clients: usize,
        /// Seconds of load per setup.
        #[arg(long, default_value_t = 10.0)]
        seconds: f64,
    },
    /// Every benchmark above but `replicas`, each on a scratch database of its own, with its ceilings and peers
    /// measured in the same run (pgbench, COPY, a sequential read of the log, serde_json on the ATT&CK bundle,
    /// mitreattack-python and pySigma through deploy/bench/ensure-python-baseline), then the server under load
    /// from another process; prints one markdown table: figure, ours, baseline, ratio, target, pass/fail.
    /// Exits 0 whenever the suite ran, whether or not every target was met (read the table). Run it from the
    /// repository root (the corpus is ../shared/corpus, or AEGIS_CORPUS).
    All {
        /// A small size that runs in about two minutes (the test command runs it).
        #[arg(long)]
        quick: bool,
    },
    /// One case of `bench import`, run in a child process so that its peak memory is its own; prints JSON.
    #[command(hide = true)]
    ImportCase(imports::CaseArgs),
    /// The load of `bench all`'s server figures: concurrent clients sending mutations to a running server over
    /// HTTP, from a process of their own; prints JSON latencies.
    #[command(hide = true)]
    LoadClient(load::LoadClientArgs),
}

/// `aegis bench load-client`, without a database of its own.
pub async fn load_client(args: &load::LoadClientArgs) -> anyhow::Result<()> {
    load::client(args).await
}

/// README's scale-out figures, measured with this very binary as the servers.
pub async fn replicas(clients: usize, seconds: f64) -> anyhow::Result<()> {
    let aegis = std::env::current_exe()?;
    println!(
        "{}",
        crate::scale_out::figures(&aegis, clients, seconds).await?
    );
    Ok(())
}

/// One case of `bench import` in the child process it started: no scratch database of its own (the parent's is
/// named in the arguments), so nothing but the case itself counts towards the child's peak memory.
pub async fn import_case(case: &imports::CaseArgs) -> anyhow::Result<()> {
    imports::case(case).await
}

pub async fn run(
    command: BenchCommand,
    located: &Located,
    s3: Option<commands::evidence::store::S3Settings>,
) -> anyhow::Result<()> {
    if let BenchCommand::All { quick } = command {
        let size = if quick {
            suite::SuiteSize::quick()
        } else {
            suite::SuiteSize::full()
        };
        return suite::run(located, s3, &size).await.map(drop);
    }
    let reused = std::env::var("AEGIS_BENCH_DATABASE").ok();
    let scratch = match &reused {
        Some(name) => ScratchDatabase::reuse(&located.owner_url, name).await?,
        None => ScratchDatabase::create(&located.owner_url).await?,
    };
    let result = match command {
        BenchCommand::Append { writers, seconds } => append_rates(
            &scratch,
            &writers,
            Duration::from_secs(seconds),
            USERS_PER_WRITER,
        )
        .await
        .map(drop),
        BenchCommand::Projector { events, batch_size } => {
            catch_up(&scratch, events, batch_size).await.map(drop)
        }
        BenchCommand::Login {
            logins,
            concurrent,
            verifications,
        } => login(&scratch, logins, concurrent, verifications)
            .await
            .map(drop),
        BenchCommand::Mutations {
            requests,
            clients,
            seconds,
        } => mutations(&scratch, requests, clients, Duration::from_secs(seconds))
            .await
            .map(drop),
        BenchCommand::Import(args) => imports::run(&scratch, &args).await.map(drop),
        BenchCommand::Evidence { rounds } => evidence::run(&scratch, s3, rounds).await.map(drop),
        BenchCommand::Heatmap(args) => heatmap::run(&scratch, &args, async |_| Ok(Vec::new()))
            .await
            .map(drop),
        // The command line runs a case through `import_case` and the load client through `load_client`, without
        // locating a server or creating a database.
        BenchCommand::ImportCase(case) => imports::case(&case).await,
        BenchCommand::LoadClient(args) => load::client(&args).await,
        // Handled above, before the scratch database.
        BenchCommand::All { .. } => Ok(()),
        // The command line runs it without a database: it starts clusters of its own.
        BenchCommand::Replicas { clients, seconds } => replicas(clients, seconds).await,
    };
    if reused.is_none() {
        scratch.finish().await?;
    }
    result
}

/// An account service over the scratch database with an ephemeral signing key.
fn bench_identity(scratch: &ScratchDatabase) -> Identity {
    let keys = Arc::new(SigningKeys::ephemeral());
    let authenticator = Authenticator::new(keys, scratch.pool.clone());
    Identity::new(
        scratch.pool.clone(),
        Arc::new(SystemClock),
        authenticator,
        IdentitySettings::default(),
    )
}

/// A database of its own, migrated, dropped at the end.
struct ScratchDatabase {
    owner_url: String,
    url: String,
    name: String,
    pool: PgPool,
}

impl ScratchDatabase {
    async fn create(owner_url: &str) -> anyhow::Result<Self> {
        Self::create_with_name(owner_url, format!("aegis_bench_{}", std::process::id())).await
    }

    /// One of several in a run (`bench all`): `aegis_bench_<pid>_<part>`.
    async fn create_named(owner_url: &str, part: &str) -> anyhow::Result<Self> {
        Self::create_with_name(
            owner_url,
            format!("aegis_bench_{}_{part}", std::process::id()),
        )
        .await
    }

    async fn create_with_name(owner_url: &str, name: String) -> anyhow::Result<Self> {
        let owner = database::connect(owner_url, 1).await?;
        sqlx::query(&format!("DROP DATABASE IF EXISTS {name}"))
            .execute(&owner)
            .await?;
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&owner)
            .await
            .context("the benchmark needs to create a scratch database (CREATEDB)")?;
        owner.close().await;
        let url = with_database(owner_url, &name)?;
        let pool = database::connect(&url, 40).await?;
        database::run_migrations(&pool).await?;
        Ok(Self {
            owner_url: owner_url.to_owned(),
            url,
            name,
            pool,
        })
    }

    /// A database kept by an earlier run (`AEGIS_BENCH_KEEP_DATABASE`), named by `AEGIS_BENCH_DATABASE`: measured
    /// again as it is, e.g. under a profiler, without generating its data again.
    async fn reuse(owner_url: &str, name: &str) -> anyhow::Result<Self> {
        let url = with_database(owner_url, name)?;
        let pool = database::connect(&url, 40).await?;
        database::run_migrations(&pool).await?;
        Ok(Self {
            owner_url: owner_url.to_owned(),
            url,
            name: name.to_owned(),
            pool,
        })
    }

    /// Drops the database, unless `AEGIS_BENCH_KEEP_DATABASE` asks to keep it for measuring again.
    async fn finish(self) -> anyhow::Result<()> {
        if std::env::var_os("AEGIS_BENCH_KEEP_DATABASE").is_some() {
            eprintln!(
                "AEGIS_BENCH_KEEP_DATABASE is set: the scratch database {} is kept",
                self.name
            );
            return Ok(());
        }
        self.drop_database().await
    }

    async fn drop_database(self) -> anyhow::Result<()> {
        self.pool.close().await;
        let owner = database::connect(&self.owner_url, 1).await?;
        sqlx::query(&format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        ))
        .execute(&owner)
        .await?;
        Ok(())
    }
}

/// `url` with its database replaced, keeping every other part as given (pgbench, a libpq client, must be able
/// to read it too).
fn with_database(url: &str, database: &str) -> anyhow::Result<String> {
    let authority_start = url.find("://").context("the database URL has no scheme")? + 3;
    let path_start = url[authority_start..]
        .find('/')
        .map_or(url.len(), |index| authority_start + index);
    let query_start = url[path_start..]
        .find('?')
        .map_or(url.len(), |index| path_start + index);
    Ok(format!(
        "{}/{database}{}",
        &url[..path_start],
        &url[query_start..]
    ))
}

/// Users each writer renames in turn: enough that an aggregate's stream stays short (a command loads it).
const USERS_PER_WRITER: usize = 200;
/// The issue's bound: 16 writers append at least half as many events per second as pgbench inserts rows.
const APPEND_TARGET_RATIO: f64 = 0.5;
const APPEND_TARGET_WRITERS: u32 = 16;

/// One writer count's figures: commands through the command layer and pgbench's inserts, per second.
struct AppendRate {
    writers: u32,
    commands: f64,
    raw: f64,
}

fn append_figures(rates: &[AppendRate]) -> Vec<Figure> {
    rates
        .iter()
        .map(|rate| {
            let figure = Figure::rate_versus(
                format!(
                    "append, single-event commands through the command layer, {} writers",
                    rate.writers
                ),
                Measure::new(rate.commands, "events/s"),
                format!("pgbench single-row inserts, {} clients", rate.writers),
                Measure::new(rate.raw, "rows/s"),
            );
            if rate.writers == APPEND_TARGET_WRITERS {
                figure.target(Goal::RatioAtLeast(APPEND_TARGET_RATIO))
            } else {
                figure
            }
        })
        .collect()
}

async fn append_rates(
    scratch: &ScratchDatabase,
    writer_counts: &[u32],
    duration: Duration,
    users_per_writer: usize,
) -> anyhow::Result<Vec<AppendRate>> {
    let pgbench = find_pgbench()?;
    let service = Arc::new(CommandService::<User>::new(
        scratch.pool.clone(),
        (),
        Arc::new(SystemClock),
    ));
    let actor = Actor::user(uuid::Uuid::now_v7(), [Role::Admin]);
    println!(
        "append throughput, single-event commands, {} s per run",
        duration.as_secs()
    );
    println!(
        "{:>8} {:>16} {:>16} {:>8}",
        "writers", "aegis events/s", "raw rows/s", "ratio"
    );
    let mut rates = Vec::with_capacity(writer_counts.len());
    for &writers in writer_counts {
        let users = register_users(&service, &actor, writers as usize * users_per_writer).await?;
        let aegis =
            commands_per_second(&service, &actor, &users, writers as usize, duration).await?;
        let raw = pgbench_rows_per_second(&pgbench, &scratch.url, writers, duration)?;
        println!(
            "{writers:>8} {aegis:>16.0} {raw:>16.0} {:>7.0}%",
            100.0 * aegis / raw
        );
        rates.push(AppendRate {
            writers,
            commands: aegis,
            raw,
        });
    }
    Ok(rates)
}

async fn register_users(
    service: &CommandService<User>,
    actor: &Actor,
    count: usize,
) -> anyhow::Result<Vec<String>> {
    let mut ids = Vec::with_capacity(count);
    for index in 0..count {
        let id = uuid::Uuid::now_v7().to_string();
        let command = UserCommand::Register {
            email: Email::parse(&format!("bench-{index}-{id}@example.org"))?,
            display_name: DisplayName::parse("Bench User")?,
            roles: BTreeSet::from([Role::RedTech]),
        };
        service
            .execute(&CommandContext::new(actor.clone()), &id, command)
            .await?;
        ids.push(id);
    }
    Ok(ids)
}

/// Each writer renames its own users in turn (so writers never conflict), alternating two names so every
/// command appends exactly one event.
async fn commands_per_second(
    service: &Arc<CommandService<User>>,
    actor: &Actor,
    users: &[String],
    writers: usize,
    duration: Duration,
) -> anyhow::Result<f64> {
    let appended = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + duration;
    let names = [
        DisplayName::parse("Bench Ada")?,
        DisplayName::parse("Bench Grace")?,
    ];
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(writers);
    let users_per_writer = users.len() / writers;
    for (writer, own_users) in users.chunks(users_per_writer).take(writers).enumerate() {
        let (service, actor, appended) =
            (Arc::clone(service), actor.clone(), Arc::clone(&appended));
        let own_users = own_users.to_vec();
        let names = names.clone();
        tasks.push(tokio::spawn(async move {
            let mut round = 0_usize;
            while Instant::now() < deadline {
                let user = &own_users[round % own_users.len()];
                let display_name = names[(round / own_users.len() + writer) % 2].clone();
                let command = UserCommand::ChangeDisplayName { display_name };
                match service
                    .execute(&CommandContext::new(actor.clone()), user, command)
                    .await
                {
                    Ok(outcome) => {
                        appended.fetch_add(outcome.appended.unsigned_abs(), Ordering::Relaxed);
                    }
                    Err(CommandError::Conflict { .. }) => {}
                    Err(error) => return Err(anyhow::Error::new(error)),
                }
                round += 1;
            }
            Ok(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    Ok(appended.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64())
}

/// pgbench inserting rows shaped like one of those events (same table, indexes, triggers and sizes), each in
/// its own transaction: the ceiling for one-event commits on this server.
fn pgbench_rows_per_second(
    pgbench: &PathBuf,
    url: &str,
    clients: u32,
    duration: Duration,
) -> anyhow::Result<f64> {
    let script = tempfile::NamedTempFile::new()?;
    std::fs::write(
        script.path(),
        r#"INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata, prev_hash, hash) VALUES ('User', gen_random_uuid()::text, 1, 'UserDisplayNameChanged', '1', '{"DisplayNameChanged":{"display_name":"Bench Grace"}}', '{"actor_id":"0190d6c4-3b7a-7cc2-9a4e-2f5f1d0c9b11","actor_roles":"admin","correlation_id":"0190d6c4-3b7a-7cc2-9a4e-2f5f1d0c9b12","occurred_at":"2026-11-28T10:00:00.000000Z"}', sha256('prev'), sha256('hash'));
"#,
    )?;
    let output = std::process::Command::new(pgbench)
        .args([
            "-n",
            "-c",
            &clients.to_string(),
            "-j",
            &clients.min(2).to_string(),
        ])
        .args(["-T", &duration.as_secs().to_string(), "-f"])
        .arg(script.path())
        .arg(url)
        .output()
        .context("cannot run pgbench")?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        bail!(
            "pgbench failed: {}{}",
            stdout,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    stdout
        .lines()
        .find_map(|line| line.strip_prefix("tps = "))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|tps| tps.parse().ok())
        .with_context(|| format!("cannot read tps from pgbench's output: {stdout}"))
}

fn find_pgbench() -> anyhow::Result<PathBuf> {
    let mut candidates: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.path().join("bin/pgbench"))
        .filter(|path| path.exists())
        .collect();
    candidates.sort();
    if let Some(path) = candidates.pop() {
        return Ok(path);
    }
    which("pgbench")
        .context("pgbench is not installed (Debian: apt-get install postgresql-contrib)")
}

fn which(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|directory| directory.join(program))
            .find(|path| path.is_file())
    })
}

/// Generates `events` events (10 per aggregate, payloads and metadata shaped like real ones) and times the
/// projector rebuilding every read model from zero; returns events per second.
async fn catch_up(scratch: &ScratchDatabase, events: i64, batch_size: i64) -> anyhow::Result<f64> {
    let generating = Instant::now();
    let chunk = 100_000_i64;
    let mut start = 0_i64;
    while start < events {
        let end = (start + chunk).min(events);
        sqlx::query(
            "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload,
                                   metadata, prev_hash, hash)
               SELECT 'User', 'bench-' || (n / 10), n % 10 + 1, 'UserDisplayNameChanged', '1',
                      jsonb_build_object('DisplayNameChanged', jsonb_build_object('display_name', 'Bench ' || n)),
                      jsonb_build_object('actor_id', '0190d6c4-3b7a-7cc2-9a4e-2f5f1d0c9b11', 'actor_roles', 'admin',
                                         'correlation_id', gen_random_uuid()::text,
                                         'occurred_at', '2026-11-28T10:00:00.000000Z'),
                      sha256('prev'), sha256(n::text::bytea)
                 FROM generate_series($1::bigint, $2::bigint - 1) AS n",
        )
        .bind(start)
        .bind(end)
        .execute(&scratch.pool)
        .await?;
        start = end;
    }
    sqlx::query("ANALYZE events").execute(&scratch.pool).await?;
    println!(
        "generated {events} events in {:.1} s",
        generating.elapsed().as_secs_f64()
    );

    let projector = projector(&scratch.pool, batch_size);
    let started = Instant::now();
    projector.rebuild(None).await?;
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "projector catch-up ({}): {events} events in {elapsed:.1} s = {:.0} events/s (batch {batch_size})",
        projector.names().join(" + "),
        events as f64 / elapsed
    );
    Ok(events as f64 / elapsed)
}

const BENCH_PASSWORD: &str = "a long benchmark passphrase";

/// Times sign-ins one after another (p50, p95), then many at once against the hashing bound, then token
/// verification alone and with its grant (cached and not).
#[allow(
    clippy::too_many_lines,
    reason = "three measurements in turn, each printed"
)]
async fn login(
    scratch: &ScratchDatabase,
    logins: usize,
    concurrent: usize,
    rounds: u32,
) -> anyhow::Result<Vec<Figure>> {
    let keys = Arc::new(SigningKeys::ephemeral());
    let authenticator = Authenticator::new(Arc::clone(&keys), scratch.pool.clone());
    let identity = Identity::new(
        scratch.pool.clone(),
        Arc::new(SystemClock),
        authenticator.clone(),
        IdentitySettings::default(),
    );
    let origin = RequestOrigin {
        correlation_id: uuid::Uuid::now_v7(),
        client_ip: None,
    };
    let roles = BTreeSet::from([Role::RedTech]);
    identity
        .create_user(
            origin,
            Actor::system("bench"),
            "bench@example.org",
            "Bench",
            roles,
            Some(BENCH_PASSWORD),
        )
        .await?;

    let mut latencies = Vec::with_capacity(logins);
    let mut token = String::new();
    for _ in 0..logins {
        let started = Instant::now();
        token = identity
            .login(origin, "bench@example.org", BENCH_PASSWORD, None)
            .await?
            .token;
        latencies.push(started.elapsed());
    }
    latencies.sort();
    let percentile = |p: usize| latencies[(latencies.len() * p / 100).min(latencies.len() - 1)];
    println!(
        "sign-in, sequential ({logins}): p50 {:.1} ms, p95 {:.1} ms (Argon2id m=19 MiB, t=2, p=1)",
        percentile(50).as_secs_f64() * 1000.0,
        percentile(95).as_secs_f64() * 1000.0
    );

    // One user each: two sign-ins of one user at the same instant append to its stream at once, and one of
    // them is refused as a conflict.
    let mut emails = Vec::with_capacity(concurrent);
    for index in 0..concurrent {
        let email = format!("bench-{index}@example.org");
        identity
            .create_user(
                origin,
                Actor::system("bench"),
                &email,
                "Bench",
                BTreeSet::from([Role::RedTech]),
                Some(BENCH_PASSWORD),
            )
            .await?;
        emails.push(email);
    }
    let started = Instant::now();
    let peak_waiting = Arc::new(AtomicU64::new(0));
    let tasks: Vec<_> = emails
        .into_iter()
        .map(|email| {
            let identity = identity.clone();
            tokio::spawn(async move { identity.login(origin, &email, BENCH_PASSWORD, None).await })
        })
        .collect();
    while tasks.iter().any(|task| !task.is_finished()) {
        peak_waiting.fetch_max(identity.hasher().waiting() as u64, Ordering::Relaxed);
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    for task in tasks {
        task.await??;
    }
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "sign-in, {concurrent} at once: {:.0} sign-ins/s, at most {} hashes at once (≈{} MiB), {} queued at peak",
        concurrent as f64 / elapsed,
        identity.hasher().max_concurrent(),
        identity.hasher().max_concurrent() * 19,
        peak_waiting.load(Ordering::Relaxed)
    );

    let started = Instant::now();
    for _ in 0..rounds {
        keys.verify(&token, std::time::SystemTime::now())?;
    }
    let signature = started.elapsed() / rounds;
    let started = Instant::now();
    for _ in 0..rounds {
        authenticator.authenticate_token(&token).await;
    }
    let cached = started.elapsed() / rounds;
    let started = Instant::now();
    for _ in 0..rounds {
        authenticator.forget_grants();
        authenticator.authenticate_token(&token).await;
    }
    let uncached = started.elapsed() / rounds;
    println!(
        "token verification per request: signature + datalog {} µs; with its grant cached {} µs; grant from Postgres {} µs",
        signature.as_micros(),
        cached.as_micros(),
        uncached.as_micros()
    );
    let micros = |duration: Duration| Measure::new(duration.as_secs_f64() * 1e6, "µs");
    Ok(vec![
        Figure::ours(
            "sign-in (Argon2id m=19 MiB, t=2, p=1, whole flow), one at a time, p50",
            Measure::millis(percentile(50)),
        ),
        Figure::ours(
            "sign-in, one at a time, p95",
            Measure::millis(percentile(95)),
        ),
        Figure::ours(
            format!("sign-ins started {concurrent} at once"),
            Measure::new(concurrent as f64 / elapsed, "sign-ins/s"),
        ),
        Figure::ours(
            "token verification per request, grant cached",
            micros(cached),
        ),
        Figure::ours(
            "token verification per request, grant read from PostgreSQL",
            micros(uncached),
        ),
    ])
}

/// Sends one GraphQL request through the whole router (edge, authentication, schema, command layer).
async fn post_graphql(
    router: &axum::Router,
    token: &str,
    query: &str,
) -> anyhow::Result<serde_json::Value> {
    use tower::ServiceExt;
    let request = axum::http::Request::post("/graphql")
        .header(axum::http::header::CONTENT_TYPE, "application/json")
        .header(axum::http::header::AUTHORIZATION, format!("Bearer {token}"))
        .body(axum::body::Body::from(
            serde_json::json!({ "query": query }).to_string(),
        ))?;
    let response = router.clone().oneshot(request).await?;
    let body = axum::body::to_bytes(response.into_body(), usize::MAX).await?;
    let value: serde_json::Value = serde_json::from_slice(&body)?;
    if let Some(errors) = value.get("errors") {
        bail!("the mutation failed: {errors}");
    }
    Ok(value)
}

async fn plan_test_case(router: &axum::Router, token: &str) -> anyhow::Result<String> {
    let planned = post_graphql(
        router,
        token,
        r#"mutation { planTestCase(plan: { title: "bench", objective: "", technique: "T1059", procedure: { kind: MANUAL },
            steps: "whoami" }) { id } }"#,
    )
    .await?;
    planned["data"]["planTestCase"]["id"]
        .as_str()
        .map(str::to_owned)
        .context("planTestCase returned no id")
}

async fn mutations(
    scratch: &ScratchDatabase,
    requests: usize,
    clients: usize,
    duration: Duration,
) -> anyhow::Result<Vec<Figure>> {
    let keys = Arc::new(SigningKeys::ephemeral());
    let authenticator = Authenticator::new(Arc::clone(&keys), scratch.pool.clone());
    let identity = Identity::new(
        scratch.pool.clone(),
        Arc::new(SystemClock),
        authenticator,
        IdentitySettings::default(),
    );
    let origin = RequestOrigin {
        correlation_id: uuid::Uuid::now_v7(),
        client_ip: None,
    };
    identity
        .create_user(
            origin,
            Actor::system("bench"),
            "lead@example.org",
            "Bench Lead",
            BTreeSet::from([Role::RedLead]),
            Some(BENCH_PASSWORD),
        )
        .await?;
    let token = identity
        .login(origin, "lead@example.org", BENCH_PASSWORD, None)
        .await?
        .token;
    let state = crate::state::AppState::new(
        scratch.pool.clone(),
        projector(&scratch.pool, crate::config::DEFAULT_PROJECTOR_BATCH_SIZE),
        identity,
        crate::state::WebSettings::default(),
    );
    let router = crate::http::app(state);
    let comment =
        |id: &str| format!(r#"mutation {{ addComment(id: "{id}", body: "bench") {{ version }} }}"#);

    // Warm the pool and the grant cache.
    let id = plan_test_case(&router, &token).await?;
    post_graphql(&router, &token, &comment(&id)).await?;
    let mut latencies = Vec::with_capacity(requests);
    for _ in 0..requests {
        let started = Instant::now();
        post_graphql(&router, &token, &comment(&id)).await?;
        latencies.push(started.elapsed());
    }
    latencies.sort();
    let percentile = |p: usize| latencies[(latencies.len() * p / 100).min(latencies.len() - 1)];
    println!(
        "mutation addComment through GraphQL, one at a time ({requests}): p50 {:.2} ms, p99 {:.2} ms",
        percentile(50).as_secs_f64() * 1000.0,
        percentile(99).as_secs_f64() * 1000.0
    );
    let one_at_a_time = "addComment through the router in this process, one at a time";
    let mut figures = vec![
        Figure::ours(
            format!("{one_at_a_time}, p50"),
            Measure::millis(percentile(50)),
        ),
        Figure::ours(
            format!("{one_at_a_time}, p99"),
            Measure::millis(percentile(99)),
        ),
    ];

    let done = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + duration;
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(clients);
    for _ in 0..clients {
        let (router, token, done) = (router.clone(), token.clone(), Arc::clone(&done));
        let id = plan_test_case(&router, &token).await?;
        let query = comment(&id);
        tasks.push(tokio::spawn(async move {
            while Instant::now() < deadline {
                post_graphql(&router, &token, &query).await?;
                done.fetch_add(1, Ordering::Relaxed);
            }
            Ok::<_, anyhow::Error>(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    let rate = done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64();
    println!(
        "mutation addComment through GraphQL, {clients} concurrent clients: {rate:.0} mutations/s"
    );
    figures.push(Figure::ours(
        format!("addComment through the router in this process, {clients} concurrent clients"),
        Measure::new(rate, "mutations/s"),
    ));
    Ok(figures)
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn the_scratch_url_changes_only_the_database() {
        let cases = [
            (
                "postgres://postgres@127.0.0.1:5432/aegis",
                "postgres://postgres@127.0.0.1:5432/bench",
            ),
            (
                "postgres://u:p@db/aegis?sslmode=require",
                "postgres://u:p@db/bench?sslmode=require",
            ),
            ("postgres://db:5432", "postgres://db:5432/bench"),
        ];
        for (url, expected) in cases {
            assert_eq!(with_database(url, "bench").ok().as_deref(), Some(expected));
        }
    }
}
