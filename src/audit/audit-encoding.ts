/**
 * The byte-exact formats audit records and checkpoints are hashed and signed over. Every store
 * and every verifier — including one written in another language from an NDJSON export — uses
 * these, so they are specified here once:
 *
 * - a record's **body** is the JSON object
 *   `{"v":1,"chain":<chain>,"seq":<seq>,"at":<ms>,<content>}`, where `<chain>` is the chain as a
 *   JSON string, `<seq>` and `<ms>` are decimal integers and `<content>` the entry's members as
 *   canonical JSON (keys of nested values sorted, no whitespace);
 * - a record's **hash** is the lowercase hex SHA-256 of the UTF-8 text
 *   `<previous record's hash> + "\n" + <body>` (the first record of a chain links to 64 zeros);
 * - a **checkpoint** is signed over the UTF-8 JSON text
 *   `["flowproof.audit.checkpoint/1",<chain>,<seq>,<hash>,<signedAt>,<keyId>,<algorithm>]`.
 */
import { hash as digest } from 'node:crypto';
import type { AuditCheckpoint } from './audit-store.js';

/** The version member of every body this code writes. */
export const AUDIT_BODY_VERSION = 1;

/** The start of every body of `chain`, up to its sequence number. */
export function auditBodyPrefix(chain: string): string {
  return `{"v":${AUDIT_BODY_VERSION},"chain":${JSON.stringify(chain)},"seq":`;
}

/** A record's body: its position, its time and its content (see the module's notes). */
export function auditRecordBody(
  chain: string,
  seq: number,
  recordedAt: number,
  content: string,
): string {
  return `${auditBodyPrefix(chain)}${seq},"at":${recordedAt},${content}}`;
}

/** A record's hash: SHA-256 (hex) of the previous hash, a line feed and the body. */
export function auditRecordHash(prevHash: string, body: string): string {
  return digest('sha256', `${prevHash}\n${body}`, 'hex');
}

/**
 * The sequence number and time a body states, read without parsing the whole body; `undefined`
 * when it does not start as a body of `chain` does.
 */
export function auditBodyPosition(
  body: string,
  prefix: string,
):
  | {
      /** The sequence number the body states. */
      readonly seq: number;
      /** The time the body states. */
      readonly recordedAt: number;
    }
  | undefined {
  if (!body.startsWith(prefix)) return undefined;
  const seqEnd = body.indexOf(',"at":', prefix.length);
  if (seqEnd < 0) return undefined;
  const atEnd = body.indexOf(',', seqEnd + 6);
  if (atEnd < 0) return undefined;
  const seq = decimal(body, prefix.length, seqEnd);
  const recordedAt = decimal(body, seqEnd + 6, atEnd);
  return seq === undefined || recordedAt === undefined ? undefined : { seq, recordedAt };
}

/** The decimal integer `text.slice(start, end)` spells (no sign, no leading zero), or undefined. */
function decimal(text: string, start: number, end: number): number | undefined {
  const length = end - start;
  if (length < 1 || length > 16 || (length > 1 && text.charCodeAt(start) === 48)) return undefined;
  let value = 0;
  for (let i = start; i < end; i++) {
    const digit = text.charCodeAt(i) - 48;
    if (digit < 0 || digit > 9) return undefined;
    value = value * 10 + digit;
  }
  return value;
}

/** The fields of a checkpoint its signature covers. */
export type AuditCheckpointStatement = Omit<AuditCheckpoint, 'signature'>;

/** The text a checkpoint's signature covers (see the module's notes). */
export function auditCheckpointMessage(checkpoint: AuditCheckpointStatement): string {
  return JSON.stringify([
    'flowproof.audit.checkpoint/1',
    checkpoint.chain,
    checkpoint.seq,
    checkpoint.hash,
    checkpoint.signedAt,
    checkpoint.keyId,
    checkpoint.algorithm,
  ]);
}
