/**
 * Value provenance: a value computed in application code carries where it came from. `sourced`
 * wraps a fetched value with its source and fetch time; `derive` runs a named, versioned
 * calculation over inputs and keeps each input's provenance, so a total derived from a subtotal
 * derived from line items answers "how was this calculated?" all the way down.
 *
 * A traced value is immutable. Its provenance tree is built only when read ({@link Traced.provenance}),
 * so deriving costs one small object per call until something records or explains it.
 */
import { parseInstant, toUtcIso } from '../core/clock.js';
import { describeValue } from '../core/errors.js';
import { assertFunction, assertOptionsObject, readObject, unreadable } from '../core/options.js';

/** JSON data: what provenance values and attributes hold once recorded. */
export type LineageJson =
  | string
  | number
  | boolean
  | null
  | readonly LineageJson[]
  | { readonly [key: string]: LineageJson };

/** A value fetched from a named source (a service, an API, a table, a user's input). */
export interface SourcedProvenance {
  /** Always `sourced`. */
  readonly kind: 'sourced';
  /** The value as fetched. */
  readonly value: unknown;
  /** Where it came from, e.g. `tax_service` or `product_catalog_api`. */
  readonly source: string;
  /** When it was fetched (ISO-8601 UTC). */
  readonly fetchedAt: string;
  /** Anything else that identifies what was asked for: jurisdiction, method, request id. */
  readonly attributes?: Readonly<Record<string, LineageJson>>;
  /** True when the value is masked or redacted (the real value never reached lineage). */
  readonly masked?: boolean;
}

/** A value computed by a named, versioned calculation from inputs. */
export interface DerivedProvenance {
  /** Always `derived`. */
  readonly kind: 'derived';
  /** The calculated value. */
  readonly value: unknown;
  /** The calculation's name, e.g. `order-total`. */
  readonly calculation: string;
  /** The calculation's version, e.g. `v2.3.1`. */
  readonly version: string;
  /** When it ran (ISO-8601 UTC). */
  readonly calculatedAt: string;
  /** Each input by name, with its own provenance. */
  readonly inputs: Readonly<Record<string, Provenance>>;
}

/** An input given as a plain value, with no source recorded. */
export interface LiteralProvenance {
  /** Always `literal`. */
  readonly kind: 'literal';
  /** The value. */
  readonly value: unknown;
}

/** Where a value came from: a source, a calculation over inputs, or a plain literal. */
export type Provenance = SourcedProvenance | DerivedProvenance | LiteralProvenance;

// A registered symbol, so a value traced through the ESM build is recognised by the CommonJS one.
const TRACED: unique symbol = Symbol.for('flowproof.lineage.traced') as never;

/**
 * A value with its provenance. Create with {@link sourced} or {@link derive}; pass it to `derive`
 * as an input or to a lineage recorder's `record`.
 *
 * @typeParam T - the value's type.
 */
export interface Traced<T> {
  /** The value. */
  readonly value: T;
  /** Where the value came from; built on first read. */
  readonly provenance: Provenance;
  /** @internal brand shared by every copy of flowproof in the process. */
  readonly [TRACED]: true;
}

/** Whether `value` is a {@link Traced} value (from any copy of flowproof in the process). */
export function isTraced(value: unknown): value is Traced<unknown> {
  if (typeof value !== 'object' || value === null) return false;
  try {
    return (value as Traced<unknown>)[TRACED] === true;
  } catch {
    return false; // a revoked proxy, a trap that throws: not a traced value
  }
}

/** Options of {@link sourced}. */
export interface SourcedOptions {
  /** Where the value came from, e.g. `tax_service`. */
  readonly source: string;
  /**
   * When it was fetched: a `Date`, epoch milliseconds or ISO-8601 text with an offset.
   * @default now
   */
  readonly fetchedAt?: Date | number | string;
  /**
   * Anything else that identifies what was asked for (JSON data): `{ jurisdiction: 'NY' }`.
   * @default undefined
   */
  readonly attributes?: Readonly<Record<string, LineageJson>>;
  /**
   * Marks the value as masked or redacted: lineage shows that it was, never pretending the masked
   * text is the real value.
   * @default false
   */
  readonly masked?: boolean;
}

const SOURCED_KEYS = 'source fetchedAt attributes masked';
const MAX_NAME_LENGTH = 200;

/**
 * Wraps `value` with where it came from, for use as an input of {@link derive} or to record as it
 * is.
 *
 * @throws TypeError naming the option when an option is invalid.
 * @example
 * ```ts
 * const taxRate = sourced(0.0875, {
 *   source: 'tax_service',
 *   fetchedAt: '2025-11-15T14:32:16Z',
 *   attributes: { jurisdiction: 'NY' },
 * });
 * ```
 */
export function sourced<T>(value: T, options: SourcedOptions): Traced<T> {
  const read = readObject(options, 'options', SOURCED_KEYS) as unknown as SourcedOptions;
  const source = checkName(read.source, 'options.source');
  const fetchedAt =
    read.fetchedAt === undefined
      ? toUtcIso(new Date())
      : instantText(read.fetchedAt, 'options.fetchedAt');
  const { masked } = read;
  const attributes =
    read.attributes === undefined ? undefined : readObject(read.attributes, 'options.attributes');
  if (masked !== undefined && typeof masked !== 'boolean') {
    throw new TypeError(`options.masked must be a boolean, got ${describeValue(masked)}`);
  }
  const provenance: SourcedProvenance = Object.freeze({
    kind: 'sourced',
    value,
    source,
    fetchedAt,
    ...(attributes === undefined
      ? {}
      : { attributes: Object.freeze({ ...attributes }) as Readonly<Record<string, LineageJson>> }),
    ...(masked ? { masked: true } : {}),
  });
  return new SettledTraced(value, provenance);
}

/** Options of {@link sourcedFrom}: those of {@link sourced} but the source and time. */
export type SourcedFromOptions = Omit<SourcedOptions, 'source' | 'fetchedAt'>;

/**
 * Calls `fetch` and wraps what it resolves to with `source` and the time it resolved: one line
 * around a client call.
 *
 * @throws TypeError naming the argument when an argument is invalid; whatever `fetch` throws,
 * unchanged.
 * @example
 * ```ts
 * const taxRate = await sourcedFrom('tax_service', () => taxes.rateFor(address), {
 *   attributes: { jurisdiction: address.state },
 * });
 * ```
 */
export async function sourcedFrom<T>(
  source: string,
  fetch: () => T | PromiseLike<T>,
  options: SourcedFromOptions = {},
): Promise<Traced<Awaited<T>>> {
  checkName(source, 'source');
  assertFunction(fetch, 'fetch');
  const read = readObject(options, 'options', 'attributes masked');
  const value = await fetch();
  return sourced(value as Awaited<T>, { ...read, source });
}

/** The plain values of `derive`'s inputs: each traced input unwrapped. */
export type DerivedInputValues<I> = {
  [K in keyof I]: I[K] extends Traced<infer V> ? V : I[K];
};

/** What {@link derive} returns: a traced value, or a promise of one when `fn` is asynchronous. */
export type Derived<R> = R extends PromiseLike<infer V> ? Promise<Traced<V>> : Traced<R>;

/**
 * Runs the calculation `name` at `version` over `inputs` and returns its result with its
 * provenance: each input's value and where it came from (a {@link sourced} input keeps its
 * source, a derived input its whole tree, a plain input is a literal), the calculation's name and
 * version, and when it ran. `fn` receives the inputs' plain values; when it returns a promise,
 * `derive` returns a promise of the traced result.
 *
 * @throws TypeError naming the argument when an argument is invalid; whatever `fn` throws,
 * unchanged (asynchronously for an asynchronous `fn`).
 * @example
 * ```ts
 * const total = derive('order-total', 'v2.3.1', { subtotal, taxRate, shipping },
 *   ({ subtotal, taxRate, shipping }) => round2(subtotal * (1 + taxRate) + shipping));
 * total.value; // 148.44
 * if (total.provenance.kind === 'derived') {
 *   total.provenance.inputs.taxRate; // { kind: 'sourced', source: 'tax_service', … }
 * }
 * ```
 */
export function derive<const I extends Readonly<Record<string, unknown>>, R>(
  name: string,
  version: string,
  inputs: I,
  fn: (values: DerivedInputValues<I>) => R,
): Derived<R> {
  checkName(name, 'name');
  checkName(version, 'version');
  assertOptionsObject(inputs, 'inputs');
  assertFunction(fn, 'fn');
  // One copy, read once: the function sees the same values the provenance keeps, whatever the
  // caller's object does afterwards.
  const copy: Record<string, unknown> = {};
  const values: Record<string, unknown> = {};
  try {
    for (const key in inputs) {
      if (!Object.hasOwn(inputs, key)) continue;
      const input = inputs[key];
      copy[key] = input;
      values[key] = isTraced(input) ? input.value : input;
    }
  } catch (cause) {
    throw unreadable('inputs', cause);
  }
  const result = fn(values as DerivedInputValues<I>);
  if (isThenable(result)) {
    return Promise.resolve(result).then(
      (value) => new DerivedTraced(value, name, version, Date.now(), copy),
    ) as Derived<R>;
  }
  return new DerivedTraced(result, name, version, Date.now(), copy) as unknown as Derived<R>;
}

/** A traced value whose provenance is known when it is made. */
class SettledTraced<T> implements Traced<T> {
  readonly [TRACED] = true as const;
  constructor(
    readonly value: T,
    readonly provenance: Provenance,
  ) {
    Object.freeze(this);
  }
}

/**
 * A derived value. It keeps the copy of the inputs `derive` made, so later changes to the
 * caller's object do not rewrite history; the provenance tree is built on first read.
 */
class DerivedTraced<T> implements Traced<T> {
  readonly [TRACED] = true as const;
  readonly #inputs: Readonly<Record<string, unknown>>;
  #provenance: DerivedProvenance | undefined;

  constructor(
    readonly value: T,
    readonly calculation: string,
    readonly version: string,
    readonly calculatedAtMs: number,
    inputs: Readonly<Record<string, unknown>>,
  ) {
    this.#inputs = inputs;
  }

  get provenance(): DerivedProvenance {
    // Built bottom-up from an explicit stack, not by recursion: a chain of calculations (a running
    // balance, a loop of adjustments) may be far deeper than the call stack.
    const stack: DerivedTraced<unknown>[] = [this];
    const expanded = new Set<DerivedTraced<unknown>>();
    while (stack.length > 0) {
      const node = stack.at(-1) as DerivedTraced<unknown>;
      if (node.#provenance !== undefined) {
        stack.pop();
      } else if (!expanded.has(node)) {
        expanded.add(node);
        for (const key in node.#inputs) {
          const input = node.#inputs[key];
          if (DerivedTraced.#unbuilt(input)) stack.push(input);
        }
      } else {
        node.#build();
        stack.pop();
      }
    }
    return this.#provenance as unknown as DerivedProvenance;
  }

  /** Whether `value` is a derived value of this copy of flowproof whose tree is not built yet. */
  static #unbuilt(value: unknown): value is DerivedTraced<unknown> {
    return (
      typeof value === 'object' &&
      value !== null &&
      #provenance in value &&
      (value as DerivedTraced<unknown>).#provenance === undefined
    );
  }

  /** Builds this node once every input's tree is built. */
  #build(): void {
    const inputs: Record<string, Provenance> = {};
    for (const key in this.#inputs) {
      const input = this.#inputs[key];
      inputs[key] = isTraced(input) ? input.provenance : { kind: 'literal', value: input };
    }
    // Typed read-only, not frozen: freezing every node of a large tree costs more than the rest
    // of building it.
    this.#provenance = {
      kind: 'derived',
      value: this.value,
      calculation: this.calculation,
      version: this.version,
      calculatedAt: new Date(this.calculatedAtMs).toISOString(),
      inputs,
    };
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    (typeof value === 'object' || typeof value === 'function') &&
    value !== null &&
    typeof (value as PromiseLike<unknown>).then === 'function'
  );
}

function checkName(value: unknown, name: string): string {
  if (typeof value !== 'string' || value.trim() === '' || value.length > MAX_NAME_LENGTH) {
    throw new TypeError(
      `${name} must be a non-empty string of at most ${MAX_NAME_LENGTH} characters, got ${describeValue(value)}`,
    );
  }
  return value;
}

/** `value` (a Date, epoch milliseconds or ISO text with an offset) as ISO-8601 UTC text. */
export function instantText(value: unknown, name: string): string {
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || Math.abs(value) > 8.64e15) {
      throw new TypeError(
        `${name} must be a Date, epoch milliseconds or ISO-8601 text, got ${value}`,
      );
    }
    return toUtcIso(new Date(value));
  }
  return toUtcIso(parseInstant(value as Date | string, name));
}
