//! `aegis chaos all [--quick]`: crashes under load, on this machine only (127.0.0.1), each on a throwaway
//! PostgreSQL cluster of its own. Clients send comments with idempotency keys to a real `aegis serve` and
//! retry an unanswered request with the same key until it is acknowledged, while
//! - the server is killed with SIGKILL several times and restarted on the same port and data directory;
//! - PostgreSQL is killed (every process, postmaster first, as a power cut would) and restarted under it;
//! - the same with `synchronous_commit = off`, where the harness must see acknowledged comments lost: a
//!   durability check that cannot fail proves nothing.
//!
//! Afterwards it counts what was acknowledged and is missing from the log (lost) or there twice (doubled),
//! checks each test case's sequences are contiguous and the hash chain intact, and whether the read models
//! after catch-up equal a fresh rebuild. `api/tests/crash.rs` runs the same scenarios.
//!
//! `aegis chaos all` also sends [`hostile`] requests, runs the [`authorization`] fuzz over a socket and,
//! from a checkout, runs the [`fuzzing`] scripts.

pub mod authorization;
pub mod fuzzing;
pub mod hostile;

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail, ensure};
use commands::context::{Actor as MetadataActor, SystemClock};
use commands::hash_chain::{self, ChainVerdict};
use domain::role::Role;
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

use crate::auth::identity::{Identity, IdentitySettings, RequestOrigin};
use crate::auth::session::Authenticator;
use crate::auth::tokens::SigningKeys;
use crate::local_postgres::{LocalPostgres, LocalPostgresOptions, find_or_start};

const EMAIL: &str = "chaos.lead@example.com";
const PASSWORD: &str = "chaos: correct horse battery staple";

/// How much load and how many crashes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChaosSize {
    pub clients: usize,
    pub comments_per_client: usize,
    /// Milliseconds between one (re)start and the next kill of the server.
    pub server_kills_after_ms: Vec<u64>,
}

impl ChaosSize {
    /// What the test command runs: about half a minute in all.
    pub fn quick() -> Self {
        Self {
            clients: 6,
            comments_per_client: 120,
            server_kills_after_ms: vec![300, 500, 250, 400],
        }
    }

    pub fn full() -> Self {
        Self {
            clients: 16,
            comments_per_client: 400,
            server_kills_after_ms: vec![300, 700, 250, 900, 400, 600, 350, 800, 500, 450],
        }
    }
}

/// What one scenario saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChaosReport {
    pub scenario: &'static str,
    pub crashes: usize,
    pub acknowledged: usize,
    pub retried: u32,
    /// Acknowledged comments the log does not hold.
    pub lost: usize,
    /// Comments the log holds twice.
    pub doubled: usize,
    /// Whether the read models equal a rebuild (checked after the server kills).
    pub read_models_match: Option<bool>,
    /// How long `/ready` and a query took to answer while PostgreSQL was down.
    pub answered_while_down: Option<Duration>,
}

/// A throwaway cluster with Aegis migrated on it and the user the clients sign in as.
#[derive(Debug)]
pub struct Cluster {
    postgres: LocalPostgres,
    options: LocalPostgresOptions,
    /// The owner's URL of Aegis' database on it.
    pub url: String,
    _dir: tempfile::TempDir,
}

impl Cluster {
    pub async fn start(aegis: &Path, durable: bool) -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        let options = LocalPostgresOptions {
            probe: None,
            private_port: free_port()?,
            ..LocalPostgresOptions::new(dir.path())
        };
        let postgres = find_or_start(&options).await?;
        let url = postgres.owner_url();
        if !durable {
            let admin = PgPool::connect(&url).await?;
            for setting in [
                "ALTER SYSTEM SET synchronous_commit = off",
                "ALTER SYSTEM SET wal_writer_delay = '10s'",
                "ALTER SYSTEM SET wal_writer_flush_after = 0",
                "SELECT pg_reload_conf()",
            ] {
                sqlx::query(setting).execute(&admin).await?;
            }
            admin.close().await;
        }
        let migrated = Command::new(aegis)
            .arg("migrate")
            .env("DATABASE_URL", &url)
            .env("AEGIS_DATA_DIR", dir.path())
            .output()?;
        ensure!(
            migrated.status.success(),
            "aegis migrate failed: {migrated:?}"
        );
        let pool = PgPool::connect(&url).await?;
        let identity = Identity::new(
            pool.clone(),
            Arc::new(SystemClock),
            Authenticator::new(Arc::new(SigningKeys::ephemeral()), pool.clone()),
            IdentitySettings::default(),
        );
        identity
            .create_user(
                RequestOrigin {
                    correlation_id: Uuid::now_v7(),
                    client_ip: None,
                },
                MetadataActor::system("chaos"),
                EMAIL,
                "Chaos Lead",
                BTreeSet::from([Role::RedLead]),
                Some(PASSWORD),
            )
            .await?;
        pool.close().await;
        Ok(Self {
            postgres,
            options,
            url,
            _dir: dir,
        })
    }

    /// The server, a private cluster (the scale-out tests copy it into a standby).
    pub fn postgres(&self) -> &LocalPostgres {
        &self.postgres
    }

    fn cluster_dir(&self) -> anyhow::Result<PathBuf> {
        match &self.postgres {
            LocalPostgres::Private(private) => Ok(private.cluster_dir().to_owned()),
            LocalPostgres::Server { .. } => bail!("expected a private cluster"),
        }
    }
}

pub fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// An `aegis serve` on a fixed port, killed with SIGKILL when dropped.
#[derive(Debug)]
pub struct Server {
    child: Child,
}

impl Server {
    pub fn start(aegis: &Path, url: &str, data_dir: &Path, port: u16) -> anyhow::Result<Self> {
        Self::start_with(aegis, url, data_dir, port, &[])
    }

    /// The same with more environment variables (a read replica, schedules).
    pub fn start_with(
        aegis: &Path,
        url: &str,
        data_dir: &Path,
        port: u16,
        environment: &[(&str, &str)],
    ) -> anyhow::Result<Self> {
        let child = Command::new(aegis)
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .envs(environment.iter().copied())
            .env("DATABASE_URL", url)
            .env("AEGIS_DATA_DIR", data_dir)
            .env("AEGIS_LOG_FORMAT", "json")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        Ok(Self { child })
    }

    pub fn kill(&mut self) -> anyhow::Result<()> {
        self.child.kill()?;
        self.child.wait()?;
        Ok(())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn http_client(timeout: Duration) -> anyhow::Result<reqwest::Client> {
    let _already_installed = rustls::crypto::ring::default_provider().install_default();
    Ok(reqwest::Client::builder().timeout(timeout).build()?)
}

pub async fn wait_ready(http: &reqwest::Client, base: &str) -> anyhow::Result<()> {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(30) {
        if http
            .get(format!("{base}/ready"))
            .send()
            .await
            .is_ok_and(|response| response.status().is_success())
        {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    bail!("the server at {base} did not become ready within 30 s")
}

/// Posts `query` until it is answered without a transport error, a 5xx or a retryable GraphQL error (the
/// server or the database was down, or two commands met on one test case); returns the answer and the tries.
async fn until_answered(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    key: &str,
    query: &str,
) -> anyhow::Result<(Value, u32)> {
    let started = Instant::now();
    let mut tries = 0;
    loop {
        tries += 1;
        ensure!(
            started.elapsed() < Duration::from_secs(60),
            "no answer to {query} within a minute"
        );
        let sent = http
            .post(format!("{base}/graphql"))
            .bearer_auth(token)
            .header("idempotency-key", key)
            .json(&json!({ "query": query }))
            .send()
            .await;
        let answer = match sent {
            Ok(response) if !response.status().is_server_error() => {
                response.json::<Value>().await.ok()
            }
            _ => None,
        };
        let Some(answer) = answer else {
            tokio::time::sleep(Duration::from_millis(30)).await;
            continue;
        };
        let code = answer["errors"][0]["extensions"]["code"].as_str();
        if matches!(code, Some("CONFLICT" | "INTERNAL" | "UNAVAILABLE")) {
            tokio::time::sleep(Duration::from_millis(30)).await;
            continue;
        }
        ensure!(answer.get("errors").is_none(), "{query}: {answer}");
        return Ok((answer, tries));
    }
}

/// Signs in as the cluster's user; returns the session token (send it as a bearer token).
pub async fn sign_in(http: &reqwest::Client, base: &str) -> anyhow::Result<Arc<str>> {
    Ok(sign_in_as(http, base, EMAIL, PASSWORD).await?.into())
}

/// Signs in through GraphQL and returns the session token its cookie holds.
pub async fn sign_in_as(
    http: &reqwest::Client,
    base: &str,
    email: &str,
    password: &str,
) -> anyhow::Result<String> {
    let login = http
        .post(format!("{base}/graphql"))
        .json(&json!({
            "query": "mutation($email: String!, $password: String!) { login(email: $email, password: $password) { userId } }",
            "variables": { "email": email, "password": password },
        }))
        .send()
        .await?;
    let cookie = login
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find_map(|value| value.strip_prefix("aegis_session="))
        .with_context(|| format!("signing in as {email} set no session cookie"))?;
    Ok(cookie.split(';').next().unwrap_or_default().to_owned())
}

/// What one client ends with: its test case, the comments it was told were recorded, its retries.
type ClientOutcome = (String, BTreeSet<String>, u32);

/// The clients: each plans a test case and sends its comments.
#[derive(Debug)]
pub struct Load {
    clients: Vec<tokio::task::JoinHandle<anyhow::Result<ClientOutcome>>>,
}

impl Load {
    pub async fn start(
        http: &reqwest::Client,
        base: &str,
        size: &ChaosSize,
    ) -> anyhow::Result<Self> {
        let token = sign_in(http, base).await?;
        let mut clients = Vec::new();
        for client in 0..size.clients {
            // One test case per client, so that clients rarely meet on one aggregate.
            let (planned, _) = until_answered(
                http,
                base,
                &token,
                &format!("plan-{client}"),
                &format!(
                    r#"mutation {{ planTestCase(plan: {{ title: "load {client}", objective: "", technique: "T1059",
                        procedure: {{ kind: MANUAL }}, steps: "run it" }}) {{ id }} }}"#
                ),
            )
            .await?;
            let test_case = planned["data"]["planTestCase"]["id"]
                .as_str()
                .context("no test case id")?
                .to_owned();
            let (http, base, token) = (http.clone(), base.to_owned(), Arc::clone(&token));
            let comments = size.comments_per_client;
            clients.push(tokio::spawn(async move {
                let mut acknowledged = BTreeSet::new();
                let mut retried = 0;
                for comment in 0..comments {
                    let body = format!("comment {client}-{comment}");
                    let (_, tries) = until_answered(
                        &http,
                        &base,
                        &token,
                        &format!("comment-{client}-{comment}"),
                        &format!(r#"mutation {{ addComment(id: "{test_case}", body: "{body}") {{ id }} }}"#),
                    )
                    .await?;
                    retried += tries - 1;
                    acknowledged.insert(body);
                }
                Ok((test_case, acknowledged, retried))
            }));
        }
        Ok(Self { clients })
    }

    /// Waits for the clients and checks the log against what they were told.
    pub async fn finish(
        self,
        pool: &PgPool,
        scenario: &'static str,
        crashes: usize,
    ) -> anyhow::Result<(ChaosReport, Vec<Uuid>)> {
        let mut report = ChaosReport {
            scenario,
            crashes,
            acknowledged: 0,
            retried: 0,
            lost: 0,
            doubled: 0,
            read_models_match: None,
            answered_while_down: None,
        };
        let mut test_cases = Vec::new();
        for client in self.clients {
            let (test_case, acknowledged, retried) = client.await??;
            report.acknowledged += acknowledged.len();
            report.retried += retried;
            let bodies: Vec<String> = sqlx::query_scalar(
                "SELECT payload->'CommentAdded'->>'body' FROM events
                  WHERE aggregate_id = $1 AND event_type = 'TestCaseCommentAdded' ORDER BY sequence",
            )
            .bind(&test_case)
            .fetch_all(pool)
            .await?;
            let stored: BTreeSet<&String> = bodies.iter().collect();
            report.doubled += bodies.len() - stored.len();
            report.lost += acknowledged
                .iter()
                .filter(|body| !stored.contains(body))
                .count();
            ensure!(
                stored.iter().all(|body| acknowledged.contains(*body)),
                "{test_case} holds a comment nobody was told of"
            );
            let (events, newest): (i64, i64) = sqlx::query_as(
                "SELECT count(*), max(sequence) FROM events WHERE aggregate_id = $1",
            )
            .bind(&test_case)
            .fetch_one(pool)
            .await?;
            ensure!(
                events == newest,
                "the sequences of {test_case} are not contiguous"
            );
            test_cases.push(test_case.parse()?);
        }
        ensure!(
            matches!(hash_chain::verify(pool).await?, ChainVerdict::Intact { .. }),
            "the hash chain is broken"
        );
        Ok((report, test_cases))
    }
}

/// A cluster, a server on it and the clients writing: where every scenario starts.
struct Running {
    cluster: Cluster,
    app_dir: tempfile::TempDir,
    port: u16,
    base: String,
    http: reqwest::Client,
    server: Server,
    load: Load,
}

impl Running {
    async fn start(aegis: &Path, size: &ChaosSize, durable: bool) -> anyhow::Result<Self> {
        let cluster = Cluster::start(aegis, durable).await?;
        let app_dir = tempfile::tempdir()?;
        let port = free_port()?;
        let base = format!("http://127.0.0.1:{port}");
        let http = http_client(Duration::from_secs(5))?;
        let server = Server::start(aegis, &cluster.url, app_dir.path(), port)?;
        wait_ready(&http, &base).await?;
        let load = Load::start(&http, &base, size).await?;
        Ok(Self {
            cluster,
            app_dir,
            port,
            base,
            http,
            server,
            load,
        })
    }
}

/// The server killed with SIGKILL at each pause and restarted; then the read models are compared with a
/// rebuild.
pub async fn server_kills(aegis: &Path, size: &ChaosSize) -> anyhow::Result<ChaosReport> {
    let Running {
        cluster,
        app_dir,
        port,
        base,
        http,
        mut server,
        load,
    } = Running::start(aegis, size, true).await?;
    for pause in &size.server_kills_after_ms {
        tokio::time::sleep(Duration::from_millis(*pause)).await;
        server.kill()?;
        server = Server::start(aegis, &cluster.url, app_dir.path(), port)?;
        wait_ready(&http, &base).await?;
    }
    let pool = PgPool::connect(&cluster.url).await?;
    let (mut report, test_cases) = load
        .finish(
            &pool,
            "server killed (SIGKILL) and restarted",
            size.server_kills_after_ms.len(),
        )
        .await?;
    server.kill()?;
    let projector = crate::serve::projector(&pool, 500);
    projector.catch_up().await?;
    let comments = async || -> anyhow::Result<Vec<Vec<projections::test_cases::CommentRow>>> {
        let mut all = Vec::new();
        for test_case in &test_cases {
            let row = projections::test_cases::find(&pool, *test_case)
                .await?
                .context("a test case is missing from the read model")?;
            all.push(row.comments);
        }
        Ok(all)
    };
    let kept = comments().await?;
    projector.rebuild(None).await?;
    report.read_models_match = Some(comments().await? == kept);
    pool.close().await;
    drop(cluster);
    Ok(report)
}

/// Kills every process of the cluster at once (the postmaster first, so that nothing shuts down in order).
async fn kill_postgres(cluster_dir: &Path) -> anyhow::Result<()> {
    let pid_file = std::fs::read_to_string(cluster_dir.join("postmaster.pid"))?;
    let postmaster = pid_file
        .lines()
        .next()
        .unwrap_or_default()
        .trim()
        .to_owned();
    let children = Command::new("ps")
        .args(["-o", "pid=", "--ppid", &postmaster])
        .output()?;
    let mut pids = vec![postmaster];
    pids.extend(
        String::from_utf8_lossy(&children.stdout)
            .split_whitespace()
            .map(str::to_owned),
    );
    // Some children may be gone by the time their turn comes: each kill on its own, failures ignored.
    for pid in &pids {
        let _ = Command::new("kill")
            .args(["-9", pid])
            .stderr(Stdio::null())
            .status();
    }
    let started = Instant::now();
    while pids
        .iter()
        .any(|pid| Path::new(&format!("/proc/{pid}")).exists())
    {
        ensure!(
            started.elapsed() < Duration::from_secs(10),
            "PostgreSQL did not die"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

/// While PostgreSQL is down: how long `/ready` (which must say 503) and a query take to answer.
async fn answered_while_down(base: &str) -> anyhow::Result<Duration> {
    let http = http_client(Duration::from_secs(15))?;
    let started = Instant::now();
    let ready = http.get(format!("{base}/ready")).send().await?;
    ensure!(
        ready.status() == reqwest::StatusCode::SERVICE_UNAVAILABLE,
        "/ready answered {} while PostgreSQL was down",
        ready.status()
    );
    let answer = http
        .post(format!("{base}/graphql"))
        .json(&json!({ "query": "{ serverInfo { version } }" }))
        .send()
        .await?;
    ensure!(
        answer.status().is_server_error() || answer.status().is_success(),
        "a query answered {} while PostgreSQL was down",
        answer.status()
    );
    Ok(started.elapsed())
}

/// PostgreSQL killed under the running server, a third of a second into the load, and started again.
pub async fn postgres_crash(
    aegis: &Path,
    size: &ChaosSize,
    durable: bool,
) -> anyhow::Result<ChaosReport> {
    // The data directory is bound to the end: the server keeps running on it.
    let Running {
        cluster,
        app_dir: _app_dir,
        base,
        mut server,
        load,
        ..
    } = Running::start(aegis, size, durable).await?;
    // The session and the clients' test cases were acknowledged before any comment: made durable even without
    // synchronous commits (a checkpoint flushes the WAL), so that what the unsafe run loses is comments, which
    // the harness counts, and not a test case the comments then cannot find.
    if !durable {
        let owner = PgPool::connect(&cluster.url).await?;
        sqlx::query("CHECKPOINT").execute(&owner).await?;
        owner.close().await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    kill_postgres(&cluster.cluster_dir()?).await?;
    let answered = answered_while_down(&base).await?;
    let restarted = find_or_start(&cluster.options).await?;
    let pool = PgPool::connect(&cluster.url).await?;
    let scenario = if durable {
        "PostgreSQL killed and restarted"
    } else {
        "the same with synchronous_commit = off (must lose)"
    };
    let (mut report, _) = load.finish(&pool, scenario, 1).await?;
    report.answered_while_down = Some(answered);
    server.kill()?;
    pool.close().await;
    drop(restarted);
    drop(cluster);
    Ok(report)
}

/// Every scenario, and the table of what they saw; fails when a durable scenario lost or doubled anything,
/// the read models differ from a rebuild, or the unsafe one saw no loss in three tries.
pub async fn all(aegis: &Path, size: &ChaosSize) -> anyhow::Result<(Vec<ChaosReport>, String)> {
    let mut reports = vec![
        server_kills(aegis, size).await?,
        postgres_crash(aegis, size, true).await?,
    ];
    let mut unsafe_run = postgres_crash(aegis, size, false).await?;
    for _ in 0..2 {
        if unsafe_run.lost > 0 {
            break;
        }
        unsafe_run = postgres_crash(aegis, size, false).await?;
    }
    reports.push(unsafe_run);
    let mut table = String::from(
        "| scenario | crashes | acknowledged | retried | lost | doubled | read models = rebuild | answered while down |\n|---|---|---|---|---|---|---|---|\n",
    );
    for report in &reports {
        let _ = writeln!(
            table,
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            report.scenario,
            report.crashes,
            report.acknowledged,
            report.retried,
            report.lost,
            report.doubled,
            report
                .read_models_match
                .map_or("–", |same| if same { "yes" } else { "NO" }),
            report.answered_while_down.map_or_else(
                || "–".to_owned(),
                |took| format!("{:.1} s", took.as_secs_f64())
            ),
        );
    }
    Ok((reports, table))
}

/// Whether the reports are what a durable Aegis must show (see [`all`]).
pub fn verdict(reports: &[ChaosReport]) -> Result<(), String> {
    for report in reports {
        let must_lose = report.scenario.contains("must lose");
        if must_lose && report.lost == 0 {
            return Err(format!(
                "{}: nothing lost, so the harness cannot see a loss",
                report.scenario
            ));
        }
        if !must_lose && (report.lost > 0 || report.doubled > 0) {
            return Err(format!(
                "{}: {} lost, {} doubled",
                report.scenario, report.lost, report.doubled
            ));
        }
        if report.read_models_match == Some(false) {
            return Err(format!(
                "{}: the read models differ from a rebuild",
                report.scenario
            ));
        }
    }
    Ok(())
}
