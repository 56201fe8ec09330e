//! Shared by the API's integration tests: the whole application on a test database, and signed-in callers.
#![allow(dead_code, clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use api::auth::identity::{Identity, IdentitySettings, RequestOrigin};
use api::auth::session::Authenticator;
use api::auth::tokens::SigningKeys;
use api::http::app;
use api::serve::projector;
use api::state::{AppState, WebSettings};
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode, header};
use commands::context::{Actor, SystemClock};
use domain::role::Role;
use http_body_util::BodyExt;
use importers::catalog;
use importers::import::{self, Location};
use importers::source::Source;
use serde_json::{Value, json};
use sqlx::PgPool;
use tower::ServiceExt;
use uuid::Uuid;

pub const PASSWORD: &str = "correct horse battery staple";

pub fn state(pool: &PgPool) -> AppState {
    state_with_keys(pool, Arc::new(SigningKeys::ephemeral()))
}

pub fn state_with_keys(pool: &PgPool, keys: Arc<SigningKeys>) -> AppState {
    let authenticator = Authenticator::new(keys, pool.clone());
    let identity = Identity::new(
        pool.clone(),
        Arc::new(SystemClock),
        authenticator,
        IdentitySettings::default(),
    );
    AppState::new(
        pool.clone(),
        projector(pool, 100),
        identity,
        WebSettings::default(),
    )
}

pub fn origin() -> RequestOrigin {
    RequestOrigin {
        correlation_id: Uuid::now_v7(),
        client_ip: Some("192.0.2.10".parse().unwrap()),
    }
}

/// Creates a user with `roles` and the test password; returns their id.
pub async fn create_user(state: &AppState, email: &str, roles: &[Role]) -> Uuid {
    let roles: BTreeSet<Role> = roles.iter().copied().collect();
    let (user_id, _) = state
        .identity
        .create_user(
            origin(),
            Actor::system("test"),
            email,
            "Test User",
            roles,
            Some(PASSWORD),
        )
        .await
        .unwrap();
    user_id
}

/// Signs in and returns the session token (from the Set-Cookie header, as a browser would keep it).
pub async fn sign_in(state: &AppState, email: &str) -> String {
    let (response, headers) = graphql_with_headers(
        state,
        None,
        &format!(r#"mutation {{ login(email: "{email}", password: "{PASSWORD}") {{ userId }} }}"#),
    )
    .await;
    assert!(response.get("errors").is_none(), "{response}");
    let cookie = headers.get(header::SET_COOKIE).unwrap().to_str().unwrap();
    cookie
        .split(';')
        .next()
        .unwrap()
        .trim_start_matches("aegis_session=")
        .to_owned()
}

/// A user with `roles`, signed in.
pub async fn signed_in(state: &AppState, roles: &[Role]) -> (Uuid, String) {
    let email = format!("{}@example.org", Uuid::now_v7());
    let user_id = create_user(state, &email, roles).await;
    (user_id, sign_in(state, &email).await)
}

pub async fn send(state: &AppState, request: Request<Body>) -> (StatusCode, HeaderMap, String) {
    let response = app(state.clone()).oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, headers, String::from_utf8(body.to_vec()).unwrap())
}

pub fn graphql_request(token: Option<&str>, query: &str) -> Request<Body> {
    let mut request = Request::post("/graphql").header(header::CONTENT_TYPE, "application/json");
    if let Some(token) = token {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    request
        .body(Body::from(json!({ "query": query }).to_string()))
        .unwrap()
}

pub async fn graphql_with_headers(
    state: &AppState,
    token: Option<&str>,
    query: &str,
) -> (Value, HeaderMap) {
    let (status, headers, body) = send(state, graphql_request(token, query)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    (serde_json::from_str(&body).unwrap(), headers)
}

pub async fn graphql(state: &AppState, token: Option<&str>, query: &str) -> Value {
    graphql_with_headers(state, token, query).await.0
}

/// The `extensions.code` of the first error, if any.
pub fn error_code(response: &Value) -> Option<&str> {
    response["errors"][0]["extensions"]["code"].as_str()
}

/// A file of the shared upstream corpus (`AEGIS_CORPUS`, or `../shared/corpus` beside the repository).
pub fn corpus(path: &str) -> PathBuf {
    std::env::var("AEGIS_CORPUS")
        .map_or_else(
            |_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus"),
            PathBuf::from,
        )
        .join(path)
}

/// The response's data, after checking it has no errors.
pub fn ok(response: &Value) -> &Value {
    assert!(response.get("errors").is_none(), "{response}");
    &response["data"]
}

/// Serves the bytes in `body` at `/<name>` (and 404 elsewhere) on a free local port, like an upstream
/// release URL; replace them to publish a new release. Returns the base URL.
pub async fn serve_file(name: &str, body: Arc<Mutex<Vec<u8>>>) -> String {
    let app = axum::Router::new().route(
        &format!("/{name}"),
        axum::routing::get(move || {
            let body = body.lock().unwrap().clone();
            async move { body }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{address}")
}

/// Imports the real ICS ATT&CK bundle from the corpus.
pub async fn import_ics(state: &AppState) {
    let location = Location::Path(corpus("mitre-attack/ics-attack.json"));
    let run_id = catalog::begin_run(&state.pool, Source::Attack, &[location.as_text()], None)
        .await
        .unwrap();
    import::run(&state.pool, run_id, Source::Attack, &[location], &|_| {})
        .await
        .unwrap();
}

/// Plans a manual test case against `technique` and takes it through the workflow to approval with `outcome`.
pub async fn approved(state: &AppState, technique: &str, outcome: &str) -> String {
    let (red_tech_id, red_tech) = signed_in(state, &[Role::RedTech]).await;
    let (blue_tech_id, blue_tech) = signed_in(state, &[Role::BlueTech]).await;
    let (_, red_lead) = signed_in(state, &[Role::RedLead]).await;
    let (_, blue_lead) = signed_in(state, &[Role::BlueLead]).await;
    let planned = graphql(
        state,
        Some(&red_lead),
        &format!(
            r#"mutation {{ planTestCase(plan: {{ title: "drive-by", objective: "", technique: "{technique}",
                procedure: {{ kind: MANUAL }}, steps: "visit the watering hole", platforms: ["windows"] }}) {{ id }} }}"#
        ),
    )
    .await;
    let id = ok(&planned)["planTestCase"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let steps = [
        (
            &red_lead,
            format!(r#"assignTestCase(id: "{id}", redAssignee: "{red_tech_id}")"#),
        ),
        (
            &blue_lead,
            format!(r#"assignTestCase(id: "{id}", blueAssignee: "{blue_tech_id}")"#),
        ),
        (&red_tech, format!(r#"startExecution(id: "{id}")"#)),
        (
            &red_tech,
            format!(
                r#"recordExecution(id: "{id}", execution: {{ command: "open the page", target: "hmi-01",
                    startedAt: "2026-11-20T09:59:00Z", stoppedAt: "2026-11-20T10:00:30Z" }})"#
            ),
        ),
        (&red_tech, format!(r#"completeExecution(id: "{id}")"#)),
        (&blue_tech, format!(r#"startReview(id: "{id}")"#)),
        (
            &blue_tech,
            format!(
                r#"recordDefenseOutcome(id: "{id}", outcome: {{ tool: "EDR", outcome: {outcome}, severity: HIGH,
                    detectedAt: "2026-11-20T10:00:00Z" }})"#
            ),
        ),
        (&blue_tech, format!(r#"submitForApproval(id: "{id}")"#)),
        (&red_lead, format!(r#"approveResult(id: "{id}")"#)),
    ];
    for (token, mutation) in steps {
        let response = graphql(
            state,
            Some(token),
            &format!("mutation {{ {mutation} {{ id }} }}"),
        )
        .await;
        ok(&response);
    }
    state.projector.catch_up().await.unwrap();
    id
}
