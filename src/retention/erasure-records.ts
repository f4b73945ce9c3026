/**
 * The public shapes of erasure requests and their receipts, and their stored JSON forms. Stored
 * rows keep epoch milliseconds and JSON text; what users read has ISO 8601 times and parsed values.
 */
import type { AuditActor } from '../audit/audit-entry.js';
import { toUtcIso } from '../core/clock.js';
import type { LocationAction } from './data-map.js';
import type {
  ErasureLocationRow,
  ErasureLocationStatus,
  ErasureRequestRow,
  ErasureStatus,
} from './retention-store.js';

/**
 * How a location ended.
 *
 * - `erased`: the subject's data was deleted (`delete`).
 * - `anonymized`: the listed fields were overwritten; the records stay (orders kept for tax).
 * - `shredded`: the subject's data key was destroyed: what it encrypted can never be read.
 * - `retained`: kept on purpose, under the location's stated reason (an audit log that cannot be
 *   deleted).
 * - `unsupported`: the store cannot erase (a backup, a vendor without a deletion API); the reason
 *   says so. Never reported as erased: the request ends `partial`.
 */
export type ErasureOutcomeKind = 'erased' | 'anonymized' | 'shredded' | 'retained' | 'unsupported';

/** Proof of what happened to one location of one erasure request. Written once. */
export interface ErasureReceipt {
  /** The erasure request. */
  readonly requestId: string;
  /** The location's name in the data map. */
  readonly location: string;
  /** The action the data map asked for. */
  readonly action: LocationAction;
  /** How it ended. */
  readonly outcome: ErasureOutcomeKind;
  /** Rows or objects deleted, anonymized or shredded, as the handler counted them; `null` when it did not say. */
  readonly affected: number | null;
  /**
   * `true` when the location's verification counted nothing left of the subject after the handler
   * ran; `null` when the location has no verification (or nothing was erased).
   */
  readonly verified: boolean | null;
  /** Why data was retained or could not be erased; `null` otherwise. */
  readonly reason: string | null;
  /** The handler's note (no personal data), or `null`. */
  readonly detail: string | null;
  /** Attempts the erasure took (1 when it worked at once). */
  readonly attempts: number;
  /** When the receipt was written (ISO 8601, UTC). */
  readonly settledAt: string;
  /** The audit record that chains the receipt (`<chain>:<seq>`). */
  readonly auditRecordId: string;
}

/** A location's extension of the deadline, as recorded. */
export interface DeadlineExtension {
  /** The deadline before (ISO 8601). */
  readonly from: string;
  /** The deadline after (ISO 8601). */
  readonly to: string;
  /** Why (the regulator's words: "complex request", "many requests"). */
  readonly reason: string;
  /** When it was granted (ISO 8601). */
  readonly at: string;
}

/** Where one location of a request stands. */
export interface ErasureLocationReport {
  /** The location's name. */
  readonly location: string;
  /** Where it stands. */
  readonly status: ErasureLocationStatus;
  /** Its receipt, once `done`. */
  readonly receipt: ErasureReceipt | null;
  /** Why its erasure failed for good (`failed`): code and message. */
  readonly error: {
    /** The error's code (`RETENTION_LOCATION_FAILED`, `RETENTION_DATA_REMAINS`…). */
    readonly code: string;
    /** Its message. */
    readonly message: string;
  } | null;
}

/** An erasure request as {@link Retention.getErasure} and the other calls report it. */
export interface ErasureRequest {
  /** The request's id (a ULID). */
  readonly id: string;
  /** The data subject's id. */
  readonly subject: string;
  /** The data types it covers; empty for everything the data map holds. */
  readonly dataTypes: readonly string[];
  /** Where it came from. */
  readonly source: string;
  /** Why, or `null`. */
  readonly reason: string | null;
  /** Who asked, or `null`. */
  readonly actor: AuditActor | null;
  /** Where it stands. */
  readonly status: ErasureStatus;
  /** When it was received (ISO 8601, UTC). */
  readonly receivedAt: string;
  /** The end of the grace period: erasure starts then (ISO 8601). */
  readonly eraseAfter: string;
  /** The deadline (ISO 8601). */
  readonly dueAt: string;
  /** The extensions granted, oldest first. */
  readonly extensions: readonly DeadlineExtension[];
  /** When it ended (ISO 8601), or `null`. */
  readonly finishedAt: string | null;
}

/** A request with each location's progress and receipt. */
export interface ErasureReport extends ErasureRequest {
  /** Every location of the request, in name order. */
  readonly locations: readonly ErasureLocationReport[];
}

/** The scope column's form of a list of data types: sorted, de-duplicated, comma-joined. */
export function scopeOf(dataTypes: readonly string[] | undefined): string {
  if (dataTypes === undefined || dataTypes.length === 0) return '';
  return [...new Set(dataTypes)].sort().join(',');
}

/** The data types of a scope column. */
export function dataTypesOf(scope: string): readonly string[] {
  return scope === '' ? [] : scope.split(',');
}

/** A stored request as users see it. */
export function toErasureRequest(row: ErasureRequestRow): ErasureRequest {
  return Object.freeze({
    id: row.id,
    subject: row.subject,
    dataTypes: Object.freeze([...dataTypesOf(row.scope)]),
    source: row.source,
    reason: row.reason,
    actor: row.actor === null ? null : (JSON.parse(row.actor) as AuditActor),
    status: row.status,
    receivedAt: toUtcIso(new Date(row.receivedAt)),
    eraseAfter: toUtcIso(new Date(row.eraseAfter)),
    dueAt: toUtcIso(new Date(row.dueAt)),
    extensions: Object.freeze(
      row.extensions === null ? [] : (JSON.parse(row.extensions) as DeadlineExtension[]),
    ),
    finishedAt: row.finishedAt === null ? null : toUtcIso(new Date(row.finishedAt)),
  });
}

/** A stored location as users see it. */
export function toLocationReport(row: ErasureLocationRow): ErasureLocationReport {
  return Object.freeze({
    location: row.location,
    status: row.status,
    receipt: row.receipt === null ? null : (JSON.parse(row.receipt) as ErasureReceipt),
    error:
      row.error === null
        ? null
        : (JSON.parse(row.error) as { readonly code: string; readonly message: string }),
  });
}
