//! `aegis serve`: the HTTP server and the projectors, sharing one shutdown signal.

use anyhow::Context;
use projections::leader::{Election, lead_while_elected};
use projections::projector::{Projector, ProjectorSettings};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::database;
use crate::http::app;
use crate::state::AppState;

pub fn projector(pool: &sqlx::PgPool, batch_size: i64) -> Projector {
    let settings = ProjectorSettings {
        batch_size,
        ..ProjectorSettings::default()
    };
    Projector::new(pool.clone(), projections::all(), settings)
}

pub async fn serve(config: Config) -> anyhow::Result<()> {
    let database = database::open(&config.database, &config.data_dir, true).await?;
    tracing::info!(database = %database.description, "database ready");
    let state = AppState::new(
        database.pool.clone(),
        projector(&database.pool, config.projector_batch_size),
    );

    let listener = TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let address = listener.local_addr()?;
    println!("Aegis is running at http://{address}/ (GraphQL: http://{address}/graphql)");

    let shutdown = CancellationToken::new();
    tokio::spawn(cancel_on_signal(shutdown.clone()));

    let server = {
        let shutdown = shutdown.clone();
        let router = app(state.clone());
        tokio::spawn(async move {
            axum::serve(listener, router)
                .with_graceful_shutdown(shutdown.cancelled_owned())
                .await
        })
    };
    let projectors = {
        let shutdown = shutdown.clone();
        let state = state.clone();
        tokio::spawn(async move {
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
    database.pool.close().await;
    tracing::info!("Aegis stopped");
    result
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
