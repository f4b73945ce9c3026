/**
 * Validation of emitted OpenLineage events against the official JSON Schemas (the 2-0-2 core
 * event and the facet schemas), with ajv's draft 2020-12 support.
 *
 * The schemas are test fixtures kept outside the repository. They are looked for, in order, in
 * `$OPENLINEAGE_SCHEMA_DIR`, `<repo>/../shared/fixtures/openlineage` (a checkout next to the shared
 * fixtures) and `/work/shared/fixtures/openlineage`. When none holds them, `openLineageSchemas` is
 * `undefined` and `schemaSkipReason` says where it looked, for a visible skip.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import Ajv2020, { type ValidateFunction } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { expect } from 'vitest';
import type { OpenLineageRunEvent } from '../../src/lineage/index.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** Where the schemas are looked for, in order. */
export const schemaDirCandidates: readonly string[] = [
  ...(process.env.OPENLINEAGE_SCHEMA_DIR ? [process.env.OPENLINEAGE_SCHEMA_DIR] : []),
  resolve(repoRoot, '../shared/fixtures/openlineage'),
  '/work/shared/fixtures/openlineage',
];

/** Validates events; `errors` lists every problem of one event (empty when it is valid). */
export interface OpenLineageSchemas {
  /** The directory the schemas were read from. */
  readonly dir: string;
  /** Every schema violation of `event`, core and facets, as `where: message` lines. */
  errors(event: unknown): string[];
}

function load(dir: string): OpenLineageSchemas {
  // strict: false, as the official schemas use the annotation `example`, unknown to ajv.
  const ajv = new Ajv2020.default({ strict: false, allErrors: true });
  addFormats.default(ajv);
  const core = JSON.parse(readFileSync(join(dir, 'OpenLineage.json'), 'utf8'));
  ajv.addSchema(core);
  const validateEvent = ajv.getSchema(core.$id) as ValidateFunction;
  // Each facet schema declares `properties: { <facet key>: … }`: validate `{ key: facet }` with it.
  const byKey = new Map<string, ValidateFunction>();
  const facetFiles = [
    ...readdirSync(join(dir, 'facets')).map((file) => join(dir, 'facets', file)),
    // flowproof's own facets, shipped with the package.
    join(repoRoot, 'docs', 'openlineage-facets.json'),
  ];
  for (const file of facetFiles) {
    const schema = JSON.parse(readFileSync(file, 'utf8'));
    ajv.addSchema(schema);
    for (const key of Object.keys(schema.properties ?? {})) {
      byKey.set(key, ajv.getSchema(schema.$id) as ValidateFunction);
    }
  }
  const describe = (where: string, validate: ValidateFunction) =>
    (validate.errors ?? []).map((e) => `${where}${e.instancePath}: ${e.message}`);
  const facetErrors = (where: string, facets: unknown): string[] => {
    if (facets === undefined) return [];
    const problems: string[] = [];
    for (const [key, facet] of Object.entries(facets as Record<string, unknown>)) {
      const validate = byKey.get(key);
      if (validate === undefined) {
        problems.push(`${where}.${key}: no schema for this facet`);
        continue;
      }
      if (!validate({ [key]: facet })) problems.push(...describe(`${where}`, validate));
      // Its _schemaURL names a definition that exists (flowproof's own: in any version's file).
      const url = String((facet as { _schemaURL?: unknown })._schemaURL);
      if (ajv.getSchema(url.replace(/\/flowproof@[^/]+\//, '/flowproof/')) === undefined) {
        problems.push(`${where}.${key}: _schemaURL ${url} names no schema definition`);
      }
    }
    return problems;
  };
  return {
    dir,
    errors(event) {
      const problems = validateEvent(event) ? [] : describe('event', validateEvent);
      const e = event as OpenLineageRunEvent;
      problems.push(...facetErrors('run.facets', e.run?.facets));
      problems.push(...facetErrors('job.facets', e.job?.facets));
      for (const [list, datasets] of [
        ['inputs', e.inputs],
        ['outputs', e.outputs],
      ] as const) {
        (datasets ?? []).forEach((dataset, index) => {
          problems.push(...facetErrors(`${list}[${index}].facets`, dataset.facets));
        });
      }
      return problems;
    },
  };
}

const found = schemaDirCandidates.find((dir) => existsSync(join(dir, 'OpenLineage.json')));

/** The official schemas, or `undefined` when they are not on this machine. */
export const openLineageSchemas: OpenLineageSchemas | undefined =
  found === undefined ? undefined : load(found);

/** Why schema tests are skipped, for the skip's title; empty when they run. */
export const schemaSkipReason: string =
  found === undefined
    ? `OpenLineage schemas not found (looked in ${schemaDirCandidates.join(', ')}; set OPENLINEAGE_SCHEMA_DIR)`
    : '';

/**
 * Column lineage names only fields that exist: every output field it maps is in its dataset's
 * schema facet, and every input field is a field of an input dataset of the same event.
 */
export function columnLineageProblems(event: OpenLineageRunEvent): string[] {
  const problems: string[] = [];
  const inputFields = new Set(
    event.inputs.flatMap((dataset) =>
      (dataset.facets?.schema?.fields ?? []).map(
        (field) => `${dataset.namespace}\u0000${dataset.name}\u0000${field.name}`,
      ),
    ),
  );
  for (const output of event.outputs) {
    const own = new Set((output.facets?.schema?.fields ?? []).map((field) => field.name));
    for (const [name, { inputFields: from }] of Object.entries(
      output.facets?.columnLineage?.fields ?? {},
    )) {
      if (!own.has(name)) problems.push(`output ${output.name} maps unknown field ${name}`);
      for (const input of from) {
        if (!inputFields.has(`${input.namespace}\u0000${input.name}\u0000${input.field}`)) {
          problems.push(
            `${output.name}.${name} ← unknown ${input.namespace}/${input.name}.${input.field}`,
          );
        }
      }
    }
  }
  return problems;
}

/**
 * Asserts that every event is valid per the official schemas (when they are on this machine) and
 * that its column lineage names only fields that exist.
 */
export function expectValidEvents(events: readonly OpenLineageRunEvent[]): void {
  for (const event of events) {
    if (openLineageSchemas) expect(openLineageSchemas.errors(event)).toEqual([]);
    expect(columnLineageProblems(event)).toEqual([]);
  }
}
