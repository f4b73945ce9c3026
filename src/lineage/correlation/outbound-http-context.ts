/**
 * The flow context on outbound HTTP: a `fetch` that adds the current context's headers
 * (`x-correlation-id`, `x-causation-id`, actor and tenant, `traceparent`/`tracestate`, and the
 * allow-listed `baggage`) to every request. For `http.request`, spread
 * `serializeContext(undefined, { baggage })` into its `headers`.
 */
import { type SerializeContextOptions, serializeContext } from '../../core/context.js';
import { assertKnownKeys, assertOptionsObject } from '../../core/options.js';

/** The `fetch` signature {@link createContextFetch} wraps and returns. */
export type FetchLike = (input: string | URL | Request, init?: RequestInit) => Promise<Response>;

/** Options of {@link createContextFetch}. */
export interface ContextFetchOptions extends SerializeContextOptions {
  /**
   * The `fetch` to call (undici's, a test double).
   * @default globalThis.fetch, looked up at each call
   */
  readonly fetch?: FetchLike;
}

/**
 * Returns a `fetch` that sends the current flow context's headers with each request. Headers the
 * caller sets win over the context's. `baggage` is the outbound allow-list: identity and tenant
 * go to every host you call, so send baggage keys only to hosts that need them.
 *
 * @throws TypeError naming the option when an option is invalid.
 * @example
 * ```ts
 * const fetchWithContext = createContextFetch({ baggage: ['region'] });
 * const response = await fetchWithContext('https://billing.internal/invoices', { method: 'POST' });
 * ```
 */
export function createContextFetch(options: ContextFetchOptions = {}): FetchLike {
  assertOptionsObject(options, 'options');
  assertKnownKeys(options, ['fetch', 'baggage'], 'options');
  const { fetch: given } = options;
  if (given !== undefined && typeof given !== 'function') {
    throw new TypeError('options.fetch must be a function');
  }
  const serializeOptions: SerializeContextOptions =
    options.baggage === undefined ? {} : { baggage: options.baggage };
  serializeContext(undefined, serializeOptions); // a bad option fails now, not at each call
  return (input, init) => {
    const headers = new Headers(
      init?.headers ?? (input instanceof Request ? input.headers : undefined),
    );
    for (const [name, value] of Object.entries(serializeContext(undefined, serializeOptions))) {
      if (!headers.has(name)) headers.set(name, value);
    }
    return (given ?? globalThis.fetch)(input, { ...init, headers });
  };
}
