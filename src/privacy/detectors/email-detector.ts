/**
 * Email addresses in free text.
 */
import type { TextDetector } from '../text-detector.js';
import { findMatches } from './scan.js';

/*
 * The local part may only start where a run of local-part characters starts (the lookbehind), so
 * a long run without an `@` is tried once, not once per character: the scan stays linear. Every
 * quantifier is bounded by the limits of RFC 5321 (64 for the local part, 63 per label).
 */
const EMAIL =
  /(?<![A-Za-z0-9._%+'-])[A-Za-z0-9_%+'-](?:[A-Za-z0-9._%+'-]{0,62}[A-Za-z0-9_%+'-])?@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.){1,10}[A-Za-z]{2,63}(?![A-Za-z0-9-]|\.[A-Za-z0-9])/g;

/**
 * Finds email addresses (`ana.lima+news@mail.example.com`): a dot-atom local part of at most 64
 * characters, `@`, and a domain of up to 11 labels ending in an alphabetic top-level domain.
 * Quoted local parts and IP-literal domains are not looked for. Kind: `email`.
 *
 * @example
 * ```ts
 * redactText('write to ana@example.com', [emailDetector]); // 'write to [REDACTED:email]'
 * ```
 */
export const emailDetector: TextDetector = Object.freeze({
  name: 'email',
  find: (text: string) => findMatches(text, EMAIL, 'email', isPlausibleEmail, 'retry-inside'),
});

/** Dots may not start, end or repeat in the local part. */
function isPlausibleEmail(match: RegExpExecArray): boolean {
  const local = match[0].slice(0, match[0].indexOf('@'));
  return !local.includes('..') && !local.endsWith('.');
}
