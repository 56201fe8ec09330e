//! Who performs a command, as the domain's rules see them: a user with roles. It arrives inside commands
//! (from the verified token), never looked up by the domain.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::role::Role;

/// A signed-in user acting on an aggregate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    pub user_id: Uuid,
    pub roles: BTreeSet<Role>,
}

impl Actor {
    pub fn new(user_id: Uuid, roles: impl IntoIterator<Item = Role>) -> Self {
        Self {
            user_id,
            roles: roles.into_iter().collect(),
        }
    }

    pub fn has(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    /// Holds at least one of `roles`, or is an admin (admins may do everything).
    pub fn has_any(&self, roles: &[Role]) -> bool {
        self.has(Role::Admin) || roles.iter().any(|role| self.has(*role))
    }

    pub fn is_admin(&self) -> bool {
        self.has(Role::Admin)
    }
}
