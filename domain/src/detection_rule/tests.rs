//! Every command path and rejection of the `DetectionRule` aggregate, and the persisted-event contract.

use cqrs_es::test::TestFramework;
use uuid::Uuid;

use super::*;

type RuleTest = TestFramework<DetectionRule>;

fn rule(id: &str) -> RuleRef {
    RuleRef {
        source: RuleSource::Sigma,
        id: RuleId::parse(id).unwrap(),
    }
}

fn reason(text: &str) -> RuleChangeReason {
    RuleChangeReason::parse(text).unwrap()
}

fn command_by(roles: &[Role], rule_id: &str, action: DetectionRuleAction) -> DetectionRuleCommand {
    DetectionRuleCommand {
        actor: Actor::new(Uuid::from_u128(7), roles.iter().copied()),
        rule: rule(rule_id),
        action,
    }
}

fn deploy() -> DetectionRuleAction {
    DetectionRuleAction::Deploy {
        reason: reason("In the SIEM since the Q1 review."),
    }
}

fn retire() -> DetectionRuleAction {
    DetectionRuleAction::Retire {
        reason: reason("Too noisy."),
    }
}

fn deployed(rule_id: &str) -> DetectionRuleEvent {
    DetectionRuleEvent::Deployed {
        rule: rule(rule_id),
        reason: reason("In the SIEM since the Q1 review."),
    }
}

const RULE: &str = "5f1e3c2a-0000-4000-8000-000000000001";

#[test]
fn a_blue_lead_deploys_a_rule() {
    RuleTest::with(())
        .given_no_previous_events()
        .when(command_by(&[Role::BlueLead], RULE, deploy()))
        .then_expect_events(vec![deployed(RULE)]);
}

#[test]
fn an_admin_may_deploy_too() {
    RuleTest::with(())
        .given_no_previous_events()
        .when(command_by(&[Role::Admin], RULE, deploy()))
        .then_expect_events(vec![deployed(RULE)]);
}

#[test]
fn other_roles_are_refused() {
    for role in [Role::BlueTech, Role::RedLead, Role::RedTech, Role::Viewer] {
        RuleTest::with(())
            .given_no_previous_events()
            .when(command_by(&[role], RULE, deploy()))
            .then_expect_error(DetectionRuleError::RoleRequired);
    }
}

#[test]
fn a_deployed_rule_is_retired() {
    RuleTest::with(())
        .given(vec![deployed(RULE)])
        .when(command_by(&[Role::BlueLead], RULE, retire()))
        .then_expect_events(vec![DetectionRuleEvent::Retired {
            rule: rule(RULE),
            reason: reason("Too noisy."),
        }]);
}

#[test]
fn deploying_a_deployed_rule_or_retiring_a_retired_one_changes_nothing() {
    RuleTest::with(())
        .given(vec![deployed(RULE)])
        .when(command_by(&[Role::BlueLead], RULE, deploy()))
        .then_expect_events(Vec::new());
    RuleTest::with(())
        .given_no_previous_events()
        .when(command_by(&[Role::BlueLead], RULE, retire()))
        .then_expect_events(Vec::new());
}

#[test]
fn a_command_for_another_rule_is_refused() {
    RuleTest::with(())
        .given(vec![deployed(RULE)])
        .when(command_by(&[Role::BlueLead], "another-rule", retire()))
        .then_expect_error(DetectionRuleError::WrongRule);
}

#[test]
fn values_are_checked() {
    assert_eq!(RuleSource::parse(" Elastic "), Ok(RuleSource::Elastic));
    assert_eq!(
        RuleSource::parse("splunk"),
        Err(DetectionRuleError::InvalidSource("splunk".into()))
    );
    assert!(RuleId::parse("  ").is_err());
    assert!(RuleId::parse(&"x".repeat(256)).is_err());
    assert!(RuleChangeReason::parse("").is_err());
}

#[test]
fn the_aggregate_id_depends_on_source_and_id_only() {
    let sigma = rule(RULE);
    let elastic = RuleRef {
        source: RuleSource::Elastic,
        id: RuleId::parse(RULE).unwrap(),
    };
    assert_eq!(sigma.aggregate_id(), rule(RULE).aggregate_id());
    assert_ne!(sigma.aggregate_id(), elastic.aggregate_id());
}

/// Stored events are read back by this shape forever.
#[test]
fn persisted_events_keep_their_shape() {
    let stored = serde_json::json!({
        "Deployed": {
            "rule": { "source": "sigma", "id": RULE },
            "reason": "In the SIEM since the Q1 review."
        }
    });
    assert_eq!(serde_json::to_value(deployed(RULE)).unwrap(), stored);
    assert_eq!(
        serde_json::from_value::<DetectionRuleEvent>(stored).unwrap(),
        deployed(RULE)
    );
    assert_eq!(deployed(RULE).event_type(), "DetectionRuleDeployed");
    assert_eq!(deployed(RULE).event_version(), "1");
}
