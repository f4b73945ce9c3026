/**
 * Every public entry of the privacy module answers odd arguments (wrong types, revoked proxies,
 * getters that throw, cycles, BigInts) with a `TypeError` naming the argument or a
 * `FlowproofError` — never an error the engine raised from deep inside.
 */
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, it } from 'vitest';
import { expectNoEngineError, oddValue } from '../../test/support/odd-values.js';
import {
  createMemoryBackend,
  createMemoryDataKeyStore,
  createMemoryTokenVaultStore,
} from '../adapters/memory/index.js';
import {
  createClassification,
  createFieldEncryption,
  createKeyedHasher,
  createLocalKeyProvider,
  createRedactor,
  createTokenVault,
  hashPassword,
  maskCard,
  maskText,
  personal,
  pinoRedaction,
  redactText,
  redactUrl,
  verifyPassword,
} from './index.js';

describe('privacy entries given odd arguments', () => {
  it('classification, redaction, masking and URLs', async () => {
    const classification = createClassification({
      fields: { email: { category: 'pii', handling: 'mask', mask: 'email' } },
      recipients: { crm: ['email'] },
    });
    await fc.assert(
      fc.asyncProperty(oddValue, async (make) => {
        // An odd object may be read as a schema or as options: either is named.
        await expectNoEngineError('(options|schema|fields\\[.+?\\])', () =>
          createClassification(make() as never),
        );
        await expectNoEngineError('(options|fields\\[.+?\\])', () =>
          createClassification({ fields: make() } as never),
        );
        await expectNoEngineError('fields\\["email"\\]', () =>
          createClassification({ fields: { email: make() } } as never),
        );
        await expectNoEngineError('options', () =>
          createClassification({
            fields: { email: { category: 'pii', handling: 'redact' } },
            recipients: make(),
          } as never),
        );
        await expectNoEngineError('(schema|spec)', () =>
          personal(make() as never, make() as never),
        );
        await expectNoEngineError('recipient', () =>
          classification.forThirdParty(make() as never, {}),
        );
        await expectNoEngineError('options', () => createRedactor(make() as never));
        await expectNoEngineError('options', () => createRedactor({ paths: make() } as never));
        await expectNoEngineError('options', () => createRedactor({ keys: make() } as never));
        await expectNoEngineError('redactor', () => pinoRedaction(make() as never));
        await expectNoEngineError('value', () => maskCard(make() as never));
        await expectNoEngineError('options', () => maskText('abc', make() as never));
        await expectNoEngineError('text', () => redactText(make() as never, []));
        await expectNoEngineError('url', () => redactUrl(make() as never));
        await expectNoEngineError('options', () => redactUrl('/x', make() as never));
        await expectNoEngineError('options', () => createKeyedHasher(make() as never));
        await expectNoEngineError('options.key', () => createKeyedHasher({ key: make() } as never));
      }),
      { numRuns: 1000 },
    );
  });

  it('classified records of any shape: views, projections and redaction never throw', () => {
    const classification = createClassification({
      fields: {
        'a.b': { category: 'pii', handling: 'mask', mask: 'email' },
        'list[*].card': { category: 'pci', handling: 'tokenize', mask: 'card' },
        'x.*': { category: 'secret', handling: 'drop' },
      },
      recipients: { crm: ['a', 'list'] },
    });
    const redactor = classification.redactor();
    fc.assert(
      fc.property(fc.anything({ withBigInt: true, withMap: true, withSet: true }), (record) => {
        classification.view(record);
        classification.forThirdParty('crm', record);
        redactor.stringify(record);
      }),
      { numRuns: 2000 },
    );
  });

  it('encryption, passwords and the vault', async () => {
    const backend = createMemoryBackend();
    const keys = createMemoryDataKeyStore({ backend });
    const tokens = createMemoryTokenVaultStore({ backend });
    await keys.migrate();
    await tokens.migrate();
    const keyProvider = createLocalKeyProvider({ keys: { k: randomBytes(32) }, current: 'k' });
    const encryption = createFieldEncryption({ store: keys, keyProvider });
    const vault = createTokenVault({ store: tokens, encryption });
    const context = { table: 't', column: 'c', row: 'r' };
    await fc.assert(
      fc.asyncProperty(oddValue, async (make) => {
        await expectNoEngineError('options', () => createLocalKeyProvider(make() as never));
        await expectNoEngineError('options', () => createFieldEncryption(make() as never));
        await expectNoEngineError('plaintext', () => encryption.encrypt(make() as never, context));
        await expectNoEngineError('context', () => encryption.encrypt('x', make() as never));
        await expectNoEngineError('ciphertext', () => encryption.decrypt(make() as never, context));
        await expectNoEngineError('subject', () => encryption.shred(make() as never));
        await expectNoEngineError('keyId', () => encryption.retire(make() as never));
        await expectNoEngineError('options', () => createTokenVault(make() as never));
        await expectNoEngineError('value', () => vault.tokenize(make() as never, { type: 'card' }));
        await expectNoEngineError('options', () => vault.tokenize('4111', make() as never));
        await expectNoEngineError('token', () => vault.detokenize(make() as never));
        await expectNoEngineError('password', () =>
          hashPassword(make() as never, { logN: 10 } as never),
        );
        await expectNoEngineError('stored', () => verifyPassword('pw', make() as never));
      }),
      { numRuns: 500 },
    );
  });
});
