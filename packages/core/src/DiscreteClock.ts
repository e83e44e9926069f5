/**
 * A `TestClock` that jumps from deadline to deadline: years of license life (daily pings, every expiry and grace
 * deadline) run in well under a second, where Effect's own `TestClock` spends about 3 ms of real time per wake-up.
 *
 * It implements Effect's `TestClock` interface and installs itself as the `Clock`, so code under test reads time with
 * `Clock` as always and tests move it with `TestClock.adjust` / `TestClock.setTime` as always.
 */
import * as Chunk from "effect/Chunk"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as TestClock from "effect/TestClock"
import { MinHeap } from "./internal/minHeap.js"

/**
 * A fiber sleeping until `at`; `seq` keeps wake-ups at the same instant in the order they were asked for. `waiting`
 * turns false when it wakes or is interrupted: a fiber resumes once, also after `save` restored an older heap.
 */
interface Sleeper {
  readonly at: number
  readonly seq: number
  readonly wake: () => void
  waiting: boolean
}

const earlier = (a: Sleeper, b: Sleeper): boolean => a.at < b.at || (a.at === b.at && a.seq < b.seq)

/**
 * One macrotask turn: every fiber a wake-up resumed has run on Effect's scheduler (microtasks) by then. Effect's own
 * TestClock polls fiber statuses across `setTimeout(0)` turns (at least 1 ms each); `setImmediate` costs microseconds.
 */
const turn: Effect.Effect<void> = Effect.async<void>((resume) => {
  const handle = setImmediate(() => resume(Effect.void))
  return Effect.sync(() => clearImmediate(handle))
})


class DiscreteClockImpl implements TestClock.TestClock {
  readonly [Clock.ClockTypeId]: Clock.ClockTypeId = Clock.ClockTypeId
  private instant: number
  private seq = 0
  private readonly heap = new MinHeap<Sleeper>(earlier)

  constructor(start: number) {
    this.instant = start
  }

  unsafeCurrentTimeMillis(): number {
    return this.instant
  }

  unsafeCurrentTimeNanos(): bigint {
    return BigInt(Math.floor(this.instant * 1_000_000))
  }

  readonly currentTimeMillis: Effect.Effect<number> = Effect.sync(() => this.instant)

  readonly currentTimeNanos: Effect.Effect<bigint> = Effect.sync(() => this.unsafeCurrentTimeNanos())

  sleep(duration: Duration.DurationInput): Effect.Effect<void> {
    return Effect.async<void>((resume) => {
      const at = this.instant + Duration.toMillis(Duration.decode(duration))
      if (at <= this.instant) return resume(Effect.void)
      const sleeper: Sleeper = { at, seq: this.seq++, wake: () => resume(Effect.void), waiting: true }
      this.heap.push(sleeper)
      // An interrupted sleep is dropped lazily, when it reaches the top: it never costs a wake-up.
      return Effect.sync(() => {
        sleeper.waiting = false
      })
    })
  }

  adjust(duration: Duration.DurationInput): Effect.Effect<void> {
    return Effect.suspend(() => this.run(this.instant + Duration.toMillis(Duration.decode(duration))))
  }

  adjustWith(duration: Duration.DurationInput) {
    return <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
      Effect.zipLeft(effect, this.adjust(duration), { concurrent: true })
  }

  setTime(time: number): Effect.Effect<void> {
    return Effect.suspend(() => this.run(time))
  }

  get save(): Effect.Effect<Effect.Effect<void>> {
    return Effect.sync(() => {
      const instant = this.instant
      const sleepers = this.heap.toArray()
      return Effect.sync(() => {
        this.instant = instant
        this.heap.replace(sleepers.filter((s) => s.waiting))
      })
    })
  }

  get sleeps(): Effect.Effect<Chunk.Chunk<number>> {
    return Effect.sync(() =>
      Chunk.fromIterable(
        this.heap
          .toArray()
          .filter((s) => s.waiting)
          .sort((a, b) => (earlier(a, b) ? -1 : 1))
          .map((s) => s.at)
      )
    )
  }

  /** Wake every sleeper due by `end`, one at a time and in order, letting the program settle after each. */
  private run(end: number): Effect.Effect<void> {
    return Effect.gen(this, function* () {
      yield* turn
      while (true) {
        const next = this.nextDue(end)
        if (next === null) break
        this.instant = next.at
        next.wake()
        yield* turn
      }
      this.instant = end
    })
  }

  private nextDue(end: number): Sleeper | null {
    for (let top = this.heap.peek(); top !== undefined; top = this.heap.peek()) {
      if (!top.waiting) {
        this.heap.pop()
        continue
      }
      if (top.at > end) return null
      this.heap.pop()
      top.waiting = false
      return top
    }
    return null
  }
}

/** A discrete-event clock starting at `start` (epoch ms, default 0), usable wherever a `TestClock` is. */
export const make = (start: number | Date = 0): TestClock.TestClock =>
  new DiscreteClockImpl(typeof start === "number" ? start : start.getTime())

/**
 * Install a discrete-event clock as the `Clock` (and so as the `TestClock` that `TestClock.adjust` moves) for what
 * the layer is provided to. Provide it inside `TestContext` when both are used: the innermost clock wins.
 */
export const layer = (start: number | Date = 0): Layer.Layer<never> => Layer.scopedDiscard(Effect.withClockScoped(make(start)))
