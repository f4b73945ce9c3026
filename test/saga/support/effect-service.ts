/**
 * A fake external service for saga chaos tests, run in the test process: steps in runner child
 * processes call it over HTTP with their idempotency key, as a payment or shipping API would be
 * called. For each key it records how many calls arrived, how many committed an effect (at most
 * one: a call with a key that already committed is a replay answered with the first result), and
 * whether two calls for the same key were ever in flight at once (a concurrency violation).
 *
 * The effect commits when the call arrives and the answer comes `holdMs` later, so a runner killed
 * during the call leaves an effect that happened but whose outcome it never learnt: the case that
 * the idempotency key exists for. A call whose caller went away (killed process, aborted fetch)
 * stops being in flight when its connection closes.
 */
import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';

/** What a step sends. */
export interface EffectRequest {
  /** The idempotency key of the step (or of its compensation). */
  readonly key: string;
  /** The runner calling, for failover timing. */
  readonly runner: string;
  /** How long the service takes to answer. */
  readonly holdMs: number;
  /** Answer 503 (nothing committed) to the first call for this key. */
  readonly failFirst?: boolean;
  /** Answer 422 (nothing committed): a business refusal. */
  readonly decline?: boolean;
}

/** One call as the service saw it. */
export interface EffectCall {
  readonly key: string;
  readonly runner: string;
  /** Arrival, epoch ms of the test process. */
  readonly at: number;
  /** `commit`, `replay` (already committed), `unavailable` (503) or `declined` (422). */
  readonly result: 'commit' | 'replay' | 'unavailable' | 'declined';
}

/** What the service knows of one key. */
export interface EffectRecord {
  calls: number;
  commits: number;
  /** Calls that arrived while another call for the key was in flight. */
  overlaps: number;
  inFlight: number;
}

/** The running service. */
export interface EffectService {
  /** Where steps send their calls. */
  readonly url: string;
  /** Every key called, with its record. */
  readonly records: ReadonlyMap<string, EffectRecord>;
  /** Every call, in arrival order. */
  readonly calls: readonly EffectCall[];
  /** Forgets everything recorded (between scenarios). */
  reset(): void;
  close(): Promise<void>;
}

/** Starts the service on a free loopback port. */
export async function startEffectService(): Promise<EffectService> {
  const records = new Map<string, EffectRecord>();
  const calls: EffectCall[] = [];
  const server = createServer((req, res) => {
    void handle(req, res).catch(() => {
      if (!res.headersSent) res.writeHead(400).end();
    });
  });
  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as EffectRequest;
    let record = records.get(body.key);
    if (!record) {
      record = { calls: 0, commits: 0, overlaps: 0, inFlight: 0 };
      records.set(body.key, record);
    }
    const current = record;
    current.calls += 1;
    if (current.inFlight > 0) current.overlaps += 1;
    current.inFlight += 1;
    let ended = false;
    const end = () => {
      if (!ended) {
        ended = true;
        current.inFlight -= 1;
      }
    };
    res.on('close', end);
    const result: EffectCall['result'] = body.decline
      ? 'declined'
      : body.failFirst && current.calls === 1
        ? 'unavailable'
        : current.commits > 0
          ? 'replay'
          : 'commit';
    if (result === 'commit') current.commits += 1;
    calls.push({ key: body.key, runner: body.runner, at: Date.now(), result });
    await new Promise((resolve) => setTimeout(resolve, body.holdMs));
    const status = result === 'declined' ? 422 : result === 'unavailable' ? 503 : 200;
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ key: body.key, result }));
    end();
  }
  server.keepAliveTimeout = 60_000;
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return {
    url: `http://127.0.0.1:${address.port}/`,
    records,
    calls,
    reset() {
      records.clear();
      calls.length = 0;
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
