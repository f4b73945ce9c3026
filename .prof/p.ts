import { createMemoryBackend, createMemoryLineageStore } from '/work/main/src/adapters/memory/index.js';
import { createLineage } from '/work/main/src/lineage/index.js';
import { pipeline } from '/work/main/src/validation/index.js';
import { z } from 'zod';
const Req = z.object({ userId: z.string(), items: z.array(z.object({ sku: z.string(), qty: z.number() })), country: z.string() });
const store = createMemoryLineageStore({ backend: createMemoryBackend() });
await store.migrate();
const lineage = createLineage({ store });
const mode = process.argv[2];
const hook = mode === 'hook' ? () => {} : mode === 'on' ? lineage.onStage : undefined;
const p = pipeline('x', hook ? { onStage: hook } : {})
  .validate('parse', Req, { boundary: 'client' })
  .transform('n', (o) => ({ ...o, country: o.country.toUpperCase() }))
  .enrich('price', (o) => ({ ...o, totals: { subtotal: 1, total: 2 } }), { adds: ['totals'] })
  .transform('t', (o) => o)
  .build();
const req = { userId: 'u', items: [{ sku: 'a', qty: 1 }, { sku: 'b', qty: 2 }], country: 'de' };
for (let round = 0; round < 5; round++) {
  const t = performance.now();
  for (let i = 0; i < 20000; i++) { p.runSync(req); if (i % 100 === 99) await lineage.flush(); }
  await lineage.flush();
  console.log(mode, ((performance.now() - t) / 20000 * 1000).toFixed(2), 'µs/run');
}
