import { Writable } from 'node:stream';
import fc from 'fast-check';
import pino from 'pino';
import { describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { createMutex, withTimeout } from './async.js';
import { createManualClock, hasUtcOffset, parseInstant, toUtcIso } from './clock.js';
import { runWithContext } from './context.js';
import { FlowproofError, isFlowproofError } from './errors.js';
import { createId, isId } from './ids.js';
import { assertLogger, logEvent, silentLogger } from './logger.js';
import {
  assertMigrationSet,
  assertVersionMatches,
  migrationFailed,
  pendingMigrations,
} from './migrations.js';
import { assertSqlIdentifier } from './options.js';
import { utcDateTime } from './schemas.js';
import {
  isStandardSchema,
  parseWithSchema,
  type StandardSchemaV1,
  validateWithSchema,
} from './standard-schema.js';

describe('FlowproofError', () => {
  it('carries code, details and cause, and serialises without the cause', () => {
    const cause = new Error('socket hang up');
    const error = new FlowproofError('BACKEND_UNAVAILABLE', 'down', {
      cause,
      details: { backend: 'postgres' },
    });
    expect(error).toBeInstanceOf(Error);
    expect(error.code).toBe('BACKEND_UNAVAILABLE');
    expect(error.cause).toBe(cause);
    expect(error.details).toEqual({ backend: 'postgres' });
    expect(Object.isFrozen(error.details)).toBe(true);
    expect(JSON.parse(JSON.stringify(error))).toEqual({
      name: 'FlowproofError',
      code: 'BACKEND_UNAVAILABLE',
      message: 'down',
      details: { backend: 'postgres' },
    });
  });

  it('is recognised by isFlowproofError, also as a copy from another module instance', () => {
    const error = new FlowproofError('BACKEND_TIMEOUT', 'slow');
    expect(isFlowproofError(error)).toBe(true);
    expect(isFlowproofError(error, 'BACKEND_TIMEOUT')).toBe(true);
    expect(isFlowproofError(error, 'BACKEND_ERROR')).toBe(false);
    const foreign = Object.assign(new Error('x'), {
      name: 'FlowproofError',
      code: 'BACKEND_TIMEOUT',
    });
    expect(isFlowproofError(foreign, 'BACKEND_TIMEOUT')).toBe(true);
    expect(isFlowproofError(new Error('plain'))).toBe(false);
    expect(isFlowproofError(null)).toBe(false);
  });
});

describe('ids', () => {
  it('creates strictly increasing ULIDs within one millisecond', () => {
    const ids = Array.from({ length: 2000 }, createId);
    expect(ids.every(isId)).toBe(true);
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('rejects what is not a ULID', () => {
    expect(isId('not-an-id')).toBe(false);
    expect(isId('01JDQ3V8Z6X0M9K2T4B7N5C1PI')).toBe(false); // I is not Crockford base-32
    expect(isId(42)).toBe(false);
  });
});

describe('clock', () => {
  it('moves a manual clock only when told', () => {
    const clock = createManualClock('2026-01-01T00:00:00Z');
    expect(toUtcIso(clock.now())).toBe('2026-01-01T00:00:00.000Z');
    clock.advance(90_000);
    expect(toUtcIso(clock.now())).toBe('2026-01-01T00:01:30.000Z');
    clock.set('2026-06-01T02:00:00+02:00');
    expect(toUtcIso(clock.now())).toBe('2026-06-01T00:00:00.000Z');
    expect(() => clock.advance(1.5)).toThrow(TypeError);
  });

  it('refuses date-times without an offset', () => {
    expect(() => parseInstant('2026-01-01T00:00:00')).toThrow(/offset/);
    expect(() => parseInstant(new Date(Number.NaN))).toThrow(TypeError);
    expect(hasUtcOffset('2026-01-01T00:00:00.123-05:30')).toBe(true);
    expect(hasUtcOffset('2026-01-01')).toBe(false);
  });

  it('refuses impossible dates and times instead of rolling them over', () => {
    for (const impossible of [
      '2026-02-30T00:00:00Z', // would become 2026-03-02
      '2025-02-29T00:00:00Z', // not a leap year
      '2026-04-31T12:00:00+02:00',
      '2026-13-01T00:00:00Z',
      '2026-00-10T00:00:00Z',
      '2026-01-00T00:00:00Z',
      '2026-01-01T24:00:00Z', // would become the next day
      '2026-01-01T23:60:00Z',
      '2026-01-01T23:59:60Z',
    ]) {
      expect(() => parseInstant(impossible, 'expiresAt'), impossible).toThrow(
        expect.objectContaining({
          name: 'TypeError',
          message: expect.stringMatching(/^expiresAt /),
        }),
      );
    }
    expect(toUtcIso(parseInstant('2024-02-29T23:59:59.999Z'))).toBe('2024-02-29T23:59:59.999Z');
    expect(toUtcIso(parseInstant('2000-02-29T00:00:00Z'))).toBe('2000-02-29T00:00:00.000Z');
    // The fields are checked as written, before the offset moves the instant to another day.
    expect(toUtcIso(parseInstant('2026-02-28T23:30:00-01:00'))).toBe('2026-03-01T00:30:00.000Z');
    expect(toUtcIso(parseInstant('0001-01-01T00:00:00Z'))).toBe('0001-01-01T00:00:00.000Z');
  });

  it('refuses to move a manual clock outside the range a Date can hold', () => {
    const clock = createManualClock('2026-01-01T00:00:00Z');
    expect(() => clock.advance(Number.MAX_SAFE_INTEGER)).toThrow(
      expect.objectContaining({ name: 'TypeError', message: expect.stringMatching(/^ms /) }),
    );
    expect(() => clock.advance(-9e15)).toThrow(TypeError);
    // A refused move leaves the clock where it was.
    expect(toUtcIso(clock.now())).toBe('2026-01-01T00:00:00.000Z');
    const edge = createManualClock(new Date(8.64e15 - 1));
    edge.advance(1);
    expect(edge.now().getTime()).toBe(8.64e15);
    expect(() => edge.advance(1)).toThrow(TypeError);
    expect(() => edge.set(new Date(Number.NaN))).toThrow(/^instant /);
  });

  it('normalises any offset to the same UTC instant (property)', () => {
    fc.assert(
      fc.property(
        fc.date({
          min: new Date('1970-01-01T00:00:00Z'),
          max: new Date('2999-12-31T00:00:00Z'),
          noInvalidDate: true,
        }),
        fc.integer({ min: -12 * 60, max: 14 * 60 }),
        (instant, offsetMinutes) => {
          const shifted = new Date(instant.getTime() + offsetMinutes * 60_000);
          const sign = offsetMinutes < 0 ? '-' : '+';
          const abs = Math.abs(offsetMinutes);
          const offset = `${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
          const local = `${shifted.toISOString().slice(0, 23)}${offset}`;
          expect(parseInstant(local).getTime()).toBe(instant.getTime());
          expect(utcDateTime().parse(local)).toBe(instant.toISOString());
        },
      ),
    );
  });
});

describe('utcDateTime()', () => {
  it('says a date that does not exist does not exist, not that it lacks an offset', () => {
    const schema = utcDateTime();
    for (const [value, why] of [
      ['2026-02-30T10:00:00Z', /does not exist/],
      ['2026-01-01T24:00:00+01:00', /does not exist/],
      ['2026-01-01T10:00:00', /lacks an offset/],
      ['yesterday', /is not an ISO-8601 date-time/],
    ] as const) {
      const result = schema.safeParse(value);
      expect(result.success, value).toBe(false);
      expect(result.error?.issues[0]?.message, value).toMatch(why);
    }
  });

  it('agrees with parseInstant on every string: one rule for both (property)', () => {
    const schema = utcDateTime();
    const two = (max: number) => fc.integer({ min: 0, max }).map((n) => String(n).padStart(2, '0'));
    // Date-time-like strings, near misses included: lower-case t/z, no seconds, odd offsets.
    const dateTimeLike = fc
      .tuple(
        fc.integer({ min: 0, max: 9999 }).map((n) => String(n).padStart(4, '0')),
        two(14),
        two(32),
        fc.constantFrom('T', 't', ' '),
        two(25),
        two(61),
        fc.option(two(61), { nil: undefined }),
        fc.constantFrom('', '.5', '.123456789', '.1234567891'),
        fc.constantFrom('Z', 'z', '', '+01:00', '-12:30', '+24:00', '+05:60', '+0100'),
      )
      .map(
        ([y, mo, d, t, h, mi, s, f, o]) =>
          `${y}-${mo}-${d}${t}${h}:${mi}${s === undefined ? '' : `:${s}`}${s === undefined ? '' : f}${o}`,
      );
    fc.assert(
      fc.property(fc.oneof(dateTimeLike, fc.string()), (value) => {
        const parsed = schema.safeParse(value);
        let instant: Date | undefined;
        try {
          instant = parseInstant(value);
        } catch (error) {
          expect(error).toBeInstanceOf(TypeError);
        }
        expect(parsed.success, value).toBe(instant !== undefined);
        if (parsed.success) expect(parsed.data).toBe(instant?.toISOString());
        expect(hasUtcOffset(value) || !parsed.success, value).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });

  it('accepts Z and offsets, rejects local times and garbage', () => {
    const schema = utcDateTime();
    expect(schema.parse('2026-01-01T14:00:00+02:00')).toBe('2026-01-01T12:00:00.000Z');
    expect(schema.safeParse('2026-01-01T14:00:00').success).toBe(false);
    expect(schema.safeParse('yesterday').success).toBe(false);
    expect(schema.safeParse(1700000000000).success).toBe(false);
  });

  it('refuses instants whose UTC year needs more than four digits', () => {
    const schema = utcDateTime();
    expect(schema.parse('0000-01-01T00:00:00Z')).toBe('0000-01-01T00:00:00.000Z');
    expect(schema.parse('9999-12-31T23:59:59+01:00')).toBe('9999-12-31T22:59:59.000Z');
    for (const outside of ['0000-01-01T00:00:00+01:00', '9999-12-31T23:59:59-12:00']) {
      const result = schema.safeParse(outside);
      expect(result.success).toBe(false);
      expect(result.error?.issues[0]?.message).toMatch(/UTC years 0000 to 9999/);
    }
  });

  it('accepts exactly the instants whose UTC year has four digits; its output parses again to itself (property)', () => {
    const schema = utcDateTime();
    const [first, last] = [-62_167_219_200_000, 253_402_300_799_999]; // 0000-01-01, 9999-12-31
    const days = (n: number) => n * 86_400_000;
    fc.assert(
      fc.property(
        // The wall-clock time as written, biased towards both ends of the four-digit years.
        fc.oneof(
          fc.integer({ min: first, max: last }),
          fc.integer({ min: first, max: first + days(2) }),
          fc.integer({ min: last - days(2), max: last }),
        ),
        fc.integer({ min: -12 * 60, max: 14 * 60 }),
        (wallMs, offsetMinutes) => {
          const sign = offsetMinutes < 0 ? '-' : '+';
          const abs = Math.abs(offsetMinutes);
          const offset = `${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
          const written = `${new Date(wallMs).toISOString().slice(0, 23)}${offset}`;
          const utcMs = wallMs - offsetMinutes * 60_000;
          const result = schema.safeParse(written);
          expect(result.success).toBe(utcMs >= first && utcMs <= last);
          if (!result.success) return;
          expect(result.data).toBe(new Date(utcMs).toISOString());
          expect(result.data).toMatch(/^\d{4}-/);
          expect(schema.parse(result.data)).toBe(result.data);
        },
      ),
    );
  });
});

describe('Standard Schema', () => {
  const Order = z.object({ id: z.string(), quantity: z.number().int().positive() });

  it('validates with zod synchronously and normalises issues', () => {
    const ok = validateWithSchema(Order, { id: 'o-1', quantity: 2 });
    expect(ok).toEqual({ ok: true, value: { id: 'o-1', quantity: 2 } });
    const bad = validateWithSchema(Order, { id: 1, quantity: 0 });
    expect(bad).not.toBeInstanceOf(Promise);
    expect(bad).toMatchObject({
      ok: false,
      issues: [
        { path: ['id'], code: 'invalid_type' },
        { path: ['quantity'], code: 'too_small' },
      ],
    });
  });

  it('accepts any vendor, including async validators and path segments as objects', async () => {
    const evenNumber: StandardSchemaV1<unknown, number> = {
      '~standard': {
        version: 1,
        vendor: 'hand-made',
        validate: async (value) =>
          typeof value === 'number' && value % 2 === 0
            ? { value }
            : { issues: [{ message: 'not even', path: [{ key: 'n' }, 0] }] },
      },
    };
    expect(isStandardSchema(evenNumber)).toBe(true);
    expect(isStandardSchema({})).toBe(false);
    expect(await validateWithSchema(evenNumber, 4)).toEqual({ ok: true, value: 4 });
    expect(await validateWithSchema(evenNumber, 3)).toEqual({
      ok: false,
      issues: [{ path: ['n', 0], code: 'invalid', message: 'not even' }],
    });
  });

  it('parseWithSchema throws VALIDATION_FAILED with every issue in details', async () => {
    const error = await parseWithSchema(Order, { quantity: -1 }, 'order').catch((e) => e);
    expect(error.code).toBe('VALIDATION_FAILED');
    expect(error.details.issues).toHaveLength(2);
    expect(error.message).toMatch(/^order is invalid: id: .*; quantity: /);
  });
});

describe('logging', () => {
  function capture() {
    const lines: Record<string, unknown>[] = [];
    const stream = new Writable({
      write(chunk, _encoding, callback) {
        lines.push(JSON.parse(String(chunk)));
        callback();
      },
    });
    return { logger: pino({ level: 'debug' }, stream), lines };
  }

  it('adds the correlation id, causation id and tenant to every line through a real pino', async () => {
    const { logger, lines } = capture();
    runWithContext({ correlationId: 'c-log', causationId: 'm-1', tenant: 'acme' }, () => {
      logEvent(logger.child({ module: 'idempotency' }), 'info', { key: 'k1' }, 'claimed');
    });
    logEvent(logger, 'warn', { key: 'k2' }, 'outside');
    await new Promise((resolve) => setImmediate(resolve));
    expect(lines[0]).toMatchObject({
      level: 30,
      module: 'idempotency',
      correlationId: 'c-log',
      causationId: 'm-1',
      tenant: 'acme',
      key: 'k1',
      msg: 'claimed',
    });
    expect(lines[1]).toMatchObject({ level: 40, key: 'k2', msg: 'outside' });
    expect(lines[1]).not.toHaveProperty('correlationId');
  });

  it('is silent by default and checks loggers it is given', () => {
    expect(() => logEvent(silentLogger, 'error', {}, 'nothing')).not.toThrow();
    expect(silentLogger.child({})).toBe(silentLogger);
    expect(() => assertLogger({ info() {} })).toThrow(/debug/);
    expect(() => assertLogger(capture().logger)).not.toThrow();
  });

  it('never throws what a logger throws, and reports a failing logger once', () => {
    const warning = vi.spyOn(process, 'emitWarning').mockImplementation(() => {});
    try {
      const down = () => {
        throw new Error('disk full');
      };
      const broken = { debug: down, info: down, warn: down, error: down, child: () => broken };
      expect(logEvent(broken, 'error', { key: 'k' }, 'first')).toBe(false);
      expect(logEvent(broken, 'info', { key: 'k' }, 'second')).toBe(false);
      expect(warning).toHaveBeenCalledTimes(1);
      expect(warning).toHaveBeenCalledWith(expect.stringContaining('disk full'));
      expect(logEvent(capture().logger, 'info', {}, 'fine')).toBe(true);
      expect(logEvent(silentLogger, 'info', {}, 'nothing')).toBe(false);
    } finally {
      warning.mockRestore();
    }
  });
});

describe('migration bookkeeping', () => {
  const up = () => {};
  const set = {
    component: 'idempotency',
    migrations: [
      { version: 1, name: 'create keys', up },
      { version: 2, name: 'add lease', up },
    ],
  };

  it('returns what is pending after the recorded prefix', () => {
    expect(pendingMigrations(set, []).map((m) => m.version)).toEqual([1, 2]);
    expect(
      pendingMigrations(set, [{ version: 1, name: 'create keys' }]).map((m) => m.version),
    ).toEqual([2]);
  });

  it('refuses newer schemas and rewritten history with codes', () => {
    expect(() => pendingMigrations(set, [{ version: 3, name: 'x' }])).toThrow(
      expect.objectContaining({ code: 'SCHEMA_TOO_NEW' }),
    );
    expect(() => pendingMigrations(set, [{ version: 1, name: 'other' }])).toThrow(
      expect.objectContaining({ code: 'MIGRATION_FAILED' }),
    );
    expect(() => assertVersionMatches('idempotency', 1, 2)).toThrow(
      expect.objectContaining({ code: 'SCHEMA_OUTDATED' }),
    );
  });

  it('wraps whatever a migration throws in MIGRATION_FAILED, keeping the original code', () => {
    // A missing table inside migrate() must not advise "run migrate()" (SCHEMA_OUTDATED), and an
    // outage stays recognisable through details.causeCode.
    for (const code of ['SCHEMA_OUTDATED', 'BACKEND_TIMEOUT', 'BACKEND_UNAVAILABLE'] as const) {
      const original = new FlowproofError(code, `SQLite statement failed: ${code}`, {
        details: { backend: 'sqlite' },
      });
      const wrapped = migrationFailed('idempotency', 2, original);
      expect(wrapped).toMatchObject({
        code: 'MIGRATION_FAILED',
        details: { component: 'idempotency', version: 2, backend: 'sqlite', causeCode: code },
      });
      expect(wrapped.cause).toBe(original);
      expect(wrapped.message).toContain('Migration 2 of idempotency failed');
    }
    const plain = new Error('boom');
    const wrapped = migrationFailed('idempotency', 1, plain, 'redis');
    expect(wrapped.cause).toBe(plain);
    expect(wrapped.details).toEqual({ component: 'idempotency', version: 1, backend: 'redis' });
    expect(migrationFailed('x', 1, 'a string').details).toEqual({ component: 'x', version: 1 });
    const foreign = Object.assign(new Error('down'), {
      name: 'FlowproofError',
      code: 'BACKEND_UNAVAILABLE',
    });
    expect(migrationFailed('x', 1, foreign).details).toEqual({
      component: 'x',
      version: 1,
      causeCode: 'BACKEND_UNAVAILABLE',
    });
  });

  it('checks sets early with TypeErrors', () => {
    expect(() => assertMigrationSet({ component: 'x', migrations: [] })).toThrow(TypeError);
    expect(() =>
      assertMigrationSet({ component: 'x', migrations: [{ version: 2, name: 'a', up }] }),
    ).toThrow(/version must be 1/);
    expect(() =>
      assertMigrationSet({ component: 'x', migrations: [{ version: 1, name: 'a' }] }),
    ).toThrow(/up must be a function/);
  });
});

describe('options', () => {
  it('accepts only conservative SQL identifiers', () => {
    expect(assertSqlIdentifier('flowproof_', 'prefix')).toBe('flowproof_');
    expect(() => assertSqlIdentifier('x"; DROP TABLE users; --', 'schema')).toThrow(/schema/);
    expect(() => assertSqlIdentifier('', 'schema')).toThrow(TypeError);
    expect(assertSqlIdentifier('', 'prefix', true)).toBe('');
  });
});

describe('async primitives', () => {
  it('turns a slow promise into BACKEND_TIMEOUT', async () => {
    const never = new Promise(() => {});
    await expect(withTimeout(never, 20, 'test op')).rejects.toMatchObject({
      code: 'BACKEND_TIMEOUT',
    });
    expect(await withTimeout(Promise.resolve(3), 20, 'fast op')).toBe(3);
  });

  it('runs mutex holders one at a time, in order, surviving failures', async () => {
    const mutex = createMutex();
    const order: string[] = [];
    let active = 0;
    const task = (name: string, fail = false) =>
      mutex.run(async () => {
        active += 1;
        expect(active).toBe(1);
        order.push(name);
        await new Promise((resolve) => setTimeout(resolve, 2));
        active -= 1;
        if (fail) throw new Error(name);
      });
    const results = await Promise.allSettled([task('a'), task('b', true), task('c')]);
    expect(order).toEqual(['a', 'b', 'c']);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(mutex.locked).toBe(false);
  });
});
