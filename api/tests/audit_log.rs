//! The audit log through GraphQL: summaries naming the actor, the hash chain, filters that combine, paging
//! that stays put while events arrive, and who may read it.
#![allow(clippy::unwrap_used)]

mod support;

use api::state::AppState;
use domain::role::Role;
use serde_json::Value;
use sqlx::PgPool;
use support::{create_user, error_code, graphql, sign_in, state};

const ENTRY: &str =
    "globalPosition occurredAt actorId actor actorRoles aggregateType aggregateId sequence
    eventType summary hash prevHash";

fn field<'a>(response: &'a Value, name: &str) -> &'a Value {
    assert!(response.get("errors").is_none(), "{response}");
    &response["data"][name]
}

async fn plan_test_case(state: &AppState, token: &str, title: &str) -> String {
    let planned = graphql(
        state,
        Some(token),
        &format!(
            r#"mutation {{ planTestCase(plan: {{ title: "{title}", objective: "blocked by EDR",
                technique: "T1003.001", procedure: {{ kind: MANUAL }}, steps: "dump it" }}) {{ id }} }}"#
        ),
    )
    .await;
    field(&planned, "planTestCase")["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// One page of `auditLog` with `arguments` (inside the parentheses).
async fn audit_log(state: &AppState, token: &str, arguments: &str) -> Value {
    let response = graphql(
        state,
        Some(token),
        &format!(
            "{{ auditLog({arguments}) {{ edges {{ cursor node {{ {ENTRY} }} }}
                pageInfo {{ hasNextPage hasPreviousPage endCursor }} }} }}"
        ),
    )
    .await;
    field(&response, "auditLog").clone()
}

fn summaries(page: &Value) -> Vec<&str> {
    page["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|edge| edge["node"]["summary"].as_str().unwrap())
        .collect()
}

#[sqlx::test(migrations = "../migrations")]
async fn auditors_filter_and_page_the_whole_log_while_events_arrive(pool: PgPool) {
    let state = state(&pool);
    create_user(&state, "admin@aegis.test", &[Role::Admin]).await;
    let red_id = create_user(&state, "red.lead@aegis.test", &[Role::RedLead]).await;
    let admin = sign_in(&state, "admin@aegis.test").await;
    let red = sign_in(&state, "red.lead@aegis.test").await;
    let mut test_cases = Vec::new();
    for title in ["Alpha", "Beta", "Gamma"] {
        test_cases.push(plan_test_case(&state, &red, title).await);
    }
    state.projector.catch_up().await.unwrap();

    // Actor, aggregate type and event type together: red's plans, newest first, each named and chained.
    let plans = format!(
        r#"filter: {{ actorId: "{red_id}", aggregateType: "TestCase", eventType: "TestCasePlanned" }}"#
    );
    let page = audit_log(&state, &admin, &plans).await;
    assert_eq!(
        summaries(&page),
        [
            "red.lead@aegis.test planned test case “Gamma” (T1003.001)",
            "red.lead@aegis.test planned test case “Beta” (T1003.001)",
            "red.lead@aegis.test planned test case “Alpha” (T1003.001)",
        ]
    );
    let newest = &page["edges"][0]["node"];
    assert_eq!(newest["actor"], "red.lead@aegis.test");
    assert_eq!(newest["actorRoles"], serde_json::json!(["red_lead"]));
    assert_eq!(newest["aggregateId"], test_cases[2].as_str());
    assert_eq!(newest["sequence"], "1");
    assert_eq!(newest["prevHash"], "0".repeat(64), "a stream's first event");
    let stored_hash: Vec<u8> =
        sqlx::query_scalar("SELECT hash FROM events WHERE aggregate_id = $1 AND sequence = 1")
            .bind(&test_cases[2])
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(newest["hash"], hex::encode(stored_hash));

    // One aggregate; an actor with a type that never matches; events of other actors.
    let one = audit_log(
        &state,
        &admin,
        &format!(r#"filter: {{ aggregateId: "{}" }}"#, test_cases[0]),
    )
    .await;
    assert_eq!(
        summaries(&one),
        ["red.lead@aegis.test planned test case “Alpha” (T1003.001)"]
    );
    let none = audit_log(
        &state,
        &admin,
        &format!(r#"filter: {{ actorId: "{red_id}", aggregateType: "Campaign" }}"#),
    )
    .await;
    assert_eq!(summaries(&none), Vec::<&str>::new());
    let sign_ins = audit_log(
        &state,
        &admin,
        r#"filter: { actorId: "system:login", eventType: "UserLoggedIn" }"#,
    )
    .await;
    assert_eq!(
        summaries(&sign_ins),
        [
            "system:login recorded a sign-in (user red.lead@aegis.test)",
            "system:login recorded a sign-in (user admin@aegis.test)",
        ]
    );

    // Time bounds are inclusive and combine with the rest.
    let planned_at = newest["occurredAt"].as_str().unwrap();
    let at_the_newest = audit_log(
        &state,
        &admin,
        &format!(
            r#"filter: {{ aggregateType: "TestCase", from: "{planned_at}", to: "{planned_at}" }}"#
        ),
    )
    .await;
    assert_eq!(summaries(&at_the_newest).len(), 1, "{at_the_newest}");
    let before_everything =
        audit_log(&state, &admin, r#"filter: { to: "2000-01-01T00:00:00Z" }"#).await;
    assert_eq!(summaries(&before_everything), Vec::<&str>::new());

    // Paging: two lines, then a new plan arrives, then the next page continues where the first ended.
    let first_page = audit_log(&state, &admin, &format!("{plans}, first: 2")).await;
    assert_eq!(summaries(&first_page).len(), 2);
    assert_eq!(first_page["pageInfo"]["hasNextPage"], true);
    let cursor = first_page["pageInfo"]["endCursor"].as_str().unwrap();
    plan_test_case(&state, &red, "Delta").await;
    state.projector.catch_up().await.unwrap();
    let second_page = audit_log(
        &state,
        &admin,
        &format!(r#"{plans}, first: 2, after: "{cursor}""#),
    )
    .await;
    assert_eq!(
        summaries(&second_page),
        ["red.lead@aegis.test planned test case “Alpha” (T1003.001)"]
    );
    assert_eq!(second_page["pageInfo"]["hasNextPage"], false);
    assert_eq!(second_page["pageInfo"]["hasPreviousPage"], true);
    let fresh = audit_log(&state, &admin, &format!("{plans}, first: 1")).await;
    assert_eq!(
        summaries(&fresh),
        ["red.lead@aegis.test planned test case “Delta” (T1003.001)"]
    );

    let bad_cursor = graphql(
        &state,
        Some(&admin),
        r#"{ auditLog(after: "yesterday") { edges { cursor } } }"#,
    )
    .await;
    assert_eq!(error_code(&bad_cursor), Some("VALIDATION"));
}

#[sqlx::test(migrations = "../migrations")]
async fn only_admins_read_the_whole_audit_log(pool: PgPool) {
    let state = state(&pool);
    for (email, role) in [
        ("red.lead@aegis.test", Role::RedLead),
        ("blue.lead@aegis.test", Role::BlueLead),
        ("viewer@aegis.test", Role::Viewer),
    ] {
        create_user(&state, email, &[role]).await;
        let token = sign_in(&state, email).await;
        let refused = graphql(
            &state,
            Some(&token),
            "{ auditLog { edges { node { summary } } } }",
        )
        .await;
        assert_eq!(error_code(&refused), Some("FORBIDDEN"), "{role:?}");
    }
    let anonymous = graphql(&state, None, "{ auditLog { edges { node { summary } } } }").await;
    assert_eq!(error_code(&anonymous), Some("UNAUTHENTICATED"));
}
