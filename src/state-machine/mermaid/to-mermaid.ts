/**
 * State machines as documentation: {@link toMermaid} renders a machine as a Mermaid
 * `stateDiagram-v2` (GitHub, GitLab and most doc tools draw it), generated from the definition so
 * the diagram cannot drift from the code.
 */

import { describeValue } from '../../core/errors.js';
import { readObject } from '../../core/options.js';
import type { EventSchemas, Machine } from '../define-machine.js';
import { describe } from '../describe.js';

/** Options of {@link toMermaid}. */
export interface MermaidOptions {
  /**
   * Layout direction.
   * @default 'TB'
   */
  readonly direction?: 'TB' | 'LR';
  /**
   * Show effects after a slash on transition labels (`paid / sendConfirmationEmail`).
   * @default true
   */
  readonly effects?: boolean;
}

/**
 * Renders `machine` as a Mermaid `stateDiagram-v2`: `[*]` into the initial state, one arrow per
 * transition labelled with its event (guards in brackets, deadlines as `after …`, effects after a
 * slash), and terminal states into `[*]`.
 *
 * @throws TypeError when `machine` was not created by `defineMachine`, or an option is invalid or
 * unknown.
 * @example
 * ```ts
 * writeFileSync('docs/order.mmd', toMermaid(order, { direction: 'LR' }));
 * ```
 */
export function toMermaid<S extends string, ES extends EventSchemas, D, Fx extends string>(
  machine: Machine<S, ES, D, Fx>,
  options: MermaidOptions = {},
): string {
  const { direction = 'TB', effects = true } = readObject(
    options,
    'options',
    'direction effects',
  ) as MermaidOptions;
  if (direction !== 'TB' && direction !== 'LR') {
    throw new TypeError(
      `options.direction must be 'TB' or 'LR', got ${typeof direction === 'string' ? direction : describeValue(direction)}`,
    );
  }
  const { initial, states, transitions } = describe(machine);
  // State name → its Mermaid id (names Mermaid cannot take get s<index>) and its deadline.
  const nodes = new Map<string, { id: string; delayMs: number | undefined }>();
  const names = new Set(states.map((state) => state.name));
  const lines = ['stateDiagram-v2'];
  if (direction === 'LR') lines.push('  direction LR');
  states.forEach(({ name, description, timer }, index) => {
    const simple = /^[A-Za-z][A-Za-z0-9_]*$/.test(name);
    let id = simple ? name : `s${index}`;
    // A state may itself be named s<index>: two states sharing an id would be drawn as one.
    // Underscores keep generated ids apart from each other (`s1_` never equals `s12`).
    while (!simple && names.has(id)) id += '_';
    nodes.set(name, { id, delayMs: timer?.delayMs });
    if (!simple) lines.push(`  state "${name}" as ${id}`);
    if (description) lines.push(`  ${id} : ${label(description)}`);
  });
  const idOf = (name: string) => nodes.get(name)?.id ?? name;
  lines.push(`  [*] --> ${idOf(initial)}`);
  for (const t of transitions) {
    let text = t.event;
    if (t.timer) text += ` (after ${formatDuration(nodes.get(t.from)?.delayMs ?? 0)})`;
    if (t.guard) text += ` [${t.guard.replace(/[^\w.-]/g, '_')}]`;
    if (effects && t.effects.length > 0) text += ` / ${t.effects.join(', ')}`;
    lines.push(`  ${idOf(t.from)} --> ${idOf(t.to)} : ${label(text)}`);
  }
  for (const { name, terminal } of states) if (terminal) lines.push(`  ${idOf(name)} --> [*]`);
  return `${lines.join('\n')}\n`;
}

/** Keeps a label on one line and away from Mermaid's comment and entity syntax. */
function label(text: string): string {
  return text
    .replace(/[\r\n]+/g, ' ')
    .replace(/%%/g, '% %')
    .replace(/#/g, '');
}

function formatDuration(ms: number): string {
  const units: [number, string][] = [
    [86_400_000, 'd'],
    [3_600_000, 'h'],
    [60_000, 'min'],
    [1000, 's'],
  ];
  for (const [size, unit] of units)
    if (ms >= size && ms % size === 0) return `${ms / size} ${unit}`;
  return `${ms} ms`;
}
