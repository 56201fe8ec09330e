//! Password guessing over real sockets from many loopback addresses (127.0.0.0/8 is all this machine's): the
//! guesses are throttled, the real user still signs in from the address they use, and a wrong password costs
//! the same whether or not the account exists.
#![allow(clippy::unwrap_used)]

mod support;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use api::http::app;
use domain::role::Role;
use futures::StreamExt;
use serde_json::{Value, json};
use sqlx::PgPool;
use support::{PASSWORD, create_user, state};

/// A login over HTTP from `source`; the error code (None on success) and how long the answer took.
async fn login_from(
    base: &str,
    source: Ipv4Addr,
    email: &str,
    password: &str,
) -> (Option<String>, Duration) {
    let client = reqwest::Client::builder()
        .local_address(IpAddr::V4(source))
        .build()
        .unwrap();
    let query =
        format!(r#"mutation {{ login(email: "{email}", password: "{password}") {{ userId }} }}"#);
    let started = Instant::now();
    let answer: Value = client
        .post(format!("{base}/graphql"))
        .json(&json!({ "query": query }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let took = started.elapsed();
    let code = answer["errors"][0]["extensions"]["code"]
        .as_str()
        .map(str::to_owned);
    (code, took)
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

#[sqlx::test(migrations = "../migrations")]
async fn guessing_from_many_addresses_is_throttled_and_locks_no_one_out(pool: PgPool) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let state = state(&pool);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let router = app(state.clone()).into_make_service_with_connect_info::<SocketAddr>();
    tokio::spawn(async move { axum::serve(listener, router).await });

    let victim = "ada@example.org";
    create_user(&state, victim, &[Role::RedLead]).await;
    let home = Ipv4Addr::LOCALHOST;
    assert_eq!(login_from(&base, home, victim, PASSWORD).await.0, None);

    // 50 addresses, 6 guesses each, 10 at a time.
    let attackers: Vec<Ipv4Addr> = (10..60)
        .map(|last| Ipv4Addr::new(127, 0, 0, last))
        .collect();
    let guesses: Vec<(Ipv4Addr, usize)> = attackers
        .iter()
        .flat_map(|address| (0..6).map(move |guess| (*address, guess)))
        .collect();
    let answers: Vec<Option<String>> = futures::stream::iter(guesses)
        .map(|(address, guess)| {
            let base = base.clone();
            async move {
                login_from(&base, address, victim, &format!("guess {guess}"))
                    .await
                    .0
            }
        })
        .buffer_unordered(10)
        .collect()
        .await;
    let checked = answers
        .iter()
        .filter(|code| code.as_deref() == Some("UNAUTHENTICATED"))
        .count();
    let throttled = answers
        .iter()
        .filter(|code| code.as_deref() == Some("RATE_LIMITED"))
        .count();
    eprintln!(
        "{} guesses from {} addresses: {checked} checked, {throttled} throttled",
        answers.len(),
        attackers.len()
    );
    assert_eq!(checked + throttled, answers.len(), "{answers:?}");
    // Five failures block the account; guesses already past the check when the block started (at most the
    // ten in flight) are the only others that were checked.
    assert!(checked <= 5 + 10, "{checked} guesses were checked");

    // The real user still signs in where they always do; a stranger with the right password is blocked with
    // the guessers, until the block ends.
    assert_eq!(login_from(&base, home, victim, PASSWORD).await.0, None);
    let stranger = Ipv4Addr::new(127, 0, 0, 200);
    assert_eq!(
        login_from(&base, stranger, victim, PASSWORD)
            .await
            .0
            .as_deref(),
        Some("RATE_LIMITED")
    );

    // Timing: wrong passwords for existing and for unknown accounts, interleaved, each from its own address
    // and at most three per account (under the block).
    for index in 0..6 {
        create_user(
            &state,
            &format!("known{index}@example.org"),
            &[Role::Viewer],
        )
        .await;
    }
    let (mut existing, mut unknown) = (Vec::new(), Vec::new());
    for attempt in 0..18_u8 {
        let existing_email = format!("known{}@example.org", attempt % 6);
        let unknown_email = format!("nobody{attempt}@example.org");
        let (code, took) = login_from(
            &base,
            Ipv4Addr::new(127, 0, 1, attempt),
            &existing_email,
            "wrong",
        )
        .await;
        assert_eq!(code.as_deref(), Some("UNAUTHENTICATED"));
        existing.push(took);
        let (code, took) = login_from(
            &base,
            Ipv4Addr::new(127, 0, 2, attempt),
            &unknown_email,
            "wrong",
        )
        .await;
        assert_eq!(code.as_deref(), Some("UNAUTHENTICATED"));
        unknown.push(took);
    }
    // Beyond noise: the medians differ by less than the pooled samples' interquartile range (tens of
    // milliseconds on a shared machine; an unknown account answered without its dummy password hash would be
    // a whole hash, about 100 ms in this build, faster).
    let mut pooled: Vec<Duration> = existing.iter().chain(&unknown).copied().collect();
    pooled.sort();
    let spread = pooled[pooled.len() * 3 / 4].saturating_sub(pooled[pooled.len() / 4]);
    let (existing, unknown) = (median(existing), median(unknown));
    eprintln!(
        "median wrong-password answer: existing account {existing:?}, unknown account {unknown:?}, \
         interquartile range {spread:?}"
    );
    assert!(
        existing.abs_diff(unknown) <= spread,
        "existing {existing:?} vs unknown {unknown:?}, spread {spread:?}"
    );
}
