//! Authorisation fuzz on whose object it is; `api/tests/role_matrix.rs` covers every field × role.
//!
//! - Other users' objects of every kind (`api::chaos::authorization`, which `aegis chaos all` also runs over
//!   a socket): two users of every role send random queries and mutations against test cases planned,
//!   assigned and blinded for others, campaigns other leads created, other accounts, tokens and
//!   notifications; every answer must be the role table's decision, both ways.
//! - Personal objects, harder: random calls against one user's API token and notification, mixed with the
//!   caller's own ids; every one must come back refused or empty, and afterwards the owner's token still
//!   works and the notification is still unread.
//!
//! `AEGIS_TEST_SIZE=long` makes 3,000 and 2,000 calls instead of 600 and 300; `AEGIS_FUZZ_SEED` replays a run.
#![allow(clippy::unwrap_used)]

mod support;

use api::chaos::authorization::{self, Client, FuzzSize};
use api::state::AppState;
use chrono::{TimeDelta, Utc};
use domain::role::Role;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde_json::Value;
use sqlx::PgPool;
use support::{graphql, graphql_with_headers, ok, signed_in, state};

fn is_long() -> bool {
    std::env::var("AEGIS_TEST_SIZE").as_deref() == Ok("long")
}

fn seed() -> u64 {
    std::env::var("AEGIS_FUZZ_SEED").map_or_else(|_| rand::random(), |seed| seed.parse().unwrap())
}

/// The whole application in-process, as the other tests drive it.
struct InProcess(AppState);

impl Client for InProcess {
    async fn graphql(&self, token: &str, query: &str) -> anyhow::Result<Value> {
        Ok(graphql(&self.0, Some(token), query).await)
    }

    async fn sign_in(&self, email: &str, password: &str) -> anyhow::Result<String> {
        let (answer, headers) = graphql_with_headers(
            &self.0,
            None,
            &format!(
                r#"mutation {{ login(email: "{email}", password: "{password}") {{ userId }} }}"#
            ),
        )
        .await;
        ok(&answer);
        let cookie = headers[axum::http::header::SET_COOKIE].to_str()?;
        Ok(cookie
            .split(';')
            .next()
            .unwrap_or_default()
            .trim_start_matches("aegis_session=")
            .to_owned())
    }

    async fn settle(&self) -> anyhow::Result<()> {
        self.0.projector.catch_up().await?;
        Ok(())
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn every_role_gets_the_role_tables_answer_on_other_users_objects(pool: PgPool) {
    let state = state(&pool);
    let size = FuzzSize {
        calls: if is_long() { 3_000 } else { 600 },
        seed: seed(),
    };
    let started = std::time::Instant::now();
    let report = authorization::run(&InProcess(state.clone()), &state.identity, size)
        .await
        .unwrap();
    eprintln!(
        "{} calls in {:.1} s\n{}",
        size.calls,
        started.elapsed().as_secs_f64(),
        report.table()
    );
    assert!(report.passed(), "{}", report.table());
    // Both ways: every role had calls the table allows and calls it refuses, and they were answered so.
    for figures in &report.figures {
        assert!(figures.allowed > 0 && figures.denied > 0, "{figures:?}");
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn nobody_revokes_reads_or_marks_another_users_token_or_notification(pool: PgPool) {
    let state = state(&pool);
    let (owner_id, owner) = signed_in(&state, &[Role::RedTech]).await;
    let (_, lead) = signed_in(&state, &[Role::RedLead]).await;
    let created = graphql(
        &state,
        Some(&owner),
        &format!(
            r#"mutation {{ createApiToken(name: "owner's", scope: {{ kind: FULL }}, expiresAt: "{}") {{ id token }} }}"#,
            (Utc::now() + TimeDelta::days(30)).to_rfc3339()
        ),
    )
    .await;
    let token_id = ok(&created)["createApiToken"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let owner_api_token = ok(&created)["createApiToken"]["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let planned = graphql(
        &state,
        Some(&lead),
        r#"mutation { planTestCase(plan: { title: "fuzzed", objective: "", technique: "T1059",
            procedure: { kind: MANUAL }, steps: "run it" }) { id } }"#,
    )
    .await;
    let test_case = ok(&planned)["planTestCase"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    graphql(
        &state,
        Some(&lead),
        &format!(r#"mutation {{ assignTestCase(id: "{test_case}", redAssignee: "{owner_id}") {{ id }} }}"#),
    )
    .await;
    state.projector.catch_up().await.unwrap();
    let notifications = graphql(
        &state,
        Some(&owner),
        "{ myNotifications { edges { node { id } } } }",
    )
    .await;
    let notification_id = ok(&notifications)["myNotifications"]["edges"][0]["node"]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // One caller of every role; the red technician is the owner's peer.
    let mut callers = Vec::new();
    for role in [
        Role::Admin,
        Role::RedLead,
        Role::RedTech,
        Role::BlueLead,
        Role::BlueTech,
        Role::Viewer,
    ] {
        callers.push((role, signed_in(&state, &[role]).await.1));
    }
    let seed = seed();
    let calls = if is_long() { 2_000 } else { 300 };
    let mut random = StdRng::seed_from_u64(seed);
    let mut unauthorised = Vec::new();
    for _ in 0..calls {
        let (role, caller) = callers.choose(&mut random).unwrap();
        let own = uuid::Uuid::now_v7();
        let mut ids = [format!("\"{notification_id}\""), format!("\"{own}\"")];
        ids.shuffle(&mut random);
        let (query, succeeded): (String, fn(&Value, &str) -> bool) = match random.gen_range(0..5) {
            0 => (
                format!(r#"mutation {{ revokeApiToken(id: "{token_id}") }}"#),
                |answer, _| answer["data"]["revokeApiToken"] == true,
            ),
            1 => (
                format!(
                    "mutation {{ markNotificationsRead(ids: [{}]) {{ marked }} }}",
                    ids.join(", ")
                ),
                |answer, _| answer["data"]["markNotificationsRead"]["marked"].as_u64() > Some(0),
            ),
            2 => (
                format!(
                    "mutation {{ markNotificationsRead(ids: [{}], all: {}) {{ marked }} }}",
                    ids.join(", "),
                    random.gen_bool(0.5)
                ),
                |answer, _| answer["data"]["markNotificationsRead"]["marked"].as_u64() > Some(0),
            ),
            3 => ("{ myApiTokens { id } }".to_owned(), |answer, target| {
                answer.to_string().contains(target)
            }),
            _ => (
                format!(
                    "{{ myNotifications(first: {}) {{ edges {{ node {{ id }} }} }} }}",
                    random.gen_range(1..50)
                ),
                |answer, target| answer.to_string().contains(target),
            ),
        };
        let answer = graphql(&state, Some(caller), &query).await;
        let target = if query.contains("Token") {
            &token_id
        } else {
            &notification_id
        };
        if succeeded(&answer, target) {
            unauthorised.push(format!("{role:?}: {query} -> {answer}"));
        }
    }
    eprintln!(
        "seed {seed}: {calls} calls as {} callers against another user's token and notification, {} unauthorised successes",
        callers.len(),
        unauthorised.len()
    );
    assert!(unauthorised.is_empty(), "seed {seed}: {unauthorised:#?}");

    // Untouched: the owner's token still works and the notification is still unread.
    let me = graphql(&state, Some(&owner_api_token), "{ me { id } }").await;
    assert_eq!(ok(&me)["me"]["id"], owner_id.to_string().as_str());
    state.projector.catch_up().await.unwrap();
    let unread = graphql(&state, Some(&owner), "{ unreadNotificationCount }").await;
    assert_eq!(ok(&unread)["unreadNotificationCount"], 1);
}
