//! Recurring campaigns spawn exactly one instance per due time, also when two processes check at once.
#![allow(clippy::unwrap_used)]

mod support;

use std::collections::BTreeSet;

use api::recurring::spawn_due_instances;
use chrono::{TimeDelta, Utc};
use domain::campaign::Recurrence;
use domain::role::Role;
use sqlx::PgPool;
use support::{graphql, signed_in, state};

#[sqlx::test(migrations = "../migrations")]
async fn two_processes_spawn_each_due_instance_exactly_once(pool: PgPool) {
    let state = state(&pool);
    let (_, red_lead) = signed_in(&state, &[Role::RedLead]).await;
    let mut members = Vec::new();
    for technique in ["T1059", "T1003"] {
        let planned = graphql(
            &state,
            Some(&red_lead),
            &format!(r#"mutation {{ planTestCase(plan: {{ title: "weekly {technique}", objective: "", technique: "{technique}",
                procedure: {{ kind: MANUAL }}, steps: "run it" }}) {{ id }} }}"#),
        )
        .await;
        members.push(
            planned["data"]["planTestCase"]["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let start = Utc::now() - TimeDelta::days(22);
    let created = graphql(
        &state,
        Some(&red_lead),
        &format!(
            r#"mutation {{ createCampaign(input: {{ name: "Weekly smoke test", scope: {{ techniques: ["T1059"] }},
                plannedStart: "{}", plannedEnd: "{}", recurrence: {{ cron: "0 9 * * 1", timezone: "Europe/Berlin" }} }}) {{ id }} }}"#,
            start.to_rfc3339(),
            (start + TimeDelta::days(1)).to_rfc3339()
        ),
    )
    .await;
    let template = created["data"]["createCampaign"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    for member in &members {
        let added = graphql(
            &state,
            Some(&red_lead),
            &format!(r#"mutation {{ addTestCaseToCampaign(id: "{template}", testCaseId: "{member}") {{ testCaseCount }} }}"#),
        )
        .await;
        assert!(added.get("errors").is_none(), "{added}");
    }
    state.projector.catch_up().await.unwrap();

    let now = Utc::now();
    let expected = Recurrence::parse("0 9 * * 1", "Europe/Berlin")
        .unwrap()
        .due_times_between(start, now)
        .len();
    assert!(expected >= 3, "three weeks hold at least three Mondays");
    let (first, second) = tokio::join!(
        spawn_due_instances(&state, now),
        spawn_due_instances(&state, now)
    );
    let spawned: BTreeSet<_> = first
        .unwrap()
        .into_iter()
        .chain(second.unwrap())
        .map(|spawn| spawn.instance_id)
        .collect();
    assert_eq!(spawned.len(), expected);

    // Running again finds nothing to do.
    assert!(spawn_due_instances(&state, now).await.unwrap().is_empty());
    let count = |event_type: &'static str| {
        let pool = pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>("SELECT count(*) FROM events WHERE event_type = $1")
                .bind(event_type)
                .fetch_one(&pool)
                .await
                .unwrap()
        }
    };
    let expected = i64::try_from(expected).unwrap();
    assert_eq!(count("CampaignSpawnRecorded").await, expected);
    assert_eq!(count("CampaignInstanceCreated").await, expected);
    assert_eq!(
        count("TestCasePlanned").await,
        2 + 2 * expected,
        "fresh copies of both test cases per instance"
    );
}
