/**
 * The data map: every place a data subject's data lives (tables, file storage, external services,
 * caches, logs, backups), what erasure does there, the handlers that do it, and the order they run
 * in. It plans an erasure (a dry run) and draws itself as the "User Data Locations" tree and as a
 * Mermaid flowchart, so the documentation cannot drift from what erasure actually does.
 */
import { describeValue } from '../core/errors.js';
import { mermaidLabel, oneLine } from '../core/markup.js';
import { readable, readObject, unstorableText } from '../core/options.js';
import { ANY, type FieldPathSegment, parseFieldPath } from '../privacy/field-paths.js';

/** What erasure does at a location. */
export type LocationAction =
  /** Deletes the subject's data. */
  | 'delete'
  /** Overwrites the subject's personal fields, keeping the record (orders kept for tax law). */
  | 'anonymize'
  /** Keeps the data under its policy (audit logs); `reason` says why. */
  | 'retain'
  /** Destroys the subject's encryption key, so what was encrypted under it can never be read. */
  | 'shred';

/** What kind of store a location is; it picks the location's default group in the tree. */
export type LocationKind =
  | 'sql-table'
  | 'file-storage'
  | 'external-service'
  | 'cache'
  | 'search-index'
  | 'logs'
  | 'backups'
  | 'other';

/** What a handler gets. */
export interface ErasureContext {
  /** The data subject's id. */
  readonly subject: string;
  /**
   * What the location's `resolve` returned when the request was made (JSON data), or
   * `[subject]` when it has no `resolve`.
   */
  readonly identifiers: unknown;
  /** The erasure request's id. */
  readonly requestId: string;
  /** The location's name. */
  readonly location: string;
  /** The same on every attempt and after a crash: hand it to external services. */
  readonly idempotencyKey: string;
  /** 1 for the first attempt. */
  readonly attempt: number;
  /** Aborted when the erasure is stopped (shutdown, timeout): stop and let it retry. */
  readonly signal: AbortSignal;
}

/** What a handler returns (or nothing: nothing counted). */
export interface ErasureOutcome {
  /** Rows or objects deleted or anonymized. */
  readonly affected?: number;
  /** A free-form note kept in the receipt (no personal data). */
  readonly detail?: string;
}

/** One place a data subject's data lives, and how erasure treats it. */
export interface DataLocation {
  /** Unique name, e.g. `users`, `orders`, `s3-uploads`, `stripe` (at most 200 characters). */
  readonly name: string;
  /**
   * Group heading in the tree, e.g. `Primary Database`, `External Services`.
   * @default by kind: sql-table `Primary Database`, file-storage `File Storage`, external-service
   * `External Services`, cache `Caches`, search-index `Search Indexes`, logs `Logs`, backups
   * `Backups`, other `Other`
   */
  readonly group?: string;
  /** What kind of store it is. */
  readonly kind: LocationKind;
  /**
   * Tree label, e.g. `users table`, `S3: user-uploads/{user_id}/`, `Stripe: customer record`.
   * @default name
   */
  readonly label?: string;
  /** The retention policy's data type stored there (links legal holds and policies). */
  readonly dataType?: string;
  /** What erasure does there. */
  readonly action: LocationAction;
  /**
   * The fields anonymized: required, non-empty, with action `anonymize`, and only with it. Take
   * them from a privacy classification with {@link personalFieldsOf}.
   */
  readonly fields?: readonly string[];
  /** Why it is retained (required with action `retain`). */
  readonly reason?: string;
  /**
   * Locations that must have their receipt before this one runs (orders before users, when orders
   * refer to users). A name not in the map yet is allowed until the map is used.
   */
  readonly after?: readonly string[];
  /** Resolves the subject's identifiers in this location at request time (stored; JSON data). */
  readonly resolve?: (subject: string, context: { readonly signal: AbortSignal }) => unknown;
  /**
   * Erases; required unless the action is `retain` or `unsupported` is set (and not allowed
   * then). Must be idempotent: it may run again after a crash.
   */
  readonly erase?: (
    context: ErasureContext,
    // biome-ignore lint/suspicious/noConfusingVoidType: `void` lets `async () => {}` be a handler.
  ) => ErasureOutcome | void | Promise<ErasureOutcome | void>;
  /** Counts what remains of the subject after `erase` (0 = verified). */
  readonly verify?: (context: ErasureContext) => number | Promise<number>;
  /**
   * Set when the store cannot erase (an append-only ledger, an immutable backup): the receipt says
   * `unsupported` with this text, never `erased`.
   */
  readonly unsupported?: string;
}

/** One location in an erasure plan. */
export interface PlannedErasureStep {
  /** The location's name. */
  readonly location: string;
  /** Its group (the default of its kind when it has none). */
  readonly group: string;
  /** Its label (its name when it has none). */
  readonly label: string;
  /** Its kind. */
  readonly kind: LocationKind;
  /** Its action, or `unsupported` when it cannot erase. */
  readonly action: LocationAction | 'unsupported';
  /** Its data type, if any. */
  readonly dataType: string | undefined;
  /** The fields anonymized (empty unless the action is `anonymize`). */
  readonly fields: readonly string[];
  /** Its reason, if any. */
  readonly reason: string | undefined;
  /** The planned locations it runs after (those outside the plan dropped). */
  readonly after: readonly string[];
  /** 0-based wave: 0 without `after`, else one more than the highest wave it runs after. */
  readonly wave: number;
}

/** Options of {@link DataMap.plan}. */
export interface PlanErasureOptions {
  /**
   * Only the locations of these data types (a location without a data type is left out).
   * @default every location
   */
  readonly dataTypes?: readonly string[];
}

/** Every location of a data subject's data. Build it with {@link createDataMap}. */
export interface DataMap {
  /**
   * Adds a location. `after` may name locations added later; one that closes a cycle among the
   * known locations is refused, and the map is left as it was.
   *
   * @throws TypeError naming the field (`location.after[1]`) when the location is not valid, its
   * name is taken, or its `after` makes a cycle (the message lists it: `a → b → a`, each
   * location followed by one it runs after).
   */
  add(location: DataLocation): DataMap;
  /**
   * Adds several, all or none.
   *
   * @throws TypeError naming the entry's field (`locations[2].name`), as {@link DataMap.add}.
   */
  addAll(locations: readonly DataLocation[]): DataMap;
  /** The location (a frozen copy of what was added), or `undefined`. */
  get(name: string): DataLocation | undefined;
  /**
   * The locations in an order that respects every `after` (ties in the order they were added).
   *
   * @throws TypeError when an `after` names a location that is not in the map.
   */
  readonly locations: readonly DataLocation[];
  /**
   * Throws what {@link DataMap.plan} would when the map is not complete.
   *
   * @throws TypeError listing every `after` that names a location not in the map.
   */
  check(): void;
  /**
   * The erasure plan (a dry run: nothing runs): the locations in {@link DataMap.locations} order
   * with their waves.
   *
   * @throws TypeError when an option is invalid, or an `after` names a location not in the map.
   */
  plan(options?: PlanErasureOptions): readonly PlannedErasureStep[];
  /**
   * The "User Data Locations:" tree, one branch per group in the order groups were first used,
   * locations in the order they were added, ending with a line break. Notes: `(anonymize, don't
   * delete)`, `(crypto-shred)`, `(retain: <reason>)`, `(cannot erase: <unsupported>)`, and
   * `(delete)` only in a group where other actions appear.
   *
   * @throws TypeError when an `after` names a location not in the map.
   */
  toTree(): string;
  /**
   * A Mermaid `flowchart TD`: one subgraph per group, one node per location labelled with what
   * erasure does there, an arrow from each location to those that run after it. Labels are
   * escaped; node ids are generated (`n0`, `n1`…).
   *
   * @throws TypeError when an `after` names a location not in the map.
   */
  toMermaid(): string;
}

const KINDS: readonly LocationKind[] = [
  'sql-table',
  'file-storage',
  'external-service',
  'cache',
  'search-index',
  'logs',
  'backups',
  'other',
];
const ACTIONS: readonly LocationAction[] = ['delete', 'anonymize', 'retain', 'shred'];
const DEFAULT_GROUPS: Readonly<Record<LocationKind, string>> = Object.freeze({
  'sql-table': 'Primary Database',
  'file-storage': 'File Storage',
  'external-service': 'External Services',
  cache: 'Caches',
  'search-index': 'Search Indexes',
  logs: 'Logs',
  backups: 'Backups',
  other: 'Other',
});
const LOCATION_KEYS =
  'name group kind label dataType action fields reason after resolve erase verify unsupported';
/** Names are stored per request and shown in receipts; a bound keeps them names, not documents. */
const MAX_NAME_LENGTH = 200;

/**
 * A new data map, with `locations` added (all or none).
 *
 * @example
 * ```ts
 * const dataMap = createDataMap([
 *   { name: 'orders', kind: 'sql-table', group: 'Orders Database', label: 'orders table',
 *     dataType: 'order_history', action: 'anonymize', fields: ['email', 'name'],
 *     erase: ({ identifiers }) => anonymizeOrders(identifiers) },
 *   { name: 'users', kind: 'sql-table', label: 'users table', dataType: 'user_accounts',
 *     action: 'delete', after: ['orders'], erase: ({ subject }) => deleteUser(subject) },
 *   { name: 'stripe', kind: 'external-service', label: 'Stripe: customer record',
 *     action: 'delete', erase: ({ identifiers, idempotencyKey }) => deleteCustomer(identifiers, idempotencyKey) },
 *   { name: 'backups', kind: 'backups', label: 'Database backups', action: 'delete',
 *     unsupported: 'a backup cannot forget one person: erasures are re-applied after a restore' },
 * ]);
 * console.log(dataMap.toTree());
 * dataMap.plan({ dataTypes: ['order_history'] }); // what an erasure of order data would do
 * ```
 * @throws TypeError naming the field of the entry that is not a valid location
 * (`locations[1].after[0]`), a duplicate name, or a cycle of `after`.
 */
export function createDataMap(locations?: readonly DataLocation[]): DataMap {
  const map = new DataMapImpl();
  if (locations !== undefined) map.addAll(locations);
  return map;
}

class DataMapImpl implements DataMap {
  /** By name, in the order added. */
  #byName = new Map<string, DataLocation>();
  /** The checked topological order, until the next add. */
  #sorted: readonly DataLocation[] | undefined;

  add(location: DataLocation): DataMap {
    const checked = checkLocation(location, 'location');
    const next = new Map(this.#byName);
    insert(next, checked, 'location');
    this.#commit(next);
    return this;
  }

  addAll(locations: readonly DataLocation[]): DataMap {
    const entries = readArray(locations, 'locations');
    const next = new Map(this.#byName);
    entries.forEach((entry, index) => {
      const name = `locations[${index}]`;
      insert(next, checkLocation(entry, name), name);
    });
    this.#commit(next);
    return this;
  }

  get(name: string): DataLocation | undefined {
    return typeof name === 'string' ? this.#byName.get(name) : undefined;
  }

  get locations(): readonly DataLocation[] {
    this.#sorted ??= topologicalOrder(this.#byName);
    return this.#sorted;
  }

  check(): void {
    void this.locations;
  }

  plan(options: PlanErasureOptions = {}): readonly PlannedErasureStep[] {
    const { dataTypes } = readObject(options, 'options', 'dataTypes');
    const wanted =
      dataTypes === undefined
        ? undefined
        : new Set(readArray(dataTypes, 'options.dataTypes').map(checkDataTypeOption));
    const planned = this.locations.filter(
      (location) =>
        wanted === undefined || (location.dataType !== undefined && wanted.has(location.dataType)),
    );
    const inPlan = new Set(planned.map((location) => location.name));
    const waves = new Map<string, number>();
    const steps = planned.map((location): PlannedErasureStep => {
      const after = (location.after ?? []).filter((name) => inPlan.has(name));
      // Topological order: every location it runs after already has its wave.
      const wave = after.reduce((max, name) => Math.max(max, (waves.get(name) ?? 0) + 1), 0);
      waves.set(location.name, wave);
      return Object.freeze({
        location: location.name,
        group: groupOf(location),
        label: location.label ?? location.name,
        kind: location.kind,
        action: location.unsupported === undefined ? location.action : 'unsupported',
        dataType: location.dataType,
        fields: location.fields ?? Object.freeze([]),
        // `unsupported` says why the data cannot be erased.
        reason: location.reason ?? location.unsupported,
        after: Object.freeze(after),
        wave,
      });
    });
    return Object.freeze(steps);
  }

  toTree(): string {
    this.check();
    const groups = this.#groups();
    const lines = ['User Data Locations:'];
    if (groups.length === 0) lines.push('└─ (none)');
    groups.forEach(([group, members], g) => {
      const lastGroup = g === groups.length - 1;
      if (g > 0) lines.push('│');
      lines.push(`${lastGroup ? '└─' : '├─'} ${oneLine(group)}`);
      const indent = lastGroup ? '   ' : '│  ';
      const mixed = members.some((member) => noteOf(member, false) !== undefined);
      members.forEach((member, m) => {
        const note = noteOf(member, mixed);
        const text = oneLine(member.label ?? member.name);
        const branch = m === members.length - 1 ? '└─' : '├─';
        lines.push(
          `${indent}${branch} ${note === undefined ? text : `${text} (${oneLine(note)})`}`,
        );
      });
    });
    return `${lines.join('\n')}\n`;
  }

  toMermaid(): string {
    this.check();
    const ids = new Map<string, string>();
    for (const name of this.#byName.keys()) ids.set(name, `n${ids.size}`);
    const lines = ['flowchart TD'];
    this.#groups().forEach(([group, members], g) => {
      lines.push(`  subgraph g${g} [${mermaidText(group)}]`);
      for (const member of members) {
        const text = `${member.label ?? member.name} (${noteOf(member, true, true)})`;
        lines.push(`    ${ids.get(member.name)}[${mermaidText(text)}]`);
      }
      lines.push('  end');
    });
    for (const location of this.#byName.values()) {
      for (const before of location.after ?? []) {
        lines.push(`  ${ids.get(before)} --> ${ids.get(location.name)}`);
      }
    }
    return `${lines.join('\n')}\n`;
  }

  /** Groups in the order first used, each with its locations in the order added. */
  #groups(): [string, DataLocation[]][] {
    const groups = new Map<string, DataLocation[]>();
    for (const location of this.#byName.values()) {
      const group = groupOf(location);
      const members = groups.get(group);
      if (members) members.push(location);
      else groups.set(group, [location]);
    }
    return [...groups];
  }

  #commit(next: Map<string, DataLocation>): void {
    this.#byName = next;
    this.#sorted = undefined;
  }
}

/** Adds `location` to `map` unless its name is taken or its `after` closes a cycle. */
function insert(map: Map<string, DataLocation>, location: DataLocation, name: string): void {
  if (map.has(location.name)) {
    throw new TypeError(`${name}.name '${location.name}' is already in the data map`);
  }
  const cycle = findCycle(map, location);
  if (cycle) throw new TypeError(`${name}.after makes a cycle: ${cycle.join(' → ')}`);
  map.set(location.name, location);
}

/**
 * A path of `after` links from `added` back to itself through the known locations, or
 * `undefined`. The map had no cycle before, so any new cycle runs through `added`.
 */
function findCycle(
  map: ReadonlyMap<string, DataLocation>,
  added: DataLocation,
): string[] | undefined {
  // Each name reached, with the name whose `after` led to it: one visit per location.
  const cameFrom = new Map<string, string>();
  const stack: string[] = [];
  for (const first of added.after ?? []) {
    if (cameFrom.has(first)) continue;
    cameFrom.set(first, added.name);
    stack.push(first);
  }
  while (stack.length > 0) {
    const name = stack.pop() as string;
    if (name === added.name) {
      const path = [name];
      for (let at = cameFrom.get(name) as string; at !== added.name; ) {
        path.unshift(at);
        at = cameFrom.get(at) as string;
      }
      return [added.name, ...path];
    }
    for (const next of map.get(name)?.after ?? []) {
      if (cameFrom.has(next)) continue;
      cameFrom.set(next, name);
      stack.push(next);
    }
  }
  return undefined;
}

/** Kahn's algorithm, always taking the earliest added of the locations ready to run. */
function topologicalOrder(byName: ReadonlyMap<string, DataLocation>): readonly DataLocation[] {
  const unknown: string[] = [];
  for (const location of byName.values()) {
    for (const before of location.after ?? []) {
      if (!byName.has(before)) {
        unknown.push(
          `location '${location.name}' runs after '${before}', which is not in the data map`,
        );
      }
    }
  }
  if (unknown.length > 0) throw new TypeError(unknown.join('; '));
  const all = [...byName.values()];
  const index = new Map(all.map((location, i) => [location.name, i]));
  const waiting = all.map((location) => location.after?.length ?? 0);
  const dependents: number[][] = all.map(() => []);
  all.forEach((location, i) => {
    for (const before of location.after ?? []) dependents[index.get(before) as number]?.push(i);
  });
  const ready = new MinHeap();
  waiting.forEach((count, i) => {
    if (count === 0) ready.push(i);
  });
  const order: DataLocation[] = [];
  for (let i = ready.pop(); i !== undefined; i = ready.pop()) {
    order.push(all[i] as DataLocation);
    for (const next of dependents[i] ?? []) {
      const left = (waiting[next] as number) - 1;
      waiting[next] = left;
      if (left === 0) ready.push(next);
    }
  }
  // `insert` refuses every cycle, so every location is placed.
  return Object.freeze(order);
}

/** A binary min-heap of insertion indexes: ties broken by the order locations were added. */
class MinHeap {
  readonly #items: number[] = [];

  push(value: number): void {
    const items = this.#items;
    items.push(value);
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if ((items[parent] as number) <= value) break;
      items[i] = items[parent] as number;
      i = parent;
    }
    items[i] = value;
  }

  pop(): number | undefined {
    const items = this.#items;
    const top = items[0];
    const last = items.pop();
    if (top === undefined || last === undefined || items.length === 0) return top;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= items.length) break;
      const right = left + 1;
      const child =
        right < items.length && (items[right] as number) < (items[left] as number) ? right : left;
      if ((items[child] as number) >= last) break;
      items[i] = items[child] as number;
      i = child;
    }
    items[i] = last;
    return top;
  }
}

function groupOf(location: DataLocation): string {
  return location.group ?? DEFAULT_GROUPS[location.kind];
}

/**
 * The note after a location's label. A plain delete needs none, unless its group holds other
 * actions (`mixed`), where `(delete)` tells it apart (the reference: "orders table (anonymize,
 * don't delete)" beside "shipping_addresses table (delete)"). The diagram (`detailed`) always
 * names the action, and the fields anonymized.
 */
function noteOf(location: DataLocation, mixed: boolean, detailed = false): string | undefined {
  if (location.unsupported !== undefined) return `cannot erase: ${location.unsupported}`;
  switch (location.action) {
    case 'anonymize':
      return detailed
        ? `anonymize: ${(location.fields ?? []).join(', ')}`
        : "anonymize, don't delete";
    case 'retain':
      return `retain: ${location.reason}`;
    case 'shred':
      return 'crypto-shred';
    default:
      return mixed || detailed ? 'delete' : undefined;
  }
}

/**
 * A quoted Mermaid label that cannot change the diagram's structure: `mermaidLabel` folds line
 * breaks and encodes `"`, `<` and `>`; `#` (which opens Mermaid's entity codes, so it goes
 * first), brackets, backticks (a leading one makes a Markdown string), `%` and `&` are encoded
 * here, and Unicode line and paragraph separators folded.
 */
function mermaidText(text: string): string {
  return mermaidLabel(
    text
      .replace(/#/g, '#35;')
      .replace(/[\u0085\u2028\u2029]/g, ' ')
      .replace(/[[\]`%&{}|]/g, (char) => `#${char.charCodeAt(0)};`),
  );
}

/** Checks one location and returns a frozen copy, each field read once. */
function checkLocation(value: unknown, name: string): DataLocation {
  const read = readObject(value, name, LOCATION_KEYS);
  const locationName = checkText(read.name, `${name}.name`, MAX_NAME_LENGTH);
  const kind = checkChoice(read.kind, `${name}.kind`, KINDS);
  const action = checkChoice(read.action, `${name}.action`, ACTIONS);
  const group = optional(read.group, (v) => checkText(v, `${name}.group`, MAX_NAME_LENGTH));
  const label = optional(read.label, (v) => checkText(v, `${name}.label`));
  const dataType = optional(read.dataType, (v) =>
    checkText(v, `${name}.dataType`, MAX_NAME_LENGTH),
  );
  const reason = optional(read.reason, (v) => checkText(v, `${name}.reason`));
  const unsupported = optional(read.unsupported, (v) => checkText(v, `${name}.unsupported`));
  const fields = optional(read.fields, (v) => checkNames(v, `${name}.fields`));
  const after = optional(read.after, (v) => checkNames(v, `${name}.after`));
  const resolve = optional(read.resolve, (v) => checkFunction(v, `${name}.resolve`));
  const erase = optional(read.erase, (v) => checkFunction(v, `${name}.erase`));
  const verify = optional(read.verify, (v) => checkFunction(v, `${name}.verify`));

  if (action === 'anonymize') {
    if (fields === undefined || fields.length === 0) {
      throw new TypeError(
        `${name}.fields must list the fields anonymized when ${name}.action is 'anonymize'`,
      );
    }
  } else if (fields !== undefined) {
    throw new TypeError(`${name}.fields is only for ${name}.action 'anonymize', not '${action}'`);
  }
  if (reason === undefined && action === 'retain') {
    throw new TypeError(
      `${name}.reason must say why the data is kept when ${name}.action is 'retain'`,
    );
  }
  const erases = action !== 'retain' && unsupported === undefined;
  const why = action === 'retain' ? `${name}.action is 'retain'` : `${name}.unsupported is set`;
  if (erases && erase === undefined) {
    throw new TypeError(
      `${name}.erase must be a function (required unless ${name}.action is 'retain' or ${name}.unsupported is set), got undefined`,
    );
  }
  if (!erases) {
    // A handler that never runs would let the map promise an erasure that does not happen.
    for (const [key, given] of [
      ['erase', erase],
      ['verify', verify],
    ] as const) {
      if (given !== undefined) throw new TypeError(`${name}.${key} is never used when ${why}`);
    }
  }
  const selfIndex = after?.indexOf(locationName) ?? -1;
  if (selfIndex >= 0) {
    throw new TypeError(
      `${name}.after makes a cycle: ${locationName} → ${locationName} (${name}.after[${selfIndex}])`,
    );
  }

  const location: { -readonly [K in keyof DataLocation]: DataLocation[K] } = {
    name: locationName,
    kind,
    action,
  };
  if (group !== undefined) location.group = group;
  if (label !== undefined) location.label = label;
  if (dataType !== undefined) location.dataType = dataType;
  if (fields !== undefined) location.fields = fields;
  if (reason !== undefined) location.reason = reason;
  if (after !== undefined) location.after = after;
  if (resolve !== undefined) location.resolve = resolve as DataLocation['resolve'] & {};
  if (erase !== undefined) location.erase = erase as DataLocation['erase'] & {};
  if (verify !== undefined) location.verify = verify as DataLocation['verify'] & {};
  if (unsupported !== undefined) location.unsupported = unsupported;
  return Object.freeze(location);
}

function optional<T>(value: unknown, check: (value: unknown) => T): T | undefined {
  return value === undefined ? undefined : check(value);
}

/** A non-empty string every backend can store, of at most `max` characters. */
function checkText(value: unknown, name: string, max?: number): string {
  if (typeof value !== 'string' || value.length === 0) {
    throw new TypeError(`${name} must be a non-empty string, got ${describeValue(value)}`);
  }
  if (max !== undefined && value.length > max) {
    throw new TypeError(`${name} must be at most ${max} characters, got ${value.length}`);
  }
  const unstorable = unstorableText(value);
  if (unstorable) throw new TypeError(`${name} ${unstorable}`);
  return value;
}

function checkChoice<T extends string>(value: unknown, name: string, choices: readonly T[]): T {
  if (typeof value !== 'string' || !(choices as readonly string[]).includes(value)) {
    throw new TypeError(
      `${name} must be one of ${choices.map((choice) => `'${choice}'`).join(', ')}, got ${typeof value === 'string' ? `'${value}'` : describeValue(value)}`,
    );
  }
  return value as T;
}

function checkFunction(value: unknown, name: string): (...args: never[]) => unknown {
  if (typeof value !== 'function') {
    throw new TypeError(`${name} must be a function, got ${describeValue(value)}`);
  }
  return value as (...args: never[]) => unknown;
}

/** A frozen array of distinct names. */
function checkNames(value: unknown, name: string): readonly string[] {
  const names = readArray(value, name);
  const seen = new Set<string>();
  names.forEach((entry, index) => {
    const text = checkText(entry, `${name}[${index}]`, MAX_NAME_LENGTH);
    if (seen.has(text)) throw new TypeError(`${name}[${index}] '${text}' is listed twice`);
    seen.add(text);
  });
  return Object.freeze(names as string[]);
}

function checkDataTypeOption(value: unknown, index: number): string {
  return checkText(value, `options.dataTypes[${index}]`);
}

/** The elements of the array `value`, each read once (a proxy or a throwing getter is a TypeError). */
function readArray(value: unknown, name: string): unknown[] {
  const length = readable(name, () => (Array.isArray(value) ? value.length : undefined));
  if (length === undefined) {
    throw new TypeError(`${name} must be an array, got ${describeValue(value)}`);
  }
  const items: unknown[] = [];
  for (let i = 0; i < length; i += 1) {
    items.push(readable(`${name}[${i}]`, () => (value as unknown[])[i]));
  }
  return items;
}

/**
 * The paths of a classification's personal fields (those that belong to a data subject), for a
 * location's `fields`. With `under`, only the fields inside that path, relative to it: a
 * classification of orders with `customer.email` gives `email` under `customer`.
 *
 * @example
 * ```ts
 * const users = createClassification(User);
 * dataMap.add({ name: 'users', kind: 'sql-table', action: 'anonymize',
 *   fields: personalFieldsOf(users), erase: anonymizeUser });
 * personalFieldsOf(orders, { under: 'customer' }); // ['email', 'name']
 * ```
 * @throws TypeError when `classification` has no `personalFields()` that returns fields with
 * paths, or `options.under` is not a field path.
 */
export function personalFieldsOf(
  classification: { personalFields(): readonly { readonly path: string }[] },
  options: { readonly under?: string } = {},
): string[] {
  const { under } = readObject(options, 'options', 'under');
  const prefix =
    under === undefined ? [] : parseFieldPath(checkText(under, 'options.under'), 'options.under');
  const personalFields = readable('classification.personalFields', () =>
    typeof classification === 'object' && classification !== null
      ? classification.personalFields
      : undefined,
  );
  if (typeof personalFields !== 'function') {
    throw new TypeError(
      `classification must be a classification (createClassification()), got ${describeValue(classification)}`,
    );
  }
  const fields = readArray(personalFields.call(classification), 'classification.personalFields()');
  const paths: string[] = [];
  fields.forEach((field, index) => {
    const name = `classification.personalFields()[${index}].path`;
    const path = readable(name, () =>
      typeof field === 'object' && field !== null ? (field as { path?: unknown }).path : undefined,
    );
    const segments = parseFieldPath(checkText(path, name), name);
    if (segments.length <= prefix.length) return;
    if (!prefix.every((segment, i) => segment === segments[i])) return;
    const relative =
      prefix.length === 0 ? (path as string) : formatFieldPath(segments.slice(prefix.length));
    if (!paths.includes(relative)) paths.push(relative);
  });
  return paths;
}

/** Field path text that `parseFieldPath` reads back as `segments`. */
function formatFieldPath(segments: readonly FieldPathSegment[]): string {
  let text = '';
  for (const segment of segments) {
    if (segment === ANY) text += text === '' ? '*' : '[*]';
    else if (/^(0|[1-9][0-9]*)$/.test(segment) && text !== '') text += `[${segment}]`;
    else if (/^[^.[\]"'*\s]+$/.test(segment)) text += text === '' ? segment : `.${segment}`;
    else text += `[${JSON.stringify(segment)}]`;
  }
  return text;
}
