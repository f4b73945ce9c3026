#!/usr/bin/env node
/**
 * One flowproof per process, whichever module format loads it. An application that `require`s
 * flowproof in one place and `import`s it in another gets the CommonJS and the ESM build, two
 * copies of the code. The process-wide state must still be one: the flow context, warn-once
 * flags, and the error classes `instanceof` is used with.
 *
 * Run by `scripts/check-package.mjs` in a project where the packed tarball is installed, and
 * runnable by hand after `npx tsup`: `node test/package/dual-build.check.mjs` (the package
 * resolves itself by name from inside its own folder). Prints one line per failed check and
 * exits non-zero when any failed.
 */
import { createRequire } from 'node:module';
import { join } from 'node:path';

// Resolved from the working directory, so the check runs against whatever is installed there.
const require = createRequire(join(process.cwd(), 'noop.js'));
const load = (specifier) => import(require.resolve(specifier).replace(/\.cjs$/, '.js'));

const esm = {
  core: await load('flowproof'),
  idempotency: await load('flowproof/idempotency'),
  validation: await load('flowproof/validation'),
  memory: await load('flowproof/adapters/memory'),
  machine: await load('flowproof/state-machine'),
};
const cjs = {
  core: require('flowproof'),
  idempotency: require('flowproof/idempotency'),
  validation: require('flowproof/validation'),
  memory: require('flowproof/adapters/memory'),
  entities: require('flowproof/state-machine/entities'),
};

const failures = [];
function check(label, ok) {
  if (!ok) failures.push(label);
}

// The two really are different copies, or this check proves nothing.
check(
  'the ESM and CommonJS builds are loaded as two modules',
  esm.core.runWithContext !== cjs.core.runWithContext,
);

// The flow context set through one build is the context the other sees.
check(
  'context set through ESM is seen by CommonJS',
  esm.core.runWithContext({ tenant: 'acme' }, () => cjs.core.getContext()?.tenant) === 'acme',
);
check(
  'context set through CommonJS is seen by ESM',
  cjs.core.runWithContext({ tenant: 'acme' }, () => esm.core.getContext()?.tenant) === 'acme',
);

// Idempotency loaded through CommonJS scopes by the tenant an ESM caller set, over one store.
const store = esm.memory.createMemoryIdempotencyStore({
  backend: esm.memory.createMemoryBackend(),
});
await store.migrate();
const viaEsm = esm.idempotency.createIdempotency({ store, operation: 'orders.create' });
const viaCjs = cjs.idempotency.createIdempotency({ store, operation: 'orders.create' });
const acme = await esm.core.runWithContext({ tenant: 'acme' }, () =>
  viaCjs.run('order-1', { sku: 'x' }, () => 'acme result'),
);
const other = await esm.core.runWithContext({ tenant: 'other' }, () =>
  viaCjs.run('order-1', { sku: 'x' }, () => 'other result'),
);
const acmeAgain = await cjs.core.runWithContext({ tenant: 'acme' }, () =>
  viaEsm.run('order-1', { sku: 'x' }, () => 'ran twice'),
);
check('tenant acme runs its own work', acme === 'acme result');
check('tenant other is not served tenant acme’s stored result', other === 'other result');
check('the store is shared: acme’s result is replayed through the other build', acmeAgain === acme);

// One class per error, whichever build raised it.
const pairs = [
  ['FlowproofError', esm.core, cjs.core, (E) => new E('VALIDATION_FAILED', 'm')],
  ['IdempotencyInProgressError', esm.idempotency, cjs.idempotency, (E) => new E('m', 1000)],
  ['LockNotAcquiredError', esm.idempotency, cjs.idempotency, (E) => new E('m', 1000)],
];
for (const [name, a, b, make] of pairs) {
  check(`${name} from CommonJS is instanceof the ESM class`, make(b[name]) instanceof a[name]);
  check(`${name} from ESM is instanceof the CommonJS class`, make(a[name]) instanceof b[name]);
  check(
    `${name} from CommonJS is instanceof the ESM FlowproofError`,
    make(b[name]) instanceof esm.core.FlowproofError,
  );
}
const rejecting = {
  '~standard': { version: 1, vendor: 'check', validate: () => ({ issues: [{ message: 'no' }] }) },
};
const invalid = await cjs.validation
  .validateExternalResponse('provider', rejecting, {})
  .catch((error) => error);
check(
  'IntegrationResponseError raised by CommonJS is instanceof the ESM class',
  invalid instanceof esm.validation.IntegrationResponseError,
);
check(
  'IntegrationResponseError raised by CommonJS is instanceof the ESM FlowproofError',
  invalid instanceof esm.core.FlowproofError,
);
const failed = await esm.core.parseWithSchema(rejecting, 1).catch((error) => error);
check(
  'a FlowproofError raised by ESM is instanceof the CommonJS class',
  failed instanceof cjs.core.FlowproofError,
);

// A machine defined through one build runs in entities loaded through the other.
const door = esm.machine.defineMachine({
  id: 'door',
  initial: 'closed',
  events: { open: null },
  states: { closed: { on: { open: 'open' } }, open: {} },
});
const entityStore = cjs.memory.createMemoryEntityStore({
  backend: cjs.memory.createMemoryBackend(),
});
await entityStore.migrate();
const doors = cjs.entities.createEntities({ machine: door, store: entityStore });
await doors.create('d1');
const opened = await doors.apply('d1', { type: 'open' }).catch((error) => error);
check(
  'a machine defined through ESM runs in entities loaded through CommonJS',
  opened?.entity?.state === 'open',
);
const denied = await doors.apply('d1', { type: 'open' }).catch((error) => error);
check(
  'a denial raised by CommonJS is an ESM FlowproofError',
  denied instanceof esm.core.FlowproofError && denied.code === 'STATE_TRANSITION_DENIED',
);

// A warning said once per process is said once, not once per build.
const warnings = [];
process.on('warning', (warning) => {
  if (warning.code === 'FLOWPROOF_UNSCOPED_IDEMPOTENCY') warnings.push(warning);
});
for (const build of [esm, cjs]) {
  const http = build.idempotency.createHttpIdempotency({
    idempotency: build.idempotency.createIdempotency({ store, operation: 'orders.create' }),
  });
  const begun = await http.begin({
    method: 'POST',
    url: '/orders',
    headers: { 'idempotency-key': `"${build === esm ? 'a' : 'b'}"` },
    body: {},
  });
  if (begun.type === 'proceed') await begun.abort();
}
await new Promise((resolve) => setImmediate(resolve)); // warnings are emitted on the next tick
check(
  `the unscoped-idempotency warning is emitted once (got ${warnings.length})`,
  warnings.length === 1,
);

if (failures.length > 0) {
  for (const failure of failures) console.log(`FAIL  ${failure}`);
  process.exit(1);
}
console.log('ok    one flowproof per process across the ESM and CommonJS builds');
