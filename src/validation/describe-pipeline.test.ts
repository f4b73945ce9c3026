import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { pipeline } from './index.js';

/** CommonMark line endings: `\r\n`, `\r` and `\n` all end a line. */
const lines = (text: string) => text.split(/\r\n|\r|\n/);

/** Lines that open an ATX heading (up to three spaces of indentation are allowed). */
const headings = (markdown: string) =>
  lines(markdown).filter((line) => /^ {0,3}#{1,6}(\s|$)/.test(line));

/** Lines that open or close a fenced code block. */
const fences = (markdown: string) =>
  lines(markdown).filter((line) => /^ {0,3}(`{3,}|~{3,})/.test(line));

/**
 * The block structure of each line: the chain of container and leaf markers it starts with
 * (list items, headings, block quotes, fences, thematic breaks, HTML, indented code). Text the
 * pipeline was given must never change it.
 */
function blockMarkers(markdown: string): string[] {
  const marker =
    /^( {0,3})(#{1,6}(?=[ \t]|$)|[-+*](?=[ \t]|$)|\d{1,9}[.)](?=[ \t]|$)|>|`{3,}|~{3,}|<|(?:[-*_][ \t]*){3,}$|=+[ \t]*$|\[[^\]]*\]:)/;
  return lines(markdown).map((line) => {
    const found: string[] = [];
    let rest = line;
    for (let match = marker.exec(rest); match; match = marker.exec(rest)) {
      found.push((match[2] ?? '').trim().replace(/\d+/, '1'));
      rest = rest.slice(match[0].length).replace(/^[ \t]/, '');
      // Four more columns of indentation after a container marker start indented code.
      if (/^( {4}|\t)/.test(rest) && found.length > 0) found.push('code');
    }
    return found.join(' ');
  });
}

const hostile = fc.string({
  unit: fc.oneof(
    fc.constantFrom(
      '\n',
      '\r',
      '\r\n',
      '`',
      '```',
      '~~~',
      '#',
      '# ',
      '<',
      '>',
      '&',
      '|',
      '*',
      '_',
      '[',
      ']',
      '(',
      ')',
      '!',
      '-',
      '+',
      '=',
      '1.',
      '\\',
      ' ',
      '    ',
      '\t',
      '"',
      '<img src=x onerror=alert(1)>',
    ),
    fc.string({ unit: 'grapheme-ascii', maxLength: 3 }),
    fc.string({ unit: 'binary', maxLength: 2 }),
  ),
  maxLength: 12,
});

/** Stage names are unique and non-empty. */
const names = (count: number) =>
  fc.uniqueArray(
    hostile.filter((name) => name !== ''),
    { minLength: count, maxLength: count },
  );

/** A pipeline of one transform per name, which also shows up where `use` says. */
function stages(names: readonly string[], use: { adds?: boolean; docs?: boolean } = {}) {
  let builder = pipeline<Record<string, unknown>>('p');
  for (const name of names) {
    builder = builder.transform(name, (v) => v, {
      ...(use.adds ? { adds: [name], drops: [name] } : {}),
      ...(use.docs ? { description: name, docs: { input: name, validation: [name, name] } } : {}),
    });
  }
  return builder.build();
}

describe('toMarkdown() with untrusted names', () => {
  it('keeps every step when a name holds a code fence', () => {
    const markdown = pipeline('p')
      .transform('first', (v) => v)
      .transform('evil\n```', (v) => v)
      .transform('last', (v) => v)
      .build()
      .toMarkdown();
    expect(markdown).toContain('### Step 2: evil \\`\\`\\`\n');
    expect(markdown).toContain('### Step 3: last\n');
    expect(headings(markdown)).toHaveLength(4);
    expect(fences(markdown)).toEqual(['```mermaid', '```']);
  });

  it('adds no heading, HTML or emphasis from a pipeline name, boundary or docs', () => {
    const markdown = pipeline('orders\n# injected <img src=x onerror=alert(1)>')
      .transform('a_b *c*', (v) => v, {
        boundary: 'edge**\n> quote',
        description: '- not a list',
        docs: { validation: ['  - nested?', '1. ordered?', '<b>bold</b> & more'] },
      })
      .build()
      .toMarkdown();
    expect(markdown).toContain(
      '## Pipeline: orders \\# injected &lt;img src=x onerror=alert(1)&gt;\n',
    );
    expect(markdown).toContain('### Step 1: a_b \\*c\\*\n');
    expect(markdown).toContain('*transform* at the **edge\\*\\* &gt; quote** boundary.');
    expect(markdown).toContain('**Transformation**: \\- not a list\n');
    expect(markdown).toContain(
      '- \\- nested?\n- 1\\. ordered?\n- &lt;b&gt;bold&lt;/b&gt; &amp; more\n',
    );
    expect(headings(markdown)).toHaveLength(2);
    expect(markdown).not.toMatch(/</);
  });

  it('builds code spans that a backtick in a field name cannot close', () => {
    const markdown = pipeline('p')
      .validate('parse', z.object({ 'a`b': z.string(), '`': z.enum(['x`y']), c: z.string() }))
      .transform('t', (v) => v, { adds: ['``x'], drops: ['c'] })
      .build()
      .toMarkdown();
    expect(markdown).toContain('  - `` a`b ``: string, required');
    expect(markdown).toContain('  - `` ` ``: one of `` "x`y" ``, required');
    expect(markdown).toContain('adds ``` ``x ```; drops `c`.');
  });

  it('keeps ordinary text byte for byte', () => {
    const markdown = pipeline('create-order')
      .validate(
        'parse_request',
        z.object({ order_id: z.string().regex(/^ord_[a-z0-9]+$/), lines: z.array(z.int()) }),
      )
      .transform('normalize', (v) => v, { description: 'Upper-cases SKUs (and country).' })
      .build()
      .toMarkdown();
    expect(markdown).toContain('## Pipeline: create-order\n');
    expect(markdown).toContain('### Step 1: parse_request\n');
    expect(markdown).toContain('  - `order_id`: string, required, matches `/^ord_[a-z0-9]+$/`\n');
    expect(markdown).toContain(
      '**Input**: The output of step 1 (parse_request): fields `order_id`, `lines`.',
    );
    expect(markdown).toContain('**Transformation**: Upper-cases SKUs (and country).\n');
  });

  it('property: any stage names give one heading per stage, the same block structure and no raw <', () => {
    const plain = stages(['a', 'b', 'c']).toMarkdown();
    fc.assert(
      fc.property(names(3), (names) => {
        const markdown = stages(names).toMarkdown();
        expect(headings(markdown)).toHaveLength(names.length + 1);
        expect(fences(markdown)).toHaveLength(2);
        expect(blockMarkers(markdown)).toEqual(blockMarkers(plain));
        expect(markdown).not.toContain('<');
      }),
    );
  });

  it('property: any description and docs keep the block structure', () => {
    const plain = stages(['a', 'b'], { docs: true }).toMarkdown();
    fc.assert(
      fc.property(names(2), (names) => {
        const markdown = stages(names, { docs: true }).toMarkdown();
        expect(blockMarkers(markdown)).toEqual(blockMarkers(plain));
        expect(markdown).not.toContain('<');
      }),
    );
  });

  it('property: any field names keep the block structure', () => {
    const plain = stages(['a', 'b'], { adds: true }).toMarkdown();
    fc.assert(
      fc.property(names(2), (names) => {
        const markdown = stages(names, { adds: true }).toMarkdown();
        expect(blockMarkers(markdown)).toEqual(blockMarkers(plain));
      }),
    );
  });
});

describe('toMermaid() with untrusted names', () => {
  it('folds every line break and escapes HTML in labels', () => {
    const diagram = pipeline('p')
      .transform('a\rb', (v) => v)
      .transform('c\r\nd\ne', (v) => v, { boundary: '<b>x</b>' })
      .build()
      .toMermaid();
    expect(diagram).not.toContain('\r');
    expect(diagram).toContain('s0["transform: a b"]');
    expect(diagram).toContain('s1["transform: c d e"]');
    expect(diagram).toContain('subgraph b1["#lt;b#gt;x#lt;/b#gt; boundary"]');
  });

  it('property: one line per node whatever the names', () => {
    const plain = stages(['a', 'b', 'c']).toMermaid();
    fc.assert(
      fc.property(names(3), (names) => {
        const diagram = stages(names).toMermaid();
        expect(lines(diagram)).toHaveLength(lines(plain).length);
        for (const quoted of diagram.match(/"[^"]*"/g) ?? []) expect(quoted).not.toMatch(/[<>]/);
      }),
    );
  });
});
