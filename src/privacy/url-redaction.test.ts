import { describe, expect, it } from 'vitest';
import { createClassification } from './classification.js';
import { defaultDetectors } from './detectors/default-detectors.js';
import { redactUrl } from './url-redaction.js';

const classification = createClassification({
  fields: {
    email: { category: 'pii', handling: 'mask', mask: 'email' },
    'cards[*].number': { category: 'pci', handling: 'tokenize' },
  },
});

describe('redactUrl', () => {
  it('redacts classified query parameters and what detectors find in the path', () => {
    expect(
      redactUrl(
        'https://api.example.com/users/123-45-6789/profile?email=ana%40example.com&NUMBER=1&tab=2#top',
        {
          classification,
          detectors: defaultDetectors,
        },
      ),
    ).toBe(
      'https://api.example.com/users/[REDACTED]/profile?email=[REDACTED]&NUMBER=[REDACTED]&tab=2#top',
    );
  });

  it('scrubs parameter values by detectors, decoded, and keeps everything else as written', () => {
    expect(
      redactUrl('/search?q=ana%40example.com&page=2&flag', {
        detectors: defaultDetectors,
        params: ['code'],
      }),
    ).toBe('/search?q=[REDACTED]&page=2&flag');
    expect(redactUrl('/cb?code=abc&state=xyz', { params: ['CODE'], censor: '***' })).toBe(
      '/cb?code=***&state=xyz',
    );
    expect(redactUrl('/users/user-42/profile?tab=2', { detectors: defaultDetectors })).toBe(
      '/users/user-42/profile?tab=2',
    );
    // A malformed escape is kept, not thrown.
    expect(redactUrl('/a/%E0%A4%A?x=%zz', { detectors: defaultDetectors })).toBe(
      '/a/%E0%A4%A?x=%zz',
    );
  });

  it('answers bad arguments with a TypeError naming them', () => {
    expect(() => redactUrl(42 as never)).toThrow(/url/);
    expect(() => redactUrl('/x', { parms: [] } as never)).toThrow(/parms/);
    expect(() => redactUrl('/x', { params: [1] } as never)).toThrow(/params/);
    expect(() => redactUrl('/x', { detectors: [{}] } as never)).toThrow(/detectors/);
  });
});

describe('redactUrl and credentials in a URL', () => {
  it('redacts the password of credentials written in the URL, with or without detectors', () => {
    expect(redactUrl('https://deploy:hunter2@git.example.com/repo.git')).toBe(
      'https://deploy:[REDACTED]@git.example.com/repo.git',
    );
    expect(
      redactUrl('postgres://app:s3cr%40t@db.internal:5432/main?sslmode=require', {
        detectors: defaultDetectors,
      }),
    ).toBe('postgres://app:[REDACTED]@db.internal:5432/main?sslmode=require');
  });

  it('runs the detectors on a user name (an email is personal data)', () => {
    expect(
      redactUrl('ftp://ana.lima%40example.com@files.example.com/x', {
        detectors: defaultDetectors,
      }),
    ).toBe('ftp://[REDACTED]@files.example.com/x');
  });

  it('keeps a URL without credentials as written', () => {
    expect(redactUrl('https://example.com:8443/a/b?tab=2#top')).toBe(
      'https://example.com:8443/a/b?tab=2#top',
    );
    expect(redactUrl('https://example.com/users/@ana')).toBe('https://example.com/users/@ana');
  });
});
