// Evaluation of one cap: the rules of DESIGN §3 one by one, and fast-check properties over random licenses and times.
import { describe, expect, it } from "@effect/vitest"
import { License } from "@exekra/core"
import {
  type CapEvent,
  type CapFacts,
  capMachine,
  capTerms,
  type CapTerms,
  evaluate,
  evaluateNow,
  evaluationInstant,
  install,
  nextDeadline,
  settle,
  stage
} from "@exekra/machines"
import { Schema } from "effect"
import fc from "fast-check"
import { initialTransition, transition } from "xstate"
import { DAY, E, T0, terms } from "./terms.js"


const facts = (overrides: Partial<CapFacts> = {}): CapFacts => ({
  license: terms(),
  installedAt: T0,
  renewedAt: null,
  pending: null,
  failingSince: null,
  ...overrides
})

describe("capTerms", () => {
  const payload = Schema.decodeUnknownSync(License.LicensePayload)({
    licenseId: "lic-1",
    type: "production",
    kid: "0123456789abcdef",
    issuedTo: { name: "Acme", email: "it@acme.test" },
    issuedAt: "2026-01-01T00:00:00Z",
    caps: {
      unattended: { limit: 10, expiresAt: "2027-01-01T00:00:00Z", overagePercent: 25, onLimited: "block-all" },
      developer: { limit: 4, expiresAt: "2026-07-01T00:00:00Z", graceDays: 3 }
    },
    validation: { required: false, intervalHours: 24 }
  })

  it("takes the cap's grant with the license defaults", () => {
    expect(capTerms(payload, "unattended")).toEqual({
      licenseId: "lic-1",
      issuedAt: Date.parse("2026-01-01T00:00:00Z"),
      limit: 10,
      ceiling: 12,
      onLimited: "block-all",
      expiresAt: Date.parse("2027-01-01T00:00:00Z"),
      warningDays: 30,
      graceDays: 14,
      validationGraceDays: 14,
      validationRequired: false
    })
  })

  it("prefers the grant's own grace days for expiry, never for validation", () => {
    expect(capTerms(payload, "developer")).toMatchObject({ graceDays: 3, validationGraceDays: 14, onLimited: "refuse-new", ceiling: 4 })
  })

  it("is null for a cap the license does not mention", () => {
    expect(capTerms(payload, "attended")).toBeNull()
  })
})

describe("evaluate", () => {
  it("is unactivated without a license or with a limit of 0", () => {
    expect(evaluate(facts({ license: null }), T0)).toMatchObject({ state: "unactivated", reason: "not-licensed" })
    expect(evaluate(facts({ license: terms({ limit: 0 }) }), T0)).toMatchObject({ state: "unactivated", reason: "not-licensed" })
  })

  it("walks active → expiring → grace → limited at E−W, E and E+G exactly", () => {
    const f = facts()
    expect(evaluate(f, E - 30 * DAY - 1)).toEqual({ state: "active", reason: "licensed", graceEndsAt: null, limitedSince: null })
    expect(evaluate(f, E - 30 * DAY)).toEqual({ state: "expiring", reason: "expiry-approaching", graceEndsAt: null, limitedSince: null })
    expect(evaluate(f, E - 1)).toMatchObject({ state: "expiring" })
    expect(evaluate(f, E)).toEqual({ state: "grace", reason: "expired", graceEndsAt: E + 14 * DAY, limitedSince: null })
    expect(evaluate(f, E + 14 * DAY - 1)).toMatchObject({ state: "grace" })
    expect(evaluate(f, E + 14 * DAY)).toEqual({ state: "limited", reason: "expired", graceEndsAt: null, limitedSince: E + 14 * DAY })
  })

  it("goes straight from active to grace with no warning window, and to limited with no grace", () => {
    expect(evaluate(facts({ license: terms({ warningDays: 0 }) }), E - 1)).toMatchObject({ state: "active" })
    expect(evaluate(facts({ license: terms({ graceDays: 0 }) }), E)).toMatchObject({ state: "limited", limitedSince: E })
  })

  it("puts a required validation failing since F in grace until F+VG, then limited", () => {
    const F = T0 + 10 * DAY
    const f = facts({ failingSince: F })
    expect(evaluate(f, F)).toEqual({ state: "grace", reason: "portal-unreachable", graceEndsAt: F + 7 * DAY, limitedSince: null })
    expect(evaluate(f, F + 7 * DAY)).toEqual({ state: "limited", reason: "portal-unreachable", graceEndsAt: null, limitedSince: F + 7 * DAY })
  })

  it("ignores validation failures when validation is not required", () => {
    expect(evaluate(facts({ failingSince: T0, license: terms({ validationRequired: false }) }), T0 + 50 * DAY)).toMatchObject({ state: "active" })
  })

  it("lets the worse state win, and between two graces the one ending first", () => {
    // Expiring by date, but the Portal has been unreachable: grace wins.
    expect(evaluate(facts({ failingSince: E - 2 * DAY }), E - DAY)).toMatchObject({ state: "grace", reason: "portal-unreachable" })
    // Both in grace: validation grace ends at E+5d, before expiry grace (E+14d).
    expect(evaluate(facts({ failingSince: E - 2 * DAY }), E + DAY)).toMatchObject({ graceEndsAt: E + 5 * DAY, reason: "portal-unreachable" })
    // Both in grace: expiry grace ends first.
    expect(evaluate(facts({ failingSince: E + 10 * DAY }), E + 11 * DAY)).toMatchObject({ graceEndsAt: E + 14 * DAY, reason: "expired" })
    // Validation limited while expiry is in grace: limited wins.
    expect(evaluate(facts({ failingSince: E - 10 * DAY }), E + DAY)).toMatchObject({ state: "limited", limitedSince: E - 3 * DAY })
  })

  it("restarts validation grace at a renewal, because the vendor has just vouched for the license", () => {
    const f = facts({ failingSince: T0 + DAY, installedAt: T0 + 20 * DAY })
    expect(evaluate(f, T0 + 20 * DAY)).toMatchObject({ state: "grace", graceEndsAt: T0 + 27 * DAY })
  })

  it("shows renewed for 24 hours after a renewal, unless the new license is worse", () => {
    const R = T0 + 5 * DAY
    expect(evaluate(facts({ renewedAt: R }), R)).toEqual({ state: "renewed", reason: "renewed", graceEndsAt: null, limitedSince: null })
    expect(evaluate(facts({ renewedAt: R }), R + DAY - 1)).toMatchObject({ state: "renewed" })
    expect(evaluate(facts({ renewedAt: R }), R + DAY)).toMatchObject({ state: "active" })
    expect(evaluate(facts({ renewedAt: E - DAY }), E - DAY)).toMatchObject({ state: "expiring" })
  })

  it("lets a pending license take over at its notBefore, as a renewal", () => {
    const nb = T0 + 10 * DAY
    const f = facts({ pending: { notBefore: nb, license: terms({ licenseId: "lic-b", issuedAt: T0 + DAY, expiresAt: E + 365 * DAY }) } })
    expect(evaluate(f, nb - 1)).toMatchObject({ state: "active" })
    expect(evaluate(f, nb)).toMatchObject({ state: "renewed" })
    expect(evaluate(f, E + 20 * DAY)).toMatchObject({ state: "active" })
  })
})

describe("install, stage and settle", () => {
  const nb = T0 + 10 * DAY
  const next = terms({ licenseId: "lic-b", issuedAt: T0 + DAY, expiresAt: E + 365 * DAY })
  const pending = { notBefore: nb, license: next }

  it("the installed file again changes nothing, a staged license included (issue 16)", () => {
    const f = facts({ pending })
    expect(install(f, terms(), T0 + 2 * DAY)).toEqual(f)
    expect(stage(f, { notBefore: T0, license: terms() }, T0 + 2 * DAY)).toEqual(f)
  })

  it("another file replaces a staged one; one already valid is installed as of its notBefore", () => {
    const other = terms({ licenseId: "lic-c", issuedAt: T0 + 2 * DAY })
    expect(install(facts({ pending }), other, T0 + 2 * DAY)).toMatchObject({ license: other, pending: null, installedAt: T0 + 2 * DAY, renewedAt: T0 + 2 * DAY })
    expect(stage(facts({ pending }), { notBefore: T0 + DAY, license: other }, T0 + 2 * DAY)).toMatchObject({ license: other, pending: null, installedAt: T0 + DAY })
    expect(stage(facts(), pending, T0 + 2 * DAY)).toEqual(facts({ pending }))
  })

  it("a staged license takes over once due, and is then no longer pending", () => {
    expect(settle(facts({ pending }), nb - 1)).toEqual(facts({ pending }))
    expect(settle(facts({ pending }), nb)).toEqual(facts({ license: next, installedAt: nb, renewedAt: nb }))
  })
})

describe("nextDeadline", () => {
  const clock = (t: number) => ({ now: t, highWater: t })

  it("is the next of E−W, E and E+G", () => {
    expect(nextDeadline({ ...facts(), ...clock(T0) })).toBe(E - 30 * DAY)
    expect(nextDeadline({ ...facts(), ...clock(E - 30 * DAY) })).toBe(E)
    expect(nextDeadline({ ...facts(), ...clock(E) })).toBe(E + 14 * DAY)
    expect(nextDeadline({ ...facts(), ...clock(E + 14 * DAY) })).toBeNull()
  })

  it("includes the end of validation grace, the end of renewed and a pending notBefore", () => {
    expect(nextDeadline({ ...facts({ failingSince: T0 + DAY }), ...clock(T0 + DAY) })).toBe(T0 + 8 * DAY)
    expect(nextDeadline({ ...facts({ renewedAt: T0 }), ...clock(T0) })).toBe(T0 + DAY)
    expect(nextDeadline({ ...facts({ license: null, pending: { notBefore: T0 + 3 * DAY, license: terms() } }), ...clock(T0) })).toBe(T0 + 3 * DAY)
  })

  it("counts from the high-water mark when the clock was set back", () => {
    expect(nextDeadline({ ...facts(), now: T0, highWater: E })).toBe(E + 14 * DAY)
    expect(evaluationInstant({ now: T0, highWater: E })).toBe(E)
  })

  it("is null for an unlicensed cap", () => {
    expect(nextDeadline({ ...facts({ license: null }), ...clock(T0) })).toBeNull()
  })
})

// Random licenses and facts, in days around T0 so that every phase occurs.
const termsArb: fc.Arbitrary<CapTerms> = fc.record({
  licenseId: fc.constantFrom("lic-a", "lic-b", "lic-c"),
  issuedAt: fc.integer({ min: 0, max: 3 }).map((d) => T0 + d * DAY),
  limit: fc.integer({ min: 0, max: 20 }),
  ceiling: fc.integer({ min: 0, max: 25 }),
  onLimited: fc.constantFrom("refuse-new" as const, "block-all" as const),
  expiresAt: fc.integer({ min: 0, max: 400 * DAY }).map((ms) => T0 + ms),
  warningDays: fc.integer({ min: 0, max: 60 }),
  graceDays: fc.integer({ min: 0, max: 30 }),
  validationGraceDays: fc.integer({ min: 0, max: 30 }),
  validationRequired: fc.boolean()
})
const instantArb = fc.integer({ min: -10 * DAY, max: 500 * DAY }).map((ms) => T0 + ms)
const factsArb: fc.Arbitrary<CapFacts> = fc.record({
  license: fc.option(termsArb, { nil: null }),
  installedAt: fc.option(instantArb, { nil: null }),
  renewedAt: fc.option(instantArb, { nil: null }),
  pending: fc.constant(null),
  failingSince: fc.option(instantArb, { nil: null })
})

const rank = { unactivated: -1, active: 0, renewed: 0, expiring: 1, grace: 2, limited: 3 } as const

describe("properties", () => {
  it("with fixed facts, states only move forward in time (active → expiring → grace → limited)", () => {
    fc.assert(
      fc.property(factsArb, instantArb, instantArb, (f, a, b) => {
        const [t1, t2] = a <= b ? [a, b] : [b, a]
        expect(rank[evaluate(f, t2).state]).toBeGreaterThanOrEqual(rank[evaluate(f, t1).state])
      }),
      { numRuns: 500 }
    )
  })

  it("nothing changes between now and nextDeadline, and something may change only at it", () => {
    fc.assert(
      fc.property(factsArb, instantArb, fc.double({ min: 0, max: 1, noNaN: true }), (f, t, fraction) => {
        const context = { ...f, now: t, highWater: t }
        const deadline = nextDeadline(context)
        if (deadline === null) {
          expect(evaluate(f, t + 1000 * DAY)).toEqual(evaluate(f, t))
          return
        }
        expect(deadline).toBeGreaterThan(t)
        const between = t + Math.floor((deadline - 1 - t) * fraction)
        expect(evaluate(f, between)).toEqual(evaluate(f, t))
      }),
      { numRuns: 500 }
    )
  })

  // Events that may never move a cap backwards: time passing, clocks, failures.
  const forwardEventArb: fc.Arbitrary<CapEvent> = fc.oneof(
    instantArb.map((now): CapEvent => ({ type: "TICK", now })),
    fc.tuple(instantArb, fc.integer({ min: 0, max: 5 * DAY })).map(([now, ahead]): CapEvent => ({ type: "CLOCK_OBSERVED", now, serverTime: now + ahead })),
    fc.tuple(instantArb, instantArb).map(([a, b]): CapEvent => ({ type: "VALIDATION_FAILED", now: Math.max(a, b), failingSince: Math.min(a, b) }))
  )
  // Events that may: a renewal, a staged license taking over, a validation success.
  const resetEventArb: fc.Arbitrary<CapEvent> = fc.oneof(
    fc.tuple(instantArb, fc.option(termsArb, { nil: null })).map(([now, license]): CapEvent => ({ type: "LICENSE_INSTALLED", now, license })),
    fc.tuple(instantArb, instantArb, fc.option(termsArb, { nil: null })).map(([now, notBefore, license]): CapEvent => ({ type: "LICENSE_STAGED", now, notBefore, license })),
    instantArb.map((now): CapEvent => ({ type: "VALIDATION_SUCCEEDED", now }))
  )

  it("the machine always equals the evaluation, and only renewals and validation successes move it back", () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof({ weight: 4, arbitrary: forwardEventArb }, { weight: 1, arbitrary: resetEventArb }), { minLength: 1, maxLength: 25 }),
        (events) => {
          let [snapshot] = initialTransition(capMachine, { cap: "developer", now: T0 - 20 * DAY })
          for (const event of events) {
            const before = snapshot
            ;[snapshot] = transition(capMachine, snapshot, event)
            const context = snapshot.context
            expect(snapshot.value).toBe(evaluateNow(context).state)
            expect(context.reason).toBe(evaluateNow(context).reason)
            const deadline = nextDeadline(context)
            if (deadline !== null) expect(deadline).toBeGreaterThan(evaluationInstant(context))
            const tookOver = before.context.pending !== null && context.pending === null
            const resets = event.type === "LICENSE_INSTALLED" || event.type === "LICENSE_STAGED" || event.type === "VALIDATION_SUCCEEDED"
            if (!resets && !tookOver) {
              expect(rank[snapshot.value]).toBeGreaterThanOrEqual(rank[before.value])
              expect(evaluationInstant(context)).toBeGreaterThanOrEqual(evaluationInstant(before.context))
            }
          }
        }
      ),
      { numRuns: 300 }
    )
  })

  it("a clock set back never changes the state", () => {
    fc.assert(
      fc.property(termsArb, instantArb, fc.integer({ min: 1, max: 400 * DAY }), (license, t, back) => {
        const [installed] = transition(capMachine, initialTransition(capMachine, { cap: "attended", now: t })[0], { type: "LICENSE_INSTALLED", now: t, license })
        const [rolledBack] = transition(capMachine, installed, { type: "TICK", now: t - back })
        expect(rolledBack.value).toBe(installed.value)
        expect(rolledBack.context.reason).toBe(installed.context.reason)
        expect(rolledBack.context.skew).toBe(back)
        expect(nextDeadline(rolledBack.context)).toBe(nextDeadline(installed.context))
      }),
      { numRuns: 300 }
    )
  })
})
