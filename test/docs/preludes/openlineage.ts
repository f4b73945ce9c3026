/**
 * What docs/openlineage.md's snippets assume the application has: an OpenLineage backend (a local
 * stand-in for Marquez that accepts every event), a logger, a recorded field and a recorded
 * pipeline run, as the lineage recorder gives them back.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Logger, silentLogger } from '../../../src/core/logger.js';
import {
  derive,
  type FieldLineage,
  type PipelineRunLineage,
  sourced,
} from '../../../src/lineage/index.js';

const server = createServer((req, res) => {
  req.resume();
  req.on('end', () => res.writeHead(201).end());
});
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
// The stand-in must not keep the process alive once the snippets are done.
server.unref();

/** The OpenLineage backend's base URL (Marquez answers on `/api/v1/lineage`). */
export const marquezUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

/** The application's (pino-compatible) logger. */
export const logger: Logger = silentLogger;

const taxRate = sourced(0.0875, { source: 'tax_service', attributes: { jurisdiction: 'NY' } });
const subtotal = sourced(135.5, { source: 'cart_service' });
const total = derive(
  'order-total',
  'v2.3.1',
  { subtotal, taxRate, shipping: 5 },
  (v) => Math.round((v.subtotal * (1 + v.taxRate) + v.shipping) * 100) / 100,
);

/** `order:ORD-12345`'s `total`, as recorded. */
export const recordedTotal: FieldLineage = {
  id: '01JDQ3V8Z6X0M9K2T4B7N5C1PA',
  entity: 'order:ORD-12345',
  field: 'total',
  value: total.value,
  recordedAt: '2026-12-02T10:00:00.000Z',
  correlationId: 'req-7f3a',
  causationId: undefined,
  provenance: total.provenance,
};

/** A run of the `signup` pipeline, as recorded. */
export const signupRun: PipelineRunLineage = {
  id: '01JDQ3V8Z6X0M9K2T4B7N5C1PB',
  pipeline: 'signup',
  runId: '0b9c3c1e-5d0a-4c55-9a51-3b8f2f6f1d27',
  state: 'COMPLETE',
  startedAt: '2026-12-02T10:00:00.000Z',
  endedAt: '2026-12-02T10:00:00.012Z',
  correlationId: 'req-7f3a',
  causationId: undefined,
  stages: [
    {
      stage: 'parse',
      index: 0,
      kind: 'validate',
      boundary: 'gateway',
      outcome: 'passed',
      durationMs: 2,
      fieldsIn: ['email', 'age', 'password'],
      fieldsOut: ['email', 'age', 'password'],
      fieldsChanged: ['age'],
      fieldsAdded: [],
      fieldsDropped: [],
      fieldsMasked: [],
    },
    {
      stage: 'protect',
      index: 1,
      kind: 'transform',
      boundary: 'service',
      outcome: 'passed',
      durationMs: 9,
      fieldsIn: ['email', 'age', 'password'],
      fieldsOut: ['email', 'age', 'password', 'country'],
      fieldsChanged: [],
      fieldsAdded: ['country'],
      fieldsDropped: [],
      fieldsMasked: ['password'],
    },
  ],
};
