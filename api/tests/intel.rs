//! The intel scan and ATT&CK sync on a real database and the real ICS ATT&CK bundle served over HTTP: a new
//! release raises an item, a second release with a changed technique and a tracked group's new technique
//! raises one item each for the scan, coverage going stale is reported once, rerunning raises nothing twice,
//! the leads are notified, and leads acknowledge items through GraphQL.
#![allow(clippy::unwrap_used)]

mod support;

use std::sync::{Arc, Mutex};

use api::scheduler::{AttackSource, Job, JobRunRow, Scheduler, Schedules, Trigger};
use chrono::{DateTime, TimeDelta, Utc};
use domain::role::Role;
use serde_json::{Value, json};
use sqlx::PgPool;
use support::{
    approved, corpus, create_user, error_code, graphql, import_ics, ok, serve_file, sign_in,
    signed_in, state,
};

const ITEMS: &str = "{ intelItems(first: 50) { edges { node { id kind title detail acknowledged
    links { kind scope id name } } } } }";

async fn run(scheduler: &Scheduler, job: Job, at: DateTime<Utc>) -> JobRunRow {
    let run = scheduler
        .run_now(job, Trigger::Cli, at)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(run.outcome, "succeeded", "{run:?}");
    run
}

fn items(response: &Value) -> Vec<Value> {
    ok(response)["intelItems"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|edge| edge["node"].clone())
        .collect()
}

fn of_kind<'a>(items: &'a [Value], kind: &str) -> Vec<&'a Value> {
    items.iter().filter(|item| item["kind"] == kind).collect()
}

/// The ICS bundle with T0803's description changed and Dragonfly (G0035) also using T0881 (Service Stop).
fn next_release(bundle: &[u8]) -> Vec<u8> {
    let mut bundle: Value = serde_json::from_slice(bundle).unwrap();
    let objects = bundle["objects"].as_array_mut().unwrap();
    let find = |objects: &[Value], kind: &str, external_id: &str| -> String {
        objects
            .iter()
            .find(|object| {
                object["type"] == kind
                    && object["external_references"]
                        .as_array()
                        .is_some_and(|references| {
                            references
                                .iter()
                                .any(|reference| reference["external_id"] == external_id)
                        })
            })
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let dragonfly = find(objects, "intrusion-set", "G0035");
    let service_stop = find(objects, "attack-pattern", "T0881");
    let block_command = find(objects, "attack-pattern", "T0803");
    for object in objects.iter_mut() {
        if object["id"] == block_command.as_str() {
            object["description"] = json!("Adversaries may block a command message (revised).");
            object["modified"] = json!("2026-11-01T00:00:00.000Z");
        }
    }
    objects.push(json!({
        "type": "relationship",
        "id": "relationship--6a6d6f2e-0000-4000-8000-000000000001",
        "created": "2026-11-01T00:00:00.000Z",
        "modified": "2026-11-01T00:00:00.000Z",
        "relationship_type": "uses",
        "source_ref": dragonfly,
        "target_ref": service_stop,
        "spec_version": "2.1",
    }));
    serde_json::to_vec(&bundle).unwrap()
}

#[sqlx::test(migrations = "../migrations")]
async fn releases_and_the_scan_raise_items_once_for_the_leads_who_acknowledge_them(pool: PgPool) {
    let bundle = std::fs::read(corpus("mitre-attack/ics-attack.json")).unwrap();
    let served = Arc::new(Mutex::new(bundle.clone()));
    let base = serve_file("ics-attack.json", Arc::clone(&served)).await;
    let schedules = Schedules::new(
        &[],
        chrono_tz::UTC,
        Some(AttackSource::Url(format!("{base}/ics-attack.json"))),
    )
    .unwrap();
    let state = state(&pool).with_schedules(schedules);
    let scheduler = Scheduler::new(state.clone());
    let red_lead = create_user(&state, "red.lead@example.com", &[Role::RedLead]).await;
    let blue_lead = create_user(&state, "blue.lead@example.com", &[Role::BlueLead]).await;
    let red_tech = create_user(&state, "red.tech@example.com", &[Role::RedTech]).await;
    let red_lead_token = sign_in(&state, "red.lead@example.com").await;
    // Dragonfly is tracked: a campaign is scoped to it.
    let campaign = graphql(
        &state,
        Some(&red_lead_token),
        r#"mutation { createCampaign(input: { name: "Dragonfly emulation", description: "",
            scope: { techniques: [], threatActor: "G0035" },
            plannedStart: "2026-12-01T08:00:00Z", plannedEnd: "2026-12-20T17:00:00Z" }) { id } }"#,
    )
    .await;
    ok(&campaign);
    state.projector.catch_up().await.unwrap();
    let t0: DateTime<Utc> = "2026-11-30T02:00:00Z".parse().unwrap();

    // The first sync loads the release and says so; the first scan finds nothing: a first import is the
    // baseline, and nothing was ever validated.
    let synced = run(&scheduler, Job::AttackSync, t0).await;
    assert_eq!(synced.counts["intel_items"], 1, "{synced:?}");
    let scanned = run(&scheduler, Job::IntelScan, t0 + TimeDelta::hours(1)).await;
    assert_eq!(scanned.counts, json!({ "findings": 0, "raised": 0 }));

    // The next release changes T0803 and gives Dragonfly a technique.
    *served.lock().unwrap() = next_release(&bundle);
    let synced = run(&scheduler, Job::AttackSync, t0 + TimeDelta::days(1)).await;
    assert_eq!(synced.counts["intel_items"], 1, "{synced:?}");
    assert!(
        synced.counts["changed"].as_u64().unwrap() >= 2,
        "{synced:?}"
    );
    let week = t0 + TimeDelta::weeks(1);
    let scanned = run(&scheduler, Job::IntelScan, week).await;
    assert_eq!(scanned.counts["raised"], scanned.counts["findings"]);
    // The same findings again: nothing new.
    let rescanned = run(&scheduler, Job::IntelScan, week + TimeDelta::minutes(1)).await;
    assert_eq!(rescanned.counts["raised"], 0, "{rescanned:?}");
    // The release already loaded: no new item.
    let resynced = run(&scheduler, Job::AttackSync, t0 + TimeDelta::days(2)).await;
    assert_eq!(resynced.counts["intel_items"], 0, "{resynced:?}");
    state.projector.catch_up().await.unwrap();

    let listed = items(&graphql(&state, Some(&red_lead_token), ITEMS).await);
    let releases = of_kind(&listed, "ATTACK_VERSION");
    assert_eq!(releases.len(), 2, "{listed:#?}");
    assert!(
        releases[0]["title"]
            .as_str()
            .unwrap()
            .contains("/ics-attack.json"),
        "{releases:?}"
    );
    let changed = of_kind(&listed, "CHANGED_TECHNIQUES");
    assert_eq!(changed.len(), 1, "{listed:#?}");
    assert!(
        changed[0]["links"]
            .as_array()
            .unwrap()
            .iter()
            .any(|link| link["id"] == "T0803" && link["name"] == "Block Command Message"),
        "{changed:?}"
    );
    let actor = of_kind(&listed, "ACTOR_TECHNIQUES");
    assert_eq!(actor.len(), 1, "{listed:#?}");
    assert_eq!(
        actor[0]["title"],
        "Dragonfly (G0035) now uses 1 more technique"
    );
    assert_eq!(actor[0]["detail"].as_str().unwrap().trim(), "T0881");
    assert!(of_kind(&listed, "NEW_TECHNIQUES").is_empty(), "{listed:#?}");

    // Filtered by technique.
    let by_technique = items(
        &graphql(
            &state,
            Some(&red_lead_token),
            r#"{ intelItems(technique: "t0881") { edges { node { id kind title detail acknowledged
                links { kind scope id name } } } } }"#,
        )
        .await,
    );
    assert_eq!(by_technique, vec![actor[0].clone()]);

    // Every item told both leads, and nobody else.
    let notified: Vec<(uuid::Uuid, String)> = sqlx::query_as(
        "SELECT recipient, kind FROM notifications WHERE subject_kind = 'intel_item' ORDER BY recipient",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(notified.len(), listed.len() * 2, "{notified:?}");
    assert!(
        notified
            .iter()
            .all(|(recipient, kind)| [red_lead, blue_lead].contains(recipient) && kind == "intel")
    );
    assert!(!notified.iter().any(|(recipient, _)| *recipient == red_tech));

    // A lead acknowledges, once; a technician may not.
    let id = actor[0]["id"].as_str().unwrap();
    let acknowledge = format!(
        r#"mutation {{ acknowledgeIntelItem(id: "{id}", note: " emulation plan updated ") {{ id note }} }}"#
    );
    let blue_lead_token = sign_in(&state, "blue.lead@example.com").await;
    let acknowledged = graphql(&state, Some(&blue_lead_token), &acknowledge).await;
    assert_eq!(
        ok(&acknowledged)["acknowledgeIntelItem"]["note"],
        "emulation plan updated"
    );
    let again = graphql(&state, Some(&red_lead_token), &acknowledge).await;
    assert_eq!(error_code(&again), Some("CONFLICT"), "{again}");
    let red_tech_token = sign_in(&state, "red.tech@example.com").await;
    let refused = graphql(&state, Some(&red_tech_token), &acknowledge).await;
    assert_eq!(error_code(&refused), Some("FORBIDDEN"), "{refused}");
    let unknown = graphql(
        &state,
        Some(&red_lead_token),
        &acknowledge.replace(id, &uuid::Uuid::nil().to_string()),
    )
    .await;
    assert_eq!(error_code(&unknown), Some("NOT_FOUND"), "{unknown}");
    state.projector.catch_up().await.unwrap();
    let open = graphql(
        &state,
        Some(&red_tech_token),
        &format!(
            r#"{{ openIntelItemCount intelItem(id: "{id}") {{ acknowledged acknowledgedBy acknowledgement }} }}"#
        ),
    )
    .await;
    assert_eq!(
        ok(&open)["openIntelItemCount"],
        i64::try_from(listed.len() - 1).unwrap()
    );
    assert_eq!(
        ok(&open)["intelItem"],
        json!({ "acknowledged": true, "acknowledgedBy": blue_lead.to_string(),
                "acknowledgement": "emulation plan updated" })
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn coverage_going_stale_is_reported_once(pool: PgPool) {
    let state = state(&pool);
    let scheduler = Scheduler::new(state.clone());
    import_ics(&state).await;
    approved(&state, "T0817", "BLOCKED").await;
    let (_, lead) = signed_in(&state, &[Role::BlueLead]).await;
    let now = Utc::now();

    let fresh = run(&scheduler, Job::IntelScan, now).await;
    assert_eq!(fresh.counts["findings"], 0, "{fresh:?}");
    // Past any freshness window: T0817 is stale now and was not at the previous scan.
    let later = now + TimeDelta::days(800);
    let stale = run(&scheduler, Job::IntelScan, later).await;
    assert_eq!(stale.counts, json!({ "findings": 1, "raised": 1 }));
    let still = run(&scheduler, Job::IntelScan, later + TimeDelta::weeks(1)).await;
    assert_eq!(still.counts["findings"], 0, "{still:?}");
    state.projector.catch_up().await.unwrap();

    let listed = items(&graphql(&state, Some(&lead), ITEMS).await);
    assert_eq!(listed.len(), 1, "{listed:#?}");
    assert_eq!(listed[0]["kind"], "STALE_COVERAGE");
    assert_eq!(listed[0]["title"], "1 technique went stale in ics-attack");
    assert!(
        listed[0]["detail"]
            .as_str()
            .unwrap()
            .starts_with("T0817 Drive-by Compromise (last validated "),
        "{listed:?}"
    );
}
