/**
 * Turns a guide's ```ts blocks into one runnable, type-checkable module, so that every snippet a
 * user may copy is compiled and executed by the test suite.
 *
 * The blocks are joined in page order (later blocks use what earlier ones declared, as a reader
 * does), their imports merged into one import per module, and `flowproof` / `flowproof/<subpath>`
 * mapped to the sources. What a guide assumes the application already has (a `pool`, a
 * `processOrder` function, an `OrderInput` type) comes from the guide's prelude,
 * `test/docs/preludes/<guide>.ts`: each of its exports that the snippets mention is imported.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Where generated modules go (git-ignored). Inside the repository, so `node_modules` resolves. */
export const docModulesDir = join(root, '.tmp', 'doc-snippets');

/** The pages whose TypeScript blocks are checked: README.md and every guide in docs/. */
export function pagesWithSnippets(): string[] {
  const guides = readdirSync(join(root, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .sort()
    .map((name) => `docs/${name}`);
  return ['README.md', ...guides].filter(
    (page) => snippetBlocks(readFileSync(join(root, page), 'utf8')).length > 0,
  );
}

/** The contents of the page's ```ts blocks, in order. */
export function snippetBlocks(markdown: string): string[] {
  return [...markdown.matchAll(/^```ts\n([\s\S]*?)^```$/gm)].map((match) => match[1] ?? '');
}

/** `docs/state-machine.md` → `state-machine`, `README.md` → `readme`. */
export function pageName(page: string): string {
  return basename(page, '.md').toLowerCase();
}

/** The prelude a page's snippets may lean on, when it has one. */
export function preludeFile(page: string): string {
  return join(root, 'test', 'docs', 'preludes', `${pageName(page)}.ts`);
}

const IMPORT =
  /^import\s+(type\s+)?(?:(\w+)\s*,?\s*)?(?:\*\s+as\s+(\w+)\s*)?(?:\{([^}]*)\})?\s*from\s+'([^']+)';[ \t]*\n/gm;
const EXPORTED =
  /^export\s+(?:declare\s+)?(?:async\s+)?(const|let|function\*?|class|interface|type|enum)\s+(\w+)/gm;

/**
 * Writes the page's snippets as one module under {@link docModulesDir} and returns its path.
 * Module specifiers are relative `.js` paths, as the project's own sources use them, so both
 * `tsc` (NodeNext) and vitest resolve them to the TypeScript sources.
 */
export function writeSnippetModule(page: string): string {
  mkdirSync(docModulesDir, { recursive: true });
  const file = join(docModulesDir, `${pageName(page)}.ts`);
  const blocks = snippetBlocks(readFileSync(join(root, page), 'utf8'));
  const named = new Map<string, Set<string>>();
  const defaults = new Map<string, string>();
  const namespaces = new Map<string, string>();
  const body = blocks
    .map((block) =>
      block.replace(
        IMPORT,
        (
          _match,
          typeOnly: string | undefined,
          def: string | undefined,
          ns: string | undefined,
          names: string | undefined,
          from: string,
        ) => {
          if (def) defaults.set(from, def);
          if (ns) namespaces.set(from, ns);
          const set = named.get(from) ?? new Set<string>();
          for (const name of (names ?? '').split(',').map((n) => n.trim())) {
            if (name) set.add(typeOnly && !name.startsWith('type ') ? `type ${name}` : name);
          }
          named.set(from, set);
          return '';
        },
      ),
    )
    .join('\n');

  const specifier = (from: string): string => {
    const source = sourceOf(from);
    return source ? toRelative(file, source) : from;
  };
  const imports: string[] = [];
  for (const from of new Set([...named.keys(), ...defaults.keys(), ...namespaces.keys()])) {
    const names = [...(named.get(from) ?? [])];
    const ns = namespaces.get(from);
    if (ns) imports.push(`import * as ${ns} from ${JSON.stringify(specifier(from))};`);
    const parts = [defaults.get(from), names.length > 0 ? `{ ${names.join(', ')} }` : undefined];
    if (parts.some(Boolean)) {
      imports.push(
        `import ${parts.filter(Boolean).join(', ')} from ${JSON.stringify(specifier(from))};`,
      );
    }
  }

  const prelude = preludeFile(page);
  if (existsSync(prelude)) {
    const used = [...readFileSync(prelude, 'utf8').matchAll(EXPORTED)]
      .filter(([, , name]) => new RegExp(`\\b${name}\\b`).test(body))
      .map(([, kind, name]) => (kind === 'interface' || kind === 'type' ? `type ${name}` : name));
    if (used.length > 0) {
      imports.unshift(
        `import { ${used.join(', ')} } from ${JSON.stringify(toRelative(file, prelude))};`,
      );
    }
  }

  writeFileSync(
    file,
    `// Generated from ${page} by test/support/doc-snippets.ts: edit the page, not this file.\n${imports.join('\n')}\n${body}\nexport {};\n`,
  );
  return file;
}

/** `flowproof` → src/index.ts, `flowproof/x/y` → src/x/y/index.ts; other specifiers stay. */
function sourceOf(from: string): string | undefined {
  if (from === 'flowproof') return join(root, 'src', 'index.ts');
  if (from.startsWith('flowproof/'))
    return join(root, 'src', from.slice('flowproof/'.length), 'index.ts');
  return undefined;
}

function toRelative(fromFile: string, target: string): string {
  const path = relative(dirname(fromFile), target).replace(/\\/g, '/').replace(/\.ts$/, '.js');
  return path.startsWith('.') ? path : `./${path}`;
}
