//! Where evidence objects live: [`EvidenceStore`] and its two backends, [`S3Store`] (any S3-compatible
//! server, through rust-s3) and [`LocalDiskStore`] (files under the data directory, with URLs signed by the
//! server itself). Clients only ever receive short-lived URLs for keys the server chose.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::{Stream, StreamExt, TryStreamExt};
use hmac::{Hmac, Mac};
use s3::creds::Credentials;
use s3::serde_types::{CorsConfiguration, CorsRule};
use s3::{Bucket, BucketConfiguration, Region};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, AsyncWriteExt};
use tokio_util::io::StreamReader;

/// The bytes of a stored object, read as they arrive.
pub type ObjectReader = Pin<Box<dyn AsyncRead + Send>>;

/// A storage key: `quarantine/<test case>/<evidence>` while unconfirmed, `evidence/<test case>/<evidence>`
/// after. Built by the server from two UUIDs, so it is safe as a path and a URL.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ObjectKey(String);

impl ObjectKey {
    pub fn quarantine(test_case_id: uuid::Uuid, evidence_id: uuid::Uuid) -> Self {
        Self(format!("{QUARANTINE_PREFIX}{test_case_id}/{evidence_id}"))
    }

    pub fn evidence(test_case_id: uuid::Uuid, evidence_id: uuid::Uuid) -> Self {
        Self(format!("{EVIDENCE_PREFIX}{test_case_id}/{evidence_id}"))
    }

    /// Only the two shapes above; anything else (`..`, other prefixes, other characters) is refused.
    pub fn parse(key: &str) -> Option<Self> {
        let rest = key
            .strip_prefix(QUARANTINE_PREFIX)
            .or_else(|| key.strip_prefix(EVIDENCE_PREFIX))?;
        let (test_case, evidence) = rest.split_once('/')?;
        let canonical = |text: &str| {
            uuid::Uuid::parse_str(text).is_ok_and(|id| id.hyphenated().to_string() == text)
        };
        (canonical(test_case) && canonical(evidence)).then(|| Self(key.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn is_quarantined(&self) -> bool {
        self.0.starts_with(QUARANTINE_PREFIX)
    }
}

impl fmt::Display for ObjectKey {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.0)
    }
}

const QUARANTINE_PREFIX: &str = "quarantine/";
const EVIDENCE_PREFIX: &str = "evidence/";

/// What a download offers the browser: the sanitised file name and the verified content type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disposition {
    pub file_name: String,
    pub content_type: String,
}

impl Disposition {
    /// `attachment; filename="…"; filename*=UTF-8''…`: an ASCII fallback and the exact name.
    pub fn header_value(&self) -> String {
        let fallback: String = self
            .file_name
            .chars()
            .map(|character| {
                if character.is_ascii_graphic() && !matches!(character, '"' | '\\' | '%' | ';') {
                    character
                } else if character == ' ' {
                    ' '
                } else {
                    '_'
                }
            })
            .collect();
        format!(
            "attachment; filename=\"{fallback}\"; filename*=UTF-8''{}",
            percent_encode(&self.file_name)
        )
    }
}

/// Why the store failed. Never shown to clients (logged as the cause of an internal error).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("object storage: {0}")]
    S3(#[from] s3::error::S3Error),
    #[error("object storage (disk): {0}")]
    Io(#[from] io::Error),
    #[error("object storage refused {operation} with HTTP status {status}")]
    Status {
        operation: &'static str,
        status: u16,
    },
}

impl StoreError {
    /// The HTTP status the object store answered with, when it answered at all.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::S3(s3::error::S3Error::HttpFailWithBody(status, _))
            | Self::Status { status, .. } => Some(*status),
            Self::S3(_) | Self::Io(_) => None,
        }
    }
}

/// An object store for evidence. Implementations never buffer a whole object in memory.
#[async_trait::async_trait]
pub trait EvidenceStore: Send + Sync + fmt::Debug {
    /// A URL the client PUTs exactly `size` bytes to, valid until `expires_at`.
    async fn upload_url(
        &self,
        key: &ObjectKey,
        size: u64,
        expires_in: Duration,
    ) -> Result<String, StoreError>;

    /// A URL that downloads the object as an attachment, valid for `expires_in`.
    async fn download_url(
        &self,
        key: &ObjectKey,
        disposition: &Disposition,
        expires_in: Duration,
    ) -> Result<String, StoreError>;

    /// The object's bytes as a stream; `None` when there is no such object.
    async fn read(&self, key: &ObjectKey) -> Result<Option<ObjectReader>, StoreError>;

    /// Moves an object to another key (out of quarantine).
    async fn rename(&self, from: &ObjectKey, to: &ObjectKey) -> Result<(), StoreError>;

    /// Deletes an object (a rejected upload); deleting a missing object is not an error.
    async fn delete(&self, key: &ObjectKey) -> Result<(), StoreError>;

    /// Where objects are, for logs and reports (no secrets).
    fn describe(&self) -> String;
}

/// How to reach an S3-compatible server.
#[derive(Clone)]
pub struct S3Settings {
    /// `https://s3.eu-west-1.amazonaws.com`, `http://minio:9000`, …
    pub endpoint: String,
    pub region: String,
    pub bucket: String,
    /// `endpoint/bucket/key` rather than `bucket.endpoint/key` (MinIO, Garage, Ceph and most self-hosted
    /// servers want path style).
    pub path_style: bool,
    pub access_key: String,
    pub secret_key: String,
    /// Create the bucket at start when it does not exist.
    pub create_bucket: bool,
}

impl fmt::Debug for S3Settings {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("S3Settings")
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("bucket", &self.bucket)
            .field("path_style", &self.path_style)
            .field("create_bucket", &self.create_bucket)
            .finish_non_exhaustive()
    }
}

impl S3Settings {
    /// The origin browsers send presigned requests to, `scheme://[bucket.]host[:port]` as rust-s3 builds the
    /// URLs (the bucket is a subdomain unless `path_style`): what the web app's CSP must allow in
    /// `connect-src` for uploads. `None` when the endpoint is not an `http(s)://` URL with a host.
    pub fn browser_origin(&self) -> Option<String> {
        let (scheme, rest) = self.endpoint.trim().split_once("://")?;
        let scheme = scheme.to_ascii_lowercase();
        if scheme != "http" && scheme != "https" {
            return None;
        }
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        if authority.is_empty() || authority.contains('@') {
            return None;
        }
        let authority = authority.to_ascii_lowercase();
        if self.path_style {
            Some(format!("{scheme}://{authority}"))
        } else {
            Some(format!(
                "{scheme}://{}.{authority}",
                self.bucket.to_ascii_lowercase()
            ))
        }
    }
}

/// Evidence in a bucket of an S3-compatible server. Clients upload and download with presigned URLs, so file
/// bytes pass through Aegis only when it verifies them (streamed, never buffered whole).
#[derive(Debug)]
pub struct S3Store {
    bucket: Box<Bucket>,
    settings: S3Settings,
}

impl S3Store {
    /// Connects (creating the bucket when missing and allowed).
    pub async fn connect(settings: S3Settings) -> Result<Self, StoreError> {
        let region = Region::Custom {
            region: settings.region.clone(),
            endpoint: settings.endpoint.trim_end_matches('/').to_owned(),
        };
        let credentials = Credentials::new(
            Some(&settings.access_key),
            Some(&settings.secret_key),
            None,
            None,
            None,
        )
        .map_err(|error| StoreError::S3(error.into()))?;
        let mut bucket = Bucket::new(&settings.bucket, region.clone(), credentials.clone())?;
        if settings.path_style {
            bucket = bucket.with_path_style();
        }
        // Creating is tried rather than asked about: listing buckets needs a permission the application does not
        // otherwise need, and "already yours" (409) is the answer when it exists.
        if settings.create_bucket {
            let config = BucketConfiguration::default();
            let created = if settings.path_style {
                Bucket::create_with_path_style(&settings.bucket, region, credentials, config).await
            } else {
                Bucket::create(&settings.bucket, region, credentials, config).await
            };
            match created {
                Ok(created) if !created.success() => {
                    return Err(StoreError::Status {
                        operation: "creating the bucket",
                        status: created.response_code,
                    });
                }
                Ok(_) | Err(s3::error::S3Error::HttpFailWithBody(409, _)) => {}
                Err(error) => return Err(error.into()),
            }
        }
        Ok(Self { bucket, settings })
    }

    /// Sets the bucket's CORS configuration to one rule: `app_origin` may `PUT` (the browser's presigned
    /// upload, with its `Content-Type`) and `GET`, answers cached by the browser for ten minutes. It replaces
    /// any rule already there, so it is only called on a bucket Aegis creates. Some S3-compatible servers do
    /// not implement it (s3s-fs answers 501; MinIO allows every origin unless told otherwise), hence the
    /// caller decides whether a refusal matters.
    pub async fn allow_browser_uploads(&self, app_origin: &str) -> Result<(), StoreError> {
        let rule = CorsRule::new(
            Some(vec!["content-type".to_owned()]),
            vec!["PUT".to_owned(), "GET".to_owned()],
            vec![app_origin.to_owned()],
            Some(vec!["ETag".to_owned()]),
            Some("aegis-browser-uploads".to_owned()),
            Some(600),
        );
        // rust-s3 always sends `x-amz-expected-bucket-owner`; empty means no owner check.
        let response = self
            .bucket
            .put_bucket_cors("", &CorsConfiguration::new(vec![rule]))
            .await?;
        if !(200..300).contains(&response.status_code()) {
            return Err(StoreError::Status {
                operation: "setting the bucket's CORS rule",
                status: response.status_code(),
            });
        }
        Ok(())
    }
}

fn seconds(duration: Duration) -> u32 {
    u32::try_from(duration.as_secs()).unwrap_or(u32::MAX).max(1)
}

#[async_trait::async_trait]
impl EvidenceStore for S3Store {
    async fn upload_url(
        &self,
        key: &ObjectKey,
        _size: u64,
        expires_in: Duration,
    ) -> Result<String, StoreError> {
        Ok(self
            .bucket
            .presign_put(key.as_str(), seconds(expires_in), None, None)
            .await?)
    }

    async fn download_url(
        &self,
        key: &ObjectKey,
        disposition: &Disposition,
        expires_in: Duration,
    ) -> Result<String, StoreError> {
        let queries = [
            (
                "response-content-disposition".to_owned(),
                disposition.header_value(),
            ),
            (
                "response-content-type".to_owned(),
                disposition.content_type.clone(),
            ),
        ]
        .into();
        Ok(self
            .bucket
            .presign_get(key.as_str(), seconds(expires_in), Some(queries))
            .await?)
    }

    async fn read(&self, key: &ObjectKey) -> Result<Option<ObjectReader>, StoreError> {
        match self.bucket.get_object_stream(key.as_str()).await {
            Ok(response) => {
                let bytes = response.bytes.map_err(io::Error::other);
                Ok(Some(Box::pin(StreamReader::new(bytes))))
            }
            Err(s3::error::S3Error::HttpFailWithBody(404, _)) => Ok(None),
            Err(error) => Err(error.into()),
        }
    }

    async fn rename(&self, from: &ObjectKey, to: &ObjectKey) -> Result<(), StoreError> {
        let status = self
            .bucket
            .copy_object_internal(from.as_str(), to.as_str())
            .await?;
        if !(200..300).contains(&status) {
            return Err(StoreError::Status {
                operation: "copying out of quarantine",
                status,
            });
        }
        self.delete(from).await
    }

    async fn delete(&self, key: &ObjectKey) -> Result<(), StoreError> {
        match self.bucket.delete_object(key.as_str()).await {
            Ok(_) | Err(s3::error::S3Error::HttpFailWithBody(404, _)) => Ok(()),
            Err(error) => Err(error.into()),
        }
    }

    fn describe(&self) -> String {
        format!(
            "S3 bucket {} at {}",
            self.settings.bucket, self.settings.endpoint
        )
    }
}

type HmacSha256 = Hmac<Sha256>;

/// Evidence as files under a directory, for the embedded default. Aegis serves the upload and download URLs
/// itself (`/evidence/objects/<key>`), signed with HMAC-SHA256 over method, key, expiry and the request's
/// limits, with a secret kept beside the objects.
pub struct LocalDiskStore {
    root: PathBuf,
    secret: Vec<u8>,
    /// `http://host:port`: where clients reach this server.
    base_url: String,
}

impl fmt::Debug for LocalDiskStore {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("LocalDiskStore")
            .field("root", &self.root)
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

/// The route the local-disk URLs point at (served by `api`).
pub const LOCAL_OBJECTS_PATH: &str = "/evidence/objects/";

/// What a signed local-disk URL allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignedRequest {
    /// PUT at most `max_size` bytes to a quarantined key.
    Upload { max_size: u64 },
    /// GET offered as an attachment.
    Download(Disposition),
}

/// Why a signed local-disk URL is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the URL's signature is not valid")]
    Invalid,
    #[error("the URL has expired")]
    Expired,
}

/// What a local upload wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    pub size: u64,
    pub sha256: String,
}

/// Why a local upload failed.
#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    #[error("the file is larger than the {0} bytes declared")]
    TooLarge(u64),
    #[error(transparent)]
    Io(#[from] io::Error),
}

impl LocalDiskStore {
    /// Files under `root` (created when missing); the signing secret is read from `root/.url-signing-key`, or
    /// generated and kept there (mode 0600) on first use, so URLs survive a restart.
    pub fn open(root: &Path, base_url: &str) -> Result<Self, StoreError> {
        std::fs::create_dir_all(root)?;
        let key_path = root.join(".url-signing-key");
        let secret = match std::fs::read_to_string(&key_path) {
            Ok(text) => hex::decode(text.trim())
                .map_err(|error| io::Error::new(io::ErrorKind::InvalidData, error))?,
            Err(error) if error.kind() == io::ErrorKind::NotFound => {
                let secret: [u8; 32] = rand::random();
                write_private(&key_path, &hex::encode(secret))?;
                secret.to_vec()
            }
            Err(error) => return Err(error.into()),
        };
        Ok(Self {
            root: root.to_owned(),
            secret,
            base_url: base_url.trim_end_matches('/').to_owned(),
        })
    }

    fn path(&self, key: &ObjectKey) -> PathBuf {
        self.root.join(key.as_str())
    }

    fn mac(&self, key: &ObjectKey, expires: i64, request: &SignedRequest) -> HmacSha256 {
        let mut mac =
            HmacSha256::new_from_slice(&self.secret).expect("HMAC takes keys of any size");
        let fields: Vec<String> = match request {
            SignedRequest::Upload { max_size } => vec![
                "PUT".to_owned(),
                key.to_string(),
                expires.to_string(),
                max_size.to_string(),
            ],
            SignedRequest::Download(disposition) => vec![
                "GET".to_owned(),
                key.to_string(),
                expires.to_string(),
                disposition.file_name.clone(),
                disposition.content_type.clone(),
            ],
        };
        // Length-prefixed, so no two field lists sign the same bytes.
        for field in fields {
            mac.update(&(field.len() as u64).to_be_bytes());
            mac.update(field.as_bytes());
        }
        mac
    }

    fn signed_url(&self, key: &ObjectKey, expires_in: Duration, request: &SignedRequest) -> String {
        let expires =
            Utc::now().timestamp() + i64::try_from(expires_in.as_secs()).unwrap_or(i64::MAX / 2);
        let signature = hex::encode(self.mac(key, expires, request).finalize().into_bytes());
        let extra = match request {
            SignedRequest::Upload { max_size } => format!("&max={max_size}"),
            SignedRequest::Download(disposition) => format!(
                "&name={}&type={}",
                percent_encode(&disposition.file_name),
                percent_encode(&disposition.content_type)
            ),
        };
        format!(
            "{}{LOCAL_OBJECTS_PATH}{key}?expires={expires}{extra}&signature={signature}",
            self.base_url
        )
    }

    /// Checks a URL this store signed: the signature first (constant time), then the expiry against `now`.
    pub fn verify(
        &self,
        key: &ObjectKey,
        expires: i64,
        request: &SignedRequest,
        signature: &str,
        now: DateTime<Utc>,
    ) -> Result<(), SignatureError> {
        let signature = hex::decode(signature).map_err(|_| SignatureError::Invalid)?;
        self.mac(key, expires, request)
            .verify_slice(&signature)
            .map_err(|_| SignatureError::Invalid)?;
        if now.timestamp() > expires {
            return Err(SignatureError::Expired);
        }
        Ok(())
    }

    /// Streams an upload to the quarantined `key`, hashing as it goes, never holding more than one chunk;
    /// refuses (and removes) anything longer than `max_size`. The file appears under its key only when
    /// complete.
    pub async fn write<S, E>(
        &self,
        key: &ObjectKey,
        body: S,
        max_size: u64,
    ) -> Result<Written, UploadError>
    where
        S: Stream<Item = Result<bytes::Bytes, E>> + Send,
        E: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let path = self.path(key);
        if let Some(parent) = path.parent() {
            tokio::fs::create_dir_all(parent).await?;
        }
        let partial = path.with_extension(format!("partial-{}", uuid::Uuid::new_v4()));
        let result = async {
            let mut file = tokio::fs::File::create(&partial).await?;
            let mut hasher = Sha256::new();
            let mut size = 0_u64;
            let mut body = std::pin::pin!(body);
            while let Some(chunk) = body.next().await {
                let chunk = chunk.map_err(|error| io::Error::other(error.into()))?;
                size += chunk.len() as u64;
                if size > max_size {
                    return Err(UploadError::TooLarge(max_size));
                }
                hasher.update(&chunk);
                file.write_all(&chunk).await?;
            }
            file.sync_all().await?;
            Ok(Written {
                size,
                sha256: hex::encode(hasher.finalize()),
            })
        }
        .await;
        match result {
            Ok(written) => {
                tokio::fs::rename(&partial, &path).await?;
                Ok(written)
            }
            Err(error) => {
                let _ = tokio::fs::remove_file(&partial).await;
                Err(error)
            }
        }
    }

    /// Opens the object for a download (the URL was verified by the caller).
    pub async fn open_for_download(
        &self,
        key: &ObjectKey,
    ) -> Result<Option<(tokio::fs::File, u64)>, StoreError> {
        match tokio::fs::File::open(self.path(key)).await {
            Ok(file) => {
                let size = file.metadata().await?.len();
                Ok(Some((file, size)))
            }
            Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(error) => Err(error.into()),
        }
    }
}

#[async_trait::async_trait]
impl EvidenceStore for LocalDiskStore {
    async fn upload_url(
        &self,
        key: &ObjectKey,
        size: u64,
        expires_in: Duration,
    ) -> Result<String, StoreError> {
        Ok(self.signed_url(key, expires_in, &SignedRequest::Upload { max_size: size }))
    }

    async fn download_url(
        &self,
        key: &ObjectKey,
        disposition: &Disposition,
        expires_in: Duration,
    ) -> Result<String, StoreError> {
        Ok(self.signed_url(
            key,
            expires_in,
            &SignedRequest::Download(disposition.clone()),
        ))
    }

    async fn read(&self, key: &ObjectKey) -> Result<Option<ObjectReader>, StoreError> {
        Ok(self
            .open_for_download(key)
            .await?
            .map(|(file, _)| Box::pin(file) as ObjectReader))
    }

    async fn rename(&self, from: &ObjectKey, to: &ObjectKey) -> Result<(), StoreError> {
        let target = self.path(to);
        if let Some(parent) = target.parent() {
            tokio::fs::create_dir_all(parent).await?;
        }
        tokio::fs::rename(self.path(from), target).await?;
        Ok(())
    }

    async fn delete(&self, key: &ObjectKey) -> Result<(), StoreError> {
        match tokio::fs::remove_file(self.path(key)).await {
            Err(error) if error.kind() != io::ErrorKind::NotFound => Err(error.into()),
            _ => Ok(()),
        }
    }

    fn describe(&self) -> String {
        format!("local disk at {}", self.root.display())
    }
}

/// Writes a secret readable by its owner only.
fn write_private(path: &Path, contents: &str) -> io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    std::io::Write::write_all(&mut options.open(path)?, contents.as_bytes())
}

/// RFC 3986 percent-encoding of everything but unreserved characters.
pub fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|byte| {
            if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
                char::from(byte).to_string()
            } else {
                format!("%{byte:02X}")
            }
        })
        .collect()
}

/// Reads a whole stream into a hasher, for tests and tools that need no limits.
pub async fn sha256_of(reader: ObjectReader) -> io::Result<(u64, String)> {
    let mut stream = tokio_util::io::ReaderStream::new(reader);
    let mut hasher = Sha256::new();
    let mut size = 0_u64;
    while let Some(chunk) = stream.try_next().await? {
        size += chunk.len() as u64;
        hasher.update(&chunk);
    }
    Ok((size, hex::encode(hasher.finalize())))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn s3_settings(endpoint: &str, path_style: bool) -> S3Settings {
        S3Settings {
            endpoint: endpoint.to_owned(),
            region: "us-east-1".to_owned(),
            bucket: "aegis-evidence".to_owned(),
            path_style,
            access_key: String::new(),
            secret_key: String::new(),
            create_bucket: false,
        }
    }

    #[test]
    fn the_browser_origin_is_where_presigned_urls_point() {
        let origin = |endpoint, path_style| s3_settings(endpoint, path_style).browser_origin();
        assert_eq!(
            origin("http://127.0.0.1:9199/", true),
            Some("http://127.0.0.1:9199".to_owned())
        );
        assert_eq!(
            origin("HTTPS://S3.eu-west-1.amazonaws.com", false),
            Some("https://aegis-evidence.s3.eu-west-1.amazonaws.com".to_owned())
        );
        assert_eq!(origin("minio:9000", true), None);
        assert_eq!(origin("https://user@minio:9000", true), None);
        assert_eq!(origin("ftp://minio", true), None);
    }

    #[test]
    fn keys_are_only_the_servers_two_shapes() {
        let test_case = uuid::Uuid::from_u128(1);
        let evidence = uuid::Uuid::from_u128(2);
        let key = ObjectKey::quarantine(test_case, evidence);
        assert_eq!(ObjectKey::parse(key.as_str()), Some(key.clone()));
        assert!(key.is_quarantined());
        assert!(!ObjectKey::evidence(test_case, evidence).is_quarantined());
        for bad in [
            "quarantine/../../etc/passwd",
            "other/00000000-0000-0000-0000-000000000001/00000000-0000-0000-0000-000000000002",
            "quarantine/00000000-0000-0000-0000-000000000001/00000000-0000-0000-0000-000000000002/x",
            "quarantine/00000000000000000000000000000001/00000000-0000-0000-0000-000000000002",
        ] {
            assert_eq!(ObjectKey::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_local_url_is_bound_to_its_key_method_expiry_and_limits() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalDiskStore::open(dir.path(), "http://127.0.0.1:1").unwrap();
        let key = ObjectKey::quarantine(uuid::Uuid::from_u128(1), uuid::Uuid::from_u128(2));
        let other = ObjectKey::quarantine(uuid::Uuid::from_u128(1), uuid::Uuid::from_u128(3));
        let upload = SignedRequest::Upload { max_size: 10 };
        let now = Utc::now();
        let expires = now.timestamp() + 60;
        let signature = hex::encode(store.mac(&key, expires, &upload).finalize().into_bytes());
        assert_eq!(
            store.verify(&key, expires, &upload, &signature, now),
            Ok(())
        );
        assert_eq!(
            store.verify(&other, expires, &upload, &signature, now),
            Err(SignatureError::Invalid)
        );
        assert_eq!(
            store.verify(&key, expires + 1, &upload, &signature, now),
            Err(SignatureError::Invalid)
        );
        assert_eq!(
            store.verify(
                &key,
                expires,
                &SignedRequest::Upload { max_size: 11 },
                &signature,
                now
            ),
            Err(SignatureError::Invalid)
        );
        assert_eq!(
            store.verify(
                &key,
                expires,
                &upload,
                &signature,
                now + chrono::TimeDelta::seconds(61)
            ),
            Err(SignatureError::Expired)
        );
        // The secret persists: a second store over the same directory accepts the same URL.
        let reopened = LocalDiskStore::open(dir.path(), "http://127.0.0.1:1").unwrap();
        assert_eq!(
            reopened.verify(&key, expires, &upload, &signature, now),
            Ok(())
        );
    }

    #[test]
    fn the_download_name_is_quoted_safely() {
        let disposition = Disposition {
            file_name: "r\u{e9}sum\u{e9} \"x\";.txt".to_owned(),
            content_type: "text/plain".to_owned(),
        };
        assert_eq!(
            disposition.header_value(),
            "attachment; filename=\"r_sum_ _x__.txt\"; filename*=UTF-8''r%C3%A9sum%C3%A9%20%22x%22%3B.txt"
        );
    }
}
