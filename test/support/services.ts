/**
 * Access, from test files, to the servers that `test/setup/services.ts` started (or was given).
 * A missing server makes the suites that need it skipped with a title saying why; with
 * `FLOWPROOF_REQUIRE_SERVICES=1` the global setup fails the run instead.
 */
import { describe, inject } from 'vitest';

// The global setup also sets these env vars; they are the fallback for a config without it.
function injected(key: 'postgresUrl' | 'redisUrl', envVar: string): string | undefined {
  return inject(key) || process.env[envVar] || undefined;
}

/** URL of the test PostgreSQL database, or undefined when no server is available. */
export function postgresUrl(): string | undefined {
  return injected('postgresUrl', 'FLOWPROOF_TEST_POSTGRES_URL');
}

/** URL of the test Redis server, or undefined when no server is available. */
export function redisUrl(): string | undefined {
  return injected('redisUrl', 'FLOWPROOF_TEST_REDIS_URL');
}

function describeWith(
  service: string,
  url: string | undefined,
  name: string,
  fn: (url: string) => void,
): void {
  if (url) describe(name, () => fn(url));
  else describe.skip(`${name} (skipped: ${service} server not available)`, () => fn(''));
}

/** `describe` that runs only when a PostgreSQL server is available; `fn` gets its URL. */
export function describeWithPostgres(name: string, fn: (url: string) => void): void {
  describeWith('PostgreSQL', postgresUrl(), name, fn);
}

/** `describe` that runs only when a Redis server is available; `fn` gets its URL. */
export function describeWithRedis(name: string, fn: (url: string) => void): void {
  describeWith('Redis', redisUrl(), name, fn);
}

/**
 * Puts the injected server URLs into this process's environment, where the child processes of
 * the cross-process conformance tests (which inherit it) read them.
 */
export function exposeServiceUrlsToChildProcesses(): void {
  for (const [variable, url] of [
    ['FLOWPROOF_TEST_POSTGRES_URL', postgresUrl()],
    ['FLOWPROOF_TEST_REDIS_URL', redisUrl()],
  ] as const) {
    if (url && !process.env[variable]) process.env[variable] = url;
  }
}
