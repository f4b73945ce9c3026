/**
 * The fault-injection harness's own parts: the invariant checker reports each kind of broken
 * saga (so a clean run means something), and the seeded plans have the shapes the harness
 * promises.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { SagaState } from '../../src/saga/index.js';
import type { FakeService, KeyRecord } from './fault-injection/fake-service.js';
import { checkSaga } from './fault-injection/harness.js';
import {
  COMPENSATING_SAGAS,
  cyclePlan,
  effectKey,
  KILL_POINTS,
  type SagaPlan,
  type StepPlan,
  undoKey,
} from './fault-injection/plan.js';

const step = (name: string, overrides: Partial<StepPlan> = {}): StepPlan => ({
  name,
  group: Number(name.slice(1)),
  transactional: false,
  retries: 1,
  onFailure: 'compensate',
  effect: { mode: 'ok', failures: 0 },
  compensate: true,
  compensationRetries: 1,
  undo: { mode: 'ok', failures: 0 },
  ...overrides,
});
const saga: SagaPlan = { id: 'fi_0_0', steps: [step('s0'), step('s1')] };

const attempt = (outcome: 'completed' | 'failed' | 'unknown') => ({
  startedAt: '2026-01-01T00:00:00.000Z',
  outcome,
});

function state(
  status: SagaState['status'],
  steps: Partial<SagaState['steps'][number]>[],
  extra: Partial<SagaState> = {},
): SagaState {
  return {
    id: saga.id,
    name: saga.id,
    version: 1,
    status,
    deadLettered: status === 'failed' || status === 'compensation_failed',
    input: {},
    steps: steps.map((s, index) => ({
      step: `s${index}`,
      index,
      status: 'completed',
      attempts: [attempt('completed')],
      ...s,
    })),
    redrives: 0,
    createdAt: '2026-01-01T00:00:00.000Z',
    updatedAt: '2026-01-01T00:00:00.000Z',
    finishedAt: null,
    ...extra,
  };
}

function service(records: Partial<KeyRecord & { key: string }>[]): FakeService {
  const keys = new Map<string, KeyRecord>();
  for (const r of records) {
    const key = r.key!;
    const isUndo = key.endsWith('/compensate');
    keys.set(key, {
      key,
      phase: isUndo ? 'undo' : 'effect',
      calls: [{ key, saga: saga.id, step: key.split('/')[2]!, attempt: 1 }],
      commits: 1,
      response: { status: 200, body: { receipt: key } },
      failed: 0,
      hung: 0,
      ...r,
    });
  }
  return { url: '', keys, malformed: [], plan: () => {}, close: async () => {} };
}

const effect = (name: string) => effectKey(saga, saga.steps.find((s) => s.name === name)!);
const undo = (name: string) => undoKey(saga, saga.steps.find((s) => s.name === name)!);
const completedSteps = [
  { output: { receipt: effect('s0') } },
  { output: { receipt: effect('s1') } },
];
const noRows = new Map<string, number>();

describe('fault injection: the invariant checker', () => {
  it('passes a completed saga whose effects were each committed once and recorded as answered', () => {
    const found = checkSaga(
      saga,
      state('completed', completedSteps),
      service([{ key: effect('s0') }, { key: effect('s1') }]),
      noRows,
    );
    expect(found).toEqual([]);
  });

  it('reports a saga left active, a missing saga, and a dead letter without a reason', () => {
    expect(checkSaga(saga, undefined, service([]), noRows)).toEqual(['the saga does not exist']);
    expect(
      checkSaga(
        saga,
        state('running', completedSteps),
        service([{ key: effect('s0') }, { key: effect('s1') }]),
        noRows,
      ),
    ).toContain('the saga is still running');
    expect(
      checkSaga(
        saga,
        state('failed', completedSteps),
        service([{ key: effect('s0') }, { key: effect('s1') }]),
        noRows,
      ),
    ).toContain('the saga is failed without a reason');
  });

  it('reports an effect committed twice, and an output that is not what the service answered', () => {
    const tx: SagaPlan = { id: saga.id, steps: [step('s0', { transactional: true })] };
    expect(
      checkSaga(
        tx,
        state('completed', [{}]),
        service([]),
        new Map([[effectKey(tx, tx.steps[0]!), 2]]),
      ),
    ).toContain('step s0: effect committed 2 times');
    expect(
      checkSaga(
        saga,
        state('completed', [{ output: { receipt: 'other' } }, completedSteps[1]!]),
        service([{ key: effect('s0') }, { key: effect('s1') }]),
        noRows,
      ).join('\n'),
    ).toMatch(/step s0: recorded output .* is not the service's answer/);
  });

  it('reports an effect called without a recorded intent, and an undo of a step never started', () => {
    const found = checkSaga(
      saga,
      state('compensated', [{ status: 'failed', attempts: [attempt('failed')] }], {
        failure: { name: 'Error', message: 'declined', step: 's0' },
      }),
      service([
        { key: effect('s1'), commits: 0 },
        { key: undo('s1') },
        { key: effect('s0'), commits: 0 },
      ]),
      noRows,
    );
    expect(found).toContain('step s1: effect called without a recorded intent');
    expect(found).toContain('step s1: undone, but never started');
  });

  it('reports a compensated saga that left a started step undone', () => {
    const found = checkSaga(
      saga,
      state('compensated', [{}, { status: 'failed', attempts: [attempt('failed')] }], {
        failure: { name: 'Error', message: 'declined', step: 's1' },
      }),
      service([{ key: effect('s0') }, { key: effect('s1'), commits: 0 }, { key: undo('s1') }]),
      noRows,
    );
    expect(found.join('\n')).toMatch(/step s0: saga compensated, step started but not undone/);
  });

  it("reports an undo told 'completed' for an effect that was not committed", () => {
    const found = checkSaga(
      saga,
      state('compensated', [{ status: 'failed', attempts: [attempt('unknown')] }], {
        failure: { name: 'Error', message: 'declined', step: 's0' },
      }),
      service([
        { key: effect('s0'), commits: 0 },
        {
          key: undo('s0'),
          calls: [
            {
              key: undo('s0'),
              saga: saga.id,
              step: 's0',
              attempt: 1,
              effectKey: effect('s0'),
              outcome: 'completed',
            },
          ],
        },
      ]),
      noRows,
    );
    expect(found).toContain("step s0: undo told 'completed' for an effect that was not committed");
  });
});

describe('fault injection: seeded plans', () => {
  it('a seed always gives the same cycle; sagas have 1 to 20 steps; kill points go round with the seed', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1_000_000 }), (seed) => {
        const plan = cyclePlan(seed, { batch: 12, transactional: true });
        expect(cyclePlan(seed, { batch: 12, transactional: true })).toEqual(plan);
        expect(plan.kill.point).toBe(KILL_POINTS[seed % KILL_POINTS.length]);
        expect(plan.kill.n).toBeGreaterThanOrEqual(1);
        for (const s of plan.sagas) {
          expect(s.steps.length).toBeGreaterThanOrEqual(1);
          expect(s.steps.length).toBeLessThanOrEqual(20);
          // Groups are numbered in order from 0, without gaps.
          const groups = s.steps.map((st) => st.group);
          expect(groups[0]).toBe(0);
          groups.forEach((g, i) => {
            if (i > 0) expect(g - groups[i - 1]!).toBeGreaterThanOrEqual(0);
            if (i > 0) expect(g - groups[i - 1]!).toBeLessThanOrEqual(1);
          });
        }
        // The sagas sure to compensate: a lone first step to undo, a declined later one.
        for (const s of plan.sagas.slice(0, COMPENSATING_SAGAS)) {
          expect(s.steps[0]).toMatchObject({ compensate: true, undo: { mode: 'ok' } });
          expect(s.steps.filter((st) => st.group === 0)).toHaveLength(1);
          expect(s.steps.some((st) => st.group > 0 && st.effect.mode === 'decline')).toBe(true);
        }
      }),
      { numRuns: 200 },
    );
  });

  it('over a few batches there are parallel groups, transactional, hanging, flaky and failing steps', () => {
    const steps = [1, 2, 3].flatMap((seed) =>
      cyclePlan(seed, { batch: 20, transactional: true }).sagas.flatMap((s) => s.steps),
    );
    const groupsOf = (s: StepPlan[]) => new Set(s.map((st) => st.group)).size;
    expect(groupsOf(steps)).toBeLessThan(steps.length);
    expect(steps.some((s) => s.transactional)).toBe(true);
    for (const mode of ['ok', 'flaky', 'down', 'decline', 'hang-before', 'hang-after']) {
      expect(
        steps.some((s) => s.effect.mode === mode),
        mode,
      ).toBe(true);
    }
    expect(steps.some((s) => s.onFailure === 'dead-letter' && s.effect.mode !== 'ok')).toBe(true);
    expect(steps.some((s) => s.undo.mode === 'down')).toBe(true);
  });
});
