//! Failed scheduled jobs: the `JobFailure` aggregate, one stream per failed run, records that a job failed,
//! why, and which admins were told. Runs themselves are operational state (`job_runs`); a failure is also an
//! event so that the admins' notifications, like every other notification, are a function of the log, and the
//! audit log shows it.

use chrono::{DateTime, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::actor::Actor;

/// The longest error kept in the event, in characters (the whole one stays in `job_runs`).
pub const ERROR_MAX_CHARS: usize = 1000;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordJobFailure {
    pub actor: Actor,
    /// The job's name (`attack_sync`).
    pub job: String,
    pub due_at: DateTime<Utc>,
    pub error: String,
    /// The admins to tell.
    pub notify: Vec<Uuid>,
}

/// Persisted at version "1".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum JobFailureEvent {
    Recorded {
        job: String,
        due_at: DateTime<Utc>,
        error: String,
        notify: Vec<Uuid>,
    },
}

impl DomainEvent for JobFailureEvent {
    fn event_type(&self) -> String {
        "JobFailureRecorded".to_owned()
    }

    fn event_version(&self) -> String {
        "1".to_owned()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JobFailureError {
    #[error("Only Aegis itself (an admin) records job failures.")]
    RoleRequired,
    #[error("This run's failure was recorded already.")]
    AlreadyRecorded,
}

impl JobFailureError {
    pub const fn code(&self) -> &'static str {
        match self {
            Self::RoleRequired => "ROLE_REQUIRED",
            Self::AlreadyRecorded => "ALREADY_RECORDED",
        }
    }
}

/// Whether the run's failure is recorded.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobFailure {
    recorded: bool,
}

impl JobFailure {
    pub fn decide(
        &self,
        command: &RecordJobFailure,
    ) -> Result<Vec<JobFailureEvent>, JobFailureError> {
        if !command.actor.is_admin() {
            return Err(JobFailureError::RoleRequired);
        }
        if self.recorded {
            return Err(JobFailureError::AlreadyRecorded);
        }
        let mut notify = command.notify.clone();
        notify.sort_unstable();
        notify.dedup();
        let error = command.error.trim();
        let error = match error.char_indices().nth(ERROR_MAX_CHARS) {
            Some((cut, _)) => format!("{}…", &error[..cut]),
            None => error.to_owned(),
        };
        Ok(vec![JobFailureEvent::Recorded {
            job: command.job.clone(),
            due_at: command.due_at,
            error,
            notify,
        }])
    }
}

impl Aggregate for JobFailure {
    const TYPE: &'static str = "JobFailure";
    type Command = RecordJobFailure;
    type Event = JobFailureEvent;
    type Error = JobFailureError;
    type Services = ();

    async fn handle(
        &mut self,
        command: RecordJobFailure,
        _services: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), JobFailureError> {
        for event in self.decide(&command)? {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, _event: JobFailureEvent) {
        self.recorded = true;
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use chrono::TimeZone;
    use cqrs_es::test::TestFramework;

    use super::*;
    use crate::role::Role;

    fn record(roles: &[Role], error: &str) -> RecordJobFailure {
        RecordJobFailure {
            actor: Actor::new(Uuid::nil(), roles.iter().copied()),
            job: "attack_sync".to_owned(),
            due_at: Utc.with_ymd_and_hms(2026, 11, 28, 2, 0, 0).unwrap(),
            error: error.to_owned(),
            notify: vec![Uuid::from_u128(2), Uuid::from_u128(1)],
        }
    }

    #[test]
    fn a_failure_is_recorded_once_with_its_admins() {
        let recorded = JobFailureEvent::Recorded {
            job: "attack_sync".to_owned(),
            due_at: Utc.with_ymd_and_hms(2026, 11, 28, 2, 0, 0).unwrap(),
            error: "connection refused".to_owned(),
            notify: vec![Uuid::from_u128(1), Uuid::from_u128(2)],
        };
        TestFramework::<JobFailure>::with(())
            .given_no_previous_events()
            .when(record(&[Role::Admin], " connection refused\n"))
            .then_expect_events(vec![recorded.clone()]);
        TestFramework::<JobFailure>::with(())
            .given(vec![recorded])
            .when(record(&[Role::Admin], "again"))
            .then_expect_error(JobFailureError::AlreadyRecorded);
        TestFramework::<JobFailure>::with(())
            .given_no_previous_events()
            .when(record(&[Role::BlueLead], "x"))
            .then_expect_error(JobFailureError::RoleRequired);
    }

    #[test]
    fn a_long_error_is_cut_on_a_character_boundary() {
        let events = JobFailure::default()
            .decide(&record(&[Role::Admin], &"é".repeat(ERROR_MAX_CHARS + 5)))
            .unwrap();
        let JobFailureEvent::Recorded { error, .. } = &events[0];
        assert_eq!(error.chars().count(), ERROR_MAX_CHARS + 1);
        assert!(error.ends_with('…'));
    }
}
