//! Scheduled jobs inside `aegis serve`: each job has a cron schedule (five fields, read in the configured time
//! zone, UTC by default); tokio-cron-scheduler only wakes the loop every minute, and each wake-up runs every job
//! whose latest due time has no run yet.
//!
//! # Exactly once, with several processes
//! A run starts by inserting its `job_runs` row, unique per (job, due time): every process that wakes tries,
//! one insert succeeds and only that process runs the job. A server that was down does not catch up slot by
//! slot: only the latest due time counts, so what is overdue runs once. Each job is also idempotent on its own
//! (snapshot ids and campaign instances are derived from the due time), so a run cut short is safe to repeat.
//!
//! # Time
//! [`Scheduler::tick`] takes the moment as an argument: tests (and `aegis jobs tick --at`) move time instead of
//! waiting for it.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use anyhow::Context;
use chrono::{DateTime, SubsecRound, TimeDelta, Utc};
use chrono_tz::Tz;
use commands::context::{Actor as MetadataActor, CommandContext};
use commands::service::CommandError;
use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};
use domain::actor::Actor;
use domain::coverage_snapshot::{
    CoverageSnapshotError, SNAPSHOTS_AGGREGATE_ID, SnapshotKind, TakeSnapshot,
};
use domain::job_failure::RecordJobFailure;
use domain::role::Role;
use importers::import::{self, Location};
use importers::source::Source;
use importers::{catalog, taxii};
use serde_json::{Value, json};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::state::AppState;

/// Read notifications older than this are deleted by `notification_cleanup`.
pub const NOTIFICATION_RETENTION_DAYS: i64 = 90;

/// The namespace of ids derived from a job's due time (weekly snapshots).
const JOB_NAMESPACE: Uuid = Uuid::from_u128(0x6165_6769_735f_6a6f_6273_5f69_6400_0001);

/// A scheduled job.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, async_graphql::Enum, clap::ValueEnum,
)]
#[value(rename_all = "snake_case")]
pub enum Job {
    /// Import ATT&CK from the configured source (runs only when one is configured); a new release raises an
    /// intel item.
    AttackSync,
    /// Compare the newest imports with the earlier ones and the coverage with the previous scan's; each
    /// finding becomes an intel item for the leads.
    IntelScan,
    /// Delete read notifications older than 90 days.
    NotificationCleanup,
    /// Take the weekly coverage snapshot (the newest 52 are kept).
    WeeklySnapshot,
    /// Spawn every recurring campaign instance that is due.
    RecurringCampaigns,
}

impl Job {
    pub const ALL: [Self; 5] = [
        Self::AttackSync,
        Self::IntelScan,
        Self::NotificationCleanup,
        Self::WeeklySnapshot,
        Self::RecurringCampaigns,
    ];

    pub const fn name(self) -> &'static str {
        match self {
            Self::AttackSync => "attack_sync",
            Self::IntelScan => "intel_scan",
            Self::NotificationCleanup => "notification_cleanup",
            Self::WeeklySnapshot => "weekly_snapshot",
            Self::RecurringCampaigns => "recurring_campaigns",
        }
    }

    /// Five cron fields, minute first.
    pub const fn default_schedule(self) -> &'static str {
        match self {
            Self::AttackSync => "0 2 * * *",
            Self::IntelScan => "0 3 * * MON",
            Self::NotificationCleanup => "0 4 * * *",
            Self::WeeklySnapshot => "0 0 * * SUN",
            Self::RecurringCampaigns => "0 1 * * *",
        }
    }
}

impl fmt::Display for Job {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.name())
    }
}

impl FromStr for Job {
    type Err = anyhow::Error;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|job| job.name() == name)
            .with_context(|| {
                let known: Vec<&str> = Self::ALL.iter().map(|job| job.name()).collect();
                format!("no job is named {name:?}; known: {}", known.join(", "))
            })
    }
}

/// Where `attack_sync` imports ATT&CK from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttackSource {
    /// A STIX bundle over HTTP(S).
    Url(String),
    /// A TAXII 2.1 collection: the discovery URL and the collection's id or title.
    Taxii {
        discovery_url: String,
        collection: String,
    },
}

/// When each job runs, and what `attack_sync` reads.
#[derive(Clone)]
pub struct Schedules {
    crons: BTreeMap<Job, (String, Cron)>,
    timezone: Tz,
    attack_source: Option<AttackSource>,
}

impl fmt::Debug for Schedules {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let crons: BTreeMap<&str, &str> = self
            .crons
            .iter()
            .map(|(job, (text, _))| (job.name(), text.as_str()))
            .collect();
        formatter
            .debug_struct("Schedules")
            .field("crons", &crons)
            .field("timezone", &self.timezone)
            .field("attack_source", &self.attack_source)
            .finish()
    }
}

impl Default for Schedules {
    /// Every job on its default schedule, in UTC; no ATT&CK source.
    fn default() -> Self {
        Self::new(&[], chrono_tz::UTC, None).expect("the default schedules are valid cron")
    }
}

impl Schedules {
    /// The defaults, with `overrides` (`job=cron`, e.g. `weekly_snapshot=0 6 * * MON`) applied.
    pub fn new(
        overrides: &[(Job, String)],
        timezone: Tz,
        attack_source: Option<AttackSource>,
    ) -> anyhow::Result<Self> {
        let mut crons = BTreeMap::new();
        for job in Job::ALL {
            let text = overrides
                .iter()
                .rev()
                .find(|(overridden, _)| *overridden == job)
                .map_or(job.default_schedule(), |(_, text)| text.as_str());
            let cron = CronParser::builder()
                .seconds(Seconds::Disallowed)
                .year(Year::Disallowed)
                .build()
                .parse(text)
                .with_context(|| {
                    format!("the schedule of {job} ({text:?}) is not five cron fields")
                })?;
            crons.insert(job, (text.to_owned(), cron));
        }
        Ok(Self {
            crons,
            timezone,
            attack_source,
        })
    }

    /// Parses `job=cron`.
    pub fn parse_override(text: &str) -> anyhow::Result<(Job, String)> {
        let (job, cron) = text
            .split_once('=')
            .with_context(|| format!("a schedule is job=cron, not {text:?}"))?;
        Ok((job.trim().parse()?, cron.trim().to_owned()))
    }

    /// The jobs that run: every one but `attack_sync` without a source.
    pub fn jobs(&self) -> impl Iterator<Item = Job> + '_ {
        Job::ALL
            .into_iter()
            .filter(|job| *job != Job::AttackSync || self.attack_source.is_some())
    }

    pub fn timezone(&self) -> Tz {
        self.timezone
    }

    pub fn cron(&self, job: Job) -> &str {
        &self.crons[&job].0
    }

    /// The latest time `job` was due at or before `now`.
    pub fn latest_due(&self, job: Job, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let local = now.with_timezone(&self.timezone);
        self.crons[&job]
            .1
            .find_previous_occurrence(&local, true)
            .ok()
            .map(|due| due.with_timezone(&Utc).trunc_subsecs(0))
    }
}

/// What started a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    Schedule,
    /// The server started (recurring campaigns are checked at every start).
    Start,
    /// An admin asked (`runJobNow`).
    Admin(Uuid),
    /// Someone ran `aegis jobs run`.
    Cli,
}

impl Trigger {
    fn as_text(self) -> String {
        match self {
            Self::Schedule => "schedule".to_owned(),
            Self::Start => "start".to_owned(),
            Self::Admin(user_id) => user_id.to_string(),
            Self::Cli => "cli".to_owned(),
        }
    }
}

/// The columns of [`JobRunRow`], in its order.
const RUN_COLUMNS: &str =
    "run_id, job, due_at, trigger, started_at, finished_at, outcome, counts, error";

/// One row of `job_runs`.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct JobRunRow {
    pub run_id: Uuid,
    pub job: String,
    pub due_at: DateTime<Utc>,
    pub trigger: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub outcome: String,
    pub counts: Value,
    pub error: Option<String>,
}

/// Runs the jobs of one Aegis process, on the state's schedules.
#[derive(Clone)]
pub struct Scheduler {
    state: AppState,
}

impl fmt::Debug for Scheduler {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("Scheduler")
            .field("schedules", &self.state.schedules)
            .finish_non_exhaustive()
    }
}

impl Scheduler {
    pub fn new(state: AppState) -> Self {
        Self { state }
    }

    /// Runs every job whose latest due time at `now` has not run yet, here or in another process; returns the
    /// runs this call made. A failing job is recorded and does not stop the others.
    pub async fn tick(&self, now: DateTime<Utc>) -> anyhow::Result<Vec<JobRunRow>> {
        let mut runs = Vec::new();
        for job in self.state.schedules.jobs() {
            let Some(due_at) = self.state.schedules.latest_due(job, now) else {
                continue;
            };
            if let Some(run) = self.run(job, due_at, Trigger::Schedule, now).await? {
                runs.push(run);
            }
        }
        Ok(runs)
    }

    /// Runs `job` now, for `trigger`, whatever its schedule; `None` when a run for this very moment exists.
    pub async fn run_now(
        &self,
        job: Job,
        trigger: Trigger,
        now: DateTime<Utc>,
    ) -> anyhow::Result<Option<JobRunRow>> {
        self.run(job, now, trigger, now).await
    }

    /// Claims the run of `job` for `due_at` and runs it; `None` when it was claimed already.
    async fn run(
        &self,
        job: Job,
        due_at: DateTime<Utc>,
        trigger: Trigger,
        now: DateTime<Utc>,
    ) -> anyhow::Result<Option<JobRunRow>> {
        let pool = &self.state.pool;
        let claimed: Option<Uuid> = sqlx::query_scalar(
            "INSERT INTO job_runs (run_id, job, due_at, trigger, started_at, outcome)
             VALUES ($1, $2, $3, $4, now(), 'running')
             ON CONFLICT (job, due_at) DO NOTHING
             RETURNING run_id",
        )
        .bind(Uuid::now_v7())
        .bind(job.name())
        .bind(due_at)
        .bind(trigger.as_text())
        .fetch_optional(pool)
        .await?;
        let Some(run_id) = claimed else {
            return Ok(None);
        };
        tracing::info!(%job, %due_at, "job started");
        let (outcome, counts, error) = match self.execute(job, due_at, now).await {
            Ok(counts) => ("succeeded", counts, None),
            Err(error) => {
                let error = format!("{error:#}");
                tracing::error!(%job, %due_at, error, "job failed");
                if let Err(cause) = self.tell_admins(run_id, job, due_at, &error).await {
                    tracing::error!(%job, error = format!("{cause:#}"), "cannot tell the admins that a job failed");
                }
                ("failed", json!({}), Some(error))
            }
        };
        let row = sqlx::query_as(&format!(
            "UPDATE job_runs SET finished_at = now(), outcome = $2, counts = $3, error = $4
              WHERE run_id = $1
              RETURNING {RUN_COLUMNS}"
        ))
        .bind(run_id)
        .bind(outcome)
        .bind(&counts)
        .bind(error)
        .fetch_one(pool)
        .await?;
        Ok(Some(row))
    }

    /// Records the failure of run `run_id` as an event naming the active admins, whom it notifies.
    async fn tell_admins(
        &self,
        run_id: Uuid,
        job: Job,
        due_at: DateTime<Utc>,
        error: &str,
    ) -> anyhow::Result<()> {
        let admins =
            projections::users::active_holding(&self.state.pool, &[Role::Admin.as_str()]).await?;
        let (actor, context) = scheduler_actor();
        let command = RecordJobFailure {
            actor,
            job: job.name().to_owned(),
            due_at,
            error: error.to_owned(),
            notify: admins,
        };
        self.state
            .job_failures
            .execute(&context, &run_id.to_string(), command)
            .await?;
        Ok(())
    }

    async fn execute(
        &self,
        job: Job,
        due_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> anyhow::Result<Value> {
        match job {
            Job::AttackSync => {
                let source = self
                    .state
                    .schedules
                    .attack_source
                    .as_ref()
                    .context("no ATT&CK source is configured")?;
                attack_sync(&self.state, source).await
            }
            Job::IntelScan => {
                let previous = previous_success(&self.state.pool, job).await?;
                crate::intel_scan::scan(&self.state, previous, now).await
            }
            Job::NotificationCleanup => {
                let deleted = notification_cleanup(&self.state.pool, now).await?;
                Ok(json!({ "deleted": deleted }))
            }
            Job::WeeklySnapshot => {
                let taken = weekly_snapshot(&self.state, due_at).await?;
                Ok(json!({ "snapshots": u8::from(taken) }))
            }
            Job::RecurringCampaigns => {
                let spawned = crate::recurring::spawn_due_instances(&self.state, now).await?;
                Ok(json!({ "instances": spawned.len() }))
            }
        }
    }

    /// Checks the recurring campaigns, then runs what is due every minute until `shutdown`.
    pub async fn serve(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let wake = Arc::new(tokio::sync::Notify::new());
        let mut cron = tokio_cron_scheduler::JobScheduler::new().await?;
        let waker = Arc::clone(&wake);
        // Six fields: tokio-cron-scheduler wants seconds first.
        cron.add(tokio_cron_scheduler::Job::new(
            "0 * * * * *",
            move |_, _| {
                waker.notify_one();
            },
        )?)
        .await?;
        cron.start().await?;
        tracing::info!(schedules = ?self.state.schedules, "scheduler running");
        if let Err(error) = self
            .run_now(Job::RecurringCampaigns, Trigger::Start, Utc::now())
            .await
        {
            tracing::error!(
                error = format!("{error:#}"),
                "cannot check the recurring campaigns"
            );
        }
        loop {
            if let Err(error) = self.tick(Utc::now()).await {
                tracing::error!(error = format!("{error:#}"), "scheduler tick failed");
            }
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = wake.notified() => {}
            }
        }
        cron.shutdown().await?;
        Ok(())
    }
}

/// The runs of `job` (every job when `None`), newest first.
pub async fn runs(
    pool: &PgPool,
    job: Option<Job>,
    limit: i64,
) -> Result<Vec<JobRunRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {RUN_COLUMNS}
           FROM job_runs WHERE $1::text IS NULL OR job = $1
          ORDER BY started_at DESC, run_id DESC LIMIT $2"
    ))
    .bind(job.map(Job::name))
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// The scheduler acts as a system actor with an admin's rights (for recurring campaigns, on the templates leads
/// created); its events name it `system:scheduler`.
pub(crate) fn scheduler_actor() -> (Actor, CommandContext) {
    system_actor("scheduler")
}

/// A part of Aegis acting on its own (the scheduler, the command line) with an admin's rights; its events
/// name it `system:<component>`.
pub(crate) fn system_actor(component: &str) -> (Actor, CommandContext) {
    (
        Actor::new(Uuid::nil(), [Role::Admin]),
        CommandContext::new(MetadataActor::system(component)),
    )
}

async fn weekly_snapshot(state: &AppState, due_at: DateTime<Utc>) -> anyhow::Result<bool> {
    let (actor, context) = scheduler_actor();
    let command = TakeSnapshot {
        actor,
        snapshot_id: Uuid::new_v5(
            &JOB_NAMESPACE,
            format!("weekly_snapshot/{}", due_at.to_rfc3339()).as_bytes(),
        ),
        kind: SnapshotKind::Weekly,
    };
    match state
        .coverage_snapshots
        .execute(&context, &SNAPSHOTS_AGGREGATE_ID.to_string(), command)
        .await
    {
        Ok(_) => Ok(true),
        // Taken by an earlier run for the same due time that did not get to record its end.
        Err(CommandError::Rejected(CoverageSnapshotError::AlreadyTaken)) => Ok(false),
        Err(error) => Err(error.into()),
    }
}

/// Deletes the notifications read and older than the retention, and returns how many (see
/// `projections::notifications::delete_read_before` for what a rebuild does with them).
pub async fn notification_cleanup(pool: &PgPool, now: DateTime<Utc>) -> sqlx::Result<u64> {
    projections::notifications::delete_read_before(
        pool,
        now - TimeDelta::days(NOTIFICATION_RETENTION_DAYS),
    )
    .await
}

/// The newest successful run of `job`, if any.
async fn previous_success(pool: &PgPool, job: Job) -> sqlx::Result<Option<JobRunRow>> {
    sqlx::query_as(&format!(
        "SELECT {RUN_COLUMNS}
           FROM job_runs WHERE job = $1 AND outcome = 'succeeded'
          ORDER BY due_at DESC LIMIT 1"
    ))
    .bind(job.name())
    .fetch_optional(pool)
    .await
}

async fn attack_sync(state: &AppState, source: &AttackSource) -> anyhow::Result<Value> {
    let pool = &state.pool;
    let (kind, location) = match source {
        AttackSource::Url(url) => (Source::Attack, Location::parse(url)),
        AttackSource::Taxii {
            discovery_url,
            collection,
        } => (
            Source::Taxii,
            Location::Taxii(taxii::Config::new(discovery_url, collection)?),
        ),
    };
    let location_text = location.as_text();
    let run_id = catalog::begin_run(pool, kind, std::slice::from_ref(&location_text), None).await?;
    let summary = match import::run(pool, run_id, kind, &[location], &|_| {}).await {
        Ok(summary) => summary,
        Err(error) => {
            catalog::fail_run(pool, run_id, &error.to_string()).await?;
            return Err(error.into());
        }
    };
    if !summary.succeeded() {
        let reasons: Vec<String> = summary
            .errors
            .iter()
            .map(|failure| format!("{}: {}", failure.file, failure.error))
            .collect();
        anyhow::bail!("the ATT&CK import {run_id} failed: {}", reasons.join("; "));
    }
    let intel_items = crate::intel_scan::attack_release(
        state,
        run_id,
        &location_text,
        summary.records_new + summary.records_changed,
    )
    .await?;
    Ok(json!({
        "import_run": run_id,
        "new": summary.records_new,
        "changed": summary.records_changed,
        "retired": summary.records_retired,
        "intel_items": intel_items,
    }))
}
