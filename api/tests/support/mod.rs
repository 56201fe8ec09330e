//! Shared by the API's integration tests: the whole application on a test database, and signed-in callers.
#![allow(dead_code, clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::sync::Arc;

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
