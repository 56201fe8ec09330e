//! The `aegis` command line. Exit codes: 0 success, 1 failure, 2 bad usage.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use commands::context::Actor;
use commands::hash_chain::{self, ChainVerdict};
use domain::role::Role;

use crate::auth::identity::RequestOrigin;

use crate::config::{Config, GlobalArgs, ServeArgs};
use crate::{bench, database, demo, import, serve, telemetry};

/// Aegis: purple-team coverage on an append-only event log.
#[derive(Debug, Parser)]
#[command(name = "aegis", version, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server: GraphQL API, health, metrics and the projectors. Migrates the database first.
    Serve(ServeArgs),
    /// Apply pending database migrations (as the owner: AEGIS_OWNER_DATABASE_URL, else DATABASE_URL).
    Migrate,
    /// Audit the event log.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Manage read models.
    #[command(subcommand)]
    Projections(ProjectionsCommand),
    /// Load the demo organisation (users of every role, test cases in every state, campaigns) through the
    /// command layer. Loading twice changes nothing.
    Demo {
        /// Load it even though the database already holds other workflow data.
        #[arg(long)]
        force: bool,
    },
    /// Import reference content into the catalog: ATT&CK, D3FEND, templates, detection rules, telemetry
    /// configurations, compliance frameworks. Exits 1 when any file failed (the others are still imported).
    Import(import::ImportArgs),
    /// Manage users from scripts.
    #[command(subcommand)]
    User(UserCommandLine),
    /// Evidence files' custody.
    #[command(subcommand)]
    Evidence(EvidenceCommand),
    /// Measure throughput against the database (see README, Performance).
    #[command(subcommand)]
    Bench(bench::BenchCommand),
}

#[derive(Debug, Subcommand)]
pub enum EvidenceCommand {
    /// Re-hash every stored evidence object and compare it with the SHA-256 and size in its
    /// `EvidenceAttached` event; print OK with the count, or every mismatch or missing object and exit 1.
    Verify,
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Recompute the hash chain of every event; print OK with the count, or the first broken link and exit 1.
    Verify,
}

#[derive(Debug, Subcommand)]
pub enum UserCommandLine {
    /// Create a user with a one-time password (printed once) that must be changed at first sign-in.
    Create {
        #[arg(long)]
        email: String,
        /// Roles, repeatable: admin, red_lead, red_tech, blue_lead, blue_tech, viewer.
        #[arg(long = "role", required = true, value_parser = parse_role)]
        roles: Vec<Role>,
        /// Display name [default: the e-mail address].
        #[arg(long)]
        display_name: Option<String>,
    },
}

fn parse_role(name: &str) -> Result<Role, String> {
    name.parse()
        .map_err(|error: domain::role::UnknownRole| error.to_string())
}

#[derive(Debug, Subcommand)]
pub enum ProjectionsCommand {
    /// Empty a read model (all of them without NAME) and rebuild it from the first event.
    Rebuild {
        /// One projection: audit_log, event_totals, users, test_cases, campaigns, scoring_policies or
        /// detection_rules.
        name: Option<String>,
    },
}

pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let serve_args = match &cli.command {
        Command::Serve(args) => args.clone(),
        _ => ServeArgs::default(),
    };
    let config = Config::resolve(&cli.global, &serve_args)?;
    let _telemetry = telemetry::init(config.log_format)?;
    match cli.command {
        Command::Serve(_) => serve::serve(config).await.map(|()| ExitCode::SUCCESS),
        Command::Migrate => {
            let database = database::open(&config.database, &config.data_dir, true).await?;
            println!(
                "migrated to schema version {} ({})",
                database::schema_version(),
                database.description
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Audit(AuditCommand::Verify) => {
            let database = database::open(&config.database, &config.data_dir, true).await?;
            match hash_chain::verify(&database.pool).await? {
                ChainVerdict::Intact { events } => {
                    println!("OK: {events} events, hash chain intact");
                    Ok(ExitCode::SUCCESS)
                }
                ChainVerdict::Broken(link) => {
                    println!("FAILED: {link}");
                    Ok(ExitCode::FAILURE)
                }
            }
        }
        Command::Evidence(EvidenceCommand::Verify) => verify_evidence(&config).await,
        Command::Projections(ProjectionsCommand::Rebuild { name }) => {
            let database = database::open(&config.database, &config.data_dir, true).await?;
            let projector = serve::projector(&database.pool, config.projector_batch_size);
            let started = std::time::Instant::now();
            let rebuilt = projector.rebuild(name.as_deref()).await?;
            println!(
                "rebuilt {} in {:.1} s",
                rebuilt.join(", "),
                started.elapsed().as_secs_f64()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Demo { force } => {
            let database = database::open(&config.database, &config.data_dir, true).await?;
            let identity = serve::identity(&config, &database.pool)?;
            report_demo(demo::load(&database.pool, &identity, force).await?);
            Ok(ExitCode::SUCCESS)
        }
        Command::User(UserCommandLine::Create {
            email,
            roles,
            display_name,
        }) => {
            let database = database::open(&config.database, &config.data_dir, true).await?;
            let identity = serve::identity(&config, &database.pool)?;
            let origin = RequestOrigin {
                correlation_id: uuid::Uuid::now_v7(),
                client_ip: None,
            };
            let display_name = display_name.unwrap_or_else(|| email.clone());
            let (user_id, password) = identity
                .create_user(
                    origin,
                    Actor::system("cli"),
                    &email,
                    &display_name,
                    roles.into_iter().collect(),
                    None,
                )
                .await?;
            println!(
                "created user {user_id} ({email}); one-time password: {password} (must be changed at first sign-in)"
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Import(args) => {
            let database = database::open(&config.database, &config.data_dir, true).await?;
            import::run(&database.pool, args).await
        }
        Command::Bench(bench::BenchCommand::ImportCase(case)) => {
            bench::import_case(&case).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench(command) => {
            let located = database::locate(&config.database, &config.data_dir).await?;
            bench::run(command, &located, config.evidence.s3.clone()).await?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `aegis evidence verify`: every stored object against its `EvidenceAttached` event.
async fn verify_evidence(config: &Config) -> anyhow::Result<ExitCode> {
    let database = database::open(&config.database, &config.data_dir, true).await?;
    let state = crate::state::AppState::new(
        database.pool.clone(),
        serve::projector(&database.pool, config.projector_batch_size),
        serve::identity(config, &database.pool)?,
        crate::state::WebSettings::default(),
    )
    .with_evidence(
        serve::evidence_backend(config).await?,
        serve::evidence_settings(config),
    );
    let Some(evidence) = &state.evidence else {
        unreachable!("with_evidence sets it");
    };
    let report = evidence.service.verify_all().await?;
    for problem in &report.problems {
        match (&problem.actual_sha256, problem.actual_size) {
            (Some(actual), Some(size)) => println!(
                "MISMATCH: evidence {} of test case {} at {}: SHA-256 {actual} ({size} bytes), the event says {} ({} bytes)",
                problem.evidence_id,
                problem.test_case_id,
                problem.key,
                problem.expected_sha256,
                problem.expected_size
            ),
            _ => println!(
                "MISSING: evidence {} of test case {} at {} (the event says SHA-256 {})",
                problem.evidence_id, problem.test_case_id, problem.key, problem.expected_sha256
            ),
        }
    }
    let store = evidence.service.store().describe();
    if report.problems.is_empty() {
        println!(
            "OK: {} evidence objects match their events ({store}); {} attachments predate stored objects",
            report.checked, report.without_object
        );
        Ok(ExitCode::SUCCESS)
    } else {
        println!(
            "FAILED: {} of {} evidence objects differ from their events or are missing ({store})",
            report.problems.len(),
            report.checked
        );
        Ok(ExitCode::FAILURE)
    }
}

/// Tells what `aegis demo` (or `serve --demo`) did and how to sign in.
pub fn report_demo(loaded: demo::Loaded) {
    match loaded {
        demo::Loaded::Created {
            users,
            test_cases,
            campaigns,
        } => println!(
            "demo loaded: {users} users, {test_cases} test cases, {campaigns} campaigns; sign in as \
             red.lead@aegis.demo (or admin@, red.tech@, blue.lead@, blue.tech@, viewer@aegis.demo) with \
             \"{}\"",
            demo::DEMO_PASSWORD
        ),
        demo::Loaded::AlreadyThere => println!(
            "demo already loaded; sign in as red.lead@aegis.demo with \"{}\"",
            demo::DEMO_PASSWORD
        ),
    }
}
