//! The users read model: who exists, their profile and roles, for lists and pickers.

use chrono::{DateTime, Utc};
use domain::user::UserEvent;
use sqlx::{PgConnection, PgPool, Row};
use uuid::Uuid;

use crate::projector::{Projection, StoredEvent};

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

    async fn apply(
        &self,
        connection: &mut PgConnection,
        events: &[StoredEvent],
    ) -> Result<(), sqlx::Error> {
        for event in events.iter().filter(|event| event.aggregate_type == "User") {
            // Users created through Aegis always have UUID ids; a stream written by other means has no
            // place in this table, and saying so beats failing every later event.
            let Ok(user_id) = Uuid::parse_str(&event.aggregate_id) else {
                tracing::warn!(aggregate_id = %event.aggregate_id, "skipping a User stream whose id is not a UUID");
                continue;
            };
            // A payload this version cannot read is a bug to see, not to skip silently.
            let payload: UserEvent = serde_json::from_value(event.payload.clone())
                .map_err(|error| sqlx::Error::Decode(Box::new(error)))?;
            apply(connection, user_id, &payload, event.recorded_at).await?;
        }
        Ok(())
    }
}

async fn apply(
    connection: &mut PgConnection,
    user_id: Uuid,
    event: &UserEvent,
    at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    let (assignment, value): (&str, Option<String>) = match event {
        UserEvent::Registered {
            email,
            display_name,
            roles,
        } => {
            let roles: Vec<&str> = roles.iter().map(|role| role.as_str()).collect();
            sqlx::query(
                "INSERT INTO users (user_id, email, display_name, roles, active, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, true, $5, $5)",
            )
            .bind(user_id)
            .bind(email.as_str())
            .bind(display_name.as_str())
            .bind(&roles)
            .bind(at)
            .execute(connection)
            .await?;
            return Ok(());
        }
        UserEvent::DisplayNameChanged { display_name } => {
            ("display_name = $3", Some(display_name.to_string()))
        }
        UserEvent::EmailChanged { email } => ("email = $3", Some(email.to_string())),
        UserEvent::RoleGranted { role } => (
            "roles = array_append(roles, $3)",
            Some(role.as_str().to_owned()),
        ),
        UserEvent::RoleRevoked { role } => (
            "roles = array_remove(roles, $3)",
            Some(role.as_str().to_owned()),
        ),
        UserEvent::Deactivated => ("active = false", None),
        UserEvent::Reactivated => ("active = true", None),
        UserEvent::TwoFactorEnabled => ("two_factor = true", None),
        UserEvent::TwoFactorDisabled => ("two_factor = false", None),
        _ => return Ok(()),
    };
    let statement = format!("UPDATE users SET {assignment}, updated_at = $2 WHERE user_id = $1");
    let query = sqlx::query(&statement).bind(user_id).bind(at);
    match value {
        Some(value) => query.bind(value).execute(connection).await?,
        None => query.execute(connection).await?,
    };
    Ok(())
}

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
}

/// Up to `limit` users after `after_email`, ordered by e-mail address.
pub async fn page(
    pool: &PgPool,
    after_email: Option<&str>,
    limit: i64,
) -> Result<Vec<UserSummary>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT user_id, email, display_name, roles, active, two_factor, created_at FROM users
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
        "SELECT user_id, email, display_name, roles, active, two_factor, created_at FROM users WHERE user_id = $1",
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
    })
}
