/**
 * Runs a function in several child processes at once, against the same backend, and collects what
 * each returned. Module conformance suites use it for real concurrency (many processes racing for
 * one key) and real crashes (a child killed mid-flight).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { isAbsolute } from 'node:path';
import { pathToFileURL } from 'node:url';
import { assertInteger, assertNonEmptyString, assertOptionsObject } from '../core/options.js';

/** The function a child process runs: exported by name from `module`. */
export type WorkerFunction<A = unknown, R = unknown> = (
  args: A,
  worker: WorkerInfo,
) => Promise<R> | R;

/** What a worker function learns about its process. */
export interface WorkerInfo {
  /** 0-based index of this child among those started together. */
  readonly index: number;
  /** Sends a JSON-safe progress message to the parent (see {@link ProcessHandle.waitForMessage}). */
  report(message: unknown): void;
}

/** Options of {@link startProcesses} and {@link runInProcesses}. */
export interface ProcessOptions<A = unknown> {
  /** Absolute path or `file:` URL of the module that exports the worker function. */
  readonly module: string;
  /**
   * Name of the exported worker function.
   * @default 'default'
   */
  readonly exportName?: string;
  /** JSON-safe arguments passed to every worker. */
  readonly args?: A;
  /**
   * How many processes to start.
   * @default 1
   */
  readonly count?: number;
  /**
   * Extra Node.js flags, e.g. `['--import', 'tsx']` to run TypeScript workers.
   * @default []
   */
  readonly execArgv?: readonly string[];
  /** Extra environment variables for the children. */
  readonly env?: Readonly<Record<string, string>>;
  /**
   * How long the whole run may take before every child is killed.
   * @default 60000
   */
  readonly timeoutMs?: number;
}

/** How one child ended. */
export type ProcessResult<R = unknown> = ProcessFulfilled<R> | ProcessRejected | ProcessExited;

/** The worker function returned. */
export interface ProcessFulfilled<R> {
  /** 0-based index of the child. */
  readonly index: number;
  /** Always `fulfilled`. */
  readonly status: 'fulfilled';
  /** What the worker returned (`null` for `undefined`). */
  readonly value: R;
}

/** The worker function threw. */
export interface ProcessRejected {
  /** 0-based index of the child. */
  readonly index: number;
  /** Always `rejected`. */
  readonly status: 'rejected';
  /** The error, as far as it crosses a process boundary. */
  readonly error: ProcessError;
}

/** An error thrown in a child process. */
export interface ProcessError {
  /** The error's name. */
  readonly name: string;
  /** The error's message. */
  readonly message: string;
  /** The error's code, when it had a string one (a FlowproofError's, for instance). */
  readonly code?: string;
}

/** The child ended without reporting a result: killed, crashed or timed out. */
export interface ProcessExited {
  /** 0-based index of the child. */
  readonly index: number;
  /** Always `exited`. */
  readonly status: 'exited';
  /** The exit code, or `null` when a signal ended it. */
  readonly exitCode: number | null;
  /** The signal that ended it, if any. */
  readonly signal: NodeJS.Signals | null;
}

/** A running child process. */
export interface ProcessHandle<R = unknown> {
  /** 0-based index among the processes started together. */
  readonly index: number;
  /** The operating-system process id. */
  readonly pid: number | undefined;
  /** Progress messages the worker sent with `report()`, in order. */
  readonly messages: readonly unknown[];
  /** Resolves with the first reported message matching `predicate` (including earlier ones). */
  waitForMessage(predicate: (message: unknown) => boolean, timeoutMs?: number): Promise<unknown>;
  /** Sends `signal` (default `SIGKILL`: a crash, no cleanup). */
  kill(signal?: NodeJS.Signals): void;
  /** Resolves when the process has ended, however it ended. */
  readonly result: Promise<ProcessResult<R>>;
}

// The child imports the worker module, reports that it is ready, waits for the parent's "go" so
// that every child starts its work at the same moment, then runs it and reports the outcome.
const BOOTSTRAP = `
const spec = JSON.parse(process.env.FLOWPROOF_WORKER_SPEC);
const send = (message) => new Promise((resolve) => process.send(message, () => resolve()));
const mod = await import(spec.module);
const fn = mod[spec.exportName] ?? mod.default?.[spec.exportName];
if (typeof fn !== 'function') {
  await send({ type: 'result', ok: false, error: { name: 'TypeError', message: 'worker module does not export ' + spec.exportName } });
  process.exit(1);
}
await new Promise((resolve) => { process.on('message', (m) => { if (m === 'go') resolve(); }); send({ type: 'ready' }); });
try {
  const value = await fn(spec.args, { index: spec.index, report: (message) => { process.send({ type: 'report', message }); } });
  await send({ type: 'result', ok: true, value: value === undefined ? null : value });
  process.exit(0);
} catch (error) {
  await send({ type: 'result', ok: false, error: { name: error?.name ?? 'Error', message: String(error?.message ?? error), code: typeof error?.code === 'string' ? error.code : undefined } });
  process.exit(1);
}
`;

/**
 * Starts `count` child processes running the worker function and releases them together once all
 * are ready. Use the handles to watch progress and kill a child mid-flight.
 *
 * @throws TypeError naming the option when an option is invalid.
 * @example
 * ```ts
 * const [child] = startProcesses({ module: workerPath, exportName: 'chargeOrder', args: { url } });
 * await child.waitForMessage((m) => m === 'side-effect-done');
 * child.kill(); // crash after the side effect, before completion
 * ```
 */
export function startProcesses<R = unknown, A = unknown>(
  options: ProcessOptions<A>,
): ProcessHandle<R>[] {
  assertOptionsObject(options, 'options');
  assertNonEmptyString(options.module, 'options.module');
  const count = options.count ?? 1;
  assertInteger(count, 'options.count', 1, 1024);
  const timeoutMs = options.timeoutMs ?? 60_000;
  assertInteger(timeoutMs, 'options.timeoutMs', 1);
  const moduleUrl = isAbsolute(options.module)
    ? pathToFileURL(options.module).href
    : options.module;
  if (!moduleUrl.startsWith('file:')) {
    throw new TypeError('options.module must be an absolute path or a file: URL');
  }
  const children: ChildProcess[] = [];
  let ready = 0;
  const handles = Array.from({ length: count }, (_, index) => {
    const child = spawn(
      process.execPath,
      [...(options.execArgv ?? []), '--input-type=module', '-e', BOOTSTRAP],
      {
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
        env: {
          ...process.env,
          ...options.env,
          FLOWPROOF_WORKER_SPEC: JSON.stringify({
            module: moduleUrl,
            exportName: options.exportName ?? 'default',
            args: options.args ?? null,
            index,
          }),
        },
      },
    );
    children.push(child);
    return watch<R>(child, index, () => {
      ready += 1;
      if (ready === count) for (const c of children) if (c.connected) c.send('go');
    });
  });
  const timer = setTimeout(() => {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  }, timeoutMs);
  timer.unref();
  void Promise.all(handles.map((h) => h.result)).then(() => clearTimeout(timer));
  return handles;
}

/**
 * Runs the worker function in `count` child processes at once and resolves with every outcome, in
 * index order. Never rejects because a child failed: each failure is an entry.
 *
 * @example
 * ```ts
 * const results = await runInProcesses({ module: workerPath, exportName: 'claim', count: 8, args });
 * expect(results.filter((r) => r.status === 'fulfilled' && r.value === 'executed')).toHaveLength(1);
 * ```
 */
export function runInProcesses<R = unknown, A = unknown>(
  options: ProcessOptions<A>,
): Promise<ProcessResult<R>[]> {
  return Promise.all(startProcesses<R, A>(options).map((handle) => handle.result));
}

function watch<R>(child: ChildProcess, index: number, onReady: () => void): ProcessHandle<R> {
  const messages: unknown[] = [];
  const waiters = new Set<{ predicate: (m: unknown) => boolean; resolve: (m: unknown) => void }>();
  let outcome: ProcessResult<R> | undefined;
  child.on(
    'message',
    (raw: { type?: string; message?: unknown; ok?: boolean; value?: R; error?: never }) => {
      if (raw?.type === 'ready') onReady();
      else if (raw?.type === 'report') {
        messages.push(raw.message);
        for (const waiter of waiters) {
          if (waiter.predicate(raw.message)) {
            waiters.delete(waiter);
            waiter.resolve(raw.message);
          }
        }
      } else if (raw?.type === 'result') {
        outcome = raw.ok
          ? { index, status: 'fulfilled', value: raw.value as R }
          : { index, status: 'rejected', error: raw.error as never };
      }
    },
  );
  const result = new Promise<ProcessResult<R>>((resolve) => {
    // 'close', not 'exit': a child's exit can reach the parent before the last message it sent
    // (its result); 'close' comes once the IPC channel, too, is drained and closed.
    child.on('close', (exitCode, signal) => {
      resolve(outcome ?? { index, status: 'exited', exitCode, signal });
    });
    child.on('error', () => resolve({ index, status: 'exited', exitCode: null, signal: null }));
  });
  return {
    index,
    pid: child.pid,
    messages,
    result,
    kill(signal = 'SIGKILL') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    },
    waitForMessage(predicate, timeoutMs = 30_000) {
      const earlier = messages.find(predicate);
      if (earlier !== undefined) return Promise.resolve(earlier);
      return new Promise((resolve, reject) => {
        const waiter = { predicate, resolve };
        waiters.add(waiter);
        const timer = setTimeout(() => {
          waiters.delete(waiter);
          reject(new Error(`process ${index} sent no matching message within ${timeoutMs} ms`));
        }, timeoutMs);
        timer.unref();
        void result.then(() => {
          if (waiters.delete(waiter)) {
            clearTimeout(timer);
            reject(new Error(`process ${index} ended before sending a matching message`));
          }
        });
      });
    },
  };
}
