//! Reading the workflow through GraphQL: a campaign's progress over its members, the campaigns connection,
//! scoring policies with their versions, and the `testCaseChanged` / `campaignChanged` subscriptions, with
//! blind tests' details kept from blue. Changes are made with mutations, and the projector is caught up
//! before reading, as the running server's projector would.
#![allow(clippy::unwrap_used)]

mod support;

use std::time::Duration;

use api::auth::session::Authentication;
use api::state::AppState;
use async_graphql::Request;
use chrono::{DateTime, Utc};
use domain::campaign::Recurrence;
use domain::role::Role;
use futures::{Stream, StreamExt};
use serde_json::{Value, json};
use sqlx::PgPool;
use support::{graphql, signed_in, state};

fn field<'a>(response: &'a Value, name: &str) -> &'a Value {
    assert!(response.get("errors").is_none(), "{response}");
    &response["data"][name]
}

/// Runs a mutation that must succeed; returns its root field's value.
async fn mutate(state: &AppState, token: &str, name: &str, text: &str) -> Value {
    let response = graphql(state, Some(token), &format!("mutation {{ {text} }}")).await;
    field(&response, name).clone()
}

async fn plan_test_case(state: &AppState, lead: &str, title: &str, blind: bool) -> String {
    let planned = mutate(
        state,
        lead,
        "planTestCase",
        &format!(
            r#"planTestCase(plan: {{ title: "{title}", objective: "blocked by EDR", technique: "T1003.001",
                procedure: {{ kind: MANUAL }}, steps: "rundll32 comsvcs.dll MiniDump", targets: ["ws-042"],
                blind: {blind} }}) {{ id }}"#
        ),
    )
    .await;
    planned["id"].as_str().unwrap().to_owned()
}

/// The four people a test case needs, signed in.
struct Team {
    red_lead: String,
    red_tech: String,
    red_tech_id: String,
    blue_lead: String,
    blue_tech: String,
    blue_tech_id: String,
}

impl Team {
    async fn sign_in(state: &AppState) -> Self {
        let (_, red_lead) = signed_in(state, &[Role::RedLead]).await;
        let (red_tech_id, red_tech) = signed_in(state, &[Role::RedTech]).await;
        let (_, blue_lead) = signed_in(state, &[Role::BlueLead]).await;
        let (blue_tech_id, blue_tech) = signed_in(state, &[Role::BlueTech]).await;
        Self {
            red_lead,
            red_tech,
            red_tech_id: red_tech_id.to_string(),
            blue_lead,
            blue_tech,
            blue_tech_id: blue_tech_id.to_string(),
        }
    }

    /// Takes test case `id` from planned to completed: executed at 10:00:00, blocked by the EDR at
    /// 10:00:03 (a time to detect of 3 s), approved by the blue lead.
    async fn complete(&self, state: &AppState, id: &str) {
        let steps = [
            (
                &self.red_lead,
                "assignTestCase",
                format!(
                    r#"assignTestCase(id: "{id}", redAssignee: "{}") {{ id }}"#,
                    self.red_tech_id
                ),
            ),
            (
                &self.blue_lead,
                "assignTestCase",
                format!(
                    r#"assignTestCase(id: "{id}", blueAssignee: "{}") {{ id }}"#,
                    self.blue_tech_id
                ),
            ),
            (
                &self.red_tech,
                "startExecution",
                format!(r#"startExecution(id: "{id}") {{ id }}"#),
            ),
            (
                &self.red_tech,
                "recordExecution",
                format!(
                    r#"recordExecution(id: "{id}", execution: {{ command: "rundll32.exe comsvcs.dll, MiniDump",
                        target: "ws-042", startedAt: "2026-11-20T10:00:00Z", stoppedAt: "2026-11-20T10:00:05Z",
                        outputExcerpt: "Access is denied." }}) {{ id }}"#
                ),
            ),
            (
                &self.red_tech,
                "completeExecution",
                format!(r#"completeExecution(id: "{id}") {{ id }}"#),
            ),
            (
                &self.blue_tech,
                "startReview",
                format!(r#"startReview(id: "{id}") {{ id }}"#),
            ),
            (
                &self.blue_tech,
                "recordDefenseOutcome",
                format!(
                    r#"recordDefenseOutcome(id: "{id}", outcome: {{ tool: "EDR", outcome: BLOCKED,
                        detectedAt: "2026-11-20T10:00:03Z" }}) {{ id }}"#
                ),
            ),
            (
                &self.blue_tech,
                "submitForApproval",
                format!(r#"submitForApproval(id: "{id}") {{ id }}"#),
            ),
            (
                &self.blue_lead,
                "approveResult",
                format!(r#"approveResult(id: "{id}") {{ state }}"#),
            ),
        ];
        for (token, name, text) in steps {
            mutate(state, token, name, &text).await;
        }
    }
}

const WEEKLY: &str = r#"recurrence: { cron: "0 9 * * MON", timezone: "Europe/Berlin" }"#;

async fn create_campaign(state: &AppState, lead: &str, name: &str, extra: &str) -> String {
    let created = mutate(
        state,
        lead,
        "createCampaign",
        &format!(
            r#"createCampaign(input: {{ name: "{name}", scope: {{ techniques: ["T1003.001"] }},
                plannedStart: "2026-01-05T08:00:00Z", plannedEnd: "2026-01-30T17:00:00Z" {extra} }}) {{ id }}"#
        ),
    )
    .await;
    created["id"].as_str().unwrap().to_owned()
}

const CAMPAIGN: &str = "{ id name status testCaseIds templateId dueAt spawns { dueAt instanceId }
    recurrence { cron timezone nextDueAt }
    progress { total unknown closed percentComplete byState { state count } byOutcome { outcome count }
               timeToDetect { measured minSeconds medianSeconds maxSeconds } } }";

fn count_of<'a>(entries: &'a Value, key: &str, value: &Value) -> &'a Value {
    &entries
        .as_array()
        .unwrap()
        .iter()
        .find(|entry| &entry[key] == value)
        .unwrap_or_else(|| panic!("no {key} {value} in {entries}"))["count"]
}

#[sqlx::test(migrations = "../migrations")]
async fn a_campaign_shows_its_members_progress_and_recurrence(pool: PgPool) {
    let state = state(&pool);
    let team = Team::sign_in(&state).await;
    let campaign = create_campaign(&state, &team.red_lead, "Credential access", WEEKLY).await;
    // The completed member is blind and never revealed: blue must not learn its time to detect.
    let completed = plan_test_case(&state, &team.red_lead, "LSASS dump", true).await;
    let planned = plan_test_case(&state, &team.red_lead, "SAM dump", false).await;
    for member in [&completed, &planned] {
        mutate(
            &state,
            &team.red_lead,
            "addTestCaseToCampaign",
            &format!(r#"addTestCaseToCampaign(id: "{campaign}", testCaseId: "{member}") {{ id }}"#),
        )
        .await;
    }
    team.complete(&state, &completed).await;
    state.projector.catch_up().await.unwrap();

    let query = format!(r#"{{ campaign(id: "{campaign}") {CAMPAIGN} }}"#);
    let read = graphql(&state, Some(&team.red_lead), &query).await;
    let view = field(&read, "campaign");
    assert_eq!(view["status"], "PLANNED");
    assert_eq!(
        view["testCaseIds"],
        json!([completed, planned]),
        "in the order added"
    );
    assert_eq!(
        (view["templateId"].is_null(), view["dueAt"].is_null()),
        (true, true)
    );
    assert_eq!(view["spawns"], json!([]));

    let progress = &view["progress"];
    assert_eq!(
        (
            &progress["total"],
            &progress["unknown"],
            &progress["closed"],
            &progress["percentComplete"]
        ),
        (&json!(2), &json!(0), &json!(1), &json!(50.0))
    );
    assert_eq!(
        count_of(&progress["byState"], "state", &json!("completed")),
        1
    );
    assert_eq!(
        count_of(&progress["byState"], "state", &json!("planned")),
        1
    );
    assert_eq!(
        count_of(&progress["byState"], "state", &json!("executing")),
        0
    );
    assert_eq!(
        count_of(&progress["byOutcome"], "outcome", &json!("BLOCKED")),
        1
    );
    assert_eq!(count_of(&progress["byOutcome"], "outcome", &Value::Null), 1);
    assert_eq!(
        count_of(&progress["byOutcome"], "outcome", &json!("ALERTED")),
        0
    );
    assert_eq!(
        progress["timeToDetect"],
        json!({ "measured": 1, "minSeconds": 3, "medianSeconds": 3, "maxSeconds": 3 })
    );

    let recurrence = &view["recurrence"];
    assert_eq!(
        (&recurrence["cron"], &recurrence["timezone"]),
        (&json!("0 9 * * MON"), &json!("Europe/Berlin"))
    );
    let next_due: DateTime<Utc> = recurrence["nextDueAt"].as_str().unwrap().parse().unwrap();
    let schedule = Recurrence::parse("0 9 * * MON", "Europe/Berlin").unwrap();
    assert!(schedule.is_due_time(next_due), "{next_due} is a due time");
    assert!(next_due > Utc::now(), "{next_due} lies ahead");

    // Blue sees the same counts, but no time to detect of a blind test red has not revealed.
    let as_blue = graphql(&state, Some(&team.blue_tech), &query).await;
    let blue_progress = &field(&as_blue, "campaign")["progress"];
    assert_eq!(blue_progress["byOutcome"], progress["byOutcome"]);
    assert_eq!(
        blue_progress["timeToDetect"],
        json!({ "measured": 0, "minSeconds": null, "medianSeconds": null, "maxSeconds": null })
    );
    mutate(
        &state,
        &team.red_lead,
        "revealToBlue",
        &format!(r#"revealToBlue(id: "{completed}") {{ id }}"#),
    )
    .await;
    state.projector.catch_up().await.unwrap();
    let revealed = graphql(&state, Some(&team.blue_tech), &query).await;
    assert_eq!(
        field(&revealed, "campaign")["progress"]["timeToDetect"]["measured"],
        1
    );

    let unknown = graphql(
        &state,
        Some(&team.blue_tech),
        &format!(r#"{{ campaign(id: "{}") {{ id }} }}"#, uuid::Uuid::new_v4()),
    )
    .await;
    assert!(field(&unknown, "campaign").is_null());
}

#[sqlx::test(migrations = "../migrations")]
async fn campaigns_are_paged_in_creation_order_and_filtered_by_status(pool: PgPool) {
    let state = state(&pool);
    let (_, lead) = signed_in(&state, &[Role::BlueLead]).await;
    let (_, viewer) = signed_in(&state, &[Role::Viewer]).await;
    let mut ids = Vec::new();
    for name in ["First", "Second", "Third"] {
        ids.push(create_campaign(&state, &lead, name, "").await);
    }
    mutate(
        &state,
        &lead,
        "activateCampaign",
        &format!(r#"activateCampaign(id: "{}") {{ id }}"#, ids[1]),
    )
    .await;
    state.projector.catch_up().await.unwrap();

    let page = |arguments: String| {
        let state = state.clone();
        let viewer = viewer.clone();
        async move {
            let response = graphql(
                &state,
                Some(&viewer),
                &format!(
                    "{{ campaigns({arguments}) {{ edges {{ cursor node {{ id name status }} }}
                        pageInfo {{ hasNextPage hasPreviousPage endCursor }} }} }}"
                ),
            )
            .await;
            field(&response, "campaigns").clone()
        }
    };
    let first = page("first: 1".to_owned()).await;
    assert_eq!(first["edges"][0]["node"]["id"], ids[0].as_str());
    assert_eq!(first["edges"].as_array().unwrap().len(), 1);
    assert_eq!(
        (
            &first["pageInfo"]["hasNextPage"],
            &first["pageInfo"]["hasPreviousPage"]
        ),
        (&json!(true), &json!(false))
    );
    let cursor = first["pageInfo"]["endCursor"].as_str().unwrap().to_owned();
    let rest = page(format!(r#"first: 1, after: "{cursor}""#)).await;
    assert_eq!(rest["edges"][0]["node"]["id"], ids[1].as_str());
    assert_eq!(rest["edges"][0]["node"]["status"], "ACTIVE");
    assert_eq!(rest["pageInfo"]["hasPreviousPage"], true);
    let cursor = rest["pageInfo"]["endCursor"].as_str().unwrap().to_owned();
    let last = page(format!(r#"first: 5, after: "{cursor}""#)).await;
    let names: Vec<&Value> = last["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|edge| &edge["node"]["name"])
        .collect();
    assert_eq!(names, [&json!("Third")]);
    assert_eq!(last["pageInfo"]["hasNextPage"], false);

    let planned = page("status: PLANNED".to_owned()).await;
    let planned: Vec<&Value> = planned["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|edge| &edge["node"]["id"])
        .collect();
    assert_eq!(planned, [&json!(ids[0]), &json!(ids[2])]);

    let bad_cursor = graphql(
        &state,
        Some(&viewer),
        r#"{ campaigns(after: "not-a-cursor") { edges { cursor } } }"#,
    )
    .await;
    assert_eq!(
        support::error_code(&bad_cursor),
        Some("VALIDATION"),
        "{bad_cursor}"
    );
}

const POLICY: &str = "{ id name version active retired lastReason
    settings { outcomeWeights { blocked alerted logged notDetected } ruleWeight halfLifeDays aggregation }
    versions { version reason settings { outcomeWeights { logged } aggregation } } }";

#[sqlx::test(migrations = "../migrations")]
async fn scoring_policies_show_the_active_one_and_every_version(pool: PgPool) {
    let state = state(&pool);
    let (_, admin) = signed_in(&state, &[Role::Admin]).await;
    let (_, viewer) = signed_in(&state, &[Role::Viewer]).await;

    let none = graphql(&state, Some(&viewer), "{ activeScoringPolicy { id } }").await;
    assert!(field(&none, "activeScoringPolicy").is_null());

    let mut ids = Vec::new();
    for name in ["Strict", "Lenient"] {
        let defined = mutate(
            &state,
            &admin,
            "defineScoringPolicy",
            &format!(
                r#"defineScoringPolicy(name: "{name}", settings: {{}}, reason: "agreed in review") {{ id }}"#
            ),
        )
        .await;
        ids.push(defined["id"].as_str().unwrap().to_owned());
    }
    let (strict, lenient) = (&ids[0], &ids[1]);
    mutate(
        &state,
        &admin,
        "changeScoringPolicy",
        &format!(
            r#"changeScoringPolicy(id: "{strict}", settings: {{ outcomeWeights: {{ logged: 30 }}, aggregation: MIN }},
                reason: "logging alone is worth less") {{ version }}"#
        ),
    )
    .await;
    state.projector.catch_up().await.unwrap();
    mutate(
        &state,
        &admin,
        "activateScoringPolicy",
        &format!(r#"activateScoringPolicy(id: "{strict}", reason: "first policy") {{ id }}"#),
    )
    .await;
    state.projector.catch_up().await.unwrap();
    let active = graphql(
        &state,
        Some(&viewer),
        &format!("{{ activeScoringPolicy {POLICY} }}"),
    )
    .await;
    let active = field(&active, "activeScoringPolicy");
    assert_eq!(active["id"], strict.as_str());
    assert_eq!(
        (&active["version"], &active["lastReason"]),
        (&json!(2), &json!("first policy"))
    );
    assert_eq!(
        active["settings"],
        json!({ "outcomeWeights": { "blocked": 100, "alerted": 80, "logged": 30, "notDetected": 0 },
                "ruleWeight": 10, "halfLifeDays": 180, "aggregation": "MIN" })
    );
    assert_eq!(
        active["versions"],
        json!([
            { "version": 1, "reason": "agreed in review",
              "settings": { "outcomeWeights": { "logged": 40 }, "aggregation": "AVERAGE" } },
            { "version": 2, "reason": "logging alone is worth less",
              "settings": { "outcomeWeights": { "logged": 30 }, "aggregation": "MIN" } },
        ])
    );

    // Activating another deactivates the first.
    mutate(
        &state,
        &admin,
        "activateScoringPolicy",
        &format!(r#"activateScoringPolicy(id: "{lenient}", reason: "a softer start") {{ id }}"#),
    )
    .await;
    state.projector.catch_up().await.unwrap();
    let read = graphql(
        &state,
        Some(&viewer),
        &format!(
            r#"{{ activeScoringPolicy {{ id }} scoringPolicies {{ name active version }}
                 scoringPolicy(id: "{strict}") {{ active versions {{ version }} }} }}"#
        ),
    )
    .await;
    assert_eq!(field(&read, "activeScoringPolicy")["id"], lenient.as_str());
    assert_eq!(
        read["data"]["scoringPolicies"],
        json!([
            { "name": "Lenient", "active": true, "version": 1 },
            { "name": "Strict", "active": false, "version": 2 },
        ]),
        "by name"
    );
    assert_eq!(
        read["data"]["scoringPolicy"],
        json!({ "active": false, "versions": [{ "version": 1 }, { "version": 2 }] })
    );
}

/// The next item of a subscription, which must come within `seconds`.
async fn next_item(
    stream: &mut (impl Stream<Item = async_graphql::Response> + Unpin),
    seconds: u64,
) -> Value {
    let response = tokio::time::timeout(Duration::from_secs(seconds), stream.next())
        .await
        .expect("an item in time")
        .expect("the stream goes on");
    assert!(response.errors.is_empty(), "{:?}", response.errors);
    response.data.into_json().unwrap()
}

async fn authentication(state: &AppState, token: &str) -> Authentication {
    state
        .identity
        .authenticator()
        .authenticate_token(token)
        .await
}

#[sqlx::test(migrations = "../migrations")]
async fn test_case_changes_are_streamed_to_subscribers(pool: PgPool) {
    let state = state(&pool);
    let team = Team::sign_in(&state).await;
    let id = plan_test_case(&state, &team.red_lead, "LSASS dump", false).await;
    state.projector.catch_up().await.unwrap();

    let schema = api::graphql::schema(&state);
    let subscription =
        format!(r#"subscription {{ testCaseChanged(id: "{id}") {{ id state redAssignee }} }}"#);
    let mut stream = schema.execute_stream(
        Request::new(&subscription).data(authentication(&state, &team.red_lead).await),
    );
    let first = next_item(&mut stream, 5).await;
    assert_eq!(
        first["testCaseChanged"],
        json!({ "id": id, "state": "planned", "redAssignee": null })
    );

    mutate(
        &state,
        &team.red_lead,
        "assignTestCase",
        &format!(
            r#"assignTestCase(id: "{id}", redAssignee: "{}") {{ id }}"#,
            team.red_tech_id
        ),
    )
    .await;
    state.projector.catch_up().await.unwrap();
    let second = next_item(&mut stream, 5).await;
    assert_eq!(
        second["testCaseChanged"],
        json!({ "id": id, "state": "assigned", "redAssignee": team.red_tech_id })
    );

    // A test case that does not exist (yet) is null, at once.
    let missing = format!(
        r#"subscription {{ testCaseChanged(id: "{}") {{ id }} }}"#,
        uuid::Uuid::new_v4()
    );
    let mut missing = schema
        .execute_stream(Request::new(missing).data(authentication(&state, &team.blue_tech).await));
    assert_eq!(
        next_item(&mut missing, 5).await,
        json!({ "testCaseChanged": null })
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn blue_subscribers_see_blind_tests_redacted_and_are_not_told_of_hidden_changes(
    pool: PgPool,
) {
    let state = state(&pool);
    let team = Team::sign_in(&state).await;
    let id = plan_test_case(&state, &team.red_lead, "LSASS dump", true).await;
    state.projector.catch_up().await.unwrap();

    let schema = api::graphql::schema(&state);
    let subscription = format!(
        r#"subscription {{ testCaseChanged(id: "{id}") {{ state objective redacted lastChangedAt }} }}"#
    );
    let mut blue = schema.execute_stream(
        Request::new(&subscription).data(authentication(&state, &team.blue_tech).await),
    );
    let mut red = schema.execute_stream(
        Request::new(&subscription).data(authentication(&state, &team.red_lead).await),
    );
    let first = next_item(&mut blue, 5).await;
    assert_eq!(first["testCaseChanged"]["objective"], Value::Null);
    assert_eq!(first["testCaseChanged"]["redacted"], true);
    assert_eq!(
        next_item(&mut red, 5).await["testCaseChanged"]["objective"],
        "blocked by EDR"
    );

    // Red rewrites the objective: red's subscriber hears of it, blue's does not.
    mutate(
        &state,
        &team.red_lead,
        "editTestCasePlan",
        &format!(
            r#"editTestCasePlan(id: "{id}", plan: {{ title: "LSASS dump", objective: "alerted by the SIEM",
                technique: "T1003.001", procedure: {{ kind: MANUAL }}, steps: "rundll32 comsvcs.dll MiniDump",
                targets: ["ws-042"], blind: true }}) {{ id }}"#
        ),
    )
    .await;
    state.projector.catch_up().await.unwrap();
    assert_eq!(
        next_item(&mut red, 5).await["testCaseChanged"]["objective"],
        "alerted by the SIEM"
    );
    assert!(
        tokio::time::timeout(Duration::from_millis(2_500), blue.next())
            .await
            .is_err(),
        "blue's view did not change, so blue is sent nothing"
    );

    // Assigning changes the state, which blue sees.
    mutate(
        &state,
        &team.red_lead,
        "assignTestCase",
        &format!(
            r#"assignTestCase(id: "{id}", redAssignee: "{}") {{ id }}"#,
            team.red_tech_id
        ),
    )
    .await;
    state.projector.catch_up().await.unwrap();
    let assigned = next_item(&mut blue, 5).await;
    assert_eq!(
        (
            &assigned["testCaseChanged"]["state"],
            &assigned["testCaseChanged"]["objective"]
        ),
        (&json!("assigned"), &Value::Null)
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn campaign_changes_are_streamed_to_subscribers(pool: PgPool) {
    let state = state(&pool);
    let team = Team::sign_in(&state).await;
    let campaign = create_campaign(&state, &team.blue_lead, "Credential access", "").await;
    let member = plan_test_case(&state, &team.red_lead, "LSASS dump", false).await;
    state.projector.catch_up().await.unwrap();

    let schema = api::graphql::schema(&state);
    let subscription = format!(
        r#"subscription {{ campaignChanged(id: "{campaign}") {{ status testCaseIds progress {{ total }} }} }}"#
    );
    let mut stream = schema.execute_stream(
        Request::new(&subscription).data(authentication(&state, &team.blue_tech).await),
    );
    assert_eq!(
        next_item(&mut stream, 5).await["campaignChanged"],
        json!({ "status": "PLANNED", "testCaseIds": [], "progress": { "total": 0 } })
    );

    mutate(
        &state,
        &team.blue_lead,
        "addTestCaseToCampaign",
        &format!(r#"addTestCaseToCampaign(id: "{campaign}", testCaseId: "{member}") {{ id }}"#),
    )
    .await;
    state.projector.catch_up().await.unwrap();
    assert_eq!(
        next_item(&mut stream, 5).await["campaignChanged"],
        json!({ "status": "PLANNED", "testCaseIds": [member], "progress": { "total": 1 } })
    );

    // A member's change reaches the campaign's subscribers through its progress.
    let progress_subscription = format!(
        r#"subscription {{ campaignChanged(id: "{campaign}") {{ progress {{ byState {{ state count }} }} }} }}"#
    );
    let mut progress = schema.execute_stream(
        Request::new(progress_subscription).data(authentication(&state, &team.blue_tech).await),
    );
    next_item(&mut progress, 5).await;
    mutate(
        &state,
        &team.red_lead,
        "assignTestCase",
        &format!(
            r#"assignTestCase(id: "{member}", redAssignee: "{}") {{ id }}"#,
            team.red_tech_id
        ),
    )
    .await;
    state.projector.catch_up().await.unwrap();
    let changed = next_item(&mut progress, 5).await;
    assert_eq!(
        count_of(
            &changed["campaignChanged"]["progress"]["byState"],
            "state",
            &json!("assigned")
        ),
        1
    );
}
