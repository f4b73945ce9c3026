/**
 * The detectors flowproof applies when none are chosen.
 */
import type { TextDetector } from '../text-detector.js';
import { apiKeyDetector } from './api-key-detector.js';
import { bearerTokenDetector } from './bearer-token-detector.js';
import { cardNumberDetector } from './card-number-detector.js';
import { emailDetector } from './email-detector.js';
import { ibanDetector } from './iban-detector.js';
import { phoneDetector } from './phone-detector.js';
import { ssnDetector } from './ssn-detector.js';

/**
 * Every detector flowproof ships: emails, card numbers, IBANs, SSNs, phone numbers, bearer
 * tokens and API keys. Person names are not detected: no pattern finds them without also finding
 * every capitalised word; use a service such as Presidio behind the {@link TextDetector} port.
 *
 * @example
 * ```ts
 * redactText('card 4111 1111 1111 1111, mail ana@example.com', defaultDetectors);
 * // 'card [REDACTED:card], mail [REDACTED:email]'
 * ```
 */
export const defaultDetectors: readonly TextDetector[] = Object.freeze([
  emailDetector,
  cardNumberDetector,
  ibanDetector,
  ssnDetector,
  phoneDetector,
  bearerTokenDetector,
  apiKeyDetector,
]);
