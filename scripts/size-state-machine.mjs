#!/usr/bin/env node
/**
 * `node scripts/size-state-machine.mjs`: the size of `flowproof/state-machine` as an application
 * bundle would carry it, next to XState v5 measured the same way. Each entry is bundled with
 * esbuild (ESM, minified, tree-shaken, Node built-ins external, dependencies such as `ulid`
 * included) and gzip-compressed (level 9). Two views per library: the whole entry, and the
 * minimal "define a machine and compute a transition" import.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const entry = join(root, 'src/state-machine/index.ts');
const GOAL_BYTES = 4 * 1024;

/** Bundles `contents` (an ES module importing the library) and returns its sizes in bytes. */
async function measure(contents) {
  const result = await build({
    stdin: { contents, resolveDir: root, sourcefile: 'size-entry.ts', loader: 'ts' },
    bundle: true,
    minify: true,
    treeShaking: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    write: false,
    logLevel: 'silent',
  });
  const code = result.outputFiles[0].contents;
  return { minified: code.length, gzip: gzipSync(code, { level: 9 }).length };
}

const rows = [
  ['flowproof/state-machine (whole entry)', `export * from ${JSON.stringify(entry)};`],
  [
    'flowproof: defineMachine + transition',
    `export { defineMachine, transition } from ${JSON.stringify(entry)};`,
  ],
  ['xstate (whole entry)', `export * from 'xstate';`],
  ['xstate: createMachine + transition', `export { createMachine, transition } from 'xstate';`],
];

const kb = (bytes) => `${(bytes / 1024).toFixed(2)} KB`;
console.log('| bundle | minified | min + gzip |');
console.log('| --- | ---: | ---: |');
const sizes = {};
for (const [name, contents] of rows) {
  const size = await measure(contents);
  sizes[name] = size;
  console.log(`| ${name} | ${kb(size.minified)} | ${kb(size.gzip)} |`);
}
const whole = sizes[rows[0][0]].gzip;
console.log(
  `\nflowproof/state-machine: ${kb(whole)} gzipped — goal ≤ ${kb(GOAL_BYTES)}: ${whole <= GOAL_BYTES ? 'met' : 'NOT met'}`,
);
