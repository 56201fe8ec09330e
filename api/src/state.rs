//! What every request handler and resolver shares.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use commands::context::SystemClock;
use commands::service::CommandService;
use domain::campaign::Campaign;
use domain::coverage_snapshot::CoverageSnapshots;
use domain::detection_rule::DetectionRule;
use domain::intel::IntelItem;
use domain::job_failure::JobFailure;
use domain::saved_layer::SavedLayer;
use domain::scoring::ScoringPolicy;
use domain::test_case::TestCase;
use projections::heatmap::HeatmapCache;
use projections::projector::Projector;
use sqlx::PgPool;

use commands::evidence::EvidenceService;
use commands::evidence::store::{EvidenceStore, LocalDiskStore, S3Store};

use crate::auth::identity::Identity;
use crate::edge::EdgeConfig;
use crate::read_replica::ReadReplica;
use crate::scheduler::Schedules;

/// Who may introspect the schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Introspection {
    /// Signed-in callers (integrators generate clients from it); anonymous callers never.
    #[default]
    Authenticated,
    Everyone,
    Nobody,
}

/// How the web edge behaves.
#[derive(Debug, Clone, Default)]
pub struct WebSettings {
    /// Origins, public URL: security headers, CORS and the CSRF guard.
    pub edge: EdgeConfig,
    /// Served over TLS (the public URL is https): cookies get `Secure`.
    pub secure_cookies: bool,
    pub introspection: Introspection,
    /// Behind a reverse proxy: the header it appends the client's address to (e.g. `x-forwarded-for`), so
    /// throttling and audit see clients rather than the proxy.
    pub client_ip_header: Option<axum::http::HeaderName>,
    /// The built web dashboard served at `/`; `None` serves no dashboard (tests, benchmarks).
    pub web_dir: Option<std::path::PathBuf>,
}

/// The evidence store a server runs with.
#[derive(Debug, Clone)]
pub enum EvidenceBackend {
    /// Files under the data directory, uploaded and downloaded through this server's signed URLs.
    Local(Arc<LocalDiskStore>),
    S3(Arc<S3Store>),
}

/// The evidence flow, and the local-disk store when the server itself serves the upload URLs.
#[derive(Debug, Clone)]
pub struct Evidence {
    pub service: EvidenceService,
    pub local: Option<Arc<LocalDiskStore>>,
}

/// Cheap to clone: pools and flags behind `Arc`s.
#[derive(Debug, Clone)]
pub struct AppState {
    pub pool: PgPool,
    pub projector: Projector,
    pub identity: Identity,
    /// The red/blue workflow's commands.
    pub test_cases: Arc<CommandService<TestCase>>,
    /// Campaigns: planning, running and closing them, their test cases and recurrence.
    pub campaigns: Arc<CommandService<Campaign>>,
    /// The scoring policies scores are computed with.
    pub scoring_policies: Arc<CommandService<ScoringPolicy>>,
    /// Which detection rules we run.
    pub detection_rules: Arc<CommandService<DetectionRule>>,
    /// Coverage snapshots (weekly and on demand).
    pub coverage_snapshots: Arc<CommandService<CoverageSnapshots>>,
    /// What the intel scan and ATT&CK sync found, and its acknowledgements.
    pub intel_items: Arc<CommandService<IntelItem>>,
    /// Scheduled jobs' failures, told to the admins.
    pub job_failures: Arc<CommandService<JobFailure>>,
    /// Navigator layers kept as scoped views.
    pub saved_layers: Arc<CommandService<SavedLayer>>,
    pub web: WebSettings,
    /// Evidence files; `None` until [`Self::with_evidence`] (the evidence fields then answer that storage is
    /// not configured).
    pub evidence: Option<Evidence>,
    /// When the scheduled jobs run, and what `attack_sync` reads.
    pub schedules: Arc<Schedules>,
    /// Heatmap inputs kept between requests while nothing they were read from has changed.
    pub heatmaps: Arc<HeatmapCache>,
    /// Whether this process currently runs the projectors (holds the leader lock).
    leader: Arc<AtomicBool>,
    /// A streaming replica GraphQL queries read from ([`crate::read_replica`]); `None` reads from `pool`.
    pub read_replica: Option<ReadReplica>,
}

impl AppState {
    pub fn new(pool: PgPool, projector: Projector, identity: Identity, web: WebSettings) -> Self {
        Self {
            test_cases: Arc::new(CommandService::new(pool.clone(), (), Arc::new(SystemClock))),
            campaigns: Arc::new(CommandService::new(pool.clone(), (), Arc::new(SystemClock))),
            scoring_policies: Arc::new(CommandService::new(
                pool.clone(),
                (),
                Arc::new(SystemClock),
            )),
            detection_rules: Arc::new(CommandService::new(pool.clone(), (), Arc::new(SystemClock))),
            coverage_snapshots: Arc::new(CommandService::new(
                pool.clone(),
                (),
                Arc::new(SystemClock),
            )),
            intel_items: Arc::new(CommandService::new(pool.clone(), (), Arc::new(SystemClock))),
            job_failures: Arc::new(CommandService::new(pool.clone(), (), Arc::new(SystemClock))),
            saved_layers: Arc::new(CommandService::new(pool.clone(), (), Arc::new(SystemClock))),
            pool,
            projector,
            identity,
            web,
            evidence: None,
            schedules: Arc::new(Schedules::default()),
            heatmaps: Arc::default(),
            leader: Arc::new(AtomicBool::new(false)),
            read_replica: None,
        }
    }

    /// Sends GraphQL queries to `replica` (see [`crate::read_replica`]).
    #[must_use]
    pub fn with_read_replica(mut self, replica: Option<ReadReplica>) -> Self {
        self.read_replica = replica;
        self
    }

    /// This state with reads from `pool`: what a query routed to the replica resolves with. Everything else
    /// (command services, identity, projector) keeps its own primary pool.
    #[must_use]
    pub fn reading_from(&self, pool: PgPool) -> Self {
        Self {
            pool,
            ..self.clone()
        }
    }

    /// Runs the scheduled jobs on `schedules` instead of the defaults.
    #[must_use]
    pub fn with_schedules(mut self, schedules: Schedules) -> Self {
        self.schedules = Arc::new(schedules);
        self
    }

    /// Keeps evidence in `store` (the test cases' command service decides who may attach it).
    #[must_use]
    pub fn with_evidence(
        self,
        store: EvidenceBackend,
        settings: commands::evidence::EvidenceSettings,
    ) -> Self {
        let (shared, local): (Arc<dyn EvidenceStore>, _) = match store {
            EvidenceBackend::Local(local) => (local.clone(), Some(local)),
            EvidenceBackend::S3(s3) => (s3, None),
        };
        let service =
            EvidenceService::new(self.pool.clone(), shared, self.test_cases.clone(), settings);
        Self {
            evidence: Some(Evidence { service, local }),
            ..self
        }
    }

    pub fn is_leader(&self) -> bool {
        self.leader.load(Ordering::Relaxed)
    }

    pub fn set_leader(&self, leader: bool) {
        self.leader.store(leader, Ordering::Relaxed);
        metrics::gauge!("aegis_projector_leader").set(if leader { 1.0 } else { 0.0 });
    }
}
