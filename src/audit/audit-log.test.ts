import { describe, expect, it } from 'vitest';
import { memoryAuditLog, publicKey, signer } from '../../test/support/audit-logs.js';
import { rejection } from '../../test/support/failures.js';
import { createMemoryAuditStore, createMemoryBackend } from '../adapters/memory/index.js';
import {
  MEMORY_AUDIT_RECORDS,
  type MemoryAuditRecord,
  recordKey,
} from '../adapters/memory/memory-audit-store.js';
import { canonicalJson } from '../core/canonical-json.js';
import { runWithContext } from '../core/context.js';
import { isFlowproofError } from '../core/errors.js';
import { auditRecordBody, auditRecordHash } from './audit-encoding.js';
import {
  AUDIT_UNREADABLE,
  type AuditEntry,
  type AuditProtector,
  createAuditLog,
  createEd25519Signer,
  createEd25519Verifier,
  createHmacSigner,
  createRedactingProtector,
  diffChanges,
  verifyAuditExport,
} from './index.js';

function entry(i: number): AuditEntry {
  return {
    action: 'user.updated',
    actor: { id: `admin-${i % 3}`, type: 'user', ip: '10.0.0.1' },
    resource: { type: 'user', id: `u-${i % 5}` },
    changes: { email: { before: `a${i}@example.com`, after: `b${i}@example.com` } },
  };
}

describe('record', () => {
  it('chains records with the flow context, the store clock and canonical content', async () => {
    const { audit } = await memoryAuditLog({ service: 'accounts-api' });
    const record = await runWithContext(
      { correlationId: 'corr-1', causationId: 'cause-1', actor: { id: 'u-9', type: 'user' } },
      () =>
        audit.record({
          action: 'user.updated',
          resource: { type: 'user', id: 'u-42' },
          changes: { email: { before: 'a@x.io', after: 'b@x.io' } },
          reason: 'customer request',
        }),
    );
    expect(record).toMatchObject({
      chain: 'global',
      seq: 1,
      actor: { id: 'u-9', type: 'user' },
      correlationId: 'corr-1',
      causationId: 'cause-1',
      where: { service: 'accounts-api' },
      result: { status: 'success' },
    });
    expect(record.recordedAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    const second = await audit.record(entry(2));
    expect(second.prevHash).toBe(record.hash);
    expect(second.seq).toBe(2);
    const { records } = await audit.query({ correlationId: 'corr-1' });
    expect(records).toEqual([record]);
  });

  it('writes the content as the canonical JSON of the entry', async () => {
    const { store, audit } = await memoryAuditLog();
    const record = await runWithContext({ correlationId: 'c' }, () =>
      audit.record({
        ...entry(1),
        result: { status: 'failure', errorCode: 'E1', message: 'no' },
        where: { endpoint: 'PUT /users/:id' },
        metadata: { z: 1, a: [true, null] },
        subject: 'u-1',
      }),
    );
    const [row] = await store.readChain({ chain: 'global', afterSeq: 0, limit: 1 });
    const { chain: _c, seq: _s, recordedAt: _r, hash: _h, prevHash: _p, ...content } = record;
    const withoutNulls = Object.fromEntries(Object.entries(content).filter(([, v]) => v !== null));
    const at = Date.parse(record.recordedAt);
    expect(row?.body).toBe(
      auditRecordBody('global', 1, at, canonicalJson(withoutNulls, 'content').slice(1, -1)),
    );
    expect(row?.hash).toBe(auditRecordHash('0'.repeat(64), row?.body ?? ''));
  });

  it('refuses malformed entries with a TypeError naming the field, writing nothing', async () => {
    const { store, audit } = await memoryAuditLog();
    const bad: unknown[] = [
      { resource: { type: 'user', id: '1' } },
      { action: 'x', resource: { type: 'user' } },
      { action: 'x', resource: { type: 'user', id: '1' }, changes: { a: 1 } },
      { action: 'x', resource: { type: 'user', id: '1' }, changes: { a: { after: new Date() } } },
      { action: 'x', resource: { type: 'user', id: '1' }, result: { status: 'failure' } },
      { action: 'x', resource: { type: 'user', id: '1' }, actorr: { id: '1' } },
      { action: 'x\u0000', resource: { type: 'user', id: '1' } },
    ];
    for (const value of bad) {
      const error = await rejection(audit.record(value as AuditEntry));
      expect(error).toBeInstanceOf(TypeError);
      expect((error as Error).message).toMatch(/^(entry|unknown option entry)/);
    }
    expect(await store.heads()).toEqual([]);
  });

  it('recordMany is all or none', async () => {
    const { store, audit } = await memoryAuditLog();
    const error = await rejection(
      audit.recordMany([entry(1), { ...entry(2), action: '' }, entry(3)]),
    );
    expect((error as Error).message).toMatch(/entries\[1\]\.action/);
    expect(await store.heads()).toEqual([]);
    const records = await audit.recordMany([entry(1), entry(2)]);
    expect(records.map((r) => r.seq)).toEqual([1, 2]);
  });

  it('joins a transaction: a rollback leaves no record and no gap', async () => {
    const { backend, store, audit } = await memoryAuditLog();
    await audit.record(entry(1));
    await rejection(
      backend.transaction(async (tx) => {
        await audit.record(entry(2), { transaction: tx });
        throw new Error('business write failed');
      }),
    );
    const next = await audit.record(entry(3));
    expect(next.seq).toBe(2);
    expect((await audit.verify()).ok).toBe(true);
    expect(await store.readChain({ chain: 'global', afterSeq: 0, limit: 10 })).toHaveLength(2);
  });

  it('writes appends that arrive meanwhile together, in call order, each caller its own', async () => {
    const backend = createMemoryBackend();
    const store = createMemoryAuditStore({ backend });
    await store.migrate();
    const calls: number[] = [];
    let failNext = false;
    const counting = Object.assign(Object.create(store) as typeof store, {
      append: (appends: Parameters<typeof store.append>[0]) => {
        calls.push(appends.length);
        if (failNext) {
          failNext = false;
          return Promise.reject(new Error('connection lost'));
        }
        return store.append(appends);
      },
    });
    const audit = createAuditLog({ store: counting });
    const records = await Promise.all(Array.from({ length: 40 }, (_, i) => audit.record(entry(i))));
    expect(records.map((r) => r.seq)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    expect(records.map((r) => r.resource.id)).toEqual(
      Array.from({ length: 40 }, (_, i) => `u-${i % 5}`),
    );
    // The first alone, the 39 that came while it was written in one batch.
    expect(calls).toEqual([1, 39]);
    expect((await audit.verify()).ok).toBe(true);
    // A failed batch fails each of its callers, and nothing of it is written.
    const first = audit.record(entry(100));
    failNext = true;
    const batch = [audit.record(entry(101)), audit.recordMany([entry(102), entry(103)])];
    await first;
    const errors = await Promise.all(batch.map(rejection));
    expect(errors.map((e) => (e as Error).message)).toEqual(['connection lost', 'connection lost']);
    expect((await audit.record(entry(104))).seq).toBe(42);
  });

  it('keeps a chain per tenant', async () => {
    const { audit } = await memoryAuditLog({ chain: 'tenant' });
    const a = await runWithContext({ tenant: 'acme' }, () => audit.record(entry(1)));
    const b = await runWithContext({ tenant: 'globex' }, () => audit.record(entry(2)));
    expect([a.chain, a.seq, b.chain, b.seq]).toEqual(['acme', 1, 'globex', 1]);
    const error = await rejection(audit.record(entry(3)));
    expect(isFlowproofError(error) && error.code).toBe('INVALID_CONTEXT');
  });
});

describe('protector', () => {
  // A minimal protector: values of the subject encrypted under the subject's key (here a
  // reversible stand-in), unreadable once the key is destroyed.
  function keyedProtector() {
    const keys = new Map<string, string>();
    const protector: AuditProtector = {
      protect: (value, { subject }) => {
        if (subject === undefined) return value;
        if (!keys.has(subject)) keys.set(subject, `key-${subject}`);
        return {
          $enc: Buffer.from(`${keys.get(subject)}|${JSON.stringify(value)}`).toString('base64'),
        };
      },
      reveal: (stored, { subject }) => {
        const enc = (stored as { $enc?: string } | null)?.$enc;
        if (enc === undefined) return stored;
        const key = subject === undefined ? undefined : keys.get(subject);
        if (key === undefined) return AUDIT_UNREADABLE;
        const [, json] = Buffer.from(enc, 'base64').toString().split('|');
        return JSON.parse(json ?? 'null');
      },
    };
    return { keys, protector };
  }

  it('stores the protected form, reveals it, and verifies after the key is destroyed', async () => {
    const { keys, protector } = keyedProtector();
    const { audit } = await memoryAuditLog({ protector });
    const record = await audit.record({ ...entry(1), subject: 'u-1' });
    expect(JSON.stringify(record.changes)).not.toContain('example.com');
    expect((await audit.reveal(record)).changes).toEqual({
      email: { before: 'a1@example.com', after: 'b1@example.com' },
    });
    keys.delete('u-1');
    const [stored] = (await audit.query()).records;
    expect((await audit.reveal(stored as never)).changes).toEqual({
      email: { unreadable: ['before', 'after'] },
    });
    expect((await audit.verify({ from: 'start' })).ok).toBe(true);
  });

  it('fails with AUDIT_PROTECTOR_FAILED and writes nothing when the protector throws', async () => {
    const { store, audit } = await memoryAuditLog({
      protector: {
        protect: () => {
          throw new Error('key service down');
        },
        reveal: (v) => v,
      },
    });
    const error = await rejection(audit.record(entry(1)));
    expect(isFlowproofError(error) && error.code).toBe('AUDIT_PROTECTOR_FAILED');
    expect(isFlowproofError(error) && error.details).toEqual({ field: 'email' });
    expect(await store.heads()).toEqual([]);
  });

  it('createRedactingProtector stores markers for the listed fields only', async () => {
    const { audit } = await memoryAuditLog({
      protector: createRedactingProtector(['password', 'card.*']),
    });
    const record = await audit.record({
      ...entry(1),
      changes: {
        password: { before: 'hunter2', after: 'correct horse' },
        'card.number': { after: '4111111111111111' },
        name: { before: 'Ada', after: 'Grace' },
      },
    });
    expect(JSON.stringify(record)).not.toMatch(/hunter2|correct horse|4111/);
    expect((await audit.reveal(record)).changes).toEqual({
      password: { unreadable: ['before', 'after'] },
      'card.number': { unreadable: ['after'] },
      name: { before: 'Ada', after: 'Grace' },
    });
  });
});

describe('diffChanges', () => {
  it('walks nested objects and compares other values whole', () => {
    expect(
      diffChanges(
        { email: 'a', address: { city: 'Oslo', zip: '1' }, tags: [1, 2], gone: true, same: 1 },
        { email: 'b', address: { city: 'Bergen', zip: '1' }, tags: [1, 2], added: 'x', same: 1 },
        { ignore: ['updatedAt'] },
      ),
    ).toEqual({
      added: { after: 'x' },
      'address.city': { before: 'Oslo', after: 'Bergen' },
      email: { before: 'a', after: 'b' },
      gone: { before: true },
    });
  });

  it('keeps only the fields asked for', () => {
    expect(diffChanges({ a: 1, b: 1 }, { a: 2, b: 2 }, { fields: ['b'] })).toEqual({
      b: { before: 1, after: 2 },
    });
  });
});

describe('verify', () => {
  async function chainOf(n: number) {
    const context = await memoryAuditLog();
    await context.audit.recordMany(Array.from({ length: n }, (_, i) => entry(i)));
    const records = context.backend.collection<MemoryAuditRecord>(MEMORY_AUDIT_RECORDS);
    const get = (seq: number) => records.get(recordKey('global', seq)) as MemoryAuditRecord;
    const put = (row: MemoryAuditRecord) => records.set(recordKey('global', row.seq), row);
    return { ...context, records, get, put };
  }

  async function firstBreak(audit: Awaited<ReturnType<typeof memoryAuditLog>>['audit']) {
    const [report] = (await audit.verify({ from: 'start' })).chains;
    return report?.break && { kind: report.break.kind, seq: report.break.seq };
  }

  it('passes on an intact chain and reports what it checked', async () => {
    const { audit } = await chainOf(20);
    await audit.checkpoint();
    const verification = await audit.verify();
    expect(verification.ok).toBe(true);
    expect(verification.chains[0]).toMatchObject({ records: 20, checkpoints: 1, throughSeq: 20 });
    // Incremental: the next verification starts at the checkpoint.
    await audit.record(entry(21));
    expect((await audit.verify()).chains[0]).toMatchObject({ fromSeq: 20, records: 1 });
  });

  it('pinpoints an edited body', async () => {
    const { audit, get, put } = await chainOf(10);
    put({ ...get(4), body: get(4).body.replace('example.com', 'evil.example') });
    expect(await firstBreak(audit)).toEqual({ kind: 'content-changed', seq: 4 });
  });

  it('pinpoints an edited time', async () => {
    const { audit, get, put } = await chainOf(10);
    put({ ...get(6), recordedAt: get(6).recordedAt + 1 });
    expect(await firstBreak(audit)).toEqual({ kind: 'content-changed', seq: 6 });
  });

  it('pinpoints an edited hash or link', async () => {
    for (const [field, seq] of [
      ['hash', 3],
      ['hash', 10],
      ['prevHash', 5],
    ] as const) {
      const { audit, get, put } = await chainOf(10);
      put({ ...get(seq), [field]: 'f'.repeat(64) });
      expect(await firstBreak(audit)).toEqual({ kind: 'link-broken', seq });
    }
  });

  it('pinpoints a removed record, with or without renumbering', async () => {
    const gap = await chainOf(10);
    gap.records.delete(recordKey('global', 4));
    expect(await firstBreak(gap.audit)).toEqual({ kind: 'missing', seq: 4 });
    const first = await chainOf(10);
    first.records.delete(recordKey('global', 1));
    expect(await firstBreak(first.audit)).toEqual({ kind: 'missing', seq: 1 });
    const renumbered = await chainOf(10);
    for (let seq = 4; seq < 10; seq++) {
      renumbered.put({ ...renumbered.get(seq + 1), seq });
    }
    renumbered.records.delete(recordKey('global', 10));
    expect(await firstBreak(renumbered.audit)).toEqual({ kind: 'missing', seq: 4 });
  });

  it('pinpoints an inserted record, forged crudely or well', async () => {
    for (const wellFormed of [false, true]) {
      const { audit, get, put } = await chainOf(10);
      const rows = Array.from({ length: 10 }, (_, i) => get(i + 1));
      for (const row of rows.slice(6).reverse()) put({ ...row, seq: row.seq + 1 });
      const body = auditRecordBody('global', 7, get(6).recordedAt, '"action":"forged"');
      put({
        ...get(6),
        seq: 7,
        body,
        prevHash: get(6).hash,
        hash: wellFormed ? auditRecordHash(get(6).hash, body) : 'a'.repeat(64),
      });
      expect(await firstBreak(audit)).toEqual({ kind: 'inserted', seq: 7 });
    }
  });

  it('pinpoints a last record rewritten with a new hash, and one inserted at the last place', async () => {
    // Nothing follows the last record but the head, which names its hash.
    const rewritten = await chainOf(10);
    const last = rewritten.get(10);
    const body = last.body.replace('example.com', 'evil.example');
    rewritten.put({ ...last, body, hash: auditRecordHash(last.prevHash, body) });
    expect(await firstBreak(rewritten.audit)).toEqual({ kind: 'content-changed', seq: 10 });
    for (const wellFormed of [false, true]) {
      const { audit, get, put } = await chainOf(10);
      put({ ...get(10), seq: 11 });
      const forged = auditRecordBody('global', 10, get(9).recordedAt, '"action":"forged"');
      put({
        ...get(9),
        seq: 10,
        body: forged,
        prevHash: get(9).hash,
        hash: wellFormed ? auditRecordHash(get(9).hash, forged) : 'a'.repeat(64),
      });
      expect(await firstBreak(audit)).toEqual({ kind: 'inserted', seq: 10 });
    }
  });

  it('pinpoints swapped records', async () => {
    for (const [a, b] of [
      [3, 4],
      [2, 8],
    ] as const) {
      const { audit, get, put } = await chainOf(10);
      const [ra, rb] = [get(a), get(b)];
      put({ ...rb, seq: a });
      put({ ...ra, seq: b });
      expect(await firstBreak(audit)).toEqual({ kind: 'reordered', seq: a });
    }
  });

  it('pinpoints a truncated log', async () => {
    const { audit, records } = await chainOf(10);
    for (const seq of [8, 9, 10]) records.delete(recordKey('global', seq));
    expect(await firstBreak(audit)).toEqual({ kind: 'truncated', seq: 8 });
  });

  it('catches a consistent rewrite through the signed checkpoint', async () => {
    const { audit, get, put } = await chainOf(10);
    await audit.checkpoint();
    // Rewrite records 5..10 with recomputed hashes: every link holds, only the checkpoint knows.
    let prev = get(4).hash;
    for (let seq = 5; seq <= 10; seq++) {
      const row = get(seq);
      const body = row.body.replace('example.com', 'example.org');
      const hash = auditRecordHash(prev, body);
      put({ ...row, body, prevHash: prev, hash });
      prev = hash;
    }
    expect(await firstBreak(audit)).toEqual({ kind: 'checkpoint-mismatch', seq: 10 });
  });

  it('flags a checkpoint with a bad signature or an unknown key', async () => {
    const { audit, store } = await chainOf(5);
    const [head] = await store.heads('global');
    await store.addCheckpoint({
      chain: 'global',
      seq: 5,
      hash: head?.hash ?? '',
      signedAt: 0,
      keyId: 'stranger',
      algorithm: 'hmac-sha256',
      signature: 'AAAA',
    });
    expect(await firstBreak(audit)).toEqual({ kind: 'checkpoint-invalid', seq: 5 });
  });

  it('assertVerified throws AUDIT_CHAIN_BROKEN with the break', async () => {
    const { audit, get, put } = await chainOf(5);
    put({ ...get(2), body: get(2).body.replace('example.com', 'evil.example') });
    const error = await rejection(audit.assertVerified({ from: 'start' }));
    expect(isFlowproofError(error) && error.details).toEqual({
      chain: 'global',
      seq: 2,
      kind: 'content-changed',
    });
  });
});

describe('checkpoints, export and archive', () => {
  it('exports a range that verifies offline, and catches an edited export', async () => {
    const { audit } = await memoryAuditLog();
    await audit.recordMany(Array.from({ length: 30 }, (_, i) => entry(i)));
    await audit.checkpoint();
    const lines: string[] = [];
    for await (const line of audit.exportRange({ chain: 'global' })) lines.push(line);
    const verifiers = [createEd25519Verifier({ keyId: 'k1', publicKey })];
    const report = await verifyAuditExport(lines, { verifiers });
    expect(report).toMatchObject({ ok: true, records: 30, checkpoints: 1 });
    const edited = lines.map((l, i) => (i === 5 ? l.replace('example.com', 'example.net') : l));
    const broken = await verifyAuditExport(edited, { verifiers });
    expect(broken.break).toMatchObject({ kind: 'content-changed', seq: 5 });
    const error = await rejection(verifyAuditExport(['{"type":"nope"}'], { verifiers }));
    expect(isFlowproofError(error) && error.code).toBe('AUDIT_EXPORT_MALFORMED');
  });

  it('archives old records behind a signed checkpoint; the rest still verifies', async () => {
    const { audit, store } = await memoryAuditLog();
    await audit.recordMany(Array.from({ length: 25 }, (_, i) => entry(i)));
    let archived = '';
    const report = await audit.archive({
      chain: 'global',
      throughSeq: 10,
      batchSize: 4,
      sink: async (lines) => {
        for await (const line of lines) archived += line;
      },
    });
    expect(report).toMatchObject({ afterSeq: 0, throughSeq: 10, records: 10 });
    expect(await store.readChain({ chain: 'global', afterSeq: 0, limit: 100 })).toHaveLength(15);
    expect((await audit.verify({ from: 'start' })).chains[0]).toMatchObject({
      ok: true,
      fromSeq: 10,
      records: 15,
    });
    const offline = await verifyAuditExport(archived.split('\n'), {
      verifiers: [createEd25519Verifier({ keyId: 'k1', publicKey })],
    });
    expect(offline).toMatchObject({ ok: true, records: 10 });
    // A second archival continues from the boundary.
    const next = await audit.archive({
      chain: 'global',
      throughSeq: 20,
      sink: async (lines) => {
        for await (const _ of lines);
      },
    });
    expect(next).toMatchObject({ afterSeq: 10, throughSeq: 20, records: 10 });
    expect((await audit.verify({ from: 'start' })).ok).toBe(true);
  });

  it('refuses to archive a tampered range, and a boundary outside the chain', async () => {
    const { audit, backend } = await memoryAuditLog();
    await audit.recordMany(Array.from({ length: 10 }, (_, i) => entry(i)));
    const error = await rejection(
      audit.archive({ chain: 'global', throughSeq: 11, sink: async () => {} }),
    );
    expect(isFlowproofError(error) && error.code).toBe('AUDIT_ARCHIVE_REFUSED');
    const records = backend.collection<MemoryAuditRecord>(MEMORY_AUDIT_RECORDS);
    const row = records.get(recordKey('global', 3)) as MemoryAuditRecord;
    records.set(recordKey('global', 3), {
      ...row,
      body: row.body.replace('example.com', 'evil.example'),
    });
    let sank = false;
    const broken = await rejection(
      audit.archive({
        chain: 'global',
        throughSeq: 5,
        sink: async () => {
          sank = true;
        },
      }),
    );
    expect(isFlowproofError(broken) && broken.code).toBe('AUDIT_CHAIN_BROKEN');
    expect(sank).toBe(false);
    expect(records.size).toBe(10);
  });

  it('signs automatically every N records, with HMAC too', async () => {
    const hmac = createHmacSigner({ keyId: 'h1', secret: 'x'.repeat(32) });
    const { audit, store } = await memoryAuditLog({
      checkpoints: { signer: hmac, everyRecords: 5 },
    });
    for (let i = 0; i < 12; i++) await audit.record(entry(i));
    await audit.close();
    const checkpoints = await store.checkpoints({ chain: 'global', afterSeq: 0, limit: 10 });
    expect(checkpoints.map((c) => c.seq)).toEqual([5, 10, 12]);
    expect(checkpoints.every((c) => c.algorithm === 'hmac-sha256')).toBe(true);
    const error = await rejection(audit.record(entry(1)));
    expect(isFlowproofError(error) && error.code).toBe('AUDIT_LOG_CLOSED');
  });
});

describe('options', () => {
  it('refuses bad options with a TypeError naming the option', async () => {
    const store = createMemoryAuditStore({ backend: createMemoryBackend() });
    expect(() => createAuditLog({ store, chian: 'global' } as never)).toThrow(/options\.chian/);
    expect(() => createAuditLog({ store: {} as never })).toThrow(/options\.store/);
    expect(() => createAuditLog({ store, chain: 'per-user' as never })).toThrow(/options\.chain/);
    expect(() => createAuditLog({ store, checkpoints: { signer, everyRecords: 0 } })).toThrow(
      /options\.checkpoints\.everyRecords/,
    );
    expect(() => createHmacSigner({ keyId: 'h', secret: 'short' })).toThrow(/options\.secret/);
    expect(() => createEd25519Signer({ keyId: 'k', privateKey: 'nope' })).toThrow(
      /options\.privateKey/,
    );
    const audit = createAuditLog({ store });
    await expect(audit.checkpoint()).rejects.toThrow(/signer/);
    await expect(audit.query({ limit: 0 })).rejects.toThrow(/query\.limit/);
    await expect(audit.query({ cursor: 'garbage' })).rejects.toThrow(/query\.cursor/);
  });
});
