/**
 * Idempotency: run an operation at most once per scoped key and replay its outcome to retries.
 * Keys are scoped by tenant/principal and operation, requests are fingerprinted (SHA-256 over
 * canonical JSON), in-progress calls hold a lease with a fencing token, and completed results are
 * kept for a separate retention. Also: HTTP `Idempotency-Key` handling for node:http/Express,
 * Fastify and fetch-API servers, an inbox for queue consumers (`createDedupe`) and locks with
 * fencing tokens (`createLock`). Stores live in `flowproof/adapters/*`.
 *
 * @module
 */

// Queue consumers.
export { createDedupe, type Dedupe, type DedupeOptions, type DedupeResult } from './dedupe.js';
// Errors that carry data.
export { IdempotencyInProgressError, LockNotAcquiredError } from './errors.js';
// Fingerprints and scopes.
export { canonicalJson, fingerprint } from './fingerprint.js';
export {
  type FastifyIdempotencyOptions,
  type FastifyInstanceLike,
  type FastifyReplyLike,
  type FastifyRequestLike,
  fastifyIdempotency,
} from './http/fastify-plugin.js';
export { type FetchIdempotencyOptions, withFetchIdempotency } from './http/fetch-handler.js';
// HTTP (IETF Idempotency-Key): the framework-agnostic core and one handler per framework.
export {
  createHttpIdempotency,
  defaultStoreResponse,
  type HttpBeginResult,
  type HttpIdempotency,
  type HttpIdempotencyOptions,
  type HttpRequestData,
  type HttpRequestInput,
  type HttpResponseData,
  IDEMPOTENCY_KEY_HEADER,
  parseIdempotencyKey,
} from './http/http-idempotency.js';
export {
  createNodeIdempotencyMiddleware,
  type NodeIdempotencyMiddlewareOptions,
  type NodeMiddleware,
  type NodeRequest,
} from './http/node-middleware.js';
// The runner.
export {
  type BeginResult,
  type CleanupOptions,
  createIdempotency,
  type ErrorOutcome,
  type Idempotency,
  type IdempotencyClaim,
  type IdempotencyOptions,
  jsonSerializer,
  type ReplayedResult,
  type ResultSerializer,
  type RunContext,
  type RunInTransactionOptions,
  type RunOptions,
  type RunOptionsWithSchema,
  type StoreTransaction,
  type WaitOptions,
} from './idempotency.js';
// The store port, for adapter authors.
export type {
  ClaimRequest,
  ClaimResult,
  IdempotencyRecord,
  IdempotencyStatus,
  IdempotencyStore,
  ReclaimReason,
} from './idempotency-store.js';
// Results as JSON: what run() returns with the default serializer.
export type { HasToJson, Jsonify, JsonPrimitive, JsonValue } from './json-result.js';
export { type IdempotencyScope, scopedKey } from './scope.js';
// Locks with fencing tokens.
export {
  createLock,
  type Lock,
  type LockContext,
  type LockOptions,
  type WithLockOptions,
} from './with-lock.js';
