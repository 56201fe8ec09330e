//! Portable history: whole event streams written to a file another Aegis instance can verify and replay —
//! a consultant hands a client the verifiable history of a campaign, not a spreadsheet.
//!
//! # The file
//! JSON: the format name, when and by which instance (its public key) it was exported, every stream (aggregate
//! type and id, and each event with its sequence, type, version, payload, metadata and chained hash), and an
//! Ed25519 signature by the instance key over [`StreamFile::digest`]. The digest covers the format, the export
//! time and each stream's head (type, id, length, last hash); since every hash chains the whole stream before
//! it (see [`crate::hash_chain`]), the signature covers every byte of every event.
//!
//! # Importing
//! [`import`] checks everything before writing anything: the signature, each stream starting at sequence 1
//! with consecutive sequences, each hash recomputed from the event. Then, in one transaction, each stream is
//! appended after what the target already holds of it: an identical prefix is skipped (importing twice adds
//! nothing), a target stream that differs is a conflict and nothing is written. The appended events get the
//! same hashes, so the target's chain verifies and its read models, rebuilt from the same events, are the same.

use chrono::{DateTime, Utc};
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use sqlx::{PgPool, Row};

use crate::hash_chain::{ChainedEvent, GENESIS, Hash};

/// The format this version writes and reads.
pub const FORMAT: &str = "aegis-stream/1";

/// A stream file (see the module docs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StreamFile {
    pub format: String,
    pub exported_at: DateTime<Utc>,
    /// What was exported, for people (`campaign 0190…`).
    pub subject: String,
    pub streams: Vec<Stream>,
    pub signature: StreamSignature,
}

/// One aggregate's events, from its first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stream {
    pub aggregate_type: String,
    pub aggregate_id: String,
    pub events: Vec<PortableEvent>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PortableEvent {
    pub sequence: i64,
    pub event_type: String,
    pub event_version: String,
    pub payload: Value,
    pub metadata: Value,
    /// The chained hash, hex.
    pub hash: String,
}

/// The exporting instance's Ed25519 signature, hex.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamSignature {
    pub public_key: String,
    pub signature: String,
}

/// Why a stream file was refused or could not be imported. Nothing was written in any case.
#[derive(Debug, thiserror::Error)]
pub enum PortableError {
    #[error("the file is not an Aegis stream file: {0}")]
    Malformed(String),
    #[error(
        "the signature does not verify: the file was altered or not signed by the key it names"
    )]
    BadSignature,
    #[error("the file is signed by {found}, not by the trusted key {expected}")]
    UntrustedKey { expected: String, found: String },
    #[error("{aggregate_type} {aggregate_id}, event {sequence}: {reason}")]
    BrokenChain {
        aggregate_type: String,
        aggregate_id: String,
        sequence: i64,
        reason: String,
    },
    #[error(
        "{aggregate_type} {aggregate_id} differs here from the file at event {sequence}: its history is not the same"
    )]
    Conflict {
        aggregate_type: String,
        aggregate_id: String,
        sequence: i64,
    },
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// What an import did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct ImportedStreams {
    pub streams: usize,
    /// Events appended.
    pub appended: usize,
    /// Events the target already held.
    pub already_present: usize,
}

impl StreamFile {
    /// Reads every event of `aggregates` (type, id) and signs the file with `key` (the instance's Ed25519
    /// secret key). An aggregate without events is left out.
    pub async fn export(
        pool: &PgPool,
        subject: &str,
        aggregates: &[(String, String)],
        exported_at: DateTime<Utc>,
        key: &[u8; 32],
    ) -> Result<Self, sqlx::Error> {
        let mut streams = Vec::with_capacity(aggregates.len());
        for (aggregate_type, aggregate_id) in aggregates {
            let rows = sqlx::query(
                "SELECT sequence, event_type, event_version, payload, metadata, hash FROM events
                  WHERE aggregate_type = $1 AND aggregate_id = $2 ORDER BY sequence",
            )
            .bind(aggregate_type)
            .bind(aggregate_id)
            .fetch_all(pool)
            .await?;
            let events = rows
                .iter()
                .map(|row| {
                    Ok(PortableEvent {
                        sequence: row.try_get("sequence")?,
                        event_type: row.try_get("event_type")?,
                        event_version: row.try_get("event_version")?,
                        payload: row.try_get("payload")?,
                        metadata: row.try_get("metadata")?,
                        hash: hex::encode(row.try_get::<Vec<u8>, _>("hash")?),
                    })
                })
                .collect::<Result<Vec<_>, sqlx::Error>>()?;
            if !events.is_empty() {
                streams.push(Stream {
                    aggregate_type: aggregate_type.clone(),
                    aggregate_id: aggregate_id.clone(),
                    events,
                });
            }
        }
        let mut file = Self {
            format: FORMAT.to_owned(),
            exported_at,
            subject: subject.to_owned(),
            streams,
            signature: StreamSignature {
                public_key: String::new(),
                signature: String::new(),
            },
        };
        let signing_key = SigningKey::from_bytes(key);
        file.signature = StreamSignature {
            public_key: hex::encode(signing_key.verifying_key().to_bytes()),
            signature: hex::encode(signing_key.sign(&file.digest()).to_bytes()),
        };
        Ok(file)
    }

    /// What the signature signs: the format, the export time, the subject and each stream's head.
    pub fn digest(&self) -> Hash {
        let mut hasher = Sha256::new();
        for part in [
            self.format.as_str(),
            &self.exported_at.to_rfc3339(),
            &self.subject,
        ] {
            hasher.update(part.as_bytes());
            hasher.update([0]);
        }
        for stream in &self.streams {
            let head = stream.events.last().map_or("", |event| event.hash.as_str());
            for part in [
                stream.aggregate_type.as_str(),
                &stream.aggregate_id,
                &stream.events.len().to_string(),
                head,
            ] {
                hasher.update(part.as_bytes());
                hasher.update([0]);
            }
        }
        hasher.finalize().into()
    }

    /// Checks the format, the signature (by `trusted_key` when given, hex) and every chain. The key that
    /// signed is returned.
    pub fn verify(&self, trusted_key: Option<&str>) -> Result<String, PortableError> {
        if self.format != FORMAT {
            return Err(PortableError::Malformed(format!(
                "format {:?}, expected {FORMAT:?}",
                self.format
            )));
        }
        let public_key = self.signature.public_key.to_lowercase();
        if let Some(expected) = trusted_key.map(|key| key.trim().to_lowercase())
            && expected != public_key
        {
            return Err(PortableError::UntrustedKey {
                expected,
                found: public_key,
            });
        }
        let key_bytes: [u8; 32] = decode_hex(&public_key, "public key")?;
        let signature: [u8; 64] = decode_hex(&self.signature.signature, "signature")?;
        VerifyingKey::from_bytes(&key_bytes)
            .map_err(|_| PortableError::BadSignature)?
            .verify(&self.digest(), &Signature::from_bytes(&signature))
            .map_err(|_| PortableError::BadSignature)?;
        for stream in &self.streams {
            stream.verify()?;
        }
        Ok(public_key)
    }
}

impl Stream {
    /// Sequences 1, 2, … and every hash recomputed from its event and its predecessor.
    fn verify(&self) -> Result<(), PortableError> {
        let mut prev_hash = GENESIS;
        for (expected, event) in (1..).zip(&self.events) {
            let broken = |reason: String| PortableError::BrokenChain {
                aggregate_type: self.aggregate_type.clone(),
                aggregate_id: self.aggregate_id.clone(),
                sequence: event.sequence,
                reason,
            };
            if event.sequence != expected {
                return Err(broken(format!("expected sequence {expected}")));
            }
            let hash = self.chained(event).hash(&prev_hash);
            if hex::encode(hash) != event.hash.to_lowercase() {
                return Err(broken(
                    "its hash does not match its content: it was altered".to_owned(),
                ));
            }
            prev_hash = hash;
        }
        Ok(())
    }

    fn chained<'a>(&'a self, event: &'a PortableEvent) -> ChainedEvent<'a> {
        ChainedEvent {
            aggregate_type: &self.aggregate_type,
            aggregate_id: &self.aggregate_id,
            sequence: event.sequence,
            event_type: &event.event_type,
            event_version: &event.event_version,
            payload: &event.payload,
            metadata: &event.metadata,
        }
    }
}

fn decode_hex<const N: usize>(text: &str, what: &str) -> Result<[u8; N], PortableError> {
    hex::decode(text.trim())
        .ok()
        .and_then(|bytes| bytes.try_into().ok())
        .ok_or_else(|| PortableError::Malformed(format!("the {what} is not {N} bytes of hex")))
}

/// Verifies `file` (see [`StreamFile::verify`]) and appends what the target does not hold yet, all or nothing.
pub async fn import(
    pool: &PgPool,
    file: &StreamFile,
    trusted_key: Option<&str>,
) -> Result<ImportedStreams, PortableError> {
    file.verify(trusted_key)?;
    let mut transaction = pool.begin().await?;
    let mut imported = ImportedStreams {
        streams: file.streams.len(),
        ..ImportedStreams::default()
    };
    for stream in &file.streams {
        let held: Vec<Vec<u8>> = sqlx::query_scalar(
            "SELECT hash FROM events WHERE aggregate_type = $1 AND aggregate_id = $2 ORDER BY sequence",
        )
        .bind(&stream.aggregate_type)
        .bind(&stream.aggregate_id)
        .fetch_all(&mut *transaction)
        .await?;
        for (held_hash, event) in held.iter().zip(&stream.events) {
            if hex::encode(held_hash) != event.hash.to_lowercase() {
                return Err(PortableError::Conflict {
                    aggregate_type: stream.aggregate_type.clone(),
                    aggregate_id: stream.aggregate_id.clone(),
                    sequence: event.sequence,
                });
            }
        }
        if held.len() > stream.events.len() {
            // The target is further along the same history: nothing to add.
            imported.already_present += stream.events.len();
            continue;
        }
        imported.already_present += held.len();
        let mut prev_hash = held
            .last()
            .and_then(|hash| Hash::try_from(hash.as_slice()).ok())
            .unwrap_or(GENESIS);
        for event in &stream.events[held.len()..] {
            let hash = stream.chained(event).hash(&prev_hash);
            sqlx::query(
                "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version,
                                     payload, metadata, prev_hash, hash)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .bind(&stream.aggregate_type)
            .bind(&stream.aggregate_id)
            .bind(event.sequence)
            .bind(&event.event_type)
            .bind(&event.event_version)
            .bind(&event.payload)
            .bind(&event.metadata)
            .bind(prev_hash.as_slice())
            .bind(hash.as_slice())
            .execute(&mut *transaction)
            .await?;
            prev_hash = hash;
            imported.appended += 1;
        }
    }
    transaction.commit().await?;
    Ok(imported)
}
