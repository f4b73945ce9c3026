/**
 * What every detector shares: running a global regular expression over a text, and checking a
 * candidate before it becomes a finding.
 *
 * @internal
 */
import type { TextFinding } from '../text-detector.js';

/**
 * What a candidate check answers: `true` keeps the whole match, `false` drops it, and a list of
 * `[start, end]` spans (indexes into the text, inside the match) keeps those parts of it.
 *
 * @internal
 */
export type CandidateVerdict = boolean | readonly (readonly [start: number, end: number])[];

/**
 * Every finding of `kind` in `text`: the matches of `pattern` (which must have the `g` flag) that
 * `accept` keeps. Never throws on a non-string text: the detector port promises redaction it
 * will not throw.
 *
 * Where the search resumes: with `after-match`, after each match, so each character is matched
 * once. With `retry-inside`, after the last finding kept, or one character after the start of a
 * refused match, so a value inside a refused candidate (`AB12 DE89…`, `12 020 7946 0958`) or
 * right after a kept one is still found; only for a `pattern` whose matches have a bounded
 * length, which keeps the scan linear.
 *
 * @internal
 */
export function findMatches(
  text: unknown,
  pattern: RegExp,
  kind: string,
  accept: (match: RegExpExecArray, text: string) => CandidateVerdict = () => true,
  resume: 'after-match' | 'retry-inside' = 'after-match',
): TextFinding[] {
  if (typeof text !== 'string') return [];
  const findings: TextFinding[] = [];
  // A copy, so concurrent scans never share `lastIndex`.
  const regex = new RegExp(pattern.source, pattern.flags);
  for (let match = regex.exec(text); match !== null; match = regex.exec(text)) {
    const verdict = accept(match, text);
    if (verdict === true) {
      findings.push({ start: match.index, end: match.index + match[0].length, kind });
    } else if (verdict !== false) {
      for (const [start, end] of verdict) findings.push({ start, end, kind });
    }
    const kept = verdict === true ? undefined : verdict === false ? [] : verdict;
    if (resume === 'retry-inside' && kept !== undefined) {
      const lastEnd = kept.at(-1)?.[1];
      regex.lastIndex =
        lastEnd === undefined ? match.index + 1 : Math.max(lastEnd, match.index + 1);
    } else if (match[0].length === 0) {
      // An empty match would loop forever on the same index.
      regex.lastIndex += 1;
    }
  }
  return findings;
}

/** The decimal digits of `text`, in order. @internal */
export function digitsOf(text: string): string {
  return text.replace(/\D+/g, '');
}

/** One run of digits inside a candidate, and the separator before it (`''` for the first). */
export interface DigitGroup {
  /** Index of the group's first digit in the text. */
  readonly start: number;
  /** Index after its last digit. */
  readonly end: number;
  /** The character between the previous group and this one; `''` for the first group. */
  readonly separator: string;
}

/**
 * The digit groups of `candidate`, which starts at `offset` in the text and alternates runs of
 * digits with single separator characters.
 *
 * @internal
 */
export function digitGroups(candidate: string, offset: number): DigitGroup[] {
  // A loop over character codes: a regular expression with captures is ten times slower here.
  const groups: DigitGroup[] = [];
  let start = -1;
  let separator = '';
  for (let index = 0; index <= candidate.length; index += 1) {
    const code = index < candidate.length ? candidate.charCodeAt(index) : -1;
    const isDigit = code >= 48 && code <= 57;
    if (isDigit && start < 0) start = index;
    if (!isDigit && start >= 0) {
      groups.push({ start: offset + start, end: offset + index, separator });
      start = -1;
      separator = '';
    }
    if (!isDigit && code >= 0) separator += candidate[index];
  }
  return groups;
}

/**
 * Findings of `pattern`'s first capture group, which must end the match: the secret after its
 * label (`Bearer …`, `api_key=…`), so the redacted text still says what was there. A value that
 * reads like a word (`Bearer authentication`, `Authorization: Required`) is no secret: a value is
 * kept when it has a digit, a base64 `+`, `/` or `=`, or an upper-case letter after its first
 * character beside lower-case ones.
 *
 * @internal
 */
export function labelledValueFindings(text: unknown, pattern: RegExp, kind: string): TextFinding[] {
  return findMatches(text, pattern, kind, (match) => {
    const value = match[1] ?? '';
    if (!/[\d+/=]|^.+[A-Z]/.test(value) || !/[\da-z+/=]/.test(value)) return false;
    const end = match.index + match[0].length;
    return [[end - value.length, end]];
  });
}

/**
 * The findings of several patterns of one detector, in text order, without those that lie
 * inside another (`(415) 555-0132` inside `+1 (415) 555-0132`; the token after `Bearer` inside
 * an `Authorization` header's value).
 *
 * @internal
 */
export function outermostFindings(...lists: readonly TextFinding[][]): TextFinding[] {
  const all = lists.flat().sort((a, b) => a.start - b.start || b.end - a.end);
  const kept: TextFinding[] = [];
  for (const finding of all) {
    const last = kept.at(-1);
    if (last === undefined || finding.end > last.end) kept.push(finding);
  }
  return kept;
}
