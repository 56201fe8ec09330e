//! Reads from an optional physical streaming replica (`AEGIS_READ_DATABASE_URL`), writes to the primary, and
//! every client reads its own writes.
//!
//! # Routing
//! A GraphQL request whose operations are all queries runs with the replica's pool as [`AppState::pool`];
//! mutations, subscriptions, sign-in checks, the projectors, the scheduler and `/ready` keep the primary (their
//! pools are the primary's, whatever the request).
//!
//! # Reading your own writes
//! Replication is asynchronous: a replica may not yet hold what a client has just written. So after a mutation
//! the server reads the primary's WAL insert position, `pg_current_wal_insert_lsn()`. The mutation's
//! transactions have committed by then, so their commit records lie before that position, whatever
//! `synchronous_commit` says (the write position, `pg_current_wal_lsn()`, can lag behind a commit when commits
//! are asynchronous). The position goes back to the client as the `Aegis-Write-LSN` header and the
//! `aegis_write_lsn` cookie; browsers return the cookie by themselves, scripts send the header back. A query
//! that carries a position waits until the replica has replayed that far (`pg_last_wal_replay_lsn()`), at most
//! [`REPLICA_WAIT`], and otherwise reads from the primary. The position travels with the client, so every
//! replica behind any load balancer honours it, and nothing is shared between processes.
//!
//! What the events themselves show (history, the audit log) is then the client's write at once; what read
//! models show still follows the projector, as it does on the primary.
//!
//! # When the standby is down or behind
//! A standby is an optimisation, never a dependency: queries read from the primary whenever it cannot serve
//! them, and `/ready` does not depend on it (it reports it). A query only goes to the standby once a connection
//! to it has been obtained within [`REPLICA_WAIT`]; when that fails the standby counts as unavailable
//! (`aegis_read_replica_available` 0, one warning) and queries read from the primary without trying it, while
//! a background probe tries again after a back-off (1 s, doubling up to [`MAX_PROBE_BACK_OFF`]). The first
//! probe that connects makes it available again (one info line). A standby that answers but has not replayed
//! a client's write within [`REPLICA_WAIT`] serves that query from the primary too
//! (`aegis_read_replica_fallbacks_total{reason="lagging"}`, a warning at most every [`LAG_WARNING_INTERVAL`]).
//! So no query waits for the standby longer than [`REPLICA_WAIT`] plus one round trip. A query already running
//! on the standby when it stops fails like one running on a primary that stops; the client's retry reads from
//! the primary.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use async_graphql::parser::types::OperationType;
use axum::http::{HeaderMap, HeaderValue, header};
use sqlx::PgPool;
use sqlx::pool::PoolConnection;
use sqlx::postgres::Postgres;

use crate::state::AppState;

/// The response header (and what a client sends back) carrying the primary's WAL position after a mutation.
pub const WRITE_LSN_HEADER: &str = "aegis-write-lsn";
/// The cookie carrying the same position for browsers.
pub const WRITE_LSN_COOKIE: &str = "aegis_write_lsn";

/// How long a query waits for the standby (a connection to it, and its replay of the client's write) before
/// reading from the primary: replication on a healthy network takes milliseconds, and a second is still a
/// tolerable page load.
pub const REPLICA_WAIT: Duration = Duration::from_secs(1);

/// The first wait before a standby found unavailable is tried again; each failed try doubles it.
pub const FIRST_PROBE_BACK_OFF: Duration = Duration::from_secs(1);

/// The longest wait between tries of an unavailable standby: how long, at worst, reads stay on the primary
/// after the standby is back.
pub const MAX_PROBE_BACK_OFF: Duration = Duration::from_secs(10);

/// A lagging standby is reported at most this often, however many queries it sends to the primary.
pub const LAG_WARNING_INTERVAL: Duration = Duration::from_secs(10);

/// How often a waiting query asks the replica how far it has replayed.
const REPLAY_POLL: Duration = Duration::from_millis(2);

/// How long the browser keeps the position: far longer than any replica that is still useful lags.
const COOKIE_MAX_AGE_SECONDS: u32 = 300;

/// A WAL position, `pg_lsn`'s text form `X/Y` (two hexadecimal halves of a 64-bit byte position).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Lsn(u64);

impl Lsn {
    pub fn parse(text: &str) -> Option<Self> {
        let (high, low) = text.trim().split_once('/')?;
        let high = u32::from_str_radix(high, 16).ok()?;
        let low = u32::from_str_radix(low, 16).ok()?;
        Some(Self((u64::from(high) << 32) | u64::from(low)))
    }
}

impl std::fmt::Display for Lsn {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "{:X}/{:X}", self.0 >> 32, self.0 & 0xFFFF_FFFF)
    }
}

/// The standby's pool and whether it has answered lately (shared by every request of this process).
#[derive(Debug, Clone)]
pub struct ReadReplica {
    pool: PgPool,
    health: Arc<Mutex<Health>>,
}

#[derive(Debug, Default)]
struct Health {
    /// `None` while the standby answers.
    outage: Option<Outage>,
    /// When a lagging standby was last reported.
    lag_reported_at: Option<Instant>,
}

#[derive(Debug)]
struct Outage {
    since: Instant,
    /// When the next probe may start.
    probe_at: Instant,
    /// The wait after the next failed probe.
    back_off: Duration,
    /// Whether a probe is running (one at a time).
    probing: bool,
}

/// Where a query reads from, and why not from the standby.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ReadFrom {
    Replica,
    /// The standby is unavailable (found so now, or earlier and not answering since).
    PrimaryReplicaUnavailable,
    /// The standby answers but has not replayed the client's write in time (or is not a standby at all).
    PrimaryReplicaLagging,
}

impl ReadReplica {
    /// Reads from `pool`, a pool on the standby whose connections are made on demand (so that a standby
    /// that is down does not stop the server from starting). The standby is tried once now: what it answers
    /// is logged, and one that does not answer starts out unavailable.
    pub async fn open(pool: PgPool) -> Self {
        let replica = Self {
            pool,
            health: Arc::default(),
        };
        match replica.connection().await {
            Ok(mut connection) => {
                let standby = sqlx::query_scalar::<_, bool>("SELECT pg_is_in_recovery()")
                    .fetch_one(&mut *connection)
                    .await;
                if !matches!(standby, Ok(true)) {
                    tracing::warn!(
                        "AEGIS_READ_DATABASE_URL is not a streaming standby; queries read from it, but clients \
                         that have just written read from the primary"
                    );
                }
            }
            Err(error) => replica.mark_unavailable(&error),
        }
        replica
    }

    /// Whether the standby currently counts as available (what `/ready` and `/metrics` report).
    pub fn is_available(&self) -> bool {
        self.health().outage.is_none()
    }

    /// Where a query that must see `written` (the client's last write, if any) reads from.
    async fn read_from(&self, written: Option<Lsn>) -> ReadFrom {
        if !self.worth_trying() {
            return ReadFrom::PrimaryReplicaUnavailable;
        }
        let deadline = Instant::now() + REPLICA_WAIT;
        let mut connection = match self.connection().await {
            Ok(connection) => connection,
            Err(error) => {
                self.mark_unavailable(&error);
                return ReadFrom::PrimaryReplicaUnavailable;
            }
        };
        let Some(written) = written else {
            return ReadFrom::Replica;
        };
        match wait_for_replay(&mut connection, written, deadline).await {
            Ok(Replay::CaughtUp) => ReadFrom::Replica,
            Ok(Replay::Behind(replayed)) => {
                self.report_lag(written, replayed);
                ReadFrom::PrimaryReplicaLagging
            }
            Err(error) => {
                self.mark_unavailable(&error);
                ReadFrom::PrimaryReplicaUnavailable
            }
        }
    }

    /// A connection to the standby within [`REPLICA_WAIT`] (an idle one is pinged first by the pool).
    async fn connection(&self) -> Result<PoolConnection<Postgres>, String> {
        match tokio::time::timeout(REPLICA_WAIT, self.pool.acquire()).await {
            Ok(Ok(connection)) => Ok(connection),
            Ok(Err(error)) => Err(error.to_string()),
            Err(_) => Err(format!(
                "no connection within {REPLICA_WAIT:?} (the standby is down, unreachable or saturated)"
            )),
        }
    }

    fn health(&self) -> std::sync::MutexGuard<'_, Health> {
        // The state is a few plain fields, consistent after any panic.
        self.health.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether a query should try the standby: yes while it is available; while it is not, no, and a probe
    /// starts in the background when one is due.
    fn worth_trying(&self) -> bool {
        let mut health = self.health();
        let Some(outage) = &mut health.outage else {
            return true;
        };
        if !outage.probing && Instant::now() >= outage.probe_at {
            outage.probing = true;
            let replica = self.clone();
            tokio::spawn(async move { replica.probe().await });
        }
        false
    }

    /// Tries the unavailable standby once: available again when it gives a connection, otherwise the next
    /// try waits twice as long (up to [`MAX_PROBE_BACK_OFF`]).
    async fn probe(&self) {
        let result = self.connection().await;
        let mut health = self.health();
        let Some(outage) = &mut health.outage else {
            return;
        };
        match result {
            Ok(_connection) => {
                tracing::info!(
                    unavailable_for = ?outage.since.elapsed(),
                    "the read replica answers again: queries read from it"
                );
                health.outage = None;
            }
            Err(error) => {
                tracing::debug!(%error, next_try_in = ?outage.back_off, "the read replica still does not answer");
                outage.probe_at = Instant::now() + outage.back_off;
                outage.back_off = (outage.back_off * 2).min(MAX_PROBE_BACK_OFF);
                outage.probing = false;
            }
        }
    }

    fn mark_unavailable(&self, error: &str) {
        let mut health = self.health();
        if health.outage.is_some() {
            return;
        }
        tracing::warn!(
            %error,
            next_try_in = ?FIRST_PROBE_BACK_OFF,
            "the read replica is unavailable: queries read from the primary until it answers again"
        );
        let now = Instant::now();
        health.outage = Some(Outage {
            since: now,
            probe_at: now + FIRST_PROBE_BACK_OFF,
            back_off: (FIRST_PROBE_BACK_OFF * 2).min(MAX_PROBE_BACK_OFF),
            probing: false,
        });
    }

    fn report_lag(&self, written: Lsn, replayed: Option<Lsn>) {
        let mut health = self.health();
        let now = Instant::now();
        if health
            .lag_reported_at
            .is_some_and(|reported| now.duration_since(reported) < LAG_WARNING_INTERVAL)
        {
            return;
        }
        health.lag_reported_at = Some(now);
        let replayed = replayed.map_or_else(
            || "nothing (not a standby)".to_owned(),
            |lsn| lsn.to_string(),
        );
        tracing::warn!(
            %written,
            %replayed,
            "the read replica has not replayed a client's write within {REPLICA_WAIT:?}: that client reads from \
             the primary (reported at most every {LAG_WARNING_INTERVAL:?})"
        );
    }
}

/// What [`route`] decided for one GraphQL request.
#[derive(Debug)]
pub enum Route {
    /// No replica, or a request that must not read from it: nothing to do afterwards.
    Primary,
    /// A mutation with a replica configured: its response carries the write position.
    Write {
        primary: PgPool,
        secure_cookie: bool,
    },
}

/// Which pool the request reads from (see the module docs); a query runs with the replica's pool when the
/// replica answers and has replayed the client's last write.
pub async fn route(
    state: &AppState,
    headers: &HeaderMap,
    mut request: async_graphql::Request,
) -> (async_graphql::Request, Route) {
    let Some(replica) = &state.read_replica else {
        return (request, Route::Primary);
    };
    // A document that does not parse fails the same way on either pool; the executor reports it.
    let operations: Vec<OperationType> = match request.parsed_query() {
        Ok(document) => document
            .operations
            .iter()
            .map(|(_, operation)| operation.node.ty)
            .collect(),
        Err(_) => return (request, Route::Primary),
    };
    if operations.contains(&OperationType::Mutation) {
        let route = Route::Write {
            primary: state.pool.clone(),
            secure_cookie: state.web.secure_cookies,
        };
        return (request, route);
    }
    if operations.is_empty() || operations.contains(&OperationType::Subscription) {
        return (request, Route::Primary);
    }
    let read_from = replica.read_from(client_write_position(headers)).await;
    let fallback_reason = match read_from {
        ReadFrom::Replica => None,
        ReadFrom::PrimaryReplicaUnavailable => Some("unavailable"),
        ReadFrom::PrimaryReplicaLagging => Some("lagging"),
    };
    metrics::counter!(
        "aegis_graphql_queries_total",
        "read_from" => if fallback_reason.is_none() { "replica" } else { "primary" }
    )
    .increment(1);
    match fallback_reason {
        None => request = request.data(state.reading_from(replica.pool.clone())),
        Some(reason) => {
            metrics::counter!("aegis_read_replica_fallbacks_total", "reason" => reason)
                .increment(1);
        }
    }
    (request, Route::Primary)
}

impl Route {
    /// After a mutation: the primary's WAL position, as a header and a cookie, for the client's next reads.
    pub async fn finish(self, mut response: async_graphql::Response) -> async_graphql::Response {
        let Self::Write {
            primary,
            secure_cookie,
        } = self
        else {
            return response;
        };
        let position = sqlx::query_scalar::<_, String>("SELECT pg_current_wal_insert_lsn()::text")
            .fetch_one(&primary)
            .await;
        // Without a position the client's next reads may be stale on the replica, never wrong on the primary:
        // worth a warning, not a failed mutation (it has taken effect).
        let Ok(Some(position)) = position.map(|text| Lsn::parse(&text)) else {
            tracing::warn!("cannot read the primary's WAL position after a mutation");
            return response;
        };
        let secure = if secure_cookie { "; Secure" } else { "" };
        let cookie = format!(
            "{WRITE_LSN_COOKIE}={position}; Path=/; Max-Age={COOKIE_MAX_AGE_SECONDS}; HttpOnly; SameSite=Strict{secure}"
        );
        if let (Ok(header_value), Ok(cookie)) = (
            HeaderValue::from_str(&position.to_string()),
            HeaderValue::from_str(&cookie),
        ) {
            response.http_headers.insert(WRITE_LSN_HEADER, header_value);
            response.http_headers.append(header::SET_COOKIE, cookie);
        }
        response
    }
}

/// The newest write position the client sent: its `Aegis-Write-LSN` header or cookie.
fn client_write_position(headers: &HeaderMap) -> Option<Lsn> {
    let from_header = headers
        .get_all(WRITE_LSN_HEADER)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .filter_map(Lsn::parse);
    let from_cookie = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|cookies| cookies.split(';'))
        .filter_map(|cookie| {
            cookie
                .trim()
                .strip_prefix(WRITE_LSN_COOKIE)?
                .strip_prefix('=')
        })
        .filter_map(Lsn::parse);
    from_header.chain(from_cookie).max()
}

/// How far the standby got.
enum Replay {
    CaughtUp,
    /// Not far enough by the deadline; `None` when the server is not a standby (it replays nothing).
    Behind(Option<Lsn>),
}

/// Polls the standby's replay position until it reaches `written` or `deadline` passes. A standby that does
/// not even answer by then (a connection that hangs) is an error.
async fn wait_for_replay(
    connection: &mut PoolConnection<Postgres>,
    written: Lsn,
    deadline: Instant,
) -> Result<Replay, String> {
    loop {
        let answer_within = deadline
            .saturating_duration_since(Instant::now())
            .max(REPLAY_POLL);
        let replayed = tokio::time::timeout(
            answer_within,
            sqlx::query_scalar::<_, Option<String>>("SELECT pg_last_wal_replay_lsn()::text")
                .fetch_one(&mut **connection),
        )
        .await
        .map_err(|_| format!("no answer within {REPLICA_WAIT:?}"))?
        .map_err(|error| error.to_string())?
        .as_deref()
        .and_then(Lsn::parse);
        match replayed {
            Some(replayed) if replayed >= written => return Ok(Replay::CaughtUp),
            Some(_) if Instant::now() < deadline => tokio::time::sleep(REPLAY_POLL).await,
            _ => return Ok(Replay::Behind(replayed)),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn positions_parse_print_and_order_as_postgres_does() {
        let position = Lsn::parse("16/B374D848").unwrap();
        assert_eq!(position.to_string(), "16/B374D848");
        assert!(Lsn::parse("0/FFFFFFFF").unwrap() < Lsn::parse("1/0").unwrap());
        assert_eq!(Lsn::parse("nonsense"), None);
        assert_eq!(Lsn::parse("1/100000000"), None);
    }

    #[test]
    fn the_newest_position_of_header_and_cookie_counts() {
        let mut headers = HeaderMap::new();
        headers.insert(WRITE_LSN_HEADER, HeaderValue::from_static("0/20"));
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("aegis_session=x; aegis_write_lsn=0/30"),
        );
        assert_eq!(client_write_position(&headers), Lsn::parse("0/30"));
        headers.remove(header::COOKIE);
        assert_eq!(client_write_position(&headers), Lsn::parse("0/20"));
        assert_eq!(client_write_position(&HeaderMap::new()), None);
    }
}
