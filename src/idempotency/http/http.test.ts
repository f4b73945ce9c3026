import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import Fastify from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { createMemoryBackend } from '../../adapters/memory/memory-backend.js';
import { createMemoryIdempotencyStore } from '../../adapters/memory/memory-idempotency-store.js';
import { FlowproofError } from '../../core/errors.js';
import { createIdempotency } from '../idempotency.js';
import type { IdempotencyStore } from '../idempotency-store.js';
import { fastifyIdempotency } from './fastify-plugin.js';
import { withFetchIdempotency } from './fetch-handler.js';
import { createHttpIdempotency, parseIdempotencyKey } from './http-idempotency.js';
import { createNodeIdempotencyMiddleware } from './node-middleware.js';

const closers: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((close) => close()));
});

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closers.push(() => new Promise((resolve) => server.close(resolve)));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function layer(store?: IdempotencyStore) {
  const s = store ?? createMemoryIdempotencyStore({ backend: createMemoryBackend() });
  await s.migrate();
  return createHttpIdempotency({ idempotency: createIdempotency({ store: s }) });
}

/** The handler every framework runs: slow enough to overlap, counts executions. */
function orders() {
  let created = 0;
  return {
    get created() {
      return created;
    },
    async create(body: unknown) {
      created += 1;
      await new Promise((r) => setTimeout(r, 60));
      return { id: `order-${created}`, body };
    },
  };
}

/** Runs the IETF-draft scenarios against a server at `base`. */
async function scenarios(base: string, counter: { readonly created: number }) {
  const post = (key: string | undefined, body: unknown, extra: Record<string, string> = {}) =>
    fetch(`${base}/orders`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        ...(key === undefined ? {} : { 'idempotency-key': key }),
        ...extra,
      },
      body: JSON.stringify(body),
    });
  const missing = await post(undefined, { total: 1 });
  expect(missing.status).toBe(400);
  expect(missing.headers.get('content-type')).toContain('application/problem+json');
  expect(((await missing.json()) as { type: string }).type).toContain('idempotency-key-missing');
  expect((await post('"unterminated', { total: 1 })).status).toBe(400);

  const [first, concurrent] = await Promise.all([
    post('"k-1"', { total: 1 }),
    new Promise((r) => setTimeout(r, 15)).then(() => post('"k-1"', { total: 1 })),
  ]);
  expect(first.status).toBe(201);
  expect(first.headers.get('location')).toBe('/orders/1');
  expect(first.headers.get('idempotent-replayed')).toBeNull();
  const created = await first.json();
  expect(concurrent.status).toBe(409);
  expect(Number(concurrent.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
  expect(concurrent.headers.get('content-type')).toContain('application/problem+json');

  const replay = await post('"k-1"', { total: 1 }, { authorization: 'Bearer other' });
  expect(replay.status).toBe(201);
  expect(replay.headers.get('idempotent-replayed')).toBe('true');
  expect(replay.headers.get('location')).toBe('/orders/1');
  expect(replay.headers.get('set-cookie')).toBeNull();
  expect(await replay.json()).toEqual(created);

  const reused = await post('"k-1"', { total: 2 });
  expect(reused.status).toBe(422);
  expect(((await reused.json()) as { type: string }).type).toContain('idempotency-key-reused');
  expect(counter.created).toBe(1);

  // A server error is not stored: the retry runs again.
  expect((await post('"k-fail"', { fail: true })).status).toBe(500);
  expect((await post('"k-fail"', { fail: true })).status).toBe(500);
  expect(counter.created).toBe(3);
}

describe('parseIdempotencyKey', () => {
  it('parses structured-field strings', () => {
    expect(parseIdempotencyKey('"abc"')).toBe('abc');
    expect(parseIdempotencyKey('"a\\"b\\\\c"')).toBe('a"b\\c');
    expect(parseIdempotencyKey('"abc";x=1')).toBe('abc');
    expect(parseIdempotencyKey('""')).toBeUndefined();
    expect(parseIdempotencyKey('"é"')).toBeUndefined();
    expect(parseIdempotencyKey('bare-key')).toBe('bare-key');
    expect(parseIdempotencyKey('bare-key', true)).toBeUndefined();
    expect(parseIdempotencyKey(`"${'x'.repeat(256)}"`)).toBeUndefined();
  });

  it('refuses to replay credential headers', async () => {
    const store = createMemoryIdempotencyStore({ backend: createMemoryBackend() });
    expect(() =>
      createHttpIdempotency({
        idempotency: createIdempotency({ store }),
        replayHeaders: ['location', 'Set-Cookie'],
      }),
    ).toThrow(/set-cookie/);
  });
});

describe('HTTP idempotency over real servers', () => {
  it('node:http', async () => {
    const http = await layer();
    const middleware = createNodeIdempotencyMiddleware(http);
    const counter = orders();
    const server = createServer((req, res) => {
      middleware(req, res, async (error) => {
        if (error) {
          res.statusCode = 500;
          return res.end();
        }
        const body = (req as { body?: { fail?: boolean } }).body;
        const order = await counter.create(body);
        res.setHeader('set-cookie', 'session=secret');
        if (body?.fail) {
          res.statusCode = 500;
          return res.end('boom');
        }
        res.writeHead(201, { 'content-type': 'application/json', location: '/orders/1' });
        res.end(JSON.stringify(order));
      });
    });
    await scenarios(await listen(server), counter);
  });

  it('Express', async () => {
    const http = await layer();
    const counter = orders();
    const app = express();
    app.use(express.json());
    app.use(createNodeIdempotencyMiddleware(http));
    app.post('/orders', async (req, res) => {
      const order = await counter.create(req.body);
      if (req.body.fail) return void res.status(500).send('boom');
      res.cookie('session', 'secret');
      res.status(201).location('/orders/1').json(order);
    });
    await scenarios(await listen(createServer(app)), counter);
  });

  it('Fastify', async () => {
    const http = await layer();
    const counter = orders();
    const app = Fastify();
    await app.register(fastifyIdempotency, { http });
    app.post('/orders', async (request, reply) => {
      const body = request.body as { fail?: boolean };
      const order = await counter.create(body);
      if (body.fail) return reply.code(500).send({ error: 'boom' });
      reply.header('set-cookie', 'session=secret');
      return reply.code(201).header('location', '/orders/1').send(order);
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    closers.push(() => app.close());
    const { port } = app.server.address() as AddressInfo;
    await scenarios(`http://127.0.0.1:${port}`, counter);
  });

  it('fetch API (Request) => Response', async () => {
    const http = await layer();
    const counter = orders();
    const handler = withFetchIdempotency(http, async (request) => {
      const body = (await request.json()) as { fail?: boolean };
      const order = await counter.create(body);
      if (body.fail) return new Response('boom', { status: 500 });
      return Response.json(order, {
        status: 201,
        headers: { location: '/orders/1', 'set-cookie': 'session=secret' },
      });
    });
    // Node has no fetch-API server: bridge node:http to the handler, as adapters do.
    const server = createServer(async (req, res) => {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      const headers = new Headers();
      for (const [name, value] of Object.entries(req.headers)) {
        if (typeof value === 'string') headers.set(name, value);
      }
      const response = await handler(
        new Request(`http://127.0.0.1${req.url}`, {
          method: req.method ?? 'GET',
          headers,
          ...(chunks.length ? { body: Buffer.concat(chunks) } : {}),
        }),
      );
      res.statusCode = response.status;
      response.headers.forEach((value, name) => {
        res.setHeader(name, value);
      });
      res.end(Buffer.from(await response.arrayBuffer()));
    });
    await scenarios(await listen(server), counter);
  });

  it('answers 503 when the store is down and fail-closed', async () => {
    const store = createMemoryIdempotencyStore({ backend: createMemoryBackend() });
    const down: IdempotencyStore = {
      kind: 'down',
      migrate: () => store.migrate(),
      claim: async () => {
        throw new FlowproofError('BACKEND_TIMEOUT', 'timed out');
      },
      complete: async () => false,
      release: async () => false,
      heartbeat: async () => false,
      get: async () => undefined,
      deleteExpired: async () => 0,
      close: async () => {},
    };
    const http = createHttpIdempotency({ idempotency: createIdempotency({ store: down }) });
    const response = await http.handle(
      { method: 'POST', url: '/orders', headers: { 'Idempotency-Key': '"k"' }, body: {} },
      async () => ({ status: 201, headers: {}, body: 'never' }),
    );
    expect(response.status).toBe(503);
    expect(response.headers['retry-after']).toBe('1');
  });
});
