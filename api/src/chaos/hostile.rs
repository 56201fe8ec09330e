//! Hostile requests over a real socket to a real `aegis serve` on a throwaway cluster: each must be answered
//! with a 4xx or a GraphQL error that has a code other than INTERNAL, within two seconds. `api/tests/http.rs`
//! checks the same requests in-process, each against its exact answer; this is the table `aegis chaos all`
//! prints.

use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::{Cluster, Server, free_port, http_client, sign_in, wait_ready};

/// No hostile request may take longer to answer.
const ANSWER_WITHIN: Duration = Duration::from_secs(2);

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
    let bodies: Vec<(&'static str, &'static str, Vec<u8>)> = vec![
        ("a 10 MiB body", "application/json", vec![b' '; 10 << 20]),
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
    let mut answers = Vec::new();
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
