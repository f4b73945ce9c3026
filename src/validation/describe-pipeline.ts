/**
 * Self-description (code as documentation): a pipeline's stages as data, as a Mermaid flowchart,
 * and as Markdown in the reference's per-step "Input / Transformation / Output / Validation /
 * Error handling" shape. Generated from the same objects that run, so it cannot drift.
 */
import { blockText, codeSpan, inlineText, mermaidLabel, strong } from '../core/markup.js';
import type { CompiledStage } from './pipeline-runner.js';
import {
  describeField,
  type FieldFacts,
  flattenFields,
  objectFields,
  toJsonSchema,
} from './schema-fields.js';
import type { Boundary, StageDocs, StageKind, UnknownKeysPolicy } from './stage.js';

/** One field of a validate stage's schema, as `describe()` reports it. */
export interface SchemaFieldDescription {
  /** Dotted path: `shipping.city`, and `[]` for array elements: `items[].sku`. */
  readonly path: string;
  /** False when the key may be left out. */
  readonly required: boolean;
  /** True when `null` is accepted. */
  readonly nullable: boolean;
  /** The rules, in words: `string`, `1–64 characters`, `integer`, `> 0`… */
  readonly rules: readonly string[];
}

/** A validate stage's schema, as `describe()` reports it. */
export interface SchemaDescription {
  /** The library that made the schema (`zod`, `valibot`…). */
  readonly vendor: string;
  /**
   * The schema's fields, when the validator can describe itself as JSON Schema (zod does, and
   * any Standard JSON Schema validator); undefined otherwise.
   */
  readonly fields: readonly SchemaFieldDescription[] | undefined;
}

/** One stage, as `describe()` reports it. */
export interface StageDescription {
  /** The stage's name. */
  readonly name: string;
  /** Position, from 0. */
  readonly index: number;
  /** What the stage does. */
  readonly kind: StageKind;
  /** Where it sits. */
  readonly boundary: Boundary;
  /** Its error policy. */
  readonly onError: 'reject' | 'fallback' | 'dead-letter';
  /** False when `allowFieldLoss` turned the field-loss check off. */
  readonly checksFieldLoss: boolean;
  /** Fields the stage removes on purpose. */
  readonly drops: readonly string[];
  /** Fields the stage adds. */
  readonly adds: readonly string[];
  /** The one-line description, if given. */
  readonly description: string | undefined;
  /** The schema, for validate stages. */
  readonly schema: SchemaDescription | undefined;
  /** The field a validate stage checks in place (its `at` option). */
  readonly at: string | undefined;
  /** The field a validate stage writes its output into (its `into` option). */
  readonly into: string | undefined;
  /**
   * What a validate stage does with keys of its input its schema does not declare (its
   * `unknownKeys` option, or its boundary's default); undefined for other stages.
   */
  readonly unknownKeys: UnknownKeysPolicy | undefined;
  /** Top-level fields the stage receives, when known from an earlier schema and declarations. */
  readonly fieldsIn: readonly string[] | undefined;
  /** Top-level fields the stage produces, when known. */
  readonly fieldsOut: readonly string[] | undefined;
  /** Documentation given with the stage. */
  readonly docs: StageDocs | undefined;
}

/** What `describe()` returns. */
export interface PipelineDescription {
  /** The pipeline's name. */
  readonly name: string;
  /** Its stages, in order. */
  readonly stages: readonly StageDescription[];
  /** Its boundaries, in order of first appearance. */
  readonly boundaries: readonly Boundary[];
}

/** @internal */
export function describePipeline(
  name: string,
  stages: readonly CompiledStage[],
): PipelineDescription {
  let known: readonly string[] | undefined;
  const described = stages.map((stage): StageDescription => {
    const { options } = stage;
    const drops = options.drops ?? [];
    const adds = options.adds ?? [];
    let schema: SchemaDescription | undefined;
    const fieldsIn = known;
    if (stage.schema) {
      const json = toJsonSchema(stage.schema);
      const top = json ? objectFields(json) : undefined;
      schema = {
        vendor: stage.schema['~standard'].vendor,
        fields: json && top ? flattenFields(json).map(fieldDescription) : undefined,
      };
      if (stage.at !== undefined) {
        known = known === undefined ? undefined : withDeclared(known, drops, adds);
      } else if (stage.into !== undefined) {
        known = known === undefined ? undefined : withDeclared(known, drops, [...adds, stage.into]);
      } else {
        known = top
          ? withDeclared(
              top.map((field) => field.path),
              drops,
              adds,
            )
          : undefined;
      }
    } else if (known !== undefined && stage.checkFieldLoss) {
      known = withDeclared(known, drops, adds);
    } else {
      known = undefined;
    }
    return Object.freeze({
      name: stage.name,
      index: stage.index,
      kind: stage.kind,
      boundary: stage.boundary,
      onError: stage.policy,
      checksFieldLoss: stage.checkFieldLoss,
      drops,
      adds,
      description: options.description,
      schema,
      at: stage.at,
      into: stage.into,
      unknownKeys: stage.unknownKeys,
      fieldsIn,
      fieldsOut: known,
      docs: options.docs,
    });
  });
  return Object.freeze({
    name,
    stages: Object.freeze(described),
    boundaries: Object.freeze([...new Set(described.map((stage) => stage.boundary))]),
  });
}

function withDeclared(
  fields: readonly string[],
  drops: readonly string[],
  adds: readonly string[],
): readonly string[] {
  const dropped = new Set(drops);
  return [...new Set([...fields.filter((field) => !dropped.has(field)), ...adds])];
}

/**
 * The rules of each described field as Markdown. `describeField` quotes enum values and patterns
 * in plain backticks, which a backtick in the value would close, so the Markdown form is rebuilt
 * from the facts. Kept aside rather than on the description, whose shape is public.
 */
const markdownRules = new WeakMap<SchemaFieldDescription, readonly string[]>();

function fieldDescription(field: FieldFacts): SchemaFieldDescription {
  const rules = describeField(field);
  const description = {
    path: field.path,
    required: field.required,
    nullable: field.nullable,
    rules,
  };
  markdownRules.set(
    description,
    rules.map((rule) => {
      if (field.enumValues && rule.startsWith('one of ')) {
        return `one of ${field.enumValues.map((value) => codeSpan(String(JSON.stringify(value)))).join(', ')}`;
      }
      if (field.pattern !== undefined && rule === `matches \`/${field.pattern}/\``) {
        return `matches ${codeSpan(`/${field.pattern}/`)}`;
      }
      if (field.format !== undefined && rule === `format ${field.format}`) {
        return `format ${inlineText(field.format)}`;
      }
      return rule;
    }),
  );
  return description;
}

function node(stage: StageDescription): string {
  const text = mermaidLabel(`${stage.kind}: ${stage.name}`);
  const id = `s${stage.index}`;
  if (stage.kind === 'validate') return `${id}{{${text}}}`;
  if (stage.kind === 'enrich') return `${id}([${text}])`;
  return `${id}[${text}]`;
}

/** @internal */
export function pipelineToMermaid(description: PipelineDescription): string {
  const lines = ['flowchart LR', `  input((${mermaidLabel('input')}))`];
  let group = -1;
  let previous: string | undefined;
  for (const stage of description.stages) {
    if (stage.boundary !== previous) {
      if (previous !== undefined) lines.push('  end');
      group += 1;
      lines.push(`  subgraph b${group}[${mermaidLabel(`${stage.boundary} boundary`)}]`);
      previous = stage.boundary;
    }
    lines.push(`    ${node(stage)}`);
  }
  lines.push('  end', `  output((${mermaidLabel('output')}))`);
  const ids = description.stages.map((stage) => `s${stage.index}`);
  lines.push(`  ${['input', ...ids, 'output'].join(' --> ')}`);
  const failures = { reject: false, dead: false };
  description.stages.forEach((stage, i) => {
    const id = `s${stage.index}`;
    if (stage.onError === 'reject') {
      failures.reject = true;
      lines.push(`  ${id} -.->|reject| rejected`);
    } else if (stage.onError === 'dead-letter') {
      failures.dead = true;
      lines.push(`  ${id} -.->|dead-letter| deadletters`);
    } else {
      lines.push(`  ${id} -.->|fallback, flag for review| ${ids[i + 1] ?? 'output'}`);
    }
  });
  if (failures.reject) lines.push(`  rejected([${mermaidLabel('rejected: PIPELINE_REJECTED')}])`);
  if (failures.dead) lines.push(`  deadletters[(${mermaidLabel('dead letters')})]`);
  return `${lines.join('\n')}\n`;
}

function block(value: string | readonly string[] | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'string') return blockText(value);
  return value.map((line) => `- ${blockText(line)}`).join('\n');
}

function section(title: string, body: string): string {
  return body.includes('\n') || body.startsWith('- ')
    ? `**${title}**:\n\n${body}\n`
    : `**${title}**: ${body}\n`;
}

function fieldList(fields: readonly string[]): string {
  return fields.map(codeSpan).join(', ');
}

function inputText(stage: StageDescription, previous: StageDescription | undefined): string {
  const given = block(stage.docs?.input);
  if (given !== undefined) return given;
  if (previous === undefined) return 'The pipeline input, untrusted until a schema has checked it.';
  const fields = stage.fieldsIn ? `: fields ${fieldList(stage.fieldsIn)}` : '';
  return `The output of step ${previous.index + 1} (${inlineText(previous.name)})${fields}.`;
}

function transformationText(stage: StageDescription): string {
  const given =
    block(stage.docs?.transformation) ??
    (stage.description === undefined ? undefined : blockText(stage.description));
  if (given !== undefined) return given;
  if (stage.at !== undefined) {
    return `Field ${codeSpan(stage.at)} is parsed and replaced by the schema's output; the rest passes through.`;
  }
  if (stage.into !== undefined) {
    return `The schema's output is written into ${codeSpan(stage.into)}; the value passes through.`;
  }
  if (stage.kind === 'validate') {
    return 'None beyond the schema: the value is parsed (and coerced where the schema says so).';
  }
  return stage.kind === 'enrich' ? 'Adds data from another source.' : 'Reshapes the value.';
}

function outputText(stage: StageDescription): string {
  const given = block(stage.docs?.output);
  if (given !== undefined) return given;
  const parts: string[] = [];
  if (stage.fieldsOut) parts.push(`fields ${fieldList(stage.fieldsOut)}`);
  if (stage.adds.length > 0) parts.push(`adds ${fieldList(stage.adds)}`);
  if (stage.drops.length > 0) parts.push(`drops ${fieldList(stage.drops)}`);
  if (parts.length === 0) return 'The transformed value.';
  const text = parts.join('; ');
  return `${text.charAt(0).toUpperCase()}${text.slice(1)}.`;
}

function validationText(stage: StageDescription): string {
  const lines: string[] = [];
  const given = stage.docs?.validation;
  if (given !== undefined)
    lines.push(...(typeof given === 'string' ? [given] : given).map(blockText));
  if (stage.schema) {
    const scope =
      stage.at !== undefined
        ? ` for field ${codeSpan(stage.at)} only (the rest was validated before)`
        : stage.into !== undefined
          ? `, output written into ${codeSpan(stage.into)}`
          : '';
    const vendor = inlineText(stage.schema.vendor);
    if (stage.schema.fields) {
      lines.push(`Schema (${vendor})${scope}:`);
      for (const field of stage.schema.fields) {
        const rules = markdownRules.get(field) ?? field.rules.map(inlineText);
        lines.push(`  - ${codeSpan(field.path)}: ${rules.join(', ')}`);
      }
    } else {
      lines.push(`Schema (${vendor})${scope}; its rules cannot be listed.`);
    }
    if (stage.unknownKeys !== undefined) {
      lines.push(
        stage.unknownKeys === 'strip'
          ? 'Keys the schema does not declare are stripped.'
          : 'Keys the schema does not declare are rejected (`unrecognized_keys`).',
      );
    }
  }
  if (stage.checksFieldLoss) {
    lines.push(
      stage.drops.length > 0
        ? `Every input field reaches the output, except ${fieldList(stage.drops)} (dropped on purpose).`
        : 'Every input field reaches the output (field-loss check).',
    );
  }
  if (lines.length === 0) return 'None at this step.';
  return lines.map((line) => (line.startsWith('  - ') ? line : `- ${line}`)).join('\n');
}

function errorHandlingText(stage: StageDescription): string {
  const lines: string[] = [];
  const given = stage.docs?.errorHandling;
  if (given !== undefined)
    lines.push(...(typeof given === 'string' ? [given] : given).map(blockText));
  const failures =
    stage.kind === 'validate'
      ? 'Invalid data'
      : 'An exception (or a thrown `VALIDATION_FAILED`, reported as `PIPELINE_REJECTED`)';
  if (stage.onError === 'reject') {
    lines.push(
      `${failures} or a lost field: reject; the run ends \`rejected\` with a \`FlowproofError\` naming pipeline, stage, boundary and every issue.`,
    );
  } else if (stage.onError === 'fallback') {
    lines.push(
      `${failures} or a lost field: use the fallback value and flag the record for review.`,
    );
  } else {
    lines.push(
      `${failures} or a lost field: hand the record and the error to the dead-letter sink; a batch carries on.`,
    );
  }
  return lines.map((line) => `- ${line}`).join('\n');
}

/**
 * Every name, boundary, field and docs string goes through {@link inlineText}, {@link blockText} or
 * {@link codeSpan}: they come from application code, sometimes from configuration, and must not be
 * able to open a code block, add a heading or inject HTML into the generated document.
 * @internal
 */
export function pipelineToMarkdown(description: PipelineDescription): string {
  const out = [
    `## Pipeline: ${inlineText(description.name)}\n`,
    `Stages: ${description.stages.length}; boundaries: ${description.boundaries.map(inlineText).join(' → ')}.\n`,
    '```mermaid',
    pipelineToMermaid(description).trimEnd(),
    '```\n',
  ];
  description.stages.forEach((stage, i) => {
    out.push(`### Step ${i + 1}: ${inlineText(stage.name)}\n`);
    out.push(`*${stage.kind}* at the ${strong(stage.boundary)} boundary.\n`);
    out.push(section('Input', inputText(stage, description.stages[i - 1])));
    out.push(section('Transformation', transformationText(stage)));
    out.push(section('Output', outputText(stage)));
    out.push(section('Validation', validationText(stage)));
    out.push(section('Error handling', errorHandlingText(stage)));
  });
  return `${out.join('\n').trimEnd()}\n`;
}
