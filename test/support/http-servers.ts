/**
 * Real HTTP servers for tests: `listen` starts one on a free port of 127.0.0.1 and closes it (and
 * its open connections) after the test.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach } from 'vitest';

const closers: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((close) => close()));
});

/** Runs `close` after the current test. */
export function closeAfterTest(close: () => Promise<unknown>): void {
  closers.push(close);
}

/** Starts `server` on a free port and returns its base URL; it is closed after the test. */
export async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closeAfterTest(
    () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(resolve);
      }),
  );
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}
