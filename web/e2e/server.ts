/// A real `aegis serve` on a scratch database, for the browser scenario: on a private PostgreSQL cluster
/// (`./postgres.ts`), or next to `DATABASE_URL`'s database with `AEGIS_E2E_POSTGRES=shared`; dropped
/// afterwards. The server listens on a free port and serves this build (dist/).
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { privateClusterWanted, startCluster, type Cluster } from './postgres';

const REPOSITORY = path.resolve(import.meta.dirname, '../..');

export interface RunningServer {
  url: string;
  adminEmail: string;
  adminPassword: string;
  /// Runs `aegis import <source> <paths…>` (paths inside the corpus) against the running server's database;
  /// answers the seconds it took.
  importCatalog: (source: string, corpusPaths: string[]) => number;
  stop: () => Promise<void>;
}

function aegisBinary(): string {
  const binary = process.env.AEGIS_BINARY
    ?? path.join(process.env.CARGO_TARGET_DIR ?? path.join(REPOSITORY, 'target'), 'debug', 'aegis');
  if (!existsSync(binary)) {
    throw new Error(`no aegis binary at ${binary}: build it with \`cargo build -p api --bin aegis\` (or set AEGIS_BINARY)`);
  }
  return binary;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

async function waitReady(url: string, child: ChildProcess, log: () => string) {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`aegis serve exited with ${child.exitCode}:\n${log()}`);
    try {
      if ((await fetch(`${url}/ready`)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`aegis serve did not become ready within 60 s:\n${log()}`);
}

/// `ics-attack.json` is the smallest real ATT&CK bundle in the corpus (3 MB): the scenario uses the ICS matrix
/// so that a debug build imports it in seconds.
export async function startServer(): Promise<RunningServer> {
  const aegis = aegisBinary();
  const cluster: Cluster | null = privateClusterWanted() ? startCluster(await freePort()) : null;
  try {
    return await startOn(aegis, cluster);
  } catch (error) {
    cluster?.stop();
    throw error;
  }
}

async function startOn(aegis: string, cluster: Cluster | null): Promise<RunningServer> {
  const baseUrl = cluster?.url ?? process.env.DATABASE_URL;
  if (!baseUrl) throw new Error('DATABASE_URL must name a PostgreSQL server the test may create databases on');
  const database = `aegis_web_e2e_${process.pid}`;
  const databaseUrl = new URL(baseUrl);
  databaseUrl.pathname = `/${database}`;
  execFileSync('psql', [baseUrl, '-qc', `DROP DATABASE IF EXISTS ${database} WITH (FORCE)`, '-c', `CREATE DATABASE ${database}`], { stdio: 'inherit' });
  const dataDir = mkdtempSync(path.join(tmpdir(), 'aegis-web-e2e-'));
  const environment = { ...process.env, DATABASE_URL: databaseUrl.toString(), AEGIS_DATA_DIR: dataDir, AEGIS_LOG_FORMAT: 'json' };
  execFileSync(aegis, ['migrate'], { env: environment, stdio: 'inherit' });
  const corpus = process.env.AEGIS_CORPUS ?? path.join(REPOSITORY, '../shared/corpus');
  const importCatalog = (source: string, corpusPaths: string[]) => {
    const started = performance.now();
    execFileSync(aegis, ['import', source, ...corpusPaths.map((item) => path.join(corpus, item))], { env: environment, stdio: ['ignore', 'ignore', 'inherit'] });
    return (performance.now() - started) / 1000;
  };
  importCatalog('attack', ['mitre-attack/ics-attack.json']);

  const port = await freePort();
  const adminPassword = 'e2e admin passphrase 2026';
  let output = '';
  const child = spawn(aegis, ['serve', '--listen', `127.0.0.1:${port}`, '--web-dir', path.join(REPOSITORY, 'web/dist')], {
    env: { ...environment, AEGIS_ADMIN_PASSWORD: adminPassword },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (chunk) => { output += chunk; });
  child.stderr!.on('data', (chunk) => { output += chunk; });
  const url = `http://127.0.0.1:${port}`;
  await waitReady(url, child, () => output.slice(-4000));
  return {
    url,
    adminEmail: 'admin@aegis.local',
    adminPassword,
    importCatalog,
    stop: async () => {
      child.kill('SIGTERM');
      await new Promise((resolve) => (child.exitCode !== null ? resolve(null) : child.once('exit', resolve)));
      if (cluster) cluster.stop();
      else execFileSync('psql', [baseUrl, '-qc', `DROP DATABASE IF EXISTS ${database} WITH (FORCE)`]);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
