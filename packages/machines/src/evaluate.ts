/** Pure evaluation of one cap's lifecycle (DESIGN §3): the only place where its rules about time, grace, renewal and rollback live. */
import { type Cap, License } from "@exekra/core"

/** How long a cap shows `renewed` after a renewal, at most (the next time-driven change ends it sooner). */
export const RENEWED_FOR_MS = License.days(1)

/** One cap's terms from one license: exactly the license facts its lifecycle and admission depend on. */
export interface CapTerms {
  readonly licenseId: string
  /** Epoch ms; with `licenseId` it identifies the file, so re-installing the same file is no renewal. */
  readonly issuedAt: number
  readonly limit: number
  /** Most principals admitted: limit plus overage. */
  readonly ceiling: number
  readonly onLimited: License.OnLimited
  /** Epoch ms. */
  readonly expiresAt: number
  /** The license's `expiryWarningDays`. */
  readonly warningDays: number
  /** Grace after expiry: the grant's `graceDays`, else the license's `gracePeriodDays`. */
  readonly graceDays: number
  /** Grace after the Portal becomes unreachable: the license's `gracePeriodDays`. */
  readonly validationGraceDays: number
  /** When false, validation failures never change the cap's state. */
  readonly validationRequired: boolean
}

/** The terms a license grants one cap, or null when it does not mention the cap. */
export const capTerms = (payload: License.LicensePayload, cap: Cap.Cap): CapTerms | null => {
  const grant = payload.caps[cap]
  if (grant === undefined) return null
  return {
    licenseId: payload.licenseId,
    issuedAt: payload.issuedAt.getTime(),
    limit: grant.limit,
    ceiling: License.admissionCeiling(grant),
    onLimited: grant.onLimited ?? "refuse-new",
    expiresAt: grant.expiresAt.getTime(),
    warningDays: payload.expiryWarningDays,
    graceDays: License.capGraceDays(payload, grant),
    validationGraceDays: payload.gracePeriodDays,
    validationRequired: payload.validation.required
  }
}

/** A future-dated license kept until its `notBefore` (DESIGN §3); `license` is its terms for this cap. */
export interface PendingLicense {
  readonly notBefore: number
  readonly license: CapTerms | null
}

/** The recorded facts a cap's state is derived from; all times are epoch ms. */
export interface CapFacts {
  /** Terms of the installed license, null when none is installed or it does not mention the cap. */
  readonly license: CapTerms | null
  /** When the installed terms took effect; validation grace never starts before it. */
  readonly installedAt: number | null
  /** When the installed terms renewed earlier ones, or null when they did not. */
  readonly renewedAt: number | null
  readonly pending: PendingLicense | null
  /** First failed validation since the last success, or null while validation is healthy. */
  readonly failingSince: number | null
}

/** The clock as the cap has observed it. */
export interface ClockFacts {
  /** The most recent time reported to the cap. */
  readonly now: number
  /** The latest time ever observed, including the Portal's `serverTime`. */
  readonly highWater: number
}

/** Why a cap is in its state. */
export type Reason = "not-licensed" | "licensed" | "renewed" | "expiry-approaching" | "expired" | "portal-unreachable"

/** Every reason, for exhaustive displays. */
export const reasons: ReadonlyArray<Reason> = ["not-licensed", "licensed", "renewed", "expiry-approaching", "expired", "portal-unreachable"]

/** A cap's state at one instant and why. */
export interface Evaluation {
  readonly state: Cap.CapState
  readonly reason: Reason
  /** While in `grace`: the instant it becomes `limited`. */
  readonly graceEndsAt: number | null
  /** While `limited`: the instant the grace ran out. */
  readonly limitedSince: number | null
}

/** The instant a cap is evaluated at: a clock set back never moves it back (DESIGN §3). */
export const evaluationInstant = (clock: ClockFacts): number => Math.max(clock.now, clock.highWater)

/** How far the clock has been set back behind the latest observed time, in ms (0 when it has not). */
export const clockSkew = (clock: ClockFacts): number => Math.max(0, clock.highWater - clock.now)

/** True when the terms grant the cap anything (a limit of 0 grants nothing). */
export const grants = (terms: CapTerms | null): terms is CapTerms => terms !== null && terms.limit > 0

const sameFile = (a: CapTerms, b: CapTerms): boolean => a.licenseId === b.licenseId && a.issuedAt === b.issuedAt

/**
 * Install terms at instant `at`, replacing any pending license. It is a renewal when both the old and the new
 * terms grant the cap. Re-installing the same file changes nothing: it cannot restart validation grace, and it
 * keeps a pending license, since uploading the installed file again must not cancel a renewal already staged.
 */
export const install = <F extends CapFacts>(facts: F, license: CapTerms | null, at: number): F => {
  if (facts.license !== null && license !== null && sameFile(facts.license, license)) return facts
  const renewal = grants(facts.license) && grants(license)
  return { ...facts, license, installedAt: at, renewedAt: renewal ? at : null, pending: null }
}

/**
 * Stage a future-dated license at instant `at`, replacing any pending one. One whose `notBefore` has already passed
 * is installed as of its `notBefore` instead: the installed file uploaded again that way keeps a pending license too.
 */
export const stage = <F extends CapFacts>(facts: F, pending: PendingLicense, at: number): F =>
  pending.notBefore <= at ? install(facts, pending.license, pending.notBefore) : { ...facts, pending }

/** Let a pending license take over once `at` reaches its `notBefore`; it takes effect as of `notBefore`. */
export const settle = <F extends CapFacts>(facts: F, at: number): F =>
  facts.pending !== null && facts.pending.notBefore <= at
    ? install({ ...facts, pending: null }, facts.pending.license, facts.pending.notBefore)
    : facts

type Verdict = { readonly state: "active" | "expiring" | "grace" | "limited"; readonly reason: Reason; readonly endsAt: number | null }

const severity = { active: 0, expiring: 1, grace: 2, limited: 3 } as const

const expiryVerdict = (terms: CapTerms, at: number): Verdict => {
  const expiresAt = terms.expiresAt
  const graceEndsAt = expiresAt + License.days(terms.graceDays)
  if (at >= graceEndsAt) return { state: "limited", reason: "expired", endsAt: graceEndsAt }
  if (at >= expiresAt) return { state: "grace", reason: "expired", endsAt: graceEndsAt }
  if (at >= expiresAt - License.days(terms.warningDays)) return { state: "expiring", reason: "expiry-approaching", endsAt: null }
  return { state: "active", reason: "licensed", endsAt: null }
}

// A renewal restarts the validation grace: the vendor has just vouched for the license (DESIGN §5).
const validationGraceEnd = (facts: CapFacts, terms: CapTerms): number | null => {
  if (!terms.validationRequired || facts.failingSince === null) return null
  return Math.max(facts.failingSince, facts.installedAt ?? facts.failingSince) + License.days(terms.validationGraceDays)
}

const validationVerdict = (facts: CapFacts, terms: CapTerms, at: number): Verdict | null => {
  const endsAt = validationGraceEnd(facts, terms)
  if (endsAt === null) return null
  return { state: at >= endsAt ? "limited" : "grace", reason: "portal-unreachable", endsAt }
}

// The worse state wins; between two graces (or two limits), the one whose grace ends first.
const worse = (a: Verdict, b: Verdict | null): Verdict => {
  if (b === null || severity[a.state] > severity[b.state]) return a
  if (severity[b.state] > severity[a.state]) return b
  return b.endsAt !== null && a.endsAt !== null && b.endsAt < a.endsAt ? b : a
}

/** Evaluate a cap at instant `at` (use `evaluationInstant` for a recorded clock). */
export const evaluate = (input: CapFacts, at: number): Evaluation => {
  const facts = settle(input, at)
  const terms = facts.license
  if (!grants(terms)) return { state: "unactivated", reason: "not-licensed", graceEndsAt: null, limitedSince: null }
  const verdict = worse(expiryVerdict(terms, at), validationVerdict(facts, terms, at))
  if (verdict.state === "active" && facts.renewedAt !== null && at < facts.renewedAt + RENEWED_FOR_MS) {
    return { state: "renewed", reason: "renewed", graceEndsAt: null, limitedSince: null }
  }
  return {
    state: verdict.state,
    reason: verdict.reason,
    graceEndsAt: verdict.state === "grace" ? verdict.endsAt : null,
    limitedSince: verdict.state === "limited" ? verdict.endsAt : null
  }
}

/** Evaluate a cap at its own evaluation instant. */
export const evaluateNow = (context: CapFacts & ClockFacts): Evaluation => evaluate(context, evaluationInstant(context))

/**
 * The next instant a time-driven change is due, or null when none is: the earliest future instant among
 * expiry warning, expiry, end of expiry grace, end of validation grace, end of `renewed` and a pending `notBefore`.
 */
export const nextDeadline = (context: CapFacts & ClockFacts): number | null => {
  const at = evaluationInstant(context)
  const facts = settle(context, at)
  const instants: Array<number> = []
  if (facts.pending !== null) instants.push(facts.pending.notBefore)
  const terms = facts.license
  if (grants(terms)) {
    instants.push(terms.expiresAt - License.days(terms.warningDays), terms.expiresAt, terms.expiresAt + License.days(terms.graceDays))
    const validationEnd = validationGraceEnd(facts, terms)
    if (validationEnd !== null) instants.push(validationEnd)
    if (facts.renewedAt !== null) instants.push(facts.renewedAt + RENEWED_FOR_MS)
  }
  const future = instants.filter((t) => t > at)
  return future.length === 0 ? null : Math.min(...future)
}
