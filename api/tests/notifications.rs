//! Notifications through GraphQL: a red lead assigns a red tech, who sees an unread "assigned" notification,
//! marks it read and sees the count drop; nobody else can mark it, a read-only token may read but not mark,
//! and the live summary follows.
#![allow(clippy::unwrap_used)]

mod support;

use std::time::Duration;

use api::auth::session::Authentication;
use api::state::AppState;
use async_graphql::Request;
use chrono::Utc;
use domain::role::Role;
use futures::{Stream, StreamExt};
use serde_json::{Value, json};
use sqlx::PgPool;
use support::{error_code, graphql, signed_in, state};

fn data<'a>(response: &'a Value, name: &str) -> &'a Value {
    assert!(response.get("errors").is_none(), "{response}");
    &response["data"][name]
}

const LIST: &str =
    "{ myNotifications { edges { node { id kind subjectKind subjectId subjectTitle message actorId
    actorName read readAt } } } unreadNotificationCount }";

/// Plans a test case as `red_lead` and assigns it to `red_tech_id`; returns the test case id.
async fn plan_and_assign(state: &AppState, red_lead: &str, red_tech_id: &str) -> String {
    let planned = graphql(
        state,
        Some(red_lead),
        r#"mutation { planTestCase(plan: {
            title: "LSASS dump through comsvcs.dll", objective: "blocked by EDR", technique: "T1003.001",
            procedure: { kind: MANUAL }, steps: "rundll32 comsvcs.dll MiniDump", platforms: ["windows"],
            targets: ["ws-042"], tags: [], blind: false }) { id } }"#,
    )
    .await;
    let id = data(&planned, "planTestCase")["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let assigned = graphql(
        state,
        Some(red_lead),
        &format!(
            r#"mutation {{ assignTestCase(id: "{id}", redAssignee: "{red_tech_id}") {{ id }} }}"#
        ),
    )
    .await;
    data(&assigned, "assignTestCase");
    id
}

#[sqlx::test(migrations = "../migrations")]
async fn an_assigned_tech_is_notified_and_marks_it_read_and_nobody_else_can(pool: PgPool) {
    let state = state(&pool);
    let (red_lead_id, red_lead) = signed_in(&state, &[Role::RedLead]).await;
    let (red_tech_id, red_tech) = signed_in(&state, &[Role::RedTech]).await;
    let (_, blue_tech) = signed_in(&state, &[Role::BlueTech]).await;
    let (_, admin) = signed_in(&state, &[Role::Admin]).await;
    let test_case_id = plan_and_assign(&state, &red_lead, &red_tech_id.to_string()).await;
    state.projector.catch_up().await.unwrap();

    let listed = graphql(&state, Some(&red_tech), LIST).await;
    assert_eq!(data(&listed, "unreadNotificationCount"), 1);
    let edges = data(&listed, "myNotifications")["edges"]
        .as_array()
        .unwrap();
    assert_eq!(edges.len(), 1, "{listed}");
    let notification = &edges[0]["node"];
    assert_eq!(
        notification,
        &json!({
            "id": notification["id"],
            "kind": "ASSIGNED",
            "subjectKind": "TEST_CASE",
            "subjectId": test_case_id,
            "subjectTitle": "LSASS dump through comsvcs.dll",
            "message": "You were assigned to \"LSASS dump through comsvcs.dll\" on the red side.",
            "actorId": red_lead_id.to_string(),
            "actorName": "Test User",
            "read": false,
            "readAt": null,
        })
    );
    let notification_id = notification["id"].as_str().unwrap().to_owned();

    // The lead who assigned is not told of their own action.
    let lead_list = graphql(&state, Some(&red_lead), LIST).await;
    assert_eq!(data(&lead_list, "unreadNotificationCount"), 0);

    // Someone else's notification cannot be marked, not even by an admin; it stays unread.
    let mark = format!(
        r#"mutation {{ markNotificationsRead(ids: ["{notification_id}"]) {{ marked unreadCount }} }}"#
    );
    for other in [&blue_tech, &admin] {
        let refused = graphql(&state, Some(other), &mark).await;
        assert_eq!(error_code(&refused), Some("NOT_FOUND"), "{refused}");
    }
    let still = graphql(&state, Some(&red_tech), "{ unreadNotificationCount }").await;
    assert_eq!(data(&still, "unreadNotificationCount"), 1);

    let marked = graphql(&state, Some(&red_tech), &mark).await;
    assert_eq!(
        data(&marked, "markNotificationsRead"),
        &json!({ "marked": 1, "unreadCount": 0 })
    );
    let listed = graphql(&state, Some(&red_tech), LIST).await;
    assert_eq!(data(&listed, "unreadNotificationCount"), 0);
    let node = &data(&listed, "myNotifications")["edges"][0]["node"];
    assert_eq!(node["read"], true);
    assert!(node["readAt"].is_string(), "{node}");
    let unread_only = graphql(
        &state,
        Some(&red_tech),
        "{ myNotifications(unreadOnly: true) { edges { node { id } } } }",
    )
    .await;
    assert_eq!(
        data(&unread_only, "myNotifications")["edges"],
        json!([]),
        "{unread_only}"
    );

    // Marking again changes nothing; ids and `all` together, or neither, are refused.
    let again = graphql(&state, Some(&red_tech), &mark).await;
    assert_eq!(
        data(&again, "markNotificationsRead"),
        &json!({ "marked": 0, "unreadCount": 0 })
    );
    for bad in [
        "mutation { markNotificationsRead { marked } }".to_owned(),
        "mutation { markNotificationsRead(ids: []) { marked } }".to_owned(),
        format!(
            r#"mutation {{ markNotificationsRead(ids: ["{notification_id}"], all: true) {{ marked }} }}"#
        ),
    ] {
        let refused = graphql(&state, Some(&red_tech), &bad).await;
        assert_eq!(error_code(&refused), Some("VALIDATION"), "{bad}: {refused}");
    }
    let all = graphql(
        &state,
        Some(&blue_tech),
        "mutation { markNotificationsRead(all: true) { marked unreadCount } }",
    )
    .await;
    assert_eq!(
        data(&all, "markNotificationsRead"),
        &json!({ "marked": 0, "unreadCount": 0 })
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn a_read_only_token_reads_notifications_but_does_not_mark_them(pool: PgPool) {
    let state = state(&pool);
    let (_, red_lead) = signed_in(&state, &[Role::RedLead]).await;
    let (red_tech_id, red_tech) = signed_in(&state, &[Role::RedTech]).await;
    plan_and_assign(&state, &red_lead, &red_tech_id.to_string()).await;
    state.projector.catch_up().await.unwrap();

    let expires = (Utc::now() + chrono::TimeDelta::days(1)).to_rfc3339();
    let created = graphql(
        &state,
        Some(&red_tech),
        &format!(
            r#"mutation {{ createApiToken(name: "inbox", scope: {{ kind: READ_ONLY }}, expiresAt: "{expires}") {{ token }} }}"#
        ),
    )
    .await;
    let read_only = data(&created, "createApiToken")["token"]
        .as_str()
        .unwrap()
        .to_owned();

    let listed = graphql(&state, Some(&read_only), LIST).await;
    assert_eq!(data(&listed, "unreadNotificationCount"), 1);
    let refused = graphql(
        &state,
        Some(&read_only),
        "mutation { markNotificationsRead(all: true) { marked } }",
    )
    .await;
    assert_eq!(error_code(&refused), Some("FORBIDDEN"), "{refused}");
    assert_eq!(
        refused["errors"][0]["extensions"]["reason"],
        "READ_ONLY_TOKEN"
    );
    let anonymous = graphql(&state, None, "{ unreadNotificationCount }").await;
    assert_eq!(
        error_code(&anonymous),
        Some("UNAUTHENTICATED"),
        "{anonymous}"
    );
}

async fn next_item(
    stream: &mut (impl Stream<Item = async_graphql::Response> + Unpin),
    seconds: u64,
) -> Value {
    let response = tokio::time::timeout(Duration::from_secs(seconds), stream.next())
        .await
        .expect("an item in time")
        .expect("the stream goes on");
    assert!(response.errors.is_empty(), "{:?}", response.errors);
    response.data.into_json().unwrap()
}

async fn authentication(state: &AppState, token: &str) -> Authentication {
    state
        .identity
        .authenticator()
        .authenticate_token(token)
        .await
}

#[sqlx::test(migrations = "../migrations")]
async fn the_summary_is_sent_at_once_and_again_when_a_notification_arrives_or_is_read(
    pool: PgPool,
) {
    let state = state(&pool);
    let (_, red_lead) = signed_in(&state, &[Role::RedLead]).await;
    let (red_tech_id, red_tech) = signed_in(&state, &[Role::RedTech]).await;
    let schema = api::graphql::schema(&state);
    let mut stream = schema.execute_stream(
        Request::new(
            "subscription { notificationsChanged(first: 5) { unreadCount newest { kind read } } }",
        )
        .data(authentication(&state, &red_tech).await),
    );
    assert_eq!(
        next_item(&mut stream, 5).await,
        json!({ "notificationsChanged": { "unreadCount": 0, "newest": [] } })
    );

    plan_and_assign(&state, &red_lead, &red_tech_id.to_string()).await;
    state.projector.catch_up().await.unwrap();
    assert_eq!(
        next_item(&mut stream, 5).await,
        json!({ "notificationsChanged": { "unreadCount": 1, "newest": [{ "kind": "ASSIGNED", "read": false }] } })
    );

    let marked = graphql(
        &state,
        Some(&red_tech),
        "mutation { markNotificationsRead(all: true) { marked } }",
    )
    .await;
    assert_eq!(data(&marked, "markNotificationsRead")["marked"], 1);
    assert_eq!(
        next_item(&mut stream, 5).await,
        json!({ "notificationsChanged": { "unreadCount": 0, "newest": [{ "kind": "ASSIGNED", "read": true }] } })
    );
}
