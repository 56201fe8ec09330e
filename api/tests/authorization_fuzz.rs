//! Authorisation fuzz on personal objects: random calls, as users of every role, against another user's API
//! token and notification (revoke it, mark it read, find it in one's own lists, mixed with one's own ids).
//! The role table gives nobody these rights over someone else's objects, whatever their role, so every call
//! must come back refused or empty, and afterwards the owner's token still works and the notification is
//! still unread. `api/tests/role_matrix.rs` covers every field × role; this covers whose object it is.
//! `AEGIS_TEST_SIZE=long` makes 2,000 calls instead of 300; `AEGIS_FUZZ_SEED` replays a run.
#![allow(clippy::unwrap_used)]

mod support;

use chrono::{TimeDelta, Utc};
use domain::role::Role;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde_json::Value;
use sqlx::PgPool;
use support::{graphql, ok, signed_in, state};

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
    let seed: u64 = std::env::var("AEGIS_FUZZ_SEED")
        .map_or_else(|_| rand::random(), |seed| seed.parse().unwrap());
    let calls = if std::env::var("AEGIS_TEST_SIZE").as_deref() == Ok("long") {
        2_000
    } else {
        300
    };
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
