//! The reference catalogs through GraphQL, on the real ICS ATT&CK bundle imported the way `aegis import`
//! does it: tactics in matrix order, a technique with what refers to it, paging, as-of reads of an older
//! catalog version, and the unknown-technique flags on test cases and rules.
#![allow(clippy::unwrap_used)]

mod support;

use std::sync::{Arc, Mutex};

use api::state::AppState;
use domain::role::Role;
use domain::test_case::TechniqueId;
use importers::catalog;
use importers::import::{self, Location};
use importers::record::{CatalogRecord, Parsed, RecordKind, RecordStatus};
use importers::source::Source;
use serde_json::Value;
use sqlx::PgPool;
use support::{corpus, graphql, serve_file, signed_in, state};

async fn import_ics(state: &AppState) {
    let location = Location::Path(corpus("mitre-attack/ics-attack.json"));
    let run_id = catalog::begin_run(&state.pool, Source::Attack, &[location.as_text()], None)
        .await
        .unwrap();
    let summary = import::run(&state.pool, run_id, Source::Attack, &[location], &|_| {})
        .await
        .unwrap();
    assert!(summary.succeeded(), "{summary:?}");
}

/// Writes `records` as one import of `source`, as a parser would have produced them.
async fn import_records(state: &AppState, source: Source, records: Vec<CatalogRecord>) {
    let run_id = catalog::begin_run(&state.pool, source, &["fixture".into()], None)
        .await
        .unwrap();
    let parsed = Parsed {
        records,
        ..Parsed::default()
    };
    catalog::complete_run(&state.pool, run_id, source, &[], parsed, Vec::new())
        .await
        .unwrap();
}

fn data(response: &Value) -> &Value {
    assert!(response.get("errors").is_none(), "{response}");
    &response["data"]
}

#[sqlx::test(migrations = "../migrations")]
async fn tactics_techniques_and_threat_actors_read_from_the_imported_bundle(pool: PgPool) {
    let state = state(&pool);
    let (_, token) = signed_in(&state, &[Role::Viewer]).await;
    import_ics(&state).await;

    let tactics = graphql(
        &state,
        Some(&token),
        "{ tactics(domain: ICS) { id shortname order } }",
    )
    .await;
    let tactics = data(&tactics)["tactics"].as_array().unwrap().clone();
    assert_eq!(tactics.len(), 12, "ICS has twelve tactics");
    assert_eq!(
        tactics[0]["id"], "TA0108",
        "initial access comes first in the ICS matrix"
    );
    let orders: Vec<i64> = tactics
        .iter()
        .map(|tactic| tactic["order"].as_i64().unwrap())
        .collect();
    assert!(
        orders.windows(2).all(|pair| pair[0] < pair[1]),
        "{orders:?}"
    );

    let technique = graphql(
        &state,
        Some(&token),
        r#"{ technique(id: "t0817") { id name domain status tactics platforms isSubTechnique
             threatActors { id name } mitigations { id } } }"#,
    )
    .await;
    let technique = &data(&technique)["technique"];
    assert_eq!(technique["id"], "T0817");
    assert_eq!(technique["name"], "Drive-by Compromise");
    assert_eq!(technique["domain"], "ics-attack");
    assert_eq!(technique["status"], "ACTIVE");
    assert_eq!(technique["tactics"], serde_json::json!(["initial-access"]));
    assert!(!technique["threatActors"].as_array().unwrap().is_empty());
    assert!(!technique["mitigations"].as_array().unwrap().is_empty());

    // Two pages of ICS techniques join up to the whole list without repeats.
    let first = graphql(
        &state,
        Some(&token),
        "{ techniques(domain: ICS, first: 50) { edges { node { id } } pageInfo { hasNextPage endCursor } } }",
    )
    .await;
    let page = &data(&first)["techniques"];
    assert_eq!(page["pageInfo"]["hasNextPage"], true);
    let cursor = page["pageInfo"]["endCursor"].as_str().unwrap();
    let second = graphql(
        &state,
        Some(&token),
        &format!(
            "{{ techniques(domain: ICS, first: 100, after: {cursor:?}) {{ edges {{ node {{ id }} }} pageInfo {{ hasNextPage }} }} }}"
        ),
    )
    .await;
    let mut ids: Vec<String> = [&first["data"]["techniques"], &second["data"]["techniques"]]
        .iter()
        .flat_map(|page| page["edges"].as_array().unwrap().clone())
        .map(|edge| edge["node"]["id"].as_str().unwrap().to_owned())
        .collect();
    let total = ids.len();
    ids.dedup();
    assert_eq!(ids.len(), total);
    assert_eq!(
        total, 83,
        "ICS techniques that are neither revoked nor deprecated"
    );

    let actors = graphql(
        &state,
        Some(&token),
        r#"{ threatActors(domain: ICS, filter: { search: "sandworm" }) { edges { node { id name techniqueIds } } } }"#,
    )
    .await;
    let actors = data(&actors)["threatActors"]["edges"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(actors.len(), 1);
    assert_eq!(actors[0]["node"]["id"], "G0034");
    assert!(
        !actors[0]["node"]["techniqueIds"]
            .as_array()
            .unwrap()
            .is_empty()
    );

    let runs = graphql(
        &state,
        Some(&token),
        "{ importRuns { edges { node { source status recordsNew } } } }",
    )
    .await;
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM catalog_records")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(
        data(&runs)["importRuns"]["edges"][0]["node"],
        serde_json::json!({ "source": "attack", "status": "SUCCEEDED", "recordsNew": stored })
    );
}

fn technique_record(id: &str, name: &str) -> CatalogRecord {
    CatalogRecord {
        kind: RecordKind::Technique,
        scope: "enterprise-attack".into(),
        id: id.into(),
        name: name.into(),
        status: RecordStatus::Active,
        techniques: vec![TechniqueId::parse(id).unwrap()],
        details: serde_json::json!({}),
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn an_older_catalog_version_stays_readable_as_of_its_time(pool: PgPool) {
    let state = state(&pool);
    let (_, token) = signed_in(&state, &[Role::Viewer]).await;
    import_records(
        &state,
        Source::Attack,
        vec![technique_record("T1059", "Old name")],
    )
    .await;
    let between: String = sqlx::query_scalar(
        "SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    import_records(
        &state,
        Source::Attack,
        vec![technique_record("T1059", "New name")],
    )
    .await;

    let now = graphql(
        &state,
        Some(&token),
        r#"{ technique(id: "T1059") { name } }"#,
    )
    .await;
    assert_eq!(data(&now)["technique"]["name"], "New name");
    let then = graphql(
        &state,
        Some(&token),
        &format!(r#"{{ technique(id: "T1059", asOf: "{between}") {{ name }} }}"#),
    )
    .await;
    assert_eq!(data(&then)["technique"]["name"], "Old name");
}

#[sqlx::test(migrations = "../migrations")]
async fn unknown_technique_ids_are_allowed_and_flagged(pool: PgPool) {
    let state = state(&pool);
    let (_, token) = signed_in(&state, &[Role::RedLead]).await;
    let plan = |technique: &str| {
        format!(
            r#"mutation {{ planTestCase(plan: {{ title: "t {technique}", objective: "", technique: "{technique}",
                procedure: {{ kind: MANUAL }}, steps: "x" }}) {{ id }} }}"#
        )
    };
    let known = graphql(&state, Some(&token), &plan("T1059")).await;
    let known_id = data(&known)["planTestCase"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let unknown = graphql(&state, Some(&token), &plan("T9999")).await;
    let unknown_id = data(&unknown)["planTestCase"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    state.projector.catch_up().await.unwrap();
    let flags =
        |id: &str| format!(r#"{{ testCase(id: "{id}") {{ techniqueKnown techniqueName }} }}"#);

    // Nothing can be called unknown before an ATT&CK catalog is loaded.
    let before = graphql(&state, Some(&token), &flags(&unknown_id)).await;
    assert_eq!(data(&before)["testCase"]["techniqueKnown"], Value::Null);

    import_records(
        &state,
        Source::Attack,
        vec![technique_record(
            "T1059",
            "Command and Scripting Interpreter",
        )],
    )
    .await;
    let known = graphql(&state, Some(&token), &flags(&known_id)).await;
    assert_eq!(
        data(&known)["testCase"],
        serde_json::json!({ "techniqueKnown": true, "techniqueName": "Command and Scripting Interpreter" })
    );
    let unknown = graphql(&state, Some(&token), &flags(&unknown_id)).await;
    assert_eq!(
        data(&unknown)["testCase"],
        serde_json::json!({ "techniqueKnown": false, "techniqueName": null })
    );

    // A rule tagged with a technique newer than the loaded release is kept and flagged.
    let rule = CatalogRecord {
        kind: RecordKind::DetectionRule,
        scope: "sigma".into(),
        id: "5f1e3c2a-0000-4000-8000-000000000001".into(),
        name: "Future technique".into(),
        status: RecordStatus::Active,
        techniques: vec![
            TechniqueId::parse("T1059").unwrap(),
            TechniqueId::parse("T9999").unwrap(),
        ],
        details: serde_json::json!({}),
    };
    import_records(&state, Source::Sigma, vec![rule]).await;
    let rules = graphql(&state, Some(&token), "{ detectionRules(source: \"sigma\") { edges { node { id techniques unknownTechniques } } } }").await;
    assert_eq!(
        data(&rules)["detectionRules"]["edges"][0]["node"]["unknownTechniques"],
        serde_json::json!(["T9999"])
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn a_blue_lead_deploys_and_retires_a_catalog_rule(pool: PgPool) {
    let state = state(&pool);
    let (_, blue_lead) = signed_in(&state, &[Role::BlueLead]).await;
    let rule_id = "5f1e3c2a-0000-4000-8000-000000000002";
    let rule = CatalogRecord {
        kind: RecordKind::DetectionRule,
        scope: "elastic".into(),
        id: rule_id.into(),
        name: "LSASS access".into(),
        status: RecordStatus::Active,
        techniques: vec![TechniqueId::parse("T1003.001").unwrap()],
        details: serde_json::json!({}),
    };
    import_records(&state, Source::Elastic, vec![rule]).await;
    let change = |verb: &str, id: &str| {
        format!(
            r#"mutation {{ {verb}DetectionRule(source: "elastic", id: "{id}", reason: "Q1 review") {{ deployed unchanged }} }}"#
        )
    };
    let deployment = r#"{ detectionRules(source: "elastic", filter: { technique: "t1003.001" }) { edges { node { id deployment { deployed reason changedBy } } } } }"#;

    let deployed = graphql(&state, Some(&blue_lead), &change("deploy", rule_id)).await;
    assert_eq!(
        data(&deployed)["deployDetectionRule"],
        serde_json::json!({ "deployed": true, "unchanged": false })
    );
    let again = graphql(&state, Some(&blue_lead), &change("deploy", rule_id)).await;
    assert_eq!(data(&again)["deployDetectionRule"]["unchanged"], true);
    state.projector.catch_up().await.unwrap();
    let listed = graphql(&state, Some(&blue_lead), deployment).await;
    let node = &data(&listed)["detectionRules"]["edges"][0]["node"];
    assert_eq!(node["deployment"]["deployed"], true);
    assert_eq!(node["deployment"]["reason"], "Q1 review");

    let retired = graphql(&state, Some(&blue_lead), &change("retire", rule_id)).await;
    assert_eq!(data(&retired)["retireDetectionRule"]["deployed"], false);
    state.projector.catch_up().await.unwrap();
    let listed = graphql(&state, Some(&blue_lead), deployment).await;
    assert_eq!(
        data(&listed)["detectionRules"]["edges"][0]["node"]["deployment"]["deployed"],
        false
    );

    let unknown = graphql(
        &state,
        Some(&blue_lead),
        &change("deploy", "not-in-the-catalog"),
    )
    .await;
    assert_eq!(support::error_code(&unknown), Some("NOT_FOUND"));
    assert_eq!(unknown["errors"][0]["extensions"]["reason"], "UNKNOWN_RULE");
}

#[sqlx::test(migrations = "../migrations")]
async fn a_test_case_is_planned_from_an_imported_atomic_test(pool: PgPool) {
    let state = state(&pool);
    let (_, red_lead) = signed_in(&state, &[Role::RedLead]).await;
    let location = Location::Path(corpus("atomic-red-team/atomics/T1003.001"));
    let run_id = catalog::begin_run(&state.pool, Source::Atomic, &[location.as_text()], None)
        .await
        .unwrap();
    import::run(&state.pool, run_id, Source::Atomic, &[location], &|_| {})
        .await
        .unwrap();

    let planned = graphql(
        &state,
        Some(&red_lead),
        r#"mutation { planTestCaseFromTemplate(library: "atomic",
             templateId: "0BE2230C-9AB3-4AC2-8826-3199B9A0EBF8", plan: { targets: ["ws-042"] }) { id } }"#,
    )
    .await;
    let id = data(&planned)["planTestCaseFromTemplate"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    state.projector.catch_up().await.unwrap();
    let test_case = graphql(
        &state,
        Some(&red_lead),
        &format!(
            r#"{{ testCase(id: "{id}") {{ title objective technique procedure steps platforms targets techniqueKnown }} }}"#
        ),
    )
    .await;
    let test_case = &data(&test_case)["testCase"];
    assert_eq!(test_case["title"], "Dump LSASS.exe Memory using ProcDump");
    assert_eq!(test_case["technique"], "T1003.001");
    assert_eq!(
        test_case["procedure"],
        "ATOMIC_TEST:0be2230c-9ab3-4ac2-8826-3199b9a0ebf8"
    );
    assert!(test_case["steps"].as_str().unwrap().contains("procdump"));
    assert_eq!(test_case["platforms"], serde_json::json!(["windows"]));
    assert_eq!(test_case["targets"], serde_json::json!(["ws-042"]));
    assert_eq!(
        test_case["techniqueKnown"],
        Value::Null,
        "no ATT&CK catalog here"
    );

    // The catalog shows the plan the template gives, which is what the test case took: the web app copies it
    // into a plan whose procedure a lead changes to this template.
    let templates = graphql(
        &state,
        Some(&red_lead),
        r#"{ templates(library: "atomic", filter: { search: "0be2230c" }) {
             nodes { id templatePlan { procedureKind objective steps platforms } } } }"#,
    )
    .await;
    let nodes = data(&templates)["templates"]["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 1, "{nodes:?}");
    let template_plan = &nodes[0]["templatePlan"];
    assert_eq!(template_plan["procedureKind"], "ATOMIC_TEST");
    assert_eq!(template_plan["steps"], test_case["steps"]);
    assert_eq!(template_plan["objective"], test_case["objective"]);
    assert_eq!(template_plan["platforms"], test_case["platforms"]);

    let missing = graphql(
        &state,
        Some(&red_lead),
        r#"mutation { planTestCaseFromTemplate(library: "atomic", templateId: "00000000-0000-0000-0000-000000000000") { id } }"#,
    )
    .await;
    assert_eq!(support::error_code(&missing), Some("VALIDATION"));
    let wrong_technique = graphql(
        &state,
        Some(&red_lead),
        r#"mutation { planTestCaseFromTemplate(library: "atomic",
             templateId: "0be2230c-9ab3-4ac2-8826-3199b9a0ebf8", plan: { technique: "T1059" }) { id } }"#,
    )
    .await;
    assert_eq!(support::error_code(&wrong_technique), Some("VALIDATION"));
}

async fn wait_for_run(state: &AppState, token: &str, id: &str) -> Value {
    for _ in 0..200 {
        let run = graphql(
            state,
            Some(token),
            &format!(r#"{{ importRun(id: "{id}") {{ status recordsNew filesFailed errors {{ file error }} startedBy }} }}"#),
        )
        .await;
        if data(&run)["importRun"]["status"] != "RUNNING" {
            return data(&run)["importRun"].clone();
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("import {id} did not finish");
}

#[sqlx::test(migrations = "../migrations")]
async fn an_admin_starts_an_import_from_a_url_and_follows_it(pool: PgPool) {
    let state = state(&pool);
    let (admin_id, admin) = signed_in(&state, &[Role::Admin]).await;
    let bundle = std::fs::read(corpus("mitre-attack/ics-attack.json")).unwrap();
    let base = serve_file("ics-attack.json", Arc::new(Mutex::new(bundle))).await;
    let start = |url: String| {
        format!(
            r#"mutation {{ startImport(source: "attack", url: "{url}") {{ id status source locations }} }}"#
        )
    };

    let started = graphql(
        &state,
        Some(&admin),
        &start(format!("{base}/ics-attack.json")),
    )
    .await;
    let run = &data(&started)["startImport"];
    assert_eq!(
        run["status"], "RUNNING",
        "the mutation returns before the work is done"
    );
    let finished = wait_for_run(&state, &admin, run["id"].as_str().unwrap()).await;
    assert_eq!(finished["status"], "SUCCEEDED", "{finished}");
    assert!(finished["recordsNew"].as_i64().unwrap() > 0);
    assert_eq!(finished["startedBy"], admin_id.to_string());
    let technique = graphql(
        &state,
        Some(&admin),
        r#"{ technique(id: "T0817") { name } }"#,
    )
    .await;
    assert_eq!(data(&technique)["technique"]["name"], "Drive-by Compromise");

    // A URL that answers 404: the run fails with the reason, nothing is half-written.
    let missing = graphql(&state, Some(&admin), &start(format!("{base}/missing.json"))).await;
    let failed = wait_for_run(
        &state,
        &admin,
        data(&missing)["startImport"]["id"].as_str().unwrap(),
    )
    .await;
    assert_eq!(failed["status"], "FAILED");
    assert!(
        failed["errors"][0]["error"]
            .as_str()
            .unwrap()
            .contains("404"),
        "{failed}"
    );

    let file = graphql(&state, Some(&admin), &start("/etc/passwd".to_owned())).await;
    assert_eq!(support::error_code(&file), Some("VALIDATION"));
    let (_, blue_lead) = signed_in(&state, &[Role::BlueLead]).await;
    let refused = graphql(
        &state,
        Some(&blue_lead),
        &start(format!("{base}/ics-attack.json")),
    )
    .await;
    assert_eq!(support::error_code(&refused), Some("FORBIDDEN"));
}
