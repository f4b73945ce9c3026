/**
 * A data-map location for crypto-shredding: destroying the subject's data key makes everything
 * encrypted for them unreadable at once, wherever copies live (replicas, exports, backups), which
 * is how an erasure reaches data that cannot be deleted row by row.
 */
import { describeValue } from '../core/errors.js';
import { readable, readObject } from '../core/options.js';
import type { DataLocation } from './data-map.js';

/** The part of field encryption shredding uses: `createFieldEncryption(...)` fits. */
export interface ShreddableEncryption {
  /** Destroys the subject's data key. */
  shred(
    subject: string,
    options?: { readonly reason?: string },
  ): Promise<{
    /** Whether the key was destroyed before this call. */
    readonly alreadyShredded: boolean;
  }>;
  /** Whether the subject's data key is destroyed. */
  isShredded(subject: string): Promise<boolean>;
}

/** Options of {@link subjectKeyLocation}. */
export interface SubjectKeyLocationOptions {
  /** The location's name. @default 'subject-data-key' */
  readonly name?: string;
  /** The tree's group. @default 'Encryption Keys' */
  readonly group?: string;
  /** The tree's label. @default 'Subject data key (crypto-shredding)' */
  readonly label?: string;
  /** Locations that must be done first (shred last, after the rows that need the key to be read). */
  readonly after?: readonly string[];
  /** The data type, for holds. */
  readonly dataType?: string;
}

/**
 * A location whose erasure destroys the subject's data key (`encryption.shred`), verified with
 * `encryption.isShredded`. Its receipt says `shredded`.
 *
 * @throws TypeError naming a bad argument.
 *
 * @example
 * ```ts
 * dataMap.add(subjectKeyLocation(encryption, { after: ['users', 'orders'] }));
 * ```
 */
export function subjectKeyLocation(
  encryption: ShreddableEncryption,
  options: SubjectKeyLocationOptions = {},
): DataLocation {
  const usable = readable(
    'encryption',
    () =>
      typeof encryption === 'object' &&
      encryption !== null &&
      typeof encryption.shred === 'function' &&
      typeof encryption.isShredded === 'function',
  );
  if (!usable) {
    throw new TypeError(
      `encryption must have shred() and isShredded() (createFieldEncryption's result), got ${describeValue(encryption)}`,
    );
  }
  const o = readObject(options, 'options', 'name group label after dataType');
  return {
    name: (o.name as string | undefined) ?? 'subject-data-key',
    kind: 'other',
    group: (o.group as string | undefined) ?? 'Encryption Keys',
    label: (o.label as string | undefined) ?? 'Subject data key (crypto-shredding)',
    action: 'shred',
    ...(o.after === undefined ? {} : { after: o.after as readonly string[] }),
    ...(o.dataType === undefined ? {} : { dataType: o.dataType as string }),
    erase: async ({ subject, requestId }) => {
      const receipt = await encryption.shred(subject, { reason: `erasure request ${requestId}` });
      return { affected: receipt.alreadyShredded ? 0 : 1 };
    },
    verify: async ({ subject }) => ((await encryption.isShredded(subject)) ? 0 : 1),
  };
}
