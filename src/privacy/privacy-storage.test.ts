/**
 * What a classification does to stored data, on the memory stores: the storage form (encrypted,
 * tokenized, hashed, dropped) and back; the tokenization vault (idempotent tokens, authorized and
 * audited detokenize); the audit protector, whose values a shred makes unreadable while the chain
 * still verifies.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { rejection } from '../../test/support/failures.js';
import {
  createMemoryAuditStore,
  createMemoryBackend,
  createMemoryDataKeyStore,
  createMemoryTokenVaultStore,
} from '../adapters/memory/index.js';
import { createAuditLog } from '../audit/index.js';
import { FlowproofError } from '../core/errors.js';
import { createClassification, personal } from './classification.js';
import { createEncryptingProtector } from './encrypting-protector.js';
import { createFieldEncryption } from './encryption/field-encryption.js';
import { createLocalKeyProvider } from './encryption/local-key-provider.js';
import { verifyPassword } from './passwords.js';
import { createTokenVault } from './token-vault.js';

const Patient = z.object({
  id: z.string(),
  name: personal(z.string(), { category: 'pii', handling: 'redact', subject: 'id' }),
  ssn: personal(z.string(), { category: 'pii', handling: 'encrypt', subject: 'id' }),
  email: personal(z.string(), { category: 'pii', handling: 'hash', subject: 'id' }),
  password: personal(z.string(), { category: 'secret', handling: 'hash', hash: 'password' }),
  card: personal(z.string(), { category: 'pci', handling: 'tokenize', subject: 'id' }),
  cvv: personal(z.string(), { category: 'pci', handling: 'drop' }),
  history: personal(z.array(z.string()), { category: 'phi', handling: 'encrypt', subject: 'id' }),
  ward: z.string(),
});

const patient = {
  id: 'pat-7',
  name: 'Rui Costa',
  ssn: '123-45-6789',
  email: 'rui@example.com',
  password: 'hunter2hunter2',
  card: '4532015112830366',
  cvv: '321',
  history: ['asthma', 'fracture 2019'],
  ward: 'B',
};

async function world() {
  const backend = createMemoryBackend();
  const keys = createMemoryDataKeyStore({ backend });
  const tokens = createMemoryTokenVaultStore({ backend });
  const auditStore = createMemoryAuditStore({ backend });
  await Promise.all([keys.migrate(), tokens.migrate(), auditStore.migrate()]);
  const keyProvider = createLocalKeyProvider({
    keys: { 'kek-1': randomBytes(32) },
    current: 'kek-1',
  });
  const encryption = createFieldEncryption({ store: keys, keyProvider });
  const audit = createAuditLog({ store: auditStore });
  const vault = createTokenVault({
    store: tokens,
    encryption,
    audit,
    authorize: ({ actor }) => actor?.type === 'payments',
  });
  return { backend, keys, tokens, encryption, audit, auditStore, vault };
}

const classification = createClassification(Patient);

describe('the storage form', () => {
  it('encrypts, tokenizes, hashes and drops by the classification, and reads back', async () => {
    const { encryption, vault } = await world();
    const stored = (await classification.toStorage(patient, {
      table: 'patients',
      row: patient.id,
      encryption,
      vault,
    })) as Record<string, unknown>;
    const text = JSON.stringify(stored);
    for (const secret of [
      '123-45-6789',
      'rui@example.com',
      'hunter2',
      '4532015112830366',
      'asthma',
    ]) {
      expect(text).not.toContain(secret);
    }
    expect(stored).not.toHaveProperty('cvv');
    expect(stored).toMatchObject({ id: 'pat-7', name: 'Rui Costa', ward: 'B' });
    expect(stored.card).toMatch(/^tok_/);
    expect(await verifyPassword('hunter2hunter2', stored.password as string)).toBe(true);
    // A keyed hash is stable: the same email hashes alike, so it can be looked up.
    const again = (await classification.toStorage(patient, {
      table: 'patients',
      row: patient.id,
      encryption,
      vault,
    })) as Record<string, unknown>;
    expect(again.email).toBe(stored.email);
    expect(again.card).toBe(stored.card);
    expect(again.ssn).not.toBe(stored.ssn);

    const read = await classification.fromStorage(stored, {
      table: 'patients',
      row: 'pat-7',
      encryption,
    });
    expect(read).toEqual({ ...stored, ssn: patient.ssn, history: patient.history });
    expect(patient.cvv).toBe('321');
  });

  it('binds each ciphertext to its row: a value copied to another row does not decrypt', async () => {
    const { encryption, vault } = await world();
    const stored = (await classification.toStorage(patient, {
      table: 'patients',
      row: 'pat-7',
      encryption,
      vault,
    })) as Record<string, unknown>;
    const error = await rejection(
      classification.fromStorage(stored, { table: 'patients', row: 'pat-8', encryption }),
    );
    expect(error).toMatchObject({ code: 'DECRYPTION_FAILED' });
  });

  it('after the subject is shredded, reading is KEY_SHREDDED (or the fields are omitted)', async () => {
    const { encryption, vault } = await world();
    const stored = await classification.toStorage(patient, {
      table: 'patients',
      row: 'pat-7',
      encryption,
      vault,
    });
    const receipt = await encryption.shred('pat-7');
    expect(receipt).toMatchObject({ subject: 'pat-7', alreadyShredded: false });
    const error = await rejection(
      classification.fromStorage(stored, { table: 'patients', row: 'pat-7', encryption }),
    );
    expect(error).toMatchObject({ code: 'KEY_SHREDDED', details: { subject: 'pat-7' } });
    const omitted = (await classification.fromStorage(stored, {
      table: 'patients',
      row: 'pat-7',
      encryption,
      shredded: 'omit',
    })) as Record<string, unknown>;
    expect(omitted).not.toHaveProperty('ssn');
    expect(omitted).not.toHaveProperty('history');
    expect(omitted.ward).toBe('B');
    // New personal data for an erased subject cannot be written either.
    expect(
      await rejection(
        classification.toStorage(patient, { table: 'patients', row: 'pat-7', encryption, vault }),
      ),
    ).toMatchObject({ code: 'KEY_SHREDDED' });
  });

  it('refuses to protect a personal field whose subject id is missing', async () => {
    const { encryption, vault } = await world();
    const error = await rejection(
      classification.toStorage(
        { ...patient, id: undefined },
        { table: 'patients', encryption, vault },
      ),
    );
    expect(error).toMatchObject({ code: 'VALIDATION_FAILED' });
    await expect(classification.toStorage(patient, { table: 'patients' })).rejects.toThrow(
      /options\.encryption is required/,
    );
  });
});

describe('the tokenization vault', () => {
  it('gives the same token for the same value, type and tenant, and a different one otherwise', async () => {
    const { vault, tokens } = await world();
    const card = '4111111111111111';
    const first = await vault.tokenize(card, { type: 'card' });
    expect(await vault.tokenize(card, { type: 'card' })).toBe(first);
    expect(await vault.tokenize(card, { type: 'card', tenant: 'acme' })).not.toBe(first);
    expect(await vault.tokenize(card, { type: 'pan' })).not.toBe(first);
    expect(first).not.toContain('1111');
    const row = await tokens.get(first);
    expect(row?.ciphertext).not.toContain(card);
  });

  it('detokenizes only when authorized, auditing every attempt', async () => {
    const { vault, audit } = await world();
    const token = await vault.tokenize('4111111111111111', { type: 'card', subject: 'u-1' });
    expect(
      await vault.detokenize(token, {
        actor: { id: 'charger', type: 'payments' },
        purpose: 'charge ORD-1',
      }),
    ).toBe('4111111111111111');
    const denied = await rejection(
      vault.detokenize(token, { actor: { id: 'intern', type: 'support' } }),
    );
    expect(denied).toMatchObject({ code: 'DETOKENIZE_DENIED', details: { token, type: 'card' } });
    const page = await audit.query({ resource: { type: 'token', id: token } });
    expect(page.records.map((record) => [record.actor?.id, record.result])).toEqual([
      ['charger', { status: 'success' }],
      ['intern', { status: 'failure', errorCode: 'DETOKENIZE_DENIED' }],
    ]);
    expect(page.records[0]?.reason).toBe('charge ORD-1');
    expect(JSON.stringify(page.records)).not.toContain('4111111111111111');
    expect(await rejection(vault.detokenize('tok_nothing'))).toMatchObject({
      code: 'TOKEN_UNKNOWN',
    });
  });

  it('an authorize hook that throws refuses (DETOKENIZE_DENIED, the error as cause), audited', async () => {
    const { tokens, encryption, audit } = await world();
    const crash = new RangeError('policy service down');
    const vault = createTokenVault({
      store: tokens,
      encryption,
      audit,
      authorize: () => {
        throw crash;
      },
    });
    const token = await vault.tokenize('4111111111111111', { type: 'card' });
    const denied = await rejection(vault.detokenize(token, { actor: { id: 'charger' } }));
    expect(denied).toBeInstanceOf(FlowproofError);
    expect(denied).toMatchObject({ code: 'DETOKENIZE_DENIED', cause: crash });
    const page = await audit.query({ resource: { type: 'token', id: token } });
    expect(page.records.map((record) => [record.actor?.id, record.result])).toEqual([
      ['charger', { status: 'failure', errorCode: 'DETOKENIZE_DENIED' }],
    ]);
  });

  it("two subjects with one value hold two tokens: erasing one leaves the other's", async () => {
    const { vault, encryption } = await world();
    const shared = '4111111111111111';
    const ana = await vault.tokenize(shared, { type: 'card', subject: 'ana' });
    const rui = await vault.tokenize(shared, { type: 'card', subject: 'rui' });
    expect(rui).not.toBe(ana);
    expect(await vault.tokenize(shared, { type: 'card', subject: 'ana' })).toBe(ana);
    await encryption.shred('ana');
    await vault.deleteSubject('ana');
    expect(await vault.detokenize(rui, { actor: { id: 'p', type: 'payments' } })).toBe(shared);
  });

  it("a shredded subject's tokens no longer detokenize; deleteSubject removes them", async () => {
    const { vault, encryption } = await world();
    const token = await vault.tokenize('078-05-1120', { type: 'ssn', subject: 'u-2' });
    const other = await vault.tokenize('219-09-9999', { type: 'ssn', subject: 'u-3' });
    await encryption.shred('u-2');
    const actor = { id: 'p', type: 'payments' };
    expect(await rejection(vault.detokenize(token, { actor }))).toMatchObject({
      code: 'KEY_SHREDDED',
    });
    expect(await vault.detokenize(other, { actor })).toBe('219-09-9999');
    expect(await vault.deleteSubject('u-2')).toBe(1);
    expect(await rejection(vault.detokenize(token, { actor }))).toMatchObject({
      code: 'TOKEN_UNKNOWN',
    });
  });

  it('answers bad arguments with a TypeError naming them', async () => {
    const { vault, tokens, encryption } = await world();
    await expect(vault.tokenize('', { type: 'card' })).rejects.toThrow(/value/);
    await expect(vault.tokenize('x', {} as never)).rejects.toThrow(/type/);
    await expect(vault.tokenize('x', { type: 'card', tenat: 'a' } as never)).rejects.toThrow(
      /tenat/,
    );
    expect(() => createTokenVault({ store: tokens } as never)).toThrow(/encryption/);
    expect(() =>
      createTokenVault({ store: tokens, encryption, authorise: () => true } as never),
    ).toThrow(/authorise/);
  });
});

describe('the encrypting audit protector', () => {
  it('stores personal values encrypted under the subject; a shred leaves the chain verifying', async () => {
    const { encryption, auditStore } = await world();
    const audit = createAuditLog({
      store: auditStore,
      protector: createEncryptingProtector({ encryption, classification }),
    });
    const changes = {
      ssn: { before: '123-45-6789', after: '987-65-4321' },
      password: { after: 'hunter2hunter2' },
      ward: { before: 'A', after: 'B' },
    };
    const kept = await audit.record({
      action: 'patient.updated',
      resource: { type: 'patient', id: 'pat-7' },
      subject: 'pat-7',
      changes,
    });
    const other = await audit.record({
      action: 'patient.updated',
      resource: { type: 'patient', id: 'pat-9' },
      subject: 'pat-9',
      changes,
    });
    const stored = JSON.stringify(kept);
    expect(stored).not.toContain('123-45-6789');
    expect(stored).not.toContain('hunter2');
    expect((await audit.reveal(kept)).changes).toEqual({
      ssn: changes.ssn,
      password: { unreadable: ['after'] },
      ward: changes.ward,
    });
    await encryption.shred('pat-7');
    expect((await audit.reveal(kept)).changes).toMatchObject({
      ssn: { unreadable: ['before', 'after'] },
      ward: changes.ward,
    });
    expect((await audit.reveal(other)).changes).toMatchObject({ ssn: changes.ssn });
    expect((await audit.verify({ from: 'start' })).chains[0]).toMatchObject({
      ok: true,
      records: 2,
    });
  });
});
