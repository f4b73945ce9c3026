/**
 * The path compiler of redaction: parses path expressions (`user.password`, `users[*].ssn`,
 * `**.token`, `headers["x-api-key"]`) once, and merges every rule's paths into one matcher whose
 * states are built on first use and then cached, so matching a key costs one map look-up.
 */

/** One step of a parsed path. */
export type RedactionPathSegment =
  | { readonly kind: 'key'; readonly key: string }
  | { readonly kind: 'any' }
  | { readonly kind: 'deep' };

/** Characters that end an unquoted key. */
const KEY_END = /[.[\]"'*\s]/;

/**
 * Parses one path expression into its segments. An index `[0]` is the key `'0'` (array indices
 * are matched as their decimal text, like object keys); `*` and `[*]` match any one key; `**`
 * matches zero or more levels.
 *
 * @throws TypeError naming the path and the position of the first character it cannot read.
 */
export function parseRedactionPath(path: string, name = 'path'): RedactionPathSegment[] {
  const segments: RedactionPathSegment[] = [];
  const fail = (position: number, what: string): never => {
    throw new TypeError(
      `${name} ${JSON.stringify(path)} is not a valid redaction path: ${what} at position ${position}`,
    );
  };
  if (path.length === 0) fail(0, 'empty path');
  let i = 0;
  let expectKey = true; // at the start or after a dot: a key, `*` or `**` must follow
  while (i < path.length) {
    const char = path[i] as string;
    if (char === '[') {
      const close = readBracket(path, i, fail);
      segments.push(close.segment);
      i = close.end;
      expectKey = false;
      if (i < path.length && path[i] !== '.' && path[i] !== '[') {
        fail(i, `expected "." or "[" but found ${JSON.stringify(path[i])}`);
      }
      if (path[i] === '.') {
        i += 1;
        expectKey = true;
        if (i === path.length) fail(i, 'a key must follow "."');
      }
      continue;
    }
    if (!expectKey) fail(i, `unexpected ${JSON.stringify(char)}`);
    if (char === '*') {
      if (path[i + 1] === '*') {
        segments.push({ kind: 'deep' });
        i += 2;
      } else {
        segments.push({ kind: 'any' });
        i += 1;
      }
    } else {
      let end = i;
      while (end < path.length && !KEY_END.test(path[end] as string)) end += 1;
      if (end === i) fail(i, `unexpected ${JSON.stringify(char)}`);
      segments.push({ kind: 'key', key: path.slice(i, end) });
      i = end;
    }
    expectKey = false;
    if (i === path.length) break;
    if (path[i] === '.') {
      i += 1;
      expectKey = true;
      if (i === path.length) fail(i, 'a key must follow "."');
    } else if (path[i] !== '[') {
      fail(i, `expected "." or "[" but found ${JSON.stringify(path[i])}`);
    }
  }
  return segments;
}

/** Reads `[0]`, `[*]`, `["quoted"]` or `['quoted']` starting at `start` (the `[`). */
function readBracket(
  path: string,
  start: number,
  fail: (position: number, what: string) => never,
): { segment: RedactionPathSegment; end: number } {
  let i = start + 1;
  const char = path[i];
  if (char === '*') {
    if (path[i + 1] !== ']') fail(i + 1, 'expected "]" after "[*"');
    return { segment: { kind: 'any' }, end: i + 2 };
  }
  if (char !== undefined && char >= '0' && char <= '9') {
    let end = i;
    while (end < path.length && (path[end] as string) >= '0' && (path[end] as string) <= '9') {
      end += 1;
    }
    if (path[end] !== ']') fail(end, 'expected "]" after an index');
    const digits = path.slice(i, end);
    // The canonical decimal text: `[007]` would never match an array index.
    if (digits.length > 1 && digits[0] === '0') fail(i, 'an index has no leading zeros');
    return { segment: { kind: 'key', key: digits }, end: end + 1 };
  }
  if (char === '"' || char === "'") {
    const quote = char;
    let key = '';
    i += 1;
    for (;;) {
      if (i >= path.length) fail(i, `unterminated quoted key (missing ${quote})`);
      const c = path[i] as string;
      if (c === quote) break;
      if (c === '\\') {
        const escaped = path[i + 1];
        if (escaped === undefined) fail(i, 'unterminated escape');
        if (escaped === 'u') {
          const hex = path.slice(i + 2, i + 6);
          if (!/^[0-9a-fA-F]{4}$/.test(hex)) fail(i, 'expected four hex digits after "\\u"');
          key += String.fromCharCode(Number.parseInt(hex, 16));
          i += 6;
          continue;
        }
        const simple = ESCAPES[escaped as string];
        if (simple === undefined) fail(i, `unknown escape "\\${escaped}"`);
        key += simple;
        i += 2;
        continue;
      }
      key += c;
      i += 1;
    }
    if (path[i + 1] !== ']') fail(i + 1, 'expected "]" after a quoted key');
    return { segment: { kind: 'key', key }, end: i + 2 };
  }
  return fail(i, 'expected an index, "*" or a quoted key after "["');
}

const ESCAPES: Record<string, string> = {
  '\\': '\\',
  '"': '"',
  "'": "'",
  n: '\n',
  r: '\r',
  t: '\t',
  b: '\b',
  f: '\f',
  '0': '\0',
};

/** A node of the path trie: what may follow a prefix of one or more paths. */
export interface PathNode {
  readonly id: number;
  readonly children: Map<string, PathNode>;
  /** The node after a `*` at this point. */
  any: PathNode | undefined;
  /** The node after a `**` at this point; it loops on every key. */
  deep: PathNode | undefined;
  /** Whether every key keeps the matcher at this node (it was reached through `**`). */
  loops: boolean;
  /** The first rule (lowest index) whose path ends here, or -1. */
  rule: number;
}

/**
 * A set of trie nodes the matcher can be in at one depth of the value, with its transitions
 * cached. `rule` is the first rule whose path ends at the key that led here (-1 for none).
 */
export class PathState {
  /** The first matching rule for the key that led here, or -1. */
  readonly rule: number;
  /** True when no path can match this key's descendants. */
  readonly empty: boolean;
  /**
   * True when only named keys can lead on (no `*`, no `**`): the walker then looks at those keys
   * only, instead of every key of the object.
   */
  readonly literalOnly: boolean;
  /** The keys named by the paths at this point (those worth a transition of their own). */
  readonly literalKeys: readonly string[];
  /** True when one of the literal keys is an array index (a canonical decimal). */
  readonly hasIndexKeys: boolean;
  readonly #nodes: readonly PathNode[];
  readonly #matcher: PathMatcher;
  readonly #byKey = new Map<string, PathState>();
  readonly #literal: ReadonlySet<string>;
  #other: PathState | undefined;

  constructor(nodes: readonly PathNode[], rule: number, matcher: PathMatcher) {
    this.#nodes = nodes;
    this.#matcher = matcher;
    this.rule = rule;
    this.empty = nodes.length === 0;
    const keys = new Set<string>();
    let literalOnly = true;
    for (const node of nodes) {
      for (const key of node.children.keys()) keys.add(key);
      if (node.any !== undefined || node.loops) literalOnly = false;
    }
    this.literalOnly = literalOnly;
    this.literalKeys = [...keys];
    this.#literal = keys;
    this.hasIndexKeys = this.literalKeys.some((key) => /^(0|[1-9][0-9]*)$/.test(key));
  }

  /** The state after `key`. */
  next(key: string): PathState {
    const cached = this.#byKey.get(key);
    if (cached !== undefined) return cached;
    if (!this.#literal.has(key)) {
      this.#other ??= this.#matcher.step(this.#nodes, undefined);
      return this.#other;
    }
    const state = this.#matcher.step(this.#nodes, key);
    this.#byKey.set(key, state);
    return state;
  }

  /** The state after array index `index`. */
  nextIndex(index: number): PathState {
    if (!this.hasIndexKeys) {
      this.#other ??= this.#matcher.step(this.#nodes, undefined);
      return this.#other;
    }
    return this.next(String(index));
  }
}

/**
 * Every rule's paths merged into one matcher. States are sets of trie nodes (a subset
 * construction done lazily): the number of states met in practice is small and each is built
 * once, and the memory for keys stays bounded by the keys the paths name.
 */
export class PathMatcher {
  /** The state at the root of a value (before any key). */
  readonly root: PathState;
  /** True when some path holds `*` or `**`. */
  readonly hasWildcards: boolean;
  readonly #states = new Map<string, PathState>();
  #nextId = 0;

  /** `paths[i]` are the parsed paths of rule `i`. */
  constructor(paths: readonly (readonly RedactionPathSegment[][])[]) {
    const root = this.#node();
    let hasWildcards = false;
    paths.forEach((rulePaths, rule) => {
      for (const segments of rulePaths) {
        let node = root;
        for (const segment of segments) {
          if (segment.kind === 'key') {
            let child = node.children.get(segment.key);
            if (child === undefined) {
              child = this.#node();
              node.children.set(segment.key, child);
            }
            node = child;
          } else if (segment.kind === 'any') {
            hasWildcards = true;
            node.any ??= this.#node();
            node = node.any;
          } else {
            hasWildcards = true;
            if (node.loops) continue; // `**.**` is `**`
            if (node.deep === undefined) {
              node.deep = this.#node();
              node.deep.loops = true;
            }
            node = node.deep;
          }
        }
        if (node.rule === -1 || rule < node.rule) node.rule = rule;
      }
    });
    this.hasWildcards = hasWildcards;
    this.root = this.#state(closure([root]));
  }

  /** The state after `key` from `nodes`; `undefined` stands for a key no path names. */
  step(nodes: readonly PathNode[], key: string | undefined): PathState {
    const next: PathNode[] = [];
    for (const node of nodes) {
      if (key !== undefined) {
        const child = node.children.get(key);
        if (child !== undefined) next.push(child);
      }
      if (node.any !== undefined) next.push(node.any);
      if (node.loops) next.push(node);
    }
    return this.#state(closure(next));
  }

  #state(nodes: PathNode[]): PathState {
    const unique = [...new Set(nodes)].sort((a, b) => a.id - b.id);
    const id = unique.map((node) => node.id).join(',');
    let state = this.#states.get(id);
    if (state === undefined) {
      let rule = -1;
      for (const node of unique) {
        if (node.rule !== -1 && (rule === -1 || node.rule < rule)) rule = node.rule;
      }
      state = new PathState(unique, rule, this);
      this.#states.set(id, state);
    }
    return state;
  }

  #node(): PathNode {
    const id = this.#nextId;
    this.#nextId += 1;
    return { id, children: new Map(), any: undefined, deep: undefined, loops: false, rule: -1 };
  }
}

/** `nodes` with every node reachable through `**` at zero levels. */
function closure(nodes: PathNode[]): PathNode[] {
  const all = [...nodes];
  for (let i = 0; i < all.length; i += 1) {
    const deep = (all[i] as PathNode).deep;
    if (deep !== undefined && !all.includes(deep)) all.push(deep);
  }
  return all;
}
