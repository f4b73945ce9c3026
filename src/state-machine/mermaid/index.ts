/**
 * Mermaid diagrams of state machines: {@link toMermaid} draws a machine from
 * `flowproof/state-machine` as a `stateDiagram-v2`, generated from the definition so it cannot
 * drift from the code.
 *
 * It is its own entry because drawing diagrams is documentation work, done by a script or a docs
 * build, that a service's bundle need not carry.
 *
 * @module
 */

export { type MermaidOptions, toMermaid } from './to-mermaid.js';
