// DiscreteClock: a TestClock that jumps from deadline to deadline. It must wake exactly what Effect's own TestClock
// wakes, at the same instants and in the same order, and never wake an interrupted sleep.
import { describe, expect, it } from "@effect/vitest"
import { DiscreteClock } from "@exekra/core"
import { Chunk, Clock, Effect, Fiber, TestClock, TestContext } from "effect"

const DAY = 86_400_000

/** A log of (label, instant) pairs, written by sleeping fibers. */
const recorder = () => {
  const log: Array<readonly [string, number]> = []
  const note = (label: string) => Effect.flatMap(Clock.currentTimeMillis, (t) => Effect.sync(() => void log.push([label, t])))
  return { log, note }
}

/**
 * A program with daily, weekly and 30-day loops, a fiber that forks another when it wakes, and a sleep interrupted
 * half-way; it returns what happened when. Run under both clocks, it must tell the same story.
 */
const story = Effect.gen(function* () {
  const { log, note } = recorder()
  const loop = (label: string, period: number) => Effect.forkScoped(Effect.forever(Effect.zipRight(Effect.sleep(period), note(label))))
  yield* loop("daily", DAY)
  yield* loop("weekly", 7 * DAY)
  yield* loop("monthly", 30 * DAY)
  yield* Effect.forkScoped(
    Effect.gen(function* () {
      yield* Effect.sleep(10 * DAY)
      yield* note("parent")
      yield* Effect.forkScoped(Effect.zipRight(Effect.sleep(DAY / 2), note("child")))
    })
  )
  const doomed = yield* Effect.forkScoped(Effect.zipRight(Effect.sleep(20 * DAY), note("doomed")))
  yield* TestClock.adjust(15 * DAY)
  yield* Fiber.interrupt(doomed)
  yield* TestClock.adjust(50 * DAY)
  return { log, now: yield* Clock.currentTimeMillis }
}).pipe(Effect.scoped)

describe("DiscreteClock", () => {
  it.effect("tells the same story as Effect's TestClock: the same wake-ups, at the same instants, in the same order", () =>
    Effect.gen(function* () {
      const reference = yield* story.pipe(Effect.provide(TestContext.TestContext))
      const discrete = yield* story.pipe(Effect.provide(DiscreteClock.layer()))
      expect(discrete.log.length).toBe(65 + 9 + 2 + 2)
      expect(discrete.log.some(([label]) => label === "doomed")).toBe(false)
      // Same instants; at a shared instant the order may differ (TestClock wakes the latest sleep first).
      const byTime = (log: ReadonlyArray<readonly [string, number]>) =>
        [...log].sort((a, b) => a[1] - b[1] || a[0].localeCompare(b[0]))
      expect(byTime(discrete.log)).toEqual(byTime(reference.log))
      expect(discrete.now).toBe(65 * DAY)
      expect(reference.now).toBe(65 * DAY)
    }))

  it.effect("wakes sleepers in deadline order, at their deadlines, those due at the same instant in the order they slept", () =>
    Effect.gen(function* () {
      const { log, note } = recorder()
      for (const [label, days] of [["c", 3], ["a1", 1], ["b", 2], ["a2", 1]] as const) {
        yield* Effect.forkScoped(Effect.zipRight(Effect.sleep(days * DAY), note(label)))
      }
      yield* TestClock.adjust(5 * DAY)
      expect(log).toEqual([["a1", DAY], ["a2", DAY], ["b", 2 * DAY], ["c", 3 * DAY]])
    }).pipe(Effect.scoped, Effect.provide(DiscreteClock.layer())))

  it.effect("stops at the end of an adjustment: later sleeps wait, and are listed by `sleeps`", () =>
    Effect.gen(function* () {
      const { log, note } = recorder()
      yield* Effect.forkScoped(Effect.zipRight(Effect.sleep(10 * DAY), note("late")))
      yield* TestClock.adjust(5 * DAY)
      expect(log).toEqual([])
      expect(yield* Clock.currentTimeMillis).toBe(Date.UTC(2030, 0, 1) + 5 * DAY)
      expect(Chunk.toReadonlyArray(yield* TestClock.sleeps())).toEqual([Date.UTC(2030, 0, 1) + 10 * DAY])
      yield* TestClock.adjust(5 * DAY)
      expect(log).toEqual([["late", Date.UTC(2030, 0, 1) + 10 * DAY]])
    }).pipe(Effect.scoped, Effect.provide(DiscreteClock.layer(new Date(Date.UTC(2030, 0, 1))))))

  it.effect("never wakes an interrupted sleep, nor lists it", () =>
    Effect.gen(function* () {
      const { log, note } = recorder()
      const fiber = yield* Effect.fork(Effect.zipRight(Effect.sleep(DAY), note("never")))
      yield* TestClock.adjust(DAY / 2)
      yield* Fiber.interrupt(fiber)
      expect(Chunk.toReadonlyArray(yield* TestClock.sleeps())).toEqual([])
      yield* TestClock.adjust(10 * DAY)
      expect(log).toEqual([])
    }).pipe(Effect.provide(DiscreteClock.layer())))

  it.effect("runs ten years of a daily loop, one wake-up per day, each at its day", () =>
    Effect.gen(function* () {
      let days = 0
      let late = 0
      yield* Effect.forkScoped(
        Effect.forever(
          Effect.gen(function* () {
            yield* Effect.sleep(DAY)
            days++
            if ((yield* Clock.currentTimeMillis) !== days * DAY) late++
          })
        )
      )
      yield* TestClock.adjust(3_650 * DAY)
      expect(days).toBe(3_650)
      expect(late).toBe(0)
    }).pipe(Effect.scoped, Effect.provide(DiscreteClock.layer())))

  it.effect("setTime runs what is due by then; save restores the time and the sleeps still waiting", () =>
    Effect.gen(function* () {
      const { log, note } = recorder()
      yield* Effect.forkScoped(Effect.zipRight(Effect.sleep(2 * DAY), note("two")))
      yield* Effect.forkScoped(Effect.zipRight(Effect.sleep(5 * DAY), note("five")))
      // Forked fibers start on the next turn; an adjustment by nothing lets them reach their sleeps.
      yield* TestClock.adjust(0)
      const restore = yield* TestClock.save()
      yield* TestClock.setTime(3 * DAY)
      expect(log).toEqual([["two", 2 * DAY]])
      yield* restore
      expect(yield* Clock.currentTimeMillis).toBe(0)
      // The sleep that woke stays woken: a fiber resumes once.
      expect(Chunk.toReadonlyArray(yield* TestClock.sleeps())).toEqual([5 * DAY])
      yield* TestClock.adjust(10 * DAY)
      expect(log).toEqual([["two", 2 * DAY], ["five", 5 * DAY]])
    }).pipe(Effect.scoped, Effect.provide(DiscreteClock.layer())))

  it.effect("a sleep of no time (or less) does not wait", () =>
    Effect.gen(function* () {
      yield* Effect.sleep(0)
      yield* Effect.sleep(-5)
      expect(yield* Clock.currentTimeMillis).toBe(0)
    }).pipe(Effect.provide(DiscreteClock.layer())))

  it.effect("adjustWith moves the clock while the effect waits", () =>
    Effect.gen(function* () {
      const woke = yield* Effect.zipRight(Effect.sleep(DAY), Clock.currentTimeMillis).pipe(TestClock.adjustWith(DAY))
      expect(woke).toBe(DAY)
    }).pipe(Effect.provide(DiscreteClock.layer())))
})
