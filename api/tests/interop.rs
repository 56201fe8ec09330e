//! Interop out of Aegis on the real ICS ATT&CK bundle: a heatmap exported as a Navigator layer reads back
//! with the heatmap's scores, an actor's layer shows its untested techniques, and the `aegis export` commands
//! write layers, CSV and JSON of test cases and campaigns.
#![allow(clippy::unwrap_used)]

mod support;

use std::process::{Command, Output};

use api::layers::{LayerView, layer};
use chrono::Utc;
use importers::interop::navigator::{self, Domain};
use projections::heatmap::{self, HeatmapQuery};
use serde_json::Value;
use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, PgPool};
use support::{approved, import_ics, state};

fn aegis(pool: &PgPool, data_dir: &std::path::Path, args: &[&str]) -> Output {
    let base: PgConnectOptions = std::env::var("DATABASE_URL").unwrap().parse().unwrap();
    let name = pool.connect_options().get_database().unwrap().to_owned();
    Command::new(env!("CARGO_BIN_EXE_aegis"))
        .args(args)
        .env(
            "DATABASE_URL",
            base.database(&name).to_url_lossy().to_string(),
        )
        .env("AEGIS_DATA_DIR", data_dir)
        .env("AEGIS_LOG_FORMAT", "json")
        .output()
        .unwrap()
}

fn ics(actor: Option<&str>) -> LayerView {
    LayerView {
        domain: Domain::Ics,
        as_of: None,
        campaign: None,
        actor: actor.map(str::to_owned),
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn a_heatmap_leaves_as_a_layer_with_its_scores_and_the_exports_hold_the_results(
    pool: PgPool,
) {
    let state = state(&pool);
    import_ics(&state).await;
    let before = Utc::now();
    let test_case = approved(&state, "T0817", "BLOCKED").await;
    let now = Utc::now();

    // The layer reads back with the heatmap's score for the one tested technique, and nothing else.
    let exported = layer(&pool, &ics(None), now).await.unwrap();
    let bytes = serde_json::to_vec(&navigator::to_v45(&exported)).unwrap();
    let read = navigator::parse(&bytes).unwrap();
    assert_eq!(read.len(), 1);
    assert_eq!(read[0].domain, Domain::Ics);
    assert_eq!(read[0].format_version.as_deref(), Some("4.5"));
    let heatmap = heatmap::heatmap(
        &pool,
        &HeatmapQuery {
            scope: "ics-attack".to_owned(),
            filter: projections::coverage::ResultFilter::default(),
            threat_actor: None,
            as_of: None,
            policy_id: None,
            at: now,
        },
    )
    .await
    .unwrap();
    let expected = heatmap.cells()["T0817"].cell.score.unwrap().value();
    assert_eq!(read[0].techniques.len(), 1, "{:?}", read[0].techniques);
    let entry = &read[0].techniques[0];
    assert_eq!(entry.technique.as_str(), "T0817");
    assert_eq!(entry.score, Some(f64::from(expected)));
    assert!(
        entry.comment.as_deref().unwrap().contains("1 blocked"),
        "{entry:?}"
    );
    assert!(
        entry
            .metadata
            .iter()
            .any(|pair| pair.name == "best" && pair.value == "blocked")
    );

    // The change since before the approval: T0817 gained its whole score.
    let diff = api::layers::diff_layer(&pool, &ics(None), before, now)
        .await
        .unwrap();
    assert_eq!(diff.techniques.len(), 1, "{:?}", diff.techniques);
    assert_eq!(diff.techniques[0].score, Some(f64::from(expected)));
    assert_eq!(
        diff.techniques[0].comment.as_deref(),
        Some(format!("score untested → {expected}").as_str())
    );

    // Dragonfly's layer: every technique it uses, the untested ones grey.
    let actor = layer(&pool, &ics(Some("G0035")), now).await.unwrap();
    assert!(actor.techniques.len() >= 2, "{:?}", actor.techniques);
    assert!(
        actor
            .techniques
            .iter()
            .all(|entry| entry.score.is_none() == (entry.color.as_deref() == Some("#b0b0b0")))
    );

    // The commands.
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name).to_str().unwrap().to_owned();
    for args in [
        vec![
            "export",
            "layer",
            "--domain",
            "ics-attack",
            "--out",
            &path("ics.json"),
        ],
        vec!["export", "csv", "test-cases", "--out", &path("tests.csv")],
        vec!["export", "json", "test-cases", "--out", &path("tests.json")],
        vec![
            "export",
            "csv",
            "campaigns",
            "--out",
            &path("campaigns.csv"),
        ],
        vec![
            "export",
            "stix",
            "--domain",
            "ics-attack",
            "--organisation",
            "ACME",
            "--out",
            &path("stix.json"),
        ],
    ] {
        let output = aegis(&pool, dir.path(), &args);
        assert!(output.status.success(), "{args:?}: {output:?}");
    }
    let layer_file = navigator::parse(&std::fs::read(path("ics.json")).unwrap()).unwrap();
    assert_eq!(layer_file[0].techniques, read[0].techniques);

    let csv = std::fs::read_to_string(path("tests.csv")).unwrap();
    let mut lines = csv.lines();
    let header = lines.next().unwrap();
    assert!(
        header.starts_with("id,title,technique,state,outcome,run,"),
        "{header}"
    );
    let row = lines.next().unwrap();
    assert!(
        row.starts_with(&format!("{test_case},drive-by,T0817,completed,blocked,1,")),
        "{row}"
    );
    assert!(
        row.contains("EDR: blocked (high, 2026-11-20T10:00:00Z)"),
        "{row}"
    );
    assert!(lines.next().is_none());

    let json: Value = serde_json::from_slice(&std::fs::read(path("tests.json")).unwrap()).unwrap();
    assert_eq!(json[0]["id"], test_case.as_str());
    assert_eq!(json[0]["outcomes"][0]["tool"], "EDR");
    assert_eq!(json[0]["executions"][0]["command"], "open the page");
    let bundle: Value = serde_json::from_slice(&std::fs::read(path("stix.json")).unwrap()).unwrap();
    assert_eq!(bundle["type"], "bundle");
    let objects = bundle["objects"].as_array().unwrap();
    assert_eq!(objects[0]["type"], "identity");
    assert_eq!(objects[0]["name"], "ACME");
    assert_eq!(objects.len(), 2, "{bundle:#}");
    let pattern = &objects[1];
    assert_eq!(pattern["type"], "attack-pattern");
    assert_eq!(pattern["created_by_ref"], objects[0]["id"]);
    assert_eq!(pattern["external_references"][0]["external_id"], "T0817");
    assert!(
        pattern["external_references"][0]["x_mitre_stix_id"]
            .as_str()
            .unwrap()
            .starts_with("attack-pattern--")
    );
    assert_eq!(pattern["x_aegis_score"], expected);
    assert_eq!(pattern["x_aegis_best_outcome"], "blocked");
    assert_eq!(pattern["x_aegis_procedures"]["blocked"], 1);

    // No campaign yet: an empty file, not an error.
    assert_eq!(std::fs::read_to_string(path("campaigns.csv")).unwrap(), "");
}

/// A technique of the ICS domain that ATT&CK revoked in favour of T0817 (no real ICS technique is revoked).
async fn revoke_into_drive_by(pool: &PgPool) {
    use importers::catalog;
    use importers::record::{CatalogRecord, Parsed, RecordKind, RecordStatus};
    use importers::source::Source;
    let revoked = CatalogRecord {
        kind: RecordKind::Technique,
        scope: "ics-attack".to_owned(),
        id: "T0999".to_owned(),
        name: "Old drive-by".to_owned(),
        status: RecordStatus::Revoked {
            replaced_by: Some("T0817".to_owned()),
        },
        techniques: vec![domain::test_case::TechniqueId::parse("T0999").unwrap()],
        details: serde_json::json!({}),
    };
    let run_id = catalog::begin_run(pool, Source::Taxii, &["fixture".into()], None)
        .await
        .unwrap();
    let parsed = Parsed {
        records: vec![revoked],
        ..Parsed::default()
    };
    catalog::complete_run(pool, run_id, Source::Taxii, &[], parsed, Vec::new())
        .await
        .unwrap();
}

#[sqlx::test(migrations = "../migrations")]
async fn a_layer_comes_back_in_as_a_view_or_as_tests_mapped_to_the_loaded_release(pool: PgPool) {
    let state = state(&pool);
    import_ics(&state).await;
    approved(&state, "T0817", "BLOCKED").await;
    revoke_into_drive_by(&pool).await;
    let now = Utc::now();

    // Aegis' own layer, plus a revoked id and one the ICS domain does not have.
    let exported = layer(&pool, &ics(None), now).await.unwrap();
    let score = exported.techniques[0].score.unwrap();
    let mut file: Value = serde_json::to_value(navigator::to_v45(&exported)).unwrap();
    let techniques = file["techniques"].as_array_mut().unwrap();
    techniques
        .push(serde_json::json!({ "techniqueID": "T0999", "score": 10, "comment": "old id" }));
    techniques.push(serde_json::json!({ "techniqueID": "T1059", "score": 50 }));
    let dir = tempfile::tempdir().unwrap();
    let layer_path = dir.path().join("coverage.json");
    std::fs::write(&layer_path, serde_json::to_vec(&file).unwrap()).unwrap();
    let broken_path = dir.path().join("broken.json");
    std::fs::write(
        &broken_path,
        br#"{"name": "x", "domain": "ics-attack", "techniques": [{"techniqueID": "T0817", "score": "high"}]}"#,
    )
    .unwrap();

    // As a view: the round trip keeps the score; the broken file is refused with its path, the other goes on.
    let output = aegis(
        &pool,
        dir.path(),
        &[
            "import",
            "navigator",
            layer_path.to_str().unwrap(),
            broken_path.to_str().unwrap(),
            "--json",
        ],
    );
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let lines: Vec<Value> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let imported = &lines[0]["imported"][0];
    assert_eq!(imported["mapped"], serde_json::json!(["T0999 -> T0817"]));
    assert_eq!(
        imported["left_out"],
        serde_json::json!(["T1059: not in the loaded ATT&CK catalog (ics-attack)"])
    );
    assert!(
        lines[1]["error"]
            .as_str()
            .unwrap()
            .contains("$.techniques[0].score: expected a number"),
        "{lines:?}"
    );
    state.projector.catch_up().await.unwrap();
    let saved_id: uuid::Uuid = imported["saved_layer"].as_str().unwrap().parse().unwrap();
    let saved = projections::saved_layers::find(&pool, saved_id)
        .await
        .unwrap()
        .unwrap();
    let scores: Vec<(String, Option<f64>)> = saved
        .content
        .annotations
        .iter()
        .map(|annotation| (annotation.technique.to_string(), annotation.score))
        .collect();
    assert_eq!(
        scores,
        [
            ("T0817".to_owned(), Some(score)),
            ("T0817".to_owned(), Some(10.0))
        ]
    );

    // Read back through GraphQL, also as a layer file.
    let (_, viewer) = support::signed_in(&state, &[domain::role::Role::Viewer]).await;
    let listed = support::graphql(
        &state,
        Some(&viewer),
        "{ savedLayers { id name domain annotations { techniqueId score } navigatorLayer } }",
    )
    .await;
    let listed = &support::ok(&listed)["savedLayers"][0];
    assert_eq!(listed["domain"], "ics-attack");
    let again = navigator::parse(&serde_json::to_vec(&listed["navigatorLayer"]).unwrap()).unwrap();
    assert_eq!(again[0].techniques.len(), 2);

    // As tests: one planned test case per technique, through GraphQL as a lead.
    let (_, lead) = support::signed_in(&state, &[domain::role::Role::RedLead]).await;
    let layer_text = serde_json::to_string(&file).unwrap().replace('"', "\\\"");
    let planned = support::graphql(
        &state,
        Some(&lead),
        &format!(
            r#"mutation {{ importNavigatorLayer(layer: "{layer_text}", fileName: "coverage.json", as: TESTS) {{ testCaseIds mapped leftOut }} }}"#
        ),
    )
    .await;
    let planned = &support::ok(&planned)["importNavigatorLayer"][0];
    assert_eq!(
        planned["testCaseIds"].as_array().unwrap().len(),
        1,
        "{planned}"
    );
    state.projector.catch_up().await.unwrap();
    let test_case = projections::test_cases::find(
        &pool,
        planned["testCaseIds"][0].as_str().unwrap().parse().unwrap(),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(test_case.technique, "T0817");
    assert_eq!(test_case.tags, ["navigator-import"]);
    let (_, tech) = support::signed_in(&state, &[domain::role::Role::RedTech]).await;
    let refused = support::graphql(
        &state,
        Some(&tech),
        r#"mutation { importNavigatorLayer(layer: "{}", as: VIEW) { name } }"#,
    )
    .await;
    assert_eq!(support::error_code(&refused), Some("FORBIDDEN"));
}

#[sqlx::test(migrations = "../migrations")]
async fn a_vectr_export_brings_its_campaigns_and_history_once(pool: PgPool) {
    let dir = tempfile::tempdir().unwrap();
    let csv = support::corpus(
        "vectr-tools/vectr_tools/csv_import_example/sample_data/DEMO_PURPLE_CE.csv",
    );
    let import = || {
        aegis(
            &pool,
            dir.path(),
            &["import", "vectr-csv", csv.to_str().unwrap(), "--json"],
        )
    };

    // 765 rows: 85 name no ATT&CK technique (only VECTR's method) and are reported; the rest arrive, in the
    // 95 (assessment, campaign) pairs that have a technique. Rows were left out, so the exit status is 1.
    let output = import();
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let summary: Value = serde_json::from_slice(&output.stdout).unwrap();
    let imported = &summary["imported"];
    assert_eq!(imported["campaigns"], 95, "{summary:#}");
    assert_eq!(imported["test_cases"], 680);
    let skipped = imported["skipped"].as_array().unwrap();
    assert_eq!(skipped.len(), 85);
    assert!(skipped.iter().all(|line| {
        line.as_str()
            .unwrap()
            .contains(": no ATT&CK id (VECTR method ")
    }));

    // The first row, with VECTR's times as the workflow's: blocked, judged at its detection time.
    let state = state(&pool);
    state.projector.catch_up().await.unwrap();
    let id: uuid::Uuid =
        sqlx::query_scalar("SELECT test_case_id FROM test_cases WHERE title = 'Basic Auth & WPAD'")
            .fetch_one(&pool)
            .await
            .unwrap();
    let test_case = projections::test_cases::find(&pool, id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(test_case.technique, "T1040");
    assert_eq!(test_case.state.as_str(), "completed");
    assert_eq!(test_case.outcome, Some(domain::test_case::Outcome::Blocked));
    let at = |text: &str| text.parse::<chrono::DateTime<Utc>>().unwrap();
    assert_eq!(test_case.completed_at, Some(at("2017-01-17T12:05:23.930Z")));
    assert_eq!(
        test_case.executions[0].started_at,
        at("2017-01-17T09:20:25.930Z")
    );
    assert_eq!(
        test_case.executions[0].stopped_at,
        at("2017-01-17T10:13:47.930Z")
    );
    assert_eq!(test_case.outcomes[0].tool, "Secure Configs");
    assert!(test_case.tags.contains(&"vectr-import".to_owned()));
    let campaign = projections::campaigns::for_test_case(&pool, id)
        .await
        .unwrap();
    assert_eq!(campaign[0].name, "Network MiTM");
    assert_eq!(
        campaign[0].status,
        domain::campaign::CampaignStatus::Completed
    );
    // Recorded now, by the command line: the history's times are the rows', the log's are the import's.
    let actors: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT metadata->>'actor_id' FROM events WHERE aggregate_id = $1",
    )
    .bind(id.to_string())
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(actors, ["system:cli"]);

    // The same file again: everything is there already.
    let again: Value = serde_json::from_slice(&import().stdout).unwrap();
    assert_eq!(again["imported"]["test_cases"], 0, "{again:#}");
    assert_eq!(again["imported"]["campaigns"], 0);
    assert_eq!(again["imported"]["already_imported"], 680);
}

#[sqlx::test(migrations = "../migrations")]
async fn execution_logs_land_on_the_atomic_test_case_once(pool: PgPool) {
    let dir = tempfile::tempdir().unwrap();
    // The one ATTiRe log upstream has: the sample in its README, fenced as `js`.
    let readme = std::fs::read_to_string(support::corpus("attire/README.md")).unwrap();
    let sample = readme
        .split("```js")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .unwrap();
    let attire = dir.path().join("attire.json");
    std::fs::write(&attire, sample).unwrap();
    // An Invoke-AtomicRedTeam CSV log of the same atomic test, run again a day later, and a row with no technique.
    let csv = dir.path().join("Invoke-AtomicTest-ExecutionLog.csv");
    std::fs::write(
        &csv,
        "\"Execution Time (UTC)\",\"Execution Time (Local)\",\"Technique\",\"Test Number\",\"Test Name\",\"Hostname\",\"IP Address\",\"Username\",\"GUID\",\"ProcessId\",\"ExitCode\"\r\n\
         \"2021-10-28T02:02:23Z\",\"2021-10-27T22:02:23Z\",\"T1218.010\",\"1\",\"Regsvr32 remote COM scriptlet execution\",\"WINDEV2009EVAL\",\"192.168.204.129\",\"WINDEV\\User\",\"c9d0c4ef-8a96-4794-a75b-3d3a5e6f2a36\",\"4242\",\"0\"\r\n\
         \"2021-10-29T02:02:23Z\",\"2021-10-28T22:02:23Z\",\"T1218.010\",\"1\",\"Regsvr32 remote COM scriptlet execution\",\"WINDEV2009EVAL\",\"192.168.204.129\",\"WINDEV\\User\",\"c9d0c4ef-8a96-4794-a75b-3d3a5e6f2a36\",\"4244\",\"1\"\r\n\
         \"2021-10-28T03:00:00Z\",\"2021-10-27T23:00:00Z\",\"\",\"2\",\"Unknown\",\"WINDEV2009EVAL\",\"192.168.204.129\",\"User\",\"c9d0c4ef-8a96-4794-a75b-3d3a5e6f2a37\",\"4243\",\"0\"\r\n",
    )
    .unwrap();
    let state = state(&pool);
    let import = |kind: &str, file: &std::path::Path| {
        let output = aegis(
            &pool,
            dir.path(),
            &["import", kind, file.to_str().unwrap(), "--json"],
        );
        let summary: Value = serde_json::from_slice(&output.stdout).unwrap();
        (output.status.code(), summary["imported"].clone())
    };

    // Nothing open for the atomic: a test case is planned from it, started, and the execution recorded.
    let (code, first) = import("attire", &attire);
    assert_eq!(code, Some(0), "{first}");
    assert_eq!(first["planned"], 1, "{first}");
    // Again, once the server's projector has seen the first (here the test's): held already.
    state.projector.catch_up().await.unwrap();
    let (_, again) = import("attire", &attire);
    assert_eq!(again["already_recorded"], 1, "{again}");
    assert_eq!(again["planned"], 0);
    state.projector.catch_up().await.unwrap();

    // The CSV's run of the same atomic lands on that open test case; its row without a technique is reported.
    let (code, csv_run) = import("art-log", &csv);
    assert_eq!(code, Some(1), "{csv_run}");
    assert_eq!(csv_run["recorded"], 2, "{csv_run}");
    assert_eq!(csv_run["skipped"].as_array().unwrap().len(), 1, "{csv_run}");
    state.projector.catch_up().await.unwrap();
    let ids: Vec<uuid::Uuid> = sqlx::query_scalar("SELECT test_case_id FROM test_cases")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(ids.len(), 1);
    let test_case = projections::test_cases::find(&pool, ids[0])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(test_case.technique, "T1218.010");
    assert_eq!(test_case.state.as_str(), "executing");
    let starts: Vec<String> = test_case
        .executions
        .iter()
        .map(|execution| execution.started_at.to_rfc3339())
        .collect();
    assert_eq!(
        starts,
        [
            "2021-10-27T02:02:23+00:00",
            "2021-10-28T02:02:23+00:00",
            "2021-10-29T02:02:23+00:00"
        ]
    );
    assert!(
        test_case.executions[0]
            .command
            .starts_with("powershell.exe -File")
    );
    assert_eq!(test_case.executions[1].target, "WINDEV2009EVAL");
    assert!(
        test_case.executions[1]
            .output_excerpt
            .starts_with("exit code 0")
    );
    assert!(
        test_case.executions[2]
            .output_excerpt
            .starts_with("exit code 1")
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn a_campaign_report_renders_as_html_and_as_a_pdf(pool: PgPool) {
    let chromium = std::env::var("AEGIS_CHROMIUM")
        .expect("AEGIS_CHROMIUM: the Chromium deploy/dev/ensure-chromium installs (deploy/dev/test exports it)");
    let state = state(&pool);
    import_ics(&state).await;
    let test_case = approved(&state, "T0817", "BLOCKED").await;
    let (_, lead) = support::signed_in(&state, &[domain::role::Role::RedLead]).await;
    let created = support::graphql(
        &state,
        Some(&lead),
        r#"mutation { createCampaign(input: { name: "Plant floor drive-by", description: "HMI watering hole",
            scope: { techniques: ["T0817"] }, plannedStart: "2026-11-01T08:00:00Z", plannedEnd: "2026-11-30T17:00:00Z" }) { id } }"#,
    )
    .await;
    let campaign = support::ok(&created)["createCampaign"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let before_membership = Utc::now();
    let added = support::graphql(
        &state,
        Some(&lead),
        &format!(r#"mutation {{ addTestCaseToCampaign(id: "{campaign}", testCaseId: "{test_case}") {{ id }} }}"#),
    )
    .await;
    support::ok(&added);
    state.projector.catch_up().await.unwrap();

    // As of before the test case joined: the campaign, without it (replayed from the events, not read now).
    let request = |as_of| api::report::ReportRequest {
        subject: api::report::Subject::Campaign(campaign.parse().unwrap()),
        domain: Domain::Ics,
        as_of,
        actor: None,
    };
    let then = api::report::html(&pool, &request(Some(before_membership)), Utc::now())
        .await
        .unwrap();
    assert!(
        then.contains("<th>Test cases</th><td>0 (0 closed"),
        "{then}"
    );
    let now = api::report::html(&pool, &request(None), Utc::now())
        .await
        .unwrap();
    assert!(
        now.contains("<th>Test cases</th><td>1 (1 closed, 100% complete)"),
        "{now}"
    );

    let dir = tempfile::tempdir().unwrap();
    let report = |format: &str, out: &str| {
        let out = dir.path().join(out);
        let output = Command::new(env!("CARGO_BIN_EXE_aegis"))
            .args([
                "report",
                "campaign",
                &campaign,
                "--format",
                format,
                "--domain",
                "ics-attack",
            ])
            .args(["--actor", "G0035", "--out", out.to_str().unwrap()])
            .env("DATABASE_URL", {
                let base: PgConnectOptions =
                    std::env::var("DATABASE_URL").unwrap().parse().unwrap();
                base.database(pool.connect_options().get_database().unwrap())
                    .to_url_lossy()
                    .to_string()
            })
            .env("AEGIS_DATA_DIR", dir.path())
            .env("AEGIS_CHROMIUM", &chromium)
            .output()
            .unwrap();
        assert!(output.status.success(), "{output:?}");
        out
    };
    let html = std::fs::read_to_string(report("html", "report.html")).unwrap();
    for expected in [
        "Campaign report: Plant floor drive-by",
        "T0817",
        "drive-by",
        "Blocked",
        "Time to detect",
        "Gaps against G0035",
        "Recommendations",
        "<svg",
    ] {
        assert!(
            html.contains(expected),
            "{expected} missing from the report"
        );
    }

    let pdf = std::fs::read(report("pdf", "report.pdf")).unwrap();
    assert!(pdf.starts_with(b"%PDF"), "not a PDF");
    let text = Command::new("pdftotext")
        .args([
            "-layout",
            dir.path().join("report.pdf").to_str().unwrap(),
            "-",
        ])
        .output()
        .expect("pdftotext (poppler-utils, installed by deploy/dev/ensure-chromium)");
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("Plant floor drive-by"), "{text}");
    assert!(text.contains("T0817"), "{text}");
}

#[sqlx::test(migrations = "../migrations")]
async fn interop_over_graphql_follows_the_role_rules(pool: PgPool) {
    use domain::role::Role;
    use support::{error_code, graphql, ok, signed_in};
    let state = state(&pool);
    import_ics(&state).await;
    let test_case = approved(&state, "T0817", "BLOCKED").await;
    let (_, viewer) = signed_in(&state, &[Role::Viewer]).await;
    let (_, admin) = signed_in(&state, &[Role::Admin]).await;
    let (_, red_lead) = signed_in(&state, &[Role::RedLead]).await;
    let (_, red_tech) = signed_in(&state, &[Role::RedTech]).await;

    let layer = graphql(&state, Some(&viewer), "{ navigatorLayer(domain: ICS) }").await;
    assert_eq!(
        ok(&layer)["navigatorLayer"]["techniques"][0]["techniqueID"],
        "T0817"
    );
    let stix = graphql(&state, Some(&viewer), "{ coverageStix(domain: ICS) }").await;
    assert_eq!(ok(&stix)["coverageStix"]["type"], "bundle");
    let refused = graphql(&state, Some(&viewer), "{ exportTestCases(format: CSV) }").await;
    assert_eq!(error_code(&refused), Some("FORBIDDEN"));

    let csv = graphql(&state, Some(&admin), "{ exportTestCases(format: CSV) }").await;
    assert!(
        ok(&csv)["exportTestCases"]
            .as_str()
            .unwrap()
            .contains(&format!("{test_case},drive-by,T0817"))
    );
    let report = graphql(&state, Some(&admin), "{ report(domain: ICS) }").await;
    assert!(
        ok(&report)["report"]
            .as_str()
            .unwrap()
            .contains("Coverage report: ics-attack")
    );
    let missing = graphql(
        &state,
        Some(&admin),
        &format!(
            r#"{{ report(domain: ICS, campaignId: "{}") }}"#,
            uuid::Uuid::nil()
        ),
    )
    .await;
    assert_eq!(error_code(&missing), Some("NOT_FOUND"), "{missing}");
    let pdf = graphql(&state, Some(&admin), "{ report(domain: ICS, format: PDF) }").await;
    let pdf = base64::Engine::decode(
        &base64::engine::general_purpose::STANDARD,
        ok(&pdf)["report"].as_str().unwrap(),
    )
    .unwrap();
    assert!(pdf.starts_with(b"%PDF"));

    // A campaign's history out and in again on the same instance: all of it is here already.
    let created = graphql(
        &state,
        Some(&red_lead),
        r#"mutation { createCampaign(input: { name: "Round trip", description: "",
            scope: { techniques: ["T0817"] }, plannedStart: "2026-12-01T08:00:00Z", plannedEnd: "2026-12-20T17:00:00Z" }) { id } }"#,
    )
    .await;
    let campaign = ok(&created)["createCampaign"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    state.projector.catch_up().await.unwrap();
    let stream = graphql(
        &state,
        Some(&admin),
        &format!(r#"{{ campaignStream(campaignId: "{campaign}") }}"#),
    )
    .await;
    let stream = serde_json::to_string(&ok(&stream)["campaignStream"]).unwrap();
    let request = serde_json::json!({
        "query": "mutation($stream: JSON!) { importCampaignStream(stream: $stream) { appended alreadyPresent } }",
        "variables": { "stream": serde_json::from_str::<Value>(&stream).unwrap() },
    });
    let response = support::send(
        &state,
        axum::http::Request::post("/graphql")
            .header("content-type", "application/json")
            .header("authorization", format!("Bearer {admin}"))
            .body(axum::body::Body::from(request.to_string()))
            .unwrap(),
    )
    .await;
    let imported: Value = serde_json::from_str(&response.2).unwrap();
    assert_eq!(
        ok(&imported)["importCampaignStream"],
        serde_json::json!({ "appended": 0, "alreadyPresent": 1 })
    );

    // Execution logs: a red lead may plan for them; a red technician may not, and is told why.
    let readme = std::fs::read_to_string(support::corpus("attire/README.md")).unwrap();
    let sample = readme
        .split("```js")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .unwrap();
    let log = serde_json::to_string(sample).unwrap();
    let mutation = format!(
        "mutation {{ importExecutionLog(log: {log}, format: ATTIRE) {{ planned recorded skipped }} }}"
    );
    let refused = graphql(&state, Some(&red_tech), &mutation).await;
    assert_eq!(
        ok(&refused)["importExecutionLog"]["planned"],
        0,
        "{refused}"
    );
    assert!(
        ok(&refused)["importExecutionLog"]["skipped"][0]
            .as_str()
            .unwrap()
            .starts_with("entry 1: ")
    );
    let planned = graphql(&state, Some(&red_lead), &mutation).await;
    assert_eq!(
        ok(&planned)["importExecutionLog"]["planned"],
        1,
        "{planned}"
    );

    // A malformed VECTR export is refused as such.
    let vectr = graphql(
        &state,
        Some(&admin),
        r#"mutation { importVectrCsv(csv: "a,b\n1,2\n") { testCases } }"#,
    )
    .await;
    assert_eq!(error_code(&vectr), Some("VALIDATION"), "{vectr}");
}

/// Every layer file of the corpus's Navigator samples, ART, DeTT&CT and mitreattack-python folders.
fn corpus_layers() -> Vec<std::path::PathBuf> {
    fn walk(folder: &std::path::Path, found: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, found);
            } else if path
                .extension()
                .is_some_and(|extension| extension == "json")
                && (!path.to_string_lossy().contains("dettect")
                    || path.to_string_lossy().contains("ATT&CK-Navigator-layers"))
            {
                found.push(path);
            }
        }
    }
    let mut found = Vec::new();
    for folder in [
        "attack-navigator/layers/samples",
        "attack-navigator-samples-2024/layers/data",
        "atomic-red-team-layers/atomics/Indexes/Attack-Navigator-Layers",
        "dettect/threat-actor-data",
        "mitreattack-python/tests/resources",
    ] {
        walk(&support::corpus(folder), &mut found);
    }
    found.sort();
    found
}

#[sqlx::test(migrations = "../migrations")]
async fn every_corpus_layer_comes_in_as_a_saved_view(pool: PgPool) {
    let state = state(&pool);
    let (actor, context) = (
        domain::actor::Actor::new(uuid::Uuid::nil(), [domain::role::Role::Admin]),
        commands::context::CommandContext::new(commands::context::Actor::system("test")),
    );
    let files = corpus_layers();
    assert!(files.len() >= 60, "{} layer files", files.len());
    let mut layers = 0;
    for file in &files {
        let bytes = std::fs::read(file).unwrap();
        let imported = api::layer_import::import(
            &state,
            &actor,
            &context,
            &file.display().to_string(),
            &bytes,
            api::layer_import::LayerUse::View,
        )
        .await
        .unwrap_or_else(|error| panic!("{}: {error:#}", file.display()));
        assert!(imported.iter().all(|layer| layer.saved_layer.is_some()));
        layers += imported.len();
    }
    state.projector.catch_up().await.unwrap();
    let saved: i64 = sqlx::query_scalar("SELECT count(*) FROM saved_layers")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(saved, i64::try_from(layers).unwrap());
}
