/**
 * Consistent rules on create and update (the reference's "not validating on updates" mistake):
 * the update schema is derived from the create schema, so a rule added to one is a rule of both.
 */
import { z } from 'zod';
import { assertOptionsObject } from '../core/options.js';

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
 *   field out must not reset it to its default;
 * - unknown keys are rejected (`unrecognized_keys`) rather than stripped;
 * - an update must set at least one field (`custom` issue at the root).
 *
 * @throws TypeError when `create` is not a zod object, has object-level refinements (they cannot
 * be checked on a partial object: add them to both schemas explicitly), or `omit` names an unknown
 * field.
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
  const omit = new Set<string>(options.omit ?? []);
  for (const key of omit) {
    if (!Object.hasOwn(create.shape, key)) {
      throw new TypeError(`options.omit names "${key}", which is not a field of create`);
    }
  }
  const shape: Record<string, z.ZodType> = {};
  for (const [key, field] of Object.entries(create.shape)) {
    if (!omit.has(key)) shape[key] = z.optional(withoutDefaults(field as z.ZodType));
  }
  return z
    .strictObject(shape)
    .refine((value) => Object.values(value).some((field) => field !== undefined), {
      message: 'An update must set at least one field',
    }) as unknown as UpdateSchema<Shape, Omitted>;
}

/** Removes defaults and catch values, also under optional/nullable wrappers. */
function withoutDefaults(field: z.ZodType): z.ZodType {
  if (field instanceof z.ZodDefault || field instanceof z.ZodPrefault) {
    return withoutDefaults(field.unwrap() as z.ZodType);
  }
  if (field instanceof z.ZodCatch) return withoutDefaults(field.unwrap() as z.ZodType);
  if (field instanceof z.ZodOptional || field instanceof z.ZodNullable) {
    const inner = field.unwrap() as z.ZodType;
    const stripped = withoutDefaults(inner);
    if (stripped === inner) return field;
    return field instanceof z.ZodOptional ? z.optional(stripped) : z.nullable(stripped);
  }
  return field;
}
