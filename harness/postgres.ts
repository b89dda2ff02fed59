import { execFile } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './ports.ts';

const run = promisify(execFile);

/** Debian's PostgreSQL server programs (package postgresql); psql is in postgresql-client. */
const PG_BIN = '/usr/lib/postgresql/15/bin';

export type TestPostgres = {
  port: number;
  /** The variables psql and libpq read to reach it: 127.0.0.1, its port, the superuser, its database. */
  env: Record<string, string>;
  /** Run SQL as the superuser; returns psql's unaligned, tuples-only output. */
  query(sql: string): Promise<string>;
  stop(): Promise<void>;
};

/**
 * A real PostgreSQL server in `dir` on a free loopback port, trust authentication, for tests of
 * RELEASE_CMD. The server refuses to run as root, so it runs as the `postgres` user (runuser);
 * `dir` becomes that user's (the folders above it must let others pass). Stopped with pg_ctl, which signals the postmaster its pid file names.
 */
export async function startPostgres(dir: string, database = 'app'): Promise<TestPostgres> {
  for (const program of ['initdb', 'pg_ctl']) {
    if (!existsSync(path.join(PG_BIN, program))) throw new Error(`${PG_BIN}/${program} is missing: apt-get install postgresql`);
  }
  if (!existsSync('/usr/bin/psql')) throw new Error('psql is missing: apt-get install postgresql-client');
  mkdirSync(dir, { recursive: true });
  const postgres = await run('id', ['-u', 'postgres']).catch(() => {
    throw new Error('there is no postgres user: apt-get install postgresql');
  });
  const uid = Number(postgres.stdout.trim());
  const gid = Number((await run('id', ['-g', 'postgres'])).stdout.trim());
  chownSync(dir, uid, gid);
  chmodSync(dir, 0o700);
  const data = path.join(dir, 'data');
  const port = await freePort();
  const asPostgres = (program: string, args: string[]) => run('runuser', ['-u', 'postgres', '--', path.join(PG_BIN, program), ...args], { cwd: dir });
  await asPostgres('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8']);
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`;
  await asPostgres('pg_ctl', ['start', '-w', '-t', '60', '-D', data, '-l', path.join(dir, 'server.log'), '-o', options]).catch((error: Error) => {
    const log = existsSync(path.join(dir, 'server.log')) ? readFileSync(path.join(dir, 'server.log'), 'utf8') : '';
    throw new Error(`PostgreSQL did not start: ${error.message}\n${log}`);
  });
  const env = { PGHOST: '127.0.0.1', PGPORT: String(port), PGUSER: 'postgres', PGDATABASE: database };
  const psql = async (sql: string, db: string) =>
    (await run('psql', ['-X', '-v', 'ON_ERROR_STOP=1', '-At', '-c', sql], { env: { ...process.env, ...env, PGDATABASE: db } })).stdout.trim();
  await psql(`CREATE DATABASE ${database}`, 'postgres');
  return {
    port,
    env,
    query: (sql) => psql(sql, database),
    async stop() {
      if (existsSync(path.join(data, 'postmaster.pid'))) await asPostgres('pg_ctl', ['stop', '-w', '-m', 'fast', '-D', data]);
    },
  };
}
