//! The audit log's lines: actors named as they were called when they acted, whatever the batch size, and the
//! same lines after a rebuild.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use projections::audit_log::AuditLog;
use projections::projector::{Projection, Projector, ProjectorSettings};
use serde_json::{Value, json};
use sqlx::PgPool;

fn projector(pool: &PgPool, batch_size: i64) -> Projector {
    let projections: Vec<Arc<dyn Projection>> = vec![Arc::new(AuditLog)];
    let settings = ProjectorSettings {
        batch_size,
        ..ProjectorSettings::default()
    };
    Projector::new(pool.clone(), projections, settings)
}

const USER: &str = "00000000-0000-0000-0000-000000000001";
const ADMIN: &str = "00000000-0000-0000-0000-000000000002";

/// Appends an event with `actor_id` in its metadata (the chain's hashes are irrelevant here).
async fn append(
    pool: &PgPool,
    (aggregate_type, aggregate_id, sequence): (&str, &str, i64),
    event_type: &str,
    payload: Value,
    actor_id: &str,
) {
    sqlx::query(
        "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload,
                             metadata, prev_hash, hash)
         VALUES ($1, $2, $3, $4, '1', $5, $6, $7, $8)",
    )
    .bind(aggregate_type)
    .bind(aggregate_id)
    .bind(sequence)
    .bind(event_type)
    .bind(payload)
    .bind(json!({ "actor_id": actor_id, "occurred_at": "2026-01-05T10:00:00Z" }))
    .bind(vec![0_u8; 32])
    .bind(vec![u8::try_from(sequence).unwrap(); 32])
    .execute(pool)
    .await
    .unwrap();
}

async fn lines(pool: &PgPool) -> Vec<String> {
    sqlx::query_scalar("SELECT summary FROM audit_log ORDER BY global_seq")
        .fetch_all(pool)
        .await
        .unwrap()
}

async fn dump(pool: &PgPool) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT audit_log::text FROM audit_log
          UNION ALL SELECT audit_log_user_emails::text FROM audit_log_user_emails ORDER BY 1",
    )
    .fetch_all(pool)
    .await
    .unwrap()
}

#[sqlx::test(migrations = "../migrations")]
async fn actors_are_named_as_they_were_when_they_acted_and_a_rebuild_agrees(pool: PgPool) {
    let registered = json!({ "Registered": {
        "email": "old@aegis.test", "display_name": "Olga", "roles": ["red_lead"] } });
    append(
        &pool,
        ("User", USER, 1),
        "UserRegistered",
        registered,
        "system:cli",
    )
    .await;
    append(
        &pool,
        ("User", ADMIN, 1),
        "UserRegistered",
        json!({ "Registered": {
        "email": "admin@aegis.test", "display_name": "Ada", "roles": ["admin"] } }),
        "system:cli",
    )
    .await;
    append(
        &pool,
        ("User", USER, 2),
        "UserRoleGranted",
        json!({ "RoleGranted": { "role": "blue_lead" } }),
        ADMIN,
    )
    .await;
    append(
        &pool,
        ("User", USER, 3),
        "UserEmailChanged",
        json!({ "EmailChanged": { "email": "new@aegis.test" } }),
        USER,
    )
    .await;
    append(&pool, ("Probe", "p1", 1), "ProbeRecorded", json!({}), USER).await;

    let live = projector(&pool, 2);
    live.catch_up().await.unwrap();
    assert_eq!(
        lines(&pool).await,
        [
            "system:cli registered user old@aegis.test (Olga) with roles red_lead",
            "system:cli registered user admin@aegis.test (Ada) with roles admin",
            "admin@aegis.test granted role blue_lead (user old@aegis.test)",
            "old@aegis.test changed the e-mail address to new@aegis.test",
            "new@aegis.test recorded ProbeRecorded on Probe",
        ]
    );
    let hash: Vec<u8> =
        sqlx::query_scalar("SELECT hash FROM audit_log WHERE aggregate_id = $1 AND sequence = 3")
            .bind(USER)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(hash, vec![3_u8; 32], "the event's own hash");

    let before = dump(&pool).await;
    let one_by_one = projector(&pool, 1);
    assert_eq!(one_by_one.rebuild(None).await.unwrap(), ["audit_log"]);
    assert_eq!(dump(&pool).await, before);
}
