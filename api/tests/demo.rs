//! `aegis demo`: a demo organisation through the command layer, idempotent, and refused over other data.
#![allow(clippy::unwrap_used)]

mod support;

use api::demo::{self, DEMO_PASSWORD, Loaded};
use serde_json::Value;
use sqlx::PgPool;
use support::{graphql, state};

#[sqlx::test(migrations = "../migrations")]
async fn the_demo_organisation_loads_once_with_every_state_and_role(pool: PgPool) {
    let state = state(&pool);
    let loaded = demo::load(&pool, &state.identity, false).await.unwrap();
    assert_eq!(
        loaded,
        Loaded::Created {
            users: 6,
            test_cases: 14,
            campaigns: 3
        }
    );
    assert_eq!(
        demo::load(&pool, &state.identity, false).await.unwrap(),
        Loaded::AlreadyThere
    );
    state.projector.catch_up().await.unwrap();

    let states: Vec<String> =
        sqlx::query_scalar("SELECT DISTINCT state FROM test_cases ORDER BY state")
            .fetch_all(&pool)
            .await
            .unwrap();
    for expected in [
        "planned",
        "assigned",
        "executing",
        "executed",
        "reviewing",
        "awaiting_approval",
        "completed",
        "paused",
        "abandoned",
    ] {
        assert!(
            states.iter().any(|state| state == expected),
            "no demo test case is {expected}: {states:?}"
        );
    }
    // History spans weeks of event time.
    let span_days: f64 = sqlx::query_scalar(
        "SELECT extract(epoch FROM max((metadata->>'occurred_at')::timestamptz) - min((metadata->>'occurred_at')::timestamptz))::float8 / 86400
           FROM events WHERE aggregate_type = 'TestCase'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert!(span_days > 21.0, "{span_days}");
    assert_eq!(
        sqlx::query_scalar::<_, i64>(
            "SELECT count(*) FROM campaigns WHERE recurrence_cron IS NOT NULL"
        )
        .fetch_one(&pool)
        .await
        .unwrap(),
        1,
        "one recurring campaign"
    );

    // Every demo user signs in with the demo password.
    let login = format!(
        r#"mutation {{ login(email: "blue.tech@aegis.demo", password: "{DEMO_PASSWORD}") {{ userId }} }}"#
    );
    let signed: Value = graphql(&state, None, &login).await;
    assert!(signed.get("errors").is_none(), "{signed}");
}

#[sqlx::test(migrations = "../migrations")]
async fn the_demo_refuses_a_database_with_other_workflow_data(pool: PgPool) {
    let state = state(&pool);
    let (_, red_lead) = support::signed_in(&state, &[domain::role::Role::RedLead]).await;
    graphql(
        &state,
        Some(&red_lead),
        r#"mutation { planTestCase(plan: { title: "real", objective: "", technique: "T1059", procedure: { kind: MANUAL }, steps: "x" }) { id } }"#,
    )
    .await;
    let refused = demo::load(&pool, &state.identity, false).await.unwrap_err();
    assert!(refused.to_string().contains("--force"), "{refused}");
    assert!(matches!(
        demo::load(&pool, &state.identity, true).await.unwrap(),
        Loaded::Created { .. }
    ));
}
