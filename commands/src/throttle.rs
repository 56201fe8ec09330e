//! Login throttling per account and per client address, shared by every replica through Postgres
//! (`login_throttle`, migration 0004).
//!
//! The login path calls [`LoginThrottle::check`] with the tried account and the client's address *before*
//! verifying a password, then [`LoginThrottle::record_failure`] or [`LoginThrottle::record_success`]. After
//! `failures_per_window` failures within `window`, a key is blocked for `base_backoff`; every further block
//! lasts twice as long as the previous one, capped at `max_backoff`. The cap is what keeps an attacker who
//! keeps guessing from locking a real user out for good: the worst they achieve is a block of `max_backoff`
//! at a time, while their own guessing rate stays bounded by `failures_per_window` per `max_backoff`.
//!
//! Every change is one `INSERT ... ON CONFLICT DO UPDATE` per key, so failures arriving at several replicas
//! at once are counted exactly. Time is always passed in, never read here.

use std::fmt;
use std::net::{IpAddr, Ipv6Addr};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use sqlx::PgPool;

/// How many failures are tolerated and how long blocks last.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottlePolicy {
    /// Failures within one window that start a block (0 behaves like 1: the first failure blocks).
    pub failures_per_window: u32,
    /// How long failures are counted together; the next failure after it starts a new count.
    pub window: Duration,
    /// The first block's length; each further block doubles it.
    pub base_backoff: Duration,
    /// No block is ever longer. After a quiet period this long (no failure once the last window or block
    /// ended), earlier blocks are forgotten and the next block is `base_backoff` again.
    pub max_backoff: Duration,
}

impl Default for ThrottlePolicy {
    /// 5 failures a minute, then blocks of 1, 2, 4, 8 and at most 15 minutes.
    fn default() -> Self {
        Self {
            failures_per_window: 5,
            window: Duration::from_secs(60),
            base_backoff: Duration::from_secs(60),
            max_backoff: Duration::from_secs(15 * 60),
        }
    }
}

/// What a login attempt is counted against.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ThrottleKey {
    /// The normalised e-mail that was tried (trimmed, lower case: see [`ThrottleKey::account`]), whether or
    /// not an account has it, so that throttling reveals nothing about which addresses exist.
    Account(String),
    /// The client's address. IPv6 addresses are counted per /64 prefix, the block one host usually controls,
    /// so that rotating through its addresses gains nothing; IPv4-mapped IPv6 addresses count as IPv4.
    Ip(IpAddr),
}

impl ThrottleKey {
    /// The account key for what the user typed, normalised as `domain::user::Email` normalises it.
    pub fn account(tried: &str) -> Self {
        Self::Account(normalise_account(tried))
    }

    /// The `kind` column: `account` or `ip`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Account(_) => "account",
            Self::Ip(_) => "ip",
        }
    }

    /// The `key` column: the normalised e-mail, the IPv4 address, or the IPv6 /64 prefix (`2001:db8::/64`).
    pub fn key(&self) -> String {
        match self {
            Self::Account(email) => normalise_account(email),
            Self::Ip(address) => match address.to_canonical() {
                IpAddr::V4(v4) => v4.to_string(),
                IpAddr::V6(v6) => {
                    let prefix = u128::from(v6) & !u128::from(u64::MAX);
                    format!("{}/64", Ipv6Addr::from(prefix))
                }
            },
        }
    }
}

impl fmt::Display for ThrottleKey {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}:{}", self.kind(), self.key())
    }
}

fn normalise_account(tried: &str) -> String {
    tried.trim().to_lowercase()
}

/// Why a login may not even be attempted now.
#[derive(Debug, thiserror::Error)]
pub enum ThrottleError {
    /// Too many recent failures for the account or the address. `retry_after` is how long the longest of the
    /// blocks still runs (for a `Retry-After` header).
    #[error("too many failed logins; try again in {} seconds", whole_seconds(*retry_after))]
    Throttled { retry_after: Duration },
    #[error("the login throttle could not be read: {0}")]
    Database(#[from] sqlx::Error),
}

fn whole_seconds(duration: Duration) -> u64 {
    duration.as_secs() + u64::from(duration.subsec_nanos() > 0)
}

/// Login throttling over the `login_throttle` table.
#[derive(Debug, Clone)]
pub struct LoginThrottle {
    pool: PgPool,
    policy: ThrottlePolicy,
}

/// Counts one failure for one key, atomically: a running block is left alone (the `WHERE` of the update),
/// a window that has ended starts a new count, blocks are forgotten after a quiet `max_backoff`, and reaching
/// the limit blocks for `base_backoff × 2^(earlier blocks)`, capped; the next window starts when the block
/// ends. `$8..$11` are the row for a key never seen, computed by [`LoginThrottle::first_failure`].
///
/// Parameters: `$1` kind, `$2` key, `$3` now, `$4` failures per window, `$5` window, `$6` base backoff,
/// `$7` max backoff (durations in microseconds).
const RECORD_FAILURE: &str = r"
INSERT INTO login_throttle AS t (kind, key, failures, window_started_at, blocked_until, blocks)
VALUES ($1, $2, $8, $9, $10, $11)
ON CONFLICT (kind, key) DO UPDATE
SET (failures, window_started_at, blocked_until, blocks) = (
    SELECT CASE WHEN counted.blocking THEN 0 ELSE counted.failures END,
           CASE WHEN counted.blocking THEN $3 + counted.backoff ELSE counted.window_started_at END,
           CASE WHEN counted.blocking THEN $3 + counted.backoff END,
           CASE WHEN counted.blocking THEN counted.blocks + 1 ELSE counted.blocks END
    FROM (
        SELECT fresh.failures,
               fresh.window_started_at,
               fresh.blocks,
               fresh.failures >= $4 AS blocking,
               least(
                   interval '1 microsecond' * $6 * power(2.0::float8, least(fresh.blocks, 30)),
                   interval '1 microsecond' * $7
               ) AS backoff
        FROM (
            SELECT CASE WHEN t.window_started_at + interval '1 microsecond' * $5 <= $3
                        THEN 1 ELSE t.failures + 1 END AS failures,
                   CASE WHEN t.window_started_at + interval '1 microsecond' * $5 <= $3
                        THEN $3 ELSE t.window_started_at END AS window_started_at,
                   CASE WHEN t.window_started_at + interval '1 microsecond' * ($5 + $7) <= $3
                        THEN 0 ELSE t.blocks END AS blocks
        ) AS fresh
    ) AS counted
)
WHERE t.blocked_until IS NULL OR t.blocked_until <= $3
RETURNING blocked_until, blocks
";

impl LoginThrottle {
    pub fn new(pool: PgPool, policy: ThrottlePolicy) -> Self {
        Self { pool, policy }
    }

    pub fn policy(&self) -> &ThrottlePolicy {
        &self.policy
    }

    /// Refuses a login attempt while any of `keys` is blocked. Call it before verifying the password, so
    /// that a blocked attacker learns nothing from further guesses.
    pub async fn check(
        &self,
        keys: &[ThrottleKey],
        now: DateTime<Utc>,
    ) -> Result<(), ThrottleError> {
        if keys.is_empty() {
            return Ok(());
        }
        let kinds: Vec<&str> = keys.iter().map(ThrottleKey::kind).collect();
        let keys: Vec<String> = keys.iter().map(ThrottleKey::key).collect();
        let longest: Option<(String, DateTime<Utc>)> = sqlx::query_as(
            "SELECT t.kind, t.blocked_until
             FROM login_throttle t
             JOIN unnest($1::text[], $2::text[]) AS tried (kind, key) USING (kind, key)
             WHERE t.blocked_until > $3
             ORDER BY t.blocked_until DESC
             LIMIT 1",
        )
        .bind(&kinds)
        .bind(&keys)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        let Some((kind, blocked_until)) = longest else {
            return Ok(());
        };
        metrics::counter!("aegis_login_throttled_total", "kind" => kind).increment(1);
        let retry_after = (blocked_until - now).to_std().unwrap_or_default();
        Err(ThrottleError::Throttled { retry_after })
    }

    /// Counts a failed login against every key (typically the account and the address), once per distinct
    /// key (two addresses in one IPv6 /64 are one key). A key that is already blocked is left as it is:
    /// failures that slipped past [`Self::check`] during a race never lengthen a running block.
    pub async fn record_failure(
        &self,
        keys: &[ThrottleKey],
        now: DateTime<Utc>,
    ) -> Result<(), sqlx::Error> {
        let (failures, window_started_at, blocked_until, blocks) = self.first_failure(now);
        let mut distinct: Vec<(&str, String)> =
            keys.iter().map(|key| (key.kind(), key.key())).collect();
        distinct.sort();
        distinct.dedup();
        for (kind, key) in distinct {
            let updated: Option<(Option<DateTime<Utc>>, i32)> = sqlx::query_as(RECORD_FAILURE)
                .bind(kind)
                .bind(&key)
                .bind(now)
                .bind(saturating_i32(self.policy.failures_per_window))
                .bind(micros(self.policy.window))
                .bind(micros(self.policy.base_backoff))
                .bind(micros(self.policy.max_backoff))
                .bind(failures)
                .bind(window_started_at)
                .bind(blocked_until)
                .bind(blocks)
                .fetch_optional(&self.pool)
                .await?;
            if let Some((Some(blocked_until), blocks)) = updated {
                tracing::warn!(kind, key, %blocked_until, blocks, "too many failed logins: blocked");
            }
        }
        Ok(())
    }

    /// Forgets the account's failures and blocks after a successful login. The address keeps its count: one
    /// correct password must not let a client go on guessing other accounts. A block that started meanwhile
    /// (a race with failures on another replica) stays.
    pub async fn record_success(
        &self,
        account: &str,
        now: DateTime<Utc>,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "DELETE FROM login_throttle
             WHERE kind = 'account' AND key = $1 AND (blocked_until IS NULL OR blocked_until <= $2)",
        )
        .bind(normalise_account(account))
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Deletes rows that no longer change any decision (no running block, window ended, blocks forgotten),
    /// so the table stays as small as the set of recent offenders. Returns how many were deleted.
    pub async fn forget_stale(&self, now: DateTime<Utc>) -> Result<u64, sqlx::Error> {
        let deleted = sqlx::query(
            "DELETE FROM login_throttle
             WHERE (blocked_until IS NULL OR blocked_until <= $1)
               AND window_started_at + interval '1 microsecond' * ($2 + $3) <= $1",
        )
        .bind(now)
        .bind(micros(self.policy.window))
        .bind(micros(self.policy.max_backoff))
        .execute(&self.pool)
        .await?;
        Ok(deleted.rows_affected())
    }

    /// The row for a key's first failure: `(failures, window_started_at, blocked_until, blocks)`.
    fn first_failure(
        &self,
        now: DateTime<Utc>,
    ) -> (i32, DateTime<Utc>, Option<DateTime<Utc>>, i32) {
        if self.policy.failures_per_window > 1 {
            return (1, now, None, 0);
        }
        let backoff = self.policy.base_backoff.min(self.policy.max_backoff);
        let blocked_until = TimeDelta::from_std(backoff)
            .ok()
            .and_then(|backoff| now.checked_add_signed(backoff))
            .unwrap_or(DateTime::<Utc>::MAX_UTC);
        (0, blocked_until, Some(blocked_until), 1)
    }
}

/// Durations go to Postgres as whole microseconds, its interval resolution.
fn micros(duration: Duration) -> i64 {
    i64::try_from(duration.as_micros()).unwrap_or(i64::MAX)
}

fn saturating_i32(value: u32) -> i32 {
    i32::try_from(value).unwrap_or(i32::MAX)
}
