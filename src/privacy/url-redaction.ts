/**
 * URLs end up in access logs, proxies, browser history and analytics: personal data in a path
 * (`/users/123-45-6789/profile`) or a query string (`?email=…`) leaks to all of them. Design URLs
 * with opaque ids; for the URLs already out there, redact before logging.
 */
import { readObject } from '../core/options.js';
import type { Classification } from './classification.js';
import { redactText } from './detectors/redact-text.js';
import type { TextDetector } from './text-detector.js';

/** Options of {@link redactUrl}. */
export interface UrlRedactionOptions {
  /** Query parameters named like a classified field's last key (`email`, `ssn`) are redacted. */
  readonly classification?: Classification;
  /** More query parameter names to redact (case-insensitive), e.g. `token`, `code`. */
  readonly params?: readonly string[];
  /** Detectors run on each path segment and each remaining parameter value. */
  readonly detectors?: readonly TextDetector[];
  /** What replaces a redacted value. @default '[REDACTED]' */
  readonly censor?: string;
}

const OPTION_KEYS = ['classification', 'params', 'detectors', 'censor'];

/**
 * `url` (absolute, or a path with a query such as `req.url`) with personal data replaced: the
 * password of credentials written in it (`user:password@host`), the values of sensitive query
 * parameters, and what the detectors find in the user name, the path and the other parameters.
 * The rest of the URL is kept as it was written.
 *
 * @example
 * ```ts
 * redactUrl('/users/123-45-6789/profile?email=ana%40example.com&tab=2', { classification, detectors: defaultDetectors });
 * // '/users/[REDACTED]/profile?email=[REDACTED]&tab=2'
 * ```
 * @throws TypeError when `url` is not a string or an option is malformed.
 */
export function redactUrl(url: string, options: UrlRedactionOptions = {}): string {
  if (typeof url !== 'string') throw new TypeError('url must be a string');
  options = readObject(options, 'options', OPTION_KEYS.join(' ')) as unknown as typeof options;
  const { classification, params = [], detectors = [], censor = '[REDACTED]' } = options;
  if (!Array.isArray(params) || params.some((name) => typeof name !== 'string')) {
    throw new TypeError('options.params must be an array of parameter names');
  }
  if (!Array.isArray(detectors) || detectors.some((d) => typeof d?.find !== 'function')) {
    throw new TypeError('options.detectors must be an array of text detectors');
  }
  if (typeof censor !== 'string') throw new TypeError('options.censor must be a string');
  const sensitive = new Set(params.map((name) => name.toLowerCase()));
  for (const field of classification?.fields ?? []) {
    const last = lastKey(field.path);
    if (last !== undefined) sensitive.add(last.toLowerCase());
  }
  const hashAt = url.indexOf('#');
  const beforeHash = hashAt === -1 ? url : url.slice(0, hashAt);
  const queryAt = beforeHash.indexOf('?');
  const head = queryAt === -1 ? beforeHash : beforeHash.slice(0, queryAt);
  const query = queryAt === -1 ? undefined : beforeHash.slice(queryAt + 1);

  const scrub = (text: string): string => {
    if (detectors.length === 0) return text;
    const decoded = safeDecode(text.replaceAll('+', ' '), text);
    return redactText(decoded, detectors) === decoded ? text : censor;
  };
  // Keep the scheme and host; the credentials (`user:password@`) and the path's segments can
  // carry personal data.
  const authority = /^([a-z][a-z0-9+.-]*:\/\/)([^/]*)/i.exec(head);
  const origin = authority === null ? '' : `${authority[1]}${redactUserInfo(authority[2] ?? '')}`;
  const path = head
    .slice(authority?.[0].length ?? 0)
    .split('/')
    .map((segment) => (segment === '' ? segment : scrub(segment)))
    .join('/');
  const redactedQuery =
    query === undefined
      ? ''
      : `?${query
          .split('&')
          .map((pair) => {
            const equals = pair.indexOf('=');
            if (equals === -1) return pair;
            const name = pair.slice(0, equals);
            const value = pair.slice(equals + 1);
            return sensitive.has(safeDecode(name).toLowerCase())
              ? `${name}=${censor}`
              : `${name}=${scrub(value)}`;
          })
          .join('&')}`;
  const fragment = hashAt === -1 ? '' : `#${scrub(url.slice(hashAt + 1))}`;
  return `${origin}${path}${redactedQuery}${fragment}`;

  /** `user:password@host`: the password always censored, the user name scrubbed. */
  function redactUserInfo(hostPart: string): string {
    const at = hostPart.lastIndexOf('@');
    if (at === -1) return hostPart;
    const userInfo = hostPart.slice(0, at);
    const colon = userInfo.indexOf(':');
    const user = colon === -1 ? userInfo : userInfo.slice(0, colon);
    return `${scrub(user)}${colon === -1 ? '' : `:${censor}`}${hostPart.slice(at)}`;
  }
}

/** `text` URL-decoded, or `fallback` (default: `text` itself) when it holds a malformed escape. */
function safeDecode(text: string, fallback = text): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return fallback;
  }
}

function lastKey(path: string): string | undefined {
  const match = /([A-Za-z_$][\w$-]*)(?:\[[^\]]*\])*$/.exec(path);
  return match?.[1];
}
