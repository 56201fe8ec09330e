//! The `SecurityPolicy` aggregate: organisation-wide security settings that admins change, starting with
//! which roles must sign in with a second factor. There is one policy, with id [`SecurityPolicy::ID`].

use std::collections::BTreeSet;

use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

use crate::role::Role;

/// What admins may change. Serializable because the command layer hashes commands for idempotency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SecurityPolicyCommand {
    /// Users holding `role` must enrol in two-factor login before doing anything else.
    RequireTwoFactor { role: Role },
    /// Holding `role` no longer requires two-factor login.
    WaiveTwoFactor { role: Role },
}

/// Versioned facts about the policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum SecurityPolicyEvent {
    TwoFactorRequired { role: Role },
    TwoFactorWaived { role: Role },
}

impl DomainEvent for SecurityPolicyEvent {
    fn event_type(&self) -> String {
        match self {
            Self::TwoFactorRequired { .. } => "SecurityPolicyTwoFactorRequired",
            Self::TwoFactorWaived { .. } => "SecurityPolicyTwoFactorWaived",
        }
        .to_owned()
    }

    fn event_version(&self) -> String {
        "1".to_owned()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecurityPolicyError {
    #[error("two-factor login is already required for the {0} role")]
    AlreadyRequired(Role),
    #[error("two-factor login is not required for the {0} role")]
    NotRequired(Role),
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecurityPolicy {
    two_factor_roles: BTreeSet<Role>,
}

impl SecurityPolicy {
    /// The aggregate id of the one policy.
    pub const ID: &'static str = "security-policy";

    /// Roles whose holders must use two-factor login.
    pub fn two_factor_roles(&self) -> &BTreeSet<Role> {
        &self.two_factor_roles
    }

    pub fn decide(
        &self,
        command: SecurityPolicyCommand,
    ) -> Result<Vec<SecurityPolicyEvent>, SecurityPolicyError> {
        match command {
            SecurityPolicyCommand::RequireTwoFactor { role } => {
                if self.two_factor_roles.contains(&role) {
                    return Err(SecurityPolicyError::AlreadyRequired(role));
                }
                Ok(vec![SecurityPolicyEvent::TwoFactorRequired { role }])
            }
            SecurityPolicyCommand::WaiveTwoFactor { role } => {
                if !self.two_factor_roles.contains(&role) {
                    return Err(SecurityPolicyError::NotRequired(role));
                }
                Ok(vec![SecurityPolicyEvent::TwoFactorWaived { role }])
            }
        }
    }
}

impl Aggregate for SecurityPolicy {
    const TYPE: &'static str = "SecurityPolicy";
    type Command = SecurityPolicyCommand;
    type Event = SecurityPolicyEvent;
    type Error = SecurityPolicyError;
    type Services = ();

    async fn handle(
        &mut self,
        command: Self::Command,
        _services: &Self::Services,
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        for event in self.decide(command)? {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        match event {
            SecurityPolicyEvent::TwoFactorRequired { role } => {
                self.two_factor_roles.insert(role);
            }
            SecurityPolicyEvent::TwoFactorWaived { role } => {
                self.two_factor_roles.remove(&role);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use cqrs_es::test::TestFramework;

    use super::*;

    fn framework() -> TestFramework<SecurityPolicy> {
        TestFramework::with(())
    }

    #[test]
    fn requiring_two_factor_for_a_role() {
        framework()
            .given_no_previous_events()
            .when(SecurityPolicyCommand::RequireTwoFactor { role: Role::Admin })
            .then_expect_events(vec![SecurityPolicyEvent::TwoFactorRequired {
                role: Role::Admin,
            }]);
    }

    #[test]
    fn requiring_it_twice_is_refused() {
        framework()
            .given(vec![SecurityPolicyEvent::TwoFactorRequired {
                role: Role::Admin,
            }])
            .when(SecurityPolicyCommand::RequireTwoFactor { role: Role::Admin })
            .then_expect_error(SecurityPolicyError::AlreadyRequired(Role::Admin));
    }

    #[test]
    fn waiving_a_requirement() {
        framework()
            .given(vec![SecurityPolicyEvent::TwoFactorRequired {
                role: Role::BlueLead,
            }])
            .when(SecurityPolicyCommand::WaiveTwoFactor {
                role: Role::BlueLead,
            })
            .then_expect_events(vec![SecurityPolicyEvent::TwoFactorWaived {
                role: Role::BlueLead,
            }]);
    }

    #[test]
    fn waiving_what_is_not_required_is_refused() {
        framework()
            .given(vec![SecurityPolicyEvent::TwoFactorRequired {
                role: Role::Admin,
            }])
            .when(SecurityPolicyCommand::WaiveTwoFactor { role: Role::Viewer })
            .then_expect_error(SecurityPolicyError::NotRequired(Role::Viewer));
    }

    #[test]
    fn stored_payloads_still_load() {
        let required: SecurityPolicyEvent =
            serde_json::from_str(r#"{"TwoFactorRequired":{"role":"red_lead"}}"#).unwrap();
        assert_eq!(
            required,
            SecurityPolicyEvent::TwoFactorRequired {
                role: Role::RedLead
            }
        );
        let waived: SecurityPolicyEvent =
            serde_json::from_str(r#"{"TwoFactorWaived":{"role":"admin"}}"#).unwrap();
        assert_eq!(
            waived,
            SecurityPolicyEvent::TwoFactorWaived { role: Role::Admin }
        );
    }
}
