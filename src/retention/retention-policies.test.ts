import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { expectNoEngineError, oddValue } from '../../test/support/odd-values.js';
import { isFlowproofError } from '../core/errors.js';
import { definePolicies, parsePolicies } from './retention-policies.js';

const REFERENCE = `retention_policies:
  user_accounts:
    active: "indefinite"
    inactive_after: "3 years no login"
    delete_after_inactive: "1 year"
  order_history:
    keep: "7 years"  # Tax/financial requirements
    anonymize_after: "2 years"  # Remove PII, keep aggregates
  session_logs:
    keep: "90 days"
    delete_after: "90 days"
  audit_logs:
    keep: "7 years"  # Compliance
    cannot_delete: true
  support_tickets:
    keep: "2 years after resolution"
    anonymize_pii: true
  marketing_consent:
    keep: "indefinite while consent valid"
    delete_immediately_on_withdrawal: true
`;

const T = Date.UTC(2020, 0, 15);
const iso = (d: Date | undefined) => d?.toISOString();

function issuesOf(call: () => unknown) {
  try {
    call();
  } catch (error) {
    if (isFlowproofError(error, 'RETENTION_POLICY_INVALID')) return error.details.issues;
    throw error;
  }
  throw new Error('expected RETENTION_POLICY_INVALID');
}

describe('parsePolicies: the reference YAML', () => {
  const policies = parsePolicies(REFERENCE);
  it('loads every type with the documented meaning', () => {
    expect(policies.dataTypes).toEqual([
      'user_accounts',
      'order_history',
      'session_logs',
      'audit_logs',
      'support_tickets',
      'marketing_consent',
    ]);
    expect(iso(policies.deleteDueAt('session_logs', T))).toBe('2020-04-14T00:00:00.000Z');
    expect(iso(policies.anonymizeDueAt('order_history', T))).toBe('2022-01-15T00:00:00.000Z');
    expect(iso(policies.deleteDueAt('order_history', T))).toBe('2027-01-15T00:00:00.000Z');
    expect(policies.get('audit_logs')?.cannotDelete).toBe(true);
    expect(policies.deleteDueAt('audit_logs', T)).toBeUndefined();
    expect(policies.deleteCutoff('audit_logs', T)).toBeUndefined();
    expect(policies.get('support_tickets')).toMatchObject({
      anchor: 'resolution',
      anonymizePii: true,
    });
    expect(iso(policies.deleteDueAt('support_tickets', T))).toBe('2022-01-15T00:00:00.000Z');
    expect(policies.get('marketing_consent')).toMatchObject({
      keep: 'indefinite',
      deleteOnConsentWithdrawal: true,
      anchor: 'while consent valid',
    });
    expect(policies.deleteDueAt('marketing_consent', T)).toBeUndefined();
    expect(policies.consentWithdrawalTypes).toEqual(['marketing_consent']);
    expect(policies.get('user_accounts')).toMatchObject({ anchor: 'no login', keep: 'indefinite' });
    expect(iso(policies.deleteDueAt('user_accounts', T))).toBe('2024-01-15T00:00:00.000Z');
    expect(policies.get('user_accounts')?.erasureDeadline).toBeUndefined(); // the module's deadline applies
  });
  it('gives cutoffs consistent with due dates', () => {
    const now = Date.UTC(2030, 5, 1);
    for (const type of policies.dataTypes) {
      const cutoff = policies.deleteCutoff(type, now);
      if (!cutoff) continue;
      expect(policies.deleteDueAt(type, cutoff)!.getTime()).toBeLessThanOrEqual(now);
      expect(policies.deleteDueAt(type, cutoff.getTime() + 1)!.getTime()).toBeGreaterThan(now);
    }
    expect(iso(policies.anonymizeCutoff('order_history', now))).toBe('2028-06-01T00:00:00.000Z');
  });
  it('is frozen and round-trips through toJSON', () => {
    expect(Object.isFrozen(policies)).toBe(true);
    expect(Object.isFrozen(policies.get('order_history'))).toBe(true);
    expect(Object.isFrozen(policies.dataTypes)).toBe(true);
    const again = definePolicies(JSON.parse(JSON.stringify(policies.toJSON())));
    expect(again.toJSON()).toEqual(policies.toJSON());
    expect(parsePolicies(JSON.stringify(policies.toJSON())).toJSON()).toEqual(policies.toJSON());
  });
});

describe('validation', () => {
  it('collects every problem with its path', () => {
    const issues = issuesOf(() =>
      definePolicies({
        retention_policies: {
          order_history: { keep: '7 yeers', colour: 'red' },
          session_logs: { keep: '90 days', delete_after: '30 days' },
          audit_logs: { keep: '7 years', cannot_delete: true, delete_after: '8 years' },
          x: { keep: '1 year', anonymize_after: '2 years', anonymize_pii: 'yes' },
          '': { keep: '1 day' },
        },
      }),
    );
    const paths = issues.map((issue) => issue.path.join('.'));
    expect(paths).toEqual(
      expect.arrayContaining([
        'retention_policies.order_history.keep',
        'retention_policies.order_history.colour',
        'retention_policies.session_logs.delete_after',
        'retention_policies.audit_logs.delete_after',
        'retention_policies.x.anonymize_pii',
        'retention_policies.',
      ]),
    );
    expect(
      issues.find((i) => i.path.join('.') === 'retention_policies.order_history.keep')?.message,
    ).toMatch(/ISO 8601/);
    expect(issues.every((i) => i.code === 'invalid')).toBe(true);
    expect(
      issuesOf(() => definePolicies({ x: { keep: '1 year', anonymize_after: '2 years' } }))[0]
        ?.path,
    ).toEqual(['x', 'anonymize_after']);
    expect(issuesOf(() => definePolicies({ ['a'.repeat(201)]: { keep: '1 day' } }))).toHaveLength(
      1,
    );
  });
  it('reports YAML and JSON syntax errors and duplicate keys with the line, keeping the cause', () => {
    for (const [text, line] of [
      ['a:\n  keep: "1 day"\n  keep: "2 days"\n', 3],
      ['a:\n  keep: [1 day\n', 3],
      ['{\n "a": {\n "keep": "1 day",\n "keep": "2 days"\n }\n}', 4],
    ] as const) {
      try {
        parsePolicies(text);
        expect.unreachable();
      } catch (error) {
        expect(isFlowproofError(error, 'RETENTION_POLICY_INVALID')).toBe(true);
        const issues = (error as { details: { issues: { message: string }[] } }).details.issues;
        expect(issues[0]?.message).toMatch(new RegExp(`line ${line}`));
        expect((error as Error).cause).toBeDefined();
      }
    }
    expect(issuesOf(() => parsePolicies('- 1\n- 2'))[0]?.message).toMatch(/map of data types/);
    // Valid YAML but not JSON: JSON.parse's own message (with a position where the engine gives one).
    expect(issuesOf(() => parsePolicies('{\n "a": {\n "keep": }\n}'))[0]?.message).toMatch(
      /^JSON syntax error/,
    );
  });
  it('accepts camelCase, the bare map and explicit formats', () => {
    const p = definePolicies({
      sessions: { deleteAfter: 'P30D', legalBasis: 'art. 6(1)(f)', erasureDeadline: '2 weeks' },
    });
    expect(p.get('sessions')).toMatchObject({ legalBasis: 'art. 6(1)(f)' });
    expect(p.get('sessions')?.erasureDeadline?.days).toBe(14);
    expect(() => definePolicies({ x: { keep: '1 day', erasure_deadline: '0 days' } })).toThrow(
      /must be longer than nothing/,
    );
    expect(parsePolicies('{"a":{"keep":"1 day"}}', { format: 'yaml' }).dataTypes).toEqual(['a']);
    expect(() => parsePolicies('a: 1', { format: 'toml' as never })).toThrow(TypeError);
  });
  it('answers odd arguments with a TypeError naming them or a FlowproofError', async () => {
    await fc.assert(
      fc.asyncProperty(oddValue, async (make) => {
        await expectNoEngineError('document', () => definePolicies(make()));
        await expectNoEngineError('document', () =>
          definePolicies({ retention_policies: { a: make() } }),
        );
        await expectNoEngineError('document', () => definePolicies({ a: { keep: make() } }));
        await expectNoEngineError('text', () => parsePolicies(make() as string));
        await expectNoEngineError('options', () => parsePolicies('a: {}', make() as never));
        const p = definePolicies({ a: { keep: '1 day' } });
        await expectNoEngineError('recordedAt', () => p.deleteDueAt('a', make() as number));
        await expectNoEngineError('dataType', () => p.get(make() as string));
      }),
      { numRuns: 300 },
    );
  });
});

describe('toJSON round trip (property)', () => {
  const duration = fc.constantFrom(
    '1 day',
    'P30D',
    '6 months',
    '1 year',
    'P2Y',
    '10 years',
    '90 days',
  );
  const policy = fc.record(
    {
      keep: duration,
      anonymizePii: fc.boolean(),
      deleteOnConsentWithdrawal: fc.boolean(),
      legalBasis: fc.string({ minLength: 1, maxLength: 20 }).filter((s) => s.trim().length > 0),
    },
    { requiredKeys: ['keep'] },
  );
  it('definePolicies(toJSON()) gives the same policies', () => {
    fc.assert(
      fc.property(
        fc.dictionary(
          fc
            .string({ minLength: 1, maxLength: 10 })
            .filter(
              (s) =>
                s.trim().length > 0 &&
                s !== '__proto__' &&
                s !== 'retention_policies' &&
                s !== 'retentionPolicies',
            ),
          policy,
          { maxKeys: 5 },
        ),
        (doc) => {
          const first = definePolicies(doc);
          const second = definePolicies(JSON.parse(JSON.stringify(first.toJSON())));
          expect(second.toJSON()).toEqual(first.toJSON());
          expect(second.dataTypes).toEqual(first.dataTypes);
        },
      ),
      { numRuns: 300 },
    );
  });
});
