/**
 * Witnesses: places outside the database that keep a copy of every checkpoint, so an attacker who
 * can rewrite the audit tables — checkpoints included — still cannot rewrite history unnoticed.
 * Pass what a witness kept to `verify({ checkpoints })`.
 */
import { appendFile, readFile } from 'node:fs/promises';
import { MAX_TIMER_MS } from '../core/async.js';
import { FlowproofError } from '../core/errors.js';
import { assertKnownKeys, assertNonEmptyString, assertOptionsObject } from '../core/options.js';
import { parseCheckpoint } from './audit-export.js';
import type { AuditCheckpoint } from './audit-store.js';

/** Somewhere checkpoints are sent as they are signed. */
export interface AuditWitness {
  /** Its name in logs and errors. */
  readonly name: string;
  /** Keeps `checkpoint`; a rejection is logged as `AUDIT_WITNESS_FAILED`. */
  publish(checkpoint: AuditCheckpoint): Promise<void>;
}

/**
 * A witness appending each checkpoint as one JSON line to a file (put it on storage the
 * database's administrators cannot write: another host, a write-once volume). Read it back with
 * {@link readFileWitness}.
 *
 * @throws TypeError when `options.path` is not a non-empty string.
 */
export function createFileWitness(options: {
  /** The file; created when missing. */
  readonly path: string;
}): AuditWitness {
  assertOptionsObject(options, 'options');
  assertKnownKeys(options, ['path'], 'options');
  assertNonEmptyString(options.path, 'options.path');
  const { path } = options;
  return {
    name: `file:${path}`,
    publish: (checkpoint) => appendFile(path, `${JSON.stringify(checkpoint)}\n`, { flag: 'a' }),
  };
}

/**
 * The checkpoints a {@link createFileWitness} file holds, in file order.
 *
 * @throws FlowproofError `AUDIT_EXPORT_MALFORMED` for a line that is not a checkpoint.
 */
export async function readFileWitness(path: string): Promise<AuditCheckpoint[]> {
  assertNonEmptyString(path, 'path');
  const text = await readFile(path, 'utf8');
  return text
    .split('\n')
    .map((line, i) => [line, i + 1] as const)
    .filter(([line]) => line.trim() !== '')
    .map(([line, n]) => parseCheckpoint(parseLine(line, n), n));
}

function parseLine(line: string, n: number): unknown {
  try {
    return JSON.parse(line);
  } catch {
    throw new FlowproofError('AUDIT_EXPORT_MALFORMED', `line ${n} is not JSON`, {
      details: { line: n, reason: 'not JSON' },
    });
  }
}

/**
 * A witness POSTing each checkpoint as JSON to `url` (a transparency service, another team's
 * endpoint, a function writing to object storage with retention). Any status other than 2xx, or
 * no answer within `timeoutMs`, is a failure.
 *
 * @throws TypeError when `options.url` is not an http(s) URL, `timeoutMs` is not a positive number
 * of milliseconds a timer can wait (up to 2^31 - 1), or
 * `headers` is not an object of valid HTTP header names and values.
 */
export function createHttpWitness(options: {
  /** Where to POST. */
  readonly url: string;
  /** Extra request headers (authorization). */
  readonly headers?: Readonly<Record<string, string>>;
  /**
   * Give up after this many milliseconds.
   * @default 5000
   */
  readonly timeoutMs?: number;
}): AuditWitness {
  assertOptionsObject(options, 'options');
  assertKnownKeys(options, ['url', 'headers', 'timeoutMs'], 'options');
  assertNonEmptyString(options.url, 'options.url');
  let url: URL;
  try {
    url = new URL(options.url);
  } catch {
    throw new TypeError('options.url must be an http(s) URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new TypeError('options.url must be an http(s) URL');
  }
  const timeoutMs = options.timeoutMs ?? 5000;
  if (typeof timeoutMs !== 'number' || !(timeoutMs > 0 && timeoutMs <= MAX_TIMER_MS)) {
    throw new TypeError(`options.timeoutMs must be a positive number up to ${MAX_TIMER_MS}`);
  }
  if (options.headers !== undefined) checkHeaders(options.headers);
  const headers = { ...options.headers, 'content-type': 'application/json' };
  return {
    name: `http:${url.origin}${url.pathname}`,
    publish: async (checkpoint) => {
      const response = await fetch(url, {
        method: 'POST',
        headers,
        body: JSON.stringify(checkpoint),
        signal: AbortSignal.timeout(timeoutMs),
      });
      await response.arrayBuffer().catch(() => undefined);
      if (!response.ok) throw new Error(`the witness answered ${response.status}`);
    },
  };
}

/** Refuses `headers` that are not an object of valid HTTP header names and values. */
function checkHeaders(headers: unknown): void {
  if (
    typeof headers !== 'object' ||
    headers === null ||
    Array.isArray(headers) ||
    Object.values(headers).some((value) => typeof value !== 'string')
  ) {
    throw new TypeError('options.headers must be an object of header names to string values');
  }
  try {
    new Headers(headers as Record<string, string>);
  } catch {
    throw new TypeError('options.headers must hold valid HTTP header names and values');
  }
}
