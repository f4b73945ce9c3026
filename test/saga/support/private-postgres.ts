/**
 * A PostgreSQL server of one test file's own, which the file may stop and start again mid-run
 * (the shared server of the global setup serves other files in parallel and must not be
 * restarted). Found and run the way `test/setup/services.ts` runs the shared one; it keeps its data
 * directory and port across restarts.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { chownSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { findPostgresBin, freePort, postgresUser } from '../../setup/services.js';

/** A private server. */
export interface PrivatePostgres {
  /** Connection URL of its `postgres` database. */
  readonly url: string;
  /**
   * Stops the server: `fast` (SIGINT: connections are closed, a clean shutdown) or `immediate`
   * (SIGQUIT: every process quits at once, the next start runs crash recovery).
   */
  stop(mode: 'fast' | 'immediate'): Promise<void>;
  /** Starts it again on the same port and data, and waits until it accepts connections. */
  start(): Promise<void>;
  /** Stops it for good and deletes its data. */
  destroy(): Promise<void>;
}

/** Starts a private server, or returns `undefined` when there are no PostgreSQL binaries. */
export async function startPrivatePostgres(): Promise<PrivatePostgres | undefined> {
  const bin = findPostgresBin();
  if (!bin) return undefined;
  const asUser = process.getuid?.() === 0 ? postgresUser() : undefined;
  const dir = mkdtempSync('/tmp/flowproof-chaos-pg-');
  if (asUser) chownSync(dir, asUser.uid, asUser.gid);
  const data = join(dir, 'data');
  await promisify(execFile)(
    join(bin, 'initdb'),
    ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8', '--locale=C'],
    { cwd: dir, ...(asUser ?? {}) },
  );
  const port = await freePort();
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  let child: ChildProcess | undefined;

  async function start(): Promise<void> {
    const server = spawn(
      join(bin!, 'postgres'),
      [
        ...['-D', data, '-p', String(port), '-k', dir],
        // fsync off is safe here (the machine does not crash, only PostgreSQL does), but
        // synchronous_commit must stay on: an immediate shutdown loses unflushed commits.
        ...['-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=off'],
        ...['-c', 'full_page_writes=off'],
        ...['-c', 'max_connections=200'],
      ],
      { cwd: dir, stdio: 'ignore', ...(asUser ?? {}) },
    );
    child = server;
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (server.exitCode !== null || server.signalCode !== null) {
        throw new Error(`private PostgreSQL exited (${server.exitCode ?? server.signalCode})`);
      }
      const client = new pg.Client({ connectionString: url });
      client.on('error', () => {});
      try {
        await client.connect();
        await client.query('SELECT 1');
        return;
      } catch (error) {
        if (Date.now() > deadline) throw error;
      } finally {
        await client.end().catch(() => {});
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  async function stop(mode: 'fast' | 'immediate'): Promise<void> {
    const server = child;
    if (!server || server.exitCode !== null || server.signalCode !== null) return;
    const exited = once(server, 'exit');
    server.kill(mode === 'fast' ? 'SIGINT' : 'SIGQUIT');
    await exited;
  }

  await start();
  return {
    url,
    stop,
    start,
    async destroy() {
      await stop('fast');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
