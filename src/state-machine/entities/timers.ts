/**
 * Durable timers. A state's deadline is stored on the entity's row as an absolute UTC time computed
 * from the store clock when the state is entered, so it survives restarts. A sweeper lists the
 * overdue ones and fires each through the same compare-and-set as any other event: when several
 * sweepers (in several processes) race for one timer, exactly one write succeeds and the others
 * see a version conflict, which they skip.
 */
import { isFlowproofError } from '../../core/errors.js';
import { assertLogger, type Logger, logEvent, silentLogger } from '../../core/logger.js';
import { assertInteger, assertSignal, readObject } from '../../core/options.js';
import type { EventSchemas } from '../define-machine.js';
import { type Entities, storeNow, timerFirerOf } from './create-entities.js';

/** Options of {@link sweepTimers}. */
export interface SweepOptions {
  /**
   * At most this many due timers are fired by one sweep, earliest first.
   * @default 100
   */
  readonly limit?: number;
  /**
   * Logs failures (warn) and fired timers (debug).
   * @default silentLogger
   */
  readonly logger?: Logger;
}

/** What one sweep did. */
export interface SweepResult {
  /** Entities whose timer this sweep fired. */
  readonly fired: readonly string[];
  /**
   * Entities whose timer another writer fired or cleared first (a conflict, not a failure), or
   * whose deadline, set by an older machine version, the migrated state no longer has: the sweep
   * persisted the migration, which cleared it.
   */
  readonly skipped: readonly string[];
  /** Entities whose timer could not be fired, with the error; they are tried again next sweep. */
  readonly failed: readonly SweepFailure[];
}

/** A timer a sweep could not fire. */
export interface SweepFailure {
  /** The entity. */
  readonly entityId: string;
  /** What went wrong. */
  readonly error: unknown;
}

/** Options of {@link startTimerSweeper}. */
export interface TimerSweeperOptions extends SweepOptions {
  /**
   * Pause between sweeps, in milliseconds. A sweep that fired or skipped `limit` timers is
   * followed by another at once.
   * @default 1000
   */
  readonly intervalMs?: number;
  /** Stops the sweeper when aborted. */
  readonly signal?: AbortSignal;
}

/** A running sweeper. */
export interface TimerSweeper {
  /** Runs one sweep now (also while the loop waits); resolves with what it did. */
  sweep(): Promise<SweepResult>;
  /** Stops the loop and waits for a sweep in progress. Idempotent. */
  stop(): Promise<void>;
  /** Same as {@link TimerSweeper.stop}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * Fires the overdue timers of `entities` once: lists those due by the store clock, and applies
 * each timer's event with a compare-and-set on the version it was listed with. Safe to run from
 * several processes at once: each timer fires exactly once. The deadline of an entity an older
 * machine version wrote fires the migrated state's timer event (at the same due time), written
 * with the migration in one compare-and-set.
 *
 * @throws TypeError naming the option when an option is invalid or unknown (misspelled), or when the store clock gives no
 * valid `Date`; FlowproofError backend codes when the store cannot be read (failures of single
 * timers are reported in `failed`).
 * @example
 * ```ts
 * const { fired } = await sweepTimers(orders, { limit: 500 });
 * ```
 */
export async function sweepTimers<S extends string, ES extends EventSchemas, D, Fx extends string>(
  entities: Entities<S, ES, D, Fx>,
  options: SweepOptions = {},
): Promise<SweepResult> {
  const { limit, logger } = sweepOptions(options, SWEEP_KEYS);
  const fire = timerFirerOf(entities);
  const machineId = entities.machine.id;
  const now = await storeNow(entities.store);
  const due = await entities.store.dueTimers(machineId, now, limit);
  const fired: string[] = [];
  const skipped: string[] = [];
  const failed: SweepFailure[] = [];
  for (const timer of due) {
    const { entityId } = timer;
    try {
      if (await fire(timer, now)) fired.push(entityId);
      else skipped.push(entityId);
    } catch (error) {
      if (isFlowproofError(error, 'VERSION_CONFLICT')) skipped.push(entityId);
      else {
        failed.push({ entityId, error });
        logEvent(logger, 'warn', { machineId, entityId, err: error }, 'timer could not be fired');
      }
    }
  }
  if (fired.length > 0) {
    logEvent(logger, 'debug', { machineId, fired: fired.length }, 'timers fired');
  }
  return { fired, skipped, failed };
}

/**
 * Starts a loop that calls {@link sweepTimers} every `intervalMs` until stopped. Run one per
 * process (or several: they never fire a timer twice). A sweep that throws (store unavailable) is
 * logged and retried at the next interval.
 *
 * @throws TypeError naming the option when an option is invalid or unknown (misspelled).
 * @example
 * ```ts
 * await using sweeper = startTimerSweeper(orders, { intervalMs: 5_000, logger });
 * // …on shutdown: await sweeper.stop();
 * ```
 */
export function startTimerSweeper<S extends string, ES extends EventSchemas, D, Fx extends string>(
  entities: Entities<S, ES, D, Fx>,
  input: TimerSweeperOptions = {},
): TimerSweeper {
  const { limit, logger, options } = sweepOptions(input, `${SWEEP_KEYS} intervalMs signal`);
  assertSignal(options.signal);
  const intervalMs = options.intervalMs ?? 1000;
  assertInteger(intervalMs, 'options.intervalMs', 1, 86_400_000);
  timerFirerOf(entities);
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<SweepResult> | undefined;

  const sweep = (): Promise<SweepResult> => {
    running ??= sweepTimers(entities, { limit, logger }).finally(() => {
      running = undefined;
    });
    return running;
  };
  const loop = async () => {
    timer = undefined;
    if (stopped) return;
    let again = false;
    try {
      const result = await sweep();
      // Failures wait for the next interval; a full batch of progress is followed at once.
      again = result.fired.length + result.skipped.length >= limit;
    } catch (error) {
      logEvent(
        logger,
        'warn',
        { machineId: entities.machine.id, err: error },
        'timer sweep failed',
      );
    }
    if (!stopped) timer = setTimeout(loop, again ? 0 : intervalMs);
  };
  const stop = async () => {
    stopped = true;
    if (timer !== undefined) clearTimeout(timer);
    options.signal?.removeEventListener('abort', onAbort);
    await running?.catch(() => {});
  };
  const onAbort = () => void stop();
  if (options.signal?.aborted) stopped = true;
  else {
    options.signal?.addEventListener('abort', onAbort, { once: true });
    timer = setTimeout(loop, 0);
  }
  return { sweep, stop, [Symbol.asyncDispose]: stop };
}

/** The options of {@link sweepTimers}; {@link startTimerSweeper} takes two more. */
const SWEEP_KEYS = 'limit logger';

/**
 * The checked options every sweep takes, and a copy of all of them; any key outside `known`
 * (space-separated) is refused.
 */
function sweepOptions(
  input: TimerSweeperOptions,
  known: string,
): { limit: number; logger: Logger; options: TimerSweeperOptions } {
  const options = readObject(input, 'options', known) as TimerSweeperOptions;
  const limit = options.limit ?? 100;
  assertInteger(limit, 'options.limit', 1, 10_000);
  const logger = options.logger ?? silentLogger;
  assertLogger(logger, 'options.logger');
  return { limit, logger, options };
}
