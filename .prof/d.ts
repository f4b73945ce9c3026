import { derive, sourced } from '../src/lineage/index.js';
const subtotal = sourced(125, { source: 'a' }); const taxRate = sourced(0.0875, { source: 'b' }); const shipping = sourced(12.5, { source: 'c' });
const f = (v: { subtotal: number; taxRate: number; shipping: number }) => v.subtotal * (1 + v.taxRate) + v.shipping;
let s = 0;
for (let r = 0; r < 6; r++) {
  let t = performance.now();
  for (let i = 0; i < 1e6; i++) s += f({ subtotal: subtotal.value, taxRate: taxRate.value, shipping: shipping.value });
  const plain = performance.now() - t;
  t = performance.now();
  for (let i = 0; i < 1e6; i++) s += derive('order-total', 'v2.3.1', { subtotal, taxRate, shipping }, f).value;
  const d = performance.now() - t;
  t = performance.now();
  for (let i = 0; i < 1e5; i++) s += derive('order-total', 'v2.3.1', { subtotal, taxRate, shipping }, f).provenance.kind.length;
  const p = (performance.now() - t) * 10;
  console.log(`plain ${plain.toFixed(0)} ns/op-ish, derive ${d.toFixed(0)}, derive+prov ${p.toFixed(0)} (ns per call)`);
}
console.log(s > 0);
