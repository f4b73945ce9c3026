#!/usr/bin/env node
/**
 * `npm run bench [-- filter] [--rounds N] [--json FILE]`: compiles `bench/` and the sources it
 * imports the way the package is built (esbuild, like tsup: no `keepNames`, dependencies left
 * external), then runs the compiled `bench/run.ts`. Running the sources through tsx instead would
 * measure its development transform, which wraps every function it creates in a naming helper:
 * about a microsecond per call on the fastest paths, and not what users run.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outdir = join(root, 'node_modules/.cache/flowproof-bench');
rmSync(outdir, { recursive: true, force: true });
const benchDir = join(root, 'bench');
const entryPoints = readdirSync(benchDir)
  .filter((file) => file === 'run.ts' || file.endsWith('.bench.ts'))
  .map((file) => join(benchDir, file));
await build({
  entryPoints,
  outdir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  packages: 'external',
  outExtension: { '.js': '.mjs' },
  sourcemap: 'inline',
  logLevel: 'warning',
});
const { status } = spawnSync(
  process.execPath,
  ['--enable-source-maps', join(outdir, 'run.mjs'), ...process.argv.slice(2)],
  { stdio: 'inherit' },
);
process.exit(status ?? 1);
