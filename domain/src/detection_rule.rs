//! Which detection rules the organisation runs: the `DetectionRule` aggregate, one per upstream rule (a Sigma
//! or Elastic rule from the catalog). Deployed rules count in every technique's score, so deploying and retiring
//! are events with their reasons, like any other decision about the defence.
//!
//! The catalog (reference data) says what a rule is; this aggregate says only whether we run it. Whether the
//! rule exists in the loaded catalog is the command layer's check, like a test case's technique. Blue leads
//! (and admins) decide; deploying a deployed rule or retiring a retired one succeeds without an event, so
//! retries are harmless.

use std::fmt;

use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::actor::Actor;
use crate::role::Role;
use crate::text::{label, prose, string_newtype};

/// Room for any upstream rule id (Sigma and Elastic use UUIDs; multi-document Sigma files add `#n`).
const RULE_ID_MAX_CHARS: usize = 255;
/// A sentence or a short paragraph for the audit trail.
const REASON_MAX_CHARS: usize = 500;
/// Who decides which rules run: blue leads, and admins.
const RULE_OWNERS: &[Role] = &[Role::BlueLead];
/// Namespace of the aggregate ids derived from a rule's source and id.
const AGGREGATE_NAMESPACE: Uuid = Uuid::from_u128(0x6165_6769_735f_7275_6c65_5f69_6473_0001);

/// Where a rule comes from. Persisted by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleSource {
    Sigma,
    Elastic,
}

impl RuleSource {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Sigma => "sigma",
            Self::Elastic => "elastic",
        }
    }

    /// `sigma` or `elastic`, in any case.
    pub fn parse(input: &str) -> Result<Self, DetectionRuleError> {
        match input.trim().to_ascii_lowercase().as_str() {
            "sigma" => Ok(Self::Sigma),
            "elastic" => Ok(Self::Elastic),
            _ => Err(DetectionRuleError::InvalidSource(input.to_owned())),
        }
    }
}

impl fmt::Display for RuleSource {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

/// A rule's upstream id, trimmed, 1 to 255 characters on one line.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RuleId(String);

impl RuleId {
    pub fn parse(input: &str) -> Result<Self, DetectionRuleError> {
        label(input, RULE_ID_MAX_CHARS)
            .map(|id| Self(id.to_owned()))
            .map_err(DetectionRuleError::InvalidRuleId)
    }
}

string_newtype!(RuleId, DetectionRuleError);

/// Which rule: its source and upstream id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct RuleRef {
    pub source: RuleSource,
    pub id: RuleId,
}

impl RuleRef {
    /// The aggregate id of this rule's decisions: derived from source and id, so the same rule always has the
    /// same stream without a lookup table.
    pub fn aggregate_id(&self) -> Uuid {
        Uuid::new_v5(
            &AGGREGATE_NAMESPACE,
            format!("{}:{}", self.source, self.id).as_bytes(),
        )
    }
}

/// Why a rule is deployed or retired, for the audit trail: trimmed, 1 to 500 characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RuleChangeReason(String);

impl RuleChangeReason {
    pub fn parse(input: &str) -> Result<Self, DetectionRuleError> {
        prose(input, REASON_MAX_CHARS)
            .map(|reason| Self(reason.to_owned()))
            .map_err(DetectionRuleError::InvalidReason)
    }
}

string_newtype!(RuleChangeReason, DetectionRuleError, without Display);

/// A decision about one rule, by one actor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DetectionRuleCommand {
    pub actor: Actor,
    pub rule: RuleRef,
    pub action: DetectionRuleAction,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum DetectionRuleAction {
    /// The rule runs in our detection stack from now on.
    Deploy { reason: RuleChangeReason },
    /// The rule no longer runs.
    Retire { reason: RuleChangeReason },
}

/// What happened to a rule. Persisted at version "1". Who acted and when is in the event's metadata.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum DetectionRuleEvent {
    Deployed {
        rule: RuleRef,
        reason: RuleChangeReason,
    },
    Retired {
        rule: RuleRef,
        reason: RuleChangeReason,
    },
}

impl DomainEvent for DetectionRuleEvent {
    fn event_type(&self) -> String {
        match self {
            Self::Deployed { .. } => "DetectionRuleDeployed",
            Self::Retired { .. } => "DetectionRuleRetired",
        }
        .to_owned()
    }

    fn event_version(&self) -> String {
        "1".to_owned()
    }
}

/// Why a rule decision was refused; [`Self::code`] is the stable code for clients.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DetectionRuleError {
    #[error("Deploying and retiring detection rules requires the blue_lead or admin role.")]
    RoleRequired,
    #[error("The rule source is not valid: {0:?} (sigma or elastic).")]
    InvalidSource(String),
    #[error("The rule id is not valid: {0}.")]
    InvalidRuleId(String),
    #[error("The reason is not valid: {0}.")]
    InvalidReason(String),
    /// The command names another rule than the stream holds (a wrong aggregate id).
    #[error("This command is for another rule.")]
    WrongRule,
    /// The loaded catalog has no such rule (checked by the command layer).
    #[error("The catalog has no {0} rule {1:?}.")]
    UnknownRule(RuleSource, String),
}

impl DetectionRuleError {
    pub const fn code(&self) -> &'static str {
        match self {
            Self::RoleRequired => "ROLE_REQUIRED",
            Self::InvalidSource(_) => "INVALID_SOURCE",
            Self::InvalidRuleId(_) => "INVALID_RULE_ID",
            Self::InvalidReason(_) => "INVALID_REASON",
            Self::WrongRule => "WRONG_RULE",
            Self::UnknownRule(..) => "UNKNOWN_RULE",
        }
    }
}

/// One rule's deployment state, rebuilt from its events.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DetectionRule {
    rule: Option<RuleRef>,
    deployed: bool,
}

impl DetectionRule {
    pub fn is_deployed(&self) -> bool {
        self.deployed
    }

    /// Decides which events `command` produces, without changing anything: blue leads and admins only;
    /// asking for the current state again succeeds with no event.
    pub fn decide(
        &self,
        command: DetectionRuleCommand,
    ) -> Result<Vec<DetectionRuleEvent>, DetectionRuleError> {
        if !command.actor.has_any(RULE_OWNERS) {
            return Err(DetectionRuleError::RoleRequired);
        }
        if self.rule.as_ref().is_some_and(|rule| *rule != command.rule) {
            return Err(DetectionRuleError::WrongRule);
        }
        let rule = command.rule;
        Ok(match command.action {
            DetectionRuleAction::Deploy { reason } if !self.deployed => {
                vec![DetectionRuleEvent::Deployed { rule, reason }]
            }
            DetectionRuleAction::Retire { reason } if self.deployed => {
                vec![DetectionRuleEvent::Retired { rule, reason }]
            }
            DetectionRuleAction::Deploy { .. } | DetectionRuleAction::Retire { .. } => Vec::new(),
        })
    }
}

impl Aggregate for DetectionRule {
    const TYPE: &'static str = "DetectionRule";
    type Command = DetectionRuleCommand;
    type Event = DetectionRuleEvent;
    type Error = DetectionRuleError;
    type Services = ();

    async fn handle(
        &mut self,
        command: DetectionRuleCommand,
        _services: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), DetectionRuleError> {
        for event in self.decide(command)? {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: DetectionRuleEvent) {
        match event {
            DetectionRuleEvent::Deployed { rule, .. } => {
                self.rule = Some(rule);
                self.deployed = true;
            }
            DetectionRuleEvent::Retired { rule, .. } => {
                self.rule = Some(rule);
                self.deployed = false;
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
