//! Killed under load, nothing lost: clients send comments with idempotency keys to a real `aegis serve`, which
//! is killed with SIGKILL several times and restarted on the same port and data directory; each client retries
//! an unanswered request with the same key until it is acknowledged. Afterwards every acknowledged comment is
//! in the log exactly once (and nothing that was never acknowledged), each test case's sequences are
//! contiguous, the hash chain verifies, and the read models after catch-up equal a fresh rebuild.
#![allow(clippy::unwrap_used)]

mod support;

use std::collections::BTreeSet;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use commands::hash_chain::{self, ChainVerdict};
use domain::role::Role;
use serde_json::{Value, json};
use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, PgPool};
use uuid::Uuid;

const CLIENTS: usize = 6;
const COMMENTS_PER_CLIENT: usize = 40;
/// Milliseconds between one restart and the next kill.
const KILL_AFTER_MS: [u64; 4] = [400, 900, 250, 650];

fn database_url(pool: &PgPool) -> String {
    let base: PgConnectOptions = std::env::var("DATABASE_URL").unwrap().parse().unwrap();
    let name = pool.connect_options().get_database().unwrap().to_owned();
    base.database(&name).to_url_lossy().to_string()
}

fn start(pool: &PgPool, data_dir: &std::path::Path, port: u16) -> Child {
    Command::new(env!("CARGO_BIN_EXE_aegis"))
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .env("DATABASE_URL", database_url(pool))
        .env("AEGIS_DATA_DIR", data_dir)
        .env("AEGIS_LOG_FORMAT", "json")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

async fn wait_ready(client: &reqwest::Client, base: &str) {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(30) {
        if client
            .get(format!("{base}/ready"))
            .send()
            .await
            .is_ok_and(|response| response.status().is_success())
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the server did not become ready");
}

/// Posts `query` until it is answered without a transport error, a 5xx or a retryable GraphQL error (the
/// server was killed, or two commands met on one test case); returns the answer and how many tries it took.
async fn until_answered(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    key: Option<&str>,
    query: &str,
) -> (Value, u32) {
    let started = Instant::now();
    let mut tries = 0;
    loop {
        tries += 1;
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no answer to {query} within a minute"
        );
        let mut request = client
            .post(format!("{base}/graphql"))
            .bearer_auth(token)
            .json(&json!({ "query": query }));
        if let Some(key) = key {
            request = request.header("idempotency-key", key);
        }
        let Ok(response) = request.send().await else {
            tokio::time::sleep(Duration::from_millis(30)).await;
            continue;
        };
        if response.status().is_server_error() {
            tokio::time::sleep(Duration::from_millis(30)).await;
            continue;
        }
        let Ok(body) = response.json::<Value>().await else {
            continue;
        };
        let code = body["errors"][0]["extensions"]["code"].as_str();
        if matches!(code, Some("CONFLICT" | "INTERNAL" | "UNAVAILABLE")) {
            tokio::time::sleep(Duration::from_millis(30)).await;
            continue;
        }
        assert!(body.get("errors").is_none(), "{query}: {body}");
        return (body, tries);
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn a_server_killed_under_load_loses_and_doubles_nothing(pool: PgPool) {
    let state = support::state(&pool);
    support::create_user(&state, "red.lead@example.com", &[Role::RedLead]).await;
    let data_dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let base = format!("http://127.0.0.1:{port}");
    let _already_installed = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let mut server = start(&pool, data_dir.path(), port);
    wait_ready(&http, &base).await;

    let login = http
        .post(format!("{base}/graphql"))
        .json(&json!({ "query": format!(
            r#"mutation {{ login(email: "red.lead@example.com", password: "{}") {{ userId }} }}"#,
            support::PASSWORD
        ) }))
        .send()
        .await
        .unwrap();
    let cookie = login.headers()["set-cookie"].to_str().unwrap().to_owned();
    let token = Arc::new(
        cookie
            .split(';')
            .next()
            .unwrap()
            .trim_start_matches("aegis_session=")
            .to_owned(),
    );

    // One test case per client, so that clients rarely meet on one aggregate.
    let mut test_cases = Vec::new();
    for client in 0..CLIENTS {
        let (planned, _) = until_answered(
            &http,
            &base,
            &token,
            Some(&format!("plan-{client}")),
            &format!(
                r#"mutation {{ planTestCase(plan: {{ title: "load {client}", objective: "", technique: "T1059",
                    procedure: {{ kind: MANUAL }}, steps: "run it" }}) {{ id }} }}"#
            ),
        )
        .await;
        test_cases.push(
            planned["data"]["planTestCase"]["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }

    let clients: Vec<_> = test_cases
        .iter()
        .enumerate()
        .map(|(client, test_case)| {
            let (http, base, token, test_case) =
                (http.clone(), base.clone(), Arc::clone(&token), test_case.clone());
            tokio::spawn(async move {
                let mut acknowledged = BTreeSet::new();
                let mut retries = 0;
                for comment in 0..COMMENTS_PER_CLIENT {
                    let body = format!("comment {client}-{comment}");
                    let (_, tries) = until_answered(
                        &http,
                        &base,
                        &token,
                        Some(&format!("comment-{client}-{comment}")),
                        &format!(r#"mutation {{ addComment(id: "{test_case}", body: "{body}") {{ id }} }}"#),
                    )
                    .await;
                    retries += tries - 1;
                    acknowledged.insert(body);
                }
                (test_case, acknowledged, retries)
            })
        })
        .collect();

    // Kill and restart while the clients write.
    for pause in KILL_AFTER_MS {
        tokio::time::sleep(Duration::from_millis(pause)).await;
        server.kill().unwrap();
        server.wait().unwrap();
        server = start(&pool, data_dir.path(), port);
        wait_ready(&http, &base).await;
    }
    let mut acknowledged_total = 0;
    let mut retried_total = 0;
    let mut results = Vec::new();
    for client in clients {
        let (test_case, acknowledged, retries) = client.await.unwrap();
        acknowledged_total += acknowledged.len();
        retried_total += retries;
        results.push((test_case, acknowledged));
    }
    server.kill().unwrap();
    server.wait().unwrap();

    let mut lost = 0;
    for (test_case, acknowledged) in &results {
        let bodies: Vec<String> = sqlx::query_scalar(
            "SELECT payload->'CommentAdded'->>'body' FROM events
              WHERE aggregate_id = $1 AND event_type = 'TestCaseCommentAdded' ORDER BY sequence",
        )
        .bind(test_case)
        .fetch_all(&pool)
        .await
        .unwrap();
        let stored: BTreeSet<String> = bodies.iter().cloned().collect();
        assert_eq!(
            stored.len(),
            bodies.len(),
            "a comment stored twice on {test_case}"
        );
        lost += acknowledged.difference(&stored).count();
        assert_eq!(&stored, acknowledged, "{test_case}");
        let (count, last): (i64, i64) =
            sqlx::query_as("SELECT count(*), max(sequence) FROM events WHERE aggregate_id = $1")
                .bind(test_case)
                .fetch_one(&pool)
                .await
                .unwrap();
        assert_eq!(count, last, "sequences of {test_case} are not contiguous");
    }
    eprintln!(
        "crashes survived: {}, acknowledged comments: {acknowledged_total}, retried requests: {retried_total}, lost: {lost}",
        KILL_AFTER_MS.len()
    );
    assert_eq!(lost, 0);
    assert_eq!(acknowledged_total, CLIENTS * COMMENTS_PER_CLIENT);
    assert!(matches!(
        hash_chain::verify(&pool).await.unwrap(),
        ChainVerdict::Intact { .. }
    ));

    // The read models the killed servers kept equal a rebuild from the log.
    state.projector.catch_up().await.unwrap();
    let comments = async || {
        let mut all = Vec::new();
        for (test_case, _) in &results {
            let id: Uuid = test_case.parse().unwrap();
            let row = projections::test_cases::find(&pool, id)
                .await
                .unwrap()
                .unwrap();
            all.push(row.comments);
        }
        all
    };
    let kept = comments().await;
    assert!(
        kept.iter()
            .all(|comments| comments.len() == COMMENTS_PER_CLIENT)
    );
    state.projector.rebuild(None).await.unwrap();
    assert_eq!(comments().await, kept);
}
