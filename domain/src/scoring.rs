//! How well Aegis rates the defence against one technique: the `ScoringPolicy` aggregate that holds the
//! weights, and the pure [`score`] that turns a technique's facts, a policy and a point in time into a score
//! from 0 to 100, with a [`ScoreBreakdown`] for "explain this cell".
//!
//! # Policies
//! Each policy is one aggregate (aggregate id = policy id) with a name and versioned [`PolicySettings`];
//! every change is an event that carries its reason. One policy is the active one, the others are named
//! alternatives for what-if views. The aggregate only records that it was activated or deactivated: the
//! command layer keeps a single policy active by deactivating the previous one in the same flow, which is
//! why `Activate` and `Deactivate` succeed without an event when there is nothing to do. Only admins change
//! policies. Names are unique across policies by a read-model check in the command layer, not here.
//!
//! # The score
//! See [`explain`] for the formula. It is integer arithmetic in hundredths of a point ([`Points`]) except
//! for the decay factors, which are rounded to fixed point before they are used; the result is an integer
//! [`Score`]. Never tested means no score (`None`), not zero. The outcomes are folded into an [`OutcomeTally`]
//! first, so a heatmap scored again at a later moment costs the same however many results it holds.

use std::fmt;

use chrono::{DateTime, TimeDelta, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

use crate::actor::Actor;
use crate::text::{label, prose, string_newtype};

/// Room for a descriptive label in a policy picker.
const NAME_MAX_CHARS: usize = 100;
/// A sentence or a short paragraph for the audit trail.
const REASON_MAX_CHARS: usize = 500;
/// Ten years: longer than any evidence should be trusted, short enough to decay visibly.
const HALF_LIFE_MAX_DAYS: u16 = 3650;
/// How many deployed detection rules earn the full rule weight. Three independent rules (say, a process,
/// a network and an identity rule) is what "well covered" means in practice; more still count, but no more.
pub const RULES_FOR_FULL_CREDIT: u32 = 3;
/// A score of 100, in hundredths of a point.
const FULL_SCORE: u32 = 10_000;
/// The unit of the decay factors a breakdown shows: parts per million.
const PPM: u64 = 1_000_000;
/// One, in the fixed point an [`OutcomeTally`] counts in (steps of 2^-32): its rounding is a millionth of a
/// hundredth of a point, and a tally of up to 2^50 outcomes times a weight and a decay still fits a u128.
const TALLY_ONE: u64 = 1 << 32;
const SECONDS_PER_DAY: f64 = 86_400.0;

/// A policy's label: trimmed, 1 to 100 characters, no control characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PolicyName(String);

impl PolicyName {
    /// Trims and checks `input`; the reason for a rejection is in [`ScoringPolicyError::InvalidName`].
    pub fn parse(input: &str) -> Result<Self, ScoringPolicyError> {
        label(input, NAME_MAX_CHARS)
            .map(|name| Self(name.to_owned()))
            .map_err(ScoringPolicyError::InvalidName)
    }
}

string_newtype!(PolicyName, ScoringPolicyError);

/// Why a policy changed, for the audit trail: trimmed, 1 to 500 characters, line breaks allowed.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ChangeReason(String);

impl ChangeReason {
    /// Trims and checks `input`; the reason for a rejection is in [`ScoringPolicyError::InvalidReason`].
    pub fn parse(input: &str) -> Result<Self, ScoringPolicyError> {
        prose(input, REASON_MAX_CHARS)
            .map(|reason| Self(reason.to_owned()))
            .map_err(ScoringPolicyError::InvalidReason)
    }
}

string_newtype!(ChangeReason, ScoringPolicyError, without Display);

/// The result of one validated test against a technique, from worst to best (the order of `Ord`).
/// Persisted by name (`"not_detected"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScoredOutcome {
    /// Nothing saw it.
    NotDetected,
    /// Telemetry recorded it, nobody was told.
    Logged,
    /// A detection fired and someone was told.
    Alerted,
    /// A control stopped it.
    Blocked,
}

impl ScoredOutcome {
    /// Every outcome, worst first.
    pub const ALL: [Self; 4] = [
        Self::NotDetected,
        Self::Logged,
        Self::Alerted,
        Self::Blocked,
    ];
}

/// How much each outcome is worth, in points out of 100.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct OutcomeWeights {
    pub blocked: u8,
    pub alerted: u8,
    pub logged: u8,
    pub not_detected: u8,
}

impl OutcomeWeights {
    pub const fn weight(&self, outcome: ScoredOutcome) -> u8 {
        match outcome {
            ScoredOutcome::Blocked => self.blocked,
            ScoredOutcome::Alerted => self.alerted,
            ScoredOutcome::Logged => self.logged,
            ScoredOutcome::NotDetected => self.not_detected,
        }
    }
}

impl Default for OutcomeWeights {
    /// Blocked 100, Alerted 80, Logged 40, NotDetected 0.
    fn default() -> Self {
        Self {
            blocked: 100,
            alerted: 80,
            logged: 40,
            not_detected: 0,
        }
    }
}

/// How a technique's score is built from its sub-techniques' (see [`aggregate`]). Persisted by name.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Aggregation {
    /// As good as the best-defended sub-technique.
    Max,
    /// The rounded mean: one gap does not hide behind one success.
    #[default]
    Average,
    /// As good as the weakest sub-technique.
    Min,
}

/// The unchecked form of [`PolicySettings`]: what an admin submits and what events store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PolicySettingsDraft {
    pub outcome_weights: OutcomeWeights,
    pub rule_weight: u8,
    pub telemetry_weight: u8,
    pub prevalence_weight: u8,
    pub half_life_days: Option<u16>,
    pub aggregation: Aggregation,
}

/// The knobs of the score, checked. Persisted as the JSON of [`PolicySettingsDraft`] and checked again on
/// the way in.
///
/// - `outcome_weights`: points per outcome, each 0 to 100, never more for a worse outcome
///   (blocked ≥ alerted ≥ logged ≥ not detected).
/// - `rule_weight`: bonus points, 0 to 100, earned in full by [`RULES_FOR_FULL_CREDIT`] deployed rules.
/// - `telemetry_weight`: bonus points, 0 to 100, earned in full by [`Visibility::High`].
/// - `prevalence_weight`: 0 to 100 percent; how much of the gap to a full score is charged again, scaled by
///   how many tracked threat actors use the technique.
/// - `half_life_days`: 1 to 3650; after this many days a result counts half. `None`: results never fade.
/// - `aggregation`: how sub-technique scores make a technique's score.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "PolicySettingsDraft", into = "PolicySettingsDraft")]
pub struct PolicySettings {
    outcome_weights: OutcomeWeights,
    rule_weight: u8,
    telemetry_weight: u8,
    prevalence_weight: u8,
    half_life_days: Option<u16>,
    aggregation: Aggregation,
}

impl PolicySettings {
    /// Checks `draft`; the first broken rule is the reason in [`ScoringPolicyError::InvalidSettings`].
    pub fn parse(draft: PolicySettingsDraft) -> Result<Self, ScoringPolicyError> {
        let invalid = |reason: String| Err(ScoringPolicyError::InvalidSettings(reason));
        let weights = draft.outcome_weights;
        for (label, weight) in [
            ("blocked", weights.blocked),
            ("alerted", weights.alerted),
            ("logged", weights.logged),
            ("not detected", weights.not_detected),
        ] {
            if weight > 100 {
                return invalid(format!("the weight of \"{label}\" is above 100"));
            }
        }
        let monotone = weights.blocked >= weights.alerted
            && weights.alerted >= weights.logged
            && weights.logged >= weights.not_detected;
        if !monotone {
            return invalid(
                "a better outcome must weigh at least as much as a worse one \
                 (blocked ≥ alerted ≥ logged ≥ not detected)"
                    .to_owned(),
            );
        }
        for (label, weight) in [
            ("rule", draft.rule_weight),
            ("telemetry", draft.telemetry_weight),
            ("prevalence", draft.prevalence_weight),
        ] {
            if weight > 100 {
                return invalid(format!("the {label} weight is above 100"));
            }
        }
        if draft
            .half_life_days
            .is_some_and(|days| !(1..=HALF_LIFE_MAX_DAYS).contains(&days))
        {
            return invalid("the half-life must be 1 to 3650 days, or none".to_owned());
        }
        Ok(Self {
            outcome_weights: draft.outcome_weights,
            rule_weight: draft.rule_weight,
            telemetry_weight: draft.telemetry_weight,
            prevalence_weight: draft.prevalence_weight,
            half_life_days: draft.half_life_days,
            aggregation: draft.aggregation,
        })
    }

    pub fn outcome_weights(&self) -> OutcomeWeights {
        self.outcome_weights
    }

    pub fn rule_weight(&self) -> u8 {
        self.rule_weight
    }

    pub fn telemetry_weight(&self) -> u8 {
        self.telemetry_weight
    }

    pub fn prevalence_weight(&self) -> u8 {
        self.prevalence_weight
    }

    pub fn half_life_days(&self) -> Option<u16> {
        self.half_life_days
    }

    pub fn aggregation(&self) -> Aggregation {
        self.aggregation
    }

    /// The unchecked form, to edit and parse again.
    pub fn to_draft(&self) -> PolicySettingsDraft {
        PolicySettingsDraft::from(*self)
    }
}

impl Default for PolicySettings {
    /// The outcome weights (100/80/40/0); rules and telemetry up to 10 bonus points each, so they
    /// lift a weak result without masking it; no prevalence weighting, so the default score is plain
    /// coverage; a half-life of 180 days, so results fade over about two retest cycles of a quarterly
    /// programme; sub-techniques averaged.
    fn default() -> Self {
        Self {
            outcome_weights: OutcomeWeights::default(),
            rule_weight: 10,
            telemetry_weight: 10,
            prevalence_weight: 0,
            half_life_days: Some(180),
            aggregation: Aggregation::Average,
        }
    }
}

impl TryFrom<PolicySettingsDraft> for PolicySettings {
    type Error = ScoringPolicyError;

    fn try_from(draft: PolicySettingsDraft) -> Result<Self, Self::Error> {
        Self::parse(draft)
    }
}

impl From<PolicySettings> for PolicySettingsDraft {
    fn from(settings: PolicySettings) -> Self {
        Self {
            outcome_weights: settings.outcome_weights,
            rule_weight: settings.rule_weight,
            telemetry_weight: settings.telemetry_weight,
            prevalence_weight: settings.prevalence_weight,
            half_life_days: settings.half_life_days,
            aggregation: settings.aggregation,
        }
    }
}

/// A policy command: who asks, when, and what. Serializable because the command layer hashes commands to
/// recognise a retried request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScoringPolicyCommand {
    pub actor: Actor,
    pub at: DateTime<Utc>,
    pub action: ScoringPolicyAction,
}

/// What may be asked of a scoring policy; admins only, and every action gives its reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ScoringPolicyAction {
    /// Create the policy at version 1, inactive.
    Define {
        name: PolicyName,
        settings: PolicySettings,
        reason: ChangeReason,
    },
    /// Replace the settings; the version goes up by one. The current settings again are no change.
    Change {
        settings: PolicySettings,
        reason: ChangeReason,
    },
    /// Relabel the policy; the version stays. The current name again is no change.
    Rename {
        name: PolicyName,
        reason: ChangeReason,
    },
    /// Make this the policy scores are computed with. Already active is no change.
    Activate { reason: ChangeReason },
    /// Stop computing scores with this policy. Already inactive is no change.
    Deactivate { reason: ChangeReason },
    /// Put an inactive policy away for good; it stays readable for history.
    Retire { reason: ChangeReason },
}

/// What happened to a scoring policy. Persisted at version "1": a variant's shape never changes (see the
/// crate docs). Who acted and when is in the event's metadata.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ScoringPolicyEvent {
    /// The policy exists from now on, inactive, with `settings` as version 1.
    Defined {
        name: PolicyName,
        settings: PolicySettings,
        reason: ChangeReason,
    },
    /// The policy's settings are now `settings`, as `version`.
    Changed {
        version: u32,
        settings: PolicySettings,
        reason: ChangeReason,
    },
    /// The policy is now called `name`.
    Renamed {
        name: PolicyName,
        reason: ChangeReason,
    },
    /// Scores are computed with this policy from now on.
    Activated { reason: ChangeReason },
    /// Scores are no longer computed with this policy.
    Deactivated { reason: ChangeReason },
    /// The policy is put away; it no longer changes.
    Retired { reason: ChangeReason },
}

impl DomainEvent for ScoringPolicyEvent {
    fn event_type(&self) -> String {
        match self {
            Self::Defined { .. } => "ScoringPolicyDefined",
            Self::Changed { .. } => "ScoringPolicyChanged",
            Self::Renamed { .. } => "ScoringPolicyRenamed",
            Self::Activated { .. } => "ScoringPolicyActivated",
            Self::Deactivated { .. } => "ScoringPolicyDeactivated",
            Self::Retired { .. } => "ScoringPolicyRetired",
        }
        .to_owned()
    }

    fn event_version(&self) -> String {
        "1".to_owned()
    }
}

/// Why a scoring-policy command or value was rejected. The messages are written for end users;
/// [`Self::code`] is the stable code clients match on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScoringPolicyError {
    /// The actor is not an admin.
    #[error("Changing scoring policies requires the admin role.")]
    RoleRequired,
    #[error("The policy name is not valid: {0}.")]
    InvalidName(String),
    #[error("The reason is not valid: {0}.")]
    InvalidReason(String),
    #[error("The scoring settings are not valid: {0}.")]
    InvalidSettings(String),
    /// `Define` on a policy that exists.
    #[error("This scoring policy already exists.")]
    AlreadyExists,
    /// Any command but `Define` on a policy that does not exist.
    #[error("This scoring policy does not exist.")]
    NotFound,
    /// Any command on a retired policy.
    #[error("This scoring policy is retired and can no longer change.")]
    Retired,
    /// `Retire` on the active policy.
    #[error("The active scoring policy cannot be retired; activate another policy first.")]
    StillActive,
}

impl ScoringPolicyError {
    /// The stable code for clients, one per variant.
    pub const fn code(&self) -> &'static str {
        match self {
            Self::RoleRequired => "ROLE_REQUIRED",
            Self::InvalidName(_) => "INVALID_NAME",
            Self::InvalidReason(_) => "INVALID_REASON",
            Self::InvalidSettings(_) => "INVALID_SETTINGS",
            Self::AlreadyExists => "ALREADY_EXISTS",
            Self::NotFound => "NOT_FOUND",
            Self::Retired => "RETIRED",
            Self::StillActive => "POLICY_ACTIVE",
        }
    }
}

/// A scoring policy's current state, rebuilt from its events. Also persisted as a snapshot, so fields
/// added later carry `#[serde(default)]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScoringPolicy {
    name: Option<PolicyName>,
    settings: PolicySettings,
    /// 0 until defined, then the version of `settings`.
    version: u32,
    active: bool,
    retired: bool,
}

impl ScoringPolicy {
    /// Whether `Defined` has happened.
    pub fn is_defined(&self) -> bool {
        self.version > 0
    }

    /// `None` until defined.
    pub fn name(&self) -> Option<&PolicyName> {
        self.name.as_ref()
    }

    /// The current settings (the defaults until defined).
    pub fn settings(&self) -> &PolicySettings {
        &self.settings
    }

    /// The version of the current settings: 1 when defined, one more with each change; 0 until defined.
    pub fn version(&self) -> u32 {
        self.version
    }

    pub fn is_active(&self) -> bool {
        self.active
    }

    pub fn is_retired(&self) -> bool {
        self.retired
    }

    /// Decides which events `command` produces, without changing anything.
    ///
    /// The rules, top to bottom: admins only, then definition, existence and retirement, then each
    /// action's own rule. Asking for the current settings, name or activation state again succeeds with
    /// no event, so retries and the activation flow are harmless.
    pub fn decide(
        &self,
        command: ScoringPolicyCommand,
    ) -> Result<Vec<ScoringPolicyEvent>, ScoringPolicyError> {
        if !command.actor.is_admin() {
            return Err(ScoringPolicyError::RoleRequired);
        }
        match command.action {
            ScoringPolicyAction::Define { .. } if self.is_defined() => {
                Err(ScoringPolicyError::AlreadyExists)
            }
            ScoringPolicyAction::Define {
                name,
                settings,
                reason,
            } => Ok(vec![ScoringPolicyEvent::Defined {
                name,
                settings,
                reason,
            }]),
            _ if !self.is_defined() => Err(ScoringPolicyError::NotFound),
            _ if self.retired => Err(ScoringPolicyError::Retired),
            ScoringPolicyAction::Change { settings, .. } if settings == self.settings => Ok(vec![]),
            ScoringPolicyAction::Change { settings, reason } => {
                Ok(vec![ScoringPolicyEvent::Changed {
                    version: self.version + 1,
                    settings,
                    reason,
                }])
            }
            ScoringPolicyAction::Rename { name, .. } if self.name.as_ref() == Some(&name) => {
                Ok(vec![])
            }
            ScoringPolicyAction::Rename { name, reason } => {
                Ok(vec![ScoringPolicyEvent::Renamed { name, reason }])
            }
            ScoringPolicyAction::Activate { .. } if self.active => Ok(vec![]),
            ScoringPolicyAction::Activate { reason } => {
                Ok(vec![ScoringPolicyEvent::Activated { reason }])
            }
            ScoringPolicyAction::Deactivate { .. } if !self.active => Ok(vec![]),
            ScoringPolicyAction::Deactivate { reason } => {
                Ok(vec![ScoringPolicyEvent::Deactivated { reason }])
            }
            ScoringPolicyAction::Retire { .. } if self.active => {
                Err(ScoringPolicyError::StillActive)
            }
            ScoringPolicyAction::Retire { reason } => {
                Ok(vec![ScoringPolicyEvent::Retired { reason }])
            }
        }
    }
}

impl Aggregate for ScoringPolicy {
    const TYPE: &'static str = "ScoringPolicy";
    type Command = ScoringPolicyCommand;
    type Event = ScoringPolicyEvent;
    type Error = ScoringPolicyError;
    type Services = ();

    async fn handle(
        &mut self,
        command: ScoringPolicyCommand,
        _services: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), ScoringPolicyError> {
        for event in self.decide(command)? {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: ScoringPolicyEvent) {
        match event {
            ScoringPolicyEvent::Defined { name, settings, .. } => {
                self.name = Some(name);
                self.settings = settings;
                self.version = 1;
            }
            ScoringPolicyEvent::Changed {
                version, settings, ..
            } => {
                self.settings = settings;
                self.version = version;
            }
            ScoringPolicyEvent::Renamed { name, .. } => self.name = Some(name),
            ScoringPolicyEvent::Activated { .. } => self.active = true,
            ScoringPolicyEvent::Deactivated { .. } => self.active = false,
            ScoringPolicyEvent::Retired { .. } => self.retired = true,
        }
    }
}

/// A score from 0 to 100; higher is better defended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "u8", into = "u8")]
pub struct Score(u8);

impl Score {
    pub const MIN: Self = Self(0);
    pub const MAX: Self = Self(100);

    /// `None` above 100.
    pub const fn new(value: u8) -> Option<Self> {
        if value <= 100 {
            Some(Self(value))
        } else {
            None
        }
    }

    pub const fn value(self) -> u8 {
        self.0
    }
}

impl TryFrom<u8> for Score {
    type Error = String;

    fn try_from(value: u8) -> Result<Self, Self::Error> {
        Self::new(value).ok_or_else(|| format!("a score is at most 100, not {value}"))
    }
}

impl From<Score> for u8 {
    fn from(score: Score) -> Self {
        score.0
    }
}

impl fmt::Display for Score {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}", self.0)
    }
}

/// Part of a score, in hundredths of a point (`Points(8734)` is 87.34 points), so the parts of a
/// breakdown add up exactly. Displayed with two decimals.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Points(u32);

impl Points {
    pub const fn from_hundredths(hundredths: u32) -> Self {
        Self(hundredths)
    }

    pub const fn hundredths(self) -> u32 {
        self.0
    }
}

impl fmt::Display for Points {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}.{:02}", self.0 / 100, self.0 % 100)
    }
}

/// How much of a technique the telemetry shows. Persisted by name (`"medium"`).
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Visibility {
    /// No data source covers the technique.
    #[default]
    None,
    /// Some data, with large gaps (a third of the telemetry weight).
    Low,
    /// Most of what is needed (two thirds).
    Medium,
    /// Everything needed to see and investigate it (the full weight).
    High,
}

impl Visibility {
    /// Thirds of the telemetry weight this visibility earns.
    const fn thirds(self) -> u32 {
        match self {
            Self::None => 0,
            Self::Low => 1,
            Self::Medium => 2,
            Self::High => 3,
        }
    }
}

/// One validated test result against a technique.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValidatedOutcome {
    pub outcome: ScoredOutcome,
    pub validated_at: DateTime<Utc>,
}

/// What is known about one technique (or sub-technique), as the projections gather it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TechniqueFacts {
    /// The latest validated outcome of each test case (procedure) run against the technique. A retest
    /// replaces its test case's earlier result rather than adding to the list.
    pub outcomes: Vec<ValidatedOutcome>,
    #[serde(flatten)]
    pub context: TechniqueContext,
}

/// What a technique's score depends on besides its test outcomes. It describes the moment of scoring and
/// does not decay.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TechniqueContext {
    /// Detection rules deployed for the technique.
    pub deployed_rules: u32,
    pub telemetry_visibility: Visibility,
    /// The share (0 to 100 percent, higher counts as 100) of tracked threat actors known to use the
    /// technique; `None` when nobody tracks actors for it.
    pub actor_prevalence: Option<u8>,
}

/// Outcomes folded for scoring: how many there are and, per outcome, how much of them is retained at the
/// newest one's validation. Their outcome points at any moment from then on cost the same however many
/// outcomes there are (what is retained later is what was retained then, halved once more per half-life since),
/// which keeps a heatmap scored again and again as cheap with a million results as with ten.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutcomeTally {
    count: u64,
    newest: DateTime<Utc>,
    half_life_days: Option<u16>,
    /// Per outcome (indexed by [`ScoredOutcome`]), the sum of `0.5^((newest - validated at) / half-life)` over
    /// its outcomes, in steps of [`TALLY_ONE`], each term rounded.
    retained: [u128; ScoredOutcome::ALL.len()],
}

impl OutcomeTally {
    /// The tally of `outcomes` decaying with `half_life_days`; `None` when there are none.
    pub fn new(outcomes: &[ValidatedOutcome], half_life_days: Option<u16>) -> Option<Self> {
        let newest = outcomes.iter().map(|outcome| outcome.validated_at).max()?;
        let mut retained = [0; ScoredOutcome::ALL.len()];
        for outcome in outcomes {
            retained[outcome.outcome as usize] += u128::from(retained_fraction(
                newest - outcome.validated_at,
                half_life_days,
                TALLY_ONE,
            ));
        }
        Some(Self {
            count: outcomes.len() as u64,
            newest,
            half_life_days,
            retained,
        })
    }

    /// When the newest outcome was validated: the tally scores moments from then on.
    pub fn newest(&self) -> DateTime<Utc> {
        self.newest
    }

    pub fn half_life_days(&self) -> Option<u16> {
        self.half_life_days
    }

    /// The mean of the outcomes' weights under `weights`, each decayed to `at`, in hundredths of a point,
    /// rounded down once at the end.
    fn outcome_points(&self, weights: OutcomeWeights, at: DateTime<Utc>) -> u32 {
        let weighted: u128 = ScoredOutcome::ALL
            .iter()
            .map(|&outcome| u128::from(weights.weight(outcome)) * self.retained[outcome as usize])
            .sum();
        let since_newest = retained_fraction(at - self.newest, self.half_life_days, TALLY_ONE);
        let hundredths = weighted * 100 * u128::from(since_newest)
            / (u128::from(self.count) * u128::from(TALLY_ONE) * u128::from(TALLY_ONE));
        u32::try_from(hundredths).map_or(FULL_SCORE, |points| points.min(FULL_SCORE))
    }
}

/// One outcome's part in a score.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutcomeContribution {
    pub outcome: ScoredOutcome,
    pub validated_at: DateTime<Utc>,
    /// The outcome's weight in the policy.
    pub weight: u8,
    /// How much of the weight still counts at the time of scoring, in parts per million
    /// (1 000 000 for a fresh result or a policy without decay).
    pub retained_ppm: u32,
    /// `weight × retained`, in hundredths of a point.
    pub points: Points,
}

/// A score and how it was reached, for "explain this cell". See [`explain`] for the formula.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScoreBreakdown {
    /// The outcomes that count: validated no later than the time of scoring, in the order given.
    pub outcomes: Vec<OutcomeContribution>,
    /// The mean of the outcomes' decayed weights ([`explain`]: not rounded term by term, so it may be a
    /// hair above the mean of the outcomes' points).
    pub outcome_points: Points,
    /// The bonus for deployed detection rules.
    pub rule_points: Points,
    /// The bonus for telemetry visibility.
    pub telemetry_points: Points,
    /// Outcome points plus both bonuses, at most 100.
    pub subtotal: Points,
    /// What prevalence weighting takes off the subtotal (never more than the subtotal).
    pub prevalence_penalty: Points,
    /// `subtotal - prevalence_penalty`.
    pub total: Points,
    /// `total`, rounded half up to a whole point.
    pub score: Score,
}

/// The score of a technique with `facts` under `policy` as of `at`; `None` when it had not been tested by
/// then. The same as [`explain`]`(..).score`.
pub fn score(facts: &TechniqueFacts, policy: &PolicySettings, at: DateTime<Utc>) -> Option<Score> {
    explain(facts, policy, at).map(|breakdown| breakdown.score)
}

/// The score of a technique whose outcomes are `tally` (made with `policy`'s half-life, all validated by
/// `at`) in `context`: [`score`] in time that does not grow with the outcomes.
pub fn score_tallied(
    tally: &OutcomeTally,
    context: TechniqueContext,
    policy: &PolicySettings,
    at: DateTime<Utc>,
) -> Score {
    terms(tally, context, policy, at).score
}

/// The score of a technique with `facts` under `policy` as of `at`, with every part of it; `None` when
/// no outcome was validated by `at`.
///
/// The formula, in points out of 100:
/// 1. **Outcomes.** Each outcome validated by `at` is worth its weight, halved for every half-life that
///    passed since it was validated (`weight × 0.5^(age / half-life)`; no decay without a half-life). The
///    outcome points are the mean over the outcomes: every procedure tested against the technique counts
///    equally, so one evasive procedure shows up even next to a blocked one. The mean is kept in fixed
///    point ([`OutcomeTally`]) and rounded down to a hundredth once; each outcome's points in the breakdown
///    are rounded on their own, for reading.
/// 2. **Bonuses.** Deployed rules add `rule weight × min(rules, 3) / 3`; telemetry adds
///    `telemetry weight × {none 0, low 1/3, medium 2/3, high 1}`. They do not decay: they describe now.
/// 3. **Cap.** The subtotal is at most 100.
/// 4. **Prevalence.** When the share of tracked threat actors using the technique is known, the gap to a
///    full score is charged again in proportion: `penalty = (100 - subtotal) × prevalence weight ×
///    prevalence`, both as fractions. A fully defended technique keeps 100; a weak one used by many actors
///    drops further. The total never goes below 0.
/// 5. **Rounding.** The total, kept in hundredths of a point with each step rounded down, is rounded half
///    up to a whole [`Score`].
///
/// So better outcomes, more rules, more visibility and lower prevalence never lower a score, and without
/// new validations a score never rises as time passes.
pub fn explain(
    facts: &TechniqueFacts,
    policy: &PolicySettings,
    at: DateTime<Utc>,
) -> Option<ScoreBreakdown> {
    let counted: Vec<ValidatedOutcome> = facts
        .outcomes
        .iter()
        .filter(|validated| validated.validated_at <= at)
        .copied()
        .collect();
    let tally = OutcomeTally::new(&counted, policy.half_life_days)?;
    Some(ScoreBreakdown {
        outcomes: counted
            .iter()
            .map(|validated| contribution(validated, policy, at))
            .collect(),
        ..terms(&tally, facts.context, policy, at)
    })
}

/// Every part of the score but the outcomes' own (which [`explain`] adds).
fn terms(
    tally: &OutcomeTally,
    context: TechniqueContext,
    policy: &PolicySettings,
    at: DateTime<Utc>,
) -> ScoreBreakdown {
    let outcome_points = tally.outcome_points(policy.outcome_weights, at);
    let rewarded_rules = context.deployed_rules.min(RULES_FOR_FULL_CREDIT);
    let rule_points = u32::from(policy.rule_weight) * 100 * rewarded_rules / RULES_FOR_FULL_CREDIT;
    let telemetry_points =
        u32::from(policy.telemetry_weight) * 100 * context.telemetry_visibility.thirds() / 3;

    let subtotal = (outcome_points + rule_points + telemetry_points).min(FULL_SCORE);
    let prevalence = u32::from(context.actor_prevalence.unwrap_or(0).min(100));
    // Never more than the subtotal: the score stops at 0, and the breakdown shows what was taken off.
    let prevalence_penalty =
        ((FULL_SCORE - subtotal) * u32::from(policy.prevalence_weight) * prevalence / 10_000)
            .min(subtotal);
    let total = subtotal - prevalence_penalty;
    let rounded = u8::try_from((total + 50) / 100).unwrap_or(100);

    ScoreBreakdown {
        outcomes: Vec::new(),
        outcome_points: Points(outcome_points),
        rule_points: Points(rule_points),
        telemetry_points: Points(telemetry_points),
        subtotal: Points(subtotal),
        prevalence_penalty: Points(prevalence_penalty),
        total: Points(total),
        score: Score::new(rounded).unwrap_or(Score::MAX),
    }
}

/// What one outcome validated by `at` is worth at `at`.
fn contribution(
    validated: &ValidatedOutcome,
    policy: &PolicySettings,
    at: DateTime<Utc>,
) -> OutcomeContribution {
    let weight = policy.outcome_weights.weight(validated.outcome);
    let retained_ppm = retained_fraction(at - validated.validated_at, policy.half_life_days, PPM);
    let points = u64::from(weight) * 100 * retained_ppm / PPM;
    OutcomeContribution {
        outcome: validated.outcome,
        validated_at: validated.validated_at,
        weight,
        // At most PPM.
        retained_ppm: u32::try_from(retained_ppm).unwrap_or(u32::MAX),
        // At most 100 × 100.
        points: Points(u32::try_from(points).unwrap_or(FULL_SCORE)),
    }
}

/// `0.5^(age / half-life)` in units of `1 / one`, rounded; `one` without a half-life. Whole seconds of age
/// count; a negative age counts as none.
fn retained_fraction(age: TimeDelta, half_life_days: Option<u16>, one: u64) -> u64 {
    let Some(half_life_days) = half_life_days else {
        return one;
    };
    let half_lives =
        age.num_seconds().max(0) as f64 / (f64::from(half_life_days) * SECONDS_PER_DAY);
    let retained = (-half_lives).exp2() * one as f64;
    // In 0..=one by construction; the clamp makes the conversion obviously lossless.
    #[expect(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "rounded and clamped to 0..=one first"
    )]
    let fraction = retained.round().clamp(0.0, one as f64) as u64;
    fraction
}

/// A technique's score from its sub-techniques' scores, `how` the policy says. `parent`, the technique's
/// own score when it was tested directly, counts as one more input. `None` when there is no input at all.
/// `Average` is the mean rounded half up, so every result lies between the smallest and largest input.
pub fn aggregate(sub_scores: &[Score], parent: Option<Score>, how: Aggregation) -> Option<Score> {
    let inputs = || sub_scores.iter().copied().chain(parent);
    match how {
        Aggregation::Max => inputs().max(),
        Aggregation::Min => inputs().min(),
        Aggregation::Average => {
            let (sum, count) = inputs().fold((0_u64, 0_u64), |(sum, count), score| {
                (sum + u64::from(score.0), count + 1)
            });
            if count == 0 {
                return None;
            }
            let mean = (2 * sum + count) / (2 * count);
            u8::try_from(mean).ok().and_then(Score::new)
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
