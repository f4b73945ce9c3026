/**
 * `npm run bench [-- filter]`: runs every `bench/*.bench.ts` (or those whose file name contains
 * `filter`), prints one table per suite with throughput and the ratio to the suite's baseline.
 * `--json FILE` also writes the raw figures; `--rounds N` sets how many alternating rounds each
 * suite runs (default 5).
 */
import { writeFileSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { arch, cpus, platform } from 'node:os';
import { Bench } from 'tinybench';
import { type BenchModule, type BenchSuite, median, ratioText } from './harness.js';

interface Row {
  suite: string;
  task: string;
  /** Median throughput over the rounds. */
  opsPerSecond: number;
  /** Median over the rounds of the throughput ratio to the baseline measured in the same round. */
  ratio: number;
  ratioMin: number;
  ratioMax: number;
  /** The same against the suite's `alsoVs` task, when it names one. */
  alsoVs?: { task: string; ratio: number; ratioMin: number; ratioMax: number };
}

const args = process.argv.slice(2);
const jsonIndex = args.indexOf('--json');
const jsonFile = jsonIndex >= 0 ? args[jsonIndex + 1] : undefined;
const roundsIndex = args.indexOf('--rounds');
const ROUNDS = roundsIndex >= 0 ? Number(args[roundsIndex + 1]) : 5;
if (!Number.isInteger(ROUNDS) || ROUNDS < 1) throw new TypeError('--rounds takes a whole number');
const filters = args.filter(
  (arg, i) =>
    !arg.startsWith('--') &&
    (jsonIndex < 0 || i !== jsonIndex + 1) &&
    (roundsIndex < 0 || i !== roundsIndex + 1),
);

// `npm run bench` runs this file compiled (scripts/bench.mjs), next to the compiled suites.
const dir = new URL('./', import.meta.url);
const files = (await readdir(dir))
  .filter((file) => /\.bench\.(ts|mjs)$/.test(file))
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
    // Tasks run in alternating rounds (A B, B A, A B…) and each round's ratio is taken between
    // neighbours in time, so drift in the machine's speed (a shared, noisy host) biases no task.
    const perCall = suite.opsPerCall ?? 1;
    const roundTime = (suite.time ?? 1000) / ROUNDS;
    const samples = new Map<string, number[]>(suite.tasks.map((task) => [task.name, []]));
    const ratios = new Map<string, number[]>(suite.tasks.map((task) => [task.name, []]));
    const alsoRatios = new Map<string, number[]>(suite.tasks.map((task) => [task.name, []]));
    for (let round = 0; round < ROUNDS; round += 1) {
      const bench = new Bench({
        time: roundTime,
        warmupTime: round === 0 ? 200 : 50,
        iterations: suite.minIterations ?? 64,
        warmupIterations: Math.min(16, suite.minIterations ?? 16),
      });
      const ordered = round % 2 === 0 ? suite.tasks : [...suite.tasks].reverse();
      for (const task of ordered) bench.add(task.name, task.fn);
      await bench.run();
      const ops = new Map<string, number>();
      for (const task of bench.tasks) {
        const result = task.result;
        if (result.state !== 'completed') {
          throw new Error(
            `${suite.name} / ${task.name}: ${result.state}${'error' in result ? `: ${String(result.error)}` : ''}`,
          );
        }
        ops.set(task.name, (1000 / result.period) * perCall);
      }
      const base = ops.get(suite.baseline) ?? Number.NaN;
      const other = suite.alsoVs === undefined ? Number.NaN : (ops.get(suite.alsoVs) ?? Number.NaN);
      for (const [name, value] of ops) {
        samples.get(name)?.push(value);
        ratios.get(name)?.push(value / base);
        alsoRatios.get(name)?.push(value / other);
      }
    }
    const suiteRows = suite.tasks.map((task): Row => {
      const taskRatios = ratios.get(task.name) ?? [];
      const taskAlso = alsoRatios.get(task.name) ?? [];
      return {
        suite: suite.name,
        task: task.name,
        opsPerSecond: median(samples.get(task.name) ?? []),
        ratio: median(taskRatios),
        ratioMin: Math.min(...taskRatios),
        ratioMax: Math.max(...taskRatios),
        ...(suite.alsoVs === undefined
          ? {}
          : {
              alsoVs: {
                task: suite.alsoVs,
                ratio: median(taskAlso),
                ratioMin: Math.min(...taskAlso),
                ratioMax: Math.max(...taskAlso),
              },
            }),
      };
    });
    const range = (low: number, high: number) => `${ratioText(low)}–${ratioText(high)}`;
    const also = suite.alsoVs === undefined ? '' : ` vs ${suite.alsoVs} | range |`;
    console.log(`\n### ${suite.name}\n`);
    console.log(
      `| task | ${suite.unit}/s | vs ${suite.baseline} | range over ${ROUNDS} rounds |${also}`,
    );
    console.log(`| --- | ---: | ---: | ---: |${also ? ' ---: | ---: |' : ''}`);
    for (const row of suiteRows) {
      const alsoCells = row.alsoVs
        ? ` ${ratioText(row.alsoVs.ratio)}× | ${range(row.alsoVs.ratioMin, row.alsoVs.ratioMax)}× |`
        : '';
      console.log(
        `| ${row.task} | ${Math.round(row.opsPerSecond).toLocaleString('en-US')} | ${ratioText(row.ratio)}× | ${range(row.ratioMin, row.ratioMax)}× |${alsoCells}`,
      );
    }
    return suiteRows;
  } finally {
    await suite.teardown?.();
  }
}
