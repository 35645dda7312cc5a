/**
 * Seeded random numbers: the xoshiro128** generator (Blackman and Vigna, 2018), seeded through
 * SplitMix32 so nearby seeds give unrelated streams. Every initializer, shuffle and dropout mask
 * takes an `Rng`, so one seed reproduces a whole run.
 *
 * @module
 */

/** The whole state of an {@linkcode Rng}, in JSON-compatible numbers, for checkpoints. */
export interface RngState {
  /** The four 32-bit state words of xoshiro128**, as unsigned integers. */
  words: [number, number, number, number];
  /** The second normal sample of the last Box-Muller pair, not yet returned, or null. */
  spareNormal: number | null;
}

/** A seeded xoshiro128** generator with uniform, normal and shuffle helpers. */
export class Rng {
  #s0 = 0;
  #s1 = 0;
  #s2 = 0;
  #s3 = 0;
  #spareNormal: number | null = null;

  /** Seed the generator with any integer, taken modulo 2^32. */
  constructor(readonly seed: number) {
    if (!Number.isInteger(seed)) {
      throw new RangeError(`Invalid seed ${seed}: expected an integer`);
    }
    // SplitMix32 expands the seed into the four state words.
    let x = seed >>> 0;
    const next = () => {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.#s0 = next();
    this.#s1 = next();
    this.#s2 = next();
    this.#s3 = next();
  }

  /** Return a copy of the generator's state; {@linkcode Rng.setState} continues from it. */
  state(): RngState {
    return {
      words: [this.#s0 >>> 0, this.#s1 >>> 0, this.#s2 >>> 0, this.#s3 >>> 0],
      spareNormal: this.#spareNormal,
    };
  }

  /**
   * Continue from a state that {@linkcode Rng.state} returned, so that this generator draws the
   * same numbers as the one the state came from. `seed` keeps its value.
   *
   * @throws {RangeError} when a word is not an integer in `[0, 2^32)`, all four words are zero
   *   (xoshiro's one invalid state), or `spareNormal` is neither null nor a finite number
   */
  setState(state: RngState): void {
    const { words, spareNormal } = state;
    const valid = Array.isArray(words) && words.length === 4 &&
      words.every((w) => Number.isInteger(w) && w >= 0 && w < 4294967296);
    if (!valid || words.every((w) => w === 0)) {
      throw new RangeError(
        `Rng.setState: invalid words ${JSON.stringify(words)}, expected four unsigned 32-bit ` +
          "integers, not all zero",
      );
    }
    if (spareNormal !== null && !Number.isFinite(spareNormal)) {
      throw new RangeError(
        `Rng.setState: invalid spareNormal ${spareNormal}, expected null or a finite number`,
      );
    }
    [this.#s0, this.#s1, this.#s2, this.#s3] = words.map((w) => w | 0);
    this.#spareNormal = spareNormal;
  }

  /** Return the next 32 random bits as an unsigned integer. */
  nextUint32(): number {
    const s1 = this.#s1;
    const result = Math.imul(rotl(Math.imul(s1, 5), 7), 9) >>> 0;
    const t = s1 << 9;
    this.#s2 ^= this.#s0;
    this.#s3 ^= this.#s1;
    this.#s1 ^= this.#s2;
    this.#s0 ^= this.#s3;
    this.#s2 ^= t;
    this.#s3 = rotl(this.#s3, 11);
    return result;
  }

  /**
   * Fill `out` with the next `out.length` values of {@linkcode Rng.nextUint32}, in order, and
   * return it. The state lives in local variables during the loop, which makes this several
   * times faster than calling `nextUint32` per value (dropout masks draw millions per batch).
   */
  fillUint32(out: Uint32Array): Uint32Array {
    let s0 = this.#s0, s1 = this.#s1, s2 = this.#s2, s3 = this.#s3;
    for (let i = 0; i < out.length; i++) {
      out[i] = Math.imul(rotl(Math.imul(s1, 5), 7), 9);
      const t = s1 << 9;
      s2 ^= s0;
      s3 ^= s1;
      s1 ^= s2;
      s0 ^= s3;
      s2 ^= t;
      s3 = rotl(s3, 11);
    }
    [this.#s0, this.#s1, this.#s2, this.#s3] = [s0, s1, s2, s3];
    return out;
  }

  /** Return a uniform float in `[0, 1)` with 32 random bits. */
  uniform(): number {
    return this.nextUint32() / 4294967296;
  }

  /** Return a uniform integer in `[0, n)`, without modulo bias. */
  int(n: number): number {
    if (!Number.isInteger(n) || n <= 0 || n > 4294967296) {
      throw new RangeError(`Rng.int: invalid bound ${n}, expected an integer in [1, 2^32]`);
    }
    const limit = 4294967296 - (4294967296 % n);
    let r: number;
    do r = this.nextUint32(); while (r >= limit);
    return r % n;
  }

  /** Return a standard normal sample (Box-Muller; the second value of each pair is cached). */
  normal(): number {
    if (this.#spareNormal !== null) {
      const z = this.#spareNormal;
      this.#spareNormal = null;
      return z;
    }
    // 1 - uniform() lies in (0, 1], so the logarithm is finite.
    const u = 1 - this.uniform();
    const v = this.uniform();
    const r = Math.sqrt(-2 * Math.log(u));
    this.#spareNormal = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  /** Fill `out` with normal samples of mean 0 and standard deviation `std`. */
  fillNormal(out: Float32Array, std: number): Float32Array {
    for (let i = 0; i < out.length; i++) out[i] = std * this.normal();
    return out;
  }

  /** Fill `out` with uniform samples in `[low, high)`. */
  fillUniform(out: Float32Array, low: number, high: number): Float32Array {
    for (let i = 0; i < out.length; i++) out[i] = low + (high - low) * this.uniform();
    return out;
  }

  /** Shuffle `array` in place (Fisher-Yates) and return it. */
  shuffle<T extends { length: number; [i: number]: unknown }>(array: T): T {
    for (let i = array.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = array[i];
      array[i] = array[j];
      array[j] = tmp;
    }
    return array;
  }

  /** Return a random permutation of `0 … n−1`. */
  permutation(n: number): Uint32Array {
    const p = new Uint32Array(n);
    for (let i = 0; i < n; i++) p[i] = i;
    return this.shuffle(p);
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
