/**
 * docs/validation.md stays runnable: its TypeScript blocks are joined into one module (imports
 * merged, `flowproof/*` mapped to the sources), executed, and the diagram and step docs the page
 * shows are compared with what the pipeline it builds generates.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it, vi } from 'vitest';
import type { Pipeline } from './index.js';

const root = new URL('../../', import.meta.url);
const doc = readFileSync(new URL('docs/validation.md', root), 'utf8');
const sources: Record<string, string> = {
  flowproof: 'src/index.ts',
  'flowproof/validation': 'src/validation/index.ts',
  'flowproof/adapters/sqlite': 'src/adapters/sqlite/index.ts',
  'flowproof/adapters/postgres': 'src/adapters/postgres/index.ts',
};
const IMPORT = /^import\s+(type\s+)?(?:(\w+)\s*,?\s*)?(?:\{([^}]*)\})?\s*from\s+'([^']+)';\n/gm;

/** The page's ```ts blocks as one module, with one merged import per module. */
function snippetModule(markdown: string): string {
  const blocks = [...markdown.matchAll(/^```ts\n([\s\S]*?)^```$/gm)].map((m) => m[1] ?? '');
  const named = new Map<string, Set<string>>();
  const defaults = new Map<string, string>();
  const body = blocks
    .map((block) =>
      block.replace(
        IMPORT,
        (_, typeOnly: string | undefined, defaultName: string | undefined, names: string, from) => {
          if (defaultName) defaults.set(from, defaultName);
          const set = named.get(from) ?? new Set<string>();
          for (const name of (names ?? '').split(',').map((n) => n.trim())) {
            if (name) set.add(typeOnly ? `type ${name}` : name);
          }
          named.set(from, set);
          return '';
        },
      ),
    )
    .join('\n');
  const imports = [...named.keys()].map((from) => {
    const target = sources[from] ? fileURLToPath(new URL(sources[from], root)) : from;
    const names = [...(named.get(from) ?? [])];
    const parts = [defaults.get(from), names.length ? `{ ${names.join(', ')} }` : undefined];
    return `import ${parts.filter(Boolean).join(', ')} from ${JSON.stringify(target)};`;
  });
  return `${imports.join('\n')}\n${body}\nexport { createOrder };\n`;
}

const dir = new URL(`.tmp/docs-${process.pid}/`, root);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('docs/validation.md', () => {
  it('runs every TypeScript block, and shows what the pipeline generates', async () => {
    mkdirSync(dir, { recursive: true });
    const file = new URL('validation-snippets.ts', dir);
    writeFileSync(file, snippetModule(doc));
    const log = vi.spyOn(console, 'log').mockImplementation(() => {});
    let loaded: { createOrder: Pipeline<unknown, unknown> };
    try {
      loaded = await import(pathToFileURL(fileURLToPath(file)).href);
    } finally {
      log.mockRestore();
    }
    const mermaid = /```mermaid\n([\s\S]*?)```/.exec(doc)?.[1];
    expect(mermaid).toBe(loaded.createOrder.toMermaid());
    const step = /```markdown\n([\s\S]*?)```/.exec(doc)?.[1];
    expect(step).toBeTruthy();
    expect(loaded.createOrder.toMarkdown()).toContain(step);
  });
});
