/**
 * Batch and stream processing: a pipeline over an (async) iterable with bounded concurrency and
 * bounded memory, one outcome per item instead of one failure for the whole batch.
 */
import {
  assertInteger,
  assertKnownKeys,
  assertOptionsObject,
  assertSignal,
} from '../core/options.js';
import { isThenable, type PipelineResult, type PipelineRunner } from './pipeline-runner.js';

/** Options of `stream()` and `runBatch()`. */
export interface BatchOptions {
  /**
   * How many items run at once. Items are pulled from the source only when a slot is free.
   * @default 8
   */
  readonly concurrency?: number;
  /**
   * Stops pulling items and ends the iteration with the signal's reason; stage functions get it
   * as `context.signal`.
   * @default undefined
   */
  readonly signal?: AbortSignal;
}

/** Options of `runBatch()`. */
export interface BatchReportOptions extends BatchOptions {
  /**
   * Which outcomes the report keeps: `problems` (flagged, dead-lettered and rejected), `all`, or
   * `none` (counts only, constant memory).
   * @default 'problems'
   */
  readonly keep?: 'problems' | 'all' | 'none';
}

/** Where an outcome came from in the batch. */
export interface BatchItem<In> {
  /** Position of the item in the source, from 0. */
  readonly index: number;
  /** The item as the source gave it (not copied). */
  readonly input: In;
}

/** The outcome of one batch item: what `run()` returns for it, with its place in the source. */
export type BatchOutcome<In, Out> = BatchItem<In> & PipelineResult<Out>;

/** What `runBatch()` returns. */
export interface BatchReport<In, Out> {
  /** Items processed. */
  readonly total: number;
  /** Items every stage passed. */
  readonly valid: number;
  /** Items that passed thanks to a fallback and need review. */
  readonly flagged: number;
  /** Items handed to the dead-letter sink. */
  readonly deadLettered: number;
  /** Items a stage rejected. */
  readonly rejected: number;
  /** The outcomes kept (see `keep`), in source order. */
  readonly outcomes: readonly BatchOutcome<In, Out>[];
}

/** @internal The option keys of `stream()`. */
export const BATCH_OPTIONS: readonly string[] = ['concurrency', 'signal'];
const BATCH_REPORT_OPTIONS: readonly string[] = [...BATCH_OPTIONS, 'keep'];

/** @internal */
export interface CheckedBatchOptions {
  readonly concurrency: number;
  readonly signal: AbortSignal | undefined;
  readonly keep: 'problems' | 'all' | 'none';
}

/**
 * @internal Checks the source and options of a batch; `keep` is an option of `runBatch()` only.
 */
export function checkBatchOptions(
  source: unknown,
  options: BatchReportOptions,
  known: readonly string[] = BATCH_REPORT_OPTIONS,
): CheckedBatchOptions {
  // Iterable, but a batch of characters is surely a mistake (a file's contents, not its lines).
  if (typeof source === 'string') {
    throw new TypeError('source must be an iterable or async iterable of records, got a string');
  }
  const iterable = source as { [Symbol.iterator]?: unknown; [Symbol.asyncIterator]?: unknown };
  if (
    typeof iterable?.[Symbol.iterator] !== 'function' &&
    typeof iterable?.[Symbol.asyncIterator] !== 'function'
  ) {
    throw new TypeError('source must be an iterable or an async iterable');
  }
  assertOptionsObject(options, 'options');
  assertKnownKeys(options, known, 'options');
  const concurrency = options.concurrency ?? 8;
  assertInteger(concurrency, 'options.concurrency', 1, 100_000);
  assertSignal(options.signal);
  const keep = options.keep ?? 'problems';
  if (keep !== 'problems' && keep !== 'all' && keep !== 'none') {
    throw new TypeError("options.keep must be 'problems', 'all' or 'none'");
  }
  return { concurrency, signal: options.signal, keep };
}

type Settled = { readonly outcome: BatchOutcome<unknown, unknown> } | { readonly error: unknown };

/** @internal Yields one outcome per source item, as items complete. */
export async function* streamBatch(
  runner: PipelineRunner,
  source: Iterable<unknown> | AsyncIterable<unknown>,
  options: CheckedBatchOptions,
): AsyncGenerator<BatchOutcome<unknown, unknown>, void, undefined> {
  const { concurrency, signal } = options;
  // The same test as checkBatchOptions: an `asyncIterator` key alone does not make a source async.
  const iterator =
    typeof (source as { [Symbol.asyncIterator]?: unknown })[Symbol.asyncIterator] === 'function'
      ? (source as AsyncIterable<unknown>)[Symbol.asyncIterator]()
      : (source as Iterable<unknown>)[Symbol.iterator]();
  const ready: Settled[] = [];
  let inFlight = 0;
  let index = 0;
  // True once the source is done, failed, or closed: it is not closed (again) on the way out.
  let exhausted = false;
  // True while a next() the abort cut short is still unanswered: see the finally block.
  let stuck = false;
  let failed = false;
  let wake: (() => void) | undefined;
  let interruptPull: ((reason: unknown) => void) | undefined;
  const wakeUp = () => {
    const resume = wake;
    wake = undefined;
    resume?.();
  };
  const onAbort = () => {
    if (interruptPull !== undefined) {
      stuck = true;
      interruptPull(signal?.reason);
    }
    wakeUp();
  };
  const settle = (settled: Settled) => {
    inFlight -= 1;
    ready.push(settled);
    wakeUp();
  };
  /** The source's next item; on abort, the abort reason at once, even if the source never answers. */
  const pull = async (): Promise<IteratorResult<unknown>> => {
    try {
      const next = iterator.next();
      if (signal === undefined || !isThenable(next)) return await next;
      const pending = next;
      const result = await new Promise<IteratorResult<unknown>>((resolve, reject) => {
        interruptPull = reject;
        pending.then(resolve, reject);
      });
      // It answered just before the abort: the source is idle and can be closed as usual.
      stuck = false;
      return result;
    } catch (error) {
      // A source whose next() threw is done: closing it could only hide the error.
      if (!stuck) exhausted = true;
      throw error;
    } finally {
      interruptPull = undefined;
    }
  };
  signal?.addEventListener('abort', onAbort);
  try {
    while (true) {
      signal?.throwIfAborted();
      while (!exhausted && inFlight + ready.length < concurrency) {
        const next = await pull();
        signal?.throwIfAborted();
        if (next.done) {
          exhausted = true;
          break;
        }
        const outcome = runItem(runner, next.value, index++, signal);
        if (isThenable(outcome)) {
          inFlight += 1;
          outcome.then(
            (value) => settle({ outcome: value }),
            (error: unknown) => settle({ error }),
          );
        } else {
          ready.push({ outcome });
        }
      }
      const settled = ready.shift();
      if (settled === undefined) {
        if (inFlight === 0) return;
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
        continue;
      }
      if ('error' in settled) throw settled.error;
      yield settled.outcome;
    }
  } catch (error) {
    failed = true;
    throw error;
  } finally {
    signal?.removeEventListener('abort', onAbort);
    if (!exhausted) {
      exhausted = true;
      await closeSource(iterator, stuck, failed);
    }
  }
}

/**
 * Calls the source's return(), as for…of does. After an error, an error from return() is dropped
 * so the original one is reported. While a next() is unanswered, return() is called but not
 * awaited: an async generator suspended in an `await` queues it until it resumes, maybe never.
 */
async function closeSource(
  iterator: Iterator<unknown> | AsyncIterator<unknown>,
  stuck: boolean,
  failed: boolean,
): Promise<void> {
  if (!failed) {
    await iterator.return?.();
    return;
  }
  try {
    const closing = iterator.return?.();
    if (stuck) {
      if (isThenable(closing)) closing.then(undefined, () => {});
    } else {
      await closing;
    }
  } catch {
    // The error being thrown already says what went wrong.
  }
}

function runItem(
  runner: PipelineRunner,
  input: unknown,
  index: number,
  signal: AbortSignal | undefined,
): BatchOutcome<unknown, unknown> | PromiseLike<BatchOutcome<unknown, unknown>> {
  // Stage failures are results; what the runner throws (an abort) ends the batch.
  const result = runner.execute(input, signal, false);
  if (isThenable(result)) return result.then((value) => ({ index, input, ...value }));
  return { index, input, ...result };
}

/** @internal Consumes a stream into a report. */
export async function collectBatchReport(
  outcomes: AsyncIterable<BatchOutcome<unknown, unknown>>,
  keep: CheckedBatchOptions['keep'],
): Promise<BatchReport<unknown, unknown>> {
  const counts = { total: 0, valid: 0, flagged: 0, deadLettered: 0, rejected: 0 };
  const kept: BatchOutcome<unknown, unknown>[] = [];
  for await (const outcome of outcomes) {
    counts.total += 1;
    if (outcome.status === 'valid') counts.valid += 1;
    else if (outcome.status === 'flagged') counts.flagged += 1;
    else if (outcome.status === 'dead-lettered') counts.deadLettered += 1;
    else counts.rejected += 1;
    if (keep === 'all' || (keep === 'problems' && outcome.status !== 'valid')) kept.push(outcome);
  }
  kept.sort((a, b) => a.index - b.index);
  return { ...counts, outcomes: kept };
}
