/**
 * One classification, many uses: the fields it finds on a zod schema or a map, the masked API
 * view, the third-party projection, log redaction, and option checks.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createClassification, personal } from './classification.js';

const Customer = z.object({
  id: z.string(),
  name: personal(z.string(), { category: 'pii', handling: 'redact', subject: 'id' }),
  email: personal(z.string(), {
    category: 'pii',
    handling: 'mask',
    mask: 'email',
    subject: 'id',
  }),
  ssn: personal(z.string(), { category: 'pii', handling: 'encrypt', subject: 'id' }).optional(),
  password: personal(z.string(), { category: 'secret', handling: 'hash', hash: 'password' }),
  cards: z.array(
    z.object({
      number: personal(z.string(), {
        category: 'pci',
        handling: 'tokenize',
        mask: 'card',
        subject: 'id',
      }),
      cvv: personal(z.string(), { category: 'pci', handling: 'drop' }),
      brand: z.string(),
    }),
  ),
  health: z.object({
    notes: personal(z.string(), { category: 'phi', handling: 'encrypt', subject: 'id' }),
  }),
  prefs: z.record(z.string(), personal(z.string(), { category: 'pii', handling: 'redact' })),
  plan: z.string(),
});

const customer = {
  id: 'cus-1',
  name: 'Ana Lima',
  email: 'ana.lima@example.com',
  ssn: '123-45-6789',
  password: 'correct horse',
  cards: [{ number: '4532015112830366', cvv: '123', brand: 'visa' }],
  health: { notes: 'allergic to penicillin' },
  prefs: { colour: 'blue' },
  plan: 'pro',
};

const classification = createClassification(Customer, {
  recipients: { crm: ['id', 'name', 'email', 'cards'], analytics: ['id', 'plan'] },
});

describe('classification', () => {
  it('finds the marked fields of a zod schema, through arrays, records and optional', () => {
    expect(
      classification.fields.map((field) => [field.path, field.category, field.handling]),
    ).toEqual([
      ['name', 'pii', 'redact'],
      ['email', 'pii', 'mask'],
      ['ssn', 'pii', 'encrypt'],
      ['password', 'secret', 'hash'],
      ['cards[*].number', 'pci', 'tokenize'],
      ['cards[*].cvv', 'pci', 'drop'],
      ['health.notes', 'phi', 'encrypt'],
      ['prefs.*', 'pii', 'redact'],
    ]);
    expect(classification.fieldAt(['cards', 3, 'number'])).toMatchObject({ tokenType: 'number' });
    expect(classification.fieldAt(['plan'])).toBeUndefined();
    expect(classification.personalFields().map((field) => field.path)).toEqual([
      'name',
      'email',
      'ssn',
      'cards[*].number',
      'health.notes',
    ]);
  });

  it('classifies every field a reused personal() schema is used in', () => {
    const Email = personal(z.string(), { category: 'pii', handling: 'redact' });
    const reused = createClassification(
      z.object({ billing: z.object({ email: Email }), shipping: z.object({ email: Email }) }),
    );
    expect(reused.fields.map((field) => field.path)).toEqual(['billing.email', 'shipping.email']);
    expect(
      reused
        .redactor()
        .stringify({ billing: { email: 'a@example.com' }, shipping: { email: 'b@example.com' } }),
    ).toBe('{"billing":{"email":"[REDACTED]"},"shipping":{"email":"[REDACTED]"}}');
  });

  it('finds marked fields behind z.lazy(), and stops at a recursive schema', () => {
    const email = personal(z.string(), { category: 'pii', handling: 'mask', mask: 'email' });
    const Node: z.ZodType<unknown> = z.object({
      email,
      children: z.array(z.lazy(() => Node)),
    });
    const Schema = z.object({ owner: z.lazy(() => z.object({ email })), tree: Node });
    const lazy = createClassification(Schema);
    // A recursive schema is walked once (no path names every depth of it).
    expect(lazy.fields.map((field) => field.path)).toEqual(['owner.email', 'tree.email']);
    expect(lazy.redactor().stringify({ owner: { email: 'ana@example.com' } })).toBe(
      '{"owner":{"email":"a***@example.com"}}',
    );
    // A getter that builds a new schema on each call is followed once, not forever.
    const next = (): z.ZodType => z.object({ email, next: z.lazy(next) });
    expect(createClassification(z.object({ list: next() })).fields.map((f) => f.path)).toEqual([
      'list.email',
      'list.next.email',
    ]);
  });

  it('keeps the schema usable: personal() marks through zod .meta() and validation is unchanged', () => {
    expect(Customer.parse(customer)).toEqual(customer);
    expect(Customer.shape.email.meta()).toMatchObject({ privacy: { handling: 'mask' } });
  });

  it('classifies by path without a schema, and a map entry wins over the schema', () => {
    const byPath = createClassification({
      fields: { 'orders[*].card': { category: 'pci', handling: 'tokenize', mask: 'card' } },
    });
    expect(byPath.fields[0]).toMatchObject({ path: 'orders[*].card', tokenType: 'card' });
    const overridden = createClassification(Customer, {
      fields: { plan: { category: 'pii', handling: 'redact' } },
    });
    expect(overridden.fieldAt(['plan'])).toMatchObject({ handling: 'redact' });
  });

  it('shows an API view: masked where a masker is set, other classified fields removed', () => {
    const before = structuredClone(customer);
    expect(classification.view(customer)).toEqual({
      id: 'cus-1',
      email: expect.stringMatching(/@example\.com$/),
      cards: [{ number: expect.stringMatching(/0366$/), brand: 'visa' }],
      health: {},
      prefs: {},
      plan: 'pro',
    });
    const view = classification.view(customer) as { email: string; cards: { number: string }[] };
    expect(view.email).toMatch(/^a.*@example\.com$/);
    expect(view.email).not.toContain('lima');
    expect(view.cards[0]?.number).not.toContain('453201511283');
    expect(customer).toEqual(before);
  });

  it('sends a third party only what its allow-list names, never classified fields it does not name', () => {
    expect(classification.forThirdParty('analytics', customer)).toEqual({
      id: 'cus-1',
      plan: 'pro',
    });
    // `cards` is listed whole, but its classified `number` and `cvv` are not listed themselves.
    expect(classification.forThirdParty('crm', customer)).toEqual({
      id: 'cus-1',
      name: 'Ana Lima',
      email: 'ana.lima@example.com',
      cards: [{ brand: 'visa' }],
    });
    expect(() => classification.forThirdParty('ads', customer)).toThrow(/recipient must be one of/);
  });

  it('refuses to list a secret for a third party', () => {
    expect(() =>
      createClassification(Customer, { recipients: { crm: ['id', 'password'] } }),
    ).toThrow(/recipients\.crm\[1\].*password, a secret/);
  });

  it('the allow-list projection never pollutes a prototype and never leaks an unlisted key', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.jsonValue()), (extra) => {
        const record = JSON.parse(
          JSON.stringify({ ...extra, id: 'x', plan: 'p', __proto__: { polluted: 1 } }),
        ) as Record<string, unknown>;
        Object.defineProperty(record, '__proto__', {
          value: { polluted: true },
          enumerable: true,
        });
        const projected = classification.forThirdParty('analytics', record) as object;
        expect(Object.keys(projected).sort()).toEqual(['id', 'plan']);
        expect(({} as { polluted?: unknown }).polluted).toBeUndefined();
      }),
      { numRuns: 300 },
    );
  });

  it('redacts logs by the classification, at any depth', () => {
    const redactor = classification.redactor();
    const line = redactor.stringify({ msg: 'signup', user: customer });
    for (const secret of [
      'Ana Lima',
      'lima@',
      '123-45-6789',
      'correct horse',
      '4532015112830366',
      'penicillin',
      'blue',
    ]) {
      expect(line).not.toContain(secret);
    }
    const parsed = JSON.parse(line) as {
      user: Record<string, unknown> & { cards: Record<string, unknown>[] };
    };
    expect(parsed.user.email).toMatch(/^a.*@example\.com$/);
    expect(parsed.user.name).toBe('[REDACTED]');
    expect(parsed.user.cards[0]).not.toHaveProperty('cvv');
    expect(parsed.user.plan).toBe('pro');
    expect(
      JSON.parse(classification.redactor({ anywhere: false }).stringify({ user: customer })),
    ).toMatchObject({
      user: { name: 'Ana Lima' },
    });
  });

  it('answers bad classifications with a TypeError naming the field', () => {
    expect(() => createClassification({ fields: { email: { category: 'pii' } as never } })).toThrow(
      /fields\["email"\]\.handling must be one of/,
    );
    expect(() =>
      createClassification({
        fields: { email: { category: 'personal', handling: 'redact' } as never },
      }),
    ).toThrow(/fields\["email"\]\.category/);
    expect(() =>
      createClassification({ fields: { email: { category: 'pii', handling: 'mask' } } }),
    ).toThrow(/fields\["email"\]\.mask is required/);
    expect(() =>
      createClassification({
        fields: { email: { category: 'pii', handling: 'redact', subjct: 'id' } as never },
      }),
    ).toThrow(/subjct/);
    expect(() =>
      createClassification({ fields: { 'a..b': { category: 'pii', handling: 'redact' } } }),
    ).toThrow(/fields\["a\.\.b"\] path "a\.\.b" is not a valid redaction path/);
    expect(() =>
      createClassification({
        fields: { email: { category: 'pii', handling: 'redact', subject: 'users[*].id' } },
      }),
    ).toThrow(/subject must name one field/);
    expect(() => createClassification({ fields: {} })).toThrow(/no fields/);
    expect(() => personal('not a schema', { category: 'pii', handling: 'redact' })).toThrow(
      /zod 4 schema/,
    );
    expect(() => createClassification(Customer, { recipents: {} } as never)).toThrow(/recipents/);
  });
});
