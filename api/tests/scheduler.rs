//! The scheduled jobs on a real database, with time moved rather than waited for: each due time runs once, a
//! server that was down runs what is overdue once, a failing job does not stop the others, each job does what
//! it says, and two processes ticking at once run each due time once.
#![allow(clippy::unwrap_used)]

mod support;

use std::collections::BTreeMap;
use std::process::Command;

use api::scheduler::{AttackSource, Job, Scheduler, Schedules, Trigger, notification_cleanup};
use chrono::{DateTime, TimeDelta, Utc};
use domain::role::Role;
use projections::coverage;
use serde_json::json;
use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, PgPool};
use support::{create_user, graphql, sign_in, signed_in, state};

fn at(text: &str) -> DateTime<Utc> {
    text.parse().unwrap()
}

/// Outcome and counts of each run, by job name.
fn outcomes(runs: &[api::scheduler::JobRunRow]) -> BTreeMap<String, (String, serde_json::Value)> {
    runs.iter()
        .map(|run| (run.job.clone(), (run.outcome.clone(), run.counts.clone())))
        .collect()
}

#[sqlx::test(migrations = "../migrations")]
async fn each_due_time_runs_once_overdue_runs_once_and_a_failure_stops_nothing(pool: PgPool) {
    // Nothing listens on the discard port: the ATT&CK download fails.
    let schedules = Schedules::new(
        &[],
        chrono_tz::UTC,
        Some(AttackSource::Url(
            "http://127.0.0.1:9/enterprise-attack.json".to_owned(),
        )),
    )
    .unwrap();
    let state = state(&pool).with_schedules(schedules);
    let scheduler = Scheduler::new(state.clone());
    let admin = create_user(&state, "admin@example.com", &[Role::Admin]).await;
    state.projector.catch_up().await.unwrap();

    // Sunday 29 November 2026, noon: every job's latest due time is today (the intel scan's is Monday
    // 23 November).
    let sunday = at("2026-11-29T12:00:00Z");
    let runs = scheduler.tick(sunday).await.unwrap();
    let by_job = outcomes(&runs);
    assert_eq!(by_job.len(), 5, "{runs:?}");
    assert_eq!(by_job["attack_sync"].0, "failed");
    let failed = runs.iter().find(|run| run.job == "attack_sync").unwrap();
    assert!(
        failed.error.as_deref().unwrap().contains("127.0.0.1:9"),
        "{failed:?}"
    );
    assert_eq!(
        by_job["weekly_snapshot"],
        ("succeeded".to_owned(), json!({ "snapshots": 1 }))
    );
    assert_eq!(
        by_job["notification_cleanup"],
        ("succeeded".to_owned(), json!({ "deleted": 0 }))
    );
    assert_eq!(
        by_job["recurring_campaigns"],
        ("succeeded".to_owned(), json!({ "instances": 0 }))
    );
    assert_eq!(
        by_job["intel_scan"],
        (
            "succeeded".to_owned(),
            json!({ "findings": 0, "raised": 0 })
        )
    );
    // The admins are told of the failure.
    state.projector.catch_up().await.unwrap();
    let told = projections::notifications::page(&pool, admin, false, None, 10)
        .await
        .unwrap();
    assert_eq!(told.len(), 1, "{told:?}");
    assert_eq!(told[0].subject_id, failed.run_id);
    assert_eq!(told[0].subject_title, "attack_sync");
    assert!(told[0].message.contains("127.0.0.1:9"), "{told:?}");
    let due: BTreeMap<String, DateTime<Utc>> = runs
        .iter()
        .map(|run| (run.job.clone(), run.due_at))
        .collect();
    assert_eq!(due["weekly_snapshot"], at("2026-11-29T00:00:00Z"));
    assert_eq!(due["attack_sync"], at("2026-11-29T02:00:00Z"));

    // The same due times, a minute later or from a second scheduler: nothing to do.
    assert!(
        scheduler
            .tick(sunday + TimeDelta::minutes(1))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        Scheduler::new(state.clone())
            .tick(sunday)
            .await
            .unwrap()
            .is_empty()
    );

    // Down for three weeks: each job runs once, for its latest due time, not once per missed slot.
    let later = sunday + TimeDelta::weeks(3) + TimeDelta::hours(1);
    let runs = scheduler.tick(later).await.unwrap();
    assert_eq!(runs.len(), 5, "{runs:?}");
    let weekly = runs
        .iter()
        .find(|run| run.job == "weekly_snapshot")
        .unwrap();
    assert_eq!(weekly.due_at, at("2026-12-20T00:00:00Z"));
    state.projector.catch_up().await.unwrap();
    let snapshots = coverage::snapshots(&pool).await.unwrap();
    assert_eq!(snapshots.len(), 2);
    assert!(
        snapshots.iter().all(|snapshot| snapshot.kind == "weekly"),
        "{snapshots:?}"
    );

    // Run by hand: recorded with who asked; the schedule's runs are untouched.
    let manual = scheduler
        .run_now(Job::WeeklySnapshot, Trigger::Admin(admin), later)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(manual.trigger, admin.to_string());
    assert_eq!(manual.counts, json!({ "snapshots": 1 }));
    let listed = api::scheduler::runs(&pool, Some(Job::WeeklySnapshot), 10)
        .await
        .unwrap();
    assert_eq!(listed.len(), 3);
}

#[sqlx::test(migrations = "../migrations")]
async fn without_an_attack_source_attack_sync_does_not_run(pool: PgPool) {
    let scheduler = Scheduler::new(state(&pool));
    let runs = scheduler.tick(at("2026-11-29T12:00:00Z")).await.unwrap();
    assert!(runs.iter().all(|run| run.job != "attack_sync"), "{runs:?}");
    assert_eq!(runs.len(), 4);
}

#[test]
fn schedules_are_checked_and_read_in_their_time_zone() {
    let berlin = Schedules::new(
        &[Schedules::parse_override("weekly_snapshot = 0 6 * * MON").unwrap()],
        chrono_tz::Europe::Berlin,
        None,
    )
    .unwrap();
    assert_eq!(berlin.cron(Job::WeeklySnapshot), "0 6 * * MON");
    // 06:00 in Berlin is 05:00 UTC in winter.
    assert_eq!(
        berlin.latest_due(Job::WeeklySnapshot, at("2026-12-01T12:00:00Z")),
        Some(at("2026-11-30T05:00:00Z"))
    );
    let error = Schedules::new(
        &[(Job::AttackSync, "0 0 2 * * *".to_owned())],
        chrono_tz::UTC,
        None,
    )
    .unwrap_err();
    assert!(format!("{error:#}").contains("attack_sync"), "{error:#}");
    assert!(Schedules::parse_override("nightly=0 2 * * *").is_err());
}

/// Assigned notifications for two technicians; one reads hers. 91 days on, only hers goes.
#[sqlx::test(migrations = "../migrations")]
async fn cleanup_deletes_exactly_the_read_notifications_older_than_90_days(pool: PgPool) {
    let state = state(&pool);
    let (_, red_lead) = signed_in(&state, &[Role::RedLead]).await;
    let red_tech = create_user(&state, "red.tech@example.com", &[Role::RedTech]).await;
    let blue_tech = create_user(&state, "blue.tech@example.com", &[Role::BlueTech]).await;
    let (_, blue_lead) = signed_in(&state, &[Role::BlueLead]).await;
    let planned = graphql(
        &state,
        Some(&red_lead),
        r#"mutation { planTestCase(plan: { title: "LSASS dump", objective: "", technique: "T1003.001",
            procedure: { kind: MANUAL }, steps: "dump it" }) { id } }"#,
    )
    .await;
    let id = planned["data"]["planTestCase"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    for (token, assignee) in [
        (&red_lead, format!(r#"redAssignee: "{red_tech}""#)),
        (&blue_lead, format!(r#"blueAssignee: "{blue_tech}""#)),
    ] {
        let assigned = graphql(
            &state,
            Some(token),
            &format!(r#"mutation {{ assignTestCase(id: "{id}", {assignee}) {{ id }} }}"#),
        )
        .await;
        assert!(assigned.get("errors").is_none(), "{assigned}");
    }
    state.projector.catch_up().await.unwrap();
    let red_token = sign_in(&state, "red.tech@example.com").await;
    let marked = graphql(
        &state,
        Some(&red_token),
        "mutation { markNotificationsRead(all: true) { marked } }",
    )
    .await;
    assert_eq!(
        marked["data"]["markNotificationsRead"]["marked"], 1,
        "{marked}"
    );
    let count = async || -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM notifications")
            .fetch_one(&pool)
            .await
            .unwrap()
    };
    assert_eq!(count().await, 2);

    let now = Utc::now();
    assert_eq!(
        notification_cleanup(&pool, now + TimeDelta::days(89))
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        notification_cleanup(&pool, now + TimeDelta::days(91))
            .await
            .unwrap(),
        1
    );
    let left: Vec<uuid::Uuid> = sqlx::query_scalar("SELECT recipient FROM notifications")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(left, [blue_tech]);
}

fn database_url(pool: &PgPool) -> String {
    let base: PgConnectOptions = std::env::var("DATABASE_URL").unwrap().parse().unwrap();
    let name = pool.connect_options().get_database().unwrap().to_owned();
    base.database(&name).to_url_lossy().to_string()
}

/// Two `aegis jobs tick` processes for the same moment, started together: each job runs in one of them.
#[sqlx::test(migrations = "../migrations")]
async fn two_processes_run_each_due_time_once(pool: PgPool) {
    let url = database_url(&pool);
    let data_dir = tempfile::tempdir().unwrap();
    let tick = || {
        Command::new(env!("CARGO_BIN_EXE_aegis"))
            .args(["jobs", "tick", "--at", "2026-11-29T12:00:00Z"])
            .env("DATABASE_URL", &url)
            .env("AEGIS_DATA_DIR", data_dir.path())
            .env("AEGIS_LOG_FORMAT", "json")
            .env_remove("AEGIS_ATTACK_SYNC_URL")
            .spawn()
            .unwrap()
    };
    let (first, second) = (tick(), tick());
    for child in [first, second] {
        let output = child.wait_with_output().unwrap();
        assert!(output.status.success(), "{output:?}");
    }
    let runs: Vec<(String, DateTime<Utc>, String)> =
        sqlx::query_as("SELECT job, due_at, outcome FROM job_runs ORDER BY job")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(
        runs,
        [
            (
                "intel_scan".to_owned(),
                at("2026-11-23T03:00:00Z"),
                "succeeded".to_owned()
            ),
            (
                "notification_cleanup".to_owned(),
                at("2026-11-29T04:00:00Z"),
                "succeeded".to_owned()
            ),
            (
                "recurring_campaigns".to_owned(),
                at("2026-11-29T01:00:00Z"),
                "succeeded".to_owned()
            ),
            (
                "weekly_snapshot".to_owned(),
                at("2026-11-29T00:00:00Z"),
                "succeeded".to_owned()
            ),
        ]
    );
    let snapshots: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM events WHERE aggregate_type = 'CoverageSnapshots'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(snapshots, 1);
}

/// Admins see the schedules and runs and may run a job; others may not.
#[sqlx::test(migrations = "../migrations")]
async fn admins_run_jobs_through_graphql(pool: PgPool) {
    let state = state(&pool);
    let (_, admin) = signed_in(&state, &[Role::Admin]).await;
    let (_, lead) = signed_in(&state, &[Role::RedLead]).await;
    let ran = graphql(
        &state,
        Some(&admin),
        "mutation { runJobNow(job: NOTIFICATION_CLEANUP) { job trigger outcome counts } }",
    )
    .await;
    assert_eq!(ran["data"]["runJobNow"]["outcome"], "succeeded", "{ran}");
    assert_eq!(ran["data"]["runJobNow"]["counts"], json!({ "deleted": 0 }));
    let listed = graphql(
        &state,
        Some(&admin),
        "{ scheduledJobs { job schedule enabled } jobRuns(job: NOTIFICATION_CLEANUP) { job outcome } }",
    )
    .await;
    assert_eq!(
        listed["data"]["jobRuns"].as_array().unwrap().len(),
        1,
        "{listed}"
    );
    let jobs = listed["data"]["scheduledJobs"].as_array().unwrap();
    assert!(
        jobs.contains(
            &json!({ "job": "WEEKLY_SNAPSHOT", "schedule": "0 0 * * SUN", "enabled": true })
        ),
        "{listed}"
    );
    assert!(
        jobs.contains(&json!({ "job": "ATTACK_SYNC", "schedule": "0 2 * * *", "enabled": false })),
        "{listed}"
    );
    let refused = graphql(
        &state,
        Some(&lead),
        "mutation { runJobNow(job: WEEKLY_SNAPSHOT) { outcome } }",
    )
    .await;
    assert_eq!(
        support::error_code(&refused),
        Some("FORBIDDEN"),
        "{refused}"
    );
}
