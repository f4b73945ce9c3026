/**
 * `pinoRedaction`: the pino options that pass every log line through a {@link Redactor} — the
 * logged object, serialized errors with their causes, the bindings of the root logger and of
 * every child, and (with detectors) the message text. pino is not imported: the options are
 * plain functions pino calls.
 */
import { describeValue } from '../../core/errors.js';
import { assertOptionsObject } from '../../core/options.js';
import { type Redactor, redactorInternals } from './redactor.js';

/** A log method as pino passes it to `hooks.logMethod`. */
export type PinoLogMethod = (...args: never[]) => void;

/**
 * The part of pino's options that {@link pinoRedaction} reads and extends; every other option
 * passes through untouched. Typed structurally, so pino's own `LoggerOptions` fits.
 */
export interface PinoRedactionBaseOptions {
  /** Your formatters: `log` and `bindings` run first, then redaction on what they return. */
  readonly formatters?: {
    /** pino's `formatters.level`, kept as it is. */
    level?(label: string, number: number): object;
    /** Your bindings formatter, run before the bindings are redacted. */
    bindings?(bindings: Record<string, unknown>): object;
    /** Your log formatter, run before the line is redacted. */
    log?(object: Record<string, unknown>): Record<string, unknown>;
  };
  /** Your serializers: each runs first, then redaction on its output at its key. */
  readonly serializers?: {
    /** The serializer of the key. */
    readonly [key: string]: PinoSerializer['serialize'];
  };
  /** Your hooks: `logMethod` runs first; what it passes on is redacted. */
  readonly hooks?: {
    /** Your `logMethod` hook, run before the message and its arguments are redacted. */
    logMethod?(this: unknown, args: unknown[], method: PinoLogMethod, level: number): void;
    /** pino's `streamWrite` hook, kept as it is. */
    streamWrite?(s: string): string;
  };
  /** Your `onChild`: called after the child's bindings are redacted. */
  onChild?(child: object): void;
  /** pino's `errorKey`. @default 'err' */
  readonly errorKey?: string;
  /** pino's `messageKey`. @default 'msg' */
  readonly messageKey?: string;
}

/** A pino serializer: a value in, what to log out. */
export interface PinoSerializer {
  // A method signature: serializers typed for their own input (`(req: Request) => …`) fit.
  /** What to log for `value`. */
  serialize(value: unknown): unknown;
}

/** The options {@link pinoRedaction} returns: yours with redaction woven into these four. */
export interface PinoRedactionOptions {
  /** Your formatters, with the line and the root bindings redacted after them. */
  readonly formatters: {
    /** Your `formatters.level`, when you gave one. */
    readonly level?: (label: string, number: number) => object;
    /** Redacts the root logger's bindings (after yours). */
    readonly bindings: (bindings: Record<string, unknown>) => object;
    /** Redacts each line's object (after yours). */
    readonly log: (object: Record<string, unknown>) => Record<string, unknown>;
  };
  /** Your serializers and the error keys', each followed by redaction of its output. */
  readonly serializers: {
    /** The serializer of the key. */
    readonly [key: string]: (value: unknown) => unknown;
  };
  /** Your hooks, with the message and its arguments redacted (when detectors are given). */
  readonly hooks: {
    /** Redacts the message and string arguments, after your `logMethod`. */
    readonly logMethod: (
      this: unknown,
      args: unknown[],
      method: PinoLogMethod,
      level: number,
    ) => void;
    /** Your `streamWrite`, when you gave one. */
    readonly streamWrite?: (s: string) => string;
  };
  /** Redacts each child logger's own bindings, then calls your `onChild`. */
  readonly onChild: (child: object) => void;
}

type Fn = (...args: unknown[]) => unknown;

/**
 * pino options that redact every log line with `redactor`. Pass your own pino options as
 * `options`: they are kept, and your `formatters`, `serializers`, `hooks` and `onChild` are
 * chained before redaction instead of being replaced (spreading the result and then setting
 * `formatters` yourself would drop the redaction).
 *
 * What is redacted: the logged object (after your `formatters.log`), with paths from its root;
 * each serialized key (`err`, `error`, your `errorKey` and every key you give a serializer) after
 * its serializer, with paths from the log object's root, Errors written as `{ type, message,
 * stack, cause, …}` down their `cause` chain; the root logger's bindings (`formatters.bindings`)
 * and each child's own bindings (`onChild`), with paths from the bindings' root; with detectors,
 * the message and the string arguments of every log call, and the message pino takes from a
 * logged Error. Per-child `serializers` given to `logger.child(bindings, { serializers })`
 * replace these for that child.
 *
 * @throws TypeError when `redactor` was not made by `createRedactor`, or `options` is not an object.
 * @example
 * ```ts
 * import pino from 'pino';
 * const redactor = createRedactor({ paths: ['user.password', '**.token'], detectors: defaultDetectors });
 * const logger = pino(pinoRedaction(redactor, { level: 'info' }));
 * logger.child({ session: { token: 't' } }).info({ user }, 'signed in %s', email);
 * ```
 */
export function pinoRedaction<O extends object = Record<never, never>>(
  redactor: Redactor,
  options?: O & PinoRedactionBaseOptions,
): Omit<O, keyof PinoRedactionOptions> & PinoRedactionOptions {
  const engine = redactorInternals(redactor);
  if (engine === undefined) {
    throw new TypeError(
      `redactor must be a redactor made by createRedactor, got ${describeValue(redactor)}`,
    );
  }
  const base: PinoRedactionBaseOptions = options ?? {};
  assertOptionsObject(base, 'options');
  const userFormatters = base.formatters ?? {};
  const userLog = userFormatters.log as Fn | undefined;
  const userBindings = userFormatters.bindings as Fn | undefined;
  const userSerializers = (base.serializers ?? {}) as Record<string, Fn>;
  const userHooks = base.hooks ?? {};
  const userLogMethod = userHooks.logMethod as Fn | undefined;
  const userOnChild = base.onChild as Fn | undefined;
  const errorKey = base.errorKey ?? 'err';
  const messageKey = base.messageKey ?? 'msg';
  const { scrub } = engine;

  const errorKeys = new Set(['err', 'error', errorKey]);
  const serializers: Record<string, (value: unknown) => unknown> = {};
  for (const key of new Set([...Object.keys(userSerializers), ...errorKeys])) {
    const user = userSerializers[key];
    // The redactor writes Errors as `{ type, message, stack, cause, … }` down the cause chain.
    serializers[key] = (value) => engine.redactUnder(key, user === undefined ? value : user(value));
  }
  // Keys with a serializer are redacted after it runs (above), not before: what a serializer
  // adds is covered too, and a censor function never sees its own output.
  const heldKeys = Object.keys(serializers);

  const log = (object: Record<string, unknown>): Record<string, unknown> => {
    const formatted = (userLog === undefined ? object : userLog(object)) as Record<string, unknown>;
    let held: Record<string, unknown> | undefined;
    for (const key of heldKeys) {
      if (Object.hasOwn(formatted, key)) {
        held ??= {};
        held[key] = formatted[key];
      }
    }
    if (held === undefined) return redactor.redact(formatted) as Record<string, unknown>;
    const rest: Record<string, unknown> = { ...formatted };
    for (const key of Object.keys(held)) delete rest[key];
    return Object.assign(redactor.redact(rest) as Record<string, unknown>, held);
  };

  const bindings = (values: Record<string, unknown>): object =>
    redactor.redact(userBindings === undefined ? values : userBindings(values)) as object;

  /** The log call's arguments with the message text and interpolated values redacted. */
  const redactArgs = (args: unknown[]): unknown[] => {
    const out = args.slice();
    for (let i = 0; i < out.length; i += 1) {
      const arg = out[i];
      if (typeof arg === 'string') {
        if (scrub !== undefined) out[i] = scrub(arg);
      } else if (i > 0 && typeof arg === 'object' && arg !== null) {
        out[i] = redactor.redact(arg); // a value interpolated into the message (%o, %j)
      }
    }
    const first = out[0];
    if (scrub !== undefined && out.length === 1 && typeof first === 'object' && first !== null) {
      // pino takes the message of a logged Error (or of the object's error key) as is.
      const error = first instanceof Error ? first : readError(first, errorKey, messageKey);
      if (error !== undefined) out.push(scrub(String(readMessage(error))));
    }
    return out;
  };

  const logMethod = function (
    this: unknown,
    args: unknown[],
    method: PinoLogMethod,
    level: number,
  ): void {
    const call = method as unknown as Fn;
    if (userLogMethod === undefined) {
      call.apply(this, redactArgs(args));
      return;
    }
    const logger = this;
    const redactedMethod = function (this: unknown, ...passed: unknown[]) {
      call.apply(this ?? logger, redactArgs(passed));
    };
    userLogMethod.call(this, args, redactedMethod, level);
  };

  const onChild = (child: object): void => {
    redactChildBindings(child, redactor);
    userOnChild?.(child);
  };

  return {
    ...(base as O),
    formatters: { ...userFormatters, log, bindings },
    serializers,
    hooks: { ...userHooks, logMethod },
    onChild,
  };
}

function readError(object: object, errorKey: string, messageKey: string): Error | undefined {
  try {
    const record = object as Record<string, unknown>;
    if (record[messageKey] !== undefined) return undefined;
    const error = record[errorKey];
    return error instanceof Error ? error : undefined;
  } catch {
    return undefined;
  }
}

function readMessage(error: Error): unknown {
  try {
    return error.message;
  } catch {
    return '[Unreadable]';
  }
}

/**
 * Redacts the bindings a child logger adds. pino applies `formatters.bindings` to the root
 * logger's bindings only and has already written the child's as JSON text when `onChild` runs;
 * that text lives under pino's documented `pino.symbols.chindingsSym`, found here by its
 * description so pino need not be imported. The child's part (after its parent's) is parsed,
 * redacted and written back.
 */
function redactChildBindings(child: object, redactor: Redactor): void {
  const symbol = Object.getOwnPropertySymbols(child).find(
    (candidate) => candidate.description === 'pino.chindings',
  );
  if (symbol === undefined) {
    throw new TypeError(
      'pinoRedaction cannot redact child bindings: this logger has no pino.chindings (not pino >= 8?)',
    );
  }
  const holder = child as Record<symbol, unknown>;
  const parentText = (Object.getPrototypeOf(child) as Record<symbol, unknown>)[symbol];
  const text = holder[symbol];
  if (typeof text !== 'string') return;
  const inherited = typeof parentText === 'string' && text.startsWith(parentText) ? parentText : '';
  const added = text.slice(inherited.length);
  if (added === '') return;
  let values: unknown;
  try {
    values = JSON.parse(`{${added.slice(1)}}`);
  } catch {
    holder[symbol] = inherited; // unreadable bindings are dropped, never shown unredacted
    return;
  }
  const redacted = redactor.stringify(values);
  holder[symbol] = redacted.length > 2 ? `${inherited},${redacted.slice(1, -1)}` : inherited;
}
