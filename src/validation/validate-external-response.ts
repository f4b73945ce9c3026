/**
 * External responses (the reference's "not validating external API responses" pitfall): a third
 * party's payload is checked against a schema before any field of it is read.
 */
import { FlowproofError, type FlowproofErrorOptions, registerErrorClass } from '../core/errors.js';
import {
  assertFunction,
  assertKnownKeys,
  assertNonEmptyString,
  assertOptionsObject,
} from '../core/options.js';
import {
  assertStandardSchema,
  type InferSchemaOutput,
  type SchemaValidation,
  type StandardSchemaV1,
  summariseIssues,
  type ValidationIssue,
  validateWithSchema,
} from '../core/standard-schema.js';

/** Options of {@link validateExternalResponse}. */
export interface ExternalResponseOptions {
  /**
   * Turns the payload into what may be kept for debugging (mask card numbers, drop tokens). Its
   * result (awaited, so it may be async) is stored as {@link IntegrationResponseError.payload}; if
   * it throws or rejects, no payload is kept and `details.redactionFailed` is true.
   * @default undefined (the raw payload is kept on the error, but never in `details`)
   */
  readonly redact?: (payload: unknown) => unknown;
}

/**
 * `INTEGRATION_RESPONSE_INVALID`: a third party answered with something the schema rejects. Carries
 * the (redacted) payload as a property, outside `details` and `toJSON()`, so logging the error does
 * not log the payload.
 *
 * @example
 * ```ts
 * try {
 *   return await validateExternalResponse('stripe', Charge, body);
 * } catch (error) {
 *   if (error instanceof IntegrationResponseError) {
 *     logger.error({ source: error.source, issues: error.details.issues }, 'provider format changed');
 *     await debugStore.save(error.payload); // already redacted
 *   }
 *   throw error;
 * }
 * ```
 */
export class IntegrationResponseError extends FlowproofError {
  /** The integration that answered, e.g. `stripe`. */
  readonly source: string;
  /** The payload as received, or as the `redact` option returned it. */
  readonly payload: unknown;

  /** @internal */
  constructor(
    source: string,
    issues: readonly ValidationIssue[],
    payload: unknown,
    options: FlowproofErrorOptions = {},
  ) {
    super(
      'INTEGRATION_RESPONSE_INVALID',
      `The response from ${source} is invalid: ${summariseIssues(issues)}`,
      { ...options, details: { source, issues, ...options.details } },
    );
    this.source = source;
    this.payload = payload;
  }
}

// `instanceof` holds across copies of flowproof (the ESM and CommonJS builds).
registerErrorClass(IntegrationResponseError, 'IntegrationResponseError');

/**
 * Validates a third-party response against `schema` and returns the schema's output, so the rest
 * of the code reads typed, checked fields instead of assuming the provider's format never
 * changes.
 *
 * @param source - names the integration in the error (`stripe`, `shipping-rates`).
 * @throws IntegrationResponseError (`INTEGRATION_RESPONSE_INVALID`) listing every issue in
 * `details.issues`, with the payload (redacted when `redact` is given) as `error.payload`. Also
 * when the schema throws while checking the payload (a getter in it throws, say): then
 * `details.validatorFailed` is true and the thrown error is the `cause`.
 * @throws TypeError when `source` is empty, `schema` is not a Standard Schema or an option is
 * invalid.
 * @example
 * ```ts
 * const Charge = z.object({ id: z.string().startsWith('ch_'), status: z.enum(['succeeded', 'pending', 'failed']) });
 * const charge = await validateExternalResponse('stripe', Charge, await response.json(), {
 *   redact: (payload) => ({ ...(payload as object), source: '[redacted]' }),
 * });
 * ```
 */
export async function validateExternalResponse<S extends StandardSchemaV1>(
  source: string,
  schema: S,
  payload: unknown,
  options: ExternalResponseOptions = {},
): Promise<InferSchemaOutput<S>> {
  assertNonEmptyString(source, 'source');
  assertStandardSchema(schema, 'schema');
  assertOptionsObject(options, 'options');
  assertKnownKeys(options, ['redact'], 'options');
  if (options.redact !== undefined) assertFunction(options.redact, 'options.redact');
  let result: SchemaValidation<InferSchemaOutput<S>>;
  let thrown: { readonly error: unknown } | undefined;
  try {
    result = await validateWithSchema(schema, payload);
  } catch (error) {
    // A getter or proxy in the payload, or a validator choking on a shape it never expected, is
    // still a response the code cannot trust: report it like any other invalid response.
    thrown = { error };
    result = {
      ok: false,
      issues: [{ path: [], code: 'invalid', message: 'The schema threw while checking it' }],
    };
  }
  if (result.ok) return result.value;
  let kept: unknown = payload;
  let redactionFailed = false;
  if (options.redact) {
    try {
      // Awaited: this function is async anyway, and an unawaited promise would be stored as the
      // payload with its rejection left unhandled.
      kept = await options.redact(payload);
    } catch {
      // The redactor's error may quote the payload, so neither is kept.
      kept = undefined;
      redactionFailed = true;
    }
  }
  throw new IntegrationResponseError(source, result.issues, kept, {
    ...(thrown ? { cause: thrown.error } : {}),
    details: {
      redacted: options.redact !== undefined,
      ...(redactionFailed ? { redactionFailed } : {}),
      ...(thrown ? { validatorFailed: true } : {}),
    },
  });
}
