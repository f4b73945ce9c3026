/**
 * A Fastify plugin over {@link HttpIdempotency}: a `preHandler` hook claims the key (or answers a
 * replay or a problem) and an `onSend` hook stores the response before it is sent. No dependency
 * on Fastify itself: the instance is typed structurally.
 */
import { describeValue, isFlowproofError } from '../../core/errors.js';
import { assertKnownKeys, assertOptionsObject } from '../../core/options.js';
import type { HttpBeginResult, HttpIdempotency, HttpResponseData } from './http-idempotency.js';

/** The slice of a Fastify request the plugin reads. */
export interface FastifyRequestLike {
  /** Request method. */
  readonly method: string;
  /** Path and query. */
  readonly url: string;
  /** Request headers. */
  readonly headers: Readonly<Record<string, string | readonly string[] | undefined>>;
  /** The parsed body. */
  readonly body?: unknown;
}

/** The slice of a Fastify reply the plugin uses. */
export interface FastifyReplyLike {
  /** The status code set so far. */
  readonly statusCode: number;
  /** Sets the status code. */
  code(status: number): FastifyReplyLike;
  /** Sets a header. */
  header(name: string, value: string): FastifyReplyLike;
  /** Removes a header. */
  removeHeader(name: string): FastifyReplyLike;
  /** The headers set so far. */
  getHeaders(): Record<string, string | number | readonly string[] | undefined>;
  /** Sends the reply. */
  send(payload?: unknown): FastifyReplyLike;
}

/** The slice of a Fastify instance the plugin uses. */
export interface FastifyInstanceLike {
  /** Registers a hook. */
  addHook(name: string, hook: (...args: never[]) => unknown): unknown;
}

/** Options of {@link fastifyIdempotency}. */
export interface FastifyIdempotencyOptions {
  /**
   * The HTTP layer made by {@link createHttpIdempotency}; its callbacks get Fastify's `request`
   * as `raw` (declare it: `createHttpIdempotency<FastifyRequest>(…)`).
   */
  readonly http: HttpIdempotency<FastifyRequestLike>;
}

type Proceed = Extract<HttpBeginResult, { type: 'proceed' }>;

// Bodies the plugin sends are Buffers: Fastify appends `; charset=utf-8` to the content type of a
// string payload, which would alter stored and problem (`application/problem+json`) types.
function toBuffer(body: string | Uint8Array): Buffer {
  return typeof body === 'string' ? Buffer.from(body, 'utf8') : Buffer.from(body);
}

const claims = new WeakMap<object, Proceed>();

/**
 * The Fastify plugin. Registered with `fastify.register(fastifyIdempotency, { http })`, it
 * applies to every route of the instance (it is not encapsulated). Streamed replies are not
 * stored: the key is released.
 *
 * @example
 * ```ts
 * const app = Fastify();
 * await app.register(fastifyIdempotency, { http: createHttpIdempotency({ idempotency }) });
 * app.post('/orders', async (request, reply) => reply.code(201).send(await createOrder(request.body)));
 * ```
 */
export const fastifyIdempotency = Object.assign(
  async function fastifyIdempotency(
    fastify: FastifyInstanceLike,
    options: FastifyIdempotencyOptions,
  ): Promise<void> {
    if (typeof (fastify as Partial<FastifyInstanceLike> | undefined)?.addHook !== 'function') {
      throw new TypeError(`fastify must be a Fastify instance, got ${describeValue(fastify)}`);
    }
    assertOptionsObject(options, 'options');
    assertKnownKeys(options, ['http'], 'options');
    const { http } = options;
    if (typeof http?.begin !== 'function') {
      throw new TypeError('options.http must be made by createHttpIdempotency()');
    }
    fastify.addHook('preHandler', (async (request: FastifyRequestLike, reply: FastifyReplyLike) => {
      const begun = await http.begin({
        method: request.method,
        url: request.url,
        headers: request.headers,
        body: request.body,
        raw: request,
      });
      if (begun.type === 'respond') {
        reply.code(begun.response.status);
        for (const [name, value] of Object.entries(begun.response.headers))
          reply.header(name, value);
        return reply.send(toBuffer(begun.response.body));
      }
      if (begun.type === 'proceed') claims.set(request, begun);
      return undefined;
    }) as never);
    fastify.addHook('onSend', (async (
      request: FastifyRequestLike,
      reply: FastifyReplyLike,
      payload: unknown,
    ) => {
      const claim = claims.get(request);
      if (!claim) return payload;
      claims.delete(request);
      if (typeof payload !== 'string' && !(payload instanceof Uint8Array) && payload != null) {
        await claim.abort();
        return payload;
      }
      const headers: Record<string, string> = {};
      for (const [name, value] of Object.entries(reply.getHeaders())) {
        if (value !== undefined)
          headers[name] = Array.isArray(value) ? value.join(', ') : String(value);
      }
      const response: HttpResponseData = {
        status: reply.statusCode,
        headers,
        body: payload == null ? '' : (payload as string | Uint8Array),
      };
      let final: HttpResponseData;
      try {
        final = await claim.finish(response);
      } catch (error) {
        // Not a response to store (the key was released): Fastify answers its error handler's 500.
        if (isFlowproofError(error, 'IDEMPOTENCY_RESPONSE_INVALID')) throw error;
        // finish() returns the handler's response when the store fails; should the core reject
        // anyway, the side effect happened, so the client still gets that response, not a 500.
        return payload;
      }
      if (final === response) return payload;
      for (const name of Object.keys(reply.getHeaders())) reply.removeHeader(name);
      reply.code(final.status);
      for (const [name, value] of Object.entries(final.headers)) reply.header(name, value);
      return toBuffer(final.body);
    }) as never);
    const abandon = (async (request: FastifyRequestLike) => {
      const claim = claims.get(request);
      if (claim) {
        claims.delete(request);
        await claim.abort();
      }
    }) as never;
    fastify.addHook('onResponse', abandon);
    fastify.addHook('onRequestAbort', abandon);
  },
  // What fastify-plugin does: hooks apply to the parent instance, not an encapsulated child.
  { [Symbol.for('skip-override')]: true },
);
