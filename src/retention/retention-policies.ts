// TEMPORARY stand-in for the policies helper's file (contract shapes only), deleted before merge.
import {
  addRetentionDuration,
  parseRetentionDuration,
  type RetentionDuration,
  type RetentionPeriod,
  retentionCutoff,
} from './retention-durations.js';
export interface RetentionPolicy {
  readonly dataType: string;
  readonly keep?: RetentionPeriod;
  readonly deleteAfter?: RetentionDuration;
  readonly anonymizeAfter?: RetentionDuration;
  readonly anonymizePii: boolean;
  readonly deleteOnConsentWithdrawal: boolean;
  readonly cannotDelete: boolean;
  readonly legalBasis?: string;
  readonly anchor?: string;
  readonly erasureDeadline: RetentionDuration;
  readonly inactiveAfter?: RetentionDuration;
  readonly deleteAfterInactive?: RetentionDuration;
}
export interface RetentionPolicies {
  readonly dataTypes: readonly string[];
  get(dataType: string): RetentionPolicy | undefined;
  deleteDueAt(dataType: string, recordedAt: Date | number): Date | undefined;
  anonymizeDueAt(dataType: string, recordedAt: Date | number): Date | undefined;
  deleteCutoff(dataType: string, now: Date | number): Date | undefined;
  anonymizeCutoff(dataType: string, now: Date | number): Date | undefined;
  readonly consentWithdrawalTypes: readonly string[];
  toJSON(): unknown;
}
export function definePolicies(document: unknown): RetentionPolicies {
  const map = document as Record<string, Record<string, unknown>>;
  const d = (v: unknown) => (typeof v === 'string' ? parseRetentionDuration(v) : undefined);
  const rules = new Map(
    Object.entries(map).map(([type, r]) => {
      const keep = r.keep === 'indefinite' ? undefined : d(r.keep);
      const del = r.cannotDelete === true ? undefined : (d(r.deleteAfter) ?? keep);
      return [type, { keep, del, anon: d(r.anonymizeAfter), r }] as const;
    }),
  );
  const max = (a: Date, b: Date | undefined) => (b === undefined || a > b ? a : b);
  const min = (a: Date, b: Date | undefined) => (b === undefined || a < b ? a : b);
  return {
    dataTypes: [...rules.keys()],
    get: (type) => {
      const x = rules.get(type);
      return x === undefined
        ? undefined
        : ({ dataType: type, ...(x.anon ? { anonymizeAfter: x.anon } : {}) } as RetentionPolicy);
    },
    deleteDueAt(type, at) {
      const x = rules.get(type);
      if (x?.del === undefined) return undefined;
      return max(addRetentionDuration(at, x.del), x.keep && addRetentionDuration(at, x.keep));
    },
    anonymizeDueAt(type, at) {
      const x = rules.get(type);
      return x?.anon === undefined ? undefined : addRetentionDuration(at, x.anon);
    },
    deleteCutoff(type, now) {
      const x = rules.get(type);
      if (x?.del === undefined) return undefined;
      return min(retentionCutoff(now, x.del), x.keep && retentionCutoff(now, x.keep));
    },
    anonymizeCutoff(type, now) {
      const x = rules.get(type);
      return x?.anon === undefined ? undefined : retentionCutoff(now, x.anon);
    },
    consentWithdrawalTypes: [],
    toJSON: () => map,
  };
}
export declare function parsePolicies(
  text: string,
  options?: { readonly format?: 'yaml' | 'json' },
): RetentionPolicies;
