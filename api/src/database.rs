//! Finding the database, migrating it as its owner, and connecting as the application's restricted role.

use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, PgPool};

use crate::config::DatabaseConfig;
use crate::local_postgres::{LocalPostgres, LocalPostgresOptions, find_or_start};
use crate::read_replica::ReadReplica;

/// Every migration, embedded: the binary carries its schema.
pub static MIGRATOR: Migrator = sqlx::migrate!("../migrations");

/// The login role Aegis creates for itself on a local server, a member of `aegis_app`.
pub const LOCAL_APP_ROLE: &str = "aegis_web";

/// The connections Aegis works with, and the local server (kept alive as long as this value lives).
#[derive(Debug)]
pub struct Database {
    /// The application's pool, connected as a role that may only append and read events.
    pub pool: PgPool,
    /// One line for the startup log: which server, which database, which role.
    pub description: String,
    _local: Option<LocalPostgres>,
}

/// The schema version this binary expects: its newest migration.
pub fn schema_version() -> i64 {
    MIGRATOR
        .iter()
        .map(|migration| migration.version)
        .max()
        .unwrap_or(0)
}

/// Connects as configured, or finds or starts a local PostgreSQL; runs pending migrations as the owner when
/// `migrate` is set.
pub async fn open(
    config: &DatabaseConfig,
    data_dir: &Path,
    migrate: bool,
) -> anyhow::Result<Database> {
    let Located {
        owner_url,
        app_url,
        local,
    } = locate(config, data_dir).await?;

    if migrate {
        let owner = connect(&owner_url, 2)
            .await
            .context("cannot connect as the database owner")?;
        run_migrations(&owner).await?;
        if local.is_some() {
            create_local_app_role(&owner).await?;
        }
        owner.close().await;
    }

    let pool = connect(&app_url, 16)
        .await
        .context("cannot connect to the database")?;
    let (role, database): (String, String) =
        sqlx::query_as("SELECT current_user::text, current_database()::text")
            .fetch_one(&pool)
            .await?;
    warn_if_events_are_writable(&pool, &role).await?;
    let server = match &local {
        Some(local) => local.describe(),
        None => "PostgreSQL at DATABASE_URL".to_owned(),
    };
    Ok(Database {
        pool,
        description: format!("{server}, database {database}, role {role}"),
        _local: local,
    })
}

/// The database's URLs, and the local server when Aegis found or started one.
#[derive(Debug)]
pub struct Located {
    pub owner_url: String,
    pub app_url: String,
    pub local: Option<LocalPostgres>,
}

/// Where the database is: as configured, or a local server found or started under `data_dir`.
pub async fn locate(config: &DatabaseConfig, data_dir: &Path) -> anyhow::Result<Located> {
    if let Some(url) = &config.url {
        return Ok(Located {
            owner_url: config.owner_url.clone().unwrap_or_else(|| url.clone()),
            app_url: url.clone(),
            local: None,
        });
    }
    let local = find_or_start(&LocalPostgresOptions::new(data_dir)).await?;
    let owner_url = local.owner_url();
    Ok(Located {
        app_url: with_user(&owner_url, LOCAL_APP_ROLE)?,
        owner_url,
        local: Some(local),
    })
}

/// The read replica when `AEGIS_READ_DATABASE_URL` is set. Its connections are made on demand: a standby that
/// is down when the server starts makes queries read from the primary until it answers (see
/// [`crate::read_replica`]), it does not stop the server. A server that is not a standby still serves reads,
/// with a warning: clients that have just written then read from the primary, because only a standby can tell
/// how far it has replayed the primary's log.
pub async fn open_read_replica(config: &DatabaseConfig) -> anyhow::Result<Option<ReadReplica>> {
    let Some(url) = &config.read_url else {
        return Ok(None);
    };
    let options =
        connect_options(url).context("AEGIS_READ_DATABASE_URL is not a valid PostgreSQL URL")?;
    let pool = PgPoolOptions::new()
        .max_connections(16)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .connect_lazy_with(options);
    Ok(Some(ReadReplica::open(pool).await))
}

/// See [`connect`].
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

pub async fn connect(url: &str, max_connections: u32) -> anyhow::Result<PgPool> {
    let options = connect_options(url).context("the database URL is not a valid PostgreSQL URL")?;
    Ok(PgPoolOptions::new()
        .max_connections(max_connections)
        // While PostgreSQL is down a request fails after this long instead of hanging (sqlx keeps retrying
        // the connection until then); under load it is also the longest wait for a free connection.
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .connect_with(options)
        .await?)
}

fn connect_options(url: &str) -> Result<PgConnectOptions, sqlx::Error> {
    Ok(url
        .parse::<PgConnectOptions>()?
        .application_name("aegis")
        .log_slow_statements(tracing::log::LevelFilter::Warn, Duration::from_secs(1)))
}

/// Applies pending migrations; fails with a clear message when the database is newer than this binary.
pub async fn run_migrations(owner: &PgPool) -> anyhow::Result<()> {
    // When nothing is pending, a restricted role (DATABASE_URL without an owner URL) can start without DDL
    // rights.
    let applied: Result<Vec<i64>, sqlx::Error> =
        sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success")
            .fetch_all(owner)
            .await;
    if let Ok(applied) = applied
        && MIGRATOR
            .iter()
            .all(|migration| applied.contains(&migration.version))
    {
        return Ok(());
    }
    MIGRATOR
        .run(owner)
        .await
        .context("migrating the database failed (migrations must run as the database owner)")
}

/// On a local server Aegis is also its own DBA: it gives itself a login role with the application's rights
/// only, so that even the embedded default cannot rewrite history.
async fn create_local_app_role(owner: &PgPool) -> anyhow::Result<()> {
    sqlx::query(&format!(
        "DO $$
         BEGIN
             CREATE ROLE {LOCAL_APP_ROLE} LOGIN IN ROLE aegis_app;
         EXCEPTION
             WHEN duplicate_object OR unique_violation THEN NULL;
         END
         $$"
    ))
    .execute(owner)
    .await
    .context("cannot create the application's login role")?;
    Ok(())
}

async fn warn_if_events_are_writable(pool: &PgPool, role: &str) -> anyhow::Result<()> {
    let can_rewrite: bool = sqlx::query_scalar(
        "SELECT has_table_privilege(current_user, 'events', 'UPDATE')
             OR has_table_privilege(current_user, 'events', 'DELETE')",
    )
    .fetch_one(pool)
    .await
    .context("the database has no events table: run `aegis migrate` as the owner")?;
    if can_rewrite {
        tracing::warn!(
            role,
            "the application's database role can update or delete events; connect as a member of aegis_app \
             (DATABASE_URL) and migrate as the owner (AEGIS_OWNER_DATABASE_URL) so that the database enforces \
             append-only"
        );
    }
    Ok(())
}

fn with_user(url: &str, user: &str) -> anyhow::Result<String> {
    let options: PgConnectOptions = url.parse()?;
    Ok(options.username(user).to_url_lossy().to_string())
}
