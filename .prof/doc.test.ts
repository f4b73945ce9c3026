import { it } from 'vitest';
import { writeSnippetModule } from '../test/support/doc-snippets.js';
it('runs', async () => {
  const file = writeSnippetModule(process.env.PAGE ?? 'docs/lineage.md');
  await import(file);
}, 60_000);
