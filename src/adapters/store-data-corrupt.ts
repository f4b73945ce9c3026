/**
 * The one error for stored data a store cannot decode, shared by every adapter that parses what
 * it reads back (JSON columns, Redis record strings).
 *
 * @internal
 */
import { FlowproofError, type FlowproofErrorDetailsMap } from '../core/errors.js';

/** Where an undecodable value was read: which store, which record, which field. */
export type StoredValueLocation = FlowproofErrorDetailsMap['STORE_DATA_CORRUPT'];

/**
 * `STORE_DATA_CORRUPT` for a stored value that cannot be decoded: written or changed outside
 * flowproof (a manual edit, another program). The value itself stays out of the message and
 * details (it may hold personal data); `cause` keeps the parser's error.
 */
export function storeDataCorrupt(where: StoredValueLocation, cause?: unknown): FlowproofError {
  const record = where.machineId === undefined ? where.id : `${where.machineId}/${where.id}`;
  return new FlowproofError(
    'STORE_DATA_CORRUPT',
    `The ${where.component} store holds a record it cannot decode (${record}, field ${where.field}); it was written or changed outside flowproof: repair or delete it`,
    { ...(cause === undefined ? {} : { cause }), details: { ...where } },
  );
}

/** Parses JSON text read from a store, or throws {@link storeDataCorrupt} naming the record. */
export function parseStoredJson(text: string, where: StoredValueLocation): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw storeDataCorrupt(where, error);
  }
}
