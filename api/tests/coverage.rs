//! Coverage through GraphQL on the real ICS ATT&CK bundle: a test case approved through the workflow shows up
//! in the heatmap, explains itself, appears in the diff and the trend, is re-scored under another policy, and
//! a snapshot is taken; settings not saved yet are previewed exactly as they score once saved.
#![allow(clippy::unwrap_used)]

mod support;

use domain::role::Role;
use domain::test_case::TechniqueId;
use importers::catalog;
use importers::record::{CatalogRecord, Parsed, RecordKind, RecordStatus};
use importers::source::Source;
use serde_json::Value;
use sqlx::PgPool;
use support::{approved, error_code, graphql, import_ics, signed_in, state};

fn data(response: &Value) -> &Value {
    assert!(response.get("errors").is_none(), "{response}");
    &response["data"]
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

/// How many events the log holds.
async fn events_logged(pool: &PgPool) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(pool)
        .await
        .unwrap()
}

#[sqlx::test(migrations = "../migrations")]
async fn a_preview_equals_the_rescore_once_saved_and_logs_nothing(pool: PgPool) {
    let state = state(&pool);
    let (_, viewer) = signed_in(&state, &[Role::Viewer]).await;
    let (_, admin) = signed_in(&state, &[Role::Admin]).await;
    import_ics(&state).await;
    approved(&state, "T0817", "ALERTED").await;
    approved(&state, "T0819", "LOGGED").await;
    state.projector.catch_up().await.unwrap();
    // No half-life: the two scorings, a moment apart, decay nothing and so must agree to the point.
    let settings = "{ outcomeWeights: { blocked: 100, alerted: 50, logged: 10, notDetected: 0 },
        ruleWeight: 0, telemetryWeight: 5, prevalenceWeight: 30, halfLifeDays: null, aggregation: MIN }";
    let logged_before = events_logged(&pool).await;

    let preview = graphql(
        &state,
        Some(&viewer),
        &format!(
            "{{ previewScoringPolicy(domain: ICS, settings: {settings}) {{
                 inForce {{ policyId }} rescoredWith {{ policyId version }} cells {{ techniqueId score rescored }} }} }}"
        ),
    )
    .await;
    let preview = data(&preview)["previewScoringPolicy"].clone();
    assert_eq!(
        events_logged(&pool).await,
        logged_before,
        "a preview appends nothing to the log"
    );
    assert_eq!(
        preview["rescoredWith"],
        serde_json::json!({ "policyId": null, "version": null })
    );
    let alerted = preview["cells"]
        .as_array()
        .unwrap()
        .iter()
        .find(|cell| cell["techniqueId"] == "T0817")
        .unwrap();
    assert_eq!(alerted["score"], 80, "the defaults are in force");
    assert_ne!(
        alerted["rescored"], alerted["score"],
        "the previewed weights move the cell: {alerted}"
    );

    let defined = graphql(
        &state,
        Some(&admin),
        &format!(
            r#"mutation {{ defineScoringPolicy(name: "Previewed", reason: "as previewed", settings: {settings}) {{ id }} }}"#
        ),
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
        &format!(
            r#"{{ rescore(domain: ICS, policyId: "{policy}") {{ cells {{ techniqueId score rescored }} }} }}"#
        ),
    )
    .await;
    assert_eq!(
        data(&rescored)["rescore"]["cells"],
        preview["cells"],
        "the saved policy scores every cell as its preview did"
    );

    // Settings the policy mutations refuse are refused here alike, before anything is read.
    let refused = graphql(
        &state,
        Some(&viewer),
        "{ previewScoringPolicy(domain: ICS, settings: { outcomeWeights: { blocked: 40, alerted: 80 } }) { at } }",
    )
    .await;
    assert_eq!(error_code(&refused), Some("VALIDATION"), "{refused}");
    assert_eq!(
        refused["errors"][0]["extensions"]["reason"],
        "INVALID_SETTINGS"
    );
    let out_of_range = graphql(
        &state,
        Some(&viewer),
        "{ previewScoringPolicy(settings: { ruleWeight: 300 }) { at } }",
    )
    .await;
    assert_eq!(
        error_code(&out_of_range),
        Some("VALIDATION"),
        "{out_of_range}"
    );
    let signed_out = graphql(
        &state,
        None,
        "{ previewScoringPolicy(settings: {}) { at } }",
    )
    .await;
    assert_eq!(error_code(&signed_out), Some("UNAUTHENTICATED"));
}
