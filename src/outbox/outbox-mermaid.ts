/**
 * The choreography as a picture: which service publishes each topic and which services react to
 * it, drawn from what the application declares (`flows`), since in choreography no single place
 * knows the whole flow.
 */
import { describeValue } from '../core/errors.js';
import { assertKnownKeys, assertOptionsObject } from '../core/options.js';

/** What one service publishes and consumes. */
export interface OutboxServiceFlow<K extends string = string> {
  /** Topics it publishes (through an outbox). */
  readonly publishes?: readonly (K | (string & {}))[];
  /** Topics it reacts to. */
  readonly consumes?: readonly (K | (string & {}))[];
}

/**
 * Services by name and the topics each publishes and consumes, e.g.
 * `{ orders: { publishes: ['order.created'] }, payments: { consumes: ['order.created'],
 * publishes: ['payment.processed'] } }`. Topics of other outboxes may be named too.
 */
export type OutboxFlows<K extends string = string> = Readonly<Record<string, OutboxServiceFlow<K>>>;

const NAME = /^[\w.:/-]{1,200}$/;

/** Checks `flows` and draws it (topics first, so topics nobody consumes still show). */
export function outboxMermaid(topics: readonly string[], flows: OutboxFlows | undefined): string {
  if (flows !== undefined) assertOptionsObject(flows, 'options.flows');
  const ids = new Map<string, string>();
  const node = (kind: 't' | 's', name: string) => {
    const key = `${kind}:${name}`;
    let id = ids.get(key);
    if (id === undefined) {
      id = `${kind}${ids.size}`;
      ids.set(key, id);
    }
    return id;
  };
  const lines = ['flowchart LR'];
  const topicLine = (topic: string) => `  ${node('t', topic)}[["${topic}"]]`;
  const drawn = new Set<string>();
  const drawTopic = (topic: string) => {
    if (drawn.has(topic)) return;
    drawn.add(topic);
    lines.push(topicLine(topic));
  };
  for (const topic of topics) drawTopic(topic);
  for (const [service, flow] of Object.entries(flows ?? {})) {
    const where = `options.flows['${service}']`;
    if (!NAME.test(service)) {
      throw new TypeError(
        `options.flows: ${JSON.stringify(service)} is not a service name (1 to 200 letters, digits and . _ : / -)`,
      );
    }
    assertOptionsObject(flow, where);
    assertKnownKeys(flow, ['publishes', 'consumes'], where);
    lines.push(`  ${node('s', service)}("${service}")`);
    for (const direction of ['consumes', 'publishes'] as const) {
      const list = flow[direction] ?? [];
      if (!Array.isArray(list)) {
        throw new TypeError(
          `${where}.${direction} must be an array of topics, got ${describeValue(list)}`,
        );
      }
      for (const topic of list) {
        if (typeof topic !== 'string' || !NAME.test(topic)) {
          throw new TypeError(
            `${where}.${direction} holds ${describeValue(topic)}, not a topic name`,
          );
        }
        drawTopic(topic);
        lines.push(
          direction === 'publishes'
            ? `  ${node('s', service)} -->|publishes| ${node('t', topic)}`
            : `  ${node('t', topic)} -->|consumed by| ${node('s', service)}`,
        );
      }
    }
  }
  return `${lines.join('\n')}\n`;
}
