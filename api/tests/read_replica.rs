//! A streaming standby (`pg_basebackup` of a throwaway primary, `api::scale_out::Standby`) serves the GraphQL
//! queries of a server started with `AEGIS_READ_DATABASE_URL`, and every client still reads its own writes.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::time::{Duration, Instant};

use api::chaos::{self, Cluster};
use api::scale_out::{self, Standby};
use sqlx::PgPool;

fn aegis() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_aegis"))
}

/// How many queries the server on `base` has read from `from` ("replica" or "primary"), from `/metrics`.
async fn queries_read_from(http: &reqwest::Client, base: &str, from: &str) -> u64 {
    let metrics = http
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let series = format!("aegis_graphql_queries_total{{read_from=\"{from}\"}} ");
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(&series))
        .map_or(0, |count| count.trim().parse().unwrap())
}

/// Queries read from the standby (a paused standby serves stale history to a client without a write);
/// a client that has just written sees its write: from the primary while the standby is paused (after the
/// wait), from the standby once it has replayed.
#[tokio::test]
async fn queries_read_the_standby_and_clients_read_their_own_writes() {
    let cluster = Cluster::start(aegis(), true).await.unwrap();
    let standby = Standby::start(&cluster).await.unwrap();
    let data_dir = tempfile::tempdir().unwrap();
    let replica_url = standby.url();
    let environment = [("AEGIS_READ_DATABASE_URL", replica_url.as_str())];
    let servers = scale_out::start_servers(aegis(), &cluster, data_dir.path(), 1, &environment)
        .await
        .unwrap();
    let base = format!("http://127.0.0.1:{}", servers[0].0);
    let http = chaos::http_client(Duration::from_secs(10)).unwrap();
    let token = chaos::sign_in(&http, &base).await.unwrap();

    let (planned, position) = scale_out::graphql(
        &http,
        &base,
        &token,
        None,
        r#"mutation { planTestCase(plan: { title: "replicated", objective: "", technique: "T1059",
            procedure: { kind: MANUAL }, steps: "run it" }) { id } }"#,
    )
    .await
    .unwrap();
    let test_case = planned["data"]["planTestCase"]["id"].as_str().unwrap();
    assert!(
        position.is_some(),
        "a mutation answers with its write position"
    );
    let history = format!(r#"{{ history(kind: TEST_CASE, id: "{test_case}") {{ sequence }} }}"#);
    let events = async |read_after: Option<&str>| {
        let (answer, _) = scale_out::graphql(&http, &base, &token, read_after, &history)
            .await
            .unwrap();
        answer["data"]["history"].as_array().unwrap().len()
    };
    assert_eq!(events(position.as_deref()).await, 1);

    let standby_admin = PgPool::connect(&replica_url).await.unwrap();
    sqlx::query("SELECT pg_wal_replay_pause()")
        .execute(&standby_admin)
        .await
        .unwrap();
    let (_, position) = scale_out::graphql(
        &http,
        &base,
        &token,
        None,
        &format!(
            r#"mutation {{ addComment(id: "{test_case}", body: "after the pause") {{ id }} }}"#
        ),
    )
    .await
    .unwrap();
    let position = position.unwrap();

    let from_replica = queries_read_from(&http, &base, "replica").await;
    assert_eq!(
        events(None).await,
        1,
        "a client without a write reads the paused standby"
    );
    assert_eq!(
        queries_read_from(&http, &base, "replica").await,
        from_replica + 1
    );

    let from_primary = queries_read_from(&http, &base, "primary").await;
    let asked = Instant::now();
    assert_eq!(
        events(Some(&position)).await,
        2,
        "the writer reads its write"
    );
    assert!(asked.elapsed() >= api::read_replica::REPLICA_WAIT);
    assert_eq!(
        queries_read_from(&http, &base, "primary").await,
        from_primary + 1
    );

    sqlx::query("SELECT pg_wal_replay_resume()")
        .execute(&standby_admin)
        .await
        .unwrap();
    let from_replica = queries_read_from(&http, &base, "replica").await;
    assert_eq!(events(Some(&position)).await, 2);
    assert_eq!(
        queries_read_from(&http, &base, "replica").await,
        from_replica + 1
    );
    standby_admin.close().await;
    drop(servers);
}
