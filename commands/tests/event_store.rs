//! The write side against a real Postgres: metadata, idempotency, optimistic concurrency, append-only grants
//! and the hash chain. One fresh database per test.
#![allow(clippy::unwrap_used, clippy::too_many_lines)]

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use commands::context::{Actor, Clock, CommandContext, IdempotencyKey, keys};
use commands::hash_chain::{self, ChainVerdict, LinkProblem};
use commands::service::{CommandError, CommandOutcome, CommandService};
use domain::role::Role;
use domain::user::User;
use domain::user::{DisplayName, Email, UserCommand, UserError};
use serde_json::Value;
use sqlx::{PgPool, Row};
use uuid::Uuid;

#[derive(Debug)]
struct FixedClock(DateTime<Utc>);

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        self.0
    }
}

fn fixed_time() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-28T09:30:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

fn users(pool: &PgPool) -> CommandService<User> {
    CommandService::new(pool.clone(), (), Arc::new(FixedClock(fixed_time())))
}

fn admin() -> CommandContext {
    CommandContext::new(Actor::user(Uuid::from_u128(7), [Role::Admin]))
}

fn register(email: &str) -> UserCommand {
    UserCommand::Register {
        email: Email::parse(email).unwrap(),
        display_name: DisplayName::parse("Ada Lovelace").unwrap(),
        roles: BTreeSet::from([Role::RedTech]),
    }
}

fn rename(name: &str) -> UserCommand {
    UserCommand::ChangeDisplayName {
        display_name: DisplayName::parse(name).unwrap(),
    }
}

async fn event_count(pool: &PgPool) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(pool)
        .await
        .unwrap()
}

#[sqlx::test(migrations = "../migrations")]
async fn events_carry_the_actor_the_request_and_the_time(pool: PgPool) {
    let service = users(&pool);
    let context = admin();
    let outcome = service
        .execute(&context, "u1", register("ada@example.org"))
        .await
        .unwrap();
    assert_eq!(
        outcome,
        CommandOutcome {
            aggregate_id: "u1".into(),
            version: 1,
            appended: 1,
            replayed: false
        }
    );
    service
        .execute(&context, "u1", rename("Ada King"))
        .await
        .unwrap();

    let rows = sqlx::query(
        "SELECT sequence, event_type, event_version, metadata FROM events ORDER BY sequence",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(rows.len(), 2);
    let metadata: Value = rows[1].get("metadata");
    assert_eq!(
        rows[1].get::<String, _>("event_type"),
        "UserDisplayNameChanged"
    );
    assert_eq!(rows[1].get::<String, _>("event_version"), "1");
    assert_eq!(metadata[keys::ACTOR_ID], Uuid::from_u128(7).to_string());
    assert_eq!(metadata[keys::ACTOR_ROLES], "admin");
    assert_eq!(
        metadata[keys::CORRELATION_ID],
        context.correlation_id.to_string()
    );
    assert_eq!(metadata[keys::OCCURRED_AT], "2026-11-28T09:30:00.000000Z");
    assert!(metadata.get(keys::IDEMPOTENCY_KEY).is_none());

    assert_eq!(
        hash_chain::verify(&pool).await.unwrap(),
        ChainVerdict::Intact { events: 2 }
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn domain_rejections_append_nothing(pool: PgPool) {
    let service = users(&pool);
    let result = service.execute(&admin(), "u1", rename("Nobody")).await;
    assert!(
        matches!(
            result,
            Err(CommandError::Rejected(UserError::NotRegistered))
        ),
        "{result:?}"
    );
    assert_eq!(event_count(&pool).await, 0);
}

#[sqlx::test(migrations = "../migrations")]
async fn a_retried_idempotency_key_returns_the_first_outcome_and_appends_nothing(pool: PgPool) {
    let service = users(&pool);
    let key = IdempotencyKey::parse("register-ada-1").unwrap();
    let context = admin().with_idempotency_key(key.clone());

    let first = service
        .execute(&context, "u1", register("ada@example.org"))
        .await
        .unwrap();
    // A retry is a new request (new correlation id) with the same key and payload.
    let retry = admin().with_idempotency_key(key.clone());
    let second = service
        .execute(&retry, "u1", register("ada@example.org"))
        .await
        .unwrap();
    assert_eq!(
        second,
        CommandOutcome {
            replayed: true,
            ..first.clone()
        }
    );
    assert_eq!(event_count(&pool).await, 1);

    let different = service
        .execute(&retry, "u1", register("grace@example.org"))
        .await;
    assert!(
        matches!(different, Err(CommandError::IdempotencyKeyReused)),
        "{different:?}"
    );
    let other_aggregate = service
        .execute(&retry, "u2", register("ada@example.org"))
        .await;
    assert!(
        matches!(other_aggregate, Err(CommandError::IdempotencyKeyReused)),
        "{other_aggregate:?}"
    );
    assert_eq!(event_count(&pool).await, 1);

    // The key is the actor's own: another actor may use the same string.
    let someone_else = CommandContext::new(Actor::user(Uuid::from_u128(8), [Role::Admin]))
        .with_idempotency_key(key);
    let theirs = service
        .execute(&someone_else, "u2", register("grace@example.org"))
        .await
        .unwrap();
    assert!(!theirs.replayed);
    assert_eq!(event_count(&pool).await, 2);
}

#[sqlx::test(migrations = "../migrations")]
async fn a_key_on_a_command_that_changed_nothing_is_still_remembered(pool: PgPool) {
    let service = users(&pool);
    service
        .execute(&admin(), "u1", register("ada@example.org"))
        .await
        .unwrap();
    let context = admin().with_idempotency_key(IdempotencyKey::parse("noop").unwrap());
    let unchanged = service
        .execute(&context, "u1", rename("Ada Lovelace"))
        .await
        .unwrap();
    assert_eq!((unchanged.version, unchanged.appended), (1, 0));
    let retried = service
        .execute(&context, "u1", rename("Ada Lovelace"))
        .await
        .unwrap();
    assert_eq!(
        retried,
        CommandOutcome {
            replayed: true,
            ..unchanged
        }
    );
    let reused = service
        .execute(&context, "u1", rename("Someone Else"))
        .await;
    assert!(
        matches!(reused, Err(CommandError::IdempotencyKeyReused)),
        "{reused:?}"
    );
    assert_eq!(event_count(&pool).await, 1);
}

#[sqlx::test(migrations = "../migrations")]
async fn concurrent_retries_with_one_key_append_once(pool: PgPool) {
    let service = Arc::new(users(&pool));
    service
        .execute(&admin(), "u1", register("ada@example.org"))
        .await
        .unwrap();
    let key = IdempotencyKey::parse("rename-once").unwrap();
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let service = Arc::clone(&service);
            let context = admin().with_idempotency_key(key.clone());
            tokio::spawn(async move { service.execute(&context, "u1", rename("Ada King")).await })
        })
        .collect();
    let mut applied = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(outcome) if !outcome.replayed => applied += 1,
            Ok(outcome) => assert_eq!(outcome.version, 2),
            // Two requests may load version 1 together; the loser of the primary-key race is a conflict.
            Err(CommandError::Conflict { .. }) => {}
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(applied, 1);
    assert_eq!(event_count(&pool).await, 2);
}

/// Two commands load the same version of one aggregate while their inserts are held back by a table lock;
/// when the lock goes, exactly one append wins and the other is reported as a conflict.
#[sqlx::test(migrations = "../migrations")]
async fn concurrent_commands_on_one_version_give_one_success_and_one_conflict(pool: PgPool) {
    let service = Arc::new(users(&pool));
    service
        .execute(&admin(), "u1", register("ada@example.org"))
        .await
        .unwrap();

    let mut blocker = pool.begin().await.unwrap();
    sqlx::query("LOCK TABLE events IN SHARE ROW EXCLUSIVE MODE")
        .execute(&mut *blocker)
        .await
        .unwrap();
    let racers: Vec<_> = ["Ada King", "Ada Byron"]
        .into_iter()
        .map(|name| {
            let service = Arc::clone(&service);
            tokio::spawn(async move { service.execute(&admin(), "u1", rename(name)).await })
        })
        .collect();
    wait_for_lock_waiters(&pool, 2).await;
    blocker.rollback().await.unwrap();

    let mut results = Vec::new();
    for racer in racers {
        results.push(racer.await.unwrap());
    }
    let successes = results.iter().filter(|result| result.is_ok()).count();
    let conflicts = results
        .iter()
        .filter(|result| {
            matches!(
                result,
                Err(CommandError::Conflict {
                    aggregate_type: "User",
                    ..
                })
            )
        })
        .count();
    assert_eq!((successes, conflicts), (1, 1), "{results:?}");
    let sequences: Vec<i64> = sqlx::query_scalar(
        "SELECT sequence FROM events WHERE aggregate_id = 'u1' ORDER BY sequence",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(sequences, vec![1, 2]);
    assert_eq!(
        hash_chain::verify(&pool).await.unwrap(),
        ChainVerdict::Intact { events: 2 }
    );
}

async fn wait_for_lock_waiters(pool: &PgPool, waiters: i64) {
    for _ in 0..200 {
        let waiting: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity
              WHERE datname = current_database() AND wait_event_type = 'Lock'",
        )
        .fetch_one(pool)
        .await
        .unwrap();
        if waiting >= waiters {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the commands never reached their inserts");
}

#[sqlx::test(migrations = "../migrations")]
async fn the_application_role_may_append_and_read_but_never_rewrite(pool: PgPool) {
    users(&pool)
        .execute(&admin(), "u1", register("ada@example.org"))
        .await
        .unwrap();
    let mut connection = pool.acquire().await.unwrap();
    sqlx::query("SET ROLE aegis_app")
        .execute(&mut *connection)
        .await
        .unwrap();

    let read: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(&mut *connection)
        .await
        .unwrap();
    assert_eq!(read, 1);
    for statement in [
        "UPDATE events SET payload = '{}'",
        "DELETE FROM events",
        "TRUNCATE events",
        "ALTER TABLE events DISABLE TRIGGER USER",
    ] {
        let error = sqlx::query(statement)
            .execute(&mut *connection)
            .await
            .unwrap_err();
        let code = error
            .as_database_error()
            .and_then(sqlx::error::DatabaseError::code)
            .unwrap();
        // 42501 insufficient_privilege; 42501 is also what the append-only trigger raises.
        assert!(code == "42501", "{statement}: {error}");
    }
    sqlx::query("RESET ROLE")
        .execute(&mut *connection)
        .await
        .unwrap();

    // Even the owner is stopped by the append-only triggers.
    let error = sqlx::query("DELETE FROM events")
        .execute(&pool)
        .await
        .unwrap_err();
    assert!(error.to_string().contains("append-only"), "{error}");
}

/// Edits history the way only a DBA could (triggers bypassed), and expects verification to name the link.
#[sqlx::test(migrations = "../migrations")]
async fn verification_catches_edits_behind_the_applications_back(pool: PgPool) {
    let service = users(&pool);
    for id in ["u1", "u2"] {
        service
            .execute(&admin(), id, register(&format!("{id}@example.org")))
            .await
            .unwrap();
        service
            .execute(&admin(), id, rename("Ada King"))
            .await
            .unwrap();
        service
            .execute(&admin(), id, rename("Ada Byron"))
            .await
            .unwrap();
    }
    assert_eq!(
        hash_chain::verify(&pool).await.unwrap(),
        ChainVerdict::Intact { events: 6 }
    );
    let global_seq = |id: &'static str, sequence: i64| {
        let pool = pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>(
                "SELECT global_seq FROM events WHERE aggregate_id = $1 AND sequence = $2",
            )
            .bind(id)
            .bind(sequence)
            .fetch_one(&pool)
            .await
            .unwrap()
        }
    };

    let mut dba = pool.acquire().await.unwrap();
    sqlx::query("SET session_replication_role = replica")
        .execute(&mut *dba)
        .await
        .unwrap();

    // 1. A payload edited in place.
    sqlx::query(
        r#"UPDATE events SET payload = '{"DisplayNameChanged":{"display_name":"Mallory"}}'
            WHERE aggregate_id = 'u2' AND sequence = 2"#,
    )
    .execute(&mut *dba)
    .await
    .unwrap();
    let ChainVerdict::Broken(link) = hash_chain::verify(&pool).await.unwrap() else {
        panic!("an edited payload went unnoticed");
    };
    assert_eq!(
        (link.global_seq, link.aggregate_id.as_str(), link.sequence),
        (global_seq("u2", 2).await, "u2", 2)
    );
    assert!(
        matches!(link.problem, LinkProblem::ContentAltered { .. }),
        "{link}"
    );
    assert!(link.to_string().contains("content was altered"), "{link}");

    // 2. The same edit with the event's own hash recomputed: the next event no longer points at it.
    let (prev, altered): (Vec<u8>, Value) = {
        let row = sqlx::query(
            "SELECT prev_hash, payload FROM events WHERE aggregate_id = 'u2' AND sequence = 2",
        )
        .fetch_one(&mut *dba)
        .await
        .unwrap();
        (row.get("prev_hash"), row.get("payload"))
    };
    let metadata: Value = sqlx::query_scalar(
        "SELECT metadata FROM events WHERE aggregate_id = 'u2' AND sequence = 2",
    )
    .fetch_one(&mut *dba)
    .await
    .unwrap();
    let forged = hash_chain::ChainedEvent {
        aggregate_type: "User",
        aggregate_id: "u2",
        sequence: 2,
        event_type: "UserDisplayNameChanged",
        event_version: "1",
        payload: &altered,
        metadata: &metadata,
    }
    .hash(&prev.try_into().unwrap());
    sqlx::query("UPDATE events SET hash = $1 WHERE aggregate_id = 'u2' AND sequence = 2")
        .bind(forged.as_slice())
        .execute(&mut *dba)
        .await
        .unwrap();
    let ChainVerdict::Broken(link) = hash_chain::verify(&pool).await.unwrap() else {
        panic!("a re-hashed edit went unnoticed");
    };
    assert_eq!((link.aggregate_id.as_str(), link.sequence), ("u2", 3));
    assert!(
        matches!(link.problem, LinkProblem::PrevHashMismatch { .. }),
        "{link}"
    );

    // 3. An event removed from the middle of a stream (the first broken link in global order is reported).
    sqlx::query("DELETE FROM events WHERE aggregate_id = 'u1' AND sequence = 2")
        .execute(&mut *dba)
        .await
        .unwrap();
    let ChainVerdict::Broken(link) = hash_chain::verify(&pool).await.unwrap() else {
        panic!("a deleted event went unnoticed");
    };
    assert_eq!((link.aggregate_id.as_str(), link.sequence), ("u1", 3));
    assert_eq!(link.problem, LinkProblem::SequenceGap { expected: 2 });
}

#[sqlx::test(migrations = "../migrations")]
async fn events_load_back_through_postgres_es_reads(pool: PgPool) {
    let service = users(&pool);
    service
        .execute(&admin(), "u1", register("ada@example.org"))
        .await
        .unwrap();
    service
        .execute(
            &admin(),
            "u1",
            UserCommand::GrantRole {
                role: Role::BlueLead,
            },
        )
        .await
        .unwrap();
    // The third command is decided on state rebuilt from the stored events.
    let result = service
        .execute(
            &admin(),
            "u1",
            UserCommand::GrantRole {
                role: Role::BlueLead,
            },
        )
        .await;
    assert!(matches!(
        result,
        Err(CommandError::Rejected(UserError::RoleAlreadyGranted(
            Role::BlueLead
        )))
    ));
}
