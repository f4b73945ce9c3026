import pino from 'pino';
import { describe, expect, it } from 'vitest';
import type { TextDetector } from '../text-detector.js';
import { pinoRedaction } from './pino-redaction.js';
import { createRedactor } from './redactor.js';

const secretDetector: TextDetector = {
  name: 'test-secret',
  *find(text) {
    for (const match of text.matchAll(/SECRET-\d+/g)) {
      yield { start: match.index, end: match.index + match[0].length, kind: 'secret' };
    }
  },
};

/** A logger writing into an array, and the lines parsed. */
function capture(options: Parameters<typeof pino>[0]) {
  const lines: string[] = [];
  const logger = pino(options ?? {}, { write: (line: string) => void lines.push(line) });
  return {
    logger,
    lines,
    parsed: () => lines.map((line) => JSON.parse(line) as Record<string, unknown>),
  };
}

const redactor = createRedactor({
  paths: ['user.password', 'session.token', '*.card'],
  keys: [/secret/i],
  detectors: [secretDetector],
});

describe('pinoRedaction', () => {
  it('redacts the logged object and leaves it untouched', () => {
    const { logger, lines, parsed } = capture(pinoRedaction(redactor));
    const user = { name: 'Ada', password: 'pw', apiSecret: 'k' };
    logger.info({ user }, 'signed in');
    expect(parsed()[0]).toMatchObject({
      user: { name: 'Ada', password: '[REDACTED]', apiSecret: '[REDACTED]' },
      msg: 'signed in',
    });
    expect(lines[0]).not.toContain('pw');
    expect(user.password).toBe('pw');
  });

  it('redacts root and child bindings, at every generation', () => {
    const { logger, lines, parsed } = capture(
      pinoRedaction(redactor, { base: { session: { token: 'root-token' }, app: 'shop' } }),
    );
    const child = logger.child({ session: { token: 'child-token', id: 's1' }, note: 'SECRET-7' });
    child.child({ mySecret: 'grandchild' }).info('hi');
    const line = lines.join('');
    for (const secret of ['root-token', 'child-token', 'SECRET-7', 'grandchild']) {
      expect(line).not.toContain(secret);
    }
    expect(line).toContain('"app":"shop"');
    expect(line).toContain('"id":"s1"');
    expect(child.bindings()).toMatchObject({ session: { token: '[REDACTED]', id: 's1' } });
    expect(parsed()[0]).toMatchObject({ note: '[REDACTED:secret]', mySecret: '[REDACTED]' });
  });

  it('redacts serialized errors and their cause chains, and the message taken from an Error', () => {
    const { logger, lines, parsed } = capture(pinoRedaction(redactor));
    const cause = new Error('db said SECRET-1', { cause: { topSecret: 'deep' } });
    const error = Object.assign(new Error('payment SECRET-2 failed', { cause }), { card: '4111' });
    logger.error(error);
    logger.error({ err: error, error });
    logger.warn({ err: error }, 'with message');
    const text = lines.join('');
    for (const secret of ['SECRET-1', 'SECRET-2', '4111', 'deep'])
      expect(text).not.toContain(secret);
    const [first, second] = parsed();
    expect(first).toMatchObject({
      msg: 'payment [REDACTED:secret] failed',
      err: {
        type: 'Error',
        message: 'payment [REDACTED:secret] failed',
        card: '[REDACTED]',
        cause: { message: 'db said [REDACTED:secret]', cause: { topSecret: '[REDACTED]' } },
      },
    });
    expect(second?.error).toMatchObject({ cause: { cause: { topSecret: '[REDACTED]' } } });
  });

  it('runs the detectors on the message and its arguments', () => {
    const { logger, parsed } = capture(pinoRedaction(redactor));
    logger.info('card SECRET-3 for %s with %j', 'SECRET-4', { user: { password: 'pw' } });
    expect(parsed()[0]?.msg).toBe(
      'card [REDACTED:secret] for [REDACTED:secret] with {"user":{"password":"[REDACTED]"}}',
    );
  });

  it('keeps and chains your formatters, serializers, hooks and onChild', () => {
    const calls: string[] = [];
    const { logger, lines, parsed } = capture(
      pinoRedaction(redactor, {
        level: 'debug',
        formatters: {
          level: (label) => ({ severity: label }),
          log: (object) => {
            calls.push('log');
            return { ...object, added: { secretValue: 'from-formatter' } };
          },
        },
        serializers: {
          req: (req: { url: string; headers: Record<string, string> }) => {
            calls.push('req');
            return { url: req.url, headers: { authSecret: req.headers.auth } };
          },
        },
        hooks: {
          logMethod(args, method) {
            calls.push('logMethod');
            method.apply(this, [...args, 'SECRET-5'] as Parameters<typeof method>);
          },
        },
        onChild: () => void calls.push('onChild'),
      }),
    );
    logger.child({ c: 1 }).debug({ req: { url: '/x', headers: { auth: 'hdr' } } }, 'got %s');
    expect(calls).toEqual(['onChild', 'logMethod', 'log', 'req']);
    const [line] = parsed();
    expect(line).toMatchObject({
      severity: 'debug',
      added: { secretValue: '[REDACTED]' },
      req: { url: '/x', headers: { authSecret: '[REDACTED]' } },
      msg: 'got [REDACTED:secret]',
    });
    expect(lines.join('')).not.toMatch(/from-formatter|hdr|SECRET-5/);
  });

  it('refuses a redactor not made by createRedactor', () => {
    expect(() => pinoRedaction({ redact: (v: unknown) => v, stringify: String } as never)).toThrow(
      'redactor must be a redactor made by createRedactor',
    );
    expect(() => pinoRedaction(redactor, 'x' as never)).toThrow('options must be an object');
  });
});
