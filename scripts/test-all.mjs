#!/usr/bin/env node
/**
 * `npm test`: lint, typecheck, tests, build, packaging checks and the API docs, in that order, stopping at the
 * first failure. Extra arguments go to vitest (`npm test -- test/foo.test.ts`).
 *
 * The last line printed is the test totals from vitest's JSON report, `N passed, N failed,
 * N skipped`, whenever the test step produced a report. Exits non-zero when a step failed or when
 * no test passed.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const reportFile = join(root, '.vitest-report.json');
const vitestArgs = process.argv.slice(2);

const steps = [
  { name: 'lint (biome)', command: 'npx', args: ['biome', 'check', '.'] },
  { name: 'typecheck (tsc)', command: 'npx', args: ['tsc', '--noEmit', '-p', 'tsconfig.json'] },
  {
    name: 'tests (vitest)',
    command: 'npx',
    args: [
      'vitest',
      'run',
      '--reporter=default',
      '--reporter=json',
      '--outputFile.json=.vitest-report.json',
      ...vitestArgs,
    ],
  },
  { name: 'build (tsup)', command: 'npx', args: ['tsup'] },
  { name: 'package checks', command: 'node', args: ['scripts/check-package.mjs'] },
  { name: 'API docs (typedoc, warnings are errors)', command: 'npx', args: ['typedoc'] },
];

// A report left by an earlier run must not be mistaken for this run's.
rmSync(reportFile, { force: true });

let failed;
for (const [index, step] of steps.entries()) {
  const header = `=== [${index + 1}/${steps.length}] ${step.name}: ${[step.command, ...step.args].join(' ')}`;
  console.log(`\n${header}\n`);
  const started = Date.now();
  const result = spawnSync(step.command, step.args, { cwd: root, stdio: 'inherit' });
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  if (result.error || result.status !== 0) {
    const why = result.error ? result.error.message : `exit ${result.signal ?? result.status}`;
    console.error(`\n=== FAILED: ${step.name} (${why}, ${seconds} s)`);
    failed = step.name;
    break;
  }
  console.log(`\n=== ok: ${step.name} (${seconds} s)`);
}

let passed = 0;
if (existsSync(reportFile)) {
  let totals;
  try {
    const report = JSON.parse(readFileSync(reportFile, 'utf8'));
    passed = report.numPassedTests ?? 0;
    const skipped = (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0);
    totals = `${passed} passed, ${report.numFailedTests ?? 0} failed, ${skipped} skipped`;
  } catch (error) {
    console.error(`could not read ${reportFile}: ${error}`);
    failed ??= 'reading the test report';
  }
  if (failed) console.error(`\n=== npm test FAILED at: ${failed}`);
  else if (passed === 0) console.error('\n=== npm test FAILED: no test passed');
  if (totals) console.log(totals);
} else if (failed) {
  console.error(`\n=== npm test FAILED at: ${failed} (no test report)`);
} else {
  console.error(`\n=== npm test FAILED: vitest wrote no report to ${reportFile}`);
  failed = 'reading the test report';
}

process.exit(failed || passed === 0 ? 1 : 0);
