//! The coverage read model and the heatmap against a real Postgres, fed with real domain events: as-of
//! equivalence (the heatmap at a past moment equals the live one captured then), explain completeness,
//! re-attribution of a revoked technique, snapshots and their retention, filters, and rebuild equivalence.
#![allow(clippy::unwrap_used)]

mod support;

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use domain::coverage_snapshot::{CoverageSnapshotEvent, SnapshotKind};
use domain::detection_rule::{DetectionRuleEvent, RuleChangeReason, RuleId, RuleRef, RuleSource};
use domain::scoring::{
    ChangeReason, PolicyName, PolicySettings, PolicySettingsDraft, ScoredOutcome,
    ScoringPolicyEvent, TechniqueContext, TechniqueFacts, ValidatedOutcome, Visibility,
};
use domain::test_case::{
    DefenseOutcome, Outcome, Plan, Platform, ProcedureSource, Severity, Tag, Target, TechniqueId,
    TestCaseEvent, Text, Title, ToolName,
};
use projections::coverage::{self, ResultFilter};
use projections::heatmap::{self, Heatmap, HeatmapCache, HeatmapQuery};
use serde_json::json;
use sqlx::PgPool;
use support::{BLUE_LEAD, BLUE_TECH, Log, RED_LEAD, RED_TECH, id, projector};
use uuid::Uuid;

const SCOPE: &str = "enterprise-attack";
const POLICY: u128 = 500;

fn day(day: u32) -> DateTime<Utc> {
    "2026-01-01T00:00:00Z".parse::<DateTime<Utc>>().unwrap() + Duration::days(i64::from(day))
}

fn time(day_number: u32, hour: u32) -> String {
    (day(day_number) + Duration::hours(i64::from(hour))).to_rfc3339()
}

/// A catalog as an importer would have written it, valid since 2020: techniques with a revoked one, tactics,
/// a group, a Sigma rule and a Sysmon configuration.
#[allow(
    clippy::too_many_lines,
    reason = "the fixture catalog: one record after another"
)]
async fn seed_catalog(pool: &PgPool) {
    let run_id = Uuid::from_u128(7);
    sqlx::query(
        "INSERT INTO import_runs (run_id, source, locations, status, started_at)
         VALUES ($1, 'attack', '{fixture}', 'succeeded', '2020-01-01')",
    )
    .bind(run_id)
    .execute(pool)
    .await
    .unwrap();
    let records = [
        (
            "technique",
            SCOPE,
            "T1003",
            "OS Credential Dumping",
            "active",
            None,
            vec!["T1003"],
            json!({ "tactics": ["credential-access"] }),
        ),
        (
            "technique",
            SCOPE,
            "T1003.001",
            "LSASS Memory",
            "active",
            None,
            vec!["T1003.001"],
            json!({ "tactics": ["credential-access"] }),
        ),
        (
            "technique",
            SCOPE,
            "T1003.002",
            "Security Account Manager",
            "active",
            None,
            vec!["T1003.002"],
            json!({ "tactics": ["credential-access"] }),
        ),
        (
            "technique",
            SCOPE,
            "T1059",
            "Command and Scripting Interpreter",
            "active",
            None,
            vec!["T1059"],
            json!({ "tactics": ["execution"] }),
        ),
        (
            "technique",
            SCOPE,
            "T1086",
            "PowerShell",
            "revoked",
            Some("T1059"),
            vec!["T1086"],
            json!({ "tactics": ["execution"] }),
        ),
        (
            "tactic",
            SCOPE,
            "TA0002",
            "Execution",
            "active",
            None,
            vec![],
            json!({ "shortname": "execution", "order": 1 }),
        ),
        (
            "tactic",
            SCOPE,
            "TA0006",
            "Credential Access",
            "active",
            None,
            vec![],
            json!({ "shortname": "credential-access", "order": 2 }),
        ),
        (
            "group",
            SCOPE,
            "G0001",
            "Axiom",
            "active",
            None,
            vec!["T1003.001"],
            json!({}),
        ),
        (
            "group",
            SCOPE,
            "G0002",
            "Other",
            "active",
            None,
            vec!["T1059"],
            json!({}),
        ),
        (
            "detection_rule",
            "sigma",
            "rule-1",
            "Suspicious shell",
            "active",
            None,
            vec!["T1059"],
            json!({}),
        ),
        (
            "telemetry_config",
            "sysmon",
            "sysmon/config.xml",
            "config.xml",
            "active",
            None,
            vec!["T1059"],
            json!({ "event_filters": [
             { "event": "ProcessCreate", "onmatch": "include", "techniques": ["T1059"] },
             { "event": "NetworkConnect", "onmatch": "include", "techniques": ["T1059"] },
             { "event": "ImageLoad", "onmatch": "exclude", "techniques": ["T1003.001"] }
         ] }),
        ),
    ];
    for (kind, scope, record_id, name, status, replaced_by, techniques, details) in records {
        sqlx::query(
            "INSERT INTO catalog_records (kind, scope, id, version, name, status, replaced_by, techniques,
                                          details, digest, source, run_id, valid_from)
             VALUES ($1, $2, $3, 1, $4, $5, $6, $7, $8, 'x', 'fixture', $9, '2020-01-01')",
        )
        .bind(kind)
        .bind(scope)
        .bind(record_id)
        .bind(name)
        .bind(status)
        .bind(replaced_by)
        .bind(techniques)
        .bind(details)
        .bind(run_id)
        .execute(pool)
        .await
        .unwrap();
    }
}

fn plan(technique: &str, procedure: ProcedureSource, platform: &str) -> Plan {
    Plan {
        title: Title::parse(&format!("test of {technique}")).unwrap(),
        objective: Text::parse("").unwrap(),
        technique: TechniqueId::parse(technique).unwrap(),
        procedure,
        steps: Text::parse("run it").unwrap(),
        platforms: [Platform::parse(platform).unwrap()].into(),
        targets: [Target::parse("ws-01").unwrap()].into(),
        tags: [Tag::parse("q1").unwrap()].into(),
        blind: false,
    }
}

/// Takes a planned (or reopened) test case from assignment to approval on `day`, with `outcome`.
async fn run_to_approval(log: &mut Log, test_case_id: Uuid, day_number: u32, outcome: Outcome) {
    let at = |hour| time(day_number, hour).parse::<DateTime<Utc>>().unwrap();
    let events = [
        TestCaseEvent::Assigned {
            assigned_by: id(RED_LEAD),
            at: at(9),
            red_assignee: Some(id(RED_TECH)),
            blue_assignee: Some(id(BLUE_TECH)),
        },
        TestCaseEvent::ExecutionStarted {
            started_by: id(RED_TECH),
            at: at(10),
        },
        TestCaseEvent::ExecutionCompleted {
            completed_by: id(RED_TECH),
            at: at(11),
        },
        TestCaseEvent::ReviewStarted {
            started_by: id(BLUE_TECH),
            at: at(12),
        },
        TestCaseEvent::OutcomeRecorded {
            recorded_by: id(BLUE_TECH),
            at: at(13),
            defense: DefenseOutcome {
                tool: ToolName::parse("EDR").unwrap(),
                outcome,
                severity: outcome.is_detection().then_some(Severity::High),
                detected_at: outcome.is_detection().then(|| at(10)),
                rules_fired: std::collections::BTreeSet::default(),
            },
        },
        TestCaseEvent::SubmittedForApproval {
            submitted_by: id(BLUE_TECH),
            at: at(14),
        },
        TestCaseEvent::ResultApproved {
            approved_by: id(BLUE_LEAD),
            at: at(15),
            outcome,
        },
    ];
    for event in events {
        log.test_case(test_case_id, event).await;
    }
}

async fn planned(log: &mut Log, test_case_id: Uuid, day_number: u32, plan: Plan) {
    log.test_case(
        test_case_id,
        TestCaseEvent::Planned {
            planned_by: id(RED_LEAD),
            at: time(day_number, 8).parse().unwrap(),
            plan,
        },
    )
    .await;
}

fn rule() -> RuleRef {
    RuleRef {
        source: RuleSource::Sigma,
        id: RuleId::parse("rule-1").unwrap(),
    }
}

fn reason() -> RuleChangeReason {
    RuleChangeReason::parse("review").unwrap()
}

fn query(as_of: Option<DateTime<Utc>>, at: DateTime<Utc>) -> HeatmapQuery {
    HeatmapQuery {
        scope: SCOPE.into(),
        filter: ResultFilter::default(),
        threat_actor: None,
        as_of,
        policy_id: None,
        at,
    }
}

/// What a heatmap shows, in a form to compare: per technique, score, own score, stale, results, rules,
/// visibility and prevalence.
fn shown(heatmap: &Heatmap) -> BTreeMap<String, String> {
    heatmap
        .cells()
        .into_iter()
        .map(|(technique, cell)| {
            let cell = &cell.cell;
            (
                technique.to_owned(),
                format!(
                    "{:?} {:?} {} {:?} {} {:?} {:?}",
                    cell.score,
                    cell.own_score,
                    cell.stale,
                    cell.results,
                    cell.deployed_rules,
                    cell.telemetry_visibility,
                    cell.actor_prevalence
                ),
            )
        })
        .collect()
}

/// The scripted workload, in time order; the live heatmap is captured at each checkpoint day, and the heatmap
/// through one cache kept all along must show the same.
#[allow(
    clippy::too_many_lines,
    reason = "the scripted workload: one step after another"
)]
async fn workload(pool: &PgPool, log: &mut Log) -> Vec<(DateTime<Utc>, BTreeMap<String, String>)> {
    let projector = projector(pool, 3);
    let cache = HeatmapCache::default();
    let mut captured = Vec::new();
    let capture = async |at: DateTime<Utc>, captured: &mut Vec<_>| {
        projector.catch_up().await.unwrap();
        let live = heatmap::heatmap(pool, &query(None, at)).await.unwrap();
        let kept = heatmap::heatmap_cached(pool, &cache, &query(None, at))
            .await
            .unwrap();
        assert_eq!(shown(&kept), shown(&live), "through the cache at {at}");
        captured.push((at, shown(&live)));
    };
    let settings = PolicySettings::parse(PolicySettingsDraft {
        half_life_days: Some(30),
        ..PolicySettings::default().to_draft()
    })
    .unwrap();
    let policy = |event| (id(POLICY), event);
    for (policy_id, event) in [
        policy(ScoringPolicyEvent::Defined {
            name: PolicyName::parse("Standard").unwrap(),
            settings,
            reason: ChangeReason::parse("start").unwrap(),
        }),
        policy(ScoringPolicyEvent::Activated {
            reason: ChangeReason::parse("go").unwrap(),
        }),
    ] {
        log.policy(policy_id, &time(1, 8), event).await;
    }
    let atomic = ProcedureSource::AtomicTest { guid: id(100) };

    planned(log, id(1), 2, plan("T1003.001", atomic.clone(), "windows")).await;
    run_to_approval(log, id(1), 3, Outcome::Blocked).await;
    capture(day(4), &mut captured).await;

    planned(
        log,
        id(2),
        4,
        plan("T1003.002", ProcedureSource::Manual, "linux"),
    )
    .await;
    run_to_approval(log, id(2), 5, Outcome::NotDetected).await;
    // A test against a technique ATT&CK revoked counts for its replacement.
    planned(
        log,
        id(3),
        6,
        plan("T1086", ProcedureSource::Manual, "windows"),
    )
    .await;
    run_to_approval(log, id(3), 8, Outcome::Alerted).await;
    log.append(
        "DetectionRule",
        rule().aggregate_id(),
        &time(9, 8),
        id(BLUE_LEAD),
        &DetectionRuleEvent::Deployed {
            rule: rule(),
            reason: reason(),
        },
    )
    .await;
    capture(day(9) + Duration::hours(12), &mut captured).await;

    log.append(
        "CoverageSnapshots",
        id(900),
        &time(10, 0),
        id(1),
        &CoverageSnapshotEvent::Taken {
            snapshot_id: id(901),
            kind: SnapshotKind::Weekly,
        },
    )
    .await;
    capture(day(11), &mut captured).await;

    // A re-test of the same test case, then another test case of the same Atomic test: the newest result of
    // the procedure counts, older ones are history.
    log.test_case(
        id(1),
        TestCaseEvent::Reopened {
            reopened_by: id(RED_LEAD),
            at: time(12, 8).parse().unwrap(),
            reason: domain::test_case::Note::parse("retest").unwrap(),
            run: 2,
        },
    )
    .await;
    run_to_approval(log, id(1), 13, Outcome::NotDetected).await;
    capture(day(14), &mut captured).await;
    planned(log, id(4), 14, plan("T1003.001", atomic, "linux")).await;
    run_to_approval(log, id(4), 15, Outcome::Logged).await;
    capture(day(16), &mut captured).await;

    log.append(
        "DetectionRule",
        rule().aggregate_id(),
        &time(20, 8),
        id(BLUE_LEAD),
        &DetectionRuleEvent::Retired {
            rule: rule(),
            reason: reason(),
        },
    )
    .await;
    capture(day(21), &mut captured).await;
    // Time alone passes: decay and staleness move, the log does not.
    capture(day(90), &mut captured).await;
    captured
}

#[sqlx::test(migrations = "../migrations")]
async fn the_heatmap_as_of_a_moment_equals_the_live_one_captured_then(pool: PgPool) {
    seed_catalog(&pool).await;
    let mut log = Log::new(&pool);
    let captured = workload(&pool, &mut log).await;
    for (at, live) in &captured {
        let as_of = heatmap::heatmap(&pool, &query(Some(*at), *at))
            .await
            .unwrap();
        assert_eq!(&shown(&as_of), live, "as of {at}");
    }
    // The checkpoints saw the coverage move.
    let scores: Vec<&String> = captured
        .iter()
        .map(|(_, shown)| &shown["T1003.001"])
        .collect();
    assert_ne!(scores[0], scores[3]);
}

#[sqlx::test(migrations = "../migrations")]
async fn kept_heatmap_inputs_are_read_again_when_the_catalog_changes(pool: PgPool) {
    seed_catalog(&pool).await;
    let cache = HeatmapCache::default();
    let cached = async || {
        heatmap::heatmap_cached(&pool, &cache, &query(None, day(400)))
            .await
            .unwrap()
    };
    let before = cached().await;
    assert!(before.cells().contains_key("T1003"));
    assert!(!before.cells().contains_key("T1999"));
    // A later import brings a new technique: the catalog changes without a single event.
    sqlx::query(
        "INSERT INTO catalog_records (kind, scope, id, version, name, status, techniques, details, digest,
                                      source, run_id, valid_from)
         VALUES ('technique', $1, 'T1999', 1, 'New Technique', 'active', '{}',
                 '{\"tactics\": [\"execution\"]}', 'x', 'fixture', $2, '2020-01-01')",
    )
    .bind(SCOPE)
    .bind(Uuid::from_u128(7))
    .execute(&pool)
    .await
    .unwrap();
    let after = cached().await;
    assert!(after.cells().contains_key("T1999"));
    assert_eq!(
        shown(&after),
        shown(
            &heatmap::heatmap(&pool, &query(None, day(400)))
                .await
                .unwrap()
        )
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn cells_show_procedures_rules_telemetry_prevalence_and_roll_up(pool: PgPool) {
    seed_catalog(&pool).await;
    let mut log = Log::new(&pool);
    workload(&pool, &mut log).await;
    // As of day 16, while the rule was deployed (it is retired on day 20).
    let now = heatmap::heatmap(&pool, &query(Some(day(16)), day(16)))
        .await
        .unwrap();
    let cells = now.cells();

    // One procedure (the Atomic test), two test cases: the newest result (Logged, day 15) counts.
    let lsass = &cells["T1003.001"].cell;
    assert_eq!(lsass.results.len(), 1);
    assert_eq!(lsass.results[0].outcome, ScoredOutcome::Logged);
    assert_eq!(lsass.results[0].test_case_id, id(4));
    assert_eq!(
        lsass.actor_prevalence,
        Some(50),
        "one of two groups uses it"
    );
    // The parent has no results of its own; its score is the average of its sub-techniques'.
    let parent = &cells["T1003"].cell;
    assert_eq!(parent.own_score, None);
    let subs: Vec<u32> = ["T1003.001", "T1003.002"]
        .iter()
        .map(|id| u32::from(cells[id].cell.score.unwrap().value()))
        .collect();
    assert_eq!(
        u32::from(parent.score.unwrap().value()),
        (subs[0] + subs[1]).div_ceil(2)
    );
    // The revoked T1086's result counts for T1059, which also has a deployed rule and two event types.
    let shell = &cells["T1059"].cell;
    assert_eq!(shell.results.len(), 1);
    assert_eq!(shell.results[0].outcome, ScoredOutcome::Alerted);
    assert_eq!(shell.deployed_rules, 1);
    assert_eq!(shell.telemetry_visibility, Visibility::Medium);
    assert!(
        !cells.contains_key("T1086"),
        "revoked techniques have no cell"
    );
    // Columns come from the catalog in matrix order.
    let tactics: Vec<&str> = now
        .tactics
        .iter()
        .map(|tactic| tactic.id.as_str())
        .collect();
    assert_eq!(tactics, ["TA0002", "TA0006"]);

    // Filters: only the linux test cases; only the techniques of one group.
    let linux = heatmap::heatmap(
        &pool,
        &HeatmapQuery {
            filter: ResultFilter {
                platform: Some("linux".into()),
                ..ResultFilter::default()
            },
            ..query(None, day(16))
        },
    )
    .await
    .unwrap();
    let linux_cells = linux.cells();
    assert_eq!(linux_cells["T1003.001"].cell.results[0].test_case_id, id(4));
    assert!(linux_cells["T1059"].cell.results.is_empty());
    let axiom = heatmap::heatmap(
        &pool,
        &HeatmapQuery {
            threat_actor: Some("G0001".into()),
            ..query(None, day(16))
        },
    )
    .await
    .unwrap();
    let ids: Vec<&str> = axiom.cells().into_keys().collect();
    assert_eq!(
        ids.len(),
        2,
        "{ids:?}: T1003 and its used sub-technique T1003.001"
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn the_explained_validations_recompute_the_cells_score(pool: PgPool) {
    seed_catalog(&pool).await;
    let mut log = Log::new(&pool);
    workload(&pool, &mut log).await;
    let at = day(21);
    let heatmap = heatmap::heatmap(&pool, &query(None, at)).await.unwrap();
    for technique in ["T1003.001", "T1003.002"] {
        let cell = &heatmap.cells()[technique].cell;
        // From the history alone: the newest validation of each procedure, plus the facts explain shows.
        let mut newest: BTreeMap<String, ValidatedOutcome> = BTreeMap::new();
        for validation in coverage::validations_of(&pool, &[technique.to_owned()], None, Some(at))
            .await
            .unwrap()
        {
            newest.insert(
                validation.procedure,
                ValidatedOutcome {
                    outcome: serde_json::from_value(json!(validation.outcome)).unwrap(),
                    validated_at: validation.validated_at,
                },
            );
        }
        let facts = TechniqueFacts {
            outcomes: newest.into_values().collect(),
            context: TechniqueContext {
                deployed_rules: cell.deployed_rules,
                telemetry_visibility: cell.telemetry_visibility,
                actor_prevalence: cell.actor_prevalence,
            },
        };
        assert_eq!(
            domain::scoring::score(&facts, &heatmap.policy.settings, at),
            cell.own_score,
            "{technique}"
        );
        assert_eq!(
            cell.breakdown(&heatmap.policy.settings, at)
                .map(|b| b.score),
            cell.own_score
        );
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn weekly_snapshots_keep_the_newest_52_and_a_rebuild_is_identical(pool: PgPool) {
    seed_catalog(&pool).await;
    let mut log = Log::new(&pool);
    workload(&pool, &mut log).await;
    for week in 0..55_u32 {
        log.append(
            "CoverageSnapshots",
            id(900),
            &time(100 + 7 * week, 0),
            id(1),
            &CoverageSnapshotEvent::Taken {
                snapshot_id: id(1_000 + u128::from(week)),
                kind: SnapshotKind::Weekly,
            },
        )
        .await;
    }
    let live = projector(&pool, 7);
    live.catch_up().await.unwrap();
    let snapshots = coverage::snapshots(&pool).await.unwrap();
    assert_eq!(snapshots.len(), 52);
    assert_eq!(snapshots[0].taken_at, day(100 + 7 * 54));

    let tables = [
        "coverage_plans",
        "coverage_validations",
        "coverage_current",
        "coverage_rule_periods",
        "coverage_policy_periods",
        "coverage_snapshots",
    ];
    let checksum = async |pool: &PgPool| {
        let mut sums = Vec::new();
        for table in tables {
            let sum: Option<String> = sqlx::query_scalar(&format!(
                "SELECT md5(string_agg(t::text, '|' ORDER BY t::text)) FROM {table} t"
            ))
            .fetch_one(pool)
            .await
            .unwrap();
            sums.push((table, sum));
        }
        sums
    };
    let before = checksum(&pool).await;
    live.rebuild(Some("coverage")).await.unwrap();
    assert_eq!(checksum(&pool).await, before);
}

/// An approval committed late by a slow transaction reaches the heatmap: the projector holds the later
/// commit back until the slow one ends, then applies both (the foundation's gap test, end to end).
#[sqlx::test(migrations = "../migrations")]
async fn an_approval_committed_late_still_reaches_the_heatmap(pool: PgPool) {
    seed_catalog(&pool).await;
    let mut log = Log::new(&pool);
    let projector = projector(&pool, 100);
    for (test_case, technique) in [(1, "T1003.001"), (2, "T1059")] {
        planned(
            &mut log,
            id(test_case),
            2,
            plan(technique, ProcedureSource::Manual, "windows"),
        )
        .await;
    }
    // Everything but the approval, for both.
    for test_case in [1, 2] {
        run_to_approval(&mut log, id(test_case), 3, Outcome::Blocked).await;
    }
    projector.catch_up().await.unwrap();
    let reopened = |run| TestCaseEvent::Reopened {
        reopened_by: id(RED_LEAD),
        at: time(4, 8).parse().unwrap(),
        reason: domain::test_case::Note::parse("retest").unwrap(),
        run,
    };
    let approval = |day_number| TestCaseEvent::ResultApproved {
        approved_by: id(BLUE_LEAD),
        at: time(day_number, 15).parse().unwrap(),
        outcome: Outcome::NotDetected,
    };
    for test_case in [1, 2] {
        log.test_case(id(test_case), reopened(2)).await;
    }
    projector.catch_up().await.unwrap();

    let mut slow = pool.begin().await.unwrap();
    log.append_on(
        &mut *slow,
        "TestCase",
        id(1),
        &time(5, 15),
        id(BLUE_LEAD),
        &approval(5),
    )
    .await;
    log.test_case(id(2), approval(5)).await;
    projector.drain().await.unwrap();
    let shown_now =
        |heatmap: &Heatmap, technique: &str| heatmap.cells()[technique].cell.results[0].outcome;
    let before = heatmap::heatmap(&pool, &query(None, day(6))).await.unwrap();
    assert_eq!(
        shown_now(&before, "T1059"),
        ScoredOutcome::Blocked,
        "held back behind the open writer"
    );

    slow.commit().await.unwrap();
    projector.catch_up().await.unwrap();
    let after = heatmap::heatmap(&pool, &query(None, day(6))).await.unwrap();
    assert_eq!(
        shown_now(&after, "T1003.001"),
        ScoredOutcome::NotDetected,
        "the late approval is there"
    );
    assert_eq!(shown_now(&after, "T1059"), ScoredOutcome::NotDetected);
}

/// Thousands of events across hundreds of aggregates of every kind, projected in small batches; rebuilding
/// every projection from zero gives byte-identical tables.
#[sqlx::test(migrations = "../migrations")]
async fn a_rebuild_of_every_projection_after_a_large_workload_is_identical(pool: PgPool) {
    seed_catalog(&pool).await;
    let mut log = Log::new(&pool);
    workload(&pool, &mut log).await;
    let techniques = ["T1003.001", "T1003.002", "T1059", "T1086", "T1003"];
    let outcomes = [
        Outcome::Blocked,
        Outcome::Alerted,
        Outcome::Logged,
        Outcome::NotDetected,
        Outcome::NotApplicable,
    ];
    for number in 0..400_u32 {
        let test_case = id(10_000 + u128::from(number));
        let procedure = if number % 3 == 0 {
            ProcedureSource::Manual
        } else {
            ProcedureSource::AtomicTest {
                guid: id(200 + u128::from(number % 17)),
            }
        };
        let technique = techniques[usize::try_from(number).unwrap() % techniques.len()];
        planned(
            &mut log,
            test_case,
            30 + number / 4,
            plan(
                technique,
                procedure,
                if number % 2 == 0 { "windows" } else { "linux" },
            ),
        )
        .await;
        run_to_approval(
            &mut log,
            test_case,
            31 + number / 4,
            outcomes[usize::try_from(number).unwrap() % outcomes.len()],
        )
        .await;
    }
    let events: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(events > 3_000, "{events} events");
    let live = projector(&pool, 50);
    live.catch_up().await.unwrap();

    let checksums = async |pool: &PgPool| {
        let mut sums = Vec::new();
        for projection in projections::all() {
            for table in projection.tables() {
                let sum: Option<String> = sqlx::query_scalar(&format!(
                    "SELECT md5(string_agg(t::text, '|' ORDER BY t::text)) FROM {table} t"
                ))
                .fetch_one(pool)
                .await
                .unwrap();
                sums.push((*table, sum));
            }
        }
        sums
    };
    let before = checksums(&pool).await;
    assert!(
        before.iter().filter(|(_, sum)| sum.is_some()).count() >= 10,
        "{before:?}"
    );
    live.rebuild(None).await.unwrap();
    assert_eq!(checksums(&pool).await, before);
}
