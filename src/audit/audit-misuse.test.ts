/**
 * What a new user runs into: bad arguments, misbehaving callbacks (protector, signer, sink) and
 * hand-made inputs, each refused with a TypeError naming the option or a FlowproofError with a
 * documented code, and nothing half-written.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { memoryAuditLog, privateKey, publicKey, signer } from '../../test/support/audit-logs.js';
import { rejection } from '../../test/support/failures.js';
import { createMemoryAuditStore, createMemoryBackend } from '../adapters/memory/index.js';
import { isFlowproofError } from '../core/errors.js';
import {
  type AuditEntry,
  createAuditLog,
  createEd25519Signer,
  createEd25519Verifier,
  createHmacSigner,
  createHttpWitness,
  diffChanges,
  verifyAuditExport,
} from './index.js';

const base: AuditEntry = { action: 'user.updated', resource: { type: 'user', id: 'u-1' } };

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  return expect.unreachable('expected a throw');
}

function expectCode(error: unknown, code: string): void {
  expect(isFlowproofError(error) ? error.code : error).toBe(code);
}

describe('archive', () => {
  it('deletes nothing when the sink resolves without reading every line', async () => {
    const { audit } = await memoryAuditLog();
    for (let i = 0; i < 3; i++) await audit.record(base);
    let read = 0;
    const error = await rejection(
      audit.archive({
        chain: 'global',
        throughSeq: 2,
        sink: async (lines) => {
          for await (const _ of lines) if (++read === 2) break;
        },
      }),
    );
    expectCode(error, 'AUDIT_ARCHIVE_REFUSED');
    const verification = await audit.verify({ from: 'start' });
    expect(verification.ok).toBe(true);
    expect(verification.chains[0]?.fromSeq).toBe(0);
    expect((await audit.query()).records.map((r) => r.seq)).toEqual([1, 2, 3]);
  });
});

describe('protector', () => {
  const changed: AuditEntry = { ...base, subject: 'u-1', changes: { email: { after: 'a@x.io' } } };

  it('reveal: a protector that throws or returns non-JSON is AUDIT_PROTECTOR_FAILED', async () => {
    const { audit, store } = await memoryAuditLog();
    const record = await audit.record(changed);
    const cause = new SyntaxError('Unexpected token');
    const throwing = createAuditLog({
      store,
      protector: {
        protect: (value) => value,
        reveal: () => {
          throw cause;
        },
      },
    });
    const error = await rejection(throwing.reveal(record));
    expectCode(error, 'AUDIT_PROTECTOR_FAILED');
    expect((error as Error).cause).toBe(cause);
    const rejecting = createAuditLog({
      store,
      protector: { protect: (value) => value, reveal: () => Promise.reject(cause) },
    });
    expectCode(await rejection(rejecting.reveal(record)), 'AUDIT_PROTECTOR_FAILED');
    for (const bad of [10n, new Map(), () => 1, Number.NaN]) {
      const odd = createAuditLog({
        store,
        protector: { protect: (value) => value, reveal: () => bad },
      });
      expectCode(await rejection(odd.reveal(record)), 'AUDIT_PROTECTOR_FAILED');
    }
  });

  it('record: a protector returning non-JSON is AUDIT_PROTECTOR_FAILED and writes nothing', async () => {
    const { audit, store } = await memoryAuditLog();
    for (const bad of [10n, undefined, new Date(0), Number.POSITIVE_INFINITY]) {
      for (const sync of [true, false]) {
        const odd = createAuditLog({
          store,
          protector: {
            protect: () => (sync ? bad : Promise.resolve(bad)) as never,
            reveal: (value) => value,
          },
        });
        expectCode(await rejection(odd.record(changed)), 'AUDIT_PROTECTOR_FAILED');
      }
    }
    expect((await audit.query()).records).toEqual([]);
  });
});

describe('options', () => {
  it('createAuditLog: verifiers that are not an array is a TypeError naming the option', async () => {
    const { store } = await memoryAuditLog();
    for (const verifiers of [5, 'k1', {}, [5]]) {
      const error = thrown(() => createAuditLog({ store, verifiers: verifiers as never }));
      expect(error).toBeInstanceOf(TypeError);
      expect((error as Error).message).toMatch(/^options\.verifiers /);
      const nested = thrown(() =>
        createAuditLog({ store, checkpoints: { signer, verifiers: verifiers as never } }),
      );
      expect((nested as Error).message).toMatch(/^options\.checkpoints\.verifiers /);
    }
  });
});

describe('signers and witnesses', () => {
  it('refuse misspelled options with a TypeError naming them', () => {
    const cases: [string, () => unknown][] = [
      ['options.keyID', () => createEd25519Signer({ keyId: 'k', privateKey, keyID: 'x' } as never)],
      ['options.key', () => createEd25519Verifier({ keyId: 'k', publicKey, key: 1 } as never)],
      [
        'options.secrets',
        () => createHmacSigner({ keyId: 'k', secret: 'x'.repeat(32), secrets: 1 } as never),
      ],
      ['options', () => createHmacSigner(5 as never)],
    ];
    for (const [name, make] of cases) {
      const error = thrown(make);
      expect(error).toBeInstanceOf(TypeError);
      expect((error as Error).message).toContain(name);
    }
  });

  it('createHttpWitness refuses headers that are not an object of strings', () => {
    for (const headers of [
      5,
      'x',
      [],
      { authorization: 5 },
      { 'bad header': 'x' },
      { a: 'x\ny' },
    ]) {
      const error = thrown(() =>
        createHttpWitness({ url: 'http://w.example/', headers: headers as never }),
      );
      expect(error).toBeInstanceOf(TypeError);
      expect((error as Error).message).toMatch(/^options\.headers/);
    }
  });
});

describe('timers', () => {
  it('refuses an everyMs no timer can wait (over 2^31 - 1 ms), naming it', async () => {
    const { store } = await memoryAuditLog();
    for (const everyMs of [2 ** 31, 2 ** 40]) {
      const error = thrown(() => createAuditLog({ store, checkpoints: { signer, everyMs } }));
      expect(error).toBeInstanceOf(TypeError);
      expect((error as Error).message).toMatch(/^options\.checkpoints\.everyMs /);
    }
    const longest = createAuditLog({ store, checkpoints: { signer, everyMs: 2 ** 31 - 1 } });
    await longest.close();
    const error = thrown(() => createHttpWitness({ url: 'http://w.example/', timeoutMs: 2 ** 31 }));
    expect((error as Error).message).toMatch(/^options\.timeoutMs /);
  });
});

describe('verifyAuditExport', () => {
  it('refuses bad arguments with a TypeError naming them', async () => {
    const { audit } = await memoryAuditLog();
    await audit.record(base);
    const lines: string[] = [];
    for await (const line of audit.exportRange({ chain: 'global' })) lines.push(line);
    const verifiers = [createEd25519Verifier({ keyId: 'k1', publicKey })];
    const cases: [string, Promise<unknown>][] = [
      ['lines', verifyAuditExport(5 as never, { verifiers })],
      ['lines', verifyAuditExport(null as never, { verifiers })],
      ['options', verifyAuditExport(lines, undefined as never)],
      ['options.verifier', verifyAuditExport(lines, { verifier: verifiers } as never)],
    ];
    for (const [name, promise] of cases) {
      const error = await rejection(promise);
      expect(error).toBeInstanceOf(TypeError);
      expect((error as Error).message).toContain(name);
    }
    expect(await verifyAuditExport(lines, { verifiers })).toMatchObject({ ok: true, records: 1 });
  });

  it('reports records beyond the range its header declares', async () => {
    const { audit } = await memoryAuditLog();
    for (let i = 0; i < 4; i++) await audit.record(base);
    await audit.checkpoint();
    const lines: string[] = [];
    for await (const line of audit.exportRange({ chain: 'global' })) lines.push(line);
    const verifiers = [createEd25519Verifier({ keyId: 'k1', publicKey })];
    const header = JSON.parse(lines[0] as string) as Record<string, unknown>;
    const edited = [JSON.stringify({ ...header, throughSeq: 2 }), ...lines.slice(1)];
    const report = await verifyAuditExport(edited, { verifiers });
    expect(report).toMatchObject({ ok: false, break: { kind: 'inserted', seq: 3 } });
  });
});

describe('values', () => {
  function nested(depth: number): Record<string, unknown> {
    let value: Record<string, unknown> = { leaf: true };
    for (let i = 0; i < depth; i++) value = { a: value };
    return value;
  }

  it('refuses values nested too deep with a TypeError naming the field, not a RangeError', async () => {
    const { audit } = await memoryAuditLog();
    const deep = nested(100_000);
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    const cases: [string, () => Promise<unknown>][] = [
      ['entry.metadata', () => audit.record({ ...base, metadata: deep })],
      ['entry.changes', () => audit.record({ ...base, changes: { x: { after: deep } } })],
      ['before', async () => diffChanges(deep, {})],
      ['before', async () => diffChanges(deep, nested(100_000))],
      ['before', async () => diffChanges(cycle, cycle)],
    ];
    for (const [name, run] of cases) {
      const error = await rejection(run());
      expect(error).toBeInstanceOf(TypeError);
      expect((error as Error).message).toMatch(new RegExp(`^${name.replace('.', '\\.')}`));
    }
    expect((await audit.query()).records).toEqual([]);
    // Deep but reasonable values are kept as given.
    const record = await audit.record({ ...base, metadata: nested(200) });
    expect(record.metadata).toEqual(nested(200));
  });
});

describe('transaction', () => {
  it('a transaction of another kind of backend is a TypeError naming options.transaction', async () => {
    const { audit } = await memoryAuditLog();
    for (const transaction of [{}, 'tx', { kind: 'sqlite', inTransaction: true }]) {
      const error = await rejection(audit.record(base, { transaction: transaction as never }));
      expect(error).toBeInstanceOf(TypeError);
      expect((error as Error).message).toMatch(/^options\.transaction /);
    }
    expect((await audit.query()).records).toEqual([]);
  });
});

describe('signer', () => {
  const failing = (sign: () => unknown) =>
    ({ keyId: 'hsm', algorithm: 'ed25519', verify: () => false, sign }) as never;

  it('a signer that throws or signs wrongly is AUDIT_SIGNER_FAILED; nothing is stored', async () => {
    const { store, audit } = await memoryAuditLog();
    for (let i = 0; i < 3; i++) await audit.record(base);
    const cause = new Error('HSM unreachable');
    const signers = [
      failing(() => {
        throw cause;
      }),
      failing(() => 'c2lnbmF0dXJl'),
      failing(() => Promise.resolve(new Uint8Array(64))),
      failing(() => new Uint8Array(64)),
    ];
    for (const bad of signers) {
      const log = createAuditLog({ store, checkpoints: { signer: bad } });
      const error = await rejection(log.checkpoint());
      expectCode(error, 'AUDIT_SIGNER_FAILED');
      const archiving = await rejection(
        log.archive({
          chain: 'global',
          throughSeq: 2,
          sink: async (lines) => {
            for await (const _ of lines);
          },
        }),
      );
      expectCode(archiving, 'AUDIT_SIGNER_FAILED');
    }
    expect((await store.checkpoints({ chain: 'global', afterSeq: 0, limit: 10 })).length).toBe(0);
    const verification = await audit.verify({ from: 'start' });
    expect(verification.chains[0]).toMatchObject({ ok: true, fromSeq: 0, records: 3 });
  });
});

describe('dates', () => {
  it('refuses date-times whose instant depends on the host time zone, naming the option', async () => {
    const { audit } = await memoryAuditLog();
    await audit.record(base);
    for (const from of [
      '2026-01-01T00:00:00',
      '2026-01-01',
      'Jan 1 2026',
      '+099999-01-01T00:00:00Z',
    ]) {
      const error = await rejection(audit.query({ from }));
      expect(error).toBeInstanceOf(TypeError);
      expect((error as Error).message).toMatch(/^query\.from /);
      const archiving = await rejection(
        audit.archive({ chain: 'global', before: from, sink: async () => {} }),
      );
      expect((archiving as Error).message).toMatch(/^options\.before /);
    }
    const to = await rejection(audit.query({ to: new Date(Number.NaN) }));
    expect((to as Error).message).toMatch(/^query\.to /);
    const page = await audit.query({
      from: '2026-01-01T01:00:00+01:00',
      to: new Date(Date.now() + 60_000),
    });
    expect(page.records).toHaveLength(1);
  });
});

describe('verify against witnessed checkpoints', () => {
  it('refuses entries that are not checkpoints, naming them', async () => {
    const { audit } = await memoryAuditLog();
    await audit.record(base);
    const [checkpoint] = await audit.checkpoint();
    for (const bad of [{}, null, 5, { ...checkpoint, seq: '1' }]) {
      const error = await rejection(
        audit.verify({ from: 'start', checkpoints: [checkpoint, bad] as never }),
      );
      expect(error).toBeInstanceOf(TypeError);
      expect((error as Error).message).toMatch(/^options\.checkpoints\[1\] /);
    }
  });

  it('reports a chain a witness vouches for that the database no longer holds', async () => {
    const { backend } = await memoryAuditLog();
    const tenants = createAuditLog({
      store: createMemoryAuditStore({ backend }),
      chain: (entry) => entry.resource.type,
      checkpoints: { signer },
    });
    await tenants.record(base);
    await tenants.record({ ...base, resource: { type: 'order', id: 'o-1' } });
    const witnessed = await tenants.checkpoint();
    expect(witnessed.map((c) => c.chain)).toEqual(['order', 'user']);
    // Someone removes chain "order" whole: its records, checkpoints and head.
    const other = createMemoryBackend();
    const copy = createMemoryAuditStore({ backend: other });
    await copy.migrate();
    const survivor = createAuditLog({ store: copy, checkpoints: { signer } });
    await survivor.record(base);
    const verification = await survivor.verify({ from: 'start', checkpoints: witnessed });
    expect(verification.ok).toBe(false);
    expect(verification.chains.find((c) => c.chain === 'order')).toMatchObject({
      ok: false,
      records: 0,
      break: { kind: 'truncated', seq: 1 },
    });
    // Asked about one chain, only that chain's witnessed checkpoints count.
    expect((await survivor.verify({ chain: 'user', from: 'start', checkpoints: [] })).ok).toBe(
      true,
    );
    expect((await survivor.verify({ chain: 'order', checkpoints: witnessed })).ok).toBe(false);
  });
});

describe('close', () => {
  it('every method of a closed log is AUDIT_LOG_CLOSED, reveal() too', async () => {
    const { audit } = await memoryAuditLog();
    const record = await audit.record(base);
    await audit.close();
    const calls: (() => Promise<unknown>)[] = [
      () => audit.record(base),
      () => audit.recordMany([base]),
      () => audit.query(),
      () => audit.reveal(record),
      () => audit.verify(),
      () => audit.assertVerified(),
      () => audit.checkpoint(),
      async () => audit.exportRange({ chain: 'global' }),
      () => audit.archive({ chain: 'global', throughSeq: 1, sink: async () => {} }),
    ];
    for (const call of calls) expectCode(await rejection(call()), 'AUDIT_LOG_CLOSED');
    await audit.close();
  });
});

describe('close signs what moved', () => {
  it('whatever automatic checkpoints are configured (everyMs alone, or none)', async () => {
    for (const automatic of [{ everyMs: 3_600_000 }, {}, { everyRecords: 100 }]) {
      const { audit, store } = await memoryAuditLog({ checkpoints: { signer, ...automatic } });
      await audit.record(base);
      await audit.record(base);
      await audit.close();
      const stored = await store.checkpoints({ chain: 'global', afterSeq: 0, limit: 10 });
      expect(
        stored.map((c) => c.seq),
        JSON.stringify(automatic),
      ).toEqual([2]);
    }
  });
});

describe('archive before a date', () => {
  it('says no record is that old, rather than that records through 0 are archived', async () => {
    const { audit } = await memoryAuditLog();
    await audit.record(base);
    const error = await rejection(
      audit.archive({
        chain: 'global',
        before: new Date(0),
        sink: async (lines) => {
          for await (const _ of lines);
        },
      }),
    );
    expectCode(error, 'AUDIT_ARCHIVE_REFUSED');
    expect((error as Error).message).toContain(
      'no record after record 0 was recorded before 1970-01-01T00:00:00.000Z',
    );
  });
});

describe('diffChanges', () => {
  it('refuses a dotted key that collides with a nested path instead of losing a change', () => {
    const cases: [Record<string, unknown>, Record<string, unknown>][] = [
      [
        { 'a.b': 1, a: { b: 2 } },
        { 'a.b': 3, a: { b: 4 } },
      ],
      [
        { 'a.b': 1, a: { b: 2 } },
        { 'a.b': 1, a: { b: 4 } },
      ],
      [{ a: { b: 2 } }, { 'a.b': 1, a: { b: 4 } }],
    ];
    for (const [before, after] of cases) {
      const error = thrown(() => diffChanges(before, after));
      expect(error).toBeInstanceOf(TypeError);
      expect((error as Error).message).toContain('a.b');
    }
    expect(diffChanges({ 'a.b': 1 }, { 'a.b': 2 })).toEqual({ 'a.b': { before: 1, after: 2 } });
  });
});

describe('verifyAuditExport reads streams', () => {
  it('takes the export in chunks cut anywhere, as text or UTF-8 bytes', async () => {
    const { audit } = await memoryAuditLog();
    for (let i = 0; i < 6; i++) {
      await audit.record({ ...base, reason: `naïve café ${'€'.repeat(i)} 🙂`, metadata: { i } });
    }
    await audit.checkpoint();
    let text = '';
    for await (const line of audit.exportRange({ chain: 'global' })) text += line;
    const bytes = Buffer.from(text, 'utf8');
    const verifiers = [createEd25519Verifier({ keyId: 'k1', publicKey })];
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(fc.integer({ min: 1, max: bytes.length - 1 }), { maxLength: 12 }),
        fc.boolean(),
        async (cuts, asBytes) => {
          const points = [0, ...[...cuts].sort((a, b) => a - b), bytes.length];
          const chunks = points.slice(1).map((end, i) => bytes.subarray(points[i], end));
          const input = asBytes
            ? chunks
            : // Text chunks cut between characters (a cut inside one moves to its start).
              chunks.map((_, i) =>
                text.slice(
                  Buffer.from(bytes.subarray(0, points[i])).toString('utf8').length,
                  Buffer.from(bytes.subarray(0, points[i + 1])).toString('utf8').length,
                ),
              );
          const report = await verifyAuditExport(input as never, { verifiers });
          expect(report).toMatchObject({ ok: true, records: 6, checkpoints: 1 });
        },
      ),
      { numRuns: 200 },
    );
  });

  it('numbers lines as the file does, whether items end with a line feed or not', async () => {
    const { audit } = await memoryAuditLog();
    await audit.record(base);
    const lines: string[] = [];
    for await (const line of audit.exportRange({ chain: 'global' })) lines.push(line);
    const broken = [...lines, 'not json\n'];
    const error = await rejection(verifyAuditExport(broken, { verifiers: [] }));
    expectCode(error, 'AUDIT_EXPORT_MALFORMED');
    expect((error as Error).message).toContain(`line ${lines.length + 1}:`);
  });
});

describe('left-over misuse', () => {
  it('verify({ chain }) of a chain without records reports it with no records', async () => {
    const backend = createMemoryBackend();
    const store = createMemoryAuditStore({ backend });
    await store.migrate();
    const audit = createAuditLog({ store });
    await audit.record({ action: 'a', resource: { type: 't', id: '1' } });
    const report = await audit.verify({ chain: 'globl' });
    expect(report.chains).toEqual([
      expect.objectContaining({ chain: 'globl', ok: true, records: 0 }),
    ]);
  });

  it('refuses a change with neither a before nor an after value', async () => {
    const store = createMemoryAuditStore({ backend: createMemoryBackend() });
    await store.migrate();
    const audit = createAuditLog({ store });
    await expect(
      audit.record({ action: 'a', resource: { type: 't', id: '1' }, changes: { email: {} } }),
    ).rejects.toThrow(/entry\.changes\["email"\] must have a before or an after value/);
  });

  it('recordMany of a non-array rejects (never throws synchronously)', async () => {
    const store = createMemoryAuditStore({ backend: createMemoryBackend() });
    await store.migrate();
    const audit = createAuditLog({ store });
    const pending = audit.recordMany('not entries' as never);
    await expect(pending).rejects.toThrow(/entries must be an array/);
  });

  it('an HMAC signer keeps its own copy of the secret', () => {
    const secret = Buffer.alloc(32, 1);
    const signer = createHmacSigner({ keyId: 'h', secret });
    const message = Buffer.from('m');
    const signature = signer.sign(message);
    secret.fill(2);
    expect(signer.verify(message, signature)).toBe(true);
  });
});
