//! The `aegis` command line. Exit codes: 0 success, 1 failure, 2 bad usage.

use std::process::ExitCode;

use chrono::{DateTime, SecondsFormat, Utc};
use clap::{Parser, Subcommand};
use commands::context::Actor;
use commands::hash_chain::{self, ChainVerdict};
use commands::replay::{self, Replay};
use domain::role::Role;
use projections::audit_log::summary;

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
    /// Export data for other tools and instances.
    #[command(subcommand)]
    Export(ExportCommand),
    /// A printable report (HTML, or PDF printed by headless Chromium) of a campaign or of the coverage.
    Report(ReportArgs),
    /// Manage users from scripts.
    #[command(subcommand)]
    User(UserCommandLine),
    /// Evidence files' custody.
    #[command(subcommand)]
    Evidence(EvidenceCommand),
    /// Scheduled jobs: run what is due (for deployments that drive Aegis from an outside scheduler, and for
    /// trying schedules), run one now, list the runs.
    #[command(subcommand)]
    Jobs(JobsCommand),
    /// Crash Aegis and PostgreSQL under load on throwaway clusters and count what was lost (see README,
    /// Reliability).
    #[command(subcommand)]
    Chaos(ChaosCommand),
    /// Measure throughput against the database (see README, Performance).
    #[command(subcommand)]
    Bench(bench::BenchCommand),
}

#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    /// `campaign` (then its id) or `coverage`.
    pub subject: String,
    pub campaign: Option<uuid::Uuid>,
    #[arg(long, value_enum, default_value = "html")]
    pub format: ReportFormat,
    /// The heatmap's ATT&CK domain.
    #[arg(long, default_value = "enterprise-attack", value_parser = parse_domain)]
    pub domain: importers::interop::navigator::Domain,
    /// RFC 3339: coverage, gaps and recommendations as they were then.
    #[arg(long)]
    pub as_of: Option<DateTime<Utc>>,
    /// An ATT&CK group id: the gaps against its techniques.
    #[arg(long)]
    pub actor: Option<String>,
    /// The Chromium that prints PDFs.
    #[arg(long, env = "AEGIS_CHROMIUM", default_value = "chromium")]
    pub chromium: std::path::PathBuf,
    #[arg(long)]
    pub out: std::path::PathBuf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ReportFormat {
    Html,
    Pdf,
}

#[derive(Debug, Subcommand)]
pub enum ExportCommand {
    /// A campaign's whole history (its events and its test cases'), signed by this instance's key, for
    /// `aegis import stream` on another instance.
    Stream {
        #[arg(long)]
        campaign: uuid::Uuid,
        #[arg(long)]
        out: std::path::PathBuf,
    },
    /// A heatmap as an ATT&CK Navigator layer (format 4.5): now or as of a moment, one campaign's, or one
    /// threat actor's techniques with the untested ones in grey.
    Layer {
        /// enterprise-attack, mobile-attack or ics-attack.
        #[arg(long, default_value = "enterprise-attack", value_parser = parse_domain)]
        domain: importers::interop::navigator::Domain,
        /// RFC 3339 (2026-01-31T00:00:00Z).
        #[arg(long)]
        as_of: Option<DateTime<Utc>>,
        #[arg(long)]
        campaign: Option<uuid::Uuid>,
        /// An ATT&CK group id (G0016).
        #[arg(long)]
        actor: Option<String>,
        /// RFC 3339: the change from this moment to --as-of (or now) instead of one moment.
        #[arg(long)]
        diff_from: Option<DateTime<Utc>>,
        #[arg(long)]
        out: std::path::PathBuf,
    },
    /// The coverage of a heatmap view as a STIX 2.1 bundle for CTI platforms (attack-patterns with
    /// `x_aegis_*` score and outcome properties).
    Stix {
        #[arg(long, default_value = "enterprise-attack", value_parser = parse_domain)]
        domain: importers::interop::navigator::Domain,
        #[arg(long)]
        as_of: Option<DateTime<Utc>>,
        #[arg(long)]
        campaign: Option<uuid::Uuid>,
        /// The organisation the bundle's identity names.
        #[arg(long, default_value = "Aegis")]
        organisation: String,
        #[arg(long)]
        out: std::path::PathBuf,
    },
    /// Test cases (with each tool's outcome, executions and times to detect) or campaigns (with progress),
    /// as CSV.
    Csv {
        dataset: crate::export::Dataset,
        /// Only this campaign (its test cases, or itself).
        #[arg(long)]
        campaign: Option<uuid::Uuid>,
        #[arg(long)]
        out: std::path::PathBuf,
    },
    /// The same as JSON.
    Json {
        dataset: crate::export::Dataset,
        #[arg(long)]
        campaign: Option<uuid::Uuid>,
        #[arg(long)]
        out: std::path::PathBuf,
    },
}

fn parse_domain(name: &str) -> Result<importers::interop::navigator::Domain, String> {
    importers::interop::navigator::Domain::from_name(name)
        .ok_or_else(|| format!("{name:?} is not enterprise-attack, mobile-attack or ics-attack"))
}

#[derive(Debug, Subcommand)]
pub enum ChaosCommand {
    /// Every crash scenario, the hostile requests and (from a checkout) the parser and GraphQL fuzzers; prints
    /// a markdown table of each and exits 1 when anything acknowledged was lost or doubled, a hostile request
    /// was not refused clearly and quickly, or a fuzzer found something.
    All {
        /// The size the test command runs (about half a minute).
        #[arg(long)]
        quick: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum JobsCommand {
    /// Run every job whose latest due time has not run yet (what `aegis serve` does every minute); prints each
    /// run. Safe alongside running servers: each due time runs once.
    Tick {
        /// The moment to run for [default: now].
        #[arg(long, value_name = "RFC3339")]
        at: Option<chrono::DateTime<chrono::Utc>>,
    },
    /// Run one job now, whatever its schedule.
    Run {
        /// attack_sync, notification_cleanup, weekly_snapshot or recurring_campaigns.
        job: crate::scheduler::Job,
    },
    /// The newest runs, of one job or all.
    List {
        job: Option<crate::scheduler::Job>,
        #[arg(long, default_value_t = 20)]
        limit: i64,
    },
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
    /// Print the states an aggregate went through: each event (time, actor, type, summary) and the aggregate
    /// as it stood after it. Exits 1 when the aggregate has no events.
    Replay {
        /// The aggregate's id (a test case's, campaign's, user's… id).
        #[arg(long)]
        aggregate: String,
        /// Its type (TestCase, Campaign, ScoringPolicy, User, SecurityPolicy, DetectionRule) [default: the type
        /// of its events].
        #[arg(long = "type")]
        aggregate_type: Option<String>,
        /// Stop at the last event that happened at or before this time (RFC 3339, e.g. 2026-01-05T10:00:00Z).
        #[arg(long)]
        until: Option<DateTime<Utc>>,
        /// Print one JSON document instead of text.
        #[arg(long)]
        json: bool,
    },
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
        Command::Audit(command) => audit(&config, command).await,
        Command::Evidence(EvidenceCommand::Verify) => verify_evidence(&config).await,
        Command::Jobs(command) => jobs(&config, command).await,
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
        Command::Export(command) => export(&config, command).await,
        Command::Report(args) => report(&config, args).await,
        Command::Chaos(ChaosCommand::All { quick }) => chaos_all(quick).await,
        Command::Import(args) => {
            let database = database::open(&config.database, &config.data_dir, true).await?;
            import::run(&app_state(&config, &database.pool)?, args).await
        }
        Command::Bench(bench::BenchCommand::ImportCase(case)) => {
            bench::import_case(&case).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench(bench::BenchCommand::LoadClient(args)) => {
            bench::load_client(&args).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench(bench::BenchCommand::Replicas { clients, seconds }) => {
            bench::replicas(clients, seconds).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench(command) => {
            let located = database::locate(&config.database, &config.data_dir).await?;
            bench::run(command, &located, config.evidence.s3.clone()).await?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `aegis chaos all`: the crash scenarios, the hostile requests, the authorisation fuzz, then (from a checkout)
/// the fuzzers; a table for each, and exit status 1 when any of them failed.
async fn chaos_all(quick: bool) -> anyhow::Result<ExitCode> {
    use crate::chaos::{ChaosSize, authorization, fuzzing, hostile};
    let (size, fuzz_size) = if quick {
        (ChaosSize::quick(), fuzzing::FuzzSize::quick())
    } else {
        (ChaosSize::full(), fuzzing::FuzzSize::full())
    };
    let aegis = std::env::current_exe()?;
    let (reports, table) = crate::chaos::all(&aegis, &size).await?;
    println!("{table}");
    let mut failures: Vec<String> = crate::chaos::verdict(&reports).err().into_iter().collect();
    let answers = hostile::requests(&aegis).await?;
    println!("{}", hostile::table(&answers));
    failures.extend(
        answers
            .iter()
            .filter(|answer| !answer.is_clear_refusal())
            .map(|answer| format!("{}: answered {answer:?}", answer.request)),
    );
    let authorization = authorization::over_http(
        &aegis,
        authorization::FuzzSize {
            calls: if quick { 600 } else { 3_000 },
            seed: rand::random(),
        },
    )
    .await?;
    println!(
        "authorisation fuzz on other users' objects:\n\n{}",
        authorization.table()
    );
    if !authorization.passed() {
        failures.push("the authorisation fuzz disagreed with the role table".to_owned());
    }
    for report in fuzzing::run_scripts(&aegis, fuzz_size)? {
        println!("{}:\n\n{}", report.script, report.table);
        if !report.passed {
            failures.push(format!(
                "{} found something (see its output)",
                report.script
            ));
        }
    }
    for failure in &failures {
        eprintln!("FAILED: {failure}");
    }
    Ok(if failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// `aegis report …`.
async fn report(config: &Config, args: ReportArgs) -> anyhow::Result<ExitCode> {
    let subject = match (args.subject.as_str(), args.campaign) {
        ("campaign", Some(id)) => crate::report::Subject::Campaign(id),
        ("coverage", None) => crate::report::Subject::Coverage,
        _ => anyhow::bail!("usage: aegis report campaign ID | aegis report coverage"),
    };
    let database = database::open(&config.database, &config.data_dir, true).await?;
    let request = crate::report::ReportRequest {
        subject,
        domain: args.domain,
        as_of: args.as_of,
        actor: args.actor,
    };
    let html = crate::report::html(&database.pool, &request, Utc::now()).await?;
    let bytes = match args.format {
        ReportFormat::Html => html.into_bytes(),
        ReportFormat::Pdf => crate::report::pdf(&html, &args.chromium).await?,
    };
    std::fs::write(&args.out, &bytes)
        .map_err(|error| anyhow::anyhow!("cannot write {}: {error}", args.out.display()))?;
    println!("wrote {} ({} bytes)", args.out.display(), bytes.len());
    Ok(ExitCode::SUCCESS)
}

/// `aegis export …`.
async fn export(config: &Config, command: ExportCommand) -> anyhow::Result<ExitCode> {
    let database = database::open(&config.database, &config.data_dir, true).await?;
    let pool = &database.pool;
    let (bytes, out) = match command {
        ExportCommand::Stream { campaign, out } => {
            let keys = serve::signing_keys(config)?;
            return crate::portable::write_campaign(pool, &keys, campaign, &out).await;
        }
        ExportCommand::Layer {
            domain,
            as_of,
            campaign,
            actor,
            diff_from,
            out,
        } => {
            let view = crate::layers::LayerView {
                domain,
                as_of,
                campaign,
                actor,
            };
            let layer = match diff_from {
                Some(from) => crate::layers::diff_layer(pool, &view, from, Utc::now()).await?,
                None => crate::layers::layer(pool, &view, Utc::now()).await?,
            };
            let bytes = serde_json::to_vec_pretty(&importers::interop::navigator::to_v45(&layer))?;
            (bytes, out)
        }
        ExportCommand::Stix {
            domain,
            as_of,
            campaign,
            organisation,
            out,
        } => {
            let view = crate::layers::LayerView {
                domain,
                as_of,
                campaign,
                actor: None,
            };
            let bundle =
                crate::stix::coverage_bundle(pool, &view, &organisation, Utc::now()).await?;
            (serde_json::to_vec_pretty(&bundle)?, out)
        }
        ExportCommand::Csv {
            dataset,
            campaign,
            out,
        } => (
            crate::export::render(pool, dataset, crate::export::Format::Csv, campaign).await?,
            out,
        ),
        ExportCommand::Json {
            dataset,
            campaign,
            out,
        } => (
            crate::export::render(pool, dataset, crate::export::Format::Json, campaign).await?,
            out,
        ),
    };
    std::fs::write(&out, &bytes)
        .map_err(|error| anyhow::anyhow!("cannot write {}: {error}", out.display()))?;
    println!("wrote {} ({} bytes)", out.display(), bytes.len());
    Ok(ExitCode::SUCCESS)
}

/// `aegis audit …`: verifying the chain is `commands::hash_chain`, replaying is `commands::replay`; this opens
/// the database, names the actors and prints.
async fn audit(config: &Config, command: AuditCommand) -> anyhow::Result<ExitCode> {
    let database = database::open(&config.database, &config.data_dir, true).await?;
    match command {
        AuditCommand::Verify => match hash_chain::verify(&database.pool).await? {
            ChainVerdict::Intact { events } => {
                println!("OK: {events} events, hash chain intact");
                Ok(ExitCode::SUCCESS)
            }
            ChainVerdict::Broken(link) => {
                println!("FAILED: {link}");
                Ok(ExitCode::FAILURE)
            }
        },
        AuditCommand::Replay {
            aggregate,
            aggregate_type,
            until,
            json,
        } => {
            let pool = &database.pool;
            let replay = replay::replay(pool, &aggregate, aggregate_type.as_deref(), until).await?;
            let actor_ids: Vec<&str> = replay
                .steps
                .iter()
                .filter_map(|step| step.actor_id.as_deref())
                .collect();
            let emails = projections::audit_log::user_emails(pool, &actor_ids).await?;
            print_replay(&replay, &emails, json)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Prints what `aegis audit replay` found: per event a line (time, actor, type, summary) and the state after
/// it, or one JSON document. Actors are named by the e-mail address the audit log knows for them.
fn print_replay(
    replay: &Replay,
    emails: &std::collections::HashMap<String, String>,
    json: bool,
) -> anyhow::Result<()> {
    let actor_label = |actor_id: Option<&str>| match actor_id {
        Some(id) => emails.get(id).map_or(id, String::as_str).to_owned(),
        None => "unknown actor".to_owned(),
    };
    let lines = replay.steps.iter().map(|step| {
        let predicate = summary::summarize(&replay.aggregate_type, &step.event_type, &step.event);
        let time = step.occurred_at.map_or_else(
            || "unknown time".to_owned(),
            |time| time.to_rfc3339_opts(SecondsFormat::Secs, true),
        );
        (step, time, actor_label(step.actor_id.as_deref()), predicate)
    });
    if json {
        let steps: Vec<serde_json::Value> = lines
            .map(|(step, time, actor, predicate)| {
                serde_json::json!({
                    "sequence": step.sequence,
                    "occurred_at": step.occurred_at.map(|_| time),
                    "actor_id": step.actor_id,
                    "actor": actor,
                    "actor_roles": step.actor_roles,
                    "event_type": step.event_type,
                    "event_version": step.event_version,
                    "summary": predicate,
                    "event": step.event,
                    "state": step.state,
                })
            })
            .collect();
        let document = serde_json::json!({
            "aggregate_type": replay.aggregate_type,
            "aggregate_id": replay.aggregate_id,
            "later_events": replay.later_events,
            "steps": steps,
        });
        println!("{}", serde_json::to_string_pretty(&document)?);
        return Ok(());
    }
    println!("{} {}", replay.aggregate_type, replay.aggregate_id);
    for (step, time, actor, predicate) in lines {
        println!(
            "\n#{} {time} {} — {actor} {predicate}",
            step.sequence, step.event_type
        );
        println!("{}", serde_json::to_string_pretty(&step.state)?);
    }
    if replay.later_events > 0 {
        println!(
            "\n({} later events left out by --until)",
            replay.later_events
        );
    }
    Ok(())
}

/// The application state a command-line command works with (no HTTP settings).
fn app_state(config: &Config, pool: &sqlx::PgPool) -> anyhow::Result<crate::state::AppState> {
    Ok(crate::state::AppState::new(
        pool.clone(),
        serve::projector(pool, config.projector_batch_size),
        serve::identity(config, pool)?,
        crate::state::WebSettings::default(),
    ))
}

/// `aegis jobs …`. A run that failed makes the exit status 1.
async fn jobs(config: &Config, command: JobsCommand) -> anyhow::Result<ExitCode> {
    let database = database::open(&config.database, &config.data_dir, true).await?;
    let state = app_state(config, &database.pool)?.with_schedules(config.schedules.clone());
    let scheduler = crate::scheduler::Scheduler::new(state);
    let runs = match command {
        JobsCommand::Tick { at } => scheduler.tick(at.unwrap_or_else(chrono::Utc::now)).await?,
        JobsCommand::Run { job } => scheduler
            .run_now(job, crate::scheduler::Trigger::Cli, chrono::Utc::now())
            .await?
            .into_iter()
            .collect(),
        JobsCommand::List { job, limit } => {
            crate::scheduler::runs(&database.pool, job, limit).await?
        }
    };
    if runs.is_empty() {
        println!("no run");
    }
    for run in &runs {
        println!(
            "{} due {} ({}): {} {}{}",
            run.job,
            run.due_at.to_rfc3339(),
            run.trigger,
            run.outcome,
            run.counts,
            run.error
                .as_deref()
                .map(|error| format!(" — {error}"))
                .unwrap_or_default()
        );
    }
    Ok(if runs.iter().any(|run| run.outcome == "failed") {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// `aegis evidence verify`: every stored object against its `EvidenceAttached` event.
async fn verify_evidence(config: &Config) -> anyhow::Result<ExitCode> {
    let database = database::open(&config.database, &config.data_dir, true).await?;
    let state = app_state(config, &database.pool)?.with_evidence(
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
