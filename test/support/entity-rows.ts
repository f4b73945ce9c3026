/**
 * A ready-made entity and its `@create` history row, for tests that call an entity store's port
 * directly (without the entities module above it).
 */
import type { EntityInsert } from '../../src/state-machine/entities/entity-store.js';

const AT = '2026-01-01T00:00:00.000Z';

/** What `EntityStore.insert` takes to create entity `id` of `machineId`, at version 1. */
export function entityInsert(machineId: string, id: string, data: unknown = {}): EntityInsert {
  return {
    entity: {
      machineId,
      id,
      machineVersion: 1,
      state: 'new',
      stateVersion: 1,
      data,
      timer: null,
      createdAt: AT,
      updatedAt: AT,
    },
    history: {
      machineId,
      entityId: id,
      stateVersion: 1,
      machineVersion: 1,
      from: null,
      to: 'new',
      event: '@create',
      payload: data,
      actor: null,
      correlationId: null,
      at: AT,
    },
  };
}
