import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const source = readFileSync(new URL('../../src/core/errors.ts', import.meta.url), 'utf8');
const doc = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8');

describe('docs/errors.md', () => {
  it('documents exactly the codes of FlowproofErrorCode', () => {
    const union = source.slice(
      source.indexOf('export type FlowproofErrorCode'),
      source.indexOf(';', source.indexOf('export type FlowproofErrorCode')),
    );
    const codes = [...union.matchAll(/'([A-Z_]+)'/g)].map((m) => m[1]);
    const documented = [...doc.matchAll(/^\| `([A-Z_]+)` \|/gm)].map((m) => m[1]);
    expect(codes.length).toBeGreaterThan(5);
    expect([...documented].sort()).toEqual([...codes].sort());
  });
});
