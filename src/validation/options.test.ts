import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  assertSchemaMatchesTable,
  checkSchemaAgainstColumns,
  money,
  nonEmptyArray,
  pipeline,
  positiveQuantity,
  updateSchemaFrom,
  validateExternalResponse,
} from './index.js';

const misspelled = /unknown option .*(leasMs|signa|concurency|redct|colunmName|omitt|currency|mx)/;

describe('every public entry refuses unknown option keys, naming them', () => {
  const stage = z.object({ a: z.number() });
  const built = pipeline('p').validate('v', stage, { boundary: 'gateway' }).build();

  it('pipeline, stage builders, run, runSync-free batches and streams', async () => {
    expect(() => pipeline('p', { leasMs: 1 } as never)).toThrow(
      /unknown option options\.leasMs; expected one of: logger, onStage, deadLetter/,
    );
    const start = pipeline('p');
    expect(() => start.validate('v', stage, { leasMs: 1 } as never)).toThrow(
      /unknown option stage "v" options\.leasMs/,
    );
    expect(() => start.validate('v', stage, { at: 'a', leasMs: 1 } as never)).toThrow(misspelled);
    expect(() => start.validate('v', stage, { into: 'a', leasMs: 1 } as never)).toThrow(misspelled);
    expect(() => start.transform('t', (v) => v, { leasMs: 1 } as never)).toThrow(misspelled);
    // Inside `docs` too: a misspelled section would silently vanish from toMarkdown().
    expect(() =>
      start.transform('t', (v) => v, { docs: { inptu: 'typo' } } as never).build(),
    ).toThrow(/unknown option stage "t" options\.docs\.inptu/);
    expect(() => start.enrich('e', (v) => v, { leasMs: 1 } as never)).toThrow(misspelled);
    // `unknownKeys` is an option of validate stages only.
    expect(() => start.transform('t', (v) => v, { unknownKeys: 'strip' } as never)).toThrow(
      /unknown option stage "t" options\.unknownKeys/,
    );
    await expect(built.run({ a: 1 }, { signa: undefined } as never)).rejects.toThrow(misspelled);
    await expect(built.runBatch([], { concurency: 2 } as never)).rejects.toThrow(misspelled);
    expect(() => built.stream([], { concurency: 2 } as never)).toThrow(misspelled);
    // `keep` belongs to runBatch's report, not to a stream.
    expect(() => built.stream([], { keep: 'all' } as never)).toThrow(/options\.keep/);
    expect((await built.runBatch([{ a: 1 }], { keep: 'all', concurrency: 1 })).valid).toBe(1);
  });

  it('validateExternalResponse, the column checks, updateSchemaFrom and the schema helpers', async () => {
    await expect(
      validateExternalResponse('stripe', stage, { a: 1 }, { redct: () => null } as never),
    ).rejects.toThrow(misspelled);
    expect(() =>
      checkSchemaAgainstColumns(
        stage,
        [{ name: 'a', type: 'INTEGER', nullable: false, hasDefault: false }],
        {
          colunmName: String,
        } as never,
      ),
    ).toThrow(misspelled);
    let read = false;
    const reader = {
      async readColumns() {
        read = true;
        return [];
      },
    };
    await expect(
      assertSchemaMatchesTable(stage, reader as never, 't', { colunmName: String } as never),
    ).rejects.toThrow(misspelled);
    expect(read).toBe(false);
    expect(() => updateSchemaFrom(stage, { omitt: ['a'] } as never)).toThrow(misspelled);
    expect(() => money({ currency: ['EUR'] } as never)).toThrow(misspelled);
    expect(() => positiveQuantity({ mx: 3 } as never)).toThrow(misspelled);
    expect(() => nonEmptyArray(z.string(), { mx: 3 } as never)).toThrow(misspelled);
  });
});

describe('drops naming a field the input cannot have', () => {
  const Request = z.object({
    user: z.string(),
    password: z.string(),
    meta: z.object({ ip: z.string(), ua: z.string() }),
    items: z.array(z.object({ sku: z.string(), note: z.string().optional() })),
  });
  type Request = z.infer<typeof Request>;
  const parsed = () => pipeline('p').validate('parse', Request, { boundary: 'gateway' });
  const strip = (request: Request) => request;

  it('are refused by build() when the stage before is a validate stage with a closed schema', () => {
    for (const typo of ['pasword', 'meta.ipp', 'items.*.nte']) {
      expect(() =>
        parsed()
          .transform('strip secrets', strip, { drops: [typo] })
          .build(),
      ).toThrow(
        new RegExp(
          `options\\.drops of stage "strip secrets" names "${typo.replaceAll('*', '\\*')}", which its input cannot have`,
        ),
      );
    }
    // Real fields are accepted, at every level.
    expect(() =>
      parsed()
        .transform('strip secrets', strip, { drops: ['password', 'meta.ip', 'items.*.note'] })
        .build(),
    ).not.toThrow();
    // After an `into` stage, the field it writes is known too.
    expect(() =>
      parsed()
        .validate(
          'count',
          z.object({ items: z.array(z.unknown()) }).transform((v) => v.items.length),
          {
            into: 'count',
          },
        )
        .transform('t', strip, { drops: ['count'] })
        .build(),
    ).not.toThrow();
  });

  it('are accepted when the input shape is not known: after a transform, or an open schema', () => {
    expect(() =>
      parsed()
        .transform('add', (r) => ({ ...r, extra: 1 }))
        .transform('strip', (r) => r, { drops: ['extra'] })
        .build(),
    ).not.toThrow();
    expect(() =>
      pipeline('p')
        .validate('parse', z.looseObject({ a: z.string() }))
        .transform('strip', (r) => r, { drops: ['anything'] })
        .build(),
    ).not.toThrow();
    expect(() =>
      pipeline('p')
        .validate(
          'parse',
          z.object({ a: z.string() }).transform((v) => v),
        )
        .transform('strip', (r) => r, { drops: ['anything'] })
        .build(),
    ).not.toThrow();
  });
});
