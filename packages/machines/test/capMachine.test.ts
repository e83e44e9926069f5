// The cap machine at three levels: pure transitions, actors driven by explicit ticks, and persisted snapshots.
import { describe, expect, it } from "@effect/vitest"
import { Admission } from "@exekra/core"
import { type CapEvent, capMachine, type CapSnapshot, type CapTerms, capView, heedsValidationSuccess, nextDeadline } from "@exekra/machines"
import { Either } from "effect"
import { createActor, initialTransition, transition } from "xstate"
import { DAY, E, T0, terms as license } from "./terms.js"


const run = (events: ReadonlyArray<CapEvent>, now = T0): CapSnapshot => {
  let [snapshot] = initialTransition(capMachine, { cap: "unattended", now })
  for (const event of events) [snapshot] = transition(capMachine, snapshot, event)
  return snapshot
}

const installed = (l: CapTerms = license()): CapEvent => ({ type: "LICENSE_INSTALLED", now: T0, license: l })

describe("pure transitions", () => {
  it("a validation success tells a cap only the time unless it counts a failure (heedsValidationSuccess)", () => {
    const renewal = license({ licenseId: "lic-b", issuedAt: T0 + 9 * DAY, expiresAt: E + 365 * DAY })
    // Caps in every state, with and without a failure counted, a pending renewal and a clock set back.
    const histories: ReadonlyArray<ReadonlyArray<CapEvent>> = [
      [],
      [installed()],
      [installed(), { type: "TICK", now: E - 10 * DAY }],
      [installed(), { type: "TICK", now: E + 3 * DAY }],
      [installed(), { type: "TICK", now: E + 20 * DAY }],
      [installed(), { type: "LICENSE_INSTALLED", now: T0 + 10 * DAY, license: renewal }],
      [installed(), { type: "LICENSE_STAGED", now: T0 + 2 * DAY, notBefore: T0 + 40 * DAY, license: renewal }],
      [installed(), { type: "VALIDATION_FAILED", now: T0 + 5 * DAY, failingSince: T0 + 4 * DAY }],
      [installed(), { type: "VALIDATION_FAILED", now: T0 + 5 * DAY, failingSince: T0 + 4 * DAY }, { type: "TICK", now: T0 + 30 * DAY }],
      [installed(), { type: "CLOCK_OBSERVED", now: T0 + 5 * DAY, serverTime: T0 + 9 * DAY }]
    ]
    let heeded = 0
    for (const history of histories) {
      const s = run(history)
      for (const later of [0, DAY, 45 * DAY, 400 * DAY]) {
        const now = s.context.now + later
        const [success] = transition(capMachine, s, { type: "VALIDATION_SUCCEEDED", now })
        const [time] = transition(capMachine, s, { type: "CLOCK_OBSERVED", now, serverTime: now })
        if (heedsValidationSuccess(s.context)) {
          heeded++
          expect(success.context.failingSince).toBeNull()
          expect(time.context.failingSince).not.toBeNull()
        } else {
          expect([success.value, success.context]).toEqual([time.value, time.context])
        }
      }
    }
    expect(heeded).toBe(8)
  })

  it("starts unactivated, not licensed, with nothing due", () => {
    const s = run([])
    expect(s.value).toBe("unactivated")
    expect(s.context).toMatchObject({ reason: "not-licensed", license: null, skew: 0 })
    expect(nextDeadline(s.context)).toBeNull()
  })

  it("installing a license activates the cap and schedules the expiry warning", () => {
    const s = run([installed()])
    expect(s.value).toBe("active")
    expect(s.context.reason).toBe("licensed")
    expect(nextDeadline(s.context)).toBe(E - 30 * DAY)
  })

  it("ticks at each deadline move it through expiring, grace and limited", () => {
    const seen: Array<[string, string, number | null]> = []
    let [s] = transition(capMachine, run([]), installed())
    for (let deadline = nextDeadline(s.context); deadline !== null; deadline = nextDeadline(s.context)) {
      ;[s] = transition(capMachine, s, { type: "TICK", now: deadline })
      seen.push([s.value, s.context.reason, s.context.graceEndsAt ?? s.context.limitedSince])
    }
    expect(seen).toEqual([
      ["expiring", "expiry-approaching", null],
      ["grace", "expired", E + 14 * DAY],
      ["limited", "expired", E + 14 * DAY]
    ])
  })

  it("a renewal shows renewed, then active after 24 hours", () => {
    const renewal: CapEvent = { type: "LICENSE_INSTALLED", now: T0 + 10 * DAY, license: license({ licenseId: "lic-b", issuedAt: T0 + 9 * DAY, expiresAt: E + 365 * DAY }) }
    const s = run([installed(), renewal])
    expect(s.value).toBe("renewed")
    expect(nextDeadline(s.context)).toBe(T0 + 11 * DAY)
    expect(transition(capMachine, s, { type: "TICK", now: T0 + 11 * DAY })[0].value).toBe("active")
  })

  it("a renewal restores a limited cap at once", () => {
    const limited = run([installed(), { type: "TICK", now: E + 20 * DAY }])
    expect(limited.value).toBe("limited")
    const [renewed] = transition(capMachine, limited, { type: "LICENSE_INSTALLED", now: E + 20 * DAY, license: license({ licenseId: "lic-b", issuedAt: E, expiresAt: E + 365 * DAY }) })
    expect(renewed.value).toBe("renewed")
  })

  it("re-installing the same file is no renewal and does not restart validation grace", () => {
    const failing = run([installed(), { type: "VALIDATION_FAILED", now: T0 + DAY, failingSince: T0 + DAY }])
    const [again] = transition(capMachine, failing, { type: "LICENSE_INSTALLED", now: T0 + 5 * DAY, license: license() })
    expect(again.value).toBe("grace")
    expect(again.context.graceEndsAt).toBe(T0 + 8 * DAY)
    expect(again.context.renewedAt).toBeNull()
  })

  it("regression (issue 16): uploading the installed file again keeps a staged renewal, as the runtime does", () => {
    const nb = T0 + 20 * DAY
    const next = license({ licenseId: "lic-b", issuedAt: T0 + DAY, limit: 20, ceiling: 20, expiresAt: E + 365 * DAY })
    const staged = run([installed(), { type: "LICENSE_STAGED", now: T0 + DAY, notBefore: nb, license: next }])
    // Re-installed, or staged again once its own notBefore (T0) has passed: either way the same file, a no-op.
    for (const again of [
      { type: "LICENSE_INSTALLED", now: T0 + 2 * DAY, license: license() },
      { type: "LICENSE_STAGED", now: T0 + 2 * DAY, notBefore: T0, license: license() }
    ] satisfies ReadonlyArray<CapEvent>) {
      const [after] = transition(capMachine, staged, again)
      expect(after.context.pending).toEqual({ notBefore: nb, license: next })
      expect(after.context.installedAt).toBe(T0)
      expect(nextDeadline(after.context)).toBe(nb)
      const [tookOver] = transition(capMachine, after, { type: "TICK", now: nb })
      expect(tookOver.value).toBe("renewed")
      expect(tookOver.context).toMatchObject({ pending: null, renewedAt: nb, installedAt: nb, license: next })
    }
    // Another file still replaces the staged one.
    const other = license({ licenseId: "lic-c", issuedAt: T0 + 2 * DAY, expiresAt: E + 30 * DAY })
    expect(transition(capMachine, staged, { type: "LICENSE_INSTALLED", now: T0 + 2 * DAY, license: other })[0].context.pending).toBeNull()
  })

  it("regression: a later failure report cannot restart the validation grace", () => {
    const s = run([
      installed(),
      { type: "VALIDATION_FAILED", now: T0 + DAY, failingSince: T0 + DAY },
      { type: "VALIDATION_FAILED", now: T0 + 6 * DAY, failingSince: T0 + 6 * DAY }
    ])
    expect(s.context.failingSince).toBe(T0 + DAY)
    expect(s.context.graceEndsAt).toBe(T0 + 8 * DAY)
  })

  it("a validation success ends the validation grace", () => {
    const s = run([installed(), { type: "VALIDATION_FAILED", now: T0 + DAY, failingSince: T0 + DAY }, { type: "TICK", now: T0 + 9 * DAY }])
    expect(s.value).toBe("limited")
    expect(s.context.reason).toBe("portal-unreachable")
    expect(transition(capMachine, s, { type: "VALIDATION_SUCCEEDED", now: T0 + 9 * DAY })[0].value).toBe("active")
  })

  it("a clock set back keeps the state and reports the skew", () => {
    const s = run([installed(), { type: "TICK", now: E + DAY }, { type: "TICK", now: T0 + DAY }])
    expect(s.value).toBe("grace")
    expect(s.context.skew).toBe(E - T0)
    expect(s.context.highWater).toBe(E + DAY)
  })

  it("the Portal's serverTime raises the high-water mark", () => {
    const s = run([installed(), { type: "CLOCK_OBSERVED", now: T0 + DAY, serverTime: E }])
    expect(s.value).toBe("grace")
    expect(s.context.skew).toBe(E - T0 - DAY)
  })

  it("a future-dated license waits for its notBefore, then takes over as a renewal", () => {
    const nb = T0 + 20 * DAY
    const next = license({ licenseId: "lic-b", issuedAt: T0 + DAY, limit: 20, ceiling: 20, expiresAt: E + 365 * DAY })
    const staged = run([installed(), { type: "LICENSE_STAGED", now: T0 + DAY, notBefore: nb, license: next }])
    expect(staged.value).toBe("active")
    expect(staged.context.license?.licenseId).toBe("lic-a")
    expect(nextDeadline(staged.context)).toBe(nb)
    const [after] = transition(capMachine, staged, { type: "TICK", now: nb })
    expect(after.value).toBe("renewed")
    expect(after.context).toMatchObject({ pending: null, renewedAt: nb, installedAt: nb })
    expect(after.context.license?.limit).toBe(20)
  })

  it("a future-dated license on an unlicensed cap activates it without a renewal", () => {
    const s = run([{ type: "LICENSE_STAGED", now: T0, notBefore: T0 + DAY, license: license() }, { type: "TICK", now: T0 + DAY }])
    expect(s.value).toBe("active")
  })

  it("a license without the cap, or with a limit of 0, leaves it unactivated", () => {
    expect(run([installed(), { type: "LICENSE_INSTALLED", now: T0 + DAY, license: null }]).value).toBe("unactivated")
    expect(run([installed(license({ limit: 0, ceiling: 0 }))]).value).toBe("unactivated")
  })

  it("starts with no license installed, nothing failing and the clock as given", () => {
    expect(run([]).context).toEqual({
      cap: "unattended",
      license: null,
      installedAt: null,
      renewedAt: null,
      pending: null,
      failingSince: null,
      now: T0,
      highWater: T0,
      skew: 0,
      reason: "not-licensed",
      graceEndsAt: null,
      limitedSince: null
    })
  })

  it("restored with a later high-water mark, evaluates there and reports the clock as set back", () => {
    const [s] = initialTransition(capMachine, { cap: "developer", now: T0, highWater: E, license: license(), installedAt: T0 })
    expect(s.value).toBe("grace")
    expect(s.context).toMatchObject({ now: T0, highWater: E, skew: E - T0, graceEndsAt: E + 14 * DAY })
    // A high-water mark behind the clock is the clock.
    expect(initialTransition(capMachine, { cap: "developer", now: E, highWater: T0 })[0].context).toMatchObject({ highWater: E, skew: 0 })
  })

  it("a re-issued file is a renewal: the same license id with a new issue date, or a new id with the same date", () => {
    const reissued = run([installed(), { type: "LICENSE_INSTALLED", now: T0 + DAY, license: license({ issuedAt: T0 + DAY, expiresAt: E + 365 * DAY }) }])
    expect(reissued.value).toBe("renewed")
    expect(reissued.context.renewedAt).toBe(T0 + DAY)
    const renamed = run([installed(), { type: "LICENSE_INSTALLED", now: T0 + DAY, license: license({ licenseId: "lic-b" }) }])
    expect(renamed.value).toBe("renewed")
    expect(renamed.context.renewedAt).toBe(T0 + DAY)
  })

  it("starts from an installed license given as input", () => {
    const [s] = initialTransition(capMachine, { cap: "developer", now: E, license: license(), installedAt: T0 })
    expect(s.value).toBe("grace")
    expect(s.context).toMatchObject({ cap: "developer", installedAt: T0, graceEndsAt: E + 14 * DAY })
  })
})

describe("admission from a snapshot", () => {
  const code = (d: Admission.Decision) => Either.match(d, { onLeft: (e) => e.code, onRight: () => "allowed" })

  it("a renewal lowering the limit below usage refuses new principals and keeps admitted ones working", () => {
    const lowered = run([installed(), { type: "LICENSE_INSTALLED", now: T0 + DAY, license: license({ licenseId: "lic-b", issuedAt: T0 + DAY, limit: 10, ceiling: 10 }) }])
    const view = capView(lowered, 12)
    expect(view).toMatchObject({ state: "renewed", limit: 10, used: 12 })
    expect(code(Admission.decide(view, "acquire", false))).toBe("CAP_LIMIT_REACHED")
    expect(code(Admission.decide(view, "acquire", true))).toBe("allowed")
    expect(code(Admission.decide(view, "check", true))).toBe("allowed")
  })

  it("limited with block-all refuses admitted principals too", () => {
    const s = run([installed(license({ onLimited: "block-all" })), { type: "TICK", now: E + 14 * DAY }])
    expect(code(Admission.decide(capView(s, 1), "check", true))).toBe("CAP_LIMITED")
  })

  it("an unactivated cap refuses everything but release", () => {
    const view = capView(run([]), 0)
    expect(view).toEqual({ cap: "unattended", state: "unactivated", limit: 0, ceiling: 0, used: 0, onLimited: "refuse-new" })
    expect(code(Admission.decide(view, "acquire", false))).toBe("CAP_UNACTIVATED")
    expect(code(Admission.decide(view, "release", true))).toBe("allowed")
  })
})

describe("actors", () => {
  it("an actor driven by explicit ticks reaches each state at its instant", () => {
    const actor = createActor(capMachine, { input: { cap: "attended", now: T0 } }).start()
    actor.send(installed())
    const states = [E - 30 * DAY - 1, E - 30 * DAY, E - 1, E, E + 14 * DAY - 1, E + 14 * DAY].map((now) => {
      actor.send({ type: "TICK", now })
      return actor.getSnapshot().value
    })
    expect(states).toEqual(["active", "expiring", "expiring", "grace", "grace", "limited"])
    actor.stop()
  })

  it("a persisted snapshot round-trips through JSON to the same state, context and deadline", () => {
    const actor = createActor(capMachine, { input: { cap: "unattended", now: T0 } }).start()
    actor.send(installed())
    actor.send({ type: "LICENSE_STAGED", now: T0 + DAY, notBefore: T0 + 50 * DAY, license: license({ licenseId: "lic-b", issuedAt: T0 + DAY }) })
    actor.send({ type: "VALIDATION_FAILED", now: T0 + 2 * DAY, failingSince: T0 + 2 * DAY })
    actor.send({ type: "TICK", now: T0 + DAY })
    const json = JSON.stringify(actor.getPersistedSnapshot())
    actor.stop()
    const restored = createActor(capMachine, { snapshot: JSON.parse(json), input: { cap: "unattended", now: T0 } }).start()
    const before = JSON.parse(json) as { value: unknown; context: CapSnapshot["context"] }
    const s = restored.getSnapshot()
    expect(s.value).toBe("grace")
    expect(s.value).toEqual(before.value)
    expect(s.context).toEqual(before.context)
    expect(nextDeadline(s.context)).toBe(T0 + 9 * DAY)
    restored.send({ type: "TICK", now: T0 + 9 * DAY })
    expect(restored.getSnapshot().value).toBe("limited")
    restored.stop()
  })
})
