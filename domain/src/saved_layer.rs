//! Saved layers: the `SavedLayer` aggregate, a scoped view someone brought in as an ATT&CK Navigator layer
//! (a threat report's techniques, another team's coverage, an old DeTT&CT assessment) and keeps beside
//! Aegis' own heatmap: its name, domain, and per technique the score, colour, comment and metadata as the
//! layer gave them, with the technique ids already mapped to the loaded ATT&CK release.
//!
//! Saved once, then renamed or deleted; the annotations are the file's, so changing them means importing the
//! file again.

use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

use crate::actor::Actor;
use crate::role::Role;
use crate::test_case::TechniqueId;
use crate::text;

/// The longest name, in characters.
pub const NAME_MAX_CHARS: usize = 200;

/// One technique annotation of a saved layer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LayerAnnotation {
    pub technique: TechniqueId,
    /// The tactic's short name; `None` for every tactic of the technique.
    pub tactic: Option<String>,
    /// On the layer's own scale (see `min_score` and `max_score` of the layer).
    pub score: Option<f64>,
    pub color: Option<String>,
    pub comment: Option<String>,
    /// `name`/`value` pairs.
    pub metadata: Vec<(String, String)>,
}

/// What a saved layer holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LayerContent {
    pub name: String,
    pub description: String,
    /// `enterprise-attack`, `mobile-attack` or `ics-attack`.
    pub domain: String,
    /// The ATT&CK release the layer was made for, when it says.
    pub attack_version: Option<String>,
    /// The gradient's range, when the layer has one (scores are on the producer's scale).
    pub min_score: Option<f64>,
    pub max_score: Option<f64>,
    pub annotations: Vec<LayerAnnotation>,
    /// Where it came from (the file name), for people.
    pub source: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum SavedLayerCommand {
    Save { actor: Actor, content: LayerContent },
    Rename { actor: Actor, name: String },
    Delete { actor: Actor },
}

/// Persisted at version "1". Who and when is in the event's metadata.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum SavedLayerEvent {
    Saved { content: LayerContent },
    Renamed { name: String },
    Deleted,
}

impl DomainEvent for SavedLayerEvent {
    fn event_type(&self) -> String {
        match self {
            Self::Saved { .. } => "SavedLayerSaved",
            Self::Renamed { .. } => "SavedLayerRenamed",
            Self::Deleted => "SavedLayerDeleted",
        }
        .to_owned()
    }

    fn event_version(&self) -> String {
        "1".to_owned()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SavedLayerError {
    #[error("Saving, renaming and deleting layers requires a lead or admin role.")]
    RoleRequired,
    #[error("A layer was saved under this id already.")]
    AlreadySaved,
    #[error("There is no such saved layer.")]
    NotFound,
    #[error("The name is not valid: {0}.")]
    InvalidName(String),
}

impl SavedLayerError {
    pub const fn code(&self) -> &'static str {
        match self {
            Self::RoleRequired => "ROLE_REQUIRED",
            Self::AlreadySaved => "ALREADY_SAVED",
            Self::NotFound => "NOT_FOUND",
            Self::InvalidName(_) => "INVALID_NAME",
        }
    }
}

/// Whether the layer exists.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum SavedLayer {
    #[default]
    NotSaved,
    Saved,
    Deleted,
}

fn name(input: &str) -> Result<String, SavedLayerError> {
    text::label(input, NAME_MAX_CHARS)
        .map(str::to_owned)
        .map_err(SavedLayerError::InvalidName)
}

impl SavedLayer {
    pub fn decide(
        &self,
        command: &SavedLayerCommand,
    ) -> Result<Vec<SavedLayerEvent>, SavedLayerError> {
        let (SavedLayerCommand::Save { actor, .. }
        | SavedLayerCommand::Rename { actor, .. }
        | SavedLayerCommand::Delete { actor }) = command;
        if !actor.has_any(&[Role::RedLead, Role::BlueLead]) {
            return Err(SavedLayerError::RoleRequired);
        }
        match (command, self) {
            (SavedLayerCommand::Save { content, .. }, Self::NotSaved) => {
                let content = LayerContent {
                    name: name(&content.name)?,
                    ..content.clone()
                };
                Ok(vec![SavedLayerEvent::Saved { content }])
            }
            (SavedLayerCommand::Save { .. }, _) => Err(SavedLayerError::AlreadySaved),
            (_, Self::NotSaved | Self::Deleted) => Err(SavedLayerError::NotFound),
            (SavedLayerCommand::Rename { name: new_name, .. }, Self::Saved) => {
                Ok(vec![SavedLayerEvent::Renamed {
                    name: name(new_name)?,
                }])
            }
            (SavedLayerCommand::Delete { .. }, Self::Saved) => Ok(vec![SavedLayerEvent::Deleted]),
        }
    }
}

impl Aggregate for SavedLayer {
    const TYPE: &'static str = "SavedLayer";
    type Command = SavedLayerCommand;
    type Event = SavedLayerEvent;
    type Error = SavedLayerError;
    type Services = ();

    async fn handle(
        &mut self,
        command: SavedLayerCommand,
        _services: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), SavedLayerError> {
        for event in self.decide(&command)? {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: SavedLayerEvent) {
        match event {
            SavedLayerEvent::Saved { .. } => *self = Self::Saved,
            SavedLayerEvent::Renamed { .. } => {}
            SavedLayerEvent::Deleted => *self = Self::Deleted,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use cqrs_es::test::TestFramework;
    use uuid::Uuid;

    use super::*;

    fn actor(roles: &[Role]) -> Actor {
        Actor::new(Uuid::from_u128(7), roles.iter().copied())
    }

    fn content(name: &str) -> LayerContent {
        LayerContent {
            name: name.to_owned(),
            description: String::new(),
            domain: "enterprise-attack".to_owned(),
            attack_version: Some("18".to_owned()),
            min_score: Some(0.0),
            max_score: Some(100.0),
            annotations: vec![LayerAnnotation {
                technique: TechniqueId::parse("T1003.001").unwrap(),
                tactic: None,
                score: Some(75.0),
                color: None,
                comment: Some("EDR blocks it".to_owned()),
                metadata: vec![("source".to_owned(), "report".to_owned())],
            }],
            source: "apt29.json".to_owned(),
        }
    }

    #[test]
    fn a_lead_saves_renames_and_deletes_a_layer() {
        TestFramework::<SavedLayer>::with(())
            .given_no_previous_events()
            .when(SavedLayerCommand::Save {
                actor: actor(&[Role::BlueLead]),
                content: content(" APT29 "),
            })
            .then_expect_events(vec![SavedLayerEvent::Saved {
                content: content("APT29"),
            }]);
        TestFramework::<SavedLayer>::with(())
            .given(vec![SavedLayerEvent::Saved {
                content: content("APT29"),
            }])
            .when(SavedLayerCommand::Rename {
                actor: actor(&[Role::RedLead]),
                name: "APT29 (2026)".to_owned(),
            })
            .then_expect_events(vec![SavedLayerEvent::Renamed {
                name: "APT29 (2026)".to_owned(),
            }]);
        TestFramework::<SavedLayer>::with(())
            .given(vec![SavedLayerEvent::Saved {
                content: content("APT29"),
            }])
            .when(SavedLayerCommand::Delete {
                actor: actor(&[Role::Admin]),
            })
            .then_expect_events(vec![SavedLayerEvent::Deleted]);
    }

    #[test]
    fn refusals() {
        TestFramework::<SavedLayer>::with(())
            .given_no_previous_events()
            .when(SavedLayerCommand::Save {
                actor: actor(&[Role::RedTech, Role::Viewer]),
                content: content("x"),
            })
            .then_expect_error(SavedLayerError::RoleRequired);
        TestFramework::<SavedLayer>::with(())
            .given(vec![SavedLayerEvent::Saved {
                content: content("APT29"),
            }])
            .when(SavedLayerCommand::Save {
                actor: actor(&[Role::Admin]),
                content: content("again"),
            })
            .then_expect_error(SavedLayerError::AlreadySaved);
        TestFramework::<SavedLayer>::with(())
            .given(vec![
                SavedLayerEvent::Saved {
                    content: content("APT29"),
                },
                SavedLayerEvent::Deleted,
            ])
            .when(SavedLayerCommand::Rename {
                actor: actor(&[Role::Admin]),
                name: "x".to_owned(),
            })
            .then_expect_error(SavedLayerError::NotFound);
        TestFramework::<SavedLayer>::with(())
            .given_no_previous_events()
            .when(SavedLayerCommand::Save {
                actor: actor(&[Role::Admin]),
                content: content("  "),
            })
            .then_expect_error(SavedLayerError::InvalidName("it is empty".to_owned()));
    }
}
