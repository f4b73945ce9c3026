/**
 * Standard Schema support: flowproof accepts any validator that implements the Standard Schema v1
 * interface (zod, valibot, arktype…), not only zod. The interface below is the published spec's
 * shape, declared here so users need no extra package.
 */
import { describeValue, FlowproofError } from './errors.js';
import { isZod3Schema } from './zod-version.js';

/** A validator implementing Standard Schema v1. */
export interface StandardSchemaV1<Input = unknown, Output = Input> {
  /** The Standard Schema properties. */
  readonly '~standard': StandardSchemaProps<Input, Output>;
}

/** The `~standard` property of a {@link StandardSchemaV1}. */
export interface StandardSchemaProps<Input = unknown, Output = Input> {
  /** Spec version; always 1. */
  readonly version: 1;
  /** The library that made the schema. */
  readonly vendor: string;
  /** Validates `value`, synchronously or not. */
  readonly validate: (
    value: unknown,
  ) => StandardSchemaResult<Output> | Promise<StandardSchemaResult<Output>>;
  /** Type carrier for inference; never read at run time. */
  readonly types?:
    | {
        /** The input type. */
        readonly input: Input;
        /** The output type. */
        readonly output: Output;
      }
    | undefined;
}

/** Result of a Standard Schema validation. */
export type StandardSchemaResult<Output> =
  | {
      /** The validated (and possibly transformed) value. */
      readonly value: Output;
      /** Absent on success. */
      readonly issues?: undefined;
    }
  | {
      /** What is wrong. */
      readonly issues: ReadonlyArray<StandardSchemaIssue>;
    };

/** One problem reported by a Standard Schema validator. */
export interface StandardSchemaIssue {
  /** Human-readable description. */
  readonly message: string;
  /** Where in the value the problem is. */
  readonly path?:
    | ReadonlyArray<
        | PropertyKey
        | {
            /** The key of this path segment. */
            readonly key: PropertyKey;
          }
      >
    | undefined;
}

/** The input type a Standard Schema accepts. */
export type InferSchemaInput<S extends StandardSchemaV1> = NonNullable<
  S['~standard']['types']
>['input'];
/** The output type a Standard Schema produces. */
export type InferSchemaOutput<S extends StandardSchemaV1> = NonNullable<
  S['~standard']['types']
>['output'];

/** A validation problem in flowproof's normalised form, as carried by error details. */
export interface ValidationIssue {
  /** Path to the offending value; empty for the root. */
  readonly path: ReadonlyArray<string | number>;
  /** The validator's issue code (zod's `code`), or `invalid` when it gives none. */
  readonly code: string;
  /** Human-readable description. */
  readonly message: string;
}

/** The outcome of {@link validateWithSchema}. */
export type SchemaValidation<T> =
  | {
      /** The value is valid. */
      readonly ok: true;
      /** The schema's output. */
      readonly value: T;
    }
  | {
      /** The value is invalid. */
      readonly ok: false;
      /** Every problem found. */
      readonly issues: readonly ValidationIssue[];
    };

/** True when `value` implements Standard Schema v1. Never throws, whatever `value` is. */
export function isStandardSchema(value: unknown): value is StandardSchemaV1 {
  if ((typeof value !== 'object' && typeof value !== 'function') || value === null) return false;
  try {
    const props = (value as { '~standard'?: { version?: unknown; validate?: unknown } })[
      '~standard'
    ];
    return props?.version === 1 && typeof props.validate === 'function';
  } catch {
    // A revoked proxy, a throwing getter: not a schema flowproof can call.
    return false;
  }
}

/**
 * Throws a `TypeError` naming `name` unless `schema` implements Standard Schema v1; a zod 3
 * schema without it is named as such.
 *
 * @internal
 */
export function assertStandardSchema(
  schema: unknown,
  name = 'schema',
): asserts schema is StandardSchemaV1 {
  if (isStandardSchema(schema)) return;
  if (isZod3Schema(schema)) {
    throw new TypeError(
      `${name} is a zod 3 schema without Standard Schema support; flowproof needs zod 4 (its peer dependency): install zod@^4`,
    );
  }
  throw new TypeError(
    `${name} must implement Standard Schema v1 (zod 4, valibot, arktype…), got ${describeValue(schema)}`,
  );
}

/**
 * Validates `value` with any Standard Schema and normalises the issues. Returns synchronously when
 * the validator is synchronous, so hot paths pay for no promise.
 *
 * @throws TypeError when `schema` is not a Standard Schema; whatever the validator itself throws
 * (a getter in `value` that throws, say) is passed through.
 * @example
 * ```ts
 * const result = validateWithSchema(CreateOrder, body);
 * if (!result.ok) console.log(result.issues);
 * ```
 */
export function validateWithSchema<S extends StandardSchemaV1>(
  schema: S,
  value: unknown,
): SchemaValidation<InferSchemaOutput<S>> | Promise<SchemaValidation<InferSchemaOutput<S>>> {
  assertStandardSchema(schema);
  return validateChecked(schema, value);
}

/**
 * {@link validateWithSchema} for a schema already known to be a Standard Schema (checked when a
 * machine or pipeline was defined), without the check and the messages it would bundle.
 *
 * @internal
 */
export function validateChecked<S extends StandardSchemaV1>(
  schema: S,
  value: unknown,
): SchemaValidation<InferSchemaOutput<S>> | Promise<SchemaValidation<InferSchemaOutput<S>>> {
  const result = schema['~standard'].validate(value);
  if (result instanceof Promise) return result.then(normaliseResult);
  return normaliseResult(result);
}

/**
 * Validates `value` and returns the parsed output, or throws `VALIDATION_FAILED` listing every
 * issue in `details.issues`. A validator that throws while checking `value` (a getter or a revoked
 * proxy in it) fails it too: `details.validatorFailed` is true and `cause` is what it threw.
 *
 * @param what - names the value in the error message.
 * @throws FlowproofError `VALIDATION_FAILED`
 * @throws TypeError when `schema` is not a Standard Schema or `what` is not a string.
 * @example
 * ```ts
 * const input = await parseWithSchema(CreateOrder, body, 'create-order request');
 * ```
 */
export async function parseWithSchema<S extends StandardSchemaV1>(
  schema: S,
  value: unknown,
  what = 'value',
): Promise<InferSchemaOutput<S>> {
  assertStandardSchema(schema);
  if (typeof what !== 'string') {
    throw new TypeError(`what must be a string, got ${describeValue(what)}`);
  }
  let result: SchemaValidation<InferSchemaOutput<S>>;
  try {
    result = await validateWithSchema(schema, value);
  } catch (error) {
    throw new FlowproofError(
      'VALIDATION_FAILED',
      `${what} could not be validated: the schema threw while checking it`,
      { cause: error, details: { issues: [], validatorFailed: true } },
    );
  }
  if (result.ok) return result.value;
  throw new FlowproofError(
    'VALIDATION_FAILED',
    `${what} is invalid: ${summariseIssues(result.issues)}`,
    {
      details: { issues: result.issues },
    },
  );
}

/** One line summarising issues, e.g. `items.0.quantity: Too small; email: Invalid email`. */
export function summariseIssues(issues: readonly ValidationIssue[]): string {
  const shown = issues
    .slice(0, 5)
    .map((issue) => `${issue.path.length ? issue.path.join('.') : '(root)'}: ${issue.message}`);
  if (issues.length > 5) shown.push(`and ${issues.length - 5} more`);
  return shown.join('; ');
}

/** A Standard Schema result as a {@link SchemaValidation}, issues normalised. @internal */
export function normaliseResult<T>(result: StandardSchemaResult<T>): SchemaValidation<T> {
  if (!result.issues) return { ok: true, value: result.value };
  // A validator breaking the spec (issues not an array) still fails the value, readably.
  const issues = Array.isArray(result.issues) ? result.issues : [{ message: 'Invalid value' }];
  return { ok: false, issues: issues.map(normaliseIssue) };
}

function normaliseIssue(issue: StandardSchemaIssue): ValidationIssue {
  const path = (Array.isArray(issue.path) ? issue.path : []).map((segment) => {
    const key = typeof segment === 'object' && segment !== null ? segment.key : segment;
    return typeof key === 'number' ? key : String(key);
  });
  const code = (issue as { code?: unknown }).code;
  return {
    path,
    code: typeof code === 'string' ? code : 'invalid',
    message: typeof issue.message === 'string' ? issue.message : 'Invalid value',
  };
}
