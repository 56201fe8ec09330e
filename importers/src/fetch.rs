//! Downloading import content over HTTPS (the ATT&CK release URL of the daily sync); [`crate::taxii`] uses the
//! same client and body limit.

use std::time::Duration;

use crate::record::SourceFile;

/// Larger than any upstream file we import (the Enterprise bundle is about 45 MB), small enough that a wrong
/// URL cannot fill the memory.
const MAX_DOWNLOAD_BYTES: usize = 512 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("cannot fetch: {0}")]
    Http(#[from] reqwest::Error),
    #[error("the server answered {0}")]
    Status(reqwest::StatusCode),
    #[error("larger than {MAX_DOWNLOAD_BYTES} bytes")]
    TooLarge,
}

/// Where the daily ATT&CK sync reads Enterprise from by default: MITRE's STIX 2.1 data repository.
pub const ATTACK_ENTERPRISE_URL: &str = "https://raw.githubusercontent.com/mitre-attack/attack-stix-data/master/enterprise-attack/enterprise-attack.json";

/// A client with the timeouts every fetch here uses.
pub fn client() -> Result<reqwest::Client, FetchError> {
    // reqwest is built without a default TLS provider (one crypto library in the tree: ring); the binary
    // installs it at start, and this covers every other caller (tests, tools). A second install is a no-op.
    let _already_installed = rustls::crypto::ring::default_provider().install_default();
    Ok(reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(20))
        .timeout(Duration::from_secs(600))
        .user_agent(concat!("aegis/", env!("CARGO_PKG_VERSION")))
        .build()?)
}

/// Fetches `url` whole; the file is named by the URL's last path segment, as a downloaded file would be.
pub async fn download(url: &str) -> Result<SourceFile, FetchError> {
    let response = client()?.get(url).send().await?;
    if !response.status().is_success() {
        return Err(FetchError::Status(response.status()));
    }
    let bytes = body(response).await?;
    let name = url
        .split(['?', '#'])
        .next()
        .and_then(|path| path.rsplit('/').find(|segment| !segment.is_empty()))
        .unwrap_or(url);
    Ok(SourceFile {
        path: name.into(),
        bytes,
    })
}

/// Reads a response's body, refusing more than [`MAX_DOWNLOAD_BYTES`] (also used for each TAXII page).
pub(crate) async fn body(mut response: reqwest::Response) -> Result<Vec<u8>, FetchError> {
    let mut bytes = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        if bytes.len() + chunk.len() > MAX_DOWNLOAD_BYTES {
            return Err(FetchError::TooLarge);
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}
