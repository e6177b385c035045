/**
 * mulberry32: a small seeded PRNG returning floats in [0, 1), so fuzz and flood tests are
 * reproducible. Shared by the unit tests.
 *
 * @module
 */

/**
 * A seeded generator.
 *
 * @param seed Any 32-bit integer.
 * @returns The next float in [0, 1) on each call.
 */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
