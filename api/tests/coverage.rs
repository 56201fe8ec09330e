//! Coverage through GraphQL on the real ICS ATT&CK bundle: a test case approved through the workflow shows up
//! in the heatmap, explains itself, appears in the diff and the trend, is re-scored under another policy, and
//! a snapshot is taken.
#![allow(clippy::unwrap_used)]

mod support;

use std::path::PathBuf;

use api::state::AppState;
use domain::role::Role;
use domain::test_case::TechniqueId;
use importers::catalog;
use importers::import::{self, Location};
use importers::record::{CatalogRecord, Parsed, RecordKind, RecordStatus};
use importers::source::Source;
use serde_json::Value;
use sqlx::PgPool;
use support::{error_code, graphql, signed_in, state};

fn data(response: &Value) -> &Value {
    assert!(response.get("errors").is_none(), "{response}");
    &response["data"]
}

async fn import_ics(state: &AppState) {
    let bundle = std::env::var("AEGIS_CORPUS")
        .map_or_else(
            |_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus"),
            PathBuf::from,
        )
        .join("mitre-attack/ics-attack.json");
    let location = Location::Path(bundle);
    let run_id = catalog::begin_run(&state.pool, Source::Attack, &[location.as_text()], None)
        .await
        .unwrap();
    import::run(&state.pool, run_id, Source::Attack, &[location], &|_| {})
        .await
        .unwrap();
}

/// Plans a manual test case against `technique` and takes it through the workflow to approval with `outcome`.
async fn approved(state: &AppState, technique: &str, outcome: &str) -> String {
    let (red_tech_id, red_tech) = signed_in(state, &[Role::RedTech]).await;
    let (blue_tech_id, blue_tech) = signed_in(state, &[Role::BlueTech]).await;
    let (_, red_lead) = signed_in(state, &[Role::RedLead]).await;
    let (_, blue_lead) = signed_in(state, &[Role::BlueLead]).await;
    let planned = graphql(
        state,
        Some(&red_lead),
        &format!(
            r#"mutation {{ planTestCase(plan: {{ title: "drive-by", objective: "", technique: "{technique}",
                procedure: {{ kind: MANUAL }}, steps: "visit the watering hole", platforms: ["windows"] }}) {{ id }} }}"#
        ),
    )
    .await;
    let id = data(&planned)["planTestCase"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let steps = [
        (
            &red_lead,
            format!(r#"assignTestCase(id: "{id}", redAssignee: "{red_tech_id}")"#),
        ),
        (
            &blue_lead,
            format!(r#"assignTestCase(id: "{id}", blueAssignee: "{blue_tech_id}")"#),
        ),
        (&red_tech, format!(r#"startExecution(id: "{id}")"#)),
        (
            &red_tech,
            format!(
                r#"recordExecution(id: "{id}", execution: {{ command: "open the page", target: "hmi-01",
                    startedAt: "2026-11-20T09:59:00Z", stoppedAt: "2026-11-20T10:00:30Z" }})"#
            ),
        ),
        (&red_tech, format!(r#"completeExecution(id: "{id}")"#)),
        (&blue_tech, format!(r#"startReview(id: "{id}")"#)),
        (
            &blue_tech,
            format!(
                r#"recordDefenseOutcome(id: "{id}", outcome: {{ tool: "EDR", outcome: {outcome}, severity: HIGH,
                    detectedAt: "2026-11-20T10:00:00Z" }})"#
            ),
        ),
        (&blue_tech, format!(r#"submitForApproval(id: "{id}")"#)),
        (&red_lead, format!(r#"approveResult(id: "{id}")"#)),
    ];
    for (token, mutation) in steps {
        let response = graphql(
            state,
            Some(token),
            &format!("mutation {{ {mutation} {{ id }} }}"),
        )
        .await;
        data(&response);
    }
    state.projector.catch_up().await.unwrap();
    id
}

fn cell<'a>(heatmap: &'a Value, technique: &str) -> &'a Value {
    heatmap["columns"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|column| column["cells"].as_array().unwrap())
        .find(|cell| cell["techniqueId"] == technique)
        .unwrap()
}

#[sqlx::test(migrations = "../migrations")]
async fn an_approved_test_shows_up_explains_itself_and_moves_the_diff(pool: PgPool) {
    let state = state(&pool);
    let (_, viewer) = signed_in(&state, &[Role::Viewer]).await;
    let (_, admin) = signed_in(&state, &[Role::Admin]).await;
    import_ics(&state).await;
    let before: String = sqlx::query_scalar(
        "SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    let test_case = approved(&state, "T0817", "ALERTED").await;

    let heatmap = graphql(
        &state,
        Some(&viewer),
        "{ heatmap(domain: ICS) { domain policy { policyId } scoredTechniques techniques
             columns { tactic shortname cells { techniqueId name score best stale procedures { testCaseId outcome } } } } }",
    )
    .await;
    let heatmap = &data(&heatmap)["heatmap"];
    assert_eq!(heatmap["domain"], "ics-attack");
    assert_eq!(
        heatmap["policy"]["policyId"],
        Value::Null,
        "no policy active: defaults"
    );
    assert_eq!(heatmap["columns"].as_array().unwrap().len(), 12);
    assert_eq!(heatmap["scoredTechniques"], 1);
    let drive_by = cell(heatmap, "T0817");
    assert_eq!(drive_by["best"], "ALERTED");
    assert_eq!(
        drive_by["score"], 80,
        "Alerted is worth 80 under the default weights"
    );
    assert_eq!(drive_by["procedures"][0]["testCaseId"], test_case);

    let explained = graphql(
        &state,
        Some(&viewer),
        r#"{ explainCoverage(techniqueId: "t0817", domain: ICS) { cell { score }
             terms { score outcomePoints outcomes { outcome weight } }
             validations { testCaseId outcome counts globalPosition } } }"#,
    )
    .await;
    let explained = &data(&explained)["explainCoverage"];
    assert_eq!(explained["terms"]["score"], explained["cell"]["score"]);
    assert_eq!(explained["terms"]["outcomes"][0]["weight"], 80);
    assert_eq!(explained["validations"][0]["testCaseId"], test_case);
    assert_eq!(explained["validations"][0]["counts"], true);

    let diff = graphql(
        &state,
        Some(&viewer),
        &format!(r#"{{ coverageDiff(domain: ICS, from: "{before}") {{ techniqueId change before after causes {{ testCaseId }} }} }}"#),
    )
    .await;
    let diff = data(&diff)["coverageDiff"].as_array().unwrap().clone();
    assert_eq!(diff.len(), 1, "{diff:?}");
    assert_eq!(diff[0]["techniqueId"], "T0817");
    assert_eq!(diff[0]["change"], "GAINED");
    assert_eq!(diff[0]["causes"][0]["testCaseId"], test_case);

    let past = graphql(
        &state,
        Some(&viewer),
        &format!(r#"{{ heatmap(domain: ICS, asOf: "{before}") {{ scoredTechniques }} }}"#),
    )
    .await;
    assert_eq!(
        data(&past)["heatmap"]["scoredTechniques"],
        0,
        "nothing was validated then"
    );

    // Another policy, side by side: Alerted worth 50.
    let defined = graphql(
        &state,
        Some(&admin),
        r#"mutation { defineScoringPolicy(name: "Strict", reason: "what if", settings: {
             outcomeWeights: { blocked: 100, alerted: 50, logged: 20, notDetected: 0 }, ruleWeight: 0,
             telemetryWeight: 0, prevalenceWeight: 0, aggregation: AVERAGE }) { id } }"#,
    )
    .await;
    let policy = data(&defined)["defineScoringPolicy"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    state.projector.catch_up().await.unwrap();
    let rescored = graphql(
        &state,
        Some(&viewer),
        &format!(r#"{{ rescore(domain: ICS, policyId: "{policy}") {{ rescoredWith {{ policyId version }} cells {{ techniqueId score rescored }} }} }}"#),
    )
    .await;
    let rescored = &data(&rescored)["rescore"];
    let row = rescored["cells"]
        .as_array()
        .unwrap()
        .iter()
        .find(|cell| cell["techniqueId"] == "T0817")
        .unwrap();
    assert_eq!(
        (row["score"].clone(), row["rescored"].clone()),
        (80.into(), 50.into())
    );

    let trend = graphql(
        &state,
        Some(&viewer),
        &format!(r#"{{ coverageTrend(domain: ICS, from: "{before}", intervalDays: 1) {{ at scoredTechniques averageScore }} }}"#),
    )
    .await;
    let trend = data(&trend)["coverageTrend"].as_array().unwrap().clone();
    assert_eq!(trend.len(), 1);
    assert_eq!(trend[0]["scoredTechniques"], 0);

    // The groups using T0817 have it covered (80 ≥ 70); a control mapped to it too.
    let technique = graphql(
        &state,
        Some(&viewer),
        r#"{ technique(id: "T0817") { threatActors { id } } }"#,
    )
    .await;
    let group = data(&technique)["technique"]["threatActors"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let gaps = graphql(
        &state,
        Some(&viewer),
        &format!(r#"{{ threatActorGaps(domain: ICS, groupId: "{group}") {{ groupId gaps {{ techniques covered untested cells {{ techniqueId level }} }} }} }}"#),
    )
    .await;
    let gaps = &data(&gaps)["threatActorGaps"][0];
    assert_eq!(gaps["groupId"], group.as_str());
    assert_eq!(gaps["gaps"]["covered"], 1);
    assert!(gaps["gaps"]["untested"].as_i64().unwrap() > 0);
    let mapping = CatalogRecord {
        kind: RecordKind::ControlMapping,
        scope: "test-framework".into(),
        id: "AC-2".into(),
        name: "Account management".into(),
        status: RecordStatus::Active,
        techniques: vec![
            TechniqueId::parse("T0817").unwrap(),
            TechniqueId::parse("T0819").unwrap(),
        ],
        details: serde_json::json!({}),
    };
    let run_id = catalog::begin_run(&state.pool, Source::Ctid, &["fixture".into()], None)
        .await
        .unwrap();
    let parsed = Parsed {
        records: vec![mapping],
        ..Parsed::default()
    };
    catalog::complete_run(&state.pool, run_id, Source::Ctid, &[], parsed, Vec::new())
        .await
        .unwrap();
    let controls = graphql(
        &state,
        Some(&viewer),
        r#"{ complianceCoverage(framework: "test-framework", domain: ICS) { controlId gaps { techniques covered untested averageScore } } }"#,
    )
    .await;
    assert_eq!(
        data(&controls)["complianceCoverage"],
        serde_json::json!([{ "controlId": "AC-2", "gaps": { "techniques": 2, "covered": 1, "untested": 1, "averageScore": 80 } }])
    );

    let refused = graphql(&state, Some(&viewer), "mutation { takeCoverageSnapshot }").await;
    assert_eq!(error_code(&refused), Some("FORBIDDEN"));
    let taken = graphql(&state, Some(&admin), "mutation { takeCoverageSnapshot }").await;
    let snapshot = data(&taken)["takeCoverageSnapshot"].clone();
    state.projector.catch_up().await.unwrap();
    let snapshots = graphql(&state, Some(&viewer), "{ coverageSnapshots { id kind } }").await;
    assert_eq!(
        data(&snapshots)["coverageSnapshots"],
        serde_json::json!([{ "id": snapshot, "kind": "on_demand" }])
    );
}
