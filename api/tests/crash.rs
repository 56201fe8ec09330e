//! Killed under load, nothing lost (`api::chaos`, the harness `aegis chaos all` runs): clients send comments
//! with idempotency keys to a real `aegis serve` on a throwaway PostgreSQL cluster and retry each unanswered
//! request with the same key. The server killed with SIGKILL four times, or PostgreSQL killed under it, loses
//! and doubles nothing acknowledged; sequences stay contiguous and the hash chain intact (checked by the
//! harness); the read models equal a rebuild. With `synchronous_commit = off` the same harness must see a
//! loss: otherwise it could not fail. Hostile requests over a socket are refused clearly and quickly, and the
//! authorisation fuzz `aegis chaos all` runs over a socket agrees with the role table (in-process, at a larger
//! size: `api/tests/authorization_fuzz.rs`).
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::time::Duration;

use api::chaos::{self, ChaosSize, authorization, hostile};

fn aegis() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_aegis"))
}

/// The test command's size, or `aegis chaos all`'s own with `deploy/dev/test --long` (AEGIS_TEST_SIZE=long).
fn size() -> ChaosSize {
    if std::env::var("AEGIS_TEST_SIZE").as_deref() == Ok("long") {
        ChaosSize::full()
    } else {
        ChaosSize::quick()
    }
}

#[tokio::test]
async fn a_server_killed_under_load_loses_and_doubles_nothing() {
    let size = size();
    let report = chaos::server_kills(aegis(), &size).await.unwrap();
    eprintln!("{report:?}");
    assert_eq!(report.acknowledged, size.clients * size.comments_per_client);
    assert_eq!((report.lost, report.doubled), (0, 0));
    assert_eq!(report.read_models_match, Some(true));
}

#[tokio::test]
async fn postgres_killed_under_the_server_loses_nothing_acknowledged() {
    let report = chaos::postgres_crash(aegis(), &size(), true).await.unwrap();
    eprintln!("{report:?}");
    assert_eq!((report.lost, report.doubled), (0, 0));
    // While PostgreSQL was down the server answered instead of hanging.
    assert!(report.answered_while_down.unwrap() < Duration::from_secs(10));
}

/// Without durable commits, what is lost is the WAL not yet written when the cluster dies: usually the last
/// few commits, but a crash can land just after the WAL writer wrote a page. Three crashes make missing the
/// loss every time unlikely enough.
#[tokio::test]
async fn the_harness_sees_the_loss_when_commits_are_not_durable() {
    for _ in 0..3 {
        let report = chaos::postgres_crash(aegis(), &size(), false)
            .await
            .unwrap();
        eprintln!("{report:?}");
        if report.lost > 0 {
            return;
        }
    }
    panic!(
        "nothing lost in three crashes with synchronous_commit = off: the harness cannot see a loss"
    );
}

#[tokio::test]
async fn hostile_requests_over_a_socket_are_refused_clearly_and_quickly() {
    let answers = hostile::requests(aegis()).await.unwrap();
    eprintln!("{}", hostile::table(&answers));
    for answer in &answers {
        assert!(answer.is_clear_refusal(), "{answer:?}");
    }
}

#[tokio::test]
async fn the_authorisation_fuzz_over_a_socket_agrees_with_the_role_table() {
    let size = authorization::FuzzSize {
        calls: 200,
        seed: rand::random(),
    };
    let report = authorization::over_http(aegis(), size).await.unwrap();
    eprintln!("{}", report.table());
    assert!(report.passed(), "{}", report.table());
}
