//! The catch-up projector against a real Postgres: gapless order under concurrent writers, exactly-once
//! effect, rebuild, lag and leadership.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use projections::audit_log::{AuditLog, history};
use projections::event_totals::{self, EventTotals};
use projections::leader::{Election, lead_while_elected};
use projections::projector::{Projection, Projector, ProjectorSettings};
use sqlx::{PgConnection, PgPool};
use tokio_util::sync::CancellationToken;

fn projector(pool: &PgPool, batch_size: i64) -> Projector {
    let projections: Vec<Arc<dyn Projection>> = vec![Arc::new(AuditLog), Arc::new(EventTotals)];
    let settings = ProjectorSettings {
        batch_size,
        ..ProjectorSettings::default()
    };
    Projector::new(pool.clone(), projections, settings)
}

/// Appends an event the way the command layer does (the chain's hashes are irrelevant to projections).
async fn append(connection: &mut PgConnection, aggregate_id: &str, sequence: i64) -> i64 {
    sqlx::query_scalar(
        r#"INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload,
                              metadata, prev_hash, hash)
           VALUES ('Probe', $1, $2, 'ProbeRecorded', '1', '{}',
                   '{"actor_id":"tester","occurred_at":"2026-11-28T10:00:00Z"}', $3, $3)
           RETURNING global_seq"#,
    )
    .bind(aggregate_id)
    .bind(sequence)
    .bind(vec![0_u8; 32])
    .fetch_one(connection)
    .await
    .unwrap()
}

async fn projected(pool: &PgPool) -> Vec<(String, i64)> {
    sqlx::query_as("SELECT aggregate_id, sequence FROM audit_log ORDER BY global_seq")
        .fetch_all(pool)
        .await
        .unwrap()
}

/// Writer A takes a transaction id and appends, then stays open; writer B appends and commits after it. B's
/// event is visible first and even has the larger global_seq, so a reader that checkpoints on the largest
/// global_seq it has seen would never go back for A's. Ours holds B back until A ends, then sees both once.
#[sqlx::test(migrations = "../migrations")]
async fn an_event_committed_late_by_a_slow_transaction_is_never_skipped(pool: PgPool) {
    let projector = projector(&pool, 100);
    let mut early = pool.acquire().await.unwrap();
    append(&mut early, "before", 1).await;
    drop(early);
    projector.catch_up().await.unwrap();

    let mut slow = pool.begin().await.unwrap();
    let slow_seq = append(&mut slow, "slow", 1).await;
    let mut fast = pool.begin().await.unwrap();
    let fast_seq = append(&mut fast, "fast", 1).await;
    append(&mut fast, "fast", 2).await;
    fast.commit().await.unwrap();
    assert!(
        slow_seq < fast_seq,
        "the slow writer's event precedes in global_seq but commits later"
    );

    projector.drain().await.unwrap();
    assert_eq!(projected(&pool).await, vec![("before".to_owned(), 1)]);

    slow.commit().await.unwrap();
    projector.catch_up().await.unwrap();
    let mut seen = projected(&pool).await;
    assert_eq!(seen.len(), 4, "every event exactly once: {seen:?}");
    let fast_order: Vec<i64> = seen
        .iter()
        .filter(|(id, _)| id == "fast")
        .map(|(_, sequence)| *sequence)
        .collect();
    assert_eq!(fast_order, vec![1, 2], "per-aggregate order holds");
    seen.sort();
    assert_eq!(
        seen,
        vec![
            ("before".into(), 1),
            ("fast".into(), 1),
            ("fast".into(), 2),
            ("slow".into(), 1)
        ]
    );
    assert_eq!(event_totals::total(&pool).await.unwrap(), 4);
}

/// Many writers commit while two projectors race; the audit log's primary key would reject any event
/// applied twice, and the count proves none was missed.
#[sqlx::test(migrations = "../migrations")]
async fn concurrent_writers_and_projectors_apply_every_event_exactly_once(pool: PgPool) {
    let writers: Vec<_> = (0..4)
        .map(|writer| {
            let pool = pool.clone();
            tokio::spawn(async move {
                for sequence in 1..=50 {
                    let mut transaction = pool.begin().await.unwrap();
                    append(&mut transaction, &format!("writer-{writer}"), sequence).await;
                    if sequence % 7 == 0 {
                        tokio::time::sleep(Duration::from_millis(3)).await;
                    }
                    transaction.commit().await.unwrap();
                }
            })
        })
        .collect();
    let projectors: Vec<_> = (0..2)
        .map(|_| {
            let projector = projector(&pool, 16);
            tokio::spawn(async move {
                for _ in 0..40 {
                    projector.catch_up().await.unwrap();
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            })
        })
        .collect();
    for task in writers.into_iter().chain(projectors) {
        task.await.unwrap();
    }
    projector(&pool, 16).catch_up().await.unwrap();

    assert_eq!(projected(&pool).await.len(), 200);
    assert_eq!(event_totals::total(&pool).await.unwrap(), 200);
    for writer in 0..4 {
        let sequences: Vec<i64> = history(&pool, "Probe", &format!("writer-{writer}"))
            .await
            .unwrap()
            .into_iter()
            .map(|entry| entry.sequence)
            .collect();
        assert_eq!(sequences, (1..=50).collect::<Vec<_>>());
    }
}

async fn dump(pool: &PgPool) -> (Vec<String>, Vec<String>) {
    let audit = sqlx::query_scalar("SELECT audit_log::text FROM audit_log ORDER BY global_seq")
        .fetch_all(pool)
        .await
        .unwrap();
    let totals = sqlx::query_scalar("SELECT event_totals::text FROM event_totals ORDER BY 1")
        .fetch_all(pool)
        .await
        .unwrap();
    (audit, totals)
}

#[sqlx::test(migrations = "../migrations")]
async fn a_rebuild_reproduces_the_live_read_models_exactly(pool: PgPool) {
    let live = projector(&pool, 7);
    let mut connection = pool.acquire().await.unwrap();
    for sequence in 1..=30 {
        append(
            &mut connection,
            &format!("aggregate-{}", sequence % 4),
            sequence,
        )
        .await;
        if sequence % 10 == 0 {
            live.catch_up().await.unwrap();
        }
    }
    live.catch_up().await.unwrap();
    let before = dump(&pool).await;
    assert_eq!(before.0.len(), 30);

    assert_eq!(
        live.rebuild(None).await.unwrap(),
        vec!["audit_log", "event_totals"]
    );
    assert_eq!(dump(&pool).await, before);

    // Rebuilding one projection leaves the other untouched and still converges.
    assert_eq!(
        live.reset(Some("event_totals")).await.unwrap(),
        vec!["event_totals"]
    );
    assert_eq!(dump(&pool).await.1, Vec::<String>::new());
    live.catch_up().await.unwrap();
    assert_eq!(dump(&pool).await, before);

    let unknown = live.reset(Some("nonsense")).await.unwrap_err();
    assert!(
        unknown.to_string().contains("audit_log, event_totals"),
        "{unknown}"
    );
}

async fn indexes(pool: &PgPool) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT indexdef FROM pg_indexes WHERE tablename IN ('audit_log', 'event_totals') ORDER BY indexname",
    )
    .fetch_all(pool)
    .await
    .unwrap()
}

/// Counts events like `EventTotals` but fails on the event whose aggregate is `poison`.
struct FailsOnPoison;

#[async_trait::async_trait]
impl Projection for FailsOnPoison {
    fn name(&self) -> &'static str {
        "event_totals"
    }

    fn tables(&self) -> &'static [&'static str] {
        &["event_totals"]
    }

    async fn apply(
        &self,
        connection: &mut PgConnection,
        events: &[projections::projector::StoredEvent],
    ) -> Result<(), sqlx::Error> {
        if events.iter().any(|event| event.aggregate_id == "poison") {
            return Err(sqlx::Error::Protocol("poisoned".to_owned()));
        }
        EventTotals.apply(connection, events).await
    }
}

/// A rebuild drops the secondary indexes while it fills the tables and builds them again; when it fails, the
/// read models are as they were, indexes included, and the checkpoints too.
#[sqlx::test(migrations = "../migrations")]
async fn a_rebuild_restores_the_indexes_and_a_failed_one_changes_nothing(pool: PgPool) {
    let live = projector(&pool, 4);
    let mut connection = pool.acquire().await.unwrap();
    for sequence in 1..=10 {
        append(&mut connection, "healthy", sequence).await;
    }
    live.catch_up().await.unwrap();
    let indexes_before = indexes(&pool).await;
    assert!(indexes_before.len() > 3, "{indexes_before:?}");
    let before = dump(&pool).await;

    live.rebuild(None).await.unwrap();
    assert_eq!(indexes(&pool).await, indexes_before);
    assert_eq!(dump(&pool).await, before);

    append(&mut connection, "poison", 1).await;
    let failing = Projector::new(
        pool.clone(),
        vec![Arc::new(AuditLog), Arc::new(FailsOnPoison)],
        ProjectorSettings {
            batch_size: 4,
            ..ProjectorSettings::default()
        },
    );
    let error = failing.rebuild(None).await.unwrap_err();
    assert!(error.to_string().contains("poisoned"), "{error}");
    assert_eq!(indexes(&pool).await, indexes_before);
    assert_eq!(dump(&pool).await, before);
    let lag = live.lag().await.unwrap();
    assert!(
        lag.iter()
            .all(|lag| lag.events_behind == 1 && lag.events_applied == 10),
        "{lag:?}"
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn lag_counts_committed_events_not_yet_applied(pool: PgPool) {
    let projector = projector(&pool, 100);
    let mut connection = pool.acquire().await.unwrap();
    for sequence in 1..=3 {
        append(&mut connection, "lagging", sequence).await;
    }
    let lag = projector.lag().await.unwrap();
    assert_eq!(
        lag.iter().map(|lag| lag.events_behind).collect::<Vec<_>>(),
        vec![3, 3]
    );
    assert!(lag[0].oldest_pending_at.is_some());

    projector.catch_up().await.unwrap();
    let lag = projector.lag().await.unwrap();
    assert_eq!(
        lag.iter()
            .map(|lag| (lag.events_behind, lag.events_applied))
            .collect::<Vec<_>>(),
        vec![(0, 3), (0, 3)]
    );
    assert!(lag[0].oldest_pending_at.is_none());
}

#[sqlx::test(migrations = "../migrations")]
async fn a_running_projector_follows_new_commits(pool: PgPool) {
    let shutdown = CancellationToken::new();
    let running = {
        let projector = projector(&pool, 100);
        let shutdown = shutdown.clone();
        tokio::spawn(async move { projector.run(shutdown).await })
    };
    let mut connection = pool.acquire().await.unwrap();
    append(&mut connection, "live", 1).await;
    // Up to ten seconds: on a busy machine an open transaction elsewhere in the cluster holds the event back.
    for _ in 0..500 {
        if projected(&pool).await.len() == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(projected(&pool).await.len(), 1);
    shutdown.cancel();
    running.await.unwrap().unwrap();
}

/// Two contenders for one lock: exactly one leads; when it stops, the other takes over.
#[sqlx::test(migrations = "../migrations")]
async fn one_leader_at_a_time_and_a_follower_takes_over(pool: PgPool) {
    let election = Election {
        lock_key: 42,
        interval: Duration::from_millis(100),
    };
    let leading = Arc::new(AtomicUsize::new(0));
    let ever_led = Arc::new(AtomicUsize::new(0));
    let contenders: Vec<(CancellationToken, tokio::task::JoinHandle<()>)> = (0..2)
        .map(|_| {
            let shutdown = CancellationToken::new();
            let pool = pool.clone();
            let (leading, ever_led) = (Arc::clone(&leading), Arc::clone(&ever_led));
            let token = shutdown.clone();
            let task = tokio::spawn(async move {
                lead_while_elected(
                    &pool,
                    election,
                    token,
                    |_| {},
                    move |stop: CancellationToken| {
                        let (leading, ever_led) = (Arc::clone(&leading), Arc::clone(&ever_led));
                        async move {
                            let now = leading.fetch_add(1, Ordering::SeqCst) + 1;
                            assert_eq!(now, 1, "two leaders at once");
                            ever_led.fetch_add(1, Ordering::SeqCst);
                            stop.cancelled().await;
                            leading.fetch_sub(1, Ordering::SeqCst);
                        }
                    },
                )
                .await;
            });
            (shutdown, task)
        })
        .collect();

    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(leading.load(Ordering::SeqCst), 1);
    assert_eq!(ever_led.load(Ordering::SeqCst), 1);

    // Stop whichever leads: the other must take over.
    let mut remaining = Vec::new();
    for (shutdown, task) in contenders {
        remaining.push((shutdown, task));
    }
    let (first_shutdown, first_task) = remaining.remove(0);
    first_shutdown.cancel();
    first_task.await.unwrap();
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(leading.load(Ordering::SeqCst), 1, "the survivor leads");
    let (last_shutdown, last_task) = remaining.remove(0);
    last_shutdown.cancel();
    last_task.await.unwrap();
    assert_eq!(leading.load(Ordering::SeqCst), 0);
}
