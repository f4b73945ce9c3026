/**
 * What the pure machine refuses: `anyState` transitions that can never fire, initial data its
 * schema refuses, misspelled options, and arguments that cannot be read (revoked proxies, getters
 * that throw, symbols, BigInt, cyclic values).
 */
import fc from 'fast-check';
import { describe as describeBlock, expect, it } from 'vitest';
import { z } from 'zod';
import { expectNoEngineError, oddValue } from '../../test/support/odd-values.js';
import { FlowproofError, isFlowproofError } from '../core/errors.js';
import type { StandardSchemaV1 } from '../core/standard-schema.js';
import { defineMachine } from './define-machine.js';
import { describe } from './describe.js';
import { toMermaid } from './mermaid/to-mermaid.js';

const events = { start: null, stop: null, cancel: null } as const;

describeBlock('anyState transitions that can never fire', () => {
  it('are refused when every non-terminal state handles the event itself, naming the event', () => {
    const define = () =>
      defineMachine({
        id: 'job',
        initial: 'idle',
        events,
        states: {
          idle: { on: { start: 'running', cancel: 'cancelled' } },
          running: { on: { stop: 'idle', cancel: 'cancelled' } },
          cancelled: { terminal: true },
        },
        anyState: { cancel: 'cancelled' },
      });
    expect(define).toThrow(TypeError);
    expect(define).toThrow(/config\.anyState\.cancel/);
  });

  it('are refused even when the states’ own transitions are guarded: those replace anyState', () => {
    const define = () =>
      defineMachine({
        id: 'job',
        initial: 'idle',
        events,
        states: {
          idle: { on: { start: 'running', cancel: { target: 'cancelled', guard: () => false } } },
          running: { on: { cancel: [{ target: 'cancelled', guard: () => false }] } },
          cancelled: { terminal: true },
        },
        anyState: { cancel: 'cancelled' },
      });
    expect(define).toThrow(/config\.anyState\.cancel/);
  });

  it('are refused when there is no non-terminal state at all', () => {
    expect(() =>
      defineMachine({
        id: 'done',
        initial: 'done',
        events,
        states: { done: { terminal: true } },
        anyState: { cancel: 'done' },
      }),
    ).toThrow(/config\.anyState\.cancel/);
  });

  it('a state’s own guarded transition shadows anyState: when its guards refuse, the event is denied', () => {
    const job = defineMachine({
      id: 'job',
      initial: 'idle',
      events,
      states: {
        idle: { on: { start: 'running' } },
        running: { on: { stop: 'idle', cancel: { target: 'cancelled', guard: () => false } } },
        cancelled: { terminal: true },
      },
      anyState: { cancel: 'cancelled' },
    });
    // `idle` lacks its own `cancel`: the anyState transition is reachable there.
    expect(job.transition(job.initialSnapshot(), { type: 'cancel' }).snapshot.state).toBe(
      'cancelled',
    );
    const running = { ...job.initialSnapshot(), state: 'running' as const };
    try {
      job.transition(running, { type: 'cancel' });
      expect.unreachable();
    } catch (error) {
      expect(isFlowproofError(error, 'STATE_TRANSITION_DENIED')).toBe(true);
      expect((error as FlowproofError).details).toMatchObject({ reason: 'guard' });
    }
  });

  it('are accepted exactly when some non-terminal state lacks its own transition (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ terminal: fc.boolean(), handles: fc.boolean() }), {
          minLength: 1,
          maxLength: 6,
        }),
        (shape) => {
          const states = Object.fromEntries(
            shape.map(({ terminal, handles }, index) => [
              `s${index}`,
              terminal ? { terminal: true } : handles ? { on: { cancel: 's0' } } : {},
            ]),
          );
          const reachable = shape.some(({ terminal, handles }) => !terminal && !handles);
          const define = () =>
            defineMachine({
              id: 'm',
              initial: 's0',
              events,
              states,
              anyState: { cancel: 's0' },
            } as never);
          if (reachable) expect(define).not.toThrow();
          else expect(define).toThrow(/config\.anyState\.cancel/);
        },
      ),
    );
  });
});

describeBlock('initialSnapshot()', () => {
  const account = defineMachine({
    id: 'account',
    initial: 'open',
    data: z.object({ owner: z.string().min(1), credits: z.number().int().default(0) }),
    events: { close: null },
    states: { open: { on: { close: 'closed' } }, closed: { terminal: true } },
  });

  it('validates data with the machine’s data schema: VALIDATION_FAILED with the issues', () => {
    try {
      account.initialSnapshot({ owner: '', credits: 1.5 });
      expect.unreachable();
    } catch (error) {
      expect(isFlowproofError(error, 'VALIDATION_FAILED')).toBe(true);
      const { details, message } = error as FlowproofError;
      expect(message).toMatch(/data of machine "account" is invalid/);
      expect(details).toMatchObject({ machineId: 'account' });
      expect((details.issues as { path: unknown[] }[]).map((issue) => issue.path)).toEqual([
        ['owner'],
        ['credits'],
      ]);
    }
    expect(() => account.initialSnapshot(undefined as never)).toThrow(FlowproofError);
  });

  it('returns the schema’s output, as create() stores it', () => {
    expect(account.initialSnapshot({ owner: 'ada' } as never).data).toEqual({
      owner: 'ada',
      credits: 0,
    });
  });

  it('refuses an asynchronous data schema with a TypeError', () => {
    const asyncSchema: StandardSchemaV1<unknown, undefined> = {
      '~standard': {
        version: 1,
        vendor: 'test',
        validate: async (value) => ({ value: value as undefined }),
      },
    };
    const machine = defineMachine({
      id: 'm',
      initial: 'a',
      data: asyncSchema,
      events: {},
      states: { a: {} },
    });
    expect(() => machine.initialSnapshot()).toThrow(TypeError);
    expect(() => machine.initialSnapshot()).toThrow(/asynchronous/);
  });

  it('keeps data as given when the machine has no data schema', () => {
    const plain = defineMachine({ id: 'p', initial: 'a', events: {}, states: { a: {} } });
    expect(plain.initialSnapshot()).toEqual({
      machineId: 'p',
      version: 1,
      state: 'a',
      stateVersion: 1,
      data: undefined,
    });
  });
});

describeBlock('misspelled options', () => {
  const base = {
    id: 'm',
    initial: 'a',
    events: { go: null, tick: null },
    states: { a: { on: { go: 'b' } }, b: { on: { go: 'a' } } },
  } as const;
  const cases: [string, unknown, RegExp][] = [
    ['machine config', { ...base, inital: 'a' }, /unknown option config\.inital\b/],
    [
      'state config',
      { ...base, states: { ...base.states, b: { termnial: true } } },
      /unknown option config\.states\.b\.termnial\b/,
    ],
    [
      'transition config',
      {
        ...base,
        states: { ...base.states, a: { on: { go: { target: 'b', gaurd: () => true } } } },
      },
      /unknown option config\.states\.a\.on\.go\.gaurd\b/,
    ],
    [
      'transition alternative',
      { ...base, states: { ...base.states, a: { on: { go: [{ target: 'b', efects: [] }] } } } },
      /unknown option config\.states\.a\.on\.go\[0\]\.efects\b/,
    ],
    [
      'anyState transition',
      { ...base, anyState: { tick: { target: 'a', asign: (d: unknown) => d } } },
      /unknown option config\.anyState\.tick\.asign\b/,
    ],
    [
      'timer',
      {
        ...base,
        states: { ...base.states, a: { on: { go: 'b' }, after: { delay: 5, event: 'go' } } },
      },
      /unknown option config\.states\.a\.after\.delay\b/,
    ],
    [
      'migration step',
      { ...base, version: 2, migrations: [{ from: 1, state: { x: 'a' } }] },
      /unknown option config\.migrations\[0\]\.state\b/,
    ],
  ];
  for (const [what, config, message] of cases) {
    it(`in a ${what} are refused with a TypeError naming them`, () => {
      expect(() => defineMachine(config as never)).toThrow(TypeError);
      expect(() => defineMachine(config as never)).toThrow(message);
    });
  }

  it('in toMermaid options are refused, naming them', () => {
    const machine = defineMachine(base);
    expect(() => toMermaid(machine, { directon: 'LR' } as never)).toThrow(
      /unknown option options\.directon\b/,
    );
    expect(toMermaid(machine, { direction: 'LR', effects: false })).toMatch(/direction LR/);
  });

  it('every documented option is accepted', () => {
    const machine = defineMachine({
      id: 'full',
      version: 2,
      description: 'all options',
      initial: 'a',
      data: z.number().optional(),
      effects: ['fx'],
      events: { go: null, back: null, tick: null },
      states: {
        a: {
          description: 'a',
          entry: ['fx'],
          on: {
            go: {
              target: 'b',
              guard: () => true,
              assign: (d) => d,
              effects: ['fx'],
              description: 'go',
            },
          },
          after: { delayMs: 1, event: 'tick' },
        },
        b: { on: { back: 'a', go: 'c' } },
        c: { terminal: true },
      },
      anyState: { tick: 'a' },
      migrations: [{ from: 1, states: { old: 'a' }, data: (d) => d }],
    });
    expect(describe(machine).transitions).toHaveLength(5);
  });
});

describeBlock('the definition', () => {
  it('is read once: changing the config object afterwards changes nothing', () => {
    const config = {
      id: 'm',
      initial: 'a' as 'a' | 'b',
      events: { go: null },
      states: { a: { on: { go: 'b' as 'a' | 'b' } }, b: {} },
    };
    const machine = defineMachine(config);
    config.initial = 'b';
    config.states.a.on.go = 'a';
    expect(machine.initialSnapshot().state).toBe('a');
    expect(machine.transition(machine.initialSnapshot(), { type: 'go' }).snapshot.state).toBe('b');
  });
});

describeBlock('odd arguments to every public entry of the pure machine', () => {
  const machine = defineMachine({
    id: 'odd',
    initial: 'a',
    data: z.object({ n: z.number() }).optional(),
    events: { go: z.object({ x: z.string() }), back: null },
    states: { a: { on: { go: 'b' } }, b: { on: { back: 'a' } } },
    migrations: [],
  });
  const good = machine.initialSnapshot();

  it('are TypeErrors naming the argument or FlowproofErrors (property)', async () => {
    await fc.assert(
      fc.asyncProperty(oddValue, async (make) => {
        await expectNoEngineError('config', () => defineMachine(make() as never));
        await expectNoEngineError('config', () =>
          defineMachine({ id: 'm', initial: 'a', events: make(), states: { a: {} } } as never),
        );
        await expectNoEngineError('config', () =>
          defineMachine({ id: 'm', initial: 'a', events: {}, states: { a: make() } } as never),
        );
        await expectNoEngineError('config', () =>
          defineMachine({
            id: 'm',
            initial: 'a',
            events: { go: null },
            states: { a: { on: { go: make() } } },
          } as never),
        );
        await expectNoEngineError('config', () =>
          defineMachine({
            id: 'm',
            initial: 'a',
            events: { go: null },
            states: { a: { on: { go: { target: make(), guard: make() } } } },
          } as never),
        );
        await expectNoEngineError('config', () =>
          defineMachine({
            id: 'm',
            initial: 'a',
            version: 2,
            events: {},
            states: { a: { entry: make() } },
            migrations: [make()],
          } as never),
        );
        await expectNoEngineError('data', () => machine.initialSnapshot(make() as never));
        await expectNoEngineError('snapshot', () =>
          machine.transition(make() as never, { type: 'go', payload: { x: '1' } }),
        );
        await expectNoEngineError('snapshot', () =>
          machine.transition({ ...good, data: make() } as never, {
            type: 'go',
            payload: { x: '1' },
          }),
        );
        await expectNoEngineError('event', () => machine.transition(good, make() as never));
        await expectNoEngineError('event', () =>
          machine.transition(good, { type: 'go', payload: make() } as never),
        );
        await expectNoEngineError('snapshot', () => machine.migrateSnapshot(make() as never));
        await expectNoEngineError('state', () => machine.allowedEvents(make() as never));
        await expectNoEngineError('state', () => machine.isTerminal(make() as never));
        await expectNoEngineError('machine', () => describe(make() as never));
        await expectNoEngineError('machine', () => toMermaid(make() as never));
        await expectNoEngineError('options', () => toMermaid(machine, make() as never));
      }),
      { numRuns: 300 },
    );
  });
});
