//! The tamper-evident chain over the event log.
//!
//! Each event's `hash` is `sha256(prev_hash ‖ canonical(event))`, where `prev_hash` is the hash of the previous
//! event of the same aggregate (32 zero bytes for its first). Chaining per aggregate rather than globally keeps
//! appends to different aggregates free of any shared lock (a global chain would serialise every writer), while
//! the per-aggregate sequence (the optimistic-concurrency key) already orders each chain.
//!
//! The canonical encoding is computed here, in Rust, never taken from the bytes Postgres returns: `jsonb`
//! reorders object keys, so we hash a JSON array of the event's fields with object keys sorted.

use std::collections::HashMap;
use std::fmt;

use futures::TryStreamExt;
use serde_json::Value;
use sha2::{Digest, Sha256};
use sqlx::{PgPool, Row};

pub type Hash = [u8; 32];

/// The `prev_hash` of an aggregate's first event.
pub const GENESIS: Hash = [0; 32];

/// The fields of an event that the chain protects.
#[derive(Debug, Clone, Copy)]
pub struct ChainedEvent<'a> {
    pub aggregate_type: &'a str,
    pub aggregate_id: &'a str,
    pub sequence: i64,
    pub event_type: &'a str,
    pub event_version: &'a str,
    pub payload: &'a Value,
    pub metadata: &'a Value,
}

impl ChainedEvent<'_> {
    /// `sha256(prev_hash ‖ canonical encoding of this event)`.
    pub fn hash(&self, prev_hash: &Hash) -> Hash {
        let mut canonical = String::with_capacity(256);
        canonical.push('[');
        for field in [
            self.aggregate_type,
            self.aggregate_id,
            &self.sequence.to_string(),
            self.event_type,
            self.event_version,
        ] {
            push_string(&mut canonical, field);
            canonical.push(',');
        }
        push_canonical(&mut canonical, self.payload);
        canonical.push(',');
        push_canonical(&mut canonical, self.metadata);
        canonical.push(']');

        let mut hasher = Sha256::new();
        hasher.update(prev_hash);
        hasher.update(canonical.as_bytes());
        hasher.finalize().into()
    }
}

/// JSON with object keys in byte order and no insignificant whitespace, whatever order the value holds them in.
fn push_canonical(out: &mut String, value: &Value) {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_unstable_by(|left, right| left.0.cmp(right.0));
            out.push('{');
            for (index, (key, value)) in entries.into_iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                push_string(out, key);
                out.push(':');
                push_canonical(out, value);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                push_canonical(out, item);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

fn push_string(out: &mut String, text: &str) {
    out.push_str(&Value::from(text).to_string());
}

/// What `aegis audit verify` concludes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainVerdict {
    Intact { events: u64 },
    Broken(BrokenLink),
}

/// The first event, in global order, whose link does not hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokenLink {
    pub global_seq: i64,
    pub aggregate_type: String,
    pub aggregate_id: String,
    pub sequence: i64,
    pub problem: LinkProblem,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkProblem {
    /// The event's content no longer produces its stored hash: payload, metadata or a key field was altered.
    ContentAltered { stored: Hash, recomputed: Hash },
    /// The event does not point at its predecessor's hash: the predecessor was altered or replaced.
    PrevHashMismatch { stored: Hash, expected: Hash },
    /// The aggregate's sequence skips: an event was removed.
    SequenceGap { expected: i64 },
}

impl fmt::Display for BrokenLink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "broken link at global position {}: {} {} sequence {}: ",
            self.global_seq, self.aggregate_type, self.aggregate_id, self.sequence
        )?;
        match &self.problem {
            LinkProblem::ContentAltered { stored, recomputed } => write!(
                f,
                "its content was altered (stored hash {}, recomputed {})",
                hex::encode(stored),
                hex::encode(recomputed)
            ),
            LinkProblem::PrevHashMismatch { stored, expected } => write!(
                f,
                "its prev_hash {} is not the previous event's hash {} (the previous event was altered or replaced)",
                hex::encode(stored),
                hex::encode(expected)
            ),
            LinkProblem::SequenceGap { expected } => {
                write!(f, "sequence {expected} is missing (an event was removed)")
            }
        }
    }
}

/// Recomputes the whole chain in global order and names the first broken link.
///
/// Reads with a cursor, so memory holds one row plus the last hash of each aggregate.
pub async fn verify(pool: &PgPool) -> Result<ChainVerdict, sqlx::Error> {
    let mut rows = sqlx::query(
        "SELECT global_seq, aggregate_type, aggregate_id, sequence, event_type, event_version,
                payload, metadata, prev_hash, hash
           FROM events ORDER BY global_seq",
    )
    .fetch(pool);

    let mut heads: HashMap<(String, String), (i64, Hash)> = HashMap::new();
    let mut events = 0_u64;
    while let Some(row) = rows.try_next().await? {
        let aggregate_type: String = row.try_get("aggregate_type")?;
        let aggregate_id: String = row.try_get("aggregate_id")?;
        let sequence: i64 = row.try_get("sequence")?;
        let payload: Value = row.try_get("payload")?;
        let metadata: Value = row.try_get("metadata")?;
        let stored_prev = to_hash(&row.try_get::<Vec<u8>, _>("prev_hash")?);
        let stored = to_hash(&row.try_get::<Vec<u8>, _>("hash")?);
        let event = ChainedEvent {
            aggregate_type: &aggregate_type,
            aggregate_id: &aggregate_id,
            sequence,
            event_type: row.try_get("event_type")?,
            event_version: row.try_get("event_version")?,
            payload: &payload,
            metadata: &metadata,
        };

        let stream = (aggregate_type.clone(), aggregate_id.clone());
        let (last_sequence, expected_prev) = heads.get(&stream).copied().unwrap_or((0, GENESIS));
        let recomputed = event.hash(&stored_prev);
        let problem = if sequence != last_sequence + 1 {
            Some(LinkProblem::SequenceGap {
                expected: last_sequence + 1,
            })
        } else if stored_prev != expected_prev {
            Some(LinkProblem::PrevHashMismatch {
                stored: stored_prev,
                expected: expected_prev,
            })
        } else if recomputed != stored {
            Some(LinkProblem::ContentAltered { stored, recomputed })
        } else {
            None
        };
        if let Some(problem) = problem {
            return Ok(ChainVerdict::Broken(BrokenLink {
                global_seq: row.try_get("global_seq")?,
                aggregate_type,
                aggregate_id,
                sequence,
                problem,
            }));
        }
        heads.insert(stream, (sequence, stored));
        events += 1;
    }
    Ok(ChainVerdict::Intact { events })
}

/// The schema guarantees 32 bytes; anything else reads as all-zero and fails verification loudly.
fn to_hash(bytes: &[u8]) -> Hash {
    bytes.try_into().unwrap_or([0xff; 32])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event<'a>(payload: &'a Value, metadata: &'a Value) -> ChainedEvent<'a> {
        ChainedEvent {
            aggregate_type: "User",
            aggregate_id: "u1",
            sequence: 1,
            event_type: "UserRegistered",
            event_version: "1",
            payload,
            metadata,
        }
    }

    #[test]
    fn key_order_does_not_change_the_hash() {
        let metadata = json!({});
        let ordered: Value =
            serde_json::from_str(r#"{"a":1,"b":{"x":[1,2],"y":"z"}}"#).expect("json");
        let reordered: Value =
            serde_json::from_str(r#"{"b":{"y":"z","x":[1,2]},"a":1}"#).expect("json");
        assert_eq!(
            event(&ordered, &metadata).hash(&GENESIS),
            event(&reordered, &metadata).hash(&GENESIS)
        );
    }

    #[test]
    fn every_protected_field_and_the_previous_hash_change_the_hash() {
        let payload = json!({"email": "a@example.org"});
        let metadata = json!({"actor_id": "u0"});
        let base = event(&payload, &metadata);
        let original = base.hash(&GENESIS);

        let other_payload = json!({"email": "b@example.org"});
        let other_metadata = json!({"actor_id": "u9"});
        let variants = [
            ChainedEvent {
                aggregate_type: "TestCase",
                ..base
            },
            ChainedEvent {
                aggregate_id: "u2",
                ..base
            },
            ChainedEvent {
                sequence: 2,
                ..base
            },
            ChainedEvent {
                event_type: "UserDeactivated",
                ..base
            },
            ChainedEvent {
                event_version: "2",
                ..base
            },
            ChainedEvent {
                payload: &other_payload,
                ..base
            },
            ChainedEvent {
                metadata: &other_metadata,
                ..base
            },
        ];
        for variant in variants {
            assert_ne!(variant.hash(&GENESIS), original, "{variant:?}");
        }
        assert_ne!(base.hash(&[1; 32]), original);
    }

    #[test]
    fn field_boundaries_are_unambiguous() {
        // Concatenating without structure would make ("ab","c") and ("a","bc") collide.
        let value = json!(null);
        let left = ChainedEvent {
            aggregate_type: "ab",
            aggregate_id: "c",
            ..event(&value, &value)
        };
        let right = ChainedEvent {
            aggregate_type: "a",
            aggregate_id: "bc",
            ..event(&value, &value)
        };
        assert_ne!(left.hash(&GENESIS), right.hash(&GENESIS));
    }
}
