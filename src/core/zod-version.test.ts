import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { utcDateTime } from './schemas.js';
import { parseWithSchema, validateWithSchema } from './standard-schema.js';
import { assertZod4 } from './zod-version.js';

/** The parts of a zod 3 schema flowproof can see: `_def` and `_parse`, no `_zod`. */
const zod3Like = { _def: { typeName: 'ZodString' }, _parse: () => ({ status: 'valid' }) };

describe('zod 3 where flowproof needs zod 4', () => {
  it('utcDateTime() inside a zod 3 schema says zod 4 is needed, instead of "_parse is not a function"', () => {
    // A zod 3 object schema calls `_parse` on each of its fields' schemas.
    const field = utcDateTime() as unknown as { _parse: (input: unknown) => unknown };
    expect(() => field._parse({ data: '2026-01-01T00:00:00Z' })).toThrow(
      expect.objectContaining({
        name: 'TypeError',
        message: expect.stringMatching(/^utcDateTime\(\) is a zod 4 schema .*zod@\^4/),
      }),
    );
    // zod 4 never calls it: the schema works inside zod 4 schemas.
    expect(z.object({ at: utcDateTime() }).parse({ at: '2026-01-01T01:00:00+01:00' })).toEqual({
      at: '2026-01-01T00:00:00.000Z',
    });
  });

  it('utcDateTime() refuses to build on a zod without z.iso (zod 3)', () => {
    expect(() => assertZod4({ string: () => ({}) }, 'utcDateTime()')).toThrow(
      /^utcDateTime\(\) needs zod 4, but the zod installed next to flowproof is older/,
    );
    expect(() => assertZod4(z, 'utcDateTime()')).not.toThrow();
  });

  it('a zod 3 schema without Standard Schema support is named as such', async () => {
    expect(() => validateWithSchema(zod3Like as never, 'x')).toThrow(
      /^schema is a zod 3 schema without Standard Schema support/,
    );
    await expect(parseWithSchema(zod3Like as never, 'x')).rejects.toThrow(/zod 3 schema/);
  });
});
