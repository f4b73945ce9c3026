/**
 * node:http and Express-style middleware over {@link HttpIdempotency}: `(req, res, next)`. The
 * handler's response is captured (status, headers, body), stored, then sent; replays and problems
 * are sent without calling `next`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { describeValue, isFlowproofError } from '../../core/errors.js';
import { assertKnownKeys, assertOptionsObject } from '../../core/options.js';
import {
  bodyForFingerprint,
  checkMaxBodyBytes,
  contentTooLarge,
  type HttpIdempotency,
  type HttpRequestData,
  type HttpResponseData,
  internalErrorProblem,
} from './http-idempotency.js';

/** Options of {@link createNodeIdempotencyMiddleware}. */
export interface NodeIdempotencyMiddlewareOptions {
  /**
   * When `req.body` is unset (no body parser ran) and the request is covered (its method is, and
   * it has an `Idempotency-Key`), read the body into `req.body` as a `Buffer` (parsed as JSON when
   * the content type says so) so it can be fingerprinted; the handler then reads `req.body`, not
   * the stream. Other requests' streams are left unread.
   * @default true
   */
  readonly readBody?: boolean;
  /**
   * Largest body, in bytes, the middleware reads for a fingerprint: a covered request with a
   * larger body is answered 413 (`content-too-large` problem) without running the handler or
   * claiming the key. Bodies a body parser already read are its business.
   * @default 1048576 (1 MiB)
   */
  readonly maxBodyBytes?: number;
}

/** A request as Express and plain node:http give it; `body` is set by a body parser. */
export type NodeRequest = IncomingMessage & {
  /** The parsed body, when a body parser (Express's `json()`…) ran first. */
  body?: unknown;
  /** Express's original URL, before mounting rewrote `url`. */
  originalUrl?: string;
};

/**
 * Express-style middleware. Generic in the request, so mounting it before a route's handler
 * (`app.post('/orders', middleware, handler)`) leaves the handler's `req` typed by Express.
 */
export type NodeMiddleware = <Req extends NodeRequest>(
  req: Req,
  res: ServerResponse,
  next: (error?: unknown) => void,
) => void;

/**
 * Creates node:http / Express middleware. With Express, mount it after the body parser; with
 * plain node:http, call it with your handler as `next`.
 *
 * @throws TypeError when `http` is not made by {@link createHttpIdempotency}, or naming the
 * option that is invalid.
 * @example
 * ```ts
 * const app = express();
 * app.use(express.json());
 * app.use(createNodeIdempotencyMiddleware(createHttpIdempotency({ idempotency })));
 * app.post('/orders', async (req, res) => res.status(201).location('/orders/1').json(order));
 * ```
 */
export function createNodeIdempotencyMiddleware(
  http: HttpIdempotency<NodeRequest>,
  options: NodeIdempotencyMiddlewareOptions = {},
): NodeMiddleware {
  if (typeof http?.begin !== 'function' || typeof http.covers !== 'function') {
    throw new TypeError('http must be made by createHttpIdempotency()');
  }
  assertOptionsObject(options, 'options');
  assertKnownKeys(options, ['readBody', 'maxBodyBytes'], 'options');
  if (options.readBody !== undefined && typeof options.readBody !== 'boolean') {
    throw new TypeError(
      `options.readBody must be a boolean, got ${describeValue(options.readBody)}`,
    );
  }
  const readBody = options.readBody ?? true;
  const maxBodyBytes = checkMaxBodyBytes(options.maxBodyBytes, 'options.maxBodyBytes');
  return (req, res, next) => {
    if (typeof next !== 'function') {
      throw new TypeError(`next must be a function, got ${describeValue(next)}`);
    }
    if (typeof req?.headers !== 'object' || req.headers === null || typeof req.on !== 'function') {
      return next(new TypeError(`req must be a node:http request, got ${describeValue(req)}`));
    }
    if (typeof res?.setHeader !== 'function' || typeof res.end !== 'function') {
      return next(new TypeError(`res must be a node:http response, got ${describeValue(res)}`));
    }
    const run = async () => {
      const request: HttpRequestData<NodeRequest> = {
        method: req.method ?? 'GET',
        url: req.originalUrl ?? req.url ?? '/',
        headers: req.headers,
        body: req.body,
        raw: req,
      };
      // Only a covered request's body is fingerprinted: any other stream stays unread for the
      // handler (an upload, a proxy), and no unbounded body is buffered on its behalf.
      if (req.body === undefined && readBody && hasBody(req) && http.covers(request)) {
        const bytes = await readAtMost(req, maxBodyBytes);
        if (bytes === undefined) {
          // The rest of the body is not read: close the connection rather than drain it.
          res.setHeader('connection', 'close');
          return send(res, contentTooLarge(maxBodyBytes));
        }
        req.body = bodyForFingerprint(bytes, req.headers['content-type']);
      }
      const begun = await http.begin({ ...request, body: req.body });
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

/** Reads the body, or returns `undefined` (leaving the rest unread) once it exceeds `limit`. */
function readAtMost(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  const declared = Number(req.headers['content-length']);
  if (declared > limit) return Promise.resolve(undefined);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const stop = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
    };
    const onData = (chunk: Buffer | string) => {
      const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      size += buffer.length;
      if (size > limit) {
        stop();
        req.pause();
        resolve(undefined);
      } else chunks.push(buffer);
    };
    const onEnd = () => {
      stop();
      resolve(Buffer.concat(chunks));
    };
    const onError = (error: unknown) => {
      stop();
      reject(error);
    };
    const onClose = () => onError(new Error('The request was aborted before its body was read'));
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
  });
}

// Sends a complete response (its body sets Content-Length).
function send(res: ServerResponse, response: HttpResponseData): void {
  res.statusCode = response.status;
  for (const [name, value] of Object.entries(response.headers)) res.setHeader(name, value);
  res.end(typeof response.body === 'string' ? response.body : Buffer.from(response.body));
}

// Sends `response` in place of whatever the handler set.
function replace(res: ServerResponse, response: HttpResponseData): void {
  for (const name of res.getHeaderNames()) res.removeHeader(name);
  send(res, response);
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
    // Whatever happens after the handler ran, the response is ended, and with headers that match
    // its body: a stale Content-Length from the handler (Express sets one) would hang the client.
    const deliver = (final: HttpResponseData) => {
      restore();
      try {
        if (final === response) res.end(body, cb);
        else replace(res, final);
      } catch {
        if (res.headersSent) res.destroy();
        else replace(res, internalErrorProblem());
      }
    };
    finish(response).then(deliver, (error: unknown) => {
      // A response that is none (a status of 0…) was not stored and its key released: answer 500.
      if (isFlowproofError(error, 'IDEMPOTENCY_RESPONSE_INVALID')) {
        deliver(internalErrorProblem());
        return;
      }
      // finish() returns the handler's response when the store fails; should the core reject
      // anyway, the side effect happened, so the client still gets its response.
      deliver(response);
    });
    return res;
  } as ServerResponse['end'];
  res.once('close', () => {
    if (!ended) {
      restore();
      void abort();
    }
  });
}
