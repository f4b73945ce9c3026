import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  createFileTransport,
  createHttpTransport,
  createOpenLineageEmitter,
  type OpenLineageRunEvent,
  pipelineRunEvents,
} from '../../../src/lineage/index.js';
import { failure } from '../../support/failures.js';
import { listen } from '../../support/http-servers.js';
import { recordingLogger } from '../../support/logger.js';
import { expectValidEvents } from '../../support/openlineage-schemas.js';
import { numberedRun as run } from '../../support/pipeline-runs.js';

const namespace = 'checkout';
const fast = { retries: 3, minTimeout: 1, maxTimeout: 5, randomize: false } as const;

interface Received {
  readonly url: string | undefined;
  readonly headers: IncomingMessage['headers'];
  readonly event: OpenLineageRunEvent;
}

/**
 * A stand-in for Marquez: answers each POST with what `answer` says for the request's number
 * (from 0): a status, or `'hang'` to never answer. Only answered 2xx requests count as delivered.
 */
async function marquez(answer: (n: number) => number | 'hang' = () => 201) {
  const requests: Received[] = [];
  const delivered: OpenLineageRunEvent[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let body = '';
    req.on('data', (chunk) => {
      body += chunk;
    });
    req.on('end', () => {
      const event = JSON.parse(body) as OpenLineageRunEvent;
      const reply = answer(requests.length);
      requests.push({ url: req.url, headers: req.headers, event });
      if (reply === 'hang') return;
      if (reply >= 200 && reply < 300) delivered.push(event);
      res.writeHead(reply, { 'content-type': 'application/json' }).end('{}');
    });
  });
  const url = await listen(server);
  return { url, requests, delivered };
}

describe('createHttpTransport', () => {
  it('POSTs each event as JSON to /api/v1/lineage, with the API key and extra headers', async () => {
    const server = await marquez();
    const emitter = createOpenLineageEmitter({
      namespace,
      transport: createHttpTransport({
        url: server.url,
        apiKey: 's3cret',
        headers: { 'x-team': 'payments', authorization: 'ignored' },
      }),
    });
    emitter.emitPipelineRun(run(1));
    await emitter.flush();
    expect(server.requests.map((r) => r.url)).toEqual(['/api/v1/lineage', '/api/v1/lineage']);
    expect(server.requests[0]?.headers).toMatchObject({
      'content-type': 'application/json',
      authorization: 'Bearer s3cret',
      'x-team': 'payments',
    });
    expect(server.delivered).toEqual(
      JSON.parse(JSON.stringify(pipelineRunEvents(run(1), { namespace }))),
    );
    // What went over the wire is still a valid OpenLineage event.
    expectValidEvents(server.delivered);
    await emitter.close();
  });

  it('does not retry a 4xx: flush rejects with LINEAGE_EXPORT_FAILED and the status, logged too', async () => {
    const server = await marquez(() => 422);
    const logger = recordingLogger();
    const emitter = createOpenLineageEmitter({
      namespace,
      logger,
      retry: fast,
      transport: createHttpTransport({ url: server.url }),
    });
    emitter.emitPipelineRun(run(1));
    const error = await failure(emitter.flush());
    expect(error.code).toBe('LINEAGE_EXPORT_FAILED');
    expect(error.details).toEqual({ transport: 'http', status: 422 });
    expect(server.requests).toHaveLength(1);
    expect(logger.lines).toContainEqual(
      expect.objectContaining({
        level: 'error',
        fields: expect.objectContaining({
          code: 'LINEAGE_EXPORT_FAILED',
          transport: 'http',
          status: 422,
        }),
      }),
    );
    // Reported once: the next flush has nothing new to report.
    await expect(emitter.flush()).resolves.toBeUndefined();
  });

  it('retries a 5xx, then goes on in order', async () => {
    const server = await marquez((n) => (n < 2 ? 503 : 200));
    const emitter = createOpenLineageEmitter({
      namespace,
      retry: fast,
      batchSize: 1,
      transport: createHttpTransport({ url: server.url }),
    });
    emitter.emitPipelineRun(run(1));
    await emitter.flush();
    expect(server.requests.map((r) => r.event.eventType)).toEqual([
      'START',
      'START',
      'START',
      'COMPLETE',
    ]);
    expect(server.delivered.map((e) => e.eventType)).toEqual(['START', 'COMPLETE']);
  });

  it('retries 408 and 429, which ask to try again later', async () => {
    const server = await marquez((n) => [429, 408][n] ?? 200);
    const emitter = createOpenLineageEmitter({
      namespace,
      retry: fast,
      transport: createHttpTransport({ url: server.url }),
    });
    emitter.emitPipelineRun(run(1));
    await emitter.flush();
    expect(server.requests).toHaveLength(4);
    expect(server.delivered.map((e) => e.eventType)).toEqual(['START', 'COMPLETE']);
  });

  it('gives up on a 5xx after the retries, with the status', async () => {
    const server = await marquez(() => 500);
    const emitter = createOpenLineageEmitter({
      namespace,
      retry: fast,
      batchSize: 1,
      transport: createHttpTransport({ url: server.url }),
    });
    emitter.emitPipelineRun(run(1));
    const error = await failure(emitter.flush());
    expect(error.details).toEqual({ transport: 'http', status: 500 });
    expect(error.message).toMatch(/^2 OpenLineage event/);
    expect(server.requests).toHaveLength(8);
  });

  it('abandons a request that takes longer than timeoutMs and retries it', async () => {
    const server = await marquez((n) => (n === 0 ? 'hang' : 200));
    const emitter = createOpenLineageEmitter({
      namespace,
      retry: fast,
      transport: createHttpTransport({ url: server.url, timeoutMs: 1_000 }),
    });
    emitter.emitPipelineRun(run(1));
    await emitter.flush();
    expect(server.delivered.map((e) => e.eventType)).toEqual(['START', 'COMPLETE']);

    const silent = await marquez(() => 'hang');
    const stuck = createOpenLineageEmitter({
      namespace,
      retry: { retries: 1, minTimeout: 1 },
      transport: createHttpTransport({ url: silent.url, timeoutMs: 50 }),
    });
    stuck.emitPipelineRun(run(2));
    const error = await failure(stuck.flush());
    expect(error.details).toEqual({ transport: 'http' });
    expect((error.cause as Error).message).toMatch(/did not answer within 50 ms/);
  });

  it('keeps the order of events across failures and retries', async () => {
    const server = await marquez((n) => (n % 3 === 1 ? 502 : 200));
    const emitter = createOpenLineageEmitter({
      namespace,
      retry: { ...fast, retries: 10 },
      batchSize: 1,
      transport: createHttpTransport({ url: server.url }),
    });
    const runs = Array.from({ length: 20 }, (_, n) => run(n));
    for (const r of runs) emitter.emitPipelineRun(r);
    await emitter.flush();
    expect(server.delivered.map((e) => `${e.run.runId.slice(-2)}:${e.eventType}`)).toEqual(
      runs.flatMap((r) => [`${r.runId.slice(-2)}:START`, `${r.runId.slice(-2)}:COMPLETE`]),
    );
  });

  it('reports an unreachable endpoint without a status', async () => {
    const server = createServer();
    const url = await listen(server);
    await new Promise((resolve) => {
      server.closeAllConnections();
      server.close(resolve);
    });
    const emitter = createOpenLineageEmitter({
      namespace,
      retry: { retries: 1, minTimeout: 1 },
      transport: createHttpTransport({ url }),
    });
    emitter.emitPipelineRun(run(1));
    const error = await failure(emitter.flush());
    expect(error.details).toEqual({ transport: 'http' });
    expect((error.cause as Error).message).toMatch(/could not be reached/);
  });

  it('refuses bad options with a TypeError naming the option', () => {
    expect(() => createHttpTransport({ url: 'ftp://host' })).toThrow(/options\.url/);
    expect(() => createHttpTransport({ url: 'http://h', timeoutMs: 0 })).toThrow(
      /options\.timeoutMs/,
    );
    expect(() => createHttpTransport({ url: 'http://h', apiKey: '' })).toThrow(/options\.apiKey/);
    expect(() => createHttpTransport({ url: 'http://h', headers: { a: 1 } as never })).toThrow(
      /options\.headers\.a/,
    );
    expect(() => createHttpTransport({ url: 'http://h', fetch: 'no' as never })).toThrow(
      /options\.fetch/,
    );
    expect(() => createHttpTransport({ url: 'http://h', timeout: 5 } as never)).toThrow(
      /options\.timeout\b/,
    );
  });

  it('refuses, when it is created, what fetch would refuse at every send: bad headers, credentials in the URL', () => {
    const bad: [Parameters<typeof createHttpTransport>[0], RegExp][] = [
      [{ url: 'http://h', headers: { 'x-team': 'a\r\nx-evil: 1' } }, /options\.headers\.x-team/],
      [{ url: 'http://h', headers: { 'x-team': 'caf\u20ac' } }, /options\.headers\.x-team/],
      [{ url: 'http://h', headers: { 'bad name': 'a' } }, /options\.headers/],
      [{ url: 'http://h', headers: { '': 'a' } }, /options\.headers/],
      [{ url: 'http://h', apiKey: 'key\nx' }, /options\.apiKey/],
      [{ url: 'http://user:secret@h' }, /options\.url/],
      [{ url: 'http://h', endpoint: 'http://[' }, /options\.endpoint/],
    ];
    for (const [options, message] of bad) {
      expect(() => createHttpTransport(options)).toThrow(TypeError);
      expect(() => createHttpTransport(options)).toThrow(message);
    }
    expect(() =>
      createHttpTransport({ url: 'http://h', headers: { 'x-team': 'a b\tc' } }),
    ).not.toThrow();
  });
});

describe('createFileTransport', () => {
  let dir: string;
  afterEach(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('appends one JSON event per line', async () => {
    dir = await mkdtemp(join(tmpdir(), 'flowproof-ol-'));
    const path = join(dir, 'lineage.ndjson');
    const emitter = createOpenLineageEmitter({
      namespace,
      transport: createFileTransport({ path }),
    });
    emitter.emitPipelineRun(run(1));
    emitter.emitPipelineRun(run(2));
    await emitter.close();
    const lines = (await readFile(path, 'utf8')).split('\n');
    expect(lines.pop()).toBe('');
    expect(lines.map((line) => JSON.parse(line))).toEqual(
      JSON.parse(
        JSON.stringify([
          ...pipelineRunEvents(run(1), { namespace }),
          ...pipelineRunEvents(run(2), { namespace }),
        ]),
      ),
    );
  });

  it('never interleaves lines of emitters writing the same file at once', async () => {
    dir = await mkdtemp(join(tmpdir(), 'flowproof-ol-'));
    const path = join(dir, 'lineage.ndjson');
    // Events of about 600 kB (the name twice): Node writes a file in chunks of 512 kB, so two
    // appends that were not queued one after the other could interleave.
    const padding = 'x'.repeat(300_000);
    const emitters = Array.from({ length: 5 }, () =>
      createOpenLineageEmitter({
        namespace,
        batchSize: 1,
        transport: createFileTransport({ path }),
      }),
    );
    for (let n = 0; n < 50; n++)
      emitters[n % emitters.length]?.emitPipelineRun(run(n, `p${padding}`));
    await Promise.all(emitters.map((emitter) => emitter.close()));
    const lines = (await readFile(path, 'utf8')).split('\n').filter((line) => line !== '');
    expect(lines).toHaveLength(100);
    const events = lines.map((line) => JSON.parse(line) as OpenLineageRunEvent);
    expect(new Set(events.map((e) => `${e.run.runId}:${e.eventType}`)).size).toBe(100);
  });

  it('reports a file it cannot write with LINEAGE_EXPORT_FAILED', async () => {
    dir = await mkdtemp(join(tmpdir(), 'flowproof-ol-'));
    const emitter = createOpenLineageEmitter({
      namespace,
      retry: { retries: 1, minTimeout: 1 },
      transport: createFileTransport({ path: join(dir, 'missing', 'lineage.ndjson') }),
    });
    emitter.emitPipelineRun(run(1));
    const error = await failure(emitter.close());
    expect(error.code).toBe('LINEAGE_EXPORT_FAILED');
    expect(error.details).toEqual({ transport: 'file' });
  });

  it('refuses bad options with a TypeError naming the option', () => {
    expect(() => createFileTransport({ path: '' })).toThrow(/options\.path/);
    expect(() => createFileTransport({ path: 'a', mode: 1 } as never)).toThrow(/options\.mode/);
  });
});
