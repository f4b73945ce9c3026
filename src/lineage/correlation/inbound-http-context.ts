/**
 * The flow context of an inbound HTTP request: restored from its headers (`x-correlation-id`,
 * `x-causation-id`, W3C `traceparent`/`tracestate`, allow-listed `baggage`; actor and tenant only
 * when trusted), the handler run in it, and the correlation id echoed on the response. Once the
 * handler runs inside the context, AsyncLocalStorage carries it through `await`, timers and the
 * request's own stream events (body parsers included).
 */
import {
  CONTEXT_HEADERS,
  type RestoreContextOptions,
  type RestoredContext,
  restoreContext,
  runWithContext,
} from '../../core/context.js';
import { describeValue } from '../../core/errors.js';
import {
  assertFunction,
  assertKnownKeys,
  assertOptionsObject,
  readable,
} from '../../core/options.js';

/** Options of {@link flowContextMiddleware} and {@link withFlowContext}. */
export interface HttpContextOptions {
  /**
   * Take `x-actor-id`, `x-actor-type` and `x-tenant-id` from the request. Only behind a gateway
   * that sets (and strips) them: from a public client they are whatever it claims.
   * @default false
   */
  readonly trustIdentity?: boolean;
  /**
   * The W3C `baggage` keys to take into the context; the others are ignored.
   * @default [] (no baggage is read)
   */
  readonly baggage?: readonly string[];
  /**
   * A malformed header: `replace` drops it (a fresh correlation id when it was that one),
   * `throw` fails the request with `INVALID_CONTEXT` (the middleware passes it to `next`; the
   * fetch handler rejects with it).
   * @default 'replace'
   */
  readonly onInvalid?: 'replace' | 'throw';
}

/** The request headers {@link flowContextMiddleware} reads (Node's `IncomingMessage` fits). */
export interface HttpRequestLike {
  /** Header names in any case; repeated headers as arrays. */
  readonly headers: Readonly<Record<string, string | readonly string[] | undefined>>;
}

/** The response {@link flowContextMiddleware} writes to (Node's `ServerResponse` fits). */
export interface HttpResponseLike {
  /** Sets a response header. */
  setHeader(name: string, value: string): unknown;
  /** True once the headers went out; the correlation header is then not set. */
  readonly headersSent?: boolean;
}

/** A Node-style middleware made by {@link flowContextMiddleware}. */
export type FlowContextMiddleware = (
  request: HttpRequestLike,
  response: HttpResponseLike,
  next: (error?: unknown) => void,
) => void;

/**
 * A `(req, res, next)` middleware (Express, Connect, or plain `node:http` calling it first) that
 * runs the rest of the request in the flow context restored from its headers, and sets
 * `x-correlation-id` on the response (the inbound one, or the one generated for this request).
 * Put it first, so everything after it runs in the context.
 *
 * @throws TypeError naming the option when an option is invalid.
 * @example
 * ```ts
 * const app = express();
 * app.use(flowContextMiddleware({ baggage: ['region'] }));
 * app.use(express.json());
 * app.post('/orders', async (req, res) => {
 *   res.json(await placeOrder(req.body)); // getContext() is this request's
 * });
 * ```
 */
export function flowContextMiddleware(options: HttpContextOptions = {}): FlowContextMiddleware {
  const restoreOptions = checkHttpContextOptions(options);
  return (request, response, next) => {
    // Read before `next` can be called: a request with no headers is a wiring mistake.
    const headers = readable('request.headers', () => (request as HttpRequestLike | null)?.headers);
    if (typeof headers !== 'object' || headers === null) {
      throw new TypeError(`request.headers must be an object, got ${describeValue(headers)}`);
    }
    let context: RestoredContext;
    try {
      context = restoreContext(headers, restoreOptions);
    } catch (error) {
      next(error); // INVALID_CONTEXT with onInvalid: 'throw'
      return;
    }
    if (response.headersSent !== true) {
      response.setHeader(CONTEXT_HEADERS.correlationId, context.correlationId);
    }
    runWithContext(context, () => next());
  };
}

/**
 * Wraps a Fetch-API handler (`Request` → `Response`: Hono's `app.fetch`, Bun's and Deno's
 * `serve`, edge runtimes) so it runs in the flow context restored from the request's headers;
 * the response gets `x-correlation-id` (on a copy when its headers are immutable). Extra
 * arguments (an environment, an execution context) are passed through.
 *
 * @throws TypeError naming the option when an option is invalid, or `handler` when it is not a
 * function. The wrapped handler rejects with `INVALID_CONTEXT` (`onInvalid: 'throw'`) and with a
 * `TypeError` when the handler resolves to something other than a `Response`.
 * @example
 * ```ts
 * const app = new Hono();
 * export default { fetch: withFlowContext(app.fetch, { baggage: ['region'] }) };
 * ```
 */
export function withFlowContext<A extends unknown[]>(
  handler: (request: Request, ...rest: A) => Response | Promise<Response>,
  options: HttpContextOptions = {},
): (request: Request, ...rest: A) => Promise<Response> {
  assertFunction(handler, 'handler');
  const restoreOptions = checkHttpContextOptions(options);
  return async (request, ...rest) => {
    const context = restoreContext(requestHeaders(request), restoreOptions);
    const response: unknown = await runWithContext(context, () => handler(request, ...rest));
    // Duck-typed: a Response of another realm or of undici's own package is fine too.
    if (typeof (response as Response | null)?.headers?.set !== 'function') {
      throw new TypeError('handler must return a Response (or a promise of one)');
    }
    return withCorrelationHeader(response as Response, context.correlationId);
  };
}

/** The headers of a Fetch-API `Request` as a record (names lower-case, repeats joined). */
function requestHeaders(request: Request): Record<string, string> {
  try {
    return Object.fromEntries(request.headers);
  } catch {
    throw new TypeError('request must be a Fetch-API Request');
  }
}

/** `response` with `x-correlation-id` set: itself, or a copy when its headers are immutable. */
function withCorrelationHeader(response: Response, correlationId: string): Response {
  try {
    response.headers.set(CONTEXT_HEADERS.correlationId, correlationId);
    return response;
  } catch {
    // Immutable headers (Response.redirect, a fetched response passed on): set them on a copy.
    const copy = new Response(response.body, response);
    copy.headers.set(CONTEXT_HEADERS.correlationId, correlationId);
    return copy;
  }
}

/** Checks the options once, up front; returns the frozen options of `restoreContext`. */
function checkHttpContextOptions(options: HttpContextOptions): RestoreContextOptions {
  assertOptionsObject(options, 'options');
  assertKnownKeys(options, ['trustIdentity', 'baggage', 'onInvalid'], 'options');
  const { trustIdentity, baggage, onInvalid } = options;
  // Taking every key a client sends is what the allow-list is there to prevent.
  if ((baggage as unknown) === true) {
    throw new TypeError('options.baggage must be a list of baggage keys');
  }
  // Raises the TypeError naming a bad option now, not at each request.
  restoreContext({}, { trustIdentity, baggage, onInvalid } as RestoreContextOptions);
  return Object.freeze({
    ...(trustIdentity === undefined ? {} : { trustIdentity }),
    ...(onInvalid === undefined ? {} : { onInvalid }),
    ...(Array.isArray(baggage) ? { baggage: Object.freeze([...baggage]) } : {}),
  });
}
