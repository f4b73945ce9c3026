import { readFileSync } from 'node:fs';
import { defineConfig } from 'tsup';

const { version } = JSON.parse(readFileSync(new URL('./package.json', import.meta.url), 'utf8'));

/**
 * One entry per subpath export. `scripts/check-package.mjs` fails the build when this map and
 * package.json `exports` disagree, so adding a module means adding it in both places.
 */
export const entries = {
  index: 'src/index.ts',
  'validation/index': 'src/validation/index.ts',
  'idempotency/index': 'src/idempotency/index.ts',
  'state-machine/index': 'src/state-machine/index.ts',
  'state-machine/entities/index': 'src/state-machine/entities/index.ts',
  'state-machine/mermaid/index': 'src/state-machine/mermaid/index.ts',
  'saga/index': 'src/saga/index.ts',
  'outbox/index': 'src/outbox/index.ts',
  'audit/index': 'src/audit/index.ts',
  'lineage/index': 'src/lineage/index.ts',
  'privacy/index': 'src/privacy/index.ts',
  'retention/index': 'src/retention/index.ts',
  'adapters/memory/index': 'src/adapters/memory/index.ts',
  'adapters/sqlite/index': 'src/adapters/sqlite/index.ts',
  'adapters/postgres/index': 'src/adapters/postgres/index.ts',
  'adapters/redis/index': 'src/adapters/redis/index.ts',
  'testing/index': 'src/testing/index.ts',
} as const;

export default defineConfig({
  entry: entries,
  format: ['esm', 'cjs'],
  // p-retry is bundled (see noExternal): its types are inlined too, as it is not installed for users.
  dts: { resolve: ['p-retry'] },
  sourcemap: true,
  clean: true,
  // Shared code goes into chunks so `instanceof FlowproofError` holds across subpaths.
  splitting: true,
  treeshake: true,
  target: 'node20',
  platform: 'node',
  // import.meta.url is used to load optional peers lazily; shim it for the CJS build.
  shims: true,
  // p-retry is ESM-only; bundling it lets `require('flowproof/saga')` work without require(esm).
  noExternal: ['p-retry', 'is-network-error'],
  // flowproof's version, for OpenLineage events (src/lineage/openlineage/flowproof-version.ts).
  define: { __FLOWPROOF_VERSION__: JSON.stringify(version) },
});
