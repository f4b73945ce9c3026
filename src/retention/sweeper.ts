/**
 * The retention sweeper: applies the policies to registered application tables in bounded keyset
 * batches (anonymize, then delete), leaving held data alone, and purges flowproof's own data
 * through each module's cleanup.
 */
import { describeValue } from '../core/errors.js';
import { type Logger, logEvent, silentLogger } from '../core/logger.js';
import {
  assertFunction,
  assertInteger,
  assertSignal,
  assertSqlIdentifier,
  readObject,
} from '../core/options.js';
import {
  isRetentionDuration,
  parseRetentionDuration,
  type RetentionDuration,
  retentionCutoff,
} from './retention-durations.js';
import type { RetentionPolicies } from './retention-policies.js';
import type { LegalHoldRow } from './retention-store.js';
import type { SweepKey, SweptTableColumns, TableSweeper } from './table-sweeper.js';

/** An application table the sweeper applies a policy to. */
export interface SweptTable extends SweptTableColumns {
  /** The policy data type. */
  readonly dataType: string;
  /** Where the SQL runs (`createPostgresTableSweeper`, `createSqliteTableSweeper`). */
  readonly sweeper: TableSweeper;
}

/** One kind of flowproof's own data, purged by its module's cleanup. See {@link ownData}. */
export interface OwnDataPurge {
  /** Its name in the report (`idempotency`, `sagas`, `outbox`, `lineage`). */
  readonly name: string;
  /** Purges what is due; resolves with how many records went. */
  purge(options: { readonly signal?: AbortSignal }): Promise<number>;
}

/** Progress after each batch. */
export interface SweepProgress {
  /** The table. */
  readonly table: string;
  /** Rows deleted from it so far. */
  readonly deleted: number;
  /** Rows anonymized in it so far. */
  readonly anonymized: number;
  /** Batches run on it so far. */
  readonly batches: number;
}

/** Options of a sweep. */
export interface SweepOptions {
  /** Stops between batches (never inside a statement); the report then says `aborted`. */
  readonly signal?: AbortSignal;
  /** Called after each batch. */
  readonly onProgress?: (progress: SweepProgress) => void;
  /**
   * Count what is due, write nothing (own data is not purged: `purged` is `null`).
   * @default false
   */
  readonly dryRun?: boolean;
  /**
   * Rows per batch (one statement, one short transaction).
   * @default 1000
   */
  readonly batchSize?: number;
}

/** What a sweep did to one table. */
export interface SweepTableReport {
  /** The table. */
  readonly table: string;
  /** Its data type. */
  readonly dataType: string;
  /** Rows with a time at or before this were due for deletion (ISO-8601), or `null` (never). */
  readonly deleteCutoff: string | null;
  /** Rows with a time at or before this were due for anonymization, or `null`. */
  readonly anonymizeCutoff: string | null;
  /** Rows deleted. */
  readonly deleted: number;
  /** Rows anonymized. */
  readonly anonymized: number;
  /** Dry run: what would go. */
  readonly due?: {
    /** Rows a sweep would delete. */
    readonly delete: number;
    /** Rows a sweep would anonymize. */
    readonly anonymize: number;
  };
  /** `'type'` when a hold on the data type skipped the table, else how many held subjects were excluded. */
  readonly held: 'type' | number;
  /** Batches run. */
  readonly batches: number;
  /** The longest batch, in milliseconds (the longest any lock was held). */
  readonly maxBatchMs: number;
}

/** What a sweep did. */
export interface SweepReport {
  /** Whether it only counted. */
  readonly dryRun: boolean;
  /** Whether the signal stopped it before the end. */
  readonly aborted: boolean;
  /** When it started (ISO-8601, the host's clock: the cutoffs come from each database's clock). */
  readonly startedAt: string;
  /** When it finished. */
  readonly finishedAt: string;
  /** One entry per table, in registration order (tables not reached after an abort are absent). */
  readonly tables: readonly SweepTableReport[];
  /** flowproof's own data: records purged, `null` in a dry run or when not reached. */
  readonly own: readonly {
    /** The module (`sagas`, `outbox`…). */
    readonly name: string;
    /** Records purged; `null` in a dry run or when not reached. */
    readonly purged: number | null;
  }[];
}

/** What {@link sweepTables} needs. */
export interface SweepConfig {
  /** The policies (every table's data type must have one). */
  readonly policies: RetentionPolicies;
  /** Every active legal hold (all of them: a hold left out could let its rows be deleted). */
  readonly holds: () => Promise<readonly LegalHoldRow[]>;
  /** The tables. */
  readonly tables: readonly SweptTable[];
  /** flowproof's own data. */
  readonly own: readonly OwnDataPurge[];
  /** Where table results are logged. */
  readonly logger?: Logger;
}

/**
 * Checks a table registration and returns a frozen copy.
 *
 * @throws TypeError naming the field (`${name}.timestamp must be …`).
 */
export function checkSweptTable(value: unknown, name: string): SweptTable {
  const o = readObject(
    value,
    name,
    'table dataType key timestamp timeType subject anonymize sweeper',
  );
  if (typeof o.table !== 'string') {
    throw new TypeError(`${name}.table must be a string, got ${describeValue(o.table)}`);
  }
  const parts = o.table.split('.');
  if (parts.length > 2) {
    throw new TypeError(`${name}.table must be a table name or schema.table, got "${o.table}"`);
  }
  for (const part of parts) assertSqlIdentifier(part, `${name}.table`);
  if (typeof o.dataType !== 'string' || o.dataType.length === 0) {
    throw new TypeError(
      `${name}.dataType must be a non-empty string, got ${describeValue(o.dataType)}`,
    );
  }
  if (o.key !== undefined) assertSqlIdentifier(o.key, `${name}.key`);
  assertSqlIdentifier(o.timestamp, `${name}.timestamp`);
  if (o.timeType !== undefined && o.timeType !== 'timestamp' && o.timeType !== 'epoch-ms') {
    throw new TypeError(
      `${name}.timeType must be 'timestamp' or 'epoch-ms', got ${describeValue(o.timeType)}`,
    );
  }
  if (o.subject !== undefined) assertSqlIdentifier(o.subject, `${name}.subject`);
  let anonymize: Record<string, string | number | null> | undefined;
  if (o.anonymize !== undefined) {
    const a = readObject(o.anonymize, `${name}.anonymize`);
    const entries = Object.entries(a);
    if (entries.length === 0) {
      throw new TypeError(`${name}.anonymize must name at least one column`);
    }
    anonymize = Object.create(null) as Record<string, string | number | null>;
    for (const [column, replacement] of entries) {
      assertSqlIdentifier(column, `${name}.anonymize key`);
      if (
        replacement !== null &&
        typeof replacement !== 'string' &&
        !(typeof replacement === 'number' && Number.isFinite(replacement))
      ) {
        throw new TypeError(
          `${name}.anonymize.${column} must be a string, a finite number or null, got ${describeValue(replacement)}`,
        );
      }
      if (column === (o.key ?? 'id') || column === o.timestamp || column === o.subject) {
        throw new TypeError(
          `${name}.anonymize.${column} must not be the key, timestamp or subject column`,
        );
      }
      anonymize[column] = replacement;
    }
    Object.freeze(anonymize);
  }
  const sweeper = o.sweeper as Partial<TableSweeper> | undefined;
  for (const method of [
    'deleteBatch',
    'anonymizeBatch',
    'countDue',
    'deleteBySubject',
    'anonymizeBySubject',
    'countBySubject',
    'now',
  ] as const) {
    if (typeof sweeper?.[method] !== 'function') {
      throw new TypeError(
        `${name}.sweeper must be a TableSweeper (createPostgresTableSweeper / createSqliteTableSweeper), got ${describeValue(sweeper)}`,
      );
    }
  }
  return Object.freeze({
    table: o.table,
    dataType: o.dataType,
    ...(o.key === undefined ? {} : { key: o.key as string }),
    timestamp: o.timestamp as string,
    ...(o.timeType === undefined ? {} : { timeType: o.timeType as 'timestamp' | 'epoch-ms' }),
    ...(o.subject === undefined ? {} : { subject: o.subject as string }),
    ...(anonymize === undefined ? {} : { anonymize }),
    sweeper: sweeper as TableSweeper,
  });
}

/** The plan of one table, checked before any statement runs. */
interface TablePlan {
  readonly table: SweptTable;
  readonly anonymizes: boolean;
}

/**
 * Sweeps `config.tables` per their policies, then purges `config.own`. Per table, in order:
 * - a hold on its data type (subject `null`) skips it (`held: 'type'`);
 * - holds on a subject (any data type, or this one) exclude that subject's rows; a table without
 *   a `subject` column cannot tell whose rows are whose, so subject holds do not reach it
 *   (register the subject column of every table that holds personal data);
 * - the anonymize pass (rows due for anonymization and not yet anonymized), then the delete pass,
 *   each in keyset batches of `batchSize`, each batch one statement;
 * - the cutoffs come from the table's database clock (`sweeper.now()`).
 *
 * @throws TypeError naming `options.*`, `tables[i].dataType` when the policies have no policy
 *   for it, and `tables[i].anonymize` when the policy anonymizes but the table names no columns
 *   (both checked before anything runs).
 * @throws FlowproofError `BACKEND_*` / `SCHEMA_OUTDATED` from a table's statements.
 * @internal Used by `createRetention().sweep()`.
 */
export async function sweepTables(
  config: SweepConfig,
  options: SweepOptions = {},
): Promise<SweepReport> {
  const o = readObject(options, 'options', 'signal onProgress dryRun batchSize');
  const signal = o.signal as AbortSignal | undefined;
  assertSignal(signal);
  const onProgress = o.onProgress as SweepOptions['onProgress'];
  if (onProgress !== undefined) assertFunction(onProgress, 'options.onProgress');
  if (o.dryRun !== undefined && typeof o.dryRun !== 'boolean') {
    throw new TypeError(`options.dryRun must be a boolean, got ${describeValue(o.dryRun)}`);
  }
  const dryRun = (o.dryRun as boolean | undefined) ?? false;
  const batchSize = (o.batchSize as number | undefined) ?? 1000;
  assertInteger(batchSize, 'options.batchSize', 1, 100_000);
  const { policies, tables, own } = config;
  const logger = config.logger ?? silentLogger;

  const plans: TablePlan[] = tables.map((table, i) => {
    const policy = policies.get(table.dataType);
    if (policy === undefined) {
      throw new TypeError(
        `tables[${i}].dataType "${table.dataType}" has no retention policy (policies cover: ${policies.dataTypes.join(', ')})`,
      );
    }
    const anonymizes = policy.anonymizeAfter !== undefined;
    if (anonymizes && table.anonymize === undefined) {
      throw new TypeError(
        `tables[${i}].anonymize must name the columns to anonymize: the policy of "${table.dataType}" anonymizes after ${policy.anonymizeAfter?.text}`,
      );
    }
    return { table, anonymizes };
  });

  const startedAt = new Date().toISOString();
  const reports: SweepTableReport[] = [];
  let aborted = false;
  const holds = plans.length === 0 ? [] : await config.holds();

  for (const { table, anonymizes } of plans) {
    if (signal?.aborted) {
      aborted = true;
      break;
    }
    const typeHeld = holds.some((h) => h.subject === null && h.dataType === table.dataType);
    const excluded =
      table.subject === undefined
        ? []
        : [
            ...new Set(
              holds
                .filter(
                  (h) =>
                    h.subject !== null && (h.dataType === null || h.dataType === table.dataType),
                )
                .map((h) => h.subject as string),
            ),
          ];
    const now = await table.sweeper.now();
    const deleteCutoff = policies.deleteCutoff(table.dataType, now);
    const anonymizeCutoff = anonymizes ? policies.anonymizeCutoff(table.dataType, now) : undefined;
    const base = {
      table: table.table,
      dataType: table.dataType,
      deleteCutoff: deleteCutoff?.toISOString() ?? null,
      anonymizeCutoff: anonymizeCutoff?.toISOString() ?? null,
    };
    if (typeHeld) {
      reports.push({ ...base, deleted: 0, anonymized: 0, held: 'type', batches: 0, maxBatchMs: 0 });
      continue;
    }
    if (dryRun) {
      const count = (cutoff: Date | undefined, anonymize: boolean) =>
        cutoff === undefined
          ? 0
          : table.sweeper.countDue({ table, cutoff, excludeSubjects: excluded, anonymize });
      reports.push({
        ...base,
        deleted: 0,
        anonymized: 0,
        due: {
          delete: await count(deleteCutoff, false),
          anonymize: await count(anonymizeCutoff, true),
        },
        held: excluded.length,
        batches: 0,
        maxBatchMs: 0,
      });
      continue;
    }
    let deleted = 0;
    let anonymized = 0;
    let batches = 0;
    let maxBatchMs = 0;
    /** Runs one pass to its end (a short batch) or the signal; returns rows touched. */
    const pass = async (
      cutoff: Date,
      run: TableSweeper['deleteBatch'],
      counted: (n: number) => void,
    ): Promise<void> => {
      let afterKey: SweepKey | null = null;
      for (;;) {
        if (signal?.aborted) {
          aborted = true;
          return;
        }
        const started = performance.now();
        const { count, lastKey } = await run({
          table,
          cutoff,
          afterKey,
          limit: batchSize,
          excludeSubjects: excluded,
        });
        maxBatchMs = Math.max(maxBatchMs, performance.now() - started);
        batches++;
        counted(count);
        onProgress?.({ table: table.table, deleted, anonymized, batches });
        if (count < batchSize || lastKey === null) return;
        afterKey = lastKey;
      }
    };
    if (anonymizeCutoff !== undefined) {
      await pass(
        anonymizeCutoff,
        (r) => table.sweeper.anonymizeBatch(r),
        (n) => {
          anonymized += n;
        },
      );
    }
    if (deleteCutoff !== undefined && !aborted) {
      await pass(
        deleteCutoff,
        (r) => table.sweeper.deleteBatch(r),
        (n) => {
          deleted += n;
        },
      );
    }
    const report = {
      ...base,
      deleted,
      anonymized,
      held: excluded.length,
      batches,
      maxBatchMs: Math.round(maxBatchMs * 100) / 100,
    };
    reports.push(report);
    logEvent(
      logger,
      'info',
      { event: 'retention.swept', ...report, aborted },
      'retention sweep of a table finished',
    );
  }

  const ownReport: { name: string; purged: number | null }[] = [];
  for (const purge of own) {
    if (dryRun || aborted || signal?.aborted) {
      aborted ||= signal?.aborted === true;
      ownReport.push({ name: purge.name, purged: null });
      continue;
    }
    ownReport.push({
      name: purge.name,
      purged: countOf(
        await purge.purge(signal === undefined ? {} : { signal }),
        `${purge.name}.purge()`,
      ),
    });
  }
  return Object.freeze({
    dryRun,
    aborted,
    startedAt,
    finishedAt: new Date().toISOString(),
    tables: Object.freeze(reports.map((r) => Object.freeze(r))),
    own: Object.freeze(ownReport.map((r) => Object.freeze(r))),
  });
}

/** An age as milliseconds before now, from a calendar duration (months counted from today). */
function ageMs(olderThan: unknown, name: string): () => number {
  let duration: RetentionDuration;
  if (typeof olderThan === 'string') duration = parseRetentionDuration(olderThan, name);
  else if (isRetentionDuration(olderThan)) duration = olderThan;
  else {
    throw new TypeError(
      `${name} must be a duration ("30 days", "P30D") or a RetentionDuration, got ${describeValue(olderThan)}`,
    );
  }
  return () => {
    const now = Date.now();
    return Math.max(0, now - retentionCutoff(now, duration).getTime());
  };
}

function assertHas(value: unknown, method: string, name: string): void {
  if (
    (typeof value !== 'object' && typeof value !== 'function') ||
    value === null ||
    typeof (value as Record<string, unknown>)[method] !== 'function'
  ) {
    throw new TypeError(`${name} must have a ${method}() method, got ${describeValue(value)}`);
  }
}

/**
 * A module's answer, checked: a purge loop stops on a short batch, so a count that is not a
 * number would never stop it.
 */
function countOf(value: unknown, what: string): number {
  if (!Number.isSafeInteger(value) || (value as number) < 0) {
    throw new TypeError(
      `${what} must resolve to a count (an integer ≥ 0), got ${describeValue(value)}`,
    );
  }
  return value as number;
}

/** The batch size the own-data purges use. */
const OWN_BATCH = 1000;

/**
 * Adapters over each module's own cleanup, for `createRetention({ ownData: [...] })`. Each takes
 * the module's object structurally. Ages given as calendar durations are turned into
 * milliseconds at purge time (a month is as long as the months before today); each module
 * measures them on its own store's clock.
 *
 * @example
 * ```ts
 * ownData: [
 *   ownData.idempotency(idempotency),
 *   ownData.sagas(sagas, { olderThan: '30 days' }),
 *   ownData.outbox(outbox, { olderThan: '7 days' }),
 *   ownData.lineage(lineage, { olderThan: '1 year' }),
 * ]
 * ```
 */
export const ownData = Object.freeze({
  /**
   * Idempotency records past their expiry (`idempotency.cleanup()`, up to `maxBatches` batches).
   *
   * @throws TypeError naming a bad argument.
   */
  idempotency(
    idempotency: {
      cleanup(options?: {
        readonly batchSize?: number;
        readonly maxBatches?: number;
      }): Promise<number>;
    },
    options: {
      /** Records per batch. @default 500 */
      readonly batchSize?: number;
      /** Most batches per sweep. @default 100 */
      readonly maxBatches?: number;
    } = {},
  ): OwnDataPurge {
    assertHas(idempotency, 'cleanup', 'idempotency');
    const o = readObject(options, 'options', 'batchSize maxBatches');
    if (o.batchSize !== undefined) assertInteger(o.batchSize, 'options.batchSize', 1);
    if (o.maxBatches !== undefined) assertInteger(o.maxBatches, 'options.maxBatches', 1);
    const cleanup = { ...o } as { batchSize?: number; maxBatches?: number };
    return Object.freeze({
      name: 'idempotency',
      purge: async () => countOf(await idempotency.cleanup(cleanup), 'idempotency.cleanup()'),
    });
  },
  /**
   * Finished sagas older than `olderThan` (`sagas.purge()`, batch after batch).
   *
   * @throws TypeError naming a bad argument.
   */
  sagas(
    sagas: {
      purge(options: { readonly olderThanMs: number; readonly limit?: number }): Promise<number>;
    },
    options: { readonly olderThan: string | RetentionDuration },
  ): OwnDataPurge {
    assertHas(sagas, 'purge', 'sagas');
    const o = readObject(options, 'options', 'olderThan');
    const age = ageMs(o.olderThan, 'options.olderThan');
    return Object.freeze({
      name: 'sagas',
      async purge({ signal }: { readonly signal?: AbortSignal }) {
        const olderThanMs = age();
        let total = 0;
        for (;;) {
          if (signal?.aborted) return total;
          const count = countOf(
            await sagas.purge({ olderThanMs, limit: OWN_BATCH }),
            'sagas.purge()',
          );
          total += count;
          if (count < OWN_BATCH) return total;
        }
      },
    });
  },
  /**
   * Published outbox messages older than `olderThan`, and dead letters older than
   * `deadLetteredOlderThan` when given (`outbox.purge()`).
   *
   * @throws TypeError naming a bad argument.
   */
  outbox(
    outbox: {
      purge(options?: {
        readonly publishedOlderThanMs?: number;
        readonly deadLetteredOlderThanMs?: number;
        readonly batchSize?: number;
      }): Promise<{ readonly published: number; readonly deadLettered: number }>;
    },
    options: {
      readonly olderThan: string | RetentionDuration;
      /** Dead letters too (kept by default: someone should look at them). */
      readonly deadLetteredOlderThan?: string | RetentionDuration;
    },
  ): OwnDataPurge {
    assertHas(outbox, 'purge', 'outbox');
    const o = readObject(options, 'options', 'olderThan deadLetteredOlderThan');
    const published = ageMs(o.olderThan, 'options.olderThan');
    const dead =
      o.deadLetteredOlderThan === undefined
        ? undefined
        : ageMs(o.deadLetteredOlderThan, 'options.deadLetteredOlderThan');
    return Object.freeze({
      name: 'outbox',
      async purge() {
        const result = await outbox.purge({
          publishedOlderThanMs: published(),
          ...(dead === undefined ? {} : { deadLetteredOlderThanMs: dead() }),
          batchSize: OWN_BATCH,
        });
        return (
          countOf(result?.published, 'outbox.purge().published') +
          countOf(result?.deadLettered, 'outbox.purge().deadLettered')
        );
      },
    });
  },
  /**
   * Lineage records older than `olderThan` (`lineage.purge()`, stopping with the signal).
   *
   * @throws TypeError naming a bad argument.
   */
  lineage(
    lineage: {
      purge(options: {
        readonly olderThanMs?: number;
        readonly batchSize?: number;
        readonly signal?: AbortSignal;
      }): Promise<{ readonly deleted: number }>;
    },
    options: { readonly olderThan: string | RetentionDuration },
  ): OwnDataPurge {
    assertHas(lineage, 'purge', 'lineage');
    const o = readObject(options, 'options', 'olderThan');
    const age = ageMs(o.olderThan, 'options.olderThan');
    return Object.freeze({
      name: 'lineage',
      async purge({ signal }: { readonly signal?: AbortSignal }) {
        const report = await lineage.purge({
          olderThanMs: age(),
          batchSize: OWN_BATCH,
          ...(signal === undefined ? {} : { signal }),
        });
        return countOf(report?.deleted, 'lineage.purge().deleted');
      },
    });
  },
});
