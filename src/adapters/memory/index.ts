/**
 * The in-memory backend: for tests, examples and single-process tools. Module stores over it
 * (`createMemoryIdempotencyStore`…) are added here as the modules land.
 *
 * @module
 */
export {
  createMemoryBackend,
  type MemoryBackend,
  type MemoryBackendOptions,
} from './memory-backend.js';
