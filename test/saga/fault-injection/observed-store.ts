/**
 * A saga store that reports each write by what it records, so that a child runner can kill
 * itself just before or just after the n-th write of a kind, and a test can see every log
 * written: a write opening an attempt is an intent write, one closing an attempt a result write,
 * one changing a compensation a compensation write (one write may be several: a step's result
 * with the next step's intent).
 */
import type { AttemptRecord, SagaLog } from '../../../src/saga/saga-log.js';
import type { SagaStore } from '../../../src/saga/saga-store.js';
import type { EventKind } from './plan.js';

/** The kinds of writes. */
export type WriteKind = Extract<EventKind, 'intent-write' | 'result-write' | 'compensation-write'>;

/** What a write records, compared with the last log this process read or wrote for the saga. */
export function writeKinds(previous: SagaLog | undefined, next: SagaLog): WriteKind[] {
  const kinds = new Set<WriteKind>();
  for (const record of next.steps) {
    const before = previous?.steps.find((s) => s.index === record.index);
    const attempts: readonly AttemptRecord[] = before?.attempts ?? [];
    record.attempts.forEach((attempt, i) => {
      const old = attempts[i];
      if (old === undefined)
        kinds.add(attempt.endedAt === undefined ? 'intent-write' : 'result-write');
      else if (old.endedAt === undefined && attempt.endedAt !== undefined)
        kinds.add('result-write');
    });
    if (
      record.compensation &&
      JSON.stringify(record.compensation) !== JSON.stringify(before?.compensation)
    ) {
      kinds.add('compensation-write');
    }
  }
  return [...kinds];
}

/** One write, as {@link observedStore} reports it. */
export interface ObservedWrite {
  /** What it records (empty for a write that only changes the status or the lease). */
  readonly kinds: readonly WriteKind[];
  /** Reported just before the write, and just after it when it succeeded. */
  readonly when: 'before' | 'after';
  readonly saga: string;
  readonly log: SagaLog;
}

/**
 * `store`, with `observe` called around every create, save and saveInTransaction. `before` of a
 * transactional save runs inside its transaction, before the saga's row is written.
 */
export function observedStore(
  store: SagaStore,
  observe: (write: ObservedWrite) => void,
): SagaStore {
  const logs = new Map<string, SagaLog>();
  const around = (
    kinds: readonly WriteKind[],
    when: 'before' | 'after',
    saga: string,
    log: SagaLog,
  ) => observe({ kinds, when, saga, log });
  const wrapped: SagaStore = {
    kind: store.kind,
    migrate: () => store.migrate(),
    now: () => store.now(),
    async create(saga, lease) {
      around(['intent-write'], 'before', saga.id, saga.log as SagaLog);
      const result = await store.create(saga, lease);
      if (result.created) {
        logs.set(saga.id, saga.log as SagaLog);
        around(['intent-write'], 'after', saga.id, saga.log as SagaLog);
      }
      return result;
    },
    async claim(request) {
      const claimed = await store.claim(request);
      for (const { saga } of claimed) logs.set(saga.id, saga.log as SagaLog);
      return claimed;
    },
    async save(update, lease) {
      // The engine hands over its live log (stores encode it at once): keep this write's state.
      const log = structuredClone(update.log) as SagaLog;
      const kinds = writeKinds(logs.get(update.id), log);
      around(kinds, 'before', update.id, log);
      const saved = await store.save({ ...update, log }, lease);
      if (saved) {
        logs.set(update.id, log);
        around(kinds, 'after', update.id, log);
      }
      return saved;
    },
    heartbeat: (id, lease, leaseMs) => store.heartbeat(id, lease, leaseMs),
    get: (id) => store.get(id),
    list: (query) => store.list(query),
    purge: (request) => store.purge(request),
    close: () => store.close(),
  };
  const inTransaction = store.saveInTransaction?.bind(store);
  if (inTransaction) {
    wrapped.saveInTransaction = async (work, update, lease) => {
      let kinds: WriteKind[] = [];
      let id = '';
      let log: SagaLog | undefined;
      const result = await inTransaction(
        work,
        (value) => {
          const next = update(value);
          id = next.id;
          log = structuredClone(next.log) as SagaLog;
          kinds = writeKinds(logs.get(id), log);
          around(kinds, 'before', id, log);
          return { ...next, log };
        },
        lease,
      );
      if (result.saved && log) {
        logs.set(id, log);
        around(kinds, 'after', id, log);
      }
      return result;
    };
  }
  return wrapped;
}
