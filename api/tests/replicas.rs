//! Scale-out on real processes (`api::scale_out`): three `aegis serve` on one PostgreSQL behind a private nginx
//! lose one server under load. (The read replica is `read_replica.rs`: a test binary of its own, so that the
//! two do not share this machine's two cores.)
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::time::{Duration, Instant};

use api::chaos::{self, ChaosSize, Cluster, Load};
use api::scale_out::{self, Nginx};
use chrono::{DurationRound, TimeDelta, Utc};
use sqlx::PgPool;

fn aegis() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_aegis"))
}

/// Clients retry what a dying server left unanswered (same idempotency key) and nothing else fails; another
/// server takes the projector over within seconds; the job due after the kill runs once.
#[tokio::test]
async fn three_servers_behind_nginx_lose_one_under_load() {
    let cluster = Cluster::start(aegis(), true).await.unwrap();
    let data_dir = tempfile::tempdir().unwrap();
    // Due every minute, so that one falls due after the kill; every server wakes for it.
    let schedule = [("AEGIS_SCHEDULES", "notification_cleanup=* * * * *")];
    let mut servers = scale_out::start_servers(aegis(), &cluster, data_dir.path(), 3, &schedule)
        .await
        .unwrap();
    let ports: Vec<u16> = servers.iter().map(|(port, _)| *port).collect();
    let nginx = Nginx::start(&ports).await.unwrap();
    let http = chaos::http_client(Duration::from_secs(5)).unwrap();

    let size = ChaosSize {
        clients: 6,
        comments_per_client: 80,
        server_kills_after_ms: Vec::new(),
    };
    let load = Load::start(&http, &nginx.base, &size).await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut leader = None;
    for (index, port) in ports.iter().enumerate() {
        if scale_out::is_leader(&http, *port).await {
            leader = Some(index);
        }
    }
    let leader = leader.expect("one server leads the projectors");
    servers[leader].1.kill().unwrap();
    let killed_at = Instant::now();
    let killed_at_wall = Utc::now();

    let survivors: Vec<u16> = ports
        .iter()
        .enumerate()
        .filter(|(index, _)| *index != leader)
        .map(|(_, port)| *port)
        .collect();
    let took_over = loop {
        let mut leaders = 0;
        for port in &survivors {
            leaders += usize::from(scale_out::is_leader(&http, *port).await);
        }
        if leaders == 1 {
            break killed_at.elapsed();
        }
        assert!(
            killed_at.elapsed() < Duration::from_secs(10),
            "no single leader 10 s after the leader died"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };

    let pool = PgPool::connect(&cluster.url).await.unwrap();
    let (report, _) = load
        .finish(&pool, "a server of three killed", 1)
        .await
        .unwrap();
    eprintln!("{report:?}; projector leadership moved in {took_over:?}");
    assert_eq!(report.acknowledged, size.clients * size.comments_per_client);
    assert_eq!((report.lost, report.doubled), (0, 0));
    assert!(took_over < Duration::from_secs(5), "{took_over:?}");

    // The first minute after the kill: only the survivors wake for it, and one of them runs it.
    let due = killed_at_wall
        .duration_trunc(TimeDelta::minutes(1))
        .unwrap()
        + TimeDelta::minutes(1);
    let wait = (due - Utc::now() + TimeDelta::seconds(3))
        .to_std()
        .unwrap_or_default();
    tokio::time::sleep(wait).await;
    let runs: Vec<(String, String)> = sqlx::query_as(
        "SELECT trigger, outcome FROM job_runs WHERE job = 'notification_cleanup' AND due_at = $1",
    )
    .bind(due)
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(runs, [("schedule".to_owned(), "succeeded".to_owned())]);
    pool.close().await;
    drop(nginx);
}
