//! The six roles of Aegis.
//!
//! A role's name (`as_str`, `Display`, `FromStr` and serde all agree) is part of persisted events and of the
//! API, so renaming a variant's name is a schema change.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// What a user may do in Aegis; a user holds one or more roles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Manages users and the platform itself.
    Admin,
    /// Plans red-team campaigns and owns their results.
    RedLead,
    /// Executes red-team tests.
    RedTech,
    /// Owns detection and response outcomes.
    BlueLead,
    /// Records detection and response results.
    BlueTech,
    /// Reads everything, changes nothing.
    Viewer,
}

impl Role {
    /// Every role, in declaration order.
    pub const ALL: [Role; 6] = [
        Role::Admin,
        Role::RedLead,
        Role::RedTech,
        Role::BlueLead,
        Role::BlueTech,
        Role::Viewer,
    ];

    /// The role's stable name, the same one serde writes.
    pub const fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::RedLead => "red_lead",
            Role::RedTech => "red_tech",
            Role::BlueLead => "blue_lead",
            Role::BlueTech => "blue_tech",
            Role::Viewer => "viewer",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

/// A role name that is not one of [`Role::ALL`]; carries the rejected input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
// The list of valid names is built from `Role::ALL` so the message cannot drift from the enum.
#[error("\"{0}\" is not a role. Valid roles are: {valid}.", valid = Role::ALL.map(Role::as_str).join(", "))]
pub struct UnknownRole(pub String);

impl FromStr for Role {
    type Err = UnknownRole;

    /// Accepts exactly the names `as_str` returns; no case folding, so every spelling has one meaning.
    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|role| role.as_str() == name)
            .ok_or_else(|| UnknownRole(name.to_owned()))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn every_role_round_trips_through_its_name() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>(), Ok(role));
            assert_eq!(role.to_string(), role.as_str());
        }
    }

    #[test]
    fn every_role_round_trips_through_serde_as_its_name() {
        for role in Role::ALL {
            let json = serde_json::to_string(&role).unwrap();
            assert_eq!(json, format!("\"{}\"", role.as_str()));
            assert_eq!(serde_json::from_str::<Role>(&json).unwrap(), role);
        }
    }

    #[test]
    fn an_unknown_name_is_rejected_with_the_valid_names() {
        let error = "Admin".parse::<Role>().unwrap_err();
        assert_eq!(error, UnknownRole("Admin".to_owned()));
        assert_eq!(
            error.to_string(),
            "\"Admin\" is not a role. Valid roles are: admin, red_lead, red_tech, blue_lead, blue_tech, viewer."
        );
        assert!(serde_json::from_str::<Role>("\"superuser\"").is_err());
    }
}
