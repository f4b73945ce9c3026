/**
 * The detector port: finds personal data in free text (log messages, error messages, notes), so
 * redaction can cover what no field path names. flowproof ships detectors for shapes that can be
 * checked (emails, Luhn-valid card numbers, IBANs, SSNs, phone numbers, bearer tokens, API keys);
 * a service such as Presidio or Google DLP plugs in behind the same interface.
 */

/** One piece of personal data found in a text. */
export interface TextFinding {
  /** Where it starts (a UTF-16 index into the text). */
  readonly start: number;
  /** Where it ends (exclusive). */
  readonly end: number;
  /** What it is, e.g. `email` or `card`. */
  readonly kind: string;
}

/**
 * Finds personal data in text. `find` must be synchronous and must not throw: redaction runs on
 * every log line. Findings may overlap; redaction merges them.
 */
export interface TextDetector {
  /** The detector's name, e.g. `email`. */
  readonly name: string;
  /** Every finding in `text`. */
  find(text: string): Iterable<TextFinding>;
}
