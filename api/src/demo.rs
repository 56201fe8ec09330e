//! `aegis demo`: a demo organisation loaded through the command layer, so it is ordinary history: users of
//! every role, a scoring policy, test cases in every state with outcomes spread over six weeks of event time,
//! and three campaigns (one recurring). Loading twice changes nothing; a database holding other workflow data
//! is refused unless forced.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, PoisonError};

use anyhow::{Context, bail};
use chrono::{DateTime, TimeDelta, Utc};
use commands::context::{Actor as MetadataActor, Clock, CommandContext};
use commands::service::CommandService;
use domain::actor::Actor;
use domain::campaign::{
    Campaign, CampaignAction, CampaignCommand, CampaignDescription, CampaignName, CampaignScope,
    Recurrence,
};
use domain::role::Role;
use domain::scoring::{
    ChangeReason, PolicyName, PolicySettings, ScoringPolicy, ScoringPolicyAction,
    ScoringPolicyCommand,
};
use domain::test_case::{
    DefenseOutcome, DetectionRuleRef, Execution, Outcome, Plan, ProcedureSource, Severity, Target,
    TechniqueId, TestCase, TestCaseAction, TestCaseCommand, Text, Title, ToolName,
};
use sqlx::PgPool;
use uuid::Uuid;

use crate::auth::identity::{Identity, RequestOrigin};

/// Every demo user signs in with this password.
pub const DEMO_PASSWORD: &str = "purple team demo 2026";

/// How far back the demo's history starts.
const HISTORY: TimeDelta = TimeDelta::weeks(6);

/// A clock the loader moves forward by hand, so the demo's events spread over weeks.
#[derive(Debug)]
struct DemoClock(Mutex<DateTime<Utc>>);

impl DemoClock {
    fn advance(&self, by: TimeDelta) -> DateTime<Utc> {
        let mut now = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        *now += by;
        *now
    }
}

impl Clock for DemoClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Loaded {
    Created {
        users: usize,
        test_cases: usize,
        campaigns: usize,
    },
    AlreadyThere,
}

/// Ids are derived from names, so a second run finds what the first made.
fn demo_id(name: &str) -> Uuid {
    Uuid::new_v5(
        &Uuid::from_u128(0x6165_6769_735f_6465_6d6f_5f6f_7267_0001),
        name.as_bytes(),
    )
}

pub async fn load(pool: &PgPool, identity: &Identity, force: bool) -> anyhow::Result<Loaded> {
    if commands::accounts::find_by_email(pool, "red.lead@aegis.demo")
        .await?
        .is_some()
    {
        return Ok(Loaded::AlreadyThere);
    }
    let foreign: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM events WHERE aggregate_type IN ('TestCase', 'Campaign', 'ScoringPolicy')",
    )
    .fetch_one(pool)
    .await?;
    if foreign > 0 && !force {
        bail!(
            "this database already holds {foreign} workflow events that are not demo data; use --force to add the demo anyway"
        );
    }

    let origin = RequestOrigin {
        correlation_id: Uuid::now_v7(),
        client_ip: None,
    };
    let mut users = BTreeMap::new();
    for role in Role::ALL {
        let email = format!("{}@aegis.demo", role.as_str().replace('_', "."));
        let name = format!("Demo {}", role.as_str().replace('_', " "));
        let (id, _) = identity
            .create_user(
                origin,
                MetadataActor::system("demo"),
                &email,
                &name,
                BTreeSet::from([role]),
                Some(DEMO_PASSWORD),
            )
            .await
            .with_context(|| format!("cannot create {email}"))?;
        users.insert(role, id);
    }
    let clock = Arc::new(DemoClock(Mutex::new(Utc::now() - HISTORY)));
    let demo = Demo {
        test_cases: CommandService::new(pool.clone(), (), Arc::clone(&clock) as Arc<dyn Clock>),
        campaigns: CommandService::new(pool.clone(), (), Arc::clone(&clock) as Arc<dyn Clock>),
        policies: CommandService::new(pool.clone(), (), Arc::clone(&clock) as Arc<dyn Clock>),
        clock,
        users,
    };
    demo.define_policy().await?;
    let test_case_ids = demo.plan_test_cases().await?;
    let campaigns = demo.create_campaigns(&test_case_ids).await?;
    Ok(Loaded::Created {
        users: demo.users.len(),
        test_cases: test_case_ids.len(),
        campaigns,
    })
}

/// A few techniques per campaign scope.
fn scope_techniques(campaign: usize) -> Vec<&'static str> {
    match campaign {
        0 => vec!["T1003", "T1059", "T1047", "T1021"],
        1 => vec!["T1486", "T1053", "T1218", "T1055"],
        _ => vec!["T1082", "T1566"],
    }
}

/// The demo's test cases: technique, title, how far each gets, and what EDR and SIEM did.
const TEST_CASES: [(&str, &str, Stage, Outcome, Outcome); 14] = [
    (
        "T1003.001",
        "LSASS dump via comsvcs.dll",
        Stage::Completed,
        Outcome::Blocked,
        Outcome::Alerted,
    ),
    (
        "T1059.001",
        "Encoded PowerShell download cradle",
        Stage::Completed,
        Outcome::Alerted,
        Outcome::Logged,
    ),
    (
        "T1047",
        "WMI remote process creation",
        Stage::Completed,
        Outcome::Logged,
        Outcome::NotDetected,
    ),
    (
        "T1021.001",
        "RDP lateral movement",
        Stage::Completed,
        Outcome::NotDetected,
        Outcome::NotDetected,
    ),
    (
        "T1486",
        "Ransomware-like mass encryption",
        Stage::Completed,
        Outcome::Blocked,
        Outcome::Blocked,
    ),
    (
        "T1053.005",
        "Scheduled task persistence",
        Stage::AwaitingApproval,
        Outcome::Alerted,
        Outcome::Logged,
    ),
    (
        "T1218.011",
        "Rundll32 proxy execution",
        Stage::Reviewing,
        Outcome::Logged,
        Outcome::Logged,
    ),
    (
        "T1055",
        "Process injection into explorer.exe",
        Stage::Executed,
        Outcome::Blocked,
        Outcome::Blocked,
    ),
    (
        "T1082",
        "System information discovery",
        Stage::Executing,
        Outcome::Logged,
        Outcome::Logged,
    ),
    (
        "T1566.001",
        "Spearphishing attachment macro",
        Stage::Assigned,
        Outcome::Blocked,
        Outcome::Blocked,
    ),
    (
        "T1110.003",
        "Password spraying against OWA",
        Stage::Planned,
        Outcome::Blocked,
        Outcome::Blocked,
    ),
    (
        "T1136.001",
        "Local account creation",
        Stage::Planned,
        Outcome::Blocked,
        Outcome::Blocked,
    ),
    (
        "T1548.002",
        "UAC bypass via fodhelper",
        Stage::Paused,
        Outcome::Blocked,
        Outcome::Blocked,
    ),
    (
        "T1070.001",
        "Clear Windows event logs",
        Stage::Abandoned,
        Outcome::Blocked,
        Outcome::Blocked,
    ),
];

/// How far a demo test case gets through the workflow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Stage {
    Abandoned,
    Planned,
    Paused,
    Assigned,
    Executing,
    Executed,
    Reviewing,
    AwaitingApproval,
    Completed,
}

struct Demo {
    test_cases: CommandService<TestCase>,
    campaigns: CommandService<Campaign>,
    policies: CommandService<ScoringPolicy>,
    clock: Arc<DemoClock>,
    users: BTreeMap<Role, Uuid>,
}

impl Demo {
    /// The demo user holding `role`, as event metadata sees them.
    fn context(&self, role: Role) -> CommandContext {
        CommandContext::new(MetadataActor::user(self.users[&role], [role]))
    }

    /// The demo user holding `role`, as the domain judges them.
    fn actor(&self, role: Role) -> Actor {
        Actor::new(self.users[&role], [role])
    }

    async fn define_policy(&self) -> anyhow::Result<()> {
        let policy_id = demo_id("policy:default").to_string();
        for action in [
            ScoringPolicyAction::Define {
                name: PolicyName::parse("Default")?,
                settings: PolicySettings::default(),
                reason: ChangeReason::parse("the organisation's starting policy")?,
            },
            ScoringPolicyAction::Activate {
                reason: ChangeReason::parse("first policy")?,
            },
        ] {
            let command = ScoringPolicyCommand {
                actor: self.actor(Role::Admin),
                at: self.clock.now(),
                action,
            };
            self.policies
                .execute(&self.context(Role::Admin), &policy_id, command)
                .await?;
        }
        Ok(())
    }

    /// Test cases in every state, two days apart, every third one blind.
    async fn plan_test_cases(&self) -> anyhow::Result<Vec<Uuid>> {
        let mut ids = Vec::with_capacity(TEST_CASES.len());
        for (index, (technique, title, stage, edr, siem)) in TEST_CASES.into_iter().enumerate() {
            let id = demo_id(&format!("test-case:{index}"));
            self.clock.advance(TimeDelta::days(2));
            self.walk(id, technique, title, stage, [edr, siem], index % 3 == 0)
                .await?;
            ids.push(id);
        }
        Ok(ids)
    }

    /// An active campaign, a completed one and a recurring one; returns how many.
    async fn create_campaigns(&self, test_cases: &[Uuid]) -> anyhow::Result<usize> {
        let campaigns = [
            ("Credential access Q4", &test_cases[0..4], false, None),
            ("Ransomware readiness", &test_cases[4..8], true, None),
            (
                "Weekly EDR smoke test",
                &test_cases[8..10],
                false,
                Some(Recurrence::parse("0 9 * * 1", "Europe/Berlin")?),
            ),
        ];
        for (index, (name, members, completed, recurrence)) in campaigns.iter().enumerate() {
            let id = demo_id(&format!("campaign:{index}")).to_string();
            let start = self.clock.now();
            let mut actions = vec![CampaignAction::Create {
                name: CampaignName::parse(name)?,
                description: CampaignDescription::parse("Loaded by `aegis demo`.")?,
                scope: CampaignScope::parse(scope_techniques(index), None)?,
                planned_start: start,
                planned_end: start + TimeDelta::weeks(4),
                recurrence: recurrence.clone(),
            }];
            actions.extend(
                members
                    .iter()
                    .map(|test_case_id| CampaignAction::AddTestCase {
                        test_case_id: *test_case_id,
                    }),
            );
            actions.push(CampaignAction::Activate);
            if *completed {
                actions.push(CampaignAction::Complete);
            }
            for action in actions {
                let at = self.clock.advance(TimeDelta::hours(1));
                let command = CampaignCommand {
                    actor: self.actor(Role::RedLead),
                    at,
                    action,
                };
                self.campaigns
                    .execute(&self.context(Role::RedLead), &id, command)
                    .await?;
            }
        }
        Ok(campaigns.len())
    }

    async fn walk(
        &self,
        id: Uuid,
        technique: &str,
        title: &str,
        stage: Stage,
        outcomes: [Outcome; 2],
        blind: bool,
    ) -> anyhow::Result<()> {
        let plan = Plan {
            title: Title::parse(title)?,
            objective: Text::parse("Shows whether the defences stop or see the procedure.")?,
            technique: TechniqueId::parse(technique)?,
            procedure: ProcedureSource::Manual,
            steps: Text::parse(&format!(
                "Run the {technique} procedure from the team's runbook."
            ))?,
            platforms: BTreeSet::new(),
            targets: BTreeSet::from([Target::parse("ws-042.demo.local")?]),
            tags: BTreeSet::new(),
            blind,
        };
        let mut steps: Vec<(Role, TestCaseAction)> =
            vec![(Role::RedLead, TestCaseAction::PlanTestCase { plan })];
        if stage == Stage::Abandoned {
            steps.push((
                Role::RedLead,
                TestCaseAction::Abandon {
                    reason: domain::test_case::Note::parse("out of scope")?,
                },
            ));
        }
        if stage >= Stage::Paused {
            steps.push((
                Role::RedLead,
                TestCaseAction::AssignTestCase {
                    red_assignee: Some(self.users[&Role::RedTech]),
                    blue_assignee: None,
                },
            ));
            steps.push((
                Role::BlueLead,
                TestCaseAction::AssignTestCase {
                    red_assignee: None,
                    blue_assignee: Some(self.users[&Role::BlueTech]),
                },
            ));
        }
        if stage == Stage::Paused {
            steps.push((Role::RedLead, TestCaseAction::Pause));
        }
        if stage >= Stage::Executing {
            steps.push((Role::RedTech, TestCaseAction::StartExecution));
        }
        let started_at = self.clock.now() + TimeDelta::hours(6);
        if stage >= Stage::Executed {
            let execution = Execution {
                command: Text::parse(&format!("./run-procedure {technique}"))?,
                target: Target::parse("ws-042.demo.local")?,
                started_at,
                stopped_at: started_at + TimeDelta::seconds(20),
                output_excerpt: Text::parse("completed")?,
            };
            steps.push((Role::RedTech, TestCaseAction::RecordExecution { execution }));
            steps.push((Role::RedTech, TestCaseAction::CompleteExecution));
        }
        if stage >= Stage::Reviewing {
            steps.push((Role::BlueTech, TestCaseAction::StartReview));
            for (tool, outcome, delay) in [("EDR", outcomes[0], 4), ("SIEM", outcomes[1], 90)] {
                let detected = !matches!(outcome, Outcome::NotDetected | Outcome::NotApplicable);
                let defense = DefenseOutcome {
                    tool: ToolName::parse(tool)?,
                    outcome,
                    severity: detected.then_some(Severity::High),
                    detected_at: detected.then(|| started_at + TimeDelta::seconds(delay)),
                    rules_fired: if detected {
                        BTreeSet::from([DetectionRuleRef::parse(&format!("{tool}-{technique}"))?])
                    } else {
                        BTreeSet::new()
                    },
                };
                steps.push((
                    Role::BlueTech,
                    TestCaseAction::RecordDefenseOutcome { defense },
                ));
            }
        }
        if stage >= Stage::AwaitingApproval {
            steps.push((Role::BlueTech, TestCaseAction::SubmitForApproval));
        }
        if stage >= Stage::Completed {
            steps.push((Role::RedLead, TestCaseAction::ApproveResult));
        }
        for (role, action) in steps {
            let at = self.clock.advance(TimeDelta::hours(3));
            let command = TestCaseCommand {
                actor: self.actor(role),
                at,
                action,
            };
            self.test_cases
                .execute(&self.context(role), &id.to_string(), command)
                .await
                .with_context(|| format!("demo test case {title}"))?;
        }
        Ok(())
    }
}
