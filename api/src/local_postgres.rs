//! Finds or starts the PostgreSQL server that `aegis serve` uses when `DATABASE_URL` is unset.
//!
//! A developer who types `aegis serve` with nothing configured should get a working server, so this
//! module tries, cheapest and least surprising first:
//!
//! 1. **A server on 127.0.0.1:5432** that lets the `postgres` superuser in without a password. That is
//!    what a developer who installed PostgreSQL with trust auth, or runs it in a container, already has.
//!    Aegis creates its own database there and touches nothing else.
//! 2. **A private cluster** under the data directory (`<data_dir>/postgres`), created once with `initdb`
//!    from the installed server binaries and started with `pg_ctl` on its own port. This covers a
//!    server that is installed but stopped, or that asks for a password (Debian's default for TCP).
//!    It listens only on 127.0.0.1 and trusts local connections, which is fine for a developer's
//!    machine and is why it is never used when `DATABASE_URL` is set. PostgreSQL refuses to run as
//!    root, so when Aegis runs as root (containers, CI) the cluster belongs to the `postgres` system
//!    user, or to `nobody` when there is none.
//! 3. **An error** that says exactly how to install PostgreSQL.
//!
//! A cluster started here is stopped again when its [`PrivateCluster`] is dropped. A cluster that was
//! already running (for example after Aegis was killed) is reused and left running.
//!
//! This module never runs when `DATABASE_URL` is set: a configured server is always used as configured.

use std::ffi::OsStr;
use std::fmt::Write as _;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV4};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Output};
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::{ConnectOptions, Connection};

/// The superuser of the probed server and of the private cluster (`initdb -U postgres`).
const SUPERUSER: &str = "postgres";

/// How long the probe waits for an answer: long enough for a busy local server, short enough that a
/// firewalled port does not make every start slow.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// How long to wait for the private cluster once `pg_ctl -w` said it is ready.
const PRIVATE_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Where to look for a local server and where to keep a private cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalPostgresOptions {
    /// Aegis' data directory; the private cluster lives in `<data_dir>/postgres`, its log in
    /// `<data_dir>/postgres.log`.
    pub data_dir: PathBuf,
    /// The database Aegis uses, created when missing.
    pub database: String,
    /// Where to look for an already running server; `None` skips straight to the private cluster.
    pub probe: Option<SocketAddr>,
    /// The port the private cluster listens on (on 127.0.0.1 only).
    pub private_port: u16,
}

impl LocalPostgresOptions {
    /// PostgreSQL's well-known port on the loopback interface.
    pub const DEFAULT_PROBE: SocketAddr =
        SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 5432));

    /// Next to 5432 but unlikely to be taken, so a private cluster can run beside a system server.
    pub const DEFAULT_PRIVATE_PORT: u16 = 54329;

    /// The defaults: database `aegis`, probe 127.0.0.1:5432, private port 54329.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            data_dir: data_dir.into(),
            database: "aegis".to_owned(),
            probe: Some(Self::DEFAULT_PROBE),
            private_port: Self::DEFAULT_PRIVATE_PORT,
        }
    }
}

/// The server found or started by [`find_or_start`].
#[derive(Debug)]
pub enum LocalPostgres {
    /// A server that was already answering; `url` points at Aegis' database on it.
    Server { url: String },
    /// A private cluster under the data directory.
    Private(PrivateCluster),
}

impl LocalPostgres {
    /// The URL of Aegis' database, connecting as the cluster's superuser.
    pub fn owner_url(&self) -> String {
        match self {
            Self::Server { url } => url.clone(),
            Self::Private(cluster) => cluster.owner_url(),
        }
    }

    /// One line for the startup log.
    pub fn describe(&self) -> String {
        match self {
            Self::Server { url } => format!("local PostgreSQL on {}", url_authority(url)),
            Self::Private(cluster) => format!(
                "private PostgreSQL cluster in {} on 127.0.0.1:{}",
                cluster.cluster_dir.display(),
                cluster.port
            ),
        }
    }
}

/// A PostgreSQL cluster in `<data_dir>/postgres`, stopped on drop when this process started it.
#[derive(Debug)]
pub struct PrivateCluster {
    cluster_dir: PathBuf,
    bin_dir: PathBuf,
    port: u16,
    database: String,
    /// The unprivileged user that owns the cluster when this process runs as root.
    run_as: Option<String>,
    started_here: bool,
}

impl PrivateCluster {
    /// The cluster's data directory.
    pub fn cluster_dir(&self) -> &Path {
        &self.cluster_dir
    }

    /// The port it listens on, on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Whether this process started the server (and will therefore stop it on drop).
    pub fn started_here(&self) -> bool {
        self.started_here
    }

    /// Copies this running cluster with `pg_basebackup` into `<data_dir>/postgres` as a streaming standby of
    /// it (`-R` writes `standby.signal` and the connection back to this server), owned by the same user.
    /// [`find_or_start`] on `data_dir` then starts it like any private cluster, read-only and following this
    /// one: what the read-replica tests and benchmark run against.
    pub async fn base_backup_into(&self, data_dir: &Path) -> Result<(), LocalPostgresError> {
        let data_dir = prepare_data_dir(data_dir)?;
        let standby_dir = data_dir.join("postgres");
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&standby_dir)
            .map_err(|source| LocalPostgresError::Filesystem {
                path: standby_dir.clone(),
                source,
            })?;
        if self.run_as.is_some() {
            let owner = unprivileged_user().await?;
            hand_over(
                &owner,
                &data_dir,
                &standby_dir,
                &data_dir.join("postgres.log"),
            )
            .await?;
        }
        let mut backup = command(self.run_as.as_deref(), &self.bin_dir.join("pg_basebackup"));
        backup
            .arg("-D")
            .arg(&standby_dir)
            .args(["-R", "-X", "stream", "--checkpoint=fast", "-h", "127.0.0.1"])
            .args(["-p", &self.port.to_string(), "-U", SUPERUSER]);
        run("copy the private PostgreSQL cluster into a standby", backup)
            .await
            .map(drop)
    }

    /// Stops the server at once, as a crash or a pulled plug would (`pg_ctl stop -m immediate`): what the tests
    /// of an unavailable read replica do to their standby.
    pub async fn stop_immediately(&self) -> Result<(), LocalPostgresError> {
        let mut stop = command(self.run_as.as_deref(), &self.bin_dir.join("pg_ctl"));
        stop.arg("stop")
            .arg("-D")
            .arg(&self.cluster_dir)
            .args(["-m", "immediate", "-w"]);
        run("stop the private PostgreSQL cluster", stop)
            .await
            .map(drop)
    }

    /// Starts the server again after [`Self::stop_immediately`], on the same port, and waits until it accepts
    /// connections (a standby: until it has recovered to a consistent state).
    pub async fn start_again(&self) -> Result<(), LocalPostgresError> {
        let log = self
            .cluster_dir
            .parent()
            .expect("the cluster directory is inside the data directory")
            .join("postgres.log");
        let mut start = command(self.run_as.as_deref(), &self.bin_dir.join("pg_ctl"));
        start
            .arg("start")
            .arg("-D")
            .arg(&self.cluster_dir)
            .arg("-l")
            .arg(&log)
            .arg("-w")
            .arg("-o")
            .arg(server_options(self.port, &self.cluster_dir));
        run("start the private PostgreSQL cluster again", start)
            .await
            .map(drop)
    }

    fn owner_url(&self) -> String {
        database_url(
            SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), self.port),
            &self.database,
        )
    }
}

impl Drop for PrivateCluster {
    fn drop(&mut self) {
        // A server someone else started (or an earlier, killed Aegis) is theirs to stop.
        if !self.started_here {
            return;
        }
        // Drop cannot await, so this blocks the thread for the second or so a fast shutdown takes;
        // it happens once, at the very end of the process.
        let mut stop = std_command(self.run_as.as_deref(), &self.bin_dir.join("pg_ctl"));
        stop.arg("stop")
            .arg("-D")
            .arg(&self.cluster_dir)
            .args(["-m", "fast", "-w"]);
        match stop.output() {
            Ok(output) if output.status.success() => {}
            Ok(output) => tracing::warn!(
                cluster = %self.cluster_dir.display(),
                stderr = %String::from_utf8_lossy(&output.stderr).trim(),
                "could not stop the private PostgreSQL cluster"
            ),
            Err(error) => tracing::warn!(
                cluster = %self.cluster_dir.display(),
                %error,
                "could not run pg_ctl to stop the private PostgreSQL cluster"
            ),
        }
    }
}

/// Why no local PostgreSQL could be found or started.
#[derive(Debug, thiserror::Error)]
pub enum LocalPostgresError {
    #[error(
        "No PostgreSQL found: {}. Install one with `sudo apt-get install -y postgresql` (Debian/Ubuntu), \
         or point DATABASE_URL at a server.",
        what_was_tried(*.probe)
    )]
    NotInstalled { probe: Option<SocketAddr> },

    #[error("cannot {action}: `{command}` failed ({status}): {stderr}")]
    CommandFailed {
        action: &'static str,
        command: String,
        status: ExitStatus,
        stderr: String,
    },

    #[error(
        "cannot start the private PostgreSQL cluster: `{command}` failed ({status}): {stderr}\n\
         last lines of {}:\n{log_tail}",
        log.display()
    )]
    StartFailed {
        command: String,
        status: ExitStatus,
        stderr: String,
        log: PathBuf,
        log_tail: String,
    },

    #[error("cannot {action}: could not run `{program}`")]
    CommandNotRun {
        action: &'static str,
        program: String,
        #[source]
        source: io::Error,
    },

    #[error("cannot prepare {} for the private PostgreSQL cluster", path.display())]
    Filesystem {
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    #[error(
        "running as root, but neither the `postgres` nor the `nobody` user exists to own the private \
         PostgreSQL cluster (PostgreSQL refuses to run as root); create a `postgres` system user or \
         point DATABASE_URL at a server"
    )]
    NoUnprivilegedUser,

    #[error("cannot connect to the private PostgreSQL cluster on 127.0.0.1:{port}")]
    Connect {
        port: u16,
        #[source]
        source: sqlx::Error,
    },

    #[error("cannot create database {database:?}")]
    CreateDatabase {
        database: String,
        #[source]
        source: sqlx::Error,
    },
}

fn what_was_tried(probe: Option<SocketAddr>) -> String {
    match probe {
        Some(address) => format!(
            "nothing answers on {address} and no server binaries (initdb, pg_ctl) are installed"
        ),
        None => "no server binaries (initdb, pg_ctl) are installed".to_owned(),
    }
}

/// Returns a usable local server, starting a private cluster if need be (see the module docs for the
/// order of attempts). Aegis' database exists on the returned server.
pub async fn find_or_start(
    options: &LocalPostgresOptions,
) -> Result<LocalPostgres, LocalPostgresError> {
    if let Some(address) = options.probe {
        match connect_admin(address, PROBE_TIMEOUT).await {
            Ok(connection) => {
                ensure_database(connection, &options.database).await?;
                return Ok(LocalPostgres::Server {
                    url: database_url(address, &options.database),
                });
            }
            // Not an error: a stopped server, or one that wants a password, is exactly what the
            // private cluster is for. The log says why it was skipped.
            Err(error) => tracing::info!(
                %address,
                %error,
                "no PostgreSQL that trusts the postgres user answers; trying a private cluster"
            ),
        }
    }

    let cluster_dir = prepare_data_dir(&options.data_dir)?.join("postgres");
    // An existing cluster only runs with the major version that created it, so prefer that one.
    let cluster_version = std::fs::read_to_string(cluster_dir.join("PG_VERSION"))
        .ok()
        .map(|version| version.trim().to_owned());
    let Some(bin_dir) = find_server_binaries(cluster_version.as_deref()).await else {
        return Err(LocalPostgresError::NotInstalled {
            probe: options.probe,
        });
    };
    let cluster = start_private_cluster(options, cluster_dir, bin_dir).await?;

    // From here on `cluster` stops the server on drop, so an error below leaves nothing running.
    let connection = connect_admin(
        SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), cluster.port),
        PRIVATE_CONNECT_TIMEOUT,
    )
    .await
    .map_err(|source| LocalPostgresError::Connect {
        port: cluster.port,
        source,
    })?;
    ensure_database(connection, &options.database).await?;
    Ok(LocalPostgres::Private(cluster))
}

/// Creates `database` when missing, then closes the connection (politely; the database is what matters).
async fn ensure_database(
    mut connection: PgConnection,
    database: &str,
) -> Result<(), LocalPostgresError> {
    let created = create_database(&mut connection, database).await;
    let _ = connection.close().await;
    created.map_err(|source| LocalPostgresError::CreateDatabase {
        database: database.to_owned(),
        source,
    })
}

/// Creates the data directory and returns its absolute path, which `pg_ctl` and the unprivileged
/// user need because they do not share our working directory.
fn prepare_data_dir(data_dir: &Path) -> Result<PathBuf, LocalPostgresError> {
    let filesystem = |source| LocalPostgresError::Filesystem {
        path: data_dir.to_owned(),
        source,
    };
    std::fs::create_dir_all(data_dir).map_err(filesystem)?;
    std::fs::canonicalize(data_dir).map_err(filesystem)
}

async fn start_private_cluster(
    options: &LocalPostgresOptions,
    cluster_dir: PathBuf,
    bin_dir: PathBuf,
) -> Result<PrivateCluster, LocalPostgresError> {
    let data_dir = cluster_dir
        .parent()
        .expect("the cluster directory is inside the data directory")
        .to_owned();
    let log = data_dir.join("postgres.log");

    let owner = if effective_uid().await == Some(0) {
        Some(unprivileged_user().await?)
    } else {
        None
    };
    let filesystem = |path: &Path| {
        let path = path.to_owned();
        move |source| LocalPostgresError::Filesystem { path, source }
    };
    if !cluster_dir.exists() {
        // PostgreSQL insists on a data directory that only its owner can read.
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&cluster_dir)
            .map_err(filesystem(&cluster_dir))?;
    }
    if let Some(owner) = &owner {
        hand_over(owner, &data_dir, &cluster_dir, &log).await?;
    }
    let run_as = owner.map(|owner| owner.name);

    if !cluster_dir.join("PG_VERSION").exists() {
        initdb(run_as.as_deref(), &bin_dir, &cluster_dir).await?;
    }

    // A server left running (by an Aegis that was killed, or started by hand) owns the cluster;
    // starting a second one would fail, so use it as it is, on whatever port it chose.
    if let Some(port) = running_port(&cluster_dir).await {
        tracing::info!(
            cluster = %cluster_dir.display(),
            port,
            "reusing the private PostgreSQL cluster that is already running"
        );
        return Ok(PrivateCluster {
            cluster_dir,
            bin_dir,
            port,
            database: options.database.clone(),
            run_as,
            started_here: false,
        });
    }

    let mut start = command(run_as.as_deref(), &bin_dir.join("pg_ctl"));
    start
        .arg("start")
        .arg("-D")
        .arg(&cluster_dir)
        .arg("-l")
        .arg(&log)
        .arg("-w")
        .arg("-o")
        .arg(server_options(options.private_port, &cluster_dir));
    let described = describe_command(&start);
    let output = start
        .output()
        .await
        .map_err(|source| LocalPostgresError::CommandNotRun {
            action: "start the private PostgreSQL cluster",
            program: described.clone(),
            source,
        })?;
    if !output.status.success() {
        // pg_ctl only says "examine the log output"; the reason (port taken, bad permissions) is there.
        return Err(LocalPostgresError::StartFailed {
            command: described,
            status: output.status,
            stderr: output_text(&output),
            log_tail: tail(&log, 20),
            log,
        });
    }
    Ok(PrivateCluster {
        cluster_dir,
        bin_dir,
        port: options.private_port,
        database: options.database.clone(),
        run_as,
        started_here: true,
    })
}

/// Creates the cluster, trusting local connections: it listens on 127.0.0.1 only and exists for one
/// developer's Aegis.
async fn initdb(
    run_as: Option<&str>,
    bin_dir: &Path,
    cluster_dir: &Path,
) -> Result<(), LocalPostgresError> {
    let initdb = |locale: &str| {
        let mut initdb = command(run_as, &bin_dir.join("initdb"));
        initdb
            .arg("-D")
            .arg(cluster_dir)
            .args(["-A", "trust", "-U", SUPERUSER, "-E", "UTF8"])
            .arg(format!("--locale={locale}"));
        initdb
    };
    // C.UTF-8 sorts like C but knows Unicode letters; systems without it still have plain C.
    // (`--no-instructions` is left out on purpose: the output is captured anyway, and the flag
    // would break PostgreSQL 13 and older.)
    let action = "initialise the private PostgreSQL cluster";
    match run(action, initdb("C.UTF-8")).await {
        Err(LocalPostgresError::CommandFailed { stderr, .. }) if stderr.contains("locale") => {
            run(action, initdb("C")).await.map(drop)
        }
        result => result.map(drop),
    }
}

/// The options `pg_ctl` hands to `postgres` through a shell, hence the quoting.
fn server_options(port: u16, cluster_dir: &Path) -> String {
    // The socket goes into the cluster directory because the default one (/var/run/postgresql) is
    // not writable by every user. A Unix socket path longer than ~107 bytes cannot be bound, so a
    // deeply nested cluster gets TCP only (an empty -k).
    let socket = cluster_dir.join(format!(".s.PGSQL.{port}"));
    let socket_dir = if socket.as_os_str().len() < 100 {
        cluster_dir.to_string_lossy().into_owned()
    } else {
        String::new()
    };
    format!(
        "-p {port} -k {} -c listen_addresses=127.0.0.1",
        shell_quote(&socket_dir)
    )
}

/// The port of the server running in `cluster_dir`, if one is running and answers.
async fn running_port(cluster_dir: &Path) -> Option<u16> {
    // postmaster.pid's fourth line is the port; a stale file (after a crash) names a port where
    // nothing answers, and `pg_ctl start` copes with it.
    let pid_file = std::fs::read_to_string(cluster_dir.join("postmaster.pid")).ok()?;
    let port = pid_file.lines().nth(3)?.trim().parse().ok()?;
    let address = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port);
    let connection = connect_admin(address, PROBE_TIMEOUT).await.ok()?;
    let _ = connection.close().await;
    Some(port)
}

/// An unprivileged user and its ids.
#[derive(Debug)]
struct Owner {
    name: String,
    uid: u32,
    gid: u32,
}

/// `postgres` is what Debian's packages create and own their clusters with; `nobody` exists
/// everywhere else.
async fn unprivileged_user() -> Result<Owner, LocalPostgresError> {
    for name in ["postgres", "nobody"] {
        if let (Some(uid), Some(gid)) = (id(&["-u", name]).await, id(&["-g", name]).await) {
            return Ok(Owner {
                name: name.to_owned(),
                uid,
                gid,
            });
        }
    }
    Err(LocalPostgresError::NoUnprivilegedUser)
}

/// Gives the cluster directory and log file to `owner` and makes sure it can reach them.
async fn hand_over(
    owner: &Owner,
    data_dir: &Path,
    cluster_dir: &Path,
    log: &Path,
) -> Result<(), LocalPostgresError> {
    let filesystem = |path: &Path| {
        let path = path.to_owned();
        move |source| LocalPostgresError::Filesystem { path, source }
    };

    // The user must be able to walk down to the cluster. Only a search bit is added (the one that
    // applies to that user), never read, and a log line names every directory that changed.
    for directory in data_dir.ancestors() {
        let metadata = std::fs::metadata(directory).map_err(filesystem(directory))?;
        let mode = metadata.permissions().mode();
        let search_bit = if metadata.uid() == owner.uid {
            0o100
        } else if metadata.gid() == owner.gid {
            0o010
        } else {
            0o001
        };
        if mode & search_bit == 0 {
            std::fs::set_permissions(
                directory,
                std::fs::Permissions::from_mode(mode | search_bit),
            )
            .map_err(filesystem(directory))?;
            tracing::warn!(
                directory = %directory.display(),
                user = %owner.name,
                "made the directory searchable so the private PostgreSQL cluster's owner can reach it"
            );
        }
    }

    // pg_ctl writes the log as the owner, and the data directory itself stays ours.
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .map_err(filesystem(log))?;
    std::os::unix::fs::chown(log, Some(owner.uid), Some(owner.gid)).map_err(filesystem(log))?;

    let cluster_owner = std::fs::metadata(cluster_dir)
        .map_err(filesystem(cluster_dir))?
        .uid();
    if cluster_owner != owner.uid {
        // A cluster created by someone else (or a fresh, empty directory) changes hands as a whole.
        let mut chown = command(None, Path::new("chown"));
        chown
            .arg("-R")
            .arg(format!("{}:{}", owner.uid, owner.gid))
            .arg(cluster_dir);
        run("give the private PostgreSQL cluster to its owner", chown).await?;
    }
    Ok(())
}

/// The directory holding `initdb`, `pg_ctl` and `postgres`: the cluster's own major version if
/// installed, else the newest under /usr/lib/postgresql (Debian, Ubuntu), else `pg_config --bindir`,
/// else the first on PATH.
async fn find_server_binaries(preferred_version: Option<&str>) -> Option<PathBuf> {
    let mut candidates = Vec::new();
    if let Some(version) = preferred_version {
        candidates.push(Path::new("/usr/lib/postgresql").join(version).join("bin"));
    }
    let mut versioned: Vec<(Vec<u32>, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let name = entry.file_name();
            let version = name
                .to_str()?
                .split('.')
                .map(str::parse)
                .collect::<Result<Vec<u32>, _>>()
                .ok()?;
            Some((version, entry.path().join("bin")))
        })
        .collect();
    versioned.sort_by(|left, right| right.0.cmp(&left.0));
    candidates.extend(versioned.into_iter().map(|(_, bin_dir)| bin_dir));
    if let Ok(output) = tokio::process::Command::new("pg_config")
        .arg("--bindir")
        .output()
        .await
        && output.status.success()
    {
        candidates.push(PathBuf::from(
            String::from_utf8_lossy(&output.stdout).trim(),
        ));
    }
    if let Some(path) = std::env::var_os("PATH") {
        candidates.extend(std::env::split_paths(&path));
    }
    candidates.into_iter().find(|bin_dir| {
        ["initdb", "pg_ctl", "postgres"]
            .iter()
            .all(|binary| bin_dir.join(binary).is_file())
    })
}

/// The effective user id: from /proc on Linux, else from `id -u`.
async fn effective_uid() -> Option<u32> {
    if let Ok(status) = std::fs::read_to_string("/proc/self/status") {
        // "Uid:\treal\teffective\tsaved\tfs"
        return status
            .lines()
            .find_map(|line| line.strip_prefix("Uid:"))?
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok();
    }
    id(&["-u"]).await
}

async fn id(args: &[&str]) -> Option<u32> {
    let output = tokio::process::Command::new("id")
        .args(args)
        .output()
        .await
        .ok()?;
    if !output.status.success() {
        return None;
    }
    String::from_utf8_lossy(&output.stdout).trim().parse().ok()
}

/// A connection to the `postgres` database as the superuser, without a password.
async fn connect_admin(
    address: SocketAddr,
    timeout: Duration,
) -> Result<PgConnection, sqlx::Error> {
    let options = PgConnectOptions::new()
        .host(&address.ip().to_string())
        .port(address.port())
        .username(SUPERUSER)
        .database("postgres")
        .application_name("aegis")
        .disable_statement_logging();
    match tokio::time::timeout(timeout, PgConnection::connect_with(&options)).await {
        Ok(result) => result,
        Err(_elapsed) => Err(sqlx::Error::Io(io::Error::new(
            io::ErrorKind::TimedOut,
            format!("no answer within {timeout:?}"),
        ))),
    }
}

/// Creates `database` unless it exists.
async fn create_database(connection: &mut PgConnection, database: &str) -> Result<(), sqlx::Error> {
    let exists: bool =
        sqlx::query_scalar("select exists (select 1 from pg_database where datname = $1)")
            .bind(database)
            .fetch_one(&mut *connection)
            .await?;
    if exists {
        return Ok(());
    }
    // CREATE DATABASE takes no parameters, hence the quoted identifier; it also refuses to run in
    // a transaction block, which the simple protocol of raw_sql avoids.
    let statement = format!("create database {}", quote_identifier(database));
    match sqlx::raw_sql(&statement).execute(&mut *connection).await {
        Ok(_) => Ok(()),
        // Two processes starting at once may both see "missing"; the loser gets duplicate_database
        // (42P04), or unique_violation (23505) from the catalog index, and the database is there.
        Err(sqlx::Error::Database(error))
            if matches!(error.code().as_deref(), Some("42P04" | "23505")) =>
        {
            Ok(())
        }
        Err(error) => Err(error),
    }
}

fn quote_identifier(identifier: &str) -> String {
    format!("\"{}\"", identifier.replace('"', "\"\""))
}

fn database_url(address: SocketAddr, database: &str) -> String {
    format!(
        "postgres://{SUPERUSER}@{address}/{}",
        percent_encode(database)
    )
}

/// Percent-encodes everything but unreserved characters, so any database name fits in a URL path.
fn percent_encode(text: &str) -> String {
    let mut encoded = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            encoded.push(char::from(byte));
        } else {
            let _ = write!(encoded, "%{byte:02X}");
        }
    }
    encoded
}

/// The `host:port` of a URL built by [`database_url`].
fn url_authority(url: &str) -> &str {
    url.split_once('@')
        .and_then(|(_, rest)| rest.split_once('/'))
        .map_or(url, |(authority, _)| authority)
}

/// Quotes a word for /bin/sh.
fn shell_quote(word: &str) -> String {
    format!("'{}'", word.replace('\'', r"'\''"))
}

/// A command run as `run_as` (through `runuser`, since PostgreSQL refuses to run as root) or as
/// ourselves.
fn std_command(run_as: Option<&str>, program: &Path) -> std::process::Command {
    let mut command = match run_as {
        Some(user) => {
            let mut command = std::process::Command::new("runuser");
            command.args(["-u", user, "--"]).arg(program);
            command
        }
        None => std::process::Command::new(program),
    };
    // The other user may not be allowed into our working directory (/root, say), and nothing here
    // uses relative paths.
    command.current_dir("/");
    command
}

fn command(run_as: Option<&str>, program: &Path) -> tokio::process::Command {
    tokio::process::Command::from(std_command(run_as, program))
}

fn describe_command(command: &tokio::process::Command) -> String {
    let command = command.as_std();
    std::iter::once(command.get_program())
        .chain(command.get_args())
        .map(OsStr::to_string_lossy)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Runs a command to completion; a failure carries the command line and what it printed.
async fn run(
    action: &'static str,
    mut command: tokio::process::Command,
) -> Result<Output, LocalPostgresError> {
    let described = describe_command(&command);
    let output = command
        .output()
        .await
        .map_err(|source| LocalPostgresError::CommandNotRun {
            action,
            program: described.clone(),
            source,
        })?;
    if output.status.success() {
        Ok(output)
    } else {
        Err(LocalPostgresError::CommandFailed {
            action,
            command: described,
            status: output.status,
            stderr: output_text(&output),
        })
    }
}

/// stderr, or stdout when stderr is empty (pg_ctl and initdb print some failures on stdout).
fn output_text(output: &Output) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr).trim().to_owned();
    if stderr.is_empty() {
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    } else {
        stderr
    }
}

/// The last `lines` lines of a file, or a note that it could not be read.
fn tail(path: &Path, lines: usize) -> String {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let all: Vec<&str> = text.lines().collect();
            all[all.len().saturating_sub(lines)..].join("\n")
        }
        Err(error) => format!("({error})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_names_are_quoted_and_encoded() {
        assert_eq!(quote_identifier(r#"a"b"#), r#""a""b""#);
        assert_eq!(
            database_url(LocalPostgresOptions::DEFAULT_PROBE, "aegis dev/1"),
            "postgres://postgres@127.0.0.1:5432/aegis%20dev%2F1"
        );
    }

    #[test]
    fn describe_names_the_server_address() {
        let server = LocalPostgres::Server {
            url: database_url(LocalPostgresOptions::DEFAULT_PROBE, "aegis"),
        };
        assert_eq!(server.describe(), "local PostgreSQL on 127.0.0.1:5432");
    }

    #[test]
    fn server_options_quote_the_socket_directory() {
        assert_eq!(
            server_options(54329, Path::new("/tmp/it's")),
            r"-p 54329 -k '/tmp/it'\''s' -c listen_addresses=127.0.0.1"
        );
        let deep = PathBuf::from(format!("/{}", "d".repeat(120)));
        assert_eq!(
            server_options(54329, &deep),
            "-p 54329 -k '' -c listen_addresses=127.0.0.1"
        );
    }

    #[test]
    fn not_installed_says_how_to_install() {
        let message = LocalPostgresError::NotInstalled {
            probe: Some(LocalPostgresOptions::DEFAULT_PROBE),
        }
        .to_string();
        assert_eq!(
            message,
            "No PostgreSQL found: nothing answers on 127.0.0.1:5432 and no server binaries (initdb, \
             pg_ctl) are installed. Install one with `sudo apt-get install -y postgresql` \
             (Debian/Ubuntu), or point DATABASE_URL at a server."
        );
    }
}
