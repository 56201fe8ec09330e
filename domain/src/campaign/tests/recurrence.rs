//! Schedules: what a recurrence accepts, and when it is due, across daylight-saving changes.

use chrono::Timelike;
use proptest::prelude::*;

use super::*;

fn recurrence(cron: &str, timezone: &str) -> Recurrence {
    Recurrence::parse(cron, timezone).unwrap()
}

fn rejection(cron: &str, timezone: &str) -> String {
    match Recurrence::parse(cron, timezone) {
        Err(CampaignError::InvalidRecurrence(reason)) => reason,
        other => panic!("expected INVALID_RECURRENCE for {cron:?} in {timezone:?}, got {other:?}"),
    }
}

#[test]
fn the_expression_and_zone_are_normalised() {
    let weekly = recurrence("  0   9 * *\t1 ", " Europe/Berlin ");
    assert_eq!(weekly.cron(), "0 9 * * 1");
    assert_eq!(weekly.timezone(), "Europe/Berlin");
}

#[test]
fn croner_extensions_are_accepted() {
    for cron in [
        "0 9 * * MON",
        "0 9 L * *",
        "0 9 * * 5L",
        "0 9 * * 1#2",
        "*/15 8-17 * * 1-5",
    ] {
        assert!(Recurrence::parse(cron, "UTC").is_ok(), "{cron}");
    }
}

#[test]
fn exactly_five_fields_are_required() {
    for cron in ["", "0 9 * *", "0 0 9 * * 1", "0 0 9 * * 1 2026", "@daily"] {
        assert_eq!(
            rejection(cron, "UTC"),
            format!(
                "the schedule \"{}\" must have five fields: minute, hour, day of month, month, day of week",
                cron.trim()
            )
        );
    }
}

#[test]
fn invalid_expressions_are_rejected() {
    for cron in [
        "60 9 * * 1",
        "0 24 * * *",
        "0 9 32 * *",
        "0 9 * 13 *",
        "0 9 * * X",
        "a b c d e",
    ] {
        let reason = rejection(cron, "UTC");
        assert!(
            reason.starts_with(&format!("the schedule \"{cron}\" is not valid: ")),
            "{reason}"
        );
    }
}

#[test]
fn an_expression_that_never_fires_is_rejected() {
    assert_eq!(
        rejection("0 9 30 2 *", "UTC"),
        "the schedule \"0 9 30 2 *\" never fires"
    );
}

#[test]
fn unknown_time_zones_are_rejected() {
    for zone in ["", "Europe/Berlln", "CEST", "+02:00", "europe/berlin"] {
        assert_eq!(
            rejection("0 9 * * 1", zone),
            format!(
                "\"{}\" is not an IANA time zone such as Europe/Berlin",
                zone.trim()
            )
        );
    }
    let error = Recurrence::parse("0 9 * * 1", "Mars/Olympus").unwrap_err();
    assert_eq!(error.code(), "INVALID_RECURRENCE");
}

#[test]
fn a_recurrence_is_checked_when_loaded() {
    assert!(
        serde_json::from_str::<Recurrence>(r#"{"cron":"0 9 * * 1","timezone":"Nowhere"}"#).is_err()
    );
    assert!(serde_json::from_str::<Recurrence>(r#"{"cron":"0 9 * *","timezone":"UTC"}"#).is_err());
}

#[test]
fn monday_nine_in_berlin_follows_the_clocks_into_summer_time() {
    let weekly = recurrence("0 9 * * 1", "Europe/Berlin");
    // 2025-03-24 09:00 CET (+01:00); the clocks go forward on Sunday 2025-03-30.
    assert_eq!(
        weekly.next_due_after(at("2025-03-24T08:00:00Z")),
        Some(at("2025-03-31T07:00:00Z"))
    );
}

#[test]
fn monday_nine_in_berlin_follows_the_clocks_back_into_winter_time() {
    let weekly = recurrence("0 9 * * 1", "Europe/Berlin");
    // 2025-10-20 09:00 CEST (+02:00); the clocks go back on Sunday 2025-10-26.
    assert_eq!(
        weekly.due_times_between(at("2025-10-20T06:00:00Z"), at("2025-11-03T12:00:00Z")),
        [
            at("2025-10-20T07:00:00Z"),
            at("2025-10-27T08:00:00Z"),
            at("2025-11-03T08:00:00Z"),
        ]
    );
}

#[test]
fn a_time_in_the_spring_gap_fires_right_after_it() {
    // 02:30 does not exist in Berlin on 2025-03-30: the clocks jump from 02:00 to 03:00 CEST (01:00 UTC).
    let nightly = recurrence("30 2 * * *", "Europe/Berlin");
    assert_eq!(
        nightly.due_times_between(at("2025-03-29T00:00:00Z"), at("2025-03-31T12:00:00Z")),
        [
            at("2025-03-29T01:30:00Z"),
            at("2025-03-30T01:00:00Z"),
            at("2025-03-31T00:30:00Z"),
        ]
    );
}

#[test]
fn a_repeated_time_in_autumn_fires_once_at_its_first_occurrence() {
    // 02:30 happens twice in Berlin on 2025-10-26: at 00:30 UTC (CEST) and at 01:30 UTC (CET).
    let nightly = recurrence("30 2 * * *", "Europe/Berlin");
    assert_eq!(
        nightly.due_times_between(at("2025-10-25T00:00:00Z"), at("2025-10-27T12:00:00Z")),
        [
            at("2025-10-25T00:30:00Z"),
            at("2025-10-26T00:30:00Z"),
            at("2025-10-27T01:30:00Z"),
        ]
    );
    // Asked from within the second pass of the repeated hour, the next due time is the next day's.
    assert_eq!(
        nightly.next_due_after(at("2025-10-26T01:10:00Z")),
        Some(at("2025-10-27T01:30:00Z"))
    );
}

#[test]
fn an_interval_schedule_does_not_run_the_repeated_hour_twice() {
    let half_hourly = recurrence("*/30 * * * *", "Europe/Berlin");
    assert_eq!(
        half_hourly.due_times_between(at("2025-10-25T23:45:00Z"), at("2025-10-26T02:30:00Z")),
        [
            at("2025-10-26T00:00:00Z"),
            at("2025-10-26T00:30:00Z"),
            at("2025-10-26T02:00:00Z"),
            at("2025-10-26T02:30:00Z"),
        ]
    );
    assert_eq!(
        half_hourly.next_due_after(at("2025-10-26T01:10:00Z")),
        Some(at("2025-10-26T02:00:00Z"))
    );
}

#[test]
fn the_next_due_time_is_strictly_later() {
    let weekly = recurrence("0 9 * * 1", "Europe/Berlin");
    let due = at("2025-03-31T07:00:00Z");
    assert_eq!(weekly.next_due_after(due), Some(at("2025-04-07T07:00:00Z")));
    let just_before = due - TimeDelta::nanoseconds(1);
    assert_eq!(weekly.next_due_after(just_before), Some(due));
    let just_after = due + TimeDelta::milliseconds(500);
    assert_eq!(
        weekly.next_due_after(just_after),
        Some(at("2025-04-07T07:00:00Z"))
    );
}

#[test]
fn due_times_between_are_bounded() {
    let every_minute = recurrence("* * * * *", "UTC");
    let due_times =
        every_minute.due_times_between(at("2025-01-01T00:00:00Z"), at("2025-02-01T00:00:00Z"));
    assert_eq!(due_times.len(), MAX_DUE_TIMES);
    assert_eq!(due_times.first(), Some(&at("2025-01-01T00:01:00Z")));
    assert_eq!(due_times.last(), Some(&at("2025-01-01T16:40:00Z")));
    assert!(
        every_minute
            .due_times_between(at("2025-01-01T00:00:00Z"), at("2025-01-01T00:00:00Z"))
            .is_empty()
    );
    assert!(
        every_minute
            .due_times_between(at("2025-01-02T00:00:00Z"), at("2025-01-01T00:00:00Z"))
            .is_empty()
    );
}

#[test]
fn is_due_time_knows_the_schedule() {
    let weekly = recurrence("0 9 * * 1", "Europe/Berlin");
    assert!(weekly.is_due_time(at("2025-03-31T07:00:00Z")));
    assert!(!weekly.is_due_time(at("2025-03-31T08:00:00Z")));
    assert!(!weekly.is_due_time(at("2025-03-31T07:00:00.001Z")));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Around the two changes of the clocks in Berlin in 2025, whatever the starting instant, the next due
    /// time lies after it and is a due time, and nothing is due in between.
    #[test]
    fn next_due_after_is_the_next_due_time(
        offset_minutes in 0_i64..(3 * 24 * 60),
        autumn in any::<bool>(),
        cron in prop::sample::select(vec!["*/30 * * * *", "30 2 * * *", "0 * * * *", "15 1-3 * * *"]),
    ) {
        let start = if autumn { at("2025-10-24T22:00:00Z") } else { at("2025-03-28T22:00:00Z") };
        let after = start + TimeDelta::minutes(offset_minutes) + TimeDelta::seconds(offset_minutes % 60);
        let schedule = recurrence(cron, "Europe/Berlin");
        let next = schedule.next_due_after(after).unwrap();
        prop_assert!(next > after);
        prop_assert!(schedule.is_due_time(next));
        let mut minute = after.trunc_subsecs(0) + TimeDelta::seconds(60 - i64::from(after.second()));
        for _ in 0..90 {
            if minute >= next {
                break;
            }
            prop_assert!(!schedule.is_due_time(minute), "{} is due before {}", minute, next);
            minute += TimeDelta::minutes(1);
        }
    }
}
