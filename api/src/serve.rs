//! `aegis serve`: the HTTP server and the projectors, sharing one shutdown signal.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use commands::context::SystemClock;
use projections::leader::{Election, lead_while_elected};
use projections::projector::{Projector, ProjectorSettings};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::auth::identity::{Identity, IdentitySettings};
use crate::auth::session::Authenticator;
use crate::auth::tokens::SigningKeys;
use crate::config::Config;
use crate::database;
use crate::edge::EdgeConfig;
use crate::http::app;
use crate::state::{AppState, EvidenceBackend, WebSettings};
use commands::evidence::EvidenceSettings;
use commands::evidence::store::{LocalDiskStore, S3Store};
use sqlx::PgPool;

pub fn projector(pool: &PgPool, batch_size: i64) -> Projector {
    let settings = ProjectorSettings {
        batch_size,
        ..ProjectorSettings::default()
    };
    Projector::new(pool.clone(), projections::all(), settings)
}

/// The account flows as configured: signing keys, session lifetime, hashing bound.
/// The instance's keys: tokens are signed with them, and so are portable history exports.
pub fn signing_keys(config: &Config) -> anyhow::Result<SigningKeys> {
    Ok(SigningKeys::load(
        config.auth.biscuit_private_key.as_deref(),
        config.auth.biscuit_key_id,
        config.auth.biscuit_previous_public_keys.as_deref(),
        &config.data_dir,
    )?)
}

pub fn identity(config: &Config, pool: &PgPool) -> anyhow::Result<Identity> {
    let keys = signing_keys(config)?;
    let defaults = IdentitySettings::default();
    let settings = IdentitySettings {
        session_ttl: Duration::from_secs(config.auth.session_hours * 3600),
        concurrent_hashes: config
            .auth
            .max_concurrent_hashes
            .unwrap_or(defaults.concurrent_hashes),
        ..defaults
    };
    let authenticator = Authenticator::new(Arc::new(keys), pool.clone());
    Ok(Identity::new(
        pool.clone(),
        Arc::new(SystemClock),
        authenticator,
        settings,
    ))
}

/// The web edge as configured; refuses origins or URLs it could not enforce.
pub fn web_settings(config: &Config) -> anyhow::Result<WebSettings> {
    let edge = EdgeConfig {
        allowed_origins: config.web.allowed_origins.clone(),
        public_url: config.web.public_url.clone(),
        // The browser uploads evidence straight to the bucket, so its origin must be in `connect-src`.
        evidence_upload_origin: config
            .evidence
            .s3
            .as_ref()
            .map(|s3| {
                s3.browser_origin().with_context(|| {
                    format!(
                        "the S3 endpoint {:?} has no origin browsers could upload to",
                        s3.endpoint
                    )
                })
            })
            .transpose()?,
    };
    edge.validate()?;
    let secure_cookies = config
        .web
        .public_url
        .as_deref()
        .is_some_and(|url| url.starts_with("https://"));
    let client_ip_header = config
        .web
        .client_ip_header
        .as_deref()
        .map(axum::http::HeaderName::try_from)
        .transpose()
        .context("AEGIS_CLIENT_IP_HEADER is not a valid header name")?;
    Ok(WebSettings {
        edge,
        secure_cookies,
        introspection: config.web.introspection,
        client_ip_header,
        web_dir: Some(config.web.web_dir.clone()),
    })
}

/// The evidence store as configured: the S3 bucket (created when allowed, with a CORS rule letting the web
/// app upload from this server's origin), or local disk under `<data-dir>/evidence` with URLs pointing at
/// this server's public URL (or its listen address).
pub async fn evidence_backend(config: &Config) -> anyhow::Result<EvidenceBackend> {
    let base_url = config
        .web
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{}", config.listen));
    if let Some(s3) = &config.evidence.s3 {
        let store = S3Store::connect(s3.clone()).await.with_context(|| {
            format!("cannot use the S3 bucket {} at {}", s3.bucket, s3.endpoint)
        })?;
        // Only on a bucket Aegis manages: an operator's own bucket keeps the CORS rules they set (README).
        // A server without the CORS API (s3s-fs; MinIO allows every origin by default) only costs the
        // browser uploads, which the API and the CLI do not need, so it is a warning.
        if s3.create_bucket
            && let Some(app_origin) = crate::edge::origin_of_url(&base_url)
            && let Err(error) = store.allow_browser_uploads(&app_origin).await
        {
            tracing::warn!(
                bucket = s3.bucket,
                app_origin,
                %error,
                "could not set the evidence bucket's CORS rule; browser uploads need the bucket to allow PUT \
                 from the app's origin"
            );
        }
        return Ok(EvidenceBackend::S3(Arc::new(store)));
    }
    let root = config.data_dir.join("evidence");
    let store = LocalDiskStore::open(&root, &base_url)
        .with_context(|| format!("cannot keep evidence under {}", root.display()))?;
    Ok(EvidenceBackend::Local(Arc::new(store)))
}

/// The evidence limits as configured.
pub fn evidence_settings(config: &Config) -> EvidenceSettings {
    EvidenceSettings {
        max_bytes: config.evidence.max_bytes,
        ..EvidenceSettings::default()
    }
}

pub async fn serve(config: Config) -> anyhow::Result<()> {
    let database = database::open(&config.database, &config.data_dir, true).await?;
    tracing::info!(database = %database.description, "database ready");
    let identity = identity(&config, &database.pool)?;
    let first_admin = identity
        .ensure_first_admin(config.auth.admin_password.as_deref())
        .await
        .context("cannot create the first admin")?;
    if config.demo {
        crate::cli::report_demo(crate::demo::load(&database.pool, &identity, false).await?);
    }
    let state = AppState::new(
        database.pool.clone(),
        projector(&database.pool, config.projector_batch_size),
        identity,
        web_settings(&config)?,
    )
    .with_evidence(evidence_backend(&config).await?, evidence_settings(&config))
    .with_schedules(config.schedules.clone())
    .with_read_replica(database::open_read_replica(&config.database).await?);

    let listener = TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let address = listener.local_addr()?;
    println!("Aegis is running at http://{address}/ (GraphQL: http://{address}/graphql)");
    match (first_admin, &config.auth.admin_password) {
        (Some((email, _)), Some(_)) => {
            println!("First login: {email} with the password from AEGIS_ADMIN_PASSWORD");
        }
        (Some((email, password)), None) => {
            println!(
                "First login: {email} / {password} (shown once; you must choose a new password)"
            );
        }
        (None, _) => {}
    }

    let shutdown = CancellationToken::new();
    tokio::spawn(cancel_on_signal(shutdown.clone()));

    let server = {
        let shutdown = shutdown.clone();
        let router = app(state.clone());
        tokio::spawn(async move {
            axum::serve(
                listener,
                router.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .with_graceful_shutdown(shutdown.cancelled_owned())
            .await
        })
    };
    let credentials = {
        let shutdown = shutdown.clone();
        let authenticator = state.identity.authenticator().clone();
        tokio::spawn(async move {
            if let Err(error) = authenticator.follow_credential_changes(shutdown).await {
                tracing::error!(%error, "cannot follow credential changes; cached token checks expire on their own");
            }
        })
    };
    let projectors = tokio::spawn(run_projectors(state.clone(), shutdown.clone()));
    let scheduler = {
        let scheduler = crate::scheduler::Scheduler::new(state.clone());
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            if let Err(error) = scheduler.serve(shutdown).await {
                tracing::error!(error = format!("{error:#}"), "the scheduler stopped");
            }
        })
    };

    // Whichever part ends first takes the other down with it; report which.
    tokio::pin!(server, projectors);
    let result = tokio::select! {
        result = &mut server => {
            shutdown.cancel();
            let _ = projectors.await;
            result.context("the HTTP server task failed")?.context("the HTTP server failed")
        }
        result = &mut projectors => {
            tracing::warn!("the projector task ended; shutting down the server");
            shutdown.cancel();
            result.context("the projector task failed")?;
            server.await.context("the HTTP server task failed")?.context("the HTTP server failed")
        }
    };
    credentials.abort();
    let _ = scheduler.await;
    database.pool.close().await;
    tracing::info!("Aegis stopped");
    result
}

/// Runs the projectors while this process holds the leader lock, until `shutdown`.
async fn run_projectors(state: AppState, shutdown: CancellationToken) {
    let projector = state.projector.clone();
    let leader_state = state.clone();
    lead_while_elected(
        &state.pool,
        Election::default(),
        shutdown,
        move |leader| leader_state.set_leader(leader),
        move |stop| {
            let projector = projector.clone();
            async move {
                if let Err(error) = projector.run(stop).await {
                    tracing::error!(%error, "projector stopped");
                }
            }
        },
    )
    .await;
}

/// Ctrl-C or SIGTERM (what container runtimes send) starts a graceful shutdown.
async fn cancel_on_signal(shutdown: CancellationToken) {
    let interrupt = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => tracing::info!("interrupted: shutting down"),
        () = terminate => tracing::info!("terminated: shutting down"),
    }
    shutdown.cancel();
}
