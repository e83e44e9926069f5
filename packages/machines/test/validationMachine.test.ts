// The validation machine: pings, backoff after failures, the first failure since the last success, and persistence.
import { describe, expect, it } from "@effect/vitest"
import { nextValidationDeadline, retryDelay, validationMachine, type ValidationEvent, type ValidationSnapshot } from "@exekra/machines"
import { createActor, initialTransition, transition } from "xstate"

const T0 = Date.UTC(2026, 0, 1)
const MIN = 60_000

const run = (events: ReadonlyArray<ValidationEvent>, intervalHours = 24): ValidationSnapshot => {
  let [s] = initialTransition(validationMachine, { intervalHours, now: T0 })
  for (const e of events) [s] = transition(validationMachine, s, e)
  return s
}

describe("validationMachine", () => {
  it("is due at once, and has no deadline while a ping is in flight", () => {
    expect(nextValidationDeadline(run([]).context)).toBe(T0)
    const pinging = run([{ type: "PING_DUE", now: T0 }])
    expect(pinging.value).toBe("pinging")
    expect(nextValidationDeadline(pinging.context)).toBeNull()
  })

  it("a success is healthy until the next interval and records the Portal's answer", () => {
    const s = run([{ type: "PING_DUE", now: T0 }, { type: "PING_SUCCEEDED", now: T0 + 500, status: "revoked", serverTime: T0 + 900 }])
    expect(s.value).toBe("healthy")
    expect(s.context).toMatchObject({ lastSuccessAt: T0 + 500, lastStatus: "revoked", lastServerTime: T0 + 900, failingSince: null })
    expect(nextValidationDeadline(s.context)).toBe(T0 + 500 + 24 * 60 * MIN)
  })

  it("failures back off 1, 2, 4 … minutes up to the (hourly) interval and keep the first failure", () => {
    const delays: Array<number> = []
    let now = T0
    let s = run([], 1)
    for (let i = 0; i < 9; i++) {
      ;[s] = transition(validationMachine, s, { type: "PING_DUE", now })
      now += 1000
      ;[s] = transition(validationMachine, s, { type: "PING_FAILED", now, error: `timeout ${i}` })
      delays.push((s.context.nextAttemptAt ?? 0) - now)
      now = s.context.nextAttemptAt ?? now
    }
    expect(delays.map((d) => d / MIN)).toEqual([1, 2, 4, 8, 16, 32, 60, 60, 60])
    expect(s.context).toMatchObject({ failingSince: T0 + 1000, consecutiveFailures: 9, lastError: "timeout 8" })
    expect(retryDelay(3, 24)).toBe(4 * MIN)
    expect(retryDelay(30, 24)).toBe(24 * 60 * MIN)
  })

  it("a success after failures clears the failure record", () => {
    const s = run([
      { type: "PING_DUE", now: T0 },
      { type: "PING_FAILED", now: T0 + 1, error: "refused" },
      { type: "PING_DUE", now: T0 + MIN },
      { type: "PING_SUCCEEDED", now: T0 + MIN + 1, status: "valid", serverTime: T0 + MIN }
    ])
    expect(s.context).toMatchObject({ failingSince: null, consecutiveFailures: 0, lastError: "refused" })
  })

  it("ignores results nobody asked for and a second ping while one is in flight", () => {
    expect(run([{ type: "PING_FAILED", now: T0, error: "x" }]).value).toBe("idle")
    const s = run([{ type: "PING_DUE", now: T0 }, { type: "PING_DUE", now: T0 + 5 }])
    expect(s.value).toBe("pinging")
  })

  it("round-trips a persisted snapshot through JSON", () => {
    const actor = createActor(validationMachine, { input: { intervalHours: 6, now: T0 } }).start()
    actor.send({ type: "PING_DUE", now: T0 })
    actor.send({ type: "PING_FAILED", now: T0 + 10, error: "refused" })
    const json = JSON.stringify(actor.getPersistedSnapshot())
    const restored = createActor(validationMachine, { snapshot: JSON.parse(json), input: { intervalHours: 6, now: T0 } }).start()
    expect(restored.getSnapshot().value).toBe("failing")
    expect(restored.getSnapshot().context).toEqual(actor.getSnapshot().context)
    expect(nextValidationDeadline(restored.getSnapshot().context)).toBe(T0 + 10 + MIN)
  })
})
