//! A streaming standby (`pg_basebackup` of a throwaway primary, `api::scale_out::Standby`) serves the GraphQL
//! queries of a server started with `AEGIS_READ_DATABASE_URL`, every client still reads its own writes, and
//! queries read from the primary while the standby is down.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::time::{Duration, Instant};

use api::chaos::{self, Cluster, Server};
use api::read_replica::{MAX_PROBE_BACK_OFF, REPLICA_WAIT};
use api::scale_out::{self, Standby};
use serde_json::{Value, json};
use sqlx::PgPool;

fn aegis() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_aegis"))
}

/// The tests each run a primary, a standby and a server: one at a time, on this machine's two cores, so that
/// their timings mean something.
static ONE_CLUSTER_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A throwaway primary, its standby, and one signed-in client of a server reading from the standby, with one
/// test case planned. Fields drop in order: the server stops before the databases.
struct Deployment {
    _server: Server,
    standby: Standby,
    _cluster: Cluster,
    _data_dir: tempfile::TempDir,
    base: String,
    http: reqwest::Client,
    token: std::sync::Arc<str>,
    test_case: String,
    /// The position the test case's planning answered with.
    planned_at: Option<String>,
}

impl Deployment {
    async fn start() -> Self {
        let cluster = Cluster::start(aegis(), true).await.unwrap();
        let standby = Standby::start(&cluster).await.unwrap();
        let data_dir = tempfile::tempdir().unwrap();
        let replica_url = standby.url();
        let environment = [("AEGIS_READ_DATABASE_URL", replica_url.as_str())];
        let (port, server) =
            scale_out::start_servers(aegis(), &cluster, data_dir.path(), 1, &environment)
                .await
                .unwrap()
                .pop()
                .unwrap();
        let base = format!("http://127.0.0.1:{port}");
        let http = chaos::http_client(Duration::from_secs(10)).unwrap();
        let token = chaos::sign_in(&http, &base).await.unwrap();
        let (planned, planned_at) = scale_out::graphql(
            &http,
            &base,
            &token,
            None,
            r#"mutation { planTestCase(plan: { title: "replicated", objective: "", technique: "T1059",
                procedure: { kind: MANUAL }, steps: "run it" }) { id } }"#,
        )
        .await
        .unwrap();
        let test_case = planned["data"]["planTestCase"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        Self {
            _server: server,
            standby,
            _cluster: cluster,
            _data_dir: data_dir,
            base,
            http,
            token,
            test_case,
            planned_at,
        }
    }

    /// Comments on the test case; the write position the server answers with.
    async fn comment(&self, body: &str) -> String {
        let mutation = format!(
            r#"mutation {{ addComment(id: "{}", body: "{body}") {{ id }} }}"#,
            self.test_case
        );
        let (_, position) =
            scale_out::graphql(&self.http, &self.base, &self.token, None, &mutation)
                .await
                .unwrap();
        position.unwrap()
    }

    /// How many events of the test case a client that last wrote at `read_after` sees, and how long the
    /// answer took.
    async fn events(&self, read_after: Option<&str>) -> (usize, Duration) {
        let history = format!(
            r#"{{ history(kind: TEST_CASE, id: "{}") {{ sequence }} }}"#,
            self.test_case
        );
        let asked = Instant::now();
        let (answer, _) =
            scale_out::graphql(&self.http, &self.base, &self.token, read_after, &history)
                .await
                .unwrap();
        (
            answer["data"]["history"].as_array().unwrap().len(),
            asked.elapsed(),
        )
    }

    /// The value of one series (name and labels, as Prometheus prints them) of the server's `/metrics`; 0 when
    /// it has not been recorded yet. Every series read here (counters, and a gauge of 0 or 1) is whole.
    async fn metric(&self, series: &str) -> u64 {
        let metrics = self
            .http
            .get(format!("{}/metrics", self.base))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let series = format!("{series} ");
        metrics
            .lines()
            .find_map(|line| line.strip_prefix(&series))
            .map_or(0, |value| value.trim().parse().unwrap())
    }

    /// How many queries the server has read from `from` ("replica" or "primary").
    async fn queries_read_from(&self, from: &str) -> u64 {
        self.metric(&format!(
            "aegis_graphql_queries_total{{read_from=\"{from}\"}}"
        ))
        .await
    }

    /// The server's `/ready`: its status code and what it says about the read replica.
    async fn readiness(&self) -> (u16, Value) {
        let response = self
            .http
            .get(format!("{}/ready", self.base))
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap();
        (status, body["readReplica"].clone())
    }
}

/// Queries read from the standby (a paused standby serves stale history to a client without a write);
/// a client that has just written sees its write: from the primary while the standby is paused (after the
/// wait), from the standby once it has replayed.
#[tokio::test]
async fn queries_read_the_standby_and_clients_read_their_own_writes() {
    let _alone = ONE_CLUSTER_AT_A_TIME.lock().await;
    let deployment = Deployment::start().await;
    assert!(
        deployment.planned_at.is_some(),
        "a mutation answers with its write position"
    );
    assert_eq!(
        deployment.events(deployment.planned_at.as_deref()).await.0,
        1
    );

    let standby_admin = PgPool::connect(&deployment.standby.url()).await.unwrap();
    sqlx::query("SELECT pg_wal_replay_pause()")
        .execute(&standby_admin)
        .await
        .unwrap();
    let position = deployment.comment("after the pause").await;

    let from_replica = deployment.queries_read_from("replica").await;
    assert_eq!(
        deployment.events(None).await.0,
        1,
        "a client without a write reads the paused standby"
    );
    assert_eq!(
        deployment.queries_read_from("replica").await,
        from_replica + 1
    );

    let from_primary = deployment.queries_read_from("primary").await;
    let (events, took) = deployment.events(Some(&position)).await;
    assert_eq!(events, 2, "the writer reads its write");
    assert!(took >= REPLICA_WAIT);
    assert_eq!(
        deployment.queries_read_from("primary").await,
        from_primary + 1
    );
    assert_eq!(
        deployment
            .metric(r#"aegis_read_replica_fallbacks_total{reason="lagging"}"#)
            .await,
        1
    );

    sqlx::query("SELECT pg_wal_replay_resume()")
        .execute(&standby_admin)
        .await
        .unwrap();
    let from_replica = deployment.queries_read_from("replica").await;
    assert_eq!(deployment.events(Some(&position)).await.0, 2);
    assert_eq!(
        deployment.queries_read_from("replica").await,
        from_replica + 1
    );
    standby_admin.close().await;
}

/// A standby that stops (as a crash would) costs the first query at most the wait for a connection, then
/// queries read from the primary at once and `/ready` stays ready and says so; once the standby is back, a
/// background probe finds it and queries read from it again.
#[tokio::test]
async fn queries_read_the_primary_while_the_standby_is_down_and_the_standby_once_it_is_back() {
    let _alone = ONE_CLUSTER_AT_A_TIME.lock().await;
    let deployment = Deployment::start().await;
    let available = "aegis_read_replica_available";
    let from_replica = deployment.queries_read_from("replica").await;
    assert_eq!(deployment.events(None).await.0, 1);
    assert_eq!(
        deployment.queries_read_from("replica").await,
        from_replica + 1
    );
    assert_eq!(deployment.metric(available).await, 1);
    assert_eq!(
        deployment.readiness().await,
        (200, json!({ "available": true }))
    );

    deployment.standby.stop_immediately().await.unwrap();
    let from_primary = deployment.queries_read_from("primary").await;
    let (events, took) = deployment.events(None).await;
    assert_eq!(events, 1, "the first query after the stop is answered");
    eprintln!("the first query after the standby stopped took {took:?}");
    assert!(
        took < REPLICA_WAIT + Duration::from_secs(2),
        "the first query after the stop waited {took:?} for the standby"
    );
    assert_eq!(
        deployment.queries_read_from("primary").await,
        from_primary + 1
    );
    assert_eq!(
        deployment
            .metric(r#"aegis_read_replica_fallbacks_total{reason="unavailable"}"#)
            .await,
        1
    );
    assert_eq!(deployment.metric(available).await, 0);
    assert_eq!(
        deployment.readiness().await,
        (200, json!({ "available": false })),
        "ready while the primary answers, and says that the standby does not"
    );

    // Writes and reads go on; with the standby known to be down no query waits for it, not even when a probe
    // is due (probes run in the background), over a few back-offs.
    let position = deployment.comment("standby down").await;
    let outage_queries_began = Instant::now();
    let mut slowest_while_down = Duration::ZERO;
    while outage_queries_began.elapsed() < Duration::from_secs(4) {
        let (events, took) = deployment.events(Some(&position)).await;
        slowest_while_down = slowest_while_down.max(took);
        assert_eq!(events, 2, "the writer reads its write from the primary");
        assert!(
            took < REPLICA_WAIT,
            "a query waited {took:?} for a standby known to be down"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    eprintln!(
        "the slowest query while the standby was known to be down took {slowest_while_down:?}"
    );
    assert_eq!(
        deployment.queries_read_from("replica").await,
        from_replica + 1
    );

    deployment.standby.start_again().await.unwrap();
    let standby_admin = PgPool::connect(&deployment.standby.url()).await.unwrap();
    let in_recovery: bool = sqlx::query_scalar("SELECT pg_is_in_recovery()")
        .fetch_one(&standby_admin)
        .await
        .unwrap();
    assert!(in_recovery, "the restarted server is a standby again");
    standby_admin.close().await;
    let restarted = Instant::now();
    loop {
        assert_eq!(deployment.events(Some(&position)).await.0, 2);
        if deployment.queries_read_from("replica").await > from_replica + 1 {
            break;
        }
        assert!(
            restarted.elapsed() < MAX_PROBE_BACK_OFF + Duration::from_secs(10),
            "queries still read from the primary {:?} after the standby came back",
            restarted.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    eprintln!(
        "queries read from the standby again {:?} after it restarted",
        restarted.elapsed()
    );
    assert_eq!(deployment.metric(available).await, 1);
    assert_eq!(
        deployment.readiness().await,
        (200, json!({ "available": true }))
    );
}
