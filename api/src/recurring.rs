//! Recurring campaigns: when a template is due, it spawns an instance whose test cases are fresh copies of
//! the template's (new ids, run 1, planned). Safe to run on several processes at once: every id involved is
//! derived from the template and the due time, the template records each spawn exactly once (its
//! `RecordSpawn` is refused for a due time it already has, and two concurrent appends clash on the event
//! store's key), and each later step treats "already exists" as done, so a spawn interrupted half-way is
//! finished by the next run.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use commands::service::CommandError;
use domain::campaign::{Campaign, CampaignAction, CampaignCommand, CampaignError};
use domain::test_case::{TestCaseAction, TestCaseCommand, TestCaseError};
use uuid::Uuid;

use crate::state::AppState;

/// The namespace of ids derived for spawned instances and their test cases.
const SPAWN_NAMESPACE: Uuid = Uuid::from_u128(0x6165_6769_735f_7370_6177_6e5f_6964_0001);

/// One instance a run created or finished.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Spawned {
    pub template_id: Uuid,
    pub due_at: DateTime<Utc>,
    pub instance_id: Uuid,
}

pub fn instance_id(template_id: Uuid, due_at: DateTime<Utc>) -> Uuid {
    Uuid::new_v5(
        &SPAWN_NAMESPACE,
        format!("{template_id}/{}", due_at.to_rfc3339()).as_bytes(),
    )
}

/// Spawns every instance due by `now` that is not there yet, on every recurring template.
pub async fn spawn_due_instances(
    state: &AppState,
    now: DateTime<Utc>,
) -> anyhow::Result<Vec<Spawned>> {
    let mut spawned = Vec::new();
    for template_id in projections::campaigns::recurring_templates(&state.pool).await? {
        let template = state.campaigns.load(&template_id.to_string()).await?;
        let mut due: Vec<(DateTime<Utc>, Uuid)> = template
            .unspawned_due_times(now)
            .into_iter()
            .map(|due_at| (due_at, instance_id(template_id, due_at)))
            .collect();
        // Spawns recorded by a run that stopped before its instance existed are finished too.
        due.extend(
            template
                .spawned()
                .iter()
                .map(|(due_at, instance)| (*due_at, *instance)),
        );
        for (due_at, instance_id) in due {
            if spawn(state, template_id, &template, due_at, instance_id, now).await? {
                spawned.push(Spawned {
                    template_id,
                    due_at,
                    instance_id,
                });
            }
        }
    }
    Ok(spawned)
}

/// Records the spawn, copies the test cases and creates the instance; false when there was nothing to do
/// (the instance exists, or another process is spawning it right now).
async fn spawn(
    state: &AppState,
    template_id: Uuid,
    template: &Campaign,
    due_at: DateTime<Utc>,
    instance_id: Uuid,
    now: DateTime<Utc>,
) -> anyhow::Result<bool> {
    if state
        .campaigns
        .load(&instance_id.to_string())
        .await?
        .status()
        .is_some()
    {
        return Ok(false);
    }
    let (actor, context) = crate::scheduler::scheduler_actor();
    let record = CampaignCommand {
        actor: actor.clone(),
        at: now,
        action: CampaignAction::RecordSpawn {
            due_at,
            instance_id,
        },
    };
    match state
        .campaigns
        .execute(&context, &template_id.to_string(), record)
        .await
    {
        Ok(_) | Err(CommandError::Rejected(CampaignError::AlreadySpawned { .. })) => {}
        // Another process recorded it at the same moment; it finishes the spawn.
        Err(CommandError::Conflict { .. }) => return Ok(false),
        Err(error) => return Err(error.into()),
    }

    let mut copies = BTreeSet::new();
    for original in template.test_cases() {
        let Some(plan) = state
            .test_cases
            .load(&original.to_string())
            .await?
            .plan()
            .cloned()
        else {
            continue;
        };
        let copy = Uuid::new_v5(
            &SPAWN_NAMESPACE,
            format!("{instance_id}/{original}").as_bytes(),
        );
        let command = TestCaseCommand {
            actor: actor.clone(),
            at: now,
            action: TestCaseAction::PlanTestCase { plan },
        };
        match state
            .test_cases
            .execute(&context, &copy.to_string(), command)
            .await
        {
            // Made already, or being made by another process this very moment.
            Ok(_)
            | Err(
                CommandError::Rejected(TestCaseError::AlreadyExists)
                | CommandError::Conflict { .. },
            ) => {}
            Err(error) => return Err(error.into()),
        }
        copies.insert(copy);
    }

    let create = CampaignCommand {
        actor,
        at: now,
        action: template.instance_action(template_id, due_at, copies)?,
    };
    match state
        .campaigns
        .execute(&context, &instance_id.to_string(), create)
        .await
    {
        Ok(_) => Ok(true),
        Err(
            CommandError::Rejected(CampaignError::AlreadyExists) | CommandError::Conflict { .. },
        ) => Ok(false),
        Err(error) => Err(error.into()),
    }
}
