/**
 * A small, fast, seedable pseudo-random generator (mulberry32) for tests that must replay a run
 * from its seed. Internal to the conformance suites and flowproof's own tests; not exported from
 * `flowproof/testing`.
 */

/** Numbers in [0, 1), the same sequence for the same `seed`. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}
