/**
 * A recorded field's provenance as OpenLineage events: each calculation in the tree is a run of
 * a job named after the calculation, reading its sources and the values derived before it and
 * writing a field of the entity's type. Run ids are derived from the record's id and the node's
 * place in the tree, so emitting the same record twice names the same runs.
 */
import { randomUUID } from 'node:crypto';
import { assertKnownKeys, assertOptionsObject } from '../../core/options.js';
import type { FieldLineage } from '../lineage-records.js';
import { type DerivedProvenance, instantText } from '../provenance.js';
import {
  assertText,
  assertUuid,
  type ColumnInputField,
  columnLineageFacet,
  correlationFacets,
  errorText,
  flowproofFacet,
  fromArgument,
  nameBasedRunId,
  type OpenLineageDataset,
  type OpenLineageEventOptions,
  type OpenLineageRunEvent,
  type OpenLineageRunFacets,
  type OpenLineageRunRef,
  parentFacet,
  processingEngineFacet,
  type ResolvedEventOptions,
  resolveEventOptions,
  schemaFacet,
  startAndEnd,
} from './openlineage-event.js';

/**
 * The events of a recorded field's provenance: for each derived node of the tree (the field's own
 * calculation and every calculation under it), `START` and `COMPLETE` at its `calculatedAt`,
 * inputs before the calculations that used them.
 *
 * Each run's job is the calculation's name; its `flowproof_calculation` facet carries the
 * calculation's version, the entity, the field and the node's path (`inputs.subtotal`). A
 * calculation under another has a `parent` facet naming the one that used it (and the field's
 * calculation as root); the field's own calculation names `options.parent`, when given.
 *
 * Inputs: one dataset per sourced input (namespace: the source's name, name: the input's name)
 * and one dataset of the entity's type (`order` for `order:ORD-12345`) holding the derived
 * inputs. Output: the entity's type, with the field (for the top calculation) or the input's
 * name (below it) as its one column, whose column lineage lists the sourced and derived inputs
 * (`TRANSFORMATION`; `masking` when a sourced input is masked). Literal inputs are no dataset.
 *
 * A field whose value is sourced or literal (no calculation) has no events.
 *
 * @throws TypeError naming the argument or option when one is invalid.
 * @example
 * ```ts
 * const total = await lineage.explain('order:ORD-12345', 'total');
 * const events = total ? fieldLineageEvents(total, { namespace: 'checkout' }) : [];
 * ```
 */
export function fieldLineageEvents(
  field: FieldLineage,
  options: OpenLineageEventOptions,
): readonly OpenLineageRunEvent[] {
  return fromArgument('field', 'a recorded field as lineage.record() returns it', () => {
    const resolved = resolveEventOptions(options);
    assertOptionsObject(field, 'field');
    const root = field.provenance;
    if (root.kind !== 'derived') return [];
    const colon = field.entity.indexOf(':');
    const entityType = colon > 0 ? field.entity.slice(0, colon) : field.entity;
    const events: OpenLineageRunEvent[] = [];
    // A node's run id comes from the input names leading to it, as JSON: names holding dots cannot
    // make two nodes look alike, as they could in the readable path.
    const runRef = (node: DerivedProvenance, keys: readonly string[]): OpenLineageRunRef => ({
      runId: nameBasedRunId(`${field.id}#${JSON.stringify(keys)}`),
      namespace: resolved.namespace,
      name: node.calculation,
    });
    const rootRef = runRef(root, []);
    const visit = (
      node: DerivedProvenance,
      keys: readonly string[],
      column: string,
      parent: OpenLineageRunRef | undefined,
    ) => {
      const self = keys.length === 0 ? rootRef : runRef(node, keys);
      for (const [name, input] of Object.entries(node.inputs)) {
        if (input.kind === 'derived') visit(input, [...keys, name], name, self);
      }
      const { producer } = resolved;
      const facets: OpenLineageRunFacets = {
        processing_engine: processingEngineFacet(producer),
        flowproof_calculation: flowproofFacet('FlowproofCalculationRunFacet', producer, {
          calculation: node.calculation,
          version: node.version,
          entity: field.entity,
          field: field.field,
          recordId: field.id,
          path: keys.map((key) => `inputs.${key}`).join('.'),
        }),
        ...parentFacets(resolved, parent, rootRef),
        ...correlationFacets(producer, field.correlationId, field.causationId),
      };
      const { inputs, inputFields } = calculationInputs(node, resolved, entityType);
      const output: OpenLineageDataset = {
        namespace: resolved.namespace,
        name: entityType,
        facets: {
          schema: schemaFacet(producer, [column]),
          columnLineage: columnLineageFacet(
            producer,
            Object.fromEntries([[column, { inputFields }]]),
          ),
        },
      };
      events.push(
        ...startAndEnd(resolved, self, 'CALCULATION', facets, {
          startedAt: node.calculatedAt,
          endedAt: node.calculatedAt,
          end: 'COMPLETE',
          inputs,
          outputs: [output],
        }),
      );
    };
    visit(root, [], field.field, resolved.parent);
    return events;
  });
}

function parentFacets(
  resolved: ResolvedEventOptions,
  parent: OpenLineageRunRef | undefined,
  root: OpenLineageRunRef,
): Pick<OpenLineageRunFacets, 'parent'> {
  if (parent === undefined) return {};
  // The field's calculation's own parent (options.parent) is outside the tree: no root to name.
  const isTreeParent = parent !== resolved.parent;
  return { parent: parentFacet(resolved.producer, parent, isTreeParent ? root : undefined) };
}

/** A calculation's input datasets and the column lineage of its output. */
function calculationInputs(
  node: DerivedProvenance,
  { namespace, producer }: ResolvedEventOptions,
  entityType: string,
): { inputs: OpenLineageDataset[]; inputFields: ColumnInputField[] } {
  const description = `${node.calculation} ${node.version}`;
  const inputs: OpenLineageDataset[] = [];
  const inputFields: ColumnInputField[] = [];
  const derived: string[] = [];
  const from = (dataset: { namespace: string; name: string }, name: string, masking: boolean) =>
    inputFields.push({
      namespace: dataset.namespace,
      name: dataset.name,
      field: name,
      transformations: [{ type: 'DIRECT', subtype: 'TRANSFORMATION', description, masking }],
    });
  for (const [name, input] of Object.entries(node.inputs)) {
    if (input.kind === 'sourced') {
      const dataset = { namespace: input.source, name };
      inputs.push({ ...dataset, facets: { schema: schemaFacet(producer, [name]) } });
      from(dataset, name, input.masked === true);
    } else if (input.kind === 'derived') {
      derived.push(name);
      from({ namespace, name: entityType }, name, false);
    }
  }
  if (derived.length > 0) {
    inputs.push({
      namespace,
      name: entityType,
      facets: { schema: schemaFacet(producer, derived) },
    });
  }
  return { inputs, inputFields };
}

/** A calculation that threw, as the lineage recorder's `derive` wrapper reports it. */
export interface DerivationFailure {
  /** The calculation's name. */
  readonly name: string;
  /** Its version. */
  readonly version: string;
  /** What it threw. */
  readonly error: unknown;
  /** When it started: a `Date`, epoch milliseconds or ISO-8601 text with an offset. */
  readonly startedAt: Date | number | string;
  /** When it failed. */
  readonly endedAt: Date | number | string;
  /**
   * The run's id (a UUID).
   * @default a new random UUID
   */
  readonly runId?: string;
}

/**
 * The events of a calculation that threw: `START` at `startedAt` and `FAIL` at `endedAt`, with an
 * `errorMessage` facet (`CODE: message` for an error with a code) and a `flowproof_calculation`
 * facet carrying the version.
 *
 * @throws TypeError naming the argument or option when one is invalid.
 * @example
 * ```ts
 * const events = derivationFailureEvents(
 *   { name: 'order-total', version: 'v2.3.1', error, startedAt, endedAt: Date.now() },
 *   { namespace: 'checkout' },
 * );
 * ```
 */
export function derivationFailureEvents(
  failure: DerivationFailure,
  options: OpenLineageEventOptions,
): readonly [OpenLineageRunEvent, OpenLineageRunEvent] {
  return fromArgument('failure', 'a derivation failure', () => {
    const resolved = resolveEventOptions(options);
    assertOptionsObject(failure, 'failure');
    assertKnownKeys(
      failure,
      ['name', 'version', 'error', 'startedAt', 'endedAt', 'runId'],
      'failure',
    );
    assertText(failure.name, 'failure.name');
    assertText(failure.version, 'failure.version');
    if (failure.runId !== undefined) assertUuid(failure.runId, 'failure.runId');
    const run: OpenLineageRunRef = {
      runId: failure.runId ?? randomUUID(),
      namespace: resolved.namespace,
      name: failure.name,
    };
    const { producer, parent } = resolved;
    const facets: OpenLineageRunFacets = {
      processing_engine: processingEngineFacet(producer),
      flowproof_calculation: flowproofFacet('FlowproofCalculationRunFacet', producer, {
        calculation: failure.name,
        version: failure.version,
      }),
      ...(parent === undefined ? {} : { parent: parentFacet(producer, parent) }),
    };
    const [start, end] = startAndEnd(resolved, run, 'CALCULATION', facets, {
      startedAt: instantText(failure.startedAt, 'failure.startedAt'),
      endedAt: instantText(failure.endedAt, 'failure.endedAt'),
      end: 'FAIL',
      inputs: [],
      outputs: [],
      error: errorText(failure.error),
    });
    return [start as OpenLineageRunEvent, end as OpenLineageRunEvent];
  });
}
