/**
 * A validation pipeline's run as OpenLineage events: the pipeline is the job, the record it was
 * given the input dataset and what it produced the output dataset, with column lineage saying,
 * for each output field, which input field it comes from and which stages changed or masked it.
 */
import { assertOptionsObject } from '../../core/options.js';
import type { PipelineRunLineage, StageLineage } from '../lineage-records.js';
import {
  type ColumnLineageField,
  columnLineageFacet,
  correlationFacets,
  fromArgument,
  type OpenLineageDataset,
  type OpenLineageEventOptions,
  type OpenLineageRunEvent,
  parentFacet,
  processingEngineFacet,
  resolveEventOptions,
  schemaFacet,
  startAndEnd,
} from './openlineage-event.js';

/**
 * The events of a pipeline run: `START` at `startedAt`, then `COMPLETE` or `FAIL` at `endedAt`.
 *
 * The job is `{ namespace, name: run.pipeline }`; the run id is the pipeline's. The input dataset
 * (`<pipeline>.input`) lists the first stage's input fields, the output dataset
 * (`<pipeline>.output`, only when the run produced a value) the last stage's output fields, and
 * its column lineage maps each output field to the input field of the same name. A field a stage
 * added has no input field. A transformation is `IDENTITY` when no stage changed or masked the
 * field, `TRANSFORMATION` otherwise; its description names the stages that did (or all stages
 * for an identity), and `masking` is true when a stage masks the field. A `FAIL` event carries
 * the failing stage's error in an `errorMessage` facet.
 *
 * @throws TypeError naming the argument or option when one is invalid.
 * @example
 * ```ts
 * const [start, end] = pipelineRunEvents(run, { namespace: 'checkout' });
 * end.outputs[0]?.facets?.columnLineage?.fields.email;
 * // { inputFields: [{ namespace: 'checkout', name: 'signup.input', field: 'email', … }] }
 * ```
 */
export function pipelineRunEvents(
  run: PipelineRunLineage,
  options: OpenLineageEventOptions,
): readonly [OpenLineageRunEvent, OpenLineageRunEvent] {
  return fromArgument('run', 'a pipeline run as lineage.runs() returns it', () => {
    const { namespace, producer, parent } = resolveEventOptions(options);
    assertOptionsObject(run, 'run');
    const { stages } = run;
    const input: OpenLineageDataset = {
      namespace,
      name: `${run.pipeline}.input`,
      facets: { schema: schemaFacet(producer, stages[0]?.fieldsIn ?? []) },
    };
    const last = stages.at(-1);
    const outputs: OpenLineageDataset[] =
      run.state === 'COMPLETE' && last !== undefined
        ? [
            {
              namespace,
              name: `${run.pipeline}.output`,
              facets: {
                schema: schemaFacet(producer, last.fieldsOut),
                columnLineage: columnLineageFacet(producer, fieldLineage(stages, input)),
              },
            },
          ]
        : [];
    const facets = {
      processing_engine: processingEngineFacet(producer),
      ...(parent === undefined ? {} : { parent: parentFacet(producer, parent) }),
      ...correlationFacets(producer, run.correlationId, run.causationId),
    };
    const ref = { runId: run.runId, namespace, name: run.pipeline };
    const [start, end] = startAndEnd({ namespace, producer, parent }, ref, 'PIPELINE', facets, {
      startedAt: run.startedAt,
      endedAt: run.endedAt,
      end: run.state,
      inputs: [input],
      outputs,
      ...(run.state === 'FAIL'
        ? { error: failureText(stages.findLast((stage) => stage.error)) }
        : {}),
    });
    return [start as OpenLineageRunEvent, end as OpenLineageRunEvent];
  });
}

function failureText(stage: StageLineage | undefined): string {
  if (stage?.error === undefined) return 'the pipeline run failed';
  return `${stage.error.code}: ${stage.error.message} (stage ${stage.stage})`;
}

/** For each field of the last stage's output, where it comes from. */
function fieldLineage(
  stages: readonly StageLineage[],
  input: OpenLineageDataset,
): Record<string, ColumnLineageField> {
  const inputFields = new Set(stages[0]?.fieldsIn ?? []);
  const fields: [string, ColumnLineageField][] = [];
  for (const field of stages.at(-1)?.fieldsOut ?? []) {
    // Where the field's current value begins: after the last stage that added it, if one did.
    let from = 0;
    stages.forEach((stage, index) => {
      if (stage.fieldsAdded.includes(field)) from = index + 1;
    });
    if (from > 0 || !inputFields.has(field)) {
      fields.push([field, { inputFields: [] }]);
      continue;
    }
    const changedBy: string[] = [];
    let masking = false;
    for (const stage of stages) {
      const masks = stage.fieldsMasked.some(
        (path) => path === field || path.startsWith(`${field}.`),
      );
      masking ||= masks;
      if (masks || stage.fieldsChanged.includes(field)) changedBy.push(stage.stage);
    }
    fields.push([
      field,
      {
        inputFields: [
          {
            namespace: input.namespace,
            name: input.name,
            field,
            transformations: [
              {
                type: 'DIRECT',
                subtype: changedBy.length === 0 ? 'IDENTITY' : 'TRANSFORMATION',
                description: (changedBy.length === 0
                  ? stages.map((stage) => stage.stage)
                  : changedBy
                ).join(' → '),
                masking,
              },
            ],
          },
        ],
      },
    ]);
  }
  // fromEntries: a field named `__proto__` stays a field.
  return Object.fromEntries(fields);
}
