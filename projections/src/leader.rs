//! One leader among several Aegis processes, chosen by a Postgres advisory lock.
//!
//! The lock is held by a dedicated connection: when the leader process dies, Postgres drops the connection and
//! with it the lock, and the next process to try takes over. A leader also checks its lock connection
//! regularly and steps down when the connection is lost (the server may have restarted and given the lock to
//! someone else).

use std::future::Future;
use std::time::Duration;

use sqlx::{Connection, PgConnection, PgPool};
use tokio_util::sync::CancellationToken;

/// The advisory lock key of the projector leader ("aegis" in ASCII, then 1).
pub const PROJECTOR_LOCK: i64 = 0x6165_6769_7300_0001;

/// Tuning for [`lead_while_elected`].
#[derive(Debug, Clone, Copy)]
pub struct Election {
    pub lock_key: i64,
    /// How often a follower tries to take the lock, and how often a leader checks it still holds it.
    pub interval: Duration,
}

impl Default for Election {
    fn default() -> Self {
        Self {
            lock_key: PROJECTOR_LOCK,
            interval: Duration::from_secs(1),
        }
    }
}

/// Repeatedly tries to become leader; while leader, runs `work` with a token that is cancelled when
/// leadership is lost or `shutdown` is cancelled. Returns when `shutdown` is cancelled. `on_change` is told
/// every change of leadership (for `/ready` and metrics).
pub async fn lead_while_elected<W, F>(
    pool: &PgPool,
    election: Election,
    shutdown: CancellationToken,
    on_change: impl Fn(bool) + Send,
    mut work: W,
) where
    W: FnMut(CancellationToken) -> F + Send,
    F: Future<Output = ()> + Send,
{
    while !shutdown.is_cancelled() {
        match try_lock(pool, election.lock_key).await {
            Ok(Some(mut connection)) => {
                tracing::info!("elected leader: running projectors");
                on_change(true);
                let stop = shutdown.child_token();
                let work_done = work(stop.clone());
                tokio::pin!(work_done);
                loop {
                    tokio::select! {
                        () = &mut work_done => break,
                        () = tokio::time::sleep(election.interval) => {
                            if let Err(error) = connection.ping().await {
                                tracing::warn!(%error, "lost the leader lock's connection; stepping down");
                                stop.cancel();
                            }
                        }
                    }
                }
                on_change(false);
                // Unlocking explicitly lets a follower take over at once rather than at its next attempt.
                let _unlocked = sqlx::query("SELECT pg_advisory_unlock($1)")
                    .bind(election.lock_key)
                    .execute(&mut connection)
                    .await;
                let _closed = connection.close().await;
            }
            Ok(None) => {}
            Err(error) => tracing::warn!(%error, "could not try the leader lock"),
        }
        tokio::select! {
            () = shutdown.cancelled() => {}
            () = tokio::time::sleep(election.interval) => {}
        }
    }
}

/// A fresh connection holding the lock, or `None` when another process holds it.
async fn try_lock(pool: &PgPool, lock_key: i64) -> Result<Option<PgConnection>, sqlx::Error> {
    let mut connection = PgConnection::connect_with(&pool.connect_options()).await?;
    let locked: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
        .bind(lock_key)
        .fetch_one(&mut connection)
        .await?;
    if locked {
        Ok(Some(connection))
    } else {
        connection.close().await?;
        Ok(None)
    }
}
