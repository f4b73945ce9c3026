/**
 * Sagas: a 4-step saga run to its end, in steps per second, against
 *
 * - the raw primitive: one single-row INSERT per step on the same database (PostgreSQL through a
 *   `pg.Pool`; SQLite through better-sqlite3's prepared statement, and through flowproof's SQLite
 *   backend);
 * - DBOS Transact (`@dbos-inc/dbos-sdk`), a 4-step workflow in this process with its system
 *   database on the same PostgreSQL server;
 * - the saga store alone, without the engine: the create and one fenced save per step, the
 *   fewest writes a durable 4-step saga makes (splits the gap between the store and the engine);
 * - on the memory store, plain awaited calls of the same 4 functions.
 *
 * Before timing, each contender's storage round trips per step are counted (on PostgreSQL every
 * statement a `pg` client sends, BEGIN and COMMIT included; on SQLite every statement run) and
 * its CPU time per step in this process is measured; both are printed above the tables.
 *
 * Servers: FLOWPROOF_BENCH_POSTGRES_URL when set, otherwise a throwaway server started with the
 * test suite's global setup (the PostgreSQL suites are skipped, with the reason printed, when the
 * binaries are missing).
 */
import { DBOS } from '@dbos-inc/dbos-sdk';
import pg from 'pg';
import { createMemoryBackend, createMemorySagaStore } from '../src/adapters/memory/index.js';
import { createPostgresBackend, createPostgresSagaStore } from '../src/adapters/postgres/index.js';
import { createSqliteBackend, createSqliteSagaStore } from '../src/adapters/sqlite/index.js';
import { createSagas, defineSaga, type SagaStore } from '../src/saga/index.js';
import { benchServices, closeAll, openSqliteFile } from './bench-services.js';
import { type BenchSuite, type BenchTask, defineSuite, inFlight } from './harness.js';
import { countingSqlite, countPgStatements, statementsPerOperation } from './statement-counters.js';

/** Steps of every flow measured here. */
const STEPS = 4;
/** Flows in flight in the concurrent suites. */
const IN_FLIGHT = 8;
/** Milliseconds per suite, over all rounds: round trips vary, so measure for longer. */
const TIME = 3_000;
/** Calls per task and round at least: one call of the slowest task can take 0.2 s. */
const MIN_ITERATIONS = 8;
/** Flows run to count round trips. */
const COUNTED_RUNS = 20;
/** Flows run to measure CPU time per step. */
const CPU_RUNS = 100;
/** Pool size for every PostgreSQL contender. */
const POOL_SIZE = 10;

/** The work of the 4 steps: cheap, so that the storage decides the figures. */
const stepA = async (n: number) => ({ n: n + 1 });
const stepB = async (n: number) => ({ n: n + 2 });
const stepC = async (n: number) => ({ n: n * 2 });
const stepD = async (n: number) => ({ n: n - 3 });
/** What every contender must return for input `n`. */
const expected = (n: number) => (n + 3) * 2 - 3;

let counter = 0;
const nextId = () => {
  counter += 1;
  return `bench-${process.pid}-${counter}`;
};
const stepResult = (n: number) => JSON.stringify({ n });

/** The 4 steps as a flowproof saga. */
const benchSaga = defineSaga({ name: 'bench', version: 1 })
  .step('a', { run: ({ input }) => stepA((input as { n: number }).n) })
  .step('b', { run: ({ steps }) => stepB(steps.a.n) })
  .step('c', { run: ({ steps }) => stepC(steps.b.n) })
  .step('d', { run: ({ steps }) => stepD(steps.c.n) });

/**
 * A function that runs the saga to its end over `store` (migrated first) and returns the last
 * step's result; the engine is closed with the other `closers`.
 */
async function sagaRunner(
  store: SagaStore,
  closers: (() => Promise<unknown> | unknown)[],
): Promise<(input: number) => Promise<number>> {
  await store.migrate();
  const sagas = createSagas({ store, sagas: [benchSaga] });
  closers.push(() => sagas.close());
  const run = async (n: number) => {
    const state = await sagas.run(benchSaga, { n });
    if (state.status !== 'completed' || !state.output) {
      throw new Error(`the bench saga ended ${state.status}`);
    }
    return state.output.d.n;
  };
  if ((await run(1)) !== expected(1)) throw new Error('the flowproof saga computes otherwise');
  return run;
}

/** The log after `done` of the 4 steps, shaped like the engine's (the store never reads it). */
function logAfter(done: number, n: number) {
  const at = 1_796_188_256_206;
  const steps = ['a', 'b', 'c', 'd'].slice(0, Math.min(done + 1, STEPS)).map((step, index) =>
    index < done
      ? {
          step,
          index,
          hash: 'EIqaMl8Crs7Q4pXh',
          status: 'completed',
          attempts: [{ startedAt: at, endedAt: at, outcome: 'completed' }],
          output: { n: n + index },
        }
      : { step, index, hash: 'EIqaMl8Crs7Q4pXh', status: 'running', attempts: [{ startedAt: at }] },
  );
  return { format: 1, input: { n }, steps, redrives: 0 };
}

/**
 * The saga store alone, without the engine: what a 4-step saga must write at least — the create
 * (with the first step's intent and the lease) and one fenced save per step (its result with the
 * next step's intent, the last one with the completion): 5 statements.
 */
function storeFloor(store: SagaStore): () => Promise<void> {
  const logs = Array.from({ length: STEPS + 1 }, (_, done) => logAfter(done, 1));
  return async () => {
    const created = await store.create(
      { id: nextId(), name: 'bench', version: 1, status: 'running', log: logs[0] },
      { owner: 'bench', leaseMs: 30_000 },
    );
    if (!created.created || !created.lease) throw new Error('the saga store did not lease');
    for (let done = 1; done <= STEPS; done += 1) {
      const last = done === STEPS;
      const saved = await store.save(
        {
          id: created.saga.id,
          status: last ? 'completed' : 'running',
          log: logs[done],
          wakeInMs: 0,
          lease: last ? 'release' : { extendMs: 30_000 },
        },
        created.lease,
      );
      if (!saved) throw new Error('the saga store refused a save');
    }
  };
}

/**
 * CPU time this process spends per step (user + system, in µs) over `CPU_RUNS` flows one after
 * the other, each contender in turn; prints them. Unlike throughput, it hardly moves with other
 * load on the machine. A database server's own CPU is not in it.
 */
async function printCpuPerStep(label: string, tasks: readonly BenchTask[]): Promise<void> {
  console.log(`\n${label}: CPU µs per step in this process (${CPU_RUNS} flows one at a time)`);
  for (const task of tasks) {
    for (let i = 0; i < COUNTED_RUNS; i += 1) await task.fn();
    const before = process.cpuUsage();
    for (let i = 0; i < CPU_RUNS; i += 1) await task.fn();
    const used = process.cpuUsage(before);
    console.log(`- ${task.name}: ${((used.user + used.system) / (CPU_RUNS * STEPS)).toFixed(1)}`);
  }
}

/** Statements per step over `COUNTED_RUNS` flows one after the other. */
const perStep = (
  count: (fn: () => Promise<unknown>) => Promise<number>,
  flow: () => Promise<unknown>,
) => statementsPerOperation(count, flow, COUNTED_RUNS, STEPS);

export default async function suites(): Promise<BenchSuite[]> {
  const closers: (() => Promise<unknown> | unknown)[] = [];
  const out: BenchSuite[] = [];
  try {
    out.push(await memorySuite(closers));
    out.push(await sqliteSuite(closers));
    const { postgresUrl, stop } = await benchServices();
    closers.push(stop);
    if (postgresUrl) out.push(...(await postgresSuites(postgresUrl, closers)));
    else console.log('\n(skipped the PostgreSQL saga benchmarks: no PostgreSQL binaries)');
  } catch (error) {
    await closeAll(closers);
    throw error;
  }
  // The last suite's teardown closes the clients and stops the servers.
  const last = out.at(-1) as BenchSuite;
  out[out.length - 1] = {
    ...last,
    teardown: async () => {
      await last.teardown?.();
      await closeAll(closers);
    },
  };
  return out;
}

async function memorySuite(closers: (() => Promise<unknown> | unknown)[]): Promise<BenchSuite> {
  const saga = await sagaRunner(createMemorySagaStore({ backend: createMemoryBackend() }), closers);
  const plain = async () => {
    const a = await stepA(1);
    const b = await stepB(a.n);
    const c = await stepC(b.n);
    return (await stepD(c.n)).n;
  };
  const tasks: BenchTask[] = [
    { name: 'plain awaited calls of the 4 functions', fn: plain },
    { name: 'flowproof saga, memory store (sagas.run)', fn: () => saga(1) },
  ];
  await printCpuPerStep('Memory', tasks);
  return defineSuite({
    name: `sagas: memory store vs plain awaited calls (${STEPS} steps per call)`,
    unit: 'steps',
    opsPerCall: STEPS,
    baseline: 'plain awaited calls of the 4 functions',
    tasks,
  });
}

async function sqliteSuite(closers: (() => Promise<unknown> | unknown)[]): Promise<BenchSuite> {
  const database = openSqliteFile(closers, 'flowproof-saga-bench-');
  database.exec(
    'CREATE TABLE raw_steps (saga_id TEXT NOT NULL, step INTEGER NOT NULL, result TEXT NOT NULL, PRIMARY KEY (saga_id, step))',
  );
  const insert = database.prepare('INSERT INTO raw_steps (saga_id, step, result) VALUES (?, ?, ?)');
  const backend = createSqliteBackend({ database });
  const INSERT = 'INSERT INTO raw_steps (saga_id, step, result) VALUES (?, ?, ?)';
  const rawInserts = async () => {
    const id = nextId();
    for (let step = 0; step < STEPS; step += 1) insert.run(id, step, stepResult(step));
  };
  const backendInserts = async () => {
    const id = nextId();
    for (let step = 0; step < STEPS; step += 1) {
      await backend.execute(INSERT, [id, step, stepResult(step)]);
    }
  };

  const counting = countingSqlite(database);
  const countingBackend = createSqliteBackend({ database: counting.connection });
  const countSqlite = counting.countStatements;
  const store = createSqliteSagaStore({ backend });
  const saga = await sagaRunner(store, closers);
  const floor = storeFloor(store);
  const countedSaga = await sagaRunner(
    createSqliteSagaStore({ backend: countingBackend }),
    closers,
  );
  const counts = {
    backend: await perStep(countSqlite, async () => {
      const id = nextId();
      for (let step = 0; step < STEPS; step += 1) {
        await countingBackend.execute(INSERT, [id, step, stepResult(step)]);
      }
    }),
    saga: await perStep(countSqlite, () => countedSaga(1)),
    floor: await perStep(
      countSqlite,
      storeFloor(createSqliteSagaStore({ backend: countingBackend })),
    ),
  };
  console.log(
    `\nSQLite statements per step (${COUNTED_RUNS} flows of ${STEPS} steps, one at a time): INSERT through backend.execute ${counts.backend}, flowproof saga ${counts.saga}, saga store alone ${counts.floor}`,
  );

  const tasks: BenchTask[] = [
    { name: 'raw INSERT per step (better-sqlite3 prepared statement)', fn: rawInserts },
    { name: 'INSERT per step through flowproof backend.execute', fn: backendInserts },
    { name: 'flowproof saga, SQLite store (sagas.run)', fn: () => saga(1) },
    { name: 'SQLite saga store alone: create + 4 fenced saves', fn: floor },
  ];
  await printCpuPerStep('SQLite', tasks);
  return defineSuite({
    name: `sagas: SQLite (file, WAL) vs one INSERT per step (${STEPS} steps per call)`,
    unit: 'steps',
    opsPerCall: STEPS,
    baseline: 'raw INSERT per step (better-sqlite3 prepared statement)',
    time: TIME,
    minIterations: MIN_ITERATIONS,
    tasks,
  });
}

async function postgresSuites(
  url: string,
  closers: (() => Promise<unknown> | unknown)[],
): Promise<BenchSuite[]> {
  const schema = `bench_${process.pid}`;
  const pool = new pg.Pool({ connectionString: url, max: POOL_SIZE });
  pool.on('error', () => {}); // idle clients see the server stop at teardown
  closers.push(() => pool.end());
  await pool.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
  const rawTable = `"${schema}".raw_steps`;
  await pool.query(
    `CREATE TABLE ${rawTable} (saga_id text NOT NULL, step int NOT NULL, result text NOT NULL, PRIMARY KEY (saga_id, step))`,
  );
  const rawInserts = async () => {
    const id = nextId();
    for (let step = 0; step < STEPS; step += 1) {
      await pool.query(`INSERT INTO ${rawTable} (saga_id, step, result) VALUES ($1, $2, $3)`, [
        id,
        step,
        stepResult(step),
      ]);
    }
  };

  const store = createPostgresSagaStore({
    backend: createPostgresBackend({ client: pool, schema }),
  });
  const saga = await sagaRunner(store, closers);
  const floor = storeFloor(store);
  // Counted before DBOS is launched: its background polling would be counted too.
  const raw = await perStep(countPgStatements, rawInserts);
  const sagaCount = await perStep(countPgStatements, () => saga(1));
  const floorCount = await perStep(countPgStatements, floor);
  const dbos = await launchDbos(url, `${schema}_dbos`, closers);
  const counts = {
    raw,
    saga: sagaCount,
    floor: floorCount,
    dbos: await perStep(countPgStatements, () => dbos(1)),
  };
  console.log(
    `\nPostgreSQL statements per step (${COUNTED_RUNS} flows of ${STEPS} steps, one at a time): raw INSERT ${counts.raw}, flowproof saga ${counts.saga}, saga store alone ${counts.floor}, DBOS ${counts.dbos}`,
  );

  const RAW = 'raw INSERT per step (pg.Pool)';
  const DBOS_TASK = `DBOS Transact workflow (${STEPS} runStep)`;
  const sequential: BenchTask[] = [
    { name: RAW, fn: rawInserts },
    { name: 'flowproof saga, PostgreSQL store (sagas.run)', fn: () => saga(1) },
    { name: 'PostgreSQL saga store alone: create + 4 fenced saves', fn: floor },
    { name: DBOS_TASK, fn: () => dbos(1) },
  ];
  await printCpuPerStep('PostgreSQL', sequential);
  return [
    defineSuite({
      name: `sagas: PostgreSQL, one flow at a time (${STEPS} steps per call)`,
      unit: 'steps',
      opsPerCall: STEPS,
      baseline: RAW,
      alsoVs: DBOS_TASK,
      time: TIME,
      minIterations: MIN_ITERATIONS,
      tasks: sequential,
    }),
    defineSuite({
      name: `sagas: PostgreSQL, ${IN_FLIGHT} flows in flight (${STEPS} steps each)`,
      unit: 'steps',
      opsPerCall: STEPS * IN_FLIGHT,
      baseline: RAW,
      alsoVs: DBOS_TASK,
      time: TIME,
      minIterations: MIN_ITERATIONS,
      tasks: sequential.map((task) => ({ name: task.name, fn: inFlight(IN_FLIGHT, task.fn) })),
    }),
  ];
}

/**
 * DBOS Transact in this process, as its documentation shows: a workflow of `DBOS.runStep` calls
 * registered before `DBOS.launch`, the system database in its own schema on the given server.
 */
async function launchDbos(
  url: string,
  schemaName: string,
  closers: (() => Promise<unknown> | unknown)[],
): Promise<(input: number) => Promise<number>> {
  const workflow = DBOS.registerWorkflow(
    async (input: number) => {
      const a = await DBOS.runStep(() => stepA(input), { name: 'a' });
      const b = await DBOS.runStep(() => stepB(a.n), { name: 'b' });
      const c = await DBOS.runStep(() => stepC(b.n), { name: 'c' });
      const d = await DBOS.runStep(() => stepD(c.n), { name: 'd' });
      return d.n;
    },
    { name: 'bench-4-steps' },
  );
  DBOS.setConfig({
    name: 'flowproof-bench',
    systemDatabaseUrl: url,
    systemDatabaseSchemaName: schemaName,
    systemDatabasePoolSize: POOL_SIZE,
    logLevel: 'error',
  });
  await DBOS.launch();
  closers.push(() => DBOS.shutdown());
  if ((await workflow(1)) !== expected(1)) throw new Error('the DBOS workflow computes otherwise');
  return workflow;
}
