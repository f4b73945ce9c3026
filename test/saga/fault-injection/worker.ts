/**
 * The child runner of the fault-injection harness (run with `startProcesses`): it builds the
 * cycle's sagas from the seed, starts every one of them (idempotent by id, so a resumer starts
 * those its predecessor died before creating), runs a poller for those left behind, and waits
 * until all are finished or dead-lettered. With a kill plan it SIGKILLs itself at the n-th event
 * of the planned kind, after writing where it landed to `killFile`.
 */
import { writeFileSync } from 'node:fs';
import { createSagas } from '../../../src/saga/index.js';
import { type ChaosTarget, openChaosStore } from './chaos-store.js';
import { observedStore } from './observed-store.js';
import { cyclePlan, type EventKind, type KillPlan } from './plan.js';
import { sagaDefinition } from './saga-definitions.js';

/** What the parent passes to {@link chaosWorker}. */
export interface ChaosWorkerArgs {
  readonly target: ChaosTarget;
  readonly serviceUrl: string;
  readonly seed: number;
  readonly batch: number;
  readonly transactional: boolean;
  readonly kill: KillPlan | null;
  /** Where the kill's landing point is written (JSON) just before the kill. */
  readonly killFile: string;
  readonly leaseMs: number;
  /** How long to wait for the batch to finish. */
  readonly waitMs: number;
}

/** Where a kill landed. */
export interface KillHit extends KillPlan {
  readonly saga: string;
  readonly step?: string;
}

/** What a child that was not killed returns: how many events of each kind it saw. */
export interface ChaosWorkerResult {
  readonly events: Record<string, number>;
}

/** The worker function. */
export async function chaosWorker(args: ChaosWorkerArgs): Promise<ChaosWorkerResult> {
  const events: Record<string, number> = {};
  const event = (
    kind: EventKind,
    when: 'before' | 'after',
    where: { saga: string; step?: string },
  ) => {
    const point = `${kind}:${when}`;
    const n = (events[point] ?? 0) + 1;
    events[point] = n;
    if (args.kill && args.kill.point === point && args.kill.n === n) {
      const hit: KillHit = { ...args.kill, ...where };
      writeFileSync(args.killFile, JSON.stringify(hit));
      process.kill(process.pid, 'SIGKILL');
      // Nothing else runs in this process: the signal ends it.
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 60_000);
    }
  };
  const opened = openChaosStore(args.target);
  const plan = cyclePlan(args.seed, { batch: args.batch, transactional: args.transactional });
  const hooks = {
    serviceUrl: args.serviceUrl,
    insertEffect: opened.insertEffect,
    event: (kind: EventKind, when: 'before' | 'after', where: { saga: string; step: string }) =>
      event(kind, when, where),
  };
  const definitions = plan.sagas.map((saga) => sagaDefinition(saga, hooks));
  const store = observedStore(opened.store, (write) => {
    for (const kind of write.kinds) event(kind, write.when, { saga: write.saga });
  });
  const sagas = createSagas({
    store,
    sagas: definitions as never,
    leaseMs: args.leaseMs,
    pollIntervalMs: 50,
    concurrency: 1000,
    retainFinishedMs: false,
  });
  try {
    sagas.startRunner();
    await Promise.all(
      plan.sagas.map((saga, i) => sagas.start(definitions[i]!, {}, { id: saga.id })),
    );
    await Promise.all(plan.sagas.map((saga) => sagas.wait(saga.id, { timeoutMs: args.waitMs })));
    return { events };
  } finally {
    await sagas.close({ timeoutMs: 1000 });
    await opened.close();
  }
}
