//! `aegis bench evidence`: upload + confirm throughput for 1 MiB and 50 MiB files on the local-disk store and,
//! when an S3 endpoint is configured, on that server; and this process's peak resident memory during one
//! 50 MiB upload + confirm. The server runs in this process (Aegis' own router on a free port) and the client
//! streams the file from disk, so the peak memory is the server's plus a small client.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use commands::context::{Actor as MetadataActor, CommandContext};
use commands::evidence::store::{LocalDiskStore, S3Settings, S3Store};
use commands::evidence::{EvidenceSettings, UploadRequest};
use domain::actor::Actor;
use domain::role::Role;
use domain::test_case::{
    Plan, ProcedureSource, Side, TechniqueId, TestCaseAction, TestCaseCommand, Text, Title,
};
use sha2::Digest;
use tokio::io::AsyncWriteExt;
use uuid::Uuid;

use super::ScratchDatabase;
use super::figures::{Figure, Measure};
use crate::state::{AppState, EvidenceBackend, WebSettings};

const MIB: u64 = 1024 * 1024;

pub async fn run(
    scratch: &ScratchDatabase,
    s3: Option<S3Settings>,
    rounds: u32,
) -> anyhow::Result<Vec<Figure>> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let files = tempfile::tempdir()?;
    let small = sample(files.path(), "small.log", MIB).await?;
    let large = sample(files.path(), "large.log", 50 * MIB).await?;
    println!(
        "evidence upload + confirm ({} build; {rounds} rounds per size; file streamed by the client, re-read by confirm)",
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        }
    );
    let mut figures = Vec::new();
    let mut backends = vec![("local disk", None)];
    if let Some(settings) = s3 {
        backends.push(("S3", Some(settings)));
    }
    for (name, settings) in backends {
        let bench = Bench::start(scratch, files.path(), settings).await?;
        for (label, file) in [("1 MiB", &small), ("50 MiB", &large)] {
            let started = Instant::now();
            for _ in 0..rounds {
                bench.upload_and_confirm(file).await?;
            }
            let seconds = started.elapsed().as_secs_f64();
            let mib = (file.size as f64 / MIB as f64) * f64::from(rounds);
            println!(
                "  {name:10} {label:>6}: {:7.1} MiB/s ({:.0} ms per file)",
                mib / seconds,
                seconds * 1000.0 / f64::from(rounds)
            );
            figures.push(Figure::ours(
                format!("evidence upload + confirm, {label} files, {name}"),
                Measure::new(mib / seconds, "MiB/s"),
            ));
        }
        let before = peak_rss_kib()?;
        reset_peak_rss();
        let baseline = current_rss_kib()?;
        bench.upload_and_confirm(&large).await?;
        let peak = peak_rss_kib()?;
        println!(
            "  {name:10} peak RSS during one 50 MiB upload + confirm: {:.1} MiB (resident before: {:.1} MiB; \
             growth {:.1} MiB; process peak so far {:.1} MiB)",
            peak as f64 / 1024.0,
            baseline as f64 / 1024.0,
            (peak.saturating_sub(baseline)) as f64 / 1024.0,
            before.max(peak) as f64 / 1024.0
        );
        figures.push(
            Figure::ours(
                format!(
                    "evidence: peak resident memory during one 50 MiB upload + confirm, {name} (server and client)"
                ),
                Measure::new(peak as f64 / 1024.0, "MiB"),
            )
            .note(format!(
                "+{:.1} MiB",
                (peak.saturating_sub(baseline)) as f64 / 1024.0
            )),
        );
    }
    Ok(figures)
}

struct SampleFile {
    path: std::path::PathBuf,
    size: u64,
    sha256: String,
}

/// A text file of `size` bytes (log lines), written and hashed in chunks.
async fn sample(dir: &Path, name: &str, size: u64) -> anyhow::Result<SampleFile> {
    let path = dir.join(name);
    let mut file = tokio::fs::File::create(&path).await?;
    let line = b"2026-11-20T10:00:00Z ws-042 sysmon event 10 lsass.exe access 0x1410 granted\n";
    let mut chunk = Vec::with_capacity(64 * 1024);
    while chunk.len() + line.len() <= 64 * 1024 {
        chunk.extend_from_slice(line);
    }
    let mut hasher = sha2::Sha256::new();
    let mut written = 0_u64;
    while written < size {
        let take = usize::try_from((size - written).min(chunk.len() as u64))?;
        file.write_all(&chunk[..take]).await?;
        hasher.update(&chunk[..take]);
        written += take as u64;
    }
    file.flush().await?;
    Ok(SampleFile {
        path,
        size,
        sha256: hex::encode(hasher.finalize()),
    })
}

struct Bench {
    state: AppState,
    actor: Actor,
    test_case: Uuid,
    http: reqwest::Client,
}

impl Bench {
    async fn start(
        scratch: &ScratchDatabase,
        dir: &Path,
        s3: Option<S3Settings>,
    ) -> anyhow::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        let backend = match s3 {
            Some(settings) => EvidenceBackend::S3(Arc::new(
                S3Store::connect(settings)
                    .await
                    .context("cannot reach the S3 server")?,
            )),
            None => EvidenceBackend::Local(Arc::new(LocalDiskStore::open(
                &dir.join(format!("store-{}", Uuid::now_v7())),
                &format!("http://{address}"),
            )?)),
        };
        let identity = super::bench_identity(scratch);
        let state = AppState::new(
            scratch.pool.clone(),
            crate::serve::projector(&scratch.pool, crate::config::DEFAULT_PROJECTOR_BATCH_SIZE),
            identity,
            WebSettings::default(),
        )
        .with_evidence(
            backend,
            EvidenceSettings {
                max_bytes: 100 * MIB,
                ..EvidenceSettings::default()
            },
        );
        let router = crate::http::app(state.clone());
        tokio::spawn(async move { axum::serve(listener, router).await });

        // A test case red is executing, worked on by a red lead (who needs no assignment).
        let actor = Actor::new(Uuid::now_v7(), [Role::RedLead]);
        let test_case = Uuid::now_v7();
        let context = CommandContext::new(MetadataActor::user(actor.user_id, [Role::RedLead]));
        let plan = Plan {
            title: Title::parse("Evidence benchmark")?,
            objective: Text::parse("")?,
            technique: TechniqueId::parse("T1003.001")?,
            procedure: ProcedureSource::Manual,
            steps: Text::parse("")?,
            platforms: std::collections::BTreeSet::new(),
            targets: std::collections::BTreeSet::new(),
            tags: std::collections::BTreeSet::new(),
            blind: false,
        };
        for action in [
            TestCaseAction::PlanTestCase { plan },
            TestCaseAction::AssignTestCase {
                red_assignee: Some(actor.user_id),
                blue_assignee: None,
            },
            TestCaseAction::StartExecution,
        ] {
            let command = TestCaseCommand {
                actor: actor.clone(),
                at: state.test_cases.now(),
                action,
            };
            state
                .test_cases
                .execute(&context, &test_case.to_string(), command)
                .await?;
        }
        Ok(Self {
            state,
            actor,
            test_case,
            http: reqwest::Client::new(),
        })
    }

    async fn upload_and_confirm(&self, file: &SampleFile) -> anyhow::Result<()> {
        let Some(evidence) = &self.state.evidence else {
            unreachable!("with_evidence sets it");
        };
        let ticket = evidence
            .service
            .request_upload(
                &self.actor,
                UploadRequest {
                    test_case_id: self.test_case,
                    side: Side::Red,
                    file_name: "sysmon.log".to_owned(),
                    content_type: "text/plain".to_owned(),
                    size: file.size,
                    sha256: file.sha256.clone(),
                },
            )
            .await?;
        let body = reqwest::Body::wrap_stream(tokio_util::io::ReaderStream::new(
            tokio::fs::File::open(&file.path).await?,
        ));
        let response = self
            .http
            .put(&ticket.url)
            .header(reqwest::header::CONTENT_LENGTH, file.size)
            .body(body)
            .timeout(Duration::from_secs(600))
            .send()
            .await?;
        anyhow::ensure!(
            response.status().is_success(),
            "upload refused: {}",
            response.status()
        );
        let context = CommandContext::new(MetadataActor::user(self.actor.user_id, [Role::RedLead]));
        evidence
            .service
            .confirm_upload(&context, &self.actor, ticket.upload_id)
            .await?;
        Ok(())
    }
}

fn status_kib(field: &str) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string("/proc/self/status")
        .context("peak memory is read from /proc (Linux only)")?;
    status
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .with_context(|| format!("no {field} in /proc/self/status"))
}

fn peak_rss_kib() -> anyhow::Result<u64> {
    status_kib("VmHWM:")
}

fn current_rss_kib() -> anyhow::Result<u64> {
    status_kib("VmRSS:")
}

/// Resets VmHWM to the current RSS (Linux 4.0+), so the next peak is this measurement's own.
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}
