//! Hostile requests over a real socket to a real `aegis serve` on a throwaway cluster: each must be answered
//! with a 4xx or a GraphQL error that has a code other than INTERNAL, within [`ANSWER_WITHIN`].
//! `api/tests/http.rs` checks the same requests in-process, each against its exact answer; this is the table
//! `aegis chaos all` prints.

use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::{Cluster, Server, free_port, http_client, sign_in, wait_ready};

/// No hostile request may take longer to answer. Most take milliseconds; the slowest, 5,000 aliases, takes
/// about half a second on an idle machine and more than a second on a busy one.
const ANSWER_WITHIN: Duration = Duration::from_secs(5);

/// How the server answered one hostile request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostileAnswer {
    pub request: &'static str,
    pub status: u16,
    /// The first error's `extensions.code`, when the body is GraphQL's error shape.
    pub code: Option<String>,
    pub took: Duration,
}

impl HostileAnswer {
    /// A 4xx, or a 200 whose errors carry a code other than INTERNAL, in time.
    pub fn is_clear_refusal(&self) -> bool {
        let coded = self.code.as_deref().is_some_and(|code| code != "INTERNAL");
        let refused = (400..500).contains(&self.status) || (self.status == 200 && coded);
        refused && self.took <= ANSWER_WITHIN
    }
}

/// Sends each hostile request once, in turn, and records the answer.
pub async fn requests(aegis: &Path) -> anyhow::Result<Vec<HostileAnswer>> {
    let cluster = Cluster::start(aegis, true).await?;
    let app_dir = tempfile::tempdir()?;
    let port = free_port()?;
    let base = format!("http://127.0.0.1:{port}");
    let http = http_client(Duration::from_secs(30))?;
    let _server = Server::start(aegis, &cluster.url, app_dir.path(), port)?;
    wait_ready(&http, &base).await?;
    let token = sign_in(&http, &base).await?;

    let version = json!({ "query": "{ serverInfo { version } }" });
    let aliases: String = (0..5000).fold(String::new(), |mut query, index| {
        let _ = write!(query, "a{index}: serverInfo {{ version }} ");
        query
    });
    let nested = format!(
        "{{ __type(name: \"Query\") {{ {}name{} }} }}",
        "ofType { ".repeat(200),
        " }".repeat(200)
    );
    let mut answers = vec![declared_10_mib(port).await?];
    let bodies: Vec<(&'static str, &'static str, Vec<u8>)> = vec![
        (
            "malformed JSON",
            "application/json",
            br#"{"query": "{ serverInfo { version } }""#.to_vec(),
        ),
        (
            "invalid UTF-8",
            "application/json",
            b"{\"query\": \"\xff\xfe\"}".to_vec(),
        ),
        ("JSON sent as text/plain", "text/plain", to_bytes(&version)),
        (
            "a batch of 500 operations",
            "application/json",
            to_bytes(&json!(vec![version.clone(); 500])),
        ),
        (
            "5,000 aliases",
            "application/json",
            to_bytes(&json!({ "query": format!("{{ {aliases} }}") })),
        ),
        (
            "nesting 200 deep",
            "application/json",
            to_bytes(&json!({ "query": nested })),
        ),
        (
            "1 MiB of variables",
            "application/json",
            to_bytes(&json!({
                "query": "query($v: String) { serverInfo { version } }",
                "variables": { "v": "x".repeat(1 << 20) },
            })),
        ),
        (
            "a NUL character in a variable",
            "application/json",
            to_bytes(&json!({
                "query": "query($search: String) { complianceFrameworks(filter: { search: $search }) { pageInfo { hasNextPage } } }",
                "variables": { "search": "a\u{0}b" },
            })),
        ),
        (
            "an Int argument out of range",
            "application/json",
            to_bytes(
                &json!({ "query": "{ users(first: 9531919505322) { pageInfo { hasNextPage } } }" }),
            ),
        ),
    ];
    for (request, content_type, body) in bodies {
        let sent = http
            .post(format!("{base}/graphql"))
            .bearer_auth(&*token)
            .header("content-type", content_type)
            .body(body);
        answers.push(answer(request, sent).await?);
    }
    answers.push(
        answer(
            "a mutation without a session",
            http.post(format!("{base}/graphql"))
                .json(&json!({ "query": "mutation { logout }" })),
        )
        .await?,
    );
    Ok(answers)
}

/// A request that declares a 10 MiB body. The server refuses it on the declaration, before reading: sent for
/// real, the client could still be writing when the server closes the connection after its answer (a race
/// that `api/tests/http.rs` does not have, in-process, where the whole 10 MiB is sent).
async fn declared_10_mib(port: u16) -> anyhow::Result<HostileAnswer> {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let started = Instant::now();
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
    let head = format!(
        "POST /graphql HTTP/1.1\r\nhost: 127.0.0.1:{port}\r\ncontent-type: application/json\r\n\
         content-length: {}\r\nconnection: close\r\n\r\n{{",
        10 << 20
    );
    stream.write_all(head.as_bytes()).await?;
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer)).await??;
    let took = started.elapsed();
    let status = String::from_utf8_lossy(&answer)
        .split_whitespace()
        .nth(1)
        .and_then(|status| status.parse().ok())
        .unwrap_or(0);
    Ok(HostileAnswer {
        request: "a body declared as 10 MiB",
        status,
        code: None,
        took,
    })
}

fn to_bytes(value: &Value) -> Vec<u8> {
    value.to_string().into_bytes()
}

async fn answer(
    request: &'static str,
    sent: reqwest::RequestBuilder,
) -> anyhow::Result<HostileAnswer> {
    let started = Instant::now();
    let response = sent.send().await?;
    let status = response.status().as_u16();
    let body = response.bytes().await?;
    let took = started.elapsed();
    let code = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|body| {
            body["errors"][0]["extensions"]["code"]
                .as_str()
                .map(str::to_owned)
        });
    Ok(HostileAnswer {
        request,
        status,
        code,
        took,
    })
}

/// The markdown table `aegis chaos all` prints.
pub fn table(answers: &[HostileAnswer]) -> String {
    let mut table =
        String::from("| hostile request | HTTP | code | answered in |\n|---|---|---|---|\n");
    for answer in answers {
        let _ = writeln!(
            table,
            "| {} | {} | {} | {} ms{} |",
            answer.request,
            answer.status,
            answer.code.as_deref().unwrap_or("–"),
            answer.took.as_millis(),
            if answer.is_clear_refusal() {
                ""
            } else {
                " FAILED"
            },
        );
    }
    table
}
