/**
 * Failure paths of the HTTP adapters, over real servers: store failures after the handler ran,
 * bodies the layer does not cover, binary bodies, null-body statuses, cookies, key syntax and
 * option checks.
 */
import { createServer, type IncomingMessage } from 'node:http';
import { type AddressInfo, connect } from 'node:net';
import express from 'express';
import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { closeAfterTest, listen } from '../../../test/support/http-servers.js';
import { recordingLogger } from '../../../test/support/logger.js';
import { overrideStore } from '../../../test/support/stores.js';
import { createMemoryBackend } from '../../adapters/memory/memory-backend.js';
import { createMemoryIdempotencyStore } from '../../adapters/memory/memory-idempotency-store.js';
import { FlowproofError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import { createIdempotency } from '../idempotency.js';
import type { IdempotencyStore } from '../idempotency-store.js';
import { fastifyIdempotency } from './fastify-plugin.js';
import { withFetchIdempotency } from './fetch-handler.js';
import {
  createHttpIdempotency,
  type HttpIdempotency,
  type HttpIdempotencyOptions,
  parseIdempotencyKey,
} from './http-idempotency.js';
import { createNodeIdempotencyMiddleware, type NodeRequest } from './node-middleware.js';

async function memoryStore(): Promise<IdempotencyStore> {
  const store = createMemoryIdempotencyStore({ backend: createMemoryBackend() });
  await store.migrate();
  return store;
}

/** A store whose `complete` fails as an unreachable backend does; everything else works. */
async function storeFailingOnComplete(): Promise<IdempotencyStore> {
  return overrideStore(await memoryStore(), {
    complete: async () => {
      throw new FlowproofError('BACKEND_UNAVAILABLE', 'connection refused');
    },
  });
}

async function layer(
  options: Omit<HttpIdempotencyOptions, 'idempotency'> = {},
  store?: IdempotencyStore,
  logger?: Logger,
): Promise<HttpIdempotency> {
  const s = store ?? (await memoryStore());
  return createHttpIdempotency({
    idempotency: createIdempotency({ store: s, ...(logger ? { logger } : {}) }),
    ...options,
    ...(logger ? { logger } : {}),
  });
}

/** The layer, but `finish` rejects after the handler ran (a core that throws late). */
function rejectingFinish(http: HttpIdempotency): HttpIdempotency {
  return {
    ...http,
    async begin(request) {
      const begun = await http.begin(request);
      if (begun.type !== 'proceed') return begun;
      return {
        ...begun,
        finish: async () => {
          throw new Error('the core failed after the handler ran');
        },
      };
    },
  };
}

const json = { 'content-type': 'application/json' };
const timeout = () => AbortSignal.timeout(3000);

/** Sends raw bytes and returns what the server answered before closing or `ms` passed. */
function rawRequest(base: string, request: Buffer | string, ms = 500): Promise<string> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve) => {
    const socket = connect(Number(port), hostname);
    let data = '';
    const done = () => {
      socket.destroy();
      resolve(data);
    };
    socket.on('data', (chunk) => {
      data += chunk.toString('latin1');
    });
    socket.on('error', done);
    socket.on('close', done);
    socket.write(request);
    setTimeout(done, ms);
  });
}

describe('a failure after the handler ran', () => {
  it('Express: the handler response is sent when the store fails on completion', async () => {
    const logger = recordingLogger();
    const http = await layer({}, await storeFailingOnComplete(), logger);
    let runs = 0;
    const app = express();
    app.use(express.json());
    app.use(createNodeIdempotencyMiddleware(http));
    app.post('/orders', (_req, res) => {
      runs += 1;
      res.status(201).location('/orders/1').json({ id: runs });
    });
    const base = await listen(createServer(app));
    const post = () =>
      fetch(`${base}/orders`, {
        method: 'POST',
        headers: { ...json, 'idempotency-key': '"k"' },
        body: '{"a":1}',
        signal: timeout(),
      });
    const first = await post();
    expect(first.status).toBe(201);
    expect(await first.json()).toEqual({ id: 1 });
    // The record stays in progress until its lease ends: the retry does not run again.
    expect((await post()).status).toBe(409);
    expect(runs).toBe(1);
    expect(logger.lines.some((line) => line.level === 'error')).toBe(true);
  });

  it('node:http: a rejection after the handler ran still ends the response completely', async () => {
    const middleware = createNodeIdempotencyMiddleware(rejectingFinish(await layer()));
    const server = createServer((req, res) => {
      middleware(req, res, (error) => {
        if (error) {
          res.statusCode = 599;
          return res.end();
        }
        res.writeHead(201, { 'content-type': 'application/json', 'content-length': '8' });
        res.end('{"id":1}');
      });
    });
    const base = await listen(server);
    const response = await fetch(`${base}/orders`, {
      method: 'POST',
      headers: { ...json, 'idempotency-key': '"k"' },
      body: '{}',
      signal: timeout(),
    });
    expect(response.status).toBe(201);
    expect(await response.text()).toBe('{"id":1}');
  });

  it('Fastify: the handler response is sent when the store fails on completion', async () => {
    for (const http of [
      await layer({}, await storeFailingOnComplete()),
      rejectingFinish(await layer()),
    ]) {
      const app = Fastify();
      await app.register(fastifyIdempotency, { http });
      app.post('/orders', async (_request, reply) => reply.code(201).send({ id: 1 }));
      const response = await app.inject({
        method: 'POST',
        url: '/orders',
        headers: { ...json, 'idempotency-key': '"k"' },
        payload: '{}',
      });
      await app.close();
      expect(response.statusCode).toBe(201);
      expect(response.json()).toEqual({ id: 1 });
    }
  });

  it('fetch: the handler response is returned when the store fails on completion', async () => {
    for (const http of [
      await layer({}, await storeFailingOnComplete()),
      rejectingFinish(await layer()),
    ]) {
      const handler = withFetchIdempotency(http, async () =>
        Response.json({ id: 1 }, { status: 201 }),
      );
      const response = await handler(
        new Request('http://h/orders', {
          method: 'POST',
          headers: { ...json, 'idempotency-key': '"k"' },
          body: '{}',
        }),
      );
      expect(response.status).toBe(201);
      expect(await response.json()).toEqual({ id: 1 });
    }
  });
});

describe('fetch adapter', () => {
  function cookies() {
    const headers = new Headers({ 'content-type': 'text/plain', location: '/o/1' });
    headers.append('set-cookie', 'a=1; Expires=Wed, 21 Oct 2037 07:28:00 GMT');
    headers.append('set-cookie', 'b=2');
    return headers;
  }

  it('keeps every Set-Cookie on fresh and uncovered responses, and replays none', async () => {
    const handler = withFetchIdempotency(
      await layer(),
      async () => new Response('ok', { status: 201, headers: cookies() }),
    );
    const post = () =>
      handler(new Request('http://h/o', { method: 'POST', headers: { 'idempotency-key': '"c"' } }));
    const fresh = await post();
    expect(fresh.headers.getSetCookie()).toEqual([
      'a=1; Expires=Wed, 21 Oct 2037 07:28:00 GMT',
      'b=2',
    ]);
    const replay = await post();
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(replay.headers.getSetCookie()).toEqual([]);
    expect(replay.headers.get('location')).toBe('/o/1');
    const get = await handler(new Request('http://h/o'));
    expect(get.headers.getSetCookie()).toHaveLength(2);
  });

  it('answers 422 to byte-different binary bodies under one key', async () => {
    let runs = 0;
    const handler = withFetchIdempotency(await layer(), async () => {
      runs += 1;
      return new Response('ok', { status: 201 });
    });
    const post = (body: Uint8Array, type: string, key: string) =>
      handler(
        new Request('http://h/bin', {
          method: 'POST',
          headers: { 'content-type': type, 'idempotency-key': key },
          body,
        }),
      );
    expect((await post(new Uint8Array([0xff]), 'application/octet-stream', '"b"')).status).toBe(
      201,
    );
    expect((await post(new Uint8Array([0xfe]), 'application/octet-stream', '"b"')).status).toBe(
      422,
    );
    // Invalid UTF-8 inside JSON must not decode to the same replacement character either.
    const jsonWith = (byte: number) => new Uint8Array([...Buffer.from('{"a":"'), byte, 0x22, 0x7d]);
    expect((await post(jsonWith(0xff), 'application/json', '"j"')).status).toBe(201);
    expect((await post(jsonWith(0xfe), 'application/json', '"j"')).status).toBe(422);
    expect(runs).toBe(2);
  });

  it('sends and replays null-body statuses (204, 205, 304)', async () => {
    const handler = withFetchIdempotency(await layer(), async (request) => {
      const status = Number(new URL(request.url).pathname.slice(1));
      return new Response(null, { status, headers: { etag: '"v"' } });
    });
    for (const status of [204, 205, 304]) {
      const post = () =>
        handler(
          new Request(`http://h/${status}`, {
            method: 'POST',
            headers: { 'idempotency-key': `"s${status}"` },
          }),
        );
      const fresh = await post();
      expect(fresh.status).toBe(status);
      const replay = await post();
      expect(replay.status).toBe(status);
      expect(replay.headers.get('idempotent-replayed')).toBe('true');
      expect(replay.body).toBeNull();
    }
  });

  it('passes uncovered requests through untouched, without reading the response', async () => {
    const produced: Response[] = [];
    const handler = withFetchIdempotency(await layer({ required: false }), async () => {
      // A server-sent event stream: it never ends, so buffering it would hang.
      const stream = new ReadableStream<Uint8Array>({
        start(controller) {
          controller.enqueue(new TextEncoder().encode('data: 1\n\n'));
        },
      });
      const response = new Response(stream, { headers: cookies() });
      produced.push(response);
      return response;
    });
    const requests = [
      new Request('http://h/events'),
      new Request('http://h/events', { method: 'PUT', body: 'x' }),
      new Request('http://h/events', { method: 'POST', body: 'no key, not required' }),
    ];
    for (const [i, request] of requests.entries()) {
      const response = await Promise.race([
        handler(request),
        new Promise<never>((_, reject) =>
          setTimeout(() => reject(new Error('the response was buffered')), 1000),
        ),
      ]);
      expect(response).toBe(produced[i]);
      expect(response.bodyUsed).toBe(false);
      expect(request.bodyUsed).toBe(false);
      await response.body?.cancel();
    }
  });

  it('answers 413 to a covered body over maxBodyBytes', async () => {
    let runs = 0;
    const handler = withFetchIdempotency(
      await layer(),
      async () => {
        runs += 1;
        return new Response('ok', { status: 201 });
      },
      { maxBodyBytes: 8 },
    );
    const post = (body: string | ReadableStream<Uint8Array>) =>
      handler(
        new Request('http://h/o', {
          method: 'POST',
          headers: { 'idempotency-key': '"big"' },
          body,
          ...(body instanceof ReadableStream ? { duplex: 'half' } : {}),
        } as RequestInit),
      );
    const tooLarge = await post('123456789');
    expect(tooLarge.status).toBe(413);
    expect(tooLarge.headers.get('content-type')).toBe('application/problem+json');
    const streamed = await post(
      new ReadableStream({
        start(controller) {
          controller.enqueue(new Uint8Array(6));
          controller.enqueue(new Uint8Array(6));
          controller.close();
        },
      }),
    );
    expect(streamed.status).toBe(413);
    expect(runs).toBe(0);
    expect((await post('12345678')).status).toBe(201);
  });
});

describe('node middleware bodies', () => {
  function echoServer(http: HttpIdempotency, options = {}) {
    const middleware = createNodeIdempotencyMiddleware(http, options);
    let runs = 0;
    const server = createServer((req: NodeRequest, res) => {
      middleware(req, res, async (error) => {
        if (error) {
          res.statusCode = 500;
          return res.end(String(error));
        }
        runs += 1;
        const parsed = req.body;
        const chunks: Buffer[] = [];
        for await (const chunk of req as IncomingMessage) chunks.push(chunk as Buffer);
        res.setHeader('content-type', 'application/json');
        res.end(
          JSON.stringify({
            parsed: Buffer.isBuffer(parsed) ? 'buffer' : (parsed ?? null),
            stream: Buffer.concat(chunks).toString(),
          }),
        );
      });
    });
    return {
      server,
      get runs() {
        return runs;
      },
    };
  }

  it('does not read bodies it does not cover', async () => {
    const app = echoServer(await layer({ required: false }));
    const base = await listen(app.server);
    const put = await fetch(`${base}/x`, { method: 'PUT', body: 'hi', signal: timeout() });
    expect(await put.json()).toEqual({ parsed: null, stream: 'hi' });
    const noKey = await fetch(`${base}/x`, { method: 'POST', body: 'ho', signal: timeout() });
    expect(await noKey.json()).toEqual({ parsed: null, stream: 'ho' });
  });

  it('answers 413 to a covered body over maxBodyBytes', async () => {
    const app = echoServer(await layer(), { maxBodyBytes: 8 });
    const base = await listen(app.server);
    const post = (body: string) =>
      fetch(`${base}/x`, {
        method: 'POST',
        headers: { 'idempotency-key': '"k"' },
        body,
        signal: timeout(),
      });
    const declared = await post('123456789');
    expect(declared.status).toBe(413);
    expect(declared.headers.get('content-type')).toBe('application/problem+json');
    expect(((await declared.json()) as { type: string }).type).toContain('content-too-large');
    const chunked = await rawRequest(
      base,
      'POST /x HTTP/1.1\r\nHost: x\r\nIdempotency-Key: "c"\r\nTransfer-Encoding: chunked\r\n\r\n' +
        '6\r\n123456\r\n6\r\n789012\r\n0\r\n\r\n',
    );
    expect(chunked).toMatch(/^HTTP\/1\.1 413 /);
    expect(app.runs).toBe(0);
    const fits = await post('12345678');
    expect(fits.status).toBe(200);
    expect(await fits.json()).toEqual({ parsed: 'buffer', stream: '' });
  });

  it('fingerprints invalid UTF-8 in a JSON body by its bytes', async () => {
    const app = echoServer(await layer());
    const base = await listen(app.server);
    const post = (byte: number) =>
      fetch(`${base}/x`, {
        method: 'POST',
        headers: { ...json, 'idempotency-key': '"u"' },
        body: new Uint8Array([...Buffer.from('{"a":"'), byte, 0x22, 0x7d]),
        signal: timeout(),
      });
    expect((await post(0xff)).status).toBe(200);
    expect((await post(0xfe)).status).toBe(422);
  });
});

describe('default operation', () => {
  it('keeps long paths that share a prefix apart, and accepts non-ASCII paths', async () => {
    const http = await layer();
    const handle = (url: string) =>
      http.handle(
        { method: 'POST', url, headers: { 'idempotency-key': '"k7"' }, body: { a: 1 } },
        async () => ({ status: 201, headers: {}, body: url }),
      );
    const prefix = `/${'p'.repeat(130)}`;
    expect((await handle(`${prefix}/a`)).status).toBe(201);
    const other = await handle(`${prefix}/b`);
    expect(other.status).toBe(201);
    expect(other.body).toBe(`${prefix}/b`);
    expect((await handle(`${prefix}/a`)).headers['idempotent-replayed']).toBe('true');
    expect((await handle('/caf\u00e9')).status).toBe(201);
  });

  it('over a real server', async () => {
    const app = express();
    app.use(express.json());
    app.use(createNodeIdempotencyMiddleware(await layer()));
    app.post(/.*/, (req, res) => void res.status(201).json({ path: req.path }));
    const base = await listen(createServer(app));
    const prefix = `/${'q'.repeat(140)}`;
    for (const path of [`${prefix}/a`, `${prefix}/b`]) {
      const response = await fetch(`${base}${path}`, {
        method: 'POST',
        headers: { ...json, 'idempotency-key': '"same"' },
        body: '{}',
        signal: timeout(),
      });
      expect(response.status).toBe(201);
      expect(await response.json()).toEqual({ path });
    }
  });
});

describe('Idempotency-Key syntax', () => {
  it('rejects bare keys with commas and accepts parameters on a string', () => {
    expect(parseIdempotencyKey('a,b')).toBeUndefined();
    expect(parseIdempotencyKey('"a";p=1')).toBe('a');
    expect(parseIdempotencyKey('"a";p=1', true)).toBe('a');
    expect(parseIdempotencyKey('"a";p')).toBe('a');
    expect(parseIdempotencyKey('"a";p=?1;q="x;y\\"z";r=tok/en:1;s=:YWJj:;t=-1.5')).toBe('a');
    expect(parseIdempotencyKey('"a"; p=1')).toBe('a');
    expect(parseIdempotencyKey('"a";P=1')).toBeUndefined();
    expect(parseIdempotencyKey('"a";p=')).toBeUndefined();
    expect(parseIdempotencyKey('"a";p="x')).toBeUndefined();
    expect(parseIdempotencyKey('"a" ;p=1')).toBeUndefined();
    expect(parseIdempotencyKey('"a", "b"')).toBeUndefined();
    expect(parseIdempotencyKey('"a,b"')).toBe('a,b');
    // The documented lenient forms still work.
    expect(parseIdempotencyKey('bare-key_1.2:3')).toBe('bare-key_1.2:3');
    expect(parseIdempotencyKey('  "sp"  ')).toBe('sp');
  });

  it('over a real server', async () => {
    const app = express();
    app.use(express.json());
    app.use(createNodeIdempotencyMiddleware(await layer()));
    app.post('/orders', (_req, res) => void res.status(201).json({ ok: true }));
    const base = await listen(createServer(app));
    const post = (key: string) =>
      fetch(`${base}/orders`, {
        method: 'POST',
        headers: { ...json, 'idempotency-key': key },
        body: '{}',
        signal: timeout(),
      });
    expect((await post('a,b')).status).toBe(400);
    expect((await post('"p";v=1')).status).toBe(201);
    const replay = await post('"p"');
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
  });
});

describe('Fastify problems', () => {
  it('are application/problem+json without a charset', async () => {
    const app = Fastify();
    await app.register(fastifyIdempotency, { http: await layer() });
    app.post('/orders', async () => ({ ok: true }));
    await app.listen({ port: 0, host: '127.0.0.1' });
    closeAfterTest(() => app.close());
    const { port } = app.server.address() as AddressInfo;
    const response = await fetch(`http://127.0.0.1:${port}/orders`, {
      method: 'POST',
      headers: json,
      body: '{}',
      signal: timeout(),
    });
    expect(response.status).toBe(400);
    expect(response.headers.get('content-type')).toBe('application/problem+json');
  });
});

describe('argument and option checks', () => {
  it('names the option or argument in a TypeError', async () => {
    const idempotency = createIdempotency({ store: await memoryStore() });
    const make = (options: Record<string, unknown>) => () =>
      createHttpIdempotency({ idempotency, ...options } as HttpIdempotencyOptions);
    expect(make({ methods: 'POST' })).toThrow(
      new TypeError('options.methods must be an array of HTTP method names, got string'),
    );
    expect(make({ methods: ['POST', ''] })).toThrow(/options\.methods/);
    expect(make({ methods: ['PO ST'] })).toThrow(/options\.methods/);
    expect(make({ replayHeaders: 'location' })).toThrow(/options\.replayHeaders/);
    expect(make({ replayHeaders: [42] })).toThrow(/options\.replayHeaders/);
    expect(make({ required: 'yes' })).toThrow(/options\.required/);
    expect(make({ strictKeyFormat: 1 })).toThrow(/options\.strictKeyFormat/);
    expect(make({ logger: {} })).toThrow(/options\.logger/);
    expect(make({ scope: { principal: 'x' } })).toThrow(/options\.scope/);

    const http = createHttpIdempotency({ idempotency });
    const ok = async () => ({ status: 200, headers: {}, body: '' });
    await expect(http.handle(undefined as never, ok)).rejects.toThrow(
      new TypeError('request must be an object, got undefined'),
    );
    await expect(http.begin(null as never)).rejects.toThrow(/request must be an object/);
    await expect(
      http.handle({ method: 'POST', url: '/', headers: undefined } as never, ok),
    ).rejects.toThrow(/request\.headers/);
    await expect(http.handle({ url: '/', headers: {} } as never, ok)).rejects.toThrow(
      /request\.method/,
    );
    await expect(http.handle({ method: 'POST', headers: {} } as never, ok)).rejects.toThrow(
      /request\.url/,
    );

    expect(() => createNodeIdempotencyMiddleware(http, { readBody: 'no' } as never)).toThrow(
      /options\.readBody/,
    );
    expect(() => createNodeIdempotencyMiddleware(http, { maxBodyBytes: -1 })).toThrow(
      /options\.maxBodyBytes/,
    );
    expect(() => withFetchIdempotency(http, ok as never, { maxBodyBytes: 1.5 })).toThrow(
      /options\.maxBodyBytes/,
    );
    expect(() => withFetchIdempotency(http, ok as never, null as never)).toThrow(/options/);
  });

  it('checks what options.scope returns', async () => {
    const idempotency = createIdempotency({ store: await memoryStore() });
    const request = {
      method: 'POST',
      url: '/orders',
      headers: { 'idempotency-key': '"k"' },
      body: {},
    };
    const ok = async () => ({ status: 201, headers: {}, body: '' });
    for (const returned of [{ principal: 42 }, { tenant: null }, 'user-1', null]) {
      const http = createHttpIdempotency({ idempotency, scope: () => returned as never });
      await expect(http.handle(request, ok)).rejects.toThrow(TypeError);
      await expect(http.handle(request, ok)).rejects.toThrow(/options\.scope/);
    }
    const http = createHttpIdempotency({
      idempotency,
      scope: () => ({ tenant: 'acme', principal: undefined }),
    });
    expect((await http.handle(request, ok)).status).toBe(201);
  });
});

describe('a handler whose key was taken over while it ran', () => {
  it('still gets its unstored response or its own error, not IDEMPOTENCY_STALE_OWNER', async () => {
    const store = await memoryStore();
    const http = createHttpIdempotency({
      idempotency: createIdempotency({ store, leaseMs: 30, heartbeat: false }),
    });
    const request = {
      method: 'POST',
      url: '/orders',
      headers: { 'idempotency-key': '"slow"' },
      body: '{}',
    };
    const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
    // Each slow handler outlives its lease; the next request re-claims the key meanwhile.
    const unstored = http.handle(request, async () => {
      await wait(80);
      return { status: 503, headers: {}, body: 'busy' };
    });
    await wait(50);
    const failing = http.handle(request, async () => {
      await wait(80);
      throw new Error('handler broke');
    });
    await wait(50);
    const current = http.handle(request, async () => ({ status: 201, headers: {}, body: 'ok' }));
    await expect(unstored).resolves.toMatchObject({ status: 503, body: 'busy' });
    await expect(failing).rejects.toThrow('handler broke');
    await expect(current).resolves.toMatchObject({ status: 201 });
  });
});
