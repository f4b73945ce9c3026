/**
 * The size budget, kept: `flowproof/state-machine` (the pure machine) bundles to at most 5 KB
 * gzipped (4 KB before every entry checked its options and arguments; see the script), measured by `scripts/size-state-machine.mjs` exactly as docs/benchmarks.md reports it.
 * Bundle sizes are deterministic for a given lockfile, so this is a test, not a benchmark.
 */
import { execFileSync } from 'node:child_process';
import { expect, it } from 'vitest';

interface SizeReport {
  readonly goalBytes: number;
  readonly rows: Readonly<Record<string, { readonly minified: number; readonly gzip: number }>>;
}

it('keeps flowproof/state-machine within 5 KB gzipped', () => {
  const report = JSON.parse(
    execFileSync(process.execPath, ['scripts/size-state-machine.mjs', '--json'], {
      encoding: 'utf8',
    }),
  ) as SizeReport;
  const machine = report.rows['flowproof/state-machine (whole entry)'];
  const together = report.rows['flowproof: all three entries together'];
  expect(report.goalBytes).toBe(5120);
  expect(machine?.gzip).toBeGreaterThan(2048); // it measured the real entry, not an empty one
  expect(machine?.gzip).toBeLessThanOrEqual(report.goalBytes);
  // The split moved code between entries; it did not hide any: together they carry the rest.
  expect(together?.gzip).toBeGreaterThan((machine?.gzip ?? 0) + 2048);
});
