/**
 * Backend-independent migration bookkeeping: checking a migration set, deciding what is pending and
 * comparing recorded and expected versions. Backends only lock, read, apply and record.
 *
 * @internal
 */
import { FlowproofError, isFlowproofError } from './errors.js';
import { assertNonEmptyString, assertOptionsObject } from './options.js';
import type { MigrationSet } from './storage-backend.js';

/** A version recorded in a backend's migration table. */
export interface AppliedMigration {
  readonly version: number;
  readonly name: string;
}

/** Throws `TypeError` unless `set` has a component name and versions 1..n in order. */
export function assertMigrationSet(set: unknown): asserts set is MigrationSet<unknown> {
  assertOptionsObject(set, 'migration set');
  assertNonEmptyString(set.component, 'set.component');
  if (!Array.isArray(set.migrations) || set.migrations.length === 0) {
    throw new TypeError('set.migrations must be a non-empty array');
  }
  set.migrations.forEach((migration: unknown, index: number) => {
    assertOptionsObject(migration, `set.migrations[${index}]`);
    if (migration.version !== index + 1) {
      throw new TypeError(
        `set.migrations[${index}].version must be ${index + 1}: versions start at 1 and have no gaps`,
      );
    }
    assertNonEmptyString(migration.name, `set.migrations[${index}].name`);
    if (typeof migration.up !== 'function') {
      throw new TypeError(`set.migrations[${index}].up must be a function`);
    }
  });
}

/**
 * Returns the migrations still to apply, after checking that what the store recorded is a prefix
 * of `set` (same versions, same names).
 *
 * @throws FlowproofError `SCHEMA_TOO_NEW` or `MIGRATION_FAILED`.
 */
export function pendingMigrations<B>(
  set: MigrationSet<B>,
  applied: readonly AppliedMigration[],
): MigrationSet<B>['migrations'] {
  const known = set.migrations.length;
  const current = applied.reduce((max, row) => Math.max(max, row.version), 0);
  if (current > known) {
    throw new FlowproofError(
      'SCHEMA_TOO_NEW',
      `The ${set.component} schema is at version ${current}, newer than this code knows (${known}); upgrade flowproof`,
      { details: { component: set.component, found: current, expected: known } },
    );
  }
  for (const row of applied) {
    const expected = set.migrations[row.version - 1];
    if (!expected || expected.name !== row.name) {
      throw new FlowproofError(
        'MIGRATION_FAILED',
        `The ${set.component} schema recorded version ${row.version} as "${row.name}", but this code calls it "${expected?.name ?? '(none)'}"`,
        { details: { component: set.component, version: row.version, recorded: row.name } },
      );
    }
  }
  return set.migrations.slice(current);
}

/**
 * Compares a component's stored version with the version the code expects.
 *
 * @throws FlowproofError `SCHEMA_OUTDATED` or `SCHEMA_TOO_NEW`.
 */
export function assertVersionMatches(component: string, found: number, expected: number): void {
  if (found === expected) return;
  const details = { component, found, expected };
  if (found < expected) {
    throw new FlowproofError(
      'SCHEMA_OUTDATED',
      `The ${component} schema is at version ${found}, this code needs ${expected}: run migrate() first`,
      { details },
    );
  }
  throw new FlowproofError(
    'SCHEMA_TOO_NEW',
    `The ${component} schema is at version ${found}, newer than this code knows (${expected}); upgrade flowproof`,
    { details },
  );
}

/**
 * Wraps whatever a migration's `up` threw in `MIGRATION_FAILED`, with the original as `cause`.
 * Backends call it for errors from `up` only, never for their own bookkeeping (lock, version
 * table), whose codes stay as they are.
 *
 * Flowproof errors are wrapped too: passed through, a missing table inside a migration would read
 * as `SCHEMA_OUTDATED` ("run migrate()", from inside migrate()) and nothing would say which
 * migration failed. `details.causeCode` keeps the original code, so an outage
 * (`BACKEND_TIMEOUT`, `BACKEND_UNAVAILABLE`) is still recognisable.
 *
 * @param backend - the backend's kind for `details.backend`; by default, the `details.backend` of
 * a flowproof error that `up` threw.
 */
export function migrationFailed(
  component: string,
  version: number,
  error: unknown,
  backend?: string,
): FlowproofError {
  const causeCode = isFlowproofError(error) ? error.code : undefined;
  // Optional chaining: isFlowproofError also accepts a look-alike from another copy of the
  // library by its name and code, which may carry no details.
  const causeBackend = isFlowproofError(error)
    ? (error as { details?: Readonly<Record<string, unknown>> }).details?.backend
    : undefined;
  const backendName = backend ?? (typeof causeBackend === 'string' ? causeBackend : undefined);
  return new FlowproofError(
    'MIGRATION_FAILED',
    `Migration ${version} of ${component} failed: ${error instanceof Error ? error.message : String(error)}`,
    {
      cause: error,
      details: {
        component,
        version,
        ...(backendName === undefined ? {} : { backend: backendName }),
        ...(causeCode === undefined ? {} : { causeCode }),
      },
    },
  );
}
