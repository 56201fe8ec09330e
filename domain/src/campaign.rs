//! The `Campaign` aggregate: a planned piece of purple-team work with a name, a scope (ATT&CK techniques
//! and/or a threat actor), a planned window, a status, the test cases that belong to it and, optionally, a
//! recurrence.
//!
//! # Lifecycle
//! `planned → active → completed`, and `planned | active → cancelled`. Details, membership and recurrence
//! may change while the campaign is planned or active; completed and cancelled campaigns are history.
//! Progress is not kept here: projections derive it from the test cases' events.
//!
//! # Recurrence
//! A campaign with a [`Recurrence`] is a *template*. At each due time after the template's planned start the
//! scheduler spawns an *instance*: a new campaign (`CreateInstance`, built by
//! [`Campaign::instance_action`]) that links back to the template and starts with fresh copies of the
//! template's test cases. The template records each spawn (`RecordSpawn`) and refuses a second one for the
//! same due time with [`CampaignError::AlreadySpawned`], which names the instance already chosen. That
//! refusal, together with the event store's optimistic concurrency on the template's stream, is what makes
//! spawning idempotent when a scheduler retries or two schedulers race. The flow in the command layer is:
//! 1. `RecordSpawn { due_at, instance_id }` on the template, with a fresh `instance_id`; on
//!    `AlreadySpawned` continue with the recorded id instead (an earlier attempt may have stopped here);
//! 2. create the copies of the template's test cases (new ids, run 1, planned);
//! 3. `CreateInstance` on `instance_id`; `AlreadyExists` means an earlier attempt finished the job.
//!
//! Who acts, when, and with which ids always arrives inside [`CampaignCommand`]; nothing here reads a clock.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use chrono::{DateTime, SubsecRound, TimeDelta, TimeZone, Utc};
use chrono_tz::Tz;
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::actor::Actor;
use crate::role::Role;
use crate::text::{is_allowed_in_text, is_technique_id, label, prose, string_newtype};

/// Long enough for a descriptive title, short enough for every list and report heading.
const NAME_MAX_CHARS: usize = 200;
/// A few screens of text; longer material belongs in attached documents.
const DESCRIPTION_MAX_CHARS: usize = 5000;
/// A sentence or a short paragraph, like the reasons recorded elsewhere in the audit trail.
const REASON_MAX_CHARS: usize = 500;
/// More than every technique and sub-technique in ATT&CK Enterprise, so a real scope always fits while an
/// event stays a reasonable size.
const SCOPE_MAX_TECHNIQUES: usize = 1000;
/// Upper bound on the due times one call returns, so a per-minute schedule over a long range stays cheap.
pub const MAX_DUE_TIMES: usize = 1000;
/// How many occurrences [`Recurrence::next_due_after`] may skip while leaving a repeated hour (a fall-back
/// change of the clocks): a day of per-minute occurrences, more than any time zone ever repeats.
const MAX_REPEATED_HOUR_STEPS: usize = 24 * 60;

/// Roles that plan and run campaigns; admins may always act as well.
const CAMPAIGN_MANAGERS: &[Role] = &[Role::RedLead, Role::BlueLead];

/// A campaign's title: trimmed, 1 to 200 characters, no control characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CampaignName(String);

impl CampaignName {
    /// Trims and checks `input`; the reason for a rejection is in [`CampaignError::InvalidName`].
    pub fn parse(input: &str) -> Result<Self, CampaignError> {
        label(input, NAME_MAX_CHARS)
            .map(|name| Self(name.to_owned()))
            .map_err(CampaignError::InvalidName)
    }
}

string_newtype!(CampaignName, CampaignError);

/// What a campaign is about, in free text: trimmed, at most 5000 characters, line breaks allowed. May be
/// empty ([`Default`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CampaignDescription(String);

impl CampaignDescription {
    /// Trims and checks `input`; the reason for a rejection is in [`CampaignError::InvalidDescription`].
    pub fn parse(input: &str) -> Result<Self, CampaignError> {
        let invalid = |reason: &str| Err(CampaignError::InvalidDescription(reason.to_owned()));
        let description = input.trim();
        if description.chars().count() > DESCRIPTION_MAX_CHARS {
            return invalid("it is longer than 5000 characters");
        }
        if !description.chars().all(is_allowed_in_text) {
            return invalid("it contains control characters other than line breaks and tabs");
        }
        Ok(Self(description.to_owned()))
    }
}

string_newtype!(CampaignDescription, CampaignError, without Display);

/// Why a campaign was cancelled: trimmed, 1 to 500 characters, line breaks allowed.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CancellationReason(String);

impl CancellationReason {
    /// Trims and checks `input`; the reason for a rejection is in [`CampaignError::InvalidReason`].
    pub fn parse(input: &str) -> Result<Self, CampaignError> {
        prose(input, REASON_MAX_CHARS)
            .map(|reason| Self(reason.to_owned()))
            .map_err(CampaignError::InvalidReason)
    }
}

string_newtype!(CancellationReason, CampaignError, without Display);

/// An ATT&CK technique or sub-technique id in a campaign's scope: `T` and four digits, optionally `.` and
/// three more (`T1059`, `T1059.001`). Trimmed and upper-cased, so `t1059` and `T1059` are one technique.
///
/// Only the syntax is checked: whether the technique exists in the loaded ATT&CK release is a question for
/// the catalogue, which the domain does not hold.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ScopeTechnique(String);

impl ScopeTechnique {
    /// Normalises and checks `input`; the reason for a rejection is in [`CampaignError::InvalidScope`].
    pub fn parse(input: &str) -> Result<Self, CampaignError> {
        let id = input.trim().to_ascii_uppercase();
        if !is_technique_id(&id) {
            return Err(CampaignError::InvalidScope(format!(
                "\"{}\" is not a technique id such as T1059 or T1059.001",
                input.trim()
            )));
        }
        Ok(Self(id))
    }
}

string_newtype!(ScopeTechnique, CampaignError);

/// An ATT&CK group id in a campaign's scope: `G` and four digits (`G0016`). Trimmed and upper-cased.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ScopeThreatActor(String);

impl ScopeThreatActor {
    /// Normalises and checks `input`; the reason for a rejection is in [`CampaignError::InvalidScope`].
    pub fn parse(input: &str) -> Result<Self, CampaignError> {
        let id = input.trim().to_ascii_uppercase();
        let valid = id
            .strip_prefix('G')
            .is_some_and(|rest| rest.len() == 4 && rest.bytes().all(|byte| byte.is_ascii_digit()));
        if !valid {
            return Err(CampaignError::InvalidScope(format!(
                "\"{}\" is not a threat actor (group) id such as G0016",
                input.trim()
            )));
        }
        Ok(Self(id))
    }
}

string_newtype!(ScopeThreatActor, CampaignError);

/// What a campaign covers: techniques, a threat actor, or both, never nothing. Persisted as
/// `{"techniques":["T1059"],"threat_actor":"G0016"}` (`threat_actor` may be `null`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "ScopeFields", into = "ScopeFields")]
pub struct CampaignScope {
    techniques: BTreeSet<ScopeTechnique>,
    threat_actor: Option<ScopeThreatActor>,
}

/// The stored shape of a [`CampaignScope`], checked on the way in.
#[derive(Serialize, Deserialize)]
struct ScopeFields {
    techniques: BTreeSet<ScopeTechnique>,
    threat_actor: Option<ScopeThreatActor>,
}

impl CampaignScope {
    /// A scope of at least one technique or a threat actor, with at most 1000 techniques.
    pub fn new(
        techniques: BTreeSet<ScopeTechnique>,
        threat_actor: Option<ScopeThreatActor>,
    ) -> Result<Self, CampaignError> {
        if techniques.is_empty() && threat_actor.is_none() {
            return Err(CampaignError::InvalidScope(
                "it names neither a technique nor a threat actor".to_owned(),
            ));
        }
        if techniques.len() > SCOPE_MAX_TECHNIQUES {
            return Err(CampaignError::InvalidScope(
                "it names more than 1000 techniques".to_owned(),
            ));
        }
        Ok(Self {
            techniques,
            threat_actor,
        })
    }

    /// Parses every technique id and the threat actor id, then builds the scope; the first bad id is the
    /// reason for a rejection.
    pub fn parse<'a>(
        techniques: impl IntoIterator<Item = &'a str>,
        threat_actor: Option<&str>,
    ) -> Result<Self, CampaignError> {
        let techniques = techniques
            .into_iter()
            .map(ScopeTechnique::parse)
            .collect::<Result<BTreeSet<_>, _>>()?;
        let threat_actor = threat_actor.map(ScopeThreatActor::parse).transpose()?;
        Self::new(techniques, threat_actor)
    }

    pub fn techniques(&self) -> &BTreeSet<ScopeTechnique> {
        &self.techniques
    }

    pub fn threat_actor(&self) -> Option<&ScopeThreatActor> {
        self.threat_actor.as_ref()
    }
}

impl TryFrom<ScopeFields> for CampaignScope {
    type Error = CampaignError;

    fn try_from(fields: ScopeFields) -> Result<Self, Self::Error> {
        Self::new(fields.techniques, fields.threat_actor)
    }
}

impl From<CampaignScope> for ScopeFields {
    fn from(scope: CampaignScope) -> Self {
        Self {
            techniques: scope.techniques,
            threat_actor: scope.threat_actor,
        }
    }
}

/// When a recurring campaign is due: a five-field cron expression (minute, hour, day of month, month, day
/// of week; croner's syntax, so `L`, `W`, `#` and names like `MON` work) read in an IANA time zone.
/// Persisted as `{"cron":"0 9 * * 1","timezone":"Europe/Berlin"}`.
///
/// Due times are wall-clock times in the zone, so "09:00 every Monday" stays 09:00 across daylight-saving
/// changes. Where the clocks jump forward, a time inside the gap fires at the first instant after it if the
/// expression names one fixed time of day, and is skipped otherwise; where the clocks fall back, a repeated
/// wall-clock time fires once, at its first occurrence.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "RecurrenceFields", into = "RecurrenceFields")]
pub struct Recurrence {
    cron: String,
    timezone: String,
}

/// The stored shape of a [`Recurrence`], checked on the way in.
#[derive(Serialize, Deserialize)]
struct RecurrenceFields {
    cron: String,
    timezone: String,
}

impl Recurrence {
    /// Checks both parts; the reason for a rejection is in [`CampaignError::InvalidRecurrence`]. The
    /// expression is kept with its fields separated by single spaces, the zone by its canonical name.
    ///
    /// An expression that never fires (such as February 30th) is rejected: it is searched for from
    /// 2000-01-01, a fixed point so that the answer does not depend on the day of the request.
    pub fn parse(cron: &str, timezone: &str) -> Result<Self, CampaignError> {
        let invalid = |reason: String| Err(CampaignError::InvalidRecurrence(reason));
        let fields: Vec<&str> = cron.split_whitespace().collect();
        if fields.len() != 5 {
            return invalid(format!(
                "the schedule \"{}\" must have five fields: minute, hour, day of month, month, day of week",
                cron.trim()
            ));
        }
        let cron = fields.join(" ");
        let schedule = match parse_schedule(&cron) {
            Ok(schedule) => schedule,
            Err(error) => return invalid(format!("the schedule \"{cron}\" is not valid: {error}")),
        };
        let Ok(zone) = timezone.trim().parse::<Tz>() else {
            return invalid(format!(
                "\"{}\" is not an IANA time zone such as Europe/Berlin",
                timezone.trim()
            ));
        };
        let reference = zone.with_ymd_and_hms(2000, 1, 1, 0, 0, 0).earliest();
        let fires =
            reference.is_some_and(|start| schedule.find_next_occurrence(&start, true).is_ok());
        if !fires {
            return invalid(format!("the schedule \"{cron}\" never fires"));
        }
        Ok(Self {
            cron,
            timezone: zone.name().to_owned(),
        })
    }

    /// The cron expression, fields separated by single spaces.
    pub fn cron(&self) -> &str {
        &self.cron
    }

    /// The IANA name of the time zone the expression is read in.
    pub fn timezone(&self) -> &str {
        &self.timezone
    }

    /// The first due time strictly after `after`, or `None` if the schedule never fires again (or the
    /// calendar ends first).
    pub fn next_due_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let schedule = parse_schedule(&self.cron).ok()?;
        let zone = self.timezone.parse::<Tz>().ok()?;
        // Whole seconds: croner keeps the fraction of its starting point in what it finds, and due times
        // are whole minutes.
        let mut probe = after.trunc_subsecs(0).with_timezone(&zone);
        // croner searches wall-clock time. When `after` lies in the second pass of a repeated hour, it can
        // find the first pass of a later wall-clock time, which is earlier than `after` and has fired
        // already; search on from there until the answer lies after `after`.
        for _ in 0..MAX_REPEATED_HOUR_STEPS {
            let found = schedule.find_next_occurrence(&probe, false).ok()?;
            let found_utc = found.with_timezone(&Utc);
            if found_utc > after {
                return Some(found_utc);
            }
            probe = found;
        }
        None
    }

    /// The due times in `(from, to]`, oldest first, at most [`MAX_DUE_TIMES`] of them (the earliest ones).
    pub fn due_times_between(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<DateTime<Utc>> {
        let mut due_times = Vec::new();
        let mut cursor = from;
        while due_times.len() < MAX_DUE_TIMES {
            match self.next_due_after(cursor) {
                Some(due_at) if due_at <= to => {
                    due_times.push(due_at);
                    cursor = due_at;
                }
                _ => break,
            }
        }
        due_times
    }

    /// Whether the schedule fires exactly at `instant`.
    pub fn is_due_time(&self, instant: DateTime<Utc>) -> bool {
        instant
            .checked_sub_signed(TimeDelta::seconds(1))
            .and_then(|before| self.next_due_after(before))
            == Some(instant)
    }
}

/// croner configured for exactly five fields, minute first (no seconds, no years).
fn parse_schedule(cron: &str) -> Result<Cron, croner::errors::CronError> {
    CronParser::builder()
        .seconds(Seconds::Disallowed)
        .year(Year::Disallowed)
        .build()
        .parse(cron)
}

impl TryFrom<RecurrenceFields> for Recurrence {
    type Error = CampaignError;

    fn try_from(fields: RecurrenceFields) -> Result<Self, Self::Error> {
        Self::parse(&fields.cron, &fields.timezone)
    }
}

impl From<Recurrence> for RecurrenceFields {
    fn from(recurrence: Recurrence) -> Self {
        Self {
            cron: recurrence.cron,
            timezone: recurrence.timezone,
        }
    }
}

/// Where a campaign is in its lifecycle. Persisted by name (`"planned"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CampaignStatus {
    /// Created, not started: details, membership and recurrence may change.
    Planned,
    /// Running: test cases are being executed; details may still change.
    Active,
    /// Finished as planned. Final.
    Completed,
    /// Abandoned, with a reason. Final.
    Cancelled,
}

impl CampaignStatus {
    /// The status' stable name, the same one serde writes.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Planned => "planned",
            Self::Active => "active",
            Self::Completed => "completed",
            Self::Cancelled => "cancelled",
        }
    }

    /// Whether the campaign may still change: planned or active.
    pub const fn is_open(self) -> bool {
        matches!(self, Self::Planned | Self::Active)
    }
}

impl fmt::Display for CampaignStatus {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

/// A campaign command: who asks, when, and what. Serializable because the command layer hashes commands
/// to recognise a retried request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CampaignCommand {
    pub actor: Actor,
    pub at: DateTime<Utc>,
    pub action: CampaignAction,
}

/// What may be asked of a campaign. Every action needs the `red_lead` or `blue_lead` role (or `admin`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum CampaignAction {
    /// Create the campaign, planned; with a recurrence it is a template for instances.
    Create {
        name: CampaignName,
        description: CampaignDescription,
        scope: CampaignScope,
        planned_start: DateTime<Utc>,
        planned_end: DateTime<Utc>,
        recurrence: Option<Recurrence>,
    },
    /// Create the campaign as the instance of `template_id` due at `due_at`, planned, with `test_cases`
    /// (fresh copies of the template's) as members. Build it with [`Campaign::instance_action`].
    CreateInstance {
        template_id: Uuid,
        due_at: DateTime<Utc>,
        name: CampaignName,
        description: CampaignDescription,
        scope: CampaignScope,
        planned_start: DateTime<Utc>,
        planned_end: DateTime<Utc>,
        test_cases: BTreeSet<Uuid>,
    },
    /// Replace name, description, scope and planned window, while planned or active.
    Edit {
        name: CampaignName,
        description: CampaignDescription,
        scope: CampaignScope,
        planned_start: DateTime<Utc>,
        planned_end: DateTime<Utc>,
    },
    /// Start a planned campaign.
    Activate,
    /// Finish an active campaign.
    Complete,
    /// Abandon a planned or active campaign.
    Cancel { reason: CancellationReason },
    /// Make a test case a member, while planned or active.
    AddTestCase { test_case_id: Uuid },
    /// Remove a member test case, while planned or active.
    RemoveTestCase { test_case_id: Uuid },
    /// Give a template a new schedule, or stop it recurring (`None`), while planned or active.
    SetRecurrence { recurrence: Option<Recurrence> },
    /// On a template: the instance for `due_at` is `instance_id`. At most once per due time.
    RecordSpawn {
        due_at: DateTime<Utc>,
        instance_id: Uuid,
    },
}

/// What happened to a campaign. Persisted at version "1": a variant's shape never changes (see the crate
/// docs). Who acted and when is in the event's metadata; an event carries a time only where the time is a
/// fact about the campaign (its actual start and end, a due time).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum CampaignEvent {
    /// The campaign exists from now on, planned.
    Created {
        name: CampaignName,
        description: CampaignDescription,
        scope: CampaignScope,
        planned_start: DateTime<Utc>,
        planned_end: DateTime<Utc>,
        recurrence: Option<Recurrence>,
    },
    /// The campaign exists from now on, planned, as the instance of `template_id` for `due_at`, with
    /// `test_cases` as its members.
    InstanceCreated {
        template_id: Uuid,
        due_at: DateTime<Utc>,
        name: CampaignName,
        description: CampaignDescription,
        scope: CampaignScope,
        planned_start: DateTime<Utc>,
        planned_end: DateTime<Utc>,
        test_cases: BTreeSet<Uuid>,
    },
    /// The campaign's details are now these.
    Edited {
        name: CampaignName,
        description: CampaignDescription,
        scope: CampaignScope,
        planned_start: DateTime<Utc>,
        planned_end: DateTime<Utc>,
    },
    /// The campaign started at `at`.
    Activated { at: DateTime<Utc> },
    /// The campaign finished at `at`.
    Completed { at: DateTime<Utc> },
    /// The campaign was abandoned at `at` for `reason`.
    Cancelled {
        reason: CancellationReason,
        at: DateTime<Utc>,
    },
    /// `test_case_id` belongs to the campaign from now on.
    TestCaseAdded { test_case_id: Uuid },
    /// `test_case_id` no longer belongs to the campaign.
    TestCaseRemoved { test_case_id: Uuid },
    /// The campaign recurs on `recurrence` from now on.
    RecurrenceSet { recurrence: Recurrence },
    /// The campaign no longer recurs.
    RecurrenceCleared,
    /// The instance for `due_at` is `instance_id`; no other instance will be spawned for `due_at`.
    SpawnRecorded {
        due_at: DateTime<Utc>,
        instance_id: Uuid,
    },
}

impl DomainEvent for CampaignEvent {
    fn event_type(&self) -> String {
        match self {
            Self::Created { .. } => "CampaignCreated",
            Self::InstanceCreated { .. } => "CampaignInstanceCreated",
            Self::Edited { .. } => "CampaignEdited",
            Self::Activated { .. } => "CampaignActivated",
            Self::Completed { .. } => "CampaignCompleted",
            Self::Cancelled { .. } => "CampaignCancelled",
            Self::TestCaseAdded { .. } => "CampaignTestCaseAdded",
            Self::TestCaseRemoved { .. } => "CampaignTestCaseRemoved",
            Self::RecurrenceSet { .. } => "CampaignRecurrenceSet",
            Self::RecurrenceCleared => "CampaignRecurrenceCleared",
            Self::SpawnRecorded { .. } => "CampaignSpawnRecorded",
        }
        .to_owned()
    }

    fn event_version(&self) -> String {
        "1".to_owned()
    }
}

/// Why a campaign command or value was rejected. The messages are written for end users; [`Self::code`]
/// is the stable code clients match on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CampaignError {
    /// The actor holds none of `red_lead`, `blue_lead`, `admin`.
    #[error("Managing campaigns requires the red_lead or blue_lead role.")]
    RoleRequired,
    #[error("The campaign name is not valid: {0}.")]
    InvalidName(String),
    #[error("The campaign description is not valid: {0}.")]
    InvalidDescription(String),
    #[error("The reason is not valid: {0}.")]
    InvalidReason(String),
    /// The planned end lies before the planned start.
    #[error(
        "The planned end ({planned_end}) must not be before the planned start ({planned_start})."
    )]
    InvalidDates {
        planned_start: DateTime<Utc>,
        planned_end: DateTime<Utc>,
    },
    #[error("The recurrence is not valid: {0}.")]
    InvalidRecurrence(String),
    #[error("The campaign scope is not valid: {0}.")]
    InvalidScope(String),
    /// The command does not apply to a campaign with this status.
    #[error("This cannot be done while the campaign is {0}.")]
    WrongStatus(CampaignStatus),
    #[error("The test case {0} already belongs to this campaign.")]
    AlreadyMember(Uuid),
    #[error("The test case {0} does not belong to this campaign.")]
    NotMember(Uuid),
    /// `RecordSpawn` for a due time that has its instance already; carries that instance.
    #[error("The instance for {due_at} was already spawned: {instance_id}.")]
    AlreadySpawned {
        due_at: DateTime<Utc>,
        instance_id: Uuid,
    },
    /// `RecordSpawn` or `instance_action` on a campaign without a recurrence.
    #[error("This campaign does not recur.")]
    NotRecurring,
    /// `RecordSpawn` or `instance_action` for a time at which the schedule does not fire.
    #[error("The campaign's schedule is not due at {0}.")]
    NotADueTime(DateTime<Utc>),
    /// `RecordSpawn` for a due time that is still in the future.
    #[error("The due time {0} has not come yet.")]
    NotDueYet(DateTime<Utc>),
    /// Any command but `Create` and `CreateInstance` on a campaign that does not exist.
    #[error("This campaign does not exist.")]
    NotFound,
    /// `Create` or `CreateInstance` on a campaign that exists.
    #[error("This campaign already exists.")]
    AlreadyExists,
}

impl CampaignError {
    /// The stable code for clients, one per variant.
    pub const fn code(&self) -> &'static str {
        match self {
            Self::RoleRequired => "ROLE_REQUIRED",
            Self::InvalidName(_) => "INVALID_NAME",
            Self::InvalidDescription(_) => "INVALID_DESCRIPTION",
            Self::InvalidReason(_) => "INVALID_REASON",
            Self::InvalidDates { .. } => "INVALID_DATES",
            Self::InvalidRecurrence(_) => "INVALID_RECURRENCE",
            Self::InvalidScope(_) => "INVALID_SCOPE",
            Self::WrongStatus(_) => "WRONG_STATUS",
            Self::AlreadyMember(_) => "ALREADY_MEMBER",
            Self::NotMember(_) => "NOT_MEMBER",
            Self::AlreadySpawned { .. } => "ALREADY_SPAWNED",
            Self::NotRecurring => "NOT_RECURRING",
            Self::NotADueTime(_) => "NOT_A_DUE_TIME",
            Self::NotDueYet(_) => "NOT_DUE_YET",
            Self::NotFound => "NOT_FOUND",
            Self::AlreadyExists => "ALREADY_EXISTS",
        }
    }
}

/// A campaign's editable details.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CampaignDetails {
    pub name: CampaignName,
    pub description: CampaignDescription,
    pub scope: CampaignScope,
    pub planned_start: DateTime<Utc>,
    pub planned_end: DateTime<Utc>,
}

/// Where an instance comes from: its template and the due time it was spawned for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceOrigin {
    pub template_id: Uuid,
    pub due_at: DateTime<Utc>,
}

/// A campaign's current state, rebuilt from its events. Also persisted as a snapshot, so fields added
/// later carry `#[serde(default)]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Campaign {
    /// `None` until created.
    status: Option<CampaignStatus>,
    details: Option<CampaignDetails>,
    test_cases: BTreeSet<Uuid>,
    recurrence: Option<Recurrence>,
    origin: Option<InstanceOrigin>,
    /// Due time → instance, for every spawn recorded on this template.
    spawned: BTreeMap<DateTime<Utc>, Uuid>,
}

impl Campaign {
    /// `None` until the campaign is created.
    pub fn status(&self) -> Option<CampaignStatus> {
        self.status
    }

    /// `None` until the campaign is created.
    pub fn details(&self) -> Option<&CampaignDetails> {
        self.details.as_ref()
    }

    /// The member test cases.
    pub fn test_cases(&self) -> &BTreeSet<Uuid> {
        &self.test_cases
    }

    /// The schedule of a template; `None` for a campaign that does not recur.
    pub fn recurrence(&self) -> Option<&Recurrence> {
        self.recurrence.as_ref()
    }

    /// The template and due time of an instance; `None` for a campaign created directly.
    pub fn origin(&self) -> Option<InstanceOrigin> {
        self.origin
    }

    /// Every spawn recorded on this template: due time → instance.
    pub fn spawned(&self) -> &BTreeMap<DateTime<Utc>, Uuid> {
        &self.spawned
    }

    /// The due times at which this template should have spawned by `now` and has not: after its planned
    /// start (the template itself is the run at its start) and after the latest recorded spawn, up to and
    /// including `now`, at most [`MAX_DUE_TIMES`]. Empty unless the campaign recurs and is open. Missed
    /// times are all listed; whether to catch up on all of them or spawn only the latest is the
    /// scheduler's policy.
    pub fn unspawned_due_times(&self, now: DateTime<Utc>) -> Vec<DateTime<Utc>> {
        let (Some(recurrence), Some(details), Some(status)) =
            (&self.recurrence, &self.details, self.status)
        else {
            return Vec::new();
        };
        if !status.is_open() {
            return Vec::new();
        }
        let latest_spawn = self.spawned.keys().next_back().copied();
        let from = latest_spawn.map_or(details.planned_start, |due_at| {
            due_at.max(details.planned_start)
        });
        recurrence.due_times_between(from, now)
    }

    /// The `CreateInstance` action for this template's instance due at `due_at`, with `test_cases` (the
    /// fresh copies of this template's test cases) as members. The instance has the template's
    /// description and scope, is named after the template and the due time in the schedule's zone
    /// (`"Phishing drill (2025-04-07 09:00)"`), and is planned to start at `due_at` and to last as long as
    /// the template's planned window.
    pub fn instance_action(
        &self,
        template_id: Uuid,
        due_at: DateTime<Utc>,
        test_cases: BTreeSet<Uuid>,
    ) -> Result<CampaignAction, CampaignError> {
        let Some(details) = &self.details else {
            return Err(CampaignError::NotFound);
        };
        let Some(recurrence) = &self.recurrence else {
            return Err(CampaignError::NotRecurring);
        };
        if !recurrence.is_due_time(due_at) {
            return Err(CampaignError::NotADueTime(due_at));
        }
        let zone = recurrence.timezone.parse::<Tz>().unwrap_or(Tz::UTC);
        let suffix = format!(
            " ({})",
            due_at.with_timezone(&zone).format("%Y-%m-%d %H:%M")
        );
        let room = NAME_MAX_CHARS.saturating_sub(suffix.chars().count());
        let stem: String = details.name.as_str().chars().take(room).collect();
        let name = CampaignName::parse(&format!("{}{suffix}", stem.trim_end()))?;
        let duration = details.planned_end - details.planned_start;
        let planned_end =
            due_at
                .checked_add_signed(duration)
                .ok_or(CampaignError::InvalidDates {
                    planned_start: due_at,
                    planned_end: DateTime::<Utc>::MAX_UTC,
                })?;
        Ok(CampaignAction::CreateInstance {
            template_id,
            due_at,
            name,
            description: details.description.clone(),
            scope: details.scope.clone(),
            planned_start: due_at,
            planned_end,
            test_cases,
        })
    }

    /// Decides which events `command` produces, without changing anything.
    ///
    /// The rules, top to bottom: the role first (so a refused actor learns nothing about the campaign),
    /// then creation, then existence, then each action's own rules. Editing to the current details or
    /// setting the current recurrence succeeds with no event, so a retried request is harmless.
    pub fn decide(&self, command: CampaignCommand) -> Result<Vec<CampaignEvent>, CampaignError> {
        let CampaignCommand { actor, at, action } = command;
        if !actor.has_any(CAMPAIGN_MANAGERS) {
            return Err(CampaignError::RoleRequired);
        }
        match action {
            CampaignAction::Create { .. } | CampaignAction::CreateInstance { .. }
                if self.status.is_some() =>
            {
                Err(CampaignError::AlreadyExists)
            }
            CampaignAction::Create {
                name,
                description,
                scope,
                planned_start,
                planned_end,
                recurrence,
            } => {
                check_dates(planned_start, planned_end)?;
                Ok(vec![CampaignEvent::Created {
                    name,
                    description,
                    scope,
                    planned_start,
                    planned_end,
                    recurrence,
                }])
            }
            CampaignAction::CreateInstance {
                template_id,
                due_at,
                name,
                description,
                scope,
                planned_start,
                planned_end,
                test_cases,
            } => {
                check_dates(planned_start, planned_end)?;
                Ok(vec![CampaignEvent::InstanceCreated {
                    template_id,
                    due_at,
                    name,
                    description,
                    scope,
                    planned_start,
                    planned_end,
                    test_cases,
                }])
            }
            action => {
                let Some(status) = self.status else {
                    return Err(CampaignError::NotFound);
                };
                self.decide_existing(status, at, action)
            }
        }
    }

    /// The rules of every action but creation, for a campaign that exists with `status`.
    fn decide_existing(
        &self,
        status: CampaignStatus,
        at: DateTime<Utc>,
        action: CampaignAction,
    ) -> Result<Vec<CampaignEvent>, CampaignError> {
        let require_open = || {
            if status.is_open() {
                Ok(())
            } else {
                Err(CampaignError::WrongStatus(status))
            }
        };
        match action {
            CampaignAction::Create { .. } | CampaignAction::CreateInstance { .. } => {
                Err(CampaignError::AlreadyExists)
            }
            CampaignAction::Edit {
                name,
                description,
                scope,
                planned_start,
                planned_end,
            } => {
                require_open()?;
                check_dates(planned_start, planned_end)?;
                let details = CampaignDetails {
                    name,
                    description,
                    scope,
                    planned_start,
                    planned_end,
                };
                if self.details.as_ref() == Some(&details) {
                    return Ok(vec![]);
                }
                Ok(vec![CampaignEvent::Edited {
                    name: details.name,
                    description: details.description,
                    scope: details.scope,
                    planned_start: details.planned_start,
                    planned_end: details.planned_end,
                }])
            }
            CampaignAction::Activate if status != CampaignStatus::Planned => {
                Err(CampaignError::WrongStatus(status))
            }
            CampaignAction::Activate => Ok(vec![CampaignEvent::Activated { at }]),
            CampaignAction::Complete if status != CampaignStatus::Active => {
                Err(CampaignError::WrongStatus(status))
            }
            CampaignAction::Complete => Ok(vec![CampaignEvent::Completed { at }]),
            CampaignAction::Cancel { reason } => {
                require_open()?;
                Ok(vec![CampaignEvent::Cancelled { reason, at }])
            }
            CampaignAction::AddTestCase { test_case_id } => {
                require_open()?;
                if self.test_cases.contains(&test_case_id) {
                    return Err(CampaignError::AlreadyMember(test_case_id));
                }
                Ok(vec![CampaignEvent::TestCaseAdded { test_case_id }])
            }
            CampaignAction::RemoveTestCase { test_case_id } => {
                require_open()?;
                if !self.test_cases.contains(&test_case_id) {
                    return Err(CampaignError::NotMember(test_case_id));
                }
                Ok(vec![CampaignEvent::TestCaseRemoved { test_case_id }])
            }
            CampaignAction::SetRecurrence { recurrence } => {
                require_open()?;
                self.decide_set_recurrence(recurrence)
            }
            CampaignAction::RecordSpawn {
                due_at,
                instance_id,
            } => self.decide_record_spawn(status, at, due_at, instance_id),
        }
    }

    /// The rules of `SetRecurrence` on an open campaign: instances do not recur themselves (a chain of
    /// templates would copy test cases without end), and the current schedule again is no change.
    fn decide_set_recurrence(
        &self,
        recurrence: Option<Recurrence>,
    ) -> Result<Vec<CampaignEvent>, CampaignError> {
        if recurrence == self.recurrence {
            return Ok(vec![]);
        }
        match recurrence {
            Some(_) if self.origin.is_some() => Err(CampaignError::InvalidRecurrence(
                "an instance of a recurring campaign cannot recur itself".to_owned(),
            )),
            Some(recurrence) => Ok(vec![CampaignEvent::RecurrenceSet { recurrence }]),
            None => Ok(vec![CampaignEvent::RecurrenceCleared]),
        }
    }

    /// The rules of `RecordSpawn`: a due time that already has its instance is refused first, whatever
    /// happened to the template since, so a retrying scheduler always learns the recorded instance. Then
    /// the template must recur, be open, and `due_at` must be one of its due times (not just any instant,
    /// or the idempotency key could be dodged) that has come by `at`.
    fn decide_record_spawn(
        &self,
        status: CampaignStatus,
        at: DateTime<Utc>,
        due_at: DateTime<Utc>,
        instance_id: Uuid,
    ) -> Result<Vec<CampaignEvent>, CampaignError> {
        if let Some(&recorded) = self.spawned.get(&due_at) {
            return Err(CampaignError::AlreadySpawned {
                due_at,
                instance_id: recorded,
            });
        }
        let Some(recurrence) = &self.recurrence else {
            return Err(CampaignError::NotRecurring);
        };
        if !status.is_open() {
            return Err(CampaignError::WrongStatus(status));
        }
        if !recurrence.is_due_time(due_at) {
            return Err(CampaignError::NotADueTime(due_at));
        }
        if due_at > at {
            return Err(CampaignError::NotDueYet(due_at));
        }
        Ok(vec![CampaignEvent::SpawnRecorded {
            due_at,
            instance_id,
        }])
    }
}

/// A planned window ends no earlier than it starts; a zero-length window is a one-off exercise.
fn check_dates(
    planned_start: DateTime<Utc>,
    planned_end: DateTime<Utc>,
) -> Result<(), CampaignError> {
    if planned_end < planned_start {
        return Err(CampaignError::InvalidDates {
            planned_start,
            planned_end,
        });
    }
    Ok(())
}

impl Aggregate for Campaign {
    const TYPE: &'static str = "Campaign";
    type Command = CampaignCommand;
    type Event = CampaignEvent;
    type Error = CampaignError;
    type Services = ();

    async fn handle(
        &mut self,
        command: CampaignCommand,
        _services: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), CampaignError> {
        for event in self.decide(command)? {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: CampaignEvent) {
        match event {
            CampaignEvent::Created {
                name,
                description,
                scope,
                planned_start,
                planned_end,
                recurrence,
            } => {
                self.status = Some(CampaignStatus::Planned);
                self.details = Some(CampaignDetails {
                    name,
                    description,
                    scope,
                    planned_start,
                    planned_end,
                });
                self.recurrence = recurrence;
            }
            CampaignEvent::InstanceCreated {
                template_id,
                due_at,
                name,
                description,
                scope,
                planned_start,
                planned_end,
                test_cases,
            } => {
                self.status = Some(CampaignStatus::Planned);
                self.details = Some(CampaignDetails {
                    name,
                    description,
                    scope,
                    planned_start,
                    planned_end,
                });
                self.origin = Some(InstanceOrigin {
                    template_id,
                    due_at,
                });
                self.test_cases = test_cases;
            }
            CampaignEvent::Edited {
                name,
                description,
                scope,
                planned_start,
                planned_end,
            } => {
                self.details = Some(CampaignDetails {
                    name,
                    description,
                    scope,
                    planned_start,
                    planned_end,
                });
            }
            CampaignEvent::Activated { .. } => self.status = Some(CampaignStatus::Active),
            CampaignEvent::Completed { .. } => self.status = Some(CampaignStatus::Completed),
            CampaignEvent::Cancelled { .. } => self.status = Some(CampaignStatus::Cancelled),
            CampaignEvent::TestCaseAdded { test_case_id } => {
                self.test_cases.insert(test_case_id);
            }
            CampaignEvent::TestCaseRemoved { test_case_id } => {
                self.test_cases.remove(&test_case_id);
            }
            CampaignEvent::RecurrenceSet { recurrence } => self.recurrence = Some(recurrence),
            CampaignEvent::RecurrenceCleared => self.recurrence = None,
            CampaignEvent::SpawnRecorded {
                due_at,
                instance_id,
            } => {
                self.spawned.insert(due_at, instance_id);
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
