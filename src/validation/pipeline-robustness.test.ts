import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { useTestTracing } from '../../test/support/opentelemetry.js';
import { FlowproofError, isFlowproofError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { StandardSchemaV1 } from '../core/standard-schema.js';
import { pipeline, type StageEvent } from './index.js';
import { rejection, syncRejection } from './rejection.fixture.js';

function revokedProxy(): object {
  const { proxy, revoke } = Proxy.revocable({}, {});
  revoke();
  return proxy;
}

type Trap = 'getPrototypeOf' | 'get' | 'has' | 'ownKeys' | 'getOwnPropertyDescriptor';

/** A proxy over `{ a: 1 }` whose listed traps throw; the others behave normally. */
function hostileProxy(traps: readonly Trap[]): object {
  const handler: ProxyHandler<object> = {};
  for (const trap of traps) {
    handler[trap] = () => {
      throw new Error(`${trap} trap`);
    };
  }
  return new Proxy({ a: 1 }, handler);
}

/** A proxy whose prototype can be read `times` times, and then no more. */
function failingLater(times: number): object {
  let reads = 0;
  return new Proxy(
    { a: 1 },
    {
      getPrototypeOf(target) {
        reads++;
        if (reads > times) throw new Error('getPrototypeOf trap');
        return Reflect.getPrototypeOf(target);
      },
    },
  );
}

const throwingLogger = (): Logger => {
  const down = () => {
    throw new Error('logger down');
  };
  const logger: Logger = { debug: down, info: down, warn: down, error: down, child: () => logger };
  return logger;
};

afterEach(() => {
  vi.restoreAllMocks();
});

/** For arbitrary input, hostile or not, no stage escapes with a non-flowproof error. */
async function assertNothingEscapes(): Promise<void> {
  // Recipes, not values: fast-check inspects what it generates, and these values must not be.
  const hostile = fc.oneof(
    fc.constant(() => revokedProxy()),
    fc
      .subarray(['getPrototypeOf', 'get', 'has', 'ownKeys', 'getOwnPropertyDescriptor'] as const, {
        minLength: 1,
      })
      .map((traps) => () => hostileProxy(traps)),
    fc.integer({ min: 0, max: 6 }).map((times) => () => failingLater(times)),
    fc.constantFrom('a', 'then').map(
      (key) => () =>
        Object.defineProperty({}, key, {
          enumerable: true,
          get() {
            throw new Error(`getter ${key}`);
          },
        }),
    ),
    fc.anything().map((value) => () => value),
  );
  const Shape = z.object({ a: z.number() });
  const sink = () => {};
  const shapes = [
    pipeline('p').transform('id', (v: unknown) => v),
    pipeline('p').transform('spread', (v: unknown) => ({ ...(v as object) })),
    pipeline('p').validate('shape', Shape, { allowFieldLoss: true }),
    pipeline('p').validate('into', Shape, { into: 'parsed' }),
    pipeline<{ a: unknown }>('p').validate('at', z.number(), { at: 'a' }),
    pipeline('p').validate('fallback', Shape, {
      onError: { fallback: (failure) => failure.value as { a: number } },
    }),
    pipeline('p', { deadLetter: sink }).validate('dead', Shape, { onError: 'dead-letter' }),
    pipeline('p', { logger: throwingLogger(), onStage: () => {} }).transform(
      'observed',
      (v: unknown) => v,
    ),
  ].map((builder) => builder.build());
  await fc.assert(
    fc.asyncProperty(hostile, fc.nat(shapes.length - 1), async (make, index) => {
      const built = shapes[index] as (typeof shapes)[number];
      try {
        built.runSync(make() as never);
      } catch (error) {
        expect(isFlowproofError(error)).toBe(true);
      }
      await built.run(make() as never).then(
        () => {},
        (error: unknown) => expect(isFlowproofError(error)).toBe(true),
      );
    }),
    { numRuns: 300 },
  );
}

describe('stage outputs that cannot be inspected', () => {
  it('fail the stage with PIPELINE_STAGE_FAILED instead of escaping as a TypeError', async () => {
    const id = pipeline('p')
      .transform('id', (v: unknown) => v)
      .build();
    for (const hostile of [revokedProxy(), hostileProxy(['getPrototypeOf'])]) {
      const expected = {
        code: 'PIPELINE_STAGE_FAILED',
        details: { pipeline: 'p', stage: 'id', during: 'output check' },
      };
      expect(syncRejection(() => id.runSync(hostile))).toMatchObject(expected);
      expect(await rejection(id.run(hostile))).toMatchObject(expected);
    }
  });

  it('follow the stage policy: a fallback replaces the output', () => {
    const built = pipeline('p')
      .transform('id', (v: unknown) => v, { onError: { fallback: 'safe' } })
      .build();
    expect(built.runSync(revokedProxy())).toMatchObject({
      status: 'flagged',
      value: 'safe',
      flags: [{ stage: 'id', error: { code: 'PIPELINE_STAGE_FAILED' } }],
    });
  });

  it('a fallback or dead-letter sink returning such a value fails with a flowproof code', () => {
    const fallingBack = pipeline('p')
      .transform(
        't',
        (): unknown => {
          throw new Error('bug');
        },
        { onError: { fallback: () => revokedProxy() } },
      )
      .build();
    expect(syncRejection(() => fallingBack.runSync(1))).toMatchObject({
      code: 'PIPELINE_STAGE_FAILED',
      details: { stage: 't', during: 'fallback' },
    });
    const sinking = pipeline('p', { deadLetter: (() => revokedProxy()) as never })
      .validate('n', z.number(), { onError: 'dead-letter' })
      .build();
    expect(syncRejection(() => sinking.runSync('x'))).toMatchObject({
      code: 'PIPELINE_DEAD_LETTER_FAILED',
      details: { stage: 'n', originalCode: 'PIPELINE_REJECTED' },
    });
  });

  it('an output whose prototype becomes unreadable after a few reads never escapes', () => {
    const built = pipeline('p')
      .transform('id', (v: unknown) => v)
      .build();
    for (let times = 0; times <= 6; times++) {
      const result = built.runSync(failingLater(times));
      if (!result.ok) expect(result.error).toBeInstanceOf(FlowproofError);
    }
  });

  it('for arbitrary input, hostile or not, no stage escapes with a non-flowproof error', () =>
    assertNothingEscapes());

  it('a fallback value is never read as a promise, even when the stage failed asynchronously', async () => {
    // biome-ignore lint/suspicious/noThenProperty: a value that looks like a promise is the point.
    const thenable = { then: () => {} };
    const built = pipeline('p')
      .enrich(
        'e',
        async (): Promise<unknown> => {
          throw new Error('catalog offline');
        },
        { onError: { fallback: thenable } },
      )
      .build();
    const result = await built.run(1);
    expect(result).toMatchObject({ status: 'flagged' });
    expect(result.ok && result.value).toBe(thenable);
    const trapped = pipeline('p')
      .enrich('e', async (): Promise<unknown> => Promise.reject(new Error('x')), {
        onError: { fallback: () => hostileProxy(['get']) },
      })
      .build();
    expect((await trapped.run(1)).status).toBe('flagged');
  }, 2000);
});

describe('with tracing on', () => {
  useTestTracing();

  it('no stage escapes with a non-flowproof error either', () => assertNothingEscapes());
});

describe('runSync when a schema throws during its synchronous parse', () => {
  const Config = z.object({ raw: z.string().transform((s) => JSON.parse(s) as unknown) });

  it('reports PIPELINE_STAGE_FAILED, as run() does, not "returned a promise"', async () => {
    const built = pipeline('cfg').validate('parse', Config, { allowFieldLoss: true }).build();
    const expected = {
      code: 'PIPELINE_STAGE_FAILED',
      details: { pipeline: 'cfg', stage: 'parse' },
      cause: expect.any(SyntaxError),
    };
    expect(syncRejection(() => built.runSync({ raw: '{bad' }))).toMatchObject(expected);
    expect(await rejection(built.run({ raw: '{bad' }))).toMatchObject(expected);
    expect(built.runSync({ raw: '{"a":1}' })).toMatchObject({ value: { raw: { a: 1 } } });
  });

  it('agrees with run() when a getter throws only on its first read', async () => {
    // zod's Standard Schema entry parses again asynchronously after a synchronous throw; run()
    // then saw the second read succeed while runSync() reported a promise.
    const flaky = () => {
      let reads = 0;
      return Object.defineProperty({}, 'raw', {
        enumerable: true,
        get() {
          reads += 1;
          if (reads === 1) throw new Error('first read fails');
          return '{}';
        },
      });
    };
    const built = pipeline('p').validate('parse', Config).build();
    const expected = {
      code: 'PIPELINE_STAGE_FAILED',
      message: expect.stringContaining('first read'),
    };
    expect(syncRejection(() => built.runSync(flaky()))).toMatchObject(expected);
    expect(await rejection(built.run(flaky()))).toMatchObject(expected);
    const atField = pipeline<{ config: unknown }>('p')
      .validate('parse', Config, { at: 'config' })
      .build();
    expect(syncRejection(() => atField.runSync({ config: flaky() }))).toMatchObject(expected);
    expect(await rejection(atField.run({ config: flaky() }))).toMatchObject(expected);
  });

  it('covers a getter that throws in the input, `at` stages and the stage policy', () => {
    const input = {
      get raw(): string {
        throw new Error('no access');
      },
    };
    const strict = pipeline('p').validate('parse', Config).build();
    expect(syncRejection(() => strict.runSync(input))).toMatchObject({
      code: 'PIPELINE_STAGE_FAILED',
      message: expect.stringContaining('no access'),
    });
    const atField = pipeline<{ config: unknown }>('p')
      .validate('parse', Config, { at: 'config' })
      .build();
    expect(syncRejection(() => atField.runSync({ config: { raw: '{bad' } }))).toMatchObject({
      code: 'PIPELINE_STAGE_FAILED',
      details: { stage: 'parse' },
    });
    const fallingBack = pipeline('p')
      .validate('parse', Config, { onError: { fallback: { raw: null } } })
      .build();
    expect(fallingBack.runSync({ raw: '{bad' })).toMatchObject({
      status: 'flagged',
      value: { raw: null },
      flags: [{ stage: 'parse', error: { code: 'PIPELINE_STAGE_FAILED' } }],
    });
  });

  it('still refuses genuinely asynchronous schemas with the TypeError naming the stage', async () => {
    const asyncSchema = z.object({ a: z.string().refine(async (s) => s.length > 0) });
    const built = pipeline('v').validate('check', asyncSchema).build();
    expect(() => built.runSync({ a: 'x' })).toThrow(
      /stage "check": the stage returned a promise; use run\(\)/,
    );
    await expect(built.run({ a: 'x' })).resolves.toMatchObject({ value: { a: 'x' } });
    const rejecting: StandardSchemaV1 = {
      '~standard': {
        version: 1,
        vendor: 'custom',
        validate: () => Promise.reject(new Error('remote validator down')),
      },
    };
    const custom = pipeline('c').validate('remote', rejecting).build();
    expect(() => custom.runSync(1)).toThrow(/stage "remote": the stage returned a promise/);
  });
});

describe('a logger that throws', () => {
  it('does not fail a successful run', async () => {
    const warning = vi.spyOn(process, 'emitWarning').mockImplementation(() => {});
    const built = pipeline<Record<string, unknown>>('lp', { logger: throwingLogger() })
      .transform('t', (v) => ({ ...v }))
      .enrich('e', async (v) => v)
      .build();
    await expect(built.run({ a: 1 })).resolves.toMatchObject({ ok: true, value: { a: 1 } });
    const sync = pipeline<Record<string, unknown>>('lp', { logger: throwingLogger() })
      .transform('t', (v) => ({ ...v }))
      .build();
    expect(sync.runSync({ a: 1 })).toMatchObject({ ok: true, value: { a: 1 } });
    expect(warning).toHaveBeenCalledWith(expect.stringContaining('logger down'));
  });

  it('does not hide a rejection, a stage failure or a fallback', async () => {
    vi.spyOn(process, 'emitWarning').mockImplementation(() => {});
    const logger = throwingLogger();
    const rejecting = pipeline('lp', { logger }).validate('v', z.string()).build();
    expect(syncRejection(() => rejecting.runSync(5))).toMatchObject({ code: 'PIPELINE_REJECTED' });
    expect(await rejection(rejecting.run(5))).toMatchObject({ code: 'PIPELINE_REJECTED' });
    const failing = pipeline('lp', { logger })
      .enrich('e', async () => {
        throw new Error('bug');
      })
      .build();
    expect(await rejection(failing.run(1))).toMatchObject({ code: 'PIPELINE_STAGE_FAILED' });
    const falling = pipeline('lp', { logger })
      .validate('n', z.number(), { onError: { fallback: 0 } })
      .build();
    expect(falling.runSync('x')).toMatchObject({ status: 'flagged', value: 0 });
  });

  it('does not stop the onStage hook, nor escape when the hook throws too', () => {
    const warning = vi.spyOn(process, 'emitWarning').mockImplementation(() => {});
    const events: StageEvent[] = [];
    const built = pipeline<number>('lp', {
      logger: throwingLogger(),
      onStage: (e) => events.push(e),
    })
      .transform('t', (n) => n + 1)
      .build();
    expect(built.runSync(1)).toMatchObject({ value: 2 });
    expect(events).toHaveLength(1);
    const both = pipeline<number>('lp', {
      logger: throwingLogger(),
      onStage: () => {
        throw new Error('hook down');
      },
    })
      .transform('t', (n) => n + 1)
      .build();
    expect(both.runSync(1)).toMatchObject({ value: 2 });
    expect(warning).toHaveBeenCalledWith(expect.stringContaining('hook down'));
  });
});

describe('stage options checked at build time', () => {
  it('rejects null options like pipeline() does', () => {
    const start = pipeline('p');
    expect(() => start.transform('t', (v) => v, null as never)).toThrow(
      /options of stage "t" must be an object, got null/,
    );
    expect(() => start.enrich('e', (v) => v, null as never)).toThrow(/options of stage "e"/);
    expect(() => start.validate('v', z.number(), null as never)).toThrow(/options of stage "v"/);
  });

  it('checks docs sections are a string or an array of strings', () => {
    const start = pipeline('p');
    expect(() => start.transform('t', (v) => v, { docs: { input: 5 as never } })).toThrow(
      /options\.docs\.input of stage "t" must be a string or an array of strings/,
    );
    expect(() =>
      start.transform('t', (v) => v, { docs: { errorHandling: ['ok', 1] as never } }),
    ).toThrow(/options\.docs\.errorHandling of stage "t"/);
    const lines = ['first', 'second'];
    const built = start
      .transform('t', (v) => v, { docs: { input: 'a paragraph', output: lines } })
      .build();
    lines.push('added after build');
    const markdown = built.toMarkdown();
    expect(markdown).toContain('a paragraph');
    expect(markdown).toContain('second');
    expect(markdown).not.toContain('added after build');
  });

  it('refuses __proto__ as the `into` or `at` field, naming the option', () => {
    const start = pipeline<Record<string, unknown>>('p');
    expect(() =>
      start.validate('v', z.object({ a: z.number() }), { into: '__proto__' } as never),
    ).toThrow(/options\.into of stage "v" cannot be "__proto__"/);
    expect(() => start.validate('v', z.object({ a: z.number() }), { at: '__proto__' })).toThrow(
      /options\.at of stage "v" cannot be "__proto__"/,
    );
  });

  it('writes `constructor` and `prototype` as ordinary own fields', () => {
    const built = pipeline<Record<string, unknown>>('p')
      .validate('c', z.object({ a: z.number() }), { into: 'constructor' })
      .validate('q', z.object({ a: z.number() }), { into: 'prototype' })
      .build();
    const { value } = built.runSync({ a: 1 }) as { value: Record<string, unknown> };
    expect(Object.getPrototypeOf(value)).toBe(Object.prototype);
    expect(Object.hasOwn(value, 'constructor')).toBe(true);
    expect(value).toMatchObject({ a: 1, constructor: { a: 1 }, prototype: { a: 1 } });
    expect(({} as Record<string, unknown>).prototype).toBeUndefined();
  });
});
