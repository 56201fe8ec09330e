//! Login throttling against a real Postgres: windows, doubling blocks with a cap, what success clears, the
//! address key, IPv6 prefixes and concurrent failures. One fresh database per test; time is passed in.
#![allow(clippy::unwrap_used)]

use std::net::IpAddr;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use commands::throttle::{LoginThrottle, ThrottleError, ThrottleKey, ThrottlePolicy};
use sqlx::PgPool;

fn start() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-28T09:30:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

fn minutes(minutes: i64) -> TimeDelta {
    TimeDelta::minutes(minutes)
}

fn account(email: &str) -> ThrottleKey {
    ThrottleKey::account(email)
}

fn ip(address: &str) -> ThrottleKey {
    ThrottleKey::Ip(address.parse::<IpAddr>().unwrap())
}

/// How long the check says to wait, or `None` when the attempt may go ahead.
async fn retry_after(
    throttle: &LoginThrottle,
    keys: &[ThrottleKey],
    now: DateTime<Utc>,
) -> Option<Duration> {
    match throttle.check(keys, now).await {
        Ok(()) => None,
        Err(ThrottleError::Throttled { retry_after }) => Some(retry_after),
        Err(error @ ThrottleError::Database(_)) => panic!("{error}"),
    }
}

async fn fail(throttle: &LoginThrottle, keys: &[ThrottleKey], now: DateTime<Utc>, times: usize) {
    for _ in 0..times {
        throttle.record_failure(keys, now).await.unwrap();
    }
}

async fn row(pool: &PgPool, key: &ThrottleKey) -> Option<(i32, i32)> {
    sqlx::query_as("SELECT failures, blocks FROM login_throttle WHERE kind = $1 AND key = $2")
        .bind(key.kind())
        .bind(key.key())
        .fetch_optional(pool)
        .await
        .unwrap()
}

#[test]
fn the_default_policy_is_five_a_minute_then_one_to_fifteen_minutes() {
    assert_eq!(
        ThrottlePolicy::default(),
        ThrottlePolicy {
            failures_per_window: 5,
            window: Duration::from_secs(60),
            base_backoff: Duration::from_secs(60),
            max_backoff: Duration::from_secs(900),
        }
    );
}

#[test]
fn keys_are_normalised_and_ipv6_is_keyed_on_its_64_bit_prefix() {
    assert_eq!(account("  Ada@Example.ORG ").key(), "ada@example.org");
    assert_eq!(account("Ada@Example.ORG"), account("ada@example.org"));
    assert_eq!(ip("192.0.2.7").key(), "192.0.2.7");
    assert_eq!(ip("::ffff:192.0.2.7").key(), "192.0.2.7");
    assert_eq!(
        ip("2001:db8:1:2:aaaa:bbbb:cccc:dddd").key(),
        "2001:db8:1:2::/64"
    );
    assert_eq!(
        ip("2001:db8:1:2::1").key(),
        ip("2001:db8:1:2:ffff::9").key()
    );
    assert_ne!(ip("2001:db8:1:2::1").key(), ip("2001:db8:1:3::1").key());
    assert_eq!(account("ada@example.org").kind(), "account");
    assert_eq!(ip("192.0.2.7").kind(), "ip");
    assert_eq!(ip("192.0.2.7").to_string(), "ip:192.0.2.7");
}

#[test]
fn the_throttled_message_rounds_the_wait_up_to_whole_seconds() {
    let error = ThrottleError::Throttled {
        retry_after: Duration::from_millis(59_001),
    };
    assert_eq!(
        error.to_string(),
        "too many failed logins; try again in 60 seconds"
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn five_failures_in_a_minute_block_for_a_minute_then_logins_are_allowed_again(pool: PgPool) {
    let throttle = LoginThrottle::new(pool.clone(), ThrottlePolicy::default());
    let keys = [account("ada@example.org"), ip("192.0.2.7")];
    let t0 = start();

    for attempt in 0..4 {
        let now = t0 + TimeDelta::seconds(attempt * 10);
        assert_eq!(retry_after(&throttle, &keys, now).await, None);
        throttle.record_failure(&keys, now).await.unwrap();
    }
    assert_eq!(
        retry_after(&throttle, &keys, t0 + TimeDelta::seconds(40)).await,
        None
    );
    let fifth = t0 + TimeDelta::seconds(40);
    throttle.record_failure(&keys, fifth).await.unwrap();

    assert_eq!(
        retry_after(&throttle, &keys, fifth).await,
        Some(Duration::from_secs(60))
    );
    assert_eq!(
        retry_after(&throttle, &keys, fifth + TimeDelta::seconds(45)).await,
        Some(Duration::from_secs(15))
    );
    assert_eq!(
        retry_after(&throttle, &keys, fifth + minutes(1)).await,
        None
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn failures_spread_over_more_than_a_window_never_block(pool: PgPool) {
    let throttle = LoginThrottle::new(pool.clone(), ThrottlePolicy::default());
    let keys = [account("ada@example.org")];
    let t0 = start();
    // Four failures, then the window ends: the fifth and the following ones start a new count.
    fail(&throttle, &keys, t0, 4).await;
    fail(&throttle, &keys, t0 + minutes(1), 4).await;
    assert_eq!(retry_after(&throttle, &keys, t0 + minutes(1)).await, None);
    assert_eq!(row(&pool, &keys[0]).await, Some((4, 0)));
}

#[sqlx::test(migrations = "../migrations")]
async fn each_further_block_doubles_up_to_fifteen_minutes(pool: PgPool) {
    let throttle = LoginThrottle::new(pool.clone(), ThrottlePolicy::default());
    let keys = [account("ada@example.org")];
    let mut now = start();
    for expected_minutes in [1, 2, 4, 8, 15, 15, 15] {
        assert_eq!(retry_after(&throttle, &keys, now).await, None);
        fail(&throttle, &keys, now, 5).await;
        assert_eq!(
            retry_after(&throttle, &keys, now).await,
            Some(Duration::from_secs(expected_minutes * 60)),
            "block of {expected_minutes} minutes"
        );
        // The attacker comes back the moment the block ends.
        now += minutes(i64::try_from(expected_minutes).unwrap());
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn failures_during_a_block_neither_count_nor_lengthen_it(pool: PgPool) {
    let throttle = LoginThrottle::new(pool.clone(), ThrottlePolicy::default());
    let keys = [account("ada@example.org")];
    let t0 = start();
    fail(&throttle, &keys, t0, 5).await;
    // Failures that raced past the check while the block started.
    fail(&throttle, &keys, t0 + TimeDelta::seconds(30), 10).await;
    assert_eq!(row(&pool, &keys[0]).await, Some((0, 1)));
    assert_eq!(
        retry_after(&throttle, &keys, t0 + TimeDelta::seconds(30)).await,
        Some(Duration::from_secs(30))
    );
    assert_eq!(retry_after(&throttle, &keys, t0 + minutes(1)).await, None);
}

#[sqlx::test(migrations = "../migrations")]
async fn earlier_blocks_are_forgotten_after_a_quiet_period_as_long_as_the_cap(pool: PgPool) {
    let throttle = LoginThrottle::new(pool.clone(), ThrottlePolicy::default());
    let keys = [account("ada@example.org")];
    let t0 = start();
    fail(&throttle, &keys, t0, 5).await;
    fail(&throttle, &keys, t0 + minutes(1), 5).await;
    assert_eq!(
        retry_after(&throttle, &keys, t0 + minutes(1)).await,
        Some(Duration::from_secs(120))
    );
    // The block ended at t0 + 3; the window that started then ended at t0 + 4; quiet for 15 minutes more.
    let later = t0 + minutes(4) + minutes(15);
    fail(&throttle, &keys, later, 5).await;
    assert_eq!(
        retry_after(&throttle, &keys, later).await,
        Some(Duration::from_secs(60))
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn success_clears_the_account_but_not_the_address(pool: PgPool) {
    let throttle = LoginThrottle::new(pool.clone(), ThrottlePolicy::default());
    let ada = account("ada@example.org");
    let address = ip("192.0.2.7");
    let t0 = start();
    fail(&throttle, &[ada.clone(), address.clone()], t0, 4).await;

    throttle
        .record_success(" ADA@example.org", t0 + TimeDelta::seconds(1))
        .await
        .unwrap();
    assert_eq!(row(&pool, &ada).await, None);
    assert_eq!(row(&pool, &address).await, Some((4, 0)));

    // One more failure from the address blocks it, whatever account is tried next; Ada's account is not.
    let now = t0 + TimeDelta::seconds(2);
    throttle
        .record_failure(&[account("bob@example.org"), address.clone()], now)
        .await
        .unwrap();
    assert_eq!(
        retry_after(&throttle, &[ada.clone(), address.clone()], now).await,
        Some(Duration::from_secs(60))
    );
    assert_eq!(retry_after(&throttle, &[ada], now).await, None);
}

#[sqlx::test(migrations = "../migrations")]
async fn success_does_not_lift_a_block_that_is_running(pool: PgPool) {
    let throttle = LoginThrottle::new(pool.clone(), ThrottlePolicy::default());
    let keys = [account("ada@example.org")];
    let t0 = start();
    fail(&throttle, &keys, t0, 5).await;
    throttle
        .record_success("ada@example.org", t0 + TimeDelta::seconds(1))
        .await
        .unwrap();
    assert!(
        retry_after(&throttle, &keys, t0 + TimeDelta::seconds(1))
            .await
            .is_some()
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn a_blocked_address_blocks_every_account_tried_from_it(pool: PgPool) {
    let throttle = LoginThrottle::new(pool.clone(), ThrottlePolicy::default());
    let address = ip("198.51.100.23");
    let t0 = start();
    // Password spraying: one guess each for five accounts.
    for name in ["a", "b", "c", "d", "e"] {
        let keys = [account(&format!("{name}@example.org")), address.clone()];
        assert_eq!(retry_after(&throttle, &keys, t0).await, None);
        throttle.record_failure(&keys, t0).await.unwrap();
    }
    let sixth = [account("f@example.org"), address.clone()];
    assert_eq!(
        retry_after(&throttle, &sixth, t0).await,
        Some(Duration::from_secs(60))
    );
    // The same account from another address is not blocked: only one failure was counted against it.
    assert_eq!(
        retry_after(
            &throttle,
            &[account("a@example.org"), ip("203.0.113.9")],
            t0
        )
        .await,
        None
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn ipv6_addresses_in_one_64_share_a_count(pool: PgPool) {
    let throttle = LoginThrottle::new(pool.clone(), ThrottlePolicy::default());
    let t0 = start();
    for host in 1..=5 {
        let rotating = ip(&format!("2001:db8:abcd:12::{host:x}"));
        throttle.record_failure(&[rotating], t0).await.unwrap();
    }
    assert_eq!(
        retry_after(&throttle, &[ip("2001:db8:abcd:12:ffff:1:2:3")], t0).await,
        Some(Duration::from_secs(60))
    );
    assert_eq!(
        retry_after(&throttle, &[ip("2001:db8:abcd:13::1")], t0).await,
        None
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn one_failure_naming_a_key_twice_counts_once(pool: PgPool) {
    let throttle = LoginThrottle::new(pool.clone(), ThrottlePolicy::default());
    let keys = [
        account("ada@example.org"),
        account("ADA@example.org"),
        ip("2001:db8::1"),
        ip("2001:db8::2"),
    ];
    throttle.record_failure(&keys, start()).await.unwrap();
    assert_eq!(row(&pool, &keys[0]).await, Some((1, 0)));
    assert_eq!(row(&pool, &keys[2]).await, Some((1, 0)));
}

#[sqlx::test(migrations = "../migrations")]
async fn concurrent_failures_are_counted_exactly(pool: PgPool) {
    let roomy = ThrottlePolicy {
        failures_per_window: 100,
        ..ThrottlePolicy::default()
    };
    let counting = LoginThrottle::new(pool.clone(), roomy);
    let blocking = LoginThrottle::new(pool.clone(), ThrottlePolicy::default());
    let counted = [account("ada@example.org"), ip("192.0.2.7")];
    let blocked = [account("bob@example.org")];
    let t0 = start();

    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..20 {
        let counting = counting.clone();
        let blocking = blocking.clone();
        let counted = counted.clone();
        let blocked = blocked.clone();
        tasks.spawn(async move {
            counting.record_failure(&counted, t0).await.unwrap();
            blocking.record_failure(&blocked, t0).await.unwrap();
        });
    }
    while let Some(result) = tasks.join_next().await {
        result.unwrap();
    }

    assert_eq!(row(&pool, &counted[0]).await, Some((20, 0)));
    assert_eq!(row(&pool, &counted[1]).await, Some((20, 0)));
    // Exactly one block started, of the first length, however the twenty interleaved.
    assert_eq!(row(&pool, &blocked[0]).await, Some((0, 1)));
    assert_eq!(
        retry_after(&blocking, &blocked, t0).await,
        Some(Duration::from_secs(60))
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn a_policy_of_one_failure_blocks_at_the_first(pool: PgPool) {
    let strict = ThrottlePolicy {
        failures_per_window: 1,
        ..ThrottlePolicy::default()
    };
    let throttle = LoginThrottle::new(pool.clone(), strict);
    let keys = [account("ada@example.org")];
    let t0 = start();
    fail(&throttle, &keys, t0, 1).await;
    assert_eq!(
        retry_after(&throttle, &keys, t0).await,
        Some(Duration::from_secs(60))
    );
    fail(&throttle, &keys, t0 + minutes(1), 1).await;
    assert_eq!(
        retry_after(&throttle, &keys, t0 + minutes(1)).await,
        Some(Duration::from_secs(120))
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn stale_rows_are_forgotten_and_live_ones_kept(pool: PgPool) {
    let throttle = LoginThrottle::new(pool.clone(), ThrottlePolicy::default());
    let t0 = start();
    fail(&throttle, &[account("old@example.org")], t0, 5).await;
    fail(
        &throttle,
        &[account("recent@example.org")],
        t0 + minutes(10),
        2,
    )
    .await;
    // old: blocked until t0 + 1, its next window until t0 + 2, forgotten from t0 + 17.
    assert_eq!(throttle.forget_stale(t0 + minutes(16)).await.unwrap(), 0);
    assert_eq!(throttle.forget_stale(t0 + minutes(17)).await.unwrap(), 1);
    assert_eq!(row(&pool, &account("old@example.org")).await, None);
    assert_eq!(
        row(&pool, &account("recent@example.org")).await,
        Some((2, 0))
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn the_application_role_may_use_the_table(pool: PgPool) {
    let granted: bool = sqlx::query_scalar(
        "SELECT bool_and(has_table_privilege('aegis_app', 'login_throttle', privilege))
         FROM unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE']) AS privilege",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert!(granted);
}
