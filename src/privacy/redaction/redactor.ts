/**
 * `createRedactor`: one compiled set of rules that hides personal data in values before they are
 * logged or sent anywhere — by path (`user.password`, `users[*].ssn`, `**.token`), by key pattern
 * at any depth (`*secret*`), and in free text through detectors.
 */

import { describeValue } from '../../core/errors.js';
import { assertInteger, readable, readObject } from '../../core/options.js';
import { redactText } from '../detectors/redact-text.js';
import type { TextDetector } from '../text-detector.js';
import { compileKeyPatterns } from './redaction-keys.js';
import {
  PathMatcher,
  type PathState,
  parseRedactionPath,
  type RedactionPathSegment,
} from './redaction-paths.js';

/** Where a censor function is called: the real path of the value (indices as numbers) and its key. */
export interface RedactionCensorContext {
  /** Every key from the root to the value, the value's own key last; array indices are numbers. */
  readonly path: readonly (string | number)[];
  /** The value's own key (an array index is a number); never a wildcard. */
  readonly key: string | number;
}

/**
 * What replaces a redacted value: the value itself (any JSON-friendly value), or a function of
 * the original value and where it is. A censor function that throws gives `'[REDACTED]'`.
 */
export type RedactionCensor =
  | ((value: unknown, at: RedactionCensorContext) => unknown)
  | string
  | number
  | boolean
  | bigint
  | null
  | readonly unknown[]
  | { readonly [key: string]: unknown };

/** One group of targets with one action. */
export interface RedactionRule {
  /**
   * Paths from the root of the value: keys joined by dots (`user.password`), indices and quoted
   * keys in brackets (`items[0].card`, `headers["x-api-key"]`, with `\"`, `\\`, `\n`, `\uXXXX`
   * escapes), `*` or `[*]` for any one key or index (`users[*].ssn`, `a.*.*.b`), and `**` for any
   * number of levels, none included (`**.token` is `token` at the root and at every depth below).
   * A path names keys under the root; the root itself is never replaced.
   */
  readonly paths?: readonly string[];
  /**
   * Key patterns tested against every object (and Map) key at any depth: a glob on the whole key
   * (`*secret*`, `pass?ord`; case-sensitive) or a RegExp (use the `i` flag for any case).
   * Array indices are not keys here.
   */
  readonly keys?: readonly (string | RegExp)[];
  /** What replaces a matched value. @default '[REDACTED]' */
  readonly censor?: RedactionCensor;
  /** Drop the matched key instead of replacing its value (an array element is taken out). @default false */
  readonly remove?: boolean;
}

/** Options of {@link createRedactor}. */
export interface RedactorOptions extends RedactionRule {
  /**
   * More groups, each with its own action. Rules are numbered in order, the top-level
   * `paths`/`keys` first: when several match one key, the first wins.
   */
  readonly rules?: readonly RedactionRule[];
  /**
   * Applied to every string value that no rule replaces (Error messages and stacks included):
   * each finding is replaced by `[REDACTED:<kind>]`, overlapping findings merged.
   */
  readonly detectors?: readonly TextDetector[];
  /**
   * Levels of nesting the redactor walks; deeper objects become `'[Too deep]'` (a pathological
   * or hostile input cannot exhaust the stack). @default 100
   */
  readonly maxDepth?: number;
}

/** Hides personal data in values. Build one with {@link createRedactor} and reuse it. */
export interface Redactor {
  /**
   * A redacted copy of `value`; `value` is never changed. Every object a rule could reach is
   * rebuilt as plain data (class instances as their own enumerable properties, a Map as an
   * object of its entries, a Set as an array, an Error as `{ type, message, stack, cause, …own
   * properties }`, `toJSON` called first); branches no rule can reach are shared as they are.
   * A cycle becomes `'[Circular]'`, a getter or proxy that throws `'[Unreadable]'`.
   */
  redact<T>(value: T): unknown;
  /**
   * The redacted value as JSON text — `JSON.stringify(redact(value))` — that never throws: a
   * cycle anywhere becomes `'[Circular]'`, a BigInt its decimal string, a throwing getter or
   * `toJSON` `'[Unreadable]'`. A value JSON cannot hold at the top (`undefined`, a function)
   * gives `'null'`.
   */
  stringify(value: unknown): string;
}

/** What a matched value becomes unless the rule says otherwise. */
export const DEFAULT_REDACTION_CENSOR = '[REDACTED]';
const CIRCULAR = '[Circular]';
const UNREADABLE = '[Unreadable]';
const TOO_DEEP = '[Too deep]';
const DEFAULT_MAX_DEPTH = 100;

const RULE_KEYS = ['paths', 'keys', 'censor', 'remove'] as const;
const OPTION_KEYS = [...RULE_KEYS, 'rules', 'detectors', 'maxDepth'].join(' ');

interface CompiledRule {
  readonly remove: boolean;
  readonly censor: unknown;
  readonly censorFunction: ((value: unknown, at: RedactionCensorContext) => unknown) | undefined;
}

/** The state of one pass over a value. */
interface Walk {
  /** Building output that `JSON.stringify` cannot fail on (the fallback of `stringify`). */
  readonly safe: boolean;
  /** The output is for JSON: a removed key may be left `undefined` instead of deleted. */
  readonly json: boolean;
  /** The objects being visited, root first (cycle detection). */
  readonly ancestors: Set<object>;
  /** The keys from the root to the current value (kept only when a censor needs it). */
  readonly path: (string | number)[];
  depth: number;
}

/**
 * Compiles redaction rules once (paths into one matcher, key patterns into one memoised test)
 * and returns a {@link Redactor}.
 *
 * Paths naming fixed keys only are the fast case: the redactor copies just the objects along
 * those paths (their "spine") and leaves the rest to the native `JSON.stringify`. `*`, `**`, key
 * patterns and detectors make it look at more of the value.
 *
 * @throws TypeError naming the option when an option is invalid: an unknown key, a path that
 *   cannot be parsed (with the position), a rule naming neither paths nor keys, `remove` with a
 *   `censor`.
 * @example
 * ```ts
 * const redactor = createRedactor({
 *   paths: ['user.password', 'cards[*].number', '**.token'],
 *   keys: ['*secret*', /^x-api-key$/i],
 *   rules: [{ paths: ['user.email'], censor: (email) => maskEmail(String(email)) }],
 * });
 * logger.info(redactor.redact(payload));
 * ```
 */
export function createRedactor(options: RedactorOptions): Redactor {
  const read = readObject(options, 'options', OPTION_KEYS);
  const rulePaths: RedactionPathSegment[][][] = [];
  const ruleKeys: (string | RegExp)[][] = [];
  const rules: CompiledRule[] = [];
  const addRule = (rule: Record<string, unknown>, name: string, required: boolean): void => {
    const paths = readList(rule.paths, `${name}.paths`).map((path, i) => {
      if (typeof path !== 'string') {
        throw new TypeError(`${name}.paths[${i}] must be a string, got ${describeValue(path)}`);
      }
      return parseRedactionPath(path, `${name}.paths[${i}]`);
    });
    const keys = readList(rule.keys, `${name}.keys`).map((key, i) => {
      if ((typeof key === 'string' && key.length > 0) || key instanceof RegExp) return key;
      throw new TypeError(
        `${name}.keys[${i}] must be a non-empty string or a RegExp, got ${describeValue(key)}`,
      );
    });
    const hasAction = rule.censor !== undefined || rule.remove !== undefined;
    if (paths.length === 0 && keys.length === 0) {
      // Empty lists (from configuration, say) are a rule with nothing to do; no lists at all is
      // a mistake when the rule says what to do.
      if (rule.paths === undefined && rule.keys === undefined && (required || hasAction)) {
        throw new TypeError(`${name} must name paths or keys to redact`);
      }
      return;
    }
    if (rule.remove !== undefined && typeof rule.remove !== 'boolean') {
      throw new TypeError(`${name}.remove must be a boolean, got ${describeValue(rule.remove)}`);
    }
    if (rule.remove === true && rule.censor !== undefined) {
      throw new TypeError(`${name}.remove cannot be combined with ${name}.censor`);
    }
    rulePaths.push(paths);
    ruleKeys.push(keys);
    const censor = rule.censor === undefined ? DEFAULT_REDACTION_CENSOR : rule.censor;
    rules.push({
      remove: rule.remove === true,
      censor,
      censorFunction:
        typeof censor === 'function'
          ? (censor as (value: unknown, at: RedactionCensorContext) => unknown)
          : undefined,
    });
  };
  addRule(read, 'options', false);
  readList(read.rules, 'options.rules').forEach((rule, i) => {
    addRule(
      readObject(rule, `options.rules[${i}]`, RULE_KEYS.join(' ')),
      `options.rules[${i}]`,
      true,
    );
  });
  const detectors = readList(read.detectors, 'options.detectors').map((detector, i) => {
    const name = `options.detectors[${i}]`;
    const checked = readObject(detector, name);
    if (typeof checked.name !== 'string' || typeof checked.find !== 'function') {
      throw new TypeError(`${name} must be a TextDetector (a name and a find function)`);
    }
    return detector as TextDetector;
  });
  const depthOption: unknown = read.maxDepth === undefined ? DEFAULT_MAX_DEPTH : read.maxDepth;
  assertInteger(depthOption, 'options.maxDepth', 1, 10_000);
  const maxDepth: number = depthOption;

  const matcher = new PathMatcher(rulePaths);
  const keyRule = compileKeyPatterns(ruleKeys);
  const trackPath = rules.some((rule) => rule.censorFunction !== undefined);
  /** Rules that apply anywhere (key patterns) or text that may hide data: nothing is out of reach. */
  const anywhere = keyRule !== undefined || detectors.length > 0;
  const scrub = detectors.length > 0 ? (text: string) => scrubText(text, detectors) : undefined;

  const run = (value: unknown, safe: boolean, json: boolean): unknown => {
    const walk: Walk = { safe, json, ancestors: new Set(), path: [], depth: 0 };
    return visit(value, '', matcher.root, walk);
  };

  // Fixed-key paths with fixed censors: only the objects along the paths are copied, by a loop
  // over a plan made once, without the general walk's bookkeeping (the common logging case).
  const spinePlan =
    !matcher.hasWildcards && !anywhere && !trackPath ? planSpine(matcher.root, rules) : undefined;

  /** The general walk from `state`, for a value the spine copy does not handle itself. */
  const walkFrom = (value: object, state: PathState, json: boolean): unknown =>
    visit(value, '', state, { safe: false, json, ancestors: new Set(), path: [], depth: 0 });

  function copySpine(value: object, plan: SpinePlan, json: boolean): unknown {
    const proto = Object.getPrototypeOf(value);
    let copy: Record<string, unknown> | unknown[];
    if (proto === Object.prototype && (value as { toJSON?: unknown }).toJSON === undefined) {
      copy = { ...value } as Record<string, unknown>;
    } else if (proto === Array.prototype && Array.isArray(value)) {
      copy = (value as unknown[]).slice();
    } else {
      return walkFrom(value, plan.state, json);
    }
    let removed = false;
    for (const step of plan.steps) {
      const isArray = Array.isArray(copy);
      let key: string | number = step.key;
      if (isArray) {
        if (step.index === -1 || step.index >= (copy as unknown[]).length) continue;
        key = step.index;
      } else if (!Object.hasOwn(copy, key)) {
        continue;
      }
      const child = (copy as Record<string | number, unknown>)[key];
      const rule = step.rule;
      if (rule !== undefined) {
        if (!rule.remove) (copy as Record<string | number, unknown>)[key] = rule.censor;
        else if (isArray) {
          (copy as unknown[])[key as number] = REMOVED;
          removed = true;
        } else if (json) (copy as Record<string, unknown>)[key] = undefined;
        else delete (copy as Record<string, unknown>)[key];
      } else if (step.next !== undefined && typeof child === 'object' && child !== null) {
        (copy as Record<string | number, unknown>)[key] = copySpine(child, step.next, json);
      }
    }
    return removed ? (copy as unknown[]).filter((item) => item !== REMOVED) : copy;
  }

  /** The redacted value on the fast way; the general walk when the value needs more care. */
  const redactValue = (value: unknown, json: boolean): unknown => {
    if (spinePlan === undefined || typeof value !== 'object' || value === null) {
      return run(value, false, json);
    }
    try {
      return copySpine(value, spinePlan, json);
    } catch {
      // A getter, proxy or toJSON that throws: the general walk reads each value guardedly.
      return run(value, false, json);
    }
  };

  /** The redacted form of `value`, found under `key` in a state of the path matcher. */
  function visit(value: unknown, key: string | number, state: PathState, walk: Walk): unknown {
    switch (typeof value) {
      case 'string':
        return scrub === undefined ? value : scrub(value);
      case 'bigint':
        return walk.safe ? value.toString() : value;
      case 'object':
        if (value === null) return value;
        break;
      default:
        return value;
    }
    // The root is always looked at, so a top-level Map is written the same way always; an Error
    // the walk meets is always written as one (its message, stack and cause are what tell).
    const isError = isErrorObject(value);
    if (state.empty && !anywhere && walk.depth > 0 && !isError) {
      return walk.safe ? jsonSafe(value, key, walk) : value;
    }
    const { ancestors } = walk;
    // On a path of fixed keys the walk ends with the path: a cycle cannot make it loop.
    const tracked = walk.safe || anywhere || !state.literalOnly || isError;
    if (tracked) {
      if (ancestors.has(value)) return CIRCULAR;
      if (walk.depth >= maxDepth) return TOO_DEEP;
      ancestors.add(value);
    }
    walk.depth += 1;
    try {
      return visitObject(value, key, state, walk, true);
    } finally {
      walk.depth -= 1;
      if (tracked) ancestors.delete(value);
    }
  }

  function visitObject(
    value: object,
    key: string | number,
    state: PathState,
    walk: Walk,
    callToJSON: boolean,
  ): unknown {
    let proto: unknown;
    try {
      proto = Object.getPrototypeOf(value);
    } catch {
      return UNREADABLE; // a revoked proxy
    }
    if (callToJSON) {
      let toJSON: unknown;
      try {
        toJSON = (value as { toJSON?: unknown }).toJSON;
      } catch {
        return UNREADABLE;
      }
      if (typeof toJSON === 'function') {
        let result: unknown;
        try {
          result = toJSON.call(value, String(key));
        } catch {
          return UNREADABLE;
        }
        // What toJSON returns is redacted like the value itself (JSON.stringify calls it once).
        if (typeof result !== 'object' || result === null) return visit(result, key, state, walk);
        if (walk.ancestors.has(result)) return CIRCULAR;
        walk.ancestors.add(result);
        try {
          return visitObject(result, key, state, walk, false);
        } finally {
          walk.ancestors.delete(result);
        }
      }
    }
    if (proto === Object.prototype || proto === null) {
      const literalOnly = state.literalOnly && !anywhere && !walk.safe;
      if (literalOnly && !hasAnyLiteral(value, state)) return value;
      const copy = copyOwn(value);
      return copy === undefined ? UNREADABLE : redactObject(copy, state, walk, literalOnly);
    }
    if (Array.isArray(value)) {
      let copy: unknown[];
      try {
        copy = proto === Array.prototype ? value.slice() : Array.from(value);
      } catch {
        return UNREADABLE;
      }
      return redactArray(copy, state, walk);
    }
    if (value instanceof Error) return redactError(value, state, walk);
    if (value instanceof Map) return redactObject(mapEntries(value), state, walk, false);
    if (value instanceof Set) {
      let items: unknown[];
      try {
        items = Array.from(value);
      } catch {
        return UNREADABLE;
      }
      return redactArray(items, state, walk);
    }
    if (value instanceof String || value instanceof Number || value instanceof Boolean) {
      return visit(value.valueOf(), key, state, walk);
    }
    // A class instance: its own enumerable properties, as plain data.
    const copy = copyOwn(value);
    return copy === undefined ? UNREADABLE : redactObject(copy, state, walk, false);
  }

  /**
   * An Error as redacted plain data. The stack repeats the message: when a rule replaced the
   * message, its text in the stack is replaced too.
   */
  function redactError(error: Error, state: PathState, walk: Walk): Record<string, unknown> {
    const fields = errorFields(error);
    const message = fields.message;
    const out = redactObject(fields, state, walk, false);
    if (out.message !== message && typeof out.stack === 'string') {
      const original = textOf(message);
      if (original !== '') {
        const replacement = out.message === undefined ? '' : textOf(out.message);
        out.stack = out.stack.split(original).join(replacement);
      }
    }
    return out;
  }

  /** Redacts `out` (an object the redactor owns) in place. */
  function redactObject(
    out: Record<string, unknown>,
    state: PathState,
    walk: Walk,
    literalOnly: boolean,
  ): Record<string, unknown> {
    const keys = literalOnly ? state.literalKeys : Object.keys(out);
    for (const key of keys) {
      if (literalOnly && !Object.hasOwn(out, key)) continue;
      const next = state.next(key);
      let ruleIndex = next.rule;
      if (keyRule !== undefined) {
        const byKey = keyRule(key);
        if (byKey !== -1 && (ruleIndex === -1 || byKey < ruleIndex)) ruleIndex = byKey;
      }
      const child = out[key];
      if (ruleIndex !== -1) {
        const rule = rules[ruleIndex] as CompiledRule;
        if (rule.remove) {
          if (walk.json) out[key] = undefined;
          else delete out[key];
        } else {
          out[key] = censorValue(rule, child, key, walk);
        }
        continue;
      }
      if (typeof child !== 'object' || child === null) {
        if (typeof child === 'string' && scrub !== undefined) out[key] = scrub(child);
        else if (typeof child === 'bigint' && walk.safe) out[key] = child.toString();
        continue;
      }
      if (trackPath) walk.path.push(key);
      const result = visit(child, key, next, walk);
      if (trackPath) walk.path.pop();
      if (result !== child) out[key] = result;
    }
    return out;
  }

  /** Redacts `out` (an array the redactor owns) in place, or a new array when items are removed. */
  function redactArray(out: unknown[], state: PathState, walk: Walk): unknown[] {
    let removed = false;
    const literalOnly = state.literalOnly && !anywhere && !walk.safe;
    const indices = literalOnly ? literalIndices(state, out.length) : undefined;
    const count = indices === undefined ? out.length : indices.length;
    for (let n = 0; n < count; n += 1) {
      const index = indices === undefined ? n : (indices[n] as number);
      const next = state.nextIndex(index);
      const child = out[index];
      if (next.rule !== -1) {
        const rule = rules[next.rule] as CompiledRule;
        if (rule.remove) {
          out[index] = REMOVED;
          removed = true;
        } else {
          out[index] = censorValue(rule, child, index, walk);
        }
        continue;
      }
      if (trackPath) walk.path.push(index);
      const result = visit(child, index, next, walk);
      if (trackPath) walk.path.pop();
      if (result !== child) out[index] = result;
    }
    return removed ? out.filter((item) => item !== REMOVED) : out;
  }

  function censorValue(
    rule: CompiledRule,
    original: unknown,
    key: string | number,
    walk: Walk,
  ): unknown {
    let censored = rule.censor;
    if (rule.censorFunction !== undefined) {
      try {
        censored = rule.censorFunction(original, { path: [...walk.path, key], key });
      } catch {
        censored = DEFAULT_REDACTION_CENSOR; // fail closed: the original never shows
      }
    }
    return walk.safe ? jsonSafe(censored, key, walk) : censored;
  }

  /** A JSON-safe copy of `value` as `JSON.stringify` would see it (no redaction applies here). */
  function jsonSafe(value: unknown, key: string | number, walk: Walk): unknown {
    if (typeof value === 'bigint') return value.toString();
    if (typeof value !== 'object' || value === null) return value;
    const { ancestors } = walk;
    if (ancestors.has(value)) return CIRCULAR;
    if (walk.depth >= maxDepth) return TOO_DEEP;
    ancestors.add(value);
    walk.depth += 1;
    try {
      let target: unknown = value;
      try {
        const toJSON = (value as { toJSON?: unknown }).toJSON;
        if (typeof toJSON === 'function') target = toJSON.call(value, String(key));
      } catch {
        return UNREADABLE;
      }
      if (target !== value) {
        if (typeof target !== 'object' || target === null) return jsonSafe(target, key, walk);
        if (ancestors.has(target)) return CIRCULAR;
      }
      const source = target as object;
      if (
        source instanceof String ||
        source instanceof Number ||
        source instanceof Boolean ||
        source instanceof BigInt
      ) {
        return jsonSafe(source.valueOf(), key, walk);
      }
      if (Array.isArray(source)) {
        let items: unknown[];
        try {
          items = Array.from(source);
        } catch {
          return UNREADABLE;
        }
        return items.map((item, index) => jsonSafe(item, index, walk));
      }
      const copy = copyOwn(source);
      if (copy === undefined) return UNREADABLE;
      for (const name of Object.keys(copy)) {
        const child = copy[name];
        if (typeof child === 'object' || typeof child === 'bigint') {
          copy[name] = jsonSafe(child, name, walk);
        }
      }
      return copy;
    } finally {
      walk.depth -= 1;
      ancestors.delete(value);
    }
  }

  const redactor = Object.freeze<Redactor>({
    redact: (value) => redactValue(value, false),
    stringify(value) {
      let text: string | undefined;
      try {
        // The fast way: redact what rules reach, then the native serializer for the rest.
        text = JSON.stringify(redactValue(value, true));
      } catch {
        // A cycle, a BigInt, a throwing getter or toJSON, a very deep value: walk it all, safely.
        text = JSON.stringify(run(value, true, true));
      }
      return text ?? 'null';
    },
  });
  internals.set(redactor, {
    redactUnder(key, value) {
      const walk: Walk = { safe: false, json: false, ancestors: new Set(), path: [key], depth: 0 };
      return visit(value, key, matcher.root.next(key), walk);
    },
    scrub,
  });
  return redactor;
}

/** What other parts of redaction (the pino wiring) use of a redactor beyond its public face. */
export interface RedactorInternals {
  /** Redacts `value` as if found under the top-level `key` of a value (the key itself is not matched). */
  redactUnder(key: string, value: unknown): unknown;
  /** Runs the detectors on a text; `undefined` when there are none. */
  readonly scrub: ((text: string) => string) | undefined;
}

const internals = new WeakMap<Redactor, RedactorInternals>();

/** The internals of a redactor made by {@link createRedactor}, or `undefined` for another object. */
export function redactorInternals(redactor: unknown): RedactorInternals | undefined {
  return typeof redactor === 'object' && redactor !== null
    ? internals.get(redactor as Redactor)
    : undefined;
}

/** One key along a fixed path: censor it, or go on into it. */
interface SpineStep {
  readonly key: string;
  /** The key as an array index, or -1 when it is not one. */
  readonly index: number;
  readonly rule: CompiledRule | undefined;
  readonly next: SpinePlan | undefined;
}

/** What to do with one object along the fixed paths. */
interface SpinePlan {
  readonly state: PathState;
  readonly steps: readonly SpineStep[];
}

/** The plan of the fixed paths from `state` (paths without wildcards end, so this does). */
function planSpine(state: PathState, rules: readonly CompiledRule[]): SpinePlan {
  const steps = state.literalKeys.map((key): SpineStep => {
    const next = state.next(key);
    const index = /^(0|[1-9][0-9]*)$/.test(key) && key.length < 16 ? Number(key) : -1;
    return next.rule === -1
      ? { key, index, rule: undefined, next: next.empty ? undefined : planSpine(next, rules) }
      : { key, index, rule: rules[next.rule], next: undefined };
  });
  return { state, steps };
}

/** Marks an array item taken out by a `remove` rule. */
const REMOVED: unique symbol = Symbol('removed');

/** The elements of an optional list option, or a TypeError naming it. */
function readList(value: unknown, name: string): unknown[] {
  if (value === undefined) return [];
  if (!readable(name, () => Array.isArray(value))) {
    throw new TypeError(`${name} must be an array, got ${describeValue(value)}`);
  }
  return readable(name, () => Array.from(value as unknown[]));
}

/** Whether `value` has one of the keys the paths name at `state` (an own, enumerable one). */
function hasAnyLiteral(value: object, state: PathState): boolean {
  try {
    for (const key of state.literalKeys) {
      if (Object.prototype.propertyIsEnumerable.call(value, key)) return true;
    }
    return false;
  } catch {
    return true; // unreadable: let the copy say so
  }
}

/** The canonical array indices the paths name at `state` that are within `length`. */
function literalIndices(state: PathState, length: number): number[] {
  const indices: number[] = [];
  if (!state.hasIndexKeys) return indices;
  for (const key of state.literalKeys) {
    const index = Number(key);
    if (Number.isInteger(index) && index < length && String(index) === key) indices.push(index);
  }
  return indices;
}

/**
 * A plain copy of the own enumerable properties of `value`, each read once; a property that
 * throws when read becomes `'[Unreadable]'`. `undefined` when the keys cannot be listed.
 */
function copyOwn(value: object): Record<string, unknown> | undefined {
  try {
    return { ...value } as Record<string, unknown>;
  } catch {
    // A getter or proxy trap threw: read what can be read, one property at a time.
  }
  let keys: string[];
  try {
    keys = Object.keys(value);
  } catch {
    return undefined;
  }
  const copy: Record<string, unknown> = {};
  for (const key of keys) {
    let item: unknown;
    try {
      item = (value as Record<string, unknown>)[key];
    } catch {
      item = UNREADABLE;
    }
    setOwn(copy, key, item);
  }
  return copy;
}

/** Sets an own data property, `__proto__` included, without touching any prototype. */
function setOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') {
    Object.defineProperty(target, key, {
      value,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  } else {
    target[key] = value;
  }
}

/** An Error as plain data: `{ type, message, stack, cause, …own enumerable properties }`. */
export function errorFields(error: Error): Record<string, unknown> {
  const fields: Record<string, unknown> = {};
  const field = (name: string, read: () => unknown): void => {
    let item: unknown;
    try {
      item = read();
    } catch {
      item = UNREADABLE;
    }
    if (item !== undefined) fields[name] = item;
  };
  field('type', () => {
    const constructorName = (error.constructor as { name?: unknown } | undefined)?.name;
    return typeof constructorName === 'string' && constructorName !== ''
      ? constructorName
      : String(error.name);
  });
  field('message', () => error.message);
  field('stack', () => error.stack);
  field('cause', () => error.cause);
  if (error instanceof AggregateError) field('errors', () => Array.from(error.errors as unknown[]));
  const own = copyOwn(error);
  if (own !== undefined) {
    for (const key of Object.keys(own)) {
      if (!Object.hasOwn(fields, key)) setOwn(fields, key, own[key]);
    }
  }
  return fields;
}

/** `value instanceof Error`, false when asking throws (a revoked proxy). */
function isErrorObject(value: object): boolean {
  try {
    return value instanceof Error;
  } catch {
    return false;
  }
}

/** `String(value)`, or the default censor when that throws (a value that cannot be shown). */
function textOf(value: unknown): string {
  try {
    return String(value);
  } catch {
    return DEFAULT_REDACTION_CENSOR;
  }
}

/** A Map's entries as an object, each key as its string. */
function mapEntries(map: Map<unknown, unknown>): Record<string, unknown> {
  const entries: Record<string, unknown> = {};
  try {
    for (const [key, item] of map) setOwn(entries, String(key), item);
  } catch {
    // A Map that cannot be iterated (a proxy): what was read so far.
  }
  return entries;
}

/**
 * `text` with every finding of `detectors` replaced by `[REDACTED:<kind>]`, overlapping findings
 * merged (the earliest one's kind names the merged span). A detector that throws breaks its
 * promise not to: the whole text is withheld.
 */
function scrubText(text: string, detectors: readonly TextDetector[]): string {
  try {
    return redactText(text, detectors);
  } catch {
    return DEFAULT_REDACTION_CENSOR;
  }
}
