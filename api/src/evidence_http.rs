//! The local-disk evidence store's upload and download URLs, served by Aegis itself:
//! `PUT /evidence/objects/quarantine/<test case>/<evidence>` and `GET /evidence/objects/evidence/<…>/<…>`.
//!
//! They are authorised by the URL alone (HMAC signature over method, key, expiry and limits, issued by
//! `requestEvidenceUpload` or `evidenceDownloadUrl` after the real authorisation), like an S3 presigned URL,
//! so they carry no cookie and sit outside the CSRF guard, the 2 MiB body limit and the 30 s request timeout
//! of the GraphQL routes. Uploads stream to disk while hashing; only quarantined keys accept uploads, so an
//! attached file can never be overwritten through a URL. Downloads stream from disk.

use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::put;
use chrono::Utc;
use commands::evidence::store::{
    Disposition, LOCAL_OBJECTS_PATH, ObjectKey, SignatureError, SignedRequest, UploadError,
};
use serde::Deserialize;
use serde_json::json;

use crate::state::AppState;

/// The routes, when the local-disk store is in use (none otherwise).
pub fn routes(state: &AppState) -> Router {
    let has_local_store = state
        .evidence
        .as_ref()
        .is_some_and(|evidence| evidence.local.is_some());
    if !has_local_store {
        return Router::new();
    }
    Router::new()
        .route(
            &format!("{LOCAL_OBJECTS_PATH}{{*key}}"),
            put(upload).get(download),
        )
        .layer(DefaultBodyLimit::disable())
        .with_state(state.clone())
}

#[derive(Debug, Deserialize)]
struct Signed {
    expires: i64,
    signature: String,
    max: Option<u64>,
    name: Option<String>,
    #[serde(rename = "type")]
    content_type: Option<String>,
}

fn refusal(status: StatusCode, code: &str, message: &str) -> Response {
    let body = json!({ "errors": [{ "message": message, "extensions": { "code": code } }] });
    (status, axum::Json(body)).into_response()
}

fn signature_refusal(error: SignatureError) -> Response {
    refusal(StatusCode::FORBIDDEN, "FORBIDDEN", &error.to_string())
}

async fn upload(
    State(state): State<AppState>,
    Path(key): Path<String>,
    Query(signed): Query<Signed>,
    headers: axum::http::HeaderMap,
    body: Body,
) -> Response {
    let Some(store) = state
        .evidence
        .as_ref()
        .and_then(|evidence| evidence.local.clone())
    else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let Some(key) = ObjectKey::parse(&key).filter(ObjectKey::is_quarantined) else {
        return refusal(
            StatusCode::FORBIDDEN,
            "FORBIDDEN",
            "uploads go to their signed key only",
        );
    };
    let Some(max_size) = signed.max else {
        return signature_refusal(SignatureError::Invalid);
    };
    let request = SignedRequest::Upload { max_size };
    if let Err(error) = store.verify(
        &key,
        signed.expires,
        &request,
        &signed.signature,
        Utc::now(),
    ) {
        return signature_refusal(error);
    }
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    if declared.is_some_and(|length| length > max_size) {
        return refusal(
            StatusCode::PAYLOAD_TOO_LARGE,
            "VALIDATION",
            &format!("the file is larger than the {max_size} bytes declared"),
        );
    }
    match store.write(&key, body.into_data_stream(), max_size).await {
        Ok(written) => {
            axum::Json(json!({ "size": written.size, "sha256": written.sha256 })).into_response()
        }
        Err(UploadError::TooLarge(max)) => refusal(
            StatusCode::PAYLOAD_TOO_LARGE,
            "VALIDATION",
            &format!("the file is larger than the {max} bytes declared"),
        ),
        Err(UploadError::Io(error)) => {
            tracing::error!(%error, %key, "evidence upload failed");
            refusal(
                StatusCode::INTERNAL_SERVER_ERROR,
                "INTERNAL",
                "the upload could not be stored",
            )
        }
    }
}

async fn download(
    State(state): State<AppState>,
    Path(key): Path<String>,
    Query(signed): Query<Signed>,
) -> Response {
    let Some(store) = state
        .evidence
        .as_ref()
        .and_then(|evidence| evidence.local.clone())
    else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let Some(key) = ObjectKey::parse(&key).filter(|key| !key.is_quarantined()) else {
        return refusal(
            StatusCode::FORBIDDEN,
            "FORBIDDEN",
            "only attached evidence is downloaded",
        );
    };
    let (Some(file_name), Some(content_type)) = (signed.name, signed.content_type) else {
        return signature_refusal(SignatureError::Invalid);
    };
    let disposition = Disposition {
        file_name,
        content_type,
    };
    let request = SignedRequest::Download(disposition.clone());
    if let Err(error) = store.verify(
        &key,
        signed.expires,
        &request,
        &signed.signature,
        Utc::now(),
    ) {
        return signature_refusal(error);
    }
    let (file, size) = match store.open_for_download(&key).await {
        Ok(Some(opened)) => opened,
        Ok(None) => return refusal(StatusCode::NOT_FOUND, "NOT_FOUND", "no such evidence file"),
        Err(error) => {
            tracing::error!(%error, %key, "evidence download failed");
            return refusal(
                StatusCode::INTERNAL_SERVER_ERROR,
                "INTERNAL",
                "the file could not be read",
            );
        }
    };
    let header_value = |text: &str| {
        HeaderValue::from_str(text)
            .unwrap_or_else(|_| HeaderValue::from_static("application/octet-stream"))
    };
    let body = Body::from_stream(tokio_util::io::ReaderStream::new(file));
    (
        [
            (
                header::CONTENT_TYPE,
                header_value(&disposition.content_type),
            ),
            (
                header::CONTENT_DISPOSITION,
                header_value(&disposition.header_value()),
            ),
            (header::CONTENT_LENGTH, HeaderValue::from(size)),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static("default-src 'none'; sandbox"),
            ),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("private, no-store"),
            ),
        ],
        body,
    )
        .into_response()
}
