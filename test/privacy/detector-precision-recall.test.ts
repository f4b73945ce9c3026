/**
 * Precision and recall of each shipped detector over test/fixtures/privacy/detector-corpus.jsonl
 * (regenerate it with test/fixtures/privacy/generate-detector-corpus.ts). Every detector runs on
 * every line, so a phone detector that flags card numbers loses precision here. A finding counts
 * only when its span is exactly the expected one.
 *
 * The table is printed and written to .tmp/privacy/detector-precision-recall.md.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { defaultDetectors } from '../../src/privacy/detectors/default-detectors.js';
import { redactText } from '../../src/privacy/detectors/redact-text.js';
import type { TextDetector } from '../../src/privacy/text-detector.js';

interface CorpusLine {
  readonly text: string;
  readonly expected: Readonly<Record<string, readonly (readonly [number, number])[]>>;
  readonly note: string;
  readonly hardNegativeFor?: string;
}

const corpus: CorpusLine[] = readFileSync(
  new URL('../fixtures/privacy/detector-corpus.jsonl', import.meta.url),
  'utf8',
)
  .split('\n')
  .filter((text) => text.trim() !== '')
  .map((text) => JSON.parse(text) as CorpusLine);

/**
 * The floors each detector must reach: precision (found spans that are right) and recall
 * (expected spans found). Checksum detectors (card: Luhn, IBAN: mod-97) and fixed-prefix ones
 * (API keys, bearer tokens) are held to 0.95 / 0.95; SSN and email to 0.95 / 0.95; phone, whose
 * formats vary most by country, to 0.95 precision and 0.9 recall.
 */
const FLOORS: Readonly<Record<string, { precision: number; recall: number }>> = {
  email: { precision: 0.95, recall: 0.95 },
  card: { precision: 0.95, recall: 0.95 },
  iban: { precision: 0.95, recall: 0.95 },
  ssn: { precision: 0.95, recall: 0.95 },
  phone: { precision: 0.95, recall: 0.9 },
  'bearer-token': { precision: 0.95, recall: 0.95 },
  'api-key': { precision: 0.95, recall: 0.95 },
};

interface Score {
  readonly detector: string;
  readonly positives: number;
  readonly hardNegatives: number;
  readonly truePositives: number;
  readonly falsePositives: number;
  readonly falseNegatives: number;
  readonly precision: number;
  readonly recall: number;
  readonly misses: readonly string[];
}

/** The spans `detector` reports in `text`, overlapping ones merged as redaction merges them. */
function foundSpans(detector: TextDetector, text: string): string[] {
  const spans: string[] = [];
  redactText(text, [detector], (finding) => {
    spans.push(`${finding.start}-${finding.end}`);
    return '';
  });
  return spans;
}

function score(detector: TextDetector): Score {
  let truePositives = 0;
  let falsePositives = 0;
  let falseNegatives = 0;
  let positives = 0;
  let hardNegatives = 0;
  const misses: string[] = [];
  for (const line of corpus) {
    const expected = new Set((line.expected[detector.name] ?? []).map(([s, e]) => `${s}-${e}`));
    positives += expected.size;
    if (line.hardNegativeFor === detector.name) hardNegatives += 1;
    const found = new Set(foundSpans(detector, line.text));
    for (const span of found) {
      if (expected.has(span)) truePositives += 1;
      else {
        falsePositives += 1;
        misses.push(`false positive ${span} in ${JSON.stringify(line.text)}`);
      }
    }
    for (const span of expected) {
      if (!found.has(span)) {
        falseNegatives += 1;
        misses.push(`missed ${span} in ${JSON.stringify(line.text)}`);
      }
    }
  }
  const ratio = (a: number, b: number) => (b === 0 ? 1 : a / b);
  return {
    detector: detector.name,
    positives,
    hardNegatives,
    truePositives,
    falsePositives,
    falseNegatives,
    precision: ratio(truePositives, truePositives + falsePositives),
    recall: ratio(truePositives, truePositives + falseNegatives),
    misses,
  };
}

const scores = defaultDetectors.map(score);

function markdownTable(): string {
  const rows = scores.map((s) => {
    const floor = FLOORS[s.detector];
    return `| \`${s.detector}\` | ${s.positives} | ${s.hardNegatives} | ${s.truePositives} | ${s.falsePositives} | ${s.falseNegatives} | ${s.precision.toFixed(3)} | ${s.recall.toFixed(3)} | ${floor?.precision.toFixed(2)} / ${floor?.recall.toFixed(2)} |`;
  });
  return [
    `Measured on ${corpus.length} lines (every detector runs on every line; a finding counts only with the exact expected span).`,
    '',
    '| detector | expected values | hard negatives | true positives | false positives | missed | precision | recall | floor (precision / recall) |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---|',
    ...rows,
    '',
  ].join('\n');
}

describe('detector precision and recall on the corpus', () => {
  it('the corpus has at least 50 expected values and 50 hard negatives per detector', () => {
    for (const s of scores) {
      expect({ detector: s.detector, enough: s.positives >= 50 && s.hardNegatives >= 50 }).toEqual({
        detector: s.detector,
        enough: true,
      });
    }
  });

  it('every expected span lies inside its line', () => {
    for (const line of corpus) {
      for (const spans of Object.values(line.expected)) {
        for (const [start, end] of spans) {
          expect(start >= 0 && end <= line.text.length && end > start).toBe(true);
        }
      }
    }
  });

  for (const detector of defaultDetectors) {
    it(`${detector.name} reaches its precision and recall floors`, () => {
      const s = scores.find((candidate) => candidate.detector === detector.name) as Score;
      const floor = FLOORS[detector.name];
      expect(floor).toBeDefined();
      const result = {
        precisionOk: s.precision >= (floor?.precision ?? 1),
        recallOk: s.recall >= (floor?.recall ?? 1),
      };
      expect({ ...result, misses: s.misses }).toEqual({
        precisionOk: true,
        recallOk: true,
        misses: s.misses,
      });
    });
  }

  it('writes the table', () => {
    const table = markdownTable();
    const dir = new URL('../../.tmp/privacy/', import.meta.url);
    mkdirSync(dir, { recursive: true });
    writeFileSync(new URL('detector-precision-recall.md', dir), table);
    console.log(table);
    expect(table.split('\n').filter((row) => row.startsWith('| `'))).toHaveLength(scores.length);
  });
});
