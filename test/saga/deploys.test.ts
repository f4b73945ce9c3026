/**
 * Deploys against in-flight sagas on PostgreSQL. An old runner (version 1: `a`, `b`, `c`) dies
 * while step `b` runs; a new deploy picks the saga up:
 * - a step appended: the saga resumes and runs the new step too;
 * - a step renamed, or two steps swapped: the saga stops `failed` in the dead-letter queue with
 *   SAGA_DEFINITION_MISMATCH naming the recorded step, without running a wrong step;
 * - the old version registered beside the new one: the saga finishes under its own version, and
 *   a dead-lettered one redriven does too; so does one redriven after a compatible deploy.
 */
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  createPostgresBackend,
  createPostgresSagaStore,
  type PostgresSagaStore,
} from '../../src/adapters/postgres/index.js';
import { createSagas, defineSaga, type SagaDefinition } from '../../src/saga/index.js';
import { describeWithPostgres } from '../support/services.js';

describeWithPostgres('saga deploys against in-flight sagas (PostgreSQL)', (postgresUrl) => {
  let pool: pg.Pool;
  let store: PostgresSagaStore;
  beforeAll(async () => {
    pool = new pg.Pool({ connectionString: postgresUrl, max: 4 });
    const backend = createPostgresBackend({ client: pool, schema: 'saga_deploys' });
    await backend.execute('DROP SCHEMA IF EXISTS saga_deploys CASCADE');
    store = createPostgresSagaStore({ backend });
    await store.migrate();
  });
  afterAll(async () => {
    await pool?.end();
  });

  /** Effects as `<version>:<step>:<idempotency key>`, in call order. */
  let calls: string[] = [];
  /** Calls of step `b` by version 1 block until the runner stops (the old runner dies in `b`). */
  const effect =
    (version: number, step: string, blocks = false) =>
    async ({ idempotencyKey, signal }: { idempotencyKey: string; signal: AbortSignal }) => {
      calls.push(`${version}:${step}:${idempotencyKey}`);
      if (blocks) {
        await new Promise((_, reject) => {
          signal.addEventListener('abort', () => reject(signal.reason), { once: true });
        });
      }
      return `${step}@${version}`;
    };
  const fast = { lease: 300, poll: 50 };

  const v1 = defineSaga({ name: 'deploy', version: 1 })
    .step('a', { run: effect(1, 'a') })
    .step('b', { run: effect(1, 'b', true) })
    .step('c', { run: effect(1, 'c') });
  /** Version 1 as the new deploy runs it: `b` no longer blocks. */
  const v1Again = defineSaga({ name: 'deploy', version: 1 })
    .step('a', { run: effect(1, 'a') })
    .step('b', { run: effect(1, 'b') })
    .step('c', { run: effect(1, 'c') });

  /** Starts a saga under version 1 and kills its runner while `b` runs. */
  async function inFlight(id: string): Promise<void> {
    calls = [];
    const old = createSagas({ store, sagas: [v1], leaseMs: fast.lease, pollIntervalMs: fast.poll });
    await old.start(v1, { order: id }, { id });
    const deadline = Date.now() + 10_000;
    while (!calls.includes(`1:b:deploy/${id}/b`)) {
      if (Date.now() > deadline) throw new Error('step b never started');
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    // The old runner stops without another write: its lease runs out as if it had crashed.
    await old.close({ timeoutMs: 0 });
  }

  async function deploy(id: string, sagas: SagaDefinition<never, never>[]) {
    const engine = createSagas({
      store,
      sagas: sagas as never,
      leaseMs: fast.lease,
      pollIntervalMs: fast.poll,
    });
    engine.startRunner();
    const state = await engine.wait(id, { timeoutMs: 15_000 });
    return { engine, state };
  }

  it('append a step: the in-flight saga resumes and runs the new step', async () => {
    await inFlight('append-1');
    const appended = defineSaga({ name: 'deploy', version: 1 })
      .step('a', { run: effect(1, 'a') })
      .step('b', { run: effect(1, 'b') })
      .step('c', { run: effect(1, 'c') })
      .step('d', { run: effect(1, 'd') });
    const { engine, state } = await deploy('append-1', [appended as never]);
    await engine.close();
    expect(state.status).toBe('completed');
    expect(state.output).toEqual({ a: 'a@1', b: 'b@1', c: 'c@1', d: 'd@1' });
    // `b`'s outcome was unknown: run again with the same key; nothing else ran twice.
    expect(calls).toEqual([
      '1:a:deploy/append-1/a',
      '1:b:deploy/append-1/b',
      '1:b:deploy/append-1/b',
      '1:c:deploy/append-1/c',
      '1:d:deploy/append-1/d',
    ]);
    expect(state.steps[1]!.attempts.map((a) => a.outcome)).toEqual(['unknown', 'completed']);
  });

  for (const variant of [
    {
      name: 'rename a step',
      reason: 'renamed',
      v2: defineSaga({ name: 'deploy', version: 2 })
        .step('a', { run: effect(2, 'a') })
        .step('b2', { run: effect(2, 'b2') })
        .step('c', { run: effect(2, 'c') }),
    },
    {
      name: 'reorder steps',
      reason: 'moved',
      v2: defineSaga({ name: 'deploy', version: 2 })
        .step('a', { run: effect(2, 'a') })
        .step('c', { run: effect(2, 'c') })
        .step('b', { run: effect(2, 'b') }),
    },
  ]) {
    const slug = variant.reason;
    it(`${variant.name}: the in-flight saga is dead-lettered naming the step, then redriven under the old version`, async () => {
      const id = `${slug}-1`;
      await inFlight(id);
      const { engine, state } = await deploy(id, [variant.v2 as never]);
      expect(state.status).toBe('failed');
      expect(state.deadLettered).toBe(true);
      expect(state.error).toMatchObject({ code: 'SAGA_DEFINITION_MISMATCH', step: 'b' });
      expect(state.error!.message).toContain('"b"');
      expect((await engine.deadLetters()).sagas.map((s) => s.id)).toContain(id);
      await engine.close();
      // No step of the new definition ran, and nothing ran again.
      expect(calls).toEqual([`1:a:deploy/${id}/a`, `1:b:deploy/${id}/b`]);

      // The old version registered beside the new one: a redrive finishes it under version 1.
      const both = createSagas({
        store,
        sagas: [v1Again, variant.v2] as never,
        leaseMs: fast.lease,
        pollIntervalMs: fast.poll,
      });
      await both.redrive(id);
      const after = await both.wait(id, { timeoutMs: 15_000 });
      await both.close();
      expect(after.status).toBe('completed');
      expect(after.output).toEqual({ a: 'a@1', b: 'b@1', c: 'c@1' });
      expect(after.redrives).toBe(1);
      expect(calls.slice(2)).toEqual([`1:b:deploy/${id}/b`, `1:c:deploy/${id}/c`]);
    });

    it(`${variant.name}: with the old version registered beside the new one, the in-flight saga just finishes`, async () => {
      const id = `${slug}-2`;
      await inFlight(id);
      const { engine, state } = await deploy(id, [v1Again as never, variant.v2 as never]);
      await engine.close();
      expect(state.status).toBe('completed');
      expect(state.output).toEqual({ a: 'a@1', b: 'b@1', c: 'c@1' });
      expect(calls.filter((c) => c.startsWith('2:'))).toEqual([]);
    });
  }

  it('redrive after deploying a compatible definition finishes a dead-lettered saga', async () => {
    const id = 'compatible-1';
    await inFlight(id);
    const renamed = defineSaga({ name: 'deploy', version: 2 })
      .step('a', { run: effect(2, 'a') })
      .step('b2', { run: effect(2, 'b2') })
      .step('c', { run: effect(2, 'c') });
    const first = await deploy(id, [renamed as never]);
    await first.engine.close();
    expect(first.state.error).toMatchObject({ code: 'SAGA_DEFINITION_MISMATCH', step: 'b' });

    // The fix deployed: version 3 keeps `a`, `b`, `c` where they were and appends `d`.
    const fixed = defineSaga({ name: 'deploy', version: 3 })
      .step('a', { run: effect(3, 'a') })
      .step('b', { run: effect(3, 'b') })
      .step('c', { run: effect(3, 'c') })
      .step('d', { run: effect(3, 'd') });
    const engine = createSagas({
      store,
      sagas: [fixed as never],
      leaseMs: fast.lease,
      pollIntervalMs: fast.poll,
    });
    await engine.redrive(id);
    const after = await engine.wait(id, { timeoutMs: 15_000 });
    await engine.close();
    expect(after.status).toBe('completed');
    expect(after.output).toEqual({ a: 'a@1', b: 'b@3', c: 'c@3', d: 'd@3' });
    expect(calls.slice(2)).toEqual([
      `3:b:deploy/${id}/b`,
      `3:c:deploy/${id}/c`,
      `3:d:deploy/${id}/d`,
    ]);
  });
});
