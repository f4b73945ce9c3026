/**
 * Replacing what detectors find in a text.
 */
import { describeValue } from '../../core/errors.js';
import type { TextDetector, TextFinding } from '../text-detector.js';

/** The default replacement: `[REDACTED:<kind>]`. */
function redactedMarker(finding: TextFinding): string {
  return `[REDACTED:${finding.kind}]`;
}

/**
 * `text` with every span the detectors find replaced by `replace(finding)`. Findings that
 * overlap are merged into one span, replaced once; the merged finding keeps the kind of the one
 * that starts first (the longer one on a tie). Findings outside the text are clipped to it.
 *
 * @param text - the text to redact.
 * @param detectors - the detectors to run, e.g. {@link defaultDetectors}.
 * @param replace - the replacement of a finding. Default: `` (f) => `[REDACTED:${f.kind}]` ``.
 * @returns the redacted text (`text` itself when nothing is found).
 * @throws TypeError when `text` is not a string, `detectors` is not an array of detectors, or
 * `replace` is not a function or returns something other than a string. An error a detector
 * throws is not caught: redaction never hands back a text it could not check.
 *
 * @example
 * ```ts
 * redactText('mail ana@example.com', defaultDetectors); // 'mail [REDACTED:email]'
 * redactText('mail ana@example.com', [emailDetector], () => '***'); // 'mail ***'
 * ```
 */
export function redactText(
  text: string,
  detectors: readonly TextDetector[],
  replace: (finding: TextFinding) => string = redactedMarker,
): string {
  if (typeof text !== 'string') {
    throw new TypeError(`text must be a string, got ${describeValue(text)}`);
  }
  if (!Array.isArray(detectors)) {
    throw new TypeError(`detectors must be an array of detectors, got ${describeValue(detectors)}`);
  }
  if (typeof replace !== 'function') {
    throw new TypeError(`replace must be a function, got ${describeValue(replace)}`);
  }
  const findings: TextFinding[] = [];
  for (const [index, detector] of detectors.entries()) {
    if (typeof detector?.find !== 'function') {
      throw new TypeError(`detectors[${index}] must be a detector (an object with a find method)`);
    }
    for (const finding of detector.find(text)) {
      const start = Math.max(0, Math.trunc(finding.start));
      const end = Math.min(text.length, Math.trunc(finding.end));
      if (end > start) findings.push({ start, end, kind: finding.kind });
    }
  }
  if (findings.length === 0) return text;
  const parts: string[] = [];
  let copiedUpTo = 0;
  for (const span of mergeOverlapping(findings)) {
    const replacement = replace(span);
    if (typeof replacement !== 'string') {
      throw new TypeError(`replace must return a string, got ${describeValue(replacement)}`);
    }
    parts.push(text.slice(copiedUpTo, span.start), replacement);
    copiedUpTo = span.end;
  }
  parts.push(text.slice(copiedUpTo));
  return parts.join('');
}

/** The findings sorted, with overlapping ones merged (see {@link redactText}). */
function mergeOverlapping(findings: TextFinding[]): TextFinding[] {
  findings.sort((a, b) => a.start - b.start || b.end - a.end);
  const merged: TextFinding[] = [];
  for (const finding of findings) {
    const last = merged.at(-1);
    if (last !== undefined && finding.start < last.end) {
      if (finding.end > last.end) merged[merged.length - 1] = { ...last, end: finding.end };
    } else {
      merged.push(finding);
    }
  }
  return merged;
}
