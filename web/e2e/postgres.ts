/// A throwaway PostgreSQL cluster for the browser tests, from the installed server binaries.
///
/// Why not a database on `DATABASE_URL`'s server: Aegis' projector only applies events committed before the
/// oldest transaction still open anywhere in the cluster (the gapless-order rule), so a benchmark or a long
/// test in another database of a shared server holds every read model back and the scenario times out.
/// `AEGIS_E2E_POSTGRES=shared` uses a scratch database on `DATABASE_URL`'s server instead.
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

export interface Cluster {
  /// `postgres://postgres@127.0.0.1:<port>/postgres`
  url: string;
  stop: () => void;
}

const SERVER_BINARIES = '/usr/lib/postgresql';

function binaries(): string | null {
  if (!existsSync(SERVER_BINARIES)) return null;
  const versions = readdirSync(SERVER_BINARIES).filter((version) => existsSync(path.join(SERVER_BINARIES, version, 'bin/initdb')));
  versions.sort((a, b) => Number(b) - Number(a));
  return versions[0] ? path.join(SERVER_BINARIES, versions[0], 'bin') : null;
}

export function privateClusterWanted(): boolean {
  return process.env.AEGIS_E2E_POSTGRES !== 'shared' && binaries() !== null;
}

/// initdb and pg_ctl refuse to run as root: as root they run as the `postgres` user.
function run(program: string, args: string[]) {
  const asRoot = process.getuid?.() === 0;
  const [command, commandArgs] = asRoot ? ['runuser', ['-u', 'postgres', '--', program, ...args]] : [program, args];
  execFileSync(command, commandArgs, { cwd: '/', stdio: ['ignore', 'ignore', 'inherit'] });
}

export function startCluster(port: number): Cluster {
  const bin = binaries();
  if (!bin) throw new Error(`no PostgreSQL server binaries under ${SERVER_BINARIES}`);
  const dir = mkdtempSync(path.join(tmpdir(), 'aegis-web-e2e-pg-'));
  if (process.getuid?.() === 0) execFileSync('chown', ['postgres:postgres', dir]);
  chmodSync(dir, 0o700);
  const data = path.join(dir, 'data');
  run(path.join(bin, 'initdb'), ['-D', data, '-A', 'trust', '-U', 'postgres', '-E', 'UTF8', '--locale=C', '--no-sync']);
  run(path.join(bin, 'pg_ctl'), [
    '-D', data, '-l', path.join(dir, 'log'), '-w', 'start',
    '-o', `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off`,
  ]);
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    stop: () => {
      run(path.join(bin, 'pg_ctl'), ['-D', data, '-m', 'immediate', 'stop']);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
