/**
 * Privacy: field encryption of one short field (a 43-byte email address), against the raw
 * primitive and two libraries.
 *
 * - **raw AES-256-GCM** (the baseline): `randomBytes(12)` and `createCipheriv` per call, the IV,
 *   ciphertext and tag concatenated into one Buffer (no key lookup, no context, no text form);
 *   decrypting splits that Buffer back.
 * - **flowproof `encrypt`/`decrypt`**: base64url text, the table/column/row bound as associated
 *   data, the data key from the keyring's cache; **`encryptBytes`/`decryptBytes`**: the same,
 *   returning bytes like the baseline.
 * - **@47ng/cloak** `encryptStringSync`/`decryptStringSync` with a parsed key (its fastest path),
 *   no associated data.
 * - **AWS Encryption SDK** (`@aws-crypto/client-node`) with a raw AES keyring, the non-signing
 *   committing suite (`ALG_AES256_GCM_IV12_TAG16_HKDF_SHA512_COMMIT_KEY`; the default suite adds
 *   an ECDSA signature per message) and the context as its encryption context. It makes a data
 *   key per message (HKDF + a wrap), which is what it costs.
 *
 * The size of one field's stored form is printed for each.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { decryptStringSync, encryptStringSync, generateKey, parseKeySync } from '@47ng/cloak';
import {
  AlgorithmSuiteIdentifier,
  buildClient,
  CommitmentPolicy,
  RawAesKeyringNode,
  RawAesWrappingSuiteIdentifier,
} from '@aws-crypto/client-node';
import { createMemoryBackend, createMemoryDataKeyStore } from '../src/adapters/memory/index.js';
import { createFieldEncryption } from '../src/privacy/encryption/field-encryption.js';
import { createLocalKeyProvider } from '../src/privacy/encryption/local-key-provider.js';
import { type BenchSuite, defineSuite } from './harness.js';

/** A 43-byte field. */
const EMAIL = 'ana.maria.gonzalez-lopez@mail.example.co.uk';
const CONTEXT = { table: 'users', column: 'email', row: '018f3a2c-7d41-7b2e-9a51-3c6f0e8d9b12' };

export default async function suites(): Promise<BenchSuite[]> {
  if (Buffer.byteLength(EMAIL) !== 43) throw new Error('the field must be 43 bytes');
  const rawKey = randomBytes(32);
  const rawEncrypt = (): Buffer => {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', rawKey, iv);
    const body = cipher.update(EMAIL, 'utf8');
    cipher.final();
    return Buffer.concat([iv, body, cipher.getAuthTag()]);
  };
  const rawDecrypt = (sealed: Buffer): string => {
    const decipher = createDecipheriv('aes-256-gcm', rawKey, sealed.subarray(0, 12));
    decipher.setAuthTag(sealed.subarray(sealed.length - 16));
    const text = decipher.update(sealed.subarray(12, sealed.length - 16)).toString('utf8');
    decipher.final();
    return text;
  };

  const store = createMemoryDataKeyStore({ backend: createMemoryBackend() });
  await store.migrate();
  const encryption = createFieldEncryption({
    store,
    keyProvider: createLocalKeyProvider({ keys: { k1: randomBytes(32) }, current: 'k1' }),
  });
  const emailBytes = Buffer.from(EMAIL);

  const cloakKey = parseKeySync(generateKey());

  const aws = buildClient(CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT);
  const keyring = new RawAesKeyringNode({
    keyName: 'bench',
    keyNamespace: 'flowproof',
    unencryptedMasterKey: randomBytes(32),
    wrappingSuite: RawAesWrappingSuiteIdentifier.AES256_GCM_IV12_TAG16_NO_PADDING,
  });
  const awsOptions = {
    suiteId: AlgorithmSuiteIdentifier.ALG_AES256_GCM_IV12_TAG16_HKDF_SHA512_COMMIT_KEY,
    encryptionContext: { table: CONTEXT.table, column: CONTEXT.column, row: CONTEXT.row },
  } as const;

  // One sealed value of each, decrypted by the decrypt suite.
  const raw = rawEncrypt();
  const text = await encryption.encrypt(EMAIL, CONTEXT);
  const bytes = await encryption.encryptBytes(emailBytes, CONTEXT);
  const cloaked = encryptStringSync(EMAIL, cloakKey);
  const { result: awsMessage } = await aws.encrypt(keyring, EMAIL, awsOptions);
  for (const [check, expected] of [
    [rawDecrypt(raw), EMAIL],
    [await encryption.decrypt(text, CONTEXT), EMAIL],
    [Buffer.from(await encryption.decryptBytes(bytes, CONTEXT)).toString(), EMAIL],
    [decryptStringSync(cloaked, cloakKey), EMAIL],
    [(await aws.decrypt(keyring, awsMessage)).plaintext.toString(), EMAIL],
  ]) {
    if (check !== expected) throw new Error('a round trip of the benchmark does not hold');
  }
  console.log(`\nprivacy: stored size of one ${Buffer.byteLength(EMAIL)}-byte field`);
  const sizes: [string, string][] = [
    ['raw AES-256-GCM (IV + ciphertext + tag, bytes)', `${raw.length} bytes`],
    ['flowproof encryptBytes', `${bytes.byteLength} bytes`],
    ['flowproof encrypt (base64url text)', `${text.length} characters`],
    ['@47ng/cloak (text)', `${cloaked.length} characters`],
    ['AWS Encryption SDK, raw AES keyring (message)', `${awsMessage.length} bytes`],
  ];
  for (const [name, size] of sizes) {
    console.log(`  ${name.padEnd(48)} ${size}`);
  }

  return [
    defineSuite({
      name: `privacy: encrypt one ${Buffer.byteLength(EMAIL)}-byte field`,
      unit: 'fields',
      baseline: 'raw AES-256-GCM',
      alsoVs: '@47ng/cloak',
      tasks: [
        { name: 'raw AES-256-GCM', fn: async () => rawEncrypt() },
        { name: 'flowproof encrypt (text)', fn: () => encryption.encrypt(EMAIL, CONTEXT) },
        { name: 'flowproof encryptBytes', fn: () => encryption.encryptBytes(emailBytes, CONTEXT) },
        { name: '@47ng/cloak', fn: async () => encryptStringSync(EMAIL, cloakKey) },
        { name: 'AWS Encryption SDK', fn: () => aws.encrypt(keyring, EMAIL, awsOptions) },
      ],
    }),
    defineSuite({
      name: `privacy: decrypt one ${Buffer.byteLength(EMAIL)}-byte field`,
      unit: 'fields',
      baseline: 'raw AES-256-GCM',
      alsoVs: '@47ng/cloak',
      tasks: [
        { name: 'raw AES-256-GCM', fn: async () => rawDecrypt(raw) },
        { name: 'flowproof decrypt (text)', fn: () => encryption.decrypt(text, CONTEXT) },
        { name: 'flowproof decryptBytes', fn: () => encryption.decryptBytes(bytes, CONTEXT) },
        { name: '@47ng/cloak', fn: async () => decryptStringSync(cloaked, cloakKey) },
        { name: 'AWS Encryption SDK', fn: () => aws.decrypt(keyring, awsMessage) },
      ],
    }),
  ];
}
