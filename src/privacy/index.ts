/**
 * Privacy: one classification of a record's sensitive fields (PII, PCI, PHI, secrets) drives log
 * redaction (also inside pino), masked API views, the allow-list projection for third parties,
 * the storage form (encrypted, tokenized, hashed or dropped fields) and the audit log's protector.
 *
 * Beside it: redactors with `*`/`**` paths, key patterns and free-text detectors; maskers; keyed
 * hashing and scrypt password hashing; AES-256-GCM field encryption with a keyring, rotation and
 * online rewrap; crypto-shredding (one key per data subject); and a tokenization vault.
 *
 * @module
 */

// Classification and what derives from it.
export {
  type Classification,
  type ClassificationOptions,
  type ClassificationRedactorOptions,
  type ClassifiedField,
  createClassification,
  type DataCategory,
  type FieldClassificationSpec,
  type Handling,
  personal,
} from './classification.js';
// Stores' ports.
export {
  DATA_KEY_STORE_COMPONENT,
  type DataKeyCreate,
  type DataKeyCreated,
  type DataKeyListRead,
  type DataKeyPurpose,
  type DataKeyRewrap,
  type DataKeyRow,
  type DataKeyStore,
} from './data-key-store.js';
export { apiKeyDetector } from './detectors/api-key-detector.js';
export { bearerTokenDetector } from './detectors/bearer-token-detector.js';
export { cardNumberDetector } from './detectors/card-number-detector.js';
export { defaultDetectors } from './detectors/default-detectors.js';
export { emailDetector } from './detectors/email-detector.js';
export { ibanDetector } from './detectors/iban-detector.js';
export { phoneDetector } from './detectors/phone-detector.js';
export { redactText } from './detectors/redact-text.js';
export { ssnDetector } from './detectors/ssn-detector.js';
export {
  createEncryptingProtector,
  type EncryptedAuditValue,
  type EncryptingProtectorOptions,
} from './encrypting-protector.js';
// Field encryption, keys and crypto-shredding.
export {
  CIPHERTEXT_OVERHEAD_BYTES,
  type EncryptionContext,
} from './encryption/ciphertext-format.js';
export {
  createFieldEncryption,
  type FieldEncryption,
  type FieldEncryptionOptions,
} from './encryption/field-encryption.js';
export type { KeyProvider } from './encryption/key-provider.js';
export {
  createLocalKeyProvider,
  KEY_ENCRYPTION_KEY_BYTES,
  type LocalKeyEnvOptions,
  type LocalKeyProviderOptions,
  type LocalKeySourceOptions,
  localKeyProviderFromEnv,
  localKeyProviderFromFiles,
} from './encryption/local-key-provider.js';
export type {
  KeyEncryptionKeyRotation,
  KeyEncryptionKeyRotationOptions,
  RewrapOptions,
  RewrapReport,
  RewrapRow,
  RewrapSource,
  RewrapUpdate,
} from './encryption/rewrap.js';
export {
  type ShredAuditLog,
  type ShredOptions,
  type ShredReceipt,
  SUBJECT_KEY_SHREDDED_ACTION,
} from './encryption/shredding.js';
export {
  createPostgresRewrapSource,
  createSqliteRewrapSource,
  type RewrapSqlBackend,
  type SqlRewrapSourceOptions,
} from './encryption/sql-rewrap-source.js';
// Hashing.
export {
  createKeyedHasher,
  type KeyedHasher,
  type KeyedHasherOptions,
  MIN_HASH_KEY_BYTES,
} from './keyed-hash.js';
export {
  type MaskerName,
  type MaskTextOptions,
  maskCard,
  maskEmail,
  maskers,
  maskIban,
  maskPhone,
  maskSsn,
  maskText,
} from './masking.js';
export {
  DEFAULT_PASSWORD_HASH_PARAMS,
  hashPassword,
  type PasswordHashParams,
  passwordNeedsRehash,
  verifyPassword,
} from './passwords.js';
export {
  type PinoLogMethod,
  type PinoRedactionBaseOptions,
  type PinoRedactionOptions,
  type PinoSerializer,
  pinoRedaction,
} from './redaction/pino-redaction.js';
// Redaction, detectors and masking.
export {
  createRedactor,
  DEFAULT_REDACTION_CENSOR,
  type RedactionCensor,
  type RedactionCensorContext,
  type RedactionRule,
  type Redactor,
  type RedactorOptions,
} from './redaction/redactor.js';
export type { ReadStorageFormOptions, StorageFormOptions } from './storage-form.js';
export type { TextDetector, TextFinding } from './text-detector.js';
// Tokenization.
export {
  createTokenVault,
  type DetokenizeOptions,
  type DetokenizeRequest,
  type TokenizeOptions,
  type TokenVault,
  type TokenVaultOptions,
} from './token-vault.js';
export {
  TOKEN_VAULT_STORE_COMPONENT,
  type TokenPut,
  type TokenPutResult,
  type TokenRow,
  type TokenVaultStore,
} from './token-vault-store.js';
export { redactUrl, type UrlRedactionOptions } from './url-redaction.js';
