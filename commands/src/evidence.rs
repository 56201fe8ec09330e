//! Evidence files: requested, uploaded straight to storage, verified, then attached by an event.
//!
//! 1. [`EvidenceService::request_upload`] asks the `TestCase` aggregate whether the actor may attach evidence
//!    now (a dry run of `AttachEvidence`: the aggregate stays the one place where the rules live), checks the
//!    size limit and the type allow-list, records the pending upload (`evidence_uploads`, not an event) and
//!    returns a short-lived URL for a key the server chose under `quarantine/`.
//! 2. The client PUTs the bytes to that URL (the S3 server, or Aegis itself for the local-disk store).
//! 3. [`EvidenceService::confirm_upload`] reads the object back as a stream, checks its size, SHA-256 and
//!    first bytes against what was declared, moves it to `evidence/` and appends `EvidenceAttached` with
//!    key, size, digest, type, sanitised name, side and uploader; the pending row is marked confirmed in the
//!    same transaction, so a retried confirmation answers as the first did.
//!
//! Objects are never deleted once attached: removal is an event and the file stays for auditors.
//! [`EvidenceService::verify_all`] re-hashes every attached object against its event (`aegis evidence verify`).

pub mod kinds;
pub mod store;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use domain::actor::Actor;
use domain::test_case::{
    EvidenceRef, FileName, Sha256, Side, StoredObject, TestCase, TestCaseAction, TestCaseCommand,
    TestCaseError, TestCaseEvent,
};
use futures::FutureExt;
use sha2::Digest;
use sqlx::{PgPool, Row};
use tokio::io::AsyncReadExt;
use uuid::Uuid;

use crate::context::CommandContext;
use crate::service::{CommandError, CommandService};
use kinds::{EvidenceKind, SNIFF_BYTES};
use store::{Disposition, EvidenceStore, ObjectKey, StoreError};

/// 100 MiB: screenshots, logs, PCAP excerpts and SIEM exports fit; whole disk images do not belong here.
pub const DEFAULT_MAX_BYTES: u64 = 100 * 1024 * 1024;
/// Presigned uploads live at most this long.
pub const MAX_UPLOAD_URL_TTL: Duration = Duration::from_secs(10 * 60);
/// Presigned downloads live at most this long.
pub const MAX_DOWNLOAD_URL_TTL: Duration = Duration::from_secs(5 * 60);
/// How long after its URL expired an upload may still be confirmed (a large upload that finished at the
/// last second).
const CONFIRM_GRACE: TimeDelta = TimeDelta::minutes(10);

/// Limits of the evidence flow.
#[derive(Debug, Clone, Copy)]
pub struct EvidenceSettings {
    pub max_bytes: u64,
    pub upload_url_ttl: Duration,
    pub download_url_ttl: Duration,
}

impl Default for EvidenceSettings {
    fn default() -> Self {
        Self {
            max_bytes: DEFAULT_MAX_BYTES,
            upload_url_ttl: MAX_UPLOAD_URL_TTL,
            download_url_ttl: MAX_DOWNLOAD_URL_TTL,
        }
    }
}

/// Why an evidence request was refused. [`Self::code`] is the stable reason clients match on.
#[derive(Debug, thiserror::Error)]
pub enum EvidenceError {
    /// The test case refused (wrong state, wrong role, unknown test case, invalid name or digest…).
    #[error("{0}")]
    Rejected(TestCaseError),
    #[error("This test case takes {expected:?} evidence now, not {requested:?}.")]
    WrongSide { expected: Side, requested: Side },
    #[error("The file is {size} bytes; the limit is {limit} bytes.")]
    TooLarge { size: u64, limit: u64 },
    #[error("The file is empty.")]
    Empty,
    #[error(
        "{0:?} is not an accepted evidence type (PNG, JPEG, GIF, PDF, PCAP, PCAPNG, ZIP, EVTX, JSON, text, CSV, XML)."
    )]
    UnsupportedType(String),
    #[error("The file name's extension does not fit the type {0}.")]
    TypeMismatch(&'static str),
    #[error("There is no pending upload {0}.")]
    UnknownUpload(Uuid),
    #[error("Only the user who requested the upload may confirm it.")]
    NotUploader,
    #[error("The upload expired; request a new one.")]
    UploadExpired,
    #[error("Nothing was uploaded yet.")]
    NotUploaded,
    #[error("The upload was rejected earlier ({0}); request a new one.")]
    UploadRejected(String),
    #[error("The uploaded file is {actual} bytes, not the {declared} declared.")]
    SizeMismatch { declared: u64, actual: u64 },
    #[error("The uploaded file's SHA-256 is {actual}, not the {declared} declared.")]
    HashMismatch { declared: String, actual: String },
    #[error("The uploaded file is not {0}.")]
    ContentMismatch(&'static str),
    #[error("There is no evidence {0}.")]
    UnknownEvidence(Uuid),
    #[error(transparent)]
    Command(CommandError<TestCaseError>),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("evidence uploads table: {0}")]
    Database(#[from] sqlx::Error),
}

impl EvidenceError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::Rejected(error) => error.code(),
            Self::WrongSide { .. } => "WRONG_SIDE",
            Self::TooLarge { .. } => "TOO_LARGE",
            Self::Empty => "EMPTY_FILE",
            Self::UnsupportedType(_) => "UNSUPPORTED_TYPE",
            Self::TypeMismatch(_) => "TYPE_MISMATCH",
            Self::UnknownUpload(_) => "UNKNOWN_UPLOAD",
            Self::NotUploader => "NOT_UPLOADER",
            Self::UploadExpired => "UPLOAD_EXPIRED",
            Self::NotUploaded => "NOT_UPLOADED",
            Self::UploadRejected(_) => "UPLOAD_REJECTED",
            Self::SizeMismatch { .. } => "SIZE_MISMATCH",
            Self::HashMismatch { .. } => "HASH_MISMATCH",
            Self::ContentMismatch(_) => "CONTENT_MISMATCH",
            Self::UnknownEvidence(_) => "UNKNOWN_EVIDENCE",
            Self::Command(_) | Self::Store(_) | Self::Database(_) => "INTERNAL",
        }
    }
}

impl From<TestCaseError> for EvidenceError {
    fn from(error: TestCaseError) -> Self {
        Self::Rejected(error)
    }
}

/// What a client declares before uploading.
#[derive(Debug, Clone)]
pub struct UploadRequest {
    pub test_case_id: Uuid,
    pub side: Side,
    pub file_name: String,
    pub content_type: String,
    pub size: u64,
    pub sha256: String,
}

/// Where and until when to upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadTicket {
    /// Also the id the evidence will have.
    pub upload_id: Uuid,
    pub method: &'static str,
    pub url: String,
    pub expires_at: DateTime<Utc>,
    pub file_name: FileName,
    pub content_type: &'static str,
}

/// A confirmed upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Confirmed {
    pub evidence_id: Uuid,
    pub test_case_id: Uuid,
    pub side: Side,
    pub file_name: String,
    pub content_type: String,
    pub size: u64,
    pub sha256: String,
    /// True when an earlier confirmation already attached it.
    pub replayed: bool,
}

/// Attached evidence as needed to authorise and serve a download.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachedFile {
    pub evidence_id: Uuid,
    pub test_case_id: Uuid,
    pub side: Side,
    pub file_name: String,
    pub content_type: String,
    key: ObjectKey,
}

/// A short-lived download link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DownloadLink {
    pub url: String,
    pub expires_at: DateTime<Utc>,
}

/// One object `verify_all` found wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyProblem {
    pub test_case_id: String,
    pub evidence_id: Uuid,
    pub key: String,
    pub expected_sha256: String,
    /// `None` when the object is missing.
    pub actual_sha256: Option<String>,
    pub expected_size: u64,
    pub actual_size: Option<u64>,
}

/// What `verify_all` found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VerifyReport {
    /// Objects re-hashed.
    pub checked: u64,
    /// Attachments from before verified uploads, with no stored object to check.
    pub without_object: u64,
    pub problems: Vec<VerifyProblem>,
}

/// The evidence flow over one store.
#[derive(Debug, Clone)]
pub struct EvidenceService {
    pool: PgPool,
    store: Arc<dyn EvidenceStore>,
    test_cases: Arc<CommandService<TestCase>>,
    settings: EvidenceSettings,
}

impl EvidenceService {
    pub fn new(
        pool: PgPool,
        store: Arc<dyn EvidenceStore>,
        test_cases: Arc<CommandService<TestCase>>,
        settings: EvidenceSettings,
    ) -> Self {
        let settings = EvidenceSettings {
            upload_url_ttl: settings.upload_url_ttl.min(MAX_UPLOAD_URL_TTL),
            download_url_ttl: settings.download_url_ttl.min(MAX_DOWNLOAD_URL_TTL),
            ..settings
        };
        Self {
            pool,
            store,
            test_cases,
            settings,
        }
    }

    pub fn settings(&self) -> EvidenceSettings {
        self.settings
    }

    pub fn store(&self) -> &Arc<dyn EvidenceStore> {
        &self.store
    }

    /// Step 1: checks everything that can be checked before the bytes exist and hands out an upload URL.
    pub async fn request_upload(
        &self,
        actor: &Actor,
        request: UploadRequest,
    ) -> Result<UploadTicket, EvidenceError> {
        let file_name = sanitise_file_name(&request.file_name)?;
        let sha256 = Sha256::parse(&request.sha256)?;
        let kind = EvidenceKind::from_content_type(&request.content_type)
            .ok_or_else(|| EvidenceError::UnsupportedType(request.content_type.clone()))?;
        if !kind.fits_file_name(file_name.as_str()) {
            return Err(EvidenceError::TypeMismatch(kind.content_type()));
        }
        if request.size == 0 {
            return Err(EvidenceError::Empty);
        }
        if request.size > self.settings.max_bytes {
            return Err(EvidenceError::TooLarge {
                size: request.size,
                limit: self.settings.max_bytes,
            });
        }
        let upload_id = Uuid::now_v7();
        let now = self.test_cases.now();
        // The aggregate decides whether this actor may attach evidence now, and for which side.
        let test_case = self
            .test_cases
            .load(&request.test_case_id.to_string())
            .await
            .map_err(EvidenceError::Command)?;
        let provisional = EvidenceRef {
            id: upload_id,
            sha256: sha256.clone(),
            file_name: file_name.clone(),
            stored: None,
        };
        let decided = test_case.decide(TestCaseCommand {
            actor: actor.clone(),
            at: now,
            action: TestCaseAction::AttachEvidence {
                evidence: provisional,
            },
        })?;
        let Some(TestCaseEvent::EvidenceAttached { side, .. }) = decided.first() else {
            unreachable!("AttachEvidence decides EvidenceAttached");
        };
        if *side != request.side {
            return Err(EvidenceError::WrongSide {
                expected: *side,
                requested: request.side,
            });
        }

        let quarantine = ObjectKey::quarantine(request.test_case_id, upload_id);
        let final_key = ObjectKey::evidence(request.test_case_id, upload_id);
        let ttl = self.settings.upload_url_ttl;
        let expires_at = now + TimeDelta::from_std(ttl).unwrap_or(TimeDelta::minutes(10));
        sqlx::query(
            "INSERT INTO evidence_uploads (upload_id, test_case_id, side, uploaded_by, file_name,
                 content_type, size, sha256, quarantine_key, object_key, requested_at, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .bind(upload_id)
        .bind(request.test_case_id)
        .bind(side_name(request.side))
        .bind(actor.user_id)
        .bind(file_name.as_str())
        .bind(kind.content_type())
        .bind(to_i64(request.size))
        .bind(sha256.as_str())
        .bind(quarantine.as_str())
        .bind(final_key.as_str())
        .bind(now)
        .bind(expires_at)
        .execute(&self.pool)
        .await?;
        let url = self
            .store
            .upload_url(&quarantine, request.size, ttl)
            .await?;
        Ok(UploadTicket {
            upload_id,
            method: "PUT",
            url,
            expires_at,
            file_name,
            content_type: kind.content_type(),
        })
    }

    /// Step 3: verifies the uploaded object and attaches it. Idempotent: confirming again answers with the
    /// attachment already made.
    pub async fn confirm_upload(
        &self,
        context: &CommandContext,
        actor: &Actor,
        upload_id: Uuid,
    ) -> Result<Confirmed, EvidenceError> {
        let pending = self
            .pending(upload_id)
            .await?
            .ok_or(EvidenceError::UnknownUpload(upload_id))?;
        if pending.uploaded_by != actor.user_id {
            return Err(EvidenceError::NotUploader);
        }
        if pending.confirmed {
            return Ok(pending.confirmed(true));
        }
        if let Some(reason) = &pending.rejection {
            return Err(EvidenceError::UploadRejected(reason.clone()));
        }
        let now = self.test_cases.now();
        if now > pending.expires_at + CONFIRM_GRACE {
            return Err(EvidenceError::UploadExpired);
        }

        // A confirmation that moved the object but failed to append finds it at its final key.
        let (reader, at_final_key) = match self.store.read(&pending.quarantine_key).await? {
            Some(reader) => (reader, false),
            None => match self.store.read(&pending.object_key).await? {
                Some(reader) => (reader, true),
                None => return Err(EvidenceError::NotUploaded),
            },
        };
        let kind = EvidenceKind::from_content_type(&pending.content_type)
            .ok_or_else(|| EvidenceError::UnsupportedType(pending.content_type.clone()))?;
        if let Err(error) = inspect(reader, pending.size, &pending.sha256, kind).await {
            if !matches!(error, EvidenceError::Store(_)) {
                self.reject(&pending, &error, at_final_key).await?;
            }
            return Err(error);
        }
        if !at_final_key {
            self.store
                .rename(&pending.quarantine_key, &pending.object_key)
                .await?;
        }

        let evidence = EvidenceRef {
            id: upload_id,
            sha256: Sha256::parse(&pending.sha256)?,
            file_name: FileName::parse(&pending.file_name)?,
            stored: Some(StoredObject {
                key: pending.object_key.to_string(),
                size: pending.size,
                content_type: pending.content_type.clone(),
            }),
        };
        let command = TestCaseCommand {
            actor: actor.clone(),
            at: now,
            action: TestCaseAction::AttachEvidence { evidence },
        };
        let mark_confirmed: crate::event_log::InTransaction = Box::new(move |connection| {
            async move {
                sqlx::query(
                    "UPDATE evidence_uploads SET confirmed_at = now() WHERE upload_id = $1",
                )
                .bind(upload_id)
                .execute(connection)
                .await?;
                Ok(())
            }
            .boxed()
        });
        let result = self
            .test_cases
            .execute_with(
                context,
                &pending.test_case_id.to_string(),
                command,
                Some(mark_confirmed),
            )
            .await;
        match result {
            Ok(_) => Ok(pending.confirmed(false)),
            // A concurrent confirmation of the same upload won the race.
            Err(
                CommandError::Rejected(TestCaseError::DuplicateEvidence(_))
                | CommandError::Conflict { .. },
            ) if self
                .pending(upload_id)
                .await?
                .is_some_and(|row| row.confirmed) =>
            {
                Ok(pending.confirmed(true))
            }
            Err(CommandError::Rejected(error)) => Err(EvidenceError::Rejected(error)),
            Err(error) => Err(EvidenceError::Command(error)),
        }
    }

    /// Attached evidence by id (also after its removal: the file is kept for auditors).
    pub async fn find(&self, evidence_id: Uuid) -> Result<AttachedFile, EvidenceError> {
        let pending = self
            .pending(evidence_id)
            .await?
            .filter(|row| row.confirmed)
            .ok_or(EvidenceError::UnknownEvidence(evidence_id))?;
        Ok(AttachedFile {
            evidence_id,
            test_case_id: pending.test_case_id,
            side: pending.side,
            file_name: pending.file_name,
            content_type: pending.content_type,
            key: pending.object_key,
        })
    }

    /// Whether a blind test still hides red's side from blue (the download rule), read from its events.
    pub async fn hidden_from_blue(&self, test_case_id: Uuid) -> Result<bool, EvidenceError> {
        Ok(self
            .test_cases
            .load(&test_case_id.to_string())
            .await
            .map_err(EvidenceError::Command)?
            .is_hidden_from_blue())
    }

    /// A presigned download of `file` (the caller has authorised it).
    pub async fn download_link(&self, file: &AttachedFile) -> Result<DownloadLink, EvidenceError> {
        let ttl = self.settings.download_url_ttl;
        let disposition = Disposition {
            file_name: file.file_name.clone(),
            content_type: file.content_type.clone(),
        };
        let url = self
            .store
            .download_url(&file.key, &disposition, ttl)
            .await?;
        Ok(DownloadLink {
            url,
            expires_at: Utc::now() + TimeDelta::from_std(ttl).unwrap_or(TimeDelta::minutes(5)),
        })
    }

    /// Re-hashes every object an `EvidenceAttached` event points at and lists those whose digest or size
    /// differ from the event, or that are missing.
    pub async fn verify_all(&self) -> Result<VerifyReport, EvidenceError> {
        let rows = sqlx::query(
            "SELECT aggregate_id, payload::text AS payload FROM events
              WHERE aggregate_type = 'TestCase' AND event_type = 'TestCaseEvidenceAttached'
              ORDER BY aggregate_id, sequence",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut report = VerifyReport::default();
        for row in rows {
            let test_case_id: String = row.try_get("aggregate_id")?;
            let payload: String = row.try_get("payload")?;
            let event: TestCaseEvent = serde_json::from_str(&payload)
                .map_err(|error| sqlx::Error::Decode(Box::new(error)))?;
            let TestCaseEvent::EvidenceAttached { evidence, .. } = event else {
                continue;
            };
            let Some(stored) = &evidence.stored else {
                report.without_object += 1;
                continue;
            };
            report.checked += 1;
            let problem = |actual: Option<(u64, String)>| VerifyProblem {
                test_case_id: test_case_id.clone(),
                evidence_id: evidence.id,
                key: stored.key.clone(),
                expected_sha256: evidence.sha256.as_str().to_owned(),
                actual_size: actual.as_ref().map(|(size, _)| *size),
                actual_sha256: actual.map(|(_, digest)| digest),
                expected_size: stored.size,
            };
            let object = match ObjectKey::parse(&stored.key) {
                Some(key) => self.store.read(&key).await?,
                None => None,
            };
            let Some(reader) = object else {
                report.problems.push(problem(None));
                continue;
            };
            let (size, digest) = store::sha256_of(reader)
                .await
                .map_err(|error| EvidenceError::Store(error.into()))?;
            if digest != evidence.sha256.as_str() || size != stored.size {
                report.problems.push(problem(Some((size, digest))));
            }
        }
        Ok(report)
    }

    async fn pending(&self, upload_id: Uuid) -> Result<Option<Pending>, EvidenceError> {
        let row = sqlx::query(
            "SELECT test_case_id, side, uploaded_by, file_name, content_type, size, sha256,
                    quarantine_key, object_key, expires_at, confirmed_at IS NOT NULL AS confirmed, rejection
               FROM evidence_uploads WHERE upload_id = $1",
        )
        .bind(upload_id)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let key = |column: &str| -> Result<ObjectKey, EvidenceError> {
            let text: String = row.try_get(column)?;
            ObjectKey::parse(&text).ok_or_else(|| {
                EvidenceError::Database(sqlx::Error::Decode(
                    format!("evidence_uploads.{column} holds {text:?}").into(),
                ))
            })
        };
        let side_name: String = row.try_get("side")?;
        let size: i64 = row.try_get("size")?;
        Ok(Some(Pending {
            upload_id,
            test_case_id: row.try_get("test_case_id")?,
            side: if side_name == "red" {
                Side::Red
            } else {
                Side::Blue
            },
            uploaded_by: row.try_get("uploaded_by")?,
            file_name: row.try_get("file_name")?,
            content_type: row.try_get("content_type")?,
            size: size.unsigned_abs(),
            sha256: row.try_get("sha256")?,
            quarantine_key: key("quarantine_key")?,
            object_key: key("object_key")?,
            expires_at: row.try_get("expires_at")?,
            confirmed: row.try_get("confirmed")?,
            rejection: row.try_get("rejection")?,
        }))
    }

    /// Records why an upload failed its checks and drops the bytes, which are not evidence of anything.
    async fn reject(
        &self,
        pending: &Pending,
        error: &EvidenceError,
        at_final_key: bool,
    ) -> Result<(), EvidenceError> {
        sqlx::query("UPDATE evidence_uploads SET rejection = $2 WHERE upload_id = $1")
            .bind(pending.upload_id)
            .bind(error.code())
            .execute(&self.pool)
            .await?;
        let key = if at_final_key {
            &pending.object_key
        } else {
            &pending.quarantine_key
        };
        self.store.delete(key).await?;
        Ok(())
    }
}

/// A row of `evidence_uploads`.
#[derive(Debug, Clone)]
struct Pending {
    upload_id: Uuid,
    test_case_id: Uuid,
    side: Side,
    uploaded_by: Uuid,
    file_name: String,
    content_type: String,
    size: u64,
    sha256: String,
    quarantine_key: ObjectKey,
    object_key: ObjectKey,
    expires_at: DateTime<Utc>,
    confirmed: bool,
    rejection: Option<String>,
}

impl Pending {
    fn confirmed(&self, replayed: bool) -> Confirmed {
        Confirmed {
            evidence_id: self.upload_id,
            test_case_id: self.test_case_id,
            side: self.side,
            file_name: self.file_name.clone(),
            content_type: self.content_type.clone(),
            size: self.size,
            sha256: self.sha256.clone(),
            replayed,
        }
    }
}

/// Streams `reader` through SHA-256, stopping as soon as it passes `size`, and checks the first bytes
/// against `kind`. Holds one chunk and the first [`SNIFF_BYTES`] at most.
async fn inspect(
    mut reader: store::ObjectReader,
    size: u64,
    sha256: &str,
    kind: EvidenceKind,
) -> Result<(), EvidenceError> {
    let mut hasher = sha2::Sha256::new();
    let mut head = Vec::with_capacity(SNIFF_BYTES);
    let mut buffer = vec![0_u8; 64 * 1024];
    let mut read = 0_u64;
    loop {
        let count = reader
            .read(&mut buffer)
            .await
            .map_err(|error| EvidenceError::Store(error.into()))?;
        if count == 0 {
            break;
        }
        let chunk = &buffer[..count];
        read += count as u64;
        if read > size {
            return Err(EvidenceError::SizeMismatch {
                declared: size,
                actual: read,
            });
        }
        if head.len() < SNIFF_BYTES {
            let wanted = (SNIFF_BYTES - head.len()).min(chunk.len());
            head.extend_from_slice(&chunk[..wanted]);
        }
        hasher.update(chunk);
    }
    if read != size {
        return Err(EvidenceError::SizeMismatch {
            declared: size,
            actual: read,
        });
    }
    let actual = hex::encode(hasher.finalize());
    if actual != sha256 {
        return Err(EvidenceError::HashMismatch {
            declared: sha256.to_owned(),
            actual,
        });
    }
    if !kind.matches(&head, read <= SNIFF_BYTES as u64) {
        return Err(EvidenceError::ContentMismatch(kind.content_type()));
    }
    Ok(())
}

/// The name to keep and offer on download: the last component of whatever path the client sent, without
/// control characters or characters that are special in file systems and headers, and not hidden (no
/// leading dot), then the usual file-name rules.
pub fn sanitise_file_name(input: &str) -> Result<FileName, TestCaseError> {
    let last = input.rsplit(['/', '\\']).next().unwrap_or_default();
    let cleaned: String = last
        .chars()
        .map(|character| {
            if character.is_control()
                || matches!(character, '"' | '<' | '>' | ':' | '|' | '?' | '*')
            {
                '_'
            } else {
                character
            }
        })
        .collect();
    let trimmed = cleaned.trim().trim_start_matches('.').trim();
    FileName::parse(trimmed)
}

fn side_name(side: Side) -> &'static str {
    match side {
        Side::Red => "red",
        Side::Blue => "blue",
    }
}

fn to_i64(size: u64) -> i64 {
    i64::try_from(size).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn file_names_are_sanitised() {
        let name = |input: &str| sanitise_file_name(input).map(|name| name.as_str().to_owned());
        assert_eq!(name("C:\\Users\\red\\lsass.log").unwrap(), "lsass.log");
        assert_eq!(name("../../etc/passwd").unwrap(), "passwd");
        assert_eq!(name("..hidden.txt").unwrap(), "hidden.txt");
        assert_eq!(name("a\"b<c>.txt").unwrap(), "a_b_c_.txt");
        assert_eq!(name("tab\there.log").unwrap(), "tab_here.log");
        assert!(name("..").is_err());
        assert!(name("dir/").is_err());
    }

    fn reader(bytes: &'static [u8]) -> store::ObjectReader {
        Box::pin(bytes)
    }

    fn digest(bytes: &[u8]) -> String {
        hex::encode(sha2::Sha256::digest(bytes))
    }

    #[tokio::test]
    async fn inspection_checks_size_digest_and_type() {
        let png: &'static [u8] = b"\x89PNG\r\n\x1a\n rest of the image";
        let size = png.len() as u64;
        assert!(
            inspect(reader(png), size, &digest(png), EvidenceKind::Png)
                .await
                .is_ok()
        );
        assert!(matches!(
            inspect(reader(png), size - 1, &digest(png), EvidenceKind::Png).await,
            Err(EvidenceError::SizeMismatch { .. })
        ));
        assert!(matches!(
            inspect(reader(png), size + 1, &digest(png), EvidenceKind::Png).await,
            Err(EvidenceError::SizeMismatch { .. })
        ));
        assert!(matches!(
            inspect(reader(png), size, &digest(b"other"), EvidenceKind::Png).await,
            Err(EvidenceError::HashMismatch { .. })
        ));
        let script: &'static [u8] = b"#!/bin/sh\nid\n";
        assert!(matches!(
            inspect(
                reader(script),
                script.len() as u64,
                &digest(script),
                EvidenceKind::Png
            )
            .await,
            Err(EvidenceError::ContentMismatch("image/png"))
        ));
    }
}
