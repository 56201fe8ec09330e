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

use std::time::{Duration, Instant};

use async_graphql::parser::types::OperationType;
use axum::http::{HeaderMap, HeaderValue, header};
use sqlx::PgPool;

use crate::state::AppState;

/// The response header (and what a client sends back) carrying the primary's WAL position after a mutation.
pub const WRITE_LSN_HEADER: &str = "aegis-write-lsn";
/// The cookie carrying the same position for browsers.
pub const WRITE_LSN_COOKIE: &str = "aegis_write_lsn";

/// How long a query waits for the replica to replay a client's write before reading from the primary:
/// replication on a healthy network takes milliseconds, and a second is still a tolerable page load.
pub const REPLICA_WAIT: Duration = Duration::from_secs(1);

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
/// replica has replayed the client's last write.
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
    let caught_up = match client_write_position(headers) {
        Some(written) => replayed(replica, written).await,
        None => true,
    };
    metrics::counter!(
        "aegis_graphql_queries_total",
        "read_from" => if caught_up { "replica" } else { "primary" }
    )
    .increment(1);
    if caught_up {
        request = request.data(state.reading_from(replica.clone()));
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

/// Whether the replica replays up to `written` within [`REPLICA_WAIT`]. A server that is not a standby (its
/// replay position is NULL) or does not answer counts as not caught up.
async fn replayed(replica: &PgPool, written: Lsn) -> bool {
    let deadline = Instant::now() + REPLICA_WAIT;
    let Ok(Ok(mut connection)) = tokio::time::timeout(REPLICA_WAIT, replica.acquire()).await else {
        return false;
    };
    loop {
        let replayed =
            sqlx::query_scalar::<_, Option<String>>("SELECT pg_last_wal_replay_lsn()::text")
                .fetch_one(&mut *connection)
                .await;
        match replayed {
            Ok(Some(text)) if Lsn::parse(&text).is_some_and(|replayed| replayed >= written) => {
                return true;
            }
            Ok(Some(_)) if Instant::now() < deadline => tokio::time::sleep(REPLAY_POLL).await,
            _ => return false,
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
