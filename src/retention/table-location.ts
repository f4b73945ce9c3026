/**
 * The data-map location of an application SQL table: a subject's rows deleted or anonymized in
 * batches through the table's {@link TableSweeper}, and counted to verify.
 */
import { describeValue } from '../core/errors.js';
import { assertInteger, readObject } from '../core/options.js';
import type { DataLocation } from './data-map.js';
import { checkSweptTable, type SweptTable } from './sweeper.js';

/** Options of {@link tableLocation}. */
export interface TableLocationOptions {
  /** The location's name in the data map. */
  readonly name: string;
  /** The tree's group. @default 'Primary Database' */
  readonly group?: string;
  /** The tree's label. @default '<table> table' */
  readonly label?: string;
  /** Delete the subject's rows, or set the table's `anonymize` columns on them. */
  readonly action: 'delete' | 'anonymize';
  /** Locations that must be done first. */
  readonly after?: readonly string[];
  /**
   * Rows per statement.
   * @default 1000
   */
  readonly batchSize?: number;
}

/**
 * A {@link DataLocation} for a registered SQL table: `erase` deletes (or anonymizes) the
 * subject's rows batch after batch until a batch comes back short and returns `{ affected }`;
 * `verify` counts what remains (for `anonymize`: rows of the subject not yet anonymized). The
 * subject is resolved as itself. Erasure is idempotent (a second run finds nothing).
 *
 * @throws TypeError naming a bad field: the table needs a `subject` column, and an `anonymize`
 *   action needs its `anonymize` columns.
 *
 * @example
 * ```ts
 * dataMap.add(tableLocation(
 *   { table: 'orders', dataType: 'order_history', timestamp: 'created_at', subject: 'user_id',
 *     anonymize: { email: null, name: 'anonymized' }, sweeper },
 *   { name: 'orders', action: 'anonymize' },
 * ));
 * ```
 */
export function tableLocation(table: SweptTable, options: TableLocationOptions): DataLocation {
  const t = checkSweptTable(table, 'table');
  const o = readObject(options, 'options', 'name group label action after batchSize');
  if (typeof o.name !== 'string' || o.name.length === 0) {
    throw new TypeError(`options.name must be a non-empty string, got ${describeValue(o.name)}`);
  }
  if (o.action !== 'delete' && o.action !== 'anonymize') {
    throw new TypeError(
      `options.action must be 'delete' or 'anonymize', got ${describeValue(o.action)}`,
    );
  }
  const action = o.action;
  if (t.subject === undefined) {
    throw new TypeError('table.subject must name the column of the data subject to erase by it');
  }
  if (action === 'anonymize' && t.anonymize === undefined) {
    throw new TypeError("table.anonymize must name the columns to anonymize (action 'anonymize')");
  }
  for (const key of ['group', 'label'] as const) {
    if (o[key] !== undefined && typeof o[key] !== 'string') {
      throw new TypeError(`options.${key} must be a string, got ${describeValue(o[key])}`);
    }
  }
  const batchSize = (o.batchSize as number | undefined) ?? 1000;
  assertInteger(batchSize, 'options.batchSize', 1, 100_000);
  const { sweeper } = t;
  const subjectsOf = (subject: string, identifiers: unknown): string[] =>
    Array.isArray(identifiers) && identifiers.every((x) => typeof x === 'string')
      ? identifiers
      : [subject];
  return {
    name: o.name,
    kind: 'sql-table',
    group: (o.group as string | undefined) ?? 'Primary Database',
    label: (o.label as string | undefined) ?? `${t.table} table`,
    dataType: t.dataType,
    action,
    ...(action === 'anonymize' ? { fields: Object.keys(t.anonymize ?? {}) } : {}),
    ...(o.after === undefined ? {} : { after: o.after as readonly string[] }),
    resolve: (subject) => [subject],
    erase: async ({ subject, identifiers, signal }) => {
      const subjects = subjectsOf(subject, identifiers);
      let affected = 0;
      for (;;) {
        signal.throwIfAborted();
        const request = { table: t, subjects, limit: batchSize };
        const count =
          action === 'delete'
            ? await sweeper.deleteBySubject(request)
            : await sweeper.anonymizeBySubject(request);
        affected += count;
        if (count < batchSize) return { affected };
      }
    },
    verify: ({ subject, identifiers }) =>
      sweeper.countBySubject({
        table: t,
        subjects: subjectsOf(subject, identifiers),
        unanonymizedOnly: action === 'anonymize',
      }),
  };
}
