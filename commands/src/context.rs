//! Who issues a command, on whose behalf and when: the facts copied onto every event as metadata.

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;

use chrono::{DateTime, SecondsFormat, Utc};
use domain::role::Role;
use uuid::Uuid;

/// Metadata keys written on every event. Values are strings because cqrs-es metadata is a string map.
pub mod keys {
    pub const ACTOR_ID: &str = "actor_id";
    pub const ACTOR_ROLES: &str = "actor_roles";
    pub const CORRELATION_ID: &str = "correlation_id";
    pub const IDEMPOTENCY_KEY: &str = "idempotency_key";
    pub const CLIENT_IP: &str = "client_ip";
    pub const OCCURRED_AT: &str = "occurred_at";
}

/// The source of "now" for the write side. Tests substitute a fixed clock; `domain` never sees one.
pub trait Clock: Send + Sync + fmt::Debug {
    fn now(&self) -> DateTime<Utc>;
}

/// The machine's clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// Who acts: a user (with the roles their verified token carries) or a named part of Aegis itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    id: String,
    roles: Vec<Role>,
}

impl Actor {
    pub fn user(id: Uuid, roles: impl IntoIterator<Item = Role>) -> Self {
        let mut roles: Vec<Role> = roles.into_iter().collect();
        roles.sort();
        roles.dedup();
        Self {
            id: id.to_string(),
            roles,
        }
    }

    /// Background work (scheduler, importers, migrations of data) acts as `system:<component>`.
    pub fn system(component: &str) -> Self {
        Self {
            id: format!("system:{component}"),
            roles: Vec::new(),
        }
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn roles(&self) -> &[Role] {
        &self.roles
    }
}

/// A client-chosen key that makes a command safe to retry.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IdempotencyKey(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("an idempotency key must be 1 to 200 visible ASCII characters")]
pub struct InvalidIdempotencyKey;

impl IdempotencyKey {
    pub fn parse(key: &str) -> Result<Self, InvalidIdempotencyKey> {
        let valid_length = (1..=200).contains(&key.len());
        if valid_length && key.bytes().all(|byte| byte.is_ascii_graphic()) {
            Ok(Self(key.to_owned()))
        } else {
            Err(InvalidIdempotencyKey)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Everything about a command that is not the command itself.
#[derive(Debug, Clone)]
pub struct CommandContext {
    pub actor: Actor,
    /// Ties together every event caused by one request (the HTTP request id, or a background run's id).
    pub correlation_id: Uuid,
    pub idempotency_key: Option<IdempotencyKey>,
    pub client_ip: Option<IpAddr>,
}

impl CommandContext {
    /// A context for `actor` with a fresh correlation id and nothing else.
    pub fn new(actor: Actor) -> Self {
        Self {
            actor,
            correlation_id: Uuid::now_v7(),
            idempotency_key: None,
            client_ip: None,
        }
    }

    #[must_use]
    pub fn with_idempotency_key(self, key: IdempotencyKey) -> Self {
        Self {
            idempotency_key: Some(key),
            ..self
        }
    }

    /// The metadata stored on each event the command appends.
    pub fn metadata(&self, occurred_at: DateTime<Utc>) -> HashMap<String, String> {
        let roles: Vec<&str> = self.actor.roles.iter().map(|role| role.as_str()).collect();
        let mut metadata = HashMap::from([
            (keys::ACTOR_ID.to_owned(), self.actor.id.clone()),
            (keys::ACTOR_ROLES.to_owned(), roles.join(",")),
            (
                keys::CORRELATION_ID.to_owned(),
                self.correlation_id.to_string(),
            ),
            (
                keys::OCCURRED_AT.to_owned(),
                occurred_at.to_rfc3339_opts(SecondsFormat::Micros, true),
            ),
        ]);
        if let Some(key) = &self.idempotency_key {
            metadata.insert(keys::IDEMPOTENCY_KEY.to_owned(), key.0.clone());
        }
        if let Some(ip) = self.client_ip {
            metadata.insert(keys::CLIENT_IP.to_owned(), ip.to_string());
        }
        metadata
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idempotency_keys_are_short_visible_ascii() {
        assert!(IdempotencyKey::parse("retry-7f3a").is_ok());
        assert_eq!(IdempotencyKey::parse(""), Err(InvalidIdempotencyKey));
        assert_eq!(
            IdempotencyKey::parse("has space"),
            Err(InvalidIdempotencyKey)
        );
        assert_eq!(
            IdempotencyKey::parse(&"k".repeat(201)),
            Err(InvalidIdempotencyKey)
        );
    }

    #[test]
    fn metadata_names_the_actor_the_request_and_the_time() {
        let actor = Actor::user(Uuid::nil(), [Role::RedTech, Role::Admin, Role::RedTech]);
        let context = CommandContext::new(actor)
            .with_idempotency_key(IdempotencyKey::parse("k1").expect("valid key"));
        let occurred_at = DateTime::parse_from_rfc3339("2026-11-28T10:00:00Z")
            .expect("valid time")
            .with_timezone(&Utc);
        let metadata = context.metadata(occurred_at);
        assert_eq!(metadata[keys::ACTOR_ID], Uuid::nil().to_string());
        assert_eq!(metadata[keys::ACTOR_ROLES], "admin,red_tech");
        assert_eq!(metadata[keys::IDEMPOTENCY_KEY], "k1");
        assert_eq!(metadata[keys::OCCURRED_AT], "2026-11-28T10:00:00.000000Z");
        assert_eq!(
            metadata[keys::CORRELATION_ID],
            context.correlation_id.to_string()
        );
        assert!(!metadata.contains_key(keys::CLIENT_IP));
    }
}
