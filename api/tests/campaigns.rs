//! Campaigns and scoring policies through GraphQL: a campaign from creation to completion with its test
//! cases, a scoring policy from definition to activation, who may do it, refusal codes, and the switch of
//! the active policy.
#![allow(clippy::unwrap_used)]

mod support;

use api::state::AppState;
use domain::role::Role;
use serde_json::Value;
use sqlx::PgPool;
use support::{error_code, graphql, signed_in, state};
use uuid::Uuid;

const CAMPAIGN: &str = "{ id version replayed status testCaseCount }";
const POLICY: &str = "{ id version replayed active retired }";

fn field<'a>(response: &'a Value, name: &str) -> &'a Value {
    assert!(response.get("errors").is_none(), "{response}");
    &response["data"][name]
}

fn reason(response: &Value) -> Option<&str> {
    response["errors"][0]["extensions"]["reason"].as_str()
}

fn create_campaign(recurrence: &str) -> String {
    format!(
        r#"mutation {{ createCampaign(input: {{ name: "Credential access, Q1",
            description: "LSASS and SAM dumping", scope: {{ techniques: ["t1003.001", "T1003.002"], threatActor: "g0016" }},
            plannedStart: "2026-01-05T08:00:00Z", plannedEnd: "2026-01-30T17:00:00Z"{recurrence} }}) {CAMPAIGN} }}"#
    )
}

async fn plan_test_case(state: &AppState, token: &str, title: &str) -> String {
    let planned = graphql(
        state,
        Some(token),
        &format!(
            r#"mutation {{ planTestCase(plan: {{ title: "{title}", objective: "blocked by EDR",
                technique: "T1003.001", procedure: {{ kind: MANUAL }}, steps: "dump it" }}) {{ id }} }}"#
        ),
    )
    .await;
    field(&planned, "planTestCase")["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Runs `mutation` on campaign `id` (`{id}` in the text) and returns the response.
async fn on_campaign(state: &AppState, token: &str, id: &str, mutation: &str) -> Value {
    let text = mutation.replace("{id}", id);
    graphql(
        state,
        Some(token),
        &format!("mutation {{ {text} {CAMPAIGN} }}"),
    )
    .await
}

#[sqlx::test(migrations = "../migrations")]
async fn a_lead_creates_fills_runs_and_completes_a_campaign(pool: PgPool) {
    let state = state(&pool);
    let (_, red_lead) = signed_in(&state, &[Role::RedLead]).await;
    let (_, blue_lead) = signed_in(&state, &[Role::BlueLead]).await;

    let created = graphql(&state, Some(&red_lead), &create_campaign("")).await;
    let created = field(&created, "createCampaign");
    assert_eq!(
        (
            created["status"].as_str(),
            created["testCaseCount"].as_i64()
        ),
        (Some("planned"), Some(0))
    );
    assert_eq!(created["version"], "1");
    let id = created["id"].as_str().unwrap().to_owned();

    let first = plan_test_case(&state, &red_lead, "LSASS dump through comsvcs.dll").await;
    let second = plan_test_case(&state, &red_lead, "SAM hive export with reg.exe").await;
    for (test_case, count) in [(&first, 1), (&second, 2)] {
        let added = on_campaign(
            &state,
            &red_lead,
            &id,
            &format!(r#"addTestCaseToCampaign(id: "{{id}}", testCaseId: "{test_case}")"#),
        )
        .await;
        assert_eq!(
            field(&added, "addTestCaseToCampaign")["testCaseCount"],
            count
        );
    }
    let again = on_campaign(
        &state,
        &red_lead,
        &id,
        &format!(r#"addTestCaseToCampaign(id: "{{id}}", testCaseId: "{first}")"#),
    )
    .await;
    assert_eq!(error_code(&again), Some("CONFLICT"), "{again}");
    assert_eq!(reason(&again), Some("ALREADY_MEMBER"));

    // Either lead may change the campaign: membership, details, the schedule and back.
    let removed = on_campaign(
        &state,
        &blue_lead,
        &id,
        &format!(r#"removeTestCaseFromCampaign(id: "{{id}}", testCaseId: "{second}")"#),
    )
    .await;
    assert_eq!(
        field(&removed, "removeTestCaseFromCampaign")["testCaseCount"],
        1
    );
    let edited = on_campaign(
        &state,
        &blue_lead,
        &id,
        r#"editCampaign(id: "{id}", input: { name: "Credential access, Q1 (extended)",
            scope: { techniques: ["T1003"] }, plannedStart: "2026-01-05T08:00:00Z",
            plannedEnd: "2026-02-27T17:00:00Z" })"#,
    )
    .await;
    assert_eq!(field(&edited, "editCampaign")["version"], "5");
    let recurring = on_campaign(
        &state,
        &red_lead,
        &id,
        r#"setCampaignRecurrence(id: "{id}", recurrence: { cron: "0 9 * * MON", timezone: "Europe/Berlin" })"#,
    )
    .await;
    assert_eq!(field(&recurring, "setCampaignRecurrence")["version"], "6");
    let cleared = on_campaign(
        &state,
        &red_lead,
        &id,
        r#"setCampaignRecurrence(id: "{id}", recurrence: null)"#,
    )
    .await;
    assert_eq!(field(&cleared, "setCampaignRecurrence")["version"], "7");

    let activated = on_campaign(&state, &red_lead, &id, r#"activateCampaign(id: "{id}")"#).await;
    assert_eq!(field(&activated, "activateCampaign")["status"], "active");
    let completed = on_campaign(&state, &red_lead, &id, r#"completeCampaign(id: "{id}")"#).await;
    let completed = field(&completed, "completeCampaign");
    assert_eq!(
        (
            completed["status"].as_str(),
            completed["testCaseCount"].as_i64()
        ),
        (Some("completed"), Some(1))
    );

    // A completed campaign is history.
    for mutation in [
        r#"activateCampaign(id: "{id}")"#,
        r#"completeCampaign(id: "{id}")"#,
        r#"cancelCampaign(id: "{id}", reason: "too late")"#,
    ] {
        let refused = on_campaign(&state, &red_lead, &id, mutation).await;
        assert_eq!(error_code(&refused), Some("CONFLICT"), "{refused}");
        assert_eq!(reason(&refused), Some("WRONG_STATUS"), "{mutation}");
    }

    let events: i64 =
        sqlx::query_scalar("SELECT count(*) FROM events WHERE aggregate_type = 'Campaign'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(events, 9);
}

#[sqlx::test(migrations = "../migrations")]
async fn campaign_refusals_carry_codes_and_reasons(pool: PgPool) {
    let state = state(&pool);
    let (_, red_lead) = signed_in(&state, &[Role::RedLead]).await;
    let (_, blue_tech) = signed_in(&state, &[Role::BlueTech]).await;

    // Technicians work on test cases but do not manage campaigns: the role rules refuse them before the
    // campaign is asked (the aggregate would answer ROLE_REQUIRED too).
    let by_technician = graphql(&state, Some(&blue_tech), &create_campaign("")).await;
    assert_eq!(
        error_code(&by_technician),
        Some("FORBIDDEN"),
        "{by_technician}"
    );
    assert_eq!(
        by_technician["errors"][0]["message"],
        "your roles do not allow this"
    );

    let invalid_cron = graphql(
        &state,
        Some(&red_lead),
        &create_campaign(r#", recurrence: { cron: "0 9 * *", timezone: "Europe/Berlin" }"#),
    )
    .await;
    assert_eq!(
        error_code(&invalid_cron),
        Some("VALIDATION"),
        "{invalid_cron}"
    );
    assert_eq!(reason(&invalid_cron), Some("INVALID_RECURRENCE"));
    let invalid_zone = graphql(
        &state,
        Some(&red_lead),
        &create_campaign(r#", recurrence: { cron: "0 9 * * MON", timezone: "Mars/Olympus" }"#),
    )
    .await;
    assert_eq!(reason(&invalid_zone), Some("INVALID_RECURRENCE"));
    let invalid_scope = graphql(
        &state,
        Some(&red_lead),
        &create_campaign("").replace(r#"threatActor: "g0016""#, r#"threatActor: "APT28""#),
    )
    .await;
    assert_eq!(error_code(&invalid_scope), Some("VALIDATION"));
    assert_eq!(reason(&invalid_scope), Some("INVALID_SCOPE"));
    let backwards = graphql(
        &state,
        Some(&red_lead),
        &create_campaign("").replace("2026-01-30T17:00:00Z", "2025-12-24T17:00:00Z"),
    )
    .await;
    assert_eq!(reason(&backwards), Some("INVALID_DATES"));

    let created = graphql(
        &state,
        Some(&red_lead),
        &create_campaign(r#", recurrence: { cron: "0 9 1 * *", timezone: "UTC" }"#),
    )
    .await;
    let id = field(&created, "createCampaign")["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let by_technician =
        on_campaign(&state, &blue_tech, &id, r#"activateCampaign(id: "{id}")"#).await;
    assert_eq!(error_code(&by_technician), Some("FORBIDDEN"));

    let bad_schedule = on_campaign(
        &state,
        &red_lead,
        &id,
        r#"setCampaignRecurrence(id: "{id}", recurrence: { cron: "0 9 30 2 *", timezone: "UTC" })"#,
    )
    .await;
    assert_eq!(error_code(&bad_schedule), Some("VALIDATION"));
    assert_eq!(
        reason(&bad_schedule),
        Some("INVALID_RECURRENCE"),
        "February 30th never comes"
    );

    let too_early = on_campaign(&state, &red_lead, &id, r#"completeCampaign(id: "{id}")"#).await;
    assert_eq!(error_code(&too_early), Some("CONFLICT"));
    assert_eq!(reason(&too_early), Some("WRONG_STATUS"));
    let not_a_member = on_campaign(
        &state,
        &red_lead,
        &id,
        &format!(
            r#"removeTestCaseFromCampaign(id: "{{id}}", testCaseId: "{}")"#,
            Uuid::now_v7()
        ),
    )
    .await;
    assert_eq!(reason(&not_a_member), Some("NOT_MEMBER"));

    let cancelled = on_campaign(
        &state,
        &red_lead,
        &id,
        r#"cancelCampaign(id: "{id}", reason: "the EDR rollout slipped")"#,
    )
    .await;
    assert_eq!(field(&cancelled, "cancelCampaign")["status"], "cancelled");
    let edit_after = on_campaign(
        &state,
        &red_lead,
        &id,
        r#"editCampaign(id: "{id}", input: { name: "Renamed", scope: { techniques: ["T1003"] },
            plannedStart: "2026-01-05T08:00:00Z", plannedEnd: "2026-01-30T17:00:00Z" })"#,
    )
    .await;
    assert_eq!(error_code(&edit_after), Some("CONFLICT"));
    assert_eq!(reason(&edit_after), Some("WRONG_STATUS"));

    let unknown = on_campaign(
        &state,
        &red_lead,
        &Uuid::now_v7().to_string(),
        r#"activateCampaign(id: "{id}")"#,
    )
    .await;
    assert_eq!(error_code(&unknown), Some("NOT_FOUND"));
}

fn define_policy(name: &str, settings: &str) -> String {
    format!(
        r#"mutation {{ defineScoringPolicy(name: "{name}", settings: {settings},
            reason: "agreed in the purple-team review") {POLICY} }}"#
    )
}

async fn defined_policy(state: &AppState, admin: &str, name: &str) -> String {
    let defined = graphql(state, Some(admin), &define_policy(name, "{}")).await;
    field(&defined, "defineScoringPolicy")["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn on_policy(state: &AppState, token: &str, id: &str, mutation: &str) -> Value {
    let text = mutation.replace("{id}", id);
    graphql(
        state,
        Some(token),
        &format!("mutation {{ {text} {POLICY} }}"),
    )
    .await
}

#[sqlx::test(migrations = "../migrations")]
async fn an_admin_defines_changes_and_activates_a_scoring_policy(pool: PgPool) {
    let state = state(&pool);
    let (_, admin) = signed_in(&state, &[Role::Admin]).await;
    let (_, red_lead) = signed_in(&state, &[Role::RedLead]).await;

    let defined = graphql(&state, Some(&admin), &define_policy("Default", "{}")).await;
    let defined = field(&defined, "defineScoringPolicy");
    assert_eq!(
        (
            defined["version"].as_i64(),
            defined["active"].as_bool(),
            defined["retired"].as_bool()
        ),
        (Some(1), Some(false), Some(false))
    );
    let id = defined["id"].as_str().unwrap().to_owned();

    let change = r#"changeScoringPolicy(id: "{id}", settings: { outcomeWeights: { logged: 30 },
        ruleWeight: 20, halfLifeDays: null, aggregation: MIN }, reason: "logging alone is worth less")"#;
    let changed = on_policy(&state, &admin, &id, change).await;
    assert_eq!(field(&changed, "changeScoringPolicy")["version"], 2);
    let unchanged = on_policy(&state, &admin, &id, change).await;
    assert_eq!(
        field(&unchanged, "changeScoringPolicy")["version"],
        2,
        "the current settings again are no change"
    );
    let renamed = on_policy(
        &state,
        &admin,
        &id,
        r#"renameScoringPolicy(id: "{id}", name: "Strict", reason: "clearer")"#,
    )
    .await;
    assert_eq!(field(&renamed, "renameScoringPolicy")["version"], 2);

    let activated = on_policy(
        &state,
        &admin,
        &id,
        r#"activateScoringPolicy(id: "{id}", reason: "go live")"#,
    )
    .await;
    let activated = field(&activated, "activateScoringPolicy");
    assert_eq!(
        (activated["active"].as_bool(), activated["version"].as_i64()),
        (Some(true), Some(2))
    );
    let retire_active = on_policy(
        &state,
        &admin,
        &id,
        r#"retireScoringPolicy(id: "{id}", reason: "replaced")"#,
    )
    .await;
    assert_eq!(error_code(&retire_active), Some("CONFLICT"));
    assert_eq!(reason(&retire_active), Some("POLICY_ACTIVE"));

    // Only admins change policies.
    let by_lead = graphql(&state, Some(&red_lead), &define_policy("Mine", "{}")).await;
    assert_eq!(error_code(&by_lead), Some("FORBIDDEN"), "{by_lead}");
    let by_lead = on_policy(
        &state,
        &red_lead,
        &id,
        r#"deactivateScoringPolicy(id: "{id}", reason: "I prefer mine")"#,
    )
    .await;
    assert_eq!(error_code(&by_lead), Some("FORBIDDEN"));

    for settings in [
        "{ outcomeWeights: { alerted: 100, blocked: 90 } }",
        "{ outcomeWeights: { notDetected: 50 } }",
        "{ outcomeWeights: { blocked: 300 } }",
        "{ ruleWeight: -1 }",
        "{ halfLifeDays: 0 }",
    ] {
        let invalid = graphql(&state, Some(&admin), &define_policy("Odd", settings)).await;
        assert_eq!(error_code(&invalid), Some("VALIDATION"), "{invalid}");
        assert_eq!(reason(&invalid), Some("INVALID_SETTINGS"), "{settings}");
    }
    let no_reason = on_policy(
        &state,
        &admin,
        &id,
        r#"deactivateScoringPolicy(id: "{id}", reason: "  ")"#,
    )
    .await;
    assert_eq!(reason(&no_reason), Some("INVALID_REASON"));
    let unknown = on_policy(
        &state,
        &admin,
        &Uuid::now_v7().to_string(),
        r#"activateScoringPolicy(id: "{id}", reason: "go live")"#,
    )
    .await;
    assert_eq!(error_code(&unknown), Some("NOT_FOUND"));

    let deactivated = on_policy(
        &state,
        &admin,
        &id,
        r#"deactivateScoringPolicy(id: "{id}", reason: "back to no scoring")"#,
    )
    .await;
    assert_eq!(
        field(&deactivated, "deactivateScoringPolicy")["active"],
        false
    );
    let retired = on_policy(
        &state,
        &admin,
        &id,
        r#"retireScoringPolicy(id: "{id}", reason: "replaced")"#,
    )
    .await;
    assert_eq!(field(&retired, "retireScoringPolicy")["retired"], true);

    // Settings left out take the domain's defaults.
    state.projector.catch_up().await.unwrap();
    let stored = projections::scoring_policies::find(&pool, id.parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    let settings = stored.settings;
    assert_eq!(
        (
            settings.outcome_weights().blocked,
            settings.outcome_weights().logged,
            settings.rule_weight(),
            settings.telemetry_weight(),
            settings.half_life_days(),
            settings.aggregation(),
        ),
        (100, 30, 20, 10, None, domain::scoring::Aggregation::Min)
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn activating_a_policy_deactivates_the_one_that_was_active(pool: PgPool) {
    let state = state(&pool);
    let (_, admin) = signed_in(&state, &[Role::Admin]).await;
    let first = defined_policy(&state, &admin, "Coverage").await;
    let second = defined_policy(&state, &admin, "Strict").await;
    let third = defined_policy(&state, &admin, "Lenient").await;
    state.projector.catch_up().await.unwrap();

    let activate = r#"activateScoringPolicy(id: "{id}", reason: "quarterly switch")"#;
    let activated = on_policy(&state, &admin, &first, activate).await;
    assert_eq!(field(&activated, "activateScoringPolicy")["active"], true);
    // The read model has not seen the first activation yet; the second still deactivates the first.
    let activated = on_policy(&state, &admin, &second, activate).await;
    assert_eq!(field(&activated, "activateScoringPolicy")["active"], true);

    state.projector.catch_up().await.unwrap();
    let active = projections::scoring_policies::active(&pool)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(active.policy_id.to_string(), second);
    let policies = projections::scoring_policies::list(&pool).await.unwrap();
    let active_ones: Vec<String> = policies
        .iter()
        .filter(|policy| policy.active)
        .map(|policy| policy.policy_id.to_string())
        .collect();
    assert_eq!(active_ones, std::slice::from_ref(&second));
    let first_row = policies
        .iter()
        .find(|policy| policy.policy_id.to_string() == first)
        .unwrap();
    assert_eq!(first_row.last_reason, "quarterly switch");

    // Once the previous policy is inactive it may be retired; the third was never touched.
    let retired = on_policy(
        &state,
        &admin,
        &first,
        r#"retireScoringPolicy(id: "{id}", reason: "superseded")"#,
    )
    .await;
    assert_eq!(field(&retired, "retireScoringPolicy")["retired"], true);
    let third_events: i64 =
        sqlx::query_scalar("SELECT count(*) FROM events WHERE aggregate_id = $1")
            .bind(&third)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(
        third_events, 1,
        "an inactive policy gets no Deactivated event"
    );

    // Names are unique across policies, ignoring case.
    let taken = graphql(&state, Some(&admin), &define_policy("strict", "{}")).await;
    assert_eq!(error_code(&taken), Some("CONFLICT"), "{taken}");
    assert_eq!(reason(&taken), Some("NAME_TAKEN"));
    let rename_taken = on_policy(
        &state,
        &admin,
        &third,
        r#"renameScoringPolicy(id: "{id}", name: "COVERAGE", reason: "clearer")"#,
    )
    .await;
    assert_eq!(reason(&rename_taken), Some("NAME_TAKEN"));
}
