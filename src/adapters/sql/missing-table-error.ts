import { FlowproofError } from '../../core/errors.js';

/**
 * `SCHEMA_OUTDATED` for a statement that found its table missing (PostgreSQL's 42P01 "relation
 * does not exist", SQLite's "no such table"): the store's `migrate()` was not run on this
 * database or schema. Mapped from the engine's error where it happens, so no call pays a round
 * trip for a version check.
 *
 * @internal
 */
export function missingTableError(
  engine: string,
  what: string,
  text: string,
  cause: unknown,
  details: Readonly<Record<string, unknown>>,
): FlowproofError {
  return new FlowproofError(
    'SCHEMA_OUTDATED',
    `${engine} ${what} failed: a table it needs does not exist (${text}). The store's migrate() has not been run on this database (or schema): run migrate() first`,
    { cause, details: { ...details, reason: 'table-missing' } },
  );
}
