/**
 * Deterministic random inputs (SPEC.md §5): inputs not given as `.npy` are drawn from `--seed`.
 *
 * Each input gets its own stream, seeded from the pair (seed, input name), so an input's values
 * depend on neither the order inputs are generated in nor on which other inputs exist. The
 * generator is xoshiro128** 1.0 (Blackman & Vigna 2018; 128-bit state, period 2^128 − 1), which
 * needs nothing but 32-bit integer arithmetic and gives the same numbers on every platform.
 */

export type State128 = [number, number, number, number];

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/** MurmurHash3's 32-bit finaliser: every input bit affects every output bit. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * The 128-bit starting state for (seed, inputName): four FNV-1a hashes of the UTF-8 bytes of
 * `<seed in decimal>\0<name>`, each lane behind its own prefix byte, then finalised with fmix32.
 * The decimal text makes distinct integer seeds distinct keys, the NUL keeps seed and name apart.
 */
export function seedState(seed: number, inputName: string): State128 {
  if (!Number.isSafeInteger(seed)) throw new RangeError(`the seed must be an integer, got ${seed}`);
  const bytes = new TextEncoder().encode(`${seed}\u0000${inputName}`);
  const state: State128 = [0, 0, 0, 0];
  for (let lane = 0; lane < 4; lane++) {
    let h = 0x811c9dc5;
    h = Math.imul(h ^ (lane + 1), 0x01000193);
    for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ bytes[i], 0x01000193);
    state[lane] = fmix32(h);
  }
  // xoshiro's one forbidden state.
  if ((state[0] | state[1] | state[2] | state[3]) === 0) state[0] = 0x9e3779b9;
  return state;
}

/** xoshiro128** 1.0: the reference algorithm, bit for bit. */
export class Xoshiro128StarStar {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  constructor(state: Readonly<State128>) {
    [this.s0, this.s1, this.s2, this.s3] = state.map((v) => v | 0);
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) throw new RangeError('xoshiro128** cannot start from the all-zero state');
  }

  /** The next uniform 32-bit unsigned integer. */
  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /**
   * Fills `out` with SeededRandom.normal's Box–Muller samples, four draws per pair (see there),
   * with the generator's state in local variables: the same numbers as the step-by-step
   * nextUint32 calls, in about 80 % of the time (the state stays in registers).
   */
  fillNormal(out: Float32Array): void {
    let s0 = this.s0;
    let s1 = this.s1;
    let s2 = this.s2;
    let s3 = this.s3;
    const n = out.length;
    for (let i = 0; i < n; i += 2) {
      // Two uniforms from four draws: a, b (27 and 26 bits of u₁), c, d (of u₂); each draw is nextUint32's step.
      let m = Math.imul(s1, 5);
      const a = Math.imul((m << 7) | (m >>> 25), 9) >>> 5;
      let t = s1 << 9;
      s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3; s2 ^= t; s3 = (s3 << 11) | (s3 >>> 21);
      m = Math.imul(s1, 5);
      const b = Math.imul((m << 7) | (m >>> 25), 9) >>> 6;
      t = s1 << 9;
      s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3; s2 ^= t; s3 = (s3 << 11) | (s3 >>> 21);
      m = Math.imul(s1, 5);
      const c = Math.imul((m << 7) | (m >>> 25), 9) >>> 5;
      t = s1 << 9;
      s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3; s2 ^= t; s3 = (s3 << 11) | (s3 >>> 21);
      m = Math.imul(s1, 5);
      const d = Math.imul((m << 7) | (m >>> 25), 9) >>> 6;
      t = s1 << 9;
      s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3; s2 ^= t; s3 = (s3 << 11) | (s3 >>> 21);
      const u1 = 1 - (a * 67108864 + b) / 9007199254740992;
      const u2 = (c * 67108864 + d) / 9007199254740992;
      const r = Math.sqrt(-2 * Math.log(u1));
      const theta = 2 * Math.PI * u2;
      out[i] = r * Math.cos(theta);
      if (i + 1 < n) out[i + 1] = r * Math.sin(theta);
    }
    this.s0 = s0;
    this.s1 = s1;
    this.s2 = s2;
    this.s3 = s3;
  }
}

export class SeededRandom {
  private readonly gen: Xoshiro128StarStar;

  constructor(state: Readonly<State128>) {
    this.gen = new Xoshiro128StarStar(state);
  }

  /** The stream for one graph input: depends only on (seed, inputName). */
  static forInput(seed: number, inputName: string): SeededRandom {
    return new SeededRandom(seedState(seed, inputName));
  }

  nextUint32(): number {
    return this.gen.nextUint32();
  }

  /** Uniform on [0, 1) with 53 random bits: (a·2^26 + b) / 2^53 from the top 27 and 26 bits of two draws. */
  nextDouble(): number {
    const a = this.gen.nextUint32() >>> 5;
    const b = this.gen.nextUint32() >>> 6;
    return (a * 67108864 + b) / 9007199254740992;
  }

  /**
   * n samples of N(0, 1) by Box–Muller: with u₁ ∈ (0, 1], u₂ ∈ [0, 1), r = √(−2 ln u₁),
   * z₀ = r cos 2πu₂ and z₁ = r sin 2πu₂ are independent standard normals. Computed in float64,
   * stored as float32. Each call uses ⌈n/2⌉ pairs (an odd n drops the last z₁).
   */
  normal(n: number): Float32Array {
    checkCount(n);
    const out = new Float32Array(n);
    this.gen.fillNormal(out); // u₁ = 1 − nextDouble(), u₂ = nextDouble(), inlined
    return out;
  }

  /**
   * n integers uniform on [0, high), 1 ≤ high ≤ 2^31, without modulo bias: draws at or above
   * the largest multiple of `high` below 2^32 are rejected (fewer than half of all draws).
   */
  uniformInt(n: number, high: number): Int32Array {
    checkCount(n);
    if (!Number.isInteger(high) || high < 1 || high > 2 ** 31) {
      throw new RangeError(`uniformInt needs an integer bound in [1, 2^31], got ${high}`);
    }
    const limit = 2 ** 32 - (2 ** 32 % high);
    const out = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      let x = this.gen.nextUint32();
      while (x >= limit) x = this.gen.nextUint32();
      out[i] = x % high;
    }
    return out;
  }
}

function checkCount(n: number): void {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`a sample count must be a non-negative integer, got ${n}`);
}
