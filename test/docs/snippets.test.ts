/**
 * Every TypeScript snippet in README.md and docs/ compiles under the project's strict settings and
 * runs. Each page's blocks become one module (test/support/doc-snippets.ts); what the page assumes
 * the application has comes from test/docs/preludes/<page>.ts.
 *
 * Unused locals are allowed: a snippet may show a value it does not use, as guides do. Everything
 * `strict` checks is checked.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import ts from 'typescript';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { pagesWithSnippets, writeSnippetModule } from '../support/doc-snippets.js';

const pages = pagesWithSnippets();
const modules = new Map(pages.map((page) => [page, writeSnippetModule(page)]));

function compilerOptions(): ts.CompilerOptions {
  const configFile = ts.findConfigFile(process.cwd(), ts.sys.fileExists, 'tsconfig.json');
  if (!configFile) throw new Error('tsconfig.json not found');
  const { config } = ts.readConfigFile(configFile, ts.sys.readFile);
  const parsed = ts.parseJsonConfigFileContent(config, ts.sys, process.cwd());
  return { ...parsed.options, noUnusedLocals: false, noUnusedParameters: false, noEmit: true };
}

describe('documentation snippets', () => {
  it('compile under strict TypeScript', () => {
    const program = ts.createProgram([...modules.values()], compilerOptions());
    const problems = [...modules.entries()].flatMap(([page, file]) => {
      const source = program.getSourceFile(file);
      if (!source) return [`${page}: not compiled`];
      return [
        ...program.getSyntacticDiagnostics(source),
        ...program.getSemanticDiagnostics(source),
      ].map((diagnostic) => {
        const { line } = source.getLineAndCharacterOfPosition(diagnostic.start ?? 0);
        const text = ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n');
        return `${page} (generated ${file}:${line + 1}): ${text}`;
      });
    });
    expect(problems).toEqual([]);
  }, 120_000);

  // The snippets may create files (README's `app.db`): each page runs in a fresh directory.
  const cwd = process.cwd();
  const dirs: string[] = [];
  afterAll(() => {
    process.chdir(cwd);
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  for (const [page, file] of modules) {
    it(`${page} runs`, async () => {
      const dir = mkdtempSync(join(tmpdir(), 'flowproof-doc-'));
      dirs.push(dir);
      process.chdir(dir);
      const log = vi.spyOn(console, 'log').mockImplementation(() => {});
      try {
        await import(pathToFileURL(file).href);
      } finally {
        log.mockRestore();
        process.chdir(cwd);
      }
    });
  }
});
