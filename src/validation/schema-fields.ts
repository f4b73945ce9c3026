/**
 * Reads what a schema says about each field, through JSON Schema: zod schemas are converted with
 * `z.toJSONSchema`, other validators through the Standard JSON Schema interface
 * (`~standard.jsonSchema.input`), and a plain JSON Schema object is read as is. Used by the column
 * check and by the generated docs; never on a hot path.
 *
 * @internal
 */
import { z } from 'zod';

/**
 * String formats whose every accepted value has one length, so a field declaring one is bounded
 * without a `maxLength` (a `z.uuid()` fits `VARCHAR(36)`).
 */
const FIXED_LENGTH_FORMATS: Readonly<Record<string, number>> = {
  uuid: 36,
  guid: 36,
  ulid: 26,
  date: 10,
};

/** A JSON Schema node, loosely typed. */
export type JsonSchema = Readonly<Record<string, unknown>>;

/** What a schema accepts for one field, folded over unions. */
export interface FieldFacts {
  /** Dotted path (`shipping.city`, `items[].sku`). */
  readonly path: string;
  /** JSON types accepted (`string`, `integer`, `number`, `boolean`, `object`, `array`, `null`…). */
  readonly types: ReadonlySet<string>;
  /** False when the key may be absent (a default counts as present). */
  readonly required: boolean;
  /** True when `null` is accepted. */
  readonly nullable: boolean;
  /** Longest string accepted; `Infinity` when a string type has no limit; undefined without strings. */
  readonly maxLength: number | undefined;
  /** Shortest string accepted. */
  readonly minLength: number | undefined;
  /** Smallest number accepted (`-Infinity` when unbounded); undefined without numbers. */
  readonly minimum: number | undefined;
  /** Largest number accepted (`Infinity` when unbounded); undefined without numbers. */
  readonly maximum: number | undefined;
  /** True when the number bounds are exclusive (`> 0` rather than `≥ 0`). */
  readonly exclusiveMinimum: boolean;
  /** True when the upper bound is exclusive. */
  readonly exclusiveMaximum: boolean;
  /** Array length limits. */
  readonly minItems: number | undefined;
  /** Array length limits. */
  readonly maxItems: number | undefined;
  /** Allowed values, for enums and constants. */
  readonly enumValues: readonly unknown[] | undefined;
  /** The `format` (`date-time`, `email`…), when one is declared. */
  readonly format: string | undefined;
  /** The `pattern`, when one is declared. */
  readonly pattern: string | undefined;
  /** The JSON Schema node, for nested fields. */
  readonly node: JsonSchema;
}

/**
 * The JSON Schema of `schema`'s input (or, with `io: 'output'`, of what it produces), or undefined
 * when it cannot be derived. Accepts a zod schema, anything implementing Standard JSON Schema, or a
 * JSON Schema object.
 */
export function toJsonSchema(
  schema: unknown,
  io: 'input' | 'output' = 'input',
): JsonSchema | undefined {
  if (typeof schema !== 'object' || schema === null) return undefined;
  try {
    if ('_zod' in schema) {
      return z.toJSONSchema(schema as z.ZodType, { io, unrepresentable: 'any' }) as JsonSchema;
    }
    const standard = (
      schema as { '~standard'?: { jsonSchema?: { input?: unknown; output?: unknown } } }
    )['~standard'];
    if (standard) {
      const convert = standard.jsonSchema?.[io];
      if (typeof convert !== 'function') return undefined;
      return convert({ target: 'draft-2020-12' }) as JsonSchema;
    }
  } catch {
    // The validator cannot describe this schema (a custom type, a cycle): treat it as opaque.
    return undefined;
  }
  return 'type' in schema || 'properties' in schema ? (schema as JsonSchema) : undefined;
}

/** The top-level fields of an object schema; undefined when it is not an object schema. */
export function objectFields(json: JsonSchema): FieldFacts[] | undefined {
  const properties = json.properties;
  if (typeof properties !== 'object' || properties === null) return undefined;
  const required = new Set(Array.isArray(json.required) ? (json.required as string[]) : []);
  return Object.entries(properties as Record<string, JsonSchema>).map(([name, node]) =>
    fieldFacts(name, node, required.has(name) || 'default' in node),
  );
}

/** Fields of an object schema and of its nested objects and array elements, for documentation. */
export function flattenFields(json: JsonSchema, maxDepth = 3): FieldFacts[] {
  const out: FieldFacts[] = [];
  const walk = (node: JsonSchema, prefix: string, depth: number) => {
    for (const field of objectFields(node) ?? []) {
      const path = prefix === '' ? field.path : `${prefix}.${field.path}`;
      out.push({ ...field, path });
      if (depth >= maxDepth) continue;
      for (const variant of variants(field.node)) {
        if (variant.properties) walk(variant, path, depth + 1);
        const items = variant.items;
        if (typeof items === 'object' && items !== null && 'properties' in items) {
          walk(items as JsonSchema, `${path}[]`, depth + 1);
        }
      }
    }
  };
  walk(json, '', 1);
  return out;
}

function variants(node: JsonSchema): JsonSchema[] {
  const union = (node.anyOf ?? node.oneOf) as JsonSchema[] | undefined;
  if (Array.isArray(union)) return union.flatMap(variants);
  return [node];
}

function fieldFacts(path: string, node: JsonSchema, required: boolean): FieldFacts {
  const types = new Set<string>();
  let nullable = node.nullable === true;
  let maxLength: number | undefined;
  let minLength: number | undefined;
  let minimum: number | undefined;
  let maximum: number | undefined;
  let exclusiveMinimum = false;
  let exclusiveMaximum = false;
  let minItems: number | undefined;
  let maxItems: number | undefined;
  let enumValues: unknown[] | undefined;
  let format: string | undefined;
  let pattern: string | undefined;

  for (const variant of variants(node)) {
    const declared = variant.type;
    const variantTypes = new Set<string>(
      Array.isArray(declared)
        ? (declared as string[])
        : typeof declared === 'string'
          ? [declared]
          : [],
    );
    const values = Array.isArray(variant.enum)
      ? (variant.enum as unknown[])
      : 'const' in variant
        ? [variant.const]
        : undefined;
    if (values) {
      enumValues = [...(enumValues ?? []), ...values];
      for (const value of values) variantTypes.add(jsonType(value));
    }
    if (variantTypes.size === 0) variantTypes.add('any');
    if (variant.nullable === true) nullable = true;
    for (const type of variantTypes) {
      types.add(type);
      if (type === 'null') nullable = true;
    }
    if (variantTypes.has('string')) {
      const longest = values
        ? Math.max(...values.map((v) => (typeof v === 'string' ? v.length : 0)))
        : typeof variant.maxLength === 'number'
          ? variant.maxLength
          : (FIXED_LENGTH_FORMATS[variant.format as string] ?? Number.POSITIVE_INFINITY);
      maxLength = Math.max(maxLength ?? 0, longest);
      if (typeof variant.minLength === 'number') {
        minLength = Math.min(minLength ?? variant.minLength, variant.minLength);
      }
      if (typeof variant.format === 'string') format = variant.format;
      if (typeof variant.pattern === 'string') pattern = variant.pattern;
    }
    if (variantTypes.has('number') || variantTypes.has('integer')) {
      const low = bound(variant.minimum, variant.exclusiveMinimum, Number.NEGATIVE_INFINITY);
      const high = bound(variant.maximum, variant.exclusiveMaximum, Number.POSITIVE_INFINITY);
      if (values) {
        const numbers = values.filter((v): v is number => typeof v === 'number');
        if (numbers.length > 0) {
          low.value = Math.min(...numbers);
          high.value = Math.max(...numbers);
        }
      }
      if (minimum === undefined || low.value < minimum) {
        minimum = low.value;
        exclusiveMinimum = low.exclusive;
      }
      if (maximum === undefined || high.value > maximum) {
        maximum = high.value;
        exclusiveMaximum = high.exclusive;
      }
    }
    if (variantTypes.has('array')) {
      if (typeof variant.minItems === 'number') minItems = variant.minItems;
      if (typeof variant.maxItems === 'number') maxItems = variant.maxItems;
    }
  }
  return {
    path,
    types,
    required,
    nullable,
    maxLength,
    minLength,
    minimum,
    maximum,
    exclusiveMinimum,
    exclusiveMaximum,
    minItems,
    maxItems,
    enumValues,
    format,
    pattern,
    node,
  };
}

function bound(
  inclusive: unknown,
  exclusive: unknown,
  unbounded: number,
): { value: number; exclusive: boolean } {
  if (typeof exclusive === 'number') return { value: exclusive, exclusive: true };
  if (typeof inclusive === 'number') return { value: inclusive, exclusive: false };
  return { value: unbounded, exclusive: false };
}

function jsonType(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}

/** Human-readable rules of a field, e.g. `string`, `1–64 characters`, `integer`, `> 0`. */
export function describeField(field: FieldFacts): string[] {
  const rules: string[] = [];
  const types = [...field.types].filter((t) => t !== 'null' && t !== 'any');
  if (field.enumValues) {
    rules.push(`one of ${field.enumValues.map((v) => `\`${JSON.stringify(v)}\``).join(', ')}`);
  } else if (types.length > 0) {
    rules.push(types.join(' or '));
  }
  rules.push(field.required ? 'required' : 'optional');
  if (field.nullable) rules.push('nullable');
  if (!field.enumValues && field.maxLength !== undefined) {
    const min = field.minLength ?? 0;
    const max = field.maxLength;
    if (Number.isFinite(max))
      rules.push(min > 0 ? `${min}–${max} characters` : `at most ${max} characters`);
    else if (min > 0) rules.push(`at least ${min} character${min === 1 ? '' : 's'}`);
  }
  if (field.format) rules.push(`format ${field.format}`);
  else if (field.pattern && field.pattern.length <= 40)
    rules.push(`matches \`/${field.pattern}/\``);
  if (
    !field.enumValues &&
    field.minimum !== undefined &&
    Number.isFinite(field.minimum) &&
    field.minimum > Number.MIN_SAFE_INTEGER
  ) {
    rules.push(`${field.exclusiveMinimum ? '>' : '≥'} ${field.minimum}`);
  }
  if (
    !field.enumValues &&
    field.maximum !== undefined &&
    Number.isFinite(field.maximum) &&
    field.maximum < Number.MAX_SAFE_INTEGER
  ) {
    rules.push(`${field.exclusiveMaximum ? '<' : '≤'} ${field.maximum}`);
  }
  if (field.minItems !== undefined && field.minItems > 0) {
    rules.push(`at least ${field.minItems} item${field.minItems === 1 ? '' : 's'}`);
  }
  if (field.maxItems !== undefined) rules.push(`at most ${field.maxItems} items`);
  return rules;
}
