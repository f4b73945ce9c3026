/**
 * The flow context across `worker_threads` (or any hop made of a structured-clone message): a
 * worker has its own AsyncLocalStorage, so nothing of the sender's context reaches it unless the
 * task message carries it.
 */
import {
  restoreContext,
  runWithContext,
  type SerializeContextOptions,
  serializeContext,
} from '../../core/context.js';
import { assertFunction, assertOptionsObject } from '../../core/options.js';

/** A task with the flow context it was sent from, as {@link contextTaskMessage} makes it. */
export interface ContextTaskMessage<T> {
  /** The task itself, as given. */
  readonly task: T;
  /** The sender's flow context as string headers ({@link serializeContext}). */
  readonly context: Readonly<Record<string, string>>;
}

/**
 * Wraps `task` with the current flow context (correlation and causation ids, actor, tenant,
 * trace, baggage), for `worker.postMessage`. The message is plain data: it survives structured
 * cloning.
 *
 * @param options - which baggage keys go along (default: all).
 * @throws TypeError naming the option when an option is invalid.
 * @example
 * ```ts
 * worker.postMessage(contextTaskMessage({ reportId }));
 * ```
 */
export function contextTaskMessage<T>(
  task: T,
  options: SerializeContextOptions = {},
): ContextTaskMessage<T> {
  return { task, context: serializeContext(undefined, options) };
}

/**
 * Runs `run(message.task)` in the flow context `message` carries, in the worker: the sender's
 * correlation id, causation id, actor, tenant, trace and baggage. Identity is trusted, so give it
 * only messages your own code sent with {@link contextTaskMessage}.
 *
 * @returns what `run` returns.
 * @throws TypeError when `message` is not a {@link ContextTaskMessage} or `run` not a function.
 * @example
 * ```ts
 * parentPort.on('message', (message) =>
 *   runInTaskContext(message, async (task) => parentPort.postMessage(await render(task))),
 * );
 * ```
 */
export function runInTaskContext<T, R>(message: ContextTaskMessage<T>, run: (task: T) => R): R {
  assertOptionsObject(message, 'message');
  assertOptionsObject(message.context, 'message.context');
  assertFunction(run, 'run');
  const context = restoreContext(message.context, { trustIdentity: true, baggage: true });
  return runWithContext(context, () => run(message.task));
}
