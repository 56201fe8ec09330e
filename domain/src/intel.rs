//! Intel items: the `IntelItem` aggregate, one stream per finding of the scheduler's intel scan or ATT&CK sync
//! ("ATT&CK 18.1 was loaded", "12 techniques changed", "APT29 now uses T1566.002", "4 techniques went stale").
//! The scan decides what is new; the item records it, whom it told, and the lead who acknowledged it.
//!
//! An item's id is derived by the scan from what was found (the import run and the finding's kind, the
//! technique and the moment it went stale), so scanning twice finds the same ids and raising one again is
//! refused: a rerun adds nothing.

use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::actor::Actor;
use crate::role::Role;
use crate::text;

/// The longest title, in characters.
pub const TITLE_MAX_CHARS: usize = 200;
/// The longest detail or acknowledgement note, in characters.
pub const DETAIL_MAX_CHARS: usize = 4000;

/// What an item reports. Persisted by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IntelKind {
    /// A new ATT&CK release was loaded (a new catalog version).
    AttackVersion,
    /// Techniques ATT&CK did not have before.
    NewTechniques,
    /// Techniques whose description, platforms, tactics or status changed.
    ChangedTechniques,
    /// New detection rules for techniques in scope.
    NewDetectionRules,
    /// New procedures (templates) for techniques in scope.
    NewTemplates,
    /// A tracked threat actor is now known to use techniques it did not use before.
    ActorTechniques,
    /// Techniques whose last validation fell out of the scoring policy's freshness window.
    StaleCoverage,
}

/// A catalog record an item points at (a technique, a rule, a template, a group).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct CatalogLink {
    /// The catalog's record kind: `technique`, `detection_rule`, `template`, `group`…
    pub kind: String,
    pub scope: String,
    pub id: String,
    /// As the finding knew it; empty when it did not look it up.
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RaiseIntelItem {
    pub actor: Actor,
    pub kind: IntelKind,
    pub title: String,
    pub detail: String,
    pub links: Vec<CatalogLink>,
    /// Who is told (the leads at the time of the scan); named here so the notifications are a function of
    /// the log.
    pub notify: Vec<Uuid>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AcknowledgeIntelItem {
    pub actor: Actor,
    /// What was done about it, if anything.
    pub note: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum IntelCommand {
    Raise(RaiseIntelItem),
    Acknowledge(AcknowledgeIntelItem),
}

/// Persisted at version "1". Who and when is in the event's metadata.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum IntelEvent {
    Raised {
        kind: IntelKind,
        title: String,
        detail: String,
        links: Vec<CatalogLink>,
        notify: Vec<Uuid>,
    },
    Acknowledged {
        note: Option<String>,
    },
}

impl DomainEvent for IntelEvent {
    fn event_type(&self) -> String {
        match self {
            Self::Raised { .. } => "IntelItemRaised",
            Self::Acknowledged { .. } => "IntelItemAcknowledged",
        }
        .to_owned()
    }

    fn event_version(&self) -> String {
        "1".to_owned()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IntelError {
    #[error("Only Aegis itself (an admin) raises intel items.")]
    RaiseRequiresAdmin,
    #[error("Acknowledging intel items requires a lead or admin role.")]
    RoleRequired,
    #[error("This intel item was raised already.")]
    AlreadyRaised,
    #[error("There is no such intel item.")]
    NotFound,
    #[error("This intel item was acknowledged already.")]
    AlreadyAcknowledged,
    #[error("The {field} is not valid: {reason}.")]
    Invalid { field: &'static str, reason: String },
}

impl IntelError {
    pub const fn code(&self) -> &'static str {
        match self {
            Self::RaiseRequiresAdmin | Self::RoleRequired => "ROLE_REQUIRED",
            Self::AlreadyRaised => "ALREADY_RAISED",
            Self::AlreadyAcknowledged => "ALREADY_ACKNOWLEDGED",
            Self::NotFound => "NOT_FOUND",
            Self::Invalid { .. } => "INVALID_TEXT",
        }
    }
}

/// Where an item is in its short life.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum IntelItem {
    #[default]
    NotRaised,
    Open,
    Acknowledged,
}

fn checked(
    field: &'static str,
    input: &str,
    check: fn(&str, usize) -> Result<&str, String>,
    max: usize,
) -> Result<String, IntelError> {
    check(input, max)
        .map(str::to_owned)
        .map_err(|reason| IntelError::Invalid { field, reason })
}

impl IntelItem {
    pub fn decide(&self, command: &IntelCommand) -> Result<Vec<IntelEvent>, IntelError> {
        match command {
            IntelCommand::Raise(raise) => {
                if !raise.actor.is_admin() {
                    return Err(IntelError::RaiseRequiresAdmin);
                }
                if *self != Self::NotRaised {
                    return Err(IntelError::AlreadyRaised);
                }
                let mut notify = raise.notify.clone();
                notify.sort_unstable();
                notify.dedup();
                let mut links = raise.links.clone();
                links.sort();
                links.dedup();
                Ok(vec![IntelEvent::Raised {
                    kind: raise.kind,
                    title: checked("title", &raise.title, text::label, TITLE_MAX_CHARS)?,
                    detail: checked("detail", &raise.detail, text::prose, DETAIL_MAX_CHARS)?,
                    links,
                    notify,
                }])
            }
            IntelCommand::Acknowledge(acknowledge) => {
                if !acknowledge.actor.has_any(&[Role::RedLead, Role::BlueLead]) {
                    return Err(IntelError::RoleRequired);
                }
                match self {
                    Self::NotRaised => Err(IntelError::NotFound),
                    Self::Acknowledged => Err(IntelError::AlreadyAcknowledged),
                    Self::Open => {
                        let note = acknowledge
                            .note
                            .as_deref()
                            .filter(|note| !note.trim().is_empty())
                            .map(|note| checked("note", note, text::prose, DETAIL_MAX_CHARS))
                            .transpose()?;
                        Ok(vec![IntelEvent::Acknowledged { note }])
                    }
                }
            }
        }
    }
}

impl Aggregate for IntelItem {
    const TYPE: &'static str = "IntelItem";
    type Command = IntelCommand;
    type Event = IntelEvent;
    type Error = IntelError;
    type Services = ();

    async fn handle(
        &mut self,
        command: IntelCommand,
        _services: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), IntelError> {
        for event in self.decide(&command)? {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: IntelEvent) {
        *self = match event {
            IntelEvent::Raised { .. } => Self::Open,
            IntelEvent::Acknowledged { .. } => Self::Acknowledged,
        };
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use cqrs_es::test::TestFramework;

    use super::*;

    fn actor(roles: &[Role]) -> Actor {
        Actor::new(Uuid::from_u128(9), roles.iter().copied())
    }

    fn raise(roles: &[Role]) -> IntelCommand {
        IntelCommand::Raise(RaiseIntelItem {
            actor: actor(roles),
            kind: IntelKind::ChangedTechniques,
            title: " 1 technique changed ".to_owned(),
            detail: "T1003 OS Credential Dumping".to_owned(),
            links: vec![link("T1003"), link("T1003")],
            notify: vec![Uuid::from_u128(2), Uuid::from_u128(1), Uuid::from_u128(2)],
        })
    }

    fn link(id: &str) -> CatalogLink {
        CatalogLink {
            kind: "technique".to_owned(),
            scope: "enterprise-attack".to_owned(),
            id: id.to_owned(),
            name: "OS Credential Dumping".to_owned(),
        }
    }

    fn raised() -> IntelEvent {
        IntelEvent::Raised {
            kind: IntelKind::ChangedTechniques,
            title: "1 technique changed".to_owned(),
            detail: "T1003 OS Credential Dumping".to_owned(),
            links: vec![link("T1003")],
            notify: vec![Uuid::from_u128(1), Uuid::from_u128(2)],
        }
    }

    fn acknowledge(roles: &[Role], note: Option<&str>) -> IntelCommand {
        IntelCommand::Acknowledge(AcknowledgeIntelItem {
            actor: actor(roles),
            note: note.map(str::to_owned),
        })
    }

    #[test]
    fn aegis_raises_an_item_once_with_its_recipients_and_links_in_order() {
        TestFramework::<IntelItem>::with(())
            .given_no_previous_events()
            .when(raise(&[Role::Admin]))
            .then_expect_events(vec![raised()]);
        TestFramework::<IntelItem>::with(())
            .given(vec![raised()])
            .when(raise(&[Role::Admin]))
            .then_expect_error(IntelError::AlreadyRaised);
        TestFramework::<IntelItem>::with(())
            .given_no_previous_events()
            .when(raise(&[Role::RedLead]))
            .then_expect_error(IntelError::RaiseRequiresAdmin);
    }

    #[test]
    fn a_lead_acknowledges_an_open_item_once() {
        TestFramework::<IntelItem>::with(())
            .given(vec![raised()])
            .when(acknowledge(&[Role::BlueLead], Some(" new rule deployed ")))
            .then_expect_events(vec![IntelEvent::Acknowledged {
                note: Some("new rule deployed".to_owned()),
            }]);
        TestFramework::<IntelItem>::with(())
            .given(vec![raised()])
            .when(acknowledge(&[Role::RedLead], Some("  ")))
            .then_expect_events(vec![IntelEvent::Acknowledged { note: None }]);
        TestFramework::<IntelItem>::with(())
            .given(vec![raised(), IntelEvent::Acknowledged { note: None }])
            .when(acknowledge(&[Role::Admin], None))
            .then_expect_error(IntelError::AlreadyAcknowledged);
    }

    #[test]
    fn technicians_and_unknown_items_are_refused() {
        TestFramework::<IntelItem>::with(())
            .given(vec![raised()])
            .when(acknowledge(&[Role::RedTech, Role::BlueTech], None))
            .then_expect_error(IntelError::RoleRequired);
        TestFramework::<IntelItem>::with(())
            .given_no_previous_events()
            .when(acknowledge(&[Role::BlueLead], None))
            .then_expect_error(IntelError::NotFound);
    }

    #[test]
    fn an_empty_title_is_refused() {
        let IntelCommand::Raise(mut command) = raise(&[Role::Admin]) else {
            unreachable!()
        };
        command.title = " ".to_owned();
        TestFramework::<IntelItem>::with(())
            .given_no_previous_events()
            .when(IntelCommand::Raise(command))
            .then_expect_error(IntelError::Invalid {
                field: "title",
                reason: "it is empty".to_owned(),
            });
    }

    #[test]
    fn the_persisted_events_keep_their_shape() {
        assert_eq!(
            serde_json::to_value(raised()).unwrap(),
            serde_json::json!({ "Raised": {
                "kind": "changed_techniques",
                "title": "1 technique changed",
                "detail": "T1003 OS Credential Dumping",
                "links": [{ "kind": "technique", "scope": "enterprise-attack", "id": "T1003", "name": "OS Credential Dumping" }],
                "notify": ["00000000-0000-0000-0000-000000000001", "00000000-0000-0000-0000-000000000002"],
            } })
        );
        assert_eq!(
            serde_json::to_value(IntelEvent::Acknowledged { note: None }).unwrap(),
            serde_json::json!({ "Acknowledged": { "note": null } })
        );
    }
}
