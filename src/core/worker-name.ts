/**
 * The default name of a worker in leases, claims and logs (a saga runner, an outbox relay, a
 * stream consumer): which host and process it runs in, and a suffix that keeps two workers of one
 * process apart.
 */
import { hostname } from 'node:os';
import { createId } from './ids.js';

/** `<host>/<pid>/<random>`, distinct per call. */
export function defaultWorkerName(): string {
  return `${hostname()}/${process.pid}/${createId().slice(-8)}`;
}
