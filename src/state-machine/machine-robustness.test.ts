/**
 * Edge cases of the pure machine found by an audit: names that are Object.prototype keys,
 * malformed snapshots, misbehaving guards and assigns, colliding Mermaid ids, deadlines past
 * year 9999 and payloads on events declared without one.
 */
import { describe as describeBlock, expect, it } from 'vitest';
import { z } from 'zod';
import { type FlowproofError, isFlowproofError } from '../core/errors.js';
import { machineInternals } from './define-machine.js';
import { defineMachine, describe, type Snapshot } from './index.js';
import { toMermaid } from './mermaid/index.js';

/** The error `fn` throws (the test fails when it does not throw). */
function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  return expect.unreachable('expected an error');
}

describeBlock('names that are Object.prototype keys', () => {
  it('compiles and runs machines whose events are named constructor, toString, valueOf…', () => {
    const machine = defineMachine({
      id: 'proto',
      initial: 'a',
      events: { constructor: null, toString: null, valueOf: null, hasOwnProperty: null, go: null },
      states: {
        a: { on: { go: 'b' } },
        b: { on: { constructor: 'a', toString: 'b' } },
        c: { terminal: true },
      },
      anyState: { valueOf: 'c' },
    } as never);
    const start = machine.initialSnapshot() as Snapshot;
    expect(machine.allowedEvents('a' as never)).toEqual(['valueOf', 'go']);
    expect(machine.allowedEvents('b' as never)).toEqual(['constructor', 'toString', 'valueOf']);
    const b = machine.transition(start as never, { type: 'go' } as never).snapshot;
    expect(machine.transition(b, { type: 'constructor' } as never).snapshot.state).toBe('a');
    expect(machine.transition(b, { type: 'valueOf' } as never).snapshot.state).toBe('c');
    expect(
      isFlowproofError(
        thrown(() => machine.transition(start as never, { type: 'hasOwnProperty' } as never)),
        'STATE_TRANSITION_DENIED',
      ),
    ).toBe(true);
    expect(describe(machine).transitions.map((t) => `${t.from} ${t.event} ${t.to}`)).toEqual([
      'a valueOf c',
      'a go b',
      'b constructor a',
      'b toString b',
      'b valueOf c',
    ]);
    expect(toMermaid(machine)).toContain('  b --> a : constructor\n');
  });

  it('keeps the name of a state named like a prototype key that a migration does not map', () => {
    const machine = defineMachine({
      id: 'proto',
      version: 2,
      initial: 'constructor',
      events: { go: null },
      states: { constructor: { on: { go: 'b' } }, b: {} },
      migrations: [{ from: 1, states: { old: 'b' } }],
    } as never);
    const old = { machineId: 'proto', version: 1, state: 'constructor', stateVersion: 3, data: 1 };
    expect(machine.migrateSnapshot(old)).toEqual({ ...old, version: 2 });
    expect(machine.migrateSnapshot({ ...old, state: 'old' }).state).toBe('b');
  });
});

describeBlock('malformed snapshots', () => {
  const machine = defineMachine({
    id: 'm',
    initial: 'a',
    events: { go: null },
    states: { a: { on: { go: 'b' } }, b: {} },
  });
  const start = machine.initialSnapshot();

  it.each([
    ['stateVersion "1"', { ...start, stateVersion: '1' }],
    ['stateVersion 1.5', { ...start, stateVersion: 1.5 }],
    ['stateVersion NaN', { ...start, stateVersion: Number.NaN }],
    ['stateVersion 0', { ...start, stateVersion: 0 }],
    ['state 5', { ...start, state: 5 }],
    ['null', null],
    ['undefined', undefined],
  ])('transition() refuses a snapshot with %s with a TypeError naming snapshot', (_, snapshot) => {
    const error = thrown(() => machine.transition(snapshot as never, { type: 'go' }));
    expect(error).toBeInstanceOf(TypeError);
    expect((error as Error).message).toMatch(/^snapshot /);
  });

  const v3 = defineMachine({
    id: 'm',
    version: 3,
    initial: 'a',
    events: { go: null },
    states: { a: {} },
    migrations: [
      { from: 1, data: () => 'v2' },
      { from: 2, data: () => 'v3' },
    ],
  });
  const old = { machineId: 'm', version: 1, state: 'a', stateVersion: 1, data: 'v1' };

  it.each([
    ['no version', { ...old, version: undefined }],
    ['version null', { ...old, version: null }],
    ['version NaN', { ...old, version: Number.NaN }],
    ['version "1"', { ...old, version: '1' }],
    ['version 1.5', { ...old, version: 1.5 }],
    ['version 0', { ...old, version: 0 }],
    ['no machineId', { ...old, machineId: undefined }],
    ['state 5', { ...old, state: 5 }],
    ['stateVersion "x"', { ...old, stateVersion: 'x' }],
    ['null', null],
  ])('migrateSnapshot() refuses a snapshot with %s with a TypeError', (_, snapshot) => {
    const error = thrown(() => v3.migrateSnapshot(snapshot as never));
    expect(error).toBeInstanceOf(TypeError);
    expect((error as Error).message).toMatch(/^snapshot /);
  });

  it('migrateSnapshot() still migrates well-formed snapshots', () => {
    expect(v3.migrateSnapshot(old)).toEqual({ ...old, version: 3, data: 'v3' });
    expect(isFlowproofError(thrown(() => v3.migrateSnapshot({ ...old, machineId: 'x' })))).toBe(
      true,
    );
  });
});

describeBlock('guards and assigns', () => {
  const withGuard = (guard: unknown, assign?: unknown) =>
    defineMachine({
      id: 'm',
      initial: 'a',
      events: { go: null },
      states: {
        a: { on: { go: [{ target: 'b', guard, assign } as never, { target: 'c' }] } },
        b: {},
        c: {},
      },
    });

  it.each([
    [
      'a promise',
      async function isReady() {
        return false;
      },
    ],
    [
      'a string',
      function isReady() {
        return 'false';
      },
    ],
    [
      '0',
      function isReady() {
        return 0;
      },
    ],
    [
      'an object',
      function isReady() {
        return {};
      },
    ],
  ])('a guard returning %s is a TypeError naming the guard, state and event', (_, guard) => {
    const machine = withGuard(guard);
    const error = thrown(() => machine.transition(machine.initialSnapshot(), { type: 'go' }));
    expect(error).toBeInstanceOf(TypeError);
    expect((error as Error).message).toMatch(/guard "isReady"/);
    expect((error as Error).message).toMatch(/state "a"/);
    expect((error as Error).message).toMatch(/event "go"/);
    expect((error as Error).message).toMatch(/boolean/);
  });

  it('an assign returning a promise is a TypeError, in transition() and in the entities path', () => {
    const machine = withGuard(undefined, async () => ({ n: 2 }));
    for (const decide of [machine.transition, machineInternals(machine).decide]) {
      const error = thrown(() => decide(machine.initialSnapshot(), { type: 'go' }));
      expect(error).toBeInstanceOf(TypeError);
      expect((error as Error).message).toMatch(
        /assign of event "go" in state "a" must be synchronous/,
      );
    }
  });

  it('boolean guards and synchronous assigns still work', () => {
    const machine = withGuard(
      (data: { n: number }) => data.n > 0,
      (data: { n: number }) => ({ n: data.n + 1 }),
    );
    const next = machine.transition({ ...machine.initialSnapshot(), data: { n: 1 } } as never, {
      type: 'go',
    });
    expect(next.snapshot).toMatchObject({ state: 'b', data: { n: 2 } });
  });
});

describeBlock('toMermaid ids', () => {
  it('never gives a renamed state the id of another state', () => {
    const machine = defineMachine({
      id: 'w',
      initial: 'a',
      events: { go: null, back: null },
      states: { a: { on: { go: 'b.c' } }, 'b.c': { on: { go: 's1' } }, s1: { on: { back: 'a' } } },
    });
    expect(toMermaid(machine)).toBe(
      [
        'stateDiagram-v2',
        '  state "b.c" as s1_',
        '  [*] --> a',
        '  a --> s1_ : go',
        '  s1_ --> s1 : go',
        '  s1 --> a : back',
        '',
      ].join('\n'),
    );
  });
});

describeBlock('state deadlines', () => {
  const HUNDRED_YEARS = 100 * 365 * 86_400_000;
  const withDelay = (delayMs: number) =>
    defineMachine({
      id: 'm',
      initial: 'a',
      events: { t: null },
      states: { a: { on: { t: 'b' }, after: { delayMs, event: 't' } }, b: {} },
    });

  it('accepts a delay of up to 100 years and refuses longer ones naming the option', () => {
    expect(describe(withDelay(HUNDRED_YEARS)).states[0]?.timer?.delayMs).toBe(HUNDRED_YEARS);
    for (const delayMs of [HUNDRED_YEARS + 1, Number.MAX_SAFE_INTEGER]) {
      expect(() => withDelay(delayMs)).toThrow(TypeError);
      expect(() => withDelay(delayMs)).toThrow(/config\.states\.a\.after\.delayMs/);
    }
  });
});

describeBlock('events without payload', () => {
  const machine = defineMachine({
    id: 'm',
    initial: 'a',
    events: { go: null, pay: z.object({ amount: z.number() }) },
    states: { a: { on: { go: 'b', pay: 'b' } }, b: {} },
  });

  it('refuses a payload on an event declared with null with VALIDATION_FAILED', () => {
    const error = thrown(() =>
      machine.transition(machine.initialSnapshot(), { type: 'go', payload: { x: 1 } } as never),
    );
    expect(isFlowproofError(error, 'VALIDATION_FAILED')).toBe(true);
    expect((error as FlowproofError).message).toMatch(/no payload/);
    expect((error as FlowproofError).details).toMatchObject({ machineId: 'm', event: 'go' });
    expect(
      machine.transition(machine.initialSnapshot(), { type: 'go', payload: undefined }).snapshot
        .state,
    ).toBe('b');
  });
});
