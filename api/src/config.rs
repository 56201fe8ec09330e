//! Configuration: command-line flags over environment variables (`DATABASE_URL`, `AEGIS_*`) over an optional
//! TOML file over built-in defaults.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::Deserialize;

use crate::scheduler::{AttackSource, Job, Schedules};
use crate::state::Introspection;

/// The optional configuration file (`--config` / `AEGIS_CONFIG`). Every key is optional and has the same
/// meaning as the flag of the same name.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct FileConfig {
    pub database_url: Option<String>,
    pub owner_database_url: Option<String>,
    pub read_database_url: Option<String>,
    pub data_dir: Option<PathBuf>,
    pub listen: Option<SocketAddr>,
    pub log_format: Option<LogFormat>,
    pub projector_batch_size: Option<i64>,
    pub public_url: Option<String>,
    pub allowed_origins: Option<Vec<String>>,
    pub introspection: Option<Introspection>,
    pub session_hours: Option<u64>,
    pub max_concurrent_hashes: Option<NonZeroUsize>,
    pub client_ip_header: Option<String>,
    pub web_dir: Option<PathBuf>,
    pub evidence_max_bytes: Option<u64>,
    pub s3_endpoint: Option<String>,
    pub s3_region: Option<String>,
    pub s3_bucket: Option<String>,
    pub s3_path_style: Option<bool>,
    pub s3_create_bucket: Option<bool>,
    /// Job name → five cron fields (`[schedules]` with `weekly_snapshot = "0 6 * * MON"`).
    pub schedules: Option<BTreeMap<String, String>>,
    pub schedule_timezone: Option<String>,
    pub attack_sync_url: Option<String>,
    pub attack_sync_collection: Option<String>,
}

impl FileConfig {
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the configuration file {}", path.display()))?;
        toml::from_str(&text)
            .with_context(|| format!("the configuration file {} is not valid", path.display()))
    }
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    /// JSON when standard error is not a terminal, human-readable otherwise.
    #[default]
    Auto,
    Json,
    Pretty,
}

/// Where the database is and who Aegis connects as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatabaseConfig {
    /// The application's connection: a role that may append and read events, never rewrite them. When unset,
    /// Aegis finds or starts a local PostgreSQL.
    pub url: Option<String>,
    /// The owner's connection, used only to run migrations. Defaults to `url`.
    pub owner_url: Option<String>,
    /// A physical streaming replica of that database that GraphQL queries read from (see
    /// [`crate::read_replica`]). Unset: everything reads from `url`.
    pub read_url: Option<String>,
}

/// Everything resolved: what the rest of the program reads.
#[derive(Debug, Clone)]
pub struct Config {
    pub database: DatabaseConfig,
    pub data_dir: PathBuf,
    pub listen: SocketAddr,
    pub log_format: LogFormat,
    pub projector_batch_size: i64,
    pub auth: AuthConfig,
    pub web: WebConfig,
    /// Load the demo organisation before serving.
    pub demo: bool,
    pub evidence: EvidenceConfig,
    pub schedules: Schedules,
}

/// Where evidence files are kept. With no S3 endpoint: on local disk under `<data-dir>/evidence`.
#[derive(Clone, Default)]
pub struct EvidenceConfig {
    pub max_bytes: u64,
    pub s3: Option<commands::evidence::store::S3Settings>,
}

impl std::fmt::Debug for EvidenceConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EvidenceConfig")
            .field("max_bytes", &self.max_bytes)
            .field("s3", &self.s3)
            .finish()
    }
}

/// Flags of the evidence store (shared by `serve` and `evidence verify`).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct EvidenceArgs {
    /// Largest evidence file accepted, in bytes [default: 104857600, 100 MiB].
    #[arg(
        long,
        env = "AEGIS_EVIDENCE_MAX_BYTES",
        global = true,
        value_name = "BYTES"
    )]
    pub evidence_max_bytes: Option<u64>,
    /// S3-compatible endpoint for evidence (https://s3.eu-west-1.amazonaws.com, http://minio:9000, …).
    /// Unset: evidence is kept on local disk under <data-dir>/evidence.
    #[arg(long, env = "AEGIS_S3_ENDPOINT", global = true, value_name = "URL")]
    pub s3_endpoint: Option<String>,
    /// Region to sign S3 requests for [default: us-east-1].
    #[arg(long, env = "AEGIS_S3_REGION", global = true, value_name = "REGION")]
    pub s3_region: Option<String>,
    /// Bucket for evidence [default: aegis-evidence].
    #[arg(long, env = "AEGIS_S3_BUCKET", global = true, value_name = "NAME")]
    pub s3_bucket: Option<String>,
    /// Path-style URLs (endpoint/bucket/key), which MinIO, Garage and Ceph expect [default: true].
    #[arg(long, env = "AEGIS_S3_PATH_STYLE", global = true, value_name = "BOOL")]
    pub s3_path_style: Option<bool>,
    /// Create the bucket at start when it does not exist [default: false].
    #[arg(
        long,
        env = "AEGIS_S3_CREATE_BUCKET",
        global = true,
        value_name = "BOOL"
    )]
    pub s3_create_bucket: Option<bool>,
    /// S3 access key id (a secret's name: environment or flag only, never the file).
    #[arg(
        long,
        env = "AEGIS_S3_ACCESS_KEY",
        global = true,
        value_name = "KEY",
        hide_env_values = true
    )]
    pub s3_access_key: Option<String>,
    /// S3 secret access key (environment or flag only, never the file).
    #[arg(
        long,
        env = "AEGIS_S3_SECRET_KEY",
        global = true,
        value_name = "SECRET",
        hide_env_values = true
    )]
    pub s3_secret_key: Option<String>,
}

pub const DEFAULT_S3_REGION: &str = "us-east-1";
pub const DEFAULT_S3_BUCKET: &str = "aegis-evidence";

impl EvidenceConfig {
    fn resolve(args: &EvidenceArgs, file: &FileConfig) -> anyhow::Result<Self> {
        let max_bytes = args
            .evidence_max_bytes
            .or(file.evidence_max_bytes)
            .unwrap_or(commands::evidence::DEFAULT_MAX_BYTES);
        anyhow::ensure!(max_bytes > 0, "evidence_max_bytes must be positive");
        let Some(endpoint) = args.s3_endpoint.clone().or(file.s3_endpoint.clone()) else {
            return Ok(Self {
                max_bytes,
                s3: None,
            });
        };
        anyhow::ensure!(
            endpoint.starts_with("http://") || endpoint.starts_with("https://"),
            "the S3 endpoint {endpoint:?} must be an http:// or https:// URL"
        );
        let (Some(access_key), Some(secret_key)) =
            (args.s3_access_key.clone(), args.s3_secret_key.clone())
        else {
            anyhow::bail!(
                "an S3 endpoint needs credentials: set AEGIS_S3_ACCESS_KEY and AEGIS_S3_SECRET_KEY"
            );
        };
        Ok(Self {
            max_bytes,
            s3: Some(commands::evidence::store::S3Settings {
                endpoint,
                region: args
                    .s3_region
                    .clone()
                    .or(file.s3_region.clone())
                    .unwrap_or_else(|| DEFAULT_S3_REGION.to_owned()),
                bucket: args
                    .s3_bucket
                    .clone()
                    .or(file.s3_bucket.clone())
                    .unwrap_or_else(|| DEFAULT_S3_BUCKET.to_owned()),
                path_style: args.s3_path_style.or(file.s3_path_style).unwrap_or(true),
                access_key,
                secret_key,
                create_bucket: args
                    .s3_create_bucket
                    .or(file.s3_create_bucket)
                    .unwrap_or(false),
            }),
        })
    }
}

/// Tokens, sessions and the first admin. Secrets come only from the environment, never from the file.
#[derive(Clone, Default)]
pub struct AuthConfig {
    pub biscuit_private_key: Option<String>,
    pub biscuit_key_id: u32,
    pub biscuit_previous_public_keys: Option<String>,
    pub session_hours: u64,
    pub admin_password: Option<String>,
    pub max_concurrent_hashes: Option<NonZeroUsize>,
}

impl std::fmt::Debug for AuthConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthConfig")
            .field("biscuit_key_id", &self.biscuit_key_id)
            .field("session_hours", &self.session_hours)
            .finish_non_exhaustive()
    }
}

/// The browser-facing edge.
#[derive(Debug, Clone, Default)]
pub struct WebConfig {
    pub public_url: Option<String>,
    pub allowed_origins: Vec<String>,
    pub introspection: Introspection,
    pub client_ip_header: Option<String>,
    /// The built web dashboard served at `/`.
    pub web_dir: PathBuf,
}

pub const DEFAULT_SESSION_HOURS: u64 = 12;

pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
pub const DEFAULT_DATA_DIR: &str = ".aegis";
/// Where `npm run build` in `web/` writes the dashboard, relative to the repository root `deploy/dev/run`
/// starts from.
pub const DEFAULT_WEB_DIR: &str = "web/dist";
pub const DEFAULT_PROJECTOR_BATCH_SIZE: i64 = 5_000;

/// The flags (and their environment variables) shared by every subcommand.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct GlobalArgs {
    /// TOML file with any of: database_url, owner_database_url, read_database_url, data_dir, listen, log_format,
    /// projector_batch_size, public_url, allowed_origins, introspection, session_hours,
    /// max_concurrent_hashes, client_ip_header, web_dir, evidence_max_bytes, s3_endpoint, s3_region,
    /// s3_bucket, s3_path_style, s3_create_bucket (S3 credentials: environment only), schedules (a table of job = cron),
    /// schedule_timezone, attack_sync_url, attack_sync_collection. Flags and environment variables take
    /// precedence over it.
    #[arg(long, env = "AEGIS_CONFIG", global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// PostgreSQL URL the application connects with; its role should be a member of `aegis_app` (may append
    /// and read events, never update or delete them). Unset: use a local PostgreSQL on 127.0.0.1:5432, or
    /// start a private one under the data directory.
    #[arg(
        long,
        env = "DATABASE_URL",
        global = true,
        value_name = "URL",
        hide_env_values = true
    )]
    pub database_url: Option<String>,
    /// PostgreSQL URL of the database owner, used only to run migrations [default: DATABASE_URL].
    #[arg(
        long,
        env = "AEGIS_OWNER_DATABASE_URL",
        global = true,
        value_name = "URL",
        hide_env_values = true
    )]
    pub owner_database_url: Option<String>,
    /// Directory for Aegis' own files (a private PostgreSQL cluster when one is needed) [default: .aegis].
    #[arg(long, env = "AEGIS_DATA_DIR", global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Log format [default: auto].
    #[arg(long, env = "AEGIS_LOG_FORMAT", global = true, value_enum)]
    pub log_format: Option<LogFormat>,
    /// Hex Ed25519 private key that signs session and API tokens (a secret; every replica needs the same).
    /// Unset: generated on first start and kept in <data-dir>/biscuit-private-key.
    #[arg(
        long,
        env = "AEGIS_BISCUIT_PRIVATE_KEY",
        global = true,
        value_name = "HEX",
        hide_env_values = true
    )]
    pub biscuit_private_key: Option<String>,
    /// Id of that key inside tokens; give a new key a new id when rotating [default: 1].
    #[arg(long, env = "AEGIS_BISCUIT_KEY_ID", global = true, value_name = "ID")]
    pub biscuit_key_id: Option<u32>,
    /// Earlier public keys still accepted during a rotation: `id:hex,id:hex`.
    #[arg(
        long,
        env = "AEGIS_BISCUIT_PREVIOUS_PUBLIC_KEYS",
        global = true,
        value_name = "LIST"
    )]
    pub biscuit_previous_public_keys: Option<String>,
    /// Argon2 password hashes allowed at once; further sign-ins queue [default: number of cores].
    #[arg(
        long,
        env = "AEGIS_MAX_CONCURRENT_HASHES",
        global = true,
        value_name = "N"
    )]
    pub max_concurrent_hashes: Option<NonZeroUsize>,
    #[command(flatten)]
    pub evidence: EvidenceArgs,
    #[command(flatten)]
    pub scheduler: SchedulerArgs,
}

/// Flags of the scheduled jobs (read by `serve` and `jobs`).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct SchedulerArgs {
    /// A job's schedule as `job=cron` (five fields, minute first), repeatable; `;` separates several in the
    /// environment. Jobs: attack_sync (default "0 2 * * *"), notification_cleanup ("0 4 * * *"),
    /// weekly_snapshot ("0 0 * * SUN"), recurring_campaigns ("0 1 * * *").
    #[arg(
        long = "schedule",
        env = "AEGIS_SCHEDULES",
        global = true,
        value_name = "JOB=CRON",
        value_delimiter = ';'
    )]
    pub schedules: Vec<String>,
    /// IANA time zone the schedules are read in [default: UTC].
    #[arg(
        long,
        env = "AEGIS_SCHEDULE_TIMEZONE",
        global = true,
        value_name = "ZONE"
    )]
    pub schedule_timezone: Option<String>,
    /// Where attack_sync imports ATT&CK from: a STIX bundle URL, or with --attack-sync-collection a TAXII 2.1
    /// discovery URL. Unset: attack_sync does not run.
    #[arg(long, env = "AEGIS_ATTACK_SYNC_URL", global = true, value_name = "URL")]
    pub attack_sync_url: Option<String>,
    /// The TAXII collection (id or title) attack_sync reads.
    #[arg(
        long,
        env = "AEGIS_ATTACK_SYNC_COLLECTION",
        global = true,
        value_name = "COLLECTION"
    )]
    pub attack_sync_collection: Option<String>,
}

impl SchedulerArgs {
    fn resolve(&self, file: &FileConfig) -> anyhow::Result<Schedules> {
        let mut overrides = Vec::new();
        for (job, cron) in file.schedules.iter().flatten() {
            overrides.push((job.parse::<Job>()?, cron.clone()));
        }
        for text in self.schedules.iter().filter(|text| !text.trim().is_empty()) {
            overrides.push(Schedules::parse_override(text)?);
        }
        let timezone = match self
            .schedule_timezone
            .as_ref()
            .or(file.schedule_timezone.as_ref())
        {
            Some(zone) => zone
                .parse()
                .map_err(|_| anyhow::anyhow!("{zone:?} is not an IANA time zone"))?,
            None => chrono_tz::UTC,
        };
        let url = self
            .attack_sync_url
            .clone()
            .or(file.attack_sync_url.clone());
        let collection = self
            .attack_sync_collection
            .clone()
            .or(file.attack_sync_collection.clone());
        let attack_source = match (url, collection) {
            (Some(url), None) => Some(AttackSource::Url(url)),
            (Some(discovery_url), Some(collection)) => Some(AttackSource::Taxii {
                discovery_url,
                collection,
            }),
            (None, Some(_)) => anyhow::bail!("attack_sync_collection needs attack_sync_url"),
            (None, None) => None,
        };
        Schedules::new(&overrides, timezone, attack_source)
    }
}

/// Flags of `aegis serve`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long, env = "AEGIS_LISTEN", value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// PostgreSQL URL of a physical streaming replica of DATABASE_URL's database (same role); GraphQL queries
    /// read from it, and a client that has just written waits (up to 1 s) for the replica to replay its write,
    /// else reads from the primary; while the replica does not answer, every query reads from the primary.
    /// Writes, projectors and the scheduler always use DATABASE_URL.
    #[arg(
        long,
        env = "AEGIS_READ_DATABASE_URL",
        value_name = "URL",
        hide_env_values = true
    )]
    pub read_database_url: Option<String>,
    /// Events per projector transaction [default: 5000].
    #[arg(long, env = "AEGIS_PROJECTOR_BATCH_SIZE", value_name = "N", value_parser = clap::value_parser!(i64).range(1..=100_000))]
    pub projector_batch_size: Option<i64>,
    /// The URL users reach Aegis at; `https://` turns on Secure cookies and HSTS.
    #[arg(long, env = "AEGIS_PUBLIC_URL", value_name = "URL")]
    pub public_url: Option<String>,
    /// Other origins allowed to call the API from a browser, comma-separated (exact `scheme://host[:port]`).
    #[arg(
        long,
        env = "AEGIS_ALLOWED_ORIGINS",
        value_name = "ORIGINS",
        value_delimiter = ','
    )]
    pub allowed_origins: Option<Vec<String>>,
    /// Behind a reverse proxy: the header it appends the client's address to (e.g. x-forwarded-for); the
    /// right-most entry is used. Unset: the peer's address.
    #[arg(long, env = "AEGIS_CLIENT_IP_HEADER", value_name = "HEADER")]
    pub client_ip_header: Option<String>,
    /// The built web dashboard (`npm run build` in web/) served at `/` [default: web/dist].
    #[arg(long, env = "AEGIS_WEB_DIR", value_name = "DIR")]
    pub web_dir: Option<PathBuf>,
    /// Who may introspect the GraphQL schema [default: authenticated].
    #[arg(long, env = "AEGIS_INTROSPECTION", value_enum)]
    pub introspection: Option<Introspection>,
    /// Absolute lifetime of a browser session, in hours [default: 12].
    #[arg(long, env = "AEGIS_SESSION_HOURS", value_name = "HOURS", value_parser = clap::value_parser!(u64).range(1..=720))]
    pub session_hours: Option<u64>,
    /// Load the demo organisation before serving (see `aegis demo`).
    #[arg(long, env = "AEGIS_DEMO")]
    pub demo: bool,
    /// Password of the first admin (admin@aegis.local), created when no active admin exists. Unset: a
    /// one-time password is generated and printed once.
    #[arg(
        long,
        env = "AEGIS_ADMIN_PASSWORD",
        value_name = "PASSWORD",
        hide_env_values = true
    )]
    pub admin_password: Option<String>,
}

impl Config {
    pub fn resolve(global: &GlobalArgs, serve: &ServeArgs) -> anyhow::Result<Self> {
        let file = match &global.config {
            Some(path) => FileConfig::load(path)?,
            None => FileConfig::default(),
        };
        let evidence = EvidenceConfig::resolve(&global.evidence, &file)?;
        let schedules = global.scheduler.resolve(&file)?;
        let listen = match (serve.listen, file.listen) {
            (Some(listen), _) | (None, Some(listen)) => listen,
            (None, None) => DEFAULT_LISTEN.parse()?,
        };
        let projector_batch_size = serve
            .projector_batch_size
            .or(file.projector_batch_size)
            .unwrap_or(DEFAULT_PROJECTOR_BATCH_SIZE);
        anyhow::ensure!(
            (1..=100_000).contains(&projector_batch_size),
            "projector_batch_size must be between 1 and 100000, not {projector_batch_size}"
        );
        Ok(Self {
            database: DatabaseConfig {
                url: global.database_url.clone().or(file.database_url),
                owner_url: global
                    .owner_database_url
                    .clone()
                    .or(file.owner_database_url),
                read_url: serve.read_database_url.clone().or(file.read_database_url),
            },
            data_dir: global
                .data_dir
                .clone()
                .or(file.data_dir)
                .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR)),
            listen,
            log_format: global.log_format.or(file.log_format).unwrap_or_default(),
            projector_batch_size,
            auth: AuthConfig {
                biscuit_private_key: global.biscuit_private_key.clone(),
                biscuit_key_id: global.biscuit_key_id.unwrap_or(1),
                biscuit_previous_public_keys: global.biscuit_previous_public_keys.clone(),
                session_hours: serve
                    .session_hours
                    .or(file.session_hours)
                    .unwrap_or(DEFAULT_SESSION_HOURS),
                admin_password: serve.admin_password.clone(),
                max_concurrent_hashes: global.max_concurrent_hashes.or(file.max_concurrent_hashes),
            },
            demo: serve.demo,
            evidence,
            schedules,
            web: WebConfig {
                public_url: serve.public_url.clone().or(file.public_url),
                allowed_origins: serve
                    .allowed_origins
                    .clone()
                    .or(file.allowed_origins)
                    .unwrap_or_default(),
                introspection: serve
                    .introspection
                    .or(file.introspection)
                    .unwrap_or_default(),
                client_ip_header: serve.client_ip_header.clone().or(file.client_ip_header),
                web_dir: serve
                    .web_dir
                    .clone()
                    .or(file.web_dir)
                    .unwrap_or_else(|| PathBuf::from(DEFAULT_WEB_DIR)),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn flags_win_over_the_file_and_the_file_over_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("aegis.toml");
        std::fs::write(
            &path,
            "database_url = \"postgres://file/db\"\nlisten = \"0.0.0.0:9000\"\nlog_format = \"json\"\n",
        )
        .unwrap();
        let global = GlobalArgs {
            config: Some(path),
            owner_database_url: Some("postgres://flag/owner".into()),
            ..GlobalArgs::default()
        };
        let serve = ServeArgs {
            listen: Some("127.0.0.1:7000".parse().unwrap()),
            ..ServeArgs::default()
        };
        let config = Config::resolve(&global, &serve).unwrap();
        assert_eq!(config.database.url.as_deref(), Some("postgres://file/db"));
        assert_eq!(
            config.database.owner_url.as_deref(),
            Some("postgres://flag/owner")
        );
        assert_eq!(config.listen, "127.0.0.1:7000".parse().unwrap());
        assert_eq!(config.log_format, LogFormat::Json);
        assert_eq!(config.data_dir, PathBuf::from(DEFAULT_DATA_DIR));
        assert_eq!(config.projector_batch_size, DEFAULT_PROJECTOR_BATCH_SIZE);
    }

    #[test]
    fn an_unknown_key_in_the_file_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("aegis.toml");
        std::fs::write(&path, "databse_url = \"typo\"\n").unwrap();
        let global = GlobalArgs {
            config: Some(path.clone()),
            ..GlobalArgs::default()
        };
        let error = Config::resolve(&global, &ServeArgs::default()).unwrap_err();
        assert!(
            format!("{error:#}").contains(&path.display().to_string()),
            "{error:#}"
        );
        assert!(format!("{error:#}").contains("databse_url"), "{error:#}");
    }
}
