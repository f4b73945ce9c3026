/**
 * A `worker_threads` worker for the worker-pool tests: each task message is `{ id, message }`,
 * where `message` is `contextTaskMessage({ delayMs })` (or a bare task, to show what is lost);
 * it answers `{ id, seen }` with the correlation id, causation id and tenant the task saw.
 */
import { parentPort } from 'node:worker_threads';
import { getContext } from '../../../../src/core/context.js';
import { type ContextTaskMessage, runInTaskContext } from '../../../../src/lineage/index.js';

interface Task {
  readonly delayMs: number;
}

const port = parentPort;
if (port === null) throw new Error('context-worker must run in a worker thread');
port.on('message', (envelope: { id: number; message: ContextTaskMessage<Task> | Task }) => {
  const work = async (task: Task) => {
    await new Promise((resolve) => setTimeout(resolve, task.delayMs));
    const context = getContext();
    return {
      correlationId: context?.correlationId,
      causationId: context?.causationId,
      tenant: context?.tenant,
      traceparent: context?.traceparent,
    };
  };
  const { message } = envelope;
  const seen = 'context' in message ? runInTaskContext(message, work) : work(message as Task);
  void seen.then((result) => port.postMessage({ id: envelope.id, seen: result }));
});
