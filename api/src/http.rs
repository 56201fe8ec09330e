//! The HTTP surface: GraphQL, health, readiness and metrics, with tracing, request ids, compression and
//! limits around them.

use std::time::{Duration, Instant};

use async_graphql::http::GraphiQLSource;
use std::net::{IpAddr, SocketAddr};

use async_graphql::http::ALL_WEBSOCKET_PROTOCOLS;
use async_graphql_axum::{GraphQLProtocol, GraphQLRequest, GraphQLResponse, GraphQLWebSocket};
use axum::extract::{ConnectInfo, MatchedPath, Request, State, WebSocketUpgrade};
use axum::http::{HeaderMap, HeaderName, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;
use tower_http::compression::CompressionLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::auth::identity::RequestOrigin;
use crate::auth::session::{PresentedToken, presented_token};
use crate::database::schema_version;
use crate::edge::harden;
use crate::graphql::RequestedIdempotencyKey;
use crate::graphql::guard::with_caller;
use crate::graphql::{AegisSchema, schema};
use crate::state::AppState;
use crate::telemetry;
use uuid::Uuid;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
/// Long work runs in the background and returns a run id, so no request needs longer than this.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
const MAX_BODY_BYTES: usize = 2 * 1024 * 1024;

#[derive(Clone)]
struct HttpState {
    app: AppState,
    schema: AegisSchema,
}

/// The whole application as a router, so tests can drive it without a socket.
pub fn app(state: AppState) -> Router {
    // Installed before the first request so that nothing recorded earlier is lost.
    telemetry::metrics();
    let schema = schema(&state);
    let edge = state.web.edge.clone();
    let evidence_state = state.clone();
    let router = Router::new()
        .route("/graphql", get(graphiql).post(graphql))
        .route("/graphql/ws", get(graphql_ws))
        .route("/health", get(health))
        .route("/ready", get(ready))
        .route("/metrics", get(metrics))
        .route_layer(middleware::from_fn(record_request_metrics));
    let router = match &state.web.web_dir {
        Some(dir) => router.merge(crate::web_app::routes(dir)),
        None => router,
    };
    let router = router
        .with_state(HttpState { app: state, schema })
        .layer(CompressionLayer::new())
        .layer(RequestBodyLimitLayer::new(MAX_BODY_BYTES))
        .layer(TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, REQUEST_TIMEOUT))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(TraceLayer::new_for_http().make_span_with(|request: &Request| {
            let request_id = request
                .headers()
                .get(&REQUEST_ID)
                .and_then(|value| value.to_str().ok())
                .unwrap_or_default();
            tracing::info_span!("http", method = %request.method(), uri = %request.uri().path(), request_id)
        }))
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid));
    // The evidence URLs are authorised by their signature and stream large bodies: outside the CSRF guard,
    // the body limit and the timeout above (see `evidence_http`).
    harden(router, &edge).merge(crate::evidence_http::routes(&evidence_state))
}

/// Queries and mutations: POST only (GET serves GraphiQL), so a link or an image tag can never run a
/// mutation; the edge has already refused bodies that are not JSON and cross-site requests.
async fn graphql(
    State(state): State<HttpState>,
    ClientIp(client_ip): ClientIp,
    headers: HeaderMap,
    request: GraphQLRequest,
) -> GraphQLResponse {
    let request = request_with_caller(&state.app, &headers, client_ip, request.into_inner()).await;
    let (request, route) = crate::read_replica::route(&state.app, &headers, request).await;
    route
        .finish(state.schema.execute(request).await)
        .await
        .into()
}

/// Subscriptions over a WebSocket, authenticated when the connection opens (by cookie or bearer header).
async fn graphql_ws(
    State(state): State<HttpState>,
    ClientIp(client_ip): ClientIp,
    headers: HeaderMap,
    protocol: GraphQLProtocol,
    upgrade: WebSocketUpgrade,
) -> Response {
    // The caller is established per operation from this token (see `graphql::guard::CallerPerOperation`).
    let mut data = async_graphql::Data::default();
    data.insert(PresentedToken(presented_token(&headers)));
    data.insert(request_origin(&headers, client_ip));
    upgrade
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        .on_upgrade(move |stream| {
            GraphQLWebSocket::new(stream, state.schema, protocol)
                .with_data(data)
                .serve()
        })
}

/// Attaches who is asking, and from where, to a GraphQL request.
async fn request_with_caller(
    state: &AppState,
    headers: &HeaderMap,
    client_ip: Option<IpAddr>,
    request: async_graphql::Request,
) -> async_graphql::Request {
    let authentication = state.identity.authenticator().authenticate(headers).await;
    let idempotency_key = headers.get("idempotency-key").map(|value| {
        RequestedIdempotencyKey(String::from_utf8_lossy(value.as_bytes()).into_owned())
    });
    let request =
        with_caller(state, authentication, request).data(request_origin(headers, client_ip));
    match idempotency_key {
        Some(key) => request.data(key),
        None => request,
    }
}

fn request_origin(headers: &HeaderMap, client_ip: Option<IpAddr>) -> RequestOrigin {
    let correlation_id = headers
        .get(&REQUEST_ID)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| Uuid::parse_str(value).ok())
        .unwrap_or_else(Uuid::now_v7);
    RequestOrigin {
        correlation_id,
        client_ip,
    }
}

/// The client's address: the right-most entry of the configured proxy header (the one the trusted proxy
/// appended; entries left of it are whatever the client claimed), else the peer's address (known when
/// serving; in-process tests have none).
struct ClientIp(Option<IpAddr>);

impl axum::extract::FromRequestParts<HttpState> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &HttpState,
    ) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|info| info.0.ip());
        let Some(header) = &state.app.web.client_ip_header else {
            return Ok(Self(peer));
        };
        let forwarded = parts
            .headers
            .get_all(header)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .next_back()
            .and_then(|address| address.trim().parse().ok());
        Ok(Self(forwarded.or(peer)))
    }
}

async fn graphiql() -> Html<String> {
    Html(
        GraphiQLSource::build()
            .endpoint("/graphql")
            .subscription_endpoint("/graphql/ws")
            .title("Aegis GraphQL")
            .finish(),
    )
}

/// Liveness: the process answers.
async fn health() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok" }))
}

/// How long `/ready` waits for the database.
const READY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

/// Readiness: the database answers with the schema this binary expects; projection lag and whether the read
/// replica is available are reported.
async fn ready(State(state): State<HttpState>) -> Response {
    // A load balancer asks often and must hear "no" at once while the database is down, not after the
    // pool's acquire timeout.
    let applied = tokio::time::timeout(
        READY_TIMEOUT,
        sqlx::query_scalar::<_, Option<i64>>(
            "SELECT max(version) FROM _sqlx_migrations WHERE success",
        )
        .fetch_one(&state.app.pool),
    )
    .await
    .map_err(|_| format!("no answer within {READY_TIMEOUT:?}"))
    .and_then(|answer| answer.map_err(|error| error.to_string()));
    let applied = match applied {
        Ok(applied) => applied.unwrap_or(0),
        Err(error) => {
            tracing::warn!(%error, "readiness: database unreachable");
            let body = json!({ "status": "unavailable", "database": "unreachable" });
            return (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response();
        }
    };
    let lags = tokio::time::timeout(READY_TIMEOUT, state.app.projector.lag())
        .await
        .ok()
        .and_then(Result::ok)
        .unwrap_or_default();
    let projections: Vec<_> = lags
        .iter()
        .map(|lag| {
            json!({
                "name": lag.projection,
                "eventsBehind": lag.events_behind,
                "lagSeconds": lag.oldest_pending_at.map(|at| (chrono::Utc::now() - at).num_milliseconds() as f64 / 1000.0),
            })
        })
        .collect();
    let schema_ok = applied >= schema_version();
    let mut body = json!({
        "status": if schema_ok { "ready" } else { "unavailable" },
        "database": "ok",
        "schemaVersion": applied,
        "expectedSchemaVersion": schema_version(),
        "projector": { "leader": state.app.is_leader(), "projections": projections },
    });
    // Reported, never a reason to be unready: queries read from the primary while the standby is unavailable.
    if let Some(replica) = &state.app.read_replica {
        body["readReplica"] = json!({ "available": replica.is_available() });
    }
    let status = if schema_ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body)).into_response()
}

/// Prometheus text format. Projection lag and the read replica's availability are measured at scrape time, so
/// every replica reports them.
async fn metrics(State(state): State<HttpState>) -> Response {
    match state.app.projector.lag().await {
        Ok(lags) => {
            for lag in lags {
                metrics::gauge!("aegis_projection_lag_events", "projection" => lag.projection)
                    .set(lag.events_behind as f64);
            }
        }
        Err(error) => tracing::warn!(%error, "metrics: cannot measure projection lag"),
    }
    if let Some(replica) = &state.app.read_replica {
        metrics::gauge!("aegis_read_replica_available")
            .set(f64::from(u8::from(replica.is_available())));
    }
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        telemetry::metrics().render(),
    )
        .into_response()
}

/// Counts requests and their latency by route (the matched pattern, never the raw path, to bound the
/// number of series).
async fn record_request_metrics(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |path| path.as_str().to_owned());
    let method = request.method().to_string();
    let started = Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    let labels = [("method", method), ("route", route), ("status", status)];
    metrics::counter!("aegis_http_requests_total", &labels).increment(1);
    metrics::histogram!("aegis_http_request_duration_seconds", &labels)
        .record(started.elapsed().as_secs_f64());
    response
}
