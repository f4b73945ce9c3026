import { describe, expect, it } from 'vitest';
import { defaultDetectors } from './detectors/default-detectors.js';
import { redactUrl } from './url-redaction.js';

describe('redactUrl', () => {
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
