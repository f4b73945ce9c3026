/**
 * Consistent rules on create and update (the reference's "not validating on updates" mistake):
 * the update schema is derived from the create schema, so a rule added to one is a rule of both.
 */
import { z } from 'zod';
import { assertKnownKeys, assertOptionsObject } from '../core/options.js';

/** Options of {@link updateSchemaFrom}. */
export interface UpdateSchemaOptions<K extends string> {
  /**
   * Fields that can be set on create but never changed (ids, creation time, owner). They are left
   * out of the update schema, so an update naming one fails as an unknown key.
   * @default []
   */
  readonly omit?: readonly K[];
}

/**
 * The update schema derived from a create schema with shape `Shape`: every field optional, with
 * its rules intact; unknown keys rejected.
 *
 * @typeParam Shape - the create schema's shape.
 * @typeParam Omitted - fields left out by `omit`.
 */
export type UpdateSchema<
  Shape extends z.core.$ZodShape,
  Omitted extends keyof Shape = never,
> = z.ZodObject<
  { -readonly [K in Exclude<keyof Shape, Omitted>]: z.ZodOptional<Shape[K]> },
  z.core.$strict
>;

/**
 * Derives a partial update schema from a zod object create schema. Every field becomes optional
 * but keeps every rule it has on create (length, range, format, refinements), so an update cannot
 * write what a create would refuse. Also:
 *
 * - defaults (`.default()`, `.prefault()`) and `.catch()` values are removed: an update leaving a
 *   field out must not reset it to its default, and an invalid value is rejected, not replaced.
 *   They are removed wherever they sit on the field's path: under `.optional()`, `.nullable()`,
 *   `.readonly()`, `.nonoptional()`, on both sides of `.transform()`, `.pipe()` and codecs, and
 *   behind `z.lazy()`. Nested objects and arrays keep theirs (an update sends them whole);
 * - unknown keys are rejected (`unrecognized_keys`) rather than stripped;
 * - an update must set at least one field (`custom` issue at the root).
 *
 * @throws TypeError when `create` is not a zod object, has object-level refinements (they cannot
 * be checked on a partial object: add them to both schemas explicitly), `omit` names an unknown
 * field, or a field has a default or catch that cannot be removed (inside a union or an
 * intersection); the message names the field.
 * @example
 * ```ts
 * const CreateProduct = z.object({
 *   sku: z.string().regex(/^[A-Z0-9-]{3,32}$/),
 *   description: z.string().max(100),
 *   priceCents: z.int().positive(),
 * });
 * const UpdateProduct = updateSchemaFrom(CreateProduct, { omit: ['sku'] });
 * UpdateProduct.parse({ description: 'x'.repeat(101) }); // throws: same too_big issue as on create
 * ```
 */
export function updateSchemaFrom<
  Shape extends z.core.$ZodShape,
  const Omitted extends keyof Shape & string = never,
>(
  create: z.ZodObject<Shape, z.core.$ZodObjectConfig>,
  options: UpdateSchemaOptions<Omitted> = {},
): UpdateSchema<Shape, Omitted> {
  if (!(create instanceof z.ZodObject)) {
    throw new TypeError('create must be a zod object schema (z.object({...}))');
  }
  if ((create.def.checks?.length ?? 0) > 0) {
    throw new TypeError(
      'create has object-level refinements, which cannot be checked on a partial update; derive the update schema from the object before .refine() and refine both explicitly',
    );
  }
  assertOptionsObject(options, 'options');
  assertKnownKeys(options, ['omit'], 'options');
  const omit = new Set<string>(options.omit ?? []);
  for (const key of omit) {
    if (!Object.hasOwn(create.shape, key)) {
      throw new TypeError(`options.omit names "${key}", which is not a field of create`);
    }
  }
  const shape: Record<string, z.ZodType> = {};
  for (const [key, field] of Object.entries(create.shape)) {
    if (omit.has(key)) continue;
    const stripped = withoutFallbacks(field as z.ZodType, key);
    // A kind of schema this function does not know may still carry a default; fail here rather
    // than let an update reset the field.
    if (stripped._zod.optin === 'defaulted') {
      throw new TypeError(
        `create.${key} keeps a default that updateSchemaFrom cannot remove; leave the field out with options.omit and validate it explicitly`,
      );
    }
    shape[key] = z.optional(stripped);
  }
  return z
    .strictObject(shape)
    .refine((value) => Object.values(value).some((field) => field !== undefined), {
      message: 'An update must set at least one field',
    }) as unknown as UpdateSchema<Shape, Omitted>;
}

/** Schemas that substitute a value: for an absent one (default, prefault) or an invalid one (catch). */
function isFallback(schema: z.ZodType): schema is z.ZodDefault | z.ZodPrefault | z.ZodCatch {
  return (
    schema instanceof z.ZodDefault ||
    schema instanceof z.ZodPrefault ||
    schema instanceof z.ZodCatch
  );
}

/** Schemas that hand the value to one inner type (`def.innerType`) and keep what it answers. */
function isWrapper(
  schema: z.ZodType,
): schema is z.ZodOptional | z.ZodExactOptional | z.ZodNullable | z.ZodReadonly | z.ZodNonOptional {
  return (
    schema instanceof z.ZodOptional ||
    schema instanceof z.ZodExactOptional ||
    schema instanceof z.ZodNullable ||
    schema instanceof z.ZodReadonly ||
    schema instanceof z.ZodNonOptional
  );
}

/**
 * Removes every default, prefault and catch value on the field's value path: under wrappers
 * (optional, nullable, readonly, nonoptional), on both sides of pipes (`.transform()`, `.pipe()`,
 * codecs) and behind `z.lazy()`. Zod runs a schema on an absent key whenever a default sits
 * anywhere on that path, so one left in place would write a value the update never sent. Nested
 * objects, arrays and records keep theirs: an update sends them whole, as a create does.
 *
 * @throws TypeError naming the field when a default or catch sits where removing it would change
 * which values the field accepts (inside a union or an intersection).
 */
function withoutFallbacks(schema: z.ZodType, field: string): z.ZodType {
  if (isFallback(schema)) return withoutFallbacks(schema.unwrap() as z.ZodType, field);
  if (isWrapper(schema)) {
    const inner = schema.def.innerType as z.ZodType;
    const stripped = withoutFallbacks(inner, field);
    // clone() keeps the wrapper's class and own settings (messages, checks) and, with parent, its
    // metadata. The cast: TypeScript cannot pair each wrapper class with its own def.
    return stripped === inner
      ? schema
      : schema.clone({ ...schema.def, innerType: stripped } as never, { parent: true });
  }
  if (schema instanceof z.ZodPipe) {
    const input = schema.def.in as z.ZodType;
    const output = schema.def.out as z.ZodType;
    const strippedIn = withoutFallbacks(input, field);
    const strippedOut = withoutFallbacks(output, field);
    if (strippedIn === input && strippedOut === output) return schema;
    // The def also holds a codec's decode and encode functions, which must survive.
    return schema.clone({ ...schema.def, in: strippedIn, out: strippedOut } as never, {
      parent: true,
    });
  }
  if (schema instanceof z.ZodLazy) {
    const inner = lazyInner(schema, field);
    const stripped = withoutFallbacks(inner, field);
    // A new lazy rather than a clone: zod caches the resolved inner type on the def, so a clone
    // of the def would keep answering with the original.
    return stripped === inner ? schema : z.lazy(() => stripped);
  }
  if (schema instanceof z.ZodUnion || schema instanceof z.ZodIntersection) {
    if (members(schema).some((member) => hasFallback(member, field, new Set()))) {
      throw new TypeError(
        `create.${field} has a default or .catch() inside a union or intersection, which updateSchemaFrom cannot remove without changing which values the field accepts; move it outside, or leave the field out with options.omit and validate it explicitly`,
      );
    }
  }
  return schema;
}

/** True when a default, prefault or catch sits on `schema`'s value path, unions included. */
function hasFallback(schema: z.ZodType, field: string, seen: Set<z.ZodType>): boolean {
  if (seen.has(schema)) return false;
  seen.add(schema);
  if (isFallback(schema)) return true;
  if (isWrapper(schema)) return hasFallback(schema.def.innerType as z.ZodType, field, seen);
  if (schema instanceof z.ZodPipe) {
    const input = schema.def.in as z.ZodType;
    const output = schema.def.out as z.ZodType;
    return hasFallback(input, field, seen) || hasFallback(output, field, seen);
  }
  if (schema instanceof z.ZodLazy) return hasFallback(lazyInner(schema, field), field, seen);
  if (schema instanceof z.ZodUnion || schema instanceof z.ZodIntersection) {
    return members(schema).some((member) => hasFallback(member, field, seen));
  }
  return false;
}

function members(schema: z.ZodUnion | z.ZodIntersection): readonly z.ZodType[] {
  return schema instanceof z.ZodUnion
    ? (schema.def.options as readonly z.ZodType[])
    : [schema.def.left as z.ZodType, schema.def.right as z.ZodType];
}

function lazyInner(schema: z.ZodLazy, field: string): z.ZodType {
  try {
    return schema.unwrap() as z.ZodType;
  } catch (error) {
    throw new TypeError(
      `create.${field} is a z.lazy() schema whose getter failed, so its defaults cannot be removed; define what it refers to before calling updateSchemaFrom`,
      { cause: error },
    );
  }
}
