/**
 * One saga driven by the runner that holds its lease: steps forward, compensations backward, each
 * persistence point one fenced write. The write that records a step's result also records the
 * next step's intent (a whole parallel group's at once), and nothing is read while the lease is
 * held: the runner's copy of the log is the truth until a write is refused, which means another
 * runner took the saga over and this one stops at once.
 */

import pRetry from 'p-retry';
import { sleep } from '../core/async.js';
import { restoreContext, runWithContext } from '../core/context.js';
import { errorRecord } from '../core/error-record.js';
import { FlowproofError } from '../core/errors.js';
import { type Logger, logEvent } from '../core/logger.js';
import {
  DEFAULT_COMPENSATION_RETRY,
  DEFAULT_STEP_RETRY,
  isRetryable,
  NonRetryableError,
  type ResolvedRetryPolicy,
  resolveRetryPolicy,
  retryDelay,
} from '../core/retry-policy.js';
import { parseWithSchema } from '../core/standard-schema.js';
import { isTracingEnabled, withSpan } from '../core/tracing.js';
import {
  groupSteps,
  type SagaDefinition,
  type SagaStepDefinition,
  type SagaTransaction,
  type StepOutcome,
} from './define-saga.js';
import {
  type AttemptRecord,
  type CompensationRecord,
  type SagaFailureRecord,
  type SagaLog,
  type StepRecord,
  toLogValue,
} from './saga-log.js';
import {
  ACTIVE_SAGA_STATUSES,
  type SagaLease,
  type SagaStatus,
  type SagaStore,
  type SagaUpdate,
  type StoredSaga,
} from './saga-store.js';

/** What a run needs from the engine that owns it. */
export interface SagaRunHost {
  readonly store: SagaStore;
  readonly logger: Logger;
  readonly leaseMs: number;
  /** Waits at least this long release the saga instead of holding it. */
  readonly holdLimitMs: number;
  /** Called when the run released the saga to be resumed `delayMs` later. */
  wakeLater(id: string, delayMs: number): void;
  /** True once the engine is closing: runs stop at the next persistence point. */
  readonly closing: boolean;
}

/** Thrown inside a run when its write was refused: another runner holds the saga now. */
class LeaseLost extends Error {
  constructor() {
    super('the saga was taken over by another runner');
    this.name = 'LeaseLost';
  }
}

/** Thrown inside a run once it released the saga for a durable wait or a shutdown. */
class Released extends Error {
  constructor() {
    super('the saga was released');
    this.name = 'Released';
  }
}

/** Thrown inside a run when a write failed: the run stops (a store failure is not a step failure). */
class StoreFailed extends Error {
  constructor(cause: unknown) {
    super('a saga write failed', { cause });
    this.name = 'StoreFailed';
  }
}

/** Errors that stop a run rather than fail an attempt. */
const isStop = (error: unknown) =>
  error instanceof LeaseLost || error instanceof Released || error instanceof StoreFailed;

/** The idempotency key of a step's effect or of its compensation. */
export function stepIdempotencyKey(
  name: string,
  sagaId: string,
  step: string,
  phase: 'run' | 'compensate',
): string {
  return phase === 'run' ? `${name}/${sagaId}/${step}` : `${name}/${sagaId}/${step}/compensate`;
}

const isOpen = (attempt: AttemptRecord | undefined) =>
  attempt !== undefined && attempt.endedAt === undefined;

/** Runs `fn` in the flow context `saga` was started in (as it is when it had none). */
export function inSagaContext<T>(saga: StoredSaga, fn: () => T): T {
  const context = (saga.log as SagaLog).context;
  return context
    ? runWithContext(restoreContext(context, { trustIdentity: true, baggage: true }), fn)
    : fn();
}

/** A claimed saga and the definition it runs under. */
export class SagaRun {
  readonly id: string;
  readonly #host: SagaRunHost;
  readonly #definition: SagaDefinition<unknown, Record<string, unknown>>;
  readonly #stored: StoredSaga;
  readonly #lease: SagaLease;
  readonly #log: SagaLog;
  #status: SagaStatus;
  /** Aborted when the lease is lost (or the engine gives up waiting at close). */
  readonly #lost = new AbortController();
  #writes: Promise<unknown> = Promise.resolve();
  #heartbeat: ReturnType<typeof setInterval> | undefined;
  /** Fires when the lease may have ended without a renewal (see `#leaseRenewed`). */
  #expiry: ReturnType<typeof setTimeout> | undefined;
  #leaseValidUntil = 0;
  /** Set once a write of a finished (or dead-lettered) saga was issued: nothing follows it. */
  #finalWrite = false;
  /** Steps (or the compensation) in flight, for the release rule of long waits. */
  #inFlight = 0;
  /** The first write that failed: the run stops there. */
  #storeFailed: StoreFailed | undefined;

  /** True when this runner created the saga: its open intents are its own, not a dead runner's. */
  readonly #created: boolean;
  /** When the request that leased the saga was sent (`performance.now()`): the lease runs from no earlier. */
  readonly #leasedAt: number;

  constructor(
    host: SagaRunHost,
    definition: SagaDefinition<unknown, Record<string, unknown>>,
    stored: StoredSaga,
    lease: SagaLease,
    created = false,
    leasedAt = performance.now(),
  ) {
    this.#created = created;
    this.#leasedAt = leasedAt;
    this.id = stored.id;
    this.#host = host;
    this.#definition = definition;
    this.#stored = stored;
    this.#lease = lease;
    this.#log = structuredClone(stored.log) as SagaLog;
    this.#status = stored.status;
  }

  /** Stops the run without another write (the engine is closing and gave up waiting). */
  abandon(): void {
    this.#lost.abort(new LeaseLost());
  }

  /**
   * Drives the saga until it finishes, is released, or is lost. Never rejects: a store failure
   * ends the run (the lease runs out and a runner resumes the saga from its last write).
   */
  drive(): Promise<void> {
    // Steps, compensations and events see the saga's flow context, whichever engine runs it.
    return inSagaContext(this.#stored, () => this.#drive());
  }

  async #drive(): Promise<void> {
    const interval = Math.max(50, Math.floor(this.#host.leaseMs / 3));
    this.#heartbeat = setInterval(() => void this.#renewLease(), interval);
    this.#heartbeat.unref?.();
    this.#leaseRenewed(this.#leasedAt);
    try {
      if (!this.#created) this.#recover();
      if (!(await this.#checkDefinition())) return;
      if (this.#status === 'running') await this.#forward();
      if (this.#status === 'compensating') await this.#backward();
    } catch (error) {
      if (error instanceof LeaseLost || this.#lost.signal.aborted) {
        this.#event(
          'warn',
          'saga.lease_lost',
          {},
          'saga taken over by another runner; stopped here',
        );
      } else if (!(error instanceof Released)) {
        this.#event(
          'error',
          'saga.run_interrupted',
          { error: errorRecord(error instanceof StoreFailed ? error.cause : error) },
          'saga run interrupted; another runner resumes it when its lease ends',
        );
      }
    } finally {
      clearInterval(this.#heartbeat);
      clearTimeout(this.#expiry);
    }
  }

  /** Redrive: a fresh retry budget for what dead-lettered the saga, then it runs again. */
  prepareRedrive(): void {
    const log = this.#log;
    const error = log.error;
    log.redrives += 1;
    delete log.error;
    if (this.#definition.timeoutMs !== undefined) {
      log.deadlineAt = Date.now() + this.#definition.timeoutMs;
    }
    if (this.#status === 'compensation_failed') {
      for (const record of log.steps) {
        const compensation = record.compensation;
        if (compensation && compensation.status === 'failed') {
          compensation.status = 'pending';
          compensation.budgetFrom = compensation.attempts.length;
        }
      }
      this.#status = 'compensating';
      return;
    }
    const failed = log.steps.find(
      (record) => record.step === error?.step && record.status === 'failed',
    );
    if (failed) {
      failed.status = 'pending';
      failed.budgetFrom = failed.attempts.length;
    }
    this.#status = 'running';
  }

  // ---- recovery and deploys ------------------------------------------------------------------

  /** Attempts a dead runner left open: their outcome is unknown (or nothing, in a transaction). */
  #recover(): void {
    const now = Date.now();
    for (const record of this.#log.steps) {
      const attempt = record.attempts.at(-1);
      if (isOpen(attempt) && record.status !== 'pending') {
        const step = this.#definition.steps[record.index];
        // A transactional step's effect commits with its record: an open attempt rolled back.
        const outcome: StepOutcome = step?.options.transactional ? 'failed' : 'unknown';
        close(attempt!, now, outcome, {
          name: 'FlowproofError',
          message: 'the runner stopped before the outcome was recorded',
          code: 'SAGA_RUNNER_LOST',
        });
      }
      const compensation = record.compensation;
      const last = compensation?.attempts.at(-1);
      if (isOpen(last) && compensation?.status !== 'pending') {
        close(last!, now, 'unknown', {
          name: 'FlowproofError',
          message: 'the runner stopped before the outcome was recorded',
          code: 'SAGA_RUNNER_LOST',
        });
      }
    }
  }

  /**
   * Each recorded step must still be the same step at the same place. A rename, a move or a
   * change of meaning stops the saga in the dead-letter queue instead of re-running the wrong
   * step or stranding the saga.
   */
  async #checkDefinition(): Promise<boolean> {
    const steps = this.#definition.steps;
    for (const record of this.#log.steps) {
      const step = steps[record.index];
      const reason =
        step === undefined
          ? 'removed'
          : step.name !== record.step
            ? steps.some((s) => s.name === record.step)
              ? 'moved'
              : 'renamed'
            : step.hash !== record.hash
              ? 'changed'
              : undefined;
      if (reason === undefined) continue;
      const error = new FlowproofError(
        'SAGA_DEFINITION_MISMATCH',
        `saga ${JSON.stringify(this.#stored.name)} ${JSON.stringify(this.id)} recorded step ${JSON.stringify(record.step)} at position ${record.index}, which the definition (version ${this.#definition.version}) ${describeMismatch(reason, step)}; register the version it started with, or redrive it after deploying a compatible definition`,
        {
          details: {
            sagaId: this.id,
            name: this.#stored.name,
            version: this.#definition.version,
            step: record.step,
            index: record.index,
            reason,
          },
        },
      );
      await this.#deadLetter({ ...errorRecord(error), step: record.step }, 'failed');
      return false;
    }
    return true;
  }

  // ---- forward ------------------------------------------------------------------------------

  async #forward(): Promise<void> {
    const groups = groupSteps(this.#definition.steps);
    for (const group of groups) {
      const pending = group.filter((step) => this.#record(step)?.status !== 'completed');
      if (pending.length === 0) continue;
      if (this.#deadlinePassed()) return this.#startCompensation(sagaTimeout(this));
      await this.#stopIfClosing();
      // Intents not written yet (first group after a claim, a redriven step) are written now.
      if (this.#openIntents(pending)) await this.#persist();
      const failure = await this.#runGroup(pending, groups);
      if (failure) {
        const { step, error } = failure;
        const record: SagaFailureRecord = { ...errorRecord(error), step: step.name, phase: 'run' };
        if (step.options.onFailure === 'dead-letter' && !isSagaTimeout(error)) {
          const failed = this.#record(step)!;
          failed.status = 'failed';
          delete failed.retryAt;
          return this.#deadLetter(record, 'failed');
        }
        return this.#startCompensation(record);
      }
    }
    // The last step's write recorded the completion; a saga resumed past its last step has not.
    if (this.#status !== 'completed') {
      this.#status = 'completed';
      await this.#persist({ release: true });
    }
    this.#event('info', 'saga.completed', {}, 'saga completed');
  }

  /** Opens an attempt (the intent) for each step without an open one; true if any was opened. */
  #openIntents(steps: readonly SagaStepDefinition[]): boolean {
    let opened = false;
    const now = Date.now();
    for (const step of steps) {
      let record = this.#record(step);
      if (!record) {
        record = {
          step: step.name,
          index: step.index,
          hash: step.hash,
          status: 'running',
          attempts: [],
        };
        this.#log.steps.push(record);
      }
      if (record.status === 'waiting' || isOpen(record.attempts.at(-1))) continue;
      // Retries spent (the runner died in the last attempt): it fails without another intent.
      if (
        spentAttempts(record) > resolveRetryPolicy(step.options.retry, DEFAULT_STEP_RETRY).retries
      ) {
        continue;
      }
      record.status = 'running';
      record.attempts.push({ startedAt: now });
      opened = true;
    }
    return opened;
  }

  /**
   * Runs a group's pending steps at once. Each completion is one write; the last one also opens
   * the next group's intents. A step failing for good stops its siblings (their outcome is then
   * unknown) and is returned.
   */
  async #runGroup(
    pending: readonly SagaStepDefinition[],
    groups: readonly (readonly SagaStepDefinition[])[],
  ): Promise<{ step: SagaStepDefinition; error: unknown } | undefined> {
    // One signal for the group's steps: a lost lease, a failed sibling or the saga's deadline.
    // (A listener rather than AbortSignal.any, which costs far more on this path.)
    const group = new AbortController();
    const onLost = () => group.abort(this.#lost.signal.reason);
    this.#lost.signal.addEventListener('abort', onLost, { once: true });
    const deadline = this.#log.deadlineAt;
    let deadlineTimer: ReturnType<typeof setTimeout> | undefined;
    if (deadline !== undefined) {
      deadlineTimer = setTimeout(
        () => group.abort(sagaTimeoutError(this)),
        Math.max(0, deadline - Date.now()),
      );
      deadlineTimer.unref?.();
    }
    let remaining = pending.length;
    let failure: { step: SagaStepDefinition; error: unknown } | undefined;
    const signal = group.signal;
    try {
      await Promise.all(
        pending.map(async (step) => {
          try {
            await this.#runStep(step, signal, () => {
              remaining -= 1;
              if (remaining > 0) return false;
              // The last of the group: the same write records the next group's intents, or,
              // after the last group, the saga's completion.
              const next = groups[step.group + 1];
              if (!next) return true;
              if (!this.#deadlinePassed() && !this.#host.closing) this.#openIntents(next);
              return false;
            });
          } catch (error) {
            if (isStop(error)) throw error;
            if (this.#lost.signal.aborted) throw new LeaseLost();
            const reason = group.signal.aborted ? group.signal.reason : error;
            failure ??= { step, error: isSagaTimeout(reason) ? reason : error };
            if (!group.signal.aborted) group.abort(error);
          }
        }),
      );
    } finally {
      clearTimeout(deadlineTimer);
      this.#lost.signal.removeEventListener('abort', onLost);
    }
    return failure;
  }

  async #runStep(
    step: SagaStepDefinition,
    signal: AbortSignal,
    onDone: () => boolean,
  ): Promise<void> {
    const record = this.#record(step)!;
    const policy = resolveRetryPolicy(step.options.retry, DEFAULT_STEP_RETRY);
    const key = stepIdempotencyKey(this.#stored.name, this.id, step.name, 'run');
    /** True when this step's completion completes the saga: its write says so. */
    let finishes = false;
    const complete = (output: unknown) => {
      close(record.attempts.at(-1)!, Date.now(), 'completed');
      record.status = 'completed';
      // No output is no key: the log holds JSON data only.
      if (output === undefined) delete record.output;
      else record.output = output;
      delete record.retryAt;
      finishes = onDone();
    };
    let written = false;
    await this.#withRetries(record, policy, signal, 'run', step, async (attempt, attemptSignal) => {
      const context = {
        sagaId: this.id,
        input: this.#log.input,
        steps: this.#outputs(),
        idempotencyKey: key,
        attempt,
        signal: attemptSignal,
      };
      const run = step.options.run as (context: unknown) => unknown;
      if (!step.options.transactional) {
        Object.defineProperty(context, 'transaction', {
          get() {
            throw new TypeError(
              `step ${step.name} read context.transaction, which only transactional steps have (transactional: true)`,
            );
          },
        });
        const output = await this.#checkOutput(
          step,
          await this.#call(step, 'run', () => run(context)),
        );
        complete(output);
        return;
      }
      // The effect and the record of its result commit together, or neither does.
      const store = this.#host.store;
      if (!store.saveInTransaction) {
        throw new NonRetryableError(
          new TypeError(
            `step ${step.name} is transactional, but the ${store.kind} saga store has no transactions`,
          ),
        );
      }
      let thrown: { error: unknown } | undefined;
      const sent = performance.now();
      const saved = await this.#serialWrite(() =>
        store.saveInTransaction!(
          async (backend) => {
            try {
              const transaction = backend as unknown as SagaTransaction;
              const raw = await this.#call(step, 'run', () => run({ ...context, transaction }));
              const output = await this.#checkOutput(step, raw);
              // The attempt already ended (timed out, lost, abandoned): roll its write back.
              attemptSignal.throwIfAborted();
              return output;
            } catch (error) {
              thrown = { error };
              throw error;
            }
          },
          (output) => {
            // The attempt was given up (a timeout, a failed sibling): it must not commit now.
            if (attemptSignal.aborted) {
              thrown = { error: attemptSignal.reason };
              throw thrown.error;
            }
            complete(output);
            if (finishes) this.#status = 'completed';
            const update = this.#update({});
            if (!ACTIVE_SAGA_STATUSES.includes(update.status)) this.#finalWrite = true;
            return update;
          },
          this.#lease,
        ).catch((error: unknown) => {
          // The step's own error (its transaction rolled back) fails the attempt, not the run.
          if (thrown) return undefined;
          throw error;
        }),
      );
      if (thrown) throw thrown.error;
      if (!saved!.saved) this.#loseLease();
      this.#leaseRenewed(sent);
      written = true;
    });
    if (!written) {
      if (finishes) this.#status = 'completed';
      await this.#persist();
    }
  }

  // ---- backward -----------------------------------------------------------------------------

  /** Plans the compensations (reverse start order) and writes the first one's intent. */
  async #startCompensation(failure: SagaFailureRecord): Promise<void> {
    this.#status = 'compensating';
    this.#log.failure = failure;
    for (const record of this.#log.steps) {
      const step = this.#definition.steps[record.index]!;
      const outcome = outcomeOf(record);
      // A transactional step that never committed did nothing; a step never started neither.
      const nothingToUndo =
        outcome === undefined || (step.options.transactional && record.status !== 'completed');
      if (step.options.compensate && !nothingToUndo && !record.compensation) {
        record.compensation = { outcome: outcome!, status: 'pending', attempts: [] };
      }
      if (record.status !== 'completed') {
        record.status = 'failed';
        delete record.retryAt;
      }
    }
    this.#event('warn', 'saga.compensating', { failure }, 'saga step failed; compensating');
    await this.#backward();
  }

  async #backward(): Promise<void> {
    const plan = [...this.#log.steps].reverse().filter((record) => record.compensation);
    const next = (from: number) =>
      plan.slice(from).find((r) => r.compensation!.status !== 'completed');
    let current = next(0);
    if (current) {
      await this.#stopIfClosing();
      if (openCompensation(current.compensation!)) await this.#persist();
    }
    while (current) {
      const record = current;
      const compensation = record.compensation!;
      const step = this.#definition.steps[record.index]!;
      const policy = resolveRetryPolicy(step.options.compensationRetry, DEFAULT_COMPENSATION_RETRY);
      try {
        await this.#withRetries(
          compensation,
          policy,
          this.#lost.signal,
          'compensate',
          step,
          (attempt, signal) =>
            this.#call(step, 'compensate', () =>
              step.options.compensate!({
                sagaId: this.id,
                input: this.#log.input,
                steps: this.#outputs(),
                outcome: compensation.outcome,
                output: (record.status === 'completed' ? record.output : undefined) as never,
                stepIdempotencyKey: stepIdempotencyKey(
                  this.#stored.name,
                  this.id,
                  step.name,
                  'run',
                ),
                idempotencyKey: stepIdempotencyKey(
                  this.#stored.name,
                  this.id,
                  step.name,
                  'compensate',
                ),
                attempt,
                signal,
              }),
            ).then(() => {}),
        );
      } catch (error) {
        if (isStop(error)) throw error;
        if (this.#lost.signal.aborted) throw new LeaseLost();
        compensation.status = 'failed';
        delete compensation.retryAt;
        return this.#deadLetter(
          { ...errorRecord(error), step: step.name, phase: 'compensate' },
          'compensation_failed',
        );
      }
      close(compensation.attempts.at(-1)!, Date.now(), 'completed');
      compensation.status = 'completed';
      delete compensation.retryAt;
      // This write also records the next compensation's intent.
      current = next(plan.indexOf(record) + 1);
      if (current && !this.#host.closing) openCompensation(current.compensation!);
      // The last compensation: the same write records the saga's end.
      if (!current) this.#status = 'compensated';
      await this.#persist();
      if (current) {
        await this.#stopIfClosing();
        if (openCompensation(current.compensation!)) await this.#persist();
      }
    }
    if (this.#status !== 'compensated') {
      this.#status = 'compensated';
      await this.#persist({ release: true });
    }
    this.#event('info', 'saga.compensated', {}, 'saga compensated');
  }

  // ---- attempts -----------------------------------------------------------------------------

  /**
   * Runs `attempt` under `policy` with p-retry. The first attempt's intent is already written;
   * each retry's intent is written before it runs, and each wait is written before it starts (a
   * long one releases the saga so that any runner resumes it when due).
   */
  async #withRetries(
    target: StepRecord | CompensationRecord,
    policy: ResolvedRetryPolicy,
    signal: AbortSignal,
    phase: 'run' | 'compensate',
    step: SagaStepDefinition,
    attempt: (attempt: number, signal: AbortSignal) => Promise<void>,
  ): Promise<void> {
    const spent = () => spentAttempts(target);
    const last = target.attempts.at(-1);
    if (spent() > policy.retries) throw lastError(target);
    if (spent() > 0 && !isOpen(last) && target.status !== 'waiting') {
      // Resumed after a failed attempt whose wait was never written (a crash right after it).
      target.status = 'waiting';
      target.retryAt = Date.now() + retryDelay(policy, spent());
    }
    this.#inFlight += 1;
    try {
      await pRetry(
        async () => {
          if (target.status === 'waiting') await this.#waitForRetry(target, signal);
          if (!isOpen(target.attempts.at(-1))) {
            target.status = 'running';
            target.attempts.push({ startedAt: Date.now() });
            await this.#persist();
          }
          const number = target.attempts.length;
          await this.#assertLeaseHeld();
          try {
            await this.#timed(step, phase, signal, (attemptSignal) =>
              attempt(number, attemptSignal),
            );
          } catch (error) {
            const open = target.attempts.at(-1)!;
            if (isOpen(open) && !isStop(error)) {
              const unknown = isTimeout(error) || signal.aborted;
              close(open, Date.now(), unknown ? 'unknown' : 'failed', errorRecord(error));
              // Logged here: p-retry skips onFailedAttempt for an AbortError (NonRetryableError).
              this.#event(
                'warn',
                phase === 'run' ? 'saga.step_failed' : 'saga.compensation_failed',
                { step: step.name, attempt: number, error: errorRecord(error) },
                phase === 'run' ? 'saga step attempt failed' : 'saga compensation attempt failed',
              );
            }
            throw error;
          }
        },
        {
          retries: Math.max(0, policy.retries - spent()),
          minTimeout: 0,
          maxTimeout: 0,
          factor: 1,
          randomize: false,
          signal,
          shouldRetry: ({ error }) => isRetryable(policy, error) && !signal.aborted,
          onFailedAttempt: async ({ error, retriesLeft }) => {
            if (isStop(error)) throw error;
            if (this.#lost.signal.aborted) throw new LeaseLost();
            if (retriesLeft <= 0 || !isRetryable(policy, error) || signal.aborted) return;
            target.status = 'waiting';
            target.retryAt = Date.now() + retryDelay(policy, spent());
          },
        },
      );
    } catch (error) {
      throw unwrap(error);
    } finally {
      this.#inFlight -= 1;
    }
  }

  /** A written wait: held in memory when short, or released to be resumed when due. */
  async #waitForRetry(target: StepRecord | CompensationRecord, signal: AbortSignal): Promise<void> {
    const delay = Math.max(0, (target.retryAt ?? 0) - Date.now());
    // A wait that is already due is never released again (with a hold limit of 0 it would be
    // released, resumed and released forever).
    if (delay > 0 && delay >= this.#host.holdLimitMs && this.#inFlight === 1) {
      await this.#persist({ release: true, wakeInMs: delay });
      this.#host.wakeLater(this.id, delay);
      this.#event(
        'info',
        'saga.retry_scheduled',
        { delayMs: delay },
        'saga released until its retry is due',
      );
      throw new Released();
    }
    await this.#persist();
    if (delay > 0) await sleep(delay, signal);
    delete target.retryAt;
  }

  /** Runs an attempt with the step's time limit; the attempt's signal aborts on any stop. */
  async #timed(
    step: SagaStepDefinition,
    phase: 'run' | 'compensate',
    signal: AbortSignal,
    fn: (signal: AbortSignal) => Promise<void>,
  ): Promise<void> {
    const timeoutMs = step.options.timeoutMs;
    if (timeoutMs === undefined) return raceAbort(fn(signal), signal);
    const controller = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    // A step that ignores its signal is not waited for: the attempt ends when the signal aborts.
    const stopped = new Promise<never>((_, reject) => {
      const onAbort = () => reject(controller.signal.reason);
      controller.signal.addEventListener('abort', onAbort, { once: true });
    });
    stopped.catch(() => {});
    const forward = () => controller.abort(signal.reason);
    if (signal.aborted) forward();
    else signal.addEventListener('abort', forward, { once: true });
    if (timeoutMs !== undefined) {
      timer = setTimeout(() => {
        controller.abort(
          new FlowproofError(
            'SAGA_STEP_TIMEOUT',
            `${phase === 'run' ? 'step' : 'compensation of step'} ${JSON.stringify(step.name)} of saga ${JSON.stringify(this.id)} took longer than ${timeoutMs} ms; its outcome is unknown`,
            { details: { sagaId: this.id, step: step.name, phase, timeoutMs } },
          ),
        );
      }, timeoutMs);
    }
    try {
      return await Promise.race([fn(controller.signal), stopped]);
    } finally {
      clearTimeout(timer);
      signal.removeEventListener('abort', forward);
    }
  }

  /** Calls a step function in the saga's flow context, inside a span when tracing is on. */
  #call(
    step: SagaStepDefinition,
    phase: 'run' | 'compensate',
    fn: () => unknown,
  ): Promise<unknown> {
    const invoke = () => Promise.resolve().then(fn);
    const traced = isTracingEnabled()
      ? () =>
          withSpan(
            phase === 'run' ? `saga.step ${step.name}` : `saga.compensate ${step.name}`,
            {
              'flowproof.saga.name': this.#stored.name,
              'flowproof.saga.id': this.id,
              'flowproof.saga.step': step.name,
            },
            invoke,
          )
      : invoke;
    return traced();
  }

  async #checkOutput(step: SagaStepDefinition, raw: unknown): Promise<unknown> {
    let value = raw;
    if (step.options.output) {
      try {
        value = await parseWithSchema(step.options.output, raw, `the output of step ${step.name}`);
      } catch (error) {
        throw new NonRetryableError(error as Error);
      }
    }
    // Nothing returned: no output (what later steps see as `undefined`, as typed).
    if (value === undefined) return undefined;
    try {
      return toLogValue(value);
    } catch (error) {
      throw new NonRetryableError(
        new FlowproofError(
          'SAGA_VALUE_UNENCODABLE',
          `step ${JSON.stringify(step.name)} of saga ${JSON.stringify(this.id)} returned a value JSON cannot hold: ${(error as Error).message}`,
          { details: { sagaId: this.id, step: step.name }, cause: error },
        ),
      );
    }
  }

  // ---- writes -------------------------------------------------------------------------------

  #update(options: { release?: boolean; wakeInMs?: number }): SagaUpdate {
    return {
      id: this.id,
      status: this.#status,
      // Not a copy: stores encode the log when the write goes out, and the runner's copy then
      // holds this state or a later one, each a state the saga really was in.
      log: this.#log,
      wakeInMs: options.wakeInMs ?? 0,
      // A saga that is no longer active is released by the write that says so.
      lease:
        options.release || !ACTIVE_SAGA_STATUSES.includes(this.#status)
          ? 'release'
          : { extendMs: this.#host.leaseMs },
    };
  }

  /**
   * One fenced write of the whole log; refused means lost. Writes go out one at a time, in order,
   * each with the log as it is when it goes out: a write queued behind a step's transaction must
   * not take back what that transaction recorded.
   */
  #persist(options: { release?: boolean; wakeInMs?: number } = {}): Promise<void> {
    if (this.#lost.signal.aborted) return Promise.reject(new LeaseLost());
    // The final write (it released the saga) already holds everything a sibling would write.
    if (this.#finalWrite) return this.#writes.then(() => {});
    return this.#serialWrite(async () => {
      // An earlier write, built when it went out, may already have recorded the end.
      if (this.#finalWrite) return;
      const update = this.#update(options);
      if (!ACTIVE_SAGA_STATUSES.includes(update.status)) this.#finalWrite = true;
      const sent = performance.now();
      if (!(await this.#host.store.save(update, this.#lease))) this.#loseLease();
      if (update.lease !== 'release') this.#leaseRenewed(sent);
    });
  }

  /**
   * The lease holds at least `leaseMs` from when its last renewal was sent. Steps are stopped a
   * little before that ends unless renewed meanwhile, so that a runner cut off from the store
   * (a partition, a long pause) has stopped before another can claim the saga: the same step never
   * runs in two runners at once.
   */
  #leaseRenewed(sentAt: number): void {
    const validUntil = sentAt + this.#host.leaseMs;
    if (validUntil <= this.#leaseValidUntil) return;
    this.#leaseValidUntil = validUntil;
    clearTimeout(this.#expiry);
    const margin = Math.min(1_000, Math.floor(this.#host.leaseMs / 10));
    this.#expiry = setTimeout(
      () => this.#lost.abort(new LeaseLost()),
      Math.max(0, validUntil - margin - performance.now()),
    );
    this.#expiry.unref?.();
  }

  /**
   * Runs `write` after the writes before it; a store error becomes {@link StoreFailed}, and no
   * write follows it (the copy in memory may hold what the failed write did not commit).
   */
  #serialWrite<T>(write: () => Promise<T>): Promise<T> {
    const result = this.#writes.then(async () => {
      if (this.#lost.signal.aborted) throw new LeaseLost();
      if (this.#storeFailed) throw this.#storeFailed;
      try {
        return await write();
      } catch (error) {
        if (isStop(error)) throw error;
        this.#storeFailed = new StoreFailed(error);
        throw this.#storeFailed;
      }
    });
    this.#writes = result.catch(() => {});
    return result;
  }

  /**
   * Before an effect runs: when the lease may be about to lapse (a beat was missed: the runner
   * was starved, or the store slow), it is renewed first; refused means another runner may be
   * running the step already, so this one stops instead of running it alongside.
   */
  async #assertLeaseHeld(): Promise<void> {
    if (performance.now() < this.#leaseValidUntil - this.#host.leaseMs / 3) return;
    const sent = performance.now();
    let held: boolean;
    try {
      held = await this.#host.store.heartbeat(this.id, this.#lease, this.#host.leaseMs);
    } catch (error) {
      throw new StoreFailed(error);
    }
    if (!held) this.#loseLease();
    this.#leaseRenewed(sent);
  }

  #loseLease(): never {
    this.#lost.abort(new LeaseLost());
    throw new LeaseLost();
  }

  async #renewLease(): Promise<void> {
    if (this.#lost.signal.aborted) return;
    try {
      const sent = performance.now();
      const held = await this.#host.store.heartbeat(this.id, this.#lease, this.#host.leaseMs);
      if (!held) this.#lost.abort(new LeaseLost());
      else this.#leaseRenewed(sent);
    } catch (error) {
      // The next beat (or write) tries again; the lease covers a few missed beats.
      this.#event(
        'warn',
        'saga.heartbeat_failed',
        { error: errorRecord(error) },
        'saga lease renewal failed',
      );
    }
  }

  async #deadLetter(
    error: SagaFailureRecord,
    status: 'failed' | 'compensation_failed',
  ): Promise<void> {
    this.#status = status;
    this.#log.error = error;
    await this.#persist({ release: true });
    this.#event('error', 'saga.dead_lettered', { status, error }, 'saga dead-lettered');
  }

  /** At a persistence point while the engine closes: release the saga for another runner. */
  async #stopIfClosing(): Promise<void> {
    if (!this.#host.closing) return;
    await this.#persist({ release: true });
    throw new Released();
  }

  // ---- helpers ------------------------------------------------------------------------------

  #record(step: SagaStepDefinition): StepRecord | undefined {
    return this.#log.steps.find((record) => record.index === step.index);
  }

  #outputs(): Record<string, unknown> {
    const outputs: Record<string, unknown> = {};
    for (const record of this.#log.steps) {
      if (record.status === 'completed') outputs[record.step] = record.output;
    }
    return outputs;
  }

  #deadlinePassed(): boolean {
    return this.#log.deadlineAt !== undefined && Date.now() >= this.#log.deadlineAt;
  }

  #event(
    level: 'info' | 'warn' | 'error',
    event: string,
    fields: Record<string, unknown>,
    message: string,
  ) {
    logEvent(
      this.#host.logger,
      level,
      { event, sagaId: this.id, saga: this.#stored.name, ...fields },
      message,
    );
  }
}

/**
 * `work`, or the signal's reason as soon as it aborts: a step that ignores its signal is not
 * waited for.
 */
async function raceAbort<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) {
    work.catch(() => {});
    throw signal.reason;
  }
  let onAbort!: () => void;
  const stopped = new Promise<never>((_, reject) => {
    onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    return await Promise.race([work, stopped]);
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}

function close(
  attempt: AttemptRecord,
  now: number,
  outcome: StepOutcome,
  error?: AttemptRecord['error'],
) {
  attempt.endedAt = now;
  attempt.outcome = outcome;
  if (error) attempt.error = error;
}

/** Attempts that ended within the current retry budget. */
function spentAttempts(target: StepRecord | CompensationRecord): number {
  let spent = 0;
  for (let i = target.budgetFrom ?? 0; i < target.attempts.length; i += 1) {
    if (target.attempts[i]!.endedAt !== undefined) spent += 1;
  }
  return spent;
}

/** Opens the compensation's intent unless it has one; true if opened. */
function openCompensation(compensation: CompensationRecord): boolean {
  if (compensation.status === 'waiting' || isOpen(compensation.attempts.at(-1))) return false;
  compensation.status = 'running';
  compensation.attempts.push({ startedAt: Date.now() });
  return true;
}

/** What a step did, from its attempts: undefined when it never started. */
function outcomeOf(record: StepRecord): StepOutcome | undefined {
  if (record.status === 'completed') return 'completed';
  if (record.attempts.length === 0) return undefined;
  return record.attempts.some((a) => a.outcome === 'unknown' || a.endedAt === undefined)
    ? 'unknown'
    : 'failed';
}

function lastError(target: StepRecord | CompensationRecord): FlowproofError | Error {
  const error = target.attempts.at(-1)?.error;
  const failure = new Error(error?.message ?? 'the retries are spent');
  failure.name = error?.name ?? 'Error';
  if (error?.code) (failure as Error & { code?: string }).code = error.code;
  return failure;
}

function unwrap(error: unknown): unknown {
  const inner = (error as { originalError?: unknown })?.originalError;
  return (error as { name?: unknown })?.name === 'AbortError' && inner instanceof Error
    ? inner
    : error;
}

function isTimeout(error: unknown): boolean {
  return (
    error instanceof FlowproofError &&
    (error.code === 'SAGA_STEP_TIMEOUT' || error.code === 'SAGA_TIMEOUT')
  );
}

function isSagaTimeout(error: unknown): boolean {
  return error instanceof FlowproofError && error.code === 'SAGA_TIMEOUT';
}

function sagaTimeoutError(run: { id: string }): FlowproofError {
  return new FlowproofError(
    'SAGA_TIMEOUT',
    `saga ${JSON.stringify(run.id)} ran past its time limit; compensating`,
    {
      details: { sagaId: run.id },
    },
  );
}

function sagaTimeout(run: { id: string }): SagaFailureRecord {
  return errorRecord(sagaTimeoutError(run));
}

function describeMismatch(reason: string, step: SagaStepDefinition | undefined): string {
  switch (reason) {
    case 'removed':
      return 'no longer has';
    case 'moved':
      return `now has elsewhere (${JSON.stringify(step?.name)} is at that position)`;
    case 'renamed':
      return `no longer has (${JSON.stringify(step?.name)} is at that position)`;
    default:
      return 'changed (its version, group or position differs)';
  }
}
