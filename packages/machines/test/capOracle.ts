// Test oracle: DESIGN §3 restated as phase tables over a scenario's facts, written apart from evaluate.ts so the model tests prove something.
import type { Cap } from "@exekra/core"
import type { CapEvent, CapInput, CapTerms } from "@exekra/machines"
import type { CapExpectation } from "@exekra/machines/testing"

const DAY = 86_400_000

/** What the scenario has established so far, in the oracle's own terms. */
export interface World {
  /** Latest time observed by anyone (local clock or Portal). */
  readonly latest: number
  readonly localNow: number
  readonly license: CapTerms | null
  readonly inForceSince: number | null
  readonly renewalAt: number | null
  readonly staged: { readonly from: number; readonly license: CapTerms | null } | null
  readonly portalDownSince: number | null
}

export const begin = (input: CapInput): World => ({
  latest: Math.max(input.now, input.highWater ?? input.now),
  localNow: input.now,
  license: input.license ?? null,
  inForceSince: input.license ? (input.installedAt ?? input.now) : null,
  renewalAt: null,
  staged: null,
  portalDownSince: null
})

const grantsSomething = (l: CapTerms | null): boolean => l !== null && l.limit !== 0

const putInForce = (w: World, license: CapTerms | null, from: number): World => {
  const unchangedFile = w.license !== null && license !== null && w.license.licenseId === license.licenseId && w.license.issuedAt === license.issuedAt
  // Uploading the file already in force again is a no-op: it keeps a staged renewal too.
  if (unchangedFile) return w
  const isRenewal = grantsSomething(w.license) && grantsSomething(license)
  return { ...w, license, inForceSince: from, renewalAt: isRenewal ? from : null, staged: null }
}

const takeOverIfDue = (w: World): World =>
  w.staged !== null && w.staged.from <= w.latest ? putInForce({ ...w, staged: null }, w.staged.license, w.staged.from) : w

export const step = (before: World, event: CapEvent): World => {
  const observed = event.type === "CLOCK_OBSERVED" ? Math.max(event.now, event.serverTime) : event.now
  let w: World = takeOverIfDue({ ...before, latest: Math.max(before.latest, observed), localNow: event.now })
  switch (event.type) {
    case "LICENSE_INSTALLED":
      w = putInForce(w, event.license, w.latest)
      break
    case "LICENSE_STAGED":
      // A file already valid is put in force from its notBefore, not staged (so the installed file again is a no-op).
      w = event.notBefore <= w.latest ? putInForce(w, event.license, event.notBefore) : { ...w, staged: { from: event.notBefore, license: event.license } }
      break
    case "VALIDATION_FAILED":
      w = { ...w, portalDownSince: w.portalDownSince === null ? event.failingSince : Math.min(w.portalDownSince, event.failingSince) }
      break
    case "VALIDATION_SUCCEEDED":
      w = { ...w, portalDownSince: null }
      break
    case "TICK":
    case "CLOCK_OBSERVED":
      break
  }
  return w
}

type Phase = { readonly from: number; readonly state: "active" | "expiring" | "grace" | "limited"; readonly reason: CapExpectation["reason"]; readonly ends: number | null }

const expiryTable = (l: CapTerms): ReadonlyArray<Phase> => {
  const graceOver = l.expiresAt + l.graceDays * DAY
  return [
    { from: -Infinity, state: "active", reason: "licensed", ends: null },
    { from: l.expiresAt - l.warningDays * DAY, state: "expiring", reason: "expiry-approaching", ends: null },
    { from: l.expiresAt, state: "grace", reason: "expired", ends: graceOver },
    { from: graceOver, state: "limited", reason: "expired", ends: graceOver }
  ]
}

const portalTable = (w: World, l: CapTerms): ReadonlyArray<Phase> | null => {
  if (!l.validationRequired || w.portalDownSince === null) return null
  const graceOver = Math.max(w.portalDownSince, w.inForceSince ?? -Infinity) + l.validationGraceDays * DAY
  return [
    { from: -Infinity, state: "grace", reason: "portal-unreachable", ends: graceOver },
    { from: graceOver, state: "limited", reason: "portal-unreachable", ends: graceOver }
  ]
}

const phaseAt = (table: ReadonlyArray<Phase>, t: number): Phase => table.filter((p) => p.from <= t).at(-1) as Phase

const badness = ["active", "expiring", "grace", "limited"] as const

export interface Verdict {
  readonly state: Cap.CapState
  readonly reason: CapExpectation["reason"]
  readonly graceEndsAt: number | null
  readonly limitedSince: number | null
  readonly nextDeadline: number | null
  readonly skew: number
}

export const verdict = (w: World): Verdict => {
  const t = Math.max(w.localNow, w.latest)
  const skew = Math.max(0, w.latest - w.localNow)
  const l = w.license
  const pendingAt = w.staged === null ? [] : [w.staged.from]
  const soonest = (instants: ReadonlyArray<number>): number | null => {
    const ahead = instants.filter((x) => x > t).sort((a, b) => a - b)
    return ahead[0] ?? null
  }
  if (l === null || l.limit === 0) {
    return { state: "unactivated", reason: "not-licensed", graceEndsAt: null, limitedSince: null, nextDeadline: soonest(pendingAt), skew }
  }
  const tables = [expiryTable(l), portalTable(w, l)].filter((x): x is ReadonlyArray<Phase> => x !== null)
  const candidates = tables.map((table) => phaseAt(table, t))
  // The worst phase wins; among equally bad ones, the one ending first (expiry first on a tie).
  const chosen = [...candidates].sort((a, b) => badness.indexOf(b.state) - badness.indexOf(a.state) || (a.ends ?? Infinity) - (b.ends ?? Infinity))[0] as Phase
  const boundaries = tables.flatMap((table) => table.map((p) => p.from)).filter(Number.isFinite)
  const renewalEnd = w.renewalAt === null ? [] : [w.renewalAt + DAY]
  const nextDeadline = soonest([...boundaries, ...renewalEnd, ...pendingAt])
  if (chosen.state === "active" && w.renewalAt !== null && t - w.renewalAt < DAY) {
    return { state: "renewed", reason: "renewed", graceEndsAt: null, limitedSince: null, nextDeadline, skew }
  }
  return {
    state: chosen.state,
    reason: chosen.reason,
    graceEndsAt: chosen.state === "grace" ? chosen.ends : null,
    limitedSince: chosen.state === "limited" ? chosen.ends : null,
    nextDeadline,
    skew
  }
}

/** The expected admission answers for `used` admitted principals (DESIGN §3, §4). */
export const admission = (w: World, state: Cap.CapState, used: number): Pick<CapExpectation, "limit" | "acquire" | "check"> => {
  const l = w.license
  const limit = l?.limit ?? 0
  const acquire =
    state === "unactivated" ? "CAP_UNACTIVATED" : state === "limited" ? "CAP_LIMITED" : used >= (l?.ceiling ?? 0) ? "CAP_LIMIT_REACHED" : "allowed"
  const check = state === "unactivated" ? "CAP_UNACTIVATED" : state === "limited" && l?.onLimited === "block-all" ? "CAP_LIMITED" : "allowed"
  return { limit, acquire, check }
}

/** The full expectation after the events so far. */
export const expectation = (w: World, used: number): CapExpectation => {
  const v = verdict(w)
  return { ...v, ...admission(w, v.state, used) }
}
