/**
 * The minimal structural view of a Redis client that flowproof calls. An ioredis 5 `Redis` (or
 * `Cluster`) fits, without flowproof importing ioredis.
 */

/** One argument of a Redis command. */
export type RedisArgument = string | number | Buffer;

/** Anything with ioredis' generic `call(command, ...args)` and its connection `status`. */
export interface RedisClientLike {
  /**
   * Sends one command and resolves with the raw reply (no reply transformation: `HGETALL` gives a
   * flat `[field, value, …]` array). ioredis queues commands while it is not connected.
   */
  call(command: string, ...args: RedisArgument[]): Promise<unknown>;
  /** The connection state; `ready` when commands are answered. */
  readonly status: string;
  /**
   * A new connection with the same options (ioredis' `duplicate()`). The Redis Streams consumer
   * opens one for its blocking reads, so they do not hold up the client's other commands.
   */
  duplicate?(): RedisClientLike;
  /** Closes the connection after pending replies; called by `close()` when the backend owns it. */
  quit?(): Promise<unknown>;
  /** Drops the connection at once; the fallback when `quit()` cannot finish. */
  disconnect?(): void;
}
