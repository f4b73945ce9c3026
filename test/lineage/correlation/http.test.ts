/**
 * HTTP in and out. In: an Express app, a plain `node:http` server and a Fetch-API handler run
 * their handlers in the context restored from the request (correlation id, traceparent,
 * allow-listed baggage) and echo `x-correlation-id`; without the middleware a handler has no
 * context at all. Out: `createContextFetch` sends the context's headers, baggage only as
 * allow-listed; a plain `fetch` sends none. Real servers on 127.0.0.1.
 */
import { createServer, type IncomingHttpHeaders, request } from 'node:http';
import { setTimeout as delay } from 'node:timers/promises';
import express from 'express';
import { describe, expect, it } from 'vitest';
import { configureOpenTelemetry } from '../../../src/core/opentelemetry.js';
import {
  type FlowContext,
  getContext,
  runWithContext,
  serializeContext,
} from '../../../src/index.js';
import {
  createContextFetch,
  flowContextMiddleware,
  withFlowContext,
} from '../../../src/lineage/index.js';
import { listen } from '../../support/http-servers.js';

const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
const inbound = {
  'x-correlation-id': 'corr-http',
  traceparent,
  baggage: 'region=eu%20west,secret=s3cr3t',
  'x-tenant-id': 'acme',
};

/** An Express app whose POST /seen answers, after a timer, with the context its handler saw. */
function expressApp(withMiddleware: boolean, options = {}) {
  const app = express();
  if (withMiddleware) app.use(flowContextMiddleware(options));
  app.use(express.json());
  app.post('/seen', async (req, res) => {
    await delay(Number(req.body.delayMs ?? 0));
    res.json({ context: getContext() ?? null, body: req.body });
  });
  app.use(
    (error: { code?: string }, _req: express.Request, res: express.Response, _next: unknown) => {
      res.status(400).json({ code: error.code });
    },
  );
  return createServer(app);
}

async function post(url: string, headers: Record<string, string>, body: unknown = {}) {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  return {
    status: response.status,
    echoed: response.headers.get('x-correlation-id'),
    json: (await response.json()) as { context: FlowContext | null; code?: string },
  };
}

describe('HTTP in: flowContextMiddleware on Express', () => {
  it('has no context in a handler without it', async () => {
    const base = await listen(expressApp(false));
    const { json, echoed } = await post(`${base}/seen`, inbound);
    expect(json.context).toBeNull();
    expect(echoed).toBeNull();
  });

  it('runs the request in the restored context, through a body parser and a timer', async () => {
    configureOpenTelemetry(null);
    try {
      const base = await listen(expressApp(true, { baggage: ['region'] }));
      const { json, echoed } = await post(`${base}/seen`, inbound, { delayMs: 5 });
      // Tenant is not trusted by default; baggage outside the allow-list is not read.
      expect(json.context).toEqual({
        correlationId: 'corr-http',
        traceparent,
        baggage: { region: 'eu west' },
      });
      expect(echoed).toBe('corr-http');
    } finally {
      configureOpenTelemetry(undefined);
    }
  });

  it('keeps concurrent requests apart, and echoes a generated id', async () => {
    const base = await listen(expressApp(true, { trustIdentity: true }));
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        post(
          `${base}/seen`,
          { 'x-correlation-id': `req-${i}`, 'x-tenant-id': `t${i}` },
          { delayMs: 12 - i },
        ),
      ),
    );
    results.forEach(({ json, echoed }, i) => {
      expect(json.context).toEqual({ correlationId: `req-${i}`, tenant: `t${i}` });
      expect(echoed).toBe(`req-${i}`);
    });
    const generated = await post(`${base}/seen`, {});
    expect(generated.echoed).toMatch(/^[0-9A-HJKMNP-TV-Z]{26}$/);
    expect(generated.json.context?.correlationId).toBe(generated.echoed);
  });

  it("passes INVALID_CONTEXT to next with onInvalid: 'throw'", async () => {
    const base = await listen(expressApp(true, { onInvalid: 'throw' }));
    const { status, json } = await post(`${base}/seen`, { traceparent: 'garbage' });
    expect(status).toBe(400);
    expect(json.code).toBe('INVALID_CONTEXT');
  });
});

describe('HTTP in: plain node:http', () => {
  it('runs the handler passed as next in the context', async () => {
    const middleware = flowContextMiddleware();
    const server = createServer((req, res) =>
      middleware(req, res, async () => {
        await delay(1);
        res.end(JSON.stringify(getContext()));
      }),
    );
    const base = await listen(server);
    const response = await fetch(base, { headers: { 'x-correlation-id': 'plain-1' } });
    expect(response.headers.get('x-correlation-id')).toBe('plain-1');
    expect(await response.json()).toEqual({ correlationId: 'plain-1' });
  });
});

describe('HTTP in: withFlowContext on a Fetch-API handler', () => {
  const handler = async (_request: Request, env: { name: string }) => {
    await delay(1);
    return Response.json({ context: getContext() ?? null, env: env.name });
  };

  it('has no context without it', async () => {
    const response = await handler(new Request('http://x/', { headers: inbound }), { name: 'e' });
    expect(await response.json()).toEqual({ context: null, env: 'e' });
  });

  it('restores the context, passes extra arguments, and echoes the correlation id', async () => {
    const wrapped = withFlowContext(handler, { baggage: ['region'], trustIdentity: true });
    const response = await wrapped(new Request('http://x/', { headers: inbound }), { name: 'e' });
    expect(response.headers.get('x-correlation-id')).toBe('corr-http');
    expect(await response.json()).toEqual({
      context: {
        correlationId: 'corr-http',
        tenant: 'acme',
        traceparent,
        baggage: { region: 'eu west' },
      },
      env: 'e',
    });
  });

  it('echoes on a response whose headers are immutable', async () => {
    const wrapped = withFlowContext(() => Response.redirect('http://example.com/next', 302));
    const response = await wrapped(
      new Request('http://x/', { headers: { 'x-correlation-id': 'r' } }),
    );
    expect(response.status).toBe(302);
    expect(response.headers.get('location')).toBe('http://example.com/next');
    expect(response.headers.get('x-correlation-id')).toBe('r');
  });

  it('rejects with a TypeError when the handler or the caller breaks the Fetch API', async () => {
    await expect(withFlowContext(() => 'text' as never)(new Request('http://x/'))).rejects.toThrow(
      /handler must return a Response/,
    );
    await expect(withFlowContext(() => new Response())({} as never)).rejects.toThrow(
      /request must be a Fetch-API Request/,
    );
  });

  it("rejects with INVALID_CONTEXT with onInvalid: 'throw'", async () => {
    const wrapped = withFlowContext(() => new Response('ok'), { onInvalid: 'throw' });
    await expect(
      wrapped(new Request('http://x/', { headers: { 'x-correlation-id': 'bad value' } })),
    ).rejects.toMatchObject({ code: 'INVALID_CONTEXT', details: { header: 'x-correlation-id' } });
  });
});

describe('HTTP out: createContextFetch', () => {
  /** A server answering with the request headers it got. */
  async function echoServer(): Promise<string> {
    return listen(createServer((req, res) => res.end(JSON.stringify(req.headers))));
  }
  const headersOf = async (response: Response) => (await response.json()) as IncomingHttpHeaders;

  it('sends nothing with a plain fetch', async () => {
    const base = await echoServer();
    const headers = await runWithContext({ correlationId: 'out-0' }, async () =>
      headersOf(await fetch(base)),
    );
    expect(headers['x-correlation-id']).toBeUndefined();
  });

  it('sends the context, baggage as allow-listed, and lets the caller override', async () => {
    configureOpenTelemetry(null);
    try {
      const base = await echoServer();
      const contextFetch = createContextFetch({ baggage: ['region'] });
      const context = {
        correlationId: 'out-1',
        causationId: 'cmd-1',
        tenant: 'acme',
        remoteTrace: { traceparent },
        baggage: { region: 'eu', secret: 's3cr3t' },
      };
      const [sent, overridden, fromRequest] = await runWithContext(context, async () => [
        await headersOf(await contextFetch(base)),
        await headersOf(await contextFetch(base, { headers: { 'x-tenant-id': 'other' } })),
        await headersOf(await contextFetch(new Request(base, { headers: { 'x-a': '1' } }))),
      ]);
      expect(sent).toMatchObject({
        'x-correlation-id': 'out-1',
        'x-causation-id': 'cmd-1',
        'x-tenant-id': 'acme',
        traceparent,
        baggage: 'region=eu',
      });
      expect(overridden?.['x-tenant-id']).toBe('other');
      expect(fromRequest).toMatchObject({ 'x-a': '1', 'x-correlation-id': 'out-1' });
      const none = createContextFetch({ baggage: false });
      const withoutBaggage = await runWithContext(context, async () => headersOf(await none(base)));
      expect(withoutBaggage.baggage).toBeUndefined();
    } finally {
      configureOpenTelemetry(undefined);
    }
  });

  it('sends the context with http.request through serializeContext', async () => {
    const base = await echoServer();
    const headers = await runWithContext(
      { correlationId: 'out-2', baggage: { region: 'eu', secret: 'x' } },
      () =>
        new Promise<IncomingHttpHeaders>((resolve, reject) => {
          const outbound = request(
            base,
            { headers: serializeContext(undefined, { baggage: ['region'] }) },
            (response) => {
              let body = '';
              response.on('data', (chunk) => {
                body += chunk;
              });
              response.on('end', () => resolve(JSON.parse(body)));
            },
          );
          outbound.on('error', reject);
          outbound.end();
        }),
    );
    expect(headers).toMatchObject({ 'x-correlation-id': 'out-2', baggage: 'region=eu' });
  });

  it('carries one correlation id and trace from service A through service B', async () => {
    configureOpenTelemetry(null);
    try {
      const serviceB = await listen(expressApp(true, { baggage: ['region'] }));
      const contextFetch = createContextFetch({ baggage: ['region'] });
      const serviceA = express();
      serviceA.use(flowContextMiddleware({ baggage: ['region'] }));
      serviceA.get('/', async (_req, res) => {
        const answer = await contextFetch(`${serviceB}/seen`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: '{}',
        });
        res.json(await answer.json());
      });
      const base = await listen(createServer(serviceA));
      const response = await fetch(base, { headers: inbound });
      expect(await response.json()).toMatchObject({
        context: { correlationId: 'corr-http', traceparent, baggage: { region: 'eu west' } },
      });
    } finally {
      configureOpenTelemetry(undefined);
    }
  });
});

describe('option checks', () => {
  it('throws a TypeError naming the option', () => {
    expect(() => flowContextMiddleware({ trustIdentiy: true } as never)).toThrow(
      /options\.trustIdentiy/,
    );
    expect(() => flowContextMiddleware({ baggage: 'region' as never })).toThrow(/options\.baggage/);
    expect(() => flowContextMiddleware({ baggage: ['bad key'] })).toThrow(/options\.baggage/);
    // Every key a client sends is not an allow-list.
    expect(() => flowContextMiddleware({ baggage: true as never })).toThrow(/options\.baggage/);
    expect(() => withFlowContext(() => new Response(), { onInvalid: 'THROW' as never })).toThrow(
      /options\.onInvalid/,
    );
    expect(() => withFlowContext(5 as never)).toThrow(/handler/);
    expect(() => createContextFetch({ fetch: 5 as never })).toThrow(/options\.fetch/);
    expect(() => createContextFetch({ baggage: [1] as never })).toThrow(/options\.baggage/);
  });
});
