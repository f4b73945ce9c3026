/**
 * The HTTP transport: POSTs each OpenLineage event, as JSON, to an OpenLineage HTTP endpoint
 * (Marquez's `/api/v1/lineage`, or any backend that accepts the same).
 */
import { describeValue, FlowproofError } from '../../core/errors.js';
import {
  assertFunction,
  assertInteger,
  assertKnownKeys,
  assertOptionsObject,
} from '../../core/options.js';
import { NonRetryableError } from '../../core/retry-policy.js';
import type { OpenLineageRunEvent } from './openlineage-event.js';
import type { OpenLineageTransport } from './openlineage-transport.js';

/** The subset of the Fetch API's response the transport reads. */
export interface HttpTransportResponse {
  /** The HTTP status. */
  readonly status: number;
  /** Reads (and releases) the body. */
  text(): Promise<string>;
}

/** The subset of `fetch` the transport calls; the global `fetch`, undici's and node-fetch's fit. */
export type HttpTransportFetch = (
  url: string,
  init: {
    readonly method: 'POST';
    readonly headers: Record<string, string>;
    readonly body: string;
    readonly signal: AbortSignal;
  },
) => Promise<HttpTransportResponse>;

/** Options of {@link createHttpTransport}. */
export interface HttpTransportOptions {
  /** The backend's base URL, e.g. `http://localhost:5000` for Marquez. */
  readonly url: string;
  /**
   * The path events are POSTed to, relative to `url`.
   * @default 'api/v1/lineage'
   */
  readonly endpoint?: string;
  /**
   * Sent as `Authorization: Bearer <apiKey>`.
   * @default none
   */
  readonly apiKey?: string;
  /**
   * More headers for every request (they cannot replace `Content-Type` or `Authorization`).
   * @default {}
   */
  readonly headers?: Readonly<Record<string, string>>;
  /**
   * How long one request may take, in milliseconds; a request that takes longer is abandoned and
   * retried.
   * @default 5000
   */
  readonly timeoutMs?: number;
  /**
   * The `fetch` to call.
   * @default globalThis.fetch
   */
  readonly fetch?: HttpTransportFetch;
}

const KEYS = ['url', 'endpoint', 'apiKey', 'headers', 'timeoutMs', 'fetch'];

/** A header name (an RFC 9110 token): what fetch accepts. */
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** A header value fetch accepts: Latin-1 text without CR, LF or NUL. */
const HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

/**
 * A transport that POSTs every event, one request each and in order, to `url` + `endpoint`. A
 * 2xx answer delivers the event. A 4xx answer means the backend refuses it: the transport throws
 * `LINEAGE_EXPORT_FAILED` as not retryable (but for 408 and 429, which ask to try again later). A
 * 5xx answer, a network failure or a timeout throws `LINEAGE_EXPORT_FAILED` to retry; the
 * emitter retries the batch from its first event, so an event may arrive twice (run ids are
 * stable, so the backend sees the same run again).
 *
 * @throws TypeError naming the option when an option is invalid.
 * @example
 * ```ts
 * const emitter = createOpenLineageEmitter({
 *   namespace: 'checkout',
 *   transport: createHttpTransport({ url: 'http://marquez:5000', apiKey: process.env.OL_KEY }),
 * });
 * ```
 */
export function createHttpTransport(options: HttpTransportOptions): OpenLineageTransport {
  assertOptionsObject(options, 'options');
  assertKnownKeys(options, KEYS, 'options');
  const { url, apiKey, timeoutMs = 5_000 } = options;
  const protocol = typeof url === 'string' && URL.canParse(url) ? new URL(url).protocol : '';
  if (protocol !== 'http:' && protocol !== 'https:') {
    throw new TypeError(`options.url must be an http or https URL, got ${describeValue(url)}`);
  }
  const { username, password } = new URL(url);
  if (username !== '' || password !== '') {
    // fetch refuses such a URL on every request; say so now, and keep secrets out of URLs.
    throw new TypeError('options.url must not hold credentials: pass them as apiKey or headers');
  }
  const endpoint = options.endpoint ?? 'api/v1/lineage';
  if (typeof endpoint !== 'string') {
    throw new TypeError(`options.endpoint must be a string, got ${describeValue(endpoint)}`);
  }
  if (
    apiKey !== undefined &&
    (typeof apiKey !== 'string' || apiKey === '' || !HEADER_VALUE.test(apiKey))
  ) {
    throw new TypeError('options.apiKey must be a non-empty string with no line breaks');
  }
  const extra = options.headers ?? {};
  assertOptionsObject(extra, 'options.headers');
  for (const [name, value] of Object.entries(extra)) {
    if (!HEADER_NAME.test(name)) {
      throw new TypeError(`options.headers: ${JSON.stringify(name)} is not a valid header name`);
    }
    if (typeof value !== 'string' || !HEADER_VALUE.test(value)) {
      throw new TypeError(
        `options.headers.${name} must be a header value (a string of Latin-1 text with no line breaks), got ${describeValue(value)}`,
      );
    }
  }
  assertInteger(timeoutMs, 'options.timeoutMs', 1, 600_000);
  const fetch = options.fetch ?? (globalThis.fetch as unknown as HttpTransportFetch | undefined);
  assertFunction(fetch, 'options.fetch');
  const base = url.endsWith('/') ? url : `${url}/`;
  const target = URL.canParse(endpoint.replace(/^\/+/, ''), base)
    ? new URL(endpoint.replace(/^\/+/, ''), base).href
    : undefined;
  if (target === undefined) {
    throw new TypeError(`options.endpoint must be a path or URL, got ${describeValue(endpoint)}`);
  }
  const headers: Record<string, string> = {
    ...Object.fromEntries(
      Object.entries(extra).filter(([name]) => !/^(content-type|authorization)$/i.test(name)),
    ),
    'Content-Type': 'application/json',
    ...(apiKey === undefined ? {} : { Authorization: `Bearer ${apiKey}` }),
  };

  const post = async (event: OpenLineageRunEvent): Promise<void> => {
    let response: HttpTransportResponse;
    try {
      response = await fetch(target, {
        method: 'POST',
        headers,
        body: JSON.stringify(event),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (error) {
      const timedOut = (error as { name?: unknown } | null)?.name === 'TimeoutError';
      throw new FlowproofError(
        'LINEAGE_EXPORT_FAILED',
        timedOut
          ? `The OpenLineage endpoint did not answer within ${timeoutMs} ms`
          : 'The OpenLineage endpoint could not be reached',
        { cause: error, details: { transport: 'http' } },
      );
    }
    // Read the body so the connection goes back to the pool (and for the error's cause).
    const body = await response.text().catch(() => '');
    const { status } = response;
    if (status >= 200 && status < 300) return;
    const error = new FlowproofError(
      'LINEAGE_EXPORT_FAILED',
      `The OpenLineage endpoint answered ${status}`,
      { cause: new Error(body.slice(0, 500)), details: { transport: 'http', status } },
    );
    const refused = status >= 400 && status < 500 && status !== 408 && status !== 429;
    throw refused ? new NonRetryableError(error) : error;
  };

  return {
    name: 'http',
    async send(events) {
      for (const event of events) await post(event);
    },
  };
}
