//! The `TestCase` aggregate: one procedure against one ATT&CK technique, executed by red, judged by blue and
//! approved by a lead. The aggregate id is the test case's id.
//!
//! # Workflow
//!
//! Admins may give every command; viewers none. "Red side" is `red_lead` or `red_tech`, "blue side" is
//! `blue_lead` or `blue_tech`; where the table says "assigned", a tech must be the test's assignee on that
//! side while a lead needs not be.
//!
//! | from | command | to | who |
//! |---|---|---|---|
//! | — | `PlanTestCase` | planned | leads |
//! | planned, assigned | `AssignTestCase` | assigned | `red_lead` for the red assignee, `blue_lead` for the blue one |
//! | planned, assigned | `EditPlan` | (same) | leads |
//! | assigned | `StartExecution` | executing | assigned red |
//! | executing | `RecordExecution` (repeatable) | executing | assigned red |
//! | executing | `CompleteExecution` (needs an execution) | executed | assigned red |
//! | executed | `StartReview` | reviewing | assigned blue |
//! | reviewing | `RecordDefenseOutcome` (repeatable, one per tool) | reviewing | assigned blue |
//! | reviewing | `SubmitForApproval` (needs an outcome) | awaiting approval | assigned blue |
//! | awaiting approval | `ApproveResult` | completed | leads who recorded no outcome in this run; admins |
//! | awaiting approval | `RejectResult` to red or blue | executing or reviewing | leads |
//! | planned … awaiting approval | `Pause` | paused | leads |
//! | paused | `Resume` | the state it was paused in | leads |
//! | any but completed and abandoned | `Abandon` | abandoned | leads |
//! | completed, abandoned | `Reopen` | assigned, next run | leads |
//! | any (blind tests) | `RevealToBlue` | (same) | red side |
//! | any | `LinkDetectionRule`, `UnlinkDetectionRule` | (same) | leads, `blue_tech` |
//! | any | `AddComment` | (same) | red and blue sides |
//! | executing / reviewing | `AttachEvidence` | (same) | red side / blue side |
//! | executing / reviewing | `RemoveEvidence` | (same) | the side that attached it, in its own state |
//!
//! Checks run in a fixed order, so one command gets one answer: existence (`NOT_FOUND`, `ALREADY_EXISTS`),
//! then roles (`ROLE_REQUIRED`: a user who may never give the command is told so rather than to wait for
//! another state), then state (`WRONG_STATE`), then assignment (`NOT_ASSIGNEE`), then the command's own
//! rules. Evidence is the exception: which side may act depends on the state (attaching) or on the evidence
//! (removing), so those are checked first.
//!
//! # Runs
//!
//! Planning starts run 1; `Reopen` starts the next run in state assigned with the same plan, assignees,
//! linked rules and reveal. Executions, outcomes, evidence and approval belong to a run: a new run starts
//! without them, and the earlier runs stay in the event log for the read side. A rejection keeps everything
//! recorded so far; blue replaces outcomes by recording the tool again.
//!
//! # Blind tests: what blue may see
//!
//! In a blind test, blue users (holding `blue_tech` or `blue_lead`, but no red role and not admin) must not
//! learn how or when red attacks until `RevealToBlue`; [`TestCase::is_hidden_from_blue`] tells whether that
//! still holds. Red users, admins and viewers (who read everything) see it all. The read side withholds:
//!
//! - shown to blue: that the test exists, its title, technique, platforms, tags, state, run, assignees,
//!   linked rules, comments, outcomes and blue-side evidence. A detection engineer knows what to hunt for,
//!   but not when or how it happens.
//! - withheld from blue: the objective, procedure source, steps and targets (they describe the attack), the
//!   executions (command run, target, times, output), red-side evidence, and the time to detect (it gives
//!   away the execution start).
//!
//! Comments are shared by both sides, so red must not discuss the procedure in them before the reveal.
//!
//! # What the aggregate does not check
//!
//! Whether the loaded ATT&CK catalog knows the technique (the command layer flags unknown ids but accepts
//! them, so a test may target a technique newer than the catalog), whether an assignee holds a tech role,
//! and whether a linked detection rule or an evidence file exists: each needs data outside this stream.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use chrono::{DateTime, TimeDelta, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::actor::Actor;
use crate::role::Role;
use crate::text::{is_technique_id, label, prose, string_newtype};

/// Room for a descriptive title while still fitting the lists and reports it appears in.
const TITLE_MAX_CHARS: usize = 200;
/// Tags and platforms are short keywords used for filtering.
const KEYWORD_MAX_CHARS: usize = 50;
/// Host names (at most 253 characters) and the names of tools, rules and templates fit.
const LABEL_MAX_CHARS: usize = 255;
/// The usual limit of file systems on a file name.
const FILE_NAME_MAX_CHARS: usize = 255;
/// Bounds every free text (objective, steps, command run, output excerpt, comments, reasons): enough for an
/// excerpt, small enough that events stay cheap to store and replay. The full output goes in evidence.
const TEXT_MAX_CHARS: usize = 10_000;

const LEADS: &[Role] = &[Role::RedLead, Role::BlueLead];
const RED_SIDE: &[Role] = &[Role::RedLead, Role::RedTech];
const BLUE_SIDE: &[Role] = &[Role::BlueLead, Role::BlueTech];
/// Everyone who can see a test case and may act on it at all: every role but viewer.
const TEAM: &[Role] = &[Role::RedLead, Role::RedTech, Role::BlueLead, Role::BlueTech];
/// Detection rules are blue's knowledge; leads may also link the rules a test is expected to fire.
const RULE_KEEPERS: &[Role] = &[Role::RedLead, Role::BlueLead, Role::BlueTech];

/// An ATT&CK technique or sub-technique id: `T`, four digits, and for a sub-technique `.` and three digits
/// (`T1003`, `T1003.001`). Trimmed and upper-cased, so `t1003.001` is the same id.
///
/// Only the syntax is checked here; whether the loaded catalog knows the id is the command layer's concern
/// (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TechniqueId(String);

impl TechniqueId {
    /// Normalises and checks `input`; a rejection carries the input in [`TestCaseError::InvalidTechnique`].
    pub fn parse(input: &str) -> Result<Self, TestCaseError> {
        let id = input.trim().to_uppercase();
        if !is_technique_id(&id) {
            return Err(TestCaseError::InvalidTechnique(input.to_owned()));
        }
        Ok(Self(id))
    }

    /// Whether this is a sub-technique (`T1003.001`) rather than a technique (`T1003`).
    pub fn is_sub_technique(&self) -> bool {
        self.0.contains('.')
    }

    /// The technique a sub-technique belongs to (`T1003` for `T1003.001`); `None` for a technique.
    pub fn parent(&self) -> Option<TechniqueId> {
        self.0
            .split_once('.')
            .map(|(technique, _)| Self(technique.to_owned()))
    }
}

string_newtype!(TechniqueId, TestCaseError);

/// What a test case is called: trimmed, 1 to 200 characters, one line. Case is kept as typed.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Title(String);

impl Title {
    /// Trims and checks `input`; the reason for a rejection is in [`TestCaseError::InvalidTitle`].
    pub fn parse(input: &str) -> Result<Self, TestCaseError> {
        label(input, TITLE_MAX_CHARS)
            .map(|title| Self(title.to_owned()))
            .map_err(TestCaseError::InvalidTitle)
    }
}

string_newtype!(Title, TestCaseError);

/// A keyword for filtering test cases (`credential-access`, `q3 exercise`): trimmed and lower-cased so that
/// one tag has one spelling, 1 to 50 characters, one line.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Tag(String);

impl Tag {
    /// Normalises and checks `input`; the reason for a rejection is in [`TestCaseError::InvalidTag`].
    pub fn parse(input: &str) -> Result<Self, TestCaseError> {
        label(input, KEYWORD_MAX_CHARS)
            .map(|tag| Self(tag.to_lowercase()))
            .map_err(TestCaseError::InvalidTag)
    }
}

string_newtype!(Tag, TestCaseError);

/// A platform the procedure runs on (`windows`, `linux`, `macos`, `office-365`, `iaas:aws`, …): trimmed and
/// lower-cased, 1 to 50 characters, one line. A validated string rather than an enum because ATT&CK and the
/// procedure libraries add platforms faster than this code changes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Platform(String);

impl Platform {
    /// Normalises and checks `input`; the reason for a rejection is in [`TestCaseError::InvalidPlatform`].
    pub fn parse(input: &str) -> Result<Self, TestCaseError> {
        label(input, KEYWORD_MAX_CHARS)
            .map(|platform| Self(platform.to_lowercase()))
            .map_err(TestCaseError::InvalidPlatform)
    }
}

string_newtype!(Platform, TestCaseError);

/// A system the procedure is run against (a host name, an address, a cloud account): trimmed, 1 to 255
/// characters, one line, case kept.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Target(String);

impl Target {
    /// Trims and checks `input`; the reason for a rejection is in [`TestCaseError::InvalidTarget`].
    pub fn parse(input: &str) -> Result<Self, TestCaseError> {
        label(input, LABEL_MAX_CHARS)
            .map(|target| Self(target.to_owned()))
            .map_err(TestCaseError::InvalidTarget)
    }
}

string_newtype!(Target, TestCaseError);

/// The defensive tool an outcome is about (`CrowdStrike Falcon`, `Splunk`): trimmed, 1 to 255 characters,
/// one line. Case is kept and compared, so a run has one outcome per exact spelling.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ToolName(String);

impl ToolName {
    /// Trims and checks `input`; the reason for a rejection is in [`TestCaseError::InvalidToolName`].
    pub fn parse(input: &str) -> Result<Self, TestCaseError> {
        label(input, LABEL_MAX_CHARS)
            .map(|tool| Self(tool.to_owned()))
            .map_err(TestCaseError::InvalidToolName)
    }
}

string_newtype!(ToolName, TestCaseError);

/// The id of a detection rule in whatever system holds it (a Sigma id, a SIEM search name): trimmed, 1 to
/// 255 characters, one line, case kept.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct DetectionRuleRef(String);

impl DetectionRuleRef {
    /// Trims and checks `input`; the reason for a rejection is in [`TestCaseError::InvalidDetectionRule`].
    pub fn parse(input: &str) -> Result<Self, TestCaseError> {
        label(input, LABEL_MAX_CHARS)
            .map(|rule| Self(rule.to_owned()))
            .map_err(TestCaseError::InvalidDetectionRule)
    }
}

string_newtype!(DetectionRuleRef, TestCaseError);

/// The id of an entry in a procedure library (a CALDERA ability id, a LOLBAS or GTFOBins entry name):
/// trimmed, 1 to 255 characters, one line, case kept.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TemplateRef(String);

impl TemplateRef {
    /// Trims and checks `input`; the reason for a rejection is in [`TestCaseError::InvalidTemplateRef`].
    pub fn parse(input: &str) -> Result<Self, TestCaseError> {
        label(input, LABEL_MAX_CHARS)
            .map(|entry| Self(entry.to_owned()))
            .map_err(TestCaseError::InvalidTemplateRef)
    }
}

string_newtype!(TemplateRef, TestCaseError);

/// A SHA-256 digest as 64 hexadecimal digits, trimmed and lower-cased.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Sha256(String);

impl Sha256 {
    /// Normalises and checks `input`; a rejection carries the input in [`TestCaseError::InvalidSha256`].
    pub fn parse(input: &str) -> Result<Self, TestCaseError> {
        let digest = input.trim().to_ascii_lowercase();
        if digest.len() != 64 || !digest.bytes().all(|byte| byte.is_ascii_hexdigit()) {
            return Err(TestCaseError::InvalidSha256(input.to_owned()));
        }
        Ok(Self(digest))
    }
}

string_newtype!(Sha256, TestCaseError);

/// The name of an evidence file as uploaded: trimmed, 1 to 255 characters, one line, and a name rather than
/// a path (no `/` or `\`), so it is safe to offer as a download name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct FileName(String);

impl FileName {
    /// Trims and checks `input`; the reason for a rejection is in [`TestCaseError::InvalidFileName`].
    pub fn parse(input: &str) -> Result<Self, TestCaseError> {
        let name = label(input, FILE_NAME_MAX_CHARS).map_err(TestCaseError::InvalidFileName)?;
        if name.contains(['/', '\\']) {
            return Err(TestCaseError::InvalidFileName(
                "it must be a file name, without '/' or '\\'".to_owned(),
            ));
        }
        Ok(Self(name.to_owned()))
    }
}

string_newtype!(FileName, TestCaseError);

/// Free text kept exactly as typed (indentation in steps and output matters): at most 10,000 characters,
/// possibly empty. Only NUL is refused, because the event store (Postgres JSON) cannot hold it; other control
/// characters such as terminal colour codes are common in command output and left to the read side to escape.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Text(String);

impl Text {
    /// Checks `input`; the reason for a rejection is in [`TestCaseError::InvalidText`].
    pub fn parse(input: &str) -> Result<Self, TestCaseError> {
        if input.chars().count() > TEXT_MAX_CHARS {
            return Err(TestCaseError::InvalidText(format!(
                "it is longer than {TEXT_MAX_CHARS} characters"
            )));
        }
        if input.contains('\0') {
            return Err(TestCaseError::InvalidText(
                "it contains a NUL character".to_owned(),
            ));
        }
        Ok(Self(input.to_owned()))
    }
}

string_newtype!(Text, TestCaseError);

/// Prose a person writes for other people: a comment, or the reason for rejecting, abandoning or reopening.
/// Trimmed, 1 to 10,000 characters; line breaks and tabs are kept, other control characters refused.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Note(String);

impl Note {
    /// Trims and checks `input`; the reason for a rejection is in [`TestCaseError::InvalidNote`].
    pub fn parse(input: &str) -> Result<Self, TestCaseError> {
        prose(input, TEXT_MAX_CHARS)
            .map(|note| Self(note.to_owned()))
            .map_err(TestCaseError::InvalidNote)
    }
}

string_newtype!(Note, TestCaseError);

/// Where the procedure comes from. Persisted inside the plan as an object tagged by `kind`
/// (`{"kind":"atomic_test","guid":"…"}`), so a variant's name and fields are part of the event schema.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ProcedureSource {
    /// An Atomic Red Team test, by its GUID.
    AtomicTest { guid: Uuid },
    /// A MITRE CALDERA ability, by its id.
    CalderaAbility { id: TemplateRef },
    /// A LOLBAS project entry (a Windows binary, script or library), by its name.
    Lolbas { entry: TemplateRef },
    /// A GTFOBins entry (a Unix binary), by its name.
    Gtfobins { entry: TemplateRef },
    /// Written by hand for this test; the steps say what to do.
    Manual,
}

/// What red plans to do: everything `PlanTestCase` sets and `EditPlan` replaces as a whole. Persisted inside
/// `Planned` and `PlanEdited`, so its fields are part of the event schema.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    pub title: Title,
    /// What the test is meant to show, e.g. "an LSASS dump through comsvcs.dll is blocked".
    pub objective: Text,
    pub technique: TechniqueId,
    pub procedure: ProcedureSource,
    /// The command or steps red will run.
    pub steps: Text,
    pub platforms: BTreeSet<Platform>,
    pub targets: BTreeSet<Target>,
    pub tags: BTreeSet<Tag>,
    /// Whether blue is kept from red's procedure and timings until `RevealToBlue` (see the module docs).
    pub blind: bool,
}

/// One run of the procedure as red records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Execution {
    /// The command actually run, which may differ from the planned steps.
    pub command: Text,
    pub target: Target,
    pub started_at: DateTime<Utc>,
    /// Not before `started_at`.
    pub stopped_at: DateTime<Utc>,
    /// The relevant part of the output; the whole output belongs in evidence.
    pub output_excerpt: Text,
}

/// What one defensive tool did about the test, as blue records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DefenseOutcome {
    pub tool: ToolName,
    pub outcome: Outcome,
    /// The severity of the alert the tool raised, if any. Only for detections.
    pub severity: Option<Severity>,
    /// When the tool detected the test, by the tool's clock. Only for detections.
    pub detected_at: Option<DateTime<Utc>>,
    /// The rules that fired. Only for detections.
    pub rules_fired: BTreeSet<DetectionRuleRef>,
}

impl DefenseOutcome {
    /// Whether the record says the tool noticed something, which only a detection may say.
    fn claims_detection(&self) -> bool {
        self.severity.is_some() || self.detected_at.is_some() || !self.rules_fired.is_empty()
    }
}

/// What a defensive tool did. Declared from weakest to strongest so that the derived `Ord` is the rule that
/// combines tools (see [`TestCase::outcome`]); persisted by name (`"not_detected"`), so the order of
/// declaration is not part of the schema but the names are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The tool does not cover this technique or platform; it counts only when every tool says so.
    NotApplicable,
    /// The tool saw nothing.
    NotDetected,
    /// The tool recorded telemetry but raised no alert.
    Logged,
    /// The tool raised an alert.
    Alerted,
    /// The tool stopped the procedure.
    Blocked,
}

impl Outcome {
    /// Whether the tool noticed the test; only detections carry a severity, a detection time or fired rules.
    pub const fn is_detection(self) -> bool {
        matches!(self, Self::Logged | Self::Alerted | Self::Blocked)
    }
}

/// The severity of an alert, ordered from `Info` to `Critical`. Persisted by name (`"high"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

/// Red or blue. Persisted by name (`"red"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    Red,
    Blue,
}

impl Side {
    /// The roles of this side: its lead and its techs.
    pub const fn roles(self) -> &'static [Role] {
        match self {
            Self::Red => RED_SIDE,
            Self::Blue => BLUE_SIDE,
        }
    }

    /// The state this side works in: red executes, blue reviews.
    pub const fn working_state(self) -> ActiveState {
        match self {
            Self::Red => ActiveState::Executing,
            Self::Blue => ActiveState::Reviewing,
        }
    }

    const fn lead(self) -> Role {
        match self {
            Self::Red => Role::RedLead,
            Self::Blue => Role::BlueLead,
        }
    }
}

/// The states in which work happens; a paused test case remembers which one it returns to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActiveState {
    Planned,
    Assigned,
    Executing,
    Executed,
    Reviewing,
    AwaitingApproval,
}

/// Where a test case is in its workflow (see the module docs for the transitions).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TestState {
    Planned,
    Assigned,
    Executing,
    Executed,
    Reviewing,
    AwaitingApproval,
    Completed,
    /// Frozen by a lead; `Resume` returns to `previous`.
    Paused {
        previous: ActiveState,
    },
    Abandoned,
}

impl TestState {
    /// The state as an [`ActiveState`]; `None` when paused, completed or abandoned.
    pub const fn active(self) -> Option<ActiveState> {
        match self {
            Self::Planned => Some(ActiveState::Planned),
            Self::Assigned => Some(ActiveState::Assigned),
            Self::Executing => Some(ActiveState::Executing),
            Self::Executed => Some(ActiveState::Executed),
            Self::Reviewing => Some(ActiveState::Reviewing),
            Self::AwaitingApproval => Some(ActiveState::AwaitingApproval),
            Self::Completed | Self::Paused { .. } | Self::Abandoned => None,
        }
    }

    /// Whether the test case may still move on: neither completed nor abandoned.
    pub const fn is_open(self) -> bool {
        !matches!(self, Self::Completed | Self::Abandoned)
    }

    /// The state's name, the one serde writes (without the paused state's `previous`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Planned => "planned",
            Self::Assigned => "assigned",
            Self::Executing => "executing",
            Self::Executed => "executed",
            Self::Reviewing => "reviewing",
            Self::AwaitingApproval => "awaiting_approval",
            Self::Completed => "completed",
            Self::Paused { .. } => "paused",
            Self::Abandoned => "abandoned",
        }
    }
}

impl From<ActiveState> for TestState {
    fn from(state: ActiveState) -> Self {
        match state {
            ActiveState::Planned => Self::Planned,
            ActiveState::Assigned => Self::Assigned,
            ActiveState::Executing => Self::Executing,
            ActiveState::Executed => Self::Executed,
            ActiveState::Reviewing => Self::Reviewing,
            ActiveState::AwaitingApproval => Self::AwaitingApproval,
        }
    }
}

impl fmt::Display for TestState {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

/// A file attached to a test case; the file itself is in object storage.
///
/// Persisted inside `EvidenceAttached`. `stored` was added after version 1 of the event: events written before
/// it have none and still load (it defaults to `None` and is left out when absent, so their JSON is unchanged).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvidenceRef {
    pub id: Uuid,
    pub sha256: Sha256,
    pub file_name: FileName,
    /// Where the verified object is kept and what it is, as the command layer checked it on upload.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stored: Option<StoredObject>,
}

/// A verified evidence object: its storage key (chosen by the server, never by the client), its size in
/// bytes and the content type its first bytes were checked against.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredObject {
    pub key: String,
    pub size: u64,
    pub content_type: String,
}

/// Evidence of the current run and the side that attached it (which is also the side that may remove it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttachedEvidence {
    pub side: Side,
    pub evidence: EvidenceRef,
}

/// A request to a test case: who asks, when, and what. Serializable because the command layer hashes the
/// serialized form to recognise a retried command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TestCaseCommand {
    pub actor: Actor,
    pub at: DateTime<Utc>,
    pub action: TestCaseAction,
}

/// What may be asked of a test case; the module docs list who may ask what, and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum TestCaseAction {
    /// Create the test case (run 1, planned).
    PlanTestCase {
        plan: Plan,
    },
    /// Replace the plan before execution starts.
    EditPlan {
        plan: Plan,
    },
    /// Assign the red and/or the blue tech; `None` leaves that side as it is, and at least one is given.
    AssignTestCase {
        red_assignee: Option<Uuid>,
        blue_assignee: Option<Uuid>,
    },
    StartExecution,
    /// Record one execution; repeatable while executing.
    RecordExecution {
        execution: Execution,
    },
    /// Hand over to blue; at least one execution must be recorded.
    CompleteExecution,
    StartReview,
    /// Record what one tool did; recording a tool again replaces its outcome (a correction, with a new event).
    RecordDefenseOutcome {
        defense: DefenseOutcome,
    },
    /// Ask the leads for approval; at least one outcome must be recorded.
    SubmitForApproval,
    ApproveResult,
    /// Send the result back to red (executing) or to blue (reviewing).
    RejectResult {
        reason: Note,
        back_to: Side,
    },
    Pause,
    Resume,
    Abandon {
        reason: Note,
    },
    /// Start the next run of a completed or abandoned test case.
    Reopen {
        reason: Note,
    },
    /// Show a blind test's procedure and timings to blue, for good.
    RevealToBlue,
    LinkDetectionRule {
        rule: DetectionRuleRef,
    },
    UnlinkDetectionRule {
        rule: DetectionRuleRef,
    },
    AddComment {
        body: Note,
    },
    /// Attach evidence for the side whose state it is: red while executing, blue while reviewing.
    AttachEvidence {
        evidence: EvidenceRef,
    },
    /// Remove evidence of the current run; the attachment stays in the event log.
    RemoveEvidence {
        evidence_id: Uuid,
    },
}

/// What happened to a test case. Persisted: a variant's shape never changes (see the crate docs). Every
/// event carries the acting user and the time of the command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum TestCaseEvent {
    /// The test case exists from now on, planned, in run 1.
    Planned {
        planned_by: Uuid,
        at: DateTime<Utc>,
        plan: Plan,
    },
    /// The plan is now `plan`.
    PlanEdited {
        edited_by: Uuid,
        at: DateTime<Utc>,
        plan: Plan,
    },
    /// The test case is assigned; a `None` side kept its assignee.
    Assigned {
        assigned_by: Uuid,
        at: DateTime<Utc>,
        red_assignee: Option<Uuid>,
        blue_assignee: Option<Uuid>,
    },
    ExecutionStarted {
        started_by: Uuid,
        at: DateTime<Utc>,
    },
    ExecutionRecorded {
        recorded_by: Uuid,
        at: DateTime<Utc>,
        execution: Execution,
    },
    ExecutionCompleted {
        completed_by: Uuid,
        at: DateTime<Utc>,
    },
    ReviewStarted {
        started_by: Uuid,
        at: DateTime<Utc>,
    },
    /// `defense` is the outcome of its tool in this run, replacing any earlier one.
    OutcomeRecorded {
        recorded_by: Uuid,
        at: DateTime<Utc>,
        defense: DefenseOutcome,
    },
    SubmittedForApproval {
        submitted_by: Uuid,
        at: DateTime<Utc>,
    },
    /// The run is completed with the derived `outcome` it had when approved.
    ResultApproved {
        approved_by: Uuid,
        at: DateTime<Utc>,
        outcome: Outcome,
    },
    /// The result went back to `back_to`'s working state.
    ResultRejected {
        rejected_by: Uuid,
        at: DateTime<Utc>,
        reason: Note,
        back_to: Side,
    },
    /// The test case is paused in `previous`.
    Paused {
        paused_by: Uuid,
        at: DateTime<Utc>,
        previous: ActiveState,
    },
    /// The test case is back in `state`.
    Resumed {
        resumed_by: Uuid,
        at: DateTime<Utc>,
        state: ActiveState,
    },
    Abandoned {
        abandoned_by: Uuid,
        at: DateTime<Utc>,
        reason: Note,
    },
    /// Run `run` started, assigned, without executions, outcomes or evidence.
    Reopened {
        reopened_by: Uuid,
        at: DateTime<Utc>,
        reason: Note,
        run: u32,
    },
    RevealedToBlue {
        revealed_by: Uuid,
        at: DateTime<Utc>,
    },
    DetectionRuleLinked {
        linked_by: Uuid,
        at: DateTime<Utc>,
        rule: DetectionRuleRef,
    },
    DetectionRuleUnlinked {
        unlinked_by: Uuid,
        at: DateTime<Utc>,
        rule: DetectionRuleRef,
    },
    CommentAdded {
        author: Uuid,
        at: DateTime<Utc>,
        body: Note,
    },
    /// `side` attached `evidence` to the current run.
    EvidenceAttached {
        attached_by: Uuid,
        at: DateTime<Utc>,
        side: Side,
        evidence: EvidenceRef,
    },
    EvidenceRemoved {
        removed_by: Uuid,
        at: DateTime<Utc>,
        evidence_id: Uuid,
    },
}

impl DomainEvent for TestCaseEvent {
    fn event_type(&self) -> String {
        match self {
            Self::Planned { .. } => "TestCasePlanned",
            Self::PlanEdited { .. } => "TestCasePlanEdited",
            Self::Assigned { .. } => "TestCaseAssigned",
            Self::ExecutionStarted { .. } => "TestCaseExecutionStarted",
            Self::ExecutionRecorded { .. } => "TestCaseExecutionRecorded",
            Self::ExecutionCompleted { .. } => "TestCaseExecutionCompleted",
            Self::ReviewStarted { .. } => "TestCaseReviewStarted",
            Self::OutcomeRecorded { .. } => "TestCaseOutcomeRecorded",
            Self::SubmittedForApproval { .. } => "TestCaseSubmittedForApproval",
            Self::ResultApproved { .. } => "TestCaseResultApproved",
            Self::ResultRejected { .. } => "TestCaseResultRejected",
            Self::Paused { .. } => "TestCasePaused",
            Self::Resumed { .. } => "TestCaseResumed",
            Self::Abandoned { .. } => "TestCaseAbandoned",
            Self::Reopened { .. } => "TestCaseReopened",
            Self::RevealedToBlue { .. } => "TestCaseRevealedToBlue",
            Self::DetectionRuleLinked { .. } => "TestCaseDetectionRuleLinked",
            Self::DetectionRuleUnlinked { .. } => "TestCaseDetectionRuleUnlinked",
            Self::CommentAdded { .. } => "TestCaseCommentAdded",
            Self::EvidenceAttached { .. } => "TestCaseEvidenceAttached",
            Self::EvidenceRemoved { .. } => "TestCaseEvidenceRemoved",
        }
        .to_owned()
    }

    fn event_version(&self) -> String {
        "1".to_owned()
    }
}

/// Why a test case command or value was rejected. The messages are written for end users; [`Self::code`] is
/// the stable code clients match on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TestCaseError {
    /// Not an ATT&CK technique id; carries the input.
    #[error("\"{0}\" is not an ATT&CK technique id; write T1234 or T1234.001.")]
    InvalidTechnique(String),
    #[error("The title is not valid: {0}.")]
    InvalidTitle(String),
    #[error("The tag is not valid: {0}.")]
    InvalidTag(String),
    #[error("The platform is not valid: {0}.")]
    InvalidPlatform(String),
    #[error("The target is not valid: {0}.")]
    InvalidTarget(String),
    #[error("The tool name is not valid: {0}.")]
    InvalidToolName(String),
    #[error("The detection rule id is not valid: {0}.")]
    InvalidDetectionRule(String),
    #[error("The procedure library entry is not valid: {0}.")]
    InvalidTemplateRef(String),
    /// Not a SHA-256 digest; carries the input.
    #[error("\"{0}\" is not a SHA-256 digest (64 hexadecimal digits).")]
    InvalidSha256(String),
    #[error("The file name is not valid: {0}.")]
    InvalidFileName(String),
    #[error("The text is not valid: {0}.")]
    InvalidText(String),
    #[error("The comment or reason is not valid: {0}.")]
    InvalidNote(String),
    /// Any command but `PlanTestCase` on a test case that was never planned.
    #[error("This test case does not exist.")]
    NotFound,
    /// `PlanTestCase` on a test case that exists.
    #[error("This test case already exists.")]
    AlreadyExists,
    /// The actor holds none of these roles (nor admin).
    #[error("This needs one of the roles {}.", role_names(.0))]
    RoleRequired(&'static [Role]),
    /// A tech acting on a side of the test case they are not assigned to.
    #[error("Only the assigned tech or a lead may do this.")]
    NotAssignee,
    /// The command is not possible in the current state, which it carries.
    #[error("Not possible while the test case is {state}.")]
    WrongState { state: TestState },
    /// A lead approving a run in which they recorded an outcome.
    #[error("You recorded an outcome in this run, so another lead must approve it.")]
    SelfApproval,
    /// `AssignTestCase` without an assignee.
    #[error("Name a red or a blue assignee.")]
    NothingToAssign,
    /// An execution that stops before it starts.
    #[error("An execution cannot stop before it starts.")]
    InvalidTimeRange,
    /// A non-detection (`NotDetected`, `NotApplicable`) with a severity, a detection time or fired rules.
    #[error("Only a detection has a severity, a detection time or fired rules.")]
    InconsistentOutcome,
    /// `CompleteExecution` before any execution is recorded.
    #[error("Record at least one execution first.")]
    NoExecution,
    /// `SubmitForApproval` before any outcome is recorded.
    #[error("Record at least one defense outcome first.")]
    NoOutcome,
    /// `RevealToBlue` on a test that is not blind.
    #[error("This test is not blind.")]
    NotBlind,
    #[error("This test is already revealed to blue.")]
    AlreadyRevealed,
    #[error("The detection rule {0} is already linked.")]
    AlreadyLinked(DetectionRuleRef),
    #[error("The detection rule {0} is not linked.")]
    NotLinked(DetectionRuleRef),
    /// `AttachEvidence` with the id of evidence already attached in this run.
    #[error("Evidence {0} is already attached.")]
    DuplicateEvidence(Uuid),
    /// `RemoveEvidence` of evidence that is not attached in this run.
    #[error("There is no evidence {0} in this run.")]
    UnknownEvidence(Uuid),
}

impl TestCaseError {
    /// The stable code of the rejection, for clients and logs.
    pub const fn code(&self) -> &'static str {
        match self {
            Self::InvalidTechnique(_) => "INVALID_TECHNIQUE",
            Self::InvalidTitle(_) => "INVALID_TITLE",
            Self::InvalidTag(_) => "INVALID_TAG",
            Self::InvalidPlatform(_) => "INVALID_PLATFORM",
            Self::InvalidTarget(_) => "INVALID_TARGET",
            Self::InvalidToolName(_) => "INVALID_TOOL_NAME",
            Self::InvalidDetectionRule(_) => "INVALID_DETECTION_RULE",
            Self::InvalidTemplateRef(_) => "INVALID_TEMPLATE_REF",
            Self::InvalidSha256(_) => "INVALID_SHA256",
            Self::InvalidFileName(_) => "INVALID_FILE_NAME",
            Self::InvalidText(_) => "INVALID_TEXT",
            Self::InvalidNote(_) => "INVALID_NOTE",
            Self::NotFound => "NOT_FOUND",
            Self::AlreadyExists => "ALREADY_EXISTS",
            Self::RoleRequired(_) => "ROLE_REQUIRED",
            Self::NotAssignee => "NOT_ASSIGNEE",
            Self::WrongState { .. } => "WRONG_STATE",
            Self::SelfApproval => "SELF_APPROVAL",
            Self::NothingToAssign => "NOTHING_TO_ASSIGN",
            Self::InvalidTimeRange => "INVALID_TIME_RANGE",
            Self::InconsistentOutcome => "INCONSISTENT_OUTCOME",
            Self::NoExecution => "NO_EXECUTION",
            Self::NoOutcome => "NO_OUTCOME",
            Self::NotBlind => "NOT_BLIND",
            Self::AlreadyRevealed => "ALREADY_REVEALED",
            Self::AlreadyLinked(_) => "ALREADY_LINKED",
            Self::NotLinked(_) => "NOT_LINKED",
            Self::DuplicateEvidence(_) => "DUPLICATE_EVIDENCE",
            Self::UnknownEvidence(_) => "UNKNOWN_EVIDENCE",
        }
    }
}

/// `roles` by name, for messages: "red_lead, blue_lead".
fn role_names(roles: &[Role]) -> String {
    roles
        .iter()
        .map(|role| role.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// `ROLE_REQUIRED` unless the actor holds one of `roles` or is an admin.
fn require(actor: &Actor, roles: &'static [Role]) -> Result<(), TestCaseError> {
    if actor.has_any(roles) {
        Ok(())
    } else {
        Err(TestCaseError::RoleRequired(roles))
    }
}

/// `WRONG_STATE` with the current state unless `allowed`.
fn require_state(state: TestState, allowed: bool) -> Result<(), TestCaseError> {
    if allowed {
        Ok(())
    } else {
        Err(TestCaseError::WrongState { state })
    }
}

/// A test case's current state, rebuilt from its events. Also persisted as a snapshot, so fields added later
/// carry `#[serde(default)]` and older snapshots still load.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TestCase {
    state: Option<TestState>,
    plan: Option<Plan>,
    run: u32,
    red_assignee: Option<Uuid>,
    blue_assignee: Option<Uuid>,
    revealed: bool,
    detection_rules: BTreeSet<DetectionRuleRef>,
    executions: Vec<Execution>,
    outcomes: BTreeMap<ToolName, DefenseOutcome>,
    /// Everyone who recorded an outcome in this run, replaced ones included: none of them may approve it.
    outcome_recorders: BTreeSet<Uuid>,
    evidence: BTreeMap<Uuid, AttachedEvidence>,
}

impl TestCase {
    /// The current state; `None` before `PlanTestCase`.
    pub fn state(&self) -> Option<TestState> {
        self.state
    }

    /// The current plan; `None` before `PlanTestCase`.
    pub fn plan(&self) -> Option<&Plan> {
        self.plan.as_ref()
    }

    /// The current run, from 1; 0 before `PlanTestCase`.
    pub fn run(&self) -> u32 {
        self.run
    }

    pub fn red_assignee(&self) -> Option<Uuid> {
        self.red_assignee
    }

    pub fn blue_assignee(&self) -> Option<Uuid> {
        self.blue_assignee
    }

    /// Whether the test is blind and not yet revealed, i.e. blue must not see red's side (see the module docs).
    pub fn is_hidden_from_blue(&self) -> bool {
        self.plan.as_ref().is_some_and(|plan| plan.blind) && !self.revealed
    }

    /// Whether `RevealToBlue` happened; a reveal lasts across runs.
    pub fn is_revealed(&self) -> bool {
        self.revealed
    }

    pub fn detection_rules(&self) -> &BTreeSet<DetectionRuleRef> {
        &self.detection_rules
    }

    /// The executions of the current run, in the order recorded.
    pub fn executions(&self) -> &[Execution] {
        &self.executions
    }

    /// The outcome of each tool in the current run.
    pub fn outcomes(&self) -> &BTreeMap<ToolName, DefenseOutcome> {
        &self.outcomes
    }

    /// The evidence of the current run that was not removed, by id.
    pub fn evidence(&self) -> &BTreeMap<Uuid, AttachedEvidence> {
        &self.evidence
    }

    /// The outcome of the current run: the strongest of the tools' outcomes (Blocked > Alerted > Logged >
    /// NotDetected), `NotApplicable` only when every tool says so, `None` while no outcome is recorded.
    pub fn outcome(&self) -> Option<Outcome> {
        self.outcomes.values().map(|defense| defense.outcome).max()
    }

    /// The earliest detection time minus the earliest execution start of the current run; `None` without
    /// both. Negative when a tool's clock runs behind red's: detection times are not checked against the
    /// executions, since refusing them would tell blue when a blind test ran.
    pub fn time_to_detect(&self) -> Option<TimeDelta> {
        let started_at = self.executions.iter().map(|run| run.started_at).min()?;
        let detected_at = self
            .outcomes
            .values()
            .filter_map(|defense| defense.detected_at)
            .min()?;
        Some(detected_at.signed_duration_since(started_at))
    }

    /// Decides which events `command` produces, without changing anything. Every accepted command produces
    /// exactly one event. The arms are the workflow table, one per command; the order of the checks within an
    /// arm is the one in the module docs.
    #[expect(
        clippy::too_many_lines,
        reason = "one short arm per command, so the rules read as the workflow table"
    )]
    pub fn decide(&self, command: TestCaseCommand) -> Result<Vec<TestCaseEvent>, TestCaseError> {
        let TestCaseCommand { actor, at, action } = command;
        let by = actor.user_id;
        let Some(state) = self.state else {
            let TestCaseAction::PlanTestCase { plan } = action else {
                return Err(TestCaseError::NotFound);
            };
            require(&actor, LEADS)?;
            return Ok(vec![TestCaseEvent::Planned {
                planned_by: by,
                at,
                plan,
            }]);
        };
        let before_execution = matches!(state, TestState::Planned | TestState::Assigned);
        let event = match action {
            TestCaseAction::PlanTestCase { .. } => {
                require(&actor, LEADS)?;
                return Err(TestCaseError::AlreadyExists);
            }
            TestCaseAction::EditPlan { plan } => {
                require(&actor, LEADS)?;
                require_state(state, before_execution)?;
                TestCaseEvent::PlanEdited {
                    edited_by: by,
                    at,
                    plan,
                }
            }
            TestCaseAction::AssignTestCase {
                red_assignee,
                blue_assignee,
            } => {
                if red_assignee.is_none() && blue_assignee.is_none() {
                    return Err(TestCaseError::NothingToAssign);
                }
                if red_assignee.is_some() {
                    require(&actor, &[Role::RedLead])?;
                }
                if blue_assignee.is_some() {
                    require(&actor, &[Role::BlueLead])?;
                }
                require_state(state, before_execution)?;
                TestCaseEvent::Assigned {
                    assigned_by: by,
                    at,
                    red_assignee,
                    blue_assignee,
                }
            }
            TestCaseAction::StartExecution => {
                self.require_worker(state, &actor, Side::Red, TestState::Assigned)?;
                TestCaseEvent::ExecutionStarted { started_by: by, at }
            }
            TestCaseAction::RecordExecution { execution } => {
                self.require_worker(state, &actor, Side::Red, TestState::Executing)?;
                if execution.stopped_at < execution.started_at {
                    return Err(TestCaseError::InvalidTimeRange);
                }
                TestCaseEvent::ExecutionRecorded {
                    recorded_by: by,
                    at,
                    execution,
                }
            }
            TestCaseAction::CompleteExecution => {
                self.require_worker(state, &actor, Side::Red, TestState::Executing)?;
                if self.executions.is_empty() {
                    return Err(TestCaseError::NoExecution);
                }
                TestCaseEvent::ExecutionCompleted {
                    completed_by: by,
                    at,
                }
            }
            TestCaseAction::StartReview => {
                self.require_worker(state, &actor, Side::Blue, TestState::Executed)?;
                TestCaseEvent::ReviewStarted { started_by: by, at }
            }
            TestCaseAction::RecordDefenseOutcome { defense } => {
                self.require_worker(state, &actor, Side::Blue, TestState::Reviewing)?;
                if defense.claims_detection() && !defense.outcome.is_detection() {
                    return Err(TestCaseError::InconsistentOutcome);
                }
                TestCaseEvent::OutcomeRecorded {
                    recorded_by: by,
                    at,
                    defense,
                }
            }
            TestCaseAction::SubmitForApproval => {
                self.require_worker(state, &actor, Side::Blue, TestState::Reviewing)?;
                if self.outcomes.is_empty() {
                    return Err(TestCaseError::NoOutcome);
                }
                TestCaseEvent::SubmittedForApproval {
                    submitted_by: by,
                    at,
                }
            }
            TestCaseAction::ApproveResult => {
                require(&actor, LEADS)?;
                require_state(state, state == TestState::AwaitingApproval)?;
                if !actor.is_admin() && self.outcome_recorders.contains(&by) {
                    return Err(TestCaseError::SelfApproval);
                }
                // Submitting needed an outcome and outcomes are only replaced, so this always succeeds.
                let outcome = self.outcome().ok_or(TestCaseError::NoOutcome)?;
                TestCaseEvent::ResultApproved {
                    approved_by: by,
                    at,
                    outcome,
                }
            }
            TestCaseAction::RejectResult { reason, back_to } => {
                require(&actor, LEADS)?;
                require_state(state, state == TestState::AwaitingApproval)?;
                TestCaseEvent::ResultRejected {
                    rejected_by: by,
                    at,
                    reason,
                    back_to,
                }
            }
            TestCaseAction::Pause => {
                require(&actor, LEADS)?;
                let previous = state.active().ok_or(TestCaseError::WrongState { state })?;
                TestCaseEvent::Paused {
                    paused_by: by,
                    at,
                    previous,
                }
            }
            TestCaseAction::Resume => {
                require(&actor, LEADS)?;
                let TestState::Paused { previous } = state else {
                    return Err(TestCaseError::WrongState { state });
                };
                TestCaseEvent::Resumed {
                    resumed_by: by,
                    at,
                    state: previous,
                }
            }
            TestCaseAction::Abandon { reason } => {
                require(&actor, LEADS)?;
                require_state(state, state.is_open())?;
                TestCaseEvent::Abandoned {
                    abandoned_by: by,
                    at,
                    reason,
                }
            }
            TestCaseAction::Reopen { reason } => {
                require(&actor, LEADS)?;
                require_state(state, !state.is_open())?;
                TestCaseEvent::Reopened {
                    reopened_by: by,
                    at,
                    reason,
                    run: self.run + 1,
                }
            }
            TestCaseAction::RevealToBlue => {
                require(&actor, RED_SIDE)?;
                if !self.plan.as_ref().is_some_and(|plan| plan.blind) {
                    return Err(TestCaseError::NotBlind);
                }
                if self.revealed {
                    return Err(TestCaseError::AlreadyRevealed);
                }
                TestCaseEvent::RevealedToBlue {
                    revealed_by: by,
                    at,
                }
            }
            TestCaseAction::LinkDetectionRule { rule } => {
                require(&actor, RULE_KEEPERS)?;
                if self.detection_rules.contains(&rule) {
                    return Err(TestCaseError::AlreadyLinked(rule));
                }
                TestCaseEvent::DetectionRuleLinked {
                    linked_by: by,
                    at,
                    rule,
                }
            }
            TestCaseAction::UnlinkDetectionRule { rule } => {
                require(&actor, RULE_KEEPERS)?;
                if !self.detection_rules.contains(&rule) {
                    return Err(TestCaseError::NotLinked(rule));
                }
                TestCaseEvent::DetectionRuleUnlinked {
                    unlinked_by: by,
                    at,
                    rule,
                }
            }
            TestCaseAction::AddComment { body } => {
                require(&actor, TEAM)?;
                TestCaseEvent::CommentAdded {
                    author: by,
                    at,
                    body,
                }
            }
            TestCaseAction::AttachEvidence { evidence } => {
                self.decide_attach_evidence(state, &actor, at, evidence)?
            }
            TestCaseAction::RemoveEvidence { evidence_id } => {
                self.decide_remove_evidence(state, &actor, at, evidence_id)?
            }
        };
        Ok(vec![event])
    }

    /// Evidence belongs to the side whose state it is: red while executing, blue while reviewing.
    fn decide_attach_evidence(
        &self,
        state: TestState,
        actor: &Actor,
        at: DateTime<Utc>,
        evidence: EvidenceRef,
    ) -> Result<TestCaseEvent, TestCaseError> {
        let side = match state {
            TestState::Executing => Side::Red,
            TestState::Reviewing => Side::Blue,
            _ => return Err(TestCaseError::WrongState { state }),
        };
        require(actor, side.roles())?;
        if self.evidence.contains_key(&evidence.id) {
            return Err(TestCaseError::DuplicateEvidence(evidence.id));
        }
        Ok(TestCaseEvent::EvidenceAttached {
            attached_by: actor.user_id,
            at,
            side,
            evidence,
        })
    }

    /// Only the side that attached the evidence removes it, and only in its own working state, so blue never
    /// removes red's evidence and nothing changes once the run moved on.
    fn decide_remove_evidence(
        &self,
        state: TestState,
        actor: &Actor,
        at: DateTime<Utc>,
        evidence_id: Uuid,
    ) -> Result<TestCaseEvent, TestCaseError> {
        let Some(attached) = self.evidence.get(&evidence_id) else {
            return Err(TestCaseError::UnknownEvidence(evidence_id));
        };
        require(actor, attached.side.roles())?;
        require_state(state, state == attached.side.working_state().into())?;
        Ok(TestCaseEvent::EvidenceRemoved {
            removed_by: actor.user_id,
            at,
            evidence_id,
        })
    }

    /// The rule of the "assigned" rows: a role of `side`, then the `expected` state, then a tech must be the
    /// side's assignee (leads and admins need not).
    fn require_worker(
        &self,
        state: TestState,
        actor: &Actor,
        side: Side,
        expected: TestState,
    ) -> Result<(), TestCaseError> {
        require(actor, side.roles())?;
        require_state(state, state == expected)?;
        let assignee = match side {
            Side::Red => self.red_assignee,
            Side::Blue => self.blue_assignee,
        };
        if actor.has_any(&[side.lead()]) || assignee == Some(actor.user_id) {
            Ok(())
        } else {
            Err(TestCaseError::NotAssignee)
        }
    }
}

impl Aggregate for TestCase {
    const TYPE: &'static str = "TestCase";
    type Command = TestCaseCommand;
    type Event = TestCaseEvent;
    type Error = TestCaseError;
    type Services = ();

    async fn handle(
        &mut self,
        command: TestCaseCommand,
        _services: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), TestCaseError> {
        for event in self.decide(command)? {
            // The sink applies each event, so `self` is current when the command layer reads it back.
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: TestCaseEvent) {
        match event {
            TestCaseEvent::Planned { plan, .. } => {
                self.state = Some(TestState::Planned);
                self.plan = Some(plan);
                self.run = 1;
            }
            TestCaseEvent::PlanEdited { plan, .. } => self.plan = Some(plan),
            TestCaseEvent::Assigned {
                red_assignee,
                blue_assignee,
                ..
            } => {
                self.state = Some(TestState::Assigned);
                self.red_assignee = red_assignee.or(self.red_assignee);
                self.blue_assignee = blue_assignee.or(self.blue_assignee);
            }
            TestCaseEvent::ExecutionStarted { .. } => self.state = Some(TestState::Executing),
            TestCaseEvent::ExecutionRecorded { execution, .. } => self.executions.push(execution),
            TestCaseEvent::ExecutionCompleted { .. } => self.state = Some(TestState::Executed),
            TestCaseEvent::ReviewStarted { .. } => self.state = Some(TestState::Reviewing),
            TestCaseEvent::OutcomeRecorded {
                recorded_by,
                defense,
                ..
            } => {
                self.outcome_recorders.insert(recorded_by);
                self.outcomes.insert(defense.tool.clone(), defense);
            }
            TestCaseEvent::SubmittedForApproval { .. } => {
                self.state = Some(TestState::AwaitingApproval);
            }
            TestCaseEvent::ResultApproved { .. } => self.state = Some(TestState::Completed),
            TestCaseEvent::ResultRejected { back_to, .. } => {
                self.state = Some(back_to.working_state().into());
            }
            TestCaseEvent::Paused { previous, .. } => {
                self.state = Some(TestState::Paused { previous });
            }
            TestCaseEvent::Resumed { state, .. } => self.state = Some(state.into()),
            TestCaseEvent::Abandoned { .. } => self.state = Some(TestState::Abandoned),
            TestCaseEvent::Reopened { run, .. } => {
                self.state = Some(TestState::Assigned);
                self.run = run;
                self.executions.clear();
                self.outcomes.clear();
                self.outcome_recorders.clear();
                self.evidence.clear();
            }
            TestCaseEvent::RevealedToBlue { .. } => self.revealed = true,
            TestCaseEvent::DetectionRuleLinked { rule, .. } => {
                self.detection_rules.insert(rule);
            }
            TestCaseEvent::DetectionRuleUnlinked { rule, .. } => {
                self.detection_rules.remove(&rule);
            }
            // For the read side; no rule depends on comments.
            TestCaseEvent::CommentAdded { .. } => {}
            TestCaseEvent::EvidenceAttached { side, evidence, .. } => {
                self.evidence
                    .insert(evidence.id, AttachedEvidence { side, evidence });
            }
            TestCaseEvent::EvidenceRemoved { evidence_id, .. } => {
                self.evidence.remove(&evidence_id);
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
