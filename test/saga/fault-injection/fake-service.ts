/**
 * A fake external service with a payment provider's idempotency-key contract, run in the parent
 * test process while child runners are killed and resumed: `POST /effect` and `POST /undo` take
 * `{ key, … }`; the first request per key that succeeds commits (counted) and its response is
 * stored; later requests with the key replay it. Each key can be told to fail (503, a decline),
 * or to hang once before or after committing, so that sagas retry, time out and compensate.
 *
 * It records every call, so that the parent can check what no idempotency key alone can: that
 * each step and each compensation used one key only, that an undo came only for a started step,
 * and that what a saga recorded is what the service answered.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { EffectPlan, UndoPlan } from './plan.js';

/** What a child sends with each call. */
export interface ServiceCall {
  /** The idempotency key. */
  readonly key: string;
  /** The saga and step the call is for (sent apart from the key, to check the key). */
  readonly saga: string;
  readonly step: string;
  /** The engine's attempt number. */
  readonly attempt: number;
  /** Undo calls: the step's effect key and outcome as the compensation was told. */
  readonly effectKey?: string;
  readonly outcome?: string;
}

/** What the service knows about one key. */
export interface KeyRecord {
  readonly key: string;
  readonly phase: 'effect' | 'undo';
  /** Every request with the key. */
  readonly calls: ServiceCall[];
  /** Times the key's effect was applied (the contract: at most once). */
  commits: number;
  /** The stored answer, replayed to later requests. */
  response?: { readonly status: number; readonly body: unknown };
  /** Failures answered so far (503). */
  failed: number;
  /** Hangs so far. */
  hung: number;
}

type Behaviour = (EffectPlan | UndoPlan) & { readonly phase: 'effect' | 'undo' };

/** The running service. */
export interface FakeService {
  /** Its base URL. */
  readonly url: string;
  /** Every key seen, by key. */
  readonly keys: ReadonlyMap<string, KeyRecord>;
  /** Requests whose body was not a call, or named an unknown path. */
  readonly malformed: string[];
  /** Tells the service how to answer `key`; keys without a plan commit on the first call. */
  plan(key: string, behaviour: Behaviour): void;
  /** Closes the server and every hanging connection. */
  close(): Promise<void>;
}

/** Starts the service on a free port of 127.0.0.1. */
export async function startFakeService(): Promise<FakeService> {
  const keys = new Map<string, KeyRecord>();
  const plans = new Map<string, Behaviour>();
  const malformed: string[] = [];
  let receipts = 0;

  const answer = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };

  const handle = (phase: 'effect' | 'undo', call: ServiceCall, res: ServerResponse) => {
    let record = keys.get(call.key);
    if (!record) {
      record = { key: call.key, phase, calls: [], commits: 0, failed: 0, hung: 0 };
      keys.set(call.key, record);
    }
    record.calls.push(call);
    if (record.response) return answer(res, record.response.status, record.response.body);
    const behaviour = plans.get(call.key);
    const mode = behaviour?.mode ?? 'ok';
    const commit = () => {
      record.commits += 1;
      receipts += 1;
      record.response = { status: 200, body: { receipt: `r${receipts}`, key: call.key } };
    };
    if (mode === 'decline') {
      // A decline is an answer too: stored and replayed, nothing applied.
      record.response = { status: 402, body: { declined: call.key } };
      return answer(res, 402, record.response.body);
    }
    if ((mode === 'hang-before' || mode === 'hang-after') && record.hung === 0) {
      record.hung += 1;
      if (mode === 'hang-after') commit();
      return; // never answered: the caller's time limit (or its death) ends the request
    }
    if (mode === 'down' || (mode === 'flaky' && record.failed < (behaviour?.failures ?? 0))) {
      record.failed += 1;
      return answer(res, 503, { unavailable: call.key });
    }
    commit();
    return answer(res, 200, record.response!.body);
  };

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const phase = req.url === '/effect' ? 'effect' : req.url === '/undo' ? 'undo' : undefined;
      let call: ServiceCall | undefined;
      try {
        call = JSON.parse(Buffer.concat(chunks).toString('utf8')) as ServiceCall;
      } catch {
        call = undefined;
      }
      if (req.method !== 'POST' || !phase || typeof call?.key !== 'string') {
        malformed.push(`${req.method} ${req.url}`);
        return answer(res, 400, { error: 'bad request' });
      }
      handle(phase, call, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    keys,
    malformed,
    plan: (key, behaviour) => {
      plans.set(key, behaviour);
    },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * A call to the service from a step or a compensation: the stored answer on 200, a
 * `NonRetryable` error on 402 (`nonRetryable` builds it), a plain error otherwise.
 */
export async function callService(
  url: string,
  path: '/effect' | '/undo',
  call: ServiceCall,
  signal: AbortSignal,
  nonRetryable: (message: string) => Error,
): Promise<unknown> {
  const response = await fetch(`${url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(call),
    signal,
  });
  const body: unknown = await response.json();
  if (response.status === 200) return body;
  if (response.status === 402) throw nonRetryable(`declined: ${call.key}`);
  throw new Error(`service answered ${response.status} for ${call.key}`);
}
