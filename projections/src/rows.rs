//! Read-model rows moved in bulk as JSON: a projection loads the rows a batch touches with one query, folds
//! the batch's events into them in memory and writes each changed row once. Projection speed is dominated by
//! statements per batch, so this keeps it at a few per table whatever the batch holds.
//!
//! A row type's serde field names are its table's column names: [`load`] reads rows through `json_agg`, and
//! [`insert_missing`] / [`upsert`] write them through `jsonb_populate_recordset`, which converts every column
//! type the read models use (arrays, `jsonb`, `timestamptz`, `uuid`) by the table's own definition. Rows that
//! are only ever appended go through `COPY` instead ([`crate::copy`]).

use chrono::{DateTime, SubsecRound, Utc};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use sqlx::PgConnection;
use sqlx::types::Json;
use uuid::Uuid;

/// The rows `query` selects for `keys` (bound as `$1`, a `uuid[]`); `query` returns one JSON array, e.g.
/// `SELECT coalesce(json_agg(t), '[]') FROM test_cases t WHERE test_case_id = ANY($1)` (`json_agg`: PostgreSQL
/// writes `json` text directly, where `jsonb_agg` builds a `jsonb` value first and then prints it, at about
/// 2.5 times the cost).
pub(crate) async fn load<T: DeserializeOwned + Send + Unpin + 'static>(
    connection: &mut PgConnection,
    query: &str,
    keys: &[Uuid],
) -> Result<Vec<T>, sqlx::Error> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let Json(rows): Json<Vec<T>> = sqlx::query_scalar(query)
        .bind(keys)
        .fetch_one(connection)
        .await?;
    Ok(rows)
}

/// Inserts the `rows` whose `key` columns match no row of `table`, and leaves the others as they are.
pub(crate) async fn insert_missing<T: Serialize>(
    connection: &mut PgConnection,
    table: &'static str,
    key: &[&'static str],
    rows: &[T],
) -> Result<(), sqlx::Error> {
    write(connection, table, OnConflict::Keep(key), rows).await
}

/// Inserts `rows` into `table`, replacing every column of a row whose `key` columns match one there. Each key
/// may appear once in `rows`.
pub(crate) async fn upsert<T: Serialize>(
    connection: &mut PgConnection,
    table: &'static str,
    key: &[&'static str],
    rows: &[T],
) -> Result<(), sqlx::Error> {
    write(connection, table, OnConflict::Replace(key), rows).await
}

enum OnConflict<'k> {
    Keep(&'k [&'static str]),
    Replace(&'k [&'static str]),
}

async fn write<T: Serialize>(
    connection: &mut PgConnection,
    table: &'static str,
    on_conflict: OnConflict<'_>,
    rows: &[T],
) -> Result<(), sqlx::Error> {
    let Some(first) = rows.first() else {
        return Ok(());
    };
    let encode = |error: serde_json::Error| sqlx::Error::Encode(Box::new(error));
    let Value::Object(fields) = serde_json::to_value(first).map_err(encode)? else {
        return Err(sqlx::Error::Encode(
            format!("a row of {table} must serialize as an object").into(),
        ));
    };
    let columns: Vec<&str> = fields.keys().map(String::as_str).collect();
    let conflict = match on_conflict {
        OnConflict::Keep(key) => format!(" ON CONFLICT ({}) DO NOTHING", key.join(", ")),
        OnConflict::Replace(key) => {
            let updates: Vec<String> = columns
                .iter()
                .filter(|column| !key.contains(column))
                .map(|column| format!("{column} = excluded.{column}"))
                .collect();
            format!(
                " ON CONFLICT ({}) DO UPDATE SET {}",
                key.join(", "),
                updates.join(", ")
            )
        }
    };
    let columns = columns.join(", ");
    sqlx::query(&format!(
        "INSERT INTO {table} ({columns})
         SELECT {columns} FROM jsonb_populate_recordset(NULL::{table}, $1){conflict}"
    ))
    .bind(Json(rows))
    .execute(connection)
    .await?;
    Ok(())
}

/// A time as a `timestamptz` column keeps it (whole microseconds, truncated as sqlx truncates when it binds
/// one), so that a row written as JSON holds what a bound parameter would have.
pub(crate) fn as_stored(time: DateTime<Utc>) -> DateTime<Utc> {
    time.trunc_subsecs(6)
}
