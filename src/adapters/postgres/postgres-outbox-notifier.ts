/**
 * Wake-ups for outbox relays over PostgreSQL `LISTEN`/`NOTIFY`, sent **after** the writing
 * transaction committed, never inside it: a `NOTIFY` inside the transaction takes a lock held
 * until commit that serialises every writer (throughput falls to a few hundred commits per
 * second), and it would wake relays for a transaction that may still roll back. Polling stays on:
 * a lost notification only delays a message until the next poll.
 */
import { describeValue } from '../../core/errors.js';
import { assertLogger, type Logger, logEvent, silentLogger } from '../../core/logger.js';
import {
  assertFunction,
  assertKnownKeys,
  assertOptionsObject,
  assertSqlIdentifier,
} from '../../core/options.js';
import type { OutboxNotifier } from '../../outbox/outbox.js';
import type { OutboxWakeUp } from '../../outbox/relay.js';
import type { PostgresBackend } from './postgres-backend.js';

/** The part of a dedicated `pg.Client` that listening needs. */
export interface PostgresListenConnection {
  /** Runs `LISTEN` / `UNLISTEN`. */
  query(sql: string): Promise<unknown>;
  /** `notification` events carry the channel; `error` and `end` mean the connection is gone. */
  on(event: 'notification' | 'error' | 'end', listener: (arg?: unknown) => void): unknown;
  /** Removes a listener added with `on`. */
  removeListener(event: string, listener: (arg?: unknown) => void): unknown;
  /** Closes the connection. */
  end(): Promise<unknown>;
}

/** Options of {@link createPostgresOutboxNotifier}. */
export interface PostgresOutboxNotifierOptions {
  /** Sends `NOTIFY` (outside any transaction of yours: give the backend over your pool). */
  readonly backend: PostgresBackend;
  /**
   * Opens a dedicated, connected client for `LISTEN` (a pooled connection cannot listen: it is
   * handed to others). Needed only by relays (`subscribe`); producers only notify.
   */
  readonly connect?: () => Promise<PostgresListenConnection>;
  /**
   * The channel name.
   * @default 'flowproof_outbox'
   */
  readonly channel?: string;
  /**
   * Wait before listening again after the listening connection was lost, in milliseconds.
   * @default 1000
   */
  readonly reconnectDelayMs?: number;
  /**
   * A pino-compatible logger.
   * @default silent
   */
  readonly logger?: Logger;
}

/** A notifier for `createOutbox({ notifier })` that is also a relay's `wakeUp`. */
export interface PostgresOutboxNotifier extends OutboxNotifier, OutboxWakeUp {
  /** The channel. */
  readonly channel: string;
}

/**
 * Creates a `LISTEN`/`NOTIFY` notifier. Concurrent `notify()` calls are coalesced: at most one
 * `NOTIFY` runs at a time, and one more follows if others were asked for meanwhile.
 *
 * @throws TypeError naming the option when an option is invalid.
 * @example
 * ```ts
 * const notifier = createPostgresOutboxNotifier({
 *   backend,
 *   connect: async () => {
 *     const client = new pg.Client({ connectionString });
 *     await client.connect();
 *     return client;
 *   },
 * });
 * const outbox = createOutbox({ store, topics, notifier });
 * const relay = createOutboxRelay({ store, publisher, wakeUp: notifier });
 * ```
 */
export function createPostgresOutboxNotifier(
  options: PostgresOutboxNotifierOptions,
): PostgresOutboxNotifier {
  assertOptionsObject(options, 'options');
  assertKnownKeys(
    options,
    ['backend', 'connect', 'channel', 'reconnectDelayMs', 'logger'],
    'options',
  );
  assertOptionsObject(options.backend, 'options.backend');
  if (options.backend.kind !== 'postgres') {
    throw new TypeError(
      `options.backend must be a PostgreSQL backend, got ${describeValue(options.backend.kind)}`,
    );
  }
  if (options.connect !== undefined) assertFunction(options.connect, 'options.connect');
  const channel = assertSqlIdentifier(options.channel ?? 'flowproof_outbox', 'options.channel');
  const reconnectDelayMs = options.reconnectDelayMs ?? 1_000;
  if (!Number.isInteger(reconnectDelayMs) || reconnectDelayMs < 0) {
    throw new TypeError(
      `options.reconnectDelayMs must be a non-negative integer, got ${describeValue(reconnectDelayMs)}`,
    );
  }
  const logger = options.logger ?? silentLogger;
  assertLogger(logger, 'options.logger');
  const { backend, connect } = options;

  let running: Promise<void> | undefined;
  let again = false;
  const send = async (): Promise<void> => {
    do {
      again = false;
      await backend.execute('SELECT pg_notify($1, $2)', [channel, '']);
    } while (again);
  };

  return {
    channel,
    notify(): Promise<void> {
      if (running) {
        again = true;
        return running;
      }
      running = send().finally(() => {
        running = undefined;
      });
      return running;
    },
    async subscribe(listener: () => void) {
      if (connect === undefined) {
        throw new TypeError('createPostgresOutboxNotifier needs options.connect to listen');
      }
      let connection: PostgresListenConnection | undefined;
      let stopped = false;
      let retry: NodeJS.Timeout | undefined;
      const onNotification = (message?: unknown) => {
        if ((message as { channel?: unknown } | undefined)?.channel === channel) listener();
      };
      const onLost = (error?: unknown) => {
        if (stopped || connection === undefined) return;
        const dead = connection;
        detach(dead);
        connection = undefined;
        // A dead client may still emit errors; with no listener they would crash the process.
        dead.on('error', () => {});
        dead.end().catch(() => {});
        logEvent(
          logger,
          'warn',
          { event: 'outbox.listen_lost', channel, err: error },
          'lost the outbox LISTEN connection; polling until it is back',
        );
        listenLater();
      };
      // Tries again until it listens: the server may still be down at the first attempts.
      let attempts = 0;
      const listenLater = () => {
        attempts += 1;
        const attempt = attempts;
        retry = setTimeout(() => {
          listen().catch((error: unknown) => {
            // Stopped, or the connection's 'error' event already scheduled the next attempt.
            if (stopped || attempt !== attempts) return;
            if (connection !== undefined) return onLost(error);
            logEvent(
              logger,
              'warn',
              { event: 'outbox.listen_failed', channel, err: error },
              'could not listen for outbox wake-ups again; retrying',
            );
            listenLater();
          });
        }, reconnectDelayMs);
        retry.unref();
      };
      const detach = (c: PostgresListenConnection) => {
        c.removeListener('notification', onNotification);
        c.removeListener('error', onLost);
        c.removeListener('end', onLost);
      };
      const listen = async () => {
        const c = await connect();
        if (stopped) {
          await c.end();
          return;
        }
        connection = c;
        c.on('notification', onNotification);
        c.on('error', onLost);
        c.on('end', onLost);
        await c.query(`LISTEN ${channel}`);
        // Messages committed while no one listened are found by this wake-up, not lost.
        listener();
      };
      await listen();
      return async () => {
        stopped = true;
        if (retry) clearTimeout(retry);
        const c = connection;
        connection = undefined;
        if (c) {
          detach(c);
          await c.end().catch(() => {});
        }
      };
    },
  };
}
