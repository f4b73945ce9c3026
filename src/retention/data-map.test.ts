/**
 * The data map: location checks, ordering and cycles, the erasure plan, the tree and Mermaid
 * renderings, and the classification's personal fields.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { unstorableText } from '../core/options.js';
import { createClassification, personal } from '../privacy/classification.js';
import { ANY, parseFieldPath } from '../privacy/field-paths.js';
import { createDataMap, type DataLocation, type DataMap, personalFieldsOf } from './data-map.js';

const erase = () => ({ affected: 1 });

/** The reference layout of the issue. */
function referenceMap(): DataMap {
  return createDataMap([
    { name: 'users', kind: 'sql-table', label: 'users table', action: 'delete', erase },
    {
      name: 'user_profiles',
      kind: 'sql-table',
      label: 'user_profiles table',
      action: 'delete',
      erase,
    },
    { name: 'sessions', kind: 'sql-table', label: 'sessions table', action: 'delete', erase },
    {
      name: 'orders',
      kind: 'sql-table',
      group: 'Orders Database',
      label: 'orders table',
      dataType: 'order_history',
      action: 'anonymize',
      fields: ['email', 'name'],
      erase,
    },
    {
      name: 'shipping_addresses',
      kind: 'sql-table',
      group: 'Orders Database',
      label: 'shipping_addresses table',
      action: 'delete',
      erase,
    },
    {
      name: 's3-uploads',
      kind: 'file-storage',
      label: 'S3: user-uploads/{user_id}/',
      action: 'delete',
      erase,
    },
    {
      name: 'stripe',
      kind: 'external-service',
      label: 'Stripe: customer record',
      action: 'delete',
      erase,
    },
    {
      name: 'mailchimp',
      kind: 'external-service',
      label: 'Mailchimp: subscriber',
      action: 'delete',
      erase,
    },
    {
      name: 'backups',
      kind: 'backups',
      label: 'Database backups',
      action: 'retain',
      reason: 'contains deleted users',
    },
  ]);
}

function messageOf(call: () => unknown): string {
  try {
    call();
  } catch (error) {
    expect(error).toBeInstanceOf(TypeError);
    return (error as Error).message;
  }
  throw new Error('expected a TypeError');
}

const base = { name: 'users', kind: 'sql-table', action: 'delete', erase } as const;

describe('the data map tree', () => {
  it('draws the reference layout, notes included', () => {
    expect(referenceMap().toTree()).toBe(
      [
        'User Data Locations:',
        '├─ Primary Database',
        '│  ├─ users table',
        '│  ├─ user_profiles table',
        '│  └─ sessions table',
        '│',
        '├─ Orders Database',
        "│  ├─ orders table (anonymize, don't delete)",
        '│  └─ shipping_addresses table (delete)',
        '│',
        '├─ File Storage',
        '│  └─ S3: user-uploads/{user_id}/',
        '│',
        '├─ External Services',
        '│  ├─ Stripe: customer record',
        '│  └─ Mailchimp: subscriber',
        '│',
        '└─ Backups',
        '   └─ Database backups (retain: contains deleted users)',
        '',
      ].join('\n'),
    );
  });

  it('notes shredding and what cannot be erased, keeps groups in first-used order and folds line breaks', () => {
    const map = createDataMap([
      { name: 'keys', kind: 'other', label: 'Keys\nvault', action: 'shred', erase },
      { name: 'search', kind: 'search-index', action: 'delete', erase },
      {
        name: 'ledger',
        kind: 'other',
        action: 'delete',
        unsupported: 'append-only',
        reason: 'the ledger cannot change',
      },
    ]);
    expect(map.toTree()).toBe(
      [
        'User Data Locations:',
        '├─ Other',
        '│  ├─ Keys vault (crypto-shred)',
        '│  └─ ledger (cannot erase: append-only)',
        '│',
        '└─ Search Indexes',
        '   └─ search',
        '',
      ].join('\n'),
    );
    expect(createDataMap().toTree()).toBe('User Data Locations:\n└─ (none)\n');
  });
});

describe('location checks', () => {
  const cases: [string, Record<string, unknown>, RegExp][] = [
    ['no name', { ...base, name: undefined }, /^location\.name must be a non-empty string/],
    ['an empty name', { ...base, name: '' }, /^location\.name must be a non-empty string/],
    ['a long name', { ...base, name: 'x'.repeat(201) }, /^location\.name must be at most 200/],
    ['a NUL in a name', { ...base, name: 'a\u0000' }, /^location\.name must not contain the NUL/],
    ['a bad kind', { ...base, kind: 'table' }, /^location\.kind must be one of 'sql-table'/],
    ['a bad action', { ...base, action: 'purge' }, /^location\.action must be one of 'delete'/],
    ['an unknown key', { ...base, handler: erase }, /unknown option location\.handler/],
    ['an empty group', { ...base, group: '' }, /^location\.group must be a non-empty string/],
    ['a numeric label', { ...base, label: 3 }, /^location\.label must be a non-empty string/],
    ['a bad data type', { ...base, dataType: null }, /^location\.dataType must be a non-empty/],
    ['no erase', { ...base, erase: undefined }, /^location\.erase must be a function/],
    ['erase not a function', { ...base, erase: 'x' }, /^location\.erase must be a function/],
    ['resolve not a function', { ...base, resolve: {} }, /^location\.resolve must be a function/],
    ['verify not a function', { ...base, verify: 1 }, /^location\.verify must be a function/],
    [
      'anonymize without fields',
      { ...base, action: 'anonymize' },
      /^location\.fields must list the fields anonymized/,
    ],
    [
      'anonymize with no fields',
      { ...base, action: 'anonymize', fields: [] },
      /^location\.fields must list the fields anonymized/,
    ],
    ['fields with delete', { ...base, fields: ['email'] }, /^location\.fields is only for/],
    [
      'a field that is not a string',
      { ...base, action: 'anonymize', fields: ['email', 4] },
      /^location\.fields\[1\] must be a non-empty string/,
    ],
    [
      'a field twice',
      { ...base, action: 'anonymize', fields: ['email', 'email'] },
      /^location\.fields\[1\] 'email' is listed twice/,
    ],
    ['fields not an array', { ...base, fields: 'email' }, /^location\.fields must be an array/],
    [
      'retain without a reason',
      { ...base, action: 'retain', erase: undefined },
      /^location\.reason must say why/,
    ],
    [
      'unsupported without a reason',
      { ...base, erase: undefined, unsupported: 'append-only' },
      /^location\.reason must say why the data cannot be erased/,
    ],
    [
      'an erase that never runs',
      { ...base, action: 'retain', reason: 'tax law' },
      /^location\.erase is never used when location\.action is 'retain'/,
    ],
    [
      'a verify that never runs',
      { ...base, erase: undefined, verify: () => 0, unsupported: 'x', reason: 'y' },
      /^location\.verify is never used when location\.unsupported is set/,
    ],
    ['after not an array', { ...base, after: 'orders' }, /^location\.after must be an array/],
    ['an empty after', { ...base, after: ['orders', ''] }, /^location\.after\[1\] must be/],
    ['after twice', { ...base, after: ['a', 'a'] }, /^location\.after\[1\] 'a' is listed twice/],
    [
      'after itself',
      { ...base, after: ['orders', 'users'] },
      /^location\.after makes a cycle: users → users \(location\.after\[1\]\)/,
    ],
    [
      'a retry policy (set on the retention)',
      { ...base, retry: { retries: 1 } },
      /unknown option location\.retry/,
    ],
  ];
  it.each(cases)('refuses %s', (_, location, message) => {
    expect(messageOf(() => createDataMap().add(location as never))).toMatch(message);
  });

  it('names the entry of addAll and createDataMap', () => {
    expect(
      messageOf(() => createDataMap([base, { ...base, name: 'b', kind: 'x' } as never])),
    ).toMatch(/^locations\[1\]\.kind must be one of/);
    expect(messageOf(() => createDataMap('users' as never))).toMatch(
      /^locations must be an array, got string/,
    );
  });

  it('answers hostile objects with a TypeError naming the field, reading each field once', () => {
    let reads = 0;
    const counted = {
      kind: 'sql-table' as const,
      action: 'delete' as const,
      erase,
      get name() {
        reads += 1;
        return reads === 1 ? 'users' : '';
      },
    };
    expect(createDataMap().add(counted).get('users')?.name).toBe('users');
    expect(reads).toBe(1);

    const throwing = Object.defineProperty({ ...base }, 'after', {
      enumerable: true,
      get() {
        throw new Error('boom');
      },
    });
    expect(messageOf(() => createDataMap().add(throwing))).toBe('location.after cannot be read');

    const { proxy, revoke } = Proxy.revocable({}, {});
    revoke();
    expect(messageOf(() => createDataMap().add(proxy as never))).toMatch(
      /^location cannot be read/,
    );
    const { proxy: after, revoke: revokeAfter } = Proxy.revocable([], {});
    revokeAfter();
    expect(messageOf(() => createDataMap().add({ ...base, after }))).toBe(
      'location.after cannot be read',
    );
    const trap = new Proxy(['orders'], {
      get(target, key, receiver) {
        if (key === '0') throw new Error('trap');
        return Reflect.get(target, key, receiver);
      },
    });
    expect(messageOf(() => createDataMap().add({ ...base, after: trap }))).toBe(
      'location.after[0] cannot be read',
    );
  });

  it('keeps a frozen copy: later changes to the caller objects do not reach the map', () => {
    const fields = ['email'];
    const map = createDataMap([{ ...base, action: 'anonymize', fields }]);
    fields.push('name');
    const stored = map.get('users');
    expect(stored?.fields).toEqual(['email']);
    expect(Object.isFrozen(stored)).toBe(true);
    expect(Object.isFrozen(stored?.fields)).toBe(true);
    expect(map.get(3 as never)).toBeUndefined();
  });

  it('refuses a taken name and leaves the map as it was; addAll is all or none', () => {
    const map = createDataMap([base]);
    expect(messageOf(() => map.add({ ...base, label: 'other' }))).toBe(
      "location.name 'users' is already in the data map",
    );
    expect(map.get('users')?.label).toBeUndefined();
    expect(
      messageOf(() =>
        map.addAll([
          { ...base, name: 'orders' },
          { ...base, name: 'orders' },
        ]),
      ),
    ).toBe("locations[1].name 'orders' is already in the data map");
    expect(map.get('orders')).toBeUndefined();
    expect(map.locations.map((location) => location.name)).toEqual(['users']);
  });
});

describe('ordering', () => {
  it('allows an after naming a location added later, and refuses to be used until it is there', () => {
    const map = createDataMap([
      { ...base, name: 'users', after: ['orders', 'payments'] },
      { ...base, name: 'sessions', after: ['tokens'] },
    ]);
    const missing =
      "location 'users' runs after 'orders', which is not in the data map; " +
      "location 'users' runs after 'payments', which is not in the data map; " +
      "location 'sessions' runs after 'tokens', which is not in the data map";
    for (const use of [
      () => map.locations,
      () => map.plan(),
      () => map.check(),
      () => map.toTree(),
      () => map.toMermaid(),
    ]) {
      expect(messageOf(use)).toBe(missing);
    }
    map.addAll([
      { ...base, name: 'orders' },
      { ...base, name: 'payments', after: ['orders'] },
      { ...base, name: 'tokens' },
    ]);
    expect(map.locations.map((location) => location.name)).toEqual([
      'orders',
      'payments',
      'users',
      'tokens',
      'sessions',
    ]);
  });

  it('refuses an after that closes a cycle, listing it', () => {
    const map = createDataMap([
      { ...base, name: 'b', after: ['c'] },
      { ...base, name: 'c', after: ['a'] },
    ]);
    expect(messageOf(() => map.add({ ...base, name: 'a', after: ['b'] }))).toBe(
      'location.after makes a cycle: a → b → c → a',
    );
    expect(map.get('a')).toBeUndefined();
    map.add({ ...base, name: 'a' });
    expect(map.locations.map((location) => location.name)).toEqual(['a', 'c', 'b']);
  });

  it('plans in waves, with each location after the ones it names', () => {
    const steps = referenceMapWithOrder().plan();
    expect(steps.map((step) => [step.location, step.wave, step.after])).toEqual([
      ['orders', 0, []],
      ['stripe', 0, []],
      ['backups', 0, []],
      ['shipping', 1, ['orders']],
      ['users', 2, ['orders', 'shipping', 'stripe']],
    ]);
    expect(steps[0]).toEqual({
      location: 'orders',
      group: 'Orders Database',
      label: 'orders table',
      kind: 'sql-table',
      action: 'anonymize',
      dataType: 'order_history',
      fields: ['email', 'name'],
      reason: undefined,
      after: [],
      wave: 0,
    });
    expect(steps[1]?.action).toBe('unsupported');
    expect(steps[1]?.reason).toBe('the API has no delete');
    expect(steps[4]?.group).toBe('Primary Database');
    expect(steps[4]?.label).toBe('users');
  });

  it('plans only the data types asked for, dropping dependencies on the others', () => {
    const map = referenceMapWithOrder();
    expect(
      map
        .plan({ dataTypes: ['user_accounts', 'shipping'] })
        .map((step) => [step.location, step.wave, step.after]),
    ).toEqual([
      ['shipping', 0, []],
      ['users', 1, ['shipping']],
    ]);
    expect(map.plan({ dataTypes: [] })).toEqual([]);
    expect(messageOf(() => map.plan({ dataTypes: 'shipping' } as never))).toMatch(
      /^options\.dataTypes must be an array/,
    );
    expect(messageOf(() => map.plan({ dataTypes: [''] }))).toMatch(
      /^options\.dataTypes\[0\] must be a non-empty string/,
    );
    expect(messageOf(() => map.plan({ types: [] } as never))).toMatch(
      /unknown option options\.types/,
    );
  });
});

function referenceMapWithOrder(): DataMap {
  return createDataMap([
    {
      name: 'users',
      kind: 'sql-table',
      dataType: 'user_accounts',
      action: 'delete',
      after: ['orders', 'shipping', 'stripe'],
      erase,
    },
    {
      name: 'orders',
      kind: 'sql-table',
      group: 'Orders Database',
      label: 'orders table',
      dataType: 'order_history',
      action: 'anonymize',
      fields: ['email', 'name'],
      erase,
    },
    {
      name: 'stripe',
      kind: 'external-service',
      dataType: 'payments',
      action: 'delete',
      unsupported: 'no delete endpoint',
      reason: 'the API has no delete',
    },
    { name: 'backups', kind: 'backups', action: 'retain', reason: 'restores re-apply erasures' },
    {
      name: 'shipping',
      kind: 'sql-table',
      dataType: 'shipping',
      action: 'delete',
      after: ['orders'],
      erase,
    },
  ]);
}

/** Random DAGs: location i may run after any location j < i, added in a random order. */
const dags = fc.integer({ min: 1, max: 12 }).chain((size) =>
  fc.tuple(
    fc.tuple(
      ...Array.from({ length: size }, (_, i) =>
        fc.subarray(Array.from({ length: i }, (__, j) => j)),
      ),
    ),
    fc.shuffledSubarray(
      Array.from({ length: size }, (_, i) => i),
      { minLength: size, maxLength: size },
    ),
  ),
);

function dagLocations(afters: readonly (readonly number[])[], order: readonly number[]) {
  return order.map(
    (i): DataLocation => ({
      ...base,
      name: `l${i}`,
      dataType: `t${i % 3}`,
      after: (afters[i] ?? []).map((j) => `l${j}`),
    }),
  );
}

describe('ordering properties', () => {
  it('orders every location after those it names, with waves one above their highest', () => {
    fc.assert(
      fc.property(dags, fc.subarray(['t0', 't1', 't2']), ([afters, order], dataTypes) => {
        const map = createDataMap(dagLocations(afters, order));
        const position = new Map(map.locations.map((location, i) => [location.name, i]));
        expect(position.size).toBe(order.length);
        for (const location of map.locations) {
          for (const before of location.after ?? []) {
            expect(position.get(before)).toBeLessThan(position.get(location.name) as number);
          }
        }
        for (const options of [undefined, { dataTypes }]) {
          const steps = map.plan(options);
          const waves = new Map<string, number>();
          for (const step of steps) {
            if (options) expect(dataTypes).toContain(step.dataType);
            for (const before of step.after) expect(waves.has(before)).toBe(true);
            const expected = Math.max(-1, ...step.after.map((name) => waves.get(name) ?? 0)) + 1;
            expect(step.wave).toBe(expected);
            waves.set(step.location, step.wave);
          }
          const kept = options
            ? order.filter((i) => dataTypes.includes(`t${i % 3}`)).length
            : order.length;
          expect(steps.length).toBe(kept);
        }
      }),
      { numRuns: 200 },
    );
  });

  it('refuses an edge that closes a cycle and leaves the map unchanged', () => {
    const withPath = dags.filter(([afters]) => afters.some((list) => list.length > 0));
    fc.assert(
      fc.property(withPath, fc.nat(), ([afters, order], pick) => {
        // Some location i runs after j (directly or not): a new location that j runs after and
        // that runs after i closes the loop through i and j.
        const from = afters.map((list, i) => [i, list] as const).filter(([, list]) => list.length);
        const [i, list] = from[pick % from.length] as readonly [number, readonly number[]];
        const j = list[pick % list.length] as number;
        const locations = dagLocations(afters, order).map((location) =>
          location.name === `l${j}`
            ? { ...location, after: [...(location.after ?? []), 'x'] }
            : location,
        );
        const map = createDataMap(locations);
        const stored = locations.map((location) => map.get(location.name));
        const missing = messageOf(() => map.plan());
        const message = messageOf(() => map.add({ ...base, name: 'x', after: [`l${i}`] }));
        expect(message).toMatch(/^location\.after makes a cycle: x → l\d+( → l\d+)* → x$/);
        // Each name in the cycle runs after the next one.
        const cycle = message.slice(message.indexOf(': ') + 2).split(' → ');
        const afterOf = (name: string) => (name === 'x' ? [`l${i}`] : (map.get(name)?.after ?? []));
        for (let k = 0; k + 1 < cycle.length; k += 1) {
          expect(afterOf(cycle[k] as string)).toContain(cycle[k + 1]);
        }
        expect(map.get('x')).toBeUndefined();
        expect(locations.map((location) => map.get(location.name))).toEqual(stored);
        expect(messageOf(() => map.plan())).toBe(missing);
      }),
      { numRuns: 200 },
    );
  });
});

describe('Mermaid', () => {
  it('draws groups as subgraphs, locations as nodes with their action, after as arrows', () => {
    expect(referenceMapWithOrder().toMermaid()).toBe(
      [
        'flowchart TD',
        '  subgraph g0 ["Primary Database"]',
        '    n0["users (delete)"]',
        '    n4["shipping (delete)"]',
        '  end',
        '  subgraph g1 ["Orders Database"]',
        '    n1["orders table (anonymize: email, name)"]',
        '  end',
        '  subgraph g2 ["External Services"]',
        '    n2["stripe (cannot erase: no delete endpoint)"]',
        '  end',
        '  subgraph g3 ["Backups"]',
        '    n3["backups (retain: restores re-apply erasures)"]',
        '  end',
        '  n1 --> n0',
        '  n4 --> n0',
        '  n2 --> n0',
        '  n1 --> n4',
        '',
      ].join('\n'),
    );
  });

  it('keeps any label text inside its quotes, on its line', () => {
    const text = fc.string({ unit: 'binary', maxLength: 40 }).filter((s) => s.length > 0);
    const clean = fc.oneof(
      text,
      fc.constantFrom(
        '"]; n9["x',
        'a\nb',
        'a\r\nb',
        '#quot;',
        '<b>x</b>',
        '`md`',
        'a\u2028b',
        '%% c',
      ),
    );
    fc.assert(
      fc.property(clean, clean, (label, group) => {
        const map = createDataMap();
        try {
          map.add({ ...base, label, group });
        } catch (error) {
          // Text no backend can store (a NUL, a lone surrogate) is refused before it is drawn.
          expect((error as Error).message).toMatch(/^location\.(label|group) must/);
          return;
        }
        const lines = map.toMermaid().split('\n');
        expect(lines).toHaveLength(5);
        expect(lines[1]).toMatch(/^ {2}subgraph g0 \["[^"\r\n\u2028\u2029[\]<>`]*"\]$/);
        expect(lines[2]).toMatch(/^ {4}n0\["[^"\r\n\u2028\u2029[\]<>`]*"\]$/);
        // Every `#` left opens one of the entity codes written for the escaped characters.
        for (const line of lines.slice(1, 3)) {
          expect(line.replace(/#(\d+|quot|lt|gt);/g, '')).not.toContain('#');
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('personalFieldsOf', () => {
  const Order = z.object({
    id: z.string(),
    customerId: z.string(),
    customer: z.object({
      email: personal(z.string(), { category: 'pii', handling: 'redact', subject: 'customerId' }),
      name: personal(z.string(), { category: 'pii', handling: 'redact', subject: 'customerId' }),
      'home address': personal(z.string(), {
        category: 'pii',
        handling: 'redact',
        subject: 'customerId',
      }),
    }),
    lines: z.array(
      z.object({
        note: personal(z.string(), { category: 'pii', handling: 'redact', subject: 'customerId' }),
      }),
    ),
    // Classified but no one's: not for erasure.
    apiKey: personal(z.string(), { category: 'secret', handling: 'redact' }),
    total: z.number(),
  });
  const orders = createClassification(Order);

  it('lists the paths of the fields that belong to a subject', () => {
    expect(personalFieldsOf(orders)).toEqual([
      'customer.email',
      'customer.name',
      'customer["home address"]',
      'lines[*].note',
    ]);
  });

  it('lists the fields under a path, relative to it', () => {
    expect(personalFieldsOf(orders, { under: 'customer' })).toEqual([
      'email',
      'name',
      '["home address"]',
    ]);
    expect(personalFieldsOf(orders, { under: 'lines' })).toEqual(['*.note']);
    expect(personalFieldsOf(orders, { under: 'lines[*]' })).toEqual(['note']);
    expect(personalFieldsOf(orders, { under: 'customer.email' })).toEqual([]);
    expect(personalFieldsOf(orders, { under: 'total' })).toEqual([]);
  });

  it('gives fields a location takes as they are', () => {
    const map = createDataMap([
      { ...base, action: 'anonymize', fields: personalFieldsOf(orders, { under: 'customer' }) },
    ]);
    expect(map.plan()[0]?.fields).toEqual(['email', 'name', '["home address"]']);
  });

  it('writes relative paths that read back as the same segments, whatever the keys', () => {
    const key = fc.string({ unit: 'binary', maxLength: 8 }).filter((k) => !unstorableText(k));
    const segment = fc.oneof(key, key, fc.constant(ANY));
    fc.assert(
      fc.property(key, fc.array(segment, { minLength: 1, maxLength: 4 }), (root, rest) => {
        const text = [root, ...rest]
          .map((s) => (s === ANY ? '[*]' : `[${JSON.stringify(s)}]`))
          .join('');
        const fake = { personalFields: () => [{ path: text }] };
        const [relative] = personalFieldsOf(fake, { under: `[${JSON.stringify(root)}]` });
        expect(parseFieldPath(relative as string, 'relative')).toEqual(rest);
      }),
      { numRuns: 300 },
    );
  });

  it('refuses what is not a classification or a field path', () => {
    expect(messageOf(() => personalFieldsOf({} as never))).toMatch(
      /^classification must be a classification/,
    );
    expect(messageOf(() => personalFieldsOf(orders, { under: '' }))).toMatch(
      /^options\.under must be a non-empty string/,
    );
    expect(messageOf(() => personalFieldsOf(orders, { under: 'a..b' }))).toMatch(/^options\.under/);
    expect(messageOf(() => personalFieldsOf(orders, { prefix: 'a' } as never))).toMatch(
      /unknown option options\.prefix/,
    );
    expect(
      messageOf(() => personalFieldsOf({ personalFields: () => [{ path: 4 }] } as never)),
    ).toMatch(/^classification\.personalFields\(\)\[0\]\.path must be a non-empty string/);
  });
});
