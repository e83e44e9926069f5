// The admission load of the concurrency suite: distinct principals acquired with bounded concurrency, releases of
// admitted ones interleaved, every outcome checked against a model of who holds a slot.
import type { Prng } from "./prng.js"

/** How one acquisition ended. `used` is the usage the admission committed at, read inside its transaction. */
export type Acquired =
  | { readonly _tag: "Admitted"; readonly used: number }
  | { readonly _tag: "Refused"; readonly code: string }
  | { readonly _tag: "Unexpected"; readonly detail: string }

export type Released = { readonly _tag: "Released" } | { readonly _tag: "Unexpected"; readonly detail: string }

/** One way into a cap: the in-process runtime, or one Hub over HTTP. */
export interface Gate {
  readonly name: string
  readonly acquire: (id: string) => Promise<Acquired>
  readonly release: (id: string) => Promise<Released>
}

export interface LoadOptions {
  /** The gates to spread the operations over (two for two processes sharing one store). */
  readonly gates: ReadonlyArray<Gate>
  readonly attempts: number
  /** Operations in flight at once. */
  readonly concurrency: number
  /** Acquisitions per batch; the model is compared with the Hub after each. */
  readonly batch: number
  /** Chance that a free worker releases an admitted principal instead of acquiring the next one. */
  readonly releaseRate: number
  readonly ceiling: number
  readonly prng: Prng
  /** Principal ids are `${prefix}${n}`. */
  readonly prefix: string
  /** Called between batches, with nothing in flight, with the ids that hold a slot. */
  readonly afterBatch?: (live: ReadonlySet<string>) => Promise<void>
}

/** The figures of a run, and what went wrong. */
export interface LoadResult {
  readonly attempts: number
  readonly admitted: number
  readonly refused: number
  readonly released: number
  /** The highest `used` any admission committed at. */
  readonly maxUsed: number
  /** Admissions per gate. */
  readonly perGate: Readonly<Record<string, number>>
  /** Refusal codes other than CAP_LIMIT_REACHED, 5xx, transport errors, admissions above the ceiling. */
  readonly failures: ReadonlyArray<string>
  /** Who holds a slot, by the acknowledged outcomes. */
  readonly live: ReadonlySet<string>
  readonly ms: number
}

/** Run the load; every outcome is acknowledged, so `live` is exact when it returns. */
export const run = async (o: LoadOptions): Promise<LoadResult> => {
  const t0 = performance.now()
  const live = new Set<string>()
  // Admitted and not yet picked for release; a principal is released at most once.
  const releasable: Array<string> = []
  const failures: Array<string> = []
  const perGate: Record<string, number> = Object.fromEntries(o.gates.map((g) => [g.name, 0]))
  let next = 0
  let admitted = 0
  let refused = 0
  let released = 0
  let maxUsed = 0

  const acquire = async (gate: Gate, id: string) => {
    const outcome = await gate.acquire(id)
    if (outcome._tag === "Admitted") {
      admitted++
      perGate[gate.name] = (perGate[gate.name] ?? 0) + 1
      maxUsed = Math.max(maxUsed, outcome.used)
      if (outcome.used > o.ceiling) failures.push(`${id} admitted through ${gate.name} at used=${outcome.used} > ceiling ${o.ceiling}`)
      live.add(id)
      releasable.push(id)
    } else if (outcome._tag === "Refused") {
      refused++
      if (outcome.code !== "CAP_LIMIT_REACHED") failures.push(`${id} refused through ${gate.name} with ${outcome.code}`)
    } else {
      failures.push(`${id} acquire through ${gate.name}: ${outcome.detail}`)
    }
  }
  const release = async (gate: Gate, id: string) => {
    const outcome = await gate.release(id)
    if (outcome._tag === "Released") {
      released++
      live.delete(id)
    } else {
      failures.push(`${id} release through ${gate.name}: ${outcome.detail}`)
    }
  }

  /** A worker takes the next operation until the batch's acquisitions are all started. */
  const worker = async (end: number) => {
    while (next < end) {
      const gate = o.prng.pick(o.gates)
      if (releasable.length > 0 && o.prng.chance(o.releaseRate)) {
        const i = o.prng.int(0, releasable.length - 1)
        const id = releasable[i]!
        releasable[i] = releasable[releasable.length - 1]!
        releasable.pop()
        await release(gate, id)
      } else {
        await acquire(gate, `${o.prefix}${next++}`)
      }
    }
  }

  while (next < o.attempts) {
    const end = Math.min(o.attempts, next + o.batch)
    await Promise.all(Array.from({ length: o.concurrency }, () => worker(end)))
    await o.afterBatch?.(live)
  }
  return { attempts: o.attempts, admitted, refused, released, maxUsed, perGate, failures, live, ms: Math.round(performance.now() - t0) }
}

/** Elements of `a` missing from `b`, for readable set comparisons. */
export const missing = (a: Iterable<string>, b: ReadonlySet<string>): Array<string> => [...a].filter((x) => !b.has(x))
