import { describe, expect, it, vi } from 'vitest';
import { getContext, runWithContext } from './context.js';
import { createId } from './ids.js';
import { configureOpenTelemetry } from './opentelemetry.js';
import { processSingleton } from './process-singleton.js';

describe('processSingleton', () => {
  it('creates a value once per process and version', () => {
    const name = `test.${Math.random()}`;
    const first = processSingleton(name, 1, () => ({ n: 1 }));
    expect(processSingleton(name, 1, () => ({ n: 2 }))).toBe(first);
    expect(processSingleton(name, 2, () => ({ n: 3 }))).toEqual({ n: 3 });
    expect(Object.keys(globalThis).some((key) => key.includes(name))).toBe(false);
  });

  it('shares the flow context and the OpenTelemetry setting with another copy of the core', async () => {
    vi.resetModules();
    const copy = await import('./context.js');
    const copyOtel = await import('./opentelemetry.js');
    expect(copy.runWithContext).not.toBe(runWithContext); // really another copy
    expect(runWithContext({ tenant: 'acme' }, () => copy.getContext()?.tenant)).toBe('acme');
    expect(copy.runWithContext({ tenant: 'other' }, () => getContext()?.tenant)).toBe('other');
    configureOpenTelemetry(null);
    try {
      expect(copyOtel.getOpenTelemetry()).toBeUndefined();
    } finally {
      configureOpenTelemetry(undefined);
    }
  });

  it('keeps ids strictly increasing across copies of the core', async () => {
    vi.resetModules();
    const copy = await import('./ids.js');
    expect(copy.createId).not.toBe(createId);
    const ids = Array.from({ length: 2000 }, (_, i) =>
      i % 2 === 0 ? createId() : copy.createId(),
    );
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
  });
});
