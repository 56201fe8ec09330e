//! The edge middleware around a small router with real handlers: security headers, CORS and the CSRF guard.
//! The subject is `harden`, so no database is needed.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use api::edge::{EdgeConfig, GRAPHIQL_CSP, STRICT_CSP, harden};
use async_graphql::http::GraphiQLSource;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use axum::response::Html;
use axum::routing::get;
use axum::{Json, Router};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

const HOST: &str = "aegis.example.org";
const ALLOWED: &str = "https://console.example.net";
const FOREIGN: &str = "https://evil.example.com";

/// The router under test, with counters of how often each handler ran.
#[derive(Clone, Default)]
struct Calls {
    get: Arc<AtomicUsize>,
    post: Arc<AtomicUsize>,
    socket: Arc<AtomicUsize>,
}

impl Calls {
    fn router(&self, config: &EdgeConfig) -> Router {
        let (get_calls, post_calls, socket_calls) =
            (self.get.clone(), self.post.clone(), self.socket.clone());
        let graphql = get(move || async move {
            get_calls.fetch_add(1, Ordering::SeqCst);
            Html(
                GraphiQLSource::build()
                    .endpoint("/graphql")
                    .subscription_endpoint("/graphql/ws")
                    .finish(),
            )
        })
        .post(move |body: String| async move {
            post_calls.fetch_add(1, Ordering::SeqCst);
            Json(json!({ "data": { "echo": body } }))
        });
        let router = Router::new()
            .route("/graphql", graphql)
            .route(
                "/graphql/ws",
                get(move || async move {
                    socket_calls.fetch_add(1, Ordering::SeqCst);
                    "handshake reached the handler"
                }),
            )
            .route("/page", get(|| async { Html("<p>not GraphiQL</p>") }))
            .route("/health", get(|| async { Json(json!({ "status": "ok" })) }));
        harden(router, config)
    }

    fn posts(&self) -> usize {
        self.post.load(Ordering::SeqCst)
    }
}

fn config() -> EdgeConfig {
    EdgeConfig {
        allowed_origins: vec![ALLOWED.to_owned()],
        public_url: Some(format!("https://{HOST}/")),
        evidence_upload_origin: None,
    }
}

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|value| value.to_str().unwrap())
    }

    fn error_code(&self) -> Value {
        let body: Value = serde_json::from_str(&self.body).unwrap();
        body["errors"][0]["extensions"]["code"].clone()
    }

    fn has_cors_headers(&self) -> bool {
        self.headers
            .keys()
            .any(|name| name.as_str().starts_with("access-control-"))
    }
}

async fn send(router: Router, request: Request<Body>) -> Answer {
    let response = router.oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    Answer {
        status,
        headers,
        body: String::from_utf8(body.to_vec()).unwrap(),
    }
}

fn post_json(origin: Option<&str>) -> Request<Body> {
    let mut request = Request::post("/graphql")
        .header(header::HOST, HOST)
        .header(header::CONTENT_TYPE, "application/json");
    if let Some(origin) = origin {
        request = request.header(header::ORIGIN, origin);
    }
    request
        .body(Body::from(r#"{"query":"{ serverInfo { version } }"}"#))
        .unwrap()
}

fn post_with_content_type(content_type: Option<&str>, body: &'static str) -> Request<Body> {
    let mut request = Request::post("/graphql").header(header::HOST, HOST);
    if let Some(content_type) = content_type {
        request = request.header(header::CONTENT_TYPE, content_type);
    }
    request.body(Body::from(body)).unwrap()
}

fn preflight(origin: &str) -> Request<Body> {
    Request::builder()
        .method(Method::OPTIONS)
        .uri("/graphql")
        .header(header::HOST, HOST)
        .header(header::ORIGIN, origin)
        .header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
        .header(
            header::ACCESS_CONTROL_REQUEST_HEADERS,
            "content-type,authorization",
        )
        .body(Body::empty())
        .unwrap()
}

fn assert_security_headers(answer: &Answer, what: &str) {
    assert_eq!(
        answer.header("content-security-policy"),
        Some(STRICT_CSP),
        "{what}"
    );
    assert_eq!(
        answer.header("x-content-type-options"),
        Some("nosniff"),
        "{what}"
    );
    assert_eq!(
        answer.header("referrer-policy"),
        Some("no-referrer"),
        "{what}"
    );
    assert_eq!(answer.header("x-frame-options"), Some("DENY"), "{what}");
}

#[tokio::test]
async fn every_response_carries_the_security_headers() {
    let calls = Calls::default();
    let router = calls.router(&config());
    let requests = [
        (
            "200",
            Request::get("/health").body(Body::empty()).unwrap(),
            StatusCode::OK,
        ),
        (
            "404",
            Request::get("/nowhere").body(Body::empty()).unwrap(),
            StatusCode::NOT_FOUND,
        ),
        ("POST 200", post_json(None), StatusCode::OK),
        (
            "415",
            post_with_content_type(Some("text/plain"), "{}"),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
        ("403", post_json(Some(FOREIGN)), StatusCode::FORBIDDEN),
        ("preflight", preflight(ALLOWED), StatusCode::OK),
        (
            "HTML that is not GraphiQL",
            Request::get("/page").body(Body::empty()).unwrap(),
            StatusCode::OK,
        ),
    ];
    for (what, request, status) in requests {
        let answer = send(router.clone(), request).await;
        assert_eq!(answer.status, status, "{what}: {}", answer.body);
        assert_security_headers(&answer, what);
        assert_eq!(
            answer.header("strict-transport-security"),
            Some("max-age=31536000; includeSubDomains"),
            "{what}"
        );
    }
}

#[tokio::test]
async fn hsts_only_when_the_public_url_is_https() {
    for (public_url, hsts) in [
        (Some("https://aegis.example.org"), true),
        (Some("HTTPS://aegis.example.org/app"), true),
        (Some("http://aegis.example.org"), false),
        (None, false),
    ] {
        let config = EdgeConfig {
            allowed_origins: Vec::new(),
            public_url: public_url.map(str::to_owned),
            evidence_upload_origin: None,
        };
        let router = Calls::default().router(&config);
        for path in ["/health", "/nowhere"] {
            let answer = send(
                router.clone(),
                Request::get(path).body(Body::empty()).unwrap(),
            )
            .await;
            assert_security_headers(&answer, path);
            assert_eq!(
                answer.headers.contains_key("strict-transport-security"),
                hsts,
                "{public_url:?} {path}"
            );
        }
    }
}

#[tokio::test]
async fn only_graphiql_gets_the_relaxed_policy_and_it_stays_strict_on_framing() {
    let router = Calls::default().router(&config());
    let answer = send(
        router.clone(),
        Request::get("/graphql").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert!(
        answer
            .header("content-type")
            .unwrap()
            .starts_with("text/html")
    );
    assert_eq!(answer.header("content-security-policy"), Some(GRAPHIQL_CSP));
    for strict in [
        "frame-ancestors 'none'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
    ] {
        assert!(GRAPHIQL_CSP.contains(strict), "{strict}");
    }
    assert_eq!(answer.header("x-frame-options"), Some("DENY"));
    assert_eq!(answer.header("x-content-type-options"), Some("nosniff"));
    assert!(!STRICT_CSP.contains("unsafe-inline"));
    assert!(!STRICT_CSP.contains("unsafe-eval") && !GRAPHIQL_CSP.contains("unsafe-eval"));

    // Every host GraphiQL's page loads from is one the relaxed policy names, so an async-graphql upgrade
    // that moves to another CDN fails here instead of showing a blank page.
    let hosts: Vec<&str> = answer
        .body
        .split("//")
        .skip(1)
        .filter_map(|rest| rest.split(['/', '"', '\'']).next())
        .filter(|host| host.contains('.'))
        .collect();
    assert!(hosts.contains(&"unpkg.com"), "{hosts:?}");
    for host in hosts {
        assert!(
            GRAPHIQL_CSP.contains(&format!("https://{host}")),
            "GraphiQL loads from {host}, which its CSP does not allow"
        );
    }
}

#[tokio::test]
async fn a_preflight_from_an_allowed_origin_gets_cors_headers() {
    let answer = send(Calls::default().router(&config()), preflight(ALLOWED)).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.header("access-control-allow-origin"), Some(ALLOWED));
    assert_eq!(
        answer.header("access-control-allow-credentials"),
        Some("true")
    );
    let methods = answer.header("access-control-allow-methods").unwrap();
    assert_eq!(methods.replace(' ', ""), "GET,POST");
    let allowed_headers = answer.header("access-control-allow-headers").unwrap();
    assert_eq!(
        allowed_headers.replace(' ', ""),
        "content-type,authorization,x-request-id,idempotency-key"
    );
}

#[tokio::test]
async fn a_preflight_from_any_other_origin_gets_no_cors_headers() {
    let router = Calls::default().router(&config());
    for origin in [
        FOREIGN,
        "https://console.example.net.evil.example.com",
        "http://console.example.net",
        "null",
    ] {
        let answer = send(router.clone(), preflight(origin)).await;
        assert!(!answer.has_cors_headers(), "{origin}: {:?}", answer.headers);
        assert_security_headers(&answer, origin);
    }
    // Without configured origins there is no CORS at all, not even for this site's own origin.
    let no_cors = Calls::default().router(&EdgeConfig::default());
    let answer = send(no_cors, preflight(&format!("https://{HOST}"))).await;
    assert!(!answer.has_cors_headers(), "{:?}", answer.headers);
}

#[tokio::test]
async fn a_request_from_an_allowed_origin_on_another_site_passes_with_cors_headers() {
    let calls = Calls::default();
    let mut request = post_json(Some(ALLOWED));
    request
        .headers_mut()
        .insert("sec-fetch-site", "cross-site".parse().unwrap());
    let answer = send(calls.router(&config()), request).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(answer.header("access-control-allow-origin"), Some(ALLOWED));
    assert_eq!(
        answer.header("access-control-allow-credentials"),
        Some("true")
    );
    assert_eq!(calls.posts(), 1);

    // Rejections reach an allowed origin's script readable, with CORS headers.
    let mut form = post_with_content_type(Some("text/plain"), "{}");
    form.headers_mut()
        .insert(header::ORIGIN, ALLOWED.parse().unwrap());
    let answer = send(calls.router(&config()), form).await;
    assert_eq!(answer.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(answer.header("access-control-allow-origin"), Some(ALLOWED));
}

#[tokio::test]
async fn bodies_other_than_json_are_refused_with_415() {
    let calls = Calls::default();
    let router = calls.router(&config());
    for (content_type, body) in [
        (Some("text/plain"), r#"{"query":"mutation { x }"}"#),
        (Some("text/plain;charset=UTF-8"), r#"{"query":"{ x }"}"#),
        (
            Some("application/x-www-form-urlencoded"),
            "query=mutation%7Bx%7D",
        ),
        (
            Some("multipart/form-data; boundary=x"),
            "--x\r\nContent-Disposition: form-data; name=\"operations\"\r\n\r\n{}\r\n--x--\r\n",
        ),
        (Some("application/graphql"), "mutation { x }"),
        (Some("application/jsonp"), "{}"),
        (None, r#"{"query":"{ x }"}"#),
    ] {
        let answer = send(router.clone(), post_with_content_type(content_type, body)).await;
        assert_eq!(
            answer.status,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "{content_type:?}"
        );
        assert_eq!(answer.error_code(), "VALIDATION", "{content_type:?}");
        assert!(
            answer
                .header("content-type")
                .unwrap()
                .starts_with("application/json")
        );
    }
    assert_eq!(calls.posts(), 0);

    for json in [
        "application/json",
        "application/json; charset=utf-8",
        "Application/JSON",
    ] {
        let answer = send(router.clone(), post_with_content_type(Some(json), "{}")).await;
        assert_eq!(answer.status, StatusCode::OK, "{json}");
    }
    assert_eq!(calls.posts(), 3);
}

#[tokio::test]
async fn cross_site_requests_are_refused_with_403() {
    let calls = Calls::default();
    let router = calls.router(&config());

    let mut cross_site = post_json(None);
    cross_site
        .headers_mut()
        .insert("sec-fetch-site", "cross-site".parse().unwrap());
    let answer = send(router.clone(), cross_site).await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);
    assert_eq!(answer.error_code(), "FORBIDDEN");

    for origin in [
        FOREIGN,
        "null",
        "http://aegis.example.org",
        "https://aegis.example.org.evil.example.com",
    ] {
        let answer = send(router.clone(), post_json(Some(origin))).await;
        assert_eq!(answer.status, StatusCode::FORBIDDEN, "{origin}");
        assert_eq!(answer.error_code(), "FORBIDDEN", "{origin}");
        assert!(!answer.has_cors_headers(), "{origin}");
    }
    // Refused before the body is looked at: a foreign form post is a 403, not a 415.
    let mut form = post_with_content_type(Some("application/x-www-form-urlencoded"), "a=b");
    form.headers_mut()
        .insert(header::ORIGIN, FOREIGN.parse().unwrap());
    assert_eq!(
        send(router.clone(), form).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(calls.posts(), 0);
}

#[tokio::test]
async fn same_origin_and_allowed_origin_json_posts_pass() {
    let calls = Calls::default();
    let router = calls.router(&config());
    let same_origin = format!("https://{HOST}");
    for (origin, sec_fetch_site) in [
        (None, None),
        (Some(same_origin.as_str()), Some("same-origin")),
        (Some("https://aegis.example.org:443"), None),
        (Some(ALLOWED), Some("same-site")),
        (Some(ALLOWED), None),
    ] {
        let mut request = post_json(origin);
        if let Some(site) = sec_fetch_site {
            request
                .headers_mut()
                .insert("sec-fetch-site", site.parse().unwrap());
        }
        let answer = send(router.clone(), request).await;
        assert_eq!(answer.status, StatusCode::OK, "{origin:?}: {}", answer.body);
    }
    assert_eq!(calls.posts(), 5);

    // Without a public URL, this site's origin is the Host header over plain HTTP (as in development).
    let local = EdgeConfig::default();
    let request = Request::post("/graphql")
        .header(header::HOST, "localhost:8080")
        .header(header::ORIGIN, "http://localhost:8080")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from("{}"))
        .unwrap();
    assert_eq!(
        send(calls.router(&local), request).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_get_never_runs_an_operation() {
    let calls = Calls::default();
    let router = calls.router(&config());
    let request = Request::get("/graphql?query=mutation%7BdeleteEverything%7D")
        .header(header::ORIGIN, FOREIGN)
        .header("sec-fetch-site", "cross-site")
        .body(Body::empty())
        .unwrap();
    let answer = send(router.clone(), request).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert!(
        answer
            .header("content-type")
            .unwrap()
            .starts_with("text/html")
    );
    let head = Request::head("/graphql?query=mutation%7BdeleteEverything%7D")
        .body(Body::empty())
        .unwrap();
    assert_eq!(send(router, head).await.status, StatusCode::OK);
    assert_eq!(calls.posts(), 0);
    assert_eq!(calls.get.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn other_state_changing_methods_are_guarded_too() {
    let router = Calls::default().router(&config());
    let put = Request::put("/graphql")
        .header(header::CONTENT_TYPE, "text/plain")
        .body(Body::from("x"))
        .unwrap();
    assert_eq!(
        send(router.clone(), put).await.status,
        StatusCode::UNSUPPORTED_MEDIA_TYPE
    );
    let delete = Request::delete("/page")
        .header(header::ORIGIN, FOREIGN)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::empty())
        .unwrap();
    assert_eq!(send(router, delete).await.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_websocket_handshake_must_come_from_this_site_or_an_allowed_origin() {
    let calls = Calls::default();
    let router = calls.router(&config());
    let handshake = |origin: &str| {
        Request::get("/graphql/ws")
            .header(header::HOST, HOST)
            .header(header::ORIGIN, origin)
            .header(header::CONNECTION, "upgrade")
            .header(header::UPGRADE, "websocket")
            .header(header::SEC_WEBSOCKET_VERSION, "13")
            .header(header::SEC_WEBSOCKET_KEY, "dGhlIHNhbXBsZSBub25jZQ==")
            .body(Body::empty())
            .unwrap()
    };
    let answer = send(router.clone(), handshake(FOREIGN)).await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);
    assert_eq!(answer.error_code(), "FORBIDDEN");
    assert_eq!(calls.socket.load(Ordering::SeqCst), 0);

    for origin in [format!("https://{HOST}"), ALLOWED.to_owned()] {
        let answer = send(router.clone(), handshake(&origin)).await;
        assert_eq!(answer.status, StatusCode::OK, "{origin}: {}", answer.body);
    }
    assert_eq!(calls.socket.load(Ordering::SeqCst), 2);
}

/// With evidence in S3 the browser `PUT`s to the bucket's presigned URLs, so that origin, and only it, joins
/// `connect-src`; scripts, styles, images, frames and forms stay this site's own, GraphiQL's page is unchanged,
/// and without S3 the policy is the strict one.
#[tokio::test]
async fn the_evidence_buckets_origin_is_the_only_addition_to_the_policy() {
    let bucket = "https://aegis-evidence.s3.eu-west-1.amazonaws.com";
    let with_bucket = EdgeConfig {
        evidence_upload_origin: Some(format!("{bucket}:443")),
        ..config()
    };
    let router = Calls::default().router(&with_bucket);
    let expected = STRICT_CSP.replace(
        "connect-src 'self';",
        &format!("connect-src 'self' {bucket};"),
    );
    for path in ["/page", "/health"] {
        let answer = send(
            router.clone(),
            Request::get(path).body(Body::empty()).unwrap(),
        )
        .await;
        assert_eq!(
            answer.header("content-security-policy"),
            Some(expected.as_str()),
            "{path}"
        );
    }
    let directives: Vec<&str> = expected.split("; ").collect();
    assert_eq!(
        directives
            .iter()
            .filter(|directive| directive.contains(bucket))
            .count(),
        1,
        "{expected}"
    );
    let graphiql = Request::get("/graphql")
        .header(header::ACCEPT, "text/html")
        .body(Body::empty())
        .unwrap();
    assert_eq!(
        send(router, graphiql)
            .await
            .header("content-security-policy"),
        Some(GRAPHIQL_CSP)
    );

    // An upload origin that is not an origin is refused by validation and, if used anyway, adds nothing.
    let sloppy = EdgeConfig {
        evidence_upload_origin: Some("https://*.amazonaws.com/bucket".to_owned()),
        ..config()
    };
    assert!(sloppy.validate().is_err());
    let answer = send(
        Calls::default().router(&sloppy),
        Request::get("/page").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(answer.header("content-security-policy"), Some(STRICT_CSP));
}
