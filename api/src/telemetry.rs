//! Logs, traces and metrics.
//!
//! Logs are structured (JSON when standard error is not a terminal). Traces go to an OTLP collector when the
//! standard `OTEL_EXPORTER_OTLP_ENDPOINT` is set, and nowhere otherwise. Each output has its own level filter:
//! a global filter would also starve the OpenTelemetry layer.

use std::io::IsTerminal;
use std::sync::OnceLock;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use crate::config::LogFormat;

/// Flushes and stops trace export when dropped (at the end of `main`).
#[derive(Debug)]
pub struct TelemetryGuard {
    tracer_provider: Option<SdkTracerProvider>,
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        if let Some(provider) = self.tracer_provider.take()
            && let Err(error) = provider.shutdown()
        {
            eprintln!("flushing traces failed: {error}");
        }
    }
}

const DEFAULT_LOG_FILTER: &str = "info,sqlx=warn,tower_http=info";

/// Installs the global subscriber. `RUST_LOG` overrides the log level; `OTEL_EXPORTER_OTLP_ENDPOINT` turns on
/// trace export (with `OTEL_SERVICE_NAME`, default `aegis`).
pub fn init(format: LogFormat) -> anyhow::Result<TelemetryGuard> {
    let log_filter =
        || EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_LOG_FILTER));
    let json = match format {
        LogFormat::Json => true,
        LogFormat::Pretty => false,
        LogFormat::Auto => !std::io::stderr().is_terminal(),
    };
    let logs = if json {
        tracing_subscriber::fmt::layer()
            .json()
            .with_current_span(true)
            .with_writer(std::io::stderr)
            .with_filter(log_filter())
            .boxed()
    } else {
        tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_filter(log_filter())
            .boxed()
    };

    let tracer_provider = otlp_tracer_provider()?;
    let traces = tracer_provider.as_ref().map(|provider| {
        tracing_opentelemetry::layer()
            .with_tracer(provider.tracer("aegis"))
            .with_filter(EnvFilter::new("info,sqlx=warn"))
    });
    tracing_subscriber::registry()
        .with(logs)
        .with(traces)
        .try_init()?;
    Ok(TelemetryGuard { tracer_provider })
}

fn otlp_tracer_provider() -> anyhow::Result<Option<SdkTracerProvider>> {
    if std::env::var_os("OTEL_EXPORTER_OTLP_ENDPOINT").is_none() {
        return Ok(None);
    }
    // The exporter reads OTEL_EXPORTER_OTLP_ENDPOINT itself and appends /v1/traces to it.
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .build()?;
    let service_name = std::env::var("OTEL_SERVICE_NAME").unwrap_or_else(|_| "aegis".to_owned());
    let provider = SdkTracerProvider::builder()
        .with_resource(Resource::builder().with_service_name(service_name).build())
        .with_batch_exporter(exporter)
        .build();
    Ok(Some(provider))
}

/// The process-wide metrics recorder, installed on first use; `/metrics` renders it.
pub fn metrics() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets(&[
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
            ])
            .expect("the bucket list is not empty")
            .build_recorder();
        let handle = recorder.handle();
        // Another recorder can only exist if something else installed one first; then ours still renders.
        let _installed = metrics::set_global_recorder(recorder);
        handle
    })
}
