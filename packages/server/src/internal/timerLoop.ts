/** One re-armable timer on Effect's Clock: the loop the runtime keeps per cap and for validation pings. */
import { Clock, Effect, Fiber, Queue } from "effect"

// The remaining time is read when the timer fiber starts, not when it is forked, so a fiber
// that starts late still wakes at the deadline itself.
const sleepUntil = (deadline: number) => Effect.flatMap(Clock.currentTimeMillis, (now) => Effect.sleep(Math.max(0, deadline - now)))

/**
 * A loop that sleeps until `deadline()` and runs `fire`, woken early through `rearm` when the deadline may have
 * changed. A loop rather than re-forked timers, because `fire` itself re-arms and a fiber must not interrupt itself;
 * and the sleep is kept when a wake-up finds the same deadline, so frequent events (a daily ping) do not churn timers.
 */
export const timerLoop = (deadline: () => number | null, rearm: Queue.Queue<void>, fire: Effect.Effect<void, unknown>) =>
  Effect.gen(function* () {
    let due: number | null = null
    let sleeper: Fiber.RuntimeFiber<void> | null = null
    while (true) {
      const next = deadline()
      if (sleeper === null || next !== due) {
        if (sleeper !== null) yield* Fiber.interrupt(sleeper)
        due = next
        sleeper = next === null ? null : yield* Effect.fork(sleepUntil(next))
      }
      const timedOut = yield* Effect.raceFirst(
        Effect.as(Queue.take(rearm), false),
        sleeper === null ? Effect.never : Effect.as(Fiber.join(sleeper), true)
      )
      if (timedOut) {
        sleeper = null
        yield* Effect.catchAllCause(fire, Effect.logError)
      }
    }
  })
