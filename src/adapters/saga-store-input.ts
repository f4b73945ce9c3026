/**
 * Checks shared by every saga store on what it is asked to write, so memory, SQLite and
 * PostgreSQL answer a bad value the same way, before anything is written.
 *
 * @internal
 */
import { ACTIVE_SAGA_STATUSES, SAGA_STATUSES, type SagaStatus } from '../saga/saga-store.js';

/**
 * The saga log as JSON text. The log must be JSON data (plain objects, arrays, finite numbers,
 * strings, booleans, `null`): what `JSON.stringify` would drop or change silently (`undefined`,
 * `NaN`, `Infinity`, functions, class instances such as `Date`) is refused, as is what it cannot
 * encode at all (`BigInt`, cycles).
 *
 * @throws TypeError naming `name` and the first value that is not JSON data.
 */
export function sagaLogJson(log: unknown, name: string): string {
  try {
    return JSON.stringify(log, function check(this: unknown, key: string, value: unknown) {
      // `this[key]` is the value before a `toJSON()` (Date) turned it into a string.
      const raw = key === '' ? log : (this as Record<string, unknown>)[key];
      const at = key === '' ? name : `${name} (at key ${JSON.stringify(key)})`;
      if (isJsonData(raw)) return value;
      throw new TypeError(`${at} must be JSON data; got ${describeNonJson(raw)}`);
    });
  } catch (error) {
    if (error instanceof TypeError && error.message.startsWith(name)) throw error;
    // The engine's own refusal (BigInt, a cycle), worded as ours.
    throw new TypeError(`${name} must be JSON data (${(error as Error).message})`);
  }
}

function isJsonData(value: unknown): boolean {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return true;
    case 'number':
      return Number.isFinite(value);
    case 'object': {
      if (value === null || Array.isArray(value)) return true;
      const proto = Object.getPrototypeOf(value);
      return proto === Object.prototype || proto === null;
    }
    default:
      return false;
  }
}

function describeNonJson(value: unknown): string {
  if (typeof value === 'number') return String(value);
  if (typeof value === 'object' && value !== null) {
    return `an instance of ${(value as object).constructor?.name ?? 'a class'}`;
  }
  return typeof value;
}

/** @throws TypeError naming `name` when `status` is not a {@link SagaStatus}. */
export function assertSagaStatus(status: unknown, name: string): asserts status is SagaStatus {
  if (!SAGA_STATUSES.includes(status as SagaStatus)) {
    throw new TypeError(
      `${name} must be one of ${SAGA_STATUSES.join(', ')}; got ${String(status)}`,
    );
  }
}

/** @throws TypeError naming `name` when a status is unknown or active (purge never deletes those). */
export function assertPurgeStatuses(statuses: readonly SagaStatus[], name: string): void {
  for (const status of statuses) {
    assertSagaStatus(status, name);
    if (ACTIVE_SAGA_STATUSES.includes(status)) {
      throw new TypeError(
        `${name} must not include an active status (${status}): purge deletes finished sagas only`,
      );
    }
  }
}
