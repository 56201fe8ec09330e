//! Many writers on one aggregate, randomized: tasks send random command sequences to one user at the same time
//! against a real Postgres, retrying conflicts. Whatever the interleaving, no sequence is stored twice or
//! skipped, every command that succeeded left exactly its events, and the state the command layer loads is the
//! fold of the stored events (checked against an independent fold of the payloads).
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::sync::Arc;

use commands::context::{Actor, CommandContext, SystemClock};
use commands::service::{CommandError, CommandService};
use domain::role::Role;
use domain::user::{DisplayName, Email, User, UserCommand, UserEvent};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;
use sqlx::PgPool;
use uuid::Uuid;

const ROLES: [Role; 4] = [Role::RedLead, Role::RedTech, Role::BlueTech, Role::Viewer];

fn command(choice: u8, argument: u8) -> UserCommand {
    let role = ROLES[usize::from(argument) % ROLES.len()];
    match choice % 3 {
        0 => UserCommand::ChangeDisplayName {
            display_name: DisplayName::parse(&format!("Name {argument}")).unwrap(),
        },
        1 => UserCommand::GrantRole { role },
        _ => UserCommand::RevokeRole { role },
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn concurrent_writers_leave_a_contiguous_log_whose_fold_is_the_state(pool: PgPool) {
    let users = Arc::new(CommandService::<User>::new(
        pool.clone(),
        (),
        Arc::new(SystemClock),
    ));
    let context = CommandContext::new(Actor::user(Uuid::from_u128(7), [Role::Admin]));
    // Four tasks, each with up to twelve (command, argument) pairs; a deterministic runner, so a failure
    // names a case that can be run again.
    let strategy = prop::collection::vec(prop::collection::vec((0..3u8, 0..8u8), 1..12), 4);
    let mut runner = TestRunner::deterministic();
    let mut conflicts = 0;
    for case in 0..12 {
        let plans = strategy.new_tree(&mut runner).unwrap().current();
        let user = Uuid::now_v7().to_string();
        users
            .execute(
                &context,
                &user,
                UserCommand::Register {
                    email: Email::parse(&format!("{user}@example.org")).unwrap(),
                    display_name: DisplayName::parse("Start").unwrap(),
                    roles: BTreeSet::from([Role::RedTech]),
                },
            )
            .await
            .unwrap();
        let tasks: Vec<_> = plans
            .into_iter()
            .map(|plan| {
                let (users, context, user) = (Arc::clone(&users), context.clone(), user.clone());
                tokio::spawn(async move {
                    let (mut appended, mut conflicts) = (0, 0);
                    for (choice, argument) in plan {
                        loop {
                            match users
                                .execute(&context, &user, command(choice, argument))
                                .await
                            {
                                Ok(outcome) => {
                                    appended += outcome.appended;
                                    break;
                                }
                                Err(CommandError::Conflict { .. }) => {
                                    conflicts += 1;
                                    tokio::task::yield_now().await;
                                }
                                // Refused by the user's state at that moment (a role held already, the last
                                // role): a decision, not a failure.
                                Err(CommandError::Rejected(_)) => break,
                                Err(error) => panic!("case {case}: {error}"),
                            }
                        }
                    }
                    (appended, conflicts)
                })
            })
            .collect();
        let mut appended = 1;
        for task in tasks {
            let (task_appended, task_conflicts) = task.await.unwrap();
            appended += task_appended;
            conflicts += task_conflicts;
        }

        let sequences: Vec<i64> = sqlx::query_scalar(
            "SELECT sequence FROM events WHERE aggregate_id = $1 ORDER BY sequence",
        )
        .bind(&user)
        .fetch_all(&pool)
        .await
        .unwrap();
        assert_eq!(sequences, (1..=appended).collect::<Vec<_>>(), "case {case}");

        // An independent fold of the stored payloads: the last name, the roles granted and not revoked since.
        let payloads: Vec<serde_json::Value> = sqlx::query_scalar(
            "SELECT payload FROM events WHERE aggregate_id = $1 ORDER BY sequence",
        )
        .bind(&user)
        .fetch_all(&pool)
        .await
        .unwrap();
        let (mut name, mut roles) = (String::new(), BTreeSet::new());
        for payload in payloads {
            match serde_json::from_value::<UserEvent>(payload).unwrap() {
                UserEvent::Registered {
                    display_name,
                    roles: granted,
                    ..
                } => {
                    name = display_name.to_string();
                    roles = granted;
                }
                UserEvent::DisplayNameChanged { display_name } => name = display_name.to_string(),
                UserEvent::RoleGranted { role } => {
                    roles.insert(role);
                }
                UserEvent::RoleRevoked { role } => {
                    roles.remove(&role);
                }
                _ => {}
            }
        }
        let loaded = users.load(&user).await.unwrap();
        assert_eq!(
            loaded.display_name().unwrap().to_string(),
            name,
            "case {case}"
        );
        assert_eq!(loaded.roles(), &roles, "case {case}");
    }
    // The writers did meet: otherwise this test would prove nothing about concurrency.
    assert!(conflicts > 0, "no conflict in any case");
    eprintln!("conflicts retried: {conflicts}");
}
