/**
 * Standard Schema support: flowproof accepts any validator that implements the Standard Schema v1
 * interface (zod, valibot, arktype…), not only zod. The interface below is the published spec's
 * shape, declared here so users need no extra package.
 */
import { FlowproofError } from './errors.js';

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

/** True when `value` implements Standard Schema v1. */
export function isStandardSchema(value: unknown): value is StandardSchemaV1 {
  const props = (value as { '~standard'?: { version?: unknown; validate?: unknown } } | null)?.[
    '~standard'
  ];
  return (
    (typeof value === 'object' || typeof value === 'function') &&
    value !== null &&
    props?.version === 1 &&
    typeof props.validate === 'function'
  );
}

/**
 * Validates `value` with any Standard Schema and normalises the issues. Returns synchronously when
 * the validator is synchronous, so hot paths pay for no promise.
 */
export function validateWithSchema<S extends StandardSchemaV1>(
  schema: S,
  value: unknown,
): SchemaValidation<InferSchemaOutput<S>> | Promise<SchemaValidation<InferSchemaOutput<S>>> {
  const result = schema['~standard'].validate(value);
  if (result instanceof Promise) return result.then(normaliseResult);
  return normaliseResult(result);
}

/**
 * Validates `value` and returns the parsed output, or throws `VALIDATION_FAILED` listing every
 * issue in `details.issues`.
 *
 * @throws FlowproofError `VALIDATION_FAILED`
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
  const result = await validateWithSchema(schema, value);
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
  return { ok: false, issues: result.issues.map(normaliseIssue) };
}

function normaliseIssue(issue: StandardSchemaIssue): ValidationIssue {
  const path = (issue.path ?? []).map((segment) => {
    const key = typeof segment === 'object' && segment !== null ? segment.key : segment;
    return typeof key === 'number' ? key : String(key);
  });
  const code = (issue as { code?: unknown }).code;
  return { path, code: typeof code === 'string' ? code : 'invalid', message: issue.message };
}
