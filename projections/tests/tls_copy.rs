//! A `COPY … FROM STDIN` over TLS completes when the server stops reading for a while: the rebuild's hang
//! (README, Coverage: "A rebuild could hang"). sqlx-core 0.8.6 over rustls waited, after a write blocked by a
//! full send buffer, for the socket to become readable as well, and the server, waiting for the rest of the
//! data, never sent anything; `vendor/sqlx-core` carries the fix (PATCHED.md).
//!
//! The stall is made certain: the first row's trigger sleeps while the client pushes more than both sockets'
//! buffers hold (here up to 32 MiB received, 4 MiB sent), so the client's writes must block and resume, tens of
//! times with reads attempted too. The hang itself is a race (whether anything else wakes the task) and this
//! test did not reproduce it with the unpatched crate (15 runs); it guards the path, the rebuild loop in README
//! is the evidence for the fix.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use sqlx::PgPool;
use sqlx::postgres::PgPoolCopyExt;

const STALL_SECONDS: f64 = 2.0;
const BULK_ROWS: i32 = 96;
const BULK_ROW_BYTES: usize = 1 << 20;

/// One row of `copied (n integer, filler bytea)` in the binary COPY format.
fn row(buffer: &mut Vec<u8>, n: i32, filler: &[u8]) {
    buffer.extend_from_slice(&2_i16.to_be_bytes());
    buffer.extend_from_slice(&4_i32.to_be_bytes());
    buffer.extend_from_slice(&n.to_be_bytes());
    buffer.extend_from_slice(&i32::try_from(filler.len()).unwrap().to_be_bytes());
    buffer.extend_from_slice(filler);
}

#[sqlx::test(migrations = false)]
async fn a_copy_over_tls_survives_a_server_that_stops_reading(pool: PgPool) {
    let ssl: String = sqlx::query_scalar("SHOW ssl")
        .fetch_one(&pool)
        .await
        .unwrap();
    if ssl != "on" {
        eprintln!(
            "skipped: this PostgreSQL server does not offer TLS (ssl = {ssl}), so nothing here is at risk"
        );
        return;
    }
    let encrypted: bool =
        sqlx::query_scalar("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert!(
        encrypted,
        "the server offers TLS, so sqlx (sslmode=prefer) must be using it"
    );

    sqlx::raw_sql(&format!(
        "CREATE TABLE copied (n integer NOT NULL, filler bytea NOT NULL);
         CREATE FUNCTION stall_on_the_first_row() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN
           IF NEW.n = 0 THEN PERFORM pg_sleep({STALL_SECONDS}); END IF;
           RETURN NEW;
         END $$;
         CREATE TRIGGER stall BEFORE INSERT ON copied FOR EACH ROW EXECUTE FUNCTION stall_on_the_first_row();"
    ))
    .execute(&pool)
    .await
    .unwrap();

    let mut first = b"PGCOPY\n\xff\r\n\0".to_vec();
    first.extend_from_slice(&[0; 8]);
    row(&mut first, 0, b"");
    let filler = vec![0x5a; BULK_ROW_BYTES];
    let mut bulk =
        Vec::with_capacity((BULK_ROW_BYTES + 14) * usize::try_from(BULK_ROWS).unwrap() + 2);
    for n in 1..=BULK_ROWS {
        row(&mut bulk, n, &filler);
    }
    bulk.extend_from_slice(&(-1_i16).to_be_bytes());

    let copy = async {
        let mut copy = pool
            .copy_in_raw("COPY copied (n, filler) FROM STDIN (FORMAT binary)")
            .await?;
        // Two messages: the server reads the first whole, then sleeps in its trigger while the second arrives.
        copy.send(first).await?;
        copy.send(bulk).await?;
        copy.finish().await
    };
    let copied = tokio::time::timeout(Duration::from_secs(60), copy)
        .await
        .expect("the COPY hung: the client stopped sending while the server waited for the rest")
        .unwrap();
    assert_eq!(copied, u64::try_from(BULK_ROWS).unwrap() + 1);

    let stored: i64 = sqlx::query_scalar("SELECT sum(length(filler))::bigint FROM copied")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(
        stored,
        i64::from(BULK_ROWS) * i64::try_from(BULK_ROW_BYTES).unwrap()
    );
}
