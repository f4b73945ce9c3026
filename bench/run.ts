/**
 * `npm run bench [-- filter]`: runs every `bench/*.bench.ts` (or those whose file name contains
 * `filter`), prints one table per suite with throughput and the ratio to the suite's baseline.
 * `--json FILE` also writes the raw figures.
 */
import { writeFileSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { arch, cpus, platform } from 'node:os';
import { Bench } from 'tinybench';
import type { BenchModule, BenchSuite } from './harness.js';

interface Row {
  suite: string;
  task: string;
  opsPerSecond: number;
  rme: number;
  ratio: number;
}

const args = process.argv.slice(2);
const jsonIndex = args.indexOf('--json');
const jsonFile = jsonIndex >= 0 ? args[jsonIndex + 1] : undefined;
const filters = args.filter(
  (arg, i) => !arg.startsWith('--') && (jsonIndex < 0 || i !== jsonIndex + 1),
);

const dir = new URL('./', import.meta.url);
const files = (await readdir(dir))
  .filter((file) => file.endsWith('.bench.ts'))
  .filter((file) => filters.length === 0 || filters.some((f) => file.includes(f)))
  .sort();

console.log(
  `flowproof benchmarks — node ${process.version}, ${platform()}/${arch()}, ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}`,
);
const rows: Row[] = [];
for (const file of files) {
  const loaded = (await import(new URL(file, dir).href)) as { default: BenchModule };
  const suites = typeof loaded.default === 'function' ? await loaded.default() : loaded.default;
  for (const suite of suites) rows.push(...(await runSuite(suite)));
}
if (jsonFile) writeFileSync(jsonFile, `${JSON.stringify(rows, null, 2)}\n`);
process.exit(0);

async function runSuite(suite: BenchSuite): Promise<Row[]> {
  await suite.setup?.();
  try {
    const bench = new Bench({ time: suite.time ?? 1000, warmupTime: 200 });
    for (const task of suite.tasks) bench.add(task.name, task.fn);
    await bench.run();
    const perCall = suite.opsPerCall ?? 1;
    const throughput = new Map<string, { ops: number; rme: number }>();
    for (const task of bench.tasks) {
      const result = task.result;
      if (result.state !== 'completed') {
        throw new Error(
          `${suite.name} / ${task.name}: ${result.state}${'error' in result ? `: ${String(result.error)}` : ''}`,
        );
      }
      throughput.set(task.name, { ops: (1000 / result.period) * perCall, rme: result.latency.rme });
    }
    const base = throughput.get(suite.baseline)?.ops ?? Number.NaN;
    const suiteRows = suite.tasks.map((task) => {
      const { ops, rme } = throughput.get(task.name) ?? { ops: Number.NaN, rme: Number.NaN };
      return { suite: suite.name, task: task.name, opsPerSecond: ops, rme, ratio: ops / base };
    });
    console.log(`\n### ${suite.name}\n`);
    console.log(`| task | ${suite.unit}/s | ± | vs ${suite.baseline} |`);
    console.log('| --- | ---: | ---: | ---: |');
    for (const row of suiteRows) {
      console.log(
        `| ${row.task} | ${Math.round(row.opsPerSecond).toLocaleString('en-US')} | ${row.rme.toFixed(1)}% | ${row.ratio.toFixed(2)}× |`,
      );
    }
    return suiteRows;
  } finally {
    await suite.teardown?.();
  }
}
