/** Lineage records for store tests. */
import { createId } from '../../src/core/ids.js';
import type { LineageAppend } from '../../src/lineage/lineage-store.js';

/** A `value` record of `order:1`'s `total` under correlation id `c-1`, with `id` (or a new one). */
export function orderTotalRecord(id = createId()): LineageAppend {
  return {
    id,
    kind: 'value',
    entity: 'order:1',
    field: 'total',
    job: null,
    runId: null,
    correlationId: 'c-1',
    causationId: null,
    body: '{}',
  };
}
