/**
 * An in-process concurrency limit that keeps each task in its submitter's flow context. A task
 * queued beyond the limit starts when another finishes, from that task's completion: a limiter
 * that just calls it there runs it in the finished task's context.
 */
import { AsyncResource } from 'node:async_hooks';
import { assertFunction, assertInteger } from '../../core/options.js';

/** Runs `task` when a slot is free; see {@link limitConcurrency}. */
export type ConcurrencyLimit = <T>(task: () => T | PromiseLike<T>) => Promise<T>;

/**
 * Returns a function that runs tasks at most `concurrency` at a time, in submission order, each
 * in the flow context it was submitted from (whichever task's completion starts it). The
 * returned promise settles with the task's result or error.
 *
 * @param concurrency - how many tasks may run at once: an integer of at least 1.
 * @throws TypeError naming `concurrency` when it is not such an integer, and naming `task` when
 * a task is not a function.
 * @example
 * ```ts
 * const limit = limitConcurrency(4);
 * app.post('/reports', async (req, res) => {
 *   // getContext() inside is this request's, even when the task waited for a slot
 *   res.json(await limit(() => renderReport(req.body)));
 * });
 * ```
 */
export function limitConcurrency(concurrency: number): ConcurrencyLimit {
  assertInteger(concurrency, 'concurrency', 1);
  let active = 0;
  const queue: (() => void)[] = [];
  const next = () => {
    while (active < concurrency) {
      const start = queue.shift();
      if (start === undefined) return;
      active += 1;
      start();
    }
  };
  return <T>(task: () => T | PromiseLike<T>): Promise<T> => {
    assertFunction(task, 'task');
    return new Promise<T>((resolve, reject) => {
      // Bound now, in the submitter's context: it may start from another task's completion.
      queue.push(
        AsyncResource.bind(() => {
          let result: Promise<T>;
          try {
            result = Promise.resolve(task());
          } catch (error) {
            result = Promise.reject(error);
          }
          void result.then(resolve, reject).finally(() => {
            active -= 1;
            next();
          });
        }),
      );
      next();
    });
  };
}
