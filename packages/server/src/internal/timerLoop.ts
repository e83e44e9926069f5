/** One re-armable timer on Effect's Clock: the loop the runtime keeps per cap, per cap's leases and for validation pings. */
import { Clock, Effect, Fiber, Queue } from "effect"

// The remaining time is read when the timer fiber starts, not when it is forked, so a fiber
// that starts late still wakes at the deadline itself.
const sleepUntil = (deadline: number) => Effect.flatMap(Clock.currentTimeMillis, (now) => Effect.sleep(Math.max(0, deadline - now)))

/** A timer: `run` is its loop (fork it in the scope that owns the timer); `rearm` tells it the deadline may have moved. */
export interface Timer {
  /**
   * Wake the loop to read its deadline again. Free when the loop already sleeps for the deadline it would read: a
   * daily ping touches every cap, and years of them must not each wake every cap's loop.
   */
  readonly rearm: Effect.Effect<void>
  /**
   * Sleep until `deadline()` and run `fire`, again and again. A loop rather than re-forked timers, because `fire`
   * itself re-arms and a fiber must not interrupt itself; and the sleep is kept when a wake-up finds the same
   * deadline, so frequent events do not churn timers.
   */
  readonly run: (deadline: () => number | null, fire: Effect.Effect<void, unknown>) => Effect.Effect<never>
}

// What wakes a loop: a re-arm, or the sleeper of one generation reaching its deadline (a later generation's loop
// ignores it: that sleeper was replaced after it woke).
const REARM = -1

/** A timer whose loop is not running yet; `rearm` may be called before `run`. */
export const make: Effect.Effect<Timer> = Effect.map(Queue.unbounded<number>(), (signals) => {
  let deadline: (() => number | null) | null = null
  // The deadline the loop's sleeper sleeps for; meaningful while `sleeping`.
  let due: number | null = null
  let sleeping = false
  // One re-arm signal waiting is enough: the loop reads the deadline when it takes it.
  let rearmWaiting = false
  const rearm = Effect.suspend(() => {
    if (rearmWaiting || (sleeping && deadline !== null && deadline() === due)) return Effect.void
    rearmWaiting = true
    return Effect.asVoid(Queue.offer(signals, REARM))
  })
  // One queue for both causes, so a wait is one take: no race of two fibers per wake-up.
  const run = (read: () => number | null, fire: Effect.Effect<void, unknown>): Effect.Effect<never> =>
    Effect.gen(function* () {
      deadline = read
      let generation = 0
      let sleeper: Fiber.RuntimeFiber<void> | null = null
      while (true) {
        const next = read()
        if (sleeper === null || next !== due) {
          if (sleeper !== null) yield* Fiber.interrupt(sleeper)
          due = next
          const mine = ++generation
          sleeper = next === null ? null : yield* Effect.fork(Effect.asVoid(Effect.zipRight(sleepUntil(next), Queue.offer(signals, mine))))
          sleeping = sleeper !== null
        }
        const signal = yield* Queue.take(signals)
        if (signal === REARM) {
          rearmWaiting = false
          continue
        }
        if (signal !== generation || sleeper === null) continue
        sleeper = null
        sleeping = false
        yield* Effect.catchAllCause(fire, Effect.logError)
      }
    }).pipe(
      Effect.ensuring(
        Effect.sync(() => {
          sleeping = false
        })
      )
    )
  return { rearm, run }
})
