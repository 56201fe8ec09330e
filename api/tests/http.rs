//! The whole HTTP stack driven in-process (no socket) against a real Postgres.
#![allow(clippy::unwrap_used)]

mod support;

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use commands::context::{Actor, CommandContext, SystemClock};
use commands::service::CommandService;
use domain::role::Role;
use domain::user::{DisplayName, Email, User, UserCommand};
use futures::StreamExt;
use serde_json::{Value, json};
use sqlx::PgPool;
use support::{graphql, send, signed_in, state};

async fn register_one_user(pool: &PgPool) {
    let users = CommandService::<User>::new(pool.clone(), (), Arc::new(SystemClock));
    let command = UserCommand::Register {
        email: Email::parse("ada@example.org").unwrap(),
        display_name: DisplayName::parse("Ada").unwrap(),
        roles: BTreeSet::from([Role::Viewer]),
    };
    let context = CommandContext::new(Actor::system("test"));
    users
        .execute(&context, &uuid::Uuid::now_v7().to_string(), command)
        .await
        .unwrap();
}

async fn events(pool: &PgPool) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(pool)
        .await
        .unwrap()
}

#[sqlx::test(migrations = "../migrations")]
async fn server_info_runs_end_to_end_through_the_event_log(pool: PgPool) {
    let state = state(&pool);
    let (_, token) = signed_in(&state, &[Role::Viewer]).await;
    state.projector.catch_up().await.unwrap();
    let query = "{ serverInfo { version schemaVersion eventCount } }";
    let before = graphql(&state, Some(&token), query).await;
    assert_eq!(
        before,
        json!({ "data": { "serverInfo": {
            "version": env!("CARGO_PKG_VERSION"),
            "schemaVersion": api::database::schema_version().to_string(),
            "eventCount": events(&pool).await.to_string(),
        }}})
    );

    register_one_user(&pool).await;
    state.projector.catch_up().await.unwrap();
    let after = graphql(&state, Some(&token), query).await;
    assert_eq!(
        after["data"]["serverInfo"]["eventCount"],
        events(&pool).await.to_string()
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn health_and_readiness_report_database_and_projection_lag(pool: PgPool) {
    let state = state(&pool);
    let (status, headers, body) =
        send(&state, Request::get("/health").body(Body::empty()).unwrap()).await;
    assert_eq!(
        (status, body.as_str()),
        (StatusCode::OK, r#"{"status":"ok"}"#)
    );
    assert!(
        headers.contains_key("x-request-id"),
        "every response carries a request id"
    );

    register_one_user(&pool).await;
    let (status, _, body) = send(&state, Request::get("/ready").body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let ready: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(ready["status"], "ready");
    assert_eq!(ready["projector"]["leader"], false);
    assert_eq!(ready["projector"]["projections"][0]["name"], "audit_log");
    assert_eq!(
        ready["projector"]["projections"][0]["eventsBehind"],
        events(&pool).await
    );

    state.projector.catch_up().await.unwrap();
    let (_, _, body) = send(&state, Request::get("/ready").body(Body::empty()).unwrap()).await;
    let ready: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(ready["projector"]["projections"][0]["eventsBehind"], 0);
}

#[sqlx::test(migrations = "../migrations")]
async fn readiness_fails_when_the_database_is_gone(pool: PgPool) {
    let state = state(&pool);
    pool.close().await;
    let (status, _, body) = send(&state, Request::get("/ready").body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert!(body.contains("unreachable"), "{body}");
}

#[sqlx::test(migrations = "../migrations")]
async fn metrics_are_prometheus_text_with_requests_and_lag(pool: PgPool) {
    let state = state(&pool);
    send(&state, Request::get("/health").body(Body::empty()).unwrap()).await;
    let (status, headers, body) = send(
        &state,
        Request::get("/metrics").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    assert!(
        body.contains(r#"aegis_http_requests_total{method="GET",route="/health",status="200"}"#),
        "{body}"
    );
    assert!(
        body.contains("aegis_http_request_duration_seconds_bucket"),
        "{body}"
    );
    assert!(
        body.contains(r#"aegis_projection_lag_events{projection="audit_log"}"#),
        "{body}"
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn graphiql_is_served_on_get_and_queries_only_on_post(pool: PgPool) {
    let state = state(&pool);
    let (status, _, body) = send(
        &state,
        Request::get("/graphql").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.to_lowercase().contains("graphiql"), "{body}");

    let get_query = Request::get("/graphql?query=%7BserverInfo%7Bversion%7D%7D")
        .body(Body::empty())
        .unwrap();
    let (_, _, body) = send(&state, get_query).await;
    assert!(
        !body.contains("serverInfo"),
        "GET must not execute operations: {body}"
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn abusive_nesting_is_refused(pool: PgPool) {
    let state = state(&pool);
    let nested = format!(
        "{{ __schema {{ types {}name{} }} }}",
        "{ fields { type { ofType ".repeat(6),
        " } } }".repeat(6)
    );
    let (_, token) = signed_in(&state, &[Role::Admin]).await;
    let response = graphql(&state, Some(&token), &nested).await;
    let message = response["errors"][0]["message"]
        .as_str()
        .unwrap_or_default();
    assert!(
        message.contains("too deep") || message.contains("depth"),
        "{response}"
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn projection_progress_is_streamed_to_subscribers(pool: PgPool) {
    let state = state(&pool);
    let (_, token) = signed_in(&state, &[Role::Admin]).await;
    state.projector.catch_up().await.unwrap();
    let authentication = state
        .identity
        .authenticator()
        .authenticate_token(&token)
        .await;
    let schema = api::graphql::schema(&state);
    let subscription = "subscription { projectionProgress { name eventsApplied } }";
    let mut stream =
        schema.execute_stream(async_graphql::Request::new(subscription).data(authentication));
    let first = stream.next().await.unwrap().into_result().unwrap();
    let applied = events(&pool).await.to_string();
    assert_eq!(
        first.data.into_json().unwrap()["projectionProgress"][0],
        json!({ "name": "audit_log", "eventsApplied": applied })
    );

    register_one_user(&pool).await;
    state.projector.catch_up().await.unwrap();
    let second = stream.next().await.unwrap().into_result().unwrap();
    let applied = events(&pool).await.to_string();
    assert_eq!(
        second.data.into_json().unwrap()["projectionProgress"][0]["eventsApplied"],
        applied
    );

    // Without a signed-in admin the subscription is refused.
    let mut anonymous = schema.execute_stream(subscription);
    let refused = anonymous.next().await.unwrap();
    assert_eq!(
        refused.errors[0]
            .extensions
            .as_ref()
            .and_then(|e| e.get("code"))
            .map(ToString::to_string)
            .as_deref(),
        Some("\"UNAUTHENTICATED\"")
    );
}

/// Hostile requests each get a quick 4xx or a GraphQL error with a code, never a 5xx or a hang: an oversized
/// body, malformed JSON, invalid UTF-8, a batch, an alias flood and huge variables.
#[sqlx::test(migrations = "../migrations")]
async fn hostile_requests_are_refused_quickly_and_clearly(pool: PgPool) {
    let state = state(&pool);
    let (_, token) = signed_in(&state, &[Role::Viewer]).await;
    // As an HTTP client sends it: with its length.
    let post = |body: Vec<u8>| {
        Request::post("/graphql")
            .header("content-type", "application/json")
            .header("content-length", body.len())
            .header("authorization", format!("Bearer {token}"))
            .body(Body::from(body))
            .unwrap()
    };
    let started = std::time::Instant::now();

    let oversized = vec![b' '; 10 * 1024 * 1024];
    let (status, _, _) = send(&state, post(oversized)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);

    for (what, body) in [
        (
            "malformed JSON",
            br#"{"query": "{ serverInfo { version } }""#.to_vec(),
        ),
        ("invalid UTF-8", b"{\"query\": \"\xff\xfe\"}".to_vec()),
        (
            "a batch",
            serde_json::to_vec(&vec![json!({ "query": "{ serverInfo { version } }" }); 500])
                .unwrap(),
        ),
    ] {
        let (status, _, body) = send(&state, post(body)).await;
        assert!(status.is_client_error(), "{what}: {status} {body}");
    }

    let mut aliases = String::new();
    for index in 0..5000 {
        let _ = write!(aliases, "a{index}: serverInfo {{ version }} ");
    }
    let (status, _, body) = send(
        &state,
        post(serde_json::to_vec(&json!({ "query": format!("{{ {aliases} }}") })).unwrap()),
    )
    .await;
    let answer: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(!status.is_server_error(), "{status}");
    assert!(
        answer["errors"][0]["message"].as_str().is_some() && answer["data"].is_null(),
        "an alias flood ran: {}",
        &body[..body.len().min(300)]
    );
    assert_eq!(
        answer["errors"][0]["extensions"]["code"],
        "GRAPHQL_VALIDATION_FAILED",
        "{}",
        &body[..body.len().min(300)]
    );

    // async-graphql's own errors get a code too (schemathesis found them without one): a syntax error, a
    // field the schema does not have, an Int argument out of range.
    for query in [
        "{ serverInfo { version }",
        "{ noSuchField }",
        "{ users(first: 9531919505322) { pageInfo { hasNextPage } } }",
    ] {
        let (status, _, body) = send(
            &state,
            post(serde_json::to_vec(&json!({ "query": query })).unwrap()),
        )
        .await;
        let answer: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert!(!status.is_server_error(), "{query}: {status}");
        assert_eq!(
            answer["errors"][0]["extensions"]["code"], "GRAPHQL_VALIDATION_FAILED",
            "{query}: {body}"
        );
    }

    // A NUL character, which PostgreSQL cannot store, is the client's error wherever it is (schemathesis found
    // a catalog search answering INTERNAL), in the query text or in the variables.
    for body in [
        json!({ "query": r#"{ complianceFrameworks(filter: { search: "a\u0000b" }) { pageInfo { hasNextPage } } }"# }),
        json!({
            "query": "query($search: String) { complianceFrameworks(filter: { search: $search }) { pageInfo { hasNextPage } } }",
            "variables": { "search": "a\u{0}b" },
        }),
    ] {
        let (status, _, answer) = send(&state, post(serde_json::to_vec(&body).unwrap())).await;
        let answer: serde_json::Value = serde_json::from_str(&answer).unwrap();
        assert!(!status.is_server_error(), "{status}");
        assert_eq!(
            answer["errors"][0]["extensions"]["code"], "VALIDATION",
            "{answer}"
        );
    }

    let huge = "x".repeat(1024 * 1024);
    let (status, _, body) = send(
        &state,
        post(
            serde_json::to_vec(&json!({ "query": "query($v: String) { serverInfo { version } }", "variables": { "v": huge } }))
                .unwrap(),
        ),
    )
    .await;
    assert!(!status.is_server_error(), "{status} {body}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(10),
        "hostile requests took {:?}",
        started.elapsed()
    );
}
