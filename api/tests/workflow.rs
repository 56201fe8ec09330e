//! The red/blue workflow through GraphQL: one test case from plan to approval as four different users, a
//! rejection, a reopen, blind-test rules and refusal codes.
#![allow(clippy::unwrap_used)]

mod support;

use domain::role::Role;
use serde_json::Value;
use sqlx::PgPool;
use support::{error_code, graphql, signed_in, state};

const CHANGE: &str = "{ id version state run outcome timeToDetectSeconds replayed }";

fn plan(blind: bool) -> String {
    format!(
        r#"mutation {{ planTestCase(plan: {{
            title: "LSASS dump through comsvcs.dll", objective: "blocked by EDR", technique: "t1003.001",
            procedure: {{ kind: MANUAL }}, steps: "rundll32 comsvcs.dll MiniDump", platforms: ["Windows"],
            targets: ["ws-042"], tags: ["credential-access"], blind: {blind} }}) {CHANGE} }}"#
    )
}

fn field<'a>(response: &'a Value, name: &str) -> &'a Value {
    assert!(response.get("errors").is_none(), "{response}");
    &response["data"][name]
}

#[sqlx::test(migrations = "../migrations")]
async fn a_test_case_walks_from_plan_to_approval_then_is_rejected_and_reopened(pool: PgPool) {
    let state = state(&pool);
    let (red_lead_id, red_lead) = signed_in(&state, &[Role::RedLead]).await;
    let (red_tech_id, red_tech) = signed_in(&state, &[Role::RedTech]).await;
    let (blue_tech_id, blue_tech) = signed_in(&state, &[Role::BlueTech]).await;
    let (_, blue_lead) = signed_in(&state, &[Role::BlueLead]).await;
    let _ = red_lead_id;

    let planned = graphql(&state, Some(&red_lead), &plan(false)).await;
    let id = field(&planned, "planTestCase")["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(field(&planned, "planTestCase")["state"], "planned");

    let assign_red = format!(
        r#"mutation {{ assignTestCase(id: "{id}", redAssignee: "{red_tech_id}") {CHANGE} }}"#
    );
    assert_eq!(
        field(
            &graphql(&state, Some(&red_lead), &assign_red).await,
            "assignTestCase"
        )["state"],
        "assigned"
    );
    let assign_blue = format!(
        r#"mutation {{ assignTestCase(id: "{id}", blueAssignee: "{blue_tech_id}") {CHANGE} }}"#
    );
    graphql(&state, Some(&blue_lead), &assign_blue).await;

    // Blue may not start red's execution.
    let start = format!(r#"mutation {{ startExecution(id: "{id}") {CHANGE} }}"#);
    let refused = graphql(&state, Some(&blue_tech), &start).await;
    assert_eq!(error_code(&refused), Some("FORBIDDEN"), "{refused}");
    assert_eq!(
        refused["errors"][0]["extensions"]["reason"],
        "ROLE_REQUIRED"
    );

    assert_eq!(
        field(
            &graphql(&state, Some(&red_tech), &start).await,
            "startExecution"
        )["state"],
        "executing"
    );
    let record = format!(
        r#"mutation {{ recordExecution(id: "{id}", execution: {{ command: "rundll32.exe comsvcs.dll, MiniDump 612 out.dmp full",
            target: "ws-042", startedAt: "2026-11-20T10:00:00Z", stoppedAt: "2026-11-20T10:00:05Z",
            outputExcerpt: "Access is denied." }}) {CHANGE} }}"#
    );
    graphql(&state, Some(&red_tech), &record).await;
    graphql(
        &state,
        Some(&red_tech),
        &format!(r#"mutation {{ completeExecution(id: "{id}") {CHANGE} }}"#),
    )
    .await;

    graphql(
        &state,
        Some(&blue_tech),
        &format!(r#"mutation {{ startReview(id: "{id}") {CHANGE} }}"#),
    )
    .await;
    for (tool, outcome, detected) in [
        ("EDR", "BLOCKED", "2026-11-20T10:00:03Z"),
        ("SIEM", "ALERTED", "2026-11-20T10:01:00Z"),
    ] {
        let recorded = graphql(
            &state,
            Some(&blue_tech),
            &format!(
                r#"mutation {{ recordDefenseOutcome(id: "{id}", outcome: {{ tool: "{tool}", outcome: {outcome},
                    severity: HIGH, detectedAt: "{detected}", rulesFired: ["lsass-access"] }}) {CHANGE} }}"#
            ),
        )
        .await;
        field(&recorded, "recordDefenseOutcome");
    }
    let submitted = graphql(
        &state,
        Some(&blue_tech),
        &format!(r#"mutation {{ submitForApproval(id: "{id}") {CHANGE} }}"#),
    )
    .await;
    let submitted = field(&submitted, "submitForApproval");
    assert_eq!(submitted["state"], "awaiting_approval");
    assert_eq!(submitted["outcome"], "BLOCKED", "Blocked wins over Alerted");
    assert_eq!(
        submitted["timeToDetectSeconds"], "3",
        "earliest detection minus execution start"
    );

    // Rejected back to blue, who corrects and resubmits; then a lead approves.
    let reject = format!(
        r#"mutation {{ rejectResult(id: "{id}", reason: "add the SIEM rule id", backTo: BLUE) {CHANGE} }}"#
    );
    assert_eq!(
        field(
            &graphql(&state, Some(&red_lead), &reject).await,
            "rejectResult"
        )["state"],
        "reviewing"
    );
    graphql(
        &state,
        Some(&blue_tech),
        &format!(r#"mutation {{ submitForApproval(id: "{id}") {CHANGE} }}"#),
    )
    .await;
    let approved = graphql(
        &state,
        Some(&blue_lead),
        &format!(r#"mutation {{ approveResult(id: "{id}") {CHANGE} }}"#),
    )
    .await;
    assert_eq!(field(&approved, "approveResult")["state"], "completed");

    // A re-test is a new run; the first stays in history.
    let reopened = graphql(
        &state,
        Some(&red_lead),
        &format!(
            r#"mutation {{ reopenTestCase(id: "{id}", reason: "EDR policy changed") {CHANGE} }}"#
        ),
    )
    .await;
    let reopened = field(&reopened, "reopenTestCase");
    assert_eq!(
        (reopened["state"].as_str(), reopened["run"].as_i64()),
        (Some("assigned"), Some(2))
    );
    assert!(
        reopened["outcome"].is_null(),
        "a new run has no outcome yet"
    );
    let events: i64 =
        sqlx::query_scalar("SELECT count(*) FROM events WHERE aggregate_type = 'TestCase'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(events, 14);
}

#[sqlx::test(migrations = "../migrations")]
async fn refusals_carry_stable_reasons_and_retries_are_idempotent(pool: PgPool) {
    let state = state(&pool);
    let (_, red_lead) = signed_in(&state, &[Role::RedLead]).await;
    let (_, viewer) = signed_in(&state, &[Role::Viewer]).await;

    let invalid = graphql(
        &state,
        Some(&red_lead),
        &plan(false).replace("t1003.001", "T99"),
    )
    .await;
    assert_eq!(error_code(&invalid), Some("VALIDATION"));
    assert_eq!(
        invalid["errors"][0]["extensions"]["reason"],
        "INVALID_TECHNIQUE"
    );

    let by_viewer = graphql(&state, Some(&viewer), &plan(false)).await;
    assert_eq!(
        error_code(&by_viewer),
        Some("FORBIDDEN"),
        "viewers change nothing"
    );

    let planned = graphql(&state, Some(&red_lead), &plan(true)).await;
    let id = field(&planned, "planTestCase")["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let too_early = graphql(
        &state,
        Some(&red_lead),
        &format!(r#"mutation {{ approveResult(id: "{id}") {CHANGE} }}"#),
    )
    .await;
    assert_eq!(error_code(&too_early), Some("CONFLICT"));
    assert_eq!(
        too_early["errors"][0]["extensions"]["reason"],
        "WRONG_STATE"
    );
    let unknown = graphql(
        &state,
        Some(&red_lead),
        &format!(
            r#"mutation {{ startExecution(id: "{}") {CHANGE} }}"#,
            uuid::Uuid::now_v7()
        ),
    )
    .await;
    assert_eq!(error_code(&unknown), Some("NOT_FOUND"));

    // The same comment sent twice with one idempotency key is recorded once.
    let comment =
        format!(r#"mutation {{ addComment(id: "{id}", body: "scheduled for Friday") {CHANGE} }}"#);
    let request = || {
        axum::http::Request::post("/graphql")
            .header(axum::http::header::CONTENT_TYPE, "application/json")
            .header(
                axum::http::header::AUTHORIZATION,
                format!("Bearer {red_lead}"),
            )
            .header("idempotency-key", "comment-7")
            .body(axum::body::Body::from(
                serde_json::json!({ "query": comment }).to_string(),
            ))
            .unwrap()
    };
    let (_, _, first) = support::send(&state, request()).await;
    let (_, _, second) = support::send(&state, request()).await;
    let first: Value = serde_json::from_str(&first).unwrap();
    let second: Value = serde_json::from_str(&second).unwrap();
    assert_eq!(field(&first, "addComment")["replayed"], false);
    assert_eq!(field(&second, "addComment")["replayed"], true);
    assert_eq!(
        field(&first, "addComment")["version"],
        field(&second, "addComment")["version"]
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn a_retried_creation_with_one_key_creates_one_test_case(pool: PgPool) {
    let state = state(&pool);
    let (_, red_lead) = signed_in(&state, &[Role::RedLead]).await;
    let request = || {
        axum::http::Request::post("/graphql")
            .header(axum::http::header::CONTENT_TYPE, "application/json")
            .header(
                axum::http::header::AUTHORIZATION,
                format!("Bearer {red_lead}"),
            )
            .header("idempotency-key", "plan-lsass-1")
            .body(axum::body::Body::from(
                serde_json::json!({ "query": plan(false) }).to_string(),
            ))
            .unwrap()
    };
    let (_, _, first) = support::send(&state, request()).await;
    let (_, _, second) = support::send(&state, request()).await;
    let first: Value = serde_json::from_str(&first).unwrap();
    let second: Value = serde_json::from_str(&second).unwrap();
    assert_eq!(
        field(&first, "planTestCase")["id"],
        field(&second, "planTestCase")["id"]
    );
    assert_eq!(field(&second, "planTestCase")["replayed"], true);
    let planned: i64 =
        sqlx::query_scalar("SELECT count(*) FROM events WHERE event_type = 'TestCasePlanned'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(planned, 1);
}

#[sqlx::test(migrations = "../migrations")]
async fn blue_sees_a_blind_test_exists_but_not_reds_procedure_until_revealed(pool: PgPool) {
    let state = state(&pool);
    let (_, red_lead) = signed_in(&state, &[Role::RedLead]).await;
    let (_, blue_lead) = signed_in(&state, &[Role::BlueLead]).await;
    let (_, viewer) = signed_in(&state, &[Role::Viewer]).await;
    let planned = graphql(&state, Some(&red_lead), &plan(true)).await;
    let id = field(&planned, "planTestCase")["id"]
        .as_str()
        .unwrap()
        .to_owned();
    state.projector.catch_up().await.unwrap();

    let query = format!(
        r#"{{ testCase(id: "{id}") {{ title technique procedure steps objective redacted blind }} }}"#
    );
    let as_blue = graphql(&state, Some(&blue_lead), &query).await;
    let seen = field(&as_blue, "testCase");
    assert_eq!(seen["title"], "LSASS dump through comsvcs.dll");
    assert_eq!(seen["technique"], "T1003.001");
    assert_eq!(
        (seen["redacted"].as_bool(), seen["blind"].as_bool()),
        (Some(true), Some(true))
    );
    for withheld in ["procedure", "steps", "objective"] {
        assert!(
            seen[withheld].is_null(),
            "{withheld} leaked to blue: {seen}"
        );
    }
    for (caller, who) in [(&red_lead, "red lead"), (&viewer, "viewer")] {
        let full = graphql(&state, Some(caller), &query).await;
        assert_eq!(field(&full, "testCase")["procedure"], "MANUAL", "{who}");
        assert_eq!(field(&full, "testCase")["redacted"], false, "{who}");
    }
    // Lists redact the same way.
    let listed = graphql(
        &state,
        Some(&blue_lead),
        "{ testCases(filter: { technique: \"T1003\" }) { edges { node { steps redacted } } } }",
    )
    .await;
    assert_eq!(
        field(&listed, "testCases")["edges"][0]["node"]["redacted"],
        true
    );

    graphql(
        &state,
        Some(&red_lead),
        &format!(r#"mutation {{ revealToBlue(id: "{id}") {CHANGE} }}"#),
    )
    .await;
    state.projector.catch_up().await.unwrap();
    let revealed = graphql(&state, Some(&blue_lead), &query).await;
    assert_eq!(field(&revealed, "testCase")["procedure"], "MANUAL");
    assert_eq!(field(&revealed, "testCase")["redacted"], false);
}

#[sqlx::test(migrations = "../migrations")]
async fn auditors_read_a_test_cases_history_but_blue_not_while_blind(pool: PgPool) {
    let state = state(&pool);
    let (red_lead_id, red_lead) = signed_in(&state, &[Role::RedLead]).await;
    let (_, blue_lead) = signed_in(&state, &[Role::BlueLead]).await;
    let (_, viewer) = signed_in(&state, &[Role::Viewer]).await;
    let planned = graphql(&state, Some(&red_lead), &plan(true)).await;
    let id = field(&planned, "planTestCase")["id"]
        .as_str()
        .unwrap()
        .to_owned();
    graphql(
        &state,
        Some(&red_lead),
        &format!(r#"mutation {{ addComment(id: "{id}", body: "Friday") {CHANGE} }}"#),
    )
    .await;
    state.projector.catch_up().await.unwrap();

    let query = format!(
        r#"{{ history(kind: TEST_CASE, id: "{id}") {{ sequence eventType eventVersion actorId occurredAt payload }} }}"#
    );
    let history = graphql(&state, Some(&viewer), &query).await;
    let events = field(&history, "history").as_array().unwrap().clone();
    assert_eq!(events.len(), 2);
    assert_eq!(events[0]["eventType"], "TestCasePlanned");
    assert_eq!(events[1]["eventType"], "TestCaseCommentAdded");
    assert_eq!(events[0]["actorId"], red_lead_id.to_string());
    assert_eq!(events[1]["payload"]["CommentAdded"]["body"], "Friday");

    let as_blue = graphql(&state, Some(&blue_lead), &query).await;
    assert_eq!(error_code(&as_blue), Some("FORBIDDEN"), "{as_blue}");
    let accounts = graphql(
        &state,
        Some(&viewer),
        &format!(r#"{{ history(kind: USER, id: "{red_lead_id}") {{ eventType }} }}"#),
    )
    .await;
    assert_eq!(error_code(&accounts), Some("FORBIDDEN"));
}
