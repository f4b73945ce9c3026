/**
 * Bearer tokens, `Authorization` header values and JSON Web Tokens in free text.
 */
import type { TextDetector } from '../text-detector.js';
import { findMatches, labelledValueFindings, outermostFindings } from './scan.js';

/*
 * `Bearer <token>` anywhere (RFC 6750 token68 characters). Only the token is a finding, so the
 * redacted text still says what it was. Nothing follows the greedy token, so no backtracking.
 */
const BEARER = /(?<![A-Za-z0-9])bearer\s{1,10}([A-Za-z0-9._~+/-]{8,}=*)/gi;

/*
 * The value of an `Authorization` or `Proxy-Authorization` header or field, whatever its scheme
 * (`Basic dXNlcjpwYXNz`, `Token abc…`, a bare key), up to the end of the value.
 */
const AUTHORIZATION =
  /(?<![A-Za-z0-9])(?:proxy-)?authorization["']?\s{0,10}[:=]\s{0,10}["']?(?:(?:basic|bearer|token|digest|negotiate|apikey|key|sso-key|aws4-hmac-sha256)\s{1,10})?([^\s"',;{}()[\]<>]{8,})/gi;

/*
 * A JSON Web Token (compact JWS): three base64url parts, the first two starting with `eyJ` (the
 * encoding of `{"`). The signature may be empty (an unsecured token).
 */
const JWT = /(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*/g;

/**
 * Finds credentials sent as bearer tokens: the token after `Bearer ` (case-insensitive), the
 * value of an `Authorization:`/`Proxy-Authorization:` header or `authorization=` field (any
 * scheme: Basic, Token, Digest, AWS signatures…), and JSON Web Tokens wherever they appear. The
 * label is kept, the credential is the finding. A value after a label that reads like a word (no
 * digit, no base64 `+`, `/` or `=`, no capital after its first letter: `Bearer authentication`,
 * `Authorization: Required`) is not taken for a credential. Kind: `bearer-token`.
 *
 * @example
 * ```ts
 * redactText('Authorization: Bearer abc.def.ghi123', [bearerTokenDetector]);
 * // 'Authorization: Bearer [REDACTED:bearer-token]'
 * ```
 */
export const bearerTokenDetector: TextDetector = Object.freeze({
  name: 'bearer-token',
  find: (text: string) =>
    outermostFindings(
      labelledValueFindings(text, BEARER, 'bearer-token'),
      labelledValueFindings(text, AUTHORIZATION, 'bearer-token'),
      findMatches(text, JWT, 'bearer-token'),
    ),
});
