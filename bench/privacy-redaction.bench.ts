/**
 * Log redaction against fast-redact, @pinojs/redact (what pino's own `redact` option runs) and
 * the raw `JSON.stringify`, on one realistic log object (a user, an order, a card: 719 bytes of
 * JSON) with the same four paths everywhere.
 */
import { deepStrictEqual, strictEqual } from 'node:assert';
import pinojsRedact from '@pinojs/redact';
import fastRedact from 'fast-redact';
import pino from 'pino';
import { pinoRedaction } from '../src/privacy/redaction/pino-redaction.js';
import { createRedactor } from '../src/privacy/redaction/redactor.js';
import { defineSuite } from './harness.js';

/** A checkout log line: who, what, how they paid. */
function logObject() {
  return {
    level: 30,
    time: 1_796_212_800_000,
    msg: 'order placed',
    service: 'checkout',
    hostname: 'web-7f9c4b-x',
    requestId: '01JDZQ7K3M5N8P2R4T6V8X0Z2B',
    user: {
      id: 'usr_8f3a2c91d4e5',
      name: 'Ada Lovelace',
      email: 'ada.lovelace@example.com',
      password: 'correct horse battery staple',
      roles: ['customer', 'beta'],
      createdAt: '2024-03-18T09:12:44.000Z',
    },
    order: {
      id: 'ord_5b7c9d1e3f',
      total: { amount: 12_999, currency: 'EUR' },
      items: [
        { sku: 'BK-ANALYTICAL-ENGINE', qty: 1, price: 8999 },
        { sku: 'PN-NOTES-G', qty: 2, price: 2000 },
      ],
      shipping: {
        line1: '12 St James Square',
        city: 'London',
        postalCode: 'SW1Y 4JH',
        country: 'GB',
      },
    },
    card: {
      brand: 'visa',
      holder: 'A LOVELACE',
      number: '4111111111111111',
      cvv: '123',
      expiry: '12/29',
    },
  };
}

const STATIC_PATHS = ['user.password', 'user.email', 'card.number', 'card.cvv'];
const DEEP_PATHS = ['**.password', '**.email', '**.number', '**.cvv'];

const input = logObject();
const bytes = Buffer.byteLength(JSON.stringify(input));
if (bytes !== 719) throw new Error(`the log object is ${bytes} bytes of JSON, not 719`);

const flowproof = createRedactor({ paths: STATIC_PATHS });
const flowproofDeep = createRedactor({ paths: DEEP_PATHS });
const fastRedactJson = fastRedact({ paths: STATIC_PATHS });
const fastRedactObject = fastRedact({ paths: STATIC_PATHS, serialize: false });
const pinojsJson = pinojsRedact({ paths: STATIC_PATHS });
const pinojsObject = pinojsRedact({ paths: STATIC_PATHS, serialize: false });

// Every task must produce the same text, or the comparison means nothing.
const expected = fastRedactJson(logObject()) as string;
strictEqual(flowproof.stringify(input), expected);
strictEqual(flowproofDeep.stringify(input), expected);
strictEqual(pinojsJson(input), expected);
deepStrictEqual(flowproof.redact(input), JSON.parse(expected));
deepStrictEqual(input, logObject());

/** A destination that discards: the cost measured is pino's and the redaction's, not the disk's. */
const discard = { write() {} };
const pinoPlain = pino({ base: null }, discard);
const pinoOwnRedact = pino(
  { base: null, redact: { paths: STATIC_PATHS, censor: '[REDACTED]' } },
  discard,
);
const pinoFlowproof = pino(pinoRedaction(flowproof, { base: null }), discard);
{
  const lines: string[] = [];
  const capture = { write: (line: string) => void lines.push(line) };
  pino(
    { base: null, timestamp: false, redact: { paths: STATIC_PATHS, censor: '[REDACTED]' } },
    capture,
  ).info(input);
  pino(pinoRedaction(flowproof, { base: null, timestamp: false }), capture).info(input);
  strictEqual(lines[1], lines[0]);
}

export default [
  defineSuite({
    name: 'redaction: stringify a 719-byte log object, 4 paths',
    unit: 'lines',
    baseline: 'JSON.stringify (no redaction)',
    alsoVs: 'fast-redact + JSON.stringify',
    tasks: [
      { name: 'JSON.stringify (no redaction)', fn: () => JSON.stringify(input) },
      { name: 'flowproof stringify', fn: () => flowproof.stringify(input) },
      { name: 'fast-redact + JSON.stringify', fn: () => fastRedactJson(input) },
      { name: '@pinojs/redact', fn: () => pinojsJson(input) },
    ],
  }),
  defineSuite({
    name: 'redaction: redacted object (input untouched), 4 paths',
    unit: 'objects',
    baseline: 'fast-redact mutate + restore',
    tasks: [
      {
        name: 'fast-redact mutate + restore',
        fn: () => fastRedactObject.restore(fastRedactObject(input)),
      },
      { name: 'flowproof redact', fn: () => flowproof.redact(input) },
      { name: '@pinojs/redact (serialize: false)', fn: () => pinojsObject(input) },
    ],
  }),
  defineSuite({
    name: 'redaction: `**` paths against the same static paths',
    unit: 'lines',
    baseline: 'static paths stringify',
    tasks: [
      { name: 'static paths stringify', fn: () => flowproof.stringify(input) },
      { name: '`**` paths stringify', fn: () => flowproofDeep.stringify(input) },
      { name: 'static paths redact', fn: () => flowproof.redact(input) },
      { name: '`**` paths redact', fn: () => flowproofDeep.redact(input) },
    ],
  }),
  defineSuite({
    name: 'redaction: pino logging the log object, 4 paths, discarding destination',
    unit: 'lines',
    baseline: "pino's redact option",
    tasks: [
      { name: "pino's redact option", fn: () => pinoOwnRedact.info(input) },
      { name: 'pino + flowproof pinoRedaction', fn: () => pinoFlowproof.info(input) },
      { name: 'pino, no redaction (ceiling)', fn: () => pinoPlain.info(input) },
    ],
  }),
];
