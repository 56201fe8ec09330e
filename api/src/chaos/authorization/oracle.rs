//! What the role table says each call should get, written from README's "Who may do what" table and the
//! workflow table of `domain::test_case`, not from the code that enforces them: the fuzz compares the
//! server's answers with these decisions, so a rule wrongly enforced (or wrongly written here) shows up as a
//! disagreement. It never calls `domain::access` or the API's guard.

use std::collections::BTreeSet;

use domain::role::Role;
use uuid::Uuid;

/// What the table says a call gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allowed,
    /// Refused, with the reason the API names (`extensions.reason`, else `extensions.code`), or one of the
    /// fuzz's own names for a read that succeeds without what it asked for (`REDACTED`, `WITHHELD`,
    /// `NOT_OWNER`). `None`: any refusal will do.
    Denied(Option<&'static str>),
}

/// The test-case workflow as far as the fuzz drives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Assigned,
    Executing,
    Executed,
    Reviewing,
    AwaitingApproval,
    Completed,
}

/// One step of the workflow, tried on a test case in a stage that allows it (so a refusal is about who
/// asks, never about when).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    AssignRed(Uuid),
    AssignBlue(Uuid),
    StartExecution,
    RecordExecution,
    CompleteExecution,
    StartReview,
    RecordOutcome(&'static str),
    SubmitForApproval,
    Approve,
    RejectToRed,
    RejectToBlue,
    Pause,
    Resume,
    Reopen,
    Comment,
    RevealToBlue,
}

/// The fuzz's own record of one test case: what it did to it, as the server acknowledged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestCaseModel {
    pub id: Uuid,
    pub objective: String,
    pub blind: bool,
    pub revealed: bool,
    pub stage: Stage,
    pub paused: bool,
    pub red_assignee: Uuid,
    pub blue_assignee: Uuid,
    pub executions: usize,
    /// The tools with an outcome in this run.
    pub outcomes: BTreeSet<&'static str>,
    /// Who recorded an outcome in this run (they may not approve it).
    pub outcome_recorders: BTreeSet<Uuid>,
}

impl TestCaseModel {
    /// Blind and not revealed: blue must not see red's side.
    pub fn hidden_from_blue(&self) -> bool {
        self.blind && !self.revealed
    }

    /// Has a time to detect: an execution (started at a fixed time) and a detection in this run.
    pub fn has_time_to_detect(&self) -> bool {
        self.executions > 0 && !self.outcomes.is_empty()
    }

    /// The steps this test case's stage allows.
    pub fn possible_steps(&self, red_techs: &[Uuid], blue_techs: &[Uuid]) -> Vec<Step> {
        let mut steps = vec![Step::Comment];
        if self.hidden_from_blue() {
            steps.push(Step::RevealToBlue);
        }
        if self.paused {
            steps.push(Step::Resume);
            return steps;
        }
        if self.stage != Stage::Completed {
            steps.push(Step::Pause);
        }
        match self.stage {
            Stage::Assigned => {
                steps.extend(red_techs.iter().map(|id| Step::AssignRed(*id)));
                steps.extend(blue_techs.iter().map(|id| Step::AssignBlue(*id)));
                steps.push(Step::StartExecution);
            }
            Stage::Executing => {
                steps.push(Step::RecordExecution);
                if self.executions > 0 {
                    steps.push(Step::CompleteExecution);
                }
            }
            Stage::Executed => steps.push(Step::StartReview),
            Stage::Reviewing => {
                steps.extend(["EDR", "SIEM"].map(Step::RecordOutcome));
                if !self.outcomes.is_empty() {
                    steps.push(Step::SubmitForApproval);
                }
            }
            Stage::AwaitingApproval => {
                steps.extend([Step::Approve, Step::RejectToRed, Step::RejectToBlue]);
            }
            Stage::Completed => steps.push(Step::Reopen),
        }
        steps
    }

    /// What an accepted step changed.
    pub fn apply(&mut self, step: Step, by: Uuid) {
        match step {
            Step::AssignRed(assignee) => self.red_assignee = assignee,
            Step::AssignBlue(assignee) => self.blue_assignee = assignee,
            Step::StartExecution | Step::RejectToRed => self.stage = Stage::Executing,
            Step::RecordExecution => self.executions += 1,
            Step::CompleteExecution => self.stage = Stage::Executed,
            Step::StartReview | Step::RejectToBlue => self.stage = Stage::Reviewing,
            Step::RecordOutcome(tool) => {
                self.outcomes.insert(tool);
                self.outcome_recorders.insert(by);
            }
            Step::SubmitForApproval => self.stage = Stage::AwaitingApproval,
            Step::Approve => self.stage = Stage::Completed,
            Step::Pause => self.paused = true,
            Step::Resume => self.paused = false,
            Step::Reopen => {
                self.stage = Stage::Assigned;
                self.executions = 0;
                self.outcomes.clear();
                self.outcome_recorders.clear();
            }
            Step::Comment => {}
            Step::RevealToBlue => self.revealed = true,
        }
    }
}

/// A user as the table sees them: one role each in the fuzz.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Who {
    pub id: Uuid,
    pub role: Role,
}

impl Who {
    fn is(self, roles: &[Role]) -> bool {
        self.role == Role::Admin || roles.contains(&self.role)
    }

    /// "blind tests redacted for blue": blue users see a blind test's red side only once it is revealed.
    pub fn is_blue(self) -> bool {
        matches!(self.role, Role::BlueLead | Role::BlueTech)
    }
}

const LEADS: &[Role] = &[Role::RedLead, Role::BlueLead];
const ROLE_REQUIRED: Decision = Decision::Denied(Some("ROLE_REQUIRED"));

fn allowed_if(allowed: bool, otherwise: Decision) -> Decision {
    if allowed {
        Decision::Allowed
    } else {
        otherwise
    }
}

/// A workflow step on `test_case`: "plan, run, judge, approve test cases" is for every role but viewer,
/// and the workflow table says which of them may take each step ("assigned": a tech must be the side's
/// assignee, a lead needs not be; a lead who recorded an outcome may not approve the run).
pub fn step(who: Who, test_case: &TestCaseModel, step: Step) -> Decision {
    if who.role == Role::Viewer {
        return ROLE_REQUIRED;
    }
    let worker = |side: &[Role], lead: Role, assignee: Uuid| {
        if !who.is(side) {
            ROLE_REQUIRED
        } else if who.is(&[lead]) || who.id == assignee {
            Decision::Allowed
        } else {
            Decision::Denied(Some("NOT_ASSIGNEE"))
        }
    };
    let red = [Role::RedLead, Role::RedTech];
    let blue = [Role::BlueLead, Role::BlueTech];
    match step {
        Step::AssignRed(_) => allowed_if(who.is(&[Role::RedLead]), ROLE_REQUIRED),
        Step::AssignBlue(_) => allowed_if(who.is(&[Role::BlueLead]), ROLE_REQUIRED),
        Step::StartExecution | Step::RecordExecution | Step::CompleteExecution => {
            worker(&red, Role::RedLead, test_case.red_assignee)
        }
        Step::StartReview | Step::RecordOutcome(_) | Step::SubmitForApproval => {
            worker(&blue, Role::BlueLead, test_case.blue_assignee)
        }
        Step::Approve if !who.is(LEADS) => ROLE_REQUIRED,
        Step::Approve => allowed_if(
            who.role == Role::Admin || !test_case.outcome_recorders.contains(&who.id),
            Decision::Denied(Some("SELF_APPROVAL")),
        ),
        Step::RejectToRed | Step::RejectToBlue | Step::Pause | Step::Resume | Step::Reopen => {
            allowed_if(who.is(LEADS), ROLE_REQUIRED)
        }
        Step::Comment => Decision::Allowed,
        Step::RevealToBlue => allowed_if(who.is(&red), ROLE_REQUIRED),
    }
}

/// Reading a test case: everyone signed in; blue sees a blind test's red side (objective, steps,
/// executions) only once it is revealed.
pub fn read_test_case(who: Who, test_case: &TestCaseModel) -> Decision {
    allowed_if(
        !(who.is_blue() && test_case.hidden_from_blue()),
        Decision::Denied(Some("REDACTED")),
    )
}

/// A test case's history: everyone, but a blind test's is withheld from blue until it is revealed.
pub fn read_test_case_history(who: Who, test_case: &TestCaseModel) -> Decision {
    allowed_if(
        !(who.is_blue() && test_case.hidden_from_blue()),
        Decision::Denied(Some("FORBIDDEN")),
    )
}

/// A campaign's times to detect: blue's figures leave out blind tests not yet revealed. Allowed when the
/// caller's figures include every measured member (for blue, when no hidden member is measured).
pub fn read_campaign_times(who: Who, members: &[&TestCaseModel]) -> Decision {
    let hidden_measured = members
        .iter()
        .any(|member| member.has_time_to_detect() && member.hidden_from_blue());
    allowed_if(
        !(who.is_blue() && hidden_measured),
        Decision::Denied(Some("WITHHELD")),
    )
}

/// The members' times to detect `who` must be shown: every measured member, less the hidden ones for blue.
pub fn measured_members(who: Who, members: &[&TestCaseModel]) -> usize {
    members
        .iter()
        .filter(|member| member.has_time_to_detect())
        .filter(|member| !(who.is_blue() && member.hidden_from_blue()))
        .count()
}

/// "create, edit, activate, complete, cancel campaigns": leads and admins, whoever created the campaign.
pub fn edit_campaign(who: Who) -> Decision {
    allowed_if(who.is(LEADS), ROLE_REQUIRED)
}

/// "list users": leads and admins.
pub fn list_users(who: Who) -> Decision {
    allowed_if(who.is(LEADS), ROLE_REQUIRED)
}

/// Another user's account: changing it is "create users, …" (admins), and its history is "accounts:
/// admins only".
pub fn update_other_user(who: Who) -> Decision {
    allowed_if(who.role == Role::Admin, ROLE_REQUIRED)
}

pub fn read_other_users_history(who: Who) -> Decision {
    allowed_if(who.role == Role::Admin, Decision::Denied(Some("FORBIDDEN")))
}

/// Another user's API token or notification: "own" in every row that mentions them, so nobody, admins
/// included, revokes, marks or lists someone else's.
pub fn others_personal_object() -> Decision {
    Decision::Denied(None)
}
