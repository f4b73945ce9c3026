import { describe, expect, it } from 'vitest';
import { defineSaga } from './index.js';

/** The diagram's nodes (id → label) and edges (`from -> to`, dashed ones marked). */
function parse(diagram: string) {
  const nodes = new Map<string, string>();
  const edges: string[] = [];
  for (const line of diagram.trim().split('\n').slice(1)) {
    const text = line.trim();
    const node = /^(\w+)(?:\["(.*)"\]|\(\((.*)\)\))$/.exec(text);
    if (node) nodes.set(node[1]!, node[2] ?? node[3]!);
    const edge = /^(\w+) (-->|-\.->|-\. on failure \.->) (\w+)(?:\(\(\w+\)\))?$/.exec(text);
    if (edge) {
      const [, from, arrow, to] = edge;
      edges.push(`${from} ${arrow === '-->' ? '->' : '~>'} ${to}`);
      if (text.endsWith('))')) nodes.set(to!, to!);
    }
  }
  const label = (id: string) => nodes.get(id) ?? id;
  return {
    nodes,
    edges: edges.map((e) => {
      const [from, arrow, to] = e.split(' ');
      return `${label(from!)} ${arrow} ${label(to!)}`;
    }),
  };
}

describe('toMermaid()', () => {
  const saga = defineSaga({ name: 'trip', version: 2 })
    .step('book', { run: () => 1, compensate: () => {} })
    .parallel((group) =>
      group.step('hotel', { run: () => 1, compensate: () => {} }).step('car', { run: () => 1 }),
    )
    .step('pay', { run: () => 1, compensate: () => {} });

  it('is a flowchart naming the saga and version', () => {
    const diagram = saga.toMermaid();
    expect(diagram.startsWith('flowchart TD\n')).toBe(true);
    expect(diagram).toContain('%% saga trip v2');
    expect(diagram.endsWith('\n')).toBe(true);
  });

  it('draws steps in order with the parallel group side by side, and compensations dashed in reverse start order', () => {
    const { edges } = parse(saga.toMermaid());
    expect(edges.filter((e) => e.includes(' -> '))).toEqual([
      'start -> book',
      'book -> hotel',
      'book -> car',
      'hotel -> pay',
      'car -> pay',
      'pay -> completed',
    ]);
    expect(edges.filter((e) => e.includes(' ~> '))).toEqual([
      'book ~> undo book',
      'hotel ~> undo hotel',
      'pay ~> undo pay',
      'undo pay ~> undo hotel',
      'undo hotel ~> undo book',
      'undo book ~> compensated',
    ]);
  });

  it('has no compensation chain when no step compensates', () => {
    const plain = defineSaga({ name: 'plain' }).step('a', { run: () => 1 });
    const { edges } = parse(plain.toMermaid());
    expect(edges).toEqual(['start -> a', 'a -> completed']);
  });
});
