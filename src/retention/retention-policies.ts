// TEMPORARY stand-in for the policies helper's file (contract shapes only), deleted before merge.
import type { RetentionDuration, RetentionPeriod } from './retention-durations.js';
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
export declare function definePolicies(document: unknown): RetentionPolicies;
export declare function parsePolicies(text: string, options?: { readonly format?: 'yaml' | 'json' }): RetentionPolicies;
