//! The users read model: who exists, their profile and roles, for lists and pickers.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use domain::user::UserEvent;
use sqlx::{PgConnection, PgPool, Row};
use uuid::Uuid;

use crate::projector::{Projection, StoredEvent, streams_of};

/// Keeps `users` in step with `User` events.
#[derive(Debug, Clone, Copy, Default)]
pub struct Users;

#[async_trait::async_trait]
impl Projection for Users {
    fn name(&self) -> &'static str {
        "users"
    }

    fn tables(&self) -> &'static [&'static str] {
        &["users"]
    }

    /// Loads the rows the batch touches, folds the events into them in memory, and writes them back in one
    /// statement: two round trips per batch instead of one per event.
    async fn apply(
        &self,
        connection: &mut PgConnection,
        events: &[StoredEvent],
    ) -> Result<(), sqlx::Error> {
        let mut changes = Vec::new();
        for (user_id, event) in streams_of(events, "User") {
            let payload = event.payload::<UserEvent>()?.into_owned();
            changes.push((user_id, payload, event.recorded_at));
        }
        if changes.is_empty() {
            return Ok(());
        }
        let ids: Vec<Uuid> = changes.iter().map(|(user_id, _, _)| *user_id).collect();
        let mut rows: HashMap<Uuid, UserSummary> = load(&mut *connection, &ids).await?;
        let mut touched = BTreeSet::new();
        for (user_id, event, at) in changes {
            if fold(&mut rows, user_id, event, at) {
                touched.insert(user_id);
            }
        }
        let rows: Vec<&UserSummary> = touched
            .iter()
            .filter_map(|user_id| rows.get(user_id))
            .collect();
        store(connection, &rows).await
    }
}

/// The stored rows of `ids` that exist.
async fn load(
    connection: &mut PgConnection,
    ids: &[Uuid],
) -> Result<HashMap<Uuid, UserSummary>, sqlx::Error> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM users WHERE user_id = ANY($1)"
    ))
    .bind(ids)
    .fetch_all(connection)
    .await?;
    rows.iter()
        .map(|row| summary(row).map(|user| (user.user_id, user)))
        .collect()
}

/// Applies one event to the rows in memory; false when it changes nothing this model shows (or names a
/// user this model never saw registered).
fn fold(
    rows: &mut HashMap<Uuid, UserSummary>,
    user_id: Uuid,
    event: UserEvent,
    at: DateTime<Utc>,
) -> bool {
    if let UserEvent::Registered {
        email,
        display_name,
        roles,
    } = event
    {
        rows.insert(
            user_id,
            UserSummary {
                user_id,
                email: email.into(),
                display_name: display_name.into(),
                roles: roles.iter().map(|role| role.as_str().to_owned()).collect(),
                active: true,
                two_factor: false,
                created_at: at,
                updated_at: at,
            },
        );
        return true;
    }
    let Some(user) = rows.get_mut(&user_id) else {
        return false;
    };
    match event {
        UserEvent::DisplayNameChanged { display_name } => user.display_name = display_name.into(),
        UserEvent::EmailChanged { email } => user.email = email.into(),
        UserEvent::RoleGranted { role } => user.roles.push(role.as_str().to_owned()),
        UserEvent::RoleRevoked { role } => user.roles.retain(|held| held != role.as_str()),
        UserEvent::Deactivated => user.active = false,
        UserEvent::Reactivated => user.active = true,
        UserEvent::TwoFactorEnabled => user.two_factor = true,
        UserEvent::TwoFactorDisabled => user.two_factor = false,
        _ => return false,
    }
    user.updated_at = at;
    true
}

async fn store(connection: &mut PgConnection, rows: &[&UserSummary]) -> Result<(), sqlx::Error> {
    if rows.is_empty() {
        return Ok(());
    }
    // Roles travel joined by commas: UNNEST cannot take an array of arrays of different lengths.
    sqlx::query(
        "INSERT INTO users (user_id, email, display_name, roles, active, two_factor, created_at, updated_at)
         SELECT user_id, email, display_name, string_to_array(roles, ','), active, two_factor, created_at,
                updated_at
           FROM UNNEST($1::uuid[], $2::text[], $3::text[], $4::text[], $5::bool[], $6::bool[],
                       $7::timestamptz[], $8::timestamptz[])
                AS changed(user_id, email, display_name, roles, active, two_factor, created_at, updated_at)
         ON CONFLICT (user_id) DO UPDATE
            SET email = excluded.email, display_name = excluded.display_name, roles = excluded.roles,
                active = excluded.active, two_factor = excluded.two_factor, updated_at = excluded.updated_at",
    )
    .bind(rows.iter().map(|user| user.user_id).collect::<Vec<_>>())
    .bind(rows.iter().map(|user| user.email.as_str()).collect::<Vec<_>>())
    .bind(rows.iter().map(|user| user.display_name.as_str()).collect::<Vec<_>>())
    .bind(rows.iter().map(|user| user.roles.join(",")).collect::<Vec<_>>())
    .bind(rows.iter().map(|user| user.active).collect::<Vec<_>>())
    .bind(rows.iter().map(|user| user.two_factor).collect::<Vec<_>>())
    .bind(rows.iter().map(|user| user.created_at).collect::<Vec<_>>())
    .bind(rows.iter().map(|user| user.updated_at).collect::<Vec<_>>())
    .execute(connection)
    .await?;
    Ok(())
}

const COLUMNS: &str =
    "user_id, email, display_name, roles, active, two_factor, created_at, updated_at";

/// One user as lists show them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserSummary {
    pub user_id: Uuid,
    pub email: String,
    pub display_name: String,
    pub roles: Vec<String>,
    pub active: bool,
    pub two_factor: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Up to `limit` users after `after_email`, ordered by e-mail address.
pub async fn page(
    pool: &PgPool,
    after_email: Option<&str>,
    limit: i64,
) -> Result<Vec<UserSummary>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT user_id, email, display_name, roles, active, two_factor, created_at, updated_at FROM users
          WHERE $1::text IS NULL OR email > $1 ORDER BY email LIMIT $2",
    )
    .bind(after_email)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    rows.iter().map(summary).collect()
}

pub async fn find(pool: &PgPool, user_id: Uuid) -> Result<Option<UserSummary>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT user_id, email, display_name, roles, active, two_factor, created_at, updated_at FROM users WHERE user_id = $1",
    )
    .bind(user_id)
    .fetch_optional(pool)
    .await?;
    row.as_ref().map(summary).transpose()
}

fn summary(row: &sqlx::postgres::PgRow) -> Result<UserSummary, sqlx::Error> {
    Ok(UserSummary {
        user_id: row.try_get("user_id")?,
        email: row.try_get("email")?,
        display_name: row.try_get("display_name")?,
        roles: row.try_get("roles")?,
        active: row.try_get("active")?,
        two_factor: row.try_get("two_factor")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

/// The active users holding any of `roles` (by name: `red_lead`), by id.
pub async fn active_holding(pool: &PgPool, roles: &[&str]) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar("SELECT user_id FROM users WHERE active AND roles && $1 ORDER BY user_id")
        .bind(roles)
        .fetch_all(pool)
        .await
}
