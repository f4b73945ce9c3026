/**
 * The audit module's errors, made in one place for the log and the stores.
 *
 * @internal
 */
import { FlowproofError } from '../core/errors.js';

/** `AUDIT_ARCHIVE_REFUSED`: the archive boundary `throughSeq` of `chain` is refused for `reason`. */
export function archiveRefused(chain: string, throughSeq: number, reason: string): FlowproofError {
  return new FlowproofError(
    'AUDIT_ARCHIVE_REFUSED',
    `cannot archive chain ${JSON.stringify(chain)} through record ${throughSeq}: ${reason}`,
    { details: { chain, throughSeq, reason } },
  );
}

/** `AUDIT_CHAIN_BROKEN` for the first break of `chain`. */
export function chainBroken(
  chain: string,
  brk: { readonly kind: string; readonly seq: number; readonly message: string },
): FlowproofError {
  return new FlowproofError(
    'AUDIT_CHAIN_BROKEN',
    `audit chain ${JSON.stringify(chain)} is broken: ${brk.message} (${brk.kind})`,
    { details: { chain, seq: brk.seq, kind: brk.kind } },
  );
}
