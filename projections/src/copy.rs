//! Rows appended through `COPY … FROM STDIN (FORMAT binary)`: the cheapest way into a table for PostgreSQL, which
//! parses nothing (every value arrives in its binary form) and writes a page of rows per WAL record instead of
//! one record per row. For the read models that only ever append rows, where a rebuild writes a row per event.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

/// Rows for `table`, in PostgreSQL's binary `COPY` format, written value by value in the order of `columns`;
/// each value's type must be the column's own (no conversion happens).
pub(crate) struct BinaryRows {
    table: &'static str,
    columns: &'static [&'static str],
    buffer: Vec<u8>,
    rows: usize,
}

/// Microseconds between the Unix epoch and PostgreSQL's (2000-01-01), in which `timestamptz` counts.
const POSTGRES_EPOCH_MICROS: i64 = 946_684_800_000_000;

impl BinaryRows {
    pub(crate) fn new(table: &'static str, columns: &'static [&'static str]) -> Self {
        let mut buffer = Vec::with_capacity(64 * 1024);
        // Signature, flags (no OIDs), header extension length.
        buffer.extend_from_slice(b"PGCOPY\n\xff\r\n\0");
        buffer.extend_from_slice(&0_i32.to_be_bytes());
        buffer.extend_from_slice(&0_i32.to_be_bytes());
        Self {
            table,
            columns,
            buffer,
            rows: 0,
        }
    }

    /// Starts a row; a value for each column must follow.
    pub(crate) fn row(&mut self) -> &mut Self {
        let columns = i16::try_from(self.columns.len()).expect("a table has under 1,600 columns");
        self.buffer.extend_from_slice(&columns.to_be_bytes());
        self.rows += 1;
        self
    }

    pub(crate) fn integer(&mut self, value: i32) -> &mut Self {
        self.value(&value.to_be_bytes())
    }

    pub(crate) fn bigint(&mut self, value: i64) -> &mut Self {
        self.value(&value.to_be_bytes())
    }

    pub(crate) fn timestamptz(&mut self, value: DateTime<Utc>) -> &mut Self {
        // Whole microseconds, as sqlx truncates a bound `DateTime`.
        self.bigint(value.timestamp_micros() - POSTGRES_EPOCH_MICROS)
    }

    pub(crate) fn text(&mut self, value: &str) -> &mut Self {
        self.value(value.as_bytes())
    }

    pub(crate) fn optional_text(&mut self, value: Option<&str>) -> &mut Self {
        match value {
            Some(value) => self.text(value),
            None => self.null(),
        }
    }

    pub(crate) fn uuid(&mut self, value: Uuid) -> &mut Self {
        self.value(value.as_bytes())
    }

    pub(crate) fn bytea(&mut self, value: &[u8]) -> &mut Self {
        self.value(value)
    }

    fn null(&mut self) -> &mut Self {
        self.buffer.extend_from_slice(&(-1_i32).to_be_bytes());
        self
    }

    fn value(&mut self, bytes: &[u8]) -> &mut Self {
        let length =
            i32::try_from(bytes.len()).expect("a value of a read-model row is under 2 GiB");
        self.buffer.extend_from_slice(&length.to_be_bytes());
        self.buffer.extend_from_slice(bytes);
        self
    }

    /// Appends the rows to the table; nothing without rows.
    pub(crate) async fn copy_into(
        mut self,
        connection: &mut PgConnection,
    ) -> Result<(), sqlx::Error> {
        if self.rows == 0 {
            return Ok(());
        }
        self.buffer.extend_from_slice(&(-1_i16).to_be_bytes());
        let mut copy = connection
            .copy_in_raw(&format!(
                "COPY {} ({}) FROM STDIN (FORMAT binary)",
                self.table,
                self.columns.join(", ")
            ))
            .await?;
        if let Err(error) = copy.send(self.buffer).await {
            copy.abort(error.to_string()).await?;
            return Err(error);
        }
        copy.finish().await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::*;

    #[test]
    fn the_postgres_epoch_is_2000_01_01() {
        let epoch = NaiveDate::from_ymd_opt(2000, 1, 1)
            .and_then(|day| day.and_hms_opt(0, 0, 0))
            .map(|time| time.and_utc().timestamp_micros());
        assert_eq!(epoch, Some(POSTGRES_EPOCH_MICROS));
    }
}
