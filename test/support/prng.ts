// A small seeded PRNG (sfc32), so random kill moments and load mixes replay from a printed seed.

/** Uniform floats in [0, 1) and helpers, all derived from one 32-bit seed. */
export interface Prng {
  readonly next: () => number
  /** An integer in [min, max], both included. */
  readonly int: (min: number, max: number) => number
  readonly chance: (p: number) => boolean
  readonly pick: <A>(items: ReadonlyArray<A>) => A
  /** An independent generator for a sub-task, so adding draws in one place does not shift another's. */
  readonly fork: (label: string) => Prng
}

const hash = (seed: number, label: string): number => {
  // FNV-1a over the label, mixed with the seed.
  let h = (2166136261 ^ seed) >>> 0
  for (let i = 0; i < label.length; i++) h = Math.imul(h ^ label.charCodeAt(i), 16777619) >>> 0
  return h
}

export const make = (seed: number): Prng => {
  let a = 0x9e3779b9
  let b = 0x243f6a88
  let c = 0xb7e15162
  let d = seed >>> 0
  const next = (): number => {
    a >>>= 0
    b >>>= 0
    c >>>= 0
    d >>>= 0
    const t = (((a + b) | 0) + d) | 0
    d = (d + 1) | 0
    a = b ^ (b >>> 9)
    b = (c + (c << 3)) | 0
    c = (c << 21) | (c >>> 11)
    c = (c + t) | 0
    return (t >>> 0) / 4294967296
  }
  // Discard the first outputs: sfc32 needs a few rounds to mix a small seed.
  for (let i = 0; i < 15; i++) next()
  const int = (min: number, max: number) => min + Math.floor(next() * (max - min + 1))
  return {
    next,
    int,
    chance: (p) => next() < p,
    pick: <A>(items: ReadonlyArray<A>): A => {
      if (items.length === 0) throw new Error("pick from an empty list")
      return items[int(0, items.length - 1)] as A
    },
    fork: (label) => make(hash(seed, label))
  }
}
