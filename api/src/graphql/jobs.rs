//! The scheduled jobs for admins: their schedules, their runs, and running one now (see `crate::scheduler`).

use async_graphql::{Context, ErrorExtensions, Object, SimpleObject};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::account::principal;
use super::error::{ApiError, internal};
use crate::scheduler::{self, Job, JobRunRow, Scheduler, Trigger};
use crate::state::AppState;

/// The most runs `jobRuns` returns.
const MAX_RUNS: i64 = 200;

/// A job and when it runs.
#[derive(SimpleObject, Debug)]
pub struct ScheduledJob {
    pub job: Job,
    /// Five cron fields, minute first, read in `timezone`.
    pub schedule: String,
    pub timezone: String,
    /// Whether it runs at all (attack_sync needs a configured source).
    pub enabled: bool,
    /// Its latest due time up to now.
    pub last_due_at: Option<DateTime<Utc>>,
}

/// One run of a job.
#[derive(SimpleObject, Debug)]
pub struct JobRun {
    pub id: Uuid,
    pub job: String,
    /// The due time it ran for (the moment asked, for a run started by hand).
    pub due_at: DateTime<Utc>,
    /// `schedule`, `start`, `cli`, or the id of the admin who ran it.
    pub trigger: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    /// `running`, `succeeded` or `failed`.
    pub outcome: String,
    /// What it did, by name (`{"deleted": 12}`), as JSON.
    pub counts: async_graphql::Json<serde_json::Value>,
    pub error: Option<String>,
}

impl From<JobRunRow> for JobRun {
    fn from(row: JobRunRow) -> Self {
        Self {
            id: row.run_id,
            job: row.job,
            due_at: row.due_at,
            trigger: row.trigger,
            started_at: row.started_at,
            finished_at: row.finished_at,
            outcome: row.outcome,
            counts: async_graphql::Json(row.counts),
            error: row.error,
        }
    }
}

#[derive(Default, Debug)]
pub struct JobsQuery;

#[Object]
impl JobsQuery {
    /// Every scheduled job with its schedule.
    #[expect(clippy::unused_async, reason = "async-graphql resolvers must be async")]
    async fn scheduled_jobs(
        &self,
        context: &Context<'_>,
    ) -> async_graphql::Result<Vec<ScheduledJob>> {
        let state = context.data::<AppState>()?;
        let schedules = &state.schedules;
        let enabled: Vec<Job> = schedules.jobs().collect();
        let now = Utc::now();
        Ok(Job::ALL
            .into_iter()
            .map(|job| ScheduledJob {
                job,
                schedule: schedules.cron(job).to_owned(),
                timezone: schedules.timezone().name().to_owned(),
                enabled: enabled.contains(&job),
                last_due_at: schedules.latest_due(job, now),
            })
            .collect())
    }

    /// The newest runs (at most 200), of one job or of all.
    async fn job_runs(
        &self,
        context: &Context<'_>,
        job: Option<Job>,
        #[graphql(default = 20)] first: i64,
    ) -> async_graphql::Result<Vec<JobRun>> {
        let state = context.data::<AppState>()?;
        let rows = scheduler::runs(&state.pool, job, first.clamp(1, MAX_RUNS))
            .await
            .map_err(internal)?;
        Ok(rows.into_iter().map(JobRun::from).collect())
    }
}

#[derive(Default, Debug)]
pub struct JobsMutation;

#[Object]
impl JobsMutation {
    /// Runs `job` now, whatever its schedule, and returns the finished run (null when a run for this very
    /// moment already exists).
    async fn run_job_now(
        &self,
        context: &Context<'_>,
        job: Job,
    ) -> async_graphql::Result<Option<JobRun>> {
        let state = context.data::<AppState>()?;
        let admin = principal(context)?.user_id;
        let run = Scheduler::new(state.clone())
            .run_now(job, Trigger::Admin(admin), Utc::now())
            .await
            .map_err(|error| ApiError::Internal(error.into()).extend())?;
        Ok(run.map(JobRun::from))
    }
}
