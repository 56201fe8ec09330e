//! Portable history through the `aegis` binary: a campaign exported from one database and imported into a
//! second gives the same read models there; importing again adds nothing; a tampered file, a file signed by
//! another key than the trusted one, and a file that is not a stream are refused without writing anything.
#![allow(clippy::unwrap_used)]

mod support;

use std::process::{Command, Output};

use domain::role::Role;
use serde_json::Value;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, PgPool};
use support::{approved, graphql, ok, signed_in, state};
use uuid::Uuid;

fn url_of(database: &str) -> String {
    let base: PgConnectOptions = std::env::var("DATABASE_URL").unwrap().parse().unwrap();
    base.database(database).to_url_lossy().to_string()
}

fn aegis(database: &str, data_dir: &std::path::Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_aegis"))
        .args(args)
        .env("DATABASE_URL", url_of(database))
        .env("AEGIS_DATA_DIR", data_dir)
        .env("AEGIS_LOG_FORMAT", "json")
        .output()
        .unwrap()
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// The campaign's and its test cases' read-model rows, as JSON, in a fixed order.
async fn read_models(pool: &PgPool, campaign: Uuid) -> Vec<Value> {
    sqlx::query_scalar(
        "SELECT to_jsonb(c) FROM campaigns c WHERE campaign_id = $1
         UNION ALL (SELECT to_jsonb(m) FROM campaign_test_cases m WHERE campaign_id = $1 ORDER BY test_case_id)
         UNION ALL (SELECT to_jsonb(t) FROM test_cases t
                     WHERE test_case_id IN (SELECT test_case_id FROM campaign_test_cases WHERE campaign_id = $1)
                     ORDER BY test_case_id)
         UNION ALL (SELECT to_jsonb(o) FROM test_case_outcomes o
                     WHERE test_case_id IN (SELECT test_case_id FROM campaign_test_cases WHERE campaign_id = $1)
                     ORDER BY test_case_id, run, tool)",
    )
    .bind(campaign)
    .fetch_all(pool)
    .await
    .unwrap()
}

async fn event_count(pool: &PgPool) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(pool)
        .await
        .unwrap()
}

#[sqlx::test(migrations = "../migrations")]
async fn a_campaign_moves_to_another_instance_verified_and_identical(pool: PgPool) {
    // On the first instance: a campaign with an approved test case and a planned one.
    let state = state(&pool);
    let approved_case = approved(&state, "T1003.001", "BLOCKED").await;
    let (_, lead) = signed_in(&state, &[Role::RedLead]).await;
    let planned = graphql(
        &state,
        Some(&lead),
        r#"mutation { planTestCase(plan: { title: "SAM dump", objective: "", technique: "T1003.002",
            procedure: { kind: MANUAL }, steps: "reg save" }) { id } }"#,
    )
    .await;
    let planned_case = ok(&planned)["planTestCase"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let created = graphql(
        &state,
        Some(&lead),
        r#"mutation { createCampaign(input: { name: "Credential access", description: "LSASS and SAM",
            scope: { techniques: ["T1003.001", "T1003.002"] },
            plannedStart: "2026-12-01T08:00:00Z", plannedEnd: "2026-12-20T17:00:00Z" }) { id } }"#,
    )
    .await;
    let campaign = ok(&created)["createCampaign"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    for test_case in [&approved_case, &planned_case] {
        let added = graphql(
            &state,
            Some(&lead),
            &format!(
                r#"mutation {{ addTestCaseToCampaign(id: "{campaign}", testCaseId: "{test_case}") {{ id }} }}"#
            ),
        )
        .await;
        ok(&added);
    }
    state.projector.catch_up().await.unwrap();
    let campaign_id: Uuid = campaign.parse().unwrap();

    let source = pool.connect_options().get_database().unwrap().to_owned();
    let data_dir = tempfile::tempdir().unwrap();
    let file = data_dir.path().join("campaign.aegis.json");
    let exported = aegis(
        &source,
        data_dir.path(),
        &[
            "export",
            "stream",
            "--campaign",
            &campaign,
            "--out",
            file.to_str().unwrap(),
        ],
    );
    assert!(exported.status.success(), "{}", text(&exported));
    let stream: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    assert_eq!(stream["streams"].as_array().unwrap().len(), 3);
    let signer = stream["signature"]["public_key"]
        .as_str()
        .unwrap()
        .to_owned();

    // The second instance: its own database, migrated by the binary.
    // Test databases' names are near Postgres' 63-character limit: a name of its own, not a suffix.
    let target = format!("aegis_portable_{}", Uuid::new_v4().simple());
    sqlx::query(&format!("CREATE DATABASE \"{target}\""))
        .execute(&pool)
        .await
        .unwrap();
    let other_dir = tempfile::tempdir().unwrap();
    let migrated = aegis(&target, other_dir.path(), &["migrate"]);
    assert!(migrated.status.success(), "{}", text(&migrated));
    let target_pool = PgPoolOptions::new()
        .max_connections(4)
        .connect(&url_of(&target))
        .await
        .unwrap();

    // Refused, and nothing written: another trusted key, a tampered payload, not a stream at all.
    let wrong_key = aegis(
        &target,
        other_dir.path(),
        &[
            "import",
            "stream",
            file.to_str().unwrap(),
            "--trust-key",
            &"ab".repeat(32),
        ],
    );
    assert_eq!(wrong_key.status.code(), Some(1), "{}", text(&wrong_key));
    assert!(text(&wrong_key).contains("not by the trusted key"));
    let mut tampered = stream.clone();
    tampered["streams"][1]["events"][0]["payload"] = serde_json::json!({ "Planned": {} });
    let tampered_file = data_dir.path().join("tampered.json");
    std::fs::write(&tampered_file, serde_json::to_vec(&tampered).unwrap()).unwrap();
    let not_a_stream = data_dir.path().join("layer.json");
    std::fs::write(&not_a_stream, br#"{"name": "a layer", "techniques": []}"#).unwrap();
    let refused = aegis(
        &target,
        other_dir.path(),
        &[
            "import",
            "stream",
            tampered_file.to_str().unwrap(),
            not_a_stream.to_str().unwrap(),
        ],
    );
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused));
    assert!(
        text(&refused).contains("it was altered"),
        "{}",
        text(&refused)
    );
    assert!(
        text(&refused).contains("layer.json: not imported: the file is not an Aegis stream file"),
        "{}",
        text(&refused)
    );
    assert_eq!(event_count(&target_pool).await, 0);

    // Imported with the signer pinned: the same read models; a second import adds nothing.
    let imported = aegis(
        &target,
        other_dir.path(),
        &[
            "import",
            "stream",
            file.to_str().unwrap(),
            "--trust-key",
            &signer,
            "--json",
        ],
    );
    assert!(imported.status.success(), "{}", text(&imported));
    let summary: Value = serde_json::from_slice(&imported.stdout).unwrap();
    let exported_events: usize = stream["streams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|stream| stream["events"].as_array().unwrap().len())
        .sum();
    assert_eq!(summary["imported"]["appended"], exported_events);
    let again = aegis(
        &target,
        other_dir.path(),
        &["import", "stream", file.to_str().unwrap(), "--json"],
    );
    let summary: Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!(summary["imported"]["appended"], 0, "{summary}");
    assert_eq!(summary["imported"]["already_present"], exported_events);

    let target_state = support::state(&target_pool);
    target_state.projector.catch_up().await.unwrap();
    let here = read_models(&pool, campaign_id).await;
    assert_eq!(here.len(), 1 + 2 + 2 + 1, "{here:#?}");
    assert_eq!(read_models(&target_pool, campaign_id).await, here);
    let verified = aegis(&target, other_dir.path(), &["audit", "verify"]);
    assert!(
        text(&verified).contains("hash chain intact"),
        "{}",
        text(&verified)
    );

    target_pool.close().await;
    sqlx::query(&format!("DROP DATABASE \"{target}\" WITH (FORCE)"))
        .execute(&pool)
        .await
        .unwrap();
}
