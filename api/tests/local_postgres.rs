//! The two ways `aegis serve` finds a database without `DATABASE_URL`, against real PostgreSQL:
//! the server on 127.0.0.1:5432 (`deploy/dev/ensure-postgres` makes sure it answers), and a private
//! cluster started from the installed binaries. Run as root, the private cluster exercises the
//! `runuser` path.

use std::net::{SocketAddr, TcpListener};
use std::time::Duration;

use api::local_postgres::{LocalPostgres, LocalPostgresOptions, find_or_start};
use sqlx::{Connection, PgConnection};

async fn select_one(url: &str) -> Result<i32, sqlx::Error> {
    let connect = PgConnection::connect(url);
    let mut connection = tokio::time::timeout(Duration::from_secs(5), connect)
        .await
        .map_err(|_| sqlx::Error::PoolTimedOut)??;
    let one = sqlx::query_scalar("select 1")
        .fetch_one(&mut connection)
        .await?;
    connection.close().await?;
    Ok(one)
}

/// A port nobody listens on right now: the kernel picks it, and we let it go again.
fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    listener.local_addr().expect("local address").port()
}

#[tokio::test]
async fn uses_the_server_on_5432_and_creates_its_database() {
    let data_dir = tempfile::tempdir().expect("temporary data directory");
    // A database of its own, so parallel tests and a developer's `aegis` database stay untouched.
    let database = format!("aegis_local_postgres_test_{}", std::process::id());
    let options = LocalPostgresOptions {
        database: database.clone(),
        ..LocalPostgresOptions::new(data_dir.path())
    };

    let found = find_or_start(&options)
        .await
        .expect("find the local server");

    let LocalPostgres::Server { url } = &found else {
        panic!("expected the server on 127.0.0.1:5432, got {found:?}");
    };
    assert_eq!(
        url,
        &format!("postgres://postgres@127.0.0.1:5432/{database}")
    );
    assert_eq!(found.owner_url(), *url);
    assert_eq!(found.describe(), "local PostgreSQL on 127.0.0.1:5432");
    assert_eq!(
        select_one(url).await.expect("connect to the new database"),
        1
    );

    // Finding it again must not fail now that the database exists.
    let again = find_or_start(&options).await.expect("find it again");
    assert_eq!(again.owner_url(), *url);

    let mut admin = PgConnection::connect("postgres://postgres@127.0.0.1:5432/postgres")
        .await
        .expect("connect as the superuser");
    sqlx::raw_sql(&format!("drop database if exists \"{database}\""))
        .execute(&mut admin)
        .await
        .expect("drop the test database");
}

#[tokio::test]
async fn starts_a_private_cluster_and_stops_it_on_drop() {
    let data_dir = tempfile::tempdir().expect("temporary data directory");
    let port = free_port();
    let options = LocalPostgresOptions {
        probe: None,
        private_port: port,
        ..LocalPostgresOptions::new(data_dir.path())
    };

    let found = find_or_start(&options)
        .await
        .expect("start a private cluster");

    let LocalPostgres::Private(cluster) = &found else {
        panic!("expected a private cluster, got {found:?}");
    };
    assert!(cluster.started_here());
    assert_eq!(cluster.port(), port);
    assert!(cluster.cluster_dir().join("PG_VERSION").is_file());
    let url = found.owner_url();
    assert_eq!(url, format!("postgres://postgres@127.0.0.1:{port}/aegis"));
    assert!(
        found
            .describe()
            .starts_with("private PostgreSQL cluster in ")
    );
    assert_eq!(select_one(&url).await.expect("connect to the cluster"), 1);

    drop(found);

    assert!(
        select_one(&url).await.is_err(),
        "the cluster still answers on {port} after drop"
    );
    let address = SocketAddr::from(([127, 0, 0, 1], port));
    assert!(
        std::net::TcpStream::connect_timeout(&address, Duration::from_secs(1)).is_err(),
        "something still listens on {address}"
    );
}

#[tokio::test]
async fn reuses_a_running_cluster_and_restarts_an_existing_one() {
    let data_dir = tempfile::tempdir().expect("temporary data directory");
    let options = LocalPostgresOptions {
        probe: None,
        private_port: free_port(),
        ..LocalPostgresOptions::new(data_dir.path())
    };
    let first = find_or_start(&options)
        .await
        .expect("start a private cluster");
    let url = first.owner_url();

    // A second Aegis on the same data directory shares the running server and must not stop it.
    let second = find_or_start(&options)
        .await
        .expect("find the running cluster");
    let LocalPostgres::Private(cluster) = &second else {
        panic!("expected the private cluster, got {second:?}");
    };
    assert!(!cluster.started_here());
    assert_eq!(second.owner_url(), url);
    drop(second);
    assert_eq!(select_one(&url).await.expect("still running"), 1);

    // After a stop, the existing cluster starts again without a new initdb.
    drop(first);
    let third = find_or_start(&options).await.expect("restart the cluster");
    let LocalPostgres::Private(cluster) = &third else {
        panic!("expected the private cluster, got {third:?}");
    };
    assert!(cluster.started_here());
    assert_eq!(select_one(&url).await.expect("restarted"), 1);
}
