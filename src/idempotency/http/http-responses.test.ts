/**
 * Which HTTP responses are stored and replayed (and with which headers), what happens to a
 * response that is not one, and scopes taken from the framework's own request.
 */
import { createServer } from 'node:http';
import express from 'express';
import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { listen } from '../../../test/support/http-servers.js';
import { createMemoryBackend } from '../../adapters/memory/memory-backend.js';
import { createMemoryIdempotencyStore } from '../../adapters/memory/memory-idempotency-store.js';
import { isFlowproofError } from '../../core/errors.js';
import { createIdempotency } from '../idempotency.js';
import { fastifyIdempotency } from './fastify-plugin.js';
import { withFetchIdempotency } from './fetch-handler.js';
import {
  createHttpIdempotency,
  defaultStoreResponse,
  type HttpIdempotencyOptions,
  type HttpResponseData,
} from './http-idempotency.js';
import { createNodeIdempotencyMiddleware, type NodeRequest } from './node-middleware.js';

async function layer<Raw = unknown>(
  options: Omit<HttpIdempotencyOptions<Raw>, 'idempotency'> = { scope: () => ({}) },
) {
  const store = createMemoryIdempotencyStore({ backend: createMemoryBackend() });
  await store.migrate();
  return createHttpIdempotency<Raw>({ idempotency: createIdempotency({ store }), ...options });
}

const request = (key: string) => ({
  method: 'POST',
  url: '/orders',
  headers: { 'idempotency-key': `"${key}"` },
  body: { item: 'book' },
});

describe('which responses are stored', () => {
  it('stores a response once the operation ran, not a transient refusal', async () => {
    const http = await layer();
    const transient = [401, 403, 408, 409, 423, 425, 429, 500, 502, 503, 504];
    const stored = [200, 201, 202, 204, 301, 303, 400, 404, 410, 422];
    for (const status of [...transient, ...stored]) {
      let runs = 0;
      const handler = async (): Promise<HttpResponseData> => {
        runs += 1;
        return { status: runs === 1 ? status : 201, headers: {}, body: '' };
      };
      const first = await http.handle(request(`s${status}`), handler);
      const second = await http.handle(request(`s${status}`), handler);
      expect(first.status).toBe(status);
      if (transient.includes(status)) {
        expect({ status, runs, replayed: second.headers['idempotent-replayed'] }).toEqual({
          status,
          runs: 2,
          replayed: undefined,
        });
      } else {
        expect({ status, runs, second: second.status }).toEqual({
          status,
          runs: 1,
          second: status,
        });
        expect(second.headers['idempotent-replayed']).toBe('true');
      }
      expect(defaultStoreResponse(status)).toBe(!transient.includes(status));
    }
  });

  it('replays the headers a client needs, and the same status and body as the first answer', async () => {
    const http = await layer();
    const headers = {
      'content-type': 'application/json',
      location: '/orders/1',
      'retry-after': '30',
      'content-location': '/orders/1',
      link: '</orders/1/items>; rel="items"',
      vary: 'Accept',
      'x-request-id': 'r1',
    };
    const handler = async () => ({ status: 202, headers, body: '{"id":1}' });
    const first = await http.handle(request('h'), handler);
    const replay = await http.handle(request('h'), handler);
    const { 'idempotent-replayed': marker, ...replayed } = replay.headers;
    expect(marker).toBe('true');
    const { 'x-request-id': _, ...needed } = headers;
    expect(replayed).toEqual(needed);
    expect({ status: replay.status, body: replay.body }).toEqual({
      status: first.status,
      body: first.body,
    });
  });

  it('takes the policy as an option', async () => {
    const http = await layer({
      scope: () => ({}),
      storeResponse: (status) => defaultStoreResponse(status) && status !== 404,
    });
    let runs = 0;
    const handler = async () => {
      runs += 1;
      return { status: 404, headers: {}, body: '' };
    };
    await http.handle(request('p'), handler);
    await http.handle(request('p'), handler);
    expect(runs).toBe(2);
  });
});

describe('a handler that produces no valid response', () => {
  const invalid: [string, unknown][] = [
    ['undefined', undefined],
    ['status 0', { status: 0, headers: {}, body: '' }],
    ['status 600', { status: 600, headers: {}, body: '' }],
    ['status 99', { status: 99, headers: {}, body: '' }],
    ['status 200.5', { status: 200.5, headers: {}, body: '' }],
    ['a numeric header', { status: 200, headers: { 'content-length': 5 }, body: '' }],
    ['an object body', { status: 200, headers: {}, body: { id: 1 } }],
  ];

  it.each(invalid)(
    'handle(): %s is IDEMPOTENCY_RESPONSE_INVALID, stores nothing, releases the key',
    async (_, response) => {
      const http = await layer();
      const error = await http
        .handle(request('bad'), async () => response as HttpResponseData)
        .catch((e: unknown) => e);
      expect(isFlowproofError(error, 'IDEMPOTENCY_RESPONSE_INVALID')).toBe(true);
      const retry = await http.handle(request('bad'), async () => ({
        status: 201,
        headers: {},
        body: 'ran',
      }));
      expect(retry).toMatchObject({ status: 201, body: 'ran' });
    },
  );

  it('node:http: a status of 0 answers 500, and a retry runs the handler', async () => {
    const http = await layer();
    const middleware = createNodeIdempotencyMiddleware(http);
    let runs = 0;
    const url = await listen(
      createServer((req, res) =>
        middleware(req as NodeRequest, res, (error?: unknown) => {
          if (error) {
            res.statusCode = 599;
            return void res.end(String(error));
          }
          runs += 1;
          res.statusCode = runs === 1 ? 0 : 201;
          res.end('ran');
        }),
      ),
    );
    const post = () =>
      fetch(`${url}/orders`, { method: 'POST', headers: { 'idempotency-key': '"n"' }, body: '{}' });
    expect((await post()).status).toBe(500);
    const retry = await post();
    expect(retry.status).toBe(201);
    expect(retry.headers.get('idempotent-replayed')).toBeNull();
    expect(runs).toBe(2);
  });

  it('fetch: a handler returning undefined is IDEMPOTENCY_RESPONSE_INVALID; a retry runs', async () => {
    const http = await layer();
    let runs = 0;
    const handler = withFetchIdempotency(http, async () => {
      runs += 1;
      return (runs === 1 ? undefined : new Response('ran', { status: 201 })) as Response;
    });
    const post = () =>
      handler(
        new Request('http://x/orders', {
          method: 'POST',
          headers: { 'idempotency-key': '"f"' },
          body: '{}',
        }),
      );
    await expect(post()).rejects.toMatchObject({ code: 'IDEMPOTENCY_RESPONSE_INVALID' });
    expect((await post()).status).toBe(201);
  });
});

describe('scope from the framework request', () => {
  type Authed = { user?: { id: string } };

  it('Express: req.user', async () => {
    const http = await layer<NodeRequest & Authed>({
      scope: ({ raw }) => ({ principal: raw.user?.id }),
    });
    let runs = 0;
    const app = express();
    app.use(express.json());
    app.use((req, _res, next) => {
      (req as Authed).user = { id: String(req.headers['x-user']) };
      next();
    });
    app.post('/orders', createNodeIdempotencyMiddleware(http), (_req, res) => {
      runs += 1;
      res.status(201).json({ runs });
    });
    const url = await listen(createServer(app));
    const post = (user: string) =>
      fetch(`${url}/orders`, {
        method: 'POST',
        headers: { 'idempotency-key': '"e"', 'x-user': user, 'content-type': 'application/json' },
        body: '{}',
      });
    await post('u1');
    await post('u2');
    expect((await post('u1')).headers.get('idempotent-replayed')).toBe('true');
    expect(runs).toBe(2);
  });

  it('Fastify: request.user', async () => {
    type FastifyAuthed = import('fastify').FastifyRequest & Authed;
    const http = await layer<FastifyAuthed>({
      scope: ({ raw }) => ({ principal: raw.user?.id }),
    });
    let runs = 0;
    const app = Fastify();
    app.decorateRequest('user', undefined);
    app.addHook('onRequest', async (req) => {
      (req as FastifyAuthed).user = { id: String(req.headers['x-user']) };
    });
    await app.register(fastifyIdempotency, { http });
    app.post('/orders', async (_request, reply) => {
      runs += 1;
      return reply.code(201).send({ runs });
    });
    const response = (user: string) =>
      app.inject({
        method: 'POST',
        url: '/orders',
        headers: { 'idempotency-key': '"f"', 'x-user': user },
        payload: {},
      });
    await response('u1');
    await response('u2');
    expect((await response('u1')).headers['idempotent-replayed']).toBe('true');
    expect(runs).toBe(2);
    await app.close();
  });

  it('fetch: the Request', async () => {
    const http = await layer<Request>({
      scope: ({ raw }) => ({ principal: raw.headers.get('x-user') ?? undefined }),
    });
    let runs = 0;
    const handler = withFetchIdempotency(http, async () => {
      runs += 1;
      return new Response('ok', { status: 201 });
    });
    const post = (user: string) =>
      handler(
        new Request('http://x/orders', {
          method: 'POST',
          headers: { 'idempotency-key': '"q"', 'x-user': user },
          body: '{}',
        }),
      );
    await post('u1');
    await post('u2');
    expect((await post('u1')).headers.get('idempotent-replayed')).toBe('true');
    expect(runs).toBe(2);
  });
});
