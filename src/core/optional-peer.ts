/**
 * Optional peer dependencies (`@opentelemetry/api`, drivers) are loaded lazily and only when the
 * application installed them, so the root entry works without any of them.
 */
import { createRequire } from 'node:module';

const requireFromHere = createRequire(import.meta.url);
const cache = new Map<string, unknown>();

/** Returns the module `name` when it can be resolved, `undefined` otherwise. Cached per name. */
export function loadOptionalPeer<T>(name: string): T | undefined {
  if (!cache.has(name)) {
    let loaded: unknown;
    try {
      loaded = requireFromHere(name);
    } catch {
      loaded = undefined;
    }
    cache.set(name, loaded);
  }
  return cache.get(name) as T | undefined;
}
