/**
 * The file transport: appends OpenLineage events to a file as NDJSON (one JSON event per line),
 * for local development, tests, or a log shipper that forwards the file.
 */
import { appendFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { FlowproofError } from '../../core/errors.js';
import { assertKnownKeys, assertOptionsObject } from '../../core/options.js';
import { processSingleton } from '../../core/process-singleton.js';
import { assertText } from './openlineage-event.js';
import type { OpenLineageTransport } from './openlineage-transport.js';

/** Options of {@link createFileTransport}. */
export interface FileTransportOptions {
  /** The file to append to; created when missing. */
  readonly path: string;
}

/**
 * The last write to each file, by absolute path: every transport of the process (of any copy of
 * flowproof) appends after it, so two emitters writing the same file never interleave a line.
 */
const tails = processSingleton(
  'lineage.file-transport.tails',
  1,
  () => new Map<string, Promise<void>>(),
);

/**
 * A transport that appends each batch of events to `path`, one JSON event per line, in one write.
 * Writes to the same file from any number of transports in the process are queued one after the
 * other. A write that fails throws `LINEAGE_EXPORT_FAILED` (`details.transport: 'file'`), and the
 * emitter retries it.
 *
 * @throws TypeError naming the option when an option is invalid.
 * @example
 * ```ts
 * const emitter = createOpenLineageEmitter({
 *   namespace: 'checkout',
 *   transport: createFileTransport({ path: 'lineage.ndjson' }),
 * });
 * ```
 */
export function createFileTransport(options: FileTransportOptions): OpenLineageTransport {
  assertOptionsObject(options, 'options');
  assertKnownKeys(options, ['path'], 'options');
  assertText(options.path, 'options.path');
  const path = resolve(options.path);
  return {
    name: 'file',
    send(events) {
      if (events.length === 0) return Promise.resolve();
      const text = events.map((event) => `${JSON.stringify(event)}\n`).join('');
      const write = (tails.get(path) ?? Promise.resolve()).then(() =>
        appendFile(path, text, { flag: 'a' }),
      );
      const tail = write.catch(() => undefined);
      tails.set(path, tail);
      // Forget the file once nothing is queued on it, so the map does not grow with every path.
      void tail.then(() => {
        if (tails.get(path) === tail) tails.delete(path);
      });
      return write.catch((error: unknown) => {
        throw new FlowproofError(
          'LINEAGE_EXPORT_FAILED',
          'The OpenLineage file could not be written',
          {
            cause: error,
            details: { transport: 'file' },
          },
        );
      });
    },
  };
}
