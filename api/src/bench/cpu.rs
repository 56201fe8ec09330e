//! CPU time spent on a piece of work by this process and by the PostgreSQL server processes, read from `/proc`
//! (Linux, server on this machine). Unlike wall time it holds on a machine that other work keeps busy, and it says
//! what a rate needs: 30,000 events/s on two cores leave 66 µs of CPU per event, wherever it is spent.

use std::collections::HashMap;
use std::time::Duration;

use sqlx::PgPool;

/// Clock ticks per second of `/proc/<pid>/stat`'s `utime`/`stime` (`USER_HZ`, 100 on every Linux ABI).
const USER_HZ: u64 = 100;

/// CPU used so far: this process (all its threads), each PostgreSQL server process serving the database or the
/// whole cluster (checkpointer, WAL writer…), and the server processes that ended (their time is added to the
/// postmaster's children's time when it reaps them: parallel workers building an index, closed connections).
#[derive(Debug, Clone)]
pub struct CpuReading {
    client: Duration,
    server: HashMap<i32, Duration>,
    ended_servers: Duration,
}

/// CPU used between two readings.
#[derive(Debug, Clone, Copy)]
pub struct CpuSpent {
    pub client: Duration,
    pub server: Duration,
}

impl CpuSpent {
    pub fn total(self) -> Duration {
        self.client + self.server
    }
}

impl CpuReading {
    /// `None` when `/proc` cannot tell: not Linux, or the server runs elsewhere.
    pub async fn now(pool: &PgPool) -> anyhow::Result<Option<Self>> {
        let pids: Vec<i32> = sqlx::query_scalar(
            "SELECT pid FROM pg_stat_activity
              WHERE datname = current_database() OR backend_type <> 'client backend'",
        )
        .fetch_all(pool)
        .await?;
        let Some(client) = process_times("self").map(|times| times.own) else {
            return Ok(None);
        };
        let server: HashMap<i32, ProcessTimes> = pids
            .into_iter()
            .filter_map(|pid| Some((pid, process_times(&pid.to_string())?)))
            .collect();
        let Some(postmaster) = server.values().next().map(|backend| backend.parent) else {
            return Ok(None);
        };
        let Some(ended_servers) =
            process_times(&postmaster.to_string()).map(|times| times.children)
        else {
            return Ok(None);
        };
        Ok(Some(Self {
            client,
            server: server
                .into_iter()
                .map(|(pid, times)| (pid, times.own))
                .collect(),
            ended_servers,
        }))
    }

    /// What was spent since `earlier`. A server process started in between counts from zero.
    pub fn since(&self, earlier: &Self) -> CpuSpent {
        let running: Duration = self
            .server
            .iter()
            .map(|(pid, used)| {
                used.saturating_sub(earlier.server.get(pid).copied().unwrap_or_default())
            })
            .sum();
        CpuSpent {
            client: self.client.saturating_sub(earlier.client),
            server: running + self.ended_servers.saturating_sub(earlier.ended_servers),
        }
    }
}

/// A process's CPU from `/proc/<pid>/stat`: its own (`utime + stime`), that of its ended children
/// (`cutime + cstime`), and its parent.
struct ProcessTimes {
    own: Duration,
    children: Duration,
    parent: i32,
}

fn process_times(pid: &str) -> Option<ProcessTimes> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces: fields are counted after its closing
    // one, from field 3 (the state).
    let fields: Vec<&str> = stat[stat.rfind(')')? + 1..].split_whitespace().collect();
    let ticks = |field: usize| -> Option<u64> { fields.get(field - 3)?.parse().ok() };
    let duration = |ticks: u64| Duration::from_millis(ticks * 1000 / USER_HZ);
    Some(ProcessTimes {
        own: duration(ticks(14)? + ticks(15)?),
        children: duration(ticks(16)? + ticks(17)?),
        parent: fields.get(4 - 3)?.parse().ok()?,
    })
}
