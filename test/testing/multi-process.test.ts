import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runInProcesses, startProcesses } from '../../src/testing/index.js';

const module = fileURLToPath(new URL('./fixtures/workers.ts', import.meta.url));
const execArgv = ['--import', 'tsx'];

describe('multi-process helper', () => {
  it('runs a worker in N processes, released together, results in index order', async () => {
    const results = await runInProcesses<{ tag: string; index: number; releasedAt: number }>({
      module,
      exportName: 'echo',
      count: 4,
      execArgv,
      args: { tag: 't' },
    });
    expect(results.map((r) => r.status)).toEqual([
      'fulfilled',
      'fulfilled',
      'fulfilled',
      'fulfilled',
    ]);
    const values = results.map((r) => (r.status === 'fulfilled' ? r.value : undefined));
    expect(values.map((v) => v?.index)).toEqual([0, 1, 2, 3]);
    expect(values.every((v) => v?.tag === 't')).toBe(true);
    const released = values.map((v) => v?.releasedAt ?? 0);
    // All children wait for the same "go": they start within a short window, not one by one.
    expect(Math.max(...released) - Math.min(...released)).toBeLessThan(500);
  });

  it('reports a worker that throws, with its error code', async () => {
    const [result] = await runInProcesses({ module, exportName: 'fail', execArgv });
    expect(result).toMatchObject({
      status: 'rejected',
      error: { message: 'worker failed on purpose', code: 'BACKEND_TIMEOUT' },
    });
  });

  it('kills a worker mid-flight after it reported progress', async () => {
    const [child] = startProcesses({ module, exportName: 'hang', execArgv });
    expect(
      await child?.waitForMessage((m) => (m as { step?: string }).step === 'side-effect-done'),
    ).toEqual({
      step: 'side-effect-done',
    });
    child?.kill();
    expect(await child?.result).toMatchObject({ status: 'exited', signal: 'SIGKILL' });
  });

  it('kills workers that outlive the timeout', async () => {
    const [result] = await runInProcesses({
      module,
      exportName: 'hang',
      execArgv,
      timeoutMs: 1500,
    });
    expect(result).toMatchObject({ status: 'exited', signal: 'SIGKILL' });
  });

  it('reports a missing export as a failure and checks its options', async () => {
    const [result] = await runInProcesses({ module, exportName: 'nope', execArgv });
    expect(result).toMatchObject({ status: 'rejected', error: { name: 'TypeError' } });
    expect(() => startProcesses({ module: 'relative/path.ts' })).toThrow(TypeError);
    expect(() => startProcesses({ module, count: 0 })).toThrow(/count/);
  });
});
