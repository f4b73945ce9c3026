import { expectTypeOf, test } from 'vitest';
import { defineSaga } from './index.js';

test('parallel', () => {
  const s = defineSaga({ name: 'x' })
    .step('a', { run: () => ({ n: 1 }) })
    .parallel((g) =>
      g
        .step('b', {
          run: ({ steps }) => ({ m: steps.a.n }),
          compensate: ({ output }) => void output,
        })
        .step('c', { run: () => 'c', compensate: ({ outcome }) => void outcome }),
    )
    .step('d', { run: ({ steps }) => steps.b.m });
  expectTypeOf(s.__steps!.d).toEqualTypeOf<number>();
  expectTypeOf(s.__steps!.c).toEqualTypeOf<string>();
});
