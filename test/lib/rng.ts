// Deterministic random numbers for tests: the same sequence on every run.

/** xorshift32: uniform numbers in [0, 1). */
export function rng(seed: number): () => number {
  let x = seed >>> 0;
  return () => {
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    return x / 2 ** 32;
  };
}
