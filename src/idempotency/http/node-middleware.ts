/**
 * node:http and Express-style middleware over {@link HttpIdempotency}: `(req, res, next)`. The
 * handler's response is captured (status, headers, body), stored, then sent; replays and problems
 * are sent without calling `next`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { assertOptionsObject } from '../../core/options.js';
import type { HttpIdempotency, HttpRequestData, HttpResponseData } from './http-idempotency.js';

/** Options of {@link createNodeIdempotencyMiddleware}. */
export interface NodeIdempotencyMiddlewareOptions {
  /**
   * When `req.body` is unset (no body parser ran), read the body into `req.body` as a `Buffer`
   * (parsed as JSON when the content type says so) so it can be fingerprinted; the handler then
   * reads `req.body`, not the stream.
   * @default true
   */
  readonly readBody?: boolean;
}

/** A request as Express and plain node:http give it; `body` is set by a body parser. */
export type NodeRequest = IncomingMessage & {
  /** The parsed body, when a body parser (Express's `json()`…) ran first. */
  body?: unknown;
  /** Express's original URL, before mounting rewrote `url`. */
  originalUrl?: string;
};

/** Express-style middleware. */
export type NodeMiddleware = (
  req: NodeRequest,
  res: ServerResponse,
  next: (error?: unknown) => void,
) => void;

/**
 * Creates node:http / Express middleware. With Express, mount it after the body parser; with
 * plain node:http, call it with your handler as `next`.
 *
 * @throws TypeError when `http` is not made by {@link createHttpIdempotency}.
 * @example
 * ```ts
 * const app = express();
 * app.use(express.json());
 * app.use(createNodeIdempotencyMiddleware(createHttpIdempotency({ idempotency })));
 * app.post('/orders', async (req, res) => res.status(201).location('/orders/1').json(order));
 * ```
 */
export function createNodeIdempotencyMiddleware(
  http: HttpIdempotency,
  options: NodeIdempotencyMiddlewareOptions = {},
): NodeMiddleware {
  if (typeof http?.begin !== 'function') {
    throw new TypeError('http must be made by createHttpIdempotency()');
  }
  assertOptionsObject(options, 'options');
  const readBody = options.readBody ?? true;
  return (req, res, next) => {
    const run = async () => {
      if (req.body === undefined && readBody && hasBody(req)) req.body = await read(req);
      const request: HttpRequestData = {
        method: req.method ?? 'GET',
        url: req.originalUrl ?? req.url ?? '/',
        headers: req.headers,
        body: req.body,
      };
      const begun = await http.begin(request);
      if (begun.type === 'respond') return send(res, begun.response);
      if (begun.type === 'pass') return next();
      capture(res, begun.finish, begun.abort);
      next();
    };
    run().catch((error: unknown) => next(error));
  };
}

function hasBody(req: IncomingMessage): boolean {
  return (
    req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined
  );
}

async function read(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req)
    chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  const body = Buffer.concat(chunks);
  if (/\bjson\b/i.test(req.headers['content-type'] ?? '')) {
    try {
      return JSON.parse(body.toString('utf8')) as unknown;
    } catch {
      return body;
    }
  }
  return body;
}

// Sends a complete response.
function send(res: ServerResponse, response: HttpResponseData): void {
  res.statusCode = response.status;
  for (const [name, value] of Object.entries(response.headers)) res.setHeader(name, value);
  res.end(typeof response.body === 'string' ? response.body : Buffer.from(response.body));
}

/**
 * Buffers what the handler writes; on `end`, hands the response to `finish` and sends what it
 * returns (the same response, or a problem when the claim was lost).
 */
function capture(
  res: ServerResponse,
  finish: (response: HttpResponseData) => Promise<HttpResponseData>,
  abort: () => Promise<void>,
): void {
  const original = { write: res.write, end: res.end, writeHead: res.writeHead };
  const chunks: Buffer[] = [];
  let ended = false;
  const toBuffer = (chunk: unknown, encoding?: unknown): Buffer | undefined => {
    if (chunk === undefined || chunk === null || typeof chunk === 'function') return undefined;
    if (typeof chunk === 'string') {
      return Buffer.from(
        chunk,
        typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8',
      );
    }
    return Buffer.from(chunk as Uint8Array);
  };
  const restore = () => {
    res.write = original.write;
    res.end = original.end;
    res.writeHead = original.writeHead;
  };
  res.writeHead = function writeHead(this: ServerResponse, status: number, ...rest: unknown[]) {
    res.statusCode = status;
    const headers = rest.find((r) => typeof r === 'object' && r !== null) as
      | Record<string, string | number | readonly string[]>
      | undefined;
    if (headers) for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
    return res;
  } as ServerResponse['writeHead'];
  res.write = function write(chunk: unknown, encoding?: unknown, callback?: unknown) {
    const buffer = toBuffer(chunk, encoding);
    if (buffer) chunks.push(buffer);
    const cb = typeof encoding === 'function' ? encoding : callback;
    if (typeof cb === 'function') queueMicrotask(() => (cb as () => void)());
    return true;
  } as ServerResponse['write'];
  res.end = function end(chunk?: unknown, encoding?: unknown, callback?: unknown) {
    if (ended) return res;
    ended = true;
    const buffer = toBuffer(chunk, encoding);
    if (buffer) chunks.push(buffer);
    const cb = [chunk, encoding, callback].find((a) => typeof a === 'function') as
      | (() => void)
      | undefined;
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(res.getHeaders())) {
      if (value !== undefined)
        headers[name] = Array.isArray(value) ? value.join(', ') : String(value);
    }
    const body = Buffer.concat(chunks);
    const response: HttpResponseData = {
      status: res.statusCode,
      headers,
      body: new Uint8Array(body),
    };
    finish(response).then(
      (final) => {
        restore();
        if (final === response) res.end(body, cb);
        else {
          for (const name of res.getHeaderNames()) res.removeHeader(name);
          send(res, final);
        }
      },
      () => {
        restore();
        res.statusCode = 500;
        res.end();
      },
    );
    return res;
  } as ServerResponse['end'];
  res.once('close', () => {
    if (!ended) {
      restore();
      void abort();
    }
  });
}
