//! Several `aegis serve` processes on one database, behind a private nginx, and a streaming standby of that
//! database: what `api/tests/replicas.rs` tests and `deploy/bench/replicas` measures, on this machine only
//! (127.0.0.1). The cluster, the servers and the clients are [`crate::chaos`]'s.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail, ensure};
use serde_json::{Value, json};

use crate::chaos::{Cluster, Server, free_port, wait_ready};
use crate::local_postgres::{LocalPostgres, LocalPostgresOptions, PrivateCluster, find_or_start};

/// A private nginx (its own prefix, configuration and port) balancing over some `aegis serve` ports, stopped
/// when dropped.
#[derive(Debug)]
pub struct Nginx {
    child: Child,
    pub base: String,
    _prefix: tempfile::TempDir,
}

impl Nginx {
    /// `$AEGIS_NGINX`, else Debian's path (`deploy/dev/ensure-nginx` installs it).
    pub fn binary() -> PathBuf {
        std::env::var_os("AEGIS_NGINX")
            .map_or_else(|| PathBuf::from("/usr/sbin/nginx"), PathBuf::from)
    }

    pub async fn start(upstream_ports: &[u16]) -> anyhow::Result<Self> {
        let prefix = tempfile::tempdir()?;
        let port = free_port()?;
        let mut servers = String::new();
        for upstream in upstream_ports {
            let _ = writeln!(
                servers,
                "        server 127.0.0.1:{upstream} max_fails=1 fail_timeout=10s;"
            );
        }
        // A dead server's connections are refused: nginx then tries the next one, for POST too, because
        // nothing was sent. A request already sent when its server died is not repeated by nginx (a POST
        // is not idempotent to it); the client retries it with the same Idempotency-Key.
        let configuration = format!(
            "pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
worker_processes 1;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    upstream aegis {{
{servers}        keepalive 32;
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://aegis;
            proxy_http_version 1.1;
            proxy_set_header Connection \"\";
            proxy_next_upstream error timeout http_502 http_503;
            proxy_connect_timeout 1s;
        }}
    }}
}}
",
            prefix = prefix.path().display()
        );
        let config_path = prefix.path().join("nginx.conf");
        std::fs::write(&config_path, configuration)?;
        let binary = Self::binary();
        let child = Command::new(&binary)
            .arg("-p")
            .arg(prefix.path())
            .arg("-c")
            .arg(&config_path)
            .arg("-e")
            .arg(prefix.path().join("error.log"))
            .args(["-g", "daemon off;"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| {
                format!("cannot run {} (deploy/dev/ensure-nginx)", binary.display())
            })?;
        let nginx = Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
            _prefix: prefix,
        };
        let http = crate::chaos::http_client(Duration::from_secs(5))?;
        wait_ready(&http, &nginx.base).await?;
        Ok(nginx)
    }
}

impl Drop for Nginx {
    /// SIGTERM, not SIGKILL: a killed master leaves its worker behind, still holding the port.
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

/// `count` servers on one cluster, sharing one data directory (so one signing key: a session from one is
/// good on every other), started one after the other.
pub async fn start_servers(
    aegis: &Path,
    cluster: &Cluster,
    data_dir: &Path,
    count: usize,
    environment: &[(&str, &str)],
) -> anyhow::Result<Vec<(u16, Server)>> {
    let http = crate::chaos::http_client(Duration::from_secs(5))?;
    let mut servers = Vec::new();
    for _ in 0..count {
        let port = free_port()?;
        let server = Server::start_with(aegis, &cluster.url, data_dir, port, environment)?;
        wait_ready(&http, &format!("http://127.0.0.1:{port}")).await?;
        servers.push((port, server));
    }
    Ok(servers)
}

/// Whether the server on `port` runs the projectors, from its `/ready`.
pub async fn is_leader(http: &reqwest::Client, port: u16) -> bool {
    let Ok(response) = http
        .get(format!("http://127.0.0.1:{port}/ready"))
        .send()
        .await
    else {
        return false;
    };
    response
        .json::<Value>()
        .await
        .is_ok_and(|ready| ready["projector"]["leader"] == json!(true))
}

/// A streaming standby of `cluster` (a `pg_basebackup` copy, started on its own port); stopped when dropped.
#[derive(Debug)]
pub struct Standby {
    postgres: LocalPostgres,
    _dir: tempfile::TempDir,
}

impl Standby {
    pub async fn start(cluster: &Cluster) -> anyhow::Result<Self> {
        let LocalPostgres::Private(primary) = cluster.postgres() else {
            bail!("a standby is copied from a private cluster");
        };
        let dir = tempfile::tempdir()?;
        primary.base_backup_into(dir.path()).await?;
        let postgres = find_or_start(&LocalPostgresOptions {
            probe: None,
            private_port: free_port()?,
            ..LocalPostgresOptions::new(dir.path())
        })
        .await?;
        Ok(Self {
            postgres,
            _dir: dir,
        })
    }

    /// Aegis' database on the standby, as the superuser.
    pub fn url(&self) -> String {
        self.postgres.owner_url()
    }

    /// Stops the standby as a crash would (see [`PrivateCluster::stop_immediately`]).
    pub async fn stop_immediately(&self) -> anyhow::Result<()> {
        Ok(self.cluster()?.stop_immediately().await?)
    }

    /// Starts the stopped standby again; it resumes streaming from the primary.
    pub async fn start_again(&self) -> anyhow::Result<()> {
        Ok(self.cluster()?.start_again().await?)
    }

    fn cluster(&self) -> anyhow::Result<&PrivateCluster> {
        match &self.postgres {
            LocalPostgres::Private(cluster) => Ok(cluster),
            LocalPostgres::Server { .. } => {
                bail!("only a private cluster can be stopped and started here")
            }
        }
    }
}

/// One GraphQL request with a bearer token; the answer's body and its `Aegis-Write-LSN` header, if any.
pub async fn graphql(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    read_after: Option<&str>,
    query: &str,
) -> anyhow::Result<(Value, Option<String>)> {
    let mut request = http
        .post(format!("{base}/graphql"))
        .bearer_auth(token)
        .json(&json!({ "query": query }));
    if let Some(position) = read_after {
        request = request.header(crate::read_replica::WRITE_LSN_HEADER, position);
    }
    let response = request.send().await?;
    let position = response
        .headers()
        .get(crate::read_replica::WRITE_LSN_HEADER)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    let body: Value = response.json().await?;
    ensure!(body.get("errors").is_none(), "{query}: {body}");
    Ok((body, position))
}

/// Requests per second that `clients` concurrent clients get answered (without error) through `base` in
/// `seconds`; `request(client, n)` is the n-th GraphQL document of a client.
pub async fn throughput(
    base: &str,
    token: &str,
    clients: usize,
    seconds: f64,
    request: impl Fn(usize, u64) -> String + Send + Sync + 'static,
) -> anyhow::Result<f64> {
    let http = crate::chaos::http_client(Duration::from_secs(10))?;
    let answered = Arc::new(AtomicU64::new(0));
    let request = Arc::new(request);
    let started = Instant::now();
    let deadline = started + Duration::from_secs_f64(seconds);
    let mut tasks = Vec::new();
    for client in 0..clients {
        let (http, base, token) = (http.clone(), base.to_owned(), token.to_owned());
        let (answered, request) = (Arc::clone(&answered), Arc::clone(&request));
        tasks.push(tokio::spawn(async move {
            let mut sent = 0;
            // Each client reads its own writes: it sends back the position of its last mutation.
            let mut read_after: Option<String> = None;
            while Instant::now() < deadline {
                let (_, position) = graphql(
                    &http,
                    &base,
                    &token,
                    read_after.as_deref(),
                    &request(client, sent),
                )
                .await?;
                read_after = position.or(read_after);
                sent += 1;
                answered.fetch_add(1, Ordering::Relaxed);
            }
            anyhow::Ok(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    #[allow(clippy::cast_precision_loss)]
    Ok(answered.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64())
}

/// Mutations (`addComment`, each client on its own test case) and heatmap queries per second through nginx,
/// from `clients` concurrent clients for `seconds` each: one server, three servers, and one server reading
/// from a streaming standby. Returns README's table.
pub async fn figures(aegis: &Path, clients: usize, seconds: f64) -> anyhow::Result<String> {
    let cluster = Cluster::start(aegis, true).await?;
    let standby = Standby::start(&cluster).await?;
    let data_dir = tempfile::tempdir()?;
    let servers = start_servers(aegis, &cluster, data_dir.path(), 3, &[]).await?;
    let replica_url = standby.url();
    let reading_standby = start_servers(
        aegis,
        &cluster,
        data_dir.path(),
        1,
        &[("AEGIS_READ_DATABASE_URL", replica_url.as_str())],
    )
    .await?;
    let ports: Vec<u16> = servers.iter().map(|(port, _)| *port).collect();
    let setups = [
        ("1 server", vec![ports[0]]),
        ("3 servers", ports.clone()),
        (
            "1 server, queries on the read replica",
            vec![reading_standby[0].0],
        ),
    ];
    let http = crate::chaos::http_client(Duration::from_secs(10))?;
    let mut table = String::from("| setup | mutations/s | heatmap queries/s |\n|---|---|---|\n");
    for (setup, upstreams) in setups {
        let nginx = Nginx::start(&upstreams).await?;
        let token = crate::chaos::sign_in(&http, &nginx.base).await?;
        let mut test_cases = Vec::new();
        for client in 0..clients {
            let (planned, _) = graphql(
                &http,
                &nginx.base,
                &token,
                None,
                &format!(
                    r#"mutation {{ planTestCase(plan: {{ title: "bench {client}", objective: "",
                        technique: "T1059", procedure: {{ kind: MANUAL }}, steps: "run it" }}) {{ id }} }}"#
                ),
            )
            .await?;
            test_cases.push(
                planned["data"]["planTestCase"]["id"]
                    .as_str()
                    .context("no test case id")?
                    .to_owned(),
            );
        }
        let mutations = throughput(&nginx.base, &token, clients, seconds, move |client, n| {
            format!(
                r#"mutation {{ addComment(id: "{}", body: "bench {n}") {{ id }} }}"#,
                test_cases[client]
            )
        })
        .await?;
        let queries = throughput(&nginx.base, &token, clients, seconds, |_, _| {
            "{ heatmap { techniques scoredTechniques } }".to_owned()
        })
        .await?;
        let _ = writeln!(table, "| {setup} | {mutations:.0} | {queries:.0} |");
    }
    Ok(table)
}
