//! `aegis export stream --campaign ID` and `aegis import stream FILE`: a campaign's whole history — the
//! campaign's events and those of its test cases — as a file signed by this instance's key, verified and
//! replayed by another instance (`commands::portable` holds the format and the checks).

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use chrono::Utc;
use commands::portable::{self, ImportedStreams, StreamFile};
use sqlx::PgPool;
use uuid::Uuid;

use crate::auth::tokens::SigningKeys;

/// The campaign's stream and its test cases' streams, signed with `keys`.
pub async fn export_campaign(
    pool: &PgPool,
    keys: &SigningKeys,
    campaign_id: Uuid,
) -> anyhow::Result<StreamFile> {
    let members = projections::campaigns::members(pool, campaign_id).await?;
    let mut aggregates = vec![("Campaign".to_owned(), campaign_id.to_string())];
    aggregates.extend(
        members
            .into_iter()
            .map(|test_case| ("TestCase".to_owned(), test_case.to_string())),
    );
    let file = StreamFile::export(
        pool,
        &format!("campaign {campaign_id}"),
        &aggregates,
        Utc::now(),
        &keys.instance_secret(),
    )
    .await?;
    if file.streams.is_empty() {
        return Err(crate::report::NoSuchCampaign(campaign_id).into());
    }
    Ok(file)
}

/// `aegis export stream`: writes the file and says what is in it.
pub async fn write_campaign(
    pool: &PgPool,
    keys: &SigningKeys,
    campaign_id: Uuid,
    out: &Path,
) -> anyhow::Result<ExitCode> {
    let file = export_campaign(pool, keys, campaign_id).await?;
    let events: usize = file.streams.iter().map(|stream| stream.events.len()).sum();
    std::fs::write(out, serde_json::to_vec_pretty(&file)?)
        .with_context(|| format!("cannot write {}", out.display()))?;
    println!(
        "wrote {}: {} streams, {events} events, signed by {}",
        out.display(),
        file.streams.len(),
        file.signature.public_key
    );
    Ok(ExitCode::SUCCESS)
}

/// What importing one stream file did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StreamImport {
    pub subject: String,
    /// The public key (hex) that signed the file.
    pub signed_by: String,
    #[serde(flatten)]
    pub imported: ImportedStreams,
}

/// Verifies and imports the stream file `bytes` (see `commands::portable::import`).
pub async fn import_bytes(
    pool: &PgPool,
    bytes: &[u8],
    trusted_key: Option<&str>,
) -> anyhow::Result<StreamImport> {
    let file: StreamFile = serde_json::from_slice(bytes)
        .map_err(|error| portable::PortableError::Malformed(error.to_string()))?;
    let imported = portable::import(pool, &file, trusted_key).await?;
    Ok(StreamImport {
        subject: file.subject,
        signed_by: file.signature.public_key,
        imported,
    })
}
