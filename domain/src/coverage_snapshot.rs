//! Coverage snapshots: the `CoverageSnapshots` aggregate (one stream for the whole organisation) records that a
//! snapshot of the coverage was taken — weekly by the scheduler, or on demand by an admin. The coverage
//! projection copies its state at that point of the log, so a snapshot is a pure function of the log like every
//! read model (a rebuild makes the same snapshots), and time travel starts from the nearest one instead of
//! replaying everything.

use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::actor::Actor;

/// The one stream of snapshot events.
pub const SNAPSHOTS_AGGREGATE_ID: Uuid = Uuid::from_u128(0x6165_6769_735f_736e_6170_7368_6f74_0001);
/// Weekly snapshots kept; older weekly ones are dropped when a new one is taken (on-demand ones stay).
pub const WEEKLY_SNAPSHOTS_KEPT: usize = 52;

/// Why a snapshot was taken. Persisted by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SnapshotKind {
    /// The scheduler's Sunday snapshot; the last [`WEEKLY_SNAPSHOTS_KEPT`] are kept.
    Weekly,
    /// Asked for by an admin (before an audit, after a campaign); kept.
    OnDemand,
}

impl SnapshotKind {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Weekly => "weekly",
            Self::OnDemand => "on_demand",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TakeSnapshot {
    pub actor: Actor,
    /// Chosen by the caller, so a retried request names the same snapshot.
    pub snapshot_id: Uuid,
    pub kind: SnapshotKind,
}

/// Persisted at version "1". Who and when is in the event's metadata.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum CoverageSnapshotEvent {
    Taken {
        snapshot_id: Uuid,
        kind: SnapshotKind,
    },
}

impl DomainEvent for CoverageSnapshotEvent {
    fn event_type(&self) -> String {
        "CoverageSnapshotTaken".to_owned()
    }

    fn event_version(&self) -> String {
        "1".to_owned()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CoverageSnapshotError {
    #[error("Taking coverage snapshots requires the admin role.")]
    RoleRequired,
    #[error("A snapshot with this id was already taken.")]
    AlreadyTaken,
}

impl CoverageSnapshotError {
    pub const fn code(&self) -> &'static str {
        match self {
            Self::RoleRequired => "ROLE_REQUIRED",
            Self::AlreadyTaken => "ALREADY_TAKEN",
        }
    }
}

/// The snapshots taken so far (their ids, to refuse a second snapshot under one id).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CoverageSnapshots {
    taken: Vec<Uuid>,
}

impl CoverageSnapshots {
    pub fn decide(
        &self,
        command: &TakeSnapshot,
    ) -> Result<Vec<CoverageSnapshotEvent>, CoverageSnapshotError> {
        if !command.actor.is_admin() {
            return Err(CoverageSnapshotError::RoleRequired);
        }
        if self.taken.contains(&command.snapshot_id) {
            return Err(CoverageSnapshotError::AlreadyTaken);
        }
        Ok(vec![CoverageSnapshotEvent::Taken {
            snapshot_id: command.snapshot_id,
            kind: command.kind,
        }])
    }
}

impl Aggregate for CoverageSnapshots {
    const TYPE: &'static str = "CoverageSnapshots";
    type Command = TakeSnapshot;
    type Event = CoverageSnapshotEvent;
    type Error = CoverageSnapshotError;
    type Services = ();

    async fn handle(
        &mut self,
        command: TakeSnapshot,
        _services: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), CoverageSnapshotError> {
        for event in self.decide(&command)? {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: CoverageSnapshotEvent) {
        let CoverageSnapshotEvent::Taken { snapshot_id, .. } = event;
        self.taken.push(snapshot_id);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use cqrs_es::test::TestFramework;

    use super::*;
    use crate::role::Role;

    fn take(roles: &[Role], id: u128) -> TakeSnapshot {
        TakeSnapshot {
            actor: Actor::new(Uuid::from_u128(9), roles.iter().copied()),
            snapshot_id: Uuid::from_u128(id),
            kind: SnapshotKind::OnDemand,
        }
    }

    #[test]
    fn an_admin_takes_a_snapshot() {
        TestFramework::<CoverageSnapshots>::with(())
            .given_no_previous_events()
            .when(take(&[Role::Admin], 1))
            .then_expect_events(vec![CoverageSnapshotEvent::Taken {
                snapshot_id: Uuid::from_u128(1),
                kind: SnapshotKind::OnDemand,
            }]);
    }

    #[test]
    fn others_are_refused_and_an_id_is_used_once() {
        TestFramework::<CoverageSnapshots>::with(())
            .given_no_previous_events()
            .when(take(&[Role::BlueLead], 1))
            .then_expect_error(CoverageSnapshotError::RoleRequired);
        TestFramework::<CoverageSnapshots>::with(())
            .given(vec![CoverageSnapshotEvent::Taken {
                snapshot_id: Uuid::from_u128(1),
                kind: SnapshotKind::Weekly,
            }])
            .when(take(&[Role::Admin], 1))
            .then_expect_error(CoverageSnapshotError::AlreadyTaken);
    }

    #[test]
    fn the_persisted_event_keeps_its_shape() {
        let event = CoverageSnapshotEvent::Taken {
            snapshot_id: Uuid::from_u128(1),
            kind: SnapshotKind::Weekly,
        };
        assert_eq!(
            serde_json::to_value(&event).unwrap(),
            serde_json::json!({ "Taken": { "snapshot_id": "00000000-0000-0000-0000-000000000001", "kind": "weekly" } })
        );
    }
}
