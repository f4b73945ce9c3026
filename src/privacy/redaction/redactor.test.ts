import { describe, expect, it } from 'vitest';
import type { TextDetector } from '../text-detector.js';
import { parseRedactionPath } from './redaction-paths.js';
import { createRedactor } from './redactor.js';

/** A tiny detector for tests: every `SECRET-<digits>` run. */
const secretDetector: TextDetector = {
  name: 'test-secret',
  *find(text) {
    for (const match of text.matchAll(/SECRET-\d+/g)) {
      yield { start: match.index, end: match.index + match[0].length, kind: 'secret' };
    }
  },
};

const R = '[REDACTED]';

describe('redaction paths', () => {
  it('parses keys, indices, quoted keys with escapes, * and **', () => {
    expect(parseRedactionPath('a.b[0]["x.y"][*].*.**')).toEqual([
      { kind: 'key', key: 'a' },
      { kind: 'key', key: 'b' },
      { kind: 'key', key: '0' },
      { kind: 'key', key: 'x.y' },
      { kind: 'any' },
      { kind: 'any' },
      { kind: 'deep' },
    ]);
    expect(parseRedactionPath(`h["a\\"b\\\\c\\u0041"]['it\\'s']`)).toEqual([
      { kind: 'key', key: 'h' },
      { kind: 'key', key: 'a"b\\cA' },
      { kind: 'key', key: "it's" },
    ]);
    expect(parseRedactionPath('headers["x-api-key"]')).toEqual([
      { kind: 'key', key: 'headers' },
      { kind: 'key', key: 'x-api-key' },
    ]);
  });

  it.each([
    ['', 0],
    ['a..b', 2],
    ['a.', 2],
    ['.a', 0],
    ['a[x]', 2],
    ['a[0', 3],
    ['a["b]', 5],
    ['a[01]', 2],
    ['a b', 1],
    ['a[*', 3],
    ['a["\\q"]', 3],
  ])('refuses %j with a TypeError naming the path and position %i', (path, position) => {
    expect(() => createRedactor({ paths: [path] })).toThrow(TypeError);
    expect(() => createRedactor({ paths: ['ok', path] })).toThrow(
      `options.paths[1] ${JSON.stringify(path)} is not a valid redaction path`,
    );
    expect(() => createRedactor({ paths: [path] })).toThrow(`at position ${position}`);
  });
});

describe('createRedactor', () => {
  it('redacts fixed paths, indices and quoted keys, and leaves the input untouched', () => {
    const redactor = createRedactor({
      paths: ['user.password', 'items[1].card', 'headers["x-api-key"]'],
    });
    const input = {
      user: { name: 'Ada', password: 'pw' },
      items: [{ card: '4111' }, { card: '4242', sku: 'A' }],
      headers: { 'x-api-key': 'k', accept: 'json' },
      other: { password: 'kept' },
    };
    const before = structuredClone(input);
    expect(redactor.redact(input)).toEqual({
      user: { name: 'Ada', password: R },
      items: [{ card: '4111' }, { card: R, sku: 'A' }],
      headers: { 'x-api-key': R, accept: 'json' },
      other: { password: 'kept' },
    });
    expect(JSON.parse(redactor.stringify(input))).toEqual(redactor.redact(input));
    expect(input).toEqual(before);
  });

  it('shares branches no rule can reach', () => {
    const redactor = createRedactor({ paths: ['user.password'] });
    const input = { user: { password: 'x' }, order: { id: 1 } };
    const output = redactor.redact(input) as typeof input;
    expect(output.order).toBe(input.order);
    expect(output.user).not.toBe(input.user);
  });

  it('matches * as exactly one level, also several in a row', () => {
    const redactor = createRedactor({ paths: ['users[*].ssn', 'a.*.*.*.b', 'm.*'] });
    const input = {
      users: [{ ssn: '1', n: 1 }, { ssn: '2' }],
      a: { x: { y: { z: { b: 'deep', c: 1 } } }, b: 'shallow', q: { b: 'two' } },
      m: { k: 1, j: { v: 2 } },
    };
    expect(redactor.redact(input)).toEqual({
      users: [{ ssn: R, n: 1 }, { ssn: R }],
      a: { x: { y: { z: { b: R, c: 1 } } }, b: 'shallow', q: { b: 'two' } },
      m: { k: R, j: R },
    });
  });

  it('matches ** as zero or more levels', () => {
    const redactor = createRedactor({ paths: ['**.token', 'a.**.b', '**.x.**.y'] });
    expect(
      redactor.redact({
        token: 't0',
        deep: { er: { token: 't2' } },
        list: [{ token: 't3' }],
        a: { b: 'zero', q: { w: { b: 'two' } } },
        x: { y: 'xy', k: { y: 'xky' } },
        n: { x: { m: { y: 'nxmy' } } },
        y: 'plain',
      }),
    ).toEqual({
      token: R,
      deep: { er: { token: R } },
      list: [{ token: R }],
      a: { b: R, q: { w: { b: R } } },
      x: { y: R, k: { y: R } },
      n: { x: { m: { y: R } } },
      y: 'plain',
    });
  });

  it('matches key globs (case-sensitive) and RegExps at any depth, never array indices', () => {
    const redactor = createRedactor({ keys: ['*secret*', 'pass?ord', /^authorization$/i, /0/] });
    expect(
      redactor.redact({
        mySecretKey: 'case differs',
        topsecret: 's',
        nested: [{ password: 'p', passsword: 'not ?', Authorization: 'Bearer x' }],
        list: ['index 0 stays'],
      }),
    ).toEqual({
      mySecretKey: 'case differs',
      topsecret: R,
      nested: [{ password: R, passsword: 'not ?', Authorization: R }],
      list: ['index 0 stays'],
    });
  });

  it('calls a censor function with the real path and key, never a wildcard', () => {
    const seen: unknown[] = [];
    const redactor = createRedactor({
      paths: ['users[*].email', '**.token'],
      censor: (value, at) => {
        seen.push({ value, path: at.path, key: at.key });
        return `masked:${String(value).length}`;
      },
    });
    expect(redactor.redact({ users: [{ email: 'a@b.c' }], s: { token: 'tt' } })).toEqual({
      users: [{ email: 'masked:5' }],
      s: { token: 'masked:2' },
    });
    expect(seen).toEqual([
      { value: 'a@b.c', path: ['users', 0, 'email'], key: 'email' },
      { value: 'tt', path: ['s', 'token'], key: 'token' },
    ]);
  });

  it('gives the default censor when a censor function throws', () => {
    const redactor = createRedactor({
      paths: ['a'],
      censor: () => {
        throw new Error('nope');
      },
    });
    expect(redactor.redact({ a: 'secret' })).toEqual({ a: R });
  });

  it('removes keys and array items with remove: true', () => {
    const redactor = createRedactor({ paths: ['a.b', 'list[*].x', 'arr[1]'], remove: true });
    const input = { a: { b: 1, c: 2 }, list: [{ x: 1, y: 2 }], arr: [0, 1, 2] };
    expect(redactor.redact(input)).toStrictEqual({ a: { c: 2 }, list: [{ y: 2 }], arr: [0, 2] });
    expect(redactor.stringify(input)).toBe('{"a":{"c":2},"list":[{"y":2}],"arr":[0,2]}');
  });

  it('applies the first matching rule, the top-level one first', () => {
    const redactor = createRedactor({
      paths: ['user.password'],
      rules: [
        { keys: ['pass*'], censor: 'by-key' },
        { paths: ['user.*'], remove: true },
        { paths: ['user.password'], censor: 'never' },
      ],
    });
    expect(redactor.redact({ user: { password: 'a', passphrase: 'b', name: 'c' } })).toEqual({
      user: { password: R, passphrase: 'by-key' },
    });
  });

  it('breaks cycles with [Circular] and keeps shared references', () => {
    const redactor = createRedactor({ paths: ['**.secret'] });
    const shared = { v: 1 };
    const input: Record<string, unknown> = { a: shared, b: shared, secret: 's' };
    input.self = input;
    expect(redactor.redact(input)).toEqual({
      a: { v: 1 },
      b: { v: 1 },
      secret: R,
      self: '[Circular]',
    });
    expect(redactor.stringify(input)).toBe(
      '{"a":{"v":1},"b":{"v":1},"secret":"[REDACTED]","self":"[Circular]"}',
    );
  });

  it('stringify never throws on cycles, BigInt or throwing getters where no rule reaches', () => {
    const redactor = createRedactor({ paths: ['user.password'] });
    const loop: Record<string, unknown> = {};
    loop.loop = loop;
    const getter = {
      get broken(): never {
        throw new Error('no');
      },
    };
    expect(
      redactor.stringify({ user: { password: 'p' }, loop, n: 10n, getter, revoked: revoked() }),
    ).toBe(
      '{"user":{"password":"[REDACTED]"},"loop":{"loop":"[Circular]"},"n":"10","getter":{"broken":"[Unreadable]"},"revoked":"[Unreadable]"}',
    );
    expect(redactor.stringify(undefined)).toBe('null');
    expect(redactor.stringify(5n)).toBe('"5"');
  });

  it('turns Maps into objects of their entries and Sets into arrays where rules reach', () => {
    const redactor = createRedactor({ paths: ['**.token', 'm.card'] });
    const input = {
      m: new Map<unknown, unknown>([
        ['card', '4111'],
        ['token', 't'],
        [1, 'one'],
      ]),
      s: new Set([{ token: 'x' }, 'y']),
    };
    expect(redactor.redact(input)).toEqual({
      m: { card: R, token: R, 1: 'one' },
      s: [{ token: R }, 'y'],
    });
    expect(input.m.get('card')).toBe('4111');
  });

  it('turns class instances into plain objects of their own enumerable properties', () => {
    class Account {
      password = 'pw';
      owner = 'Ada';
      get computed() {
        return 'not own';
      }
    }
    const output = createRedactor({ paths: ['account.password'] }).redact({
      account: new Account(),
    });
    expect(output).toStrictEqual({ account: { password: R, owner: 'Ada' } });
  });

  it('redacts what toJSON returns: toJSON is no way around redaction', () => {
    const redactor = createRedactor({ paths: ['user.password', 'wrapped.inner.card'] });
    const user = { toJSON: () => ({ password: 'pw', name: 'Ada' }) };
    const wrapped = { toJSON: () => ({ inner: { card: '4111' } }) };
    expect(redactor.redact({ user, wrapped })).toEqual({
      user: { password: R, name: 'Ada' },
      wrapped: { inner: { card: R } },
    });
    expect(redactor.stringify({ user, wrapped })).not.toContain('pw');
    expect(redactor.stringify({ user, wrapped })).not.toContain('4111');
    expect(redactor.stringify({ user: { toJSON: () => 'text', password: 'x' } })).toBe(
      '{"user":"text"}',
    );
  });

  it('reads each getter once and turns a throwing getter into [Unreadable]', () => {
    let reads = 0;
    const user = {
      get password() {
        reads += 1;
        return `pw${reads}`;
      },
      get name(): string {
        throw new Error('broken');
      },
    };
    const redactor = createRedactor({ paths: ['user.password'] });
    expect(redactor.redact({ user })).toEqual({ user: { password: R, name: '[Unreadable]' } });
    const redactedByKey = createRedactor({ keys: ['nothing'] }).redact({
      user: {
        get a() {
          reads += 1;
          return reads;
        },
      },
    });
    expect(redactedByKey).toEqual({ user: { a: reads } });
  });

  it('turns a revoked proxy into [Unreadable]', () => {
    const redactor = createRedactor({ paths: ['p.x'] });
    expect(redactor.redact({ p: revoked() })).toEqual({ p: '[Unreadable]' });
    expect(redactor.redact({ p: new Proxy({ x: 1, y: 2 }, {}) })).toEqual({ p: { x: R, y: 2 } });
  });

  it('writes Errors as { type, message, stack, cause, …own } with the cause redacted', () => {
    class PaymentError extends Error {
      code = 'DECLINED';
      card = '4111';
    }
    const error = new PaymentError('card SECRET-42 declined', {
      cause: new Error('upstream', { cause: { token: 't' } }),
    });
    const redactor = createRedactor({ keys: ['card', 'token'], detectors: [secretDetector] });
    const output = redactor.redact({ err: error }) as { err: Record<string, unknown> };
    expect(output.err).toMatchObject({
      type: 'PaymentError',
      message: 'card [REDACTED:secret] declined',
      code: 'DECLINED',
      card: R,
      cause: { type: 'Error', message: 'upstream', cause: { token: R } },
    });
    expect(String(output.err.stack)).toContain('[REDACTED:secret]');
    expect(String(output.err.stack)).not.toContain('SECRET-42');
  });

  it('removes a redacted message from the stack too, whatever the message holds', () => {
    const error = new Error('card 4111 declined');
    const redactor = createRedactor({ paths: ['err.message', 'odd.message[0]'] });
    const output = redactor.redact({ err: error }) as { err: { message: unknown; stack: string } };
    expect(output.err.message).toBe(R);
    expect(output.err.stack).toContain(`Error: ${R}`);
    expect(output.err.stack).not.toContain('4111');
    // A message that is not a string is kept as it is, so paths into it still apply.
    const odd = Object.defineProperty(new Error('x'), 'message', {
      value: ['4242'],
      enumerable: true,
    });
    const text = redactor.stringify({ odd });
    expect(text).not.toContain('4242');
    expect(text).toContain('"message":["[REDACTED]"]');
  });

  it('runs detectors on every string and merges overlapping findings', () => {
    const overlapping: TextDetector = {
      name: 'overlap',
      find: (text) => {
        const at = text.indexOf('SECRET-1');
        return at === -1 ? [] : [{ start: at - 2, end: at + 4, kind: 'other' }];
      },
    };
    const redactor = createRedactor({ detectors: [secretDetector, overlapping] });
    expect(redactor.redact({ note: 'a: SECRET-1 and SECRET-22.', list: ['SECRET-3'] })).toEqual({
      note: 'a[REDACTED:other] and [REDACTED:secret].',
      list: ['[REDACTED:secret]'],
    });
    expect(redactor.stringify('x SECRET-9')).toBe('"x [REDACTED:secret]"');
  });

  it('withholds the whole text when a detector throws', () => {
    const broken: TextDetector = {
      name: 'broken',
      find: () => {
        throw new Error('bug');
      },
    };
    expect(createRedactor({ detectors: [broken] }).redact({ a: 'text' })).toEqual({ a: R });
  });

  it('keeps __proto__, constructor and prototype as own data without polluting', () => {
    const redactor = createRedactor({ paths: ['__proto__.polluted', 'constructor.prototype.x'] });
    const input = JSON.parse(
      '{"__proto__":{"polluted":"yes","kept":1},"constructor":{"prototype":{"x":1,"y":2}}}',
    );
    const output = redactor.redact(input) as Record<string, unknown>;
    expect(Object.getPrototypeOf(output)).toBe(Object.prototype);
    expect(Object.hasOwn(output, '__proto__')).toBe(true);
    expect(Object.getOwnPropertyDescriptor(output, '__proto__')?.value).toEqual({
      polluted: R,
      kept: 1,
    });
    expect(output.constructor).toEqual({ prototype: { x: R, y: 2 } });
    expect(redactor.stringify(input)).toBe(
      '{"__proto__":{"polluted":"[REDACTED]","kept":1},"constructor":{"prototype":{"x":"[REDACTED]","y":2}}}',
    );
    const byKey = createRedactor({ keys: ['polluted'] });
    const mapped = byKey.redact({ m: new Map([['__proto__', { polluted: 1 }]]) }) as {
      m: Record<string, unknown>;
    };
    expect(Object.hasOwn(mapped.m, '__proto__')).toBe(true);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    // An inherited key is not an own one: nothing to redact.
    expect(createRedactor({ paths: ['a.toString'] }).redact({ a: {} })).toEqual({ a: {} });
  });

  it('stops at maxDepth (default 100) with [Too deep]', () => {
    let deep: Record<string, unknown> = { token: 'bottom' };
    for (let i = 0; i < 150; i += 1) deep = { d: deep };
    const redactor = createRedactor({ paths: ['**.token'] });
    const text = redactor.stringify(deep);
    expect(text).not.toContain('bottom');
    expect(text).toContain('[Too deep]');
    expect(text.split('"d"').length - 1).toBe(100);
    const shallow = createRedactor({ paths: ['**.token'], maxDepth: 2 });
    expect(shallow.redact({ a: { b: { c: 1 } } })).toEqual({ a: { b: '[Too deep]' } });
    let veryDeep: Record<string, unknown> = {};
    for (let i = 0; i < 20_000; i += 1) veryDeep = { d: veryDeep };
    expect(createRedactor({ paths: ['x'] }).stringify(veryDeep)).toContain('[Too deep]');
  });

  it('refuses bad options with a TypeError naming the option', () => {
    expect(() => createRedactor({ pahts: ['a'] } as never)).toThrow('options.pahts');
    expect(() => createRedactor(null as never)).toThrow('options must be an object');
    expect(() => createRedactor({ paths: 'a' } as never)).toThrow('options.paths must be an array');
    expect(() => createRedactor({ paths: [1] } as never)).toThrow(
      'options.paths[0] must be a string',
    );
    expect(() => createRedactor({ keys: [''] })).toThrow('options.keys[0]');
    expect(() => createRedactor({ paths: ['a'], remove: true, censor: 'x' })).toThrow(
      'options.remove cannot be combined with options.censor',
    );
    expect(() => createRedactor({ censor: 'x' })).toThrow('options must name paths or keys');
    expect(() => createRedactor({ rules: [{ censor: 'x' }] })).toThrow(
      'options.rules[0] must name',
    );
    expect(() => createRedactor({ rules: [{ paths: ['a'], x: 1 } as never] })).toThrow(
      'options.rules[0].x',
    );
    expect(() => createRedactor({ detectors: [{ name: 'x' } as never] })).toThrow(
      'options.detectors[0]',
    );
    expect(() => createRedactor({ paths: ['a'], maxDepth: 0 })).toThrow('options.maxDepth');
    expect(() => createRedactor({ paths: ['a'], remove: 'yes' } as never)).toThrow(
      'options.remove',
    );
  });
});

function revoked(): object {
  const { proxy, revoke } = Proxy.revocable({}, {});
  revoke();
  return proxy;
}
