/**
 * API keys of well-known services, and values labelled as API keys, in free text.
 */
import type { TextDetector } from '../text-detector.js';
import { findMatches, labelledValueFindings, outermostFindings } from './scan.js';

/*
 * Keys whose shape names their issuer. Each alternative starts with a fixed prefix and ends in a
 * bounded or final run of key characters, and none may touch another key character, so the scan
 * is linear.
 *   - Stripe: sk_live_, sk_test_, pk_live_, pk_test_, rk_live_, rk_test_ (secret, publishable,
 *     restricted keys);
 *   - AWS access key ids: AKIA (long-term) and ASIA (temporary) + 16 upper-case letters or digits;
 *   - GitHub: ghp_, gho_, ghu_, ghs_, ghr_ + 36 characters, and fine-grained github_pat_ tokens;
 *   - Slack: xoxb-, xoxa-, xoxp-, xoxr-, xoxs- tokens;
 *   - Google API keys: AIza + 35 characters.
 */
const PREFIXED_KEY = new RegExp(
  [
    '(?<![A-Za-z0-9_-])(?:',
    '(?:sk|pk|rk)_(?:live|test)_[A-Za-z0-9]{10,247}',
    '|(?:AKIA|ASIA)[A-Z0-9]{16}',
    '|gh[pousr]_[A-Za-z0-9]{36,251}',
    '|github_pat_[A-Za-z0-9_]{22,244}',
    '|xox[baprs]-[A-Za-z0-9-]{10,250}',
    '|AIza[A-Za-z0-9_-]{35}',
    ')(?![A-Za-z0-9_-])',
  ].join(''),
  'g',
);

/*
 * A value labelled as an API key: `api_key=…`, `apiKey: "…"`, `x-api-key: …`, `"api-key": "…"`.
 * The value (at least 8 characters) is the finding; the label stays readable.
 */
const LABELLED_KEY =
  /(?<![A-Za-z0-9])api[_-]?key["']?\s{0,10}[:=]\s{0,10}["']?([A-Za-z0-9._~+/=-]{8,})/gi;

/**
 * Finds API keys: the keys of Stripe (`sk_live_…`, `sk_test_…`, `pk_live_…`), AWS access key
 * ids (`AKIA…`), GitHub tokens (`ghp_…`, `github_pat_…`), Slack tokens (`xoxb-…`) and Google API
 * keys (`AIza…`) by their shape, and any value labelled `api_key`, `api-key` or `apiKey` (`=` or
 * `:`), unless that value reads like a word (`api_key=your_api_key_here`). Kind: `api-key`.
 *
 * @example
 * ```ts
 * redactText('GET /v1?api_key=9f8e7d6c5b4a', [apiKeyDetector]); // 'GET /v1?api_key=[REDACTED:api-key]'
 * ```
 */
export const apiKeyDetector: TextDetector = Object.freeze({
  name: 'api-key',
  find: (text: string) =>
    outermostFindings(
      findMatches(text, PREFIXED_KEY, 'api-key'),
      labelledValueFindings(text, LABELLED_KEY, 'api-key'),
    ),
});
