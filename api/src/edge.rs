//! What every response and every state-changing request pass through at the edge of the application:
//! security headers, CORS for the configured origins only, and the CSRF guard (OWASP ASVS L2, the OWASP
//! GraphQL cheat sheet).
//!
//! - **Headers.** Every response carries a strict `Content-Security-Policy` (no inline script; with evidence in
//!   S3, the bucket's origin in `connect-src` and nowhere else, for the browser's presigned uploads), `nosniff`,
//!   `no-referrer`, `X-Frame-Options: DENY`, and HSTS when the public URL is `https://`. The one exception is
//!   GraphiQL (`GET /graphql` answered with HTML): async-graphql's page loads React and GraphiQL from the
//!   unpkg.com CDN and boots them with an inline script, so that page alone gets [`GRAPHIQL_CSP`], which
//!   allows those scripts and styles and is as strict as the default everywhere else (`frame-ancestors`,
//!   `object-src`, `base-uri`, `form-action`). GraphiQL therefore only works from a browser that can reach
//!   unpkg.com; the API itself needs no network access.
//! - **CORS.** Only the configured origins, compared exactly, with credentials, for `GET` and `POST` and the
//!   headers clients send (`content-type`, `authorization`, `x-request-id`, `idempotency-key`). A request
//!   from any other origin never reaches the CORS layer, so its response has no `Access-Control-*` header at
//!   all; with no origins configured there is no CORS layer.
//! - **CSRF.** `GET`, `HEAD` and `OPTIONS` never change state (GraphQL operations run on `POST` only; `GET
//!   /graphql` serves GraphiQL). Every other request must come from this site or an allowed origin and be
//!   `application/json`, which a form or a "simple" cross-origin request cannot send without a CORS
//!   preflight. A WebSocket handshake is a `GET` but runs operations afterwards (async-graphql executes
//!   queries and mutations over the socket too), so it gets the same origin check.
//!
//! Rejections use the GraphQL error shape, `{"errors":[{"message":…,"extensions":{"code":…}}]}`, with codes
//! `VALIDATION` (415) and `FORBIDDEN` (403).

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use tower::{Layer, ServiceExt};
use tower_http::cors::{AllowOrigin, Cors, CorsLayer};

/// Where the application is reachable and which other origins may call it from a browser.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EdgeConfig {
    /// Exact origins allowed to call the API from a browser with credentials, e.g.
    /// `https://aegis.example.org`: scheme, host and port only, no path or trailing slash.
    pub allowed_origins: Vec<String>,
    /// The URL users reach Aegis at. `https://` means it is served over TLS (a proxy may terminate it), which
    /// turns on HSTS and makes `https` the scheme of this site's own origin.
    pub public_url: Option<String>,
    /// Where browsers upload evidence when it is kept in S3 (the bucket's origin, which presigned `PUT`s go
    /// to): added to the CSP's `connect-src`, and nothing else is. `None` for the local-disk store, whose
    /// URLs are this site's own.
    pub evidence_upload_origin: Option<String>,
}

/// Why an [`EdgeConfig`] cannot be used as written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EdgeConfigError {
    #[error(
        "allowed origin {0:?} is not an origin: write scheme://host[:port] in ASCII (punycode for international \
         names), e.g. https://aegis.example.org, with no path and no trailing slash"
    )]
    InvalidOrigin(String),
    #[error("public URL {0:?} must be an http:// or https:// URL with a host")]
    InvalidPublicUrl(String),
    #[error(
        "the evidence upload origin {0:?} is not an origin (scheme://host[:port], from the S3 endpoint)"
    )]
    InvalidUploadOrigin(String),
}

impl EdgeConfig {
    /// Checks what [`harden`] would otherwise ignore: it never allows an origin it cannot parse (failing
    /// closed), so configuration loading should call this and refuse to start on an error.
    pub fn validate(&self) -> Result<(), EdgeConfigError> {
        for origin in &self.allowed_origins {
            if normalise_origin(origin).is_none() {
                return Err(EdgeConfigError::InvalidOrigin(origin.clone()));
            }
        }
        if let Some(url) = &self.public_url
            && origin_of_url(url).is_none()
        {
            return Err(EdgeConfigError::InvalidPublicUrl(url.clone()));
        }
        if let Some(origin) = &self.evidence_upload_origin
            && normalise_origin(origin).is_none()
        {
            return Err(EdgeConfigError::InvalidUploadOrigin(origin.clone()));
        }
        Ok(())
    }

    fn served_over_tls(&self) -> bool {
        self.public_url.as_deref().is_some_and(|url| {
            url.trim()
                .get(..8)
                .is_some_and(|scheme| scheme.eq_ignore_ascii_case("https://"))
        })
    }
}

/// The policy of every response except GraphiQL's: nothing inline, nothing from elsewhere, never framed.
/// With evidence in S3 the bucket's origin joins `connect-src` ([`strict_csp`]).
pub const STRICT_CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
     connect-src 'self'; frame-ancestors 'none'; object-src 'none'; base-uri 'none'; form-action 'self'";

/// GraphiQL's page only: its inline bootstrap script and styles, React and GraphiQL from unpkg.com, the
/// favicon from graphql.org. `connect-src 'self'` covers both the `POST /graphql` fetches and the same-host
/// WebSocket for subscriptions.
pub const GRAPHIQL_CSP: &str = "default-src 'self'; script-src 'self' 'unsafe-inline' https://unpkg.com; \
     style-src 'self' 'unsafe-inline' https://unpkg.com; img-src 'self' data: https://graphql.org; \
     font-src 'self' data: https://unpkg.com; connect-src 'self'; frame-ancestors 'none'; object-src 'none'; \
     base-uri 'none'; form-action 'self'";

const HSTS: &str = "max-age=31536000; includeSubDomains";
const GRAPHQL_PATH: &str = "/graphql";
const SEC_FETCH_SITE: HeaderName = HeaderName::from_static("sec-fetch-site");
const CORS_ALLOWED_HEADERS: [HeaderName; 4] = [
    header::CONTENT_TYPE,
    header::AUTHORIZATION,
    HeaderName::from_static("x-request-id"),
    HeaderName::from_static("idempotency-key"),
];
/// How long a browser may cache a preflight answer.
const CORS_MAX_AGE: Duration = Duration::from_secs(600);

/// `config` resolved once for the middleware.
#[derive(Debug)]
struct Edge {
    /// Normalised (`scheme://host[:port]`, lower case, default port dropped).
    allowed_origins: Vec<String>,
    /// The public URL's origin, always this site's own.
    public_origin: Option<String>,
    tls: bool,
    /// [`STRICT_CSP`], or [`strict_csp`] with the evidence bucket's origin.
    csp: HeaderValue,
}

/// [`STRICT_CSP`] with `upload_origin` (an origin, already normalised) added to `connect-src` alone: the web
/// app `PUT`s evidence to presigned URLs there. Nothing else may load from it.
pub fn strict_csp(upload_origin: Option<&str>) -> String {
    match upload_origin {
        None => STRICT_CSP.to_owned(),
        Some(origin) => STRICT_CSP.replacen(
            "connect-src 'self';",
            &format!("connect-src 'self' {origin};"),
            1,
        ),
    }
}

impl Edge {
    fn new(config: &EdgeConfig) -> Self {
        let allowed_origins = config
            .allowed_origins
            .iter()
            .filter_map(|origin| {
                let normalised = normalise_origin(origin);
                if normalised.is_none() {
                    tracing::error!(origin, "ignoring an allowed origin that is not an origin");
                }
                normalised
            })
            .collect();
        // Unparseable (which `validate` refuses) fails closed: the strict policy.
        let upload_origin = config.evidence_upload_origin.as_deref().and_then(|origin| {
            let normalised = normalise_origin(origin);
            if normalised.is_none() {
                tracing::error!(
                    origin,
                    "ignoring an evidence upload origin that is not an origin"
                );
            }
            normalised
        });
        let csp = HeaderValue::from_str(&strict_csp(upload_origin.as_deref()))
            .unwrap_or_else(|_| HeaderValue::from_static(STRICT_CSP));
        Self {
            allowed_origins,
            public_origin: config.public_url.as_deref().and_then(origin_of_url),
            tls: config.served_over_tls(),
            csp,
        }
    }

    fn is_allowed(&self, origin: &str) -> bool {
        self.allowed_origins.iter().any(|allowed| allowed == origin)
    }

    /// This site's own origin as the request names it: the scheme (`https` behind a TLS-terminating proxy
    /// when the public URL says so) and the `Host` header (or the HTTP/2 authority).
    fn own_origin(&self, headers: &HeaderMap, uri: &Uri) -> Option<String> {
        let host = match headers.get(header::HOST) {
            Some(host) => host.to_str().ok()?,
            None => uri.authority()?.as_str(),
        };
        let scheme = if self.tls {
            "https"
        } else {
            uri.scheme_str().unwrap_or("http")
        };
        normalise_origin(&format!("{scheme}://{host}"))
    }

    /// The CSRF checks on where a state-changing request comes from.
    fn check_origin(&self, headers: &HeaderMap, uri: &Uri) -> Result<(), Refusal> {
        let origin = match headers.get(header::ORIGIN) {
            // `null` (sandboxed frames, some redirects) and garbage are foreign.
            Some(origin) => Some(
                origin
                    .to_str()
                    .ok()
                    .and_then(normalise_origin)
                    .ok_or(Refusal::ForeignOrigin)?,
            ),
            None => None,
        };
        // An explicitly allowed origin may be on another site: that is what CORS with credentials is for.
        if let Some(origin) = &origin
            && self.is_allowed(origin)
        {
            return Ok(());
        }
        let cross_site = headers
            .get(SEC_FETCH_SITE)
            .is_some_and(|site| site.as_bytes().eq_ignore_ascii_case(b"cross-site"));
        if cross_site {
            return Err(Refusal::CrossSite);
        }
        match origin {
            None => Ok(()),
            Some(origin)
                if self.public_origin.as_deref() == Some(origin.as_str())
                    || self.own_origin(headers, uri).as_deref() == Some(origin.as_str()) =>
            {
                Ok(())
            }
            Some(_) => Err(Refusal::ForeignOrigin),
        }
    }
}

/// Wraps `router` (typically `http::app(state)`) with the security headers, CORS and the CSRF guard.
pub fn harden(router: Router, config: &EdgeConfig) -> Router {
    let edge = Arc::new(Edge::new(config));
    let guarded = router.layer(middleware::from_fn_with_state(edge.clone(), csrf_guard));
    with_cors(guarded, &edge).layer(middleware::from_fn_with_state(edge, security_headers))
}

/// Sends requests from an allowed origin through tower-http's CORS layer and every other request around it,
/// because that layer answers any `OPTIONS` and adds `Access-Control-Allow-Methods`/`-Headers`/`-Credentials`
/// whatever the origin.
fn with_cors(router: Router, edge: &Edge) -> Router {
    let origins: Vec<HeaderValue> = edge
        .allowed_origins
        .iter()
        .filter_map(|origin| HeaderValue::from_str(origin).ok())
        .collect();
    if origins.is_empty() {
        return router;
    }
    let cors = CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins.clone()))
        .allow_credentials(true)
        .allow_methods([Method::GET, Method::POST])
        .allow_headers(CORS_ALLOWED_HEADERS)
        .max_age(CORS_MAX_AGE);
    let route = CorsRoute {
        origins: origins.into(),
        service: cors.layer(router.clone()),
    };
    router.layer(middleware::from_fn_with_state(
        route,
        divert_allowed_origins,
    ))
}

#[derive(Clone)]
struct CorsRoute {
    origins: Arc<[HeaderValue]>,
    service: Cors<Router>,
}

async fn divert_allowed_origins(
    State(route): State<CorsRoute>,
    request: Request,
    next: Next,
) -> Response {
    let allowed = request
        .headers()
        .get(header::ORIGIN)
        .is_some_and(|origin| route.origins.contains(origin));
    if allowed {
        return match route.service.oneshot(request).await {
            Ok(response) => response,
            Err(never) => match never {},
        };
    }
    let mut response = next.run(request).await;
    // The answer differs by origin, so caches must key on it.
    response
        .headers_mut()
        .append(header::VARY, HeaderValue::from_static("origin"));
    response
}

async fn security_headers(State(edge): State<Arc<Edge>>, request: Request, next: Next) -> Response {
    let graphiql_request = matches!(*request.method(), Method::GET | Method::HEAD)
        && request.uri().path() == GRAPHQL_PATH;
    let mut response = next.run(request).await;
    let html = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| {
            value
                .trim_start()
                .to_ascii_lowercase()
                .starts_with("text/html")
        });
    let csp = if graphiql_request && html {
        HeaderValue::from_static(GRAPHIQL_CSP)
    } else {
        edge.csp.clone()
    };
    // Inserted, not defaulted: no handler can weaken them.
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_SECURITY_POLICY, csp);
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if edge.tls {
        headers.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static(HSTS),
        );
    }
    response
}

async fn csrf_guard(State(edge): State<Arc<Edge>>, request: Request, next: Next) -> Response {
    // A handshake: HTTP/1.1 `GET` with `Upgrade: websocket`, or HTTP/2's extended `CONNECT`. It has no body
    // to check, but the socket runs operations, so it must come from an acceptable origin.
    let handshake = *request.method() == Method::CONNECT || is_websocket_upgrade(request.headers());
    let safe = matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    if safe && !handshake {
        return next.run(request).await;
    }
    if let Err(refusal) = edge.check_origin(request.headers(), request.uri()) {
        tracing::warn!(
            method = %request.method(),
            path = request.uri().path(),
            origin = ?request.headers().get(header::ORIGIN),
            sec_fetch_site = ?request.headers().get(SEC_FETCH_SITE),
            reason = refusal.reason(),
            "refused a cross-site request"
        );
        return refusal.into_response();
    }
    if !handshake && !is_json(request.headers()) {
        return Refusal::NotJson.into_response();
    }
    next.run(request).await
}

fn is_websocket_upgrade(headers: &HeaderMap) -> bool {
    headers
        .get(header::UPGRADE)
        .is_some_and(|upgrade| upgrade.as_bytes().eq_ignore_ascii_case(b"websocket"))
}

/// `application/json`, with or without parameters such as `charset`.
fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("application/json"))
}

/// Why the CSRF guard refused a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refusal {
    CrossSite,
    ForeignOrigin,
    NotJson,
}

impl Refusal {
    fn reason(self) -> &'static str {
        match self {
            Self::CrossSite => "cross_site",
            Self::ForeignOrigin => "foreign_origin",
            Self::NotJson => "not_json",
        }
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        metrics::counter!("aegis_http_refused_total", "reason" => self.reason()).increment(1);
        let (status, code, message) = match self {
            Self::CrossSite => (
                StatusCode::FORBIDDEN,
                "FORBIDDEN",
                "cross-site requests may not change anything",
            ),
            Self::ForeignOrigin => (
                StatusCode::FORBIDDEN,
                "FORBIDDEN",
                "requests from this origin may not change anything",
            ),
            Self::NotJson => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "VALIDATION",
                "requests that change anything must be sent as Content-Type: application/json",
            ),
        };
        let body = json!({ "errors": [{ "message": message, "extensions": { "code": code } }] });
        (status, axum::Json(body)).into_response()
    }
}

/// `scheme://host[:port]` in lower case with the default port dropped, as browsers serialise an `Origin`;
/// `None` for anything else (`null`, a path, user info, another scheme, non-ASCII).
fn normalise_origin(text: &str) -> Option<String> {
    let lower = text.trim().to_ascii_lowercase();
    let (scheme, authority) = lower.split_once("://")?;
    let default_port = match scheme {
        "https" => ":443",
        "http" => ":80",
        _ => return None,
    };
    let acceptable = |c: char| c.is_ascii_graphic() && !matches!(c, '/' | '?' | '#' | '@' | '\\');
    if authority.is_empty() || !authority.chars().all(acceptable) {
        return None;
    }
    let authority = authority.strip_suffix(default_port).unwrap_or(authority);
    if authority.is_empty() || authority.starts_with(':') {
        return None;
    }
    Some(format!("{scheme}://{authority}"))
}

/// The origin of a URL such as `https://aegis.example.org/app/`.
pub fn origin_of_url(url: &str) -> Option<String> {
    let url = url.trim();
    let (scheme, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    normalise_origin(&format!("{scheme}://{authority}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_normalised_as_browsers_send_them() {
        let normalised = |text| normalise_origin(text);
        assert_eq!(
            normalised("HTTPS://Aegis.Example.org"),
            Some("https://aegis.example.org".to_owned())
        );
        assert_eq!(
            normalised("https://aegis.example.org:443"),
            Some("https://aegis.example.org".to_owned())
        );
        assert_eq!(
            normalised("http://localhost:8080"),
            Some("http://localhost:8080".to_owned())
        );
        assert_eq!(
            normalised("https://host:4443"),
            Some("https://host:4443".to_owned())
        );
        assert_eq!(
            normalised("http://[::1]:80"),
            Some("http://[::1]".to_owned())
        );
        for not_an_origin in [
            "null",
            "",
            "*",
            "https://",
            "https://aegis.example.org/",
            "https://user@aegis.example.org",
            "ftp://aegis.example.org",
            "https://ægis.example.org",
            "https://:443",
        ] {
            assert_eq!(normalised(not_an_origin), None, "{not_an_origin}");
        }
    }

    #[test]
    fn the_upload_origin_joins_connect_src_only() {
        assert_eq!(strict_csp(None), STRICT_CSP);
        let csp = strict_csp(Some("https://aegis-evidence.s3.amazonaws.com"));
        assert!(csp.contains("connect-src 'self' https://aegis-evidence.s3.amazonaws.com;"));
        assert_eq!(csp.matches("amazonaws").count(), 1, "{csp}");
    }

    #[test]
    fn the_public_urls_origin_drops_its_path() {
        assert_eq!(
            origin_of_url("https://aegis.example.org/app/?x#y"),
            Some("https://aegis.example.org".to_owned())
        );
        assert_eq!(origin_of_url("aegis.example.org"), None);
    }

    #[test]
    fn validation_names_the_first_bad_value() {
        let config = EdgeConfig {
            allowed_origins: vec![
                "https://ok.example.org".into(),
                "https://bad.example.org/".into(),
            ],
            public_url: None,
            evidence_upload_origin: None,
        };
        assert_eq!(
            config.validate(),
            Err(EdgeConfigError::InvalidOrigin(
                "https://bad.example.org/".into()
            ))
        );
        let config = EdgeConfig {
            allowed_origins: Vec::new(),
            public_url: Some("aegis.example.org".into()),
            evidence_upload_origin: None,
        };
        assert_eq!(
            config.validate(),
            Err(EdgeConfigError::InvalidPublicUrl(
                "aegis.example.org".into()
            ))
        );
        let config = EdgeConfig {
            allowed_origins: vec!["https://ok.example.org".into()],
            public_url: Some("https://aegis.example.org/".into()),
            evidence_upload_origin: Some("http://127.0.0.1:9199".into()),
        };
        assert_eq!(config.validate(), Ok(()));
        let config = EdgeConfig {
            evidence_upload_origin: Some("http://127.0.0.1:9199/bucket".into()),
            ..EdgeConfig::default()
        };
        assert_eq!(
            config.validate(),
            Err(EdgeConfigError::InvalidUploadOrigin(
                "http://127.0.0.1:9199/bucket".into()
            ))
        );
    }
}
