import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  createMemoryAuditStore,
  createMemoryBackend,
  createMemoryDataKeyStore,
} from '../../adapters/memory/index.js';
import { createAuditLog } from '../../audit/audit-log.js';
import { createFieldEncryption } from './field-encryption.js';
import { createLocalKeyProvider } from './local-key-provider.js';

const keyProvider = createLocalKeyProvider({ keys: { k1: randomBytes(32) }, current: 'k1' });
const context = { table: 'users', column: 'email', row: '7', subject: 'user-7' };

/** Key store and audit store on one memory backend, so one transaction covers both. */
async function setup() {
  const backend = createMemoryBackend();
  const store = createMemoryDataKeyStore({ backend });
  const auditStore = createMemoryAuditStore({ backend });
  await store.migrate();
  await auditStore.migrate();
  const audit = createAuditLog({ store: auditStore });
  const encryption = createFieldEncryption({ store, keyProvider });
  return { backend, store, audit, encryption };
}

describe('shred with an audit log', () => {
  it('records privacy.subject-key.shredded and returns a receipt naming the record', async () => {
    const { audit, encryption } = await setup();
    const stored = await encryption.encrypt('ana@example.com', context);
    const receipt = await encryption.shred('user-7', {
      audit,
      actor: { id: 'dpo-1', type: 'user' },
      reason: 'erasure request #4411',
    });
    expect(receipt).toMatchObject({
      subject: 'user-7',
      keyId: encryption.keyIdOf(stored),
      alreadyShredded: false,
      auditRecordId: 'global:1',
    });
    const { records } = await audit.query();
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({
      action: 'privacy.subject-key.shredded',
      resource: { type: 'data-subject', id: 'user-7' },
      subject: 'user-7',
      actor: { id: 'dpo-1', type: 'user' },
      reason: 'erasure request #4411',
    });
    await expect(encryption.decrypt(stored, context)).rejects.toMatchObject({
      code: 'KEY_SHREDDED',
    });
  });

  it('in a transaction: the key and the record commit together', async () => {
    const { backend, audit, encryption } = await setup();
    const stored = await encryption.encrypt('ana@example.com', context);
    const receipt = await backend.transaction((tx) =>
      encryption.shred('user-7', { audit, transaction: tx }),
    );
    expect(receipt.auditRecordId).toBe('global:1');
    expect((await audit.query()).records).toHaveLength(1);
    const fresh = createFieldEncryption({
      store: createMemoryDataKeyStore({ backend }),
      keyProvider,
      cacheTtlMs: 0,
    });
    await expect(fresh.decrypt(stored, context)).rejects.toMatchObject({ code: 'KEY_SHREDDED' });
  });

  it('in a transaction that rolls back: neither the shred nor the record happened, the data still reads', async () => {
    const { backend, audit, encryption, store } = await setup();
    const stored = await encryption.encrypt('ana@example.com', context);
    await expect(
      backend.transaction(async (tx) => {
        await encryption.shred('user-7', { audit, transaction: tx });
        throw new Error('the erasure request failed elsewhere');
      }),
    ).rejects.toThrow('the erasure request failed elsewhere');
    expect((await audit.query()).records).toHaveLength(0);
    expect((await store.byName('subject', 'user-7'))?.shreddedAt).toBeNull();
    expect(await encryption.isShredded('user-7')).toBe(false);
    // This instance forgot the key when shredding; it reads it back from the store.
    expect(await encryption.decrypt(stored, context)).toBe('ana@example.com');
  });

  it('a failing audit write in a transaction rolls the shred back too', async () => {
    const { backend, store, encryption } = await setup();
    await encryption.encrypt('x', context);
    const failing = { record: () => Promise.reject(new Error('audit store down')) };
    await expect(
      backend.transaction((tx) => encryption.shred('user-7', { audit: failing, transaction: tx })),
    ).rejects.toThrow('audit store down');
    expect((await store.byName('subject', 'user-7'))?.shreddedAt).toBeNull();
  });

  it('checks its options', async () => {
    const { encryption } = await setup();
    await expect(encryption.shred('')).rejects.toThrow(/subject/);
    await expect(encryption.shred('s', { audit: {} as never })).rejects.toThrow(/options\.audit/);
    await expect(encryption.shred('s', { reason: 5 as never })).rejects.toThrow(/options\.reason/);
    await expect(encryption.shred('s', { resaon: 'x' } as never)).rejects.toThrow(
      /options\.resaon/,
    );
  });
});
