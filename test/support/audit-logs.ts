/**
 * What the audit module's unit tests share: a checkpoint key pair and its signer, and an audit
 * log over a fresh, migrated memory store.
 */
import { generateKeyPairSync } from 'node:crypto';
import { createMemoryAuditStore, createMemoryBackend } from '../../src/adapters/memory/index.js';
import { createAuditLog, createEd25519Signer } from '../../src/audit/index.js';

const keys = generateKeyPairSync('ed25519');
/** The private half of the tests' checkpoint key. */
export const privateKey = keys.privateKey;
/** Its public half. */
export const publicKey = keys.publicKey;
/** The tests' checkpoint signer, key id `k1`. */
export const signer = createEd25519Signer({ keyId: 'k1', privateKey });

/** An audit log signing with {@link signer} over a new memory store, with `options` on top. */
export async function memoryAuditLog(
  options: Omit<Parameters<typeof createAuditLog>[0], 'store'> = {},
) {
  const backend = createMemoryBackend();
  const store = createMemoryAuditStore({ backend });
  await store.migrate();
  const audit = createAuditLog({ store, checkpoints: { signer }, ...options });
  return { backend, store, audit };
}
