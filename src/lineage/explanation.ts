/**
 * What `explain()` returns: a field's recorded value with its provenance tree and the pipeline
 * stages that touched it, drawn as Mermaid, written as Markdown, or shaped as lineage metadata
 * to attach to the value in an API response.
 */
import { codeSpan, inlineText, mermaidLabel, strong } from '../core/markup.js';
import type { Boundary, StageKind } from '../validation/stage.js';
import type { FieldLineage, PipelineRunLineage } from './lineage-records.js';
import type { LineageJson, Provenance } from './provenance.js';

/** What a pipeline stage did to the explained field. */
export type PipelineStepAction = 'validated' | 'added' | 'changed' | 'masked' | 'dropped';

/** A pipeline stage that touched the explained field, in the same flow (correlation id). */
export interface PipelineStep {
  /** The pipeline. */
  readonly pipeline: string;
  /** The run's id. */
  readonly runId: string;
  /** The stage. */
  readonly stage: string;
  /** The stage's kind. */
  readonly kind: StageKind;
  /** The stage's trust boundary. */
  readonly boundary: Boundary;
  /** What it did to the field. */
  readonly action: PipelineStepAction;
}

/**
 * The lineage metadata of a value, in the shape commonly attached to an API response next to the
 * value: `{ calculated_at, calculation, calculation_version, inputs: { name: { value, source,
 * fetched_at, …attributes } } }` (a derived input nests the same shape; a sourced value is
 * `{ value, source, fetched_at, … }`).
 */
export type LineageMetadata = { readonly [key: string]: LineageJson };

/**
 * A field's recorded lineage. Plain data (its JSON form is the {@link FieldLineage} plus
 * `steps`) with renderings.
 */
export class Explanation implements FieldLineage {
  /** The record's id. */
  readonly id: string;
  /** The entity. */
  readonly entity: string;
  /** The field. */
  readonly field: string;
  /** The value recorded. */
  readonly value: unknown;
  /** When it was recorded (ISO-8601 UTC). */
  readonly recordedAt: string;
  /** The correlation id of the flow that recorded it. */
  readonly correlationId: string | undefined;
  /** The causation id of the flow that recorded it. */
  readonly causationId: string | undefined;
  /** Where the value came from. */
  readonly provenance: Provenance;
  /** Pipeline stages in the same flow that validated, added, changed, masked or dropped the field. */
  readonly steps: readonly PipelineStep[];

  /** @internal made by the recorder's `explain()`. */
  constructor(field: FieldLineage, steps: readonly PipelineStep[]) {
    this.id = field.id;
    this.entity = field.entity;
    this.field = field.field;
    this.value = field.value;
    this.recordedAt = field.recordedAt;
    this.correlationId = field.correlationId;
    this.causationId = field.causationId;
    this.provenance = field.provenance;
    this.steps = steps;
    Object.freeze(this);
  }

  /**
   * The provenance tree as a Mermaid flowchart: each input points at the value computed from it,
   * labelled with its name; pipeline stages that touched the field lead into it.
   */
  toMermaid(): string {
    const lines = ['flowchart RL'];
    let next = 0;
    const visit = (node: Provenance, title: string): string => {
      const id = `n${next++}`;
      lines.push(`  ${id}[${mermaidLabel(nodeText(node, title).join(' · '))}]`);
      if (node.kind === 'derived') {
        for (const [name, input] of Object.entries(node.inputs)) {
          lines.push(`  ${visit(input, name)} -->|${mermaidLabel(name)}| ${id}`);
        }
      }
      return id;
    };
    const root = visit(this.provenance, `${this.entity}.${this.field}`);
    let previous: string | undefined;
    for (const step of this.steps) {
      const id = `s${next++}`;
      lines.push(`  ${id}([${mermaidLabel(`${step.pipeline} / ${step.stage}: ${step.action}`)}])`);
      if (previous !== undefined) lines.push(`  ${previous} --> ${id}`);
      previous = id;
    }
    if (previous !== undefined) lines.push(`  ${previous} -.-> ${root}`);
    return `${lines.join('\n')}\n`;
  }

  /** The explanation as Markdown: the value, then its inputs as a nested list, then the stages. */
  toMarkdown(): string {
    const lines = [
      `### ${inlineText(`${this.entity}.${this.field}`)} = ${codeSpan(valueText(this.value))}`,
      '',
      `Recorded ${this.recordedAt}${this.correlationId ? ` in flow ${codeSpan(this.correlationId)}` : ''}.`,
      '',
    ];
    const visit = (node: Provenance, title: string, depth: number) => {
      const [head, ...rest] = nodeText(node, title);
      lines.push(
        `${'  '.repeat(depth)}- ${strong(head as string)}${rest.length ? ` — ${inlineText(rest.join(', '))}` : ''}`,
      );
      if (node.kind === 'derived') {
        for (const [name, input] of Object.entries(node.inputs)) visit(input, name, depth + 1);
      }
    };
    visit(this.provenance, this.field, 0);
    if (this.steps.length > 0) {
      lines.push('', 'Pipeline stages:', '');
      for (const step of this.steps) {
        lines.push(
          `- ${codeSpan(step.pipeline)} / ${codeSpan(step.stage)} (${step.kind}, ${inlineText(step.boundary)} boundary): ${step.action}`,
        );
      }
    }
    return `${lines.join('\n')}\n`;
  }

  /** The value's lineage metadata ({@link LineageMetadata}), to attach next to the value. */
  toLineageMetadata(): LineageMetadata {
    // The value itself sits beside its lineage (`{ total: 142.5, lineage: {…} }`), inputs' values
    // inside it.
    const { value: _value, ...lineage } = metadata(this.provenance);
    return lineage;
  }

  /** The explanation as JSON data. */
  toJSON(): FieldLineage & {
    /** The pipeline stages in the same flow that touched the field. */
    readonly steps: readonly PipelineStep[];
  } {
    return { ...this };
  }
}

/** The stages of `runs` that touched `field` (its first path segment), in run and stage order. */
export function stepsForField(
  runs: readonly PipelineRunLineage[],
  field: string,
): readonly PipelineStep[] {
  const top = field.split('.')[0] as string;
  const steps: PipelineStep[] = [];
  for (const run of runs) {
    for (const stage of run.stages) {
      const action: PipelineStepAction | undefined = stage.fieldsMasked.some(
        (path) => path.split('.')[0] === top,
      )
        ? 'masked'
        : stage.fieldsAdded.includes(top)
          ? 'added'
          : stage.fieldsChanged.includes(top)
            ? 'changed'
            : stage.fieldsDropped.includes(top)
              ? 'dropped'
              : stage.kind === 'validate' && stage.fieldsOut.includes(top)
                ? 'validated'
                : undefined;
      if (action === undefined) continue;
      steps.push({
        pipeline: run.pipeline,
        runId: run.runId,
        stage: stage.stage,
        kind: stage.kind,
        boundary: stage.boundary,
        action,
      });
    }
  }
  return steps;
}

/** A node's lines: its title and value, then what it is and when. */
function nodeText(node: Provenance, title: string): string[] {
  const head = `${title} = ${valueText(node.value)}`;
  switch (node.kind) {
    case 'derived':
      return [head, `${node.calculation} ${node.version}`, `calculated ${node.calculatedAt}`];
    case 'sourced': {
      const attributes = Object.entries(node.attributes ?? {}).map(
        ([key, value]) => `${key}: ${valueText(value)}`,
      );
      return [
        head,
        `from ${node.source}`,
        ...attributes,
        `fetched ${node.fetchedAt}`,
        ...(node.masked ? ['masked'] : []),
      ];
    }
    default:
      return [head, 'given'];
  }
}

function valueText(value: unknown): string {
  if (typeof value === 'string') return value;
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

function metadata(node: Provenance): LineageMetadata {
  switch (node.kind) {
    case 'derived':
      return {
        value: node.value as LineageJson,
        calculation: node.calculation,
        calculation_version: node.version,
        calculated_at: node.calculatedAt,
        inputs: Object.fromEntries(
          Object.entries(node.inputs).map(([name, input]) => [name, metadata(input)]),
        ),
      };
    case 'sourced':
      return {
        value: node.value as LineageJson,
        source: node.source,
        ...(node.attributes ?? {}),
        fetched_at: node.fetchedAt,
        ...(node.masked ? { masked: true } : {}),
      };
    default:
      return { value: node.value as LineageJson };
  }
}
