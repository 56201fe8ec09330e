//! The `aegis` binary as operators run it: audit verify and replay, projections rebuild, and two `aegis serve`
//! processes sharing one database, of which exactly one runs the projectors.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use commands::context::{Actor, Clock, CommandContext, SystemClock};
use commands::service::CommandService;
use domain::role::Role;
use domain::test_case::{
    Plan, ProcedureSource, TechniqueId, TestCase, TestCaseAction, TestCaseCommand, Text, Title,
};
use domain::user::{DisplayName, Email, User, UserCommand};
use serde_json::Value;
use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, PgPool};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use uuid::Uuid;

/// The URL of the test's own database, on the server the tests run against.
fn database_url(pool: &PgPool) -> String {
    let base: PgConnectOptions = std::env::var("DATABASE_URL").unwrap().parse().unwrap();
    let name = pool.connect_options().get_database().unwrap().to_owned();
    base.database(&name).to_url_lossy().to_string()
}

/// A data directory of the test's own (the signing key lives there), kept for the test's duration.
fn data_dir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

fn aegis(pool: &PgPool, args: &[&str]) -> Output {
    let data_dir = data_dir();
    Command::new(env!("CARGO_BIN_EXE_aegis"))
        .args(args)
        .env("DATABASE_URL", database_url(pool))
        .env("AEGIS_DATA_DIR", data_dir.path())
        .env("AEGIS_LOG_FORMAT", "json")
        .output()
        .unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

async fn register_users(pool: &PgPool, count: usize) {
    register_users_from(pool, 0, count).await;
}

#[test]
fn version_and_help_explain_themselves() {
    let version = Command::new(env!("CARGO_BIN_EXE_aegis"))
        .arg("--version")
        .output()
        .unwrap();
    assert_eq!(
        stdout(&version).trim(),
        format!("aegis {}", env!("CARGO_PKG_VERSION"))
    );
    let help = Command::new(env!("CARGO_BIN_EXE_aegis"))
        .args(["serve", "--help"])
        .output()
        .unwrap();
    for option in [
        "--listen",
        "AEGIS_LISTEN",
        "--database-url",
        "DATABASE_URL",
        "AEGIS_OWNER_DATABASE_URL",
    ] {
        assert!(
            stdout(&help).contains(option),
            "serve --help lacks {option}"
        );
    }
    let bad = Command::new(env!("CARGO_BIN_EXE_aegis"))
        .arg("frobnicate")
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2), "bad usage exits 2");
}

#[sqlx::test(migrations = "../migrations")]
async fn audit_verify_prints_ok_or_the_first_broken_link(pool: PgPool) {
    register_users(&pool, 3).await;
    let intact = aegis(&pool, &["audit", "verify"]);
    assert!(intact.status.success(), "{intact:?}");
    assert_eq!(stdout(&intact).trim(), "OK: 3 events, hash chain intact");

    let mut dba = pool.acquire().await.unwrap();
    sqlx::query("SET session_replication_role = replica")
        .execute(&mut *dba)
        .await
        .unwrap();
    let altered: i64 = sqlx::query_scalar(
        r#"UPDATE events SET metadata = metadata || '{"actor_id":"mallory"}' WHERE aggregate_id = 'u1'
           RETURNING global_seq"#,
    )
    .fetch_one(&mut *dba)
    .await
    .unwrap();
    let broken = aegis(&pool, &["audit", "verify"]);
    assert_eq!(broken.status.code(), Some(1), "{broken:?}");
    let report = stdout(&broken);
    assert!(
        report.contains(&format!("global position {altered}: User u1 sequence 1")),
        "{report}"
    );
    assert!(report.contains("content was altered"), "{report}");
}

/// A clock stopped at one moment, so each command of a test happens when the test says.
#[derive(Debug)]
struct StoppedClock(DateTime<Utc>);

impl Clock for StoppedClock {
    fn now(&self) -> DateTime<Utc> {
        self.0
    }
}

/// Gives `action` to test case `id` as `actor` at `at` (also the command's time in the metadata).
async fn on_test_case(
    pool: &PgPool,
    id: &str,
    actor: (Uuid, Role),
    at: &str,
    action: TestCaseAction,
) {
    let at: DateTime<Utc> = at.parse().unwrap();
    let service = CommandService::<TestCase>::new(pool.clone(), (), Arc::new(StoppedClock(at)));
    let command = TestCaseCommand {
        actor: domain::actor::Actor::new(actor.0, [actor.1]),
        at,
        action,
    };
    service
        .execute(
            &CommandContext::new(Actor::user(actor.0, [actor.1])),
            id,
            command,
        )
        .await
        .unwrap();
}

#[sqlx::test(migrations = "../migrations")]
async fn audit_replay_prints_every_state_a_test_case_went_through(pool: PgPool) {
    let red_lead = (Uuid::from_u128(1), Role::RedLead);
    let red_tech = (Uuid::from_u128(2), Role::RedTech);
    let test_case = Uuid::from_u128(100).to_string();
    let plan = Plan {
        title: Title::parse("LSASS dump").unwrap(),
        objective: Text::parse("blocked by EDR").unwrap(),
        technique: TechniqueId::parse("T1003.001").unwrap(),
        procedure: ProcedureSource::Manual,
        steps: Text::parse("rundll32 comsvcs.dll MiniDump").unwrap(),
        platforms: BTreeSet::new(),
        targets: BTreeSet::new(),
        tags: BTreeSet::new(),
        blind: false,
    };
    on_test_case(
        &pool,
        &test_case,
        red_lead,
        "2026-01-05T09:00:00Z",
        TestCaseAction::PlanTestCase { plan },
    )
    .await;
    on_test_case(
        &pool,
        &test_case,
        red_lead,
        "2026-01-05T10:00:00Z",
        TestCaseAction::AssignTestCase {
            red_assignee: Some(red_tech.0),
            blue_assignee: None,
        },
    )
    .await;
    on_test_case(
        &pool,
        &test_case,
        red_tech,
        "2026-01-06T08:00:00Z",
        TestCaseAction::StartExecution,
    )
    .await;
    // The audit log names actors it has seen registered; this one is, the red tech is not.
    let users = CommandService::<User>::new(pool.clone(), (), Arc::new(SystemClock));
    users
        .execute(
            &CommandContext::new(Actor::system("test")),
            &red_lead.0.to_string(),
            UserCommand::Register {
                email: Email::parse("red.lead@aegis.demo").unwrap(),
                display_name: DisplayName::parse("Rita").unwrap(),
                roles: BTreeSet::from([Role::RedLead]),
            },
        )
        .await
        .unwrap();
    api::serve::projector(&pool, 100).catch_up().await.unwrap();

    let text = aegis(&pool, &["audit", "replay", "--aggregate", &test_case]);
    assert!(text.status.success(), "{text:?}");
    let printed = stdout(&text);
    assert!(
        printed.starts_with(&format!("TestCase {test_case}\n")),
        "{printed}"
    );
    for line in [
        "#1 2026-01-05T09:00:00Z TestCasePlanned — red.lead@aegis.demo planned test case “LSASS dump” (T1003.001)",
        "#2 2026-01-05T10:00:00Z TestCaseAssigned — red.lead@aegis.demo assigned the test case: red to 00000000-0000-0000-0000-000000000002",
        "#3 2026-01-06T08:00:00Z TestCaseExecutionStarted — 00000000-0000-0000-0000-000000000002 started the execution",
    ] {
        assert!(printed.contains(line), "{line} not in {printed}");
    }
    assert!(printed.contains(r#""state": "executing""#), "{printed}");

    let json = aegis(
        &pool,
        &[
            "audit",
            "replay",
            "--aggregate",
            &test_case,
            "--type",
            "TestCase",
            "--until",
            "2026-01-05T10:00:00Z",
            "--json",
        ],
    );
    assert!(json.status.success(), "{json:?}");
    let document: Value = serde_json::from_str(&stdout(&json)).unwrap();
    assert_eq!(document["aggregate_type"], "TestCase");
    assert_eq!(document["later_events"], 1);
    let steps = document["steps"].as_array().unwrap();
    let states: Vec<&Value> = steps.iter().map(|step| &step["state"]["state"]).collect();
    assert_eq!(states, ["planned", "assigned"]);
    assert_eq!(steps[1]["state"]["red_assignee"], red_tech.0.to_string());
    assert_eq!(steps[0]["state"]["red_assignee"], Value::Null);
    assert_eq!(steps[1]["actor"], "red.lead@aegis.demo");
    assert_eq!(steps[1]["actor_roles"], serde_json::json!(["red_lead"]));
    assert_eq!(steps[1]["event_type"], "TestCaseAssigned");
    assert_eq!(steps[0]["occurred_at"], "2026-01-05T09:00:00Z");

    let too_early = aegis(
        &pool,
        &[
            "audit",
            "replay",
            "--aggregate",
            &test_case,
            "--until",
            "2026-01-01T00:00:00Z",
        ],
    );
    assert_eq!(too_early.status.code(), Some(1), "{too_early:?}");
    assert!(
        String::from_utf8_lossy(&too_early.stderr).contains("had no events yet at 2026-01-01"),
        "{too_early:?}"
    );

    let unknown = aegis(
        &pool,
        &["audit", "replay", "--aggregate", "no-such-aggregate"],
    );
    assert_eq!(unknown.status.code(), Some(1), "{unknown:?}");
    assert!(
        String::from_utf8_lossy(&unknown.stderr).contains("aegis: no-such-aggregate has no events"),
        "{unknown:?}"
    );
    let wrong_type = aegis(
        &pool,
        &[
            "audit",
            "replay",
            "--aggregate",
            &test_case,
            "--type",
            "Campaign",
        ],
    );
    assert_eq!(wrong_type.status.code(), Some(1), "{wrong_type:?}");
    assert!(
        String::from_utf8_lossy(&wrong_type.stderr).contains("has no events as a Campaign"),
        "{wrong_type:?}"
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn projections_rebuild_from_the_command_line(pool: PgPool) {
    register_users(&pool, 2).await;
    let rebuilt = aegis(&pool, &["projections", "rebuild"]);
    assert!(rebuilt.status.success(), "{rebuilt:?}");
    let names: Vec<&str> = projections::all()
        .iter()
        .map(|projection| projection.name())
        .collect();
    assert!(
        stdout(&rebuilt).starts_with(&format!("rebuilt {} in ", names.join(", "))),
        "{}",
        stdout(&rebuilt)
    );
    let audit_rows: i64 = sqlx::query_scalar("SELECT count(*) FROM audit_log")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(audit_rows, 2);

    let one = aegis(&pool, &["projections", "rebuild", "event_totals"]);
    assert!(
        stdout(&one).starts_with("rebuilt event_totals in "),
        "{one:?}"
    );

    let unknown = aegis(&pool, &["projections", "rebuild", "nonsense"]);
    assert_eq!(unknown.status.code(), Some(1));
    let message = String::from_utf8_lossy(&unknown.stderr);
    assert!(
        message
            .contains("no projection is named \"nonsense\"; known: audit_log, event_totals, users, test_cases, campaigns, scoring_policies"),
        "{message}"
    );
}

/// A running `aegis serve` and the address it printed.
struct Server {
    child: Child,
    address: String,
}

impl Server {
    fn start(pool: &PgPool, data_dir: &std::path::Path) -> Self {
        Self::start_with(pool, data_dir, &[])
    }

    /// Starts `aegis serve` on a free port; the rest of its standard output is read on (and kept by) a
    /// thread, so that the server never writes into a closed pipe.
    fn start_with(pool: &PgPool, data_dir: &std::path::Path, env: &[(&str, &str)]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_aegis"))
            .args(["serve", "--listen", "127.0.0.1:0"])
            .env("DATABASE_URL", database_url(pool))
            .env("AEGIS_DATA_DIR", data_dir)
            .env("AEGIS_LOG_FORMAT", "json")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let banner = lines.next().unwrap().unwrap();
        std::thread::spawn(move || lines.for_each(drop));
        let address = banner
            .strip_prefix("Aegis is running at http://")
            .and_then(|rest| rest.split('/').next())
            .unwrap_or_else(|| panic!("unexpected banner {banner:?}"))
            .to_owned();
        Self { child, address }
    }

    async fn ready(&self) -> Option<Value> {
        let mut stream = tokio::net::TcpStream::connect(&self.address).await.ok()?;
        let request = format!(
            "GET /ready HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            self.address
        );
        stream.write_all(request.as_bytes()).await.ok()?;
        let mut response = String::new();
        stream.read_to_string(&mut response).await.ok()?;
        let body = response.split("\r\n\r\n").nth(1)?;
        serde_json::from_str(body).ok()
    }

    async fn is_leader(&self) -> bool {
        self.ready()
            .await
            .is_some_and(|ready| ready["projector"]["leader"] == true)
    }

    fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([signal, &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn wait_until(what: &str, limit: Duration, check: impl AsyncFnMut() -> bool) -> Duration {
    within(limit, check)
        .await
        .unwrap_or_else(|| panic!("{what} did not happen within {limit:?}"))
}

/// How long `check` took to hold, or `None` when it did not within `limit`.
async fn within(limit: Duration, mut check: impl AsyncFnMut() -> bool) -> Option<Duration> {
    let started = Instant::now();
    while started.elapsed() < limit {
        if check().await {
            return Some(started.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    None
}

/// How long the leader test waits for a server to start or for the projector to catch up. Both are slow on a
/// loaded machine (a debug build on two cores with the rest of the suite running), and the projector applies
/// an event only once every writing transaction older than the event's has ended, in the whole PostgreSQL
/// cluster, whatever its database (that keeps the order gapless; README: "keep transactions short"): a test
/// or a benchmark elsewhere on a shared server holding one open holds this test back. 10 s was not enough
/// there. Bounded all the same: a projector that never catches up still fails the test, naming the
/// transaction that held it back.
const UNDER_LOAD: Duration = Duration::from_secs(60);

/// [`wait_until`] for the projector; when it gives up, names the oldest writing transaction in the cluster.
async fn wait_for_projection(pool: &PgPool, what: &str, check: impl AsyncFnMut() -> bool) {
    if within(UNDER_LOAD, check).await.is_none() {
        let oldest: Option<String> = sqlx::query_scalar(
            "SELECT format('pid %s in database %s, open for %s: %s', pid, datname, now() - xact_start, query)
               FROM pg_stat_activity
              WHERE backend_xid IS NOT NULL
              ORDER BY age(backend_xid) DESC
              LIMIT 1",
        )
        .fetch_optional(pool)
        .await
        .unwrap();
        let oldest = oldest.unwrap_or_else(|| "none".to_owned());
        panic!(
            "{what} did not happen within {UNDER_LOAD:?}; the oldest transaction writing in the cluster now: {oldest}"
        );
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn one_of_two_servers_projects_and_the_other_takes_over_when_it_dies(pool: PgPool) {
    // Replicas share their signing key, as production replicas share AEGIS_BISCUIT_PRIVATE_KEY.
    let shared = data_dir();
    let first = Server::start(&pool, shared.path());
    wait_until("the first server leading", UNDER_LOAD, async || {
        first.is_leader().await
    })
    .await;
    let mut second = Server::start(&pool, shared.path());
    wait_until("the second server ready", UNDER_LOAD, async || {
        second.ready().await.is_some()
    })
    .await;
    assert!(!second.is_leader().await, "two leaders at once");

    // The leader projects events appended by anyone.
    register_users(&pool, 2).await;
    wait_for_projection(&pool, "the leader projecting", async || {
        second
            .ready()
            .await
            .is_some_and(|ready| ready["projector"]["projections"][0]["eventsBehind"] == 0)
    })
    .await;

    // The leader dies without a chance to clean up; its connection drops and the follower takes over.
    first.signal("-KILL");
    let took = wait_until(
        "the follower taking over",
        Duration::from_secs(10),
        async || second.is_leader().await,
    )
    .await;
    assert!(took < Duration::from_secs(5), "takeover took {took:?}");
    register_users_from(&pool, 2, 3).await;
    wait_for_projection(&pool, "the new leader projecting", async || {
        let (projected, appended): (i64, i64) = sqlx::query_as(
            "SELECT (SELECT coalesce(sum(events), 0)::bigint FROM event_totals),
                    (SELECT count(*) FROM events)",
        )
        .fetch_one(&pool)
        .await
        .unwrap();
        projected == appended
    })
    .await;

    // SIGTERM is a graceful shutdown with a zero exit status.
    second.signal("-TERM");
    let status = second.child.wait().unwrap();
    assert!(status.success(), "{status:?}");
}

async fn register_users_from(pool: &PgPool, start: usize, end: usize) {
    let users = CommandService::<User>::new(pool.clone(), (), Arc::new(SystemClock));
    for index in start..end {
        let command = UserCommand::Register {
            email: Email::parse(&format!("user{index}@example.org")).unwrap(),
            display_name: DisplayName::parse("Someone").unwrap(),
            roles: BTreeSet::from([Role::Viewer]),
        };
        users
            .execute(
                &CommandContext::new(Actor::system("test")),
                &format!("u{index}"),
                command,
            )
            .await
            .unwrap();
    }
}

/// With `OTEL_EXPORTER_OTLP_ENDPOINT` set, spans of HTTP requests reach the collector (a listener here that
/// records what is posted to it), at the latest when the server shuts down and flushes.
#[sqlx::test(migrations = "../migrations")]
async fn traces_are_exported_over_otlp_when_an_endpoint_is_set(pool: PgPool) {
    let collector = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", collector.local_addr().unwrap());
    let received = tokio::spawn(async move {
        let (mut connection, _) = collector.accept().await.unwrap();
        let mut request = Vec::new();
        let mut buffer = [0_u8; 4096];
        while !String::from_utf8_lossy(&request).contains("\r\n\r\n") {
            let read = connection.read(&mut buffer).await.unwrap();
            if read == 0 {
                break;
            }
            request.extend_from_slice(&buffer[..read]);
        }
        let _ = connection
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
            .await;
        String::from_utf8_lossy(&request).into_owned()
    });

    let data_dir = data_dir();
    let server = Server::start_with(
        &pool,
        data_dir.path(),
        &[("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint)],
    );
    wait_until(
        "the server answering",
        Duration::from_secs(10),
        async || server.ready().await.is_some(),
    )
    .await;
    server.signal("-TERM");

    let request = tokio::time::timeout(Duration::from_secs(20), received)
        .await
        .unwrap()
        .unwrap();
    assert!(request.starts_with("POST /v1/traces "), "{request}");
    assert!(
        request
            .to_lowercase()
            .contains("content-type: application/x-protobuf"),
        "{request}"
    );
}

/// A corpus folder beside the repository (`$AEGIS_CORPUS` overrides).
fn corpus(path: &str) -> String {
    std::env::var("AEGIS_CORPUS")
        .map_or_else(
            |_| std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus"),
            std::path::PathBuf::from,
        )
        .join(path)
        .display()
        .to_string()
}

#[sqlx::test(migrations = "../migrations")]
async fn import_prints_one_json_object_and_exits_by_whether_every_file_imported(pool: PgPool) {
    let checkout = tempfile::tempdir().unwrap();
    let folder = checkout.path().join("yml");
    std::fs::create_dir(&folder).unwrap();
    let lolbas = corpus("lolbas/yml/OSBinaries/Addinutil.yml");
    std::fs::copy(&lolbas, folder.join("Addinutil.yml")).unwrap();
    let good = aegis(&pool, &["import", "lolbas", &lolbas, "--json"]);
    assert!(good.status.success(), "{good:?}");
    let summary: Value = serde_json::from_str(stdout(&good).trim()).unwrap();
    assert_eq!(summary["source"], "lolbas");
    assert_eq!(summary["files_seen"], 1);
    assert_eq!(summary["files_failed"], 0);
    assert!(summary["records_new"].as_u64().unwrap() > 0);
    assert_eq!(summary["errors"], serde_json::json!([]));

    // A directory with one good and one broken file: the good one imports (unchanged now), the broken one
    // is reported by name, and the exit status says something failed.
    std::fs::write(folder.join("Broken.yml"), "Name: [unclosed").unwrap();
    let partial = aegis(
        &pool,
        &["import", "lolbas", folder.to_str().unwrap(), "--json"],
    );
    assert_eq!(partial.status.code(), Some(1), "{partial:?}");
    let summary: Value = serde_json::from_str(stdout(&partial).trim()).unwrap();
    assert_eq!(summary["files_seen"], 2);
    assert_eq!(summary["files_failed"], 1);
    assert_eq!(summary["records_new"], 0);
    assert_eq!(summary["records_changed"], 0);
    assert!(summary["records_unchanged"].as_u64().unwrap() > 0);
    let error = &summary["errors"][0];
    assert!(
        error["file"].as_str().unwrap().ends_with("Broken.yml"),
        "{error}"
    );
    assert!(!error["error"].as_str().unwrap().is_empty());

    let unknown = aegis(&pool, &["import", "splunk", &lolbas]);
    assert_eq!(unknown.status.code(), Some(2), "bad usage");
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("unknown source"));
}
