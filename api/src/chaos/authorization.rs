//! Authorisation fuzz on other people's objects: users of every role (two each) send random queries and
//! mutations against test cases planned, assigned and blinded for others, campaigns other leads created,
//! other users' accounts, API tokens and notifications. Each answer is compared with the decision the role
//! table gives ([`oracle`], written from README's table, never from the guard): a refused call the table
//! allows fails the run as surely as an allowed call it refuses.
//!
//! The workflow steps are tried on test cases in a stage that allows them, so every refusal is about who
//! asks; an accepted step moves the fuzz's own model of the test case along, which is how later decisions
//! (assignees, who recorded an outcome, blind tests revealed, times to detect) stay right.
//!
//! `api/tests/authorization_fuzz.rs` runs it in-process; `aegis chaos all` runs it over a socket against a
//! real `aegis serve` ([`over_http`]).

mod oracle;

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, ensure};
use chrono::{TimeDelta, Utc};
use commands::context::{Actor as MetadataActor, SystemClock};
use domain::role::Role;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

use self::oracle::{Decision, Stage, Step, TestCaseModel, Who};
use super::{Cluster, Server, free_port, http_client, wait_ready};
use crate::auth::identity::{Identity, IdentitySettings, RequestOrigin};
use crate::auth::session::Authenticator;
use crate::auth::tokens::SigningKeys;

/// The password of every user the fuzz creates.
const PASSWORD: &str = "authorisation fuzz: correct horse battery staple";
/// Users of each role: two, so that every object has a same-role user it does not belong to.
const USERS_PER_ROLE: usize = 2;
const TEST_CASES: usize = 6;
const CAMPAIGNS: usize = 3;

/// How the fuzz talks to Aegis.
pub trait Client {
    /// Sends one GraphQL document with `token` as the bearer token; the answer's JSON.
    fn graphql(
        &self,
        token: &str,
        query: &str,
    ) -> impl Future<Output = anyhow::Result<Value>> + Send;
    /// Signs in; the session token.
    fn sign_in(
        &self,
        email: &str,
        password: &str,
    ) -> impl Future<Output = anyhow::Result<String>> + Send;
    /// Returns once the read models hold every committed event.
    fn settle(&self) -> impl Future<Output = anyhow::Result<()>> + Send;
}

/// How many random calls, from which seed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FuzzSize {
    pub calls: usize,
    pub seed: u64,
}

/// One role's calls: `allowed` and `denied` are the table's decisions, which the answers matched unless
/// the report lists them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoleFigures {
    pub role: Role,
    pub tried: usize,
    pub allowed: usize,
    pub denied: usize,
}

/// What the fuzz saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationReport {
    pub seed: u64,
    pub figures: Vec<RoleFigures>,
    /// Calls the table refuses that succeeded.
    pub unauthorised: Vec<String>,
    /// Calls the table allows that were refused.
    pub wrongly_refused: Vec<String>,
    /// Refusals for another reason than the table's, wrong answers, owners' objects changed.
    pub mismatched: Vec<String>,
}

impl AuthorizationReport {
    pub fn passed(&self) -> bool {
        self.unauthorised.is_empty()
            && self.wrongly_refused.is_empty()
            && self.mismatched.is_empty()
    }

    /// Calls tried, allowed and denied per role, and the disagreements, as a markdown table.
    pub fn table(&self) -> String {
        let mut table = String::from("| role | calls | allowed | denied |\n|---|---|---|---|\n");
        for figures in &self.figures {
            let _ = writeln!(
                table,
                "| {} | {} | {} | {} |",
                figures.role, figures.tried, figures.allowed, figures.denied
            );
        }
        let _ = writeln!(
            table,
            "\nseed {}: {} unauthorised successes, {} authorised calls refused, {} other disagreements",
            self.seed,
            self.unauthorised.len(),
            self.wrongly_refused.len(),
            self.mismatched.len()
        );
        for line in self
            .unauthorised
            .iter()
            .chain(&self.wrongly_refused)
            .chain(&self.mismatched)
        {
            let _ = writeln!(table, "- {line}");
        }
        table
    }
}

/// One of the fuzz's users.
#[derive(Debug, Clone)]
struct Caller {
    who: Who,
    session: String,
    api_token_id: Uuid,
    api_token: String,
    /// Their notifications when the fuzz started: nobody else may read or mark them.
    notifications: Vec<Uuid>,
}

/// A campaign and the test cases in it (indexes into `World::test_cases`).
#[derive(Debug, Clone)]
struct CampaignModel {
    id: Uuid,
    members: Vec<usize>,
}

/// What one call asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Step { test_case: usize, step: Step },
    ReadTestCase(usize),
    ReadTestCaseHistory(usize),
    ReadCampaignTimes(usize),
    EditCampaign(usize),
    ListUsers,
    UpdateOtherUser(usize),
    ReadOtherUsersHistory(usize),
    RevokeOthersToken(usize),
    MarkOthersNotification(usize),
    ListOwnTokens,
    ListOwnNotifications,
}

/// How the server answered, in the oracle's terms; `Wrong` is an answer that is neither (a count that is
/// neither blue's nor everyone's, a test case half redacted).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Observed {
    Allowed,
    Denied(String),
    Wrong(String),
}

/// The users, campaigns and test cases, and the fuzz's model of them.
struct World {
    callers: Vec<Caller>,
    test_cases: Vec<TestCaseModel>,
    campaigns: Vec<CampaignModel>,
    /// A write was accepted since the read models were last caught up.
    unsettled: bool,
}

/// Creates the users (through `identity`, as `aegis user create` would) and everything they act on, sends
/// `size.calls` random calls and reports what came back.
pub async fn run(
    client: &impl Client,
    identity: &Identity,
    size: FuzzSize,
) -> anyhow::Result<AuthorizationReport> {
    let mut random = StdRng::seed_from_u64(size.seed);
    let mut world = World::create(client, identity).await?;
    let mut report = AuthorizationReport {
        seed: size.seed,
        figures: Role::ALL
            .map(|role| RoleFigures {
                role,
                tried: 0,
                allowed: 0,
                denied: 0,
            })
            .to_vec(),
        unauthorised: Vec::new(),
        wrongly_refused: Vec::new(),
        mismatched: Vec::new(),
    };
    for _ in 0..size.calls {
        let (caller, action) = world.choose(&mut random);
        let decision = world.decide(caller, action);
        let (query, observed) = world.call(client, caller, action).await?;
        let who = world.callers[caller].who;
        if let Some(figures) = report.figures.iter_mut().find(|f| f.role == who.role) {
            figures.tried += 1;
            match decision {
                Decision::Allowed => figures.allowed += 1,
                Decision::Denied(_) => figures.denied += 1,
            }
        }
        let line = || format!("{} {}: {query} -> {observed:?}", who.role, who.id);
        match (decision, &observed) {
            (Decision::Denied(_), Observed::Allowed) => report.unauthorised.push(line()),
            (Decision::Allowed, Observed::Denied(_)) => report.wrongly_refused.push(line()),
            (Decision::Denied(Some(expected)), Observed::Denied(reason)) if expected != reason => {
                report
                    .mismatched
                    .push(format!("{} (the table: {expected})", line()));
            }
            (_, Observed::Wrong(_)) => report.mismatched.push(line()),
            _ => {}
        }
        if observed == Observed::Allowed {
            world.accepted(caller, action);
        }
    }
    report
        .mismatched
        .extend(world.owners_objects_untouched(client).await?);
    Ok(report)
}

impl World {
    async fn create(client: &impl Client, identity: &Identity) -> anyhow::Result<Self> {
        let mut callers = Vec::new();
        for role in Role::ALL {
            for index in 0..USERS_PER_ROLE {
                callers.push(Caller::create(client, identity, role, index).await?);
            }
        }
        let mut world = Self {
            callers,
            test_cases: Vec::new(),
            campaigns: Vec::new(),
            unsettled: true,
        };
        world.plan(client).await?;
        world.settle(client).await?;
        for caller in &mut world.callers {
            let answer = ok(client
                .graphql(
                    &caller.session,
                    "{ myNotifications(first: 100) { edges { node { id } } } }",
                )
                .await?)?;
            caller.notifications = ids_in(&answer["myNotifications"]["edges"], "node");
        }
        ensure!(
            world
                .callers
                .iter()
                .any(|caller| !caller.notifications.is_empty()),
            "nobody was notified of an assignment"
        );
        Ok(world)
    }

    fn first(&self, role: Role, index: usize) -> &Caller {
        self.callers
            .iter()
            .filter(|caller| caller.who.role == role)
            .nth(index)
            .expect("every role has USERS_PER_ROLE users")
    }

    fn ids_of(&self, role: Role) -> Vec<Uuid> {
        self.callers
            .iter()
            .filter(|caller| caller.who.role == role)
            .map(|caller| caller.who.id)
            .collect()
    }

    /// Campaigns created by three different users and test cases planned by either red lead, half of them
    /// blind, each assigned to one red and one blue technician and put in a campaign.
    async fn plan(&mut self, client: &impl Client) -> anyhow::Result<()> {
        let creators = [
            self.first(Role::RedLead, 0).session.clone(),
            self.first(Role::BlueLead, 0).session.clone(),
            self.first(Role::Admin, 0).session.clone(),
        ];
        for (index, creator) in creators.iter().enumerate().take(CAMPAIGNS) {
            let created = ok(client
                .graphql(
                    creator,
                    &format!(
                        r#"mutation {{ createCampaign(input: {{ name: "fuzzed campaign {index}",
                        scope: {{ techniques: ["T1059"] }}, plannedStart: "2026-01-05T08:00:00Z",
                        plannedEnd: "2026-01-30T17:00:00Z" }}) {{ id }} }}"#
                    ),
                )
                .await?)?;
            self.campaigns.push(CampaignModel {
                id: uuid_at(&created["createCampaign"]["id"])?,
                members: Vec::new(),
            });
        }
        let (red_techs, blue_techs) = (self.ids_of(Role::RedTech), self.ids_of(Role::BlueTech));
        for index in 0..TEST_CASES {
            let planning_lead = self
                .first(Role::RedLead, index % USERS_PER_ROLE)
                .session
                .clone();
            let blind = index % 2 == 0;
            let objective = format!("objective of test case {index}");
            let planned = ok(client
                .graphql(&planning_lead, &format!(
                    r#"mutation {{ planTestCase(plan: {{ title: "fuzzed {index}", objective: "{objective}",
                        technique: "T1059", procedure: {{ kind: MANUAL }}, steps: "run it", blind: {blind} }}) {{ id }} }}"#
                ))
                .await?)?;
            let id = uuid_at(&planned["planTestCase"]["id"])?;
            let (red, blue) = (
                red_techs[index % USERS_PER_ROLE],
                blue_techs[(index / 2) % USERS_PER_ROLE],
            );
            let campaign = index % CAMPAIGNS;
            let setup = [
                (
                    self.first(Role::RedLead, 1).session.clone(),
                    format!(r#"assignTestCase(id: "{id}", redAssignee: "{red}")"#),
                ),
                (
                    self.first(Role::BlueLead, 1).session.clone(),
                    format!(r#"assignTestCase(id: "{id}", blueAssignee: "{blue}")"#),
                ),
                (
                    creators[campaign].clone(),
                    format!(
                        r#"addTestCaseToCampaign(id: "{}", testCaseId: "{id}")"#,
                        self.campaigns[campaign].id
                    ),
                ),
            ];
            for (token, mutation) in setup {
                ok(client
                    .graphql(&token, &format!("mutation {{ {mutation} {{ id }} }}"))
                    .await?)?;
            }
            self.campaigns[campaign].members.push(self.test_cases.len());
            self.test_cases.push(TestCaseModel {
                id,
                objective,
                blind,
                revealed: false,
                stage: Stage::Assigned,
                paused: false,
                red_assignee: red,
                blue_assignee: blue,
                executions: 0,
                outcomes: BTreeSet::new(),
                outcome_recorders: BTreeSet::new(),
            });
        }
        Ok(())
    }

    async fn settle(&mut self, client: &impl Client) -> anyhow::Result<()> {
        if self.unsettled {
            client.settle().await?;
            self.unsettled = false;
        }
        Ok(())
    }

    /// A random caller and a random call against something that is, mostly, not theirs. Workflow steps
    /// go half the time to the side's assignee, so that technicians' authorised steps are tried too.
    fn choose(&self, random: &mut StdRng) -> (usize, Action) {
        let mut caller = random.gen_range(0..self.callers.len());
        let others = |random: &mut StdRng, caller: usize| loop {
            let other = random.gen_range(0..self.callers.len());
            if other != caller {
                return other;
            }
        };
        let action = match random.gen_range(0..20) {
            0..=8 => {
                let test_case = random.gen_range(0..self.test_cases.len());
                let model = &self.test_cases[test_case];
                let steps =
                    model.possible_steps(&self.ids_of(Role::RedTech), &self.ids_of(Role::BlueTech));
                let step = *steps.choose(random).expect("a comment is always possible");
                let assignee = match step {
                    Step::StartExecution | Step::RecordExecution | Step::CompleteExecution => {
                        Some(model.red_assignee)
                    }
                    Step::StartReview | Step::RecordOutcome(_) | Step::SubmitForApproval => {
                        Some(model.blue_assignee)
                    }
                    _ => None,
                };
                if let Some(assignee) = assignee.filter(|_| random.gen_bool(0.5)) {
                    caller = self
                        .callers
                        .iter()
                        .position(|c| c.who.id == assignee)
                        .unwrap_or(caller);
                }
                Action::Step { test_case, step }
            }
            9 | 10 => Action::ReadTestCase(random.gen_range(0..self.test_cases.len())),
            11 => Action::ReadTestCaseHistory(random.gen_range(0..self.test_cases.len())),
            12 => Action::ReadCampaignTimes(random.gen_range(0..self.campaigns.len())),
            13 => Action::EditCampaign(random.gen_range(0..self.campaigns.len())),
            14 => Action::ListUsers,
            15 => Action::UpdateOtherUser(others(random, caller)),
            16 => Action::ReadOtherUsersHistory(others(random, caller)),
            17 => Action::RevokeOthersToken(others(random, caller)),
            18 => {
                let owners: Vec<usize> = (0..self.callers.len())
                    .filter(|owner| {
                        *owner != caller && !self.callers[*owner].notifications.is_empty()
                    })
                    .collect();
                Action::MarkOthersNotification(
                    *owners.choose(random).expect("someone was notified"),
                )
            }
            _ if random.gen_bool(0.5) => Action::ListOwnTokens,
            _ => Action::ListOwnNotifications,
        };
        (caller, action)
    }

    fn members(&self, campaign: usize) -> Vec<&TestCaseModel> {
        self.campaigns[campaign]
            .members
            .iter()
            .map(|member| &self.test_cases[*member])
            .collect()
    }

    /// The role table's decision.
    fn decide(&self, caller: usize, action: Action) -> Decision {
        let who = self.callers[caller].who;
        match action {
            Action::Step { test_case, step } => {
                oracle::step(who, &self.test_cases[test_case], step)
            }
            Action::ReadTestCase(test_case) => {
                oracle::read_test_case(who, &self.test_cases[test_case])
            }
            Action::ReadTestCaseHistory(test_case) => {
                oracle::read_test_case_history(who, &self.test_cases[test_case])
            }
            Action::ReadCampaignTimes(campaign) => {
                oracle::read_campaign_times(who, &self.members(campaign))
            }
            Action::EditCampaign(_) => oracle::edit_campaign(who),
            Action::ListUsers => oracle::list_users(who),
            Action::UpdateOtherUser(_) => oracle::update_other_user(who),
            Action::ReadOtherUsersHistory(_) => oracle::read_other_users_history(who),
            Action::RevokeOthersToken(_)
            | Action::MarkOthersNotification(_)
            | Action::ListOwnTokens
            | Action::ListOwnNotifications => oracle::others_personal_object(),
        }
    }

    /// Sends the call; the query and how it was answered.
    async fn call(
        &mut self,
        client: &impl Client,
        caller: usize,
        action: Action,
    ) -> anyhow::Result<(String, Observed)> {
        if !matches!(action, Action::Step { .. }) {
            self.settle(client).await?;
        }
        let query = self.query(caller, action);
        let answer = client
            .graphql(&self.callers[caller].session, &query)
            .await?;
        let observed = match refusal(&answer) {
            Some(reason) => Observed::Denied(reason),
            None => self.observe(caller, action, &answer["data"]),
        };
        Ok((query, observed))
    }

    fn query(&self, caller: usize, action: Action) -> String {
        match action {
            Action::Step { test_case, step } => step_mutation(self.test_cases[test_case].id, step),
            Action::ReadTestCase(test_case) => format!(
                r#"{{ testCase(id: "{}") {{ objective steps redacted executions {{ command }} }} }}"#,
                self.test_cases[test_case].id
            ),
            Action::ReadTestCaseHistory(test_case) => format!(
                r#"{{ history(kind: TEST_CASE, id: "{}") {{ sequence }} }}"#,
                self.test_cases[test_case].id
            ),
            Action::ReadCampaignTimes(campaign) => format!(
                r#"{{ campaign(id: "{}") {{ progress {{ timeToDetect {{ measured }} }} }} }}"#,
                self.campaigns[campaign].id
            ),
            Action::EditCampaign(campaign) => format!(
                r#"mutation {{ editCampaign(id: "{}", input: {{ name: "fuzzed campaign {campaign}",
                    description: "edited by {}", scope: {{ techniques: ["T1059"] }},
                    plannedStart: "2026-01-05T08:00:00Z", plannedEnd: "2026-01-30T17:00:00Z" }}) {{ id }} }}"#,
                self.campaigns[campaign].id, self.callers[caller].who.id
            ),
            Action::ListUsers => "{ users(first: 5) { pageInfo { hasNextPage } } }".to_owned(),
            Action::UpdateOtherUser(other) => format!(
                r#"mutation {{ updateUser(userId: "{}", displayName: "renamed by {}") }}"#,
                self.callers[other].who.id, self.callers[caller].who.id
            ),
            Action::ReadOtherUsersHistory(other) => format!(
                r#"{{ history(kind: USER, id: "{}") {{ sequence }} }}"#,
                self.callers[other].who.id
            ),
            Action::RevokeOthersToken(other) => format!(
                r#"mutation {{ revokeApiToken(id: "{}") }}"#,
                self.callers[other].api_token_id
            ),
            Action::MarkOthersNotification(other) => format!(
                r#"mutation {{ markNotificationsRead(ids: ["{}", "{}"]) {{ marked }} }}"#,
                self.callers[other].notifications[0],
                Uuid::now_v7()
            ),
            Action::ListOwnTokens => "{ myApiTokens { id } }".to_owned(),
            Action::ListOwnNotifications => {
                "{ myNotifications(first: 100) { edges { node { id } } } }".to_owned()
            }
        }
    }

    /// A successful answer in the oracle's terms.
    fn observe(&self, caller: usize, action: Action, data: &Value) -> Observed {
        let me = &self.callers[caller];
        let someone_elses = |ids: &[Uuid]| {
            self.callers
                .iter()
                .filter(|other| other.who.id != me.who.id)
                .any(|other| {
                    ids.contains(&other.api_token_id)
                        || other.notifications.iter().any(|n| ids.contains(n))
                })
        };
        match action {
            Action::ReadTestCase(test_case) => {
                observe_test_case(&self.test_cases[test_case], &data["testCase"])
            }
            Action::ReadCampaignTimes(campaign) => {
                let members = self.members(campaign);
                let everyone = oracle::measured_members(
                    Who {
                        id: Uuid::nil(),
                        role: Role::Admin,
                    },
                    &members,
                );
                let blue = oracle::measured_members(
                    Who {
                        id: Uuid::nil(),
                        role: Role::BlueTech,
                    },
                    &members,
                );
                match data["campaign"]["progress"]["timeToDetect"]["measured"].as_u64() {
                    Some(measured) if measured == everyone as u64 => Observed::Allowed,
                    Some(measured) if measured == blue as u64 => {
                        Observed::Denied("WITHHELD".to_owned())
                    }
                    measured => Observed::Wrong(format!(
                        "{measured:?} measured, expected {everyone} or {blue}"
                    )),
                }
            }
            Action::RevokeOthersToken(_) if data["revokeApiToken"] == true => Observed::Allowed,
            Action::MarkOthersNotification(_)
                if data["markNotificationsRead"]["marked"].as_u64() > Some(0) =>
            {
                Observed::Allowed
            }
            Action::ListOwnTokens => {
                let ids: Vec<Uuid> = data["myApiTokens"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|token| token["id"].as_str()?.parse().ok())
                    .collect();
                if someone_elses(&ids) {
                    Observed::Allowed
                } else if ids.contains(&me.api_token_id) {
                    Observed::Denied("NOT_OWNER".to_owned())
                } else {
                    Observed::Wrong("one's own token is missing".to_owned())
                }
            }
            Action::ListOwnNotifications
                if someone_elses(&ids_in(&data["myNotifications"]["edges"], "node")) =>
            {
                Observed::Allowed
            }
            Action::RevokeOthersToken(_)
            | Action::MarkOthersNotification(_)
            | Action::ListOwnNotifications => Observed::Denied("NOT_OWNER".to_owned()),
            _ if data
                .as_object()
                .is_some_and(|fields| fields.values().all(|value| !value.is_null())) =>
            {
                Observed::Allowed
            }
            _ => Observed::Wrong(format!("an answer without data: {data}")),
        }
    }

    /// The server accepted `action`: the model follows.
    fn accepted(&mut self, caller: usize, action: Action) {
        if let Action::Step { test_case, step } = action {
            self.test_cases[test_case].apply(step, self.callers[caller].who.id);
            self.unsettled = true;
        } else if matches!(action, Action::EditCampaign(_) | Action::UpdateOtherUser(_)) {
            self.unsettled = true;
        }
    }

    /// Every user's API token still works and their first notifications are still unread.
    async fn owners_objects_untouched(
        &mut self,
        client: &impl Client,
    ) -> anyhow::Result<Vec<String>> {
        self.settle(client).await?;
        let mut changed = Vec::new();
        for caller in &self.callers {
            let me = client.graphql(&caller.api_token, "{ me { id } }").await?;
            if me["data"]["me"]["id"].as_str() != Some(caller.who.id.to_string().as_str()) {
                changed.push(format!(
                    "{}'s API token no longer works: {me}",
                    caller.who.id
                ));
            }
            let unread = ok(client
                .graphql(
                    &caller.session,
                    "{ myNotifications(unreadOnly: true, first: 100) { edges { node { id } } } }",
                )
                .await?)?;
            let unread = ids_in(&unread["myNotifications"]["edges"], "node");
            for notification in caller
                .notifications
                .iter()
                .filter(|id| !unread.contains(id))
            {
                changed.push(format!(
                    "{}'s notification {notification} was marked read",
                    caller.who.id
                ));
            }
        }
        Ok(changed)
    }
}

impl Caller {
    async fn create(
        client: &impl Client,
        identity: &Identity,
        role: Role,
        index: usize,
    ) -> anyhow::Result<Self> {
        let email = format!(
            "{role}.{index}.{}@authorization-fuzz.example",
            Uuid::now_v7().simple()
        );
        let (id, _) = identity
            .create_user(
                RequestOrigin {
                    correlation_id: Uuid::now_v7(),
                    client_ip: None,
                },
                MetadataActor::system("authorization fuzz"),
                &email,
                &format!("{role} {index}"),
                BTreeSet::from([role]),
                Some(PASSWORD),
            )
            .await?;
        let session = client.sign_in(&email, PASSWORD).await?;
        let created = ok(client
            .graphql(&session, &format!(
                r#"mutation {{ createApiToken(name: "fuzzed", scope: {{ kind: FULL }}, expiresAt: "{}") {{ id token }} }}"#,
                (Utc::now() + TimeDelta::days(1)).to_rfc3339()
            ))
            .await?)?;
        Ok(Self {
            who: Who { id, role },
            session,
            api_token_id: uuid_at(&created["createApiToken"]["id"])?,
            api_token: created["createApiToken"]["token"]
                .as_str()
                .context("createApiToken returned no token")?
                .to_owned(),
            notifications: Vec::new(),
        })
    }
}

fn step_mutation(id: Uuid, step: Step) -> String {
    let field = match step {
        Step::AssignRed(assignee) => {
            format!(r#"assignTestCase(id: "{id}", redAssignee: "{assignee}")"#)
        }
        Step::AssignBlue(assignee) => {
            format!(r#"assignTestCase(id: "{id}", blueAssignee: "{assignee}")"#)
        }
        Step::StartExecution => format!(r#"startExecution(id: "{id}")"#),
        Step::RecordExecution => format!(
            r#"recordExecution(id: "{id}", execution: {{ command: "whoami", target: "ws-042",
                startedAt: "2026-11-20T10:00:00Z", stoppedAt: "2026-11-20T10:00:05Z" }})"#
        ),
        Step::CompleteExecution => format!(r#"completeExecution(id: "{id}")"#),
        Step::StartReview => format!(r#"startReview(id: "{id}")"#),
        Step::RecordOutcome(tool) => format!(
            r#"recordDefenseOutcome(id: "{id}", outcome: {{ tool: "{tool}", outcome: ALERTED, severity: HIGH,
                detectedAt: "2026-11-20T10:01:00Z" }})"#
        ),
        Step::SubmitForApproval => format!(r#"submitForApproval(id: "{id}")"#),
        Step::Approve => format!(r#"approveResult(id: "{id}")"#),
        Step::RejectToRed => format!(r#"rejectResult(id: "{id}", reason: "again", backTo: RED)"#),
        Step::RejectToBlue => format!(r#"rejectResult(id: "{id}", reason: "again", backTo: BLUE)"#),
        Step::Pause => format!(r#"pauseTestCase(id: "{id}")"#),
        Step::Resume => format!(r#"resumeTestCase(id: "{id}")"#),
        Step::Reopen => format!(r#"reopenTestCase(id: "{id}", reason: "once more")"#),
        Step::Comment => format!(r#"addComment(id: "{id}", body: "a comment")"#),
        Step::RevealToBlue => format!(r#"revealToBlue(id: "{id}")"#),
    };
    format!("mutation {{ {field} {{ id }} }}")
}

/// Red's side shown (allowed), or withheld and said to be (redacted); anything between is wrong.
fn observe_test_case(model: &TestCaseModel, view: &Value) -> Observed {
    let shows_red_side = !view["objective"].is_null()
        || !view["steps"].is_null()
        || view["executions"]
            .as_array()
            .is_some_and(|runs| !runs.is_empty());
    if !shows_red_side {
        return if view["redacted"] == true {
            Observed::Denied("REDACTED".to_owned())
        } else {
            Observed::Wrong(format!("red's side empty but not redacted: {view}"))
        };
    }
    let executions = view["executions"].as_array().map_or(0, Vec::len);
    if view["objective"].as_str() == Some(model.objective.as_str())
        && executions >= model.executions
        && view["redacted"] == false
    {
        Observed::Allowed
    } else {
        Observed::Wrong(format!("not the test case planned: {view}"))
    }
}

/// The refusal's reason (`extensions.reason`, else its code), if the answer is an error.
fn refusal(answer: &Value) -> Option<String> {
    let error = answer["errors"].as_array()?.first()?;
    let extensions = &error["extensions"];
    Some(
        extensions["reason"]
            .as_str()
            .or_else(|| extensions["code"].as_str())
            .unwrap_or("NO_CODE")
            .to_owned(),
    )
}

fn ok(mut answer: Value) -> anyhow::Result<Value> {
    ensure!(answer.get("errors").is_none(), "{answer}");
    Ok(answer["data"].take())
}

fn uuid_at(value: &Value) -> anyhow::Result<Uuid> {
    value
        .as_str()
        .with_context(|| format!("expected an id, got {value}"))?
        .parse()
        .context("not a UUID")
}

/// The ids of `edges[].<node>.id`.
fn ids_in(edges: &Value, node: &str) -> Vec<Uuid> {
    edges
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|edge| edge[node]["id"].as_str()?.parse().ok())
        .collect()
}

/// The fuzz against a real `aegis serve` of its own, over a socket, on a throwaway cluster.
pub async fn over_http(aegis: &Path, size: FuzzSize) -> anyhow::Result<AuthorizationReport> {
    let cluster = Cluster::start(aegis, true).await?;
    let app_dir = tempfile::tempdir()?;
    let port = free_port()?;
    let client = HttpClient {
        http: http_client(Duration::from_secs(30))?,
        base: format!("http://127.0.0.1:{port}"),
        admin_session: std::sync::Mutex::new(None),
    };
    let _server = Server::start(aegis, &cluster.url, app_dir.path(), port)?;
    wait_ready(&client.http, &client.base).await?;
    let pool = PgPool::connect(&cluster.url).await?;
    let identity = Identity::new(
        pool.clone(),
        Arc::new(SystemClock),
        Authenticator::new(Arc::new(SigningKeys::ephemeral()), pool.clone()),
        IdentitySettings::default(),
    );
    let report = run(&client, &identity, size).await;
    pool.close().await;
    report
}

/// The fuzz over a socket: sessions from the login's cookie, and the read
/// models caught up once an admin's `projections` shows nothing behind.
#[derive(Debug)]
pub struct HttpClient {
    pub http: reqwest::Client,
    pub base: String,
    /// A session allowed to read `projections` (set once the fuzz's admins exist).
    pub admin_session: std::sync::Mutex<Option<String>>,
}

impl Client for HttpClient {
    async fn graphql(&self, token: &str, query: &str) -> anyhow::Result<Value> {
        let answer = self
            .http
            .post(format!("{}/graphql", self.base))
            .bearer_auth(token)
            .json(&json!({ "query": query }))
            .send()
            .await?;
        ensure!(
            answer.status().is_success(),
            "{query}: HTTP {}",
            answer.status()
        );
        Ok(answer.json().await?)
    }

    async fn sign_in(&self, email: &str, password: &str) -> anyhow::Result<String> {
        let session = crate::chaos::sign_in_as(&self.http, &self.base, email, password).await?;
        if email.starts_with("admin.") {
            let mut admin = self.admin_session.lock().expect("not poisoned");
            admin.get_or_insert_with(|| session.clone());
        }
        Ok(session)
    }

    async fn settle(&self) -> anyhow::Result<()> {
        let admin = self
            .admin_session
            .lock()
            .expect("not poisoned")
            .clone()
            .context("no admin signed in yet")?;
        let started = Instant::now();
        loop {
            let status = ok(self
                .graphql(&admin, "{ projections { eventsBehind } }")
                .await?)?;
            let behind: i64 = status["projections"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|projection| {
                    let behind = &projection["eventsBehind"];
                    behind.as_i64().or_else(|| behind.as_str()?.parse().ok())
                })
                .sum();
            if behind == 0 {
                return Ok(());
            }
            ensure!(
                started.elapsed() < Duration::from_secs(30),
                "the read models are still {behind} events behind after 30 s"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}
