//! Evidence files: request an upload URL, confirm the upload, get a download URL. The `TestCase` aggregate
//! decides who may attach evidence (asked by the command layer with a dry run); the download adds the blind
//! rule: blue does not fetch red's evidence before the reveal.

use async_graphql::{Context, ErrorExtensions, Object, SimpleObject};
use chrono::{DateTime, Utc};
use commands::evidence::{EvidenceError, UploadRequest};
use domain::test_case::Side;
use uuid::Uuid;

use super::account::principal;
use super::command::{caller, failed};
use super::error::ApiError;
use super::scalars::BigInt;
use super::test_case_views::sees_blind_tests_redacted;
use super::test_cases::SideName;
use crate::state::{AppState, Evidence};

/// Where to upload an evidence file, and until when.
#[derive(SimpleObject, Debug)]
pub struct EvidenceUploadTicket {
    /// Confirm the upload with this id; the evidence keeps it.
    upload_id: Uuid,
    /// Always `PUT`: send the file's bytes as the request body, nothing else.
    method: String,
    /// A short-lived URL (at most 10 minutes) for a storage key the server chose.
    url: String,
    expires_at: DateTime<Utc>,
    /// The file name as it will be kept (sanitised).
    file_name: String,
    /// The content type the file's first bytes will be checked against.
    content_type: String,
}

/// Evidence attached by a confirmed upload.
#[derive(SimpleObject, Debug)]
pub struct EvidenceConfirmation {
    evidence_id: Uuid,
    test_case_id: Uuid,
    side: SideName,
    file_name: String,
    content_type: String,
    size: BigInt,
    sha256: String,
    /// True when an earlier confirmation already attached it.
    replayed: bool,
}

/// A short-lived (at most 5 minutes) link that downloads the file as an attachment.
#[derive(SimpleObject, Debug)]
pub struct EvidenceDownload {
    url: String,
    expires_at: DateTime<Utc>,
    file_name: String,
    content_type: String,
}

fn evidence<'a>(context: &Context<'a>) -> async_graphql::Result<&'a Evidence> {
    context
        .data::<AppState>()?
        .evidence
        .as_ref()
        .ok_or_else(|| {
            ApiError::Conflict("evidence storage is not configured on this server".to_owned())
                .extend()
        })
}

/// An evidence refusal as clients see it; the store out of reach is UNAVAILABLE (try again), a database
/// failure internal.
fn evidence_failed(error: EvidenceError) -> async_graphql::Error {
    match error {
        EvidenceError::Command(error) => failed(error),
        EvidenceError::Store(cause) => ApiError::Unavailable {
            message:
                "the evidence store cannot be reached right now; nothing was changed, try again"
                    .to_owned(),
            cause: Box::new(cause),
        }
        .extend(),
        EvidenceError::Database(_) => ApiError::internal(error).extend(),
        error => ApiError::refused(error.code(), error.to_string()).extend(),
    }
}

#[derive(Debug, Default)]
pub struct EvidenceMutation;

#[Object]
impl EvidenceMutation {
    /// Asks to upload an evidence file to a test case: red while executing, blue while reviewing (the test
    /// case decides, as for every step). Checks the size limit and the type (PNG, JPEG, GIF, PDF, PCAP,
    /// PCAPNG, ZIP, EVTX, JSON, text/log, CSV, XML) and returns a presigned PUT URL.
    #[allow(clippy::too_many_arguments)] // the fields a client declares, as the API names them
    async fn request_evidence_upload(
        &self,
        context: &Context<'_>,
        test_case_id: Uuid,
        side: SideName,
        file_name: String,
        content_type: String,
        #[graphql(name = "size")] byte_count: BigInt,
        sha256: String,
    ) -> async_graphql::Result<EvidenceUploadTicket> {
        let evidence = evidence(context)?;
        let caller = caller(context)?;
        let byte_count = u64::try_from(byte_count.0).map_err(|_| {
            ApiError::Validation("the size must not be negative".to_owned()).extend()
        })?;
        let request = UploadRequest {
            test_case_id,
            side: Side::from(side),
            file_name,
            content_type,
            size: byte_count,
            sha256,
        };
        let ticket = evidence
            .service
            .request_upload(&caller.actor, request)
            .await
            .map_err(evidence_failed)?;
        Ok(EvidenceUploadTicket {
            upload_id: ticket.upload_id,
            method: ticket.method.to_owned(),
            url: ticket.url,
            expires_at: ticket.expires_at,
            file_name: ticket.file_name.as_str().to_owned(),
            content_type: ticket.content_type.to_owned(),
        })
    }

    /// Verifies the uploaded file (size, SHA-256, type by its first bytes), moves it out of quarantine and
    /// attaches it. Confirming again answers with the same evidence.
    async fn confirm_evidence_upload(
        &self,
        context: &Context<'_>,
        id: Uuid,
    ) -> async_graphql::Result<EvidenceConfirmation> {
        let evidence = evidence(context)?;
        let caller = caller(context)?;
        let confirmed = evidence
            .service
            .confirm_upload(&caller.context, &caller.actor, id)
            .await
            .map_err(evidence_failed)?;
        Ok(EvidenceConfirmation {
            evidence_id: confirmed.evidence_id,
            test_case_id: confirmed.test_case_id,
            side: confirmed.side.into(),
            file_name: confirmed.file_name,
            content_type: confirmed.content_type,
            size: BigInt(i64::try_from(confirmed.size).unwrap_or(i64::MAX)),
            sha256: confirmed.sha256,
            replayed: confirmed.replayed,
        })
    }
}

#[derive(Debug, Default)]
pub struct EvidenceQuery;

#[Object]
impl EvidenceQuery {
    /// A download link for attached evidence (also after its removal: files are kept). In a blind test,
    /// blue cannot fetch red's evidence until red reveals the test.
    async fn evidence_download_url(
        &self,
        context: &Context<'_>,
        id: Uuid,
    ) -> async_graphql::Result<EvidenceDownload> {
        let evidence = evidence(context)?;
        let principal = principal(context)?;
        let file = evidence.service.find(id).await.map_err(evidence_failed)?;
        if file.side == Side::Red
            && sees_blind_tests_redacted(principal)
            && evidence
                .service
                .hidden_from_blue(file.test_case_id)
                .await
                .map_err(evidence_failed)?
        {
            return Err(ApiError::Forbidden(
                "red's evidence of this blind test is withheld until red reveals it".to_owned(),
            )
            .extend());
        }
        let link = evidence
            .service
            .download_link(&file)
            .await
            .map_err(evidence_failed)?;
        Ok(EvidenceDownload {
            url: link.url,
            expires_at: link.expires_at,
            file_name: file.file_name,
            content_type: file.content_type,
        })
    }
}
