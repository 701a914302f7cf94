import seedrandom from 'seedrandom';

/**
 * Seeded standard-normal generator. Uses seedrandom's ARC4 stream (`seedrandom(String(seed))`) and the
 * Box–Muller transform, so the same seed gives the same numbers bit for bit on every platform and backend
 * (the numbers are produced in JS float64 and only then rounded to float32 by the caller).
 */
export class NormalRng {
  private readonly u: seedrandom.PRNG;
  private spare: number | null = null;

  constructor(seed: string | number) {
    this.u = seedrandom(String(seed));
  }

  /** One draw from N(0, 1). */
  normal(): number {
    if (this.spare !== null) {
      const s = this.spare;
      this.spare = null;
      return s;
    }
    let u1 = this.u();
    while (u1 <= 0) u1 = this.u();
    const u2 = this.u();
    const r = Math.sqrt(-2 * Math.log(u1));
    this.spare = r * Math.sin(2 * Math.PI * u2);
    return r * Math.cos(2 * Math.PI * u2);
  }

  /** Uniform on [0, 1). */
  uniform(): number {
    return this.u();
  }

  /** Fill a new Float32Array of length n with N(0, std²) draws. */
  normals(n: number, std = 1): Float32Array {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = std * this.normal();
    return out;
  }

  /** A seeded Fisher–Yates permutation of 0..n-1. */
  permutation(n: number): Int32Array {
    const p = new Int32Array(n);
    for (let i = 0; i < n; i++) p[i] = i;
    for (let i = n - 1; i > 0; i--) {
      const j = Math.floor(this.u() * (i + 1));
      const t = p[i];
      p[i] = p[j];
      p[j] = t;
    }
    return p;
  }
}

/**
 * The seed of the s-th network of a Monte-Carlo run started from `seed`: a string so that seed 1/net 23 and
 * seed 12/net 3 never collide.
 */
export function derivedSeed(seed: number, index: number): string {
  return `${seed}/${index}`;
}
